//! `vipsetup drill`: a controlled failover, timed. Refuses unless the pair is ready and the lock
//! is free; holds the lock throughout; stops the VIP's owner (or the node named) with an
//! instance action, times the API showing the VIP on the peer and the peer's agent saying
//! MASTER, starts the node again and times its agent rejoining as BACKUP, checks where the VIP
//! ends (back only with preempt), and records the drill in state. A node it stopped is always
//! started again, whatever failed in between.

use std::time::{Duration, Instant};

use crate::engine::backend::with_lock;
use crate::engine::drill::DrillRecord;
use crate::engine::model::{TAG_AGENT_SEEN, TAG_AGENT_STATE};
use crate::engine::readiness::{format_utc, parse_utc};
use crate::engine::Cloud;

use super::error::OpsError;
use super::pair::Session;
use super::ready::now_secs;
use super::target::{open, TargetOptions};

/// How the node is taken down: the instance action sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// ACPI shutdown (the OS stops keepalived, which gives MASTER up at once)
    Softstop,
    /// Power off (the peer notices the silence)
    Stop,
    /// ACPI reboot (no START needed)
    Softreset,
}

impl Method {
    pub fn action(self) -> &'static str {
        match self {
            Method::Softstop => "SOFTSTOP",
            Method::Stop => "STOP",
            Method::Softreset => "SOFTRESET",
        }
    }
}

pub struct DrillOptions {
    pub target: TargetOptions,
    /// The node to stop (name or node1/node2); default: the VIP's owner.
    pub node: Option<String>,
    pub method: Method,
}

/// What the drill will do, shown before confirming.
#[derive(Clone, Debug)]
pub struct DrillPlan {
    pub node: String,
    pub peer: String,
    /// The stopped node holds the VIPs now (so they must move).
    pub moves: bool,
    pub expect_back: bool,
    pub method: Method,
    pub move_deadline: Duration,
}

impl DrillPlan {
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "drill: {} {} through the OCI instance action\n",
            self.method.action(),
            self.node
        );
        if self.moves {
            out.push_str(&format!(
                "  then wait (up to {}s) for the API to show the VIPs on {} and its agent to say MASTER\n",
                self.move_deadline.as_secs(),
                self.peer
            ));
        } else {
            out.push_str(&format!(
                "  {} does not hold the VIPs: check they stay on {}\n",
                self.node, self.peer
            ));
        }
        if self.method != Method::Softreset {
            out.push_str(&format!("  then START {} again", self.node));
        } else {
            out.push_str(&format!("  then wait for {} to reboot", self.node));
        }
        out.push_str(&format!(
            " and wait for its agent to say BACKUP; the VIPs {}\n",
            if self.expect_back {
                format!("should come back to {} (preempt is on)", self.node)
            } else if self.moves {
                format!("should stay on {} (preempt is off)", self.peer)
            } else {
                format!("should stay on {}", self.peer)
            }
        ));
        out.push_str(&format!(
            "  {} is out of service for the drill: the pair runs on one node meanwhile\n",
            self.node
        ));
        out
    }
}

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// The deadlines and poll interval (environment overrides for tests and the harness).
struct Limits {
    /// Action -> the VIPs on the peer.
    moved: Duration,
    /// Action -> the instance STOPPED (OCI forces a SOFTSTOP off after 15 minutes).
    stopped: Duration,
    /// START -> the agent BACKUP again (boot, cloud-init, keepalived).
    rejoined: Duration,
    poll: Duration,
}

fn limits() -> Limits {
    Limits {
        moved: env_secs("VIPSETUP_DRILL_MOVE_SECS", 180),
        stopped: env_secs("VIPSETUP_DRILL_STOP_SECS", 20 * 60),
        rejoined: env_secs("VIPSETUP_DRILL_REJOIN_SECS", 15 * 60),
        poll: Duration::from_millis(
            std::env::var("VIPSETUP_DRILL_POLL_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000),
        ),
    }
}

/// Runs the drill. `confirm` sees the plan; `say` gets progress lines.
pub async fn drill(
    opts: &DrillOptions,
    confirm: &(dyn Fn(&DrillPlan) -> bool + Sync),
    say: &(dyn Fn(&str) + Sync),
) -> Result<DrillRecord, OpsError> {
    if opts.target.simulate {
        return Err(OpsError::DrillRefused {
            reason: "with --simulate no node runs keepalived or the agent, so nothing would fail \
                     over; run the drill against the real pair (or the failover harness)"
                .into(),
        });
    }
    let t = open(&opts.target).await?;
    let sess = t.session_for(&opts.target).await?;
    with_lock(
        &sess.backend,
        "vipsetup drill",
        sess.lock_timeout,
        drill_locked(&sess, opts, confirm, say),
    )
    .await
}

struct Sides {
    node: usize,
    peer: usize,
    instance: String,
    peer_instance: String,
    vnics: [String; 2],
}

async fn drill_locked(
    sess: &Session<'_>,
    opts: &DrillOptions,
    confirm: &(dyn Fn(&DrillPlan) -> bool + Sync),
    say: &(dyn Fn(&str) + Sync),
) -> Result<DrillRecord, OpsError> {
    let view = sess.status_view().await?;
    if !view.ready {
        return Err(OpsError::DrillRefused {
            reason: format!(
                "the pair is not ready, so stopping a node could become an outage: {}; see \
                 `vipsetup status`",
                view.problems
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    let report = &view.report;
    let holder = report
        .nodes
        .iter()
        .position(|n| Some(&n.name) == report.vip_holder.as_ref())
        .ok_or_else(|| OpsError::DrillRefused {
            reason: "the API shows the VIP on neither node".into(),
        })?;
    let node = match &opts.node {
        Some(name) => {
            sess.node_indexes(std::slice::from_ref(name))
                .map_err(|_| OpsError::DrillRefused {
                    reason: format!(
                    "--node {name}: no node of this pair has that name; use {} or {} (or node1, \
                     node2)",
                    report.nodes[0].name, report.nodes[1].name
                ),
                })?[0]
        }
        None => holder,
    };
    let peer = 1 - node;
    let field = |i: usize, v: Option<&String>, what: &str| {
        v.cloned().ok_or_else(|| OpsError::DrillRefused {
            reason: format!("{} has no {what} in the report", report.nodes[i].name),
        })
    };
    let sides = Sides {
        node,
        peer,
        instance: field(node, report.nodes[node].instance_id.as_ref(), "instance")?,
        peer_instance: field(peer, report.nodes[peer].instance_id.as_ref(), "instance")?,
        vnics: [
            field(0, report.nodes[0].vnic_id.as_ref(), "vnic")?,
            field(1, report.nodes[1].vnic_id.as_ref(), "vnic")?,
        ],
    };
    let failover = &opts.target.parsed.failover;
    let lim = limits();
    let plan = DrillPlan {
        node: report.nodes[node].name.clone(),
        peer: report.nodes[peer].name.clone(),
        moves: node == holder,
        expect_back: failover.preempt && failover.preferred_node == node && node == holder,
        method: opts.method,
        move_deadline: lim.moved,
    };
    if !confirm(&plan) {
        return Err(OpsError::Cancelled { verb: "drill" });
    }
    let record = run(sess, &plan, &sides, &lim, say).await;
    let mut state = sess
        .backend
        .load(&sess.spec.pair)
        .await?
        .unwrap_or_else(|| crate::engine::State::new(&sess.spec.pair));
    state.last_drill = Some(record.clone());
    sess.backend.save(&mut state).await?;
    Ok(record)
}

/// Where the first VIP is, per the API: 0, 1 or neither.
async fn vip_on(sess: &Session<'_>, vnics: &[String; 2]) -> Option<usize> {
    let p = sess
        .cloud
        .find_private_ip(&sess.spec.subnet_id, sess.spec.vip)
        .await
        .ok()??;
    let v = p.vnic_id?;
    vnics.iter().position(|x| *x == v)
}

/// The agent's state on `instance`'s VNIC tags and when it last wrote them (epoch seconds).
async fn agent_on(cloud: &dyn Cloud, compartment: &str, instance: &str) -> Option<(String, u64)> {
    let v = cloud.primary_vnic(compartment, instance).await.ok()??;
    let state = v.tags.get(TAG_AGENT_STATE)?.clone();
    let seen = v
        .tags
        .get(TAG_AGENT_SEEN)
        .and_then(|s| parse_utc(s))
        .unwrap_or(0);
    Some((state, seen))
}

async fn instance_state(cloud: &dyn Cloud, id: &str) -> Option<String> {
    cloud
        .get_instance(id)
        .await
        .ok()?
        .map(|i| i.lifecycle_state)
}

async fn run(
    sess: &Session<'_>,
    plan: &DrillPlan,
    s: &Sides,
    lim: &Limits,
    say: &(dyn Fn(&str) + Sync),
) -> DrillRecord {
    let cloud = sess.cloud;
    let comp = &sess.spec.compartment_id;
    let mut rec = DrillRecord {
        at: format_utc(now_secs()),
        node: plan.node.clone(),
        method: plan.method.action().to_string(),
        peer: plan.moves.then(|| plan.peer.clone()),
        stop_to_api_secs: None,
        stop_to_master_secs: None,
        start_to_backup_secs: None,
        vip_at_end: None,
        expect_back: plan.expect_back,
        passed: false,
        verdict: String::new(),
        poll_ms: lim.poll.as_millis() as u64,
    };
    let mut failures: Vec<String> = Vec::new();
    say(&format!("{} {}", plan.method.action(), plan.node));
    let t0 = Instant::now();
    let t0_wall = now_secs();
    if let Err(e) = cloud
        .instance_action(&s.instance, plan.method.action())
        .await
    {
        rec.verdict = format!(
            "the {} action on {} failed, so nothing was stopped: {e}",
            plan.method.action(),
            plan.node
        );
        rec.vip_at_end = vip_on(sess, &s.vnics).await.map(|i| name(plan, s, i));
        return rec;
    }
    // The move (or, for the node not holding the VIPs, that they stay).
    if plan.moves {
        say(&format!(
            "waiting for the API to show the VIP on {} and its agent to say MASTER",
            plan.peer
        ));
        while t0.elapsed() < lim.moved
            && (rec.stop_to_api_secs.is_none() || rec.stop_to_master_secs.is_none())
        {
            if rec.stop_to_api_secs.is_none() && vip_on(sess, &s.vnics).await == Some(s.peer) {
                rec.stop_to_api_secs = Some(t0.elapsed().as_secs_f64());
                say(&format!(
                    "the API shows the VIP on {} after {:.1}s",
                    plan.peer,
                    t0.elapsed().as_secs_f64()
                ));
            }
            if rec.stop_to_master_secs.is_none()
                && agent_on(cloud, comp, &s.peer_instance)
                    .await
                    .is_some_and(|(st, _)| st == "MASTER")
            {
                rec.stop_to_master_secs = Some(t0.elapsed().as_secs_f64());
                say(&format!(
                    "{}'s agent says MASTER after {:.1}s",
                    plan.peer,
                    t0.elapsed().as_secs_f64()
                ));
            }
            tokio::time::sleep(lim.poll).await;
        }
        if rec.stop_to_api_secs.is_none() {
            failures.push(format!(
                "the API did not show the VIP on {} within {}s",
                plan.peer,
                lim.moved.as_secs()
            ));
        }
        if rec.stop_to_master_secs.is_none() {
            failures.push(format!(
                "{}'s agent did not say MASTER within {}s",
                plan.peer,
                lim.moved.as_secs()
            ));
        }
    }
    // Bring the node back: always, whatever happened above.
    let t1;
    let t1_wall;
    if plan.method == Method::Softreset {
        t1 = t0;
        t1_wall = t0_wall;
    } else {
        say(&format!("waiting for {} to be STOPPED", plan.node));
        let stop_wait = Instant::now();
        loop {
            match instance_state(cloud, &s.instance).await.as_deref() {
                Some("STOPPED") => break,
                Some("TERMINATED") | Some("TERMINATING") | None => {
                    failures.push(format!("{} is gone; nothing to start", plan.node));
                    return finish(sess, plan, s, rec, failures).await;
                }
                _ if stop_wait.elapsed() >= lim.stopped => {
                    failures.push(format!(
                        "{} was not STOPPED within {}s; it was not started again by the drill: \
                         check it in the console and start it",
                        plan.node,
                        lim.stopped.as_secs()
                    ));
                    return finish(sess, plan, s, rec, failures).await;
                }
                _ => tokio::time::sleep(lim.poll).await,
            }
        }
        say(&format!("START {}", plan.node));
        t1 = Instant::now();
        t1_wall = now_secs();
        if let Err(e) = start_again(cloud, &s.instance).await {
            failures.push(format!(
                "starting {} again failed: {e}; start it in the console (or `oci compute \
                 instance action --action START --instance-id {}`)",
                plan.node, s.instance
            ));
            return finish(sess, plan, s, rec, failures).await;
        }
    }
    say(&format!("waiting for {}'s agent to say BACKUP", plan.node));
    while t1.elapsed() < lim.rejoined {
        if let Some((st, seen)) = agent_on(cloud, comp, &s.instance).await {
            // A view written since the start (its heartbeat time), not one left from before.
            if st == "BACKUP" && seen + 1 >= t1_wall {
                rec.start_to_backup_secs = Some(t1.elapsed().as_secs_f64());
                say(&format!(
                    "{}'s agent says BACKUP after {:.1}s",
                    plan.node,
                    t1.elapsed().as_secs_f64()
                ));
                break;
            }
            if plan.expect_back && st == "MASTER" && seen >= t1_wall {
                rec.start_to_backup_secs = Some(t1.elapsed().as_secs_f64());
                break;
            }
        }
        tokio::time::sleep(lim.poll).await;
    }
    if rec.start_to_backup_secs.is_none() {
        failures.push(format!(
            "{}'s agent did not report BACKUP within {}s of the start",
            plan.node,
            lim.rejoined.as_secs()
        ));
    }
    finish(sess, plan, s, rec, failures).await
}

/// START, retried while OCI still says the instance is busy (409 IncorrectState).
async fn start_again(cloud: &dyn Cloud, id: &str) -> Result<(), crate::engine::CloudError> {
    let mut tries = 0;
    loop {
        match cloud.instance_action(id, "START").await {
            Ok(()) => return Ok(()),
            Err(e) if e.status == Some(409) && tries < 10 => {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn name(plan: &DrillPlan, s: &Sides, i: usize) -> String {
    if i == s.node {
        plan.node.clone()
    } else {
        plan.peer.clone()
    }
}

/// Where the VIPs end (waiting a little for a preempting node to take them back) and the verdict.
async fn finish(
    sess: &Session<'_>,
    plan: &DrillPlan,
    s: &Sides,
    mut rec: DrillRecord,
    mut failures: Vec<String>,
) -> DrillRecord {
    let lim = limits();
    let want = if plan.expect_back { s.node } else { s.peer };
    let settle = Instant::now();
    let mut at = vip_on(sess, &s.vnics).await;
    // Preempt moves the VIPs back after the node's keepalived wins an election: give it the
    // move deadline. Without preempt, look twice, a poll apart, so a move back is seen.
    let window = if plan.expect_back {
        lim.moved
    } else {
        lim.poll * 2
    };
    while settle.elapsed() < window && (plan.expect_back && at != Some(want)) {
        tokio::time::sleep(lim.poll).await;
        at = vip_on(sess, &s.vnics).await;
    }
    if !plan.expect_back {
        tokio::time::sleep(window).await;
        at = vip_on(sess, &s.vnics).await;
    }
    rec.vip_at_end = at.map(|i| name(plan, s, i));
    if failures.is_empty() && at != Some(want) {
        failures.push(format!(
            "the VIP ended {} instead of on {}",
            rec.vip_at_end
                .as_deref()
                .map_or("on neither node".to_string(), |n| format!("on {n}")),
            name(plan, s, want)
        ));
    }
    rec.passed = failures.is_empty();
    rec.verdict = if rec.passed {
        match (plan.moves, plan.expect_back) {
            (true, true) => format!(
                "the VIP moved to {} and came back to {} (preempt)",
                plan.peer, plan.node
            ),
            (true, false) => format!(
                "the VIP moved to {} and stayed there; {} is back as BACKUP",
                plan.peer, plan.node
            ),
            _ => format!(
                "the VIP stayed on {}; {} is back as BACKUP",
                plan.peer, plan.node
            ),
        }
    } else {
        failures.join("; ")
    };
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_says_what_will_be_stopped_and_what_is_expected() {
        let mut p = DrillPlan {
            node: "web1".into(),
            peer: "web2".into(),
            moves: true,
            expect_back: false,
            method: Method::Softstop,
            move_deadline: Duration::from_secs(180),
        };
        let t = p.render_text();
        assert!(
            t.starts_with("drill: SOFTSTOP web1 through the OCI instance action\n"),
            "{t}"
        );
        assert!(
            t.contains("up to 180s) for the API to show the VIPs on web2"),
            "{t}"
        );
        assert!(t.contains("then START web1 again"), "{t}");
        assert!(t.contains("should stay on web2 (preempt is off)"), "{t}");
        p.expect_back = true;
        p.method = Method::Softreset;
        let t = p.render_text();
        assert!(t.contains("then wait for web1 to reboot"), "{t}");
        assert!(
            t.contains("should come back to web1 (preempt is on)"),
            "{t}"
        );
        p.moves = false;
        p.expect_back = false;
        assert!(p
            .render_text()
            .contains("web1 does not hold the VIPs: check they stay on web2"));
    }

    #[test]
    fn a_failed_drill_prints_dashes_for_what_it_never_saw() {
        let r = DrillRecord {
            at: "2026-12-07T03:00:00Z".into(),
            node: "web1".into(),
            method: "STOP".into(),
            peer: Some("web2".into()),
            stop_to_api_secs: None,
            stop_to_master_secs: Some(2.04),
            start_to_backup_secs: Some(61.0),
            vip_at_end: Some("web1".into()),
            expect_back: false,
            passed: false,
            verdict: "the API did not show the VIP on web2 within 180s".into(),
            poll_ms: 1000,
        };
        let t = r.render_text();
        assert!(t.contains("stop -> api shows the vip moved    -\n"), "{t}");
        assert!(
            t.contains("stop -> peer agent MASTER          2.0 s\n"),
            "{t}"
        );
        assert!(
            t.ends_with("verdict: FAILED: the API did not show the VIP on web2 within 180s\n"),
            "{t}"
        );
        assert!(
            r.summary()
                .contains("FAILED, stop->api -, stop->master 2.0 s"),
            "{}",
            r.summary()
        );
    }
}
