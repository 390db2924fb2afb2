//! Parsed IAM text, kept by its content: each dynamic-group matching rule and each policy
//! statement is parsed once, the first time authorisation meets that exact text, and found by
//! the text afterwards.
//!
//! Authorising an instance principal used to parse every matching rule and every policy
//! statement in force on every call (twice for a VIP move: the private IP's compartment and the
//! target VNIC's). Keyed by the text itself, the cache can never answer for a policy or dynamic
//! group that changed: a changed statement is a different key, parsed when first met. So nothing
//! has to invalidate it (API writes, `SimHandle::with_world`, a world file written by another
//! process all work as before), and which version of an IAM object is in force at a given time
//! (the propagation delay, `_history`) is still decided per call by `authorize`, from the world;
//! the cache only saves the parsing of the text that version holds.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::iam::{self, MatchingRule, Statement, Subject};

/// Distinct texts kept of each kind before the cache starts over: a long-running standalone
/// simulator whose users write many policies stays bounded.
const MAX_ENTRIES: usize = 4096;

/// A parsed policy statement, with the lowercased dynamic-group name its subject compares by.
#[derive(Debug)]
pub(crate) struct Grant {
    pub statement: Statement,
    /// `Some` for `dynamic-group <name>` subjects
    pub group_name_lower: Option<String>,
}

/// Parses of matching rules and statements by text (`None`: the text does not parse; it then
/// matches nothing, as before).
#[derive(Default)]
pub(crate) struct IamCache {
    rules: RefCell<HashMap<String, Option<Arc<MatchingRule>>>>,
    grants: RefCell<HashMap<String, Option<Arc<Grant>>>>,
}

fn remember<T>(map: &RefCell<HashMap<String, Option<Arc<T>>>>, text: &str, value: Option<Arc<T>>) {
    let mut m = map.borrow_mut();
    if m.len() >= MAX_ENTRIES {
        m.clear();
    }
    m.insert(text.to_string(), value);
}

impl IamCache {
    /// [`iam::parse_matching_rule`] of `text`, parsed once.
    pub(crate) fn matching_rule(&self, text: &str) -> Option<Arc<MatchingRule>> {
        if let Some(r) = self.rules.borrow().get(text) {
            return r.clone();
        }
        let parsed = iam::parse_matching_rule(text).ok().map(Arc::new);
        remember(&self.rules, text, parsed.clone());
        parsed
    }

    /// [`iam::parse_statement`] of `text`, parsed once.
    pub(crate) fn grant(&self, text: &str) -> Option<Arc<Grant>> {
        if let Some(g) = self.grants.borrow().get(text) {
            return g.clone();
        }
        let parsed = iam::parse_statement(text).ok().map(|statement| {
            let group_name_lower = match &statement.subject {
                Subject::DynamicGroupName(n) => Some(n.to_lowercase()),
                _ => None,
            };
            Arc::new(Grant {
                statement,
                group_name_lower,
            })
        });
        remember(&self.grants, text, parsed.clone());
        parsed
    }

    /// How many distinct texts were parsed and are kept (rules, statements): for tests.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.rules.borrow().len(), self.grants.borrow().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_a_changed_text_is_parsed_again() {
        let c = IamCache::default();
        let a = c
            .grant("Allow dynamic-group vip to use private-ips in tenancy")
            .unwrap();
        let again = c
            .grant("Allow dynamic-group vip to use private-ips in tenancy")
            .unwrap();
        assert!(Arc::ptr_eq(&a, &again), "the second lookup parses nothing");
        assert_eq!(a.group_name_lower.as_deref(), Some("vip"));
        let read = c
            .grant("Allow dynamic-group VIP to read private-ips in tenancy")
            .unwrap();
        assert_eq!(read.group_name_lower.as_deref(), Some("vip"));
        assert!(!read
            .statement
            .permissions
            .contains(&"PRIVATE_IP_UPDATE".to_string()));
        assert!(c.grant("Allow nobody to frobnicate").is_none());
        assert!(c.matching_rule("instance.id = 'x'").is_some());
        assert!(c.matching_rule("tag.x = 'y'").is_none());
        assert_eq!(c.sizes(), (2, 3));
    }
}
