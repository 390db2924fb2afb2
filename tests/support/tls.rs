//! What a local TLS server in a test (a socat front, an `openssl s_server`) needs: a free port
//! and a self-signed certificate for `localhost` made by the real `openssl req` (`tls.key` and
//! `tls.crt` in a directory, the certificate also being the CA a client is told to trust).
//!
//! Included by path (`#[path = ".../support/tls.rs"]`) where a suite needs one.

#![allow(dead_code)]

use std::path::Path;

/// Writes `dir/tls.key` and `dir/tls.crt` (CN and subjectAltName `localhost`, valid one day).
pub fn self_signed_localhost(dir: &Path) {
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(dir.join("tls.key"))
        .arg("-out")
        .arg(dir.join("tls.crt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port on 127.0.0.1 that was free a moment ago (for a server that takes a port number).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
