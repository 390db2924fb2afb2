//! Is the pair ready? `status`'s verdict, and the wait behind `apply --wait` and `status
//! --wait`: observe, judge (`engine::readiness`), say what each node waits for when that
//! changes, until ready or the deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::engine::drill::DrillRecord;
use crate::engine::readiness::{verdict, NodeWait, Problem, Verdict};
use crate::engine::report::Report;

use super::error::OpsError;
use super::pair::Session;
use super::target::{open, TargetOptions};

/// What `status` prints: the report (its keys as before), the verdict and the last drill.
#[derive(Clone, Debug, Serialize)]
pub struct StatusView {
    #[serde(flatten)]
    pub report: Report,
    /// Both instances RUNNING, both agents reporting and fresh, one MASTER, the API's owner of
    /// every VIP (and the public IP) that MASTER.
    pub ready: bool,
    /// Why not ready (empty when ready), each with a stable `code`.
    pub problems: Vec<Problem>,
    /// Per node: what it waits for (`null` when it is in service).
    pub waiting: Vec<NodeWait>,
    pub last_drill: Option<DrillRecord>,
    /// With `--wait`: how long this run waited, and whether it gave up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited_secs: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
}

impl StatusView {
    pub fn verdict(&self) -> Verdict {
        Verdict {
            ready: self.ready,
            problems: self.problems.clone(),
            waiting: self.waiting.clone(),
        }
    }

    pub fn render_text(&self) -> String {
        let mut out = self.report.render_text();
        if let Some(d) = &self.last_drill {
            out.push_str(&format!("  {}\n", d.summary()));
        }
        out.push_str(&self.verdict().render_text());
        if self.timed_out {
            out.push_str(&format!(
                "gave up waiting after {:.0}s: the pair is not ready; what is missing is listed \
                 above (run `vipsetup status --watch` to follow it)\n",
                self.waited_secs.unwrap_or_default()
            ));
        }
        out
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How often a wait looks (`VIPSETUP_READY_POLL_MS` for tests and the harness; else 5 s).
pub fn ready_poll() -> Duration {
    std::env::var("VIPSETUP_READY_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_millis)
}

impl Session<'_> {
    /// The report with its verdict at `now`. Read-only.
    pub async fn status_view(&self) -> Result<StatusView, OpsError> {
        let (state, _, observed, labels) = self.observe().await?;
        let report = Report::build(&labels, &observed, &state, None);
        let v = verdict(&report, now_secs());
        Ok(StatusView {
            report,
            ready: v.ready,
            problems: v.problems,
            waiting: v.waiting,
            last_drill: state.last_drill,
            waited_secs: None,
            timed_out: false,
        })
    }

    /// Observes every `poll` until the pair is ready or `limit` has passed; `say` gets the
    /// per-node lines (prefixed with the time waited) whenever they change.
    pub async fn wait_ready(
        &self,
        limit: Duration,
        poll: Duration,
        say: &(dyn Fn(&str) + Sync),
    ) -> Result<StatusView, OpsError> {
        let start = tokio::time::Instant::now();
        let mut last: Vec<String> = Vec::new();
        loop {
            let mut view = self.status_view().await?;
            let waited = start.elapsed();
            view.waited_secs = Some(waited.as_secs_f64());
            if view.ready {
                say(&format!("[{}] ready", mmss(waited)));
                return Ok(view);
            }
            let lines = view.verdict().progress_lines();
            if lines != last {
                for l in &lines {
                    say(&format!("[{}] {l}", mmss(waited)));
                }
                last = lines;
            }
            if waited >= limit {
                view.timed_out = true;
                return Ok(view);
            }
            tokio::time::sleep(
                poll.min(limit.saturating_sub(waited))
                    .max(Duration::from_millis(50)),
            )
            .await;
        }
    }
}

fn mmss(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}

/// `vipsetup status` (with `wait`: `status --wait`).
pub async fn status(
    opts: &TargetOptions,
    wait: Option<Duration>,
    say: &(dyn Fn(&str) + Sync),
) -> Result<StatusView, OpsError> {
    let t = open(opts).await?;
    let sess = t.session_for(opts).await?;
    match wait {
        Some(limit) => sess.wait_ready(limit, ready_poll(), say).await,
        None => sess.status_view().await,
    }
}
