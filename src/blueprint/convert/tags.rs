//! The `tags` section: freeform tags put on every resource.

use std::collections::BTreeMap;

use super::checks::join;
use super::Cx;
use crate::blueprint::yaml::{Node, Value};

impl Cx {
    pub(super) fn tags(&mut self, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
        let Value::Map(entries) = &node.value else {
            self.type_err(
                node,
                path,
                "a mapping of tag names to values",
                "`team: web`",
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (key, value) in entries {
            let field = join(path, &key.name);
            if key.name.is_empty() || key.name.len() > 100 || key.name.contains(['.', ' ']) {
                self.err(
                    key.pos,
                    field.clone(),
                    format!("`{}` is not a tag key OCI accepts", key.name),
                    "use 1 to 100 characters without periods or spaces",
                );
                ok = false;
            } else if out.contains_key(&key.name) {
                self.err(
                    key.pos,
                    field.clone(),
                    format!("tag `{}` is given twice", key.name),
                    "keep only one of them",
                );
                ok = false;
            }
            match &value.value {
                Value::Scalar { text, .. } if text.chars().count() <= 256 => {
                    out.insert(
                        key.name.clone(),
                        if value.is_null() {
                            String::new()
                        } else {
                            text.clone()
                        },
                    );
                }
                Value::Scalar { .. } => {
                    self.err(
                        value.pos,
                        field,
                        "a tag value can have at most 256 characters",
                        "shorten it",
                    );
                    ok = false;
                }
                _ => {
                    self.type_err(value, &field, "a string", "`team: web`");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}
