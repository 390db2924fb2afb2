//! The readers every section uses (a mapping's known keys, strings, numbers, OCIDs, addresses),
//! each reporting its own problem with position and field, and the small helpers behind them
//! (key suggestions, decimal parsing, label rules).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::Cx;
use crate::blueprint::yaml::{Node, Pos, Value};
use crate::blueprint::{Diagnostic, Ocid, OcidError};

impl Cx {
    pub(super) fn err(
        &mut self,
        pos: Pos,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            field: field.into(),
            message: message.into(),
            hint: hint.into(),
        });
    }

    pub(super) fn type_err(&mut self, node: &Node, field: &str, expected: &str, example: &str) {
        let kind = node.kind();
        self.err(
            node.pos,
            field,
            format!("expected {expected}, found {kind}"),
            format!("write it like this: {example}"),
        );
    }

    pub(super) fn fields<'a>(
        &mut self,
        node: &'a Node,
        path: &str,
        allowed: &[&str],
    ) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            self.type_err(
                node,
                path,
                "a mapping of keys to values",
                "`key: value` lines, indented under it",
            );
            return None;
        };
        let mut out = HashMap::new();
        for (key, value) in entries {
            let field = join(path, &key.name);
            if !allowed.contains(&key.name.as_str()) {
                let hint = match suggest(&key.name, allowed) {
                    Some(s) => format!(
                        "did you mean `{s}`? (keys allowed here: {})",
                        allowed.join(", ")
                    ),
                    None => format!("remove it; keys allowed here: {}", allowed.join(", ")),
                };
                self.err(key.pos, field, format!("unknown key `{}`", key.name), hint);
                continue;
            }
            if out.contains_key(key.name.as_str()) {
                self.err(
                    key.pos,
                    field,
                    format!("`{}` is given twice", key.name),
                    "keep only one of them",
                );
                continue;
            }
            out.insert(key.name.as_str(), value);
        }
        Some(Fields {
            path: path.to_string(),
            pos: node.pos,
            entries: out,
        })
    }

    pub(super) fn required<'a>(
        &mut self,
        f: &Fields<'a>,
        key: &str,
        example: &str,
    ) -> Option<&'a Node> {
        let node = f.get(key);
        if node.is_none() {
            let (pos, what) = match f.entries.get(key) {
                Some(n) => (n.pos, format!("`{key}` has no value")),
                None => (f.pos, format!("missing required key `{key}`")),
            };
            let field = f.path(key);
            self.err(pos, field, what, format!("add it, e.g. `{key}: {example}`"));
        }
        node
    }

    pub(super) fn string(&mut self, node: &Node, field: &str, example: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.type_err(node, field, "a string", example);
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar { text, plain: true } if text == "true" => Some(true),
            Value::Scalar { text, plain: true } if text == "false" => Some(false),
            _ => {
                self.type_err(
                    node,
                    field,
                    "true or false",
                    "`true` or `false`, without quotes",
                );
                None
            }
        }
    }

    pub(super) fn number(&mut self, node: &Node, field: &str, example: &str) -> Option<f64> {
        if let Value::Scalar { text, plain: true } = &node.value {
            if let Ok(v) = text.parse::<f64>() {
                if v.is_finite() {
                    return Some(v);
                }
            }
        }
        self.type_err(node, field, "a number", example);
        None
    }

    pub(super) fn uint(
        &mut self,
        node: &Node,
        field: &str,
        min: u32,
        max: u32,
        what: &str,
    ) -> Option<u32> {
        if let Value::Scalar { text, plain: true } = &node.value {
            if let Ok(v) = text.parse::<u64>() {
                if v >= u64::from(min) && v <= u64::from(max) {
                    return Some(v as u32);
                }
                self.err(
                    node.pos,
                    field,
                    format!("{v} is out of range for {what}"),
                    format!("use a whole number from {min} to {max}"),
                );
                return None;
            }
        }
        self.type_err(node, field, "a whole number", &min.max(1).to_string());
        None
    }

    pub(super) fn seq<'a>(
        &mut self,
        node: &'a Node,
        field: &str,
        example: &str,
    ) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.type_err(node, field, "a list", example);
                None
            }
        }
    }

    pub(super) fn ocid(
        &mut self,
        node: &Node,
        field: &str,
        types: &[&str],
        regional: bool,
    ) -> Option<Ocid> {
        let example = format!(
            "`ocid1.{}.oc1.{}.aaaa...`",
            types[0],
            if regional { "ap-tokyo-1" } else { "" }
        );
        let text = self.string(node, field, &example)?;
        match Ocid::parse(&text, types, regional) {
            Ok(_) if placeholder(&text) => {
                self.err(
                    node.pos,
                    field,
                    format!("`{text}` is a placeholder, not a real OCID"),
                    format!(
                        "copy the {} OCID from the OCI console (it looks like {example})",
                        types[0]
                    ),
                );
                None
            }
            Ok(o) => Some(o),
            Err(e) => {
                let (msg, hint) = match e {
                    OcidError::Malformed(why) => (
                        format!("`{text}` is not an OCID: it {why}"),
                        format!(
                            "copy the {} OCID from the OCI console (it looks like {example})",
                            types[0]
                        ),
                    ),
                    OcidError::WrongType { found } => (
                        format!(
                            "`{text}` is the OCID of a {found}, but this field needs a {}",
                            types.join(" or ")
                        ),
                        format!("use the OCID of a {} (ocid1.{}.…)", types[0], types[0]),
                    ),
                    OcidError::MissingRegion => (
                        format!("`{text}` has an empty region part, but a {} OCID always names its region", types[0]),
                        "copy the full OCID from the OCI console".to_string(),
                    ),
                };
                self.err(node.pos, field, msg, hint);
                None
            }
        }
    }

    pub(super) fn ipv4(&mut self, node: &Node, field: &str, example: &str) -> Option<Ipv4Addr> {
        let text = self.string(node, field, example)?;
        match text.parse::<Ipv4Addr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.err(
                    node.pos,
                    field,
                    format!("`{text}` is not an IPv4 address"),
                    format!("write four numbers from 0 to 255 separated by dots, e.g. {example}"),
                );
                None
            }
        }
    }
}

/// The entries of one YAML mapping, after unknown and duplicate keys were reported.
pub(super) struct Fields<'a> {
    pub(super) path: String,
    pub(super) pos: Pos,
    pub(super) entries: HashMap<&'a str, &'a Node>,
}

impl<'a> Fields<'a> {
    /// A present, non-null value.
    pub(super) fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.get(key).copied().filter(|n| !n.is_null())
    }

    pub(super) fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A value of a mapping node, by key.
pub(super) fn child<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
        _ => None,
    }
}

/// An OCID copied from documentation or a template rather than from the console. The unique
/// part of a real OCID is a long random lowercase string (OCI docs, "Resource Identifiers");
/// these words and a run of six x are a guess at what templates and examples use, rare enough
/// by chance (about 1 in 10^7 for the x run) not to refuse a real one.
pub(super) fn placeholder(ocid: &str) -> bool {
    let unique = ocid
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [
        "xxxxxx",
        "replaceme",
        "changeme",
        "example",
        "placeholder",
        "yourocid",
    ]
    .iter()
    .any(|w| unique.contains(w))
}

/// `1`, `0.5`, `0.25`, `1.50` -> hundredths; `None` if not a plain decimal or finer than 0.01.
pub(super) fn decimal_centis(s: &str) -> Option<u32> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    let hundredths: u32 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(hundredths)
}

/// The allowed key closest to a misspelt one, if it is close enough to be a typo.
pub(super) fn suggest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    // An abbreviation (`advert_int`) is as likely a slip as a typo.
    if key.len() >= 4 {
        if let Some(a) = allowed.iter().find(|a| a.starts_with(key)) {
            return Some(a);
        }
    }
    allowed
        .iter()
        .map(|a| (levenshtein(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 1 to `max` lowercase letters, digits and hyphens, starting with a letter and not ending
/// with a hyphen: fits OCI display names and hostname labels (RFC 1123) alike.
pub(crate) fn is_label(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A key that takes one value or a list of them (`network.vip`, `network.vip6`): each item with
/// the field name its errors should carry (`network.vip[1]` for the second of a list).
pub(super) fn one_or_list<'n>(node: &'n Node, field: &str) -> Vec<(String, &'n Node)> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{field}[{i}]"), n))
            .collect(),
        _ => vec![(field.to_string(), node)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_centis_parses_exact_steps() {
        assert_eq!(decimal_centis("1"), Some(100));
        assert_eq!(decimal_centis("0.5"), Some(50));
        assert_eq!(decimal_centis("0.25"), Some(25));
        assert_eq!(decimal_centis("1.50"), Some(150));
        assert_eq!(decimal_centis("0.005"), None);
        assert_eq!(decimal_centis("abc"), None);
        assert_eq!(decimal_centis("-1"), None);
    }

    #[test]
    fn suggests_close_keys_only() {
        let node_keys = ["name", "private_ip", "fault_domain"];
        assert_eq!(suggest("privte_ip", &node_keys), Some("private_ip"));
        assert_eq!(suggest("banana", &node_keys), None);
    }
}
