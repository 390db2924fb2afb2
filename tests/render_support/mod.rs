//! Shared by the render tests: the blueprint variants every rendered-file check runs over; a
//! missing prerequisite goes through the shared rule (`prereq`: fail in CI, skip with a line
//! elsewhere).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vipsetup::blueprint::{self, Blueprint};
use vipsetup::render::{self, Facts, RenderedNode};

#[path = "../support/prereq.rs"]
pub mod prereq;
pub mod sim;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (variant name, shipped blueprint, text replacements applied to it).
pub type Variant = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub const VARIANTS: &[Variant] = &[
    ("quickstart", "blueprints/quickstart.yaml", &[]),
    ("reference", "blueprints/reference.yaml", &[]),
    (
        "quickstart-health-check",
        "blueprints/quickstart.yaml",
        &[(
            "  preempt: false\n",
            "  preempt: false\n  health_check:\n    command: systemctl is-active --quiet nginx && curl -fsS -o /dev/null 'http://127.0.0.1/'\n    interval: 3\n    fall: 3\n    rise: 2\n",
        )],
    ),
    (
        "quickstart-preempt",
        "blueprints/quickstart.yaml",
        &[("  preempt: false\n", "  preempt: true\n")],
    ),
    (
        "quickstart-fast-advert",
        "blueprints/quickstart.yaml",
        &[("  preempt: false\n", "  preempt: false\n  advert_interval: 250ms\n")],
    ),
    (
        "reference-ubuntu-eth0",
        "blueprints/reference.yaml",
        &[
            ("    os: Oracle Linux\n    version: \"9\"\n", "    os: Canonical Ubuntu\n    version: \"24.04\"\n"),
            ("  interface: ens3\n", "  interface: enp0s6\n"),
            ("  preempt: false\n", "  preempt: true\n"),
            ("  advert_interval: 1\n", "  advert_interval: 0.5\n"),
        ],
    ),
    (
        // issue 12: several IPv4 VIPs, IPv6 VIPs, a public IP, alerts, and no interface named
        "quickstart-multi-vip",
        "blueprints/quickstart.yaml",
        &[
            (
                "  vip: 172.16.2.10/24\n  interface: ens3\n",
                "  vip: [172.16.2.10/24, 172.16.2.20/24]\n  vip6: [2603:c020:1:2::10, 2603:c020:1:2::20/64]\n  public_ip: reserved\n",
            ),
            (
                "  preempt: false\n",
                "  preempt: false\n  notify_topic: ocid1.onstopic.oc1.ap-tokyo-1.aaaaaaaaquickstarttopic\n",
            ),
        ],
    ),
];

pub fn load_variant(file: &str, edits: &[(&str, &str)]) -> Blueprint {
    let path = repo().join(file);
    let mut src = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert!(src.contains(from), "{file} has no {from:?} to replace");
        src = src.replacen(from, to, 1);
    }
    blueprint::parse(&src, &path).unwrap_or_else(|d| panic!("{file} variant is invalid:\n{d}"))
}

/// Every variant rendered offline with production agent settings.
pub fn rendered() -> Vec<(String, Blueprint, Vec<RenderedNode>)> {
    VARIANTS
        .iter()
        .map(|(name, file, edits)| {
            let bp = load_variant(file, edits);
            let facts = Facts::offline(&bp).unwrap();
            let nodes = render::render(&bp, &facts).unwrap();
            (name.to_string(), bp, nodes)
        })
        .collect()
}

/// Writes the node's agent script and its settings file into `dir` (as `vip-agent` and
/// `vip-agent.env`: their names on the node), to run the agent outside a node.
pub fn write_agent(node: &RenderedNode, dir: &Path) {
    for f in &node.files {
        if f.path == render::paths::AGENT || f.path == render::paths::AGENT_ENV {
            let name = f.path.rsplit('/').next().unwrap();
            std::fs::write(dir.join(name), &f.content).unwrap();
        }
    }
}

pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// The signing library as the agent sources it, assembled from its parts (templates/agent/
/// oci-sign/, build.rs) and written once per test process, comments kept.
pub fn sign_lib() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vipsetup-sign-lib.{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oci-sign.sh");
        std::fs::write(&path, render::SIGN_LIB_SCRIPT).unwrap();
        path
    })
    .clone()
}
