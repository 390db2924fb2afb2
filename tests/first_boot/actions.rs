//! The simulator's instance actions drive the twin's VMs (issue 19), as OCI's hypervisor drives
//! an instance. The rules, each from oci-python-sdk `ComputeClient.instance_action`'s docstring
//! unless marked as a guess:
//! - START "Powers on the instance": the VM boots again from the instance's own disk.
//! - STOP "Powers off the instance": QEMU quits at once (nothing written by the guest).
//! - SOFTSTOP "Gracefully shuts down the instance by sending a shutdown command to the operating
//!   system. After waiting 15 minutes for the OS to shut down, the instance is powered off": an
//!   ACPI power-button press (QEMU's `system_powerdown`); QEMU exits when the guest has shut
//!   down (`-no-reboot`); after `grace` the VM is powered off.
//! - SOFTRESET "Gracefully reboots the instance by sending a shutdown command to the operating
//!   system. After waiting 15 minutes for the OS to shut down, the instance is powered off and
//!   then powered back on": ACPI power-down, then a boot from the same disk.
//! - RESET "Powers off the instance and then powers it back on".
//! - TERMINATE (TerminateInstance) ends the VM. Whether OCI asks the OS to shut down first is not
//!   documented there: a guess, power-off (vipsetup soft-stops a VIP holder before terminating it).
//! - A launched instance (a replacement) boots a fresh disk from the image.
//!
//! The states move with the VM, as on OCI: the twin sets the simulator's stop/start delays long
//! (OCI's 15-minute grace) and reports what the hypervisor sees through
//! `POST /_sim/instances/power`: STOPPING becomes STOPPED (TERMINATING TERMINATED) when the VM
//! has exited, PROVISIONING/STARTING becomes RUNNING when it has started. A guess: OCI's RUNNING
//! means powered on, not booted (the namespace harness makes the same one).
//!
//! The decisions are a pure function of what the world says and which VMs run (`Follower::step`),
//! tested below with a fake VM control; `Twin::obey` carries them out with QEMU.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// OCI's wait for a soft stop or soft reset before it powers the instance off.
pub const GRACE: Duration = Duration::from_secs(15 * 60);

/// One instance as the world shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceView {
    pub id: String,
    /// The node slot (0 or 1) its primary VNIC's address belongs to.
    pub slot: usize,
    pub state: String,
    /// The last instance action and when the simulator took it (its clock, ms).
    pub action: Option<(String, i64)>,
    /// `timeCreated`, to pick the newest instance at an address.
    pub created: String,
}

/// What the hypervisor does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Start the VM of `instance` in `slot` (its own disk; a new instance's disk is fresh).
    Boot { slot: usize, instance: String },
    /// Press the ACPI power button of the VM in `slot`.
    AcpiPowerDown { slot: usize },
    /// Pull the plug of the VM in `slot`.
    PowerOff { slot: usize },
    /// Tell the simulator the VM of `instance` has exited (`started == false`) or started.
    Report { instance: String, started: bool },
}

/// What the hypervisor remembers between steps.
pub struct Follower {
    /// Per slot: the instance whose VM was last started there.
    pub booted: Vec<Option<String>>,
    /// Per slot: when the ACPI power-down was sent (a soft stop or soft reset in progress).
    acpi_sent: Vec<Option<Instant>>,
    /// Per instance: the time of the last action carried out.
    handled: BTreeMap<String, i64>,
    pub grace: Duration,
    /// What happened, in order, with the time since the follower was made.
    pub events: Vec<(Duration, String)>,
    born: Instant,
}

impl Follower {
    pub fn new(slots: usize, grace: Duration) -> Follower {
        Follower {
            booted: vec![None; slots],
            acpi_sent: vec![None; slots],
            handled: BTreeMap::new(),
            grace,
            events: Vec::new(),
            born: Instant::now(),
        }
    }

    fn note(&mut self, now: Instant, what: String) {
        self.events
            .push((now.saturating_duration_since(self.born), what));
    }

    /// The commands that make the VMs follow the instances. `running[slot]`: whether a VM runs
    /// in that slot (it belongs to `booted[slot]`).
    pub fn step(&mut self, instances: &[InstanceView], running: &[bool], now: Instant) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for (slot, &vm_up) in running.iter().enumerate() {
            let at_slot: Vec<&InstanceView> = instances.iter().filter(|v| v.slot == slot).collect();
            // The instance at the slot's address that is not gone (the newest), else the newest.
            let mut live: Vec<&&InstanceView> = at_slot
                .iter()
                .filter(|v| !matches!(v.state.as_str(), "TERMINATING" | "TERMINATED"))
                .collect();
            live.sort_by(|a, b| a.created.cmp(&b.created));
            let current = live.last().map(|v| (**v).clone());
            let vm_owner = self.booted[slot].clone();
            // A VM whose instance is no longer the slot's (terminated or being terminated):
            // TERMINATE ends the VM.
            if vm_up && vm_owner.as_deref() != current.as_ref().map(|c| c.id.as_str()) {
                let owner = vm_owner.clone().unwrap_or_default();
                cmds.push(Cmd::PowerOff { slot });
                cmds.push(Cmd::Report {
                    instance: owner.clone(),
                    started: false,
                });
                self.acpi_sent[slot] = None;
                self.note(now, format!("slot {slot}: {owner} terminated: VM ended"));
                if let Some(c) = &current {
                    self.boot(slot, c, now, &mut cmds);
                }
                continue;
            }
            let Some(v) = current else {
                continue;
            };
            let pending = v
                .action
                .clone()
                .filter(|(_, at)| self.handled.get(&v.id) != Some(at));
            let action = pending.as_ref().map(|(a, _)| a.as_str());
            match (v.state.as_str(), vm_up) {
                ("STOPPING", true) | ("STARTING", true)
                    if matches!(action, Some("SOFTSTOP") | Some("SOFTRESET")) =>
                {
                    match self.acpi_sent[slot] {
                        None => {
                            cmds.push(Cmd::AcpiPowerDown { slot });
                            self.acpi_sent[slot] = Some(now);
                            self.note(
                                now,
                                format!(
                                    "slot {slot}: {} {}: ACPI power-down",
                                    v.id,
                                    action.unwrap()
                                ),
                            );
                        }
                        Some(t) if now.saturating_duration_since(t) >= self.grace => {
                            cmds.push(Cmd::PowerOff { slot });
                            self.acpi_sent[slot] = None;
                            self.note(
                                now,
                                format!(
                                    "slot {slot}: {}: not down after the grace period: powered off",
                                    v.id
                                ),
                            );
                            self.finish(&v, pending.as_ref());
                            if action == Some("SOFTRESET") {
                                self.boot(slot, &v, now, &mut cmds);
                            } else {
                                cmds.push(Cmd::Report {
                                    instance: v.id.clone(),
                                    started: false,
                                });
                            }
                        }
                        Some(_) => {}
                    }
                }
                ("STARTING", true) if action == Some("RESET") => {
                    cmds.push(Cmd::PowerOff { slot });
                    self.note(now, format!("slot {slot}: {} RESET: powered off", v.id));
                    self.finish(&v, pending.as_ref());
                    self.boot(slot, &v, now, &mut cmds);
                }
                ("STOPPING", true) | ("STOPPED", true) => {
                    // STOP; or a soft stop whose grace OCI has already called over.
                    cmds.push(Cmd::PowerOff { slot });
                    self.acpi_sent[slot] = None;
                    self.note(
                        now,
                        format!("slot {slot}: {} {}: powered off", v.id, v.state),
                    );
                    self.finish(&v, pending.as_ref());
                    if v.state == "STOPPING" {
                        cmds.push(Cmd::Report {
                            instance: v.id.clone(),
                            started: false,
                        });
                    }
                }
                ("STOPPING", false) => {
                    if self.acpi_sent[slot].take().is_some() {
                        self.note(now, format!("slot {slot}: {}: the guest shut down", v.id));
                    }
                    self.finish(&v, pending.as_ref());
                    cmds.push(Cmd::Report {
                        instance: v.id.clone(),
                        started: false,
                    });
                }
                ("PROVISIONING" | "STARTING" | "RUNNING", false) => {
                    if self.acpi_sent[slot].take().is_some() {
                        self.note(now, format!("slot {slot}: {}: the guest shut down", v.id));
                    }
                    self.finish(&v, pending.as_ref());
                    self.boot(slot, &v, now, &mut cmds);
                }
                ("PROVISIONING" | "STARTING", true) => {
                    // Started, the report not yet seen (or lost): say it again.
                    self.finish(&v, pending.as_ref());
                    cmds.push(Cmd::Report {
                        instance: v.id.clone(),
                        started: true,
                    });
                }
                _ => {}
            }
        }
        // An instance being terminated whose VM is not running (stopped before, or ended
        // above): terminated now.
        for v in instances.iter().filter(|v| v.state == "TERMINATING") {
            let vm_up = running.get(v.slot).copied().unwrap_or(false)
                && self.booted[v.slot].as_deref() == Some(v.id.as_str());
            let report = Cmd::Report {
                instance: v.id.clone(),
                started: false,
            };
            if !vm_up && !cmds.contains(&report) {
                cmds.push(report);
            }
        }
        cmds
    }

    fn finish(&mut self, v: &InstanceView, pending: Option<&(String, i64)>) {
        if let Some((_, at)) = pending {
            self.handled.insert(v.id.clone(), *at);
        }
    }

    fn boot(&mut self, slot: usize, v: &InstanceView, now: Instant, cmds: &mut Vec<Cmd>) {
        let again = self.booted[slot].as_deref() == Some(v.id.as_str());
        cmds.push(Cmd::Boot {
            slot,
            instance: v.id.clone(),
        });
        cmds.push(Cmd::Report {
            instance: v.id.clone(),
            started: true,
        });
        self.booted[slot] = Some(v.id.clone());
        self.note(
            now,
            format!(
                "slot {slot}: {} {}: {}",
                v.id,
                v.state,
                if again {
                    "boots again from its disk"
                } else {
                    "boots (a new disk from the image)"
                }
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake cloud and hypervisor: the instances' states as the simulator would move them (on
    /// the reports), the VMs as QEMU would run them (a guest that honours ACPI or not).
    struct Fake {
        inst: Vec<InstanceView>,
        running: Vec<bool>,
        /// Per slot: the guest shuts down this many steps after the ACPI press (None: never).
        acpi_takes: Option<u32>,
        countdown: Vec<Option<u32>>,
        boots: Vec<(usize, String)>,
        log: Vec<Cmd>,
    }

    impl Fake {
        fn new(states: &[&str]) -> Fake {
            Fake {
                inst: states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| InstanceView {
                        id: format!("i{}", i + 1),
                        slot: i,
                        state: s.to_string(),
                        action: None,
                        created: format!("2026-01-01T00:00:0{i}Z"),
                    })
                    .collect(),
                running: vec![false; states.len()],
                acpi_takes: Some(2),
                countdown: vec![None; states.len()],
                boots: Vec::new(),
                log: Vec::new(),
            }
        }

        fn get(&mut self, id: &str) -> &mut InstanceView {
            self.inst.iter_mut().find(|v| v.id == id).unwrap()
        }

        /// An instance action as the simulator takes it (in_place.rs).
        fn action(&mut self, id: &str, action: &str, at: i64) {
            let v = self.get(id);
            v.action = Some((action.to_string(), at));
            v.state = match action {
                "SOFTSTOP" | "STOP" => "STOPPING",
                _ => "STARTING",
            }
            .to_string();
        }

        fn apply(&mut self, cmds: Vec<Cmd>) {
            for c in cmds {
                match &c {
                    Cmd::Boot { slot, instance } => {
                        assert!(!self.running[*slot], "booted over a running VM: {c:?}");
                        self.running[*slot] = true;
                        self.boots.push((*slot, instance.clone()));
                    }
                    Cmd::AcpiPowerDown { slot } => self.countdown[*slot] = self.acpi_takes,
                    Cmd::PowerOff { slot } => {
                        assert!(self.running[*slot], "powered off a VM that was off: {c:?}");
                        self.running[*slot] = false;
                        self.countdown[*slot] = None;
                    }
                    Cmd::Report { instance, started } => {
                        let v = self.get(instance);
                        v.state = match (v.state.as_str(), started) {
                            ("STOPPING", false) => "STOPPED",
                            ("TERMINATING", false) => "TERMINATED",
                            ("PROVISIONING" | "STARTING", true) => "RUNNING",
                            (s, _) => s,
                        }
                        .to_string();
                    }
                }
                self.log.push(c);
            }
        }

        /// One poll: the guests that were shutting down may have finished, then the follower.
        fn tick(&mut self, f: &mut Follower, now: Instant) {
            for slot in 0..self.running.len() {
                match self.countdown[slot] {
                    Some(0) => {
                        self.running[slot] = false;
                        self.countdown[slot] = None;
                    }
                    Some(n) => self.countdown[slot] = Some(n - 1),
                    None => {}
                }
            }
            let cmds = f.step(&self.inst, &self.running, now);
            self.apply(cmds);
        }

        fn state(&self, id: &str) -> &str {
            &self.inst.iter().find(|v| v.id == id).unwrap().state
        }
    }

    /// Both instances RUNNING, both VMs up (the follower has booted them).
    fn up() -> (Fake, Follower, Instant) {
        let mut fake = Fake::new(&["RUNNING", "RUNNING"]);
        let mut f = Follower::new(2, GRACE);
        let t = Instant::now();
        fake.tick(&mut f, t);
        assert_eq!(fake.running, vec![true, true]);
        assert_eq!(fake.boots, vec![(0, "i1".into()), (1, "i2".into())]);
        fake.log.clear();
        fake.boots.clear();
        (fake, f, t)
    }

    #[test]
    fn running_instances_without_vms_boot_once() {
        let (mut fake, mut f, t) = up();
        for _ in 0..3 {
            fake.tick(&mut f, t);
        }
        assert!(fake.log.is_empty(), "{:?}", fake.log);
    }

    #[test]
    fn softstop_presses_acpi_and_is_stopped_only_when_the_guest_has_exited() {
        let (mut fake, mut f, t) = up();
        fake.action("i1", "SOFTSTOP", 100);
        fake.tick(&mut f, t);
        assert_eq!(fake.log, vec![Cmd::AcpiPowerDown { slot: 0 }]);
        // The guest shuts down over two polls: no second press, STOPPING meanwhile.
        fake.tick(&mut f, t);
        fake.tick(&mut f, t);
        assert_eq!(fake.log.len(), 1, "{:?}", fake.log);
        assert_eq!(fake.state("i1"), "STOPPING");
        fake.tick(&mut f, t);
        assert_eq!(fake.state("i1"), "STOPPED");
        assert!(!fake.running[0]);
        assert!(
            !fake.log.iter().any(|c| matches!(c, Cmd::PowerOff { .. })),
            "a soft stop that worked pulled the plug: {:?}",
            fake.log
        );
        assert!(fake.running[1], "the peer was touched");
        fake.tick(&mut f, t);
        assert!(
            !fake.running[0],
            "a STOPPED instance booted: {:?}",
            fake.log
        );
    }

    #[test]
    fn softstop_ignored_by_the_guest_powers_off_after_the_grace_period() {
        let (mut fake, mut f, t) = up();
        fake.acpi_takes = None;
        fake.action("i2", "SOFTSTOP", 100);
        fake.tick(&mut f, t);
        fake.tick(&mut f, t + GRACE - Duration::from_secs(1));
        assert!(fake.running[1]);
        assert_eq!(fake.state("i2"), "STOPPING");
        fake.tick(&mut f, t + GRACE);
        assert!(!fake.running[1]);
        assert_eq!(fake.state("i2"), "STOPPED");
        assert!(fake.log.contains(&Cmd::PowerOff { slot: 1 }));
    }

    #[test]
    fn stop_pulls_the_plug_at_once() {
        let (mut fake, mut f, t) = up();
        fake.action("i1", "STOP", 100);
        fake.tick(&mut f, t);
        assert_eq!(
            fake.log,
            vec![
                Cmd::PowerOff { slot: 0 },
                Cmd::Report {
                    instance: "i1".into(),
                    started: false
                }
            ]
        );
        assert_eq!(fake.state("i1"), "STOPPED");
    }

    #[test]
    fn start_boots_the_same_instance_again_and_it_runs() {
        let (mut fake, mut f, t) = up();
        fake.action("i1", "STOP", 100);
        fake.tick(&mut f, t);
        fake.action("i1", "START", 200);
        assert_eq!(fake.state("i1"), "STARTING");
        fake.tick(&mut f, t);
        assert_eq!(fake.boots, vec![(0, "i1".into())]);
        assert_eq!(fake.state("i1"), "RUNNING");
        assert!(f
            .events
            .iter()
            .any(|(_, e)| e.contains("boots again from its disk")));
    }

    #[test]
    fn softreset_shuts_down_gracefully_then_boots_the_same_disk() {
        let (mut fake, mut f, t) = up();
        fake.action("i1", "SOFTRESET", 100);
        fake.tick(&mut f, t);
        assert_eq!(fake.log, vec![Cmd::AcpiPowerDown { slot: 0 }]);
        assert_eq!(fake.state("i1"), "STARTING");
        for _ in 0..4 {
            fake.tick(&mut f, t);
        }
        assert_eq!(fake.boots, vec![(0, "i1".into())]);
        assert!(fake.running[0]);
        assert_eq!(fake.state("i1"), "RUNNING");
        assert!(!fake.log.iter().any(|c| matches!(c, Cmd::PowerOff { .. })));
        // Done once: later polls leave it running.
        fake.tick(&mut f, t);
        assert_eq!(fake.boots.len(), 1);
    }

    #[test]
    fn reset_powers_off_and_boots_again() {
        let (mut fake, mut f, t) = up();
        fake.action("i2", "RESET", 100);
        fake.tick(&mut f, t);
        assert_eq!(
            fake.log,
            vec![
                Cmd::PowerOff { slot: 1 },
                Cmd::Boot {
                    slot: 1,
                    instance: "i2".into()
                },
                Cmd::Report {
                    instance: "i2".into(),
                    started: true
                }
            ]
        );
        assert_eq!(fake.state("i2"), "RUNNING");
        fake.tick(&mut f, t);
        assert_eq!(fake.boots.len(), 1, "reset twice: {:?}", fake.log);
    }

    #[test]
    fn terminate_ends_the_vm_and_a_replacement_boots_a_new_disk() {
        let (mut fake, mut f, t) = up();
        fake.get("i2").state = "TERMINATING".into();
        fake.tick(&mut f, t);
        assert!(!fake.running[1]);
        assert_eq!(fake.state("i2"), "TERMINATED");
        // The replacement at the same address: PROVISIONING until its VM has started.
        fake.inst.push(InstanceView {
            id: "i3".into(),
            slot: 1,
            state: "PROVISIONING".into(),
            action: None,
            created: "2026-01-01T00:05:00Z".into(),
        });
        fake.tick(&mut f, t);
        assert_eq!(fake.boots, vec![(1, "i3".into())]);
        assert_eq!(fake.state("i3"), "RUNNING");
        assert_eq!(f.booted[1].as_deref(), Some("i3"));
        assert!(f
            .events
            .iter()
            .any(|(_, e)| e.contains("i3") && e.contains("new disk")));
    }

    #[test]
    fn terminating_a_stopped_instance_is_terminated_at_once() {
        let (mut fake, mut f, t) = up();
        fake.action("i2", "STOP", 100);
        fake.tick(&mut f, t);
        fake.get("i2").state = "TERMINATING".into();
        fake.log.clear();
        fake.tick(&mut f, t);
        assert_eq!(
            fake.log,
            vec![Cmd::Report {
                instance: "i2".into(),
                started: false
            }]
        );
        assert_eq!(fake.state("i2"), "TERMINATED");
    }

    #[test]
    fn a_replacement_launched_while_the_old_vm_runs_ends_the_old_one_first() {
        let (mut fake, mut f, t) = up();
        fake.get("i1").state = "TERMINATING".into();
        fake.inst.push(InstanceView {
            id: "i9".into(),
            slot: 0,
            state: "PROVISIONING".into(),
            action: None,
            created: "2026-01-01T00:05:00Z".into(),
        });
        fake.tick(&mut f, t);
        assert_eq!(
            fake.log[..2],
            [
                Cmd::PowerOff { slot: 0 },
                Cmd::Report {
                    instance: "i1".into(),
                    started: false
                }
            ]
        );
        assert_eq!(fake.state("i1"), "TERMINATED");
        assert_eq!(fake.state("i9"), "RUNNING");
        assert_eq!(fake.boots, vec![(0, "i9".into())]);
    }
}
