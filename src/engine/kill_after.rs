//! The crash-test hook: a `Cloud` that SIGKILLs this process right after its `n`th mutating
//! call returns, before vipsetup can record the result, so the crash-safety tests
//! (tests/engine_crash.rs) can stop the real binary at every step of apply and destroy.
//!
//! Compiled into debug builds only (what `cargo test` and `cargo run` build), so a release
//! build carries no way to kill itself. It is switched on solely by the environment variable
//! `VIPSETUP_TEST_KILL_AFTER_MUTATIONS=N` (see `ops::target`), and even then it does no harm a
//! crash would not: state is saved after every call and a re-run resumes.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use super::cloud::{
    Cloud, CloudFuture, DynamicGroupSpec, InstanceSpec, InstanceUpdate, Ipv6Spec, NsgSpec,
    PolicySpec, PrivateIpSpec, ReservedIpSpec, Tags,
};
use super::model::{
    LiveAddress, LiveDynamicGroup, LiveInstance, LiveNsg, LivePolicy, LivePrivateIp, LivePublicIp,
    LiveSubnet, LiveVnic, NsgRule,
};

/// Wraps a cloud and kills this process (SIGKILL) right after the `after`th mutating call
/// returns.
pub struct KillAfter {
    pub inner: Box<dyn Cloud>,
    pub after: u64,
    count: AtomicU64,
}

impl KillAfter {
    pub fn new(inner: Box<dyn Cloud>, after: u64) -> KillAfter {
        KillAfter {
            inner,
            after,
            count: AtomicU64::new(0),
        }
    }

    fn tick(&self) {
        if self.count.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            // `kill` could be missing; never carry on past the hook.
            std::process::abort();
        }
    }
}

macro_rules! mutating {
    ($self:ident, $call:expr) => {{
        Box::pin(async move {
            let r = $call.await;
            $self.tick();
            r
        })
    }};
}

impl Cloud for KillAfter {
    fn get_subnet<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveSubnet>> {
        self.inner.get_subnet(id)
    }
    fn availability_domains<'a>(&'a self, t: &'a str) -> CloudFuture<'a, Vec<String>> {
        self.inner.availability_domains(t)
    }
    fn newest_image<'a>(
        &'a self,
        c: &'a str,
        o: &'a str,
        v: &'a str,
        s: &'a str,
    ) -> CloudFuture<'a, Option<String>> {
        self.inner.newest_image(c, o, v, s)
    }
    fn subnet_ips<'a>(&'a self, s: &'a str) -> CloudFuture<'a, Vec<Ipv4Addr>> {
        self.inner.subnet_ips(s)
    }
    fn fault_domains<'a>(&'a self, c: &'a str, ad: &'a str) -> CloudFuture<'a, Vec<String>> {
        self.inner.fault_domains(c, ad)
    }
    fn shapes<'a>(
        &'a self,
        c: &'a str,
        ad: &'a str,
        image: Option<&'a str>,
    ) -> CloudFuture<'a, Vec<String>> {
        self.inner.shapes(c, ad, image)
    }
    fn get_image<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<String>> {
        self.inner.get_image(id)
    }
    fn image_details<'a>(
        &'a self,
        id: &'a str,
    ) -> CloudFuture<'a, Option<super::cloud::ImageDetails>> {
        self.inner.image_details(id)
    }
    fn egress<'a>(&'a self, s: &'a str) -> CloudFuture<'a, super::egress::Egress> {
        self.inner.egress(s)
    }
    fn hostname_holder<'a>(&'a self, s: &'a str, h: &'a str) -> CloudFuture<'a, Option<String>> {
        self.inner.hostname_holder(s, h)
    }
    fn get_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveNsg>> {
        self.inner.get_nsg(id)
    }
    fn find_nsg<'a>(
        &'a self,
        c: &'a str,
        v: &'a str,
        p: &'a str,
    ) -> CloudFuture<'a, Option<LiveNsg>> {
        self.inner.find_nsg(c, v, p)
    }
    fn create_nsg<'a>(&'a self, s: &'a NsgSpec, t: &'a str) -> CloudFuture<'a, String> {
        mutating!(self, self.inner.create_nsg(s, t))
    }
    fn add_nsg_rules<'a>(&'a self, id: &'a str, r: &'a [NsgRule]) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.add_nsg_rules(id, r))
    }
    fn remove_nsg_rules<'a>(&'a self, id: &'a str, r: &'a [String]) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.remove_nsg_rules(id, r))
    }
    fn delete_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_nsg(id))
    }
    fn update_nsg_tags<'a>(&'a self, id: &'a str, t: &'a Tags) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.update_nsg_tags(id, t))
    }
    fn get_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveInstance>> {
        self.inner.get_instance(id)
    }
    fn find_instance<'a>(
        &'a self,
        c: &'a str,
        p: &'a str,
        r: &'a str,
    ) -> CloudFuture<'a, Option<LiveInstance>> {
        self.inner.find_instance(c, p, r)
    }
    fn primary_vnic<'a>(&'a self, c: &'a str, i: &'a str) -> CloudFuture<'a, Option<LiveVnic>> {
        self.inner.primary_vnic(c, i)
    }
    fn launch_instance<'a>(&'a self, s: &'a InstanceSpec, t: &'a str) -> CloudFuture<'a, String> {
        mutating!(self, self.inner.launch_instance(s, t))
    }
    fn terminate_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.terminate_instance(id))
    }
    fn update_instance<'a>(&'a self, id: &'a str, u: &'a InstanceUpdate) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.update_instance(id, u))
    }
    fn instance_action<'a>(&'a self, id: &'a str, a: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.instance_action(id, a))
    }
    fn update_vnic_nsgs<'a>(&'a self, v: &'a str, n: &'a [String]) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.update_vnic_nsgs(v, n))
    }
    fn assign_public_ip<'a>(&'a self, v: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.assign_public_ip(v))
    }
    fn unassign_public_ip<'a>(&'a self, a: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.unassign_public_ip(a))
    }
    fn get_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveDynamicGroup>> {
        self.inner.get_dynamic_group(id)
    }
    fn find_dynamic_group<'a>(
        &'a self,
        t: &'a str,
        n: &'a str,
    ) -> CloudFuture<'a, Option<LiveDynamicGroup>> {
        self.inner.find_dynamic_group(t, n)
    }
    fn create_dynamic_group<'a>(
        &'a self,
        s: &'a DynamicGroupSpec,
        t: &'a str,
    ) -> CloudFuture<'a, String> {
        mutating!(self, self.inner.create_dynamic_group(s, t))
    }
    fn update_dynamic_group<'a>(
        &'a self,
        id: &'a str,
        s: &'a DynamicGroupSpec,
    ) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.update_dynamic_group(id, s))
    }
    fn delete_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_dynamic_group(id))
    }
    fn get_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePolicy>> {
        self.inner.get_policy(id)
    }
    fn find_policy<'a>(&'a self, c: &'a str, n: &'a str) -> CloudFuture<'a, Option<LivePolicy>> {
        self.inner.find_policy(c, n)
    }
    fn create_policy<'a>(&'a self, s: &'a PolicySpec, t: &'a str) -> CloudFuture<'a, String> {
        mutating!(self, self.inner.create_policy(s, t))
    }
    fn update_policy<'a>(&'a self, id: &'a str, s: &'a PolicySpec) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.update_policy(id, s))
    }
    fn delete_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_policy(id))
    }
    fn get_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePrivateIp>> {
        self.inner.get_private_ip(id)
    }
    fn find_private_ip<'a>(
        &'a self,
        s: &'a str,
        ip: Ipv4Addr,
    ) -> CloudFuture<'a, Option<LivePrivateIp>> {
        self.inner.find_private_ip(s, ip)
    }
    fn create_private_ip<'a>(
        &'a self,
        s: &'a PrivateIpSpec,
        t: &'a str,
    ) -> CloudFuture<'a, String> {
        mutating!(self, self.inner.create_private_ip(s, t))
    }
    fn move_private_ip<'a>(&'a self, id: &'a str, v: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.move_private_ip(id, v))
    }
    fn update_private_ip_tags<'a>(&'a self, id: &'a str, t: &'a Tags) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.update_private_ip_tags(id, t))
    }
    fn delete_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_private_ip(id))
    }
    fn find_ipv6<'a>(&'a self, s: &'a str, ip: Ipv6Addr) -> CloudFuture<'a, Option<LiveAddress>> {
        self.inner.find_ipv6(s, ip)
    }
    fn create_ipv6<'a>(&'a self, s: &'a Ipv6Spec, t: &'a str) -> CloudFuture<'a, String> {
        mutating!(self, self.inner.create_ipv6(s, t))
    }
    fn update_ipv6<'a>(
        &'a self,
        id: &'a str,
        v: Option<&'a str>,
        t: Option<&'a Tags>,
    ) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.update_ipv6(id, v, t))
    }
    fn delete_ipv6<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_ipv6(id))
    }
    fn topic_compartment<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<String>> {
        self.inner.topic_compartment(id)
    }
    fn get_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePublicIp>> {
        self.inner.get_public_ip(id)
    }
    fn public_ip_of<'a>(&'a self, p: &'a str) -> CloudFuture<'a, Option<LivePublicIp>> {
        self.inner.public_ip_of(p)
    }
    fn create_reserved_public_ip<'a>(
        &'a self,
        s: &'a ReservedIpSpec,
        t: &'a str,
    ) -> CloudFuture<'a, String> {
        mutating!(self, self.inner.create_reserved_public_ip(s, t))
    }
    fn set_public_ip_target<'a>(&'a self, id: &'a str, p: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.set_public_ip_target(id, p))
    }
    fn delete_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_public_ip(id))
    }
}
