//! The engine's vocabulary: which resources a pair has, what the blueprint wants of each
//! (`Desired`), and what the cloud shows of each (`Observed`). Plain data, no I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

/// Freeform tag naming the pair a resource belongs to; lost state is rebuilt from it.
pub const TAG_PAIR: &str = "vipsetup-pair";
/// Freeform tag naming a resource's role in its pair (`node1`, `vip`, ...).
pub const TAG_ROLE: &str = "vipsetup-role";
/// Freeform tags the failover agent writes on the VIP's private IP with each takeover (in the
/// same UpdatePrivateIp that moves it; templates/agent/vip-agent/): the node's name and the time
/// (UTC, RFC 3339). `status` shows them; `plan` never compares the VIP's tags.
pub const TAG_TAKEOVER_BY: &str = "vipsetup-owner";
pub const TAG_TAKEOVER_AT: &str = "vipsetup-takeover-at";
/// Freeform tags the agent keeps on its own node's VNIC (contract-12; written with UpdateVnic
/// when one changes): its VRRP state (MASTER, BACKUP, FAULT, STOP), since when (RFC 3339 UTC),
/// its last confirmed claim ('' if none) and its last error ('' when the last call
/// succeeded). `status` shows them; plan never compares a VNIC's tags.
pub const TAG_AGENT_STATE: &str = "vipsetup-agent-state";
pub const TAG_AGENT_SINCE: &str = "vipsetup-agent-since";
pub const TAG_AGENT_CLAIM: &str = "vipsetup-agent-claim";
pub const TAG_AGENT_ERROR: &str = "vipsetup-agent-error";
/// The agent's heartbeat (issue 19): when it last wrote its view (RFC 3339 UTC; it writes it
/// again every `TAG_AGENT_BEAT` seconds even when nothing changed), so a dead agent shows as stale.
pub const TAG_AGENT_SEEN: &str = "vipsetup-agent-seen";
pub const TAG_AGENT_BEAT: &str = "vipsetup-agent-beat";
/// The settings version the agent runs (`v3`; render::settings), and the last version it
/// refused with why (`v4: keepalived -t: ...`).
pub const TAG_AGENT_SETTINGS: &str = "vipsetup-agent-settings";
pub const TAG_AGENT_SETTINGS_REFUSED: &str = "vipsetup-agent-settings-refused";

/// One of the six resources a VIP pair is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    Nsg,
    Node1,
    Node2,
    DynamicGroup,
    Policy,
    Vip,
}

impl Resource {
    /// Every resource, in the order apply makes them (and the reverse of destroy's).
    pub const ALL: [Resource; 6] = [
        Resource::Nsg,
        Resource::Node1,
        Resource::Node2,
        Resource::DynamicGroup,
        Resource::Policy,
        Resource::Vip,
    ];

    /// The node resource for index 0 or 1.
    pub fn node(index: usize) -> Resource {
        if index == 0 {
            Resource::Node1
        } else {
            Resource::Node2
        }
    }

    /// 0 or 1 for a node, `None` for the others.
    pub fn node_index(self) -> Option<usize> {
        match self {
            Resource::Node1 => Some(0),
            Resource::Node2 => Some(1),
            _ => None,
        }
    }

    /// The role name used in tags, state and output.
    pub fn key(self) -> &'static str {
        match self {
            Resource::Nsg => "nsg",
            Resource::Node1 => "node1",
            Resource::Node2 => "node2",
            Resource::DynamicGroup => "dynamic-group",
            Resource::Policy => "policy",
            Resource::Vip => "vip",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What the blueprint (plus live facts) asks for. Built by `ops`; the engine never reads YAML.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Desired {
    pub pair: String,
    pub tenancy_id: String,
    pub compartment_id: String,
    pub vcn_id: String,
    pub subnet_id: String,
    pub vip: Ipv4Addr,
    /// The VIPs after the first: more IPv4 VIPs (secondary private IPs) and the IPv6 VIPs (Ipv6
    /// objects). They live with the first VIP: made on the VNIC that holds it, moved with it by
    /// the agent, deleted with it; the VIP step carries them.
    pub extra_vips: Vec<IpAddr>,
    /// A public IP that follows the first VIP (assigned to its private IP).
    pub public_ip: Option<DesiredPublicIp>,
    /// Index (0 or 1) of the node that holds the VIP when apply creates it.
    pub preferred: usize,
    pub nodes: [DesiredNode; 2],
    pub nsg_name: String,
    pub dynamic_group: DesiredDynamicGroup,
    pub policy: DesiredPolicy,
    /// The blueprint's freeform tags; the pair and role tags are added per resource.
    pub tags: BTreeMap<String, String>,
    /// The operating system and version the nodes' image was looked up by (`image.os` +
    /// `image.version`); `None` when the blueprint pins `image.ocid`. Recorded with each launch.
    pub image_line: Option<ImageLine>,
}

/// An operating system and version, as ListImages filters them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLine {
    pub os: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesiredNode {
    pub name: String,
    pub availability_domain: String,
    pub fault_domain: String,
    pub shape: String,
    pub ocpus: Option<f32>,
    pub memory_in_gbs: Option<f32>,
    pub image_id: String,
    pub private_ip: Ipv4Addr,
    /// Newline-separated public keys, as OCI's `ssh_authorized_keys` metadata wants them.
    pub ssh_authorized_keys: String,
    /// Base64 cloud-init user data from the renderer.
    pub user_data: String,
    /// What the renderer made besides the user data (render::settings).
    pub boot: NodeBoot,
    pub assign_public_ip: bool,
    /// The primary VNIC's hostname: the node name where the subnet has a DNS label, else none
    /// (OCI refuses a hostnameLabel in a subnet without one).
    pub hostname_label: Option<String>,
}

/// One node's rendered settings and user data fingerprints: the install part (only a new
/// instance takes it) and the settings (a running node takes them from the metadata key).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeBoot {
    /// sha256 of the user data's install part (render::settings::install_part).
    pub install_digest: String,
    /// sha256 of the settings as the user data holds them (the first settings of a node
    /// launched with this user data; render::settings::first_settings_digest).
    pub first_settings_digest: String,
    /// The settings payload and its sha256: the `vipsetup-settings` key once versioned.
    #[serde(skip)]
    pub settings_payload: String,
    pub settings_digest: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesiredDynamicGroup {
    pub name: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesiredPolicy {
    /// Where the policy is attached: the subnet's compartment, where the VNICs and private IPs
    /// its statements cover live (a policy can grant only in its own compartment's subtree).
    pub compartment_id: String,
    pub name: String,
    pub description: String,
    pub statements: Vec<String>,
}

impl Desired {
    /// The freeform tags a resource of this pair carries: the blueprint's, plus pair and role.
    pub fn tags_for(&self, resource: Resource) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert(TAG_PAIR.to_string(), self.pair.clone());
        tags.insert(TAG_ROLE.to_string(), resource.key().to_string());
        tags
    }
}

/// The description vipsetup gives the VRRP rules it adds: how it tells its own rules (even
/// altered ones) from the user's.
pub const VRRP_RULE_DESCRIPTION: &str = "VRRP between the pair's nodes (vipsetup)";

/// A security rule as far as the engine cares (the VRRP pair of rules). Two rules are equal
/// when they allow the same traffic (direction, protocol, peer); id and description are kept
/// to name and remove a live rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NsgRule {
    /// `INGRESS` or `EGRESS`.
    pub direction: String,
    /// IANA protocol number as a string, or `all`.
    pub protocol: String,
    /// The peer: for VRRP, the NSG itself.
    pub peer: Option<String>,
    /// A live rule's id (unique within its group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl PartialEq for NsgRule {
    fn eq(&self, other: &Self) -> bool {
        (&self.direction, &self.protocol, &self.peer)
            == (&other.direction, &other.protocol, &other.peer)
    }
}

impl Eq for NsgRule {}

/// Rules of `nsg` that carry vipsetup's VRRP description but no longer allow VRRP between
/// the pair (altered in place, e.g. protocol 112 -> 6): removed and replaced by apply, never
/// taken for the VRRP rule.
pub fn altered_vrrp_rules(nsg: &LiveNsg) -> Vec<&NsgRule> {
    let want = vrrp_rules(&nsg.id);
    nsg.rules
        .iter()
        .filter(|r| r.description.as_deref() == Some(VRRP_RULE_DESCRIPTION))
        .filter(|r| !want.contains(r))
        .collect()
}

/// The rules the pair's NSG must hold: VRRP (IP protocol 112) in and out between its members.
pub fn vrrp_rules(nsg_id: &str) -> Vec<NsgRule> {
    ["INGRESS", "EGRESS"]
        .iter()
        .map(|d| NsgRule {
            direction: d.to_string(),
            protocol: "112".to_string(),
            peer: Some(nsg_id.to_string()),
            id: None,
            description: Some(VRRP_RULE_DESCRIPTION.to_string()),
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveNsg {
    pub id: String,
    pub lifecycle_state: String,
    pub rules: Vec<NsgRule>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveInstance {
    pub id: String,
    pub display_name: String,
    pub lifecycle_state: String,
    pub availability_domain: String,
    pub fault_domain: Option<String>,
    pub shape: String,
    pub ocpus: Option<f32>,
    pub memory_in_gbs: Option<f32>,
    pub image_id: Option<String>,
    pub user_data: Option<String>,
    pub ssh_authorized_keys: Option<String>,
    /// Every custom metadata key, as UpdateInstance must send them back (user_data and
    /// ssh_authorized_keys unchanged).
    #[serde(skip)]
    pub metadata: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// The primary VNIC once attached (looked up through the VNIC attachments).
    pub vnic: Option<LiveVnic>,
}

impl LiveInstance {
    /// TERMINATING and TERMINATED instances are as good as gone for planning.
    pub fn is_gone(&self) -> bool {
        matches!(self.lifecycle_state.as_str(), "TERMINATING" | "TERMINATED")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveVnic {
    pub id: String,
    pub private_ip: Option<Ipv4Addr>,
    pub nsg_ids: Vec<String>,
    /// The public IP address on its primary private IP, if any.
    pub public_ip: Option<String>,
    /// Its freeform tags: where the node's agent keeps its own view (`TAG_AGENT_*`).
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveDynamicGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub matching_rule: String,
    pub lifecycle_state: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LivePolicy {
    pub id: String,
    pub compartment_id: String,
    pub name: String,
    pub description: String,
    pub statements: Vec<String>,
    pub lifecycle_state: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LivePrivateIp {
    pub id: String,
    pub ip_address: Ipv4Addr,
    pub vnic_id: Option<String>,
    pub is_primary: bool,
    pub tags: BTreeMap<String, String>,
}

/// `network.public_ip`, as the engine sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum DesiredPublicIp {
    /// vipsetup creates a reserved public IP (and deletes it on destroy).
    Reserved,
    /// The user's reserved public IP (this OCID): assigned on apply, unassigned on destroy,
    /// never deleted.
    Existing(String),
}

/// A public IP as far as the engine cares.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LivePublicIp {
    pub id: String,
    pub ip_address: Option<String>,
    /// `RESERVED` or `EPHEMERAL`.
    pub lifetime: String,
    pub private_ip_id: Option<String>,
    pub lifecycle_state: String,
    pub tags: BTreeMap<String, String>,
}

/// One of the VIPs after the first as the cloud shows it: a secondary private IP (IPv4) or an
/// Ipv6 object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveAddress {
    pub id: String,
    pub address: IpAddr,
    pub vnic_id: Option<String>,
    /// A VNIC's own (primary) address: never a VIP.
    pub is_primary: bool,
    pub tags: BTreeMap<String, String>,
}

/// An extra VIP's address and the object holding it (if any), and whether that object is the
/// pair's (recorded, tagged with the pair, or a secondary address on one of the pair's VNICs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservedExtraVip {
    pub address: IpAddr,
    pub live: Option<LiveAddress>,
    pub ours: bool,
}

impl From<LivePrivateIp> for LiveAddress {
    fn from(p: LivePrivateIp) -> LiveAddress {
        LiveAddress {
            id: p.id,
            address: IpAddr::V4(p.ip_address),
            vnic_id: p.vnic_id,
            is_primary: p.is_primary,
            tags: p.tags,
        }
    }
}

/// What the cloud shows of the pair right now (absent = not found, or terminated).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Observed {
    pub nsg: Option<LiveNsg>,
    pub nodes: [Option<LiveInstance>; 2],
    pub dynamic_group: Option<LiveDynamicGroup>,
    pub policy: Option<LivePolicy>,
    /// The private IP holding the VIP address in the subnet, whoever owns it.
    pub vip: Option<LivePrivateIp>,
    /// Whether `vip` belongs to this pair (recorded in state or tagged with the pair's name).
    pub vip_is_ours: bool,
    /// The pair's recorded VIP object when it holds an address the blueprint no longer names.
    pub stale_vip: Option<LivePrivateIp>,
    /// Each of `Desired::extra_vips` in order, as found.
    pub extra_vips: Vec<ObservedExtraVip>,
    /// Extra VIP objects recorded in state whose address the blueprint no longer names.
    pub stale_extra_vips: Vec<LiveAddress>,
    /// The pair's public IP: recorded in state, the blueprint's OCID, or a reserved one tagged
    /// with the pair on the first VIP.
    pub public_ip: Option<LivePublicIp>,
    /// Whether `public_ip` is the user's (adopted: unassigned on destroy, never deleted).
    pub public_ip_adopted: bool,
    /// Image OCID -> display name, for the images the plan shows (the nodes' and the
    /// blueprint's); filled by `ops` after observing, empty when unknown.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub image_names: BTreeMap<String, String>,
}

impl Observed {
    /// The node whose primary VNIC has this id.
    pub fn node_with_vnic(&self, vnic_id: &str) -> Option<usize> {
        (0..2).find(|&i| {
            self.nodes[i]
                .as_ref()
                .filter(|n| !n.is_gone())
                .and_then(|n| n.vnic.as_ref())
                .is_some_and(|v| v.id == vnic_id)
        })
    }

    /// A live (not terminating) node.
    pub fn live_node(&self, index: usize) -> Option<&LiveInstance> {
        self.nodes[index].as_ref().filter(|n| !n.is_gone())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveSubnet {
    pub id: String,
    /// Where the subnet lives, and so its VNICs and private IPs (the VIP among them): "The VNIC
    /// and subnet always exist together in the same compartment" (docs, managingVNICs.htm).
    pub compartment_id: String,
    /// `None` when the subnet has no DNS label: OCI then refuses a `hostnameLabel`.
    pub dns_label: Option<String>,
    pub cidr_block: String,
    pub vcn_id: String,
    /// `None` for a regional subnet.
    pub availability_domain: Option<String>,
    pub lifecycle_state: String,
    /// OCI refuses public IPs on this subnet's VNICs.
    pub prohibit_public_ip: bool,
    /// The subnet's IPv6 prefixes (none: an IPv4-only subnet).
    pub ipv6_prefixes: Vec<String>,
}
