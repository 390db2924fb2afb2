//! The `oci` section: config profile, region and compartment.

use super::Cx;
use crate::blueprint::yaml::Node;
use crate::blueprint::OciTarget;

const OCI_KEYS: &[&str] = &["profile", "region", "compartment"];

impl Cx {
    pub(super) fn oci(&mut self, node: &Node, path: &str) -> Option<OciTarget> {
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

    pub(super) fn region(&mut self, node: &Node, field: &str) -> Option<String> {
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
}
