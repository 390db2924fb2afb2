//! What the failover tests need from the machine; a missing piece goes through the shared rule
//! (tests/support/prereq.rs: fail in CI, skip with a line elsewhere).

#[path = "../support/prereq.rs"]
mod rule;

/// What the harness found. The nodes run the agent with bash, curl and openssl only: no OCI
/// CLI, no Python on the node side.
pub struct Prereqs {}

/// Checks root, the tools and the venv; Err says what is missing and how to get it.
pub fn check() -> Result<Prereqs, String> {
    rule::root("the failover harness (network namespaces, mounts)")?;
    let missing: Vec<&str> = [
        "ip",
        "nft",
        "keepalived",
        "unshare",
        "mount",
        "curl",
        "openssl",
        "setsid",
        "awk",
        "logger",
    ]
    .into_iter()
    .filter(|t| !rule::on_path(t))
    .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing tools: {}; install them (apt-get install iproute2 nftables keepalived \
             util-linux mount curl openssl gawk bsdutils), as .ci/run does",
            missing.join(", ")
        ));
    }
    // Root is not enough in a container without CAP_SYS_ADMIN: try a namespace once.
    let probe = format!(
        "{}-{}-999999-probe",
        super::netns::PREFIX,
        std::process::id()
    );
    let made = std::process::Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &probe])
        .output();
    if !made.status.success() {
        return Err(format!(
            "cannot create a network namespace ({}); run the tests as root with CAP_SYS_ADMIN \
             (a privileged container), as .ci/run expects",
            String::from_utf8_lossy(&made.stderr).trim()
        ));
    }
    Ok(Prereqs {})
}

/// The prerequisites, or `None` after printing why the test is skipped. In CI a missing
/// prerequisite is a failure, never a skip.
pub fn require(test: &str) -> Option<Prereqs> {
    match check() {
        Ok(p) => Some(p),
        Err(why) => {
            rule::met_named(test, Err(why));
            None
        }
    }
}
