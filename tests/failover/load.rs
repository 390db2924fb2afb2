//! CPU load the soak benchmark puts on the machine: busy processes at nice 0, as a loaded
//! application keeps a node's cores busy, each stopped by PID when the load is dropped.

use super::process::Proc;
use std::path::Path;
use std::process::Command;

/// `n` busy loops, each its own process (a shell spinning on the `:` builtin: user CPU only,
/// no system calls, so it never sleeps and takes its whole fair share). Dropping the load
/// stops every one of them by PID (`Proc`'s guard), also when the test panics.
pub struct BusyLoad {
    procs: Vec<Proc>,
}

impl BusyLoad {
    /// Starts `n` busy processes in the host's namespaces (the cores are shared with the
    /// nodes' namespaces anyway), logging to `<dir>/busy-<k>.log`.
    pub fn start(n: usize, dir: &Path) -> Result<BusyLoad, String> {
        let mut procs = Vec::with_capacity(n);
        for k in 0..n {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "while :; do :; done"]);
            let log = dir.join(format!("busy-{k}.log"));
            // On an error the processes started so far are stopped as `procs` drops.
            procs.push(Proc::spawn(&format!("busy {k}"), cmd, &log)?);
        }
        Ok(BusyLoad { procs })
    }

    /// How many of the busy processes are still running.
    pub fn running(&mut self) -> usize {
        self.procs
            .iter_mut()
            .map(|p| p.running())
            .filter(|r| *r)
            .count()
    }

    /// CPU seconds (user + system) each busy process has had so far.
    pub fn cpu_secs(&self) -> Vec<f64> {
        self.procs.iter().map(|p| cpu_secs(p.pid())).collect()
    }
}

/// User + system CPU seconds of one live process, from `/proc/<pid>/stat` (0 if gone).
pub fn cpu_secs(pid: u32) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are 14 and 15 in proc(5).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|f| f.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / tick
}

/// The scheduling class of one process as `/proc/<pid>/stat` says (policy and rt_priority,
/// fields 41 and 40 of proc(5); nice, field 19): e.g. "SCHED_RR 50" or "SCHED_OTHER nice 0".
pub fn sched_class(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is fields[N - 3].
    let nice = fields.get(16)?;
    let rt_priority = fields.get(37)?;
    let policy: u32 = fields.get(38)?.parse().ok()?;
    // Policy numbers from sched.h; SCHED_RESET_ON_FORK is not part of this field.
    Some(match policy {
        0 => format!("SCHED_OTHER nice {nice}"),
        1 => format!("SCHED_FIFO {rt_priority}"),
        2 => format!("SCHED_RR {rt_priority}"),
        3 => format!("SCHED_BATCH nice {nice}"),
        5 => "SCHED_IDLE".to_string(),
        other => format!("policy {other} rt {rt_priority} nice {nice}"),
    })
}

/// The 1-minute load average, from `/proc/loadavg`.
pub fn loadavg_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
