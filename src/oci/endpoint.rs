//! Where each OCI service lives: region and realm to the identity, core (iaas) and auth hosts,
//! short region codes (what IMDS and `homeRegionKey` give) to region names, and the single
//! override base URL that sends every service to one place (the simulator).

/// The services vipsetup calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// IAM: tenancy, regions, availability domains, dynamic groups, policies.
    Identity,
    /// Compute and networking (iaas).
    Core,
    /// The auth service (instance-principal federation).
    Auth,
    /// Object Storage (remote state and lock).
    ObjectStorage,
    /// Notifications (the failover alerts' topic).
    Notification,
    /// Service limits (`vipsetup doctor`: are two more instances allowed?).
    Limits,
}

/// Realm key to second-level domain, from Oracle's region definitions (py regions_definitions.py).
const REALMS: &[(&str, &str)] = &[
    ("oc1", "oraclecloud.com"),
    ("oc2", "oraclegovcloud.com"),
    ("oc3", "oraclegovcloud.com"),
    ("oc4", "oraclegovcloud.uk"),
    ("oc8", "oraclecloud8.com"),
    ("oc9", "oraclecloud9.com"),
    ("oc10", "oraclecloud10.com"),
    ("oc14", "oraclecloud14.com"),
    ("oc15", "oraclecloud15.com"),
    ("oc19", "oraclecloud.eu"),
    ("oc20", "oraclecloud20.com"),
    ("oc21", "oraclecloud21.com"),
    ("oc23", "oraclecloud23.com"),
    ("oc24", "oraclecloud24.com"),
    ("oc26", "oraclecloud26.com"),
    ("oc29", "oraclecloud29.com"),
    ("oc35", "oraclecloud35.com"),
    ("oc42", "oraclecloud42.com"),
    ("oc51", "oraclecloud51.com"),
    ("oc52", "oraclecloud52.com"),
];

/// (short code, region name, realm): all 85 regions of Oracle's Python SDK
/// (src/oci/regions_definitions.py, REGIONS_SHORT_NAMES and REGION_REALMS, July 2026).
/// Unlisted regions fall back to oc1, as the SDKs do.
const REGIONS: &[(&str, &str, &str)] = &[
    ("yny", "ap-chuncheon-1", "oc1"),
    ("hyd", "ap-hyderabad-1", "oc1"),
    ("mel", "ap-melbourne-1", "oc1"),
    ("bom", "ap-mumbai-1", "oc1"),
    ("kix", "ap-osaka-1", "oc1"),
    ("icn", "ap-seoul-1", "oc1"),
    ("syd", "ap-sydney-1", "oc1"),
    ("nrt", "ap-tokyo-1", "oc1"),
    ("yul", "ca-montreal-1", "oc1"),
    ("yyz", "ca-toronto-1", "oc1"),
    ("ams", "eu-amsterdam-1", "oc1"),
    ("fra", "eu-frankfurt-1", "oc1"),
    ("zrh", "eu-zurich-1", "oc1"),
    ("jed", "me-jeddah-1", "oc1"),
    ("dxb", "me-dubai-1", "oc1"),
    ("gru", "sa-saopaulo-1", "oc1"),
    ("cwl", "uk-cardiff-1", "oc1"),
    ("lhr", "uk-london-1", "oc1"),
    ("iad", "us-ashburn-1", "oc1"),
    ("phx", "us-phoenix-1", "oc1"),
    ("sjc", "us-sanjose-1", "oc1"),
    ("vcp", "sa-vinhedo-1", "oc1"),
    ("scl", "sa-santiago-1", "oc1"),
    ("mtz", "il-jerusalem-1", "oc1"),
    ("mrs", "eu-marseille-1", "oc1"),
    ("sin", "ap-singapore-1", "oc1"),
    ("auh", "me-abudhabi-1", "oc1"),
    ("lin", "eu-milan-1", "oc1"),
    ("arn", "eu-stockholm-1", "oc1"),
    ("jnb", "af-johannesburg-1", "oc1"),
    ("cdg", "eu-paris-1", "oc1"),
    ("qro", "mx-queretaro-1", "oc1"),
    ("mad", "eu-madrid-1", "oc1"),
    ("ord", "us-chicago-1", "oc1"),
    ("mty", "mx-monterrey-1", "oc1"),
    ("aga", "us-saltlake-2", "oc1"),
    ("bog", "sa-bogota-1", "oc1"),
    ("vap", "sa-valparaiso-1", "oc1"),
    ("xsp", "ap-singapore-2", "oc1"),
    ("ruh", "me-riyadh-1", "oc1"),
    ("onm", "ap-delhi-1", "oc1"),
    ("hsg", "ap-batam-1", "oc1"),
    ("orf", "eu-madrid-3", "oc1"),
    ("nrq", "eu-turin-1", "oc1"),
    ("jbp", "ap-kulai-2", "oc1"),
    ("lej", "af-casablanca-1", "oc1"),
    ("lfi", "us-langley-1", "oc2"),
    ("luf", "us-luke-1", "oc2"),
    ("ric", "us-gov-ashburn-1", "oc3"),
    ("pia", "us-gov-chicago-1", "oc3"),
    ("tus", "us-gov-phoenix-1", "oc3"),
    ("ltn", "uk-gov-london-1", "oc4"),
    ("brs", "uk-gov-cardiff-1", "oc4"),
    ("nja", "ap-chiyoda-1", "oc8"),
    ("ukb", "ap-ibaraki-1", "oc8"),
    ("mct", "me-dcc-muscat-1", "oc9"),
    ("ibr", "me-ibri-1", "oc9"),
    ("wga", "ap-dcc-canberra-1", "oc10"),
    ("bgy", "eu-dcc-milan-1", "oc14"),
    ("mxp", "eu-dcc-milan-2", "oc14"),
    ("snn", "eu-dcc-dublin-2", "oc14"),
    ("dtm", "eu-dcc-rating-2", "oc14"),
    ("dus", "eu-dcc-rating-1", "oc14"),
    ("ork", "eu-dcc-dublin-1", "oc14"),
    ("dac", "ap-dcc-gazipur-1", "oc15"),
    ("vll", "eu-madrid-2", "oc19"),
    ("str", "eu-frankfurt-2", "oc19"),
    ("beg", "eu-jovanovac-1", "oc20"),
    ("doh", "me-dcc-doha-1", "oc21"),
    ("vve", "me-alrayyan-1", "oc21"),
    ("ebb", "us-somerset-1", "oc23"),
    ("ebl", "us-thames-1", "oc23"),
    ("avz", "eu-dcc-zurich-1", "oc24"),
    ("avf", "eu-crissier-1", "oc24"),
    ("ahu", "me-abudhabi-3", "oc26"),
    ("rba", "me-alain-1", "oc26"),
    ("rkt", "me-abudhabi-2", "oc29"),
    ("shj", "me-abudhabi-4", "oc29"),
    ("dtz", "ap-seoul-2", "oc35"),
    ("dln", "ap-suwon-1", "oc35"),
    ("bno", "ap-chuncheon-2", "oc35"),
    ("yxj", "us-ashburn-2", "oc42"),
    ("pgc", "us-newark-1", "oc42"),
    ("jsk", "eu-budapest-1", "oc51"),
    ("hnw", "sa-riodejaneiro-1", "oc52"),
];

/// A region name from a name, a short code (`iad`) or a region key (`IAD`); unknown strings are
/// taken as region names unchanged (new regions work before this table knows them).
pub fn canonical_region(s: &str) -> String {
    let lower = s.trim().to_ascii_lowercase();
    REGIONS
        .iter()
        .find(|(code, _, _)| *code == lower)
        .map(|(_, name, _)| name.to_string())
        .unwrap_or(lower)
}

/// A region's short code (`iad` for `us-ashburn-1`), when the SDK's table knows it.
pub fn region_code(region: &str) -> Option<&'static str> {
    let region = canonical_region(region);
    REGIONS
        .iter()
        .find(|(_, name, _)| *name == region)
        .map(|(code, _, _)| *code)
}

/// The realm key of a region (`oc1` when unknown).
pub fn realm_of(region: &str) -> &'static str {
    let region = canonical_region(region);
    REGIONS
        .iter()
        .find(|(_, name, _)| *name == region)
        .map(|(_, _, realm)| *realm)
        .unwrap_or("oc1")
}

/// The second-level domain of a realm.
pub fn realm_domain(realm: &str) -> Option<&'static str> {
    REALMS.iter().find(|(k, _)| *k == realm).map(|(_, d)| *d)
}

/// Where requests go: OCI's regional hosts, or one base URL for every service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoints {
    Oci,
    /// `--endpoint URL` / `VIPSETUP_OCI_ENDPOINT`: every service at this base (http allowed).
    Override(String),
}

impl Endpoints {
    /// The base URL (scheme + host [+ prefix], no trailing slash) of a service in a region.
    pub fn base_url(&self, service: Service, region: &str) -> String {
        match self {
            Endpoints::Override(base) => base.trim_end_matches('/').to_string(),
            Endpoints::Oci => {
                let region = canonical_region(region);
                let domain = realm_domain(realm_of(&region)).unwrap_or("oraclecloud.com");
                match service {
                    Service::Identity => format!("https://identity.{region}.oci.{domain}"),
                    Service::Core => format!("https://iaas.{region}.{domain}"),
                    Service::Auth => format!("https://auth.{region}.{domain}"),
                    // py object_storage_client.py: "https://objectstorage.{region}.{secondLevelDomain}"
                    Service::ObjectStorage => {
                        format!("https://objectstorage.{region}.{domain}")
                    }
                    // py ons/notification_control_plane_client.py (and the data plane's):
                    // "https://notification.{region}.{secondLevelDomain}"
                    Service::Notification => {
                        format!("https://notification.{region}.{domain}")
                    }
                    // py limits/limits_client.py: "https://limits.{region}.oci.{secondLevelDomain}"
                    Service::Limits => format!("https://limits.{region}.oci.{domain}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_per_service_and_realm() {
        let e = Endpoints::Oci;
        assert_eq!(
            e.base_url(Service::Identity, "us-ashburn-1"),
            "https://identity.us-ashburn-1.oci.oraclecloud.com"
        );
        assert_eq!(
            e.base_url(Service::Core, "iad"),
            "https://iaas.us-ashburn-1.oraclecloud.com"
        );
        assert_eq!(
            e.base_url(Service::ObjectStorage, "phx"),
            "https://objectstorage.us-phoenix-1.oraclecloud.com"
        );
        assert_eq!(
            e.base_url(Service::Auth, "NRT"),
            "https://auth.ap-tokyo-1.oraclecloud.com"
        );
        assert_eq!(
            e.base_url(Service::Core, "uk-gov-london-1"),
            "https://iaas.uk-gov-london-1.oraclegovcloud.uk"
        );
        assert_eq!(
            e.base_url(Service::Identity, "eu-frankfurt-2"),
            "https://identity.eu-frankfurt-2.oci.oraclecloud.eu"
        );
        // A region this table doesn't know is assumed to be in oc1.
        assert_eq!(
            e.base_url(Service::Core, "xx-new-1"),
            "https://iaas.xx-new-1.oraclecloud.com"
        );
    }

    #[test]
    fn short_codes_and_keys_map_to_names() {
        assert_eq!(canonical_region("iad"), "us-ashburn-1");
        assert_eq!(canonical_region("PHX"), "us-phoenix-1");
        assert_eq!(canonical_region("ap-tokyo-1"), "ap-tokyo-1");
        assert_eq!(realm_of("ltn"), "oc4");
    }

    #[test]
    fn every_sdk_region_is_known_once_with_its_realm() {
        assert_eq!(REGIONS.len(), 85, "Oracle's Python SDK lists 85 regions");
        let codes: std::collections::BTreeSet<_> = REGIONS.iter().map(|r| r.0).collect();
        let names: std::collections::BTreeSet<_> = REGIONS.iter().map(|r| r.1).collect();
        assert_eq!((codes.len(), names.len()), (85, 85));
        assert!(
            REGIONS.iter().all(|r| realm_domain(r.2).is_some()),
            "{REGIONS:?}"
        );
        assert_eq!(canonical_region("dtz"), "ap-seoul-2");
        assert_eq!(
            Endpoints::Oci.base_url(Service::Core, "me-abudhabi-4"),
            "https://iaas.me-abudhabi-4.oraclecloud29.com"
        );
    }

    #[test]
    fn override_sends_every_service_to_one_base() {
        let e = Endpoints::Override("http://127.0.0.1:8080/".into());
        for s in [Service::Identity, Service::Core, Service::Auth] {
            assert_eq!(e.base_url(s, "us-ashburn-1"), "http://127.0.0.1:8080");
        }
    }
}
