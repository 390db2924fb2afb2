//! The one place that decides how errors print and which exit code they give.

/// Exit codes that scripts can rely on.
pub mod exit {
    /// Success, or (for `plan --detailed-exitcode`) nothing to do.
    pub const OK: i32 = 0;
    /// Any error: bad input, API failure, I/O.
    pub const ERROR: i32 = 1;
    /// `plan --detailed-exitcode`: there are changes to make.
    pub const CHANGES: i32 = 2;
    /// Wrong command-line usage (clap's own code).
    pub const USAGE: i32 = 2;
    /// The pair is locked by another run (or its lock is corrupt): nothing was done.
    pub const LOCKED: i32 = 3;
}

/// The exit code for an error: `LOCKED` when another run holds the pair's lock, else `ERROR`.
pub fn code(err: &anyhow::Error) -> i32 {
    use crate::engine::lock::LockError;
    use crate::ops::pair::OpsError;
    let locked = err.chain().any(|e| {
        e.downcast_ref::<LockError>()
            .is_some_and(LockError::is_held)
            || matches!(e.downcast_ref::<OpsError>(), Some(OpsError::Lock(l)) if l.is_held())
    });
    if locked {
        exit::LOCKED
    } else {
        exit::ERROR
    }
}

/// Prints an error chain the way every vipsetup command does: `error: <top>` then each cause
/// the lines above do not already quote (many messages embed their cause so that the hint on
/// what to do can follow it).
pub fn report(err: &anyhow::Error) {
    for line in report_lines(err) {
        eprintln!("{line}");
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
    lines
}

/// One line holding an error and every cause under it (`top: cause: root cause`), for errors
/// that are stored as text (a transport failure, a template error) rather than chained.
pub fn chain_message(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
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
