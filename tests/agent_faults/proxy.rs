//! A fault proxy between the agent and the simulator: it reads each HTTP/1.1 request, names the
//! operation it is (including which metadata file), and either forwards it (the answer relayed
//! byte for byte) or plays a fault armed for that operation: an OCI error answer, a refused
//! connection, a reset before or after the request reached the server, a kept-alive connection
//! closed by the server as the request goes out (FIN or RST), or an answer that stalls in the
//! middle of its body, or TLS handshakes that fail. The API (and federation, and alerts) is
//! served over TLS, as OCI serves it, so the agent's production transport (a kept-alive
//! `openssl s_client`) is the one under test; the metadata service over plain http, as on a
//! node. Every request and what was done with it is logged with its time.

use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What an armed fault does to a request of its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An OCI error answer (`Connection: close` on some, as OCI's front ends do on errors).
    Status(u16, &'static str, &'static str),
    /// The connection is reset, and new connections are refused for a while (nothing listens).
    Refused,
    /// Reset before the request reached the server: nothing was done.
    ResetBefore,
    /// The server did the request, then the connection was reset with no answer.
    ResetAfter,
    /// The server had closed the kept-alive connection (FIN) just as the request went out.
    RaceFin,
    /// The same with a reset (RST).
    RaceRst,
    /// The answer's headers and half its body, then nothing for `ms`, then the connection closes.
    Stall(u64),
    /// The connection is reset and the next `count` TLS handshakes fail (a fatal alert).
    TlsFail,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: Instant,
    /// When the request's handling ended (answer relayed, fault played out).
    pub done: Instant,
    pub op: String,
    /// "ok <status>" when forwarded, else the fault's name.
    pub action: String,
}

#[derive(Default)]
struct Armed {
    op: String,
    fault: Option<Fault>,
    remaining: u32,
}

#[derive(Default)]
struct Shared {
    armed: Armed,
    log: Vec<Event>,
    /// Per listening port: refused until then.
    refuse_until: std::collections::HashMap<u16, Instant>,
    /// Handshakes still to fail, and the operation that armed them.
    tls_fail: (u32, String),
}

/// The proxy's two listeners: the API over TLS (`port`) and the metadata service (`imds_port`).
pub struct Proxy {
    pub port: u16,
    pub imds_port: u16,
    /// The CA that signed the TLS listener's certificate (for the agent's OCI_CA_FILE).
    pub ca_pem: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    accept: Vec<JoinHandle<()>>,
}

/// How long new connections are refused after a `Refused` fault.
pub const REFUSE_FOR: Duration = Duration::from_millis(700);

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let (tls, ca_pem) = tls_config();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut ports = Vec::new();
        let mut accept = Vec::new();
        for tls in [Some(tls), None] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            ports.push(port);
            let (shared, stop) = (shared.clone(), stop.clone());
            accept.push(std::thread::spawn(move || {
                accept_loop(listener, port, upstream, tls, shared, stop)
            }));
        }
        Proxy {
            port: ports[0],
            imds_port: ports[1],
            ca_pem,
            shared,
            stop,
            accept,
        }
    }

    /// The API's base URL (https).
    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The metadata service's base URL (http).
    pub fn imds_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.imds_port)
    }

    /// The next `count` requests of `op` get `fault`.
    pub fn arm(&self, op: &str, fault: Fault, count: u32) {
        let mut g = self.shared.lock().unwrap();
        g.armed = Armed {
            op: op.into(),
            fault: Some(fault),
            remaining: count,
        };
    }

    /// How many armed faults are still to be played.
    pub fn remaining(&self) -> u32 {
        self.shared.lock().unwrap().armed.remaining
    }

    pub fn log(&self) -> Vec<Event> {
        self.shared.lock().unwrap().log.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.accept.drain(..) {
            let _ = t.join();
        }
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it (as a DNS name too: the agent checks the
/// host name it connects to with `openssl s_client -verify_hostname`).
fn tls_config() -> (Arc<rustls::ServerConfig>, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::default();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "agent fault proxy CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    // (CertificateParams::new would turn "127.0.0.1" into an IP entry only: OpenSSL's host name
    // check wants a DNS entry with that text.)
    let mut leaf = rcgen::CertificateParams::default();
    leaf.subject_alt_names = vec![
        rcgen::SanType::DnsName("127.0.0.1".try_into().unwrap()),
        rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()),
    ];
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    (Arc::new(cfg), ca.pem())
}

/// A TLS alert record: fatal (2), handshake_failure (40).
const TLS_ALERT: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

fn accept_loop(
    listener: TcpListener,
    port: u16,
    upstream: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
) {
    let mut listener = Some(listener);
    while !stop.load(Ordering::SeqCst) {
        let refuse = shared
            .lock()
            .unwrap()
            .refuse_until
            .get(&port)
            .is_some_and(|t| Instant::now() < *t);
        if refuse {
            // Nothing listens: connections are refused by the kernel.
            listener = None;
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => {
                match TcpListener::bind(("127.0.0.1", port)) {
                    Ok(l) => listener = Some(l),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
                continue;
            }
        };
        l.set_nonblocking(true).unwrap();
        let client = match l.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
        };
        client.set_nonblocking(false).unwrap();
        let _ = client.set_nodelay(true);
        let (shared, stop) = (shared.clone(), stop.clone());
        let stream: Box<dyn Stream> = match &tls {
            Some(cfg) => {
                let failing = {
                    let mut g = shared.lock().unwrap();
                    if g.tls_fail.0 > 0 {
                        g.tls_fail.0 -= 1;
                        Some(g.tls_fail.1.clone())
                    } else {
                        None
                    }
                };
                if let Some(op) = failing {
                    let at = Instant::now();
                    let mut c = client;
                    let _ = c.write_all(TLS_ALERT);
                    let _ = c.shutdown(Shutdown::Both);
                    shared.lock().unwrap().log.push(Event {
                        at,
                        done: Instant::now(),
                        op,
                        action: HANDSHAKE_FAILED.into(),
                    });
                    continue;
                }
                let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
                let raw = client.try_clone().unwrap();
                Box::new(Tls(rustls::StreamOwned::new(conn, client), raw))
            }
            None => Box::new(client),
        };
        std::thread::spawn(move || serve(stream, port, upstream, shared, stop));
    }
}

/// The action of a connection whose TLS handshake the fault failed: the proxy never sees the
/// request it would have carried, and names the event after the call the fault is armed for.
pub const HANDSHAKE_FAILED: &str = "tls handshake failed";

/// A client connection: plain or TLS, with its socket for resets and shutdowns.
trait Stream: Read + Write + Send {
    fn tcp(&self) -> &TcpStream;
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

struct Tls(
    rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
    TcpStream,
);

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Tls {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Stream for Tls {
    fn tcp(&self) -> &TcpStream {
        &self.1
    }
}

/// The operation a request is, as the simulator's log names them, with the metadata files apart.
pub fn classify(method: &str, target: &str) -> String {
    let path = target.split('?').next().unwrap_or_default();
    let query = target.contains('?');
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    let named = |s: &str| s.to_string();
    match (method, seg.as_slice()) {
        ("GET", ["opc", _, "identity", "cert.pem"]) => named("ImdsCert"),
        ("GET", ["opc", _, "identity", "key.pem"]) => named("ImdsKey"),
        ("GET", ["opc", _, "identity", "intermediate.pem"]) => named("ImdsIntermediate"),
        ("GET", ["opc", _, "vnics", ..]) => named("ImdsVnics"),
        ("GET", ["opc", ..]) => named("Imds"),
        ("POST", ["v1", "x509"]) => named("FederateX509"),
        ("GET", ["20160918", "privateIps"]) if query => named("ListPrivateIps"),
        ("POST", ["20160918", "privateIps"]) => named("CreatePrivateIp"),
        ("GET", ["20160918", "privateIps", _]) => named("GetPrivateIp"),
        ("PUT", ["20160918", "privateIps", _]) => named("UpdatePrivateIp"),
        ("GET", ["20160918", "ipv6"]) if query => named("ListIpv6s"),
        ("POST", ["20160918", "ipv6"]) => named("CreateIpv6"),
        ("GET", ["20160918", "ipv6", _]) => named("GetIpv6"),
        ("PUT", ["20160918", "ipv6", _]) => named("UpdateIpv6"),
        ("GET", ["20160918", "vnics", _]) => named("GetVnic"),
        ("PUT", ["20160918", "vnics", _]) => named("UpdateVnic"),
        ("POST", ["20181201", "topics", _, "messages"]) => named("PublishMessage"),
        _ => format!("{method} {path}"),
    }
}

struct Request {
    head: Vec<u8>,
    body: Vec<u8>,
    op: String,
}

fn read_request(r: &mut BufReader<Box<dyn Stream>>) -> Option<Request> {
    let mut head = Vec::new();
    let mut len = 0usize;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&line).to_string();
        if let Some((k, v)) = text.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let first = String::from_utf8_lossy(&head).to_string();
    let mut words = first.split_whitespace();
    let (method, target) = (words.next()?.to_string(), words.next()?.to_string());
    Some(Request {
        op: classify(&method, &target),
        head,
        body,
    })
}

/// Reads one answer from the server: its bytes as received, and whether it asked to close.
fn read_answer(r: &mut BufReader<TcpStream>) -> Option<(Vec<u8>, usize, bool)> {
    let mut raw = Vec::new();
    let mut len = 0usize;
    let mut chunked = false;
    let mut close = false;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some((k, v)) = text.split_once(':') {
            match k.trim() {
                "content-length" => len = v.trim().parse().ok()?,
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" => close = v.contains("close"),
                _ => {}
            }
        }
        raw.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let head_len = raw.len();
    if chunked {
        loop {
            let mut size = Vec::new();
            r.read_until(b'\n', &mut size).ok()?;
            raw.extend_from_slice(&size);
            let n = usize::from_str_radix(
                String::from_utf8_lossy(&size)
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or("0"),
                16,
            )
            .ok()?;
            let mut chunk = vec![0; n + 2];
            if n == 0 {
                // trailers up to the empty line
                loop {
                    let mut t = Vec::new();
                    r.read_until(b'\n', &mut t).ok()?;
                    raw.extend_from_slice(&t);
                    if t == b"\r\n" || t.is_empty() {
                        break;
                    }
                }
                break;
            }
            r.read_exact(&mut chunk).ok()?;
            raw.extend_from_slice(&chunk);
        }
    } else {
        let mut body = vec![0; len];
        r.read_exact(&mut body).ok()?;
        raw.extend_from_slice(&body);
    }
    Some((raw, head_len, close))
}

/// Makes the close of `s` a reset: SO_LINGER on with a zero timeout (close(2) then sends RST).
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd as _;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a pointer to a linger value of the size given.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn serve(
    client: Box<dyn Stream>,
    port: u16,
    upstream: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
) {
    let mut c = BufReader::new(client);
    let mut server: Option<(TcpStream, BufReader<TcpStream>)> = None;
    let mut served = 0u32;
    while let Some(req) = read_request(&mut c) {
        let at = Instant::now();
        let fault = {
            let mut g = shared.lock().unwrap();
            if g.armed.remaining > 0 && g.armed.op == req.op {
                g.armed.remaining -= 1;
                if g.armed.fault == Some(Fault::TlsFail) {
                    // This request's connection is reset; the count is of failed handshakes.
                    g.tls_fail = (g.armed.remaining + 1, req.op.clone());
                    g.armed.remaining = 0;
                }
                g.armed.fault
            } else {
                None
            }
        };
        // Logged as it arrives (a case may end before the server answers), completed after.
        let entry = {
            let mut g = shared.lock().unwrap();
            g.log.push(Event {
                at,
                done: at,
                op: req.op.clone(),
                action: if fault.is_some() {
                    "faulted".into()
                } else {
                    "in flight".into()
                },
            });
            g.log.len() - 1
        };
        let log = |action: String| {
            let mut g = shared.lock().unwrap();
            let e = &mut g.log[entry];
            e.done = Instant::now();
            e.action = action;
        };
        served += 1;
        match fault {
            Some(Fault::Status(status, code, message)) => {
                let body = format!("{{\"code\": \"{code}\", \"message\": \"{message}\"}}");
                // OCI closes the connection after some errors (oci-wire.md); here the 4xx ones.
                let close = status < 500;
                let head = format!(
                    "HTTP/1.1 {status} {code}\r\nContent-Type: application/json\r\nopc-request-id: proxy/{served}\r\nContent-Length: {}\r\n{}\r\n",
                    body.len(),
                    if close { "Connection: close\r\n" } else { "" }
                );
                let _ = c.get_mut().write_all(format!("{head}{body}").as_bytes());
                let _ = c.get_mut().flush();
                log(format!("status {status}"));
                if close {
                    return;
                }
                continue;
            }
            Some(Fault::Refused) => {
                shared
                    .lock()
                    .unwrap()
                    .refuse_until
                    .insert(port, Instant::now() + REFUSE_FOR);
                reset(c.get_ref().tcp());
                log("refused".into());
                return;
            }
            Some(Fault::TlsFail) => {
                reset(c.get_ref().tcp());
                log("reset (the next handshake fails)".into());
                return;
            }
            Some(Fault::ResetBefore) => {
                reset(c.get_ref().tcp());
                log("reset before".into());
                return;
            }
            Some(Fault::RaceFin) => {
                let _ = c.get_ref().tcp().shutdown(Shutdown::Both);
                log("closed (fin)".into());
                return;
            }
            Some(Fault::RaceRst) => {
                reset(c.get_ref().tcp());
                log("closed (rst)".into());
                return;
            }
            _ => {}
        }
        // Forward, on a kept-alive connection to the server (a new one when it closed).
        let mut answer = None;
        for _ in 0..2 {
            if server.is_none() {
                match TcpStream::connect(upstream) {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        let r = BufReader::new(s.try_clone().unwrap());
                        server = Some((s, r));
                    }
                    Err(_) => break,
                }
            }
            let (s, r) = server.as_mut().unwrap();
            if s.write_all(&req.head).is_ok() && s.write_all(&req.body).is_ok() {
                answer = read_answer(r);
            }
            if answer.is_some() {
                break;
            }
            server = None;
        }
        let Some((raw, head_len, close)) = answer else {
            reset(c.get_ref().tcp());
            log("no answer from the server".into());
            return;
        };
        if close {
            server = None;
        }
        let status = String::from_utf8_lossy(&raw[..raw.len().min(12)])
            .split_whitespace()
            .nth(1)
            .unwrap_or("?")
            .to_string();
        match fault {
            Some(Fault::ResetAfter) => {
                reset(c.get_ref().tcp());
                log(format!("reset after ({status} dropped)"));
                return;
            }
            Some(Fault::Stall(ms)) => {
                let cut = head_len + (raw.len() - head_len) / 2;
                let _ = c.get_mut().write_all(&raw[..cut]);
                let _ = c.get_mut().flush();
                log(format!("stalling {ms} ms"));
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.get_ref().tcp().shutdown(Shutdown::Both);
                log(format!("stalled {ms} ms"));
                return;
            }
            _ => {}
        }
        if c.get_mut().write_all(&raw).is_err() || c.get_mut().flush().is_err() {
            log(format!("ok {status} (client gone)"));
            return;
        }
        log(format!("ok {status}"));
        if close {
            return;
        }
    }
}
