//! IAM for instance principals: dynamic-group matching rules, the policy statement forms vipsetup
//! writes, the verb/resource-type -> permission mapping and the permissions each operation needs.
//!
//! Source of the tables: Oracle's policy reference, "Details for the Core Services"
//! (https://docs.oracle.com/en-us/iaas/Content/Identity/Reference/corepolicyreference.htm,
//! sections "Details for Verb + Resource-Type Combinations" and "Permissions Required for Each API
//! Operation") and "Details for IAM without Identity Domains" (iampolicyreference.htm). Access is
//! cumulative inspect < read < use < manage. Where the reference lists an operation as "partially
//! covered" (e.g. CreatePrivateIp also needs `use vnics` and `use subnets`), the permissions of
//! every resource type involved are listed for the operation. Only the resource types the
//! simulated operations touch are modelled. Cross-checked against the same tables in Oracle's
//! "Networking Permissions for Roving Edge Infrastructure" page (subnets: `use` adds
//! SUBNET_ATTACH/SUBNET_DETACH; "CreatePrivateIp, DeletePrivateIp (both also need use private-ips
//! and use vnics)"), and the per-operation list in shared/reference/oci-api.md (UpdatePrivateIp:
//! PRIVATE_IP_UPDATE + VNIC_ASSIGN + VNIC_UNASSIGN).

/// Access verbs, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Inspect,
    Read,
    Use,
    Manage,
}

impl Verb {
    fn parse(s: &str) -> Option<Verb> {
        match s.to_ascii_lowercase().as_str() {
            "inspect" => Some(Verb::Inspect),
            "read" => Some(Verb::Read),
            "use" => Some(Verb::Use),
            "manage" => Some(Verb::Manage),
            _ => None,
        }
    }
}

/// (resource-type, verb at which the permissions are added, permissions)
const TABLE: &[(&str, Verb, &[&str])] = &[
    ("vcns", Verb::Inspect, &["VCN_READ"]),
    (
        "vcns",
        Verb::Manage,
        &[
            "VCN_ATTACH",
            "VCN_DETACH",
            "VCN_UPDATE",
            "VCN_CREATE",
            "VCN_DELETE",
            "VCN_MOVE",
        ],
    ),
    ("subnets", Verb::Inspect, &["SUBNET_READ"]),
    ("subnets", Verb::Use, &["SUBNET_ATTACH", "SUBNET_DETACH"]),
    (
        "subnets",
        Verb::Manage,
        &[
            "SUBNET_CREATE",
            "SUBNET_UPDATE",
            "SUBNET_DELETE",
            "SUBNET_MOVE",
        ],
    ),
    ("private-ips", Verb::Inspect, &["PRIVATE_IP_READ"]),
    (
        "private-ips",
        Verb::Use,
        &[
            "PRIVATE_IP_UPDATE",
            "PRIVATE_IP_ASSIGN",
            "PRIVATE_IP_UNASSIGN",
            "PRIVATE_IP_CREATE",
            "PRIVATE_IP_DELETE",
            "PRIVATE_IP_ASSIGN_PUBLIC_IP",
            "PRIVATE_IP_UNASSIGN_PUBLIC_IP",
        ],
    ),
    ("vnics", Verb::Inspect, &["VNIC_READ"]),
    (
        "vnics",
        Verb::Use,
        &[
            "VNIC_ATTACH",
            "VNIC_DETACH",
            "VNIC_UPDATE",
            "VNIC_ASSIGN",
            "VNIC_UNASSIGN",
            "VNIC_CREATE",
            "VNIC_DELETE",
            "VNIC_ASSOCIATE_NETWORK_SECURITY_GROUP",
            "VNIC_DISASSOCIATE_NETWORK_SECURITY_GROUP",
        ],
    ),
    ("vnic-attachments", Verb::Inspect, &["VNIC_ATTACHMENT_READ"]),
    // the routing resource types, read-only here (core reference: inspect adds *_READ)
    ("route-tables", Verb::Inspect, &["ROUTE_TABLE_READ"]),
    ("nat-gateways", Verb::Inspect, &["NAT_GATEWAY_READ"]),
    ("service-gateways", Verb::Inspect, &["SERVICE_GATEWAY_READ"]),
    (
        "internet-gateways",
        Verb::Inspect,
        &["INTERNET_GATEWAY_READ"],
    ),
    ("dhcp-options", Verb::Inspect, &["DHCP_READ"]),
    (
        "network-security-groups",
        Verb::Inspect,
        &["NETWORK_SECURITY_GROUP_INSPECT"],
    ),
    (
        "network-security-groups",
        Verb::Read,
        &["NETWORK_SECURITY_GROUP_READ"],
    ),
    (
        "network-security-groups",
        Verb::Use,
        &["NETWORK_SECURITY_GROUP_UPDATE_MEMBERS"],
    ),
    (
        "network-security-groups",
        Verb::Manage,
        &[
            "NETWORK_SECURITY_GROUP_CREATE",
            "NETWORK_SECURITY_GROUP_DELETE",
            "NETWORK_SECURITY_GROUP_UPDATE",
            "NETWORK_SECURITY_GROUP_UPDATE_SECURITY_RULES",
            "NETWORK_SECURITY_GROUP_MOVE",
        ],
    ),
    ("instances", Verb::Inspect, &["INSTANCE_INSPECT"]),
    ("instances", Verb::Read, &["INSTANCE_READ"]),
    (
        "instances",
        Verb::Use,
        &["INSTANCE_UPDATE", "INSTANCE_POWER_ACTIONS"],
    ),
    (
        "instances",
        Verb::Manage,
        &["INSTANCE_CREATE", "INSTANCE_DELETE", "INSTANCE_MOVE"],
    ),
    (
        "instance-images",
        Verb::Inspect,
        &["INSTANCE_IMAGE_INSPECT"],
    ),
    ("instance-images", Verb::Read, &["INSTANCE_IMAGE_READ"]),
    (
        "instance-images",
        Verb::Manage,
        &[
            "INSTANCE_IMAGE_CREATE",
            "INSTANCE_IMAGE_UPDATE",
            "INSTANCE_IMAGE_DELETE",
        ],
    ),
    ("tenancies", Verb::Inspect, &["TENANCY_INSPECT"]),
    ("compartments", Verb::Inspect, &["COMPARTMENT_INSPECT"]),
    ("compartments", Verb::Read, &["COMPARTMENT_READ"]),
    (
        "compartments",
        Verb::Manage,
        &[
            "COMPARTMENT_CREATE",
            "COMPARTMENT_UPDATE",
            "COMPARTMENT_DELETE",
        ],
    ),
    ("dynamic-groups", Verb::Inspect, &["DYNAMIC_GROUP_INSPECT"]),
    (
        "dynamic-groups",
        Verb::Manage,
        &[
            "DYNAMIC_GROUP_CREATE",
            "DYNAMIC_GROUP_UPDATE",
            "DYNAMIC_GROUP_DELETE",
        ],
    ),
    ("policies", Verb::Inspect, &["POLICY_READ"]),
    (
        "policies",
        Verb::Manage,
        &["POLICY_CREATE", "POLICY_UPDATE", "POLICY_DELETE"],
    ),
    // IPv6 addresses: the core reference's `ipv6s` rows are not in the library; the split
    // (IPV6_READ at inspect, the rest at use, as for private-ips) is a guess.
    ("ipv6s", Verb::Inspect, &["IPV6_READ"]),
    (
        "ipv6s",
        Verb::Use,
        &["IPV6_UPDATE", "IPV6_CREATE", "IPV6_DELETE"],
    ),
    // Public IPs: PUBLIC_IP_READ at inspect is the core reference's pattern; putting every
    // assign/unassign permission at manage is a guess on the strict side.
    ("public-ips", Verb::Inspect, &["PUBLIC_IP_READ"]),
    (
        "public-ips",
        Verb::Manage,
        &[
            "PUBLIC_IP_UPDATE",
            "PUBLIC_IP_CREATE",
            "PUBLIC_IP_DELETE",
            "PUBLIC_IP_ASSIGN_PRIVATE_IP",
            "PUBLIC_IP_UNASSIGN_PRIVATE_IP",
        ],
    ),
    // Notifications ("Details for Notifications", notificationpolicyreference.htm: ons-topics
    // inspect ONS_TOPIC_INSPECT, read + ONS_TOPIC_READ, use + ONS_TOPIC_PUBLISH and
    // ONS_TOPIC_SUBSCRIBE, manage + create/move/update/delete).
    ("ons-topics", Verb::Inspect, &["ONS_TOPIC_INSPECT"]),
    ("ons-topics", Verb::Read, &["ONS_TOPIC_READ"]),
    (
        "ons-topics",
        Verb::Use,
        &["ONS_TOPIC_PUBLISH", "ONS_TOPIC_SUBSCRIBE"],
    ),
    (
        "ons-topics",
        Verb::Manage,
        &[
            "ONS_TOPIC_CREATE",
            "ONS_TOPIC_MOVE",
            "ONS_TOPIC_UPDATE",
            "ONS_TOPIC_DELETE",
        ],
    ),
    // Object Storage (IAM policy reference, "Details for Object Storage and Archive Storage").
    ("buckets", Verb::Inspect, &["BUCKET_INSPECT"]),
    ("buckets", Verb::Read, &["BUCKET_READ"]),
    ("buckets", Verb::Use, &["BUCKET_UPDATE"]),
    ("buckets", Verb::Manage, &["BUCKET_CREATE", "BUCKET_DELETE"]),
    ("objects", Verb::Inspect, &["OBJECT_INSPECT"]),
    ("objects", Verb::Read, &["OBJECT_READ"]),
    ("objects", Verb::Use, &["OBJECT_OVERWRITE"]),
    ("objects", Verb::Manage, &["OBJECT_CREATE", "OBJECT_DELETE"]),
];

/// Aggregate resource types and what they cover. instance-family also carries the VNIC
/// permissions an instance launch needs (the reference notes it includes "a few permissions for
/// vnics and volumes").
const FAMILIES: &[(&str, &[&str])] = &[
    (
        "virtual-network-family",
        &[
            "vcns",
            "subnets",
            "private-ips",
            "ipv6s",
            "public-ips",
            "vnics",
            "vnic-attachments",
            "network-security-groups",
            "route-tables",
            "nat-gateways",
            "service-gateways",
            "internet-gateways",
            "dhcp-options",
        ],
    ),
    (
        "instance-family",
        &["instances", "instance-images", "vnic-attachments"],
    ),
    ("object-family", &["buckets", "objects"]),
    ("ons-family", &["ons-topics"]),
];

/// Permissions an operation needs (core reference "Permissions Required for Each API Operation").
pub fn required_permissions(operation: &str) -> &'static [&'static str] {
    match operation {
        "GetTenancy" | "ListRegionSubscriptions" | "ListAvailabilityDomains" => {
            &["TENANCY_INSPECT"]
        }
        "GetCompartment" | "ListCompartments" => &["COMPARTMENT_INSPECT"],
        "ListDynamicGroups" | "GetDynamicGroup" => &["DYNAMIC_GROUP_INSPECT"],
        "CreateDynamicGroup" => &["DYNAMIC_GROUP_CREATE"],
        "UpdateDynamicGroup" => &["DYNAMIC_GROUP_UPDATE"],
        "DeleteDynamicGroup" => &["DYNAMIC_GROUP_DELETE"],
        "ListPolicies" | "GetPolicy" => &["POLICY_READ"],
        "CreatePolicy" => &["POLICY_CREATE"],
        "UpdatePolicy" => &["POLICY_UPDATE"],
        "DeletePolicy" => &["POLICY_DELETE"],
        "GetVcn" => &["VCN_READ"],
        "GetSubnet" => &["SUBNET_READ"],
        "ListImages" => &["INSTANCE_IMAGE_INSPECT"],
        "GetImage" => &["INSTANCE_IMAGE_READ"],
        "LaunchInstance" => &[
            "INSTANCE_CREATE",
            "INSTANCE_IMAGE_READ",
            "VNIC_CREATE",
            "VNIC_ATTACH",
            "SUBNET_ATTACH",
        ],
        "GetInstance" => &["INSTANCE_READ"],
        // `inspect instances` fully covers ListInstances (core reference, verb table; also the
        // Roving Edge compute table); the INSTANCE_READ some notes name is `read`'s addition
        "ListInstances" => &["INSTANCE_INSPECT"],
        "TerminateInstance" => &[
            "INSTANCE_DELETE",
            "VNIC_DELETE",
            "VNIC_DETACH",
            "SUBNET_DETACH",
        ],
        "ListVnicAttachments" => &["VNIC_ATTACHMENT_READ", "INSTANCE_INSPECT"],
        "GetVnic" => &["VNIC_READ"],
        "CreatePrivateIp" => &[
            "PRIVATE_IP_CREATE",
            "PRIVATE_IP_ASSIGN",
            "VNIC_ASSIGN",
            "SUBNET_ATTACH",
        ],
        "GetPrivateIp" | "ListPrivateIps" => &["PRIVATE_IP_READ"],
        "UpdatePrivateIp" => &["PRIVATE_IP_UPDATE", "VNIC_ASSIGN", "VNIC_UNASSIGN"],
        "DeletePrivateIp" => &[
            "PRIVATE_IP_DELETE",
            "PRIVATE_IP_UNASSIGN",
            "VNIC_UNASSIGN",
            "SUBNET_DETACH",
        ],
        // creating a group attaches it to the VCN: "CreateNetworkSecurityGroup:
        // NETWORK_SECURITY_GROUP_CREATE and VCN_ATTACH" (core reference, per-operation table, as
        // real-world-findings.md quotes it)
        "CreateNetworkSecurityGroup" => &["NETWORK_SECURITY_GROUP_CREATE", "VCN_ATTACH"],
        "GetNetworkSecurityGroup" | "ListNetworkSecurityGroupSecurityRules" => {
            &["NETWORK_SECURITY_GROUP_READ"]
        }
        "ListNetworkSecurityGroups" => &["NETWORK_SECURITY_GROUP_INSPECT"],
        "DeleteNetworkSecurityGroup" => &["NETWORK_SECURITY_GROUP_DELETE"],
        "AddNetworkSecurityGroupSecurityRules" | "RemoveNetworkSecurityGroupSecurityRules" => {
            &["NETWORK_SECURITY_GROUP_UPDATE_SECURITY_RULES"]
        }
        // docs.oracle.com Identity/Reference/corepolicyreference.htm (instances, vnics,
        // network-security-groups, public-ips and private-ips tables).
        "UpdateInstance" => &["INSTANCE_UPDATE"],
        "InstanceAction" => &["INSTANCE_POWER_ACTIONS"],
        "UpdateVnic" => &["VNIC_UPDATE"],
        "UpdateNetworkSecurityGroup" => &["NETWORK_SECURITY_GROUP_UPDATE"],
        "CreatePublicIp" => &[
            "PUBLIC_IP_CREATE",
            "PUBLIC_IP_ASSIGN_PRIVATE_IP",
            "PRIVATE_IP_ASSIGN_PUBLIC_IP",
        ],
        "GetPublicIpByIpAddress" | "GetPublicIp" | "GetPublicIpByPrivateIpId" => {
            &["PUBLIC_IP_READ"]
        }
        // A guess: the permissions of assigning (CreatePublicIp) and unassigning
        // (DeletePublicIp) together, since one update may do both when it moves the address.
        "UpdatePublicIp" => &[
            "PUBLIC_IP_UPDATE",
            "PUBLIC_IP_ASSIGN_PRIVATE_IP",
            "PRIVATE_IP_ASSIGN_PUBLIC_IP",
            "PUBLIC_IP_UNASSIGN_PRIVATE_IP",
            "PRIVATE_IP_UNASSIGN_PUBLIC_IP",
        ],
        // A guess by analogy with the private IP operations (PRIVATE_IP_* + VNIC_ASSIGN /
        // VNIC_UNASSIGN); the core reference's ipv6s rows are not in the library.
        "GetIpv6" | "ListIpv6s" => &["IPV6_READ"],
        "CreateIpv6" => &["IPV6_CREATE", "VNIC_ASSIGN", "SUBNET_ATTACH"],
        "UpdateIpv6" => &["IPV6_UPDATE", "VNIC_ASSIGN", "VNIC_UNASSIGN"],
        "DeleteIpv6" => &["IPV6_DELETE", "VNIC_UNASSIGN", "SUBNET_DETACH"],
        // notificationpolicyreference.htm, "Permissions Required for Each API Operation"
        "GetTopic" => &["ONS_TOPIC_READ"],
        "PublishMessage" => &["ONS_TOPIC_PUBLISH"],
        "DeletePublicIp" => &[
            "PUBLIC_IP_DELETE",
            "PUBLIC_IP_UNASSIGN_PRIVATE_IP",
            "PRIVATE_IP_UNASSIGN_PUBLIC_IP",
        ],
        // A guess: the reference lists no permission for these two lookups; they are treated
        // like ListAvailabilityDomains and ListImages.
        "ListFaultDomains" => &["TENANCY_INSPECT"],
        "ListShapes" => &["INSTANCE_IMAGE_INSPECT"],
        "GetRouteTable" | "ListRouteTables" => &["ROUTE_TABLE_READ"],
        "GetNatGateway" | "ListNatGateways" => &["NAT_GATEWAY_READ"],
        "GetServiceGateway" | "ListServiceGateways" => &["SERVICE_GATEWAY_READ"],
        "GetInternetGateway" | "ListInternetGateways" => &["INTERNET_GATEWAY_READ"],
        "GetDhcpOptions" | "ListDhcpOptions" => &["DHCP_READ"],
        // Object Storage (its API reference, "Permissions Required for Each Operation").
        // GetNamespace needs no permission; PutObject needs OBJECT_OVERWRITE too when the
        // object exists (checked by the operation itself).
        "GetNamespace" => &[],
        "CreateBucket" => &["BUCKET_CREATE"],
        "ListObjects" => &["OBJECT_INSPECT"],
        "GetObject" | "HeadObject" => &["OBJECT_READ"],
        "PutObject" => &["OBJECT_CREATE"],
        "DeleteObject" => &["OBJECT_DELETE"],
        _ => &["SIMULATOR_UNKNOWN_OPERATION"],
    }
}

fn permissions_of(resource_type: &str, verb: Verb) -> Vec<&'static str> {
    let mut types: Vec<&str> = vec![resource_type];
    if resource_type == "all-resources" {
        types = TABLE.iter().map(|(t, _, _)| *t).collect();
    }
    if let Some((_, members)) = FAMILIES.iter().find(|(f, _)| *f == resource_type) {
        types = members.to_vec();
    }
    let mut out: Vec<&'static str> = TABLE
        .iter()
        .filter(|(t, v, _)| types.contains(t) && *v <= verb)
        .flat_map(|(_, _, p)| p.iter().copied())
        .collect();
    if resource_type == "instance-family" {
        if verb >= Verb::Read {
            out.extend(["VNIC_READ", "VNIC_ATTACHMENT_READ", "SUBNET_READ"]);
        }
        if verb >= Verb::Manage {
            out.extend(["VNIC_CREATE", "VNIC_DELETE", "VNIC_ATTACH", "VNIC_DETACH"]);
        }
    }
    out
}

/// Real resource-types the simulator grants no modelled permission for: a statement naming one
/// is valid (OCI accepts it) but lets nothing vipsetup or the agent calls. From OCI's policy
/// reference (docs.oracle.com/iaas/Content/Identity/...): the common families
/// (policyreference_topic-ResourceTypes.htm), Core Services (corepolicyreference.htm:
/// Networking, Compute, Block Volume), IAM with and without identity domains
/// (iampolicyreference.htm), Monitoring (monitoringpolicyreference.htm: alarms, metrics) and
/// Logging (loggingpolicyreference.htm).
const UNMODELLED_RESOURCE_TYPES: &[&str] = &[
    // common families
    "cluster-family",
    "compute-management-family",
    "data-catalog-family",
    "data-science-family",
    "database-family",
    "dns",
    "email-family",
    "file-family",
    "instance-agent-command-family",
    "instance-agent-family",
    "optimizer-api-family",
    "volume-family",
    // core: networking
    "byoiprange",
    "capture-filters",
    "cpes",
    "cross-connect-groups",
    "cross-connects",
    "drg-attachments",
    "drg-object",
    "drg-route-distributions",
    "drg-route-tables",
    "drgs",
    "ipsec-connections",
    "local-peering-gateways",
    "publicippool",
    "remote-peering-connections",
    "security-lists",
    "virtual-circuits",
    "vlans",
    "vtaps",
    // core: compute and block volume
    "app-catalog-listing",
    "console-histories",
    "instance-console-connection",
    "volume-attachments",
    "volumes",
    "volume-backups",
    "boot-volume-backups",
    // IAM (compartments, dynamic-groups, policies and tenancies are modelled above)
    "authentication-policies",
    "credentials",
    "domains",
    "groups",
    "group-memberships",
    "identity-providers",
    "network-sources",
    "tag-defaults",
    "tag-namespaces",
    "users",
    // Monitoring
    "alarms",
    "metrics",
    // Logging
    "logging-family",
    "log-groups",
    "log-content",
    "unified-configuration",
];

fn known_resource_type(t: &str) -> bool {
    t == "all-resources"
        || TABLE.iter().any(|(x, _, _)| *x == t)
        || FAMILIES.iter().any(|(x, _)| *x == t)
        || UNMODELLED_RESOURCE_TYPES.contains(&t)
}

/// One condition of a matching rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    InstanceId(String),
    InstanceCompartment(String),
}

/// A parsed matching rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchingRule {
    Any(Vec<Condition>),
    All(Vec<Condition>),
}

/// What an instance is, for matching.
pub struct InstanceFacts<'a> {
    pub id: &'a str,
    pub compartment_id: &'a str,
}

fn parse_condition(s: &str) -> Result<Condition, String> {
    let (var, val) = s
        .split_once('=')
        .ok_or_else(|| format!("condition `{s}` is not <variable> = '<value>'"))?;
    let var = var.trim();
    let val = val.trim();
    let val = val
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(|| format!("value in `{s}` must be in single quotes"))?;
    match var.to_ascii_lowercase().as_str() {
        "instance.id" => Ok(Condition::InstanceId(val.to_string())),
        "instance.compartment.id" => Ok(Condition::InstanceCompartment(val.to_string())),
        other => Err(format!(
            "matching rule variable {other} is not supported by the simulator (use instance.id or instance.compartment.id)"
        )),
    }
}

/// Parses `instance.id = '...'`, `ANY {...}`, `ALL {...}`.
pub fn parse_matching_rule(rule: &str) -> Result<MatchingRule, String> {
    let r = rule.trim();
    for (kw, all) in [("ANY", false), ("ALL", true)] {
        if let Some(rest) = r.strip_prefix(kw) {
            let inner = rest
                .trim()
                .strip_prefix('{')
                .and_then(|x| x.strip_suffix('}'))
                .ok_or_else(|| format!("{kw} must be followed by {{...}}"))?;
            let conds = inner
                .split(',')
                .map(parse_condition)
                .collect::<Result<Vec<_>, _>>()?;
            if conds.is_empty() {
                return Err("empty matching rule".into());
            }
            return Ok(if all {
                MatchingRule::All(conds)
            } else {
                MatchingRule::Any(conds)
            });
        }
    }
    Ok(MatchingRule::Any(vec![parse_condition(r)?]))
}

impl MatchingRule {
    pub fn matches(&self, i: &InstanceFacts) -> bool {
        let one = |c: &Condition| match c {
            Condition::InstanceId(id) => id == i.id,
            Condition::InstanceCompartment(c) => c == i.compartment_id,
        };
        match self {
            MatchingRule::Any(cs) => cs.iter().any(one),
            MatchingRule::All(cs) => cs.iter().all(one),
        }
    }
}

/// Who a statement grants to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    DynamicGroupName(String),
    DynamicGroupId(String),
    /// user groups and any-user: they never match an instance principal here
    Other,
}

/// Where a statement applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Tenancy,
    CompartmentId(String),
    CompartmentName(String),
}

/// A parsed `Allow ... to ... in ...` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub subject: Subject,
    pub permissions: Vec<String>,
    pub location: Location,
}

/// Parses the statement forms vipsetup writes; anything else (including `where`) is refused.
pub fn parse_statement(s: &str) -> Result<Statement, String> {
    let toks: Vec<&str> = s.split_whitespace().collect();
    let bad = |why: &str| Err(format!("cannot parse policy statement `{s}`: {why}"));
    if toks.first().map(|t| t.to_ascii_lowercase()) != Some("allow".into()) {
        return bad("it must start with Allow");
    }
    let to = match toks.iter().position(|t| t.eq_ignore_ascii_case("to")) {
        Some(p) => p,
        None => return bad("missing `to`"),
    };
    let subj = &toks[1..to];
    let subject = match subj {
        [kind, name] if kind.eq_ignore_ascii_case("dynamic-group") => {
            let name = name.rsplit('/').next().unwrap_or(name).trim_matches('\'');
            Subject::DynamicGroupName(name.to_string())
        }
        [kind, id, ocid] if kind.eq_ignore_ascii_case("dynamic-group") && id.eq_ignore_ascii_case("id") => {
            Subject::DynamicGroupId(ocid.to_string())
        }
        [kind, ..] if kind.eq_ignore_ascii_case("group") || kind.eq_ignore_ascii_case("any-user") => Subject::Other,
        _ => return bad("subject must be dynamic-group <name>, dynamic-group id <ocid>, group <name> or any-user"),
    };
    let rest = &toks[to + 1..];
    if rest.iter().any(|t| t.eq_ignore_ascii_case("where")) {
        return bad("conditions (`where`) are not supported by the simulator");
    }
    let in_pos = match rest.iter().position(|t| t.eq_ignore_ascii_case("in")) {
        Some(p) => p,
        None => return bad("missing `in`"),
    };
    let grant = rest[..in_pos].join(" ");
    let permissions: Vec<String> =
        if let Some(list) = grant.strip_prefix('{').and_then(|g| g.strip_suffix('}')) {
            list.split(',')
                .map(|p| p.trim().to_uppercase())
                .filter(|p| !p.is_empty())
                .collect()
        } else {
            let parts: Vec<&str> = grant.split_whitespace().collect();
            let [verb, rtype] = parts.as_slice() else {
                return bad("expected <verb> <resource-type>");
            };
            let Some(verb) = Verb::parse(verb) else {
                return bad("verb must be inspect, read, use or manage");
            };
            let rtype = rtype.to_ascii_lowercase();
            if !known_resource_type(&rtype) {
                return bad(&format!("unknown resource-type {rtype}"));
            }
            permissions_of(&rtype, verb)
                .into_iter()
                .map(String::from)
                .collect()
        };
    let loc = &rest[in_pos + 1..];
    let location = match loc {
        [t] if t.eq_ignore_ascii_case("tenancy") => Location::Tenancy,
        [c, id, ocid] if c.eq_ignore_ascii_case("compartment") && id.eq_ignore_ascii_case("id") => {
            Location::CompartmentId(ocid.to_string())
        }
        [c, name] if c.eq_ignore_ascii_case("compartment") => {
            Location::CompartmentName(name.to_string())
        }
        _ => {
            return bad(
                "location must be `tenancy`, `compartment <name>` or `compartment id <ocid>`",
            )
        }
    };
    Ok(Statement {
        subject,
        permissions,
        location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules() {
        let i = InstanceFacts {
            id: "ocid1.instance.a",
            compartment_id: "ocid1.compartment.c",
        };
        assert!(parse_matching_rule("instance.id = 'ocid1.instance.a'")
            .unwrap()
            .matches(&i));
        assert!(!parse_matching_rule("instance.id = 'ocid1.instance.b'")
            .unwrap()
            .matches(&i));
        assert!(
            parse_matching_rule("ANY {instance.id = 'x', instance.id = 'ocid1.instance.a'}")
                .unwrap()
                .matches(&i)
        );
        assert!(!parse_matching_rule(
            "ALL {instance.id = 'ocid1.instance.a', instance.compartment.id = 'other'}"
        )
        .unwrap()
        .matches(&i));
        assert!(parse_matching_rule("ALL {instance.id = 'ocid1.instance.a', instance.compartment.id = 'ocid1.compartment.c'}")
            .unwrap()
            .matches(&i));
        assert!(parse_matching_rule("tag.ns.k.value = 'v'").is_err());
        assert!(parse_matching_rule("instance.id = unquoted").is_err());
    }

    #[test]
    fn creating_a_network_security_group_also_needs_to_attach_to_the_vcn() {
        let grant = |s: &str| parse_statement(s).unwrap().permissions;
        let covered = |perms: &[String]| {
            required_permissions("CreateNetworkSecurityGroup")
                .iter()
                .all(|p| perms.iter().any(|g| g == p))
        };
        let nsgs = grant("Allow dynamic-group x to manage network-security-groups in tenancy");
        assert!(!covered(&nsgs));
        let mut both = nsgs;
        both.extend(grant("Allow dynamic-group x to manage vcns in tenancy"));
        assert!(covered(&both));
        assert!(covered(&grant(
            "Allow dynamic-group x to manage virtual-network-family in tenancy"
        )));
    }

    #[test]
    fn statements_and_verbs() {
        let s = parse_statement(
            "Allow dynamic-group vip-dg to use private-ips in compartment id ocid1.compartment.c",
        )
        .unwrap();
        assert_eq!(s.subject, Subject::DynamicGroupName("vip-dg".into()));
        assert!(s.permissions.contains(&"PRIVATE_IP_UPDATE".to_string()));
        assert!(s.permissions.contains(&"PRIVATE_IP_READ".to_string()));
        let r =
            parse_statement("Allow dynamic-group vip-dg to read private-ips in tenancy").unwrap();
        assert!(!r.permissions.contains(&"PRIVATE_IP_UPDATE".to_string()));
        let v = parse_statement(
            "allow dynamic-group 'Default'/'vip-dg' to use vnics in compartment prod",
        )
        .unwrap();
        assert!(v.permissions.contains(&"VNIC_ASSIGN".to_string()));
        assert_eq!(v.location, Location::CompartmentName("prod".into()));
        assert!(parse_statement(
            "Allow dynamic-group x to use private-ips in tenancy where request.user.id = 'a'"
        )
        .is_err());
        assert!(
            parse_statement("Allow dynamic-group x to frobnicate private-ips in tenancy").is_err()
        );
        let f =
            parse_statement("Allow dynamic-group x to manage virtual-network-family in tenancy")
                .unwrap();
        assert!(f.permissions.contains(&"VNIC_UNASSIGN".to_string()));
    }

    #[test]
    fn the_agent_needs_use_ons_topics_to_publish_and_use_ipv6s_and_vnics_to_move_an_ipv6() {
        let grant = |s: &str| parse_statement(s).unwrap().permissions;
        let covered = |op: &str, perms: &[String]| {
            required_permissions(op)
                .iter()
                .all(|p| perms.iter().any(|g| g == p))
        };
        let read = grant("Allow dynamic-group x to read ons-topics in tenancy");
        assert!(covered("GetTopic", &read));
        assert!(!covered("PublishMessage", &read));
        assert!(covered(
            "PublishMessage",
            &grant("Allow dynamic-group x to use ons-topics in tenancy")
        ));
        assert!(covered(
            "PublishMessage",
            &grant("Allow dynamic-group x to use ons-family in tenancy")
        ));
        let ipv6s = grant("Allow dynamic-group x to use ipv6s in tenancy");
        assert!(
            !covered("UpdateIpv6", &ipv6s),
            "moving also needs use vnics"
        );
        let mut both = ipv6s;
        both.extend(grant("Allow dynamic-group x to use vnics in tenancy"));
        assert!(covered("UpdateIpv6", &both));
        assert!(covered("UpdateVnic", &both));
        assert!(!covered(
            "UpdatePublicIp",
            &grant("Allow dynamic-group x to use public-ips in tenancy")
        ));
    }
}
