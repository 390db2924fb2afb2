//! Walks the positioned YAML tree into `Blueprint`, collecting every problem instead of
//! stopping at the first, so one `validate` run shows them all.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::yaml::{self, Node, Pos, Value};
use super::{
    AdvertInterval, Blueprint, Diagnostic, Diagnostics, Failover, HealthCheck, Iam, ImageSpec,
    InstanceSpec, Network, NodeSpec, OciTarget, Ocid, OcidError, PublicIpSpec, RemoteState, SshKey,
    IPV6_SUBNET_PREFIX, MAX_VIPS,
};
use crate::bounded_read::ReadError;
use crate::oci::endpoint::{canonical_region, realm_of};

const TOP_KEYS: &[&str] = &[
    "name", "oci", "network", "nodes", "instance", "failover", "iam", "tags", "state",
];
const OCI_KEYS: &[&str] = &["profile", "region", "compartment"];
const NETWORK_KEYS: &[&str] = &[
    "subnet",
    "vip",
    "vip6",
    "interface",
    "assign_public_ip",
    "public_ip",
];
const NODE_KEYS: &[&str] = &["name", "private_ip", "fault_domain"];
const INSTANCE_KEYS: &[&str] = &[
    "shape",
    "ocpus",
    "memory_gb",
    "availability_domain",
    "image",
    "ssh_keys",
];
const IMAGE_KEYS: &[&str] = &["ocid", "os", "version"];
const SSH_KEY_KEYS: &[&str] = &["path", "key"];
const FAILOVER_KEYS: &[&str] = &[
    "advert_interval",
    "preferred_node",
    "preempt",
    "virtual_router_id",
    "recheck_interval",
    "health_check",
    "notify_topic",
];
const HEALTH_KEYS: &[&str] = &["command", "interval", "timeout", "fall", "rise"];
const IAM_KEYS: &[&str] = &["dynamic_group", "policy", "extra_statements"];
const STATE_KEYS: &[&str] = &["bucket", "namespace", "prefix"];

/// The largest ssh key file read: OCI's instance metadata (user data and keys) holds 32,000
/// bytes in all, so a larger key file could never be used (a limit, not a guess at key sizes).
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

const SSH_KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

pub(super) fn convert(src: &str, path: &Path) -> Result<Blueprint, Diagnostics> {
    let mut cx = Cx {
        file: path.to_path_buf(),
        base_dir: path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    let bp = match yaml::parse(src) {
        Ok(Some(root)) => cx.blueprint(&root),
        Ok(None) => {
            cx.err(
                Pos { line: 1, column: 1 },
                "",
                "the blueprint is empty",
                "run `vipsetup init FILE` to write a commented starter blueprint",
            );
            None
        }
        Err(e) => {
            match e.hint {
                Some(hint) => cx.err(e.pos, "", e.message, hint),
                None => cx.err(
                    e.pos,
                    "",
                    format!("this is not valid YAML: {}", e.message),
                    "fix the YAML syntax at this spot (check indentation, colons and quotes)",
                ),
            }
            None
        }
    };
    match bp {
        Some(bp) if cx.diags.is_empty() => Ok(bp),
        _ => {
            let mut diags = cx.diags;
            diags.sort_by_key(|d| (d.line, d.column));
            Err(Diagnostics(diags))
        }
    }
}

struct Cx {
    file: PathBuf,
    base_dir: PathBuf,
    diags: Vec<Diagnostic>,
    /// Problems that do not stop the blueprint from working.
    warnings: Vec<Diagnostic>,
}

/// The entries of one YAML mapping, after unknown and duplicate keys were reported.
struct Fields<'a> {
    path: String,
    pos: Pos,
    entries: HashMap<&'a str, &'a Node>,
}

impl<'a> Fields<'a> {
    /// A present, non-null value.
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.get(key).copied().filter(|n| !n.is_null())
    }

    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Cx {
    fn err(
        &mut self,
        pos: Pos,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            field: field.into(),
            message: message.into(),
            hint: hint.into(),
        });
    }

    fn type_err(&mut self, node: &Node, field: &str, expected: &str, example: &str) {
        let kind = node.kind();
        self.err(
            node.pos,
            field,
            format!("expected {expected}, found {kind}"),
            format!("write it like this: {example}"),
        );
    }

    // ---- structural helpers ----

    fn fields<'a>(&mut self, node: &'a Node, path: &str, allowed: &[&str]) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            self.type_err(
                node,
                path,
                "a mapping of keys to values",
                "`key: value` lines, indented under it",
            );
            return None;
        };
        let mut out = HashMap::new();
        for (key, value) in entries {
            let field = join(path, &key.name);
            if !allowed.contains(&key.name.as_str()) {
                let hint = match suggest(&key.name, allowed) {
                    Some(s) => format!(
                        "did you mean `{s}`? (keys allowed here: {})",
                        allowed.join(", ")
                    ),
                    None => format!("remove it; keys allowed here: {}", allowed.join(", ")),
                };
                self.err(key.pos, field, format!("unknown key `{}`", key.name), hint);
                continue;
            }
            if out.contains_key(key.name.as_str()) {
                self.err(
                    key.pos,
                    field,
                    format!("`{}` is given twice", key.name),
                    "keep only one of them",
                );
                continue;
            }
            out.insert(key.name.as_str(), value);
        }
        Some(Fields {
            path: path.to_string(),
            pos: node.pos,
            entries: out,
        })
    }

    fn required<'a>(&mut self, f: &Fields<'a>, key: &str, example: &str) -> Option<&'a Node> {
        let node = f.get(key);
        if node.is_none() {
            let (pos, what) = match f.entries.get(key) {
                Some(n) => (n.pos, format!("`{key}` has no value")),
                None => (f.pos, format!("missing required key `{key}`")),
            };
            let field = f.path(key);
            self.err(pos, field, what, format!("add it, e.g. `{key}: {example}`"));
        }
        node
    }

    fn string(&mut self, node: &Node, field: &str, example: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.type_err(node, field, "a string", example);
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar { text, plain: true } if text == "true" => Some(true),
            Value::Scalar { text, plain: true } if text == "false" => Some(false),
            _ => {
                self.type_err(
                    node,
                    field,
                    "true or false",
                    "`true` or `false`, without quotes",
                );
                None
            }
        }
    }

    fn number(&mut self, node: &Node, field: &str, example: &str) -> Option<f64> {
        if let Value::Scalar { text, plain: true } = &node.value {
            if let Ok(v) = text.parse::<f64>() {
                if v.is_finite() {
                    return Some(v);
                }
            }
        }
        self.type_err(node, field, "a number", example);
        None
    }

    fn uint(&mut self, node: &Node, field: &str, min: u32, max: u32, what: &str) -> Option<u32> {
        if let Value::Scalar { text, plain: true } = &node.value {
            if let Ok(v) = text.parse::<u64>() {
                if v >= u64::from(min) && v <= u64::from(max) {
                    return Some(v as u32);
                }
                self.err(
                    node.pos,
                    field,
                    format!("{v} is out of range for {what}"),
                    format!("use a whole number from {min} to {max}"),
                );
                return None;
            }
        }
        self.type_err(node, field, "a whole number", &min.max(1).to_string());
        None
    }

    fn seq<'a>(&mut self, node: &'a Node, field: &str, example: &str) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.type_err(node, field, "a list", example);
                None
            }
        }
    }

    fn ocid(&mut self, node: &Node, field: &str, types: &[&str], regional: bool) -> Option<Ocid> {
        let example = format!(
            "`ocid1.{}.oc1.{}.aaaa...`",
            types[0],
            if regional { "ap-tokyo-1" } else { "" }
        );
        let text = self.string(node, field, &example)?;
        match Ocid::parse(&text, types, regional) {
            Ok(_) if placeholder(&text) => {
                self.err(
                    node.pos,
                    field,
                    format!("`{text}` is a placeholder, not a real OCID"),
                    format!(
                        "copy the {} OCID from the OCI console (it looks like {example})",
                        types[0]
                    ),
                );
                None
            }
            Ok(o) => Some(o),
            Err(e) => {
                let (msg, hint) = match e {
                    OcidError::Malformed(why) => (
                        format!("`{text}` is not an OCID: it {why}"),
                        format!(
                            "copy the {} OCID from the OCI console (it looks like {example})",
                            types[0]
                        ),
                    ),
                    OcidError::WrongType { found } => (
                        format!(
                            "`{text}` is the OCID of a {found}, but this field needs a {}",
                            types.join(" or ")
                        ),
                        format!("use the OCID of a {} (ocid1.{}.…)", types[0], types[0]),
                    ),
                    OcidError::MissingRegion => (
                        format!("`{text}` has an empty region part, but a {} OCID always names its region", types[0]),
                        "copy the full OCID from the OCI console".to_string(),
                    ),
                };
                self.err(node.pos, field, msg, hint);
                None
            }
        }
    }

    fn ipv4(&mut self, node: &Node, field: &str, example: &str) -> Option<Ipv4Addr> {
        let text = self.string(node, field, example)?;
        match text.parse::<Ipv4Addr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.err(
                    node.pos,
                    field,
                    format!("`{text}` is not an IPv4 address"),
                    format!("write four numbers from 0 to 255 separated by dots, e.g. {example}"),
                );
                None
            }
        }
    }

    // ---- the blueprint ----

    fn blueprint(&mut self, root: &Node) -> Option<Blueprint> {
        let f = self.fields(root, "", TOP_KEYS)?;
        let name = self
            .required(&f, "name", "web-vip")
            .and_then(|n| self.pair_name(n, "name"));
        let oci = self
            .required(
                &f,
                "oci",
                "{ region: ap-tokyo-1, compartment: ocid1.compartment.oc1..aaaa }",
            )
            .and_then(|n| self.oci(n, "oci"));
        let network = self
            .required(
                &f,
                "network",
                "{ subnet: ocid1.subnet.oc1.ap-tokyo-1.aaaa, vip: 172.16.2.10/24 }",
            )
            .and_then(|n| self.network(n, "network"));
        let nodes = self
            .required(&f, "nodes", "[{ name: instance1 }, { name: instance2 }]")
            .and_then(|n| self.nodes(n, "nodes", network.as_ref()));
        let instance = self
            .required(
                &f,
                "instance",
                "{ shape: VM.Standard.E4.Flex, ocpus: 1, memory_gb: 8, ... }",
            )
            .and_then(|n| self.instance(n, "instance"));
        let node_names = nodes
            .as_ref()
            .map(|n: &[NodeSpec; 2]| [n[0].name.clone(), n[1].name.clone()]);
        let failover = match f.get("failover") {
            Some(n) => self.failover(n, "failover", node_names.as_ref()),
            None => Some(default_failover()),
        };
        let iam = match (f.get("iam"), name.as_deref()) {
            (Some(n), pair) => self.iam(n, "iam", pair),
            (None, Some(pair)) => Some(default_iam(pair)),
            (None, None) => None,
        };
        let tags = match f.get("tags") {
            Some(n) => self.tags(n, "tags"),
            None => Some(BTreeMap::new()),
        };
        if let (Some(oci), Some((net, _))) = (&oci, &network) {
            self.same_region(&f, oci, net);
        }
        if let Some(nodes) = &nodes {
            self.fault_domains(&f, nodes);
        }
        let state = match f.get("state") {
            Some(n) => self.state(n, "state").map(Some),
            None => Some(None),
        };
        Some(Blueprint {
            source: self.file.clone(),
            name: name?,
            oci: oci?,
            network: network?.0,
            nodes: nodes?,
            instance: instance?,
            failover: failover?,
            iam: iam?,
            tags: tags?,
            warnings: std::mem::take(&mut self.warnings),
            state: state?,
        })
    }

    /// `state: { bucket, namespace, prefix }`. Name rules from the Object Storage docs:
    /// bucket names are letters, digits, hyphens, underscores and periods ("Managing Buckets");
    /// object names are at most 1024 bytes ("Object Names"); a namespace is lowercase letters
    /// and digits (GetNamespace's answers; a guess that it is never anything else).
    fn state(&mut self, node: &Node, path: &str) -> Option<RemoteState> {
        let f = self.fields(node, path, STATE_KEYS)?;
        let bucket = self
            .required(&f, "bucket", "vipsetup-state")
            .and_then(|n| {
                let field = f.path("bucket");
                let b = self.string(n, &field, "vipsetup-state")?;
                let ok = !b.is_empty()
                    && b.len() <= 256
                    && b.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !ok {
                    self.err(
                        n.pos,
                        field,
                        format!("`{b}` is not a bucket name Object Storage accepts"),
                        "use 1 to 256 letters, digits, hyphens, underscores or periods, e.g. vipsetup-state",
                    );
                    return None;
                }
                Some(b)
            });
        let namespace = match f.get("namespace") {
            Some(n) => {
                let field = f.path("namespace");
                let ns = self.string(n, &field, "mytenancyns");
                match ns {
                    Some(ns)
                        if !ns.is_empty()
                            && ns.len() <= 64
                            && ns
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) =>
                    {
                        Some(Some(ns))
                    }
                    Some(ns) => {
                        self.err(
                            n.pos,
                            field,
                            format!("`{ns}` is not an Object Storage namespace"),
                            "use the value `oci os ns get` prints (lowercase letters and digits), or leave it out to look it up",
                        );
                        None
                    }
                    None => None,
                }
            }
            None => Some(None),
        };
        let prefix = match f.get("prefix") {
            Some(n) => {
                let field = f.path("prefix");
                let p = self.string(n, &field, "pairs/")?;
                if p.len() > 900 || p.contains('\0') || p.starts_with('/') {
                    self.err(
                        n.pos,
                        field,
                        format!("`{p}` cannot start an object name"),
                        "use at most 900 bytes, not starting with `/`, e.g. pairs/",
                    );
                    return None;
                }
                Some(p)
            }
            None => Some(String::new()),
        };
        Some(RemoteState {
            bucket: bucket?,
            namespace: namespace?,
            prefix: prefix?,
        })
    }

    /// The subnet's OCID names its realm and region: a blueprint whose `oci.region` is another
    /// one would fail at the first API call (a regional OCID is only found in its region).
    fn same_region(&mut self, f: &Fields<'_>, oci: &OciTarget, net: &Network) {
        let Some(region) = &oci.region else { return };
        let region = canonical_region(region);
        let parts: Vec<&str> = net.subnet.as_str().split('.').collect();
        let (realm, ocid_region) = (parts[2], canonical_region(parts[3]));
        let pos = f
            .get("network")
            .and_then(|n| child(n, "subnet"))
            .map_or(f.pos, |n| n.pos);
        let field = join(&f.path, "network.subnet");
        // Only full region names are compared: an unknown short code could be a region this
        // table does not know yet.
        if ocid_region.contains('-') && ocid_region != region {
            self.err(
                pos,
                field,
                format!(
                    "the subnet's OCID is in region {ocid_region}, but `oci.region` is {region}"
                ),
                "use the subnet's region in `oci.region`, or a subnet of that region",
            );
        } else if REALM_KNOWN.contains(&realm) && realm != realm_of(&region) {
            self.err(
                pos,
                field,
                format!(
                    "the subnet's OCID is in realm {realm}, but region {region} is in realm {}",
                    realm_of(&region)
                ),
                "use the subnet's region in `oci.region`, or a subnet of that realm",
            );
        }
    }

    /// Both nodes in one fault domain share hardware: allowed (a warning), but one failure can
    /// take both down.
    fn fault_domains(&mut self, f: &Fields<'_>, nodes: &[NodeSpec; 2]) {
        let (Some(a), Some(b)) = (&nodes[0].fault_domain, &nodes[1].fault_domain) else {
            return;
        };
        if a != b {
            return;
        }
        let pos = f
            .get("nodes")
            .and_then(|n| match &n.value {
                Value::Seq(items) => items.get(1),
                _ => None,
            })
            .and_then(|n| child(n, "fault_domain"))
            .map_or(f.pos, |n| n.pos);
        self.warnings.push(Diagnostic {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            field: "nodes[1].fault_domain".into(),
            message: format!("both nodes are in {a}: one hardware failure there takes the VIP down with both"),
            hint: "put the nodes in different fault domains, or leave `fault_domain` out (vipsetup then spreads them)".into(),
        });
    }

    fn pair_name(&mut self, node: &Node, field: &str) -> Option<String> {
        let name = self.string(node, field, "web-vip")?;
        if !is_label(&name, 40) {
            self.err(
                node.pos,
                field,
                format!("`{name}` cannot be used as the pair name (it prefixes OCI resource names)"),
                "use 1 to 40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen, e.g. web-vip",
            );
            return None;
        }
        Some(name)
    }

    fn oci(&mut self, node: &Node, path: &str) -> Option<OciTarget> {
        let f = self.fields(node, path, OCI_KEYS)?;
        let profile = match f.get("profile") {
            Some(n) => {
                let p = self.string(n, &f.path("profile"), "DEFAULT");
                if let Some(p) = &p {
                    if p.contains(['[', ']']) || p.trim() != p || p.is_empty() {
                        self.err(
                            n.pos,
                            f.path("profile"),
                            format!("`{p}` is not a valid profile name"),
                            "write the name inside the brackets of ~/.oci/config, e.g. DEFAULT",
                        );
                    }
                }
                p
            }
            None => Some("DEFAULT".to_string()),
        };
        let region = match f.get("region") {
            Some(n) => self.region(n, &f.path("region")).map(Some),
            None => Some(None),
        };
        let compartment = self
            .required(&f, "compartment", "ocid1.compartment.oc1..aaaa")
            .and_then(|n| {
                self.ocid(
                    n,
                    &f.path("compartment"),
                    &["compartment", "tenancy"],
                    false,
                )
            });
        Some(OciTarget {
            profile: profile?,
            region: region?,
            compartment: compartment?,
        })
    }

    fn region(&mut self, node: &Node, field: &str) -> Option<String> {
        let r = self.string(node, field, "ap-tokyo-1")?;
        let parts: Vec<&str> = r.split('-').collect();
        let ok = parts.len() >= 3
            && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty()
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
        if !ok {
            self.err(
                node.pos,
                field,
                format!("`{r}` is not an OCI region name"),
                "use the region identifier, e.g. ap-tokyo-1 or us-ashburn-1 (not the short code like NRT)",
            );
            return None;
        }
        Some(r)
    }

    /// Returns the network and the position of the VIP (for node cross-checks).
    fn network(&mut self, node: &Node, path: &str) -> Option<(Network, Pos)> {
        let f = self.fields(node, path, NETWORK_KEYS)?;
        let subnet = self
            .required(&f, "subnet", "ocid1.subnet.oc1.ap-tokyo-1.aaaa")
            .and_then(|n| self.ocid(n, &f.path("subnet"), &["subnet"], true));
        let vip_node = self.required(&f, "vip", "172.16.2.10/24");
        let vips = vip_node.and_then(|n| self.vips(n, &f.path("vip")));
        let vip6 = match f.get("vip6") {
            Some(n) => self.vips6(n, &f.path("vip6")),
            None => Some(Vec::new()),
        };
        let interface = match f.get("interface") {
            Some(n) => self.interface(n, &f.path("interface")).map(Some),
            None => Some(None),
        };
        let assign_public_ip = match f.get("assign_public_ip") {
            Some(n) => self.boolean(n, &f.path("assign_public_ip")),
            None => Some(false),
        };
        let public_ip = match f.get("public_ip") {
            Some(n) => self.public_ip(n, &f.path("public_ip")).map(Some),
            None => Some(None),
        };
        let (vips, vip_prefix) = vips?;
        Some((
            Network {
                subnet: subnet?,
                vip: *vips.first()?,
                vip_prefix,
                vips,
                vip6: vip6?,
                interface: interface?,
                assign_public_ip: assign_public_ip?,
                public_ip: public_ip?,
            },
            vip_node?.pos,
        ))
    }

    /// `network.vip`: one address or a list of 1 to MAX_VIPS distinct ones, all in one subnet
    /// (the same written prefix length, the same network).
    fn vips(&mut self, node: &Node, field: &str) -> Option<(Vec<Ipv4Addr>, Option<u8>)> {
        let items = one_or_list(node, field);
        if items.is_empty() || items.len() > MAX_VIPS {
            self.err(
                node.pos,
                field,
                format!(
                    "{} VIPs are listed; a pair carries 1 to {MAX_VIPS}",
                    items.len()
                ),
                "list one to eight addresses, e.g. [172.16.2.10/24, 172.16.2.20/24]",
            );
            return None;
        }
        let mut out: Vec<(Ipv4Addr, Option<u8>)> = Vec::new();
        let mut ok = true;
        for (f, n) in &items {
            match self.vip(n, f) {
                Some((ip, prefix)) => {
                    if out.iter().any(|(x, _)| *x == ip) {
                        self.err(
                            n.pos,
                            f,
                            format!("{ip} is listed twice"),
                            "list every VIP once",
                        );
                        ok = false;
                    }
                    out.push((ip, prefix));
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let prefix = out.iter().find_map(|(_, p)| *p);
        for ((ip, p), (f, n)) in out.iter().zip(&items) {
            if let (Some(p), Some(want)) = (p, prefix) {
                if *p != want {
                    self.err(
                        n.pos,
                        f,
                        format!("{ip}/{p} has another prefix length than the first VIP (/{want})"),
                        "every VIP is in the pair's one subnet: write the subnet's prefix length on each, or on none",
                    );
                    return None;
                }
            }
            if let Some(want) = prefix {
                let net = network_of(out[0].0, want);
                if !net.contains(ip) {
                    self.err(
                        n.pos,
                        f,
                        format!("{ip} is outside the first VIP's subnet {net}"),
                        format!("every VIP must be in the pair's subnet: pick an address in {net}"),
                    );
                    return None;
                }
                if let Some(why) = reserved(*ip, want) {
                    self.err(
                        n.pos,
                        f,
                        format!("{ip} is {why} of {net}, which OCI reserves"),
                        "pick a free host address inside the subnet",
                    );
                    return None;
                }
            }
        }
        Some((out.into_iter().map(|(ip, _)| ip).collect(), prefix))
    }

    /// `network.vip6`: one IPv6 address or a list of up to MAX_VIPS distinct global or
    /// unique-local unicast addresses, optionally written with `/64`.
    fn vips6(&mut self, node: &Node, field: &str) -> Option<Vec<Ipv6Addr>> {
        let items = one_or_list(node, field);
        if items.len() > MAX_VIPS {
            self.err(
                node.pos,
                field,
                format!(
                    "{} IPv6 VIPs are listed; a pair carries at most {MAX_VIPS}",
                    items.len()
                ),
                "list at most eight addresses, or leave vip6 out",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (f, n) in &items {
            let Some(text) = self.string(n, f, "2603:c020:1:2::10") else {
                ok = false;
                continue;
            };
            let (addr, prefix) = match text.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (text.as_str(), None),
            };
            let Ok(ip) = addr.parse::<Ipv6Addr>() else {
                self.err(
                    n.pos,
                    f,
                    format!("`{text}` is not an IPv6 address"),
                    "write an address of the subnet's IPv6 prefix, e.g. 2603:c020:1:2::10",
                );
                ok = false;
                continue;
            };
            if let Some(p) = prefix.filter(|p| *p != IPV6_SUBNET_PREFIX.to_string()) {
                self.err(
                    n.pos,
                    f,
                    format!("`/{p}` is not the prefix length of an OCI subnet's IPv6 prefix"),
                    "OCI subnets' IPv6 prefixes are always /64: write /64 or no prefix",
                );
                ok = false;
                continue;
            }
            let seg0 = ip.segments()[0];
            let why = if ip.is_unspecified() {
                Some("the unspecified address")
            } else if ip.is_loopback() {
                Some("the loopback address")
            } else if ip.is_multicast() {
                Some("a multicast address")
            } else if seg0 & 0xffc0 == 0xfe80 {
                Some("a link-local address (fe80::/10)")
            } else if ip.to_ipv4_mapped().is_some() {
                Some("an IPv4-mapped address")
            } else {
                None
            };
            if let Some(why) = why {
                self.err(
                    n.pos,
                    f,
                    format!("{ip} is {why}, which can never be a VIP"),
                    "use a free address of the subnet's IPv6 prefix, e.g. 2603:c020:1:2::10",
                );
                ok = false;
                continue;
            }
            if out.contains(&ip) {
                self.err(
                    n.pos,
                    f,
                    format!("{ip} is listed twice"),
                    "list every VIP once",
                );
                ok = false;
                continue;
            }
            out.push(ip);
        }
        ok.then_some(out)
    }

    /// `network.public_ip`: `reserved` or the OCID of an existing reserved public IP.
    fn public_ip(&mut self, node: &Node, field: &str) -> Option<PublicIpSpec> {
        let text = self.string(node, field, "reserved")?;
        if text == "reserved" {
            return Some(PublicIpSpec::Reserved);
        }
        if text.starts_with("ocid1.") {
            return self
                .ocid(node, field, &["publicip"], true)
                .map(PublicIpSpec::Existing);
        }
        self.err(
            node.pos,
            field,
            format!("`{text}` is neither `reserved` nor a public IP OCID"),
            "write `reserved` (vipsetup creates one and deletes it on destroy) or the OCID of a reserved public IP you own (ocid1.publicip.…)",
        );
        None
    }

    fn vip(&mut self, node: &Node, field: &str) -> Option<(Ipv4Addr, Option<u8>)> {
        let text = self.string(node, field, "172.16.2.10/24")?;
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.as_str(), None),
        };
        let Ok(ip) = addr.parse::<Ipv4Addr>() else {
            self.err(
                node.pos,
                field,
                format!("`{text}` is not an IPv4 address"),
                "write the address and the subnet's prefix length, e.g. 172.16.2.10/24",
            );
            return None;
        };
        let prefix = match prefix {
            None => None,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if (16..=30).contains(&p) => Some(p),
                _ => {
                    self.err(
                        node.pos,
                        field,
                        format!("`/{p}` is not a prefix length an OCI subnet can have"),
                        "write the subnet's prefix length, from /16 to /30, e.g. 172.16.2.10/24",
                    );
                    return None;
                }
            },
        };
        if let Some(why) = not_a_host(ip) {
            self.err(
                node.pos,
                field,
                format!("{ip} is {why}, which can never be a VIP"),
                "use a free private address of the subnet, e.g. 172.16.2.10/24",
            );
            return None;
        }
        if let Some(p) = prefix {
            if let Some(why) = reserved(ip, p) {
                self.err(
                    node.pos,
                    field,
                    format!("{ip} is {why} of {}, which OCI reserves", network_of(ip, p)),
                    "pick a free host address inside the subnet",
                );
                return None;
            }
        }
        Some((ip, prefix))
    }

    fn interface(&mut self, node: &Node, field: &str) -> Option<String> {
        let name = self.string(node, field, "ens3")?;
        let ok = !name.is_empty()
            && name.len() <= 15
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !ok {
            self.err(
                node.pos,
                field,
                format!("`{name}` is not a Linux interface name"),
                "use the name `ip link` shows on the node (at most 15 letters, digits, - _ .), e.g. ens3",
            );
            return None;
        }
        Some(name)
    }

    fn nodes(
        &mut self,
        node: &Node,
        path: &str,
        network: Option<&(Network, Pos)>,
    ) -> Option<[NodeSpec; 2]> {
        let items = self.seq(node, path, "a list of two `- name: ...` entries")?;
        if items.len() != 2 {
            self.err(
                node.pos,
                path,
                format!("expected exactly two nodes, found {}", items.len()),
                "list exactly two nodes (a VIP pair): `- name: instance1` and `- name: instance2`",
            );
        }
        let mut specs = Vec::new();
        // (name position, ip position) per node, for the cross-checks below.
        let mut spots = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            if let Some((spec, spot)) = self.node(item, &p) {
                specs.push((p, spec));
                spots.push(spot);
            }
        }
        let mut ok = specs.len() == items.len();
        for a in 0..specs.len() {
            for b in 0..a {
                if specs[a].1.name == specs[b].1.name {
                    let msg = format!(
                        "node name `{}` is also used by {}",
                        specs[a].1.name, specs[b].0
                    );
                    self.err(
                        spots[a].0,
                        format!("{}.name", specs[a].0),
                        msg,
                        "give each node its own name",
                    );
                    ok = false;
                }
                if let (Some(x), Some(y)) = (specs[a].1.private_ip, specs[b].1.private_ip) {
                    if x == y {
                        let msg = format!("private_ip {x} is also used by {}", specs[b].0);
                        self.err(
                            spots[a].1,
                            format!("{}.private_ip", specs[a].0),
                            msg,
                            "give each node its own address",
                        );
                        ok = false;
                    }
                }
            }
        }
        if let Some((net, _)) = network {
            for (i, (p, spec)) in specs.iter().enumerate() {
                let Some(ip) = spec.private_ip else { continue };
                let field = format!("{p}.private_ip");
                if net.vips.contains(&ip) {
                    let msg = format!(
                        "{ip} is a VIP (network.vip); a node cannot have a VIP as its own address"
                    );
                    self.err(
                        spots[i].1,
                        field,
                        msg,
                        "give the node another free address in the subnet",
                    );
                    ok = false;
                    continue;
                }
                if let Some(prefix) = net.vip_prefix {
                    let want = network_of(net.vip, prefix);
                    if network_of(ip, prefix) != want {
                        let msg = format!("{ip} is outside the VIP's subnet {want}");
                        self.err(spots[i].1, field, msg, format!("both nodes and the VIP must be in one subnet: pick an address in {want}"));
                        ok = false;
                    } else if let Some(why) = reserved(ip, prefix) {
                        let msg = format!("{ip} is {why} of {want}, which OCI reserves");
                        self.err(
                            spots[i].1,
                            field,
                            msg,
                            "pick a free host address inside the subnet",
                        );
                        ok = false;
                    }
                }
            }
        }
        if !ok || specs.len() != 2 {
            return None;
        }
        let mut it = specs.into_iter().map(|(_, s)| s);
        Some([it.next()?, it.next()?])
    }

    /// A node and the positions of its name and private_ip.
    fn node(&mut self, node: &Node, path: &str) -> Option<(NodeSpec, (Pos, Pos))> {
        let f = self.fields(node, path, NODE_KEYS)?;
        let name_node = self.required(&f, "name", "instance1");
        let name = name_node.and_then(|n| self.node_name(n, &f.path("name")));
        let ip_node = f.get("private_ip");
        let private_ip = match ip_node {
            Some(n) => self.ipv4(n, &f.path("private_ip"), "172.16.2.11").map(Some),
            None => Some(None),
        };
        let fault_domain = match f.get("fault_domain") {
            Some(n) => self.fault_domain(n, &f.path("fault_domain")).map(Some),
            None => Some(None),
        };
        let spots = (
            name_node.map_or(f.pos, |n| n.pos),
            ip_node.map_or(f.pos, |n| n.pos),
        );
        Some((
            NodeSpec {
                name: name?,
                private_ip: private_ip?,
                fault_domain: fault_domain?,
            },
            spots,
        ))
    }

    fn node_name(&mut self, node: &Node, field: &str) -> Option<String> {
        let name = self.string(node, field, "instance1")?;
        // The node name becomes the instance's hostname label (RFC 1123, at most 63 chars).
        if !is_label(&name, 63) {
            self.err(
                node.pos,
                field,
                format!("`{name}` cannot be a node name (it becomes the instance's hostname)"),
                "use 1 to 63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen, e.g. instance1",
            );
            return None;
        }
        Some(name)
    }

    fn fault_domain(&mut self, node: &Node, field: &str) -> Option<String> {
        let fd = self.string(node, field, "FAULT-DOMAIN-1")?;
        if !matches!(
            fd.as_str(),
            "FAULT-DOMAIN-1" | "FAULT-DOMAIN-2" | "FAULT-DOMAIN-3"
        ) {
            self.err(
                node.pos,
                field,
                format!("`{fd}` is not an OCI fault domain"),
                "use FAULT-DOMAIN-1, FAULT-DOMAIN-2 or FAULT-DOMAIN-3, or leave it out",
            );
            return None;
        }
        Some(fd)
    }

    fn instance(&mut self, node: &Node, path: &str) -> Option<InstanceSpec> {
        let f = self.fields(node, path, INSTANCE_KEYS)?;
        let shape_node = self.required(&f, "shape", "VM.Standard.E4.Flex");
        let shape =
            shape_node.and_then(|n| self.string(n, &f.path("shape"), "VM.Standard.E4.Flex"));
        let mut ok = true;
        if let (Some(s), Some(n)) = (&shape, shape_node) {
            if s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            {
                self.err(
                    n.pos,
                    f.path("shape"),
                    format!("`{s}` is not an OCI shape name"),
                    "use a shape name such as VM.Standard.E4.Flex",
                );
                ok = false;
            }
        }
        let flex = shape.as_deref().is_some_and(|s| s.ends_with(".Flex"));
        let amount = |cx: &mut Cx, key: &str, example: &str| -> Option<Option<f64>> {
            match f.get(key) {
                Some(n) => {
                    let v = cx.number(n, &f.path(key), example)?;
                    if v <= 0.0 {
                        cx.err(
                            n.pos,
                            f.path(key),
                            format!("{key} must be above zero, found {v}"),
                            format!("use e.g. `{key}: {example}`"),
                        );
                        return None;
                    }
                    if shape.is_some() && !flex {
                        cx.err(
                            n.pos,
                            f.path(key),
                            format!(
                                "{key} only applies to flex shapes, and `{}` is not one",
                                shape.as_deref().unwrap_or_default()
                            ),
                            format!("remove `{key}`, or use a shape whose name ends in .Flex"),
                        );
                        return None;
                    }
                    Some(Some(v))
                }
                None if flex => {
                    let what = format!(
                        "the flex shape `{}` needs `{key}`",
                        shape.as_deref().unwrap_or_default()
                    );
                    cx.err(
                        f.pos,
                        f.path(key),
                        what,
                        format!("add e.g. `{key}: {example}`"),
                    );
                    None
                }
                None => Some(None),
            }
        };
        let ocpus = amount(self, "ocpus", "1");
        let memory_gb = amount(self, "memory_gb", "8");
        let availability_domain = match f.get("availability_domain") {
            Some(n) => self
                .string(n, &f.path("availability_domain"), "Uocm:AP-TOKYO-1-AD-1")
                .map(Some),
            None => Some(None),
        };
        let image = self
            .required(&f, "image", "{ os: Oracle Linux, version: \"9\" }")
            .and_then(|n| self.image(n, &f.path("image")));
        let ssh_keys = self
            .required(&f, "ssh_keys", "[ ~/.ssh/id_ed25519.pub ]")
            .and_then(|n| self.ssh_keys(n, &f.path("ssh_keys")));
        if !ok {
            return None;
        }
        Some(InstanceSpec {
            shape: shape?,
            ocpus: ocpus?,
            memory_gb: memory_gb?,
            availability_domain: availability_domain?,
            image: image?,
            ssh_keys: ssh_keys?,
        })
    }

    fn image(&mut self, node: &Node, path: &str) -> Option<ImageSpec> {
        let f = self.fields(node, path, IMAGE_KEYS)?;
        match (f.get("ocid"), f.get("os"), f.get("version")) {
            (Some(n), None, None) => self
                .ocid(n, &f.path("ocid"), &["image"], true)
                .map(ImageSpec::Ocid),
            (None, Some(os_node), Some(ver_node)) => {
                let os = self.string(os_node, &f.path("os"), "Oracle Linux");
                let version = self.string(ver_node, &f.path("version"), "\"9\"");
                let (os, version) = (os?, version?);
                let supported = match os.as_str() {
                    "Oracle Linux" => {
                        if !matches!(version.as_str(), "8" | "9") {
                            self.err(ver_node.pos, f.path("version"), format!("Oracle Linux `{version}` is not supported by the failover agent's installer"), "use version \"8\" or \"9\"");
                            return None;
                        }
                        true
                    }
                    "Canonical Ubuntu" => {
                        let ok = version.len() == 5
                            && version.as_bytes()[2] == b'.'
                            && version
                                .chars()
                                .filter(|c| *c != '.')
                                .all(|c| c.is_ascii_digit());
                        if !ok {
                            self.err(
                                ver_node.pos,
                                f.path("version"),
                                format!("`{version}` is not an Ubuntu release number"),
                                "quote it and use the YY.MM form, e.g. \"24.04\"",
                            );
                            return None;
                        }
                        true
                    }
                    _ => false,
                };
                if !supported {
                    self.err(os_node.pos, f.path("os"), format!("operating system `{os}` is not supported by the failover agent's installer"), "use `Oracle Linux` (8 or 9) or `Canonical Ubuntu`, spelled as OCI lists them");
                    return None;
                }
                Some(ImageSpec::Lookup {
                    operating_system: os,
                    version,
                })
            }
            (None, Some(_), None) | (None, None, Some(_)) => {
                let missing = if f.get("os").is_some() {
                    "version"
                } else {
                    "os"
                };
                self.err(
                    f.pos,
                    f.path(missing),
                    format!("`os` and `version` go together, and `{missing}` is missing"),
                    "give both, e.g. `os: Oracle Linux` and `version: \"9\"`, or an `ocid`",
                );
                None
            }
            (Some(n), _, _) => {
                self.err(
                    n.pos,
                    f.path("ocid"),
                    "give either `ocid` or `os` + `version`, not both",
                    "remove `ocid`, or remove `os` and `version`",
                );
                None
            }
            (None, None, None) => {
                self.err(
                    f.pos,
                    path,
                    "no image given",
                    "add `ocid: ocid1.image.oc1...`, or `os: Oracle Linux` and `version: \"9\"`",
                );
                None
            }
        }
    }

    fn ssh_keys(&mut self, node: &Node, path: &str) -> Option<Vec<SshKey>> {
        let items = self.seq(node, path, "a list such as `[ ~/.ssh/id_ed25519.pub ]`")?;
        if items.is_empty() {
            self.err(node.pos, path, "no ssh keys given", "add at least one public key file, e.g. `- ~/.ssh/id_ed25519.pub`, so you can log in to the nodes");
            return None;
        }
        let mut keys = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match self.ssh_key(item, &p) {
                Some(k) => keys.push(k),
                None => ok = false,
            }
        }
        ok.then_some(keys)
    }

    /// A list item: a string (key text if it starts with a key type, else a path) or a mapping
    /// with exactly one of `path` / `key`.
    fn ssh_key(&mut self, node: &Node, path: &str) -> Option<SshKey> {
        let (text_node, field, is_path) = match &node.value {
            Value::Map(_) => {
                let f = self.fields(node, path, SSH_KEY_KEYS)?;
                match (f.get("path"), f.get("key")) {
                    (Some(n), None) => (n, f.path("path"), true),
                    (None, Some(n)) => (n, f.path("key"), false),
                    _ => {
                        self.err(node.pos, path, "give exactly one of `path` or `key`", "e.g. `- path: ~/.ssh/id_ed25519.pub` or `- key: ssh-ed25519 AAAA... me@host`");
                        return None;
                    }
                }
            }
            _ => {
                let t = self.string(node, path, "~/.ssh/id_ed25519.pub")?;
                let looks_like_key =
                    SSH_KEY_TYPES.iter().any(|k| t.starts_with(k)) || t.starts_with("ssh-");
                (node, path.to_string(), !looks_like_key)
            }
        };
        let text = self.string(text_node, &field, "~/.ssh/id_ed25519.pub")?;
        if is_path {
            let resolved = self.resolve(&text);
            let content = match crate::bounded_read::read(&resolved, MAX_KEY_FILE_BYTES) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(c) => c,
                    Err(_) => {
                        self.err(
                            text_node.pos,
                            field,
                            format!(
                                "ssh key file {} holds binary data, not an OpenSSH public key",
                                resolved.display()
                            ),
                            "point at the public key (the .pub file, one line of text)",
                        );
                        return None;
                    }
                },
                Err(ReadError::NotFound) => {
                    self.err(text_node.pos, field, format!("ssh key file `{text}` not found (looked at {})", resolved.display()), "fix the path (relative paths start at the blueprint's folder, ~ is your home), or create a key with `ssh-keygen -t ed25519`");
                    return None;
                }
                Err(e) => {
                    self.err(
                        text_node.pos,
                        field,
                        format!("cannot read ssh key file {}: {e}", resolved.display()),
                        "point at the public key (the .pub file, one line of text per key)",
                    );
                    return None;
                }
            };
            let keys = self.check_keys(&content, text_node.pos, &field, Some(&resolved))?;
            Some(SshKey {
                path: Some(resolved),
                text: keys,
            })
        } else {
            let keys = self.check_keys(&text, text_node.pos, &field, None)?;
            Some(SshKey {
                path: None,
                text: keys,
            })
        }
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let expanded = if p == "~" || p.starts_with("~/") {
            match std::env::var_os("HOME") {
                Some(home) => {
                    PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'))
                }
                None => PathBuf::from(p),
            }
        } else {
            PathBuf::from(p)
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base_dir.join(expanded)
        }
    }

    /// Checks every non-blank line is an OpenSSH public key whose blob matches its type.
    fn check_keys(
        &mut self,
        content: &str,
        pos: Pos,
        field: &str,
        file: Option<&Path>,
    ) -> Option<String> {
        let from = file
            .map(|f| format!(" in {}", f.display()))
            .unwrap_or_default();
        if content.contains("PRIVATE KEY") {
            self.err(
                pos,
                field,
                format!("this is a private key{from}; never put a private key in a blueprint"),
                "point at the public key instead (the .pub file)",
            );
            return None;
        }
        let mut out = Vec::new();
        for line in content
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut parts = line.split_whitespace();
            let (kind, blob) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            if !SSH_KEY_TYPES.contains(&kind) {
                // Never echo the text: the path may name a secret (/etc/shadow, a token).
                self.err(pos, field, format!("{}{from} is not an OpenSSH public key of a type OCI accepts", describe_line(line, kind)), "use an ssh-ed25519, ssh-rsa or ecdsa-sha2-* public key (the one line in your .pub file)");
                return None;
            }
            let decoded = base64::engine::general_purpose::STANDARD.decode(blob).ok();
            let blob_kind = decoded.as_deref().and_then(|d| {
                let len = u32::from_be_bytes(d.get(..4)?.try_into().ok()?) as usize;
                std::str::from_utf8(d.get(4..4 + len)?)
                    .ok()
                    .map(str::to_string)
            });
            if blob_kind.as_deref() != Some(kind) {
                self.err(pos, field, format!("the `{kind}` key{from} is damaged (its base64 part does not decode to a {kind} key)"), "copy the whole line of the .pub file again");
                return None;
            }
            out.push(line.to_string());
        }
        if out.is_empty() {
            self.err(
                pos,
                field,
                format!("no public key found{from}"),
                "give an OpenSSH public key line, e.g. the content of ~/.ssh/id_ed25519.pub",
            );
            return None;
        }
        Some(out.join("\n"))
    }

    fn failover(
        &mut self,
        node: &Node,
        path: &str,
        names: Option<&[String; 2]>,
    ) -> Option<Failover> {
        let f = self.fields(node, path, FAILOVER_KEYS)?;
        let d = default_failover();
        let advert_interval = match f.get("advert_interval") {
            Some(n) => self.advert(n, &f.path("advert_interval")),
            None => Some(d.advert_interval),
        };
        let preferred_node = match (f.get("preferred_node"), names) {
            (Some(n), Some(names)) => {
                let field = f.path("preferred_node");
                let want = self.string(n, &field, "instance1");
                match want {
                    Some(w) => match names.iter().position(|x| *x == w) {
                        Some(i) => Some(i),
                        None => {
                            self.err(
                                n.pos,
                                field,
                                format!("`{w}` is not one of the nodes"),
                                format!("use `{}` or `{}`", names[0], names[1]),
                            );
                            None
                        }
                    },
                    None => None,
                }
            }
            (Some(n), None) => {
                let _ = self.string(n, &f.path("preferred_node"), "instance1");
                None
            }
            (None, _) => Some(0),
        };
        let preempt = match f.get("preempt") {
            Some(n) => self.boolean(n, &f.path("preempt")),
            None => Some(d.preempt),
        };
        let virtual_router_id = match f.get("virtual_router_id") {
            Some(n) => self
                .uint(n, &f.path("virtual_router_id"), 1, 255, "a VRRP router id")
                .map(|v| v as u8),
            None => Some(d.virtual_router_id),
        };
        let recheck_interval = match f.get("recheck_interval") {
            Some(n) => self.uint(
                n,
                &f.path("recheck_interval"),
                1,
                3600,
                "the recheck interval (seconds)",
            ),
            None => Some(d.recheck_interval),
        };
        let health_check = match f.get("health_check") {
            Some(n) => self.health_check(n, &f.path("health_check")).map(Some),
            None => Some(None),
        };
        let notify_topic = match f.get("notify_topic") {
            Some(n) => self
                .ocid(n, &f.path("notify_topic"), &["onstopic"], true)
                .map(Some),
            None => Some(None),
        };
        Some(Failover {
            advert_interval: advert_interval?,
            preferred_node: preferred_node?,
            preempt: preempt?,
            virtual_router_id: virtual_router_id?,
            recheck_interval: recheck_interval?,
            health_check: health_check?,
            notify_topic: notify_topic?,
        })
    }

    /// Seconds as a number (`1`, `0.5`) or a string with a unit (`500ms`, `2s`).
    fn advert(&mut self, node: &Node, field: &str) -> Option<AdvertInterval> {
        let hint = "use whole seconds from 1 to 255 (VRRPv2), or steps of 0.01 s from 0.01 to 40.95 (VRRPv3), e.g. `1` or `0.5` or `500ms`";
        let Value::Scalar { text, .. } = &node.value else {
            self.type_err(
                node,
                field,
                "a number of seconds",
                "`1` or `0.5` or `500ms`",
            );
            return None;
        };
        let text = text.trim();
        let centis = if let Some(ms) = text.strip_suffix("ms") {
            match ms.trim().parse::<u32>() {
                Ok(v) if v % 10 == 0 => Some(v / 10),
                Ok(_) => {
                    self.err(
                        node.pos,
                        field,
                        format!("advert interval `{text}` is not a multiple of 10 ms"),
                        hint,
                    );
                    return None;
                }
                Err(_) => None,
            }
        } else {
            decimal_centis(text.strip_suffix('s').unwrap_or(text).trim())
        };
        let Some(centis) = centis else {
            if text.parse::<f64>().is_ok_and(|v| v > 0.0) {
                self.err(
                    node.pos,
                    field,
                    format!("advert interval `{text}` is finer than keepalived's 0.01 s steps"),
                    hint,
                );
            } else {
                self.err(
                    node.pos,
                    field,
                    format!("`{text}` is not an advert interval keepalived can take"),
                    hint,
                );
            }
            return None;
        };
        match AdvertInterval::from_centis(centis) {
            Ok(a) => Some(a),
            Err(why) => {
                self.err(
                    node.pos,
                    field,
                    format!("advert interval `{text}` {why}"),
                    hint,
                );
                None
            }
        }
    }

    fn health_check(&mut self, node: &Node, path: &str) -> Option<HealthCheck> {
        let f = self.fields(node, path, HEALTH_KEYS)?;
        let command = self
            .required(&f, "command", "curl -fsS -o /dev/null http://127.0.0.1/")
            .and_then(|n| {
                self.string(
                    n,
                    &f.path("command"),
                    "curl -fsS -o /dev/null http://127.0.0.1/",
                )
            });
        if let (Some(c), Some(n)) = (&command, f.get("command")) {
            if c.trim().is_empty() {
                self.err(n.pos, f.path("command"), "the health check command is empty", "give a shell command that exits 0 when the service is healthy, or remove health_check");
            }
        }
        let num = |cx: &mut Cx, key: &str, default: u32, max: u32| match f.get(key) {
            Some(n) => cx.uint(n, &f.path(key), 1, max, key),
            None => Some(default),
        };
        let interval = num(self, "interval", 2, 3600);
        let fall = num(self, "fall", 2, 100);
        let rise = num(self, "rise", 2, 100);
        let timeout = match f.get("timeout") {
            Some(n) => self.uint(n, &f.path("timeout"), 1, 3600, "timeout"),
            None => interval,
        };
        let command = command.filter(|c| !c.trim().is_empty());
        Some(HealthCheck {
            command: command?,
            interval: interval?,
            timeout: timeout?,
            fall: fall?,
            rise: rise?,
        })
    }

    fn iam(&mut self, node: &Node, path: &str, pair: Option<&str>) -> Option<Iam> {
        let f = self.fields(node, path, IAM_KEYS)?;
        let name = |cx: &mut Cx, key: &str, suffix: &str| -> Option<String> {
            match f.get(key) {
                Some(n) => {
                    let field = f.path(key);
                    let v = cx.string(n, &field, &format!("web-vip{suffix}"))?;
                    let ok = !v.is_empty()
                        && v.len() <= 100
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                    if !ok {
                        cx.err(n.pos, field, format!("`{v}` is a name OCI IAM would reject"), "use 1 to 100 letters, digits, hyphens, periods or underscores (no spaces)");
                        return None;
                    }
                    Some(v)
                }
                None => pair.map(|p| format!("{p}{suffix}")),
            }
        };
        let dynamic_group = name(self, "dynamic_group", "-dg");
        let policy = name(self, "policy", "-policy");
        let extra_statements = match f.get("extra_statements") {
            Some(n) => {
                let field = f.path("extra_statements");
                let items = self.seq(n, &field, "a list of policy statements");
                let mut out = Some(Vec::new());
                for (i, item) in items.unwrap_or_default().iter().enumerate() {
                    let p = format!("{field}[{i}]");
                    let s = self.string(item, &p, "Allow dynamic-group web-vip-dg to read instances in compartment id ocid1...");
                    let verb_ok = s.as_deref().is_some_and(|s| {
                        let first = s
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        matches!(first.as_str(), "allow" | "define" | "endorse" | "admit")
                    });
                    match s {
                        Some(s) if verb_ok => {
                            if let Some(o) = out.as_mut() {
                                o.push(s)
                            }
                        }
                        Some(s) => {
                            self.err(item.pos, p, format!("`{s}` is not an IAM policy statement"), "start it with Allow (or Define, Endorse, Admit), e.g. `Allow dynamic-group web-vip-dg to read instances in compartment id ocid1...`");
                            out = None;
                        }
                        None => out = None,
                    }
                }
                if items.is_none() {
                    out = None;
                }
                out
            }
            None => Some(Vec::new()),
        };
        Some(Iam {
            dynamic_group: dynamic_group?,
            policy: policy?,
            extra_statements: extra_statements?,
        })
    }

    fn tags(&mut self, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
        let Value::Map(entries) = &node.value else {
            self.type_err(
                node,
                path,
                "a mapping of tag names to values",
                "`team: web`",
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (key, value) in entries {
            let field = join(path, &key.name);
            if key.name.is_empty() || key.name.len() > 100 || key.name.contains(['.', ' ']) {
                self.err(
                    key.pos,
                    field.clone(),
                    format!("`{}` is not a tag key OCI accepts", key.name),
                    "use 1 to 100 characters without periods or spaces",
                );
                ok = false;
            } else if out.contains_key(&key.name) {
                self.err(
                    key.pos,
                    field.clone(),
                    format!("tag `{}` is given twice", key.name),
                    "keep only one of them",
                );
                ok = false;
            }
            match &value.value {
                Value::Scalar { text, .. } if text.chars().count() <= 256 => {
                    out.insert(
                        key.name.clone(),
                        if value.is_null() {
                            String::new()
                        } else {
                            text.clone()
                        },
                    );
                }
                Value::Scalar { .. } => {
                    self.err(
                        value.pos,
                        field,
                        "a tag value can have at most 256 characters",
                        "shorten it",
                    );
                    ok = false;
                }
                _ => {
                    self.type_err(value, &field, "a string", "`team: web`");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

/// What a line that is not a usable public key looks like, without quoting any of it (only a
/// word that is shaped like an ssh key type name, which is no secret).
fn describe_line(line: &str, first_word: &str) -> String {
    // Not even its length: that says something about a secret too.
    let type_like = first_word.len() <= 40
        && (first_word.starts_with("ssh-")
            || first_word.starts_with("ecdsa-")
            || first_word.starts_with("sk-"))
        && first_word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '@' | '.'));
    if type_like {
        format!("a key of type `{first_word}`")
    } else if line.starts_with("-----BEGIN") {
        "a PEM block".to_string()
    } else {
        "a line that does not start with a key type".to_string()
    }
}

/// A value of a mapping node, by key.
fn child<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
        _ => None,
    }
}

/// Realms whose regions the endpoint table lists (others are not compared).
const REALM_KNOWN: &[&str] = &["oc1"];

/// An OCID copied from documentation or a template rather than from the console. The unique
/// part of a real OCID is a long random lowercase string (OCI docs, "Resource Identifiers");
/// these words and a run of six x are a guess at what templates and examples use, rare enough
/// by chance (about 1 in 10^7 for the x run) not to refuse a real one.
fn placeholder(ocid: &str) -> bool {
    let unique = ocid
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [
        "xxxxxx",
        "replaceme",
        "changeme",
        "example",
        "placeholder",
        "yourocid",
    ]
    .iter()
    .any(|w| unique.contains(w))
}

/// Addresses that are not a unicast host address at all (RFC 1122, 5771, 3927, 1112).
fn not_a_host(ip: Ipv4Addr) -> Option<&'static str> {
    Some(match ip {
        _ if ip.is_unspecified() => "the unspecified address",
        _ if ip.octets()[0] == 0 => "in 0.0.0.0/8 (\"this network\")",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        _ if ip.is_link_local() => {
            "a link-local address (169.254.0.0/16, where OCI's metadata service lives)"
        }
        _ if ip.octets()[0] >= 240 => "in the reserved 240.0.0.0/4 range",
        _ => return None,
    })
}

fn default_failover() -> Failover {
    Failover {
        advert_interval: AdvertInterval::from_centis(100).expect("1 s is valid"),
        preferred_node: 0,
        preempt: false,
        virtual_router_id: 51,
        recheck_interval: 5,
        health_check: None,
        notify_topic: None,
    }
}

fn default_iam(pair: &str) -> Iam {
    Iam {
        dynamic_group: format!("{pair}-dg"),
        policy: format!("{pair}-policy"),
        extra_statements: Vec::new(),
    }
}

/// `1`, `0.5`, `0.25`, `1.50` -> hundredths; `None` if not a plain decimal or finer than 0.01.
fn decimal_centis(s: &str) -> Option<u32> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    let hundredths: u32 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(hundredths)
}

pub(crate) fn network_of(ip: Ipv4Addr, prefix: u8) -> ipnet::Ipv4Net {
    ipnet::Ipv4Net::new(ip, prefix)
        .expect("prefix checked to be 16..=30")
        .trunc()
}

/// OCI reserves the first two addresses (network, gateway) and the last one of every subnet.
fn reserved(ip: Ipv4Addr, prefix: u8) -> Option<&'static str> {
    let net = network_of(ip, prefix);
    let first = u32::from(net.network());
    let last = u32::from(net.broadcast());
    match u32::from(ip) {
        x if x == first => Some("the network address"),
        x if x == first + 1 => Some("the default gateway address"),
        x if x == last => Some("the broadcast address"),
        _ => None,
    }
}

/// The allowed key closest to a misspelt one, if it is close enough to be a typo.
fn suggest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    // An abbreviation (`advert_int`) is as likely a slip as a typo.
    if key.len() >= 4 {
        if let Some(a) = allowed.iter().find(|a| a.starts_with(key)) {
            return Some(a);
        }
    }
    allowed
        .iter()
        .map(|a| (levenshtein(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 1 to `max` lowercase letters, digits and hyphens, starting with a letter and not ending
/// with a hyphen: fits OCI display names and hostname labels (RFC 1123) alike.
pub(crate) fn is_label(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A key that takes one value or a list of them (`network.vip`, `network.vip6`): each item with
/// the field name its errors should carry (`network.vip[1]` for the second of a list).
fn one_or_list<'n>(node: &'n Node, field: &str) -> Vec<(String, &'n Node)> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{field}[{i}]"), n))
            .collect(),
        _ => vec![(field.to_string(), node)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_centis_parses_exact_steps() {
        assert_eq!(decimal_centis("1"), Some(100));
        assert_eq!(decimal_centis("0.5"), Some(50));
        assert_eq!(decimal_centis("0.25"), Some(25));
        assert_eq!(decimal_centis("1.50"), Some(150));
        assert_eq!(decimal_centis("0.005"), None);
        assert_eq!(decimal_centis("abc"), None);
        assert_eq!(decimal_centis("-1"), None);
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("privte_ip", NODE_KEYS), Some("private_ip"));
        assert_eq!(suggest("banana", NODE_KEYS), None);
    }
}
