//! A scripted HTTP/1.1 server on 127.0.0.1 for the agent's own client (templates/agent/oci-sign/
//! 30-connection.sh, 40-http.sh): each request it reads is answered by the next scripted `Reply`,
//! byte for byte as written (any framing, legal or not), in as many writes and pauses as it says,
//! and the connection then kept, closed (FIN) or reset (RST). What OCI sends and what no
//! transcript rules out is listed in ../shared/reference/oci-wire.md; the builders below name it.
//! Optionally behind TLS (`socat OPENSSL-LISTEN` in front: a close of ours becomes its
//! close_notify), and optionally a relay to another server (the simulator) for requests the
//! script leaves alone.

#![allow(dead_code)]

#[path = "../support/tls.rs"]
mod tls;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One thing the server does on a connection.
#[derive(Clone, Debug)]
pub enum Step {
    /// Writes these bytes (one write).
    Send(Vec<u8>),
    Pause(Duration),
    /// Closes: FIN, after what was sent.
    Fin,
    /// Resets: RST (SO_LINGER 0, then close), whatever was sent.
    Rst,
    /// Forwards the request to this server (one connection, `connection: close` added) and sends
    /// its answer back as it came.
    Relay(String),
}

/// The answer to one request: its steps, then what happens to the idle connection.
#[derive(Clone, Debug)]
pub struct Reply {
    pub steps: Vec<Step>,
    /// After the answer: close the idle connection this long after it (FIN or RST), or keep it.
    pub idle: Idle,
}

#[derive(Clone, Copy, Debug)]
pub enum Idle {
    Keep,
    Fin(Duration),
    Rst(Duration),
}

impl Reply {
    /// These exact bytes, in one write, the connection kept.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            steps: vec![Step::Send(bytes.into())],
            idle: Idle::Keep,
        }
    }

    /// A status line, headers as given and `body` sized by Content-Length (RFC 9112 6.3; how every
    /// API answer in oci-wire.md is framed).
    pub fn length(status: &str, headers: &[&str], body: &str) -> Reply {
        let mut h: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        h.push(format!("Content-Length: {}", body.len()));
        Reply::raw(format!(
            "HTTP/1.1 {status}\r\n{}\r\n\r\n{body}",
            h.join("\r\n")
        ))
    }

    /// `body` in chunks of `size` bytes (RFC 9112 7.1; IMDS since 2024 in oci-wire.md), each size
    /// line with `ext` after it (a chunk extension, e.g. `;name=value`; '' for none), and the
    /// last chunk followed by `trailers` (whole lines, e.g. `X-Trailer: 1`).
    pub fn chunked(
        status: &str,
        headers: &[&str],
        body: &str,
        size: usize,
        ext: &str,
        trailers: &[&str],
    ) -> Reply {
        let mut out = format!("HTTP/1.1 {status}\r\n");
        for h in headers {
            out += &format!("{h}\r\n");
        }
        out += "Transfer-Encoding: chunked\r\n\r\n";
        for part in body.as_bytes().chunks(size.max(1)) {
            out += &format!(
                "{:x}{ext}\r\n{}\r\n",
                part.len(),
                String::from_utf8_lossy(part)
            );
        }
        out += &format!("0{ext}\r\n");
        for t in trailers {
            out += &format!("{t}\r\n");
        }
        out += "\r\n";
        Reply::raw(out)
    }

    /// The same bytes in writes of `size` bytes with `pause` between them.
    pub fn trickled(mut self, size: usize, pause: Duration) -> Reply {
        let mut steps = Vec::new();
        for s in self.steps {
            match s {
                Step::Send(b) => {
                    for part in b.chunks(size.max(1)) {
                        steps.push(Step::Send(part.to_vec()));
                        steps.push(Step::Pause(pause));
                    }
                }
                other => steps.push(other),
            }
        }
        self.steps = steps;
        self
    }

    /// Sent after `first` (e.g. a 1xx interim answer).
    pub fn after(mut self, first: &str) -> Reply {
        self.steps.insert(0, Step::Send(first.as_bytes().to_vec()));
        self
    }

    pub fn then(mut self, step: Step) -> Reply {
        self.steps.push(step);
        self
    }

    pub fn idle(mut self, idle: Idle) -> Reply {
        self.idle = idle;
        self
    }

    /// Reads the request and closes (FIN) or resets (RST) without a byte of answer: a kept-alive
    /// connection the server dropped as the request went out (oci-wire.md: RemoteDisconnected).
    pub fn drop_with(step: Step) -> Reply {
        Reply {
            steps: vec![step],
            idle: Idle::Keep,
        }
    }

    pub fn relay(to: &str) -> Reply {
        Reply {
            steps: vec![Step::Relay(to.to_string())],
            idle: Idle::Keep,
        }
    }
}

/// A request as the server read it, with the number of the connection it came on (0, 1, ...).
#[derive(Clone, Debug)]
pub struct Request {
    pub conn: usize,
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// The first header called `name` (any case), its value as sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim_start())
        })
    }
}

type Responder = Box<dyn Fn(&Request) -> Option<Reply> + Send + Sync>;

struct Shared {
    script: Mutex<VecDeque<Reply>>,
    /// Asked first for every request: Some(reply) answers it; None takes the script's next.
    respond: Option<Responder>,
    seen: Mutex<Vec<Request>>,
    conns: Mutex<usize>,
}

/// The server; its threads end with the test process (each blocks on its own socket only).
pub struct Wire {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Wire {
    pub fn start() -> Wire {
        Wire::start_with(None)
    }

    /// A server that asks `respond` first for every request.
    pub fn start_with(respond: Option<Responder>) -> Wire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            script: Mutex::new(VecDeque::new()),
            respond,
            seen: Mutex::new(Vec::new()),
            conns: Mutex::new(0),
        });
        let s = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = {
                    let mut c = s.conns.lock().unwrap();
                    *c += 1;
                    *c - 1
                };
                let s = s.clone();
                thread::spawn(move || serve(stream, n, &s));
            }
        });
        Wire { port, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Queues answers, in order, for the next requests (on any connection).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    pub fn seen(&self) -> Vec<Request> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        *self.shared.conns.lock().unwrap()
    }

    pub fn left(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }
}

fn serve(mut stream: TcpStream, conn: usize, shared: &Shared) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut stream, &mut buf, conn) else {
            return;
        };
        shared.seen.lock().unwrap().push(req.clone());
        let reply = shared
            .respond
            .as_ref()
            .and_then(|f| f(&req))
            .or_else(|| shared.script.lock().unwrap().pop_front())
            .unwrap_or_else(|| {
                Reply::length(
                    "599 Not Scripted",
                    &["Connection: close"],
                    "{\"code\": \"NotScripted\"}",
                )
                .then(Step::Fin)
            });
        for step in &reply.steps {
            match step {
                Step::Send(b) => {
                    if stream.write_all(b).is_err() {
                        return;
                    }
                }
                Step::Pause(d) => thread::sleep(*d),
                Step::Fin => {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                Step::Rst => return reset(stream),
                Step::Relay(to) => {
                    let Some(answer) = relay(to, &req) else {
                        return reset(stream);
                    };
                    let _ = stream.write_all(&answer);
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
        match reply.idle {
            Idle::Keep => {}
            Idle::Fin(d) => {
                thread::sleep(d);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Idle::Rst(d) => {
                thread::sleep(d);
                return reset(stream);
            }
        }
    }
}

/// Closes with RST: SO_LINGER on with a zero timeout makes close() abort the connection.
fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a linger struct of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// One request: the head up to the empty line, then Content-Length bytes of body.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, conn: usize) -> Option<Request> {
    let mut chunk = [0u8; 65536];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut req = Request {
        conn,
        head,
        body: Vec::new(),
    };
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < end + 4 + len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    req.body = buf[end + 4..end + 4 + len].to_vec();
    buf.drain(..end + 4 + len);
    Some(req)
}

/// The request sent on to `to` (host:port) on a connection of its own, closed after the answer.
fn relay(to: &str, req: &Request) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(to).ok()?;
    up.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head: Vec<&str> = req
        .head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
    out.extend_from_slice(&req.body);
    up.write_all(&out).ok()?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).ok()?;
    Some(answer)
}

/// A TLS front (socat) for `wire` with a self-signed certificate for `localhost` in `dir`
/// (`tls.crt`: the CA to trust); stopped by PID on drop.
pub struct Tls {
    pub port: u16,
    child: std::process::Child,
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tls {
    pub fn start(wire: &Wire, dir: &std::path::Path) -> Tls {
        tls::self_signed_localhost(dir);
        let port = tls::free_port();
        let tls = Tls {
            port,
            child: std::process::Command::new("socat")
                .arg(format!(
                    "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={},key={}",
                    dir.join("tls.crt").display(),
                    dir.join("tls.key").display()
                ))
                .arg(format!("TCP:127.0.0.1:{}", wire.port))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // (The probe fails socat's handshake: it never reaches the wire server.)
                thread::sleep(Duration::from_millis(50));
                return tls;
            }
            thread::sleep(Duration::from_millis(50));
        }
        drop(tls);
        panic!("socat did not listen on {port}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
}
