//! The settings a user may change on a running pair (VIPs, timings, preempt, priorities, the
//! health check, the alert topic, the peer's address) as one versioned custom metadata key per
//! instance, which the agent on the node reads, checks and applies live; and the install part of
//! the user data (what only a new instance can change).
//!
//! Why a metadata key: OCI fixes `user_data` and `ssh_authorized_keys` at launch, but custom
//! metadata keys change in place with UpdateInstance ("Any set of key/value pairs provided here
//! will completely replace the current set ... You must provide the same values for user_data and
//! ssh_authorized_keys", oci-python-sdk UpdateInstanceDetails.metadata), and the node reads them
//! from the instance metadata service. The user data still carries the first settings (the same
//! files), so a node boots whole without waiting for the metadata service.
//!
//! The value, as the agent parses it (templates/agent/vip-agent/10-settings.sh):
//! ```text
//! vipsetup-settings v<version> sha256:<hex of the payload>
//! <base64 of the gzipped payload>
//! ```
//! and the payload, one section per file (a role, never a path: the agent decides where each
//! goes):
//! ```text
//! === keepalived.conf
//! ...
//! === settings.env
//! ...
//! === health-check        (only with a health check)
//! ...
//! ```

use base64::Engine as _;

/// The custom metadata key holding a node's settings.
pub const SETTINGS_KEY: &str = "vipsetup-settings";
/// The first word of the value.
const MAGIC: &str = "vipsetup-settings";
/// A payload section's first line: `=== <role>`.
pub const SECTION: &str = "=== ";

/// The files the settings carry, in payload order: their role and where they live on the node.
pub const ROLES: [(&str, &str); 3] = [
    ("keepalived.conf", super::paths::KEEPALIVED_CONF),
    ("settings.env", super::paths::SETTINGS_ENV),
    ("health-check", super::paths::HEALTH_CHECK),
];

/// The keys of agent.env the settings carry (settings.env holds them, and wins over agent.env
/// on the node): the install part of the user data leaves their lines out.
pub const LIVE_KEYS: [&str; 10] = [
    "PEER_IP",
    "PREFERRED",
    "VIP",
    "VIP_PREFIX",
    "VIPS",
    "VIPS6",
    "NOTIFY_TOPIC",
    "RECHECK_INTERVAL",
    "BACKOFF_INITIAL",
    "BACKOFF_MAX",
];

/// A node's settings, before the engine gives them a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSettings {
    /// The payload (see the module's docs).
    pub payload: String,
    /// sha256 of the payload, hex: what tells two versions apart.
    pub digest: String,
}

impl NodeSettings {
    /// The payload from the rendered files: each settings file that exists, in role order, its
    /// content ending in exactly one newline (as cloud-init's write_files writes it).
    pub fn from_files(files: &[super::RenderedFile]) -> NodeSettings {
        let mut payload = String::new();
        for (role, path) in ROLES {
            if let Some(f) = files.iter().find(|f| f.path == path) {
                payload.push_str(SECTION);
                payload.push_str(role);
                payload.push('\n');
                payload.push_str(f.content.trim_end_matches('\n'));
                payload.push('\n');
            }
        }
        let digest = sha256_hex(payload.as_bytes());
        NodeSettings { payload, digest }
    }

    /// The metadata value for version `version`.
    pub fn metadata_value(&self, version: u32) -> String {
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(super::gzip(self.payload.as_bytes()));
        format!("{MAGIC} v{version} sha256:{}\n{b64}\n", self.digest)
    }
}

/// The version and digest a settings value names (`None` when it is not one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsHeader {
    pub version: u32,
    pub digest: String,
}

pub fn parse_header(value: &str) -> Option<SettingsHeader> {
    let line = value.lines().next()?;
    let mut w = line.split(' ');
    if w.next()? != MAGIC {
        return None;
    }
    let version = w.next()?.strip_prefix('v')?.parse().ok()?;
    let digest = w.next()?.strip_prefix("sha256:")?.to_string();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) || w.next().is_some() {
        return None;
    }
    Some(SettingsHeader { version, digest })
}

/// The payload inside a settings value, checked against the digest its header names.
pub fn decode_payload(value: &str) -> Option<String> {
    let h = parse_header(value)?;
    let b64 = value.lines().nth(1)?;
    let gz = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).ok()?;
    (sha256_hex(text.as_bytes()) == h.digest).then_some(text)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The part of a cloud-config that only a new instance can change: every file but the settings
/// files, agent.env without the live keys' lines, and no header comment (it names the VIP).
/// Two user data with the same install part differ only in their first settings, which the
/// settings key replaces on a running node.
pub fn install_part(cloud_config: &str) -> String {
    let settings_paths: Vec<&str> = ROLES.iter().map(|(_, p)| *p).collect();
    let mut out = String::new();
    let mut skip = false;
    let mut in_agent_env = false;
    for line in cloud_config.lines() {
        if line.starts_with("# vipsetup: ") {
            continue;
        }
        if let Some(path) = line.strip_prefix("  - path: ") {
            skip = settings_paths.contains(&path);
            in_agent_env = path == super::paths::AGENT_ENV;
        } else if !line.starts_with("  ") {
            skip = false;
            in_agent_env = false;
        }
        if skip {
            continue;
        }
        if in_agent_env {
            let body = line.trim_start();
            if LIVE_KEYS
                .iter()
                .any(|k| body.strip_prefix(k).is_some_and(|r| r.starts_with('=')))
            {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// sha256 of what `install_part` leaves out (the settings files and agent.env's live lines):
/// the first settings of a node launched with this cloud-config.
pub fn first_settings_digest(cloud_config: &str) -> String {
    let install = install_part(cloud_config);
    let mut kept = install.lines().peekable();
    let mut rest = String::new();
    for line in cloud_config.lines() {
        if kept.peek() == Some(&line) {
            kept.next();
        } else {
            rest.push_str(line);
            rest.push('\n');
        }
    }
    sha256_hex(rest.as_bytes())
}

/// The install and first-settings digests of a `user_data` value (`None` when it is not
/// vipsetup's kind of user data: cloud-init base64, gzipped or not).
pub fn user_data_digests(user_data: &str) -> Option<(String, String)> {
    let text = super::decode_user_data(user_data)?;
    Some((
        sha256_hex(install_part(&text).as_bytes()),
        first_settings_digest(&text),
    ))
}

/// sha256 of the install part of a `user_data` value (`None` when it is not vipsetup's kind of
/// user data: cloud-init base64, gzipped or not).
pub fn install_digest(user_data: &str) -> Option<String> {
    let text = super::decode_user_data(user_data)?;
    Some(sha256_hex(install_part(&text).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_reads_back_its_version_digest_and_payload() {
        let s = NodeSettings {
            payload: "=== settings.env\nVIPS='10.0.0.5/24'\n".into(),
            digest: sha256_hex(b"=== settings.env\nVIPS='10.0.0.5/24'\n"),
        };
        let v = s.metadata_value(7);
        let h = parse_header(&v).unwrap();
        assert_eq!(h.version, 7);
        assert_eq!(h.digest, s.digest);
        assert_eq!(decode_payload(&v).as_deref(), Some(s.payload.as_str()));
        // A payload that does not match its digest is not one.
        let tampered = v.replace(&s.digest[..4], "0000");
        assert_eq!(decode_payload(&tampered), None);
        assert_eq!(parse_header("vipsetup-settings 7 sha256:00"), None);
    }
}

#[cfg(test)]
mod install_tests {
    use crate::blueprint::AdvertInterval;
    use crate::render::{render, Facts};

    fn quickstart() -> crate::blueprint::Blueprint {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/quickstart.yaml");
        crate::blueprint::load(&p).unwrap()
    }

    /// What a user may change on a running pair leaves the install part alone and changes the
    /// settings; what only a new instance can take (another node address) changes it.
    #[test]
    fn live_settings_change_the_settings_not_the_install_part() {
        let bp = quickstart();
        let facts = Facts::offline(&bp).unwrap();
        let before = render(&bp, &facts).unwrap();
        type Edit = Box<dyn Fn(&mut crate::blueprint::Blueprint)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "preempt",
                Box::new(|b| b.failover.preempt = !b.failover.preempt),
            ),
            (
                "advert interval",
                Box::new(|b| {
                    b.failover.advert_interval = AdvertInterval::from_centis(200).unwrap()
                }),
            ),
            ("recheck", Box::new(|b| b.failover.recheck_interval += 3)),
            (
                "a second vip",
                Box::new(|b| b.network.vips.push("172.16.2.20".parse().unwrap())),
            ),
            (
                "a health check",
                Box::new(|b| {
                    b.failover.health_check = Some(crate::blueprint::HealthCheck {
                        command: "true".into(),
                        interval: 2,
                        timeout: 2,
                        fall: 2,
                        rise: 2,
                    })
                }),
            ),
        ];
        for (what, edit) in edits {
            let mut b = bp.clone();
            edit(&mut b);
            let after = render(&b, &facts).unwrap();
            for i in 0..2 {
                assert_eq!(before[i].install_digest, after[i].install_digest, "{what}");
                assert_ne!(
                    before[i].settings.digest, after[i].settings.digest,
                    "{what}"
                );
            }
        }
        let mut moved = facts.clone();
        moved.node_ips[1] = "172.16.2.99".parse().unwrap();
        let after = render(&bp, &moved).unwrap();
        assert_ne!(before[1].install_digest, after[1].install_digest);
        // The install part is what the user data decodes to, less the settings.
        assert_eq!(
            super::install_digest(&before[0].user_data).as_deref(),
            Some(before[0].install_digest.as_str())
        );
    }
}
