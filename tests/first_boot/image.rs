//! The platform image and package mirror the VMs boot from, built (or found in the cache) by
//! `image.sh` next to this file.

use crate::process::{run, tail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A built image: `<cache>/<suite>-<recipe hash>/` as `image.sh` leaves it.
#[derive(Clone)]
pub struct Image {
    pub suite: String,
    pub dir: PathBuf,
}

impl Image {
    pub fn kernel(&self) -> PathBuf {
        self.dir.join("vmlinuz")
    }
    pub fn initrd(&self) -> PathBuf {
        self.dir.join("initrd.img")
    }
    pub fn disk(&self) -> PathBuf {
        self.dir.join("disk.raw")
    }
    /// The suite's package mirror (served at `http://192.0.2.20:8080/<suite>/`).
    pub fn mirror(&self) -> PathBuf {
        self.dir.join("mirror").join(&self.suite)
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca/ca.crt")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca/ca.key")
    }
}

/// Runs `image.sh SUITE` (a no-op when the cache holds this recipe), its progress in `log`.
pub fn build(suite: &str, log: &Path) -> Result<Image, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/first_boot/image.sh");
    let err =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let out = run(Command::new("bash").arg(&script).arg(suite).stderr(err)).map_err(|e| {
        format!(
            "building the first-boot {suite} image failed: {e}\n--- {} (tail)\n{}",
            log.display(),
            tail(log, 30)
        )
    })?;
    let dir = out
        .lines()
        .last()
        .map(PathBuf::from)
        .filter(|d| d.join("done").is_file())
        .ok_or_else(|| format!("image.sh printed no image directory: {out}"))?;
    Ok(Image {
        suite: suite.to_string(),
        dir,
    })
}
