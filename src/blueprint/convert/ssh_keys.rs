//! `instance.ssh_keys`: public keys given inline or as files, read with a size limit and checked
//! line by line without ever quoting a secret.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::Cx;
use crate::blueprint::yaml::{Node, Pos, Value};
use crate::blueprint::SshKey;
use crate::bounded_read::ReadError;

const SSH_KEY_KEYS: &[&str] = &["path", "key"];

/// The largest ssh key file read: OCI's instance metadata (user data and keys) holds 32,000
/// bytes in all, so a larger key file could never be used (a limit, not a guess at key sizes).
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

const SSH_KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

impl Cx {
    pub(super) fn ssh_keys(&mut self, node: &Node, path: &str) -> Option<Vec<SshKey>> {
        let items = self.seq(node, path, "a list such as `[ ~/.ssh/id_ed25519.pub ]`")?;
        if items.is_empty() {
            self.err(node.pos, path, "no ssh keys given", "add at least one public key file, e.g. `- ~/.ssh/id_ed25519.pub`, so you can log in to the nodes");
            return None;
        }
        let mut keys = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match self.ssh_key(item, &p) {
                Some(k) => keys.push(k),
                None => ok = false,
            }
        }
        ok.then_some(keys)
    }

    /// A list item: a string (key text if it starts with a key type, else a path) or a mapping
    /// with exactly one of `path` / `key`.
    pub(super) fn ssh_key(&mut self, node: &Node, path: &str) -> Option<SshKey> {
        let (text_node, field, is_path) = match &node.value {
            Value::Map(_) => {
                let f = self.fields(node, path, SSH_KEY_KEYS)?;
                match (f.get("path"), f.get("key")) {
                    (Some(n), None) => (n, f.path("path"), true),
                    (None, Some(n)) => (n, f.path("key"), false),
                    _ => {
                        self.err(node.pos, path, "give exactly one of `path` or `key`", "e.g. `- path: ~/.ssh/id_ed25519.pub` or `- key: ssh-ed25519 AAAA... me@host`");
                        return None;
                    }
                }
            }
            _ => {
                let t = self.string(node, path, "~/.ssh/id_ed25519.pub")?;
                let looks_like_key =
                    SSH_KEY_TYPES.iter().any(|k| t.starts_with(k)) || t.starts_with("ssh-");
                (node, path.to_string(), !looks_like_key)
            }
        };
        let text = self.string(text_node, &field, "~/.ssh/id_ed25519.pub")?;
        if is_path {
            let resolved = self.resolve(&text);
            let content = match crate::bounded_read::read(&resolved, MAX_KEY_FILE_BYTES) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(c) => c,
                    Err(_) => {
                        self.err(
                            text_node.pos,
                            field,
                            format!(
                                "ssh key file {} holds binary data, not an OpenSSH public key",
                                resolved.display()
                            ),
                            "point at the public key (the .pub file, one line of text)",
                        );
                        return None;
                    }
                },
                Err(ReadError::NotFound) => {
                    self.err(text_node.pos, field, format!("ssh key file `{text}` not found (looked at {})", resolved.display()), "fix the path (relative paths start at the blueprint's folder, ~ is your home), or create a key with `ssh-keygen -t ed25519`");
                    return None;
                }
                Err(e) => {
                    self.err(
                        text_node.pos,
                        field,
                        format!("cannot read ssh key file {}: {e}", resolved.display()),
                        "point at the public key (the .pub file, one line of text per key)",
                    );
                    return None;
                }
            };
            let keys = self.check_keys(&content, text_node.pos, &field, Some(&resolved))?;
            Some(SshKey {
                path: Some(resolved),
                text: keys,
            })
        } else {
            let keys = self.check_keys(&text, text_node.pos, &field, None)?;
            Some(SshKey {
                path: None,
                text: keys,
            })
        }
    }

    pub(super) fn resolve(&self, p: &str) -> PathBuf {
        let expanded = if p == "~" || p.starts_with("~/") {
            match std::env::var_os("HOME") {
                Some(home) => {
                    PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'))
                }
                None => PathBuf::from(p),
            }
        } else {
            PathBuf::from(p)
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base_dir.join(expanded)
        }
    }

    /// Checks every non-blank line is an OpenSSH public key whose blob matches its type.
    pub(super) fn check_keys(
        &mut self,
        content: &str,
        pos: Pos,
        field: &str,
        file: Option<&Path>,
    ) -> Option<String> {
        let from = file
            .map(|f| format!(" in {}", f.display()))
            .unwrap_or_default();
        if content.contains("PRIVATE KEY") {
            self.err(
                pos,
                field,
                format!("this is a private key{from}; never put a private key in a blueprint"),
                "point at the public key instead (the .pub file)",
            );
            return None;
        }
        let mut out = Vec::new();
        for line in content
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut parts = line.split_whitespace();
            let (kind, blob) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            if !SSH_KEY_TYPES.contains(&kind) {
                // Never echo the text: the path may name a secret (/etc/shadow, a token).
                self.err(pos, field, format!("{}{from} is not an OpenSSH public key of a type OCI accepts", describe_line(line, kind)), "use an ssh-ed25519, ssh-rsa or ecdsa-sha2-* public key (the one line in your .pub file)");
                return None;
            }
            let decoded = base64::engine::general_purpose::STANDARD.decode(blob).ok();
            let blob_kind = decoded.as_deref().and_then(|d| {
                let len = u32::from_be_bytes(d.get(..4)?.try_into().ok()?) as usize;
                std::str::from_utf8(d.get(4..4 + len)?)
                    .ok()
                    .map(str::to_string)
            });
            if blob_kind.as_deref() != Some(kind) {
                self.err(pos, field, format!("the `{kind}` key{from} is damaged (its base64 part does not decode to a {kind} key)"), "copy the whole line of the .pub file again");
                return None;
            }
            out.push(line.to_string());
        }
        if out.is_empty() {
            self.err(
                pos,
                field,
                format!("no public key found{from}"),
                "give an OpenSSH public key line, e.g. the content of ~/.ssh/id_ed25519.pub",
            );
            return None;
        }
        Some(out.join("\n"))
    }
}

/// What a line that is not a usable public key looks like, without quoting any of it (only a
/// word that is shaped like an ssh key type name, which is no secret).
pub(super) fn describe_line(line: &str, first_word: &str) -> String {
    // Not even its length: that says something about a secret too.
    let type_like = first_word.len() <= 40
        && (first_word.starts_with("ssh-")
            || first_word.starts_with("ecdsa-")
            || first_word.starts_with("sk-"))
        && first_word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '@' | '.'));
    if type_like {
        format!("a key of type `{first_word}`")
    } else if line.starts_with("-----BEGIN") {
        "a PEM block".to_string()
    } else {
        "a line that does not start with a key type".to_string()
    }
}
