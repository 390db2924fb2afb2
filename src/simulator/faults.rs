//! Injected failures: scripted (the next N calls of an operation) and random, and the answer a
//! fault gives.

use serde::{Deserialize, Serialize};

use super::{Inner, Resp};

/// What a fault does to a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FaultKind {
    /// an OCI error response
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// the connection is closed without a response
    Drop,
}

impl FaultKind {
    pub fn status(status: u16, code: &str, message: &str) -> FaultKind {
        FaultKind::Status {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn too_many_requests() -> FaultKind {
        Self::status(429, "TooManyRequests", "Too many requests for the user")
    }
    pub fn internal_error() -> FaultKind {
        Self::status(500, "InternalServerError", "Internal error occurred")
    }
    pub fn service_unavailable() -> FaultKind {
        Self::status(503, "ServiceUnavailable", "Service unavailable")
    }
    pub fn incorrect_state() -> FaultKind {
        Self::status(
            409,
            "IncorrectState",
            "The resource is in a conflicting state",
        )
    }
    /// LaunchInstance's capacity error
    pub fn out_of_host_capacity() -> FaultKind {
        Self::status(500, "InternalError", "Out of host capacity.")
    }
}

/// "The next `count` calls of `operation` (`*` = any) fail with `kind`."
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ScriptedFault {
    pub operation: String,
    pub count: u32,
    pub fault: FaultKind,
}

/// Each call of the listed operations (empty = all) fails with probability `rate`, with a fault
/// picked uniformly from `faults`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RandomFaults {
    pub rate: f64,
    #[serde(default)]
    pub operations: Vec<String>,
    pub faults: Vec<FaultKind>,
}

impl Inner {
    pub(super) fn take_fault(&mut self, operation: &str) -> Option<FaultKind> {
        if let Some(i) = self
            .faults
            .iter()
            .position(|f| f.count > 0 && (f.operation == operation || f.operation == "*"))
        {
            let f = &mut self.faults[i];
            f.count -= 1;
            let kind = f.fault.clone();
            if f.count == 0 {
                self.faults.remove(i);
            }
            return Some(kind);
        }
        let r = self.random_faults.as_ref()?;
        if r.faults.is_empty()
            || !(r.operations.is_empty() || r.operations.iter().any(|o| o == operation))
        {
            return None;
        }
        use rand::Rng;
        let mut rng = rand::thread_rng();
        if rng.gen::<f64>() < r.rate {
            Some(r.faults[rng.gen_range(0..r.faults.len())].clone())
        } else {
            None
        }
    }
}

pub(super) fn fault_response(f: FaultKind, label: String) -> (Resp, String, bool) {
    match f {
        FaultKind::Drop => (Resp::empty(500), label, true),
        FaultKind::Status {
            status,
            code,
            message,
        } => (
            Resp::json(
                status,
                &serde_json::json!({"code": code, "message": message}),
            ),
            label,
            false,
        ),
    }
}
