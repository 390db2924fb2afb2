//! How the simulator behaves ([`SimConfig`]): delays, page size, region, session lifetime, world file.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How the simulator behaves. Everything here can also be changed while it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimConfig {
    /// region of requests that name none (path prefix or Host); `None` = the home region
    pub region: Option<String>,
    /// largest page a list call returns (and the page size when the caller sets no `limit`)
    pub page_size: usize,
    /// PROVISIONING -> RUNNING
    pub provisioning_delay_ms: u64,
    /// TERMINATING -> TERMINATED
    pub terminating_delay_ms: u64,
    /// time before a new or changed dynamic group or policy applies to instance principals
    pub iam_propagation_delay_ms: u64,
    /// lifetime of session tokens issued by `/v1/x509`
    pub session_ttl_secs: u64,
    /// time before the metadata service shows an instance's metadata changed by UpdateInstance
    /// ("changes reach the metadata service within about a minute", Oracle's "Updating
    /// Instance Metadata" page; 0 here, as the other delays, unless a test sets it)
    pub metadata_delay_ms: u64,
    /// the world file: loaded when it changes, written after each mutation
    pub world_file: Option<PathBuf>,
    /// whether the metadata service answers `/opc/v1` (on by default; a tenancy can switch it
    /// off, and then v1 answers 404: reference/oci-wire.md, "Instance metadata service")
    #[serde(rename = "imdsV1")]
    pub imds_v1: bool,
    /// 0: the world file is written after each mutation (other simulators may share it);
    /// N: this simulator is the file's only user and writes it at most every N ms, and when it
    /// stops (write_behind.rs says why)
    pub write_behind_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            region: None,
            page_size: 100,
            provisioning_delay_ms: 0,
            terminating_delay_ms: 0,
            iam_propagation_delay_ms: 0,
            session_ttl_secs: 1200,
            metadata_delay_ms: 0,
            world_file: None,
            imds_v1: true,
            write_behind_ms: 0,
        }
    }
}
