//! One virtual machine: QEMU started inside the cloud namespace on its tap, the serial console
//! captured to a file, the image's command channel on the second serial port, and the QEMU
//! monitor for an abrupt power-off. Stopped by PID when dropped.

use super::image::Image;
use crate::netns::Netns;
use crate::process::{run_args, Proc};
use base64::Engine;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the VMs run: KVM when a probe boot shows the kernel gets going, TCG otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host"],
            Accel::Tcg => &["-accel", "tcg"],
        }
    }
}

/// What every boot shares: the kernel command line the image expects, no graphics, no reboot
/// (a panic ends QEMU rather than looping), the SMBIOS asset tag that makes cloud-init pick its
/// Oracle datasource (cloud-init's ds-identify and DataSourceOracle read chassis-asset-tag).
/// `no_timer_check`: bullseye's 5.10 kernel panicked in setup_IO_APIC ("IO-APIC + timer doesn't
/// work") under TCG on a loaded host, its timer check timing out; the kernel's documented switch
/// for virtual machines skips that check. `systemd.default_timeout_start_sec=900`: under TCG on
/// a host at load 30-45 each VM gets a few per cent of a core, and systemd's default 90 s start
/// timeout failed systemd-journald and dev-ttyS0.device on bullseye (seen in the twin's console,
/// 2026-12-07): no journal, so no timeline, and any unit the installer starts could time out the
/// same way. The switch is systemd's documented kernel command line option (systemd(1)) for
/// DefaultTimeoutStartSec=; no real node needs it.
fn base_args(image: &Image) -> Vec<String> {
    [
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-smbios",
        "type=3,asset=OracleCloud.com",
        "-kernel",
        &image.kernel().to_string_lossy(),
        "-initrd",
        &image.initrd().to_string_lossy(),
        "-append",
        "console=ttyS0 root=LABEL=vsfb-root rw panic=-1 no_timer_check systemd.default_timeout_start_sec=900",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Boots the image's kernel with KVM for up to `limit`: KVM is used only if the kernel reaches
/// its init (`/dev/kvm` may open while the nested CPU stops a kernel right after decompression).
pub fn probe_accel(image: &Image, dir: &Path, limit: Duration) -> Accel {
    if std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return Accel::Tcg;
    }
    let console = dir.join("kvm-probe.log");
    let mut cmd = std::process::Command::new("qemu-system-x86_64");
    cmd.args(Accel::Kvm.args())
        .args(["-m", "256", "-serial"])
        .arg(format!("file:{}", console.display()))
        .args(base_args(image));
    let Ok(mut p) = Proc::spawn("kvm-probe", cmd, &dir.join("kvm-probe.qemu.log")) else {
        return Accel::Tcg;
    };
    let start = Instant::now();
    while start.elapsed() < limit && p.running() {
        let text = std::fs::read_to_string(&console).unwrap_or_default();
        if text.contains("Run /init as init process") {
            return Accel::Kvm;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Accel::Tcg
}

static SEQ: AtomicU64 = AtomicU64::new(1);

pub struct Vm {
    pub name: String,
    pub dir: PathBuf,
    pub started: Instant,
    chan: Mutex<Option<BufReader<UnixStream>>>,
    proc: Proc,
}

impl Vm {
    /// Starts the VM (again, after a power-off: the disk overlay and its state are kept).
    pub fn start(
        name: &str,
        ns: &Netns,
        image: &Image,
        accel: Accel,
        mac: &str,
        tap: &str,
        dir: &Path,
    ) -> Result<Vm, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let disk = dir.join("disk.qcow2");
        if !disk.exists() {
            run_args(
                "qemu-img",
                &[
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-b",
                    &image.disk().to_string_lossy(),
                    "-F",
                    "raw",
                    &disk.to_string_lossy(),
                ],
            )?;
        }
        for sock in ["chan.sock", "monitor.sock"] {
            let _ = std::fs::remove_file(dir.join(sock));
        }
        let mut cmd = ns.command("qemu-system-x86_64");
        cmd.args(accel.args())
            .args(["-m", "768", "-smp", "1", "-name", name])
            .args(base_args(image))
            .arg("-drive")
            .arg(format!("file={},if=virtio,format=qcow2", disk.display()))
            // PCI slot 3 makes the NIC `ens3`, as on OCI's x86 shapes.
            .arg("-netdev")
            .arg(format!("tap,id=n0,ifname={tap},script=no,downscript=no"))
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=n0,mac={mac},addr=3"))
            .arg("-serial")
            .arg(format!("file:{}", dir.join("console.log").display()))
            .arg("-serial")
            .arg(format!(
                "unix:{},server=on,wait=off",
                dir.join("chan.sock").display()
            ))
            .arg("-monitor")
            .arg(format!(
                "unix:{},server=on,wait=off",
                dir.join("monitor.sock").display()
            ));
        let _ = std::fs::remove_file(dir.join("console.log"));
        let proc = Proc::spawn(&format!("qemu-{name}"), cmd, &dir.join("qemu.log"))?;
        Ok(Vm {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            started: Instant::now(),
            chan: Mutex::new(None),
            proc,
        })
    }

    pub fn console(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("console.log")).unwrap_or_default())
            .into_owned()
    }

    /// Whether QEMU still runs (a guest that shut down ends it: `-no-reboot`).
    pub fn running(&mut self) -> bool {
        self.proc.running()
    }

    /// Presses the ACPI power button (QEMU's monitor `system_powerdown`): the guest's systemd
    /// shuts down (stopping keepalived on the way) and QEMU exits when it powers off.
    pub fn acpi_power_down(&mut self) -> Result<(), String> {
        let mut mon = UnixStream::connect(self.dir.join("monitor.sock"))
            .map_err(|e| format!("{}: cannot reach the QEMU monitor: {e}", self.name))?;
        mon.write_all(b"system_powerdown\n")
            .map_err(|e| format!("{}: monitor write failed: {e}", self.name))
    }

    /// Pulls the plug: QEMU's monitor `quit` (no ACPI shutdown, nothing written by the guest).
    /// A VM already off is left so.
    pub fn power_off(&mut self) -> Result<(), String> {
        *self.chan.lock().unwrap() = None;
        if !self.proc.running() {
            return Ok(());
        }
        let mut mon = UnixStream::connect(self.dir.join("monitor.sock"))
            .map_err(|e| format!("{}: cannot reach the QEMU monitor: {e}", self.name))?;
        mon.write_all(b"quit\n")
            .map_err(|e| format!("{}: monitor write failed: {e}", self.name))?;
        if !self.proc.wait_exit(Duration::from_secs(10)) {
            return Err(format!("{}: QEMU did not quit", self.name));
        }
        Ok(())
    }

    /// Runs `script` with bash as root on the VM through the command channel; returns its
    /// exit status and output (stdout and stderr).
    pub fn exec(&self, script: &str, limit: Duration) -> Result<(i32, String), String> {
        let mut guard = self.chan.lock().unwrap();
        if guard.is_none() {
            let s = UnixStream::connect(self.dir.join("chan.sock"))
                .map_err(|e| format!("{}: cannot reach the channel: {e}", self.name))?;
            *guard = Some(BufReader::new(s));
        }
        let result = Self::exchange(guard.as_mut().unwrap(), script, limit);
        if result.is_err() {
            *guard = None;
        }
        result.map_err(|e| format!("{}: {e}", self.name))
    }

    fn exchange(
        chan: &mut BufReader<UnixStream>,
        script: &str,
        limit: Duration,
    ) -> Result<(i32, String), String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let id = SEQ.fetch_add(1, Ordering::SeqCst);
        // The id makes a late answer to an earlier, timed-out command impossible to mistake.
        let wrapped = format!("echo @@id {id}; {script}");
        let line = format!("{}\n", b64.encode(wrapped));
        chan.get_mut()
            .write_all(line.as_bytes())
            .map_err(|e| format!("channel write failed: {e}"))?;
        let deadline = Instant::now() + limit;
        let mut buf = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no answer on the channel within {limit:?}"));
            }
            chan.get_mut()
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            buf.clear();
            match chan.read_line(&mut buf) {
                Ok(0) => return Err("channel closed".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("channel read failed: {e}")),
            }
            let mut words = buf.trim().split(' ');
            if words.next() != Some("@@rc") {
                continue;
            }
            let rc: i32 = words.next().and_then(|w| w.parse().ok()).unwrap_or(-1);
            let out = b64
                .decode(words.next().unwrap_or(""))
                .map(|o| String::from_utf8_lossy(&o).into_owned())
                .unwrap_or_default();
            let Some(rest) = out
                .strip_prefix(&format!("@@id {id}\n"))
                .or_else(|| (out == format!("@@id {id}")).then_some(""))
            else {
                continue;
            };
            return Ok((rc, rest.to_string()));
        }
    }

    /// `exec` that must exit 0; Err carries the output.
    pub fn sh(&self, script: &str) -> Result<String, String> {
        match self.exec(script, Duration::from_secs(60))? {
            (0, out) => Ok(out),
            (rc, out) => Err(format!("{}: `{script}` exited {rc}: {out}", self.name)),
        }
    }
}
