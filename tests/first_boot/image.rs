//! The platform image and package mirror the VMs boot from, built (or found in the cache) by
//! `image.sh` next to this file.

use crate::process::{run, tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A built image: `<cache>/<recipe hash>/` as `image.sh` leaves it.
pub struct Image {
    pub dir: PathBuf,
    /// How long finding or building it took (seconds of mmdebstrap on a cold cache).
    pub took: Duration,
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
    /// The directory served as the package mirror (holds `debian/`).
    pub fn mirror(&self) -> PathBuf {
        self.dir.join("mirror")
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca/ca.crt")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca/ca.key")
    }
}

/// Runs `image.sh` (a no-op when the cache holds this recipe), its progress in `log`.
pub fn build(log: &Path) -> Result<Image, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/first_boot/image.sh");
    let err =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let start = Instant::now();
    let out = run(Command::new("bash").arg(&script).stderr(err)).map_err(|e| {
        format!(
            "building the first-boot image failed: {e}\n--- {} (tail)\n{}",
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
        dir,
        took: start.elapsed(),
    })
}
