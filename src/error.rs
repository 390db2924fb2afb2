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
