//! Seeding: the world `World::seed` builds in one call (tenancy, regions, a compartment, a VCN
//! with its routing and one regional subnet, platform images, an admin user with an API key).

use super::*;

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

impl World {
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
        super::super::api::security_lists::seed_default(&mut w, &vcn_id);
        super::super::api::limits::seed(&mut w, &home);
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
                let pk = crate::simulator::pki::public_key_from_private_pem(pem)
                    .map_err(WorldError::Key)?;
                (
                    crate::simulator::pki::to_pkcs8_pem(pem).map_err(WorldError::Key)?,
                    pk,
                )
            }
            None => crate::simulator::pki::generate_rsa().map_err(WorldError::Key)?,
        };
        let fingerprint =
            crate::simulator::pki::fingerprint_md5(&public_pkcs1).map_err(WorldError::Key)?;
        let user_id = format!("ocid1.user.oc1..{}", random_suffix(60));
        let mut keys = BTreeMap::new();
        keys.insert(fingerprint.clone(), public_pkcs1);
        w.users.insert(
            user_id.clone(),
            User {
                id: user_id.clone(),
                name: spec.user_name.clone(),
                api_keys: keys,
                denied_operations: Vec::new(),
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
