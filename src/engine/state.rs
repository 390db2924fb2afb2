//! The state file: which OCIDs belong to the pair, the chosen node addresses and the nonce that
//! retry tokens derive from. Versioned JSON, no secrets, mode 0600, written atomically
//! (temp file + fsync + rename) after every step so a killed apply loses nothing it learned.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::Resource;

pub const STATE_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub pair: String,
    /// Random per state file; part of every retry token, so a fresh state never replays
    /// another pair's (or an older life's) creates.
    pub nonce: String,
    /// Incremented on every save; lets a reader tell two snapshots apart.
    pub serial: u64,
    /// The node addresses in use (from the blueprint, or picked once and then kept).
    #[serde(default)]
    pub node_ips: Option<[Ipv4Addr; 2]>,
    #[serde(default)]
    pub resources: BTreeMap<Resource, Recorded>,
    /// The VIPs after the first (secondary private IPs, Ipv6 objects), by address: recorded
    /// like a resource, so a re-run finds them and their creates keep their retry tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses: BTreeMap<String, Recorded>,
    /// The public IP that follows the first VIP; `name` is `adopted` for the user's own (never
    /// deleted), else vipsetup made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Recorded>,
    /// The last `vipsetup drill` (its timings and verdict), shown by status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<super::drill::DrillRecord>,
}

/// `Recorded::name` of a public IP that is the user's.
pub const ADOPTED: &str = "adopted";

/// What vipsetup knows of one resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Bumped each time the resource must be made anew (after a replacement or an out-of-band
    /// delete), so its retry token changes and OCI does not replay the dead one.
    #[serde(default)]
    pub generation: u32,
    /// Nodes: the primary VNIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnic_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Nodes: the image they were launched from, and the `os` + `version` it was looked up by
    /// (none when the blueprint pinned it): a newer image of that line is no reason to replace
    /// them, even once Oracle has withdrawn this one and GetImage no longer finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<RecordedImage>,
    /// vipsetup itself asked OCI to delete (terminate) it and had not seen it gone yet (a run
    /// stopped while waiting): the id stays so the next run can finish, but its absence is no
    /// news, never "deleted outside vipsetup".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
}

/// The image a node was launched from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordedImage {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<super::model::ImageLine>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid vipsetup state: {source}; restore it from a backup or move it away (the next apply rebuilds it from the pair's tags)")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("state file {path} has version {found}, this vipsetup understands version {STATE_VERSION}; use a matching vipsetup release")]
    Version { path: PathBuf, found: u32 },
    #[error("state file {path} belongs to pair {found:?}, the blueprint names {expected:?}; pass the right --state file")]
    WrongPair {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot write state file {path}: {source}; check the directory's permissions and free space")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the bucket {bucket:?} named by `state.bucket` does not exist in Object Storage namespace {namespace:?} (or this user may not read it), so the pair's state can't be read ({place}); fix `state.bucket` (and `state.namespace`) in the blueprint, or create the bucket: `oci os bucket create --name {bucket} --compartment-id <compartment>`")]
    NoBucket {
        place: String,
        bucket: String,
        namespace: String,
    },
    #[error("cannot read or write the state {place}: {source}")]
    Remote {
        place: String,
        source: Box<crate::oci::OciError>,
    },
    #[error("the state {place} was changed by another run since this one read it, so this run's write was refused (nothing was lost); run the command again to work from the new state")]
    Conflict { place: String },
}

impl State {
    pub fn new(pair: &str) -> State {
        State {
            version: STATE_VERSION,
            pair: pair.to_string(),
            nonce: new_nonce(),
            serial: 0,
            node_ips: None,
            resources: BTreeMap::new(),
            addresses: BTreeMap::new(),
            public_ip: None,
            last_drill: None,
        }
    }

    pub fn get(&self, r: Resource) -> Option<&Recorded> {
        self.resources.get(&r)
    }

    pub fn id(&self, r: Resource) -> Option<&str> {
        self.resources.get(&r).and_then(|x| x.id.as_deref())
    }

    pub fn entry(&mut self, r: Resource) -> &mut Recorded {
        self.resources.entry(r).or_default()
    }

    pub fn generation(&self, r: Resource) -> u32 {
        self.get(r).map_or(0, |x| x.generation)
    }

    /// Resources with a recorded OCID.
    pub fn recorded(&self) -> BTreeSet<Resource> {
        self.resources
            .iter()
            .filter(|(_, v)| v.id.is_some() && !v.deleting)
            .map(|(k, _)| *k)
            .collect()
    }

    /// The recorded OCID of an extra VIP's object.
    pub fn address_id(&self, address: &str) -> Option<&str> {
        self.addresses.get(address).and_then(|x| x.id.as_deref())
    }

    /// Forget an extra VIP's OCID (deleted, or gone); its next create gets a new retry token.
    /// `drop` removes the entry (the blueprint no longer names the address).
    pub fn retire_address(&mut self, address: &str, drop: bool) {
        if drop {
            self.addresses.remove(address);
            return;
        }
        let e = self.addresses.entry(address.to_string()).or_default();
        if e.id.is_some() {
            e.generation += 1;
        }
        e.id = None;
    }

    /// Forget the resource's OCID; the next create gets a new retry token.
    pub fn retire(&mut self, r: Resource) {
        let e = self.entry(r);
        if e.id.is_some() {
            e.generation += 1;
        }
        e.id = None;
        e.vnic_id = None;
        e.deleting = false;
    }

    /// vipsetup's own delete (terminate) of `r` was accepted; it may still be on its way.
    pub fn mark_deleting(&mut self, r: Resource) {
        let e = self.entry(r);
        if e.id.is_some() {
            e.deleting = true;
        }
    }

    /// The resource's retry token was invalidated (OCI answered 409 InvalidatedRetryToken: what
    /// it created was deleted since): the next create gets a new one, even though no OCID was
    /// ever recorded for it.
    pub fn invalidate_token(&mut self, r: Resource) {
        let e = self.entry(r);
        e.generation += 1;
        e.id = None;
        e.vnic_id = None;
    }

    /// Parses state from text (`path` only names the file in errors).
    pub fn parse(text: &str, path: &Path) -> Result<State, StateError> {
        #[derive(Deserialize)]
        struct Probe {
            version: u32,
        }
        let probe: Probe = serde_json::from_str(text).map_err(|source| StateError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        if probe.version != STATE_VERSION {
            return Err(StateError::Version {
                path: path.to_path_buf(),
                found: probe.version,
            });
        }
        serde_json::from_str(text).map_err(|source| StateError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Loads the state at `path`, or `None` when there is no file yet.
    pub fn load(path: &Path, pair: &str) -> Result<Option<State>, StateError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let state = State::parse(&text, path)?;
        if state.pair != pair {
            return Err(StateError::WrongPair {
                path: path.to_path_buf(),
                found: state.pair,
                expected: pair.to_string(),
            });
        }
        Ok(Some(state))
    }

    /// Bumps the serial and writes (see `write`).
    pub fn save(&mut self, path: &Path) -> Result<(), StateError> {
        self.serial += 1;
        self.write(path)
    }

    /// The state as it is stored: pretty JSON and a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("state serializes");
        text.push('\n');
        text
    }

    /// Writes atomically with mode 0600: a reader (or a crash) sees the old file or the new one.
    pub fn write(&self, path: &Path) -> Result<(), StateError> {
        let err = |source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text = self.to_text();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(err)?;
            f.write_all(text.as_bytes()).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        fs::rename(&tmp, path).map_err(err)?;
        // The rename itself must survive a power cut too.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The default state path: next to the blueprint, `<blueprint>.state.json`.
pub fn default_path(blueprint: &Path) -> PathBuf {
    let mut name = blueprint.file_name().unwrap_or_default().to_os_string();
    name.push(".state.json");
    blueprint.with_file_name(name)
}

fn new_nonce() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trips_with_mode_0600_and_no_temp_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bp.yaml.state.json");
        let mut s = State::new("quickstart");
        s.entry(Resource::Node1).id = Some("ocid1.instance.oc1..a".into());
        s.entry(Resource::Node1).vnic_id = Some("ocid1.vnic.oc1..v".into());
        s.node_ips = Some(["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()]);
        s.save(&path).unwrap();
        s.save(&path).unwrap();
        let back = State::load(&path, "quickstart").unwrap().unwrap();
        assert_eq!(back, s);
        assert_eq!(back.serial, 2);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"node1\""), "{text}");
    }

    #[test]
    fn missing_file_is_none_and_wrong_pair_or_version_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        assert!(State::load(&path, "a").unwrap().is_none());
        State::new("a").save(&path).unwrap();
        let e = State::load(&path, "b").unwrap_err();
        assert!(e.to_string().contains("belongs to pair \"a\""), "{e}");
        fs::write(&path, r#"{"version": 9, "pair": "a"}"#).unwrap();
        let e = State::load(&path, "a").unwrap_err();
        assert!(matches!(e, StateError::Version { found: 9, .. }), "{e}");
        fs::write(&path, "{").unwrap();
        assert!(matches!(
            State::load(&path, "a").unwrap_err(),
            StateError::Parse { .. }
        ));
    }

    #[test]
    fn retire_bumps_the_generation_only_for_a_recorded_resource() {
        let mut s = State::new("p");
        s.retire(Resource::Vip);
        assert_eq!(s.generation(Resource::Vip), 0);
        s.entry(Resource::Vip).id = Some("x".into());
        s.retire(Resource::Vip);
        assert_eq!(s.generation(Resource::Vip), 1);
        assert!(s.id(Resource::Vip).is_none());
        assert!(s.recorded().is_empty());
    }

    #[test]
    fn default_path_sits_next_to_the_blueprint() {
        assert_eq!(
            default_path(Path::new("/x/blueprints/quickstart.yaml")),
            PathBuf::from("/x/blueprints/quickstart.yaml.state.json")
        );
    }
}
