//! The plan's attribute diff: every attribute of a resource that differs, old and new value
//! (Terraform-style), and the one rule that says which of them force a replacement. The
//! settings a node runs (VIPs, preempt, timings, health check...) are read back from its
//! settings key or, before its first change, from its user data, so the plan shows
//! `preempt: false -> true` rather than "the settings changed". Secrets are never values here:
//! the health check command (it may carry credentials) shows as `(sensitive)`, and ssh keys by
//! type, fingerprint and comment.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::drift::Change;
use super::model::{DesiredNode, LiveInstance, Resource};
use super::plan::Step;
use crate::render::{paths, settings};

/// Why changing `path` of `resource` needs a new resource, or `None` when OCI changes it in
/// place. The one place that decides: `plan::replacement_reasons` replaces a node for exactly
/// the attributes named here, and the plan's `forces_replacement` flag is set from it.
pub fn replacement_cause(resource: Resource, path: &str) -> Option<&'static str> {
    match resource {
        Resource::Node1 | Resource::Node2 => match path {
            "display_name" => Some("the name is the node's hostname, set at launch"),
            "availability_domain" => Some("an instance can't move to another availability domain"),
            "image" => Some("the boot volume is made from the image at launch"),
            "private_ip" => Some("the primary vnic's address is fixed at launch"),
            // The user data's install part (render::settings::install_part): cloud-init runs
            // the user data once, at first boot.
            AGENT_FILES => {
                Some("the agent's installed files changed (cloud-init runs the user data only at first boot)")
            }
            USER_DATA => Some("the user data changed (cloud-init only runs it at first boot)"),
            // In place: the shape and the fault domain with UpdateInstance (OCI reboots a
            // running instance for them; UpdateInstanceDetails.shape and .faultDomain,
            // oci-python-sdk core/models/update_instance_details.py); the settings (and each
            // setting read from them) with the `vipsetup-settings` metadata key, which the agent
            // applies live (render::settings). The ssh keys are fixed at launch ("cannot be
            // changed after an instance has launched", UpdateInstanceDetails.metadata), but
            // replacing a server for a key is the user's call: the plan notes them
            // (plan::ssh_keys_note) and `--replace` replaces.
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

/// The settings read from the user data or the settings key, by the path the plan shows them
/// under, in the order a reader of the blueprint expects.
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

/// The user data's install part (the agent's scripts and fixed settings; the same for every
/// blueprint of one vipsetup release but for the node's name and address): shown as one digest,
/// changed by a vipsetup upgrade.
pub const AGENT_FILES: &str = "agent_files";
/// User data vipsetup can't read (not rendered by vipsetup): shown as one digest.
pub const USER_DATA: &str = "user_data";
/// List-valued settings: one change per item added or removed.
const LISTS: &[&str] = &["vips", "vip6"];
/// Shown for the health check command instead of its text.
pub const SENSITIVE: &str = "(sensitive)";

/// Whether `path` is one of the settings (what the settings key carries), not the install part.
pub fn is_setting(path: &str) -> bool {
    !matches!(path, AGENT_FILES | USER_DATA | "interface") && USER_DATA_SETTINGS.contains(&path)
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
    settings_diff(&old, &new)
}

/// The settings a running node has (its settings key, or before the first change the first
/// settings in its user data) against the blueprint's, setting by setting; empty when either
/// can't be read (the plan still shows `settings: vN -> vN+1`).
pub fn node_settings_changes(want: &DesiredNode, live: &LiveInstance) -> Vec<Change> {
    let running = match live.metadata.get(settings::SETTINGS_KEY) {
        Some(value) => key_settings(value),
        None => live.user_data.as_deref().and_then(user_data_settings),
    };
    let (Some(mut old), Some(mut new)) = (running, user_data_settings(&want.user_data)) else {
        return Vec::new();
    };
    // Not carried by the settings: the install part, and the interface keepalived runs on
    // (agent.env's INTERFACE, part of it); a change of those is a replacement's.
    for m in [&mut old, &mut new] {
        m.remove(AGENT_FILES);
        m.remove("interface");
    }
    settings_diff(&old, &new)
}

/// Two sets of settings compared: one change per setting, one per item for lists, in the order
/// a reader of the blueprint expects.
fn settings_diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<Change> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
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

/// The settings in user data vipsetup rendered, read back from its agent settings file,
/// keepalived's configuration and the health check (templates/agent.env.tera,
/// keepalived.conf.tera), and `agent_files`: the digest of its install part (what only a new
/// instance takes, render::settings::install_part). `None` when the user data is not that.
pub fn user_data_settings(user_data: &str) -> Option<BTreeMap<String, String>> {
    let cloud_config = crate::render::decode_user_data(user_data)?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&cloud_config).ok()?;
    let files = doc.get("write_files")?.as_sequence()?;
    let mut pairs = Vec::new();
    for f in files {
        pairs.push((f.get("path")?.as_str()?, f.get("content")?.as_str()?));
    }
    let mut out = files_settings(&pairs)?;
    out.insert(
        AGENT_FILES.to_string(),
        digest(settings::install_part(&cloud_config).as_bytes()),
    );
    Some(out)
}

/// The settings in a `vipsetup-settings` value (render::settings: its payload's sections);
/// `None` when it is not one or its payload does not match its digest.
pub fn key_settings(value: &str) -> Option<BTreeMap<String, String>> {
    let payload = settings::decode_payload(value)?;
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for line in payload.lines() {
        if let Some(role) = line.strip_prefix(settings::SECTION) {
            let path = settings::ROLES.iter().find(|(r, _)| *r == role)?.1;
            pairs.push((path, String::new()));
        } else if let Some((_, content)) = pairs.last_mut() {
            content.push_str(line);
            content.push('\n');
        }
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(p, c)| (*p, c.as_str())).collect();
    files_settings(&pairs)
}

/// The settings in the files that carry them, by path; `None` without an agent settings file
/// (agent.env in the user data, settings.env in the settings key).
fn files_settings(files: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut seen_env = false;
    for &(path, content) in files {
        match path {
            paths::AGENT_ENV | paths::SETTINGS_ENV => {
                seen_env = true;
                for line in content.lines() {
                    let Some((key, value)) = line.split_once('=') else {
                        continue;
                    };
                    let name = match key {
                        "VIPS" => "vips",
                        "VIPS6" => "vip6",
                        "INTERFACE" => "interface",
                        "PEER_IP" => "peer_ip",
                        "PREFERRED" => "preferred",
                        "RECHECK_INTERVAL" => "recheck_interval",
                        "NOTIFY_TOPIC" => "notify_topic",
                        // Shown elsewhere (name, address), implied by the VIPs, or fixed.
                        _ => continue,
                    };
                    let value = shell_unquote(value);
                    if !value.is_empty() {
                        out.insert(name.to_string(), value);
                    }
                }
            }
            paths::KEEPALIVED_CONF => keepalived_settings(content, &mut out),
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
            _ => {}
        }
    }
    seen_env.then_some(out)
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

/// `line` of a change as it may be printed: without the hidden tails.
pub fn shown(c: &Change) -> String {
    let mut c = c.clone();
    for v in [&mut c.from, &mut c.to].into_iter().flatten() {
        *v = strip_hidden(v).to_string();
    }
    line(&c)
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

fn keepalived_settings(content: &str, out: &mut BTreeMap<String, String>) {
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
            // The rest is implied by the settings above (the VRRP version by the interval, the
            // start-up delay by the preferred node, the health check's wiring, the VIPs' and
            // the peer's addresses) or the same for every blueprint: the install part's digest
            // (`agent_files`) is what tells vipsetup releases apart.
            _ => {}
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
            (Resource::Node1, "image", true),
            (Resource::Node1, "availability_domain", true),
            (Resource::Node2, "private_ip", true),
            (Resource::Node1, "display_name", true),
            (Resource::Node1, AGENT_FILES, true),
            (Resource::Node1, USER_DATA, true),
            // In place: the settings key (each setting in it), UpdateInstance, UpdateVnic.
            (Resource::Node1, "settings", false),
            (Resource::Node1, "preempt", false),
            (Resource::Node2, "vips", false),
            (Resource::Node1, "health_check.command", false),
            (Resource::Node1, "shape", false),
            (Resource::Node1, "fault_domain", false),
            (Resource::Node1, "memory_gb", false),
            // Fixed at launch, but noted, never a replacement nobody asked for.
            (Resource::Node1, "ssh_authorized_keys", false),
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
        let c = Change::new("preempt", Some("false".into()), Some("true".into()));
        assert_eq!(line(&c), "preempt: false -> true");
        let mut c = Change::new(
            "private_ip",
            Some("172.16.2.11".into()),
            Some("172.16.2.12".into()),
        );
        c.forces_replacement = true;
        assert_eq!(
            line(&c),
            "private_ip: 172.16.2.11 -> 172.16.2.12  # forces replacement"
        );
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
        rendered_node(failover, vip).user_data
    }

    /// Node 1 as the real renderer makes it.
    fn rendered_node(failover: &str, vip: &str) -> crate::render::RenderedNode {
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
        crate::render::render(&bp, &facts).unwrap().swap_remove(0)
    }

    /// The settings key carries the same settings as the user data it stands in for, and a
    /// running node's changes are read from the key it runs.
    #[test]
    fn the_settings_key_reads_back_as_the_user_data_does() {
        let n = rendered_node(
            "  preempt: true\n  health_check:\n    command: \"true\"\n",
            "[172.16.2.10/24, 172.16.2.21/24]",
        );
        let mut from_user_data = user_data_settings(&n.user_data).unwrap();
        assert!(from_user_data.remove(AGENT_FILES).is_some());
        // The interface is the install part's (agent.env), not a setting the key carries.
        assert!(from_user_data.remove("interface").is_some());
        let from_key = key_settings(&n.settings.metadata_value(3)).expect("a settings value");
        assert_eq!(from_key, from_user_data);
        // A value whose payload does not match its digest is not read.
        let v = n.settings.metadata_value(3);
        let tampered = v.replace(&n.settings.digest[..6], "000000");
        assert_eq!(key_settings(&tampered), None);

        // The node runs v3 (preempt on); the blueprint turns it off again.
        let want_ud = rendered("  preempt: false\n", "[172.16.2.10/24, 172.16.2.21/24]");
        let d = crate::engine::plan::tests::desired();
        let o = crate::engine::plan::tests::converged(&d);
        let mut live = o.live_node(0).unwrap().clone();
        live.user_data = Some(rendered("  preempt: false\n", "172.16.2.10/24"));
        live.metadata = [(settings::SETTINGS_KEY.to_string(), v)].into();
        let mut want = d.nodes[0].clone();
        want.user_data = want_ud;
        let got: Vec<String> = node_settings_changes(&want, &live)
            .iter()
            .map(|c| line(c).replace('\u{0}', "#"))
            .collect();
        assert!(
            got.contains(&"preempt: true -> false".to_string()),
            "{got:?}"
        );
        assert!(
            got.iter().any(|l| l.starts_with("health_check: - enabled")),
            "{got:?}"
        );
        // The VIPs are the same in the key and the blueprint (not in the first user data).
        assert!(!got.iter().any(|l| l.starts_with("vips")), "{got:?}");
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
