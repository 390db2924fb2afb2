//! Secret values (pass phrases, session tokens, signed headers) that must never reach logs.

use std::fmt;

/// A value that prints as `[redacted]` in `Debug` and `Display`, so that a stray `{:?}` in a log
/// line or an error cannot leak it. Read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

/// The common case: a secret string (pass phrase, JWT, `ST$...` key id).
pub type SecretString = Secret<String>;

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself; callers must not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = SecretString::from("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: SecretString,
        }
        let h = Holder { token: s };
        assert!(!format!("{h:?}").contains("hunter2"));
    }
}
