//! Which node tools (bash, OpenSSL, keepalived, curl) a suite really runs, and the oldest-tools
//! lane's check of them: under `tests/oldest-tools/run.sh` the variable `VIPSETUP_OLDEST_TOOLS`
//! holds the versions line the lane promises, and a suite that sees other tools fails, so the
//! lane cannot pass on the new tools by accident. Outside the lane the line is only printed.

#![allow(dead_code)]

/// A `sh` script printing one line per tool, by the names the agent and the tests use: `bash`
/// from PATH, `/bin/bash` (the agent's shebang), `openssl`, `keepalived`, `curl`.
pub const SCRIPT: &str = r#"v='${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}.${BASH_VERSINFO[2]}'
printf 'bash %s\n' "$(bash -c "echo $v" 2>&1)"
printf '/bin/bash %s\n' "$(/bin/bash -c "echo $v" 2>&1)"
printf 'openssl %s\n' "$(openssl version 2>&1 | awk '{print $2}')"
printf 'keepalived %s\n' "$(keepalived --version 2>&1 | awk '/^Keepalived v/{sub(/^v/, "", $2); print $2; exit}')"
printf 'curl %s\n' "$(curl --version 2>&1 | awk 'NR==1{print $2}')"
"#;

/// The versions line (`bash 4.4.19, OpenSSL 1.1.1w, keepalived 2.1.5, curl 7.74.0`, the form
/// tests/oldest-tools/setup.sh writes) from `SCRIPT`'s output. A `/bin/bash` other than PATH's
/// `bash` shows as `bash A (/bin/bash B)`, which matches no lane line.
pub fn line_from(out: &str) -> String {
    let get = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .filter(|v| !v.is_empty())
            .unwrap_or("none")
            .to_string()
    };
    let (bash, bin_bash) = (get("bash"), get("/bin/bash"));
    let bash = if bash == bin_bash {
        bash
    } else {
        format!("{bash} (/bin/bash {bin_bash})")
    };
    format!(
        "bash {bash}, OpenSSL {}, keepalived {}, curl {}",
        get("openssl"),
        get("keepalived"),
        get("curl")
    )
}

/// The tools this process tree runs.
pub fn here() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", SCRIPT])
        .output()
        .expect("run sh");
    line_from(&String::from_utf8_lossy(&out.stdout))
}

/// Prints what `where_` runs; under the lane, fails unless it is what the lane promises.
pub fn check(where_: &str, line: &str) {
    eprintln!("tools {where_}: {line}");
    if let Ok(want) = std::env::var("VIPSETUP_OLDEST_TOOLS") {
        assert_eq!(
            line, want,
            "the oldest-tools lane promised {want:?} but {where_} runs {line:?}"
        );
    }
}
