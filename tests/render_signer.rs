//! The agent's own signer (templates/agent/oci-sign/: bash, curl, openssl) against the shared OCI
//! signing vectors (tests/vectors/oci-signing: Oracle's Go and Python SDKs) and against the
//! strict simulator, which verifies every signature: instance-principal federation, the
//! session token's lifetime and its renewal after a 401.

#[path = "oldest-tools/versions.rs"]
mod oldest_tools;
mod render_support;
#[path = "support/tls.rs"]
mod tls;

use std::path::PathBuf;
use std::process::Command;

use render_support::prereq::{all, met, tool};
use render_support::repo;
use render_support::sim::SimPair;
use serde_json::{json, Value};

fn lib() -> PathBuf {
    render_support::sign_lib()
}

fn vectors() -> Vec<Value> {
    let text =
        std::fs::read_to_string(repo().join("tests/vectors/oci-signing/vectors.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn prerequisites() -> bool {
    met(all([
        tool("openssl", &["version"]),
        tool("curl", &["--version"]),
    ]))
}

/// Runs `script` in bash with the library sourced; `args` become $1, $2, ...
fn bash(script: &str, args: &[&str], env: &[(&str, String)]) -> (bool, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!(". '{}' || exit 99\n{script}", lib().display()))
        .arg("bash")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_vector_gets_the_sdks_signing_string_and_signature() {
    if !prerequisites() {
        return;
    }
    let cases = vectors();
    assert!(cases.len() >= 6, "vectors.json looks truncated");
    let mut full_headers = 0;
    for case in &cases {
        let s = |k: &str| case[k].as_str().unwrap_or_default().to_string();
        let key = repo().join("tests/vectors/oci-signing").join(s("key"));
        let (ok, out, err) = bash(
            r#"oci_signing_string "$1" "$2" "$3" "$4" && oci_authorization "$5" "$6" &&
               printf '%s\n@@\n%s\n@@\n%s' "$OCI_SS" "$OCI_SIGNED_HEADERS" "$OCI_AUTHORIZATION""#,
            &[
                &s("method"),
                &s("url"),
                &s("date"),
                case["body"].as_str().unwrap_or(""),
                &s("key_id"),
                &key.to_string_lossy(),
            ],
            &[],
        );
        assert!(ok, "{}: {err}", s("name"));
        let parts: Vec<&str> = out.split("\n@@\n").collect();
        assert_eq!(parts[0], s("signing_string"), "{}", s("name"));
        assert_eq!(parts[1], s("signed_headers"), "{}", s("name"));
        // PKCS#1 v1.5 is deterministic: the same key and string give the SDK's signature.
        assert!(
            parts[2].contains(&format!("signature=\"{}\"", s("signature"))),
            "{}: {}",
            s("name"),
            parts[2]
        );
        if let Some(expected) = case["authorization"].as_str() {
            assert_eq!(parts[2], expected, "{}", s("name"));
            full_headers += 1;
        }
    }
    assert_eq!(
        full_headers, 3,
        "the Python SDK cases carry the whole header"
    );
}

/// The warm tools (two openssl started ahead of a takeover, waiting on pipes) give
/// the SDKs' signatures for every vector with a body; each is used once (a GET, signed every few
/// minutes for rechecks, leaves them to the takeover), and every one has ended after oci_cleanup.
#[test]
fn warm_tools_sign_every_vector_like_the_sdks() {
    if !prerequisites() {
        return;
    }
    for case in &vectors() {
        let s = |k: &str| case[k].as_str().unwrap_or_default().to_string();
        let work = tempfile::tempdir().unwrap();
        let key = repo().join("tests/vectors/oci-signing").join(s("key"));
        std::fs::copy(&key, work.path().join("session-key.pem")).unwrap();
        let (ok, out, err) = bash(
            r#"oci_warm 0 || exit 7
               pids="${OCI_WARM_PID[@]}"
               for p in $pids; do kill -0 "$p" || { echo "tool $p not running" >&2; exit 8; }; done
               oci_signing_string "$1" "$2" "$3" "$4" && oci_authorization "$5" "$OCI_WORK_DIR/session-key.pem" || exit 9
               # With a body (a takeover), both were used; a GET keeps them for the takeover.
               if [ "$1" = GET ]; then
                   [ -n "${OCI_WARM_IN[0sig]}" ] || { echo "a GET used the signer" >&2; exit 10; }
               else
                   [ -z "${OCI_WARM_IN[0sig]}${OCI_WARM_IN[0sum]}" ] || { echo "tools left" >&2; exit 10; }
               fi
               # Closed, every tool ends (an unused one at the end of its input).
               oci_cleanup
               for p in $pids; do
                   for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || continue 2; sleep 0.1; done
                   echo "tool $p still running" >&2; exit 11
               done
               printf '%s' "$OCI_AUTHORIZATION""#,
            &[
                &s("method"),
                &s("url"),
                &s("date"),
                case["body"].as_str().unwrap_or(""),
                &s("key_id"),
            ],
            &[("OCI_WORK_DIR", work.path().to_string_lossy().into_owned())],
        );
        assert!(ok, "{}: {err}", s("name"));
        assert!(
            out.contains(&format!("signature=\"{}\"", s("signature"))),
            "{}: {out}",
            s("name")
        );
    }
}

#[test]
fn federation_signs_without_host_and_a_tampered_string_does_not_verify() {
    if !prerequisites() {
        return;
    }
    let (ok, out, err) = bash(
        r#"oci_signing_string POST https://auth.us-ashburn-1.oraclecloud.com/v1/x509 "Tue, 01 Dec 2026 10:00:00 GMT" '{}' federation && printf '%s' "$OCI_SIGNED_HEADERS""#,
        &[],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "date (request-target) content-length content-type x-content-sha256"
    );
    // The signature is checked by openssl against the public half; a changed date must fail.
    let tmp = tempfile::tempdir().unwrap();
    let key = repo().join("tests/vectors/oci-signing/python-sdk-2048.pem");
    let public = repo().join("tests/vectors/oci-signing/python-sdk-2048.pub.pem");
    let (ok, out, err) = bash(
        r#"oci_signing_string GET https://iaas.us-ashburn-1.oraclecloud.com/20160918/privateIps/x "$3" '' &&
           oci_authorization k "$1" || exit 1
           sig=${OCI_AUTHORIZATION#*signature=\"}; sig=${sig%%\"*}
           printf '%s' "$sig" | base64 -d > "$TMPDIR/sig"
           printf '%s' "$OCI_SS" | openssl dgst -sha256 -verify "$2" -signature "$TMPDIR/sig" || exit 2
           printf '%s' "${OCI_SS/10:00:00/10:00:01}" | openssl dgst -sha256 -verify "$2" -signature "$TMPDIR/sig" && exit 3
           echo checked"#,
        &[
            &key.to_string_lossy(),
            &public.to_string_lossy(),
            "Tue, 01 Dec 2026 10:00:00 GMT",
        ],
        &[("TMPDIR", tmp.path().to_string_lossy().into_owned())],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("checked"), "{out}");
}

/// The library's settings for node 1 of `sim`, with its work dir in `dir`.
fn node_env(sim: &SimPair, dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "OCI_WORK_DIR",
            dir.join("run").to_string_lossy().into_owned(),
        ),
        ("OCI_METADATA_BASE", format!("{}/opc/v2", sim.base)),
        ("OCI_FEDERATION_URL", format!("{}/v1/x509", sim.base)),
    ]
}

const GET_VIP: &str = r#"oci_call GET "$1" || { echo "$OCI_ERROR" >&2; exit 1; }
oci_json_get "$OCI_BODY" vnicId && printf '%s' "$OCI_JSON""#;

#[test]
fn instance_principal_calls_pass_the_strict_simulator_and_keep_their_token() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(0);
    sim.clear_log();
    let dir = tempfile::tempdir().unwrap();
    let env = node_env(&sim, dir.path());
    let url = format!("{}/20160918/privateIps/{}", sim.base, sim.vip_id);
    // Two calls in one process, then one in another (a claim loop after the agent): one token.
    let (ok, out, err) = bash(
        &format!("oci_new_session_key || exit 1\n{GET_VIP}\n{GET_VIP}"),
        &[&url],
        &env,
    );
    assert!(ok, "{err}");
    assert_eq!(out, format!("{}{}", sim.vnics[0], sim.vnics[0]));
    let (ok, out, err) = bash(GET_VIP, &[&url], &env);
    assert!(ok, "{err}");
    assert_eq!(out, sim.vnics[0]);
    let principal = format!("instance:{}", sim.instances[0]);
    let calls = sim.calls();
    let gets: Vec<_> = calls
        .iter()
        .filter(|(op, _, _)| op == "GetPrivateIp")
        .collect();
    assert_eq!(gets.len(), 3, "{calls:?}");
    assert!(
        gets.iter().all(|(_, s, p)| *s == 200 && *p == principal),
        "{calls:?}"
    );
    assert_eq!(sim.count("FederateX509"), 1, "the token is kept: {calls:?}");
    // The token and keys are private to root.
    use std::os::unix::fs::PermissionsExt as _;
    for f in ["token", "session-key.pem"] {
        let mode = std::fs::metadata(dir.path().join("run").join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{f} is readable by others: {mode:o}");
    }
    // The instance's certificate and key, read for the federation, are not kept (each federating
    // process had its own files, removed once signed).
    let left: Vec<_> = std::fs::read_dir(dir.path().join("run"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("leaf"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // A token the service no longer takes (401): renewed at once, the call made again.
    let token_file = dir.path().join("run/token");
    let exp = std::fs::read_to_string(&token_file).unwrap();
    let exp = exp.split_whitespace().next().unwrap().to_string();
    std::fs::write(&token_file, format!("{exp} not.a-valid.token\n")).unwrap();
    sim.clear_log();
    let (ok, out, err) = bash(GET_VIP, &[&url], &env);
    assert!(ok, "{err}");
    assert_eq!(out, sim.vnics[0]);
    let ops: Vec<(String, u16)> = sim.api_calls();
    assert_eq!(
        ops,
        vec![
            ("GetPrivateIp".to_string(), 401),
            ("FederateX509".to_string(), 200),
            ("GetPrivateIp".to_string(), 200),
        ]
    );

    // Tokens that expire within a minute are renewed before each use (the 60 s margin).
    sim.json(
        "PATCH",
        "/_sim/config",
        Some(&json!({"sessionTtlSecs": 30})),
    );
    std::fs::remove_file(&token_file).unwrap();
    sim.clear_log();
    let (ok, _, err) = bash(&format!("{GET_VIP}\n{GET_VIP}"), &[&url], &env);
    assert!(ok, "{err}");
    assert_eq!(sim.count("FederateX509"), 2, "{:?}", sim.api_calls());
    assert_eq!(sim.count("GetPrivateIp"), 2);
}

/// Several calls at once (several VIPs) sign in parallel processes and wait for those by PID:
/// bash 5's bare `wait` also waits for the last process substitution, here a warm tool nobody
/// feeds (on a node: a kept-alive s_client), and never came back.
#[test]
fn parallel_calls_wait_only_for_their_own_signers() {
    if !prerequisites() {
        return;
    }
    let sim = SimPair::start();
    sim.be_node(0);
    let dir = tempfile::tempdir().unwrap();
    let env = node_env(&sim, dir.path());
    let url = format!("{}/20160918/privateIps/{}", sim.base, sim.vip_id);
    let (ok, out, err) = bash(
        r#"( sleep 60; kill -TERM $$ ) >/dev/null 2>&1 & guard=$!
           oci_new_session_key && oci_token || exit 1
           # The last process substitution: a warm tool that waits for input.
           oci_warm 3 || exit 2
           OCI_CALL_METHOD=(GET GET); OCI_CALL_URL=("$1" "$1?x=1"); OCI_CALL_BODY=('' '')
           oci_call_all || { echo "${OCI_CALL_ERROR[*]}" >&2; exit 3; }
           kill "$guard"
           printf '%s %s' "${OCI_CALL_STATUS[@]}""#,
        &[&url],
        &env,
    );
    assert!(ok, "{err}");
    assert_eq!(out, "200 200");
}

#[test]
fn unreachable_metadata_service_is_an_error_not_a_hang() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = tls::free_port();
    let start = std::time::Instant::now();
    let (ok, out, _) = bash(
        r#"oci_call GET "$1" && exit 0; printf '%s|%s' "$OCI_STATUS" "$OCI_ERROR"; exit 1"#,
        &[&format!("http://127.0.0.1:{port}/20160918/privateIps/x")],
        &[
            (
                "OCI_WORK_DIR",
                dir.path().join("run").to_string_lossy().into_owned(),
            ),
            (
                "OCI_METADATA_BASE",
                format!("http://127.0.0.1:{port}/opc/v2"),
            ),
            (
                "OCI_FEDERATION_URL",
                format!("http://127.0.0.1:{port}/v1/x509"),
            ),
        ],
    );
    assert!(!ok);
    assert!(out.starts_with("000|"), "{out}");
    assert!(out.contains("metadata service"), "{out}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

/// The https transport as a node uses it against OCI: one `openssl s_client` per connection,
/// the server's certificate checked against the given CA and the host name. `openssl s_server
/// -WWW` answers each request with HTTP/1.0 and closes, so the second request also shows a closed
/// connection replaced; a certificate nobody vouches for gets no answer at all.
#[test]
fn https_goes_through_a_verified_s_client_connection() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    tls::self_signed_localhost(d);
    std::fs::create_dir(d.join("www")).unwrap();
    std::fs::write(d.join("www/doc.json"), "{\"ok\": \"yes\"}\n").unwrap();
    let port = tls::free_port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-WWW", "-accept"])
        .arg(port.to_string())
        .arg("-cert")
        .arg(d.join("tls.crt"))
        .arg("-key")
        .arg(d.join("tls.key"))
        .current_dir(d.join("www"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://localhost:{port}/doc.json");
    let mut up = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let run = |ca: &str| {
        bash(
            r#"OCI_WORK_DIR="$2/work"; OCI_CA_FILE=$3
               for i in 1 2; do oci_http GET "$1" ''; printf '%s %s\n' "$OCI_STATUS" "$OCI_BODY"; done
               oci_cleanup"#,
            &[&url, &d.to_string_lossy(), ca],
            &[],
        )
    };
    let trusted = run(&d.join("tls.crt").to_string_lossy());
    let untrusted = run("/dev/null");
    let _ = server.kill();
    let _ = server.wait();
    assert!(up, "openssl s_server did not listen");
    let (_, out, err) = trusted;
    assert_eq!(
        out.matches("200 {\"ok\": \"yes\"}").count(),
        2,
        "{out}{err}"
    );
    let (_, out, err) = untrusted;
    assert!(
        out.lines().count() == 2 && out.lines().all(|l| l.starts_with("000 ")),
        "an unverified server must get no request: {out}{err}"
    );
}

/// The tools this suite runs, printed; under the oldest-tools lane (tests/oldest-tools/run.sh)
/// they must be the lane's (bash 4.4, OpenSSL 1.1.1, keepalived 2.1.5), or the lane proved nothing.
#[test]
fn node_tools_are_the_lanes_under_the_lane() {
    oldest_tools::check("render_signer", &oldest_tools::here());
}
