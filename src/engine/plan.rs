//! The plan as a value: what apply (or destroy) will do to each resource and why, with the
//! dependencies the executor honours. `diff` is a pure function of desired, observed and recorded
//! state, so every decision here is table-tested without a cloud.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::attributes;
use super::drift;
pub use super::drift::Change;
use super::iam;
use super::model::{Desired, LiveInstance, Observed, Resource, TAG_TAKEOVER_AT, TAG_TAKEOVER_BY};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    /// Nothing to change, but it is still on its way (e.g. an instance launched by a run that
    /// was killed is PROVISIONING): apply waits for it, making no call that changes anything.
    Wait,
    NoOp,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Update => "update in place",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Wait => "wait until ready",
            Action::NoOp => "no change",
        })
    }
}

/// Points in a step's life other steps can wait for. Only nodes pass the first two; the VIP
/// waits for its node's VNIC, not for the node to finish booting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Milestone {
    /// The resource exists and can be referred to: an instance's launch was accepted (its
    /// OCID is known); the NSG is AVAILABLE (instances may launch into it).
    Launched,
    /// The instance's primary VNIC is attached and its OCID known.
    VnicReady,
    /// The step is complete.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Dep {
    pub resource: Resource,
    pub milestone: Milestone,
}

fn dep(resource: Resource, milestone: Milestone) -> Dep {
    Dep {
        resource,
        milestone,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub resource: Resource,
    pub action: Action,
    /// Why, for people: each changed field, "forces replacement because ...", or a note on a
    /// no-op. Scripts read `changes`.
    pub reasons: Vec<String>,
    pub depends_on: Vec<Dep>,
    /// Every attribute an update or replacement changes (tag keys, list items one by one),
    /// with old and new value and whether it forces the replacement (`attributes`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// OCI reboots the instance to apply this update (a flex shape's size).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reboots: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanKind {
    Apply,
    Destroy,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub kind: PlanKind,
    pub steps: Vec<Step>,
    /// What the plan can't fix but the user must know (e.g. the nodes can't reach the OCI API).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the user may want to know and the plan leaves alone (a newer image available).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error(
        "the vip {ip} is already in use in the subnet (private ip {id} on vnic {vnic}); \
         choose a free address for `vip` in the blueprint"
    )]
    VipTaken {
        ip: String,
        id: String,
        vnic: String,
    },
}

impl Plan {
    pub fn step(&self, resource: Resource) -> Option<&Step> {
        self.steps.iter().find(|s| s.resource == resource)
    }

    pub fn action(&self, resource: Resource) -> Action {
        self.step(resource).map_or(Action::NoOp, |s| s.action)
    }

    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::NoOp)
    }

    /// Nodes the plan replaces (0/1), which apply only does when the user named them.
    pub fn replaced_nodes(&self) -> Vec<usize> {
        self.steps
            .iter()
            .filter(|s| s.action == Action::Replace)
            .filter_map(|s| s.resource.node_index())
            .collect()
    }

    /// "2 to create, 1 to update, 0 to replace, 3 unchanged" (or "... to delete" for destroy).
    pub fn summary(&self) -> String {
        let count = |a| self.steps.iter().filter(|s| s.action == a).count();
        match self.kind {
            PlanKind::Apply => {
                let mut s = format!(
                    "{} to create, {} to update, {} to replace, {} unchanged",
                    count(Action::Create),
                    count(Action::Update),
                    count(Action::Replace),
                    count(Action::NoOp)
                );
                if count(Action::Wait) > 0 {
                    s.push_str(&format!(", {} to wait for", count(Action::Wait)));
                }
                s
            }
            PlanKind::Destroy => format!(
                "{} to delete, {} already gone",
                count(Action::Delete),
                count(Action::NoOp)
            ),
        }
    }

    /// The human rendering, with nodes under their role names (`node1`); the commands print
    /// `report::plan_text` with the user's node names.
    pub fn render_text(&self) -> String {
        super::report::plan_text(self, &["node1".to_string(), "node2".to_string()])
    }
}

/// The reason shown for a node replaced only because the user asked (`--replace NODE`).
const REPLACE_REQUESTED: &str = "replacement requested with --replace";

/// Compare what the blueprint wants with what is there. `recorded` names the resources state has
/// an OCID for (so a missing one can be called "deleted outside vipsetup"); `replace` are node
/// indexes the user asked to replace (`--replace NODE`).
pub fn diff(
    desired: &Desired,
    observed: &Observed,
    recorded: &BTreeSet<Resource>,
    replace: &[usize],
) -> Result<Plan, PlanError> {
    diff_holding(desired, observed, recorded, replace, &[])
}

/// `diff`, with the replacements of the nodes in `hold` (indexes) held back: such a node stays as
/// it is (a no-op that says why and how to replace it), and every change that can go without
/// it is planned as if it stays. How apply goes ahead when a replacement was not asked for.
pub fn diff_holding(
    desired: &Desired,
    observed: &Observed,
    recorded: &BTreeSet<Resource>,
    replace: &[usize],
    hold: &[usize],
) -> Result<Plan, PlanError> {
    let mut warnings = Vec::new();
    let gone_note = |r: Resource| {
        if recorded.contains(&r) {
            vec![format!(
                "{r} recorded in state was deleted outside vipsetup"
            )]
        } else {
            Vec::new()
        }
    };

    // NSG
    let nsg_step = match &observed.nsg {
        None => Step {
            resource: Resource::Nsg,
            action: Action::Create,
            reasons: gone_note(Resource::Nsg),
            depends_on: vec![],
            changes: vec![],
            reboots: false,
        },
        Some(nsg) => {
            let missing: Vec<_> = super::model::vrrp_rules(&nsg.id)
                .into_iter()
                .filter(|want| !nsg.rules.contains(want))
                .collect();
            let tags = drift::tag_changes(&nsg.tags, &desired.tags_for(Resource::Nsg), false);
            // A VRRP rule altered in place is removed, not kept and taken for the VRRP rule.
            let mut changes: Vec<Change> = super::model::altered_vrrp_rules(nsg)
                .iter()
                .map(|r| {
                    Change::new(
                        "rules",
                        Some(format!(
                            "{} rule {} protocol {} (altered outside vipsetup: it carries \
                             vipsetup's VRRP description but is not VRRP)",
                            r.direction,
                            r.id.as_deref().unwrap_or("?"),
                            r.protocol
                        )),
                        None,
                    )
                })
                .collect();
            changes.extend(missing.iter().map(|r| {
                Change::new(
                    "rules",
                    None,
                    Some(format!("{} protocol {} (VRRP)", r.direction, r.protocol)),
                )
            }));
            let mut reasons: Vec<String> = changes.iter().map(attributes::line).collect();
            reasons.extend(tags.iter().map(drift::describe));
            changes.extend(tags);
            let mut step = changed_or_noop(Resource::Nsg, reasons, vec![]);
            step.changes = changes;
            step
        }
    };
    let nsg_new = nsg_step.action == Action::Create;

    // Nodes
    let mut node_steps = Vec::new();
    for i in 0..2 {
        let r = Resource::node(i);
        let step = match observed.live_node(i) {
            None => Step {
                resource: r,
                action: Action::Create,
                reasons: gone_note(r),
                depends_on: vec![dep(Resource::Nsg, Milestone::Launched)],
                changes: vec![],
                reboots: false,
            },
            Some(live) => {
                let mut reasons = replacement_reasons(r, &desired.nodes[i], live);
                if replace.contains(&i) && reasons.is_empty() {
                    reasons.push(REPLACE_REQUESTED.to_string());
                }
                if !replace.contains(&i) {
                    warnings.extend(ssh_keys_note(&desired.nodes[i], live));
                }
                if hold.contains(&i) && !reasons.is_empty() {
                    warnings.push(format!(
                        "{} is not replaced (held: {}); run apply --replace {} to replace it",
                        desired.nodes[i].name,
                        reasons.join("; "),
                        desired.nodes[i].name
                    ));
                    node_steps.push(noop(
                        r,
                        vec![format!(
                            "replacement held until apply --replace {}",
                            desired.nodes[i].name
                        )],
                    ));
                    continue;
                }
                let settling = matches!(
                    live.lifecycle_state.as_str(),
                    "PROVISIONING" | "STARTING" | "MOVING"
                );
                if reasons.is_empty() && (settling || live.vnic.is_none()) {
                    Step {
                        resource: r,
                        action: Action::Wait,
                        reasons: vec![format!(
                            "{} (launched by an earlier run): wait for its vnic and RUNNING",
                            live.lifecycle_state
                        )],
                        depends_on: vec![],
                        changes: vec![],
                        reboots: false,
                    }
                } else if reasons.is_empty() {
                    let nsg = observed.nsg.as_ref().filter(|_| !nsg_new);
                    let drift =
                        drift::node_drift(&desired.nodes[i], &desired.tags_for(r), live, nsg);
                    let note = if live.lifecycle_state == "RUNNING" {
                        vec![]
                    } else {
                        vec![format!("{} (vipsetup leaves it so; start it in the console if that is not intended)", live.lifecycle_state)]
                    };
                    if drift.changes.is_empty() {
                        noop(r, note)
                    } else {
                        let mut reasons = drift.reasons();
                        reasons.extend(note);
                        Step {
                            resource: r,
                            action: Action::Update,
                            reasons,
                            // Joining the NSG needs it to exist.
                            depends_on: vec![dep(Resource::Nsg, Milestone::Launched)],
                            changes: drift.changes,
                            reboots: drift.reboots,
                        }
                    }
                } else {
                    // What the new instance gets that OCI could also change in place (its size,
                    // tags, NSG) is listed too: it changes with the replacement.
                    let mut changes =
                        attributes::launch_changes(&desired.nodes[i], live, &observed.image_names);
                    let nsg = observed.nsg.as_ref().filter(|_| !nsg_new);
                    // (Not the settings: the new instance boots with them in its user data,
                    // listed above as they differ from the user data it was launched with.)
                    changes.extend(
                        drift::node_drift(&desired.nodes[i], &desired.tags_for(r), live, nsg)
                            .changes
                            .into_iter()
                            .filter(|c| {
                                c.attribute != "settings" && !attributes::is_setting(&c.attribute)
                            }),
                    );
                    Step {
                        changes,
                        resource: r,
                        action: Action::Replace,
                        reasons: reasons
                            .into_iter()
                            .map(|why| {
                                if why == REPLACE_REQUESTED {
                                    why
                                } else {
                                    format!("forces replacement because {why}")
                                }
                            })
                            .collect(),
                        depends_on: vec![dep(Resource::Nsg, Milestone::Launched)],
                        reboots: false,
                    }
                }
            }
        };
        node_steps.push(step);
    }
    let new_nodes: [bool; 2] =
        [0, 1].map(|i| matches!(node_steps[i].action, Action::Create | Action::Replace));
    let node_new = |i: usize| new_nodes[i];

    // VIP: wherever the agent put it among the two nodes is fine (never fight the agent).
    let p = desired.preferred;
    let vip_on_preferred_vnic = vec![dep(Resource::node(p), Milestone::VnicReady)];
    let vip_step = match &observed.vip {
        Some(ip) if !observed.vip_is_ours => {
            return Err(PlanError::VipTaken {
                ip: ip.ip_address.to_string(),
                id: ip.id.clone(),
                vnic: ip.vnic_id.clone().unwrap_or_else(|| "none".into()),
            })
        }
        None => Step {
            resource: Resource::Vip,
            action: Action::Create,
            reasons: gone_note(Resource::Vip),
            depends_on: vip_on_preferred_vnic,
            changes: vec![],
            reboots: false,
        },
        Some(ip) => match ip
            .vnic_id
            .as_deref()
            .and_then(|v| observed.node_with_vnic(v))
        {
            Some(holder) if !node_new(holder) => {
                // The agent writes who took over (and when) in the same UpdatePrivateIp that
                // moves the VIP (templates/agent/vip-agent/20-vips.sh, takeover_body); a move
                // without its holder's name there was made by someone else (console, CLI).
                let by = ip.tags.get(TAG_TAKEOVER_BY);
                let note = if holder == p {
                    format!("on {}", Resource::node(holder))
                } else if by.is_some_and(|n| *n == desired.nodes[holder].name) {
                    format!(
                        "on {} (failed over by the agent{}; left where it is)",
                        Resource::node(holder),
                        ip.tags
                            .get(TAG_TAKEOVER_AT)
                            .map(|t| format!(" at {t}"))
                            .unwrap_or_default()
                    )
                } else {
                    format!(
                        "on {} (moved outside vipsetup: its tags record no takeover by {}'s agent{}); \
                         left where it is, the agents settle its place",
                        Resource::node(holder),
                        desired.nodes[holder].name,
                        by.map(|n| format!(", the last one recorded is {n}'s"))
                            .unwrap_or_default()
                    )
                };
                // Keys the blueprint does not name stay: the agent records its takeovers there.
                let tags = drift::tag_changes(&ip.tags, &desired.tags_for(Resource::Vip), true);
                if tags.is_empty() {
                    noop(Resource::Vip, vec![note])
                } else {
                    let mut reasons: Vec<String> = tags.iter().map(drift::describe).collect();
                    reasons.push(note);
                    let mut step = changed_or_noop(Resource::Vip, reasons, vec![]);
                    step.changes = tags;
                    step
                }
            }
            // Its node is replaced: the private IP goes with that node's VNIC. vipsetup does not
            // move it away first: the old node's agent, MASTER until it dies, would only move it
            // back. The peer's agent takes over and re-creates it; apply then adopts that one, or
            // creates it on the preferred node if no agent did.
            Some(holder) => {
                let mut deps = vec![dep(Resource::node(holder), Milestone::Done)];
                if p != holder {
                    deps.push(dep(Resource::node(p), Milestone::VnicReady));
                }
                Step {
                    resource: Resource::Vip,
                    action: Action::Create,
                    reasons: vec![format!(
                        "its private ip goes away with {}'s vnic; the agent on the peer re-creates it \
                         when it takes over, which apply adopts (or apply creates it on {})",
                        Resource::node(holder),
                        Resource::node(p)
                    )],
                    depends_on: deps,
                    changes: vec![],
                    reboots: false,
                }
            }
            None => Step {
                resource: Resource::Vip,
                action: Action::Update,
                reasons: vec![format!(
                    "vnic: move to {} (it is on a vnic outside the pair)",
                    Resource::node(p)
                )],
                depends_on: vip_on_preferred_vnic,
                changes: vec![],
                reboots: false,
            },
        },
    };
    // The VIP's address changed: its private IP object is deleted and one made at the new address.
    let mut vip_step = vip_step;
    if let (Some(old), Action::Create) = (&observed.stale_vip, vip_step.action) {
        vip_step.action = Action::Replace;
        vip_step.reasons = vec![format!(
            "forces replacement because the address changed ({} -> {})",
            old.ip_address, desired.vip
        )];
        vip_step.changes = vec![Change::new(
            "address",
            Some(old.ip_address.to_string()),
            Some(desired.vip.to_string()),
        )];
    }
    // The VIPs after the first live with it: each missing one is made, each the blueprint no
    // longer names is deleted, in the VIP step; one held by something else stops the plan.
    let mut extra_reasons = Vec::new();
    for x in &observed.extra_vips {
        match &x.live {
            Some(l) if !x.ours => {
                return Err(PlanError::VipTaken {
                    ip: x.address.to_string(),
                    id: l.id.clone(),
                    vnic: l.vnic_id.clone().unwrap_or_else(|| "none".into()),
                })
            }
            Some(l) => {
                let on_pair = l
                    .vnic_id
                    .as_deref()
                    .and_then(|v| observed.node_with_vnic(v))
                    .is_some();
                if !on_pair {
                    extra_reasons.push(format!(
                        "vnic: move vip {} to the first vip's node (it is on a vnic outside the pair)",
                        x.address
                    ));
                }
                // Keys the blueprint does not name stay: the agent records its takeovers there.
                let tags = drift::tag_changes(&l.tags, &desired.tags_for(Resource::Vip), true);
                extra_reasons.extend(
                    tags.iter()
                        .map(|c| format!("vip {}: {}", x.address, drift::describe(c))),
                );
            }
            None => extra_reasons.push(format!("add vip {} with the first vip", x.address)),
        }
    }
    for l in &observed.stale_extra_vips {
        extra_reasons.push(format!(
            "remove vip {} (no longer in the blueprint)",
            l.address
        ));
    }
    // The public IP follows the first VIP: assigned to its private IP.
    let first_vip = observed
        .vip
        .as_ref()
        .filter(|_| observed.vip_is_ours && vip_step.action != Action::Replace)
        .map(|v| v.id.as_str());
    let shown = |p: &super::model::LivePublicIp| p.ip_address.clone().unwrap_or(p.id.clone());
    match (&desired.public_ip, &observed.public_ip) {
        (Some(super::model::DesiredPublicIp::Existing(id)), Some(p)) if &p.id != id => {
            extra_reasons.push(format!(
                "{} public ip {}, then assign {id} to vip {}",
                if observed.public_ip_adopted {
                    "unassign (and keep)"
                } else {
                    "delete"
                },
                shown(p),
                desired.vip
            ))
        }
        (Some(super::model::DesiredPublicIp::Reserved), Some(p)) if observed.public_ip_adopted => {
            extra_reasons.push(format!(
                "unassign (and keep) public ip {}, then create a reserved public ip on vip {}",
                shown(p),
                desired.vip
            ))
        }
        (Some(_), None) => extra_reasons.push(format!(
            "create a reserved public ip on vip {}",
            desired.vip
        )),
        (Some(_), Some(p)) if p.private_ip_id.as_deref() != first_vip || first_vip.is_none() => {
            extra_reasons.push(format!(
                "assign public ip {} to vip {}",
                shown(p),
                desired.vip
            ))
        }
        (None, Some(p)) if observed.public_ip_adopted => extra_reasons.push(format!(
            "unassign public ip {} (yours: kept, not deleted)",
            shown(p)
        )),
        (None, Some(p)) => extra_reasons.push(format!(
            "delete public ip {} (no longer in the blueprint)",
            shown(p)
        )),
        _ => {}
    }
    if !extra_reasons.is_empty() {
        if vip_step.action == Action::NoOp {
            vip_step.action = Action::Update;
            vip_step.depends_on = vec![dep(Resource::node(p), Milestone::VnicReady)];
        }
        vip_step.reasons.extend(extra_reasons);
    }
    // Replacing (or rebooting) both nodes: the one not holding the VIP first, so one node is
    // always up to hold it (a rolling replacement). A replaced node's step ends once its new
    // instance runs and the dynamic group names it, so the holder goes only when its peer can
    // take over. With no VIP yet, the preferred node counts as the holder.
    let holder = observed
        .vip
        .as_ref()
        .filter(|_| observed.vip_is_ours)
        .and_then(|v| v.vnic_id.as_deref())
        .and_then(|v| observed.node_with_vnic(v))
        .unwrap_or(p);
    let disruptive =
        |s: &Step| s.action == Action::Replace || (s.action == Action::Update && s.reboots);
    if disruptive(&node_steps[holder]) && node_steps[1 - holder].action != Action::NoOp {
        node_steps[holder]
            .depends_on
            .push(dep(Resource::node(1 - holder), Milestone::Done));
    }

    // Dynamic group
    let launched = vec![
        dep(Resource::Node1, Milestone::Launched),
        dep(Resource::Node2, Milestone::Launched),
    ];
    let dg = &desired.dynamic_group;
    let dg_tags = desired.tags_for(Resource::DynamicGroup);
    let dg_step = match &observed.dynamic_group {
        None => Step {
            resource: Resource::DynamicGroup,
            action: Action::Create,
            reasons: gone_note(Resource::DynamicGroup),
            depends_on: launched.clone(),
            changes: vec![],
            reboots: false,
        },
        Some(live) if live.name != dg.name => Step {
            resource: Resource::DynamicGroup,
            action: Action::Replace,
            reasons: vec![format!(
                "forces replacement because the name changed ({} -> {}) and OCI can't rename a dynamic group",
                live.name, dg.name
            )],
            depends_on: launched.clone(),
            changes: vec![Change::new("name", Some(live.name.clone()), Some(dg.name.clone()))],
            reboots: false,
        },
        Some(live) => {
            let mut reasons = Vec::new();
            let mut changes = Vec::new();
            if node_new(0) || node_new(1) {
                changes.push(Change::new(
                    "matching_rule",
                    Some(live.matching_rule.clone()),
                    Some("(names the new instance ids)".to_string()),
                ));
            } else {
                let ids: Vec<&str> = (0..2)
                    .filter_map(|i| observed.live_node(i).map(|n| n.id.as_str()))
                    .collect();
                let want = iam::matching_rule(&ids);
                if !iam::same_matching_rule(&live.matching_rule, &want) {
                    changes.push(Change::new(
                        "matching_rule",
                        Some(live.matching_rule.clone()),
                        Some(want),
                    ));
                }
            }
            if live.description != dg.description {
                changes.push(Change::new(
                    "description",
                    Some(live.description.clone()),
                    Some(dg.description.clone()),
                ));
            }
            reasons.extend(changes.iter().map(attributes::line));
            let tags = drift::tag_changes(&live.tags, &dg_tags, false);
            reasons.extend(tags.iter().map(drift::describe));
            changes.extend(tags);
            let mut step = changed_or_noop(Resource::DynamicGroup, reasons, launched.clone());
            step.changes = changes;
            step
        }
    };

    // Policy
    let pol = &desired.policy;
    let pol_tags = desired.tags_for(Resource::Policy);
    let after_dg = vec![dep(Resource::DynamicGroup, Milestone::Done)];
    let pol_step = match &observed.policy {
        None => Step {
            resource: Resource::Policy,
            action: Action::Create,
            reasons: gone_note(Resource::Policy),
            depends_on: after_dg,
            changes: vec![],
            reboots: false,
        },
        Some(live) if live.name != pol.name => Step {
            resource: Resource::Policy,
            action: Action::Replace,
            reasons: vec![format!(
                "forces replacement because the name changed ({} -> {})",
                live.name, pol.name
            )],
            depends_on: after_dg,
            changes: vec![Change::new(
                "name",
                Some(live.name.clone()),
                Some(pol.name.clone()),
            )],
            reboots: false,
        },
        // A policy can't move between compartments in place, and its statements can only grant
        // in its own compartment's subtree.
        Some(live) if live.compartment_id != pol.compartment_id => Step {
            resource: Resource::Policy,
            action: Action::Replace,
            reasons: vec![format!(
                "forces replacement because it moves to the subnet's compartment ({} -> {})",
                live.compartment_id, pol.compartment_id
            )],
            depends_on: after_dg,
            changes: vec![Change::new(
                "compartment_id",
                Some(live.compartment_id.clone()),
                Some(pol.compartment_id.clone()),
            )],
            reboots: false,
        },
        Some(live) => {
            let mut changes = Vec::new();
            if live.statements != pol.statements {
                changes.extend(
                    live.statements
                        .iter()
                        .filter(|s| !pol.statements.contains(s))
                        .map(|s| Change::new("statements", Some(s.clone()), None)),
                );
                changes.extend(
                    pol.statements
                        .iter()
                        .filter(|s| !live.statements.contains(s))
                        .map(|s| Change::new("statements", None, Some(s.clone()))),
                );
                if changes.is_empty() {
                    changes.push(Change::new(
                        "statements",
                        Some("(the same statements)".to_string()),
                        Some("(in the blueprint's order)".to_string()),
                    ));
                }
            }
            if live.description != pol.description {
                changes.push(Change::new(
                    "description",
                    Some(live.description.clone()),
                    Some(pol.description.clone()),
                ));
            }
            let mut reasons: Vec<String> = changes.iter().map(attributes::line).collect();
            let tags = drift::tag_changes(&live.tags, &pol_tags, false);
            reasons.extend(tags.iter().map(drift::describe));
            changes.extend(tags);
            let mut step = changed_or_noop(Resource::Policy, reasons, after_dg);
            step.changes = changes;
            step
        }
    };

    let mut steps = vec![nsg_step];
    steps.extend(node_steps);
    steps.extend([dg_step, pol_step, vip_step]);
    attributes::mark(&mut steps);
    attributes::strip_hidden_values(&mut steps);
    Ok(Plan {
        kind: PlanKind::Apply,
        steps,
        warnings,
        notes: Vec::new(),
    })
}

/// The reverse: delete what is there (VIP, instances waited to TERMINATED, policy, dynamic
/// group, NSG). Resources already gone are no-ops, so destroy can always be run again.
pub fn destroy_plan(observed: &Observed) -> Plan {
    let present = |b: bool, r: Resource, deps: Vec<Dep>| Step {
        resource: r,
        action: if b { Action::Delete } else { Action::NoOp },
        reasons: if b {
            vec![]
        } else {
            vec!["already gone".to_string()]
        },
        depends_on: if b { deps } else { vec![] },
        changes: vec![],
        reboots: false,
    };
    let node_present = |i: usize| {
        observed.nodes[i]
            .as_ref()
            .is_some_and(|n| n.lifecycle_state != "TERMINATED")
    };
    let nodes_done = vec![
        dep(Resource::Node1, Milestone::Done),
        dep(Resource::Node2, Milestone::Done),
    ];
    let steps = vec![
        present(
            (observed.vip.is_some() && observed.vip_is_ours)
                || observed.stale_vip.is_some()
                || observed
                    .extra_vips
                    .iter()
                    .any(|x| x.ours && x.live.is_some())
                || !observed.stale_extra_vips.is_empty(),
            Resource::Vip,
            vec![],
        ),
        present(
            node_present(0),
            Resource::Node1,
            vec![dep(Resource::Vip, Milestone::Done)],
        ),
        present(
            node_present(1),
            Resource::Node2,
            vec![dep(Resource::Vip, Milestone::Done)],
        ),
        present(
            observed.policy.is_some(),
            Resource::Policy,
            nodes_done.clone(),
        ),
        present(
            observed.dynamic_group.is_some(),
            Resource::DynamicGroup,
            vec![dep(Resource::Policy, Milestone::Done)],
        ),
        present(observed.nsg.is_some(), Resource::Nsg, nodes_done),
    ];
    Plan {
        kind: PlanKind::Destroy,
        steps,
        warnings: Vec::new(),
        notes: Vec::new(),
    }
}

fn noop(resource: Resource, reasons: Vec<String>) -> Step {
    Step {
        resource,
        action: Action::NoOp,
        reasons,
        depends_on: vec![],
        changes: vec![],
        reboots: false,
    }
}

fn changed_or_noop(resource: Resource, reasons: Vec<String>, deps: Vec<Dep>) -> Step {
    if reasons.is_empty() {
        noop(resource, vec![])
    } else {
        Step {
            resource,
            action: Action::Update,
            reasons,
            depends_on: deps,
            changes: vec![],
            reboots: false,
        }
    }
}

/// Why an existing instance can't be kept: each attribute that differs and that
/// `attributes::replacement_cause` (the one table) says OCI fixes at launch: today the name, the
/// availability domain, the image, the VNIC's address and the user data's install part. What
/// OCI changes in place (tags, NSG membership, the shape and its size, the fault domain, the
/// public IP, the settings key) is `drift::node_drift`'s; the ssh keys, fixed at launch too, are
/// only noted (`ssh_keys_note`) and replaced when the user asks.
fn replacement_reasons(
    r: Resource,
    want: &super::model::DesiredNode,
    live: &LiveInstance,
) -> Vec<String> {
    let forces = |path: &str| attributes::replacement_cause(r, path).is_some();
    let mut why = Vec::new();
    if forces("display_name") && live.display_name != want.name {
        why.push(format!(
            "the name changed ({} -> {})",
            live.display_name, want.name
        ));
    }
    if forces("availability_domain") && live.availability_domain != want.availability_domain {
        why.push(format!(
            "the availability domain changed ({} -> {})",
            live.availability_domain, want.availability_domain
        ));
    }
    if let Some(fd) = live
        .fault_domain
        .as_ref()
        .filter(|_| forces("fault_domain"))
    {
        if fd != &want.fault_domain {
            why.push(format!(
                "the fault domain changed ({fd} -> {})",
                want.fault_domain
            ));
        }
    }
    if forces("shape") && live.shape != want.shape {
        why.push(format!(
            "the shape changed ({} -> {})",
            live.shape, want.shape
        ));
    }
    if let Some(image) = live.image_id.as_ref().filter(|_| forces("image")) {
        if image != &want.image_id {
            why.push(format!("the image changed ({image} -> {})", want.image_id));
        }
    }
    if let Some(ud) = live.user_data.as_ref().filter(|ud| **ud != want.user_data) {
        // Setting by setting: the settings in it change on the running node (the settings
        // key); what else differs (the install part) needs a new instance.
        for c in attributes::user_data_changes(ud, &want.user_data) {
            if let Some(cause) = attributes::replacement_cause(r, &c.attribute) {
                if !why.iter().any(|w| w == cause) {
                    why.push(cause.to_string());
                }
            }
        }
    }
    if let Some(keys) = live
        .ssh_authorized_keys
        .as_ref()
        .filter(|_| forces("ssh_authorized_keys"))
    {
        if keys.trim() != want.ssh_authorized_keys.trim() {
            why.push("the ssh keys changed (OCI metadata is fixed at launch)".to_string());
        }
    }
    if let Some(ip) = live
        .vnic
        .as_ref()
        .and_then(|v| v.private_ip)
        .filter(|_| forces("private_ip"))
    {
        if ip != want.private_ip {
            why.push(format!(
                "the private ip changed ({ip} -> {})",
                want.private_ip
            ));
        }
    }
    why
}

/// The plan's note when a node's ssh keys differ from the blueprint's: OCI fixes
/// `ssh_authorized_keys` at launch ("cannot be changed after an instance has launched",
/// oci-python-sdk UpdateInstanceDetails.metadata), and replacing a server for a key is the
/// user's call.
fn ssh_keys_note(want: &super::model::DesiredNode, live: &LiveInstance) -> Option<String> {
    let keys = live.ssh_authorized_keys.as_ref()?;
    (keys.trim() != want.ssh_authorized_keys.trim()).then(|| {
        format!(
            "{}: the ssh keys differ from the blueprint's, and OCI cannot change them on a running \
             instance; add the key to ~/.ssh/authorized_keys on the node, or run apply --replace {} \
             to replace the node with the new keys",
            want.name, want.name
        )
    })
}

#[cfg(test)]
pub(crate) mod tests;
