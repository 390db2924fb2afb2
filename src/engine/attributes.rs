//! The plan's attribute diff: every attribute of a resource that differs, old and new value
//! (Terraform-style), and the one rule that says which of them force a replacement. The
//! settings that travel in a node's user data (VIPs, preempt, timings, health check...) are
//! read back from the user data itself, so the plan shows `preempt: false -> true` rather than
//! "the user data changed". Secrets are never values here: the health check command (it may
//! carry credentials) shows as `(sensitive)`, and ssh keys by type, fingerprint and comment.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::drift::Change;
use super::model::{DesiredNode, LiveInstance, Resource};
use super::plan::Step;
use crate::render::paths;

/// Why changing `path` of `resource` needs a new resource, or `None` when OCI changes it in
/// place. Today's rules; the one place that decides the `forces_replacement` flag.
pub fn replacement_cause(resource: Resource, path: &str) -> Option<&'static str> {
    match resource {
        Resource::Node1 | Resource::Node2 => match path {
            "display_name" => Some("the name is the node's hostname, set at launch"),
            "availability_domain" => Some("an instance can't move to another availability domain"),
            "fault_domain" => Some("vipsetup places a node in its fault domain at launch"),
            "shape" => Some("vipsetup sets the shape at launch"),
            "image" => Some("the boot volume is made from the image at launch"),
            "private_ip" => Some("the primary vnic's address is fixed at launch"),
            "ssh_authorized_keys" => Some("OCI metadata ssh keys are fixed at launch"),
            p if is_user_data_setting(p) => {
                Some("the user data changed (cloud-init only runs it at first boot)")
            }
            _ => None,
        },
        Resource::DynamicGroup => (path == "name").then_some("OCI can't rename a dynamic group"),
        Resource::Policy => match path {
            "name" => Some("OCI can't rename a policy"),
            "compartment_id" => Some("a policy can't move to another compartment in place"),
            _ => None,
        },
        Resource::Vip => (path == "address")
            .then_some("its private ip is deleted and one made at the new address"),
        Resource::Nsg => None,
    }
}

/// Sets every change's `forces_replacement` from `replacement_cause`.
pub fn mark(steps: &mut [Step]) {
    for s in steps {
        let r = s.resource;
        for c in &mut s.changes {
            c.forces_replacement = replacement_cause(r, &c.attribute).is_some();
        }
    }
}

/// The settings read from the user data, by the path the plan shows them under.
const USER_DATA_SETTINGS: &[&str] = &[
    "vips",
    "vip6",
    "interface",
    "peer_ip",
    "preferred",
    "priority",
    "preempt",
    "advert_interval",
    "virtual_router_id",
    "recheck_interval",
    "notify_topic",
    "health_check",
    "health_check.command",
    "health_check.interval",
    "health_check.timeout",
    "health_check.fall",
    "health_check.rise",
    AGENT_FILES,
    USER_DATA,
];

/// The agent's scripts and fixed settings (the same for every blueprint of one vipsetup
/// release): shown as one digest, changed by a vipsetup upgrade.
const AGENT_FILES: &str = "agent_files";
/// User data vipsetup can't read (not rendered by vipsetup): shown as one digest.
const USER_DATA: &str = "user_data";
/// List-valued settings: one change per item added or removed.
const LISTS: &[&str] = &["vips", "vip6"];
/// Shown for the health check command instead of its text.
pub const SENSITIVE: &str = "(sensitive)";

fn is_user_data_setting(path: &str) -> bool {
    USER_DATA_SETTINGS.contains(&path)
}

/// What OCI fixes at launch and differs between the live instance and the blueprint, attribute
/// by attribute. `image_names` gives names to image OCIDs.
pub fn launch_changes(
    want: &DesiredNode,
    live: &LiveInstance,
    image_names: &BTreeMap<String, String>,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut scalar = |path: &str, from: &str, to: &str| {
        if from != to {
            out.push(Change::new(path, Some(from.into()), Some(to.into())));
        }
    };
    scalar("display_name", &live.display_name, &want.name);
    scalar(
        "availability_domain",
        &live.availability_domain,
        &want.availability_domain,
    );
    if let Some(fd) = &live.fault_domain {
        scalar("fault_domain", fd, &want.fault_domain);
    }
    scalar("shape", &live.shape, &want.shape);
    if let Some(ip) = live.vnic.as_ref().and_then(|v| v.private_ip) {
        scalar("private_ip", &ip.to_string(), &want.private_ip.to_string());
    }
    if let Some(image) = live.image_id.as_ref().filter(|i| **i != want.image_id) {
        let mut c = Change::new("image", Some(image.clone()), Some(want.image_id.clone()));
        c.old_name = image_names.get(image).cloned();
        c.new_name = image_names.get(&want.image_id).cloned();
        out.push(c);
    }
    if let Some(keys) = &live.ssh_authorized_keys {
        out.extend(ssh_key_changes(keys, &want.ssh_authorized_keys));
    }
    if let Some(ud) = &live.user_data {
        if ud != &want.user_data {
            out.extend(user_data_changes(ud, &want.user_data));
        }
    }
    out
}

/// Keys added and removed, each shown as `type SHA256:fingerprint comment` (as `ssh-keygen -l`
/// prints it): short, and enough to tell keys apart.
pub fn ssh_key_changes(live: &str, want: &str) -> Vec<Change> {
    let set = |s: &str| -> Vec<String> {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (old, new) = (set(live), set(want));
    let mut out: Vec<Change> = old
        .iter()
        .filter(|k| !new.contains(k))
        .map(|k| Change::new("ssh_authorized_keys", Some(key_label(k)), None))
        .collect();
    out.extend(
        new.iter()
            .filter(|k| !old.contains(k))
            .map(|k| Change::new("ssh_authorized_keys", None, Some(key_label(k)))),
    );
    out
}

/// `ssh-ed25519 SHA256:... me@laptop` for one authorized_keys line.
pub fn key_label(line: &str) -> String {
    let mut parts = line.split_whitespace();
    let kind = parts.next().unwrap_or("key");
    let blob = parts.next().unwrap_or("");
    let comment: Vec<&str> = parts.collect();
    let fp = match base64::engine::general_purpose::STANDARD.decode(blob) {
        Ok(raw) => format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(ring::digest::digest(&ring::digest::SHA256, &raw))
        ),
        Err(_) => "(unreadable key)".to_string(),
    };
    let mut s = format!("{kind} {fp}");
    if !comment.is_empty() {
        s.push(' ');
        s.push_str(&comment.join(" "));
    }
    s
}

/// The settings that differ between two user data values (base64, maybe gzipped), by name.
/// User data vipsetup did not render shows as one `user_data` change of digests.
pub fn user_data_changes(live: &str, want: &str) -> Vec<Change> {
    let (Some(old), Some(new)) = (user_data_settings(live), user_data_settings(want)) else {
        return vec![Change::new(
            USER_DATA,
            Some(digest(live.as_bytes())),
            Some(digest(want.as_bytes())),
        )];
    };
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    // The plan shows them in the order a reader of the blueprint expects.
    let mut keys: Vec<&String> = keys.into_iter().collect();
    keys.sort_by_key(|k| {
        USER_DATA_SETTINGS
            .iter()
            .position(|s| s == k)
            .unwrap_or(usize::MAX)
    });
    for k in keys {
        let (a, b) = (old.get(k), new.get(k));
        if a == b {
            continue;
        }
        if LISTS.contains(&k.as_str()) {
            let items = |v: Option<&String>| -> Vec<String> {
                v.map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default()
            };
            let (a, b) = (items(a), items(b));
            out.extend(
                a.iter()
                    .filter(|x| !b.contains(x))
                    .map(|x| Change::new(k.as_str(), Some(x.clone()), None)),
            );
            out.extend(
                b.iter()
                    .filter(|x| !a.contains(x))
                    .map(|x| Change::new(k.as_str(), None, Some(x.clone()))),
            );
        } else {
            out.push(Change::new(k.as_str(), a.cloned(), b.cloned()));
        }
    }
    out
}

/// `sha256:` and the first 12 hex digits: tells two values apart without showing them.
fn digest(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The settings in user data vipsetup rendered: read back from its agent settings file and
/// keepalived's configuration (templates/agent.env.tera, keepalived.conf.tera); `None` when
/// the user data is not that.
pub fn user_data_settings(user_data: &str) -> Option<BTreeMap<String, String>> {
    let cloud_config = crate::render::decode_user_data(user_data)?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&cloud_config).ok()?;
    let files = doc.get("write_files")?.as_sequence()?;
    let mut out = BTreeMap::new();
    let mut fixed = String::new();
    let mut seen_env = false;
    for f in files {
        let path = f.get("path")?.as_str()?;
        let content = f.get("content")?.as_str()?;
        match path {
            paths::AGENT_ENV => {
                seen_env = true;
                for line in content.lines() {
                    let Some((key, value)) = line.split_once('=') else {
                        continue;
                    };
                    if key.starts_with('#') {
                        continue;
                    }
                    let value = shell_unquote(value);
                    let name = match key {
                        "VIPS" => "vips",
                        "VIPS6" => "vip6",
                        "INTERFACE" => "interface",
                        "PEER_IP" => "peer_ip",
                        "PREFERRED" => "preferred",
                        "RECHECK_INTERVAL" => "recheck_interval",
                        "NOTIFY_TOPIC" => "notify_topic",
                        // Shown elsewhere (name, address) or implied by the VIPs.
                        "PAIR_NAME" | "NODE_NAME" | "NODE_IP" | "VIP" | "VIP_PREFIX" => continue,
                        _ => {
                            fixed.push_str(line);
                            fixed.push('\n');
                            continue;
                        }
                    };
                    if !value.is_empty() {
                        out.insert(name.to_string(), value);
                    }
                }
            }
            paths::KEEPALIVED_CONF => keepalived_settings(content, &mut out, &mut fixed),
            paths::HEALTH_CHECK => {
                // Changes of the command itself are told apart by a digest kept out of sight.
                // Only the command (templates/health-check.sh.tera: `exec timeout T bash -c
                // '...'`): the timeout in the same line is health_check.timeout's.
                let command = content
                    .lines()
                    .find_map(|l| l.split_once(" bash -c ").map(|(_, c)| c))
                    .unwrap_or(content);
                out.insert(
                    "health_check.command".to_string(),
                    format!("{SENSITIVE}{}", hidden_marker(command)),
                );
            }
            _ => {
                fixed.push_str(path);
                fixed.push('\n');
                fixed.push_str(content);
            }
        }
    }
    if !seen_env {
        return None;
    }
    out.insert(AGENT_FILES.to_string(), digest(fixed.as_bytes()));
    Some(out)
}

/// A zero-width tail that makes two different commands compare unequal while the value shown
/// stays `(sensitive)`: `strip_hidden` removes it before anything is printed or serialized.
fn hidden_marker(content: &str) -> String {
    format!("\u{0}{}", digest(content.as_bytes()))
}

/// The value as shown: without `hidden_marker`'s tail.
pub fn strip_hidden(v: &str) -> &str {
    v.split('\u{0}').next().unwrap_or(v)
}

/// Removes the hidden tails from every change (before a plan leaves the engine).
pub fn strip_hidden_values(steps: &mut [Step]) {
    for s in steps {
        for c in &mut s.changes {
            for v in [&mut c.from, &mut c.to].into_iter().flatten() {
                if v.contains('\u{0}') {
                    *v = strip_hidden(v).to_string();
                }
            }
        }
    }
}

fn keepalived_settings(content: &str, out: &mut BTreeMap<String, String>, fixed: &mut String) {
    let mut preempt = true;
    let mut in_script = false;
    for line in content.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let (Some(word), value) = (words.next(), words.next()) else {
            continue;
        };
        let value = value.unwrap_or("").to_string();
        match word {
            "vrrp_script" => {
                in_script = true;
                out.insert("health_check".to_string(), "enabled".to_string());
            }
            "}" => in_script = false,
            "interval" | "timeout" | "fall" | "rise" if in_script => {
                out.insert(format!("health_check.{word}"), value);
            }
            "advert_int" => {
                out.insert("advert_interval".to_string(), value);
            }
            "virtual_router_id" | "priority" => {
                out.insert(word.to_string(), value);
            }
            "nopreempt" => preempt = false,
            // Implied by the settings above (the VRRP version by the interval, the start-up
            // delay by the preferred node), or by the VIPs and addresses.
            "vrrp_version" | "vrrp_startup_delay" | "router_id" | "unicast_src_ip"
            | "interface" => {}
            // The health check's wiring (its script path, the tracking) and the IPv6 VIPs' block
            // come and go with health_check and vip6.
            "script" if in_script => {}
            "track_script" | "vipsetup_health" | "virtual_ipaddress_excluded" => {}
            w if w.starts_with('#') => {}
            // The peer's address (unicast_peer) and the VIPs: shown as peer_ip and vips.
            w if w.parse::<std::net::IpAddr>().is_ok() => {}
            _ if line.contains(" dev ") => {}
            _ => {
                fixed.push_str(line);
                fixed.push('\n');
            }
        }
    }
    out.insert("preempt".to_string(), preempt.to_string());
}

/// A value as `render::shell_quote` wrote it: `'...'` with `'\''` for a quote.
fn shell_unquote(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) => inner.replace(r"'\''", "'"),
        None => v.to_string(),
    }
}

/// One change as the text plan shows it: `path: old -> new`, `path: + item`, `path: - item`,
/// image OCIDs with their names.
pub fn line(c: &Change) -> String {
    let show = |v: &str, name: &Option<String>| match name {
        Some(n) => format!("{v} ({n})"),
        None => v.to_string(),
    };
    let mut s = match (&c.from, &c.to) {
        (None, Some(to)) => format!("{}: + {}", c.attribute, show(to, &c.new_name)),
        (Some(from), None) => format!("{}: - {}", c.attribute, show(from, &c.old_name)),
        (Some(from), Some(to)) => format!(
            "{}: {} -> {}",
            c.attribute,
            show(from, &c.old_name),
            show(to, &c.new_name)
        ),
        (None, None) => format!("{}: (unchanged)", c.attribute),
    };
    if c.forces_replacement {
        s.push_str("  # forces replacement");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_oci_fixes_at_launch_forces_replacement() {
        for (r, path, forces) in [
            (Resource::Node1, "preempt", true),
            (Resource::Node2, "vips", true),
            (Resource::Node1, "image", true),
            (Resource::Node1, "ocpus", false),
            (Resource::Node1, "freeform_tags.team", false),
            (Resource::Node1, "nsg_ids", false),
            (Resource::DynamicGroup, "name", true),
            (Resource::DynamicGroup, "matching_rule", false),
            (Resource::Policy, "statements", false),
            (Resource::Policy, "compartment_id", true),
            (Resource::Vip, "address", true),
            (Resource::Nsg, "rules", false),
        ] {
            assert_eq!(replacement_cause(r, path).is_some(), forces, "{r} {path}");
        }
    }

    #[test]
    fn a_change_reads_old_and_new() {
        let mut c = Change::new("preempt", Some("false".into()), Some("true".into()));
        c.forces_replacement = true;
        assert_eq!(line(&c), "preempt: false -> true  # forces replacement");
        let c = Change::new("vips", None, Some("172.16.2.21/24".into()));
        assert_eq!(line(&c), "vips: + 172.16.2.21/24");
        let mut c = Change::new(
            "image",
            Some("ocid1.image..a".into()),
            Some("ocid1.image..b".into()),
        );
        c.old_name = Some("Oracle-Linux-9.4".into());
        c.new_name = Some("Oracle-Linux-9.5".into());
        assert_eq!(
            line(&c),
            "image: ocid1.image..a (Oracle-Linux-9.4) -> ocid1.image..b (Oracle-Linux-9.5)"
        );
    }

    /// Node 1's user data for a blueprint with this failover section, by the real renderer.
    fn rendered(failover: &str, vip: &str) -> String {
        let src = format!(
            "name: p\noci:\n  region: ap-tokyo-1\n  compartment: ocid1.compartment.oc1..c\n\
             network:\n  subnet: ocid1.subnet.oc1.ap-tokyo-1.s\n  vip: {vip}\n\
             nodes:\n  - name: a\n    private_ip: 172.16.2.11\n  - name: b\n    private_ip: 172.16.2.12\n\
             instance:\n  shape: VM.Standard.E4.Flex\n  ocpus: 1\n  memory_gb: 8\n  image:\n\
             \x20   os: Oracle Linux\n    version: \"9\"\n  ssh_keys:\n    - key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFm8yY0wqKzRrN6Y9RkYxq0dXxj1o9u3mBn3yQv3m6Qp a\n\
             failover:\n{failover}"
        );
        let bp = crate::blueprint::parse(&src, std::path::Path::new("p.yaml"))
            .unwrap_or_else(|e| panic!("{e:?}\n{src}"));
        let facts = crate::render::Facts::offline(&bp).unwrap();
        crate::render::render(&bp, &facts).unwrap()[0]
            .user_data
            .clone()
    }

    /// Pins the reading of the user data to the templates: a template change that moves a
    /// setting out of reach fails here, not silently in a plan.
    #[test]
    fn settings_are_read_back_from_rendered_user_data() {
        let before = rendered("  preempt: false\n", "172.16.2.10/24");
        let settings = user_data_settings(&before).expect("vipsetup's user data");
        assert_eq!(settings["preempt"], "false");
        assert_eq!(settings["vips"], "172.16.2.10/24");
        assert_eq!(settings["advert_interval"], "1");
        assert_eq!(settings["priority"], "150");
        assert_eq!(settings["peer_ip"], "172.16.2.12");
        assert!(!settings.contains_key("health_check"));

        let after = rendered(
            "  preempt: true\n  advert_interval: 3\n  health_check:\n    command: \"curl -u admin:hunter2 http://127.0.0.1/\"\n    timeout: 1\n",
            "[172.16.2.10/24, 172.16.2.21/24]",
        );
        let got: Vec<String> = user_data_changes(&before, &after)
            .iter()
            .map(|c| {
                let mut c = c.clone();
                for v in [&mut c.from, &mut c.to].into_iter().flatten() {
                    *v = strip_hidden(v).to_string();
                }
                line(&c)
            })
            .collect();
        assert_eq!(
            got,
            [
                "vips: + 172.16.2.21/24",
                "preempt: false -> true",
                "advert_interval: 1 -> 3",
                "health_check: + enabled",
                "health_check.command: + (sensitive)",
                "health_check.interval: + 2",
                "health_check.timeout: + 1",
                "health_check.fall: + 2",
                "health_check.rise: + 2",
            ]
        );
        assert!(got.iter().all(|l| !l.contains("hunter2")), "{got:?}");
        // Not vipsetup's user data: one change of digests, no content.
        let foreign = base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n");
        let got = user_data_changes(&foreign, &after);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].attribute, "user_data");
        assert!(got[0].from.as_deref().unwrap().starts_with("sha256:"));
    }

    #[test]
    fn ssh_keys_show_as_fingerprints() {
        let a = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFm8yY0wqKzRrN6Y9RkYxq0dXxj1o9u3mBn3yQv3m6Qp alice@laptop";
        let b =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm8yY0wqKzRrN6Y9RkYxq0dXxj1o9u3mBn3yQv3m6Qp bob";
        let got = ssh_key_changes(a, &format!("{a}\n{b}\n"));
        assert_eq!(got.len(), 1, "{got:?}");
        let shown = got[0].to.as_deref().unwrap();
        assert!(shown.starts_with("ssh-ed25519 SHA256:"), "{shown}");
        assert!(shown.ends_with(" bob"), "{shown}");
        assert!(!shown.contains("AAAAC3"), "{shown}");
        assert_eq!(got[0].from, None);
    }
}
