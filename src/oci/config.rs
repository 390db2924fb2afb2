//! `~/.oci/config` as Oracle's Python SDK and CLI read it (configparser semantics): `[profile]`
//! sections, `key = value` or `key: value`, full-line `#`/`;` comments, indented continuation
//! lines, case-insensitive keys, and every `[DEFAULT]` value inherited by every profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read OCI config file {path}: {source}; create it with `oci setup config` or pass --config-file")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}; fix the OCI config file")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("profile '{profile}' not found in {path} (profiles: {available}); name one of them with --profile, OCI_CLI_PROFILE or the blueprint's `oci.profile`")]
    ProfileNotFound {
        profile: String,
        path: PathBuf,
        available: String,
    },
    #[error("profile '{profile}' in {path} has no `{key}`; add it (see https://docs.oracle.com/en-us/iaas/Content/API/Concepts/sdkconfig.htm)")]
    Missing {
        profile: String,
        path: PathBuf,
        key: String,
    },
    #[error("profile '{profile}' in {path} sets `{key}`, which is not allowed in a config file for security reasons; use key_file instead")]
    Forbidden {
        profile: String,
        path: PathBuf,
        key: String,
    },
}

/// A parsed config file.
#[derive(Clone, Debug, Default)]
pub struct ConfigFile {
    pub path: PathBuf,
    defaults: BTreeMap<String, String>,
    sections: Vec<(String, BTreeMap<String, String>)>,
}

/// One profile's values, `[DEFAULT]` included. `Debug` hides `pass_phrase`.
#[derive(Clone, Default)]
pub struct Profile {
    pub name: String,
    pub path: PathBuf,
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .values
            .iter()
            .map(|(k, v)| {
                if k == "pass_phrase" || k == "passphrase" {
                    (k.as_str(), "[redacted]")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("values", &shown)
            .finish()
    }
}

impl Profile {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A value that must be present.
    pub fn require(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::Missing {
                profile: self.name.clone(),
                path: self.path.clone(),
                key: key.to_string(),
            })
    }
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let bytes = crate::bounded_read::read_io(path, crate::bounded_read::limits::OCI_CONFIG)
            .map_err(read)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            read(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "it is not UTF-8 text",
            ))
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let syntax = |line: usize, message: String| ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            ..Default::default()
        };
        // (section index or None for DEFAULT, key) of the last option, for continuation lines.
        let mut current: Option<Option<usize>> = None;
        let mut last_key: Option<(String, usize)> = None;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let trimmed = raw.trim();
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if trimmed.is_empty() {
                last_key = None;
                continue;
            }
            let indent = raw.len() - raw.trim_start().len();
            if indent > 0 {
                if let (Some((key, key_indent)), Some(section)) = (&last_key, current) {
                    if indent > *key_indent {
                        let map = file.map_mut(section);
                        let v = map.get_mut(key).expect("last key exists");
                        v.push('\n');
                        v.push_str(trimmed);
                        continue;
                    }
                }
            }
            if trimmed.starts_with('[') {
                let name = trimmed
                    .strip_prefix('[')
                    .and_then(|s| s.strip_suffix(']'))
                    .ok_or_else(|| {
                        syntax(n, "bad section header (it must be `[NAME]`)".to_string())
                    })?;
                if name == "DEFAULT" {
                    current = Some(None);
                } else {
                    if file.sections.iter().any(|(s, _)| s == name) {
                        return Err(syntax(n, format!("section [{name}] appears twice")));
                    }
                    file.sections.push((name.to_string(), BTreeMap::new()));
                    current = Some(Some(file.sections.len() - 1));
                }
                last_key = None;
                continue;
            }
            let section = current.ok_or_else(|| {
                syntax(n, "a value before the first [section] header".to_string())
            })?;
            let pos = trimmed.find(['=', ':']).ok_or_else(|| {
                // The line itself is not shown: a wrong --config-file may be a token or key.
                syntax(
                    n,
                    "expected `key = value`, found a line without `=`".to_string(),
                )
            })?;
            let key = trimmed[..pos].trim().to_ascii_lowercase();
            let value = trimmed[pos + 1..].trim().to_string();
            if key.is_empty() {
                return Err(syntax(n, "empty key".to_string()));
            }
            let map = file.map_mut(section);
            if map.insert(key.clone(), value).is_some() {
                return Err(syntax(n, format!("`{key}` set twice in the same section")));
            }
            last_key = Some((key, indent));
        }
        Ok(file)
    }

    fn map_mut(&mut self, section: Option<usize>) -> &mut BTreeMap<String, String> {
        match section {
            None => &mut self.defaults,
            Some(i) => &mut self.sections[i].1,
        }
    }

    /// The profile's values over `[DEFAULT]`'s, as Python's configparser gives them.
    pub fn profile(&self, name: &str) -> Result<Profile, ConfigError> {
        let mut values = self.defaults.clone();
        if name != "DEFAULT" {
            let (_, section) = self
                .sections
                .iter()
                .find(|(s, _)| s == name)
                .ok_or_else(|| ConfigError::ProfileNotFound {
                    profile: name.to_string(),
                    path: self.path.clone(),
                    available: self.profile_names().join(", "),
                })?;
            values.extend(section.iter().map(|(k, v)| (k.clone(), v.clone())));
        } else if self.defaults.is_empty() {
            return Err(ConfigError::ProfileNotFound {
                profile: name.to_string(),
                path: self.path.clone(),
                available: self.profile_names().join(", "),
            });
        }
        if values.contains_key("key_content") {
            return Err(ConfigError::Forbidden {
                profile: name.to_string(),
                path: self.path.clone(),
                key: "key_content".into(),
            });
        }
        Ok(Profile {
            name: name.to_string(),
            path: self.path.clone(),
            values,
        })
    }

    pub fn profile_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if !self.defaults.is_empty() {
            names.push("DEFAULT".to_string());
        }
        names.extend(self.sections.iter().map(|(s, _)| s.clone()));
        names
    }
}

/// `~` and `~/...` expanded against `home` (as Python's `os.path.expanduser`).
pub fn expand_tilde(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with('/') => h.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# OCI CLI config
[DEFAULT]
user=ocid1.user.oc1..default
fingerprint = aa:bb
key_file=~/.oci/key.pem
tenancy : ocid1.tenancy.oc1..t
region=us-ashburn-1

[ADMIN]
user=ocid1.user.oc1..admin
Region = eu-frankfurt-1
; a comment
pass_phrase=secret

[SESSION]
security_token_file=~/.oci/sessions/token
key_file=/keys/session.pem
";

    fn parse() -> ConfigFile {
        ConfigFile::parse(SAMPLE, Path::new("/cfg")).unwrap()
    }

    #[test]
    fn profiles_inherit_default_values_and_override_them() {
        let f = parse();
        let admin = f.profile("ADMIN").unwrap();
        assert_eq!(admin.get("user"), Some("ocid1.user.oc1..admin"));
        assert_eq!(
            admin.get("region"),
            Some("eu-frankfurt-1"),
            "keys are case-insensitive"
        );
        assert_eq!(
            admin.get("tenancy"),
            Some("ocid1.tenancy.oc1..t"),
            "`:` separator, inherited"
        );
        assert_eq!(admin.get("fingerprint"), Some("aa:bb"));
        let session = f.profile("SESSION").unwrap();
        assert_eq!(session.get("user"), Some("ocid1.user.oc1..default"));
        assert_eq!(session.get("key_file"), Some("/keys/session.pem"));
        let default = f.profile("DEFAULT").unwrap();
        assert_eq!(default.get("security_token_file"), None);
        assert_eq!(f.profile_names(), vec!["DEFAULT", "ADMIN", "SESSION"]);
    }

    #[test]
    fn pass_phrase_is_hidden_in_debug() {
        let admin = parse().profile("ADMIN").unwrap();
        let dbg = format!("{admin:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
    }

    #[test]
    fn missing_profile_lists_the_available_ones() {
        let err = parse().profile("NOPE").unwrap_err().to_string();
        assert!(err.contains("'NOPE' not found in /cfg"), "{err}");
        assert!(err.contains("DEFAULT, ADMIN, SESSION"), "{err}");
        let missing = parse()
            .profile("SESSION")
            .unwrap()
            .require("pass_phrase")
            .unwrap_err();
        assert!(missing.to_string().contains("has no `pass_phrase`"));
    }

    #[test]
    fn syntax_errors_have_line_numbers() {
        let err = ConfigFile::parse("[A]\nuser=x\nuser=y\n", Path::new("/c")).unwrap_err();
        assert!(err.to_string().starts_with("/c:3:"), "{err}");
        let err = ConfigFile::parse("user=x\n", Path::new("/c")).unwrap_err();
        assert!(err.to_string().starts_with("/c:1:"), "{err}");
        let err = ConfigFile::parse("[A]\njunk\n", Path::new("/c")).unwrap_err();
        assert!(err.to_string().contains("expected `key = value`"), "{err}");
        let err = ConfigFile::parse("[A]\nx=1\n[A]\n", Path::new("/c")).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn continuation_lines_and_forbidden_key_content() {
        let f = ConfigFile::parse("[A]\nk = one\n  two\n", Path::new("/c")).unwrap();
        assert_eq!(f.profile("A").unwrap().get("k"), Some("one\ntwo"));
        let f = ConfigFile::parse("[A]\nkey_content=abc\n", Path::new("/c")).unwrap();
        assert!(matches!(f.profile("A"), Err(ConfigError::Forbidden { .. })));
    }

    #[test]
    fn tilde_expansion() {
        let home = Path::new("/home/u");
        assert_eq!(
            expand_tilde("~/.oci/k.pem", Some(home)),
            PathBuf::from("/home/u/.oci/k.pem")
        );
        assert_eq!(expand_tilde("~", Some(home)), PathBuf::from("/home/u"));
        assert_eq!(
            expand_tilde("/abs/k.pem", Some(home)),
            PathBuf::from("/abs/k.pem")
        );
        assert_eq!(
            expand_tilde("~other/k", Some(home)),
            PathBuf::from("~other/k")
        );
    }
}
