//! The engine: the plan as a value (`plan`), recorded state (`state`, `lock`, `token`) and the
//! dependency-graph executor that carries a plan out against a `Cloud` (`executor`), reporting
//! through `Progress`. It knows nothing of YAML or HTTP: `ops` builds its inputs and
//! `engine::oci_cloud` adapts the OCI client to `Cloud`.

pub mod addresses;
pub mod attributes;
pub mod backend;
pub mod cloud;
pub mod drift;
pub mod drill;
pub mod egress;
pub mod executor;
pub mod host;
pub mod iam;
pub mod interrupt;
#[cfg(debug_assertions)]
pub mod kill_after;
pub mod lock;
pub mod model;
pub mod observe;
pub mod oci_cloud;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod readiness;
pub mod report;
pub mod resolve;
pub mod state;
pub mod token;

pub use cloud::{Cloud, CloudError};
pub use model::{Desired, Observed, Resource};
pub use plan::{Action, Plan, Step};
pub use state::State;
