//! The stand-alone simulator (`vipsetup simulator serve`) as a process of its own, for the tests
//! that run the real binary against it: its address read from its first line, the process
//! stopped by PID however the test ends, and one plain request to its unsigned control API.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

/// A running `vipsetup simulator serve`; dropping it kills and reaps the process.
pub struct Standalone {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the simulator printed it.
    pub base: String,
}

impl Standalone {
    /// `vipsetup simulator serve` on 127.0.0.1:0 with the world file `world` and `extra`
    /// arguments, run by `bin` (the binary, with the caller's directory and environment).
    pub fn serve(mut bin: Command, world: impl AsRef<OsStr>, extra: &[&str]) -> Standalone {
        bin.args(["simulator", "serve", "--listen", "127.0.0.1:0", "--world"])
            .arg(world)
            .args(extra);
        Self::start(bin)
    }

    /// Spawns `cmd` (a `vipsetup simulator serve --listen 127.0.0.1:0 ...` command line) with
    /// its stdout piped here, and reads `listening on <base>` from it.
    pub fn start(mut cmd: Command) -> Standalone {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the simulator");
        let stdout = child.stdout.take().unwrap();
        // Owned from here on, so an unexpected first line still stops the process.
        let mut sim = Standalone {
            child,
            base: String::new(),
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        sim.base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the simulator: {line:?}"))
            .to_string();
        sim
    }

    /// One plain HTTP/1.1 request to the control API (`/_sim/...`); the whole answer, status
    /// line and headers included.
    pub fn control(&self, method: &str, path: &str, body: &str) -> String {
        let addr = self.base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// [`Standalone::control`]'s answer body.
    pub fn control_body(&self, method: &str, path: &str, body: &str) -> String {
        self.control(method, path, body)
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
