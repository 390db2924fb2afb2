//! The `state` section: the pair's state kept in Object Storage.

use super::Cx;
use crate::blueprint::yaml::Node;
use crate::blueprint::RemoteState;

const STATE_KEYS: &[&str] = &["bucket", "namespace", "prefix"];

impl Cx {
    /// `state: { bucket, namespace, prefix }`. Name rules from the Object Storage docs:
    /// bucket names are letters, digits, hyphens, underscores and periods ("Managing Buckets");
    /// object names are at most 1024 bytes ("Object Names"); a namespace is lowercase letters
    /// and digits (GetNamespace's answers; a guess that it is never anything else).
    pub(super) fn state(&mut self, node: &Node, path: &str) -> Option<RemoteState> {
        let f = self.fields(node, path, STATE_KEYS)?;
        let bucket = self
            .required(&f, "bucket", "vipsetup-state")
            .and_then(|n| {
                let field = f.path("bucket");
                let b = self.string(n, &field, "vipsetup-state")?;
                let ok = !b.is_empty()
                    && b.len() <= 256
                    && b.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !ok {
                    self.err(
                        n.pos,
                        field,
                        format!("`{b}` is not a bucket name Object Storage accepts"),
                        "use 1 to 256 letters, digits, hyphens, underscores or periods, e.g. vipsetup-state",
                    );
                    return None;
                }
                Some(b)
            });
        let namespace = match f.get("namespace") {
            Some(n) => {
                let field = f.path("namespace");
                let ns = self.string(n, &field, "mytenancyns");
                match ns {
                    Some(ns)
                        if !ns.is_empty()
                            && ns.len() <= 64
                            && ns
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) =>
                    {
                        Some(Some(ns))
                    }
                    Some(ns) => {
                        self.err(
                            n.pos,
                            field,
                            format!("`{ns}` is not an Object Storage namespace"),
                            "use the value `oci os ns get` prints (lowercase letters and digits), or leave it out to look it up",
                        );
                        None
                    }
                    None => None,
                }
            }
            None => Some(None),
        };
        let prefix = match f.get("prefix") {
            Some(n) => {
                let field = f.path("prefix");
                let p = self.string(n, &field, "pairs/")?;
                if p.len() > 900 || p.contains('\0') || p.starts_with('/') {
                    self.err(
                        n.pos,
                        field,
                        format!("`{p}` cannot start an object name"),
                        "use at most 900 bytes, not starting with `/`, e.g. pairs/",
                    );
                    return None;
                }
                Some(p)
            }
            None => Some(String::new()),
        };
        Some(RemoteState {
            bucket: bucket?,
            namespace: namespace?,
            prefix: prefix?,
        })
    }
}
