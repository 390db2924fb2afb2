//! What doctor reports: a check's status, the checks, the exit codes and the text for people.

use serde::Serialize;

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Something that would stop the pair from working; `fix` says what to do.
    Problem,
    /// The check could not be made (no permission to read, an API error, a shape vipsetup
    /// knows no limit for); `fix` says how to make it possible or check by hand.
    Unknown,
}

/// One check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Stable name for scripts: `credentials`, `region`, `subnet`, `routing`, `egress_443`,
    /// `vrrp`, `addresses`, `availability_domain`, `shape`, `limits`, `image`, `iam_read`,
    /// `state_bucket`.
    pub id: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

/// The whole report (`--output json` prints it, with `ok` and `exit_code`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DoctorReport {
    pub pair: String,
    pub region: Option<String>,
    pub home_region: Option<String>,
    pub checks: Vec<Check>,
    /// The policy statements the operator's own group needs for `apply` and `destroy`: OCI has
    /// no dry run, so these can't be checked before the first write.
    pub operator_policy: Vec<String>,
}

/// Exit codes of `vipsetup doctor` (the scripting contract, README "On your tenancy").
pub mod exit {
    /// Every check ok.
    pub const ALL_OK: i32 = 0;
    /// At least one problem (also: usage errors and errors before any check, as everywhere).
    pub const PROBLEM: i32 = 1;
    /// No problem found, but at least one check could not tell.
    pub const UNKNOWN: i32 = 2;
}

impl DoctorReport {
    pub fn problems(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Problem)
            .collect()
    }

    pub fn exit_code(&self) -> i32 {
        if self.checks.iter().any(|c| c.status == Status::Problem) {
            exit::PROBLEM
        } else if self.checks.iter().any(|c| c.status == Status::Unknown) {
            exit::UNKNOWN
        } else {
            exit::ALL_OK
        }
    }

    /// For people: one line per check, the fix under each one that is not ok, the policy.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Ok => "ok     ",
                Status::Problem => "PROBLEM",
                Status::Unknown => "unknown",
            };
            out.push_str(&format!("{mark} {:<20} {}\n", c.id, c.detail));
            if let (Some(fix), false) = (&c.fix, c.status == Status::Ok) {
                out.push_str(&format!("        {:<20} fix: {fix}\n", ""));
            }
        }
        out.push_str(
            "\nOCI has no dry run, so whether you may create these can't be read beforehand; \
             apply and destroy need your group to have:\n",
        );
        for s in &self.operator_policy {
            out.push_str(&format!("  {s}\n"));
        }
        let (p, u) = (
            self.problems().len(),
            self.checks
                .iter()
                .filter(|c| c.status == Status::Unknown)
                .count(),
        );
        out.push_str(&match (p, u) {
            (0, 0) => "\ndoctor: every check passed\n".to_string(),
            (0, u) => format!("\ndoctor: no problem found, {u} check(s) could not tell\n"),
            (p, u) => format!("\ndoctor: {p} problem(s), {u} check(s) could not tell\n"),
        });
        out
    }
}

fn check(
    id: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: Option<String>,
) -> Check {
    Check {
        id,
        status,
        detail: detail.into(),
        fix,
    }
}

pub(super) fn ok(id: &'static str, detail: impl Into<String>) -> Check {
    check(id, Status::Ok, detail, None)
}

pub(super) fn problem(
    id: &'static str,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    check(id, Status::Problem, detail, Some(fix.into()))
}

pub(super) fn unknown(
    id: &'static str,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    check(id, Status::Unknown, detail, Some(fix.into()))
}
