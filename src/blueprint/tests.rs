//! Table-driven checks of the blueprint validator: each bad blueprint and the exact errors
//! (line, column, field, message) it must produce.

use std::path::Path;

use super::*;

const KEY: &str = include_str!("../../blueprints/keys/quickstart.pub");

/// A valid blueprint with known line numbers; the cases below edit single lines of it.
fn base() -> String {
    format!(
        "name: web-vip
oci:
  region: ap-tokyo-1
  compartment: ocid1.compartment.oc1..aaaaaaaa
network:
  subnet: ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaa
  vip: 172.16.2.10/24
nodes:
  - name: web1
    private_ip: 172.16.2.11
  - name: web2
    private_ip: 172.16.2.12
instance:
  shape: VM.Standard.E4.Flex
  ocpus: 1
  memory_gb: 8
  image:
    os: Oracle Linux
    version: \"9\"
  ssh_keys:
    - {}
failover:
  advert_interval: 1
  preferred_node: web1
",
        KEY.trim()
    )
}

/// Replaces 1-based line `n` with `text` (which may hold several lines, or be empty to delete).
fn edit(src: &str, edits: &[(usize, &str)]) -> String {
    let mut lines: Vec<Option<String>> = src.lines().map(|l| Some(l.to_string())).collect();
    for (n, text) in edits {
        lines[n - 1] = if text.is_empty() {
            None
        } else {
            Some(text.to_string())
        };
    }
    let mut out: String = lines.into_iter().flatten().collect::<Vec<_>>().join("\n");
    out.push('\n');
    out
}

fn parse_at(src: &str) -> Result<Blueprint, Diagnostics> {
    parse(src, Path::new("/bp/web.yaml"))
}

/// (line, column, field, message) of every diagnostic.
fn errors(src: &str) -> Vec<(usize, usize, String, String)> {
    match parse_at(src) {
        Ok(_) => Vec::new(),
        Err(d) => {
            d.0.into_iter()
                .map(|d| (d.line, d.column, d.field, d.message))
                .collect()
        }
    }
}

#[test]
fn the_base_blueprint_is_valid_and_defaults_are_filled() {
    let bp = parse_at(&base()).unwrap();
    assert_eq!(bp.name, "web-vip");
    assert_eq!(bp.network.interface, None, "absent: the installer finds it");
    assert_eq!(bp.network.vips, vec![bp.network.vip]);
    assert!(bp.network.vip6.is_empty());
    assert_eq!(bp.network.public_ip, None);
    assert_eq!(bp.failover.notify_topic, None);
    assert_eq!(bp.network.vip_prefix, Some(24));
    assert_eq!(bp.oci.profile, "DEFAULT");
    assert_eq!(bp.iam.dynamic_group, "web-vip-dg");
    assert_eq!(bp.iam.policy, "web-vip-policy");
    assert_eq!(bp.failover.preferred_node, 0);
    assert!(!bp.failover.preempt);
    assert_eq!(bp.failover.advert_interval.vrrp_version(), 3);
    assert_eq!(bp.instance.ssh_keys[0].text, KEY.trim());
    assert_eq!(bp.instance.ssh_keys[0].path, None);
}

#[test]
fn bad_blueprints_give_exact_errors() {
    type Case = (
        &'static str,
        Vec<(usize, &'static str)>,
        Vec<(usize, usize, &'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        // Issue 11: what validate now catches offline.
        (
            "region differs from the subnet's",
            vec![(3, "  region: us-ashburn-1")],
            vec![(6, 11, "network.subnet", "the subnet's OCID is in region ap-tokyo-1, but `oci.region` is us-ashburn-1")],
        ),
        (
            "region differs from the subnet's short code",
            vec![(6, "  subnet: ocid1.subnet.oc1.iad.aaaaaaaa")],
            vec![(6, 11, "network.subnet", "the subnet's OCID is in region us-ashburn-1, but `oci.region` is ap-tokyo-1")],
        ),
        (
            "placeholder OCID",
            vec![(4, "  compartment: ocid1.compartment.oc1..aaaaaaaaREPLACEME")],
            vec![(4, 16, "oci.compartment", "`ocid1.compartment.oc1..aaaaaaaaREPLACEME` is a placeholder, not a real OCID")],
        ),
        (
            "placeholder OCID (x run)",
            vec![(6, "  subnet: ocid1.subnet.oc1.ap-tokyo-1.xxxxxxxxxxxx")],
            vec![(6, 11, "network.subnet", "`ocid1.subnet.oc1.ap-tokyo-1.xxxxxxxxxxxx` is a placeholder, not a real OCID")],
        ),
        (
            "VIP 0.0.0.0 without a prefix",
            vec![(7, "  vip: 0.0.0.0")],
            vec![(7, 8, "network.vip", "0.0.0.0 is the unspecified address, which can never be a VIP")],
        ),
        (
            "multicast VIP",
            vec![(7, "  vip: 224.0.0.18/24")],
            vec![(7, 8, "network.vip", "224.0.0.18 is a multicast address, which can never be a VIP")],
        ),
        (
            "loopback VIP",
            vec![(7, "  vip: 127.0.0.5")],
            vec![(7, 8, "network.vip", "127.0.0.5 is a loopback address, which can never be a VIP")],
        ),
        (
            "link-local VIP",
            vec![(7, "  vip: 169.254.169.254")],
            vec![(7, 8, "network.vip", "169.254.169.254 is a link-local address (169.254.0.0/16, where OCI's metadata service lives), which can never be a VIP")],
        ),
        (
            "unknown key (typo)",
            vec![(24, "  prefered_node: web1")],
            vec![(24, 3, "failover.prefered_node", "unknown key `prefered_node`")],
        ),
        (
            "unknown top-level key",
            vec![(1, "name: web-vip\nregion: ap-tokyo-1")],
            vec![(2, 1, "region", "unknown key `region`")],
        ),
        (
            "key given twice",
            vec![(1, "name: web-vip\nname: other")],
            vec![(2, 1, "name", "`name` is given twice")],
        ),
        (
            "bad IPv4 address",
            vec![(10, "    private_ip: 172.16.2.300")],
            vec![(10, 17, "nodes[0].private_ip", "`172.16.2.300` is not an IPv4 address")],
        ),
        (
            "VIP equal to a node address",
            vec![(12, "    private_ip: 172.16.2.10")],
            vec![(12, 17, "nodes[1].private_ip", "172.16.2.10 is a VIP (network.vip); a node cannot have a VIP as its own address")],
        ),
        (
            "duplicate node names",
            vec![(11, "  - name: web1")],
            vec![(11, 11, "nodes[1].name", "node name `web1` is also used by nodes[0]")],
        ),
        (
            "duplicate node addresses",
            vec![(12, "    private_ip: 172.16.2.11")],
            vec![(12, 17, "nodes[1].private_ip", "private_ip 172.16.2.11 is also used by nodes[0]")],
        ),
        (
            "three nodes",
            vec![(12, "    private_ip: 172.16.2.12\n  - name: web3")],
            vec![(9, 3, "nodes", "expected exactly two nodes, found 3")],
        ),
        (
            "one node",
            vec![(11, ""), (12, "")],
            vec![(9, 3, "nodes", "expected exactly two nodes, found 1")],
        ),
        (
            "nodes not a list",
            vec![(8, "nodes: web1"), (9, ""), (10, ""), (11, ""), (12, "")],
            vec![(8, 8, "nodes", "expected a list, found a string")],
        ),
        (
            "node outside the VIP's subnet",
            vec![(10, "    private_ip: 172.16.3.11")],
            vec![(10, 17, "nodes[0].private_ip", "172.16.3.11 is outside the VIP's subnet 172.16.2.0/24")],
        ),
        (
            // Issue 20: both nodes agree, so the VIP is the one to fix (not both nodes).
            "VIP outside the nodes' subnet",
            vec![(7, "  vip: 172.16.9.10/24")],
            vec![(7, 8, "network.vip", "the VIP 172.16.9.10 is outside the nodes' subnet 172.16.2.0/24 (both nodes' private_ip are in it)")],
        ),
        (
            "malformed subnet OCID",
            vec![(6, "  subnet: subnet-123")],
            vec![(6, 11, "network.subnet", "`subnet-123` is not an OCID: it does not have the form ocid1.<type>.<realm>.<region>.<unique-id>")],
        ),
        (
            "OCID of the wrong type",
            vec![(6, "  subnet: ocid1.vcn.oc1.ap-tokyo-1.aaaa")],
            vec![(6, 11, "network.subnet", "`ocid1.vcn.oc1.ap-tokyo-1.aaaa` is the OCID of a vcn, but this field needs a subnet")],
        ),
        (
            "regional OCID without region",
            vec![(6, "  subnet: ocid1.subnet.oc1..aaaa")],
            vec![(6, 11, "network.subnet", "`ocid1.subnet.oc1..aaaa` has an empty region part, but a subnet OCID always names its region")],
        ),
        (
            "compartment given a subnet OCID",
            vec![(4, "  compartment: ocid1.subnet.oc1.ap-tokyo-1.aaaa")],
            vec![(4, 16, "oci.compartment", "`ocid1.subnet.oc1.ap-tokyo-1.aaaa` is the OCID of a subnet, but this field needs a compartment or tenancy")],
        ),
        (
            "pair name OCI would reject",
            vec![(1, "name: Web_VIP")],
            vec![(1, 7, "name", "`Web_VIP` cannot be used as the pair name (it prefixes OCI resource names)")],
        ),
        (
            "node name that is no hostname",
            vec![(9, "  - name: web-1-")],
            vec![(9, 11, "nodes[0].name", "`web-1-` cannot be a node name (it becomes the instance's hostname)")],
        ),
        (
            "missing ssh key file",
            vec![(21, "    - keys/missing.pub")],
            vec![(21, 7, "instance.ssh_keys[0]", "ssh key file `keys/missing.pub` not found (looked at /bp/keys/missing.pub)")],
        ),
        (
            "damaged ssh key",
            vec![(21, "    - ssh-ed25519 AAAAbroken me@host")],
            vec![(21, 7, "instance.ssh_keys[0]", "the `ssh-ed25519` key is damaged (its base64 part does not decode to a ssh-ed25519 key)")],
        ),
        (
            "advert interval finer than 10 ms",
            vec![(23, "  advert_interval: 0.005")],
            vec![(23, 20, "failover.advert_interval", "advert interval `0.005` is finer than keepalived's 0.01 s steps")],
        ),
        (
            "advert interval above VRRPv2 maximum",
            vec![(23, "  advert_interval: 300")],
            vec![(23, 20, "failover.advert_interval", "advert interval `300` is above keepalived's maximum of 255 s")],
        ),
        (
            "fractional advert interval above VRRPv3 maximum",
            vec![(23, "  advert_interval: 41.5")],
            vec![(23, 20, "failover.advert_interval", "advert interval `41.5` has a fraction of a second, which needs VRRPv3, whose maximum is 40.95 s")],
        ),
        (
            "zero advert interval",
            vec![(23, "  advert_interval: 0")],
            vec![(23, 20, "failover.advert_interval", "advert interval `0` must be at least 0.01 s (10 ms), keepalived's minimum")],
        ),
        (
            "advert interval in ms not a multiple of 10",
            vec![(23, "  advert_interval: 125ms")],
            vec![(23, 20, "failover.advert_interval", "advert interval `125ms` is not a multiple of 10 ms")],
        ),
        (
            "boolean given as a quoted string",
            vec![(24, "  preferred_node: web1\n  preempt: \"yes\"")],
            vec![(25, 12, "failover.preempt", "expected true or false, found a quoted string")],
        ),
        (
            "number given as a word",
            vec![(15, "  ocpus: many")],
            vec![(15, 10, "instance.ocpus", "expected a number, found a string")],
        ),
        (
            "missing required key",
            vec![(1, "")],
            vec![(1, 1, "name", "missing required key `name`")],
        ),
        (
            "required key without value",
            vec![(1, "name:")],
            vec![(1, 1, "name", "`name` has no value")],
        ),
        (
            "preferred node that is not a node",
            vec![(24, "  preferred_node: web3")],
            vec![(24, 19, "failover.preferred_node", "`web3` is not one of the nodes")],
        ),
        (
            "VIP on the subnet's gateway address",
            vec![(7, "  vip: 172.16.2.1/24")],
            vec![(7, 8, "network.vip", "172.16.2.1 is the default gateway address of 172.16.2.0/24, which OCI reserves")],
        ),
        (
            "VIP prefix no OCI subnet can have",
            vec![(7, "  vip: 172.16.2.10/8")],
            vec![(7, 8, "network.vip", "`/8` is not a prefix length an OCI subnet can have")],
        ),
        (
            "bad fault domain",
            vec![(10, "    private_ip: 172.16.2.11\n    fault_domain: FD-1")],
            vec![(11, 19, "nodes[0].fault_domain", "`FD-1` is not an OCI fault domain")],
        ),
        (
            "ocpus on a fixed shape",
            vec![(14, "  shape: VM.Standard2.1")],
            vec![
                (15, 10, "instance.ocpus", "ocpus only applies to flex shapes, and `VM.Standard2.1` is not one"),
                (16, 14, "instance.memory_gb", "memory_gb only applies to flex shapes, and `VM.Standard2.1` is not one"),
            ],
        ),
        (
            "flex shape without memory",
            vec![(16, "")],
            vec![(14, 3, "instance.memory_gb", "the flex shape `VM.Standard.E4.Flex` needs `memory_gb`")],
        ),
        (
            "image with both ocid and os",
            vec![(17, "  image:\n    ocid: ocid1.image.oc1.ap-tokyo-1.aaaa")],
            vec![(18, 11, "instance.image.ocid", "give either `ocid` or `os` + `version`, not both")],
        ),
        (
            "unsupported Oracle Linux version",
            vec![(19, "    version: \"7\"")],
            vec![(19, 14, "instance.image.version", "Oracle Linux `7` is not supported by the failover agent's installer")],
        ),
        (
            "health check without command",
            vec![(24, "  preferred_node: web1\n  health_check:\n    interval: 2")],
            vec![(26, 5, "failover.health_check.command", "missing required key `command`")],
        ),
        (
            "health check fall of zero",
            vec![(24, "  preferred_node: web1\n  health_check:\n    command: \"true\"\n    fall: 0")],
            vec![(27, 11, "failover.health_check.fall", "0 is out of range for fall")],
        ),
        (
            "dynamic group name with a space",
            vec![(24, "  preferred_node: web1\niam:\n  dynamic_group: web vip")],
            vec![(26, 18, "iam.dynamic_group", "`web vip` is a name OCI IAM would reject")],
        ),
        (
            "policy statement without a verb",
            vec![(24, "  preferred_node: web1\niam:\n  extra_statements:\n    - let everyone in")],
            vec![(27, 7, "iam.extra_statements[0]", "`let everyone in` is not an IAM policy statement")],
        ),
        (
            "tag key with a period",
            vec![(24, "  preferred_node: web1\ntags:\n  team.name: web")],
            vec![(26, 3, "tags.team.name", "`team.name` is not a tag key OCI accepts")],
        ),
        (
            "interface name too long",
            vec![(7, "  vip: 172.16.2.10/24\n  interface: averyveryverylongname")],
            vec![(8, 14, "network.interface", "`averyveryverylongname` is not a Linux interface name")],
        ),
        (
            "vip list too long",
            vec![(7, "  vip: [172.16.2.10, 172.16.2.20, 172.16.2.21, 172.16.2.22, 172.16.2.23, 172.16.2.24, 172.16.2.25, 172.16.2.26, 172.16.2.27]")],
            vec![(7, 8, "network.vip", "9 VIPs are listed; a pair carries 1 to 8")],
        ),
        (
            "empty vip list",
            vec![(7, "  vip: []")],
            vec![(7, 8, "network.vip", "0 VIPs are listed; a pair carries 1 to 8")],
        ),
        (
            "vip listed twice",
            vec![(7, "  vip: [172.16.2.10/24, 172.16.2.10]")],
            vec![(7, 25, "network.vip[1]", "172.16.2.10 is listed twice")],
        ),
        (
            "second vip in another subnet",
            vec![(7, "  vip: [172.16.2.10/24, 172.16.3.10]")],
            vec![(7, 25, "network.vip[1]", "172.16.3.10 is outside the first VIP's subnet 172.16.2.0/24")],
        ),
        (
            "second vip with another prefix",
            vec![(7, "  vip:\n    - 172.16.2.10/24\n    - 172.16.2.20/25")],
            vec![(9, 7, "network.vip[1]", "172.16.2.20/25 has another prefix length than the first VIP (/24)")],
        ),
        (
            "second vip is a reserved address",
            vec![(7, "  vip: [172.16.2.10/24, 172.16.2.255]")],
            vec![(7, 25, "network.vip[1]", "172.16.2.255 is the broadcast address of 172.16.2.0/24, which OCI reserves")],
        ),
        (
            "node takes the second vip",
            vec![(7, "  vip: [172.16.2.10/24, 172.16.2.12]")],
            vec![(12, 17, "nodes[1].private_ip", "172.16.2.12 is a VIP (network.vip); a node cannot have a VIP as its own address")],
        ),
        (
            "vip6 not an address",
            vec![(7, "  vip: 172.16.2.10/24\n  vip6: 2603:c020:1:2::zz")],
            vec![(8, 9, "network.vip6", "`2603:c020:1:2::zz` is not an IPv6 address")],
        ),
        (
            "vip6 with a prefix other than /64",
            vec![(7, "  vip: 172.16.2.10/24\n  vip6: [2603:c020:1:2::10/56]")],
            vec![(8, 10, "network.vip6[0]", "`/56` is not the prefix length of an OCI subnet's IPv6 prefix")],
        ),
        (
            "vip6 link-local",
            vec![(7, "  vip: 172.16.2.10/24\n  vip6: fe80::10")],
            vec![(8, 9, "network.vip6", "fe80::10 is a link-local address (fe80::/10), which can never be a VIP")],
        ),
        (
            "vip6 listed twice",
            vec![(7, "  vip: 172.16.2.10/24\n  vip6: [\"2603:c020:1:2::10\", \"2603:c020:1:2:0::10\"]")],
            vec![(8, 31, "network.vip6[1]", "2603:c020:1:2::10 is listed twice")],
        ),
        (
            "public_ip neither reserved nor an ocid",
            vec![(7, "  vip: 172.16.2.10/24\n  public_ip: yes-please")],
            vec![(8, 14, "network.public_ip", "`yes-please` is neither `reserved` nor a public IP OCID")],
        ),
        (
            "public_ip ocid of another kind",
            vec![(7, "  vip: 172.16.2.10/24\n  public_ip: ocid1.privateip.oc1.ap-tokyo-1.aaaaaaaa")],
            vec![(8, 14, "network.public_ip", "`ocid1.privateip.oc1.ap-tokyo-1.aaaaaaaa` is the OCID of a privateip, but this field needs a publicip")],
        ),
        (
            "notify_topic not a topic",
            vec![(24, "  preferred_node: web1\n  notify_topic: ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaa")],
            vec![(25, 17, "failover.notify_topic", "`ocid1.subnet.oc1.ap-tokyo-1.aaaaaaaa` is the OCID of a subnet, but this field needs a onstopic")],
        ),
        (
            "region short code",
            vec![(3, "  region: NRT")],
            vec![(3, 11, "oci.region", "`NRT` is not an OCI region name")],
        ),
        (
            "YAML syntax error",
            vec![(7, "  vip: [172.16.2.10")],
            vec![(8, 6, "", "this is not valid YAML: illegal placement of ':' indicator")],
        ),
        (
            "all errors in one run, in source order",
            vec![
                (6, "  subnet: subnet-123"),
                (10, "    private_ip: 172.16.2.300"),
                (23, "  advert_interval: 0.005"),
            ],
            vec![
                (6, 11, "network.subnet", "`subnet-123` is not an OCID: it does not have the form ocid1.<type>.<realm>.<region>.<unique-id>"),
                (10, 17, "nodes[0].private_ip", "`172.16.2.300` is not an IPv4 address"),
                (23, 20, "failover.advert_interval", "advert interval `0.005` is finer than keepalived's 0.01 s steps"),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, edits, want) in &cases {
        let got = errors(&edit(&base(), edits));
        let want: Vec<(usize, usize, String, String)> = want
            .iter()
            .map(|(l, c, f, m)| (*l, *c, f.to_string(), m.to_string()))
            .collect();
        if got != want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_error_has_a_hint_and_the_file() {
    let src = edit(
        &base(),
        &[(6, "  subnet: nope"), (24, "  prefered_node: web1")],
    );
    let d = parse_at(&src).unwrap_err();
    assert_eq!(d.len(), 2);
    for e in d.iter() {
        assert_eq!(e.file, Path::new("/bp/web.yaml"));
        assert!(!e.hint.is_empty(), "{e:?}");
    }
    let shown = d.to_string();
    assert!(
        shown.starts_with("/bp/web.yaml:6:11: network.subnet: "),
        "{shown}"
    );
    assert!(shown.contains("did you mean `preferred_node`?"), "{shown}");
}

#[test]
fn sub_second_adverts_use_vrrp3() {
    for (text, version, value) in [
        ("0.5", 3, "0.50"),
        ("250ms", 3, "0.25"),
        ("2s", 3, "2"),
        ("60s", 2, "60"),
    ] {
        let src = edit(&base(), &[(23, &format!("  advert_interval: {text}"))]);
        let bp = parse_at(&src).unwrap();
        assert_eq!(
            bp.failover.advert_interval.vrrp_version(),
            version,
            "{text}"
        );
        assert_eq!(
            bp.failover.advert_interval.keepalived_value(),
            value,
            "{text}"
        );
    }
}

#[test]
fn tenancy_ocid_is_a_valid_compartment() {
    let src = edit(
        &base(),
        &[(4, "  compartment: ocid1.tenancy.oc1..aaaaaaaa")],
    );
    assert_eq!(parse_at(&src).unwrap().oci.compartment.kind(), "tenancy");
}

#[test]
fn relative_key_paths_resolve_against_the_blueprint_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/a.pub"), KEY).unwrap();
    let src = edit(&base(), &[(21, "    - keys/a.pub")]);
    let bp = parse(&src, &dir.path().join("web.yaml")).unwrap();
    assert_eq!(
        bp.instance.ssh_keys[0].path,
        Some(dir.path().join("keys/a.pub"))
    );
    assert_eq!(
        bp.instance.ssh_authorized_keys(),
        format!("{}\n", KEY.trim())
    );
}

#[test]
fn private_key_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("id"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    let src = edit(&base(), &[(21, "    - path: id")]);
    let d = parse(&src, &dir.path().join("web.yaml")).unwrap_err();
    assert_eq!(d.0[0].field, "instance.ssh_keys[0].path");
    assert!(d.0[0].message.starts_with("this is a private key"), "{d}");
}

#[test]
fn the_state_key_names_a_bucket_and_optionally_namespace_and_prefix() {
    let bp = parse_at(&base()).unwrap();
    assert_eq!(bp.state, None, "local state without `state:`");
    let src = format!("{}state:\n  bucket: vipsetup-state\n", base());
    let bp = parse_at(&src).unwrap();
    assert_eq!(
        bp.state,
        Some(RemoteState {
            bucket: "vipsetup-state".into(),
            namespace: None,
            prefix: String::new()
        })
    );
    let src = format!(
        "{}state:\n  bucket: b\n  namespace: axaxnpcrorw5\n  prefix: pairs/\n",
        base()
    );
    let st = parse_at(&src).unwrap().state.unwrap();
    assert_eq!(
        (st.namespace.as_deref(), st.prefix.as_str()),
        (Some("axaxnpcrorw5"), "pairs/")
    );
    let line = base().lines().count() + 2;
    for (state, field, message) in [
        (
            "  prefix: p/\n",
            "state.bucket",
            "missing required key `bucket`",
        ),
        (
            "  bucket: my bucket\n",
            "state.bucket",
            "is not a bucket name Object Storage accepts",
        ),
        (
            "  bucket: b\n  namespace: MyNS\n",
            "state.namespace",
            "is not an Object Storage namespace",
        ),
        (
            "  bucket: b\n  prefix: /abs/\n",
            "state.prefix",
            "cannot start an object name",
        ),
        (
            "  bucket: b\n  buckett: c\n",
            "state.buckett",
            "unknown key",
        ),
    ] {
        let errs = errors(&format!("{}state:\n{state}", base()));
        assert!(
            errs.iter()
                .any(|(l, _, f, m)| f == field && m.contains(message) && *l >= line - 1),
            "{state:?}: {errs:?}"
        );
    }
}

#[test]
fn both_nodes_in_one_fault_domain_is_a_warning_not_an_error() {
    let src = edit(
        &base(),
        &[
            (
                10,
                "    private_ip: 172.16.2.11\n    fault_domain: FAULT-DOMAIN-2",
            ),
            (
                12,
                "    private_ip: 172.16.2.12\n    fault_domain: FAULT-DOMAIN-2",
            ),
        ],
    );
    let bp = parse_at(&src).unwrap();
    let w: Vec<_> = bp
        .warnings
        .iter()
        .map(|d| (d.line, d.column, d.field.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        w,
        [(
            14,
            19,
            "nodes[1].fault_domain",
            "both nodes are in FAULT-DOMAIN-2: one hardware failure there takes the VIP down with both"
        )]
    );
    assert!(parse_at(&base()).unwrap().warnings.is_empty());
}

#[test]
fn issue_12_keys_parse_into_the_blueprint() {
    let src = edit(
        &base(),
        &[
            (7, "  vip:\n    - 172.16.2.10/24\n    - 172.16.2.20\n  vip6: 2603:c020:1:2::10/64\n  public_ip: ocid1.publicip.oc1.ap-tokyo-1.aaaaaaaa\n  interface: eth0"),
            (24, "  preferred_node: web1\n  notify_topic: ocid1.onstopic.oc1.ap-tokyo-1.aaaaaaaa"),
        ],
    );
    let bp = parse_at(&src).unwrap_or_else(|d| panic!("{d}"));
    let ips = |v: &[&str]| {
        v.iter()
            .map(|s| s.parse::<Ipv4Addr>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(bp.network.vips, ips(&["172.16.2.10", "172.16.2.20"]));
    assert_eq!(bp.network.vip, bp.network.vips[0]);
    assert_eq!(bp.network.vip_prefix, Some(24));
    assert_eq!(
        bp.network.vip6,
        vec!["2603:c020:1:2::10".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    assert_eq!(bp.network.interface.as_deref(), Some("eth0"));
    assert!(
        matches!(&bp.network.public_ip, Some(PublicIpSpec::Existing(o)) if o.as_str().starts_with("ocid1.publicip."))
    );
    assert_eq!(
        bp.failover.notify_topic.as_ref().map(|t| t.as_str()),
        Some("ocid1.onstopic.oc1.ap-tokyo-1.aaaaaaaa")
    );
    let reserved = edit(
        &base(),
        &[(7, "  vip: 172.16.2.10/24\n  public_ip: reserved")],
    );
    assert_eq!(
        parse_at(&reserved).unwrap().network.public_ip,
        Some(PublicIpSpec::Reserved)
    );
}
