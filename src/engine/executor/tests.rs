//! Executor tests against an in-memory cloud with lifecycles counted in polls, on tokio's paused
//! clock (no real waiting).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Mutex;

use super::*;
use crate::engine::cloud::{CloudFuture, InstanceUpdate, Tags};
use crate::engine::model::*;
use crate::engine::observe::observe;
use crate::engine::plan::{destroy_plan, diff, tests::desired};
use crate::engine::progress::Silent;

#[derive(Default)]
struct World {
    seq: u64,
    nsgs: BTreeMap<String, LiveNsg>,
    instances: BTreeMap<String, (LiveInstance, u32)>,
    dgs: BTreeMap<String, LiveDynamicGroup>,
    policies: BTreeMap<String, LivePolicy>,
    ips: BTreeMap<String, LivePrivateIp>,
    ipv6s: BTreeMap<String, LiveAddress>,
    public_ips: BTreeMap<String, LivePublicIp>,
    tokens: HashMap<String, String>,
    /// Every call, mutating ones prefixed with `!`; plus `RUNNING <name>` events.
    trace: Vec<String>,
    fail: BTreeSet<&'static str>,
}

#[derive(Default)]
pub(crate) struct FakeCloud {
    w: Mutex<World>,
}

impl FakeCloud {
    fn mutations(&self) -> Vec<String> {
        self.w
            .lock()
            .unwrap()
            .trace
            .iter()
            .filter(|t| t.starts_with('!'))
            .cloned()
            .collect()
    }
    fn trace(&self) -> Vec<String> {
        self.w.lock().unwrap().trace.clone()
    }
    fn clear_trace(&self) {
        self.w.lock().unwrap().trace.clear();
    }
    fn call<T: Send + 'static>(
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

fn new_id(w: &mut World, kind: &str) -> String {
    w.seq += 1;
    format!("ocid1.{kind}.oc1..{}", w.seq)
}

fn create(w: &mut World, token: &str, kind: &str, make: impl FnOnce(&mut World, String)) -> String {
    if let Some(id) = w.tokens.get(token) {
        return id.clone();
    }
    let id = new_id(w, kind);
    w.tokens.insert(token.to_string(), id.clone());
    make(w, id.clone());
    id
}

fn tagged(tags: &Tags, pair: &str, role: &str) -> bool {
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
    fn ipv6_by_address(&self, ip: std::net::Ipv6Addr) -> Option<LiveAddress> {
        let w = self.w.lock().unwrap();
        w.ipv6s
            .values()
            .find(|a| a.address == std::net::IpAddr::V6(ip))
            .cloned()
    }
}

fn opts() -> ExecOptions {
    ExecOptions {
        poll_interval: Duration::from_secs(1),
        wait_timeout: Duration::from_secs(60),
    }
}

struct Run {
    state: State,
    plan: Plan,
    result: Result<(), ExecError>,
}

async fn apply(
    cloud: &FakeCloud,
    d: &Desired,
    state: State,
    path: &std::path::Path,
    replace: &[usize],
) -> Run {
    let mut state = state;
    let observed = observe(cloud, &d.scope(), &mut state).await.unwrap();
    let plan = diff(d, &observed, &state.recorded(), replace).unwrap();
    let sink = crate::engine::backend::LocalBackend::new(path.to_path_buf());
    let ex = Executor::new(cloud, Some(d), &plan, state, &sink, &Silent, opts());
    let (state, result) = ex.run().await;
    Run {
        state,
        plan,
        result,
    }
}

async fn destroy(cloud: &FakeCloud, d: &Desired, state: State, path: &std::path::Path) -> Run {
    let mut state = state;
    let observed = observe(cloud, &d.scope(), &mut state).await.unwrap();
    let plan = destroy_plan(&observed);
    let sink = crate::engine::backend::LocalBackend::new(path.to_path_buf());
    let ex = Executor::new(cloud, None, &plan, state, &sink, &Silent, opts());
    let (state, result) = ex.run().await;
    Run {
        state,
        plan,
        result,
    }
}

fn pos(trace: &[String], what: &str) -> usize {
    trace
        .iter()
        .position(|t| t == what)
        .unwrap_or_else(|| panic!("{what} not in {trace:#?}"))
}

#[tokio::test(start_paused = true)]
async fn apply_builds_the_pair_concurrently_then_converges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let t = cloud.trace();
    // Both launches go out before either instance is RUNNING; IAM and the VIP don't wait for boot.
    let running1 = pos(&t, "RUNNING instance1");
    assert!(pos(&t, "!CreateNsg") < pos(&t, "!LaunchInstance"));
    let launches: Vec<_> = t
        .iter()
        .enumerate()
        .filter(|(_, c)| *c == "!LaunchInstance")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(launches.len(), 2);
    assert!(launches[1] < running1, "{t:#?}");
    assert!(pos(&t, "!CreateDynamicGroup") < running1, "{t:#?}");
    assert!(pos(&t, "!CreatePrivateIp") < running1, "{t:#?}");
    assert!(pos(&t, "!CreatePolicy") > pos(&t, "!CreateDynamicGroup"));

    // The cloud holds what the blueprint asked for.
    {
        let w = cloud.w.lock().unwrap();
        let ids: Vec<&str> = [Resource::Node1, Resource::Node2]
            .iter()
            .map(|r| run.state.id(*r).unwrap())
            .collect();
        let g = w.dgs.values().next().unwrap();
        assert_eq!(g.matching_rule, iam::matching_rule(&ids));
        assert_eq!(
            w.policies.values().next().unwrap().statements,
            d.policy.statements
        );
        let vip = w.ips.values().next().unwrap();
        assert_eq!(vip.vnic_id, run.state.get(Resource::Node1).unwrap().vnic_id);
        assert_eq!(
            w.nsgs.values().next().unwrap().rules,
            vrrp_rules(run.state.id(Resource::Nsg).unwrap())
        );
        for (inst, _) in w.instances.values() {
            assert_eq!(inst.tags[TAG_PAIR], "quickstart");
            assert_eq!(inst.tags["team"], "net");
        }
    }

    // The state on disk is the state returned.
    assert_eq!(State::load(&path, &d.pair).unwrap().unwrap(), run.state);

    // Re-apply: no change, no mutating call.
    cloud.clear_trace();
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());
}

#[tokio::test(start_paused = true)]
async fn destroy_removes_everything_in_reverse_and_reruns_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let built = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    built.result.unwrap();
    cloud.clear_trace();
    let run = destroy(&cloud, &d, built.state, &path).await;
    run.result.unwrap();
    let t = cloud.mutations();
    assert!(pos(&t, "!DeletePrivateIp") < pos(&t, "!TerminateInstance"));
    assert!(pos(&t, "!DeletePolicy") < pos(&t, "!DeleteDynamicGroup"));
    // The NSG goes once no VNIC is in it (both instances TERMINATED), alongside the IAM objects.
    let last_terminate = t.iter().rposition(|c| c == "!TerminateInstance").unwrap();
    assert!(pos(&t, "!DeleteNsg") > last_terminate);
    assert!(run.state.recorded().is_empty());
    {
        let w = cloud.w.lock().unwrap();
        assert!(w
            .instances
            .values()
            .all(|(i, _)| i.lifecycle_state == "TERMINATED"));
        assert!(w.dgs.is_empty() && w.policies.is_empty() && w.ips.is_empty());
    }
    cloud.clear_trace();
    let again = destroy(&cloud, &d, run.state, &path).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes());
    assert!(cloud.mutations().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_lost_state_file_is_rebuilt_from_tags_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    cloud.clear_trace();
    let rebuilt = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    rebuilt.result.unwrap();
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());
    for r in Resource::ALL {
        assert_eq!(rebuilt.state.id(r), first.state.id(r), "{r}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_stops_only_its_dependents_and_a_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    cloud.w.lock().unwrap().fail.insert("!CreateDynamicGroup");
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    let err = run.result.unwrap_err();
    let failed: Vec<_> = err.failures.iter().map(|(r, _)| *r).collect();
    assert_eq!(failed, vec![Resource::DynamicGroup, Resource::Policy]);
    assert!(
        err.to_string()
            .contains("policy: not started: dynamic-group failed"),
        "{err}"
    );
    // Independent work went on: both nodes and the VIP exist and are recorded.
    for r in [
        Resource::Nsg,
        Resource::Node1,
        Resource::Node2,
        Resource::Vip,
    ] {
        assert!(run.state.id(r).is_some(), "{r}");
    }
    cloud.w.lock().unwrap().fail.clear();
    cloud.clear_trace();
    let again = apply(
        &cloud,
        &d,
        State::load(&path, &d.pair).unwrap().unwrap(),
        &path,
        &[],
    )
    .await;
    again.result.unwrap();
    assert_eq!(
        cloud.mutations(),
        vec!["!CreateDynamicGroup", "!CreatePolicy"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_launch_whose_result_was_lost_is_replayed_not_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    // Simulate a kill right after node1's launch: the cloud has it, state does not, and the
    // instance lost its tags so tag lookup can't find it either (worst case).
    let mut state = State::new(&d.pair);
    state.save(&path).unwrap();
    let spec_token = crate::engine::token::token_for(&state, Resource::Node1);
    let first = apply(&cloud, &d, state.clone(), &path, &[]).await;
    first.result.unwrap();
    let id1 = first.state.id(Resource::Node1).unwrap().to_string();
    assert_eq!(cloud.w.lock().unwrap().tokens.get(&spec_token), Some(&id1));
    // Now the same pre-crash state again: the launch is re-sent with the same token.
    for (i, _) in cloud.w.lock().unwrap().instances.values_mut() {
        i.tags.clear();
    }
    let again = apply(&cloud, &d, state, &path, &[]).await;
    again.result.unwrap();
    assert_eq!(again.state.id(Resource::Node1), Some(id1.as_str()));
    assert_eq!(cloud.w.lock().unwrap().instances.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn deleted_instance_is_recreated_with_a_fresh_token_and_the_vip_follows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    let old = first.state.id(Resource::Node1).unwrap().to_string();
    // Out of band: node1 (holding the VIP) terminated; its secondary IP went with the VNIC.
    let _ = cloud.terminate_instance(&old).await;
    cloud.clear_trace();
    let again = apply(&cloud, &d, first.state, &path, &[]).await;
    again.result.unwrap();
    assert_eq!(again.plan.action(Resource::Node1), Action::Create);
    assert_ne!(again.state.id(Resource::Node1), Some(old.as_str()));
    assert_eq!(again.state.generation(Resource::Node1), 1);
    assert_eq!(
        cloud.mutations(),
        vec!["!LaunchInstance", "!UpdateDynamicGroup", "!CreatePrivateIp"]
    );
}

#[tokio::test(start_paused = true)]
async fn failed_over_vip_is_left_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    let vnic2 = first
        .state
        .get(Resource::Node2)
        .unwrap()
        .vnic_id
        .clone()
        .unwrap();
    let vip = first.state.id(Resource::Vip).unwrap().to_string();
    let _ = cloud.move_private_ip(&vip, &vnic2).await;
    cloud.clear_trace();
    let again = apply(&cloud, &d, first.state, &path, &[]).await;
    again.result.unwrap();
    assert!(cloud.mutations().is_empty());
    assert_eq!(
        cloud.w.lock().unwrap().ips[&vip].vnic_id.as_deref(),
        Some(vnic2.as_str())
    );
}

#[tokio::test(start_paused = true)]
async fn replacing_the_vip_holder_puts_the_vip_back_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    d.nodes[0].user_data = "Y2hhbmdlZA==".into();
    cloud.clear_trace();
    let run = apply(&cloud, &d, first.state, &path, &[]).await;
    run.result.unwrap();
    assert_eq!(run.plan.replaced_nodes(), vec![0]);
    // The holder hands over (soft stop) before it is terminated.
    assert_eq!(
        cloud.mutations(),
        vec![
            "!InstanceAction",
            "!TerminateInstance",
            "!LaunchInstance",
            "!UpdateDynamicGroup",
            "!CreatePrivateIp"
        ]
    );
    let w = cloud.w.lock().unwrap();
    let vip = w.ips.values().next().unwrap();
    assert_eq!(vip.vnic_id, run.state.get(Resource::Node1).unwrap().vnic_id);
}

#[tokio::test(start_paused = true)]
async fn replacing_both_nodes_is_rolling() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    cloud.clear_trace();
    let run = apply(&cloud, &d, first.state, &path, &[0, 1]).await;
    run.result.unwrap();
    let t = cloud.trace();
    // node2 is replaced and RUNNING before node1 (the VIP's holder) is terminated.
    let running2 = pos(&t, "RUNNING instance2");
    let terminations: Vec<_> = t
        .iter()
        .enumerate()
        .filter(|(_, c)| *c == "!TerminateInstance")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(terminations.len(), 2);
    assert!(
        terminations[0] < running2 && running2 < terminations[1],
        "{t:#?}"
    );
    assert_eq!(cloud.w.lock().unwrap().ips.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_vip_the_agent_recreated_untagged_on_a_node_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let d = desired();
    let first = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    first.result.unwrap();
    // The VIP object vanished and the agent on node2 made a new one, without vipsetup's tags.
    let vnic2 = first
        .state
        .get(Resource::Node2)
        .unwrap()
        .vnic_id
        .clone()
        .unwrap();
    let old = first.state.id(Resource::Vip).unwrap().to_string();
    {
        let mut w = cloud.w.lock().unwrap();
        w.ips.remove(&old);
        w.ips.insert(
            "ocid1.privateip.oc1..byagent".into(),
            LivePrivateIp {
                id: "ocid1.privateip.oc1..byagent".into(),
                ip_address: d.vip,
                vnic_id: Some(vnic2.clone()),
                is_primary: false,
                tags: BTreeMap::new(),
            },
        );
    }
    cloud.clear_trace();
    let again = apply(&cloud, &d, first.state, &path, &[]).await;
    again.result.unwrap();
    // Adopted where it is, and given the pair's tags (so lost state can find it again).
    assert_eq!(again.plan.action(Resource::Vip), Action::Update);
    assert!(
        again
            .plan
            .render_text()
            .contains("freeform tag \"vipsetup-pair\": add"),
        "{}",
        again.plan.render_text()
    );
    assert_eq!(cloud.mutations(), vec!["!UpdatePrivateIp"]);
    assert_eq!(
        again.state.id(Resource::Vip),
        Some("ocid1.privateip.oc1..byagent")
    );
    let w = cloud.w.lock().unwrap();
    let ip = &w.ips["ocid1.privateip.oc1..byagent"];
    assert_eq!(ip.vnic_id.as_deref(), Some(vnic2.as_str()), "not moved");
    assert_eq!(ip.tags, d.tags_for(Resource::Vip));
}

#[tokio::test(start_paused = true)]
async fn extra_vips_are_made_with_the_first_kept_and_removed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    let v4: std::net::IpAddr = "172.16.2.20".parse().unwrap();
    let v6: std::net::IpAddr = "2603:c020:1:2::10".parse().unwrap();
    d.extra_vips = vec![v4, v6];
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let node1_vnic = run.state.get(Resource::Node1).unwrap().vnic_id.clone();
    {
        let w = cloud.w.lock().unwrap();
        let second = w
            .ips
            .values()
            .find(|p| p.ip_address.to_string() == "172.16.2.20");
        assert_eq!(second.unwrap().vnic_id, node1_vnic, "with the first vip");
        let six = w.ipv6s.values().next().unwrap();
        assert_eq!((six.address, &six.vnic_id), (v6, &node1_vnic));
        assert_eq!(six.tags[TAG_PAIR], "quickstart");
    }
    assert_eq!(run.state.addresses.len(), 2);
    assert!(run.state.address_id("2603:c020:1:2::10").is_some());

    // Converged: nothing to do, no mutating call.
    cloud.clear_trace();
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());

    // The IPv6 VIP leaves the blueprint: the plan says so and apply deletes it.
    let mut fewer = d.clone();
    fewer.extra_vips = vec![v4];
    cloud.clear_trace();
    let shrink = apply(&cloud, &fewer, again.state, &path, &[]).await;
    shrink.result.unwrap();
    let text = shrink.plan.render_text();
    assert!(text.contains("remove vip 2603:c020:1:2::10"), "{text}");
    assert_eq!(cloud.mutations(), ["!DeleteIpv6"]);
    assert!(cloud.w.lock().unwrap().ipv6s.is_empty());
    assert_eq!(shrink.state.addresses.len(), 1);

    // Destroy takes every VIP.
    let gone = destroy(&cloud, &fewer, shrink.state, &path).await;
    gone.result.unwrap();
    assert!(cloud.w.lock().unwrap().ips.is_empty());
    assert!(gone.state.addresses.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_extra_vip_held_by_someone_else_stops_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::default();
    let mut d = desired();
    d.extra_vips = vec!["172.16.2.30".parse().unwrap()];
    cloud.w.lock().unwrap().ips.insert(
        "ocid1.privateip.oc1..other".into(),
        LivePrivateIp {
            id: "ocid1.privateip.oc1..other".into(),
            ip_address: "172.16.2.30".parse().unwrap(),
            vnic_id: Some("ocid1.vnic.oc1..someone".into()),
            is_primary: false,
            tags: Tags::new(),
        },
    );
    let mut state = State::new(&d.pair);
    let observed = observe(&cloud, &d.scope(), &mut state).await.unwrap();
    let err = diff(&d, &observed, &state.recorded(), &[]).unwrap_err();
    assert!(
        err.to_string().contains("172.16.2.30 is already in use"),
        "{err}"
    );
    let _ = dir;
}

#[tokio::test(start_paused = true)]
async fn a_reserved_public_ip_is_made_on_the_first_vip_and_deleted_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    d.public_ip = Some(DesiredPublicIp::Reserved);
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let vip = run.state.id(Resource::Vip).unwrap().to_string();
    {
        let w = cloud.w.lock().unwrap();
        let p = w.public_ips.values().next().unwrap();
        assert_eq!(p.private_ip_id.as_deref(), Some(vip.as_str()));
        assert_eq!(p.tags[TAG_PAIR], "quickstart");
    }
    assert!(run.state.public_ip.as_ref().unwrap().id.is_some());
    cloud.clear_trace();
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    again.result.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    assert!(cloud.mutations().is_empty(), "{:?}", cloud.mutations());
    let gone = destroy(&cloud, &d, again.state, &path).await;
    gone.result.unwrap();
    assert!(
        cloud.w.lock().unwrap().public_ips.is_empty(),
        "ours: deleted"
    );
    assert!(gone.state.public_ip.is_none());
}

/// A reserved public IP the user owns, unassigned; its OCID.
fn their_public_ip(cloud: &FakeCloud) -> &'static str {
    let theirs = "ocid1.publicip.oc1..theirs";
    cloud.w.lock().unwrap().public_ips.insert(
        theirs.into(),
        LivePublicIp {
            id: theirs.into(),
            ip_address: Some("198.51.100.77".into()),
            lifetime: "RESERVED".into(),
            private_ip_id: None,
            lifecycle_state: "AVAILABLE".into(),
            tags: Tags::new(),
        },
    );
    theirs
}

#[tokio::test(start_paused = true)]
async fn the_users_public_ip_is_assigned_then_unassigned_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let theirs = their_public_ip(&cloud);
    let mut d = desired();
    d.public_ip = Some(DesiredPublicIp::Existing(theirs.into()));
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let vip = run.state.id(Resource::Vip).unwrap().to_string();
    assert_eq!(
        cloud.w.lock().unwrap().public_ips[theirs]
            .private_ip_id
            .as_deref(),
        Some(vip.as_str())
    );
    let again = apply(&cloud, &d, run.state, &path, &[]).await;
    assert!(!again.plan.has_changes(), "{}", again.plan.render_text());
    cloud.clear_trace();
    let gone = destroy(&cloud, &d, again.state, &path).await;
    gone.result.unwrap();
    let w = cloud.w.lock().unwrap();
    assert_eq!(w.public_ips[theirs].private_ip_id, None, "unassigned");
    assert!(!w.trace.iter().any(|t| t == "!DeletePublicIp"), "kept");
}

#[tokio::test(start_paused = true)]
async fn switching_public_ips_never_leaves_one_untracked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let theirs = their_public_ip(&cloud);
    let mut d = desired();
    d.public_ip = Some(DesiredPublicIp::Reserved);
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let made = run.state.public_ip.as_ref().unwrap().id.clone().unwrap();

    // reserved -> the user's: ours is deleted, theirs assigned.
    d.public_ip = Some(DesiredPublicIp::Existing(theirs.into()));
    let run = apply(&cloud, &d, run.state, &path, &[]).await;
    run.result.unwrap();
    assert!(
        run.plan.render_text().contains("delete public ip"),
        "{}",
        run.plan.render_text()
    );
    let vip = run.state.id(Resource::Vip).unwrap().to_string();
    {
        let w = cloud.w.lock().unwrap();
        assert!(!w.public_ips.contains_key(&made));
        assert_eq!(
            w.public_ips[theirs].private_ip_id.as_deref(),
            Some(vip.as_str())
        );
    }

    // the user's -> reserved: theirs unassigned and kept, a new one made (a new retry token).
    d.public_ip = Some(DesiredPublicIp::Reserved);
    let run = apply(&cloud, &d, run.state, &path, &[]).await;
    run.result.unwrap();
    let w = cloud.w.lock().unwrap();
    assert_eq!(w.public_ips[theirs].private_ip_id, None);
    let new = run.state.public_ip.as_ref().unwrap().id.clone().unwrap();
    assert_ne!(new, made);
    assert_eq!(
        w.public_ips[&new].private_ip_id.as_deref(),
        Some(vip.as_str())
    );
    assert_eq!(
        w.public_ips.len(),
        2,
        "theirs and the new one, nothing else"
    );
}

#[tokio::test(start_paused = true)]
async fn an_extra_vip_off_the_pair_is_moved_back_and_retagged_keeping_the_agents_tags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let cloud = FakeCloud::default();
    let mut d = desired();
    let v6: std::net::IpAddr = "2603:c020:1:2::10".parse().unwrap();
    d.extra_vips = vec![v6];
    let run = apply(&cloud, &d, State::new(&d.pair), &path, &[]).await;
    run.result.unwrap();
    let node1_vnic = run.state.get(Resource::Node1).unwrap().vnic_id.clone();
    {
        let mut w = cloud.w.lock().unwrap();
        let a = w.ipv6s.values_mut().next().unwrap();
        a.vnic_id = Some("ocid1.vnic.oc1..elsewhere".into());
        a.tags.insert(TAG_TAKEOVER_BY.into(), "instance2".into());
    }
    d.tags.insert("owner".into(), "ops".into());
    cloud.clear_trace();
    let run = apply(&cloud, &d, run.state, &path, &[]).await;
    run.result.unwrap();
    let text = run.plan.render_text();
    assert!(
        text.contains("move vip 2603:c020:1:2::10") && text.contains("vip 2603:c020:1:2::10: "),
        "{text}"
    );
    let w = cloud.w.lock().unwrap();
    let a = w.ipv6s.values().next().unwrap();
    assert_eq!(a.vnic_id, node1_vnic);
    assert_eq!(a.tags["owner"], "ops");
    assert_eq!(
        a.tags[TAG_TAKEOVER_BY], "instance2",
        "the agent's tag stays"
    );
}
