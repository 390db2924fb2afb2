//! The `nodes` section: the two nodes' names, fixed addresses and fault domains.

use super::checks::{child, is_label, Fields};
use super::network::{network_of, reserved};
use super::Cx;
use crate::blueprint::yaml::{Node, Pos, Value};
use crate::blueprint::{Diagnostic, Network, NodeSpec};

const NODE_KEYS: &[&str] = &["name", "private_ip", "fault_domain"];

impl Cx {
    /// Both nodes in one fault domain share hardware: allowed (a warning), but one failure can
    /// take both down.
    pub(super) fn fault_domains(&mut self, f: &Fields<'_>, nodes: &[NodeSpec; 2]) {
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

    pub(super) fn nodes(
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
        // Both nodes in one network and the VIP outside it: the VIP is the odd one out (issue
        // 20: blaming both nodes sent users to change the two addresses that were right).
        let vip_odd_one_out = network.and_then(|(net, vip_pos)| {
            let prefix = net.vip_prefix?;
            let [a, b] = [0, 1].map(|i| specs.get(i).and_then(|(_, s)| s.private_ip));
            let (a, b) = (a?, b?);
            let nodes_net = network_of(a, prefix);
            (network_of(b, prefix) == nodes_net && network_of(net.vip, prefix) != nodes_net)
                .then_some((net.vip, *vip_pos, nodes_net))
        });
        if let Some((vip, pos, nodes_net)) = vip_odd_one_out {
            self.err(
                pos,
                "network.vip",
                format!("the VIP {vip} is outside the nodes' subnet {nodes_net} (both nodes' private_ip are in it)"),
                format!("the VIP must be a free address in the nodes' subnet: pick one in {nodes_net}, or move both nodes"),
            );
            ok = false;
        } else if let Some((net, _)) = network {
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
    pub(super) fn node(&mut self, node: &Node, path: &str) -> Option<(NodeSpec, (Pos, Pos))> {
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

    pub(super) fn node_name(&mut self, node: &Node, field: &str) -> Option<String> {
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

    pub(super) fn fault_domain(&mut self, node: &Node, field: &str) -> Option<String> {
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
}
