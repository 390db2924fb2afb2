//! What the client reports about each API attempt, for `--debug` (one line per attempt on
//! stderr) and for progress displays. Only the operation, method, URL, status, OCI error code,
//! opc-request-id, timing and retry decision are reported: never headers or bodies, so no key,
//! signature, session token or pass phrase can reach a log.

use std::sync::OnceLock;
use std::time::Duration;

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult<'a> {
    /// An HTTP answer; `code` is OCI's error code (empty on success or when the body had none).
    Status { status: u16, code: &'a str },
    /// No HTTP answer (connect, TLS, timeout); the text names the cause, not the request.
    NoAnswer(&'a str),
}

/// What the client does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    RetryAfter(Duration),
    /// A 401 with a session token or instance principal: renew it and send again.
    RenewToken,
    GiveUp,
}

/// One attempt of one operation.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    pub operation: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    /// 1-based.
    pub attempt: u32,
    pub result: AttemptResult<'a>,
    pub opc_request_id: &'a str,
    /// This attempt's own time.
    pub duration: Duration,
    pub next: Next,
}

/// Receives every attempt the client makes (set once per process by the CLI).
pub trait CallObserver: Send + Sync {
    fn attempt(&self, a: &Attempt<'_>);
}

static OBSERVER: OnceLock<Box<dyn CallObserver>> = OnceLock::new();

/// Installs the process's observer; a second call is ignored (returns false).
pub fn set_observer(o: Box<dyn CallObserver>) -> bool {
    OBSERVER.set(o).is_ok()
}

pub(crate) fn report(a: &Attempt<'_>) {
    if let Some(o) = OBSERVER.get() {
        o.attempt(a);
    }
}

/// The `--debug` line: `debug: GetSubnet GET https://... -> 200 (opc-request-id X, 41 ms, attempt 1)`.
pub fn line(a: &Attempt<'_>) -> String {
    let result = match a.result {
        AttemptResult::Status { status, code: "" } => status.to_string(),
        AttemptResult::Status { status, code } => format!("{status} {code}"),
        AttemptResult::NoAnswer(why) => format!("no answer ({why})"),
    };
    let next = match a.next {
        Next::Done => String::new(),
        Next::RetryAfter(d) => format!("; retrying in {:.1} s", d.as_secs_f64()),
        Next::RenewToken => "; renewing the token and sending again".into(),
        Next::GiveUp => "; giving up".into(),
    };
    format!(
        "debug: {} {} {} -> {result} (opc-request-id {}, {} ms, attempt {}){next}",
        a.operation,
        a.method,
        a.url,
        a.opc_request_id,
        a.duration.as_millis(),
        a.attempt
    )
}

/// Writes each attempt to stderr (`--debug`, `VIPSETUP_LOG=debug`).
pub struct StderrLog;

impl CallObserver for StderrLog {
    fn attempt(&self, a: &Attempt<'_>) {
        eprintln!("{}", line(a));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_holds_what_a_user_follows_up_with() {
        let a = Attempt {
            operation: "LaunchInstance",
            method: "POST",
            url: "https://iaas.ap-tokyo-1.oraclecloud.com/20160918/instances",
            attempt: 2,
            result: AttemptResult::Status {
                status: 500,
                code: "InternalError",
            },
            opc_request_id: "ABC",
            duration: Duration::from_millis(312),
            next: Next::RetryAfter(Duration::from_millis(2500)),
        };
        assert_eq!(
            line(&a),
            "debug: LaunchInstance POST https://iaas.ap-tokyo-1.oraclecloud.com/20160918/instances -> 500 InternalError (opc-request-id ABC, 312 ms, attempt 2); retrying in 2.5 s"
        );
    }
}
