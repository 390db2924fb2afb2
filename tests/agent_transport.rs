//! The agent's own HTTP/1.1 client (templates/agent/oci-sign/: oci_http, oci_call, oci_get_fast,
//! oci_call_all) held to real framing: a scripted server (agent_wire) plays every behaviour in
//! ../shared/reference/oci-wire.md and the ones no transcript rules out, plain and behind TLS;
//! each case asserts the exact status and body the library returns and that the next call works
//! on the same connection (or a new one where the server closed it). Then the safety valve: a
//! call the kept-alive transport cannot complete goes through curl once, and a takeover served
//! that way says so in the agent's log.

mod agent_wire;
mod render_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use agent_wire::{Idle, Reply, Step, Tls, Wire};
use render_support::prereq::{all, met, tool};

const DOC: &str = r#"{"id": "ocid1.privateip.oc1.phx.abc", "ipAddress": "172.16.2.10", "vnicId": "ocid1.vnic.oc1.phx.one"}"#;
const AFTER: &str = r#"{"after": true}"#;

fn prerequisites() -> bool {
    met(all([
        tool("openssl", &["version"]),
        tool("curl", &["--version"]),
    ]))
}

/// A work dir with a session key (a test vector's) and a token whose exp is in 2100: the library
/// signs as the instance principal without federating (the wire server checks no signature).
fn work_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(
        render_support::repo().join("tests/vectors/oci-signing/python-sdk-2048.pem"),
        run.join("session-key.pem"),
    )
    .unwrap();
    std::fs::write(
        run.join("token"),
        "4102444800 eyJ0.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Runs `script` in bash with the library sourced and OCI_WORK_DIR in `dir`; `args` are $1...
fn bash(dir: &Path, script: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!(
            ". '{}' || exit 99\nOCI_WORK_DIR='{}/run'\nOCI_MAX_TIME=5\n{script}",
            render_support::sign_lib().display(),
            dir.display()
        ))
        .arg("bash")
        .args(args)
        .envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each function of the library on the behaviour at $1 (every request to it gets the same
/// reply), each followed by a plain request to $2; one line per result: `what rc status body`.
const EVERY_FUNCTION: &str = r#"
show() { printf '%s %s %s %s via=%s\n' "$1" "$2" "$OCI_STATUS" "${OCI_BODY//$'\n'/\\n}" "${OCI_VIA:-}"; }
oci_http GET "$1" ''; show http $?
oci_http GET "$2" ''; show after $?
oci_call GET "$1"; show call-get $?
oci_call GET "$2"; show after $?
# The recheck's fast path, or the general call it falls back to (as claim_once does).
if oci_get_fast "$1"; then show fast 0; else oci_call GET "$1"; show fast-general $?; fi
oci_call GET "$2"; show after $?
oci_call PUT "$1" '{"vnicId": "ocid1.vnic.oc1.phx.two"}'; show call-put $?
OCI_CALL_METHOD=(PUT GET); OCI_CALL_URL=("$1" "$1?two"); OCI_CALL_BODY=('{"a": 1}' '')
oci_call_all; rc=$?
for k in 0 1; do OCI_STATUS=${OCI_CALL_STATUS[k]} OCI_BODY=${OCI_CALL_RESULT[k]} OCI_VIA=${OCI_CALL_VIA[k]:-}; show "all$k" "$rc"; done
oci_call GET "$2"; show after $?
oci_cleanup
"#;

struct Case {
    name: &'static str,
    reply: Reply,
    status: &'static str,
    body: &'static str,
    /// The server closes the connection after (or with) this answer.
    closes: bool,
}

fn case(name: &'static str, reply: Reply, status: &'static str, body: &'static str) -> Case {
    Case {
        name,
        reply,
        status,
        body,
        closes: false,
    }
}

fn closing(mut c: Case) -> Case {
    c.closes = true;
    c
}

const JSON: &str = "Content-Type: application/json";
const RID: &str =
    "opc-request-id: /0F3A9C1B2D4E4F60A1B2C3D4E5F60718/9B8A7C6D5E4F3A2B1C0D9E8F7A6B5C4D";

/// Every framing the client must read: OCI's (oci-wire.md) and the legal ones no transcript rules
/// out (RFC 9112).
fn cases() -> Vec<Case> {
    let ms = Duration::from_millis;
    vec![
        case("content-length", Reply::length("200 OK", &[JSON, RID], DOC), "200", DOC),
        case("empty list", Reply::length("200 OK", &[JSON], "[]"), "200", "[]"),
        case("lower-case names", Reply::raw(format!("HTTP/1.1 200 OK\r\ndate: Tue, 01 Dec 2026 10:00:00 GMT\r\ncontent-type: application/json\r\ncontent-length: {}\r\nopc-request-id: phx-1:abc\r\n\r\n{DOC}", DOC.len())), "200", DOC),
        case("upper-case names", Reply::raw(format!("HTTP/1.1 200 OK\r\nDATE: Tue, 01 Dec 2026 10:00:00 GMT\r\nCONTENT-LENGTH: {}\r\nOpc-Request-Id: /a/b\r\n\r\n{DOC}", DOC.len())), "200", DOC),
        case("repeated and unknown headers", Reply::length("200 OK", &[JSON, "X-Unknown: 1", "X-Unknown: 2", "Set-Cookie: a=1", "Set-Cookie: b=2", "Vary: Accept", "Vary: Origin", "Strict-Transport-Security: max-age=31536000; includeSubDomains;", "X-Content-Type-Options: nosniff"], DOC), "200", DOC),
        case("content-length twice", Reply::raw(format!("HTTP/1.1 200 OK\r\nContent-Length: {0}\r\nContent-Length: {0}\r\n\r\n{DOC}", DOC.len())), "200", DOC),
        case("content-length as a list", Reply::raw(format!("HTTP/1.1 200 OK\r\nContent-Length: {0}, {0}\r\n\r\n{DOC}", DOC.len())), "200", DOC),
        case("content-encoding utf-8", Reply::length("200 OK", &[JSON, "Content-Encoding: UTF-8"], DOC), "200", DOC),
        case("etag numeric", Reply::length("200 OK", &[JSON, "ETag: 367495352"], DOC), "200", DOC),
        case("etag quoted", Reply::length("200 OK", &[JSON, "etag: \"a6b0c1d2e3\""], DOC), "200", DOC),
        case("etag unquoted", Reply::length("200 OK", &[JSON, "ETag: 9a7f6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a"], DOC), "200", DOC),
        case("chunked", Reply::chunked("200 OK", &[JSON, "Server: server"], DOC, 16, "", &[]), "200", DOC),
        case("chunked, one chunk", Reply::chunked("200 OK", &[JSON], DOC, 4096, "", &[]), "200", DOC),
        case("chunked with extensions", Reply::chunked("200 OK", &[JSON], DOC, 7, ";name=value;x=\"y\"", &[]), "200", DOC),
        case("chunked with trailers", Reply::chunked("200 OK", &[JSON], DOC, 9, "", &["X-Trailer: 1", "opc-request-id: /t/u"]), "200", DOC),
        case("chunked upper-case hex", Reply::raw(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:X}\r\n{DOC}\r\n0\r\n\r\n", DOC.len())), "200", DOC),
        case("many small writes", Reply::length("200 OK", &[JSON, RID], DOC).trickled(7, ms(5)), "200", DOC),
        case("chunked in small writes", Reply::chunked("200 OK", &[JSON], DOC, 10, ";e=1", &["X-T: 1"]).trickled(5, ms(5)), "200", DOC),
        case("100 continue first", Reply::length("200 OK", &[JSON], DOC).after("HTTP/1.1 100 Continue\r\n\r\n"), "200", DOC),
        case("103 early hints first", Reply::length("200 OK", &[JSON], DOC).after("HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"), "200", DOC),
        case("error with keep-alive", Reply::length("409 Conflict", &[JSON, "Connection: keep-alive"], r#"{"code": "Conflict", "message": "busy"}"#), "409", r#"{"code": "Conflict", "message": "busy"}"#),
        closing(case("error with connection close", Reply::length("400 Bad Request", &[JSON, "Connection: close"], r#"{"code": "InvalidParameter", "message": "bad"}"#).then(Step::Fin), "400", r#"{"code": "InvalidParameter", "message": "bad"}"#)),
        closing(case("connection close, closed later", Reply::length("200 OK", &[JSON, "connection: Close"], DOC).idle(Idle::Fin(ms(300))), "200", DOC)),
        closing(case("no length, body to the close", Reply::raw(format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{DOC}")).then(Step::Fin), "200", DOC)),
        closing(case("http/1.0 answer", Reply::raw(format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{DOC}", DOC.len())).then(Step::Fin), "200", DOC)),
        closing(case("idle close (FIN) after the answer", Reply::length("200 OK", &[JSON], DOC).idle(Idle::Fin(ms(20))), "200", DOC)),
        closing(case("idle reset (RST) after the answer", Reply::length("200 OK", &[JSON], DOC).idle(Idle::Rst(ms(20))), "200", DOC)),
    ]
}

/// Runs EVERY_FUNCTION for one case against `url` (a behaviour at /b, plain answers at /after).
fn check(
    c: &Case,
    dir: &Path,
    wire: &Wire,
    base: &dyn Fn(&str) -> String,
    env: &[(&str, &str)],
) -> Vec<String> {
    let before = wire.connections();
    let (_, out, err) = bash(dir, EVERY_FUNCTION, &[&base("/b"), &base("/after")], env);
    let mut problems = Vec::new();
    let lines: Vec<&str> = out.lines().collect();
    let want = [
        "http", "after", "call-get", "after", "fast", "after", "call-put", "all0", "all1", "after",
    ];
    if lines.len() != want.len() {
        problems.push(format!(
            "{}: {} result lines: {out}{err}",
            c.name,
            lines.len()
        ));
        return problems;
    }
    for (line, what) in lines.iter().zip(want) {
        let via = line
            .rsplit_once(" via=")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let line = line.rsplit_once(" via=").map(|(l, _)| l).unwrap_or(line);
        let (status, body) = if what == "after" {
            ("200", AFTER)
        } else {
            (c.status, c.body)
        };
        let rc = if status.starts_with('2') { "0" } else { "1" };
        let fast_ok = what == "fast" && *line == format!("fast 0 {status} {body}");
        let expect = format!(
            "{} {rc} {status} {body}",
            if what == "fast" { "fast-general" } else { what }
        );
        if !fast_ok && *line != expect {
            problems.push(format!("{}: {line:?}, wanted {expect:?}\n{err}", c.name));
        }
        if via == "curl fallback" {
            problems.push(format!("{}: {what} needed the curl fallback", c.name));
        }
    }
    // Kept alive: slot 0's connection for every call, slot 1's for oci_call_all's second; and a
    // new one after the fast path refused an answer (it reads only a 200 with a length, and
    // drops the connection it left unread).
    let used = wire.connections() - before;
    // (After an error the signature is not reused: no fast try at all.)
    let fast_tried = out.contains("\nfast-general ") && c.status.starts_with('2');
    let kept = if fast_tried { 3 } else { 2 };
    if !c.closes && used != kept {
        problems.push(format!(
            "{}: {used} connections, wanted {kept} (kept alive)",
            c.name
        ));
    }
    if c.closes && used <= 2 {
        problems.push(format!(
            "{}: {used} connections after answers that close",
            c.name
        ));
    }
    problems
}

fn behaviour_server(reply: Reply) -> Wire {
    Wire::start_with(Some(Box::new(move |r| {
        if r.line().contains(" /after ") {
            Some(Reply::length("200 OK", &[JSON], AFTER))
        } else {
            Some(reply.clone())
        }
    })))
}

#[test]
fn every_framing_is_read_exactly_and_the_connection_goes_on() {
    if !prerequisites() {
        return;
    }
    let dir = work_dir();
    let mut problems = Vec::new();
    let n = cases().len();
    for c in cases() {
        let wire = behaviour_server(c.reply.clone());
        problems.extend(check(&c, dir.path(), &wire, &|p| wire.url(p), &[]));
    }
    assert!(
        problems.is_empty(),
        "{} of {n} cases:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_framing_is_read_exactly_over_tls() {
    if !prerequisites() || !met(tool("socat", &["-V"])) {
        return;
    }
    let dir = work_dir();
    let mut problems = Vec::new();
    // The cases where TLS changes what the client sees (s_client between it and the socket):
    // lengths, chunks, pauses, interim answers, and closes (socat's close_notify).
    let over_tls = [
        "content-length",
        "chunked with trailers",
        "chunked in small writes",
        "100 continue first",
        "error with connection close",
        "no length, body to the close",
        "idle close (FIN) after the answer",
        "idle reset (RST) after the answer",
    ];
    for c in cases().into_iter().filter(|c| over_tls.contains(&c.name)) {
        let wire = behaviour_server(c.reply.clone());
        let tls = Tls::start(&wire, dir.path());
        let ca = dir.path().join("tls.crt").to_string_lossy().into_owned();
        problems.extend(check(
            &c,
            dir.path(),
            &wire,
            &|p| tls.url(p),
            &[("OCI_CA_FILE", &ca)],
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // A failed handshake (a certificate nobody here vouches for): no answer, through curl
    // neither, in far less than the call's deadline; the next call still works.
    let plain = behaviour_server(Reply::length("200 OK", &[JSON], DOC));
    let tls = Tls::start(&plain, dir.path());
    let start = std::time::Instant::now();
    let (_, out, err) = bash(
        dir.path(),
        r#"oci_call GET "$1"; echo "$? $OCI_STATUS $OCI_VIA: $OCI_BODY"; oci_call GET "$2"; echo "$? $OCI_STATUS $OCI_BODY""#,
        &[&tls.url("/b"), &plain.url("/b")],
        &[],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}{err}");
    assert!(lines[0].starts_with("1 000 curl fallback: the kept-alive connection failed (no answer after a reconnect), and curl got no answer"), "{out}");
    assert_eq!(lines[1], format!("0 200 {DOC}"));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

/// A kept-alive connection the server closed while idle, seen before the next request (FIN or
/// RST: a new connection at once), or dropped as the next request went out (no answer: the
/// request is sent again, once, on a new connection).
#[test]
fn a_connection_closed_while_idle_or_as_the_request_goes_out_is_replaced() {
    if !prerequisites() {
        return;
    }
    let dir = work_dir();
    let ms = Duration::from_millis;
    let ok = |b: &str| Reply::length("200 OK", &[JSON], b);
    for (name, replies, pause) in [
        (
            "idle FIN before the request",
            vec![ok("1").idle(Idle::Fin(ms(20))), ok("2")],
            "0.3",
        ),
        (
            "idle RST before the request",
            vec![ok("1").idle(Idle::Rst(ms(20))), ok("2")],
            "0.3",
        ),
        (
            "FIN as the request goes out",
            vec![ok("1"), Reply::drop_with(Step::Fin), ok("2")],
            "0",
        ),
        (
            "RST as the request goes out",
            vec![ok("1"), Reply::drop_with(Step::Rst), ok("2")],
            "0",
        ),
    ] {
        for (method, script) in [
            (
                "GET",
                r#"oci_call GET "$1"; echo "$? $OCI_STATUS $OCI_BODY $OCI_VIA"; sleep "$2"; oci_call GET "$1"; echo "$? $OCI_STATUS $OCI_BODY $OCI_VIA""#,
            ),
            (
                "PUT",
                r#"oci_call PUT "$1" '{}'; echo "$? $OCI_STATUS $OCI_BODY $OCI_VIA"; sleep "$2"; oci_call PUT "$1" '{}'; echo "$? $OCI_STATUS $OCI_BODY $OCI_VIA""#,
            ),
        ] {
            let wire = Wire::start();
            wire.script(replies.clone());
            let (_, out, err) = bash(dir.path(), script, &[&wire.url("/x"), pause], &[]);
            assert_eq!(
                out, "0 200 1 kept-alive\n0 200 2 kept-alive\n",
                "{name}, {method}: {err}"
            );
            let seen = wire.seen();
            let conns: Vec<usize> = seen.iter().map(|r| r.conn).collect();
            let want: &[usize] = if replies.len() == 2 {
                &[0, 1]
            } else {
                &[0, 0, 1]
            };
            assert_eq!(conns, want, "{name}, {method}");
            assert_eq!(wire.left(), 0, "{name}, {method}");
        }
    }
}

/// Answers the kept-alive client cannot read (curl can, or they are plainly wrong): the call goes
/// through curl once, with the same signed headers and body, and says so (OCI_VIA); the secrets
/// never reach a command line.
#[test]
fn a_call_the_kept_alive_transport_cannot_complete_goes_through_curl_once() {
    if !prerequisites() {
        return;
    }
    let dir = work_dir();
    // curl as itself, its command line recorded: nothing secret may be on it.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let real = String::from_utf8(
        Command::new("bash")
            .args(["-c", "command -v curl"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let argv = dir.path().join("curl-argv");
    std::fs::write(
        bin.join("curl"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{}'\nexec {} \"$@\"\n",
            argv.display(),
            real.trim()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(bin.join("curl"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let broken = [
        (
            "an unknown transfer coding",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "a chunk size that is not hex",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        ),
        ("not HTTP/1.x", "HTTP/2 200\r\ncontent-length: 2\r\n\r\n{}"),
        (
            "lengths that disagree",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        ),
    ];
    for (name, bad) in broken {
        let bad = bad.to_string();
        let wire = Wire::start_with(Some(Box::new(move |r| {
            let curl = r
                .header("user-agent")
                .is_some_and(|u| u.starts_with("curl/"));
            Some(if curl {
                Reply::length("200 OK", &[JSON], DOC)
            } else {
                Reply::raw(bad.clone()).then(Step::Fin)
            })
        })));
        let (_, out, err) = bash(
            dir.path(),
            r#"oci_call PUT "$1" '{"vnicId": "v"}'; echo "$? $OCI_STATUS $OCI_VIA $OCI_BODY"
               OCI_CALL_METHOD=(PUT GET); OCI_CALL_URL=("$1" "$1?two"); OCI_CALL_BODY=('{"a": 1}' '')
               oci_call_all; echo "$? ${OCI_CALL_STATUS[*]} ${OCI_CALL_VIA[0]}/${OCI_CALL_VIA[1]} ${OCI_CALL_RESULT[1]}"
               oci_cleanup; ls "$OCI_WORK_DIR""#,
            &[&wire.url("/20160918/privateIps/x")],
            &[("PATH", &path)],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(format!("0 200 curl fallback {DOC}").as_str()),
            "{name}: {out}{err}"
        );
        assert_eq!(
            lines.get(1).copied(),
            Some(format!("0 200 200 curl fallback/curl fallback {DOC}").as_str()),
            "{name}: {out}{err}"
        );
        // Scratch files (headers, body) are gone: only the key and the token stay.
        assert_eq!(&lines[2..], ["session-key.pem", "token"], "{name}");
        // curl sent what the kept-alive client would have: the same signed headers and body.
        let seen = wire.seen();
        let put: Vec<_> = seen
            .iter()
            .filter(|r| r.line().starts_with("PUT "))
            .collect();
        assert_eq!(put.len(), 4, "{name}: a try and curl, twice");
        for pair in put.chunks(2) {
            for h in [
                "authorization",
                "date",
                "x-content-sha256",
                "content-length",
                "content-type",
                "host",
            ] {
                assert_eq!(pair[0].header(h), pair[1].header(h), "{name}: {h}");
                assert!(pair[1].header(h).is_some(), "{name}: curl sent no {h}");
            }
            assert_eq!(pair[0].body, pair[1].body, "{name}");
            assert!(
                pair[1].header("expect").is_none(),
                "{name}: curl waited for 100-continue"
            );
        }
    }
    let argv = std::fs::read_to_string(&argv).unwrap();
    assert_eq!(
        argv.lines().count(),
        12,
        "three curl calls per case: {argv}"
    );
    assert!(argv.contains(" -H @"), "{argv}");
    for secret in ["eyJ0", "Signature", "authorization", "ST$"] {
        assert!(
            !argv.contains(secret),
            "{secret} on curl's command line: {argv}"
        );
    }
}

/// The safety valve in a takeover: the agent (rendered, `--claim-once`) against the strict
/// simulator through a relay that gives the kept-alive client an answer it cannot frame for every
/// UpdatePrivateIp (what a transport bug would look like), and relays everything else, curl's
/// requests included. The VIP still moves, the simulator saw the agent's own signature, and the
/// log says which path served the move.
#[test]
fn a_takeover_the_kept_alive_transport_fails_goes_through_curl_and_says_so() {
    if !prerequisites() {
        return;
    }
    let sim = render_support::sim::SimPair::start();
    sim.be_node(1);
    assert_eq!(sim.vip_owner(), Some(0));
    let upstream = sim.base.trim_start_matches("http://").to_string();
    let up = upstream.clone();
    let relay = Wire::start_with(Some(Box::new(move |r| {
        let curl = r
            .header("user-agent")
            .is_some_and(|u| u.starts_with("curl/"));
        Some(if r.line().starts_with("PUT ") && !curl {
            Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-a-size\r\n")
        } else {
            Reply::relay(&up)
        })
    })));
    let dir = tempfile::tempdir().unwrap();
    let settings = |endpoint: &str| {
        format!("RECHECK_INTERVAL='1'\nBACKOFF_INITIAL='1'\nBACKOFF_MAX='1'\nCALL_DEADLINE='10'\nOCI_ENDPOINT='{endpoint}'\n")
    };
    let run = |dir: &Path| {
        let out = Command::new("bash")
            .arg(dir.join("vip-agent"))
            .arg("--claim-once")
            .env("VIPSETUP_AGENT_ENV", dir.join("agent.env"))
            // No syslog here: log lines go to stderr.
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    dir.join("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::write(dir.path().join("bin/logger"), "#!/bin/sh\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        dir.path().join("bin/logger"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    sim.write_agent(1, dir.path(), &settings(&relay.url("")));
    sim.clear_log();
    let (ok, log) = run(dir.path());
    assert!(ok, "{log}");
    assert_eq!(sim.vip_owner(), Some(1), "{log}");
    let moved: Vec<&str> = log.lines().filter(|l| l.contains("moved VIP")).collect();
    assert_eq!(moved.len(), 1, "{log}");
    assert!(moved[0].ends_with(" via curl fallback"), "{log}");
    for bad in [
        "unbound variable",
        "syntax error",
        "bad substitution",
        "command not found",
    ] {
        assert!(!log.contains(bad), "{log}");
    }
    // One update reached the simulator (curl's; the refused answer was the relay's own), signed
    // by the agent and accepted.
    let puts: Vec<(String, u16)> = sim
        .api_calls()
        .into_iter()
        .filter(|(op, _)| op == "UpdatePrivateIp")
        .collect();
    assert_eq!(puts, [("UpdatePrivateIp".to_string(), 200)]);
    let seen = relay.seen();
    let tried: Vec<_> = seen
        .iter()
        .filter(|r| r.line().starts_with("PUT "))
        .collect();
    assert_eq!(tried.len(), 2, "the kept-alive try, then curl's");

    // The same takeover with a transport that works says so too.
    let direct = tempfile::tempdir().unwrap();
    std::fs::create_dir(direct.path().join("bin")).unwrap();
    std::fs::copy(
        dir.path().join("bin/logger"),
        direct.path().join("bin/logger"),
    )
    .unwrap();
    sim.write_agent(0, direct.path(), &settings(&sim.base));
    sim.be_node(0);
    let (ok, log) = run(direct.path());
    assert!(ok, "{log}");
    assert_eq!(sim.vip_owner(), Some(0), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("moved VIP") && l.ends_with(" via kept-alive")),
        "{log}"
    );
}
