//! What the first-boot test needs from the machine; a missing piece goes through the shared rule
//! (tests/support/prereq.rs: fail in CI, skip with a line elsewhere).

#[path = "../support/prereq.rs"]
mod rule;

/// Checks root and the tools; Err says what is missing and how to get it.
pub fn check() -> Result<(), String> {
    rule::root("the first-boot test (network namespaces, taps, mmdebstrap)")?;
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
    .filter(|t| !rule::on_path(t))
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
    rule::met_named(test, check())
}
