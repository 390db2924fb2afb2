//! The engine's progress shown to a person: one indicatif line per resource with its state and
//! elapsed time on a terminal; plain timestamped lines otherwise (logs, CI, pipes).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::plan::Step;
use crate::engine::progress::{Progress, Silent};
use crate::engine::Resource;
use crate::oci::log::{Attempt, CallObserver};

/// Picks the display: nothing for JSON output, bars on a terminal, plain lines otherwise.
pub fn for_stdout(json: bool) -> Box<dyn Progress> {
    if json {
        Box::new(Silent)
    } else if std::io::stdout().is_terminal() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines::default())
    }
}

struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<Resource, ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn with_bar(&self, r: Resource, f: impl FnOnce(&ProgressBar)) {
        if let Some(b) = self.bars.lock().unwrap_or_else(|e| e.into_inner()).get(&r) {
            f(b);
        }
    }
}

impl Progress for Bars {
    fn started(&self, step: &Step) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<14} {wide_msg} [{elapsed}]")
                .expect("valid template"),
        );
        bar.set_prefix(step.resource.key());
        bar.set_message(step.action.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(step.resource, bar);
    }

    fn status(&self, r: Resource, status: &str) {
        self.with_bar(r, |b| b.set_message(status.to_string()));
    }

    fn finished(&self, r: Resource, outcome: Result<(), &str>) {
        let msg = match outcome {
            Ok(()) => "done".to_string(),
            Err(e) => outcome_word(e),
        };
        let mut found = false;
        self.with_bar(r, |b| {
            found = true;
            b.set_style(
                ProgressStyle::with_template("  {prefix:<14} {wide_msg} [{elapsed}]")
                    .expect("valid template"),
            );
            b.finish_with_message(msg.clone());
        });
        if !found {
            let _ = self.multi.println(format!("  {:<14} {msg}", r.key()));
        }
    }
}

/// How often a plain-line display repeats an unchanged state ("still PROVISIONING").
const HEARTBEAT: Duration = Duration::from_secs(10);

struct LineState {
    started: Instant,
    last: String,
    printed: Instant,
}

#[derive(Default)]
struct Lines {
    started: Mutex<BTreeMap<Resource, LineState>>,
}

impl Lines {
    fn line(&self, r: Resource, msg: &str) {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let e = started.entry(r).or_insert_with(|| LineState {
            started: now,
            last: String::new(),
            printed: now,
        });
        // Polls repeat the same state: print changes, and a heartbeat while nothing changes.
        let text = if e.last != msg {
            msg.to_string()
        } else if now.duration_since(e.printed) >= HEARTBEAT {
            format!("still {msg}")
        } else {
            return;
        };
        e.last = msg.to_string();
        e.printed = now;
        println!(
            "{:<14} {text} [{}s elapsed]",
            r.key(),
            e.started.elapsed().as_secs()
        );
    }
}

impl Progress for Lines {
    fn started(&self, step: &Step) {
        let now = Instant::now();
        self.started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                step.resource,
                LineState {
                    started: now,
                    last: String::new(),
                    printed: now,
                },
            );
        self.line(step.resource, &format!("{}...", step.action));
    }

    fn status(&self, r: Resource, status: &str) {
        self.line(r, status);
    }

    fn finished(&self, r: Resource, outcome: Result<(), &str>) {
        match outcome {
            Ok(()) => self.line(r, "done"),
            Err(e) => self.line(r, &outcome_word(e)),
        }
    }
}

/// Before the first step starts (lookups, reading the pair, planning), a spinner on stderr names
/// the API call in flight, so a slow cloud never shows a blank terminal. Terminals only; logs
/// get `--debug` instead.
pub struct CallSpinner {
    bar: ProgressBar,
    calls: AtomicU32,
}

impl CallSpinner {
    /// `None` unless stderr is a terminal.
    pub fn on_terminal() -> Option<Arc<CallSpinner>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {wide_msg} [{elapsed}]")
                .expect("valid template"),
        );
        bar.set_message("connecting to OCI");
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(Arc::new(CallSpinner {
            bar,
            calls: AtomicU32::new(0),
        }))
    }

    /// Removes the spinner (before the plan or the step display is drawn); idempotent.
    pub fn stop(&self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// The process-wide observer that feeds a `CallSpinner`.
pub struct SpinnerObserver(pub Arc<CallSpinner>);

impl CallObserver for SpinnerObserver {
    fn attempt(&self, a: &Attempt<'_>) {
        let n = self.0.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.0.bar.is_finished() {
            self.0.bar.set_message(format!(
                "reading the cloud: {} ({n} calls so far)",
                a.operation
            ));
        }
    }
}

/// "failed: ..." for a step that failed; "stopped: ..." for one a Ctrl-C stopped (its
/// message says "interrupted"), which is no failure.
fn outcome_word(e: &str) -> String {
    if e.starts_with("interrupted") || e == crate::engine::executor::NOT_STARTED_INTERRUPTED {
        format!("stopped: {e}")
    } else {
        format!("failed: {e}")
    }
}
