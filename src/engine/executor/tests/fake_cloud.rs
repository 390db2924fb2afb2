//! The in-memory cloud the executor tests run against: lifecycles counted in polls, a trace of
//! every call, and failures a test can switch on by operation name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Mutex;

use super::super::*;
use crate::engine::cloud::{CloudFuture, InstanceUpdate, Tags};
use crate::engine::model::*;

#[derive(Default)]
pub(super) struct World {
    pub(super) seq: u64,
    pub(super) nsgs: BTreeMap<String, LiveNsg>,
    pub(super) instances: BTreeMap<String, (LiveInstance, u32)>,
    pub(super) dgs: BTreeMap<String, LiveDynamicGroup>,
    pub(super) policies: BTreeMap<String, LivePolicy>,
    pub(super) ips: BTreeMap<String, LivePrivateIp>,
    pub(super) ipv6s: BTreeMap<String, LiveAddress>,
    pub(super) public_ips: BTreeMap<String, LivePublicIp>,
    pub(super) tokens: HashMap<String, String>,
    /// Every call, mutating ones prefixed with `!`; plus `RUNNING <name>` events.
    pub(super) trace: Vec<String>,
    pub(super) fail: BTreeSet<&'static str>,
}

#[derive(Default)]
pub(crate) struct FakeCloud {
    pub(super) w: Mutex<World>,
}

impl FakeCloud {
    pub(super) fn mutations(&self) -> Vec<String> {
        self.w
            .lock()
            .unwrap()
            .trace
            .iter()
            .filter(|t| t.starts_with('!'))
            .cloned()
            .collect()
    }
    pub(super) fn trace(&self) -> Vec<String> {
        self.w.lock().unwrap().trace.clone()
    }
    pub(super) fn clear_trace(&self) {
        self.w.lock().unwrap().trace.clear();
    }
    pub(super) fn call<T: Send + 'static>(
        &self,
        name: &'static str,
        f: impl FnOnce(&mut World) -> Result<T, CloudError>,
    ) -> CloudFuture<'_, T> {
        let mut w = self.w.lock().unwrap();
        w.trace.push(name.to_string());
        let r = if w.fail.contains(name) {
            Err(CloudError::other(name, "injected failure"))
        } else {
            f(&mut w)
        };
        Box::pin(async move {
            tokio::task::yield_now().await;
            r
        })
    }
}

pub(super) fn new_id(w: &mut World, kind: &str) -> String {
    w.seq += 1;
    format!("ocid1.{kind}.oc1..{}", w.seq)
}

pub(super) fn create(
    w: &mut World,
    token: &str,
    kind: &str,
    make: impl FnOnce(&mut World, String),
) -> String {
    if let Some(id) = w.tokens.get(token) {
        return id.clone();
    }
    let id = new_id(w, kind);
    w.tokens.insert(token.to_string(), id.clone());
    make(w, id.clone());
    id
}

pub(super) fn tagged(tags: &Tags, pair: &str, role: &str) -> bool {
    tags.get(TAG_PAIR).map(String::as_str) == Some(pair)
        && tags.get(TAG_ROLE).map(String::as_str) == Some(role)
}

impl Cloud for FakeCloud {
    fn get_subnet<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveSubnet>> {
        self.call("GetSubnet", |_| {
            Ok(Some(LiveSubnet {
                id: id.to_string(),
                compartment_id: "ocid1.compartment.oc1..c".into(),
                dns_label: Some("sub".into()),
                cidr_block: "172.16.2.0/24".into(),
                vcn_id: "ocid1.vcn.oc1..v".into(),
                availability_domain: None,
                lifecycle_state: "AVAILABLE".into(),
                prohibit_public_ip: false,
                ipv6_prefixes: vec!["2603:c020:1:2::/64".into()],
            }))
        })
    }
    fn availability_domains<'a>(&'a self, _: &'a str) -> CloudFuture<'a, Vec<String>> {
        self.call("ListAvailabilityDomains", |_| {
            Ok(vec!["Uocm:AP-TOKYO-1-AD-1".into()])
        })
    }
    fn newest_image<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> CloudFuture<'a, Option<String>> {
        self.call("ListImages", |_| Ok(Some("ocid1.image.oc1..img".into())))
    }
    fn hostname_holder<'a>(&'a self, _: &'a str, _: &'a str) -> CloudFuture<'a, Option<String>> {
        // The fake subnet's hostnames are the pair's own, released when a node is gone.
        self.call("ListPrivateIps", |_| Ok(None))
    }
    fn subnet_ips<'a>(&'a self, _: &'a str) -> CloudFuture<'a, Vec<Ipv4Addr>> {
        self.call("ListPrivateIps", |w| {
            let mut v: Vec<Ipv4Addr> = w.ips.values().map(|p| p.ip_address).collect();
            v.extend(
                w.instances
                    .values()
                    .filter(|(i, _)| !i.is_gone())
                    .filter_map(|(i, _)| i.vnic.as_ref()?.private_ip),
            );
            Ok(v)
        })
    }
    fn fault_domains<'a>(&'a self, _: &'a str, _: &'a str) -> CloudFuture<'a, Vec<String>> {
        self.call("ListFaultDomains", |_| {
            Ok((1..=3).map(|i| format!("FAULT-DOMAIN-{i}")).collect())
        })
    }
    fn shapes<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        image_id: Option<&'a str>,
    ) -> CloudFuture<'a, Vec<String>> {
        self.call("ListShapes", move |_| {
            // The fake's one image runs on the E4 and E5 flex shapes; E3 is offered but not for it.
            let mut v = vec![
                "VM.Standard.E4.Flex".to_string(),
                "VM.Standard.E5.Flex".into(),
            ];
            if image_id.is_none() {
                v.push("VM.Standard.E3.Flex".into());
            }
            Ok(v)
        })
    }
    fn egress<'a>(&'a self, s: &'a str) -> CloudFuture<'a, crate::engine::egress::Egress> {
        use crate::engine::egress::{Egress, Route, RouteTarget};
        self.call("GetRouteTable", move |_| {
            Ok(Egress {
                subnet_id: s.to_string(),
                route_table_id: "ocid1.routetable.oc1..r".into(),
                routes: vec![Route {
                    destination: "0.0.0.0/0".into(),
                    destination_type: "CIDR_BLOCK".into(),
                    target: RouteTarget::NatGateway { blocked: false },
                }],
            })
        })
    }
    fn get_image<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<String>> {
        self.call("GetImage", move |_| {
            Ok((id == "ocid1.image.oc1..img").then(|| "AVAILABLE".to_string()))
        })
    }
    fn get_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveNsg>> {
        self.call("GetNsg", |w| Ok(w.nsgs.get(id).cloned()))
    }
    fn find_nsg<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        pair: &'a str,
    ) -> CloudFuture<'a, Option<LiveNsg>> {
        self.call("ListNsgs", |w| {
            Ok(w.nsgs
                .values()
                .find(|n| tagged(&n.tags, pair, "nsg") && n.lifecycle_state != "TERMINATED")
                .cloned())
        })
    }
    fn create_nsg<'a>(&'a self, spec: &'a NsgSpec, token: &'a str) -> CloudFuture<'a, String> {
        self.call("!CreateNsg", |w| {
            Ok(create(w, token, "networksecuritygroup", |w, id| {
                w.nsgs.insert(
                    id.clone(),
                    LiveNsg {
                        id,
                        lifecycle_state: "AVAILABLE".into(),
                        rules: vec![],
                        tags: spec.tags.clone(),
                    },
                );
            }))
        })
    }
    fn add_nsg_rules<'a>(&'a self, id: &'a str, rules: &'a [NsgRule]) -> CloudFuture<'a, ()> {
        self.call("!AddNsgRules", |w| {
            w.nsgs
                .get_mut(id)
                .unwrap()
                .rules
                .extend(rules.iter().cloned());
            Ok(())
        })
    }
    fn remove_nsg_rules<'a>(&'a self, id: &'a str, ids: &'a [String]) -> CloudFuture<'a, ()> {
        self.call("!RemoveNsgRules", |w| {
            w.nsgs
                .get_mut(id)
                .unwrap()
                .rules
                .retain(|r| !r.id.as_ref().is_some_and(|i| ids.contains(i)));
            Ok(())
        })
    }
    fn delete_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.call("!DeleteNsg", |w| {
            if let Some(n) = w.nsgs.get_mut(id) {
                n.lifecycle_state = "TERMINATED".into();
            }
            Ok(())
        })
    }
    fn update_nsg_tags<'a>(&'a self, id: &'a str, tags: &'a Tags) -> CloudFuture<'a, ()> {
        self.call("!UpdateNsg", |w| {
            w.nsgs.get_mut(id).unwrap().tags = tags.clone();
            Ok(())
        })
    }
    fn get_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveInstance>> {
        self.call("GetInstance", |w| {
            let Some((inst, polls)) = w.instances.get_mut(id) else {
                return Ok(None);
            };
            // Two polls per transition: PROVISIONING -> RUNNING, TERMINATING -> TERMINATED.
            *polls += 1;
            let mut event = None;
            if *polls >= 2 {
                match inst.lifecycle_state.as_str() {
                    "PROVISIONING" => {
                        inst.lifecycle_state = "RUNNING".into();
                        event = Some(format!("RUNNING {}", inst.display_name));
                    }
                    "TERMINATING" => inst.lifecycle_state = "TERMINATED".into(),
                    "STOPPING" => inst.lifecycle_state = "STOPPED".into(),
                    _ => {}
                }
            }
            let mut out = inst.clone();
            out.vnic = None;
            if let Some(e) = event {
                w.trace.push(e);
            }
            Ok(Some(out))
        })
    }
    fn find_instance<'a>(
        &'a self,
        _: &'a str,
        pair: &'a str,
        role: &'a str,
    ) -> CloudFuture<'a, Option<LiveInstance>> {
        self.call("ListInstances", |w| {
            Ok(w.instances
                .values()
                .map(|(i, _)| i)
                .find(|i| tagged(&i.tags, pair, role) && !i.is_gone())
                .map(|i| LiveInstance {
                    vnic: None,
                    ..i.clone()
                }))
        })
    }
    fn primary_vnic<'a>(&'a self, _: &'a str, id: &'a str) -> CloudFuture<'a, Option<LiveVnic>> {
        self.call("ListVnicAttachments", |w| {
            Ok(w.instances.get(id).and_then(|(i, _)| i.vnic.clone()))
        })
    }
    fn launch_instance<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        self.call("!LaunchInstance", |w| {
            let n = &spec.node;
            if w.instances.values().any(|(i, _)| {
                !i.is_gone() && i.vnic.as_ref().unwrap().private_ip == Some(n.private_ip)
            }) && !w.tokens.contains_key(token)
            {
                {
                    return Err(CloudError::other("LaunchInstance", "private ip in use"));
                }
            }
            Ok(create(w, token, "instance", |w, id| {
                let vnic = LiveVnic {
                    id: format!("{id}-vnic"),
                    private_ip: Some(n.private_ip),
                    nsg_ids: spec.nsg_ids.clone(),
                    public_ip: n.assign_public_ip.then(|| "203.0.113.1".to_string()),
                    tags: Tags::new(),
                };
                let inst = LiveInstance {
                    id: id.clone(),
                    display_name: n.name.clone(),
                    lifecycle_state: "PROVISIONING".into(),
                    availability_domain: n.availability_domain.clone(),
                    fault_domain: Some(n.fault_domain.clone()),
                    shape: n.shape.clone(),
                    ocpus: n.ocpus,
                    memory_in_gbs: n.memory_in_gbs,
                    image_id: Some(n.image_id.clone()),
                    user_data: Some(n.user_data.clone()),
                    ssh_authorized_keys: Some(n.ssh_authorized_keys.clone()),
                    metadata: [
                        ("user_data".to_string(), n.user_data.clone()),
                        (
                            "ssh_authorized_keys".to_string(),
                            n.ssh_authorized_keys.clone(),
                        ),
                    ]
                    .into(),
                    tags: spec.tags.clone(),
                    vnic: Some(vnic),
                };
                w.instances.insert(id, (inst, 0));
            }))
        })
    }
    fn terminate_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.call("!TerminateInstance", |w| {
            let vnic = match w.instances.get_mut(id) {
                Some((i, polls)) if !i.is_gone() => {
                    i.lifecycle_state = "TERMINATING".into();
                    *polls = 0;
                    i.vnic.as_ref().map(|v| v.id.clone())
                }
                _ => None,
            };
            // Secondary IPs go with the VNIC.
            w.ips.retain(|_, ip| ip.vnic_id != vnic);
            Ok(())
        })
    }
    fn update_instance<'a>(&'a self, id: &'a str, u: &'a InstanceUpdate) -> CloudFuture<'a, ()> {
        self.call("!UpdateInstance", |w| {
            let (i, _) = w.instances.get_mut(id).unwrap();
            if let Some(t) = &u.tags {
                i.tags = t.clone();
            }
            i.ocpus = u.ocpus.or(i.ocpus);
            i.memory_in_gbs = u.memory_in_gbs.or(i.memory_in_gbs);
            if let Some(s) = &u.shape {
                i.shape = s.clone();
            }
            if let Some(f) = &u.fault_domain {
                i.fault_domain = Some(f.clone());
            }
            if let Some(m) = &u.metadata {
                // As OCI: user_data and ssh_authorized_keys go back unchanged.
                assert_eq!(m.get("user_data"), i.user_data.as_ref());
                i.metadata = m.clone();
            }
            Ok(())
        })
    }
    fn instance_action<'a>(&'a self, id: &'a str, action: &'a str) -> CloudFuture<'a, ()> {
        self.call("!InstanceAction", |w| {
            let (i, polls) = w.instances.get_mut(id).unwrap();
            assert_eq!(action, "SOFTSTOP");
            i.lifecycle_state = "STOPPING".into();
            *polls = 0;
            let e = format!("SOFTSTOP {}", i.display_name);
            w.trace.push(e);
            Ok(())
        })
    }
    fn update_vnic_nsgs<'a>(&'a self, vnic: &'a str, ids: &'a [String]) -> CloudFuture<'a, ()> {
        self.call("!UpdateVnic", |w| {
            for (i, _) in w.instances.values_mut() {
                if let Some(v) = i.vnic.as_mut().filter(|v| v.id == vnic) {
                    v.nsg_ids = ids.to_vec();
                }
            }
            Ok(())
        })
    }
    fn assign_public_ip<'a>(&'a self, vnic: &'a str) -> CloudFuture<'a, ()> {
        self.call("!CreatePublicIp", |w| {
            for (i, _) in w.instances.values_mut() {
                if let Some(v) = i.vnic.as_mut().filter(|v| v.id == vnic) {
                    v.public_ip = Some("203.0.113.1".into());
                }
            }
            Ok(())
        })
    }
    fn unassign_public_ip<'a>(&'a self, address: &'a str) -> CloudFuture<'a, ()> {
        self.call("!DeletePublicIp", |w| {
            for (i, _) in w.instances.values_mut() {
                if let Some(v) = i
                    .vnic
                    .as_mut()
                    .filter(|v| v.public_ip.as_deref() == Some(address))
                {
                    v.public_ip = None;
                }
            }
            Ok(())
        })
    }
    fn get_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveDynamicGroup>> {
        self.call("GetDynamicGroup", |w| Ok(w.dgs.get(id).cloned()))
    }
    fn find_dynamic_group<'a>(
        &'a self,
        _: &'a str,
        name: &'a str,
    ) -> CloudFuture<'a, Option<LiveDynamicGroup>> {
        self.call("ListDynamicGroups", |w| {
            Ok(w.dgs.values().find(|g| g.name == name).cloned())
        })
    }
    fn create_dynamic_group<'a>(
        &'a self,
        s: &'a DynamicGroupSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        self.call("!CreateDynamicGroup", |w| {
            Ok(create(w, token, "dynamicgroup", |w, id| {
                w.dgs.insert(
                    id.clone(),
                    LiveDynamicGroup {
                        id,
                        name: s.name.clone(),
                        description: s.description.clone(),
                        matching_rule: s.matching_rule.clone(),
                        lifecycle_state: "ACTIVE".into(),
                        tags: s.tags.clone(),
                    },
                );
            }))
        })
    }
    fn update_dynamic_group<'a>(
        &'a self,
        id: &'a str,
        s: &'a DynamicGroupSpec,
    ) -> CloudFuture<'a, ()> {
        self.call("!UpdateDynamicGroup", |w| {
            let g = w.dgs.get_mut(id).unwrap();
            g.matching_rule = s.matching_rule.clone();
            g.description = s.description.clone();
            g.tags = s.tags.clone();
            Ok(())
        })
    }
    fn delete_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.call("!DeleteDynamicGroup", |w| {
            w.dgs.remove(id);
            Ok(())
        })
    }
    fn get_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePolicy>> {
        self.call("GetPolicy", |w| Ok(w.policies.get(id).cloned()))
    }
    fn find_policy<'a>(&'a self, _: &'a str, name: &'a str) -> CloudFuture<'a, Option<LivePolicy>> {
        self.call("ListPolicies", |w| {
            Ok(w.policies.values().find(|p| p.name == name).cloned())
        })
    }
    fn create_policy<'a>(&'a self, s: &'a PolicySpec, token: &'a str) -> CloudFuture<'a, String> {
        self.call("!CreatePolicy", |w| {
            Ok(create(w, token, "policy", |w, id| {
                w.policies.insert(
                    id.clone(),
                    LivePolicy {
                        id,
                        compartment_id: s.compartment_id.clone(),
                        name: s.name.clone(),
                        description: s.description.clone(),
                        statements: s.statements.clone(),
                        lifecycle_state: "ACTIVE".into(),
                        tags: s.tags.clone(),
                    },
                );
            }))
        })
    }
    fn update_policy<'a>(&'a self, id: &'a str, s: &'a PolicySpec) -> CloudFuture<'a, ()> {
        self.call("!UpdatePolicy", |w| {
            let p = w.policies.get_mut(id).unwrap();
            p.statements = s.statements.clone();
            p.description = s.description.clone();
            p.tags = s.tags.clone();
            Ok(())
        })
    }
    fn delete_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.call("!DeletePolicy", |w| {
            w.policies.remove(id);
            Ok(())
        })
    }
    fn get_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePrivateIp>> {
        self.call("GetPrivateIp", |w| Ok(w.ips.get(id).cloned()))
    }
    fn find_private_ip<'a>(
        &'a self,
        _: &'a str,
        ip: Ipv4Addr,
    ) -> CloudFuture<'a, Option<LivePrivateIp>> {
        self.call("ListPrivateIps", |w| {
            Ok(w.ips.values().find(|p| p.ip_address == ip).cloned())
        })
    }
    fn create_private_ip<'a>(
        &'a self,
        s: &'a PrivateIpSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        self.call("!CreatePrivateIp", |w| {
            Ok(create(w, token, "privateip", |w, id| {
                w.ips.insert(
                    id.clone(),
                    LivePrivateIp {
                        id,
                        ip_address: s.ip_address,
                        vnic_id: Some(s.vnic_id.clone()),
                        is_primary: false,
                        tags: s.tags.clone(),
                    },
                );
            }))
        })
    }
    fn move_private_ip<'a>(&'a self, id: &'a str, vnic: &'a str) -> CloudFuture<'a, ()> {
        self.call("!UpdatePrivateIp", |w| {
            w.ips.get_mut(id).unwrap().vnic_id = Some(vnic.to_string());
            Ok(())
        })
    }
    fn update_private_ip_tags<'a>(&'a self, id: &'a str, tags: &'a Tags) -> CloudFuture<'a, ()> {
        self.call("!UpdatePrivateIp", |w| {
            w.ips.get_mut(id).unwrap().tags = tags.clone();
            Ok(())
        })
    }
    fn delete_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.call("!DeletePrivateIp", |w| {
            w.ips.remove(id);
            Ok(())
        })
    }
    fn find_ipv6<'a>(
        &'a self,
        _: &'a str,
        ip: std::net::Ipv6Addr,
    ) -> CloudFuture<'a, Option<LiveAddress>> {
        let found = self.ipv6_by_address(ip);
        self.call("ListIpv6s", move |_| Ok(found))
    }
    fn create_ipv6<'a>(
        &'a self,
        s: &'a crate::engine::cloud::Ipv6Spec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        self.call("!CreateIpv6", |w| {
            Ok(create(w, token, "ipv6", |w, id| {
                w.ipv6s.insert(
                    id.clone(),
                    LiveAddress {
                        id,
                        address: s.ip_address.into(),
                        vnic_id: Some(s.vnic_id.clone()),
                        is_primary: false,
                        tags: s.tags.clone(),
                    },
                );
            }))
        })
    }
    fn update_ipv6<'a>(
        &'a self,
        id: &'a str,
        vnic: Option<&'a str>,
        tags: Option<&'a Tags>,
    ) -> CloudFuture<'a, ()> {
        self.call("!UpdateIpv6", |w| {
            let a = w.ipv6s.get_mut(id).unwrap();
            if let Some(v) = vnic {
                a.vnic_id = Some(v.to_string());
            }
            if let Some(t) = tags {
                a.tags = t.clone();
            }
            Ok(())
        })
    }
    fn delete_ipv6<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.call("!DeleteIpv6", |w| {
            w.ipv6s.remove(id);
            Ok(())
        })
    }
    fn get_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePublicIp>> {
        self.call("GetPublicIp", |w| Ok(w.public_ips.get(id).cloned()))
    }
    fn public_ip_of<'a>(&'a self, pip: &'a str) -> CloudFuture<'a, Option<LivePublicIp>> {
        self.call("GetPublicIpByPrivateIpId", |w| {
            Ok(w.public_ips
                .values()
                .find(|p| p.private_ip_id.as_deref() == Some(pip))
                .cloned())
        })
    }
    fn create_reserved_public_ip<'a>(
        &'a self,
        s: &'a crate::engine::cloud::ReservedIpSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        self.call("!CreatePublicIp", |w| {
            Ok(create(w, token, "publicip", |w, id| {
                let n = w.public_ips.len();
                w.public_ips.insert(
                    id.clone(),
                    LivePublicIp {
                        id,
                        ip_address: Some(format!("198.51.100.{}", n + 1)),
                        lifetime: "RESERVED".into(),
                        private_ip_id: Some(s.private_ip_id.clone()),
                        lifecycle_state: "ASSIGNED".into(),
                        tags: s.tags.clone(),
                    },
                );
            }))
        })
    }
    fn set_public_ip_target<'a>(&'a self, id: &'a str, pip: &'a str) -> CloudFuture<'a, ()> {
        self.call("!UpdatePublicIp", |w| {
            let p = w.public_ips.get_mut(id).unwrap();
            p.private_ip_id = (!pip.is_empty()).then(|| pip.to_string());
            Ok(())
        })
    }
    fn delete_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.call("!DeletePublicIp", |w| {
            w.public_ips.remove(id);
            Ok(())
        })
    }
    fn topic_compartment<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<String>> {
        self.call("GetTopic", |_| {
            Ok(id
                .starts_with("ocid1.onstopic.")
                .then(|| "ocid1.compartment.oc1..topics".to_string()))
        })
    }
}

// The rest of the trait: IPv6 VIPs and the alerts' topic.
impl FakeCloud {
    pub(super) fn ipv6_by_address(&self, ip: std::net::Ipv6Addr) -> Option<LiveAddress> {
        let w = self.w.lock().unwrap();
        w.ipv6s
            .values()
            .find(|a| a.address == std::net::IpAddr::V6(ip))
            .cloned()
    }
}
