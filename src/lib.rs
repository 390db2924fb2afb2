//! vipsetup: a highly available virtual IP on Oracle Cloud, from a YAML blueprint.
//!
//! The flow runs one way: `cli` parses flags into options and calls one `ops` function;
//! `ops` uses `blueprint` (parse + validate), `render` (cloud-init user data), `engine`
//! (plan, state, apply/destroy) and `oci` (the only module that speaks HTTP to OCI).
//! `simulator` is a local, strict stand-in for OCI used by tests, benchmarks and `--simulate`.

pub mod blueprint;
pub mod bounded_read;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod error_chain;
pub mod oci;
pub mod ops;
pub mod render;
pub mod simulator;
