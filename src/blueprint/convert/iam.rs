//! The `iam` section: the dynamic group's and the policy's names and extra statements.

use super::Cx;
use crate::blueprint::yaml::Node;
use crate::blueprint::Iam;

const IAM_KEYS: &[&str] = &["dynamic_group", "policy", "extra_statements"];

impl Cx {
    pub(super) fn iam(&mut self, node: &Node, path: &str, pair: Option<&str>) -> Option<Iam> {
        let f = self.fields(node, path, IAM_KEYS)?;
        let name = |cx: &mut Cx, key: &str, suffix: &str| -> Option<String> {
            match f.get(key) {
                Some(n) => {
                    let field = f.path(key);
                    let v = cx.string(n, &field, &format!("web-vip{suffix}"))?;
                    let ok = !v.is_empty()
                        && v.len() <= 100
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                    if !ok {
                        cx.err(n.pos, field, format!("`{v}` is a name OCI IAM would reject"), "use 1 to 100 letters, digits, hyphens, periods or underscores (no spaces)");
                        return None;
                    }
                    Some(v)
                }
                None => pair.map(|p| format!("{p}{suffix}")),
            }
        };
        let dynamic_group = name(self, "dynamic_group", "-dg");
        let policy = name(self, "policy", "-policy");
        let extra_statements = match f.get("extra_statements") {
            Some(n) => {
                let field = f.path("extra_statements");
                let items = self.seq(n, &field, "a list of policy statements");
                let mut out = Some(Vec::new());
                for (i, item) in items.unwrap_or_default().iter().enumerate() {
                    let p = format!("{field}[{i}]");
                    let s = self.string(item, &p, "Allow dynamic-group web-vip-dg to read instances in compartment id ocid1...");
                    let verb_ok = s.as_deref().is_some_and(|s| {
                        let first = s
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        matches!(first.as_str(), "allow" | "define" | "endorse" | "admit")
                    });
                    match s {
                        Some(s) if verb_ok => {
                            if let Some(o) = out.as_mut() {
                                o.push(s)
                            }
                        }
                        Some(s) => {
                            self.err(item.pos, p, format!("`{s}` is not an IAM policy statement"), "start it with Allow (or Define, Endorse, Admit), e.g. `Allow dynamic-group web-vip-dg to read instances in compartment id ocid1...`");
                            out = None;
                        }
                        None => out = None,
                    }
                }
                if items.is_none() {
                    out = None;
                }
                out
            }
            None => Some(Vec::new()),
        };
        Some(Iam {
            dynamic_group: dynamic_group?,
            policy: policy?,
            extra_statements: extra_statements?,
        })
    }
}

pub(super) fn default_iam(pair: &str) -> Iam {
    Iam {
        dynamic_group: format!("{pair}-dg"),
        policy: format!("{pair}-policy"),
        extra_statements: Vec::new(),
    }
}
