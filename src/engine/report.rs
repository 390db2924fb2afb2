//! What apply and status tell the user at the end: the VIP and who holds it, each node's name,
//! address and OCIDs, and the other resources' OCIDs. Plain data (serialized for
//! `--output json`) with a text rendering; built from state plus what the cloud shows.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::Serialize;

use super::model::{
    Desired, Observed, Resource, TAG_AGENT_BEAT, TAG_AGENT_CLAIM, TAG_AGENT_ERROR, TAG_AGENT_SEEN,
    TAG_AGENT_SETTINGS, TAG_AGENT_SETTINGS_REFUSED, TAG_AGENT_SINCE, TAG_AGENT_STATE,
    TAG_TAKEOVER_AT, TAG_TAKEOVER_BY,
};
use super::plan::{Action, Plan};
use super::state::State;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeReport {
    pub role: String,
    pub name: String,
    pub private_ip: Option<Ipv4Addr>,
    pub instance_id: Option<String>,
    pub vnic_id: Option<String>,
    pub fault_domain: Option<String>,
    /// Live lifecycle state, or `ABSENT`.
    pub state: String,
    /// Where its rendered cloud-config was written, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data_file: Option<PathBuf>,
    /// What the node's agent says of itself (its VNIC's tags); `None` until it wrote any.
    pub agent: Option<AgentView>,
}

/// The agent's own view, from the `vipsetup-agent-*` tags on its VNIC.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentView {
    /// MASTER, BACKUP, FAULT or STOP.
    pub state: String,
    pub since: Option<String>,
    /// When it last confirmed a claim of the VIPs.
    pub last_claim: Option<String>,
    /// Its last error (none when its last call succeeded).
    pub last_error: Option<String>,
    /// When it last wrote its view (its heartbeat); `None` from agents older than heartbeats.
    #[serde(default)]
    pub seen: Option<String>,
    /// Its heartbeat interval in seconds, as it tagged it.
    #[serde(default)]
    pub beat_secs: Option<u64>,
    /// The settings version it runs (`v3`); none while it runs the first settings.
    #[serde(default)]
    pub settings: Option<String>,
    /// The last settings version it refused, and why.
    #[serde(default)]
    pub settings_refused: Option<String>,
}

impl AgentView {
    /// The view an agent wrote on its VNIC's freeform tags; `None` until it wrote one.
    pub fn from_tags(tags: &std::collections::BTreeMap<String, String>) -> Option<AgentView> {
        let tag = |k: &str| tags.get(k).filter(|x| !x.is_empty()).cloned();
        Some(AgentView {
            state: tag(TAG_AGENT_STATE)?,
            since: tag(TAG_AGENT_SINCE),
            last_claim: tag(TAG_AGENT_CLAIM),
            last_error: tag(TAG_AGENT_ERROR),
            seen: tag(TAG_AGENT_SEEN),
            beat_secs: tag(TAG_AGENT_BEAT).and_then(|b| b.parse().ok()),
            settings: tag(TAG_AGENT_SETTINGS),
            settings_refused: tag(TAG_AGENT_SETTINGS_REFUSED),
        })
    }
}

/// One VIP as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VipReport {
    pub address: IpAddr,
    pub id: Option<String>,
    /// Name of the node whose VNIC holds it, per the API.
    pub holder: Option<String>,
    /// The last takeover the agent recorded on it (its freeform tags).
    pub last_takeover: Option<Takeover>,
}

/// The public IP that follows the first VIP.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PublicIpReport {
    pub id: String,
    pub address: Option<String>,
    /// Whether it is assigned to the first VIP's private IP (so it follows it).
    pub on_first_vip: bool,
    /// The user's own (kept on destroy) rather than made by vipsetup.
    pub adopted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceReport {
    pub role: String,
    pub id: Option<String>,
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub pair: String,
    pub vip: Ipv4Addr,
    pub vip_id: Option<String>,
    /// Name of the node whose VNIC holds the VIP, per the API.
    pub vip_holder: Option<String>,
    /// The last takeover the failover agent recorded on the VIP (its freeform tags).
    pub last_takeover: Option<Takeover>,
    pub nodes: Vec<NodeReport>,
    pub resources: Vec<ResourceReport>,
    /// Every VIP (the first, then the others) with its owner per the API.
    pub vips: Vec<VipReport>,
    pub public_ip: Option<PublicIpReport>,
    /// Where the API's view and the agents' own views disagree (empty: they agree).
    pub disagreements: Vec<String>,
}

/// Who took the VIP over last, and when, as the agent tagged it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Takeover {
    pub by: String,
    pub at: String,
}

/// What a report needs from the blueprint side: names and the addresses asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    pub pair: String,
    pub vip: Ipv4Addr,
    pub names: [String; 2],
    /// Shown when a node is absent (from the blueprint, or picked and kept in state).
    pub addresses: [Option<Ipv4Addr>; 2],
}

impl From<&Desired> for Labels {
    fn from(d: &Desired) -> Labels {
        Labels {
            pair: d.pair.clone(),
            vip: d.vip,
            names: [d.nodes[0].name.clone(), d.nodes[1].name.clone()],
            addresses: [Some(d.nodes[0].private_ip), Some(d.nodes[1].private_ip)],
        }
    }
}

impl Report {
    pub fn build(
        d: &Labels,
        o: &Observed,
        s: &State,
        user_data_files: Option<[PathBuf; 2]>,
    ) -> Report {
        let nodes: Vec<NodeReport> = (0..2)
            .map(|i| {
                let r = Resource::node(i);
                let live = o.nodes[i].as_ref();
                NodeReport {
                    role: r.key().to_string(),
                    name: live.map_or(d.names[i].clone(), |n| n.display_name.clone()),
                    private_ip: live
                        .and_then(|n| n.vnic.as_ref())
                        .and_then(|v| v.private_ip)
                        .or(d.addresses[i]),
                    instance_id: live
                        .map(|n| n.id.clone())
                        .or_else(|| s.id(r).map(str::to_string)),
                    vnic_id: live.and_then(|n| n.vnic.as_ref()).map(|v| v.id.clone()),
                    fault_domain: live.and_then(|n| n.fault_domain.clone()),
                    state: live.map_or("ABSENT".to_string(), |n| n.lifecycle_state.clone()),
                    user_data_file: user_data_files.as_ref().map(|f| f[i].clone()),
                    agent: live
                        .filter(|n| !n.is_gone())
                        .and_then(|n| n.vnic.as_ref())
                        .and_then(|v| AgentView::from_tags(&v.tags)),
                }
            })
            .collect();
        let vip_holder = o
            .vip
            .as_ref()
            .filter(|_| o.vip_is_ours)
            .and_then(|v| v.vnic_id.as_deref())
            .and_then(|v| o.node_with_vnic(v))
            .map(|i| nodes[i].name.clone());
        let last_takeover = o.vip.as_ref().filter(|_| o.vip_is_ours).and_then(|v| {
            Some(Takeover {
                by: v.tags.get(TAG_TAKEOVER_BY)?.clone(),
                at: v.tags.get(TAG_TAKEOVER_AT).cloned().unwrap_or_default(),
            })
        });
        let res = |r: Resource, id: Option<&String>, state: Option<&String>| ResourceReport {
            role: r.key().to_string(),
            id: id.cloned(),
            state: state.cloned().unwrap_or_else(|| "ABSENT".to_string()),
        };
        let assigned = "ASSIGNED".to_string();
        let resources = vec![
            res(
                Resource::Nsg,
                o.nsg.as_ref().map(|n| &n.id),
                o.nsg.as_ref().map(|n| &n.lifecycle_state),
            ),
            res(
                Resource::DynamicGroup,
                o.dynamic_group.as_ref().map(|g| &g.id),
                o.dynamic_group.as_ref().map(|g| &g.lifecycle_state),
            ),
            res(
                Resource::Policy,
                o.policy.as_ref().map(|p| &p.id),
                o.policy.as_ref().map(|p| &p.lifecycle_state),
            ),
            res(
                Resource::Vip,
                o.vip.as_ref().filter(|_| o.vip_is_ours).map(|v| &v.id),
                o.vip.as_ref().filter(|_| o.vip_is_ours).map(|_| &assigned),
            ),
        ];
        let holder_of = |vnic: Option<&str>| {
            vnic.and_then(|v| o.node_with_vnic(v))
                .map(|i| nodes[i].name.clone())
        };
        let takeover = |tags: &std::collections::BTreeMap<String, String>| {
            Some(Takeover {
                by: tags.get(TAG_TAKEOVER_BY)?.clone(),
                at: tags.get(TAG_TAKEOVER_AT).cloned().unwrap_or_default(),
            })
        };
        let mut vips = vec![VipReport {
            address: IpAddr::V4(d.vip),
            id: o
                .vip
                .as_ref()
                .filter(|_| o.vip_is_ours)
                .map(|v| v.id.clone()),
            holder: vip_holder.clone(),
            last_takeover: last_takeover.clone(),
        }];
        vips.extend(o.extra_vips.iter().map(|x| {
            let live = x.live.as_ref().filter(|_| x.ours);
            VipReport {
                address: x.address,
                id: live.map(|l| l.id.clone()),
                holder: live.and_then(|l| holder_of(l.vnic_id.as_deref())),
                last_takeover: live.and_then(|l| takeover(&l.tags)),
            }
        }));
        let first_id = vips[0].id.clone();
        let public_ip = o.public_ip.as_ref().map(|p| PublicIpReport {
            id: p.id.clone(),
            address: p.ip_address.clone(),
            on_first_vip: first_id.is_some() && p.private_ip_id == first_id,
            adopted: o.public_ip_adopted,
        });
        let disagreements = disagreements(&nodes, &vips, public_ip.as_ref());
        Report {
            pair: d.pair.clone(),
            vip: d.vip,
            vip_id: o
                .vip
                .as_ref()
                .filter(|_| o.vip_is_ours)
                .map(|v| v.id.clone()),
            vip_holder,
            last_takeover,
            nodes,
            resources,
            vips,
            public_ip,
            disagreements,
        }
    }

    /// The per-VIP, public IP, agent and disagreement lines of the text rendering.
    fn both_views_text(&self, out: &mut String) {
        if self.vips.len() > 1 {
            for v in &self.vips {
                out.push_str(&format!(
                    "  vip {:<28} {}{}\n",
                    v.address,
                    v.holder
                        .as_ref()
                        .map_or("not assigned to either node".to_string(), |h| format!(
                            "on {h}"
                        )),
                    v.last_takeover
                        .as_ref()
                        .map(|t| format!(" (taken over by {} at {})", t.by, t.at))
                        .unwrap_or_default()
                ));
            }
        }
        if let Some(p) = &self.public_ip {
            out.push_str(&format!(
                "  public ip {} {}{}\n",
                p.address.as_deref().unwrap_or(&p.id),
                if p.on_first_vip {
                    format!("follows vip {}", self.vip)
                } else {
                    "is not on the first vip".to_string()
                },
                if p.adopted { " (yours)" } else { "" }
            ));
        }
        for n in &self.nodes {
            match &n.agent {
                Some(a) => out.push_str(&format!(
                    "  agent on {}: {}{}{}{}\n",
                    n.name,
                    a.state,
                    a.since
                        .as_ref()
                        .map(|s| format!(" since {s}"))
                        .unwrap_or_default(),
                    a.last_claim
                        .as_ref()
                        .map(|c| format!(", last claim {c}"))
                        .unwrap_or_default(),
                    a.last_error
                        .as_ref()
                        .map(|e| format!(", last error: {e}"))
                        .unwrap_or_default()
                )),
                None if n.state == "RUNNING" => out.push_str(&format!(
                    "  agent on {}: has not reported (no vipsetup-agent-state tag on its vnic)\n",
                    n.name
                )),
                None => {}
            }
        }
        // "settings v3 on node1, v2 on node2": the version each agent runs (v1 = the first
        // settings, from the user data), and any it refused.
        let runs: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| {
                let a = n.agent.as_ref()?;
                Some(format!(
                    "{} on {}",
                    a.settings.as_deref().unwrap_or("v1"),
                    n.name
                ))
            })
            .collect();
        if !runs.is_empty() {
            out.push_str(&format!("  settings {}\n", runs.join(", ")));
        }
        for n in &self.nodes {
            if let Some(r) = n.agent.as_ref().and_then(|a| a.settings_refused.as_ref()) {
                out.push_str(&format!("  settings refused by {}: {r}\n", n.name));
            }
        }
        for d in &self.disagreements {
            out.push_str(&format!("  views disagree: {d}\n"));
        }
    }

    pub fn render_text(&self) -> String {
        let mut out = format!(
            "pair {}: vip {} {}\n",
            self.pair,
            self.vip,
            match &self.vip_holder {
                Some(h) => format!("on {h}"),
                None => "not assigned to either node".to_string(),
            }
        );
        if let Some(t) = &self.last_takeover {
            out.push_str(&format!(
                "  last takeover by the agent: {} at {}\n",
                t.by,
                if t.at.is_empty() {
                    "an unknown time"
                } else {
                    &t.at
                }
            ));
        }
        self.both_views_text(&mut out);
        for n in &self.nodes {
            out.push_str(&format!(
                "  {:<6} {:<16} {:<15} {:<12} {}\n",
                n.role,
                n.name,
                n.private_ip.map(|i| i.to_string()).unwrap_or_default(),
                n.state,
                n.instance_id.as_deref().unwrap_or("-")
            ));
            if let Some(f) = &n.user_data_file {
                out.push_str(&format!("         user data: {}\n", f.display()));
            }
        }
        for r in &self.resources {
            out.push_str(&format!(
                "  {:<14} {:<10} {}\n",
                r.role,
                r.state,
                r.id.as_deref().unwrap_or("-")
            ));
        }
        out
    }
}

/// Where what the API shows (who holds each VIP, the public IP) and what the agents say of
/// themselves (their VNIC tags) do not fit together. Nodes whose agent has not reported are
/// not judged.
fn disagreements(
    nodes: &[NodeReport],
    vips: &[VipReport],
    public_ip: Option<&PublicIpReport>,
) -> Vec<String> {
    let mut out = Vec::new();
    let holders: std::collections::BTreeSet<&str> =
        vips.iter().filter_map(|v| v.holder.as_deref()).collect();
    if holders.len() > 1 {
        out.push(format!(
            "the VIPs are split between {} (the agent moves them together)",
            holders.into_iter().collect::<Vec<_>>().join(" and ")
        ));
    }
    // A MASTER view older than another node's takeover of the VIPs is stale: that node's agent
    // has not reported since (a crashed keepalived, a dead agent or instance leaves its last
    // tags behind). It is said as such, not as two MASTERs, which would send the user looking
    // for a VRRP split that is not there.
    let stale: Vec<Option<&Takeover>> = nodes
        .iter()
        .map(|n| {
            let a = n.agent.as_ref().filter(|a| a.state == "MASTER")?;
            let reported = last_report(a)?;
            vips.iter()
                .filter_map(|v| v.last_takeover.as_ref())
                .filter(|t| t.by != n.name && utc_before(reported, &t.at))
                .max_by(|x, y| x.at.cmp(&y.at))
        })
        .collect();
    let masters: Vec<&str> = nodes
        .iter()
        .zip(&stale)
        .filter(|(n, s)| s.is_none() && n.agent.as_ref().is_some_and(|a| a.state == "MASTER"))
        .map(|(n, _)| n.name.as_str())
        .collect();
    if masters.len() > 1 {
        out.push(format!(
            "both agents say MASTER ({}): check VRRP between the nodes",
            masters.join(", ")
        ));
    }
    for (n, stale) in nodes.iter().zip(&stale) {
        let Some(a) = &n.agent else { continue };
        if let Some(t) = stale {
            out.push(format!(
                "{}'s agent last reported MASTER at {}, before {} took the VIPs over at {}, and \
                 nothing since: its keepalived or agent may have stopped; check {} (if they \
                 run, check VRRP between the nodes)",
                n.name,
                last_report(a).unwrap_or_default(),
                t.by,
                t.at,
                n.name
            ));
            continue;
        }
        let holds: Vec<String> = vips
            .iter()
            .filter(|v| v.holder.as_deref() == Some(n.name.as_str()))
            .map(|v| v.address.to_string())
            .collect();
        let missing: Vec<String> = vips
            .iter()
            .filter(|v| v.holder.as_deref() != Some(n.name.as_str()))
            .map(|v| v.address.to_string())
            .collect();
        if a.state == "MASTER" && !missing.is_empty() {
            out.push(format!(
                "{}'s agent says MASTER, but the API shows {} elsewhere",
                n.name,
                missing.join(", ")
            ));
        }
        if a.state != "MASTER" && !holds.is_empty() {
            out.push(format!(
                "the API shows {} on {}, whose agent says {}",
                holds.join(", "),
                n.name,
                a.state
            ));
        }
    }
    if let Some(p) = public_ip.filter(|p| !p.on_first_vip) {
        out.push(format!(
            "public ip {} is not assigned to the first VIP, so it does not follow it",
            p.address.as_deref().unwrap_or(&p.id)
        ));
    }
    out
}

/// When an agent last wrote its view: the later of the state's start and its last claim (a
/// MASTER writes a claim time on each confirmed claim, contract-12).
fn last_report(a: &AgentView) -> Option<&str> {
    let since = a.since.as_deref();
    match (since, a.last_claim.as_deref()) {
        (Some(s), Some(c)) if utc_before(s, c) => Some(c),
        (None, c) => c,
        (s, _) => s,
    }
}

/// Whether RFC 3339 UTC time `a` is before `b`, for the agent's second-precision
/// `YYYY-MM-DDTHH:MM:SSZ` (vip-agent.sh): fixed width, so text order is time order. Any other
/// shape gives false (not judged).
pub(crate) fn utc_before(a: &str, b: &str) -> bool {
    let shaped = |t: &str| {
        t.len() == 20
            && t.ends_with('Z')
            && t.bytes().enumerate().all(|(i, c)| match i {
                4 | 7 => c == b'-',
                10 => c == b'T',
                13 | 16 => c == b':',
                19 => c == b'Z',
                _ => c.is_ascii_digit(),
            })
    };
    shaped(a) && shaped(b) && a < b
}

/// The plan as people read it: one line per resource with its action, nodes under the names
/// the user gave them (`web1 (node1)`), then each reason or changed attribute below it, then
/// the summary. `names` are the two nodes' names in blueprint order.
pub fn plan_text(plan: &Plan, names: &[String; 2]) -> String {
    let label = |r: Resource| match r.node_index() {
        Some(i) if names[i] != r.key() => format!("{} ({})", names[i], r.key()),
        _ => r.key().to_string(),
    };
    let width = plan
        .steps
        .iter()
        .map(|s| label(s.resource).chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    let mut out = String::new();
    for s in &plan.steps {
        let sign = match s.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Wait => "..",
            Action::NoOp => " ",
        };
        out.push_str(&format!(
            "{sign:>3} {:<width$} {}\n",
            label(s.resource),
            s.action
        ));
        for line in step_lines(s) {
            out.push_str(&format!("      {}\n", with_names(&line, names)));
        }
    }
    for w in &plan.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    for n in &plan.notes {
        out.push_str(&format!("note: {}\n", with_names(n, names)));
    }
    out.push_str(&format!("plan: {}\n", plan.summary()));
    out
}

/// A step's lines under its heading: each changed attribute (Terraform-style, `# forces
/// replacement` where it does; where a reason already says it in words, that reason), then
/// the reasons no attribute stands for.
fn step_lines(s: &super::plan::Step) -> Vec<String> {
    let mut used = vec![false; s.reasons.len()];
    let mut out = Vec::new();
    for c in &s.changes {
        let mut plain = c.clone();
        plain.forces_replacement = false;
        let plain = super::attributes::line(&plain);
        let legacy = super::drift::describe(c);
        let said = s
            .reasons
            .iter()
            .enumerate()
            .find(|(i, r)| !used[*i] && (**r == plain || r.starts_with(&legacy)));
        let mut line = match said {
            Some((i, r)) => {
                used[i] = true;
                r.clone()
            }
            None => plain,
        };
        if c.forces_replacement {
            line.push_str("  # forces replacement");
        }
        out.push(line);
    }
    out.extend(
        s.reasons
            .iter()
            .zip(used)
            .filter(|(_, u)| !u)
            .map(|(r, _)| r.clone()),
    );
    out
}

/// `text` with the role names `node1`/`node2` (as whole words) replaced by the user's names.
fn with_names(text: &str, names: &[String; 2]) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("node") {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        let index = match at.as_bytes().get(4) {
            Some(b'1') => Some(0),
            Some(b'2') => Some(1),
            _ => None,
        };
        let starts_word = !out.ends_with(word);
        let ends_word = !at[5.min(at.len())..].starts_with(word);
        match index {
            Some(i) if starts_word && ends_word => {
                out.push_str(&names[i]);
                rest = &at[5..];
            }
            _ => {
                out.push_str("node");
                rest = &at[4..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::tests::{converged, desired};

    #[test]
    fn names_the_vip_holder_per_the_api() {
        let d = desired();
        let mut o = converged(&d);
        let r = Report::build(&(&d).into(), &o, &State::new("quickstart"), None);
        assert_eq!(r.vip_holder.as_deref(), Some("instance1"));
        assert!(
            r.render_text().contains("vip 172.16.2.10 on instance1"),
            "{}",
            r.render_text()
        );
        o.vip.as_mut().unwrap().vnic_id = Some("ocid1.vnic.oc1..v1".into());
        let r = Report::build(&(&d).into(), &o, &State::new("quickstart"), None);
        assert_eq!(r.vip_holder.as_deref(), Some("instance2"));
        assert_eq!(r.last_takeover, None);
        assert!(!r.render_text().contains("last takeover"));
        let tags = &mut o.vip.as_mut().unwrap().tags;
        tags.insert(TAG_TAKEOVER_BY.into(), "instance2".into());
        tags.insert(TAG_TAKEOVER_AT.into(), "2026-12-01T18:00:00Z".into());
        let r = Report::build(&(&d).into(), &o, &State::new("quickstart"), None);
        assert!(
            r.render_text()
                .contains("last takeover by the agent: instance2 at 2026-12-01T18:00:00Z\n"),
            "{}",
            r.render_text()
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap()["last_takeover"]["by"],
            "instance2"
        );
        o.vip = None;
        o.nodes[1] = None;
        let r = Report::build(&(&d).into(), &o, &State::new("quickstart"), None);
        assert_eq!(r.vip_holder, None);
        assert_eq!(r.nodes[1].state, "ABSENT");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["vip"], "172.16.2.10");
        assert_eq!(json["resources"][3]["state"], "ABSENT");
    }

    fn node(name: &str, state: &str, since: &str, claim: Option<&str>) -> NodeReport {
        NodeReport {
            role: name.into(),
            name: name.into(),
            private_ip: None,
            instance_id: None,
            vnic_id: None,
            fault_domain: None,
            state: "RUNNING".into(),
            user_data_file: None,
            agent: Some(AgentView {
                state: state.into(),
                since: Some(since.into()),
                last_claim: claim.map(String::from),
                last_error: None,
                seen: None,
                beat_secs: None,
                settings: None,
                settings_refused: None,
            }),
        }
    }

    fn vip_on(address: &str, holder: &str, at: &str) -> VipReport {
        VipReport {
            address: address.parse().unwrap(),
            id: Some(format!("ocid1.privateip.oc1..{holder}")),
            holder: Some(holder.into()),
            last_takeover: Some(Takeover {
                by: holder.into(),
                at: at.into(),
            }),
        }
    }

    #[test]
    fn a_master_view_older_than_the_other_nodes_takeover_is_stale_not_a_split() {
        // node1 crashed while MASTER (its tags stay); node2 took every VIP over after that.
        let vips = [
            vip_on("172.16.2.10", "node2", "2026-12-01T22:31:30Z"),
            vip_on("2603:c020:1:2::10", "node2", "2026-12-01T22:31:30Z"),
        ];
        let crashed = node(
            "node1",
            "MASTER",
            "2026-12-01T22:31:20Z",
            Some("2026-12-01T22:31:22Z"),
        );
        let taker = node(
            "node2",
            "MASTER",
            "2026-12-01T22:31:30Z",
            Some("2026-12-01T22:31:30Z"),
        );
        let d = disagreements(&[crashed.clone(), taker.clone()], &vips, None);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with(
                "node1's agent last reported MASTER at 2026-12-01T22:31:22Z, before node2 took \
                 the VIPs over at 2026-12-01T22:31:30Z, and nothing since"
            ),
            "{d:?}"
        );
        // node1 claimed after node2's takeover: two live MASTERs, said as such.
        let fighting = node(
            "node1",
            "MASTER",
            "2026-12-01T22:31:20Z",
            Some("2026-12-01T22:31:31Z"),
        );
        let d = disagreements(&[fighting, taker.clone()], &vips, None);
        assert!(
            d.iter().any(|x| x.starts_with("both agents say MASTER"))
                && d.iter()
                    .any(|x| x.starts_with("node1's agent says MASTER, but the API shows")),
            "{d:?}"
        );
        // node1 back as BACKUP: nothing to say.
        let back = node("node1", "BACKUP", "2026-12-01T22:31:40Z", None);
        assert_eq!(
            disagreements(&[back, taker], &vips, None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn only_the_agents_time_shape_is_compared() {
        assert!(utc_before("2026-12-01T22:31:22Z", "2026-12-01T22:31:30Z"));
        assert!(!utc_before("2026-12-01T22:31:30Z", "2026-12-01T22:31:30Z"));
        assert!(!utc_before(
            "2026-12-01T22:31:22+00:00",
            "2026-12-01T22:31:30Z"
        ));
        assert!(!utc_before(
            "2026-12-01T22:31:22Z",
            "2026-12-01T22:31:30.5Z"
        ));
        assert!(!utc_before("", "2026-12-01T22:31:30Z"));
    }

    #[test]
    fn the_plan_names_nodes_as_the_user_did() {
        let d = desired();
        let mut o = converged(&d);
        o.nodes[1] = None;
        let plan = crate::engine::plan::diff(&d, &o, &Default::default(), &[]).unwrap();
        let names = ["web-a".to_string(), "web-b".to_string()];
        let text = plan_text(&plan, &names);
        assert!(text.contains("  + web-b (node2)  create\n"), "{text}");
        assert!(text.contains("    web-a (node1)  no change\n"), "{text}");
        // Reasons that name a node by role name it as the user did.
        assert!(text.contains("      on web-a\n"), "{text}");
        assert_eq!(
            with_names("waiting for node2's vnic (node12, mynode1, nodes)", &names),
            "waiting for web-b's vnic (node12, mynode1, nodes)"
        );
        // Role names are not repeated when the user kept them.
        let same = plan_text(&plan, &["node1".into(), "node2".into()]);
        assert!(same.contains("  + node2          create\n"), "{same}");
    }
}
