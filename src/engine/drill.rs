//! A drill's outcome (`vipsetup drill`, issue 19): which node was stopped how, the timings
//! measured from the instance action, and the verdict. Recorded in state (the last one) and
//! shown by `status`; the drill itself runs in `ops::drill`.

use serde::{Deserialize, Serialize};

/// One drill, as recorded and printed. Timings are seconds from the action (stop) or from the
/// START (rejoin), as observed by polling the API; `None` when that step was not reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// When the stop was sent (RFC 3339 UTC).
    pub at: String,
    /// The node stopped.
    pub node: String,
    /// The instance action: SOFTSTOP, STOP or SOFTRESET.
    pub method: String,
    /// The node expected to take the VIPs over (None when the stopped node did not hold them).
    pub peer: Option<String>,
    /// Action -> the API shows every VIP on the peer.
    pub stop_to_api_secs: Option<f64>,
    /// Action -> the peer's agent reports MASTER.
    pub stop_to_master_secs: Option<f64>,
    /// START (or the reset) -> the stopped node's agent reports BACKUP again.
    pub start_to_backup_secs: Option<f64>,
    /// Where the VIPs were at the end (node name), per the API.
    pub vip_at_end: Option<String>,
    /// Whether the VIPs were expected back on the stopped node (preempt on, preferred node).
    pub expect_back: bool,
    pub passed: bool,
    /// In words: what went right or wrong.
    pub verdict: String,
    /// How often the API was polled (the timings' resolution).
    pub poll_ms: u64,
}

fn secs(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |s| format!("{s:.1} s"))
}

impl DrillRecord {
    /// The table a drill prints.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "drill at {}: {} {} ({})\n",
            self.at,
            self.method,
            self.node,
            self.peer
                .as_deref()
                .map_or("it did not hold the VIPs".to_string(), |p| format!(
                    "{p} to take over"
                ))
        );
        out.push_str(&format!(
            "  {:<34} {}\n",
            "stop -> api shows the vip moved",
            secs(self.stop_to_api_secs)
        ));
        out.push_str(&format!(
            "  {:<34} {}\n",
            "stop -> peer agent MASTER",
            secs(self.stop_to_master_secs)
        ));
        out.push_str(&format!(
            "  {:<34} {}\n",
            "start -> node agent BACKUP again",
            secs(self.start_to_backup_secs)
        ));
        out.push_str(&format!(
            "  {:<34} {}\n",
            "vip at the end",
            self.vip_at_end.as_deref().unwrap_or("on neither node")
        ));
        out.push_str(&format!(
            "  (timings as seen by polling the API every {} ms)\n",
            self.poll_ms
        ));
        out.push_str(&format!(
            "verdict: {}: {}\n",
            if self.passed { "passed" } else { "FAILED" },
            self.verdict
        ));
        out
    }

    /// One line for status.
    pub fn summary(&self) -> String {
        format!(
            "last drill {} ({} {}): {}, stop->api {}, stop->master {}, start->backup {}",
            self.at,
            self.method,
            self.node,
            if self.passed { "passed" } else { "FAILED" },
            secs(self.stop_to_api_secs),
            secs(self.stop_to_master_secs),
            secs(self.start_to_backup_secs)
        )
    }
}
