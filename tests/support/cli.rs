//! The vipsetup binary as the CLI tests run it (a private HOME, fast simulated delays, no
//! terminal), and its output as one text.
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    c.current_dir(dir)
        .env_remove("VIPSETUP_LOG")
        .env_remove("OCI_CLI_PROFILE")
        .env_remove("OCI_CLI_AUTH")
        .env("HOME", dir.join("home"))
        .env("VIPSETUP_POLL_MS", "20")
        .env("VIPSETUP_SIM_PROVISIONING_MS", "100")
        .env("VIPSETUP_SIM_TERMINATING_MS", "60")
        .stdin(Stdio::null());
    c
}

/// stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
