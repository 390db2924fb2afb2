//! The fault matrix, generated: every state the agent can be in, every call it makes in that
//! state, every failure the API (or the network on the way) can give, once or for several calls.
//! A (state, call) pair is listed only where the agent really makes that call in that state: the
//! runner fails a case whose fault never fired, so a pair that is not reached shows up.

use super::proxy::Fault;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// A new node: no cache, no token; keepalived says MASTER at once.
    FirstStart,
    /// The agent restarted (keepalived restarted) with its cache on disk; then MASTER.
    RestartCached,
    /// A MASTER whose VIPs are confirmed, rechecking; the VIPs are then moved away.
    Steady,
    /// A BACKUP warmed up (look-ups done, tools started), then MASTER: the takeover.
    Takeover,
    /// BACKUP from the start: it looks up and reports, and must never move anything.
    Backup,
    /// MASTER, then BACKUP while the takeover is held by the fault: nothing may be sent after.
    Demoted,
    /// `systemctl reload keepalived`: a new agent, no state line, the VIP on the interface.
    Reload,
    /// A MASTER whose session token expires every few seconds: renewals meet the fault.
    TokenExpiry,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::FirstStart => "first start",
            State::RestartCached => "restart with cache",
            State::Steady => "MASTER steady",
            State::Takeover => "takeover",
            State::Backup => "BACKUP",
            State::Demoted => "demoted in flight",
            State::Reload => "reload",
            State::TokenExpiry => "token expiring",
        }
    }

    pub const ALL: [State; 8] = [
        State::FirstStart,
        State::RestartCached,
        State::Steady,
        State::Takeover,
        State::Backup,
        State::Demoted,
        State::Reload,
        State::TokenExpiry,
    ];

    /// The calls the agent makes in this state, as the proxy names them.
    pub fn calls(self) -> &'static [&'static str] {
        match self {
            State::FirstStart => &[
                "ImdsVnics",
                "ImdsCert",
                "ImdsKey",
                "ImdsIntermediate",
                "FederateX509",
                "ListPrivateIps",
                "ListIpv6s",
                "CreatePrivateIp",
                "UpdatePrivateIp",
                "UpdateIpv6",
                "PublishMessage",
                "GetVnic",
                "UpdateVnic",
            ],
            State::RestartCached => &[
                "ImdsCert",
                "FederateX509",
                "UpdatePrivateIp",
                "UpdateIpv6",
                "UpdateVnic",
            ],
            State::Steady => &[
                "GetPrivateIp",
                "GetIpv6",
                "UpdatePrivateIp",
                "UpdateIpv6",
                "PublishMessage",
                "GetVnic",
                "UpdateVnic",
            ],
            State::Takeover => &[
                "UpdatePrivateIp",
                "UpdateIpv6",
                "CreatePrivateIp",
                "PublishMessage",
                "UpdateVnic",
            ],
            // (Not ListIpv6s: a standby's look-ups stop at VIP2, which has no object yet and
            // which only a MASTER may create; the IPv6 VIP comes after it.)
            State::Backup => &[
                "ImdsVnics",
                "ImdsCert",
                "ImdsKey",
                "FederateX509",
                "ListPrivateIps",
                "GetVnic",
                "UpdateVnic",
            ],
            State::Demoted => &["CreatePrivateIp", "UpdatePrivateIp", "UpdateIpv6"],
            State::Reload => &[
                "FederateX509",
                "GetPrivateIp",
                "GetIpv6",
                "UpdatePrivateIp",
                "UpdateIpv6",
            ],
            State::TokenExpiry => &[
                "ImdsCert",
                "ImdsKey",
                "ImdsIntermediate",
                "FederateX509",
                "GetPrivateIp",
            ],
        }
    }

    /// Whether the node must end up holding every VIP.
    pub fn claims(self) -> bool {
        !matches!(self, State::Backup | State::Demoted)
    }
}

/// A failure and how it is named in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub name: &'static str,
    pub fault: Fault,
    /// The agent itself must get out of it (the server never does): the bound runs from the
    /// fault's start, not from its end.
    pub endless: bool,
}

const fn status(name: &'static str, s: u16, code: &'static str, msg: &'static str) -> Failure {
    Failure {
        name,
        fault: Fault::Status(s, code, msg),
        endless: false,
    }
}

const fn net(name: &'static str, fault: Fault) -> Failure {
    Failure {
        name,
        fault,
        endless: false,
    }
}

/// OCI's error answers (codes and texts from Oracle's API error documentation and the
/// clock-skew text of terraform-provider-oci #474, reference/oci-wire.md), then the network's.
pub const FAILURES: &[Failure] = &[
    status("400", 400, "InvalidParameter", "Invalid request parameter"),
    status(
        "401",
        401,
        "NotAuthenticated",
        "The required information to complete authentication was not provided or was incorrect.",
    ),
    status(
        "401 skew",
        401,
        "NotAuthenticated",
        "Date 'Sun, 06 Dec 2026 22:00:00 GMT' is not within allowed clock skew. Current 'Sun, 06 Dec 2026 22:06:00 GMT', valid datetime range: ['Sun, 06 Dec 2026 22:01:00 GMT', 'Sun, 06 Dec 2026 22:11:00 GMT']",
    ),
    status(
        "404",
        404,
        "NotAuthorizedOrNotFound",
        "Authorization failed or requested resource not found.",
    ),
    status("409", 409, "IncorrectState", "The resource is in a conflicting state"),
    status("429", 429, "TooManyRequests", "Too many requests for the user"),
    status("500", 500, "InternalServerError", "Internal error occurred"),
    status("503", 503, "ServiceUnavailable", "Service unavailable"),
    net("refused", Fault::Refused),
    net("reset before", Fault::ResetBefore),
    net("reset after", Fault::ResetAfter),
    net("closed idle (fin)", Fault::RaceFin),
    net("closed idle (rst)", Fault::RaceRst),
    net("stalled body", Fault::Stall(1500)),
    net("tls handshake fails", Fault::TlsFail),
    Failure {
        name: "stalled for good",
        fault: Fault::Stall(25_000),
        endless: true,
    },
];

#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub id: usize,
    pub state: State,
    pub call: &'static str,
    pub failure: Failure,
    /// How many calls in a row fail.
    pub count: u32,
}

impl Case {
    pub fn label(&self) -> String {
        format!(
            "#{} {}: {} {} x{}",
            self.id,
            self.state.name(),
            self.call,
            self.failure.name,
            self.count
        )
    }
}

/// Every case: state x call x failure. A failure is played once (then success) on half of the
/// calls and for three calls in a row on the other half, alternating, so that both reach every
/// failure, call and state (an endless stall lasts anyway: once).
pub fn all() -> Vec<Case> {
    let mut out = Vec::new();
    let mut pair = 0usize;
    for state in State::ALL {
        for &call in state.calls() {
            for (f, &failure) in FAILURES.iter().enumerate() {
                // The metadata service is plain http: no TLS to fail.
                if failure.fault == Fault::TlsFail && call.starts_with("Imds") {
                    continue;
                }
                let count = if failure.endless || (pair + f).is_multiple_of(2) {
                    1
                } else {
                    3
                };
                out.push(Case {
                    id: out.len(),
                    state,
                    call,
                    failure,
                    count,
                });
            }
            pair += 1;
        }
    }
    out
}

/// A fixed sample for `cargo test`: every `stride`-th case, the stride prime to the number of
/// failures and odd (a case's count follows its index's parity), so that the sample walks
/// across failures, states and counts alike.
pub fn sample(n: usize) -> Vec<Case> {
    let all = all();
    let stride = (all.len() / n).max(1);
    let stride = (stride..)
        .find(|s| gcd(*s, FAILURES.len()) == 1 && !s.is_multiple_of(2))
        .unwrap();
    all.into_iter().step_by(stride).take(n).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
