//! What the first-boot test needs from the machine, and the rule for a missing piece (as in the
//! failover harness): fail in CI (env CI=true), skip with the reason printed elsewhere.

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// Checks root and the tools; Err says what is missing and how to get it.
pub fn check() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "the first-boot test needs root (network namespaces, taps, mmdebstrap); \
                    run the tests as root, as .ci/run does"
                .into(),
        );
    }
    let missing: Vec<&str> = [
        "ip",
        "qemu-system-x86_64",
        "qemu-img",
        "dnsmasq",
        "socat",
        "python3",
        "curl",
        "openssl",
        "mmdebstrap",
        "mkfs.ext4",
        "dpkg-scanpackages",
        "flock",
    ]
    .into_iter()
    .filter(|t| !on_path(t))
    .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing tools: {}; install them as .ci/run does (qemu-system-x86 from \
             bookworm-backports next to qemu-utils, dnsmasq-base, socat, mmdebstrap, e2fsprogs, \
             dpkg-dev, curl, openssl, iproute2)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Whether the test can run; prints why not (or panics in CI, where a skip would hide a gap).
pub fn require(test: &str) -> bool {
    match check() {
        Ok(()) => true,
        Err(why) if std::env::var("CI").map(|v| v == "true").unwrap_or(false) => {
            panic!("{test}: prerequisite missing in CI: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}
