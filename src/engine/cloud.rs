//! What the engine needs from a cloud, in its own terms: find, create, change and delete the
//! pair's six resources. `engine::oci_cloud` implements it over `oci::Client`; unit tests use an
//! in-memory fake. Deletes count "not found" as done; gets return `None` for "not found".

use std::collections::BTreeMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use super::model::{
    DesiredNode, LiveDynamicGroup, LiveInstance, LiveNsg, LivePolicy, LivePrivateIp, LiveSubnet,
    LiveVnic, NsgRule,
};

pub type CloudFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CloudError>> + Send + 'a>>;

/// A failed cloud call, with what a user needs to follow it up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed{}{}: {message}{}",
    .status.map(|s| format!(" with HTTP {s}")).unwrap_or_default(),
    .code.as_ref().map(|c| format!(" {c}")).unwrap_or_default(),
    .request_id.as_ref().map(|r| format!(" (opc-request-id {r})")).unwrap_or_default())]
pub struct CloudError {
    pub operation: String,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl CloudError {
    pub fn other(operation: &str, message: impl Into<String>) -> CloudError {
        CloudError {
            operation: operation.to_string(),
            status: None,
            code: None,
            message: message.into(),
            request_id: None,
        }
    }
}

pub type Tags = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq)]
pub struct NsgSpec {
    pub compartment_id: String,
    pub vcn_id: String,
    pub display_name: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InstanceSpec {
    pub compartment_id: String,
    pub subnet_id: String,
    pub nsg_ids: Vec<String>,
    pub node: DesiredNode,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DynamicGroupSpec {
    pub tenancy_id: String,
    pub name: String,
    pub description: String,
    pub matching_rule: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PolicySpec {
    pub compartment_id: String,
    pub name: String,
    pub description: String,
    pub statements: Vec<String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PrivateIpSpec {
    pub vnic_id: String,
    pub ip_address: Ipv4Addr,
    pub display_name: String,
    pub tags: Tags,
}

/// The operations the engine uses. Creates take the `opc-retry-token`.
pub trait Cloud: Send + Sync {
    // Lookups apply needs before it can say what it wants.
    fn get_subnet<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveSubnet>>;
    fn availability_domains<'a>(&'a self, tenancy_id: &'a str) -> CloudFuture<'a, Vec<String>>;
    /// The newest AVAILABLE image for the OS, version and shape.
    fn newest_image<'a>(
        &'a self,
        compartment_id: &'a str,
        os: &'a str,
        version: &'a str,
        shape: &'a str,
    ) -> CloudFuture<'a, Option<String>>;
    /// Every address in use in the subnet.
    fn subnet_ips<'a>(&'a self, subnet_id: &'a str) -> CloudFuture<'a, Vec<Ipv4Addr>>;

    fn get_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveNsg>>;
    /// The pair's NSG found by its tags (lost state).
    fn find_nsg<'a>(
        &'a self,
        compartment_id: &'a str,
        vcn_id: &'a str,
        pair: &'a str,
    ) -> CloudFuture<'a, Option<LiveNsg>>;
    fn create_nsg<'a>(&'a self, spec: &'a NsgSpec, token: &'a str) -> CloudFuture<'a, String>;
    fn add_nsg_rules<'a>(&'a self, nsg_id: &'a str, rules: &'a [NsgRule]) -> CloudFuture<'a, ()>;
    fn delete_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;

    /// The instance without its VNIC (`vnic` is `None`); see `primary_vnic`.
    fn get_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveInstance>>;
    /// The pair's non-terminated instance with this role, found by its tags.
    fn find_instance<'a>(
        &'a self,
        compartment_id: &'a str,
        pair: &'a str,
        role: &'a str,
    ) -> CloudFuture<'a, Option<LiveInstance>>;
    fn primary_vnic<'a>(
        &'a self,
        compartment_id: &'a str,
        instance_id: &'a str,
    ) -> CloudFuture<'a, Option<LiveVnic>>;
    fn launch_instance<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    fn terminate_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;

    fn get_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveDynamicGroup>>;
    fn find_dynamic_group<'a>(
        &'a self,
        tenancy_id: &'a str,
        name: &'a str,
    ) -> CloudFuture<'a, Option<LiveDynamicGroup>>;
    fn create_dynamic_group<'a>(
        &'a self,
        spec: &'a DynamicGroupSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    fn update_dynamic_group<'a>(
        &'a self,
        id: &'a str,
        spec: &'a DynamicGroupSpec,
    ) -> CloudFuture<'a, ()>;
    fn delete_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;

    fn get_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePolicy>>;
    fn find_policy<'a>(
        &'a self,
        compartment_id: &'a str,
        name: &'a str,
    ) -> CloudFuture<'a, Option<LivePolicy>>;
    fn create_policy<'a>(&'a self, spec: &'a PolicySpec, token: &'a str)
        -> CloudFuture<'a, String>;
    fn update_policy<'a>(&'a self, id: &'a str, spec: &'a PolicySpec) -> CloudFuture<'a, ()>;
    fn delete_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;

    fn get_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePrivateIp>>;
    fn find_private_ip<'a>(
        &'a self,
        subnet_id: &'a str,
        ip: Ipv4Addr,
    ) -> CloudFuture<'a, Option<LivePrivateIp>>;
    fn create_private_ip<'a>(
        &'a self,
        spec: &'a PrivateIpSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    fn move_private_ip<'a>(&'a self, id: &'a str, vnic_id: &'a str) -> CloudFuture<'a, ()>;
    fn delete_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()>;
}

/// Test hook: wraps a cloud and kills this process (SIGKILL) right after the `n`th mutating
/// call returns, before vipsetup can record its result. Crash-safety tests drive it through
/// the `VIPSETUP_TEST_KILL_AFTER_MUTATIONS` environment variable.
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
    fn delete_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_nsg(id))
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
    fn delete_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        mutating!(self, self.inner.delete_private_ip(id))
    }
}
