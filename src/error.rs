//! The one place that decides how errors print, which exit code they give, and what a failed
//! command writes as JSON (`--output json`).

use serde::Serialize;

use crate::blueprint::{Diagnostic, Diagnostics};
use crate::engine::cloud::CloudError;
use crate::engine::executor::{ExecError, StepError};
use crate::engine::lock::LockError;
use crate::oci::{ApiError, OciError};
use crate::ops::error::{BlueprintError, OpenError, OpsError};

/// Exit codes that scripts can rely on (the README's "Scripting" section).
pub mod exit {
    /// Success, or (for `plan --detailed-exitcode`) nothing to do.
    pub const OK: i32 = 0;
    /// Any error: bad input, usage errors, API failure, I/O.
    pub const ERROR: i32 = 1;
    /// `plan --detailed-exitcode` only: there are changes to make.
    pub const CHANGES: i32 = 2;
    /// Another run holds the pair's lock; nothing was changed.
    pub const LOCKED: i32 = 3;
    /// `apply` or `destroy` stopped by Ctrl-C / SIGTERM (128 + SIGINT, as shells report it):
    /// the state is saved, the lock released; run the command again to finish.
    pub const INTERRUPTED: i32 = 130;
    /// `status`: the pair is not ready; `apply --wait`, `status --wait`: it did not become ready
    /// in time (what was missing is printed, and in JSON as `problems`).
    pub const NOT_READY: i32 = 4;
    /// `drill`: the drill ran and failed (the VIP did not move, or the node did not rejoin);
    /// the stopped node was started again.
    pub const DRILL_FAILED: i32 = 5;
}

/// A run that cannot ask for confirmation (no terminal) and was not told `--auto-approve`.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to {verb} without confirmation: stdin is not a terminal; \
     review `vipsetup plan` and pass --auto-approve to {verb} non-interactively"
)]
pub struct NeedsConfirmation {
    pub verb: &'static str,
}

/// A command-line usage error (clap's), kept as text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// One resource step that failed, in a failed apply or destroy.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepFailure {
    pub resource: String,
    pub message: String,
    pub oci_status: Option<u16>,
    pub oci_code: Option<String>,
    pub opc_request_id: Option<String>,
}

/// A failed command, as the JSON `error` object: the same text people see, plus the fields a
/// script branches on. Every key is always present (null or empty when it does not apply).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorInfo {
    /// Stable, machine-readable: `usage`, `invalid_blueprint`, `locked`, `confirmation_needed`,
    /// `cancelled`, `interrupted`, `replace_not_confirmed`, `oci_api`, `connection`, `steps_failed`, `error`.
    pub code: &'static str,
    pub message: String,
    /// The resource the error is about: a pair resource (`nsg`, `node1`, ...), a file, an OCID.
    pub resource: Option<String>,
    /// The OCI operation that failed, e.g. `LaunchInstance`.
    pub operation: Option<String>,
    pub oci_status: Option<u16>,
    pub oci_code: Option<String>,
    pub opc_request_id: Option<String>,
    /// For `invalid_blueprint`: every problem, with file, line, column, field and help.
    pub diagnostics: Vec<DiagnosticJson>,
    /// For `steps_failed`: each failed resource step.
    pub failures: Vec<StepFailure>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiagnosticJson {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
    pub help: String,
}

impl From<&Diagnostic> for DiagnosticJson {
    fn from(d: &Diagnostic) -> Self {
        DiagnosticJson {
            file: d.file.display().to_string(),
            line: d.line,
            column: d.column,
            field: d.field.clone(),
            message: d.message.clone(),
            help: d.hint.clone(),
        }
    }
}

impl ErrorInfo {
    fn new(code: &'static str) -> ErrorInfo {
        ErrorInfo {
            code,
            ..ErrorInfo::default()
        }
    }

    /// The exit code this error gives.
    pub fn exit_code(&self) -> i32 {
        if self.code == "locked" {
            exit::LOCKED
        } else if self.code == "interrupted" {
            exit::INTERRUPTED
        } else {
            exit::ERROR
        }
    }

    /// Classifies an error by the first cause in its chain that vipsetup knows.
    pub fn of(err: &anyhow::Error) -> ErrorInfo {
        let mut info = err
            .chain()
            .find_map(known)
            .unwrap_or_else(|| ErrorInfo::new("error"));
        info.message = report_lines(err).join("\n");
        info
    }
}

fn known(e: &(dyn std::error::Error + 'static)) -> Option<ErrorInfo> {
    if let Some(e) = e.downcast_ref::<OpsError>() {
        return Some(ops(e));
    }
    if let Some(e) = e.downcast_ref::<OpenError>() {
        return Some(open(e));
    }
    if let Some(e) = e.downcast_ref::<BlueprintError>() {
        return Some(diagnostics(&e.0));
    }
    if let Some(e) = e.downcast_ref::<Diagnostics>() {
        return Some(diagnostics(e));
    }
    if let Some(e) = e.downcast_ref::<LockError>() {
        return Some(lock(e));
    }
    if let Some(e) = e.downcast_ref::<ExecError>() {
        return Some(exec(e));
    }
    if let Some(e) = e.downcast_ref::<CloudError>() {
        return Some(cloud(e));
    }
    if let Some(e) = e.downcast_ref::<OciError>() {
        return Some(oci(e));
    }
    if let Some(e) = e.downcast_ref::<ApiError>() {
        return Some(api(e));
    }
    if e.downcast_ref::<NeedsConfirmation>().is_some() {
        return Some(ErrorInfo::new("confirmation_needed"));
    }
    if e.downcast_ref::<UsageError>().is_some() {
        return Some(ErrorInfo::new("usage"));
    }
    None
}

fn ops(e: &OpsError) -> ErrorInfo {
    use crate::engine::observe::ObserveError;
    use crate::engine::resolve::ResolveError;
    match e {
        OpsError::Lock(l) => lock(l),
        OpsError::Exec(x) => exec(x),
        OpsError::Open(o) => open(o),
        OpsError::Resolve(ResolveError::Cloud(c)) | OpsError::Observe(ObserveError::Cloud(c)) => {
            cloud(c)
        }
        OpsError::Cancelled { .. } => ErrorInfo::new("cancelled"),
        OpsError::Interrupted { .. } => ErrorInfo::new("interrupted"),
        OpsError::ReplaceNotConfirmed { nodes, .. } => ErrorInfo {
            resource: Some(nodes.join(",")),
            ..ErrorInfo::new("replace_not_confirmed")
        },
        OpsError::UnknownNode { .. } => ErrorInfo::new("usage"),
        OpsError::DoctorProblems { .. } => ErrorInfo::new("doctor_problems"),
        OpsError::DrillRefused { .. } => ErrorInfo::new("drill_refused"),
        _ => ErrorInfo::new("error"),
    }
}

fn open(e: &OpenError) -> ErrorInfo {
    match e {
        OpenError::Blueprint(b) => diagnostics(&b.0),
        OpenError::Oci(o) => oci(o),
        _ => ErrorInfo::new("error"),
    }
}

fn diagnostics(d: &Diagnostics) -> ErrorInfo {
    ErrorInfo {
        resource: d.iter().next().map(|d| d.file.display().to_string()),
        diagnostics: d.iter().map(DiagnosticJson::from).collect(),
        ..ErrorInfo::new("invalid_blueprint")
    }
}

fn lock(e: &LockError) -> ErrorInfo {
    match e {
        // A corrupt lock also means "another run may hold it": nothing was done (exit 3).
        LockError::Held { place, .. } | LockError::Corrupt { place, .. } => ErrorInfo {
            resource: Some(place.clone()),
            ..ErrorInfo::new("locked")
        },
        _ => ErrorInfo::new("error"),
    }
}

fn exec(e: &ExecError) -> ErrorInfo {
    let failures: Vec<StepFailure> = e
        .failures
        .iter()
        .map(|(r, err)| {
            let c = match err {
                StepError::Cloud(c) => Some(c),
                _ => None,
            };
            StepFailure {
                resource: r.key().to_string(),
                message: err.to_string(),
                oci_status: c.and_then(|c| c.status),
                oci_code: c.and_then(|c| c.code.clone()),
                opc_request_id: c.and_then(|c| c.request_id.clone()),
            }
        })
        .collect();
    // The first step that failed on its own (not because a dependency did) is the error.
    let first = e
        .failures
        .iter()
        .position(|(_, err)| !matches!(err, StepError::DependencyFailed(_)))
        .unwrap_or(0);
    let mut info = ErrorInfo::new("steps_failed");
    if let (Some((_, StepError::Cloud(c))), Some(f)) = (e.failures.get(first), failures.get(first))
    {
        info = ErrorInfo {
            operation: Some(c.operation.clone()),
            ..info
        };
        info.oci_status = f.oci_status;
        info.oci_code = f.oci_code.clone();
        info.opc_request_id = f.opc_request_id.clone();
    }
    info.resource = failures.get(first).map(|f| f.resource.clone());
    info.failures = failures;
    info
}

fn cloud(c: &CloudError) -> ErrorInfo {
    ErrorInfo {
        operation: Some(c.operation.clone()),
        oci_status: c.status,
        oci_code: c.code.clone(),
        opc_request_id: c.request_id.clone(),
        ..ErrorInfo::new(if c.status.is_some() {
            "oci_api"
        } else {
            "connection"
        })
    }
}

fn oci(e: &OciError) -> ErrorInfo {
    match e {
        OciError::Api(a) => api(a),
        OciError::Transport { operation, url, .. } => ErrorInfo {
            operation: Some(operation.clone()),
            resource: Some(url.clone()),
            ..ErrorInfo::new("connection")
        },
        _ => ErrorInfo::new("error"),
    }
}

fn api(a: &ApiError) -> ErrorInfo {
    ErrorInfo {
        operation: Some(a.operation.clone()),
        oci_status: Some(a.status),
        oci_code: Some(a.code.clone()).filter(|c| !c.is_empty()),
        opc_request_id: a.opc_request_id.clone(),
        ..ErrorInfo::new("oci_api")
    }
}

/// Prints an error chain the way every vipsetup command does: `error: <top>` then each cause
/// the lines above do not already quote (many messages embed their cause so that the hint on
/// what to do can follow it). Blueprint problems print one `error:` line each.
pub fn report(err: &anyhow::Error) {
    let info = ErrorInfo::of(err);
    if !info.diagnostics.is_empty() {
        if let Some(d) = err.chain().find_map(|e| {
            e.downcast_ref::<Diagnostics>()
                .or_else(|| e.downcast_ref::<BlueprintError>().map(|b| &b.0))
                .or_else(|| match e.downcast_ref::<OpenError>() {
                    Some(OpenError::Blueprint(b)) => Some(&b.0),
                    _ => None,
                })
                .or_else(|| match e.downcast_ref::<OpsError>() {
                    Some(OpsError::Open(OpenError::Blueprint(b))) => Some(&b.0),
                    _ => None,
                })
        }) {
            print_diagnostics(d);
        }
        return;
    }
    for line in report_lines(err) {
        eprintln!("{line}");
    }
}

/// Prints each problem as `error: file:line:col: field: message` plus its help line.
pub fn print_diagnostics(diags: &Diagnostics) {
    for d in diags.iter() {
        eprintln!("error: {d}");
    }
    if diags.len() > 1 {
        eprintln!("{} problems found; fix them and run again", diags.len());
    }
}

fn report_lines(err: &anyhow::Error) -> Vec<String> {
    let mut lines = vec![format!("error: {err}")];
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !lines.iter().any(|l| l.contains(&cause)) {
            lines.push(format!("  caused by: {cause}"));
        }
    }
    if crate::ops::doctor::would_have_caught(err) {
        lines.push(
            "  hint: `vipsetup doctor BLUEPRINT` checks this and every other prerequisite of the \
             tenancy in one read-only run"
                .to_string(),
        );
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}: {source}; check it")]
    struct Quoting {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn a_failed_step_gives_its_resource_and_oci_fields() {
        use crate::engine::Resource;
        let cloud = CloudError {
            operation: "CreatePolicy".into(),
            status: Some(400),
            code: Some("InvalidParameter".into()),
            message: "bad statement".into(),
            request_id: Some("RID".into()),
        };
        let err = anyhow::Error::new(OpsError::Exec(ExecError {
            failures: vec![
                (Resource::Vip, StepError::DependencyFailed(Resource::Policy)),
                (Resource::Policy, StepError::Cloud(cloud)),
            ],
        }));
        let info = ErrorInfo::of(&err);
        assert_eq!(info.code, "steps_failed");
        assert_eq!(info.exit_code(), exit::ERROR);
        assert_eq!(info.resource.as_deref(), Some("policy"));
        assert_eq!(info.operation.as_deref(), Some("CreatePolicy"));
        assert_eq!(info.oci_status, Some(400));
        assert_eq!(info.oci_code.as_deref(), Some("InvalidParameter"));
        assert_eq!(info.opc_request_id.as_deref(), Some("RID"));
        assert_eq!(info.failures.len(), 2);
        assert_eq!(info.failures[0].resource, "vip");
        assert!(info
            .message
            .starts_with("error: vip: not started: policy failed"));
    }

    #[test]
    fn blueprint_problems_are_listed_one_by_one() {
        let d = |line| Diagnostic {
            file: "bp.yaml".into(),
            line,
            column: 3,
            field: "name".into(),
            message: "bad".into(),
            hint: "fix it".into(),
        };
        let err = anyhow::Error::new(OpenError::Blueprint(BlueprintError(Diagnostics(vec![
            d(1),
            d(7),
        ]))));
        let info = ErrorInfo::of(&err);
        assert_eq!(info.code, "invalid_blueprint");
        assert_eq!(info.diagnostics.len(), 2);
        assert_eq!(info.diagnostics[1].line, 7);
        assert_eq!(info.diagnostics[1].help, "fix it");
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["oci_status"], serde_json::Value::Null);
        assert_eq!(json["failures"], serde_json::json!([]));
    }

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(Quoting {
            path: "/x".into(),
            source: io,
        });
        assert_eq!(
            report_lines(&err),
            ["error: cannot read /x: no such file; check it"]
        );
        let wrapped = err.context("opening the pair");
        assert_eq!(
            report_lines(&wrapped),
            [
                "error: opening the pair",
                "  caused by: cannot read /x: no such file; check it"
            ]
        );
    }
}
