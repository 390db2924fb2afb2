//! What a command writes for scripts: with `--output json`, exactly one JSON document on stdout,
//! `{"ok": true, ...}` on success and `{"ok": false, "error": {...}, "done": [...]}` on failure,
//! where `done` lists the resource steps finished before the error (a partial apply).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use clap::ValueEnum;
use serde::Serialize;

use super::progress::CallSpinner;
use crate::engine::plan::{Action, Step};
use crate::engine::progress::Progress;
use crate::engine::Resource;
use crate::error::ErrorInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// One resource step that finished successfully.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Done {
    pub resource: String,
    pub action: Action,
}

/// The steps finished so far in this run, shared between the progress display and the error
/// report.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<Done>>>);

impl Journal {
    pub fn done(&self) -> Vec<Done> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A progress display that also records finished steps here (and ends the lookup
    /// spinner when the first step starts).
    pub fn recording(
        &self,
        inner: Box<dyn Progress>,
        spinner: Option<Arc<CallSpinner>>,
    ) -> Box<dyn Progress> {
        Box::new(Recording {
            inner,
            journal: self.clone(),
            actions: Mutex::new(BTreeMap::new()),
            spinner,
        })
    }
}

struct Recording {
    inner: Box<dyn Progress>,
    journal: Journal,
    actions: Mutex<BTreeMap<Resource, Action>>,
    spinner: Option<Arc<CallSpinner>>,
}

impl Progress for Recording {
    fn started(&self, step: &Step) {
        if let Some(s) = &self.spinner {
            s.stop();
        }
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(step.resource, step.action);
        self.inner.started(step);
    }

    fn status(&self, resource: Resource, status: &str) {
        self.inner.status(resource, status);
    }

    fn finished(&self, resource: Resource, outcome: Result<(), &str>) {
        if outcome.is_ok() {
            let action = self
                .actions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&resource)
                .copied();
            if let Some(action) = action.filter(|a| *a != Action::NoOp) {
                self.journal
                    .0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Done {
                        resource: resource.key().to_string(),
                        action,
                    });
            }
        }
        self.inner.finished(resource, outcome);
    }
}

/// What every command gets besides its own flags.
#[derive(Clone, Default)]
pub struct Ctx {
    pub output: OutputFormat,
    pub journal: Journal,
    /// The "reading the cloud" spinner, when one is shown.
    pub spinner: Option<Arc<CallSpinner>>,
}

impl Ctx {
    /// Ends the lookup spinner: call before printing anything on the terminal.
    pub fn lookups_done(&self) {
        if let Some(s) = &self.spinner {
            s.stop();
        }
    }

    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }

    /// Prints a command's result as the success document: its fields plus `"ok": true`.
    pub fn print_json<T: Serialize>(&self, v: &T) -> anyhow::Result<()> {
        let mut value = serde_json::to_value(v)?;
        match &mut value {
            serde_json::Value::Object(map) => {
                map.insert("ok".into(), serde_json::Value::Bool(true));
            }
            other => {
                value = serde_json::json!({ "ok": true, "result": other });
            }
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(())
    }
}

/// The failure document.
#[derive(Serialize)]
pub struct FailureDoc<'a> {
    pub ok: bool,
    pub exit_code: i32,
    pub error: &'a ErrorInfo,
    pub done: Vec<Done>,
}

/// Prints the failure document on stdout.
pub fn print_failure(info: &ErrorInfo, done: Vec<Done>) {
    let doc = FailureDoc {
        ok: false,
        exit_code: info.exit_code(),
        error: info,
        done,
    };
    match serde_json::to_string_pretty(&doc) {
        Ok(s) => println!("{s}"),
        // Cannot happen for these types; still, stdout must hold a document.
        Err(_) => println!(r#"{{"ok": false, "exit_code": 1}}"#),
    }
}

/// Whether the raw arguments ask for JSON, for errors found before (or while) clap parses them.
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
    args.iter().enumerate().any(|(i, a)| {
        a == "--output=json" || (a == "--output" && args.get(i + 1).is_some_and(|n| n == "json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::progress::Silent;

    fn step(resource: Resource, action: Action) -> Step {
        Step {
            resource,
            action,
            reasons: vec![],
            depends_on: vec![],
            changes: vec![],
            reboots: false,
        }
    }

    #[test]
    fn the_journal_keeps_only_steps_that_finished_and_changed_something() {
        let journal = Journal::default();
        let p = journal.recording(Box::new(Silent), None);
        p.started(&step(Resource::Nsg, Action::Create));
        p.started(&step(Resource::Node1, Action::Replace));
        p.started(&step(Resource::Policy, Action::NoOp));
        p.started(&step(Resource::Vip, Action::Create));
        p.finished(Resource::Nsg, Ok(()));
        p.finished(Resource::Policy, Ok(()));
        p.finished(Resource::Vip, Err("CreatePrivateIp failed"));
        p.finished(Resource::Node1, Ok(()));
        assert_eq!(
            journal.done(),
            [
                Done {
                    resource: "nsg".into(),
                    action: Action::Create
                },
                Done {
                    resource: "node1".into(),
                    action: Action::Replace
                }
            ]
        );
    }

    #[test]
    fn json_is_asked_for_in_either_spelling() {
        let args = |a: &[&str]| {
            a.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        assert!(wants_json(&args(&["vipsetup", "plan", "--output", "json"])));
        assert!(wants_json(&args(&["vipsetup", "--output=json", "plan"])));
        assert!(!wants_json(&args(&[
            "vipsetup", "plan", "--output", "text"
        ])));
        assert!(!wants_json(&args(&["vipsetup", "json"])));
    }
}
