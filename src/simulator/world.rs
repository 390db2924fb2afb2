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

/// What `World::seed` should build. `Default` gives a small usable cloud.
#[derive(Clone)]
pub struct SeedSpec {
    pub tenancy_name: String,
    pub home_region: String,
    /// other subscribed regions
    pub other_regions: Vec<String>,
    pub compartment_name: String,
    pub vcn_cidr: String,
    pub subnet_cidr: String,
    /// the VCN's IPv6 prefix (OCI allocates a /56) and the subnet's /64 inside it; `None` = no
    /// IPv6 on the VCN and subnet
    pub ipv6: Option<(String, String)>,
    pub ad_count: u8,
    pub user_name: String,
    /// PEM private key (PKCS#1 or PKCS#8) to register for the user; `None` generates a 2048-bit key
    pub user_key_pem: Option<String>,
}

impl std::fmt::Debug for SeedSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedSpec")
            .field("home_region", &self.home_region)
            .field("other_regions", &self.other_regions)
            .field("vcn_cidr", &self.vcn_cidr)
            .field("subnet_cidr", &self.subnet_cidr)
            .field(
                "user_key_pem",
                &self.user_key_pem.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec {
            tenancy_name: "vipsetup-sim".into(),
            home_region: "us-ashburn-1".into(),
            other_regions: vec!["us-phoenix-1".into()],
            compartment_name: "vipsetup".into(),
            vcn_cidr: "10.0.0.0/16".into(),
            subnet_cidr: "10.0.1.0/24".into(),
            // 2603:c020::/32 is Oracle's (ARIN); a /56 per VCN and a /64 per subnet is what OCI
            // allocates ("Oracle-allocated /56 prefix", docs Network/Concepts/ipv6.htm)
            ipv6: Some(("2603:c020:1::/56".into(), "2603:c020:1:1::/64".into())),
            ad_count: 3,
            user_name: "admin".into(),
            user_key_pem: None,
        }
    }
}

/// What seeding made: everything a client needs to sign requests and find resources.
#[derive(Clone, Serialize, Deserialize)]
pub struct Seeded {
    pub tenancy_id: String,
    pub user_id: String,
    pub fingerprint: String,
    /// the user's private key, PKCS#8 PEM
    pub private_key_pem: String,
    pub home_region: String,
    pub compartment_id: String,
    pub vcn_id: String,
    pub subnet_id: String,
    pub image_ids: Vec<String>,
    pub availability_domains: Vec<String>,
}

impl Seeded {
    /// A `[DEFAULT]` profile for `~/.oci/config` that signs as the seeded user with the key
    /// stored at `key_file` (the same text Oracle's CLI and SDKs read).
    pub fn oci_config(&self, key_file: &str) -> String {
        format!(
            "[DEFAULT]\nuser={}\nfingerprint={}\ntenancy={}\nregion={}\nkey_file={key_file}\n",
            self.user_id, self.fingerprint, self.tenancy_id, self.home_region
        )
    }
}

impl std::fmt::Debug for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeded")
            .field("tenancy_id", &self.tenancy_id)
            .field("user_id", &self.user_id)
            .field("fingerprint", &self.fingerprint)
            .field("private_key_pem", &"[redacted]")
            .field("compartment_id", &self.compartment_id)
            .field("subnet_id", &self.subnet_id)
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

/// The routing a private subnet needs to reach the OCI API, as the Networking quickstarts build
/// it: the VCN's default route table sends 0.0.0.0/0 to a NAT gateway and the region's "All
/// Services In Oracle Services Network" to a service gateway (docs, servicegateway.htm: a
/// service gateway reaches Oracle services only, hence the NAT for package mirrors); an
/// internet gateway exists but no route uses it; DHCP options are the VCN defaults
/// (VcnLocalPlusInternet DNS, search domain `<vcn dns label>.oraclevcn.com`).
fn seed_routing(w: &mut World, vcn_id: &str, comp_id: &str, region: &str, now: i64) {
    let key = region_key(region);
    let lower = key.to_lowercase();
    let created = rfc3339(now);
    let all_services = w.new_id(SERVICE, Some(region));
    w.insert(
        SERVICE,
        json!({"id": all_services, "name": format!("All {key} Services In Oracle Services Network"),
               "cidrBlock": format!("all-{lower}-services-in-oracle-services-network"),
               "description": "All services in the region's Oracle Services Network", "_region": region}),
    );
    let object_storage = w.new_id(SERVICE, Some(region));
    w.insert(
        SERVICE,
        json!({"id": object_storage, "name": format!("OCI {key} Object Storage"),
               "cidrBlock": format!("oci-{lower}-objectstorage"),
               "description": "Object Storage", "_region": region}),
    );
    let common = |id: String, name: &str| {
        json!({"id": id, "compartmentId": comp_id, "vcnId": vcn_id, "displayName": name,
               "lifecycleState": "AVAILABLE", "timeCreated": created, "freeformTags": {},
               "definedTags": {}, "_region": region})
    };
    let merge = |mut base: Value, extra: Value| {
        if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
            b.extend(e);
        }
        base
    };
    let nat = w.new_id(NAT_GATEWAY, Some(region));
    w.insert(
        NAT_GATEWAY,
        merge(
            common(nat.clone(), "nat"),
            json!({"blockTraffic": false, "natIp": "203.0.113.10", "publicIpId": null,
                   "routeTableId": null}),
        ),
    );
    let sgw = w.new_id(SERVICE_GATEWAY, Some(region));
    w.insert(
        SERVICE_GATEWAY,
        merge(
            common(sgw.clone(), "sgw"),
            json!({"blockTraffic": false, "routeTableId": null,
                   "services": [{"serviceId": all_services,
                                 "serviceName": format!("All {key} Services In Oracle Services Network")}]}),
        ),
    );
    let igw = w.new_id(INTERNET_GATEWAY, Some(region));
    w.insert(
        INTERNET_GATEWAY,
        merge(
            common(igw, "igw"),
            json!({"isEnabled": true, "routeTableId": null}),
        ),
    );
    let vcn = w.get(VCN, vcn_id).cloned().unwrap_or_default();
    let id_of = |k: &str| {
        vcn.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let vcn_name = vcn
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or("vcn")
        .to_string();
    w.insert(
        ROUTE_TABLE,
        merge(
            common(id_of("defaultRouteTableId"), &format!("Default Route Table for {vcn_name}")),
            json!({"routeRules": [
                {"destination": "0.0.0.0/0", "destinationType": "CIDR_BLOCK", "networkEntityId": nat,
                 "cidrBlock": null, "description": "internet, through the NAT gateway", "routeType": "STATIC"},
                {"destination": format!("all-{lower}-services-in-oracle-services-network"),
                 "destinationType": "SERVICE_CIDR_BLOCK", "networkEntityId": sgw, "cidrBlock": null,
                 "description": "Oracle services, through the service gateway", "routeType": "STATIC"}]}),
        ),
    );
    let domain = vcn
        .get("vcnDomainName")
        .and_then(Value::as_str)
        .unwrap_or("vcn.oraclevcn.com")
        .to_string();
    w.insert(
        DHCP_OPTIONS,
        merge(
            common(id_of("defaultDhcpOptionsId"), &format!("Default DHCP Options for {vcn_name}")),
            json!({"domainNameType": "VCN_DOMAIN", "options": [
                {"type": "DomainNameServer", "serverType": "VcnLocalPlusInternet", "customDnsServers": []},
                {"type": "SearchDomain", "searchDomainNames": [domain]}]}),
        ),
    );
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

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: u32,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.split_once('/')?;
        let addr: std::net::Ipv4Addr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        Some(Cidr {
            addr: u32::from(addr) & Self::mask(prefix),
            prefix,
        })
    }
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }
    pub fn contains(&self, ip: std::net::Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix) == self.addr
    }
    pub fn network(&self) -> u32 {
        self.addr
    }
    pub fn broadcast(&self) -> u32 {
        self.addr | !Self::mask(self.prefix)
    }
    /// OCI reserves the network address, the first two host addresses and the broadcast address.
    pub fn is_usable(&self, ip: std::net::Ipv4Addr) -> bool {
        let v = u32::from(ip);
        self.contains(ip) && v > self.network() + 1 && v < self.broadcast()
    }
}

/// An IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr6 {
    pub addr: u128,
    pub prefix: u8,
}

impl Cidr6 {
    pub fn parse(s: &str) -> Option<Cidr6> {
        let (a, p) = s.split_once('/')?;
        let addr: std::net::Ipv6Addr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 128 {
            return None;
        }
        Some(Cidr6 {
            addr: u128::from(addr) & Self::mask(prefix),
            prefix,
        })
    }
    fn mask(prefix: u8) -> u128 {
        if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        }
    }
    pub fn contains(&self, ip: std::net::Ipv6Addr) -> bool {
        u128::from(ip) & Self::mask(self.prefix) == self.addr
    }
    pub fn within(&self, outer: &Cidr6) -> bool {
        self.prefix >= outer.prefix && outer.contains(self.addr.into())
    }
}

impl std::fmt::Display for Cidr6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", std::net::Ipv6Addr::from(self.addr), self.prefix)
    }
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

    /// Builds a world: tenancy, regions, a compartment, a VCN with one regional subnet, platform
    /// images, and an admin user with an API key.
    pub fn seed(spec: &SeedSpec) -> Result<(World, Seeded), WorldError> {
        let subnet_cidr = Cidr::parse(&spec.subnet_cidr)
            .ok_or_else(|| WorldError::Seed(format!("bad subnet cidr {}", spec.subnet_cidr)))?;
        let vcn_cidr = Cidr::parse(&spec.vcn_cidr)
            .ok_or_else(|| WorldError::Seed(format!("bad vcn cidr {}", spec.vcn_cidr)))?;
        if !vcn_cidr.contains(subnet_cidr.network().into()) || subnet_cidr.prefix < vcn_cidr.prefix
        {
            return Err(WorldError::Seed(format!(
                "subnet {} is not inside vcn {}",
                spec.subnet_cidr, spec.vcn_cidr
            )));
        }
        if spec.ad_count == 0 {
            return Err(WorldError::Seed("ad_count must be at least 1".into()));
        }
        let mut w = World {
            tenancy_id: format!("ocid1.tenancy.oc1..{}", random_suffix(60)),
            home_region: spec.home_region.clone(),
            ad_count: spec.ad_count,
            token_secret: random_suffix(48),
            ..World::default()
        };
        w.regions.push(Region {
            name: spec.home_region.clone(),
            key: region_key(&spec.home_region),
        });
        for r in &spec.other_regions {
            if *r != spec.home_region {
                w.regions.push(Region {
                    name: r.clone(),
                    key: region_key(r),
                });
            }
        }
        let now = wall_ms();
        let home = spec.home_region.clone();
        let tenancy_id = w.tenancy_id.clone();
        w.insert(
            TENANCY,
            json!({"id": tenancy_id, "name": spec.tenancy_name, "description": "simulated tenancy",
                   "homeRegionKey": region_key(&home), "freeformTags": {}, "definedTags": {}}),
        );
        let comp_id = w.new_id(COMPARTMENT, None);
        w.insert(
            COMPARTMENT,
            json!({"id": comp_id, "compartmentId": tenancy_id, "name": spec.compartment_name,
                   "description": "seeded compartment", "timeCreated": rfc3339(now),
                   "lifecycleState": "ACTIVE", "isAccessible": true, "freeformTags": {}, "definedTags": {}}),
        );
        let vcn_id = w.new_id(VCN, Some(&home));
        let vcn_cidr_s = format!(
            "{}/{}",
            std::net::Ipv4Addr::from(vcn_cidr.addr),
            vcn_cidr.prefix
        );
        let route_table_id = w.new_id(ROUTE_TABLE, Some(&home));
        let dhcp_id = w.new_id(DHCP_OPTIONS, Some(&home));
        w.insert(
            VCN,
            json!({"id": vcn_id, "compartmentId": comp_id, "cidrBlock": vcn_cidr_s, "cidrBlocks": [vcn_cidr_s],
                   "displayName": "vcn", "dnsLabel": "vcn", "lifecycleState": "AVAILABLE",
                   "timeCreated": rfc3339(now), "vcnDomainName": "vcn.oraclevcn.com",
                   "defaultRouteTableId": route_table_id,
                   "defaultSecurityListId": format!("ocid1.securitylist.oc1.{}.{}", region_key(&home).to_lowercase(), random_suffix(60)),
                   "defaultDhcpOptionsId": dhcp_id,
                   "freeformTags": {}, "definedTags": {}, "_region": home}),
        );
        seed_routing(&mut w, &vcn_id, &comp_id, &home, now);
        let subnet_id = w.new_id(SUBNET, Some(&home));
        let sub_s = format!(
            "{}/{}",
            std::net::Ipv4Addr::from(subnet_cidr.addr),
            subnet_cidr.prefix
        );
        let router = std::net::Ipv4Addr::from(subnet_cidr.network() + 1).to_string();
        let vcn_doc = w.get(VCN, &vcn_id).cloned().unwrap_or_default();
        w.insert(
            SUBNET,
            json!({"id": subnet_id, "compartmentId": comp_id, "vcnId": vcn_id, "cidrBlock": sub_s,
                   "ipv4CidrBlocks": [sub_s], "availabilityDomain": null, "displayName": "subnet",
                   "dnsLabel": "sub", "lifecycleState": "AVAILABLE", "prohibitPublicIpOnVnic": true,
                   "prohibitInternetIngress": true, "routeTableId": vcn_doc.get("defaultRouteTableId"),
                   "securityListIds": [vcn_doc.get("defaultSecurityListId")],
                   "dhcpOptionsId": vcn_doc.get("defaultDhcpOptionsId"),
                   "subnetDomainName": "sub.vcn.oraclevcn.com", "timeCreated": rfc3339(now),
                   "virtualRouterIp": router, "virtualRouterMac": "00:00:17:00:00:01",
                   "freeformTags": {}, "definedTags": {}, "_region": home}),
        );
        if let Some((vcn6, sub6)) = &spec.ipv6 {
            w.enable_ipv6(&vcn_id, vcn6, &subnet_id, sub6)?;
        }
        let mut image_ids = Vec::new();
        let images = [
            ("Oracle Linux", "9", "Oracle-Linux-9.5-2025.01.31-0", 30),
            ("Oracle Linux", "9", "Oracle-Linux-9.4-2024.11.30-0", 90),
            ("Oracle Linux", "8", "Oracle-Linux-8.10-2025.01.31-0", 31),
            (
                "Canonical Ubuntu",
                "22.04",
                "Canonical-Ubuntu-22.04-2025.01.31-0",
                32,
            ),
            (
                "Canonical Ubuntu",
                "24.04",
                "Canonical-Ubuntu-24.04-2025.01.31-0",
                33,
            ),
        ];
        for (os, ver, name, age_days) in images {
            let id = w.new_id(IMAGE, Some(&home));
            w.insert(
                IMAGE,
                json!({"id": id, "compartmentId": null, "displayName": name, "operatingSystem": os,
                       "operatingSystemVersion": ver, "lifecycleState": "AVAILABLE", "createImageAllowed": true,
                       "launchMode": "PARAVIRTUALIZED", "listingType": "NONE", "sizeInMBs": 47694,
                       "billableSizeInGBs": 3,
                       "timeCreated": rfc3339(now - age_days * 86_400_000),
                       "freeformTags": {}, "definedTags": {}, "_region": home,
                       "_shapes": ["VM.Standard.E4.Flex", "VM.Standard.E5.Flex", "VM.Standard3.Flex",
                                    "VM.Standard.A1.Flex", "VM.Standard2.1", "VM.Standard.E2.1.Micro"]}),
            );
            image_ids.push(id);
        }
        let (key_pem, public_pkcs1) = match &spec.user_key_pem {
            Some(pem) => {
                let pk = super::pki::public_key_from_private_pem(pem).map_err(WorldError::Key)?;
                (super::pki::to_pkcs8_pem(pem).map_err(WorldError::Key)?, pk)
            }
            None => super::pki::generate_rsa().map_err(WorldError::Key)?,
        };
        let fingerprint = super::pki::fingerprint_md5(&public_pkcs1).map_err(WorldError::Key)?;
        let user_id = format!("ocid1.user.oc1..{}", random_suffix(60));
        let mut keys = BTreeMap::new();
        keys.insert(fingerprint.clone(), public_pkcs1);
        w.users.insert(
            user_id.clone(),
            User {
                id: user_id.clone(),
                name: spec.user_name.clone(),
                api_keys: keys,
            },
        );
        let ads = w.availability_domains(&home);
        let seeded = Seeded {
            tenancy_id: w.tenancy_id.clone(),
            user_id,
            fingerprint,
            private_key_pem: key_pem,
            home_region: home,
            compartment_id: comp_id,
            vcn_id,
            subnet_id,
            image_ids,
            availability_domains: ads,
        };
        w.seeded = Some(seeded.clone());
        Ok((w, seeded))
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
