//! Renders each node's cloud-init user data (keepalived, the failover agent and its settings)
//! from a blueprint plus the facts `apply` looks up (or the blueprint gives, offline).
//!
//! `render` is a pure function: same blueprint and facts, same bytes. Templates live in
//! `templates/` and are compiled into the binary.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::Ipv4Addr;
use std::path::PathBuf;

use base64::Engine as _;
pub use ipnet::Ipv4Net;
use serde::Serialize;

use crate::blueprint::{Blueprint, Failover};

pub mod settings;
mod strip;
pub use settings::{NodeSettings, SETTINGS_KEY};
pub use strip::strip_comments;

/// OCI's limit on an instance's metadata: user data (base64), the ssh keys and the settings key.
pub const METADATA_LIMIT: usize = 32_000;

/// Where things live on a node; the failover harness and docs rely on these.
pub mod paths {
    pub const KEEPALIVED_CONF: &str = "/etc/keepalived/keepalived.conf";
    pub const AGENT_ENV: &str = "/etc/vipsetup/agent.env";
    /// The settings a running node takes live (render::settings): read after agent.env.
    pub const SETTINGS_ENV: &str = "/etc/vipsetup/settings.env";
    pub const AGENT: &str = "/usr/local/lib/vipsetup/vip-agent";
    pub const HEALTH_CHECK: &str = "/usr/local/lib/vipsetup/health-check";
    pub const INSTALLER: &str = "/usr/local/lib/vipsetup/install-agent";
    /// The agent's request signing and instance-principal library (sourced by the agent).
    pub const SIGN_LIB: &str = "/usr/local/lib/vipsetup/oci-sign.sh";
    /// The SELinux policy module the installer loads (Oracle Linux).
    pub const SELINUX_MODULE: &str = "/usr/local/lib/vipsetup/vipsetup-keepalived.cil";
    /// keepalived creates the FIFO; /run exists at boot, a subdirectory would not.
    pub const FIFO: &str = "/run/vipsetup-keepalived.fifo";
    pub const STATE_DIR: &str = "/var/lib/vipsetup";
    /// The agent's session key and token (tmpfs: gone at reboot, never on disk).
    pub const RUNTIME_DIR: &str = "/run/vipsetup";
}

/// The keepalived VRRP instance name (appears in the FIFO lines the agent reads).
pub const VRRP_INSTANCE: &str = "VIPSETUP";

const T_CLOUD_CONFIG: &str = include_str!("../../templates/cloud-config.yaml.tera");
const T_KEEPALIVED: &str = include_str!("../../templates/keepalived.conf.tera");
const T_AGENT_ENV: &str = include_str!("../../templates/agent.env.tera");
const T_SETTINGS_ENV: &str = include_str!("../../templates/settings.env.tera");
const T_HEALTH: &str = include_str!("../../templates/health-check.sh.tera");
/// keepalived's `vrrp_startup_delay` on the non-preferred node (see keepalived.conf.tera).
pub const STARTUP_DELAY_SECS: u8 = 5;
/// Static scripts: identical on every node (all per-node data is in the settings file). They
/// ship through [`strip_comments`]: the templates keep their comments, user data does not.
/// The agent and its signing library are assembled from their parts (templates/agent/, build.rs).
pub const AGENT_SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/vip-agent.sh"));
pub const INSTALLER_SCRIPT: &str = include_str!("../../templates/install-agent.sh");
pub const SIGN_LIB_SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/oci-sign.sh"));
pub const SELINUX_MODULE_CIL: &str = include_str!("../../templates/vipsetup-keepalived.cil");
/// How long the non-preferred node's installer waits for the preferred node's VRRP adverts
/// before it starts keepalived anyway (install-agent.sh, step 8).
pub const PEER_WAIT_SECS: u32 = 300;

/// Overrides written into the agent's settings file. `Default` is production: the agent signs
/// as the instance principal against the region's endpoints. Tests point these at a local
/// simulator.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentSettings {
    /// Base URL for every core API call, e.g. `http://127.0.0.1:8080`.
    pub endpoint: Option<String>,
    /// Instance principal federation endpoint (`.../v1/x509`, or a base it is appended to).
    pub federation_endpoint: Option<String>,
    /// Instance metadata base, e.g. `http://127.0.0.1:8080/opc/v2` (certificates, VNICs).
    pub metadata_base_url: Option<String>,
    /// Where the agent caches the VNIC and private IP OCIDs. Default `/var/lib/vipsetup`.
    pub state_dir: Option<String>,
    /// Where the agent keeps its session key and token. Default `/run/vipsetup`.
    pub runtime_dir: Option<String>,
    /// Notifications data-plane base URL; `None` = the topic's region's default endpoint.
    pub notify_endpoint: Option<String>,
    /// How the agent reloads keepalived after it applied new settings; `None` = `systemctl
    /// reload keepalived` (the failover harness, without systemd, sends SIGHUP itself).
    pub keepalived_reload: Option<String>,
}

/// The interface name written when the blueprint names none (`network.interface` left out):
/// the installer finds it missing on the node and puts the interface that holds the node's
/// primary private IP in its place (install-agent.sh, step 4). A name no Linux system has by
/// default, within the 15 characters keepalived and the kernel allow.
pub const AUTO_INTERFACE: &str = "vipsetup-auto";

/// What rendering needs beyond the blueprint. `apply` fills this from live lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Private IPs of `blueprint.nodes[0]` and `[1]`, in that order.
    pub node_ips: [Ipv4Addr; 2],
    /// The subnet's CIDR (gives the VIP's prefix length).
    pub subnet_cidr: Ipv4Net,
    /// Region whose API the agent calls.
    pub region: String,
    pub agent: AgentSettings,
}

impl Facts {
    /// Facts from the blueprint alone: fixed node IPs, the VIP's prefix, `oci.region`.
    pub fn offline(bp: &Blueprint) -> Result<Facts, RenderError> {
        let mut missing = Vec::new();
        for (i, n) in bp.nodes.iter().enumerate() {
            if n.private_ip.is_none() {
                missing.push(format!(
                    "`private_ip` for nodes[{i}] ({}), e.g. `private_ip: <a free address in the subnet>`",
                    n.name
                ));
            }
        }
        if bp.network.vip_prefix.is_none() {
            missing.push(format!(
                "the subnet's prefix length to network.vip, e.g. `vip: {}/24`",
                bp.network.vip
            ));
        }
        if bp.oci.region.is_none() {
            missing.push("`region` under oci, e.g. `region: ap-tokyo-1`".to_string());
        }
        if !missing.is_empty() {
            return Err(RenderError::MissingFacts {
                blueprint: bp.source.clone(),
                missing,
            });
        }
        let (Some(a), Some(b), Some(prefix), Some(region)) = (
            bp.nodes[0].private_ip,
            bp.nodes[1].private_ip,
            bp.network.vip_prefix,
            bp.oci.region.clone(),
        ) else {
            unreachable!("checked above")
        };
        let subnet_cidr = Ipv4Net::new(bp.network.vip, prefix)
            .map_err(|e| RenderError::Inconsistent(format!("bad prefix /{prefix}: {e}")))?
            .trunc();
        Ok(Facts {
            node_ips: [a, b],
            subnet_cidr,
            region,
            agent: AgentSettings::default(),
        })
    }
}

/// One file put on the node by cloud-init's write_files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: String,
    pub mode: u32,
    pub content: String,
}

/// Everything rendered for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedNode {
    pub name: String,
    /// The `#cloud-config` document (what `render --out` writes).
    pub cloud_config: String,
    /// Base64 of the cloud-config, gzipped first when plain would not fit the metadata limit:
    /// the value for the instance's `user_data` metadata.
    pub user_data: String,
    pub gzipped: bool,
    /// `user_data` plus the ssh keys: what counts against `METADATA_LIMIT` at launch.
    pub metadata_bytes: usize,
    /// With the settings key too, as after the first change of settings.
    pub update_bytes: usize,
    /// The files inside the cloud-config, for tests and harnesses.
    pub files: Vec<RenderedFile>,
    /// The settings the node takes live (the `vipsetup-settings` metadata key, once versioned).
    pub settings: NodeSettings,
    /// sha256 of the user data's install part: what only a new instance can change.
    pub install_digest: String,
    /// sha256 of the rest: the first settings, as a node launched with this user data has them.
    pub first_settings_digest: String,
}

impl RenderedNode {
    /// The file rendered for `path` (see `paths`), if this node has one.
    pub fn file(&self, path: &str) -> Option<&RenderedFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{} does not say enough to render offline; add {}", blueprint.display(), missing.join("; add "))]
    MissingFacts {
        blueprint: PathBuf,
        missing: Vec<String>,
    },
    #[error(
        "the blueprint and the looked-up facts disagree: {0}; fix the blueprint or the subnet"
    )]
    Inconsistent(String),
    #[error("node {node}: instance metadata would be {bytes} bytes (user data as base64, gzipped, ssh keys and the settings key), over OCI's limit of {limit}; shorten the health check command or use fewer ssh keys")]
    TooLarge {
        node: String,
        bytes: usize,
        limit: usize,
    },
    #[error("template {template} failed: {message}; this is a vipsetup bug, please report it")]
    Template { template: String, message: String },
}

#[derive(Serialize)]
struct FileCtx<'a> {
    path: &'a str,
    mode_octal: String,
    content: &'a str,
}

/// Renders both nodes. Checks the facts against the blueprint (node IPs in the subnet, VIP not
/// a node address) and the metadata size limit.
pub fn render(bp: &Blueprint, facts: &Facts) -> Result<Vec<RenderedNode>, RenderError> {
    check_facts(bp, facts)?;
    let tera = engine()?;
    let mut out = Vec::with_capacity(2);
    for i in 0..2 {
        out.push(render_node(&tera, bp, facts, i)?);
    }
    Ok(out)
}

fn check_facts(bp: &Blueprint, facts: &Facts) -> Result<(), RenderError> {
    let net = facts.subnet_cidr;
    for vip in &bp.network.vips {
        if !net.contains(vip) {
            return Err(RenderError::Inconsistent(format!(
                "the VIP {vip} is outside the subnet {net}"
            )));
        }
    }
    if let Some(p) = bp.network.vip_prefix {
        if p != net.prefix_len() {
            return Err(RenderError::Inconsistent(format!(
                "network.vip says /{p} but the subnet is {net}"
            )));
        }
    }
    for (i, ip) in facts.node_ips.iter().enumerate() {
        if !net.contains(ip) {
            return Err(RenderError::Inconsistent(format!(
                "node {} has address {ip}, outside the subnet {net}",
                bp.nodes[i].name
            )));
        }
        if bp.network.vips.contains(ip) {
            return Err(RenderError::Inconsistent(format!(
                "node {} has the VIP {ip} as its own address",
                bp.nodes[i].name
            )));
        }
    }
    if facts.node_ips[0] == facts.node_ips[1] {
        return Err(RenderError::Inconsistent(format!(
            "both nodes have the address {}",
            facts.node_ips[0]
        )));
    }
    Ok(())
}

fn engine() -> Result<tera::Tera, RenderError> {
    let mut tera = tera::Tera::default();
    tera.register_filter("shell_quote", shell_quote_filter);
    for (name, src) in [
        ("cloud-config.yaml", T_CLOUD_CONFIG),
        ("keepalived.conf", T_KEEPALIVED),
        ("agent.env", T_AGENT_ENV),
        ("settings.env", T_SETTINGS_ENV),
        ("health-check.sh", T_HEALTH),
    ] {
        tera.add_raw_template(name, src)
            .map_err(|e| template_error(name, &e))?;
    }
    Ok(tera)
}

fn template_error(name: &str, e: &tera::Error) -> RenderError {
    let message = crate::error_chain::chain_message(e);
    RenderError::Template {
        template: name.to_string(),
        message,
    }
}

fn run(tera: &tera::Tera, name: &str, ctx: &tera::Context) -> Result<String, RenderError> {
    tera.render(name, ctx).map_err(|e| template_error(name, &e))
}

/// POSIX single-quoting, so settings values can never run as code when the file is sourced.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn shell_quote_filter(
    value: &tera::Value,
    _: &HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let s = match value {
        tera::Value::String(s) => s.clone(),
        tera::Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(tera::Value::String(shell_quote(&s)))
}

/// One node's files and user data: the settings every template shares, then keepalived's
/// and the agent's, the files the node gets, and the cloud-config assembled from them.
fn render_node(
    tera: &tera::Tera,
    bp: &Blueprint,
    facts: &Facts,
    i: usize,
) -> Result<RenderedNode, RenderError> {
    let node = &bp.nodes[i];
    let f = &bp.failover;
    let mut ctx = node_context(bp, facts, i);
    keepalived_settings(&mut ctx, f, i);
    agent_settings(&mut ctx, bp, facts);

    let mut files = vec![
        RenderedFile {
            path: paths::KEEPALIVED_CONF.into(),
            mode: 0o640,
            content: strip_comments(&run(tera, "keepalived.conf", &ctx)?),
        },
        RenderedFile {
            path: paths::AGENT_ENV.into(),
            mode: 0o640,
            content: strip_comments(&run(tera, "agent.env", &ctx)?),
        },
        RenderedFile {
            path: paths::AGENT.into(),
            mode: 0o755,
            content: strip_comments(AGENT_SCRIPT),
        },
        RenderedFile {
            path: paths::SIGN_LIB.into(),
            mode: 0o644,
            content: strip_comments(SIGN_LIB_SCRIPT),
        },
    ];
    if let Some(h) = &f.health_check {
        let mut hc = ctx.clone();
        hc.insert("command", &h.command);
        hc.insert("timeout", &h.timeout);
        hc.insert("fall", &h.fall);
        files.push(RenderedFile {
            path: paths::HEALTH_CHECK.into(),
            mode: 0o755,
            content: strip_comments(&run(tera, "health-check.sh", &hc)?),
        });
    }
    files.push(RenderedFile {
        path: paths::SELINUX_MODULE.into(),
        mode: 0o644,
        content: SELINUX_MODULE_CIL.into(),
    });
    files.push(RenderedFile {
        path: paths::INSTALLER.into(),
        mode: 0o755,
        content: strip_comments(INSTALLER_SCRIPT),
    });

    // settings.env travels only in the settings key: at first boot agent.env holds the same.
    let settings_env = RenderedFile {
        path: paths::SETTINGS_ENV.into(),
        mode: 0o640,
        content: strip_comments(&run(tera, "settings.env", &ctx)?),
    };
    user_data(tera, bp, &node.name, ctx, files, settings_env)
}

/// What every template knows about the node: the pair, both addresses, the VIPs, the interface,
/// whether this is the preferred node, and where the scripts live.
fn node_context(bp: &Blueprint, facts: &Facts, i: usize) -> tera::Context {
    let node = &bp.nodes[i];
    let node_ip = facts.node_ips[i];
    let peer_ip = facts.node_ips[1 - i];
    let prefix = facts.subnet_cidr.prefix_len();
    let f = &bp.failover;

    let mut ctx = tera::Context::new();
    ctx.insert("pair", &bp.name);
    ctx.insert("node_name", &node.name);
    ctx.insert("node_ip", &node_ip.to_string());
    ctx.insert("peer_ip", &peer_ip.to_string());
    ctx.insert("vip", &bp.network.vip.to_string());
    ctx.insert("prefix", &prefix.to_string());
    let vips: Vec<String> = bp
        .network
        .vips
        .iter()
        .map(|v| format!("{v}/{prefix}"))
        .collect();
    let vips6: Vec<String> = bp
        .network
        .vip6
        .iter()
        .map(|v| format!("{v}/{}", crate::blueprint::IPV6_SUBNET_PREFIX))
        .collect();
    ctx.insert("vips", &vips);
    ctx.insert("vips6", &vips6);
    // Only the first VIP goes in the adverts: keepalived refuses an advert whose address list
    // differs from its own ("expected N VIPs but received M", vrrp.c vrrp_in_chk), so while a
    // new VIP list reaches one node before the other, a BACKUP would ignore its MASTER and
    // take over too. The others move with it as keepalived's virtual_ipaddress_excluded.
    ctx.insert("vip_first", &vips[0]);
    ctx.insert("vips_rest", &vips[1..]);
    ctx.insert("vips_line", &vips.join(" "));
    ctx.insert("vips6_line", &vips6.join(" "));
    ctx.insert(
        "interface",
        bp.network.interface.as_deref().unwrap_or(AUTO_INTERFACE),
    );
    ctx.insert(
        "preferred",
        if f.preferred_node == i { "yes" } else { "no" },
    );
    ctx.insert("agent_path", paths::AGENT);
    ctx.insert("installer_path", paths::INSTALLER);
    ctx
}

/// keepalived's part (keepalived.conf, and the health check it runs): VRRP version, timing,
/// priority, preemption, the start-up delay and the FIFO the agent reads.
fn keepalived_settings(ctx: &mut tera::Context, f: &Failover, i: usize) {
    ctx.insert("instance_name", VRRP_INSTANCE);
    ctx.insert("vrrp_version", &f.advert_interval.vrrp_version());
    ctx.insert("advert_int", &f.advert_interval.keepalived_value());
    ctx.insert("virtual_router_id", &f.virtual_router_id);
    ctx.insert(
        "priority",
        &if f.preferred_node == i { 150u8 } else { 100u8 },
    );
    ctx.insert("preempt", &f.preempt);
    // Seconds the non-preferred node waits before running VRRP: covers the start-up skew of
    // two nodes started together, so the preferred node wins the first election.
    ctx.insert(
        "startup_delay",
        &if f.preferred_node == i {
            0u8
        } else {
            STARTUP_DELAY_SECS
        },
    );
    ctx.insert("fifo_path", paths::FIFO);
    ctx.insert("health_check_path", paths::HEALTH_CHECK);
    match &f.health_check {
        Some(h) => {
            let mut hc = tera::Context::new();
            hc.insert("interval", &h.interval);
            hc.insert("timeout", &h.timeout);
            hc.insert("fall", &h.fall);
            hc.insert("rise", &h.rise);
            ctx.insert("health_check", &hc.into_json());
        }
        None => ctx.insert("health_check", &false),
    }
}

/// The agent's settings file (agent.env): where the VIP lives in OCI, which endpoints to call
/// (production defaults, or a simulator's in tests), alerts, and its timings and directories.
fn agent_settings(ctx: &mut tera::Context, bp: &Blueprint, facts: &Facts) {
    let f = &bp.failover;
    let agent = &facts.agent;
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    ctx.insert(
        "notify_topic",
        bp.failover
            .notify_topic
            .as_ref()
            .map(|t| t.as_str())
            .unwrap_or_default(),
    );
    ctx.insert("notify_endpoint", &opt(&agent.notify_endpoint));
    ctx.insert("peer_wait", &PEER_WAIT_SECS);
    ctx.insert("subnet_id", bp.network.subnet.as_str());
    ctx.insert("compartment_id", bp.oci.compartment.as_str());
    ctx.insert("region", &facts.region);
    ctx.insert("endpoint", &opt(&agent.endpoint));
    ctx.insert("federation_endpoint", &opt(&agent.federation_endpoint));
    ctx.insert("metadata_base_url", &opt(&agent.metadata_base_url));
    ctx.insert("realm_domain", "oraclecloud.com");
    ctx.insert("recheck_interval", &f.recheck_interval.to_string());
    ctx.insert(
        "keepalived_reload",
        &agent.keepalived_reload.clone().unwrap_or_default(),
    );
    ctx.insert(
        "state_dir",
        &agent
            .state_dir
            .clone()
            .unwrap_or_else(|| paths::STATE_DIR.to_string()),
    );
    ctx.insert(
        "runtime_dir",
        &agent
            .runtime_dir
            .clone()
            .unwrap_or_else(|| paths::RUNTIME_DIR.to_string()),
    );
}

/// The cloud-config holding `files`, and the user data value: base64, gzipped first only when
/// plain would not fit OCI's metadata limit (with the ssh keys); refused if it still does not.
fn user_data(
    tera: &tera::Tera,
    bp: &Blueprint,
    name: &str,
    mut ctx: tera::Context,
    files: Vec<RenderedFile>,
    settings_env: RenderedFile,
) -> Result<RenderedNode, RenderError> {
    let file_ctx: Vec<FileCtx> = files
        .iter()
        .map(|f| FileCtx {
            path: &f.path,
            mode_octal: format!("{:04o}", f.mode),
            content: f.content.trim_end_matches('\n'),
        })
        .collect();
    ctx.insert("files", &file_ctx);
    let mut cloud_config = run(tera, "cloud-config.yaml", &ctx)?;
    if !cloud_config.ends_with('\n') {
        cloud_config.push('\n');
    }

    let mut settings_files = files.clone();
    settings_files.push(settings_env);
    let settings = NodeSettings::from_files(&settings_files);
    let install_digest = settings::sha256_hex(settings::install_part(&cloud_config).as_bytes());
    let first_settings_digest = settings::first_settings_digest(&cloud_config);
    let b64 = base64::engine::general_purpose::STANDARD;
    let keys = bp.instance.ssh_authorized_keys().len();
    let mut user_data = b64.encode(cloud_config.as_bytes());
    let mut gzipped = false;
    if user_data.len() + keys > METADATA_LIMIT {
        user_data = b64.encode(gzip(cloud_config.as_bytes()));
        gzipped = true;
    }
    let metadata_bytes = user_data.len() + keys;
    // A node launches without the settings key (its user data holds the first settings); the
    // first change adds it, and it counts against the same limit (metadata and extendedMetadata
    // together, oci-python-sdk UpdateInstanceDetails.metadata). The largest version number is
    // counted, so no later version can push it over.
    let update_bytes =
        metadata_bytes + SETTINGS_KEY.len() + settings.metadata_value(u32::MAX).len();
    if update_bytes > METADATA_LIMIT {
        return Err(RenderError::TooLarge {
            node: name.to_string(),
            bytes: update_bytes,
            limit: METADATA_LIMIT,
        });
    }
    Ok(RenderedNode {
        name: name.to_string(),
        cloud_config,
        user_data,
        gzipped,
        metadata_bytes,
        update_bytes,
        files,
        settings,
        install_digest,
        first_settings_digest,
    })
}

/// Deterministic gzip (no timestamp, no file name): cloud-init unpacks gzipped user data.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// The cloud-config in a `user_data` value, read back as cloud-init reads it: base64, then
/// gunzipped when it starts with gzip's magic bytes. `None` when it is not that.
pub fn decode_user_data(user_data: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(user_data)
        .ok()?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    } else {
        String::from_utf8(raw).ok()
    }
}

/// Writes a file atomically: a temporary file next to it, then a rename, so readers never see
/// half a file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
