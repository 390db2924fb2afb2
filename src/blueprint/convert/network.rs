//! The `network` section: subnet, the IPv4 and IPv6 VIPs, the interface and public IPs, with
//! OCI's address rules.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::checks::one_or_list;
use super::Cx;
use crate::blueprint::yaml::{Node, Pos};
use crate::blueprint::{Network, PublicIpSpec, IPV6_SUBNET_PREFIX, MAX_VIPS};

const NETWORK_KEYS: &[&str] = &[
    "subnet",
    "vip",
    "vip6",
    "interface",
    "assign_public_ip",
    "public_ip",
];

impl Cx {
    /// Returns the network and the position of the VIP (for node cross-checks).
    pub(super) fn network(&mut self, node: &Node, path: &str) -> Option<(Network, Pos)> {
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
    pub(super) fn vips(&mut self, node: &Node, field: &str) -> Option<(Vec<Ipv4Addr>, Option<u8>)> {
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
    pub(super) fn vips6(&mut self, node: &Node, field: &str) -> Option<Vec<Ipv6Addr>> {
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
    pub(super) fn public_ip(&mut self, node: &Node, field: &str) -> Option<PublicIpSpec> {
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

    pub(super) fn vip(&mut self, node: &Node, field: &str) -> Option<(Ipv4Addr, Option<u8>)> {
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

    pub(super) fn interface(&mut self, node: &Node, field: &str) -> Option<String> {
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
}

/// Addresses that are not a unicast host address at all (RFC 1122, 5771, 3927, 1112).
pub(super) fn not_a_host(ip: Ipv4Addr) -> Option<&'static str> {
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

pub(super) fn network_of(ip: Ipv4Addr, prefix: u8) -> ipnet::Ipv4Net {
    ipnet::Ipv4Net::new(ip, prefix)
        .expect("prefix checked to be 16..=30")
        .trunc()
}

/// OCI reserves the first two addresses (network, gateway) and the last one of every subnet.
pub(super) fn reserved(ip: Ipv4Addr, prefix: u8) -> Option<&'static str> {
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
