//! Drift OCI lets vipsetup fix in place, attribute by attribute: freeform tags key by key,
//! a node's NSG membership (UpdateVnic `nsgIds`), its shape, a flex shape's size and its fault
//! domain (UpdateInstance, which reboots a running instance), its settings (the
//! `vipsetup-settings` metadata key, applied live by the agent) and its ephemeral public IP
//! (CreatePublicIp / DeletePublicIp on the primary private IP, as terraform-provider-oci's
//! `updateVnicAssignPublicIp` does). What OCI fixes at launch forces a replacement instead
//! (`plan::replacement_reasons`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{DesiredNode, LiveInstance, LiveNsg};

/// One attribute that differs: `from` is what the cloud has, `to` what the blueprint wants
/// (`None` for absent, e.g. a tag key or a list item to add or remove). In `--output json` it
/// is `{path, old, new, forces_replacement}` (and the names of images next to their OCIDs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(rename = "path")]
    pub attribute: String,
    #[serde(rename = "old")]
    pub from: Option<String>,
    #[serde(rename = "new")]
    pub to: Option<String>,
    /// Set for every change of a plan by `attributes::mark`, from `attributes::replacement_cause`
    /// (the one place that says what OCI can't change in place).
    pub forces_replacement: bool,
    /// What `from` and `to` are called, where an OCID alone says little (an image's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
}

impl Change {
    pub fn new(attribute: impl Into<String>, from: Option<String>, to: Option<String>) -> Change {
        Change {
            attribute: attribute.into(),
            from,
            to,
            ..Change::default()
        }
    }
}

/// Attribute name of one freeform tag key in a `Change`.
pub fn tag_attribute(key: &str) -> String {
    format!("freeform_tags.{key}")
}

/// The tag keys that differ. With `keep_extra`, keys the blueprint does not name are left alone
/// (the VIP's: the agent records its takeovers there, and those are never drift).
pub fn tag_changes(
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    keep_extra: bool,
) -> Vec<Change> {
    let mut changes: Vec<Change> = want
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| Change::new(tag_attribute(k), live.get(k).cloned(), Some(v.clone())))
        .collect();
    if !keep_extra {
        changes.extend(
            live.iter()
                .filter(|(k, _)| !want.contains_key(*k))
                .map(|(k, v)| Change::new(tag_attribute(k), Some(v.clone()), None)),
        );
    }
    changes
}

/// The tags to send so that `want` holds and, with `keep_extra`, the other keys stay.
pub fn merged_tags(
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    keep_extra: bool,
) -> BTreeMap<String, String> {
    let mut out = if keep_extra {
        live.clone()
    } else {
        BTreeMap::new()
    };
    out.extend(want.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// What a `Change` says in the plan.
pub fn describe(c: &Change) -> String {
    let q = |v: &Option<String>| v.as_deref().map(|v| format!("{v:?}"));
    match (
        c.attribute.strip_prefix("freeform_tags."),
        q(&c.from),
        q(&c.to),
    ) {
        (Some(key), None, Some(to)) => format!("freeform tag {key:?}: add {to}"),
        (Some(key), Some(from), None) => format!("freeform tag {key:?}: remove {from}"),
        (Some(key), Some(from), Some(to)) => format!("freeform tag {key:?}: {from} -> {to}"),
        _ => format!(
            "{}: {} -> {}",
            c.attribute,
            c.from.as_deref().unwrap_or("none"),
            c.to.as_deref().unwrap_or("none")
        ),
    }
}

/// Placeholder for the NSG a plan creates (its OCID is known only once it exists).
pub const NEW_NSG: &str = "(the pair's new network security group)";

/// A node's in-place drift.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeDrift {
    pub changes: Vec<Change>,
    /// OCI reboots the (running) instance to apply a shape-config change.
    pub reboots: bool,
    /// The node's VNIC must join the pair's NSG, which may still be created by this plan.
    pub nsg: bool,
}

impl NodeDrift {
    pub fn reasons(&self) -> Vec<String> {
        self.changes
            .iter()
            .map(|c| {
                // A setting as the plan shows attributes (`vips: + ...`), its secrets hidden.
                let mut s = if super::attributes::is_setting(&c.attribute) {
                    super::attributes::shown(c)
                } else {
                    describe(c)
                };
                if self.reboots {
                    match c.attribute.as_str() {
                        "ocpus" | "memory_gb" => {
                            s.push_str(" (OCI reboots the instance to resize it)")
                        }
                        "shape" | "fault_domain" => {
                            s.push_str(" (OCI reboots the instance for it)")
                        }
                        _ => {}
                    }
                }
                s
            })
            .collect()
    }
}

/// Drift of a live node that OCI can change in place. `nsg` is the pair's NSG as observed
/// (`None` when this plan creates it).
pub fn node_drift(
    want: &DesiredNode,
    want_tags: &BTreeMap<String, String>,
    live: &LiveInstance,
    nsg: Option<&LiveNsg>,
) -> NodeDrift {
    let mut d = NodeDrift {
        changes: tag_changes(&live.tags, want_tags, false),
        ..NodeDrift::default()
    };
    // A flex shape's size changes in place; only known sizes are compared (a fixed shape has
    // none in the blueprint).
    let mut sized = false;
    for (attribute, from, to) in [
        ("ocpus", live.ocpus, want.ocpus),
        ("memory_gb", live.memory_in_gbs, want.memory_in_gbs),
    ] {
        if let (Some(from), Some(to)) = (from, to) {
            if from != to {
                sized = true;
                d.changes.push(Change::new(
                    attribute,
                    Some(from.to_string()),
                    Some(to.to_string()),
                ));
            }
        }
    }
    // The shape and the fault domain change in place too (UpdateInstanceDetails.shape and
    // .faultDomain, oci-python-sdk core/models/update_instance_details.py).
    for (attribute, from, to) in [
        ("shape", Some(&live.shape), &want.shape),
        (
            "fault_domain",
            live.fault_domain.as_ref(),
            &want.fault_domain,
        ),
    ] {
        // (Unless the one table says they need a new instance: then they are the plan's
        // replacement reasons, not drift.)
        if super::attributes::replacement_cause(super::model::Resource::Node1, attribute).is_some()
        {
            continue;
        }
        if let Some(from) = from.filter(|f| *f != to) {
            sized = true;
            d.changes
                .push(Change::new(attribute, Some(from.clone()), Some(to.clone())));
        }
    }
    // UpdateInstanceDetails.shape: "If the instance is running when you change the shape, the
    // instance is rebooted" (oci-python-sdk core/models/update_instance_details.py); the same
    // holds for a flex shape's size (docs: Compute/Tasks/resizinginstances.htm). For the fault
    // domain the SDK says nothing: a guess that moving it stops and starts the instance, so it
    // is planned as a reboot (one node at a time).
    d.reboots = sized && live.lifecycle_state == "RUNNING";
    if let Some(c) = settings_change(want, live) {
        // Each setting that changes (`preempt: false -> true`), then the version that carries them.
        d.changes
            .extend(super::attributes::node_settings_changes(want, live));
        d.changes.push(c);
    }
    if let Some(vnic) = &live.vnic {
        let in_nsg = nsg.is_some_and(|n| vnic.nsg_ids.contains(&n.id));
        if !in_nsg {
            d.nsg = true;
            let mut to: Vec<String> = vnic.nsg_ids.clone();
            to.push(nsg.map_or(NEW_NSG.to_string(), |n| n.id.clone()));
            d.changes.push(Change::new(
                "nsg_ids",
                Some(format!("[{}]", vnic.nsg_ids.join(", "))),
                Some(format!("[{}]", to.join(", "))),
            ));
        }
        let has_public = vnic.public_ip.is_some();
        if has_public != want.assign_public_ip {
            d.changes.push(Change::new(
                "assign_public_ip",
                Some(has_public.to_string()),
                Some(want.assign_public_ip.to_string()),
            ));
        }
    }
    d
}

/// The settings the node runs (the `vipsetup-settings` key, or without one the first settings
/// in its user data, version 1) against the blueprint's: a change is the next version, sent with
/// UpdateInstance and applied live by the agent.
pub fn settings_change(want: &DesiredNode, live: &LiveInstance) -> Option<Change> {
    use crate::render::settings;
    // A desired state made without the renderer (table tests) has no settings to compare.
    if want.boot.settings_digest.is_empty() {
        return None;
    }
    let (version, same) = match live
        .metadata
        .get(settings::SETTINGS_KEY)
        .and_then(|v| settings::parse_header(v))
    {
        Some(h) => (h.version, h.digest == want.boot.settings_digest),
        None => {
            let first = live
                .user_data
                .as_deref()
                .and_then(settings::user_data_digests)
                .map(|(_, f)| f);
            (
                1,
                first.as_deref() == Some(want.boot.first_settings_digest.as_str()),
            )
        }
    };
    (!same).then(|| {
        Change::new(
            "settings",
            Some(format!("v{version}")),
            Some(format!("v{}", version + 1)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tag_changes_name_each_key() {
        let live = tags(&[("a", "1"), ("b", "2"), ("x", "9")]);
        let want = tags(&[("a", "1"), ("b", "3"), ("c", "4")]);
        let got: Vec<String> = tag_changes(&live, &want, false)
            .iter()
            .map(describe)
            .collect();
        assert_eq!(
            got,
            [
                "freeform tag \"b\": \"2\" -> \"3\"",
                "freeform tag \"c\": add \"4\"",
                "freeform tag \"x\": remove \"9\""
            ]
        );
        // The VIP keeps keys the blueprint does not name (the agent's takeover record).
        let got = tag_changes(&live, &want, true);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            merged_tags(&live, &want, true),
            tags(&[("a", "1"), ("b", "3"), ("c", "4"), ("x", "9")])
        );
        assert_eq!(merged_tags(&live, &want, false), want);
    }
}
