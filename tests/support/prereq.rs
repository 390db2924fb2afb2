//! The one rule for a test whose prerequisite is missing (a tool, root, a venv, a debug build),
//! shared by every test support module: under CI the test fails naming what is missing, because
//! a skip there would hide a gap the day an install step breaks; elsewhere one line on stderr
//! names the test and what did not run, and the test returns.
//!
//! Included by path (`#[path = ".../support/prereq.rs"]`) from render_support, engine_support,
//! the failover harness, the first-boot twin and the stand-alone tests.

#![allow(dead_code)]

use std::io::Write as _;

/// Whether a missing prerequisite is a failure: `CI` set to anything but empty, `0` or `false`
/// (GitHub, GitLab and most CI services set `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// `true` when `need` is met; otherwise the rule (see the module comment), for the test running
/// on this thread (libtest names each test's thread after the test).
pub fn met(need: Result<(), String>) -> bool {
    let thread = std::thread::current();
    met_named(thread.name().unwrap_or("this test"), need)
}

/// [`met`] for a test that names itself.
pub fn met_named(test: &str, need: Result<(), String>) -> bool {
    let Err(why) = need else {
        return true;
    };
    if in_ci() {
        panic!("{test}: prerequisite missing in CI: {why}");
    }
    // Straight to stderr: libtest captures `eprintln!` of a passing test, and this line is the
    // only sign that the test checked nothing.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

/// `Ok(())` when `tool args` runs and succeeds; the error names the tool.
pub fn tool(tool: &str, args: &[&str]) -> Result<(), String> {
    let ran = std::process::Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output();
    match ran {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{tool} {}` failed ({}); reinstall it (run .ci/run, or apt-get install it)",
            args.join(" "),
            out.status
        )),
        Err(_) => Err(format!(
            "`{tool}` is not installed (run .ci/run, or apt-get install it)"
        )),
    }
}

/// Every need checked (not just up to the first missing one), so the message names them all.
pub fn all(needs: impl IntoIterator<Item = Result<(), String>>) -> Result<(), String> {
    let missing: Vec<String> = needs.into_iter().filter_map(Result::err).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("; "))
    }
}

/// `Ok(())` when running as root; `why` says what needs it.
pub fn root(why: &str) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err(format!(
            "{why} needs root; run the tests as root, as .ci/run does"
        ))
    }
}

/// Whether an executable named `tool` is in a directory of PATH (without running it).
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}
