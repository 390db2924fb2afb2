//! Whether a pair is ready (issue 19): both instances RUNNING, both agents reporting (their VNIC
//! view tags, fresh by their heartbeat), exactly one MASTER, the API's owner of every VIP (and the
//! public IP) that MASTER. A pure function of a `Report` and the time, so `status`, `apply
//! --wait`, `drill` and the replacement's hand-over judge alike and are tested without a cloud.

use serde::Serialize;

use super::report::{AgentView, NodeReport, Report};

/// An agent's heartbeat is late once its last write is older than this many beats, plus
/// `STALE_SLACK_SECS` (the agent's tick, the API call, clocks a little apart).
pub const STALE_BEATS: u64 = 2;
pub const STALE_SLACK_SECS: u64 = 90;

/// One reason a pair is not ready, for scripts (`code`, stable) and people (`message`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// `node_absent`, `node_not_running`, `agent_not_reported`, `agent_stale`, `agent_error`,
    /// `agent_not_in_service` (FAULT or STOP), `no_master`, `two_masters`, `vip_not_on_master`,
    /// `public_ip_not_on_vip`.
    pub code: &'static str,
    /// The node it is about (its name), if one.
    pub node: Option<String>,
    pub message: String,
}

/// The verdict: ready, or what is missing; and one line per node saying what it waits for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub ready: bool,
    pub problems: Vec<Problem>,
    /// Per node (blueprint order): `ready` or what it is waiting for, in words.
    pub waiting: Vec<NodeWait>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeWait {
    pub node: String,
    /// MASTER / BACKUP / ... as its agent says, when it reports.
    pub agent_state: Option<String>,
    pub waiting_for: Option<String>,
}

/// Seconds since the Unix epoch of the agent's `YYYY-MM-DDTHH:MM:SSZ`; `None` for any other shape.
pub fn parse_utc(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if t.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), proleptic Gregorian calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// `now` as the agent writes times.
pub fn format_utc(secs: u64) -> String {
    let s = super::host::utc_time(secs); // `2026-12-01 18:03:05 UTC`
    format!("{}T{}Z", &s[..10], &s[11..19])
}

/// How an agent's heartbeat stands at `now`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Freshness {
    Fresh,
    /// Its last write is this many seconds old, past its allowance.
    Stale(u64),
    /// An agent older than heartbeats (no `seen` tag): not judged.
    Unknown,
}

pub fn freshness(a: &AgentView, now: u64) -> Freshness {
    let Some(seen) = a.seen.as_deref().and_then(parse_utc) else {
        return Freshness::Unknown;
    };
    let beat = a.beat_secs.unwrap_or(120).max(1);
    let age = now.saturating_sub(seen);
    if age > STALE_BEATS * beat + STALE_SLACK_SECS {
        Freshness::Stale(age)
    } else {
        Freshness::Fresh
    }
}

/// Whether an agent error reads as IAM not (yet) letting the instance act: OCI answers 404
/// NotAuthorizedOrNotFound (or 401) until the dynamic group and policy reach the instance.
fn iam_error(e: &str) -> bool {
    e.contains("NotAuthorizedOrNotFound") || e.contains("404") || e.contains("401")
}

/// The agent on `n`, if it reports and is fresh; else the problem and what the node waits for.
fn node_problem(n: &NodeReport, now: u64) -> Option<(Problem, String)> {
    let p = |code, message: String, wait: &str| {
        Some((
            Problem {
                code,
                node: Some(n.name.clone()),
                message,
            },
            wait.to_string(),
        ))
    };
    match n.state.as_str() {
        "RUNNING" => {}
        "ABSENT" | "TERMINATED" | "TERMINATING" => {
            return p(
                "node_absent",
                format!("{} is {}; run vipsetup apply", n.name, n.state),
                &format!("instance {}", n.state),
            )
        }
        s => {
            let wait = match s {
                "PROVISIONING" | "STARTING" => format!("instance {s}"),
                _ => format!("instance {s} (start it, or run vipsetup apply)"),
            };
            return p(
                "node_not_running",
                format!("{} is {s}, not RUNNING", n.name),
                &wait,
            );
        }
    }
    let Some(a) = &n.agent else {
        return p(
            "agent_not_reported",
            format!(
                "{}'s agent has not reported (no vipsetup-agent-state tag on its vnic): \
                 cloud-init may still be installing keepalived, or IAM is not yet effective \
                 for the instance (the agent writes its view only once the API lets it)",
                n.name
            ),
            "agent not reported (cloud-init installing keepalived, or IAM not yet effective)",
        );
    };
    if let Freshness::Stale(age) = freshness(a, now) {
        return p(
            "agent_stale",
            format!(
                "{}'s agent last reported {} at {} ({age}s ago; it beats every {}s): its \
                 agent or keepalived may have stopped; check the node",
                n.name,
                a.state,
                a.seen.as_deref().unwrap_or_default(),
                a.beat_secs.unwrap_or(120)
            ),
            &format!("agent stale: last heard {age}s ago"),
        );
    }
    if let Some(e) = &a.last_error {
        let wait = if iam_error(e) {
            format!("IAM not yet effective: {e}")
        } else {
            format!("agent error: {e}")
        };
        return p(
            "agent_error",
            format!("{}'s agent's last call failed: {e}", n.name),
            &wait,
        );
    }
    if !matches!(a.state.as_str(), "MASTER" | "BACKUP") {
        return p(
            "agent_not_in_service",
            format!(
                "{}'s agent says {} (keepalived is not in service: a failed health check, or \
                 stopping)",
                n.name, a.state
            ),
            &format!("agent {}", a.state),
        );
    }
    None
}

/// What node `n` waits for before it is in service (`None`: it is), e.g. before the peer it
/// would take over from is stopped.
pub fn node_waits_for(n: &NodeReport, now: u64) -> Option<String> {
    node_problem(n, now).map(|(_, w)| w)
}

/// The verdict on `r` at `now` (seconds since the epoch).
pub fn verdict(r: &Report, now: u64) -> Verdict {
    let mut problems = Vec::new();
    let mut waiting = Vec::new();
    let mut in_service = Vec::new();
    for n in &r.nodes {
        let state = n.agent.as_ref().map(|a| a.state.clone());
        match node_problem(n, now) {
            Some((p, w)) => {
                problems.push(p);
                waiting.push(NodeWait {
                    node: n.name.clone(),
                    agent_state: state,
                    waiting_for: Some(w),
                });
            }
            None => {
                in_service.push(n);
                waiting.push(NodeWait {
                    node: n.name.clone(),
                    agent_state: state,
                    waiting_for: None,
                });
            }
        }
    }
    let masters: Vec<&&NodeReport> = in_service
        .iter()
        .filter(|n| n.agent.as_ref().is_some_and(|a| a.state == "MASTER"))
        .collect();
    // Pair-wide problems are judged once both agents report (before that they would only
    // repeat the node's own reason).
    if problems.is_empty() {
        match masters.as_slice() {
            [] => problems.push(Problem {
                code: "no_master",
                node: None,
                message: "neither agent says MASTER: check VRRP between the nodes".into(),
            }),
            [m] => {
                let off: Vec<String> = r
                    .vips
                    .iter()
                    .filter(|v| v.holder.as_deref() != Some(m.name.as_str()))
                    .map(|v| match &v.holder {
                        Some(h) => format!("{} (on {h})", v.address),
                        None => format!("{} (on neither node)", v.address),
                    })
                    .collect();
                if !off.is_empty() {
                    problems.push(Problem {
                        code: "vip_not_on_master",
                        node: Some(m.name.clone()),
                        message: format!(
                            "{} is MASTER but the API shows {}: its agent is still claiming",
                            m.name,
                            off.join(", ")
                        ),
                    });
                    set_wait(&mut waiting, &m.name, "the API to show the VIPs on it");
                }
            }
            _ => problems.push(Problem {
                code: "two_masters",
                node: None,
                message: format!(
                    "both agents say MASTER ({}): check VRRP between the nodes",
                    masters
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
        if let Some(p) = r.public_ip.as_ref().filter(|p| !p.on_first_vip) {
            problems.push(Problem {
                code: "public_ip_not_on_vip",
                node: None,
                message: format!(
                    "public ip {} is not assigned to vip {}",
                    p.address.as_deref().unwrap_or(&p.id),
                    r.vip
                ),
            });
        }
    }
    Verdict {
        ready: problems.is_empty(),
        problems,
        waiting,
    }
}

fn set_wait(waiting: &mut [NodeWait], node: &str, what: &str) {
    if let Some(w) = waiting.iter_mut().find(|w| w.node == node) {
        w.waiting_for = Some(what.to_string());
    }
}

impl Verdict {
    /// One line per node: `web1: MASTER, ready` or `web2: waiting: agent not reported (...)`.
    pub fn progress_lines(&self) -> Vec<String> {
        self.waiting
            .iter()
            .map(|w| {
                let state = w.agent_state.as_deref().unwrap_or("-");
                match &w.waiting_for {
                    None => format!("{}: {state}, ready", w.node),
                    Some(x) => format!("{}: waiting for {x}", w.node),
                }
            })
            .collect()
    }

    /// The verdict as the status text shows it.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.ready {
            out.push_str("ready: yes (both agents report, one MASTER, the API agrees)\n");
        } else {
            out.push_str("ready: no\n");
            for p in &self.problems {
                out.push_str(&format!("  not ready: {}\n", p.message));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::{PublicIpReport, VipReport};

    const NOW: &str = "2026-12-07T03:00:00Z";

    fn agent(state: &str, seen: &str) -> AgentView {
        AgentView {
            state: state.into(),
            since: Some("2026-12-07T02:00:00Z".into()),
            last_claim: None,
            last_error: None,
            seen: Some(seen.into()),
            beat_secs: Some(120),
            settings: None,
            settings_refused: None,
        }
    }

    fn node(name: &str, state: &str, agent: Option<AgentView>) -> NodeReport {
        NodeReport {
            role: name.into(),
            name: name.into(),
            private_ip: None,
            instance_id: None,
            vnic_id: None,
            fault_domain: None,
            state: state.into(),
            user_data_file: None,
            agent,
        }
    }

    fn report(nodes: Vec<NodeReport>, holder: Option<&str>) -> Report {
        Report {
            pair: "p".into(),
            vip: "172.16.2.10".parse().unwrap(),
            vip_id: Some("ocid1.privateip.oc1..v".into()),
            vip_holder: holder.map(String::from),
            last_takeover: None,
            nodes,
            resources: vec![],
            vips: vec![VipReport {
                address: "172.16.2.10".parse().unwrap(),
                id: Some("ocid1.privateip.oc1..v".into()),
                holder: holder.map(String::from),
                last_takeover: None,
            }],
            public_ip: None,
            disagreements: vec![],
        }
    }

    fn now() -> u64 {
        parse_utc(NOW).unwrap()
    }

    fn codes(v: &Verdict) -> Vec<&str> {
        v.problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn utc_times_parse_to_epoch_seconds_and_back() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_utc("2026-12-01T18:43:05Z"), Some(1_796_150_585));
        assert_eq!(format_utc(1_796_150_585), "2026-12-01T18:43:05Z");
        for bad in [
            "",
            "2026-12-01 18:43:05Z",
            "2026-13-01T18:43:05Z",
            "2026-12-01T18:43:05+00:00",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_pair_with_one_fresh_master_holding_the_vip_and_a_fresh_backup_is_ready() {
        let r = report(
            vec![
                node(
                    "web1",
                    "RUNNING",
                    Some(agent("MASTER", "2026-12-07T02:59:00Z")),
                ),
                node(
                    "web2",
                    "RUNNING",
                    Some(agent("BACKUP", "2026-12-07T02:58:30Z")),
                ),
            ],
            Some("web1"),
        );
        let v = verdict(&r, now());
        assert!(v.ready, "{v:?}");
        assert_eq!(
            v.progress_lines(),
            ["web1: MASTER, ready", "web2: BACKUP, ready"]
        );
    }

    #[test]
    fn each_missing_piece_is_named_with_a_stable_code() {
        let fresh = |s| Some(agent(s, "2026-12-07T02:59:00Z"));
        let cases: Vec<(Vec<NodeReport>, Option<&str>, Vec<&str>)> = vec![
            (
                vec![node("a", "PROVISIONING", None), node("b", "RUNNING", None)],
                None,
                vec!["node_not_running", "agent_not_reported"],
            ),
            (
                vec![
                    node("a", "RUNNING", fresh("MASTER")),
                    node("b", "STOPPED", fresh("BACKUP")),
                ],
                Some("a"),
                vec!["node_not_running"],
            ),
            (
                vec![
                    node("a", "RUNNING", fresh("MASTER")),
                    node("b", "RUNNING", fresh("MASTER")),
                ],
                Some("a"),
                vec!["two_masters"],
            ),
            (
                vec![
                    node("a", "RUNNING", fresh("BACKUP")),
                    node("b", "RUNNING", fresh("BACKUP")),
                ],
                Some("a"),
                vec!["no_master"],
            ),
            (
                vec![
                    node("a", "RUNNING", fresh("MASTER")),
                    node("b", "RUNNING", fresh("BACKUP")),
                ],
                Some("b"),
                vec!["vip_not_on_master"],
            ),
            (
                vec![
                    node("a", "RUNNING", fresh("MASTER")),
                    node("b", "RUNNING", fresh("FAULT")),
                ],
                Some("a"),
                vec!["agent_not_in_service"],
            ),
            (
                // A BACKUP whose agent died 10 minutes ago: stale, not healthy.
                vec![
                    node("a", "RUNNING", fresh("MASTER")),
                    node(
                        "b",
                        "RUNNING",
                        Some(agent("BACKUP", "2026-12-07T02:50:00Z")),
                    ),
                ],
                Some("a"),
                vec!["agent_stale"],
            ),
            (
                vec![
                    node("a", "ABSENT", None),
                    node("b", "RUNNING", fresh("MASTER")),
                ],
                Some("b"),
                vec!["node_absent"],
            ),
        ];
        for (nodes, holder, want) in cases {
            let v = verdict(&report(nodes, holder), now());
            assert_eq!(codes(&v), want, "{v:?}");
            assert!(!v.ready);
        }
    }

    #[test]
    fn an_iam_error_says_iam_is_not_yet_effective_and_old_agents_are_not_judged_stale() {
        let mut m = agent("MASTER", "2026-12-07T02:59:00Z");
        m.last_error = Some("404 NotAuthorizedOrNotFound on UpdatePrivateIp".into());
        let mut old = agent("BACKUP", "");
        old.seen = None;
        let r = report(
            vec![
                node("a", "RUNNING", Some(m)),
                node("b", "RUNNING", Some(old.clone())),
            ],
            None,
        );
        let v = verdict(&r, now());
        assert_eq!(codes(&v), ["agent_error"]);
        assert_eq!(
            v.progress_lines()[0],
            "a: waiting for IAM not yet effective: 404 NotAuthorizedOrNotFound on UpdatePrivateIp"
        );
        assert_eq!(freshness(&old, now()), Freshness::Unknown);
        // Exactly at the allowance it is still fresh; one second later it is stale.
        let edge = agent("BACKUP", &format_utc(now() - 2 * 120 - STALE_SLACK_SECS));
        assert_eq!(freshness(&edge, now()), Freshness::Fresh);
        assert_eq!(freshness(&edge, now() + 1), Freshness::Stale(331));
    }

    #[test]
    fn a_public_ip_off_the_vip_keeps_the_pair_not_ready() {
        let fresh = |s| Some(agent(s, "2026-12-07T02:59:00Z"));
        let mut r = report(
            vec![
                node("a", "RUNNING", fresh("MASTER")),
                node("b", "RUNNING", fresh("BACKUP")),
            ],
            Some("a"),
        );
        r.public_ip = Some(PublicIpReport {
            id: "ocid1.publicip.oc1..p".into(),
            address: Some("203.0.113.7".into()),
            on_first_vip: false,
            adopted: false,
        });
        assert_eq!(codes(&verdict(&r, now())), ["public_ip_not_on_vip"]);
    }
}
