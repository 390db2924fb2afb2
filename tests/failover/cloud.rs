//! The OCI simulator as the nodes see it: seeded into a world file, served from the cloud
//! namespace (API, federation and metadata on one listener), driven through its `/_sim/`
//! control API with curl run inside that namespace (the test process has no route there).

use super::process::run;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Port the simulator listens on in the cloud namespace: 80, because the metadata service's
/// address is fixed (`http://169.254.169.254/opc/v2`) and so is its port.
pub const PORT: u16 = 80;

/// What `vipsetup simulator seed` wrote: the world, the user's credentials, the ids to use.
pub struct Seed {
    pub world: PathBuf,
    pub oci_config: PathBuf,
    pub creds: Value,
}

impl Seed {
    pub fn id(&self, key: &str) -> String {
        self.creds[key].as_str().unwrap_or_default().to_string()
    }
}

/// Seeds a world whose subnet is the harness's (no network involved).
pub fn seed(bin: &Path, dir: &Path, vcn_cidr: &str, subnet_cidr: &str) -> Result<Seed, String> {
    let world = dir.join("world.json");
    let creds = dir.join("creds.json");
    let key = dir.join("user-key.pem");
    let oci_config = dir.join("oci-config");
    run(Command::new(bin).args([
        "simulator",
        "seed",
        "--world",
        &world.to_string_lossy(),
        "--vcn-cidr",
        vcn_cidr,
        "--subnet-cidr",
        subnet_cidr,
        "--creds-out",
        &creds.to_string_lossy(),
        "--key-out",
        &key.to_string_lossy(),
        "--oci-config-out",
        &oci_config.to_string_lossy(),
    ]))?;
    let text = std::fs::read_to_string(&creds).map_err(|e| format!("cannot read creds: {e}"))?;
    let creds = serde_json::from_str(&text).map_err(|e| format!("bad creds json: {e}"))?;
    Ok(Seed {
        world,
        oci_config,
        creds,
    })
}

/// The simulator's control API, reached with curl from inside the cloud namespace.
pub struct SimCtl {
    pub netns: String,
}

impl SimCtl {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{PORT}")
    }

    /// One control request; returns the body (Err on a non-2xx status or no connection). (60 s:
    /// at load 42 on 2 cores a `GET /_sim/world` took over 10 s and failed bench/failover.sh,
    /// as render_support's control requests once did.)
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<String, String> {
        let url = format!("{}{path}", self.base());
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.netns,
            "curl",
            "-sS",
            "-f",
            "-m",
            "60",
        ]);
        cmd.args(["-X", method, &url]);
        let body_text;
        if let Some(b) = body {
            body_text = b.to_string();
            cmd.args([
                "-H",
                "content-type: application/json",
                "--data-binary",
                &body_text,
            ]);
        }
        run(&mut cmd)
    }

    pub fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let text = self.call(method, path, body)?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON ({e}): {text}"))
    }

    pub fn healthy(&self) -> bool {
        self.call("GET", "/_sim/health", None).is_ok()
    }

    pub fn world(&self) -> Result<Value, String> {
        self.json("GET", "/_sim/world", None)
    }

    /// The VNIC the API says holds `private_ip_id` (None if the object is gone).
    pub fn vip_vnic(&self, private_ip_id: &str) -> Result<Option<String>, String> {
        let world = self.world()?;
        Ok(world["resources"]["privateip"][private_ip_id]["vnicId"]
            .as_str()
            .map(str::to_string))
    }

    /// Merges fields into the running simulator's configuration (camelCase keys).
    pub fn configure(&self, patch: Value) -> Result<(), String> {
        self.call("PATCH", "/_sim/config", Some(&patch)).map(|_| ())
    }

    pub fn log(&self) -> Result<Vec<Value>, String> {
        match self.json("GET", "/_sim/log", None)? {
            Value::Array(a) => Ok(a),
            other => Err(format!("log is not an array: {other}")),
        }
    }

    pub fn clear_faults(&self) -> Result<(), String> {
        self.call("DELETE", "/_sim/faults", None).map(|_| ())
    }
}
