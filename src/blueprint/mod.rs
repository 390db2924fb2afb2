//! The blueprint: the YAML file a user writes for one VIP pair, parsed into plain typed data.
//!
//! `parse` reports every problem in one pass, each with file, line, column, field and a fix.
//! Reading ssh key files is the only I/O it does (a missing key file is a blueprint error).

mod convert;
mod diagnostic;
mod ocid;
pub mod yaml;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics};
pub use ocid::{Ocid, OcidError};

/// One VIP pair, fully checked. Defaults are already filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    /// The file it came from (relative paths in it were resolved against its directory).
    pub source: PathBuf,
    /// Names the pair; prefixes every resource name and tag. Lowercase letters, digits, hyphens.
    pub name: String,
    pub oci: OciTarget,
    pub network: Network,
    /// Exactly two, in the order written.
    pub nodes: [NodeSpec; 2],
    pub instance: InstanceSpec,
    pub failover: Failover,
    pub iam: Iam,
    /// Freeform tags put on every resource (vipsetup adds its own on top).
    pub tags: BTreeMap<String, String>,
    /// Problems that do not stop it from working (e.g. both nodes in one fault domain).
    pub warnings: Vec<Diagnostic>,
    /// Where state and lock live: `None` = the local file next to the blueprint.
    pub state: Option<RemoteState>,
}

/// The `state:` key: state and lock kept in an OCI Object Storage bucket, so every machine that
/// manages the pair shares one state and one lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteState {
    pub bucket: String,
    /// `None` = looked up with GetNamespace.
    pub namespace: Option<String>,
    /// Put before the object names (`<prefix><pair>.json`); may be empty.
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OciTarget {
    /// Profile in `~/.oci/config` (default `DEFAULT`).
    pub profile: String,
    /// Region name, e.g. `ap-tokyo-1`; `None` = the profile's region.
    pub region: Option<String>,
    /// Compartment (or tenancy, for the root compartment) that holds the pair.
    pub compartment: Ocid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub subnet: Ocid,
    /// The first IPv4 VIP: the one a public IP follows (always `vips[0]`).
    pub vip: Ipv4Addr,
    /// Prefix length written after the VIPs (`172.16.2.10/24`; every VIP written with one
    /// writes the same); `None` = take it from the subnet.
    pub vip_prefix: Option<u8>,
    /// Every IPv4 VIP in the order written (`network.vip`: one address or a list of 1 to
    /// [`MAX_VIPS`], all distinct).
    pub vips: Vec<Ipv4Addr>,
    /// IPv6 VIPs (`network.vip6`, 0 to [`MAX_VIPS`]); that they lie in the subnet's IPv6
    /// prefix is checked when the subnet is known (plan, preflight).
    pub vip6: Vec<Ipv6Addr>,
    /// Interface name on the nodes; `None` = the installer uses the interface that holds the
    /// node's primary private IP.
    pub interface: Option<String>,
    /// Whether the instances get a public IP (default false).
    pub assign_public_ip: bool,
    /// A public IP that follows the first VIP (`network.public_ip`).
    pub public_ip: Option<PublicIpSpec>,
}

/// The most VIPs of one family a pair carries (issue 12: "at least 1, at most 8").
pub const MAX_VIPS: usize = 8;

/// The prefix length of every OCI subnet's IPv6 prefix ("A subnet's IPv6 prefix is always /64",
/// docs Network/Concepts/ipv6.htm).
pub const IPV6_SUBNET_PREFIX: u8 = 64;

/// `network.public_ip`.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicIpSpec {
    /// `reserved`: vipsetup creates a reserved public IP and deletes it on destroy.
    Reserved,
    /// The OCID of an existing reserved public IP: assigned on apply, unassigned (never
    /// deleted) on destroy.
    Existing(Ocid),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// Instance display name and hostname label.
    pub name: String,
    /// Fixed private IP; `None` = pick a free address in the subnet at apply time.
    pub private_ip: Option<Ipv4Addr>,
    /// `FAULT-DOMAIN-1`..`3`; `None` = let OCI choose.
    pub fault_domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    pub shape: String,
    /// Required for flex shapes, absent otherwise.
    pub ocpus: Option<f64>,
    pub memory_gb: Option<f64>,
    /// Full AD name (e.g. `Uocm:AP-TOKYO-1-AD-1`); `None` = the region's first AD.
    pub availability_domain: Option<String>,
    pub image: ImageSpec,
    /// At least one.
    pub ssh_keys: Vec<SshKey>,
}

impl InstanceSpec {
    /// All keys, one per line, as OCI's `ssh_authorized_keys` metadata wants them.
    pub fn ssh_authorized_keys(&self) -> String {
        let mut out = String::new();
        for key in &self.ssh_keys {
            for line in key.text.lines() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageSpec {
    Ocid(Ocid),
    /// Look the newest image up by operating system and version, e.g. `Oracle Linux` + `9`.
    Lookup {
        operating_system: String,
        version: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SshKey {
    /// The file it was read from, or `None` when written inline.
    pub path: Option<PathBuf>,
    /// One or more public keys, one per line, without comments or blank lines.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failover {
    pub advert_interval: AdvertInterval,
    /// Index into `Blueprint::nodes` of the node that gets the higher priority.
    pub preferred_node: usize,
    /// Whether the preferred node takes the VIP back when it returns (default false).
    pub preempt: bool,
    /// VRRP router id, 1..=255 (default 51).
    pub virtual_router_id: u8,
    /// Seconds between the agent's ownership checks while MASTER (default 5).
    pub recheck_interval: u32,
    pub health_check: Option<HealthCheck>,
    /// OCI Notifications topic the agent publishes one message to per takeover.
    pub notify_topic: Option<Ocid>,
}

/// A VRRP advertisement interval keepalived accepts, in hundredths of a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertInterval {
    centis: u32,
}

impl AdvertInterval {
    /// keepalived 2.2 limits: VRRPv2 takes whole seconds 1..=255; VRRPv3 takes steps of 10 ms
    /// from 0.01 s to 40.95 s (checked with `keepalived -t`).
    pub fn from_centis(centis: u32) -> Result<AdvertInterval, String> {
        if centis == 0 {
            return Err("must be at least 0.01 s (10 ms), keepalived's minimum".into());
        }
        if centis.is_multiple_of(100) {
            if centis / 100 > 255 {
                return Err("is above keepalived's maximum of 255 s".into());
            }
        } else if centis > 4095 {
            return Err(
                "has a fraction of a second, which needs VRRPv3, whose maximum is 40.95 s".into(),
            );
        }
        Ok(AdvertInterval { centis })
    }

    pub fn centis(self) -> u32 {
        self.centis
    }

    /// VRRPv3 wherever it reaches (up to 40.95 s), VRRPv2 above. One version for every
    /// interval a user may switch between on a running pair: adverts of another version are
    /// refused ("wrong version"), and a VRRPv2 node drops adverts with another interval
    /// ("advertisement interval mismatch ... to prevent concurent VRID running"), so while a
    /// new interval reaches one node before the other its BACKUP would take over too; a
    /// VRRPv3 BACKUP takes the MASTER's interval instead (keepalived vrrp.c, vrrp_in_chk).
    pub fn vrrp_version(self) -> u8 {
        if self.centis <= 4095 {
            3
        } else {
            2
        }
    }

    /// The value for keepalived's `advert_int`, e.g. `1` or `0.25`.
    pub fn keepalived_value(self) -> String {
        if self.centis.is_multiple_of(100) {
            (self.centis / 100).to_string()
        } else {
            format!("{}.{:02}", self.centis / 100, self.centis % 100)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// Shell command; exit 0 = healthy.
    pub command: String,
    /// Seconds between runs (default 2).
    pub interval: u32,
    /// Seconds before a run counts as failed (default = interval).
    pub timeout: u32,
    /// Failures in a row before the node gives up the VIP (default 2).
    pub fall: u32,
    /// Successes in a row before it may hold the VIP again (default 2).
    pub rise: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Iam {
    /// Default `<name>-dg`.
    pub dynamic_group: String,
    /// Default `<name>-policy`.
    pub policy: String,
    /// Added after the statements vipsetup writes.
    pub extra_statements: Vec<String>,
}

/// Whether `name` can name a pair: 1-40 lowercase letters, digits and hyphens, starting with a
/// letter and not ending with a hyphen (it prefixes OCI resource names).
pub fn is_pair_name(name: &str) -> bool {
    convert::is_label(name, 40)
}

impl Blueprint {
    pub fn preferred(&self) -> &NodeSpec {
        &self.nodes[self.failover.preferred_node]
    }
}

/// Parses and checks a blueprint. `path` is used in messages and to resolve relative ssh key
/// paths (against its directory).
pub fn parse(src: &str, path: &Path) -> Result<Blueprint, Diagnostics> {
    convert::convert(src, path)
}

/// The largest blueprint file read (a real one is a few kilobytes).
pub const MAX_BLUEPRINT_BYTES: u64 = 1024 * 1024;

/// Reads and parses a blueprint file. A file that cannot be read (missing, not a regular file,
/// too large, not UTF-8) is reported as a diagnostic so callers have one error type.
pub fn load(path: &Path) -> Result<Blueprint, Diagnostics> {
    let fail = |pos: yaml::Pos, message: String, hint: &str| {
        Err(Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: pos.line,
            column: pos.column,
            field: String::new(),
            message,
            hint: hint.into(),
        }]))
    };
    let start = yaml::Pos { line: 1, column: 1 };
    let bytes = match crate::bounded_read::read(path, MAX_BLUEPRINT_BYTES) {
        Ok(b) => b,
        Err(e @ crate::bounded_read::ReadError::TooLarge { .. }) => {
            return fail(
                start,
                format!("cannot read the blueprint: {e}"),
                "a blueprint is a few kilobytes of YAML; check that this is the right file",
            )
        }
        Err(e) => {
            return fail(
                start,
                format!("cannot read the blueprint: {e}"),
                "check the path, or run `vipsetup init FILE` to write a starter blueprint",
            )
        }
    };
    match std::str::from_utf8(&bytes) {
        Ok(src) => parse(src, path),
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            fail(
                yaml::pos_at(valid, valid.len()),
                format!(
                    "the blueprint is not UTF-8 text: byte 0x{:02x} here cannot start or continue a character",
                    bytes[e.valid_up_to()]
                ),
                "save the file as UTF-8 (was a binary file given as the blueprint?)",
            )
        }
    }
}

#[cfg(test)]
mod tests;
