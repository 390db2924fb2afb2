//! The operations on one VIP pair (plan, apply, destroy, status) over any `Cloud`: load state,
//! look the pair up, render user data for the chosen addresses, plan, confirm, execute, report.
//! The commands build a `Session` (blueprint view, cloud, renderer) and call one function here.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::addresses::Cidr;
use crate::engine::backend::{with_lock, Backend};
use crate::engine::egress;
use crate::engine::executor::{
    ExecError, ExecOptions, Executor, StepError, NOT_STARTED_INTERRUPTED,
};
use crate::engine::interrupt;
use crate::engine::model::NodeBoot;
use crate::engine::model::{Desired, Observed};
use crate::engine::observe::{observe, Scope};
use crate::engine::plan::{destroy_plan, diff, diff_holding, Plan};
use crate::engine::preflight;
use crate::engine::progress::Progress;
use crate::engine::report::{Labels, Report};
use crate::engine::resolve::ImageChoice;
use crate::engine::resolve::{self, Lookups, PairSpec, ResolveError};
use crate::engine::state::State;
use crate::engine::{Cloud, Resource};

use super::error::OpsError;

/// What the renderer needs from the live cloud (the rest comes from the blueprint).
#[derive(Clone, Debug, PartialEq)]
pub struct RenderFacts {
    pub node_ips: [Ipv4Addr; 2],
    pub subnet_cidr: Cidr,
}

/// One node's rendered cloud-init.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedUserData {
    pub name: String,
    /// The `#cloud-config` document, written next to the state for the user to read.
    pub cloud_config: String,
    /// What goes into the instance's `user_data` metadata (base64, maybe gzip).
    pub user_data: String,
    /// Its fingerprints and the settings a running node takes live.
    pub boot: NodeBoot,
}

pub type Renderer<'a> =
    dyn Fn(&RenderFacts) -> Result<[RenderedUserData; 2], String> + Send + Sync + 'a;

pub struct Session<'a> {
    pub cloud: &'a dyn Cloud,
    pub tenancy_id: String,
    pub spec: PairSpec,
    /// Where the state and the lock live.
    pub backend: Backend,
    /// How long apply and destroy wait for another run's lock (`--lock-timeout`).
    pub lock_timeout: std::time::Duration,
    pub render: &'a Renderer<'a>,
    pub exec: ExecOptions,
    /// Move nodes running an older image of the blueprint's `os` + `version` to the newest
    /// (`--upgrade-image`: a replacement); otherwise a newer image is only a note.
    pub upgrade_image: bool,
}

/// Everything known before anything changes.
pub struct Prepared {
    pub state: State,
    pub lookups: Lookups,
    pub observed: Observed,
    pub desired: Desired,
    pub rendered: [RenderedUserData; 2],
    pub plan: Plan,
}

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub plan: Plan,
    pub report: Report,
}

impl Session<'_> {
    /// Node names given to `--replace`, as indexes.
    pub fn node_indexes(&self, names: &[String]) -> Result<Vec<usize>, OpsError> {
        names
            .iter()
            .map(|n| {
                (0..2)
                    .find(|&i| &self.spec.nodes[i].name == n || Resource::node(i).key() == n)
                    .ok_or_else(|| OpsError::UnknownNode {
                        name: n.clone(),
                        nodes: self.spec.nodes.clone().map(|node| node.name),
                    })
            })
            .collect()
    }

    async fn load_state(&self) -> Result<State, OpsError> {
        Ok(self
            .backend
            .load(&self.spec.pair)
            .await?
            .unwrap_or_else(|| State::new(&self.spec.pair)))
    }

    /// Reads state and the cloud, renders, and plans. Changes nothing (state is not saved).
    pub async fn prepare(&self, replace: &[usize]) -> Result<Prepared, OpsError> {
        let mut state = self.load_state().await?;
        let lookups = resolve::look_up(self.cloud, &self.tenancy_id, &self.spec).await?;
        let scope = resolve::scope(&self.spec, &lookups);
        let mut observed = observe(self.cloud, &scope, &mut state).await?;
        let ips = resolve::node_ips(self.cloud, &self.spec, &lookups, &state, &observed).await?;
        let rendered = (self.render)(&RenderFacts {
            node_ips: ips,
            subnet_cidr: lookups.cidr,
        })
        .map_err(OpsError::Render)?;
        let user_data = [0, 1].map(|i| (rendered[i].user_data.clone(), rendered[i].boot.clone()));
        let mut desired = resolve::desired(&self.spec, &lookups, ips, user_data);
        preflight::check_availability_domain(self.cloud, &desired, &lookups.subnet).await?;
        let (notes, kept) = self
            .settle_images(&mut desired, &mut observed, &state)
            .await;
        let mut plan = diff(&desired, &observed, &state.recorded(), replace)?;
        // A node replaced anyway (or made anew) gets the newest image, not the one it ran.
        let mut notes = notes;
        for (i, newest) in kept.iter().enumerate() {
            let Some(newest) = newest else { continue };
            if matches!(
                plan.action(Resource::node(i)),
                crate::engine::Action::Replace | crate::engine::Action::Create
            ) {
                desired.nodes[i].image_id = newest.clone();
                notes.retain(|n| !n.starts_with(&format!("{}:", Resource::node(i))));
                plan = diff(&desired, &observed, &state.recorded(), replace)?;
            }
        }
        plan.notes = notes;
        // Before apply asks anything or changes anything: a replacement terminates first.
        preflight::check_launches(self.cloud, &desired, &observed, &plan).await?;
        plan.warnings.extend(self.egress_warnings().await);
        Ok(Prepared {
            state,
            lookups,
            observed,
            desired,
            rendered,
            plan,
        })
    }

    /// Names the images the plan shows, and keeps each live node on the image it runs when that
    /// image is of the blueprint's `os` + `version` (told by the image recorded at its launch,
    /// or by GetImage): a newer platform image is then a note, not drift. Returns the notes and,
    /// per node kept, the newest image it was kept from. `--upgrade-image` keeps none.
    async fn settle_images(
        &self,
        desired: &mut Desired,
        observed: &mut Observed,
        state: &State,
    ) -> (Vec<String>, [Option<String>; 2]) {
        let newest = desired.nodes[0].image_id.clone();
        let mut ids = std::collections::BTreeSet::from([newest.clone()]);
        ids.extend(
            observed
                .nodes
                .iter()
                .flatten()
                .filter_map(|n| n.image_id.clone()),
        );
        let mut details = std::collections::BTreeMap::new();
        for id in ids {
            // Names are a courtesy: an image the lookup can't find (withdrawn by Oracle, or no
            // permission) shows as its OCID.
            if let Ok(Some(d)) = self.cloud.image_details(&id).await {
                details.insert(id, d);
            }
        }
        observed.image_names = details
            .iter()
            .filter_map(|(id, d)| Some((id.clone(), d.name.clone()?)))
            .collect();
        let shown = |id: &str| match observed.image_names.get(id) {
            Some(name) => format!("{name} ({id})"),
            None => id.to_string(),
        };
        let mut notes = Vec::new();
        let mut kept = [None, None];
        let Some(line) = desired.image_line.clone() else {
            return (notes, kept);
        };
        for (i, kept) in kept.iter_mut().enumerate() {
            let Some(running) = observed.live_node(i).and_then(|n| n.image_id.clone()) else {
                continue;
            };
            if running == newest {
                continue;
            }
            let recorded = state
                .resources
                .get(&Resource::node(i))
                .and_then(|r| r.image.as_ref())
                .is_some_and(|r| r.id == running && r.line.as_ref() == Some(&line));
            let looked_up = details
                .get(&running)
                .is_some_and(|d| d.os == line.os && d.version == line.version);
            if !(recorded || looked_up) {
                // Another os or version: the blueprint changed, a real replacement.
                continue;
            }
            let node = Resource::node(i);
            if self.upgrade_image {
                notes.push(format!(
                    "{node}: --upgrade-image moves it from {} to the newest {} {} image {}",
                    shown(&running),
                    line.os,
                    line.version,
                    shown(&newest)
                ));
            } else {
                desired.nodes[i].image_id = running.clone();
                *kept = Some(newest.clone());
                notes.push(format!(
                    "{node}: a newer {} {} image is available: {} (it runs {}); plan and apply \
                     with --upgrade-image to move to it (a replacement), or pin `image.ocid`",
                    line.os,
                    line.version,
                    shown(&newest),
                    shown(&running)
                ));
            }
        }
        (notes, kept)
    }

    /// Whether the nodes can reach the OCI API from their subnet (advice: never a refusal, and
    /// a route table vipsetup may not read is said as much).
    async fn egress_warnings(&self) -> Vec<String> {
        let oracle_linux = match &self.spec.image {
            ImageChoice::Lookup { os, .. } => Some(os == "Oracle Linux"),
            ImageChoice::Ocid(_) => None,
        };
        match self.cloud.egress(&self.spec.subnet_id).await {
            Ok(e) => egress::warnings(&e, self.spec.assign_public_ip, oracle_linux),
            Err(e) => vec![format!(
                "could not check that the nodes can reach the OCI API ({e}); make sure subnet {}'s \
                 route table leads to a service gateway for all services or to a NAT gateway",
                self.spec.subnet_id
            )],
        }
    }

    pub async fn plan(&self, replace: &[usize]) -> Result<Plan, OpsError> {
        Ok(self.prepare(replace).await?.plan)
    }

    /// Plans, asks `confirm` (unless there is nothing to do), executes, and reports.
    pub async fn apply(
        &self,
        replace: &[usize],
        confirm: &(dyn Fn(&Plan) -> bool + Sync),
        progress: &dyn Progress,
        user_data_dir: &Path,
    ) -> Result<Outcome, OpsError> {
        with_lock(
            &self.backend,
            "vipsetup apply",
            self.lock_timeout,
            self.apply_locked(replace, confirm, progress, user_data_dir),
        )
        .await
    }

    async fn apply_locked(
        &self,
        replace: &[usize],
        confirm: &(dyn Fn(&Plan) -> bool + Sync),
        progress: &dyn Progress,
        user_data_dir: &Path,
    ) -> Result<Outcome, OpsError> {
        let mut p = self.prepare(replace).await?;
        let unconfirmed: Vec<usize> = p
            .plan
            .replaced_nodes()
            .into_iter()
            .filter(|i| !replace.contains(i))
            .collect();
        if !unconfirmed.is_empty() {
            // A replacement nobody asked for is held; whatever can go without it goes now (the
            // plan says which node waits and for what), and only when nothing else is left to do
            // does apply stop and ask for --replace.
            let mut held = diff_holding(
                &p.desired,
                &p.observed,
                &p.state.recorded(),
                replace,
                &unconfirmed,
            )?;
            held.warnings.extend(
                p.plan
                    .warnings
                    .iter()
                    .filter(|w| !held.warnings.contains(w))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            held.notes = p.plan.notes.clone();
            if !held.has_changes() {
                return Err(OpsError::ReplaceNotConfirmed {
                    nodes: unconfirmed
                        .iter()
                        .map(|&i| self.spec.nodes[i].name.clone())
                        .collect(),
                    reasons: unconfirmed
                        .iter()
                        .flat_map(|&i| {
                            p.plan
                                .step(Resource::node(i))
                                .map(|s| s.reasons.clone())
                                .unwrap_or_default()
                        })
                        .collect(),
                });
            }
            p.plan = held;
        }
        if p.plan.has_changes() && !confirm(&p.plan) {
            return Err(OpsError::Cancelled { verb: "apply" });
        }
        if interrupt::requested() {
            return Err(interrupted("apply", None));
        }
        let files = write_user_data(user_data_dir, &p.rendered)?;
        let mut state = p.state;
        // Picked addresses are remembered before any launch, so a resumed apply renders the same.
        state.node_ips = Some([p.desired.nodes[0].private_ip, p.desired.nodes[1].private_ip]);
        self.backend.save(&mut state).await?;
        let state = if p.plan.has_changes() {
            let ex = Executor::new(
                self.cloud,
                Some(&p.desired),
                &p.plan,
                state,
                self.backend.sink(),
                progress,
                self.exec.clone(),
            );
            let (state, result) = ex.run().await;
            if interrupt::requested() {
                return Err(interrupted("apply", result.err()));
            }
            result?;
            state
        } else {
            state
        };
        let mut state = state;
        let observed = observe(self.cloud, &p.desired.scope(), &mut state).await?;
        Ok(Outcome {
            report: Report::build(&(&p.desired).into(), &observed, &state, Some(files)),
            plan: p.plan,
        })
    }

    /// State and the live pair, without the lookups and rendering only apply needs (so
    /// destroy and status work even when, say, the image is no longer available).
    pub async fn observe(&self) -> Result<(State, Scope, Observed, Labels), OpsError> {
        let mut state = self.load_state().await?;
        let subnet = self
            .cloud
            .get_subnet(&self.spec.subnet_id)
            .await
            .map_err(ResolveError::from)?
            .ok_or_else(|| ResolveError::SubnetNotFound {
                id: self.spec.subnet_id.clone(),
            })?;
        let spec = &self.spec;
        let scope = Scope {
            pair: spec.pair.clone(),
            tenancy_id: self.tenancy_id.clone(),
            compartment_id: spec.compartment_id.clone(),
            vcn_id: subnet.vcn_id,
            subnet_id: spec.subnet_id.clone(),
            vip: spec.vip,
            extra_vips: spec.extra_vips.clone(),
            public_ip: spec.public_ip.clone(),
            dynamic_group: spec.dynamic_group.clone(),
            policy: spec.policy.clone(),
            policy_compartment_id: subnet.compartment_id,
        };
        let observed = observe(self.cloud, &scope, &mut state).await?;
        let labels = Labels {
            pair: spec.pair.clone(),
            vip: spec.vip,
            names: [spec.nodes[0].name.clone(), spec.nodes[1].name.clone()],
            addresses: [0, 1].map(|i| spec.nodes[i].private_ip.or(state.node_ips.map(|a| a[i]))),
        };
        Ok((state, scope, observed, labels))
    }

    /// The destroy plan, from what exists now.
    pub async fn destroy_plan(&self) -> Result<Plan, OpsError> {
        let (_, _, observed, _) = self.observe().await?;
        Ok(destroy_plan(&observed))
    }

    pub async fn destroy(
        &self,
        confirm: &(dyn Fn(&Plan) -> bool + Sync),
        progress: &dyn Progress,
    ) -> Result<Outcome, OpsError> {
        with_lock(
            &self.backend,
            "vipsetup destroy",
            self.lock_timeout,
            self.destroy_locked(confirm, progress),
        )
        .await
    }

    async fn destroy_locked(
        &self,
        confirm: &(dyn Fn(&Plan) -> bool + Sync),
        progress: &dyn Progress,
    ) -> Result<Outcome, OpsError> {
        let (state, scope, observed, labels) = self.observe().await?;
        let plan = destroy_plan(&observed);
        if plan.has_changes() && !confirm(&plan) {
            return Err(OpsError::Cancelled { verb: "destroy" });
        }
        if interrupt::requested() {
            return Err(interrupted("destroy", None));
        }
        let mut state = state;
        self.backend.save(&mut state).await?;
        let ex = Executor::new(
            self.cloud,
            None,
            &plan,
            state,
            self.backend.sink(),
            progress,
            self.exec.clone(),
        );
        let (mut state, result) = ex.run().await;
        if interrupt::requested() {
            return Err(interrupted("destroy", result.err()));
        }
        result?;
        let observed = observe(self.cloud, &scope, &mut state).await?;
        if state.recorded().is_empty() && state.node_ips.is_some() {
            // Addresses picked for a pair that is gone are free again: a later apply picks
            // anew instead of reusing ones another machine may have taken since.
            state.node_ips = None;
            self.backend.save(&mut state).await?;
        }
        Ok(Outcome {
            report: Report::build(&labels, &observed, &state, None),
            plan,
        })
    }

    /// Each resource's live state and where the VIP is, per the API. Read-only.
    pub async fn status(&self) -> Result<Report, OpsError> {
        let (state, _, observed, labels) = self.observe().await?;
        Ok(Report::build(&labels, &observed, &state, None))
    }
}

/// The error a stopped run ends with: what each unfinished step said (the executor saved the
/// state after every call that changed the cloud).
fn interrupted(verb: &'static str, failures: Option<ExecError>) -> OpsError {
    OpsError::Interrupted {
        verb,
        stopped: failures
            .map(|f| {
                f.failures
                    .iter()
                    .filter(|(_, e)| match e {
                        StepError::DependencyFailed(_) => false,
                        StepError::Interrupted(why) => why != NOT_STARTED_INTERRUPTED,
                        _ => true,
                    })
                    .map(|(r, e)| format!("{r}: {e}"))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// `<dir>/<node>.cloud-init.yaml`, mode 0600 (user data can hold site secrets).
fn write_user_data(dir: &Path, rendered: &[RenderedUserData; 2]) -> Result<[PathBuf; 2], OpsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OpsError::WriteUserData { path, source }
    };
    fs::create_dir_all(dir).map_err(err(dir))?;
    let write = |r: &RenderedUserData| -> Result<PathBuf, OpsError> {
        let path = dir.join(format!("{}.cloud-init.yaml", r.name));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(err(&path))?;
        f.write_all(r.cloud_config.as_bytes()).map_err(err(&path))?;
        Ok(path)
    };
    Ok([write(&rendered[0])?, write(&rendered[1])?])
}

/// The default directory for rendered user data: `<blueprint>.rendered/` next to it.
pub fn default_user_data_dir(blueprint: &Path) -> PathBuf {
    let mut name = blueprint.file_name().unwrap_or_default().to_os_string();
    name.push(".rendered");
    blueprint.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::executor::tests::FakeCloud;
    use crate::engine::progress::Silent;
    use crate::engine::resolve::ImageChoice;
    use std::time::Duration;

    /// The resolver's quickstart pair, with both addresses and fault domains left to apply
    /// and the image given by OCID.
    fn spec() -> PairSpec {
        let mut s = crate::engine::resolve::tests::spec();
        s.nodes[0].private_ip = None;
        s.nodes[1].fault_domain = None;
        s.image = ImageChoice::Ocid("ocid1.image.oc1..img".into());
        s
    }

    fn render(f: &RenderFacts) -> Result<[RenderedUserData; 2], String> {
        Ok([0, 1].map(|i| RenderedUserData {
            name: format!("instance{}", i + 1),
            cloud_config: format!(
                "#cloud-config\n# me {} peer {}\n",
                f.node_ips[i],
                f.node_ips[1 - i]
            ),
            user_data: format!("ud-{}-{}", f.node_ips[i], f.node_ips[1 - i]),
            boot: NodeBoot::default(),
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn apply_picks_addresses_once_writes_user_data_and_refuses_silent_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = FakeCloud::default();
        let mut sess = Session {
            cloud: &cloud,
            tenancy_id: "ocid1.tenancy.oc1..t".into(),
            spec: spec(),
            backend: Backend::local(dir.path().join("bp.yaml.state.json")),
            lock_timeout: Duration::ZERO,
            render: &render,
            exec: ExecOptions {
                poll_interval: Duration::from_secs(1),
                wait_timeout: Duration::from_secs(60),
            },
            upgrade_image: false,
        };
        let yes = |_: &Plan| true;
        let out = sess
            .apply(&[], &yes, &Silent, &dir.path().join("rendered"))
            .await
            .unwrap();
        assert_eq!(out.report.vip_holder.as_deref(), Some("instance1"));
        let ips: Vec<_> = out
            .report
            .nodes
            .iter()
            .map(|n| n.private_ip.unwrap().to_string())
            .collect();
        assert_eq!(ips, ["172.16.2.2", "172.16.2.3"]);
        let cfg =
            fs::read_to_string(dir.path().join("rendered/instance1.cloud-init.yaml")).unwrap();
        assert!(cfg.contains("me 172.16.2.2 peer 172.16.2.3"), "{cfg}");
        // The picked addresses stay even though the subnet now shows them as used.
        let plan = sess.plan(&[]).await.unwrap();
        assert!(!plan.has_changes(), "{}", plan.render_text());

        // A change that forces replacement needs --replace (a shape changes in place now).
        sess.spec.nodes[0].private_ip = Some("172.16.2.20".parse().unwrap());
        sess.spec.nodes[1].private_ip = Some("172.16.2.21".parse().unwrap());
        let e = sess
            .apply(&[], &yes, &Silent, &dir.path().join("rendered"))
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("run again with --replace instance1 --replace instance2"),
            "{e}"
        );
        let no = |_: &Plan| false;
        let e = sess
            .apply(&[0, 1], &no, &Silent, &dir.path().join("rendered"))
            .await
            .unwrap_err();
        assert!(matches!(e, OpsError::Cancelled { verb: "apply" }));
        assert_eq!(sess.node_indexes(&["instance2".into()]).unwrap(), vec![1]);
        let e = sess.node_indexes(&["nope".into()]).unwrap_err();
        assert!(e.to_string().contains("use instance1 or instance2"), "{e}");

        let gone = sess.destroy(&yes, &Silent).await.unwrap();
        assert!(gone
            .report
            .resources
            .iter()
            .all(|r| r.state == "ABSENT" || r.state == "TERMINATED"));
        assert!(
            gone.report
                .nodes
                .iter()
                .all(|n| n.state == "ABSENT" || n.state == "TERMINATED"),
            "{:?}",
            gone.report
        );
    }
}
