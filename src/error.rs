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
}

/// Prints an error chain the way every vipsetup command does: `error: <top>` then each cause.
pub fn report(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
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
