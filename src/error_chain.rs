//! One line holding an error and every cause under it, for errors kept as text. On the lowest
//! floor, so `oci::transport` and `render` can use it without reaching up to `error` (which
//! knows every layer, to classify their errors for the CLI).

/// `top: cause: root cause`, for errors that are stored as text (a transport failure, a
/// template error) rather than chained.
pub fn chain_message(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}
