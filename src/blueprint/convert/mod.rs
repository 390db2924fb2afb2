//! Walks the positioned YAML tree into `Blueprint`, collecting every problem instead of
//! stopping at the first, so one `validate` run shows them all. This file holds the walk (one
//! pass over the top-level keys, each section handed to its own file) and the checks that span
//! sections; `checks` holds the typed readers every section uses.

mod checks;
mod failover;
mod iam;
mod instance;
mod network;
mod nodes;
mod oci;
mod ssh_keys;
mod state;
mod tags;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::yaml::{self, Node, Pos};
use super::{Blueprint, Diagnostic, Diagnostics, Network, NodeSpec, OciTarget};
use crate::oci::endpoint::{canonical_region, realm_of};
use checks::{child, join, Fields};
use failover::default_failover;
use iam::default_iam;

pub(crate) use checks::is_label;

const TOP_KEYS: &[&str] = &[
    "name", "oci", "network", "nodes", "instance", "failover", "iam", "tags", "state",
];

/// Realms whose regions the endpoint table lists (others are not compared).
const REALM_KNOWN: &[&str] = &["oc1"];

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

impl Cx {
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
}
