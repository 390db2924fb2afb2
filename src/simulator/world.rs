//! The simulated cloud's state: every resource as its OCI JSON document, API keys, sessions,
//! retry tokens, the simulated PKI, and the seeding that builds a usable world in one call.
//!
//! Resources are kept as the JSON objects OCI returns (camelCase fields) so a response is the
//! stored document minus the internal fields, whose names start with `_`. Lifecycle states that
//! change with time are derived from timestamps stored in the document (`_runningAtMs`,
//! `_terminatedAtMs`), so two processes reading the same world file agree on them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

use super::pki::{LeafCert, Pki};

mod cidr;
mod seed;

pub use cidr::{Cidr, Cidr6};
pub use seed::{SeedSpec, Seeded};
// Where the API handlers have always found it.
pub use super::pki::random_suffix;

/// One resource as OCI's JSON plus internal `_` fields.
pub type Doc = Map<String, Value>;

pub const TENANCY: &str = "tenancy";
pub const COMPARTMENT: &str = "compartment";
pub const VCN: &str = "vcn";
pub const SUBNET: &str = "subnet";
pub const IMAGE: &str = "image";
pub const INSTANCE: &str = "instance";
pub const VNIC: &str = "vnic";
pub const VNIC_ATTACHMENT: &str = "vnicattachment";
pub const PRIVATE_IP: &str = "privateip";
pub const NSG: &str = "networksecuritygroup";
pub const SECURITY_RULE: &str = "securityrule";
pub const DYNAMIC_GROUP: &str = "dynamicgroup";
pub const POLICY: &str = "policy";
pub const PUBLIC_IP: &str = "publicip";
pub const ROUTE_TABLE: &str = "routetable";
pub const NAT_GATEWAY: &str = "natgateway";
pub const SERVICE_GATEWAY: &str = "servicegateway";
pub const INTERNET_GATEWAY: &str = "internetgateway";
pub const DHCP_OPTIONS: &str = "dhcpoptions";
pub const IPV6: &str = "ipv6";
/// a Notifications topic (`ocid1.onstopic…`)
pub const TOPIC: &str = "onstopic";
/// a message published to a topic, kept for tests (`GET /_sim/messages`)
pub const MESSAGE: &str = "onsmessage";
/// an Oracle Services Network service (regional, shared by all tenancies)
pub const SERVICE: &str = "service";
/// a security list (`ocid1.securitylist…`)
pub const SECURITY_LIST: &str = "securitylist";
/// a service limit value (Limits service), see `api::limits`
pub const LIMIT: &str = "limit";

/// A region the tenancy subscribes to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Region {
    /// e.g. `us-ashburn-1`
    pub name: String,
    /// e.g. `IAD`
    pub key: String,
}

/// An IAM user with API signing keys (the seeded admin may do everything).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    /// fingerprint (md5, lowercase hex with colons) -> public key, PKCS#1 DER in base64
    pub api_keys: BTreeMap<String, String>,
    /// Operations this user's groups are not granted (answered 404 NotAuthorizedOrNotFound, as
    /// OCI answers a caller without the permission). The simulator does not model user groups
    /// and their policies; tests use this to stand in for an operator without, say, read access
    /// to IAM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_operations: Vec<String>,
}

/// A session token: issued by `/v1/x509` to an instance principal, or by the simulator to a user
/// (what `oci session authenticate` gives a person; keyId `ST$<token>` either way).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// the instance of an instance-principal session (empty for a user session)
    pub instance_id: String,
    /// the user of a user session
    #[serde(default)]
    pub user_id: Option<String>,
    /// the session public key from the federation request, PKCS#1 DER in base64
    pub public_key: String,
    /// expiry, seconds since the epoch
    pub exp: i64,
}

/// The first answer to a create call carrying an `opc-retry-token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetryRecord {
    /// world clock (ms) when first answered; tokens last 24 hours
    #[serde(default)]
    pub at: i64,
    pub request_sha256: String,
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

/// The whole simulated cloud. Serialised as JSON to the world file (which holds the seeded
/// user's private key and the CA key: it is a test artifact, keep it out of version control).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct World {
    pub tenancy_id: String,
    pub home_region: String,
    pub regions: Vec<Region>,
    /// availability domains per region (same count everywhere)
    pub ad_count: u8,
    /// The home region's AD names without the `-AD-N` tail (e.g. `Uocm:AP-TOKYO-1`), when a
    /// seed names them. Real AD names carry a prefix that differs between tenancies (the same
    /// Phoenix AD is `Uocm:PHX-AD-1` and `Pjwf: PHX-AD-1` in OCI's own examples,
    /// shared/reference/oci-api.md; `YXol:US-ASHBURN-AD-1` in terraform-provider-oci's
    /// oci_identity_availability_domain docs), so `--simulate` takes the blueprint's own
    /// rather than inventing one the blueprint can't know. `None`: invented from the tenancy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_ad_stem: Option<String>,
    pub seq: u64,
    /// kind -> id -> document
    pub resources: BTreeMap<String, BTreeMap<String, Doc>>,
    pub users: BTreeMap<String, User>,
    pub sessions: BTreeMap<String, Session>,
    pub retry_tokens: BTreeMap<String, RetryRecord>,
    pub pki: Option<Pki>,
    pub leaf_certs: BTreeMap<String, LeafCert>,
    /// caller IP -> instance id, for IMDS callers whose address is not a VNIC's (loopback tests)
    pub imds_aliases: BTreeMap<String, String>,
    /// added to the wall clock for lifecycle and IAM propagation (`/_sim/clock/advance`)
    pub clock_offset_ms: i64,
    /// HMAC key for session tokens
    pub token_secret: String,
    /// what seeding made (with the user's private key), so any process using this world file
    /// can sign as the seeded user; `GET /_sim/seeded` answers with it
    #[serde(default)]
    pub seeded: Option<Seeded>,
    /// the Object Storage namespace (empty: derived from the tenancy, see `object_storage`)
    #[serde(default)]
    pub object_storage_namespace: String,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: BTreeMap<&str, usize> = self
            .resources
            .iter()
            .map(|(k, v)| (k.as_str(), v.len()))
            .collect();
        f.debug_struct("World")
            .field("tenancy_id", &self.tenancy_id)
            .field("home_region", &self.home_region)
            .field("regions", &self.regions)
            .field("resources", &counts)
            .field("users", &self.users.len())
            .field("sessions", &self.sessions.len())
            .field("clock_offset_ms", &self.clock_offset_ms)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

/// Errors loading, saving or seeding a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read world file {path}: {source}; check the path")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("world file {path} is not a simulator world: {source}; delete it or seed a new one")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("cannot write world file {path}: {source}; check the directory is writable")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid seed: {0}; fix the seed options")]
    Seed(String),
    #[error("key error: {0}; use an RSA key of at least 2048 bits in PEM")]
    Key(String),
}

/// Region key (`IAD`) from the SDK's region table (`oci::endpoint`); regions it does not know
/// get the first three letters of their city upper-cased (a made-up key, for test regions).
pub fn region_key(name: &str) -> String {
    match crate::oci::endpoint::region_code(name) {
        Some(code) => code.to_uppercase(),
        None => name
            .split('-')
            .nth(1)
            .unwrap_or(name)
            .chars()
            .take(3)
            .collect::<String>()
            .to_uppercase(),
    }
}

/// A reserved public IP as OCI returns it, unassigned.
pub fn reserved_public_ip_doc(
    id: &str,
    compartment: &str,
    name: &str,
    address: &str,
    region: &str,
    now: i64,
) -> Value {
    json!({"id": id, "compartmentId": compartment, "availabilityDomain": null,
           "displayName": name, "ipAddress": address, "lifecycleState": "AVAILABLE",
           "lifetime": "RESERVED", "privateIpId": null, "assignedEntityId": null,
           "assignedEntityType": null, "scope": "REGION", "publicIpPoolId": null,
           "timeCreated": rfc3339(now), "freeformTags": {}, "definedTags": {}, "_region": region})
}

/// Milliseconds since the epoch, from the wall clock.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC with milliseconds, as OCI prints `timeCreated`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

impl World {
    /// Gives a VCN an IPv6 prefix and one of its subnets a /64 inside it, with the fields OCI
    /// returns (Vcn.ipv6CidrBlocks; Subnet.ipv6CidrBlock, ipv6CidrBlocks, ipv6VirtualRouterIp:
    /// oci-python-sdk core/models/vcn.py, subnet.py). "A subnet's IPv6 prefix is always /64"
    /// (docs Network/Concepts/ipv6.htm); the router at `::1` of the prefix is a guess (the
    /// docstring's example is an arbitrary address).
    pub fn enable_ipv6(
        &mut self,
        vcn_id: &str,
        vcn_prefix: &str,
        subnet_id: &str,
        subnet_prefix: &str,
    ) -> Result<(), WorldError> {
        let bad = |what: &str, v: &str| WorldError::Seed(format!("bad {what} ipv6 prefix {v}"));
        let outer = Cidr6::parse(vcn_prefix).ok_or_else(|| bad("vcn", vcn_prefix))?;
        let inner = Cidr6::parse(subnet_prefix).ok_or_else(|| bad("subnet", subnet_prefix))?;
        if inner.prefix != 64 || !inner.within(&outer) {
            return Err(WorldError::Seed(format!(
                "subnet ipv6 prefix {subnet_prefix} must be a /64 inside {vcn_prefix}"
            )));
        }
        if self
            .get(SUBNET, subnet_id)
            .and_then(|s| s.get("vcnId"))
            .and_then(Value::as_str)
            != Some(vcn_id)
        {
            return Err(WorldError::Seed(format!(
                "subnet {subnet_id} is not in vcn {vcn_id}"
            )));
        }
        let vcn = self
            .get_mut(VCN, vcn_id)
            .ok_or_else(|| WorldError::Seed(format!("no vcn {vcn_id}")))?;
        let mut blocks: Vec<Value> = vcn
            .get("ipv6CidrBlocks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let outer_s = outer.to_string();
        if !blocks.iter().any(|b| b.as_str() == Some(outer_s.as_str())) {
            blocks.push(json!(outer_s));
        }
        vcn.insert("ipv6CidrBlocks".into(), json!(blocks));
        let sub = self
            .get_mut(SUBNET, subnet_id)
            .ok_or_else(|| WorldError::Seed(format!("no subnet {subnet_id}")))?;
        let inner_s = inner.to_string();
        sub.insert("ipv6CidrBlock".into(), json!(inner_s));
        sub.insert("ipv6CidrBlocks".into(), json!([inner_s]));
        sub.insert(
            "ipv6VirtualRouterIp".into(),
            json!(std::net::Ipv6Addr::from(inner.addr + 1).to_string()),
        );
        Ok(())
    }

    /// Adds a Notifications topic in `compartment` (in the home region), as CreateTopic would
    /// leave it: ACTIVE (oci-python-sdk ons/models/notification_topic.py).
    pub fn add_topic(&mut self, compartment: &str, name: &str) -> String {
        let region = self.home_region.clone();
        let id = self.new_id(TOPIC, Some(&region));
        let short: String = random_suffix(10);
        self.insert(
            TOPIC,
            json!({"id": id, "topicId": id, "name": name, "shortTopicId": short,
                   "compartmentId": compartment, "lifecycleState": "ACTIVE",
                   "description": "seeded topic", "timeCreated": rfc3339(wall_ms()),
                   "apiEndpoint": format!("https://notification.{region}.oraclecloud.com"),
                   "freeformTags": {}, "definedTags": {}, "_region": region}),
        );
        id
    }

    /// Adds an unassigned reserved public IP in `compartment` (home region): lifetime RESERVED,
    /// scope REGION, lifecycleState AVAILABLE (oci-python-sdk core/models/public_ip.py; a
    /// reserved IP "persists and exists independently", docs managingpublicIPs.htm).
    pub fn add_reserved_public_ip(&mut self, compartment: &str, name: &str) -> (String, String) {
        let region = self.home_region.clone();
        let address = self.free_public_address().unwrap_or_default();
        let id = self.new_id(PUBLIC_IP, Some(&region));
        self.insert(
            PUBLIC_IP,
            reserved_public_ip_doc(&id, compartment, name, &address, &region, wall_ms()),
        );
        (id, address)
    }

    /// The first simulated public address (TEST-NET-2, RFC 5737) no live public IP holds.
    pub fn free_public_address(&self) -> Option<String> {
        let taken: Vec<&str> = self
            .all(PUBLIC_IP)
            .filter(|d| d.get("_deleted").is_none())
            .filter_map(|d| d.get("ipAddress").and_then(Value::as_str))
            .collect();
        (1..=254u8)
            .map(|n| format!("198.51.100.{n}"))
            .find(|a| !taken.contains(&a.as_str()))
    }

    /// Reads a world file.
    pub fn load(path: &Path) -> Result<World, WorldError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| WorldError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes the world file atomically (temp file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<(), WorldError> {
        let err = |source| WorldError::Write {
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_string(self).expect("world serialises");
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let tmp = match dir {
            Some(d) => d.join(format!(
                ".{}.{}.tmp",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("world"),
                random_suffix(8)
            )),
            None => std::path::PathBuf::from(format!(".world.{}.tmp", random_suffix(8))),
        };
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            WorldError::Write {
                path: path.display().to_string(),
                source,
            }
        })
    }

    /// Adds a regional subnet to a VCN (in the VCN's region and compartment).
    pub fn add_subnet(
        &mut self,
        vcn_id: &str,
        cidr: &str,
        name: &str,
    ) -> Result<String, WorldError> {
        let vcn = self
            .get(VCN, vcn_id)
            .cloned()
            .ok_or_else(|| WorldError::Seed(format!("no vcn {vcn_id}")))?;
        let c =
            Cidr::parse(cidr).ok_or_else(|| WorldError::Seed(format!("bad subnet cidr {cidr}")))?;
        let vcn_cidr = vcn
            .get("cidrBlock")
            .and_then(Value::as_str)
            .and_then(Cidr::parse)
            .ok_or_else(|| WorldError::Seed("the vcn has no cidr".into()))?;
        if !vcn_cidr.contains(c.network().into()) || c.prefix < vcn_cidr.prefix {
            return Err(WorldError::Seed(format!(
                "subnet {cidr} is not inside the vcn"
            )));
        }
        let overlaps = self.all(SUBNET).any(|s| {
            s.get("vcnId").and_then(Value::as_str) == Some(vcn_id)
                && s.get("cidrBlock")
                    .and_then(Value::as_str)
                    .and_then(Cidr::parse)
                    .is_some_and(|o| {
                        o.contains(c.network().into()) || c.contains(o.network().into())
                    })
        });
        if overlaps {
            return Err(WorldError::Seed(format!(
                "subnet {cidr} overlaps another subnet of the vcn"
            )));
        }
        let region = vcn
            .get("_region")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let id = self.new_id(SUBNET, Some(&region));
        let net = format!("{}/{}", std::net::Ipv4Addr::from(c.addr), c.prefix);
        let router = std::net::Ipv4Addr::from(c.network() + 1).to_string();
        self.insert(
            SUBNET,
            json!({"id": id, "compartmentId": vcn.get("compartmentId"), "vcnId": vcn_id, "cidrBlock": net,
                   "ipv4CidrBlocks": [net], "availabilityDomain": null, "displayName": name,
                   "dnsLabel": null, "lifecycleState": "AVAILABLE", "prohibitPublicIpOnVnic": true,
                   "prohibitInternetIngress": true, "routeTableId": vcn.get("defaultRouteTableId"),
                   "securityListIds": [vcn.get("defaultSecurityListId")],
                   "dhcpOptionsId": vcn.get("defaultDhcpOptionsId"), "timeCreated": rfc3339(wall_ms()),
                   "virtualRouterIp": router, "virtualRouterMac": "00:00:17:00:00:01",
                   "freeformTags": {}, "definedTags": {}, "_region": region}),
        );
        Ok(id)
    }

    /// Adds a compartment under `parent` (the tenancy or another compartment).
    pub fn add_compartment(&mut self, name: &str, parent: &str) -> String {
        let id = self.new_id(COMPARTMENT, None);
        self.insert(
            COMPARTMENT,
            json!({"id": id, "compartmentId": parent, "name": name, "description": name,
                   "timeCreated": rfc3339(wall_ms()), "lifecycleState": "ACTIVE", "isAccessible": true,
                   "freeformTags": {}, "definedTags": {}}),
        );
        id
    }

    /// AD names for a region, e.g. `Sxim:US-ASHBURN-AD-1`.
    pub fn availability_domains(&self, region: &str) -> Vec<String> {
        if let Some(stem) = self
            .home_ad_stem
            .as_ref()
            .filter(|_| region == self.home_region)
        {
            return (1..=self.ad_count.max(1))
                .map(|i| format!("{stem}-AD-{i}"))
                .collect();
        }
        let prefix: String = self
            .tenancy_id
            .rsplit('.')
            .next()
            .unwrap_or("sim")
            .chars()
            .take(4)
            .collect();
        let mut p = prefix.chars();
        let prefix = match p.next() {
            Some(c) => c.to_uppercase().collect::<String>() + p.as_str(),
            None => "Sim".into(),
        };
        let short = region
            .rsplit_once('-')
            .map(|(a, _)| a)
            .unwrap_or(region)
            .to_uppercase();
        (1..=self.ad_count.max(1))
            .map(|i| format!("{prefix}:{short}-AD-{i}"))
            .collect()
    }

    /// A fresh OCID of `kind`, regional when `region` is given.
    pub fn new_id(&mut self, kind: &str, region: Option<&str>) -> String {
        self.seq += 1;
        let r = region
            .map(|r| region_key(r).to_lowercase())
            .unwrap_or_default();
        format!("ocid1.{kind}.oc1.{r}.{}", random_suffix(60))
    }

    /// A fresh etag.
    pub fn new_etag(&mut self) -> String {
        self.seq += 1;
        format!("{:016x}{}", self.seq, random_suffix(8))
    }

    /// Inserts a document (its `id` field names it) with a fresh etag.
    pub fn insert(&mut self, kind: &str, doc: Value) -> String {
        let mut doc = match doc {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let id = doc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let etag = self.new_etag();
        doc.insert("_etag".into(), Value::String(etag));
        self.resources
            .entry(kind.to_string())
            .or_default()
            .insert(id.clone(), doc);
        id
    }

    pub fn get(&self, kind: &str, id: &str) -> Option<&Doc> {
        self.resources.get(kind).and_then(|m| m.get(id))
    }

    pub fn get_mut(&mut self, kind: &str, id: &str) -> Option<&mut Doc> {
        self.resources.get_mut(kind).and_then(|m| m.get_mut(id))
    }

    pub fn remove(&mut self, kind: &str, id: &str) -> Option<Doc> {
        self.resources.get_mut(kind).and_then(|m| m.remove(id))
    }

    /// All documents of a kind, in id order.
    pub fn all(&self, kind: &str) -> impl Iterator<Item = &Doc> {
        self.resources
            .get(kind)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// The world's clock: wall clock plus the settable offset.
    pub fn now_ms(&self) -> i64 {
        wall_ms() + self.clock_offset_ms
    }

    /// What happens to a public IP when its private IP goes away: an ephemeral one "is
    /// automatically deleted when its private IP is deleted, when the VNIC is terminated, or when
    /// the instance is terminated"; a reserved one is unassigned and returns to the pool
    /// (terraform-provider-oci docs/core/public_ips.md, `lifetime`).
    pub fn release_public_ip(&mut self, id: &str) {
        let reserved = self
            .get(PUBLIC_IP, id)
            .and_then(|d| d.get("lifetime"))
            .and_then(Value::as_str)
            == Some("RESERVED");
        if !reserved {
            self.remove(PUBLIC_IP, id);
            return;
        }
        let etag = self.new_etag();
        if let Some(d) = self.get_mut(PUBLIC_IP, id) {
            for k in ["privateIpId", "assignedEntityId", "assignedEntityType"] {
                d.insert(k.into(), Value::Null);
            }
            d.insert("lifecycleState".into(), json!("AVAILABLE"));
            d.insert("_etag".into(), json!(etag));
        }
    }

    /// Removes the VNICs, attachments and private IPs of instances that are TERMINATED now.
    pub fn sweep(&mut self) -> bool {
        let now = self.now_ms();
        let dead: Vec<String> = self
            .all(INSTANCE)
            .filter(|d| {
                d.get("_terminatedAtMs")
                    .and_then(Value::as_i64)
                    .is_some_and(|t| t <= now)
            })
            .filter(|d| d.get("_swept").is_none())
            .filter_map(|d| d.get("id").and_then(Value::as_str).map(String::from))
            .collect();
        if dead.is_empty() {
            return false;
        }
        for inst in &dead {
            let vnics: Vec<String> = self
                .all(VNIC)
                .filter(|v| v.get("_instanceId").and_then(Value::as_str) == Some(inst.as_str()))
                .filter_map(|v| v.get("id").and_then(Value::as_str).map(String::from))
                .collect();
            for v in &vnics {
                self.remove(VNIC, v);
                // IPv6 objects belong to their VNIC and go with it (a guess by analogy with
                // secondary private IPs, which the docs say are deleted with the VNIC)
                let v6: Vec<String> = self
                    .all(IPV6)
                    .filter(|p| p.get("vnicId").and_then(Value::as_str) == Some(v.as_str()))
                    .filter_map(|p| p.get("id").and_then(Value::as_str).map(String::from))
                    .collect();
                for p in v6 {
                    self.remove(IPV6, &p);
                }
                let ips: Vec<String> = self
                    .all(PRIVATE_IP)
                    .filter(|p| p.get("vnicId").and_then(Value::as_str) == Some(v.as_str()))
                    .filter_map(|p| p.get("id").and_then(Value::as_str).map(String::from))
                    .collect();
                for ip in ips {
                    self.remove(PRIVATE_IP, &ip);
                    // An ephemeral public IP "is automatically deleted when its private IP is
                    // deleted, when the VNIC is terminated, or when the instance is terminated"
                    // (terraform-provider-oci docs/core/public_ips.md, `lifetime`).
                    let public: Vec<String> = self
                        .all(PUBLIC_IP)
                        .filter(|p| {
                            p.get("privateIpId").and_then(Value::as_str) == Some(ip.as_str())
                        })
                        .filter_map(|p| p.get("id").and_then(Value::as_str).map(String::from))
                        .collect();
                    for p in public {
                        self.release_public_ip(&p);
                    }
                }
            }
            if let Some(atts) = self.resources.get_mut(VNIC_ATTACHMENT) {
                for a in atts.values_mut() {
                    if a.get("instanceId").and_then(Value::as_str) == Some(inst.as_str()) {
                        a.insert("lifecycleState".into(), json!("DETACHED"));
                    }
                }
            }
            self.leaf_certs.remove(inst);
            self.imds_aliases.retain(|_, i| i != inst);
            if let Some(d) = self.get_mut(INSTANCE, inst) {
                d.insert("_swept".into(), json!(true));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_388_957_500_123), "2014-01-05T21:31:40.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn cidr_reserves_network_gateway_and_broadcast() {
        let c = Cidr::parse("10.0.1.0/24").unwrap();
        assert!(!c.is_usable("10.0.1.0".parse().unwrap()));
        assert!(!c.is_usable("10.0.1.1".parse().unwrap()));
        assert!(c.is_usable("10.0.1.2".parse().unwrap()));
        assert!(!c.is_usable("10.0.1.255".parse().unwrap()));
        assert!(!c.is_usable("10.0.2.5".parse().unwrap()));
    }

    #[test]
    fn debug_output_redacts_keys() {
        let spec = SeedSpec {
            user_key_pem: Some("-----BEGIN PRIVATE KEY-----secret".into()),
            ..SeedSpec::default()
        };
        assert!(!format!("{spec:?}").contains("secret"));
        let w = World {
            token_secret: "hmac-secret".into(),
            ..World::default()
        };
        assert!(!format!("{w:?}").contains("hmac-secret"));
    }

    #[test]
    fn region_keys() {
        assert_eq!(region_key("us-ashburn-1"), "IAD");
        assert_eq!(region_key("xx-newcity-1"), "NEW");
    }
}
