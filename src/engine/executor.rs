//! Carries out a plan as a dependency graph: every step runs as soon as the milestones it
//! depends on are reached (both instances launch together, the IAM objects are made while the
//! instances boot, the VIP goes on as soon as its node's VNIC exists), and state is saved after
//! every call that changed the cloud. A failed step stops only the steps that depend on it.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use super::backend::StateSink;
use super::cloud::{
    Cloud, CloudError, DynamicGroupSpec, InstanceSpec, InstanceUpdate, Ipv6Spec, NsgSpec,
    PolicySpec, PrivateIpSpec, ReservedIpSpec,
};
use super::drift;
use super::iam;
use super::model::{vrrp_rules, Desired, DesiredPublicIp, Resource};
use super::plan::{Action, Dep, Milestone, Plan, PlanKind, Step};
use super::progress::Progress;
use super::state::{State, StateError, ADOPTED};
use super::token::{address_token, public_ip_token, token_for};

#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// How often to poll a resource that is on its way to a state.
    pub poll_interval: Duration,
    /// How long one wait (e.g. for RUNNING) may take before the step fails.
    pub wait_timeout: Duration,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            poll_interval: Duration::from_secs(3),
            wait_timeout: Duration::from_secs(20 * 60),
        }
    }
}

/// How long after IAM writes "not found"-like answers are taken for propagation lag.
const IAM_CONSISTENCY_WINDOW: Duration = Duration::from_secs(240);

/// The answers Oracle's Go SDK retries inside the eventual-consistency window that an IAM
/// write opens (common/eventual_consistency.go, affectedByEventualConsistencyRetryStatusCodeMap:
/// 400 RelatedResourceNotAuthorizedOrNotFound, 404 NotAuthorizedOrNotFound, 409
/// NotAuthorizedOrResourceAlreadyExists, 400 InsufficientServicePermissions, 400
/// ResourceDisabled), plus OCI's refusal of a policy naming a group IAM can't see yet (400
/// InvalidParameter "... does not exist under current compartment hierarchy",
/// oracle-devrel/terraform-oci-ocloud-foundation#6).
fn is_iam_lag(e: &CloudError) -> bool {
    let lag_code = matches!(
        (e.status, e.code.as_deref()),
        (Some(404), _)
            | (
                Some(400),
                Some(
                    "RelatedResourceNotAuthorizedOrNotFound"
                        | "InsufficientServicePermissions"
                        | "ResourceDisabled"
                )
            )
            | (Some(409), Some("NotAuthorizedOrResourceAlreadyExists"))
    );
    let group_not_visible = e.status == Some(400)
        && e.code.as_deref() == Some("InvalidParameter")
        && e.message
            .contains("does not exist under current compartment hierarchy");
    lag_code || group_not_visible
}

fn is_invalidated_token(e: &CloudError) -> bool {
    e.status == Some(409) && e.code.as_deref() == Some("InvalidatedRetryToken")
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Failed(String),
    #[error("not started: {0} failed")]
    DependencyFailed(Resource),
    /// A 404 on an IAM write that no IAM change of this run can explain: the user's own
    /// permission is missing, and waiting would not help.
    #[error(
        "{operation} was refused with HTTP 404 NotAuthorizedOrNotFound and no IAM change of \
         this run is propagating, so your user most likely lacks the permission; ask an \
         administrator to grant your group `{statement}`, then run the command again"
    )]
    PermissionMissing {
        operation: &'static str,
        statement: String,
    },
}

/// The steps that failed, each with its error; the state is saved as far as it got.
#[derive(Debug, thiserror::Error)]
#[error("{}; fix the cause and run the command again (it resumes where it stopped)",
    .failures.iter().map(|(r, e)| format!("{r}: {e}")).collect::<Vec<_>>().join("; "))]
pub struct ExecError {
    pub failures: Vec<(Resource, StepError)>,
}

#[derive(Clone, Debug, Default)]
struct Progressed {
    reached: BTreeSet<(Resource, Milestone)>,
    failed: BTreeSet<Resource>,
}

pub struct Executor<'a> {
    cloud: &'a dyn Cloud,
    desired: Option<&'a Desired>,
    plan: &'a Plan,
    state: Mutex<State>,
    sink: &'a dyn StateSink,
    /// Saves take turns, so they reach the backend in the order the state changed.
    save_turn: tokio::sync::Mutex<()>,
    progress: &'a dyn Progress,
    opts: ExecOptions,
    events: watch::Sender<Progressed>,
    /// When this run last wrote to IAM: the start of the eventual-consistency window.
    iam_written: Mutex<Option<tokio::time::Instant>>,
}

impl<'a> Executor<'a> {
    /// `desired` is needed for apply plans, not for destroy plans.
    pub fn new(
        cloud: &'a dyn Cloud,
        desired: Option<&'a Desired>,
        plan: &'a Plan,
        state: State,
        sink: &'a dyn StateSink,
        progress: &'a dyn Progress,
        opts: ExecOptions,
    ) -> Executor<'a> {
        Executor {
            cloud,
            desired,
            plan,
            state: Mutex::new(state),
            sink,
            save_turn: tokio::sync::Mutex::new(()),
            progress,
            opts,
            events: watch::channel(Progressed::default()).0,
            iam_written: Mutex::new(None),
        }
    }

    /// Runs every step; returns the final state, or the failures (state saved either way).
    pub async fn run(self) -> (State, Result<(), ExecError>) {
        let results =
            futures_util::future::join_all(self.plan.steps.iter().map(|s| self.run_step(s))).await;
        let failures: Vec<_> = self
            .plan
            .steps
            .iter()
            .zip(results)
            .filter_map(|(s, r)| r.err().map(|e| (s.resource, e)))
            .collect();
        let state = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        if failures.is_empty() {
            (state, Ok(()))
        } else {
            (state, Err(ExecError { failures }))
        }
    }

    async fn run_step(&self, step: &Step) -> Result<(), StepError> {
        let r = step.resource;
        if step.action == Action::NoOp {
            self.reach_all(r);
            return Ok(());
        }
        if let Err(failed) = self.wait_deps(&step.depends_on).await {
            self.fail(r);
            self.progress
                .finished(r, Err(&format!("not started: {failed} failed")));
            return Err(StepError::DependencyFailed(failed));
        }
        self.progress.started(step);
        let result = match self.plan.kind {
            PlanKind::Apply => self.apply_step(step).await,
            PlanKind::Destroy => self.destroy_step(r).await,
        };
        match &result {
            Ok(()) => {
                self.reach_all(r);
                self.progress.finished(r, Ok(()));
            }
            Err(e) => {
                self.fail(r);
                self.progress.finished(r, Err(&e.to_string()));
            }
        }
        result
    }

    async fn wait_deps(&self, deps: &[Dep]) -> Result<(), Resource> {
        let mut rx = self.events.subscribe();
        let outcome = rx
            .wait_for(|p| {
                deps.iter().any(|d| p.failed.contains(&d.resource))
                    || deps
                        .iter()
                        .all(|d| p.reached.contains(&(d.resource, d.milestone)))
            })
            .await
            .expect("sender lives as long as the executor");
        match deps.iter().find(|d| outcome.failed.contains(&d.resource)) {
            Some(d) => Err(d.resource),
            None => Ok(()),
        }
    }

    fn reach(&self, r: Resource, m: Milestone) {
        self.events.send_modify(|p| {
            p.reached.insert((r, m));
        });
    }

    fn reach_all(&self, r: Resource) {
        for m in [Milestone::Launched, Milestone::VnicReady, Milestone::Done] {
            self.reach(r, m);
        }
    }

    fn fail(&self, r: Resource) {
        self.events.send_modify(|p| {
            p.failed.insert(r);
        });
    }

    /// Changes the state and saves it at once; saves take turns so they never interleave.
    async fn record(&self, f: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let _turn = self.save_turn.lock().await;
        let snapshot = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut s);
            s.serial += 1;
            s.clone()
        };
        self.sink.save(&snapshot).await
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn desired(&self) -> &'a Desired {
        self.desired.expect("apply plans run with a desired state")
    }

    fn id_of(&self, r: Resource) -> Result<String, StepError> {
        self.read(|s| s.id(r).map(str::to_string))
            .ok_or_else(|| StepError::Failed(format!("no {r} recorded in state")))
    }

    /// Polls `probe` until it returns `Some`, sleeping `poll_interval` between tries.
    async fn poll<T, F, Fut>(&self, r: Resource, what: &str, mut probe: F) -> Result<T, StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, StepError>>,
    {
        let deadline = tokio::time::Instant::now() + self.opts.wait_timeout;
        loop {
            if let Some(v) = probe().await? {
                return Ok(v);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StepError::Failed(format!(
                    "gave up waiting for {r} to be {what} after {}s; check it in the console, then run the command again",
                    self.opts.wait_timeout.as_secs()
                )));
            }
            tokio::time::sleep(self.opts.poll_interval).await;
        }
    }

    /// Runs a create with `r`'s retry token. When OCI answers 409 InvalidatedRetryToken (what an
    /// earlier request with that token made was deleted since: docs, apierrors.htm), re-sending
    /// it would fail forever: the token is retired and the create runs once with a fresh one.
    async fn with_token<T, F, Fut>(&self, r: Resource, create: F) -> Result<T, StepError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, CloudError>>,
    {
        let token = self.read(|s| token_for(s, r));
        match create(token).await {
            Err(e) if is_invalidated_token(&e) => {
                self.record(|s| s.invalidate_token(r)).await?;
                let token = self.read(|s| token_for(s, r));
                Ok(create(token).await?)
            }
            other => Ok(other?),
        }
    }

    fn iam_wrote(&self) {
        *self.iam_written.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(tokio::time::Instant::now());
    }

    /// IAM is eventually consistent: right after a write, a new dynamic group may still be
    /// "not found" for the policy that names it. Inside the 4 minutes after one of this run's
    /// IAM writes, retries those answers, as Oracle's Go SDK does (creates re-send the same retry
    /// token, so a retry can't make a second copy). Outside it nothing is propagating: a 404 is
    /// a missing permission, reported at once with the statement (`needs`) that grants it.
    async fn iam_call<T, F, Fut>(
        &self,
        r: Resource,
        operation: &'static str,
        needs: &str,
        mut call: F,
    ) -> Result<T, StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CloudError>>,
    {
        let mut delay = self.opts.poll_interval;
        loop {
            let window = self
                .iam_written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .map(|at| at + IAM_CONSISTENCY_WINDOW);
            match call().await {
                Ok(v) => {
                    self.iam_wrote();
                    return Ok(v);
                }
                Err(e)
                    if is_iam_lag(&e)
                        && window.is_some_and(|w| tokio::time::Instant::now() + delay < w) =>
                {
                    self.progress.status(r, "waiting for IAM to catch up");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                Err(e) if e.status == Some(404) && window.is_none() => {
                    return Err(StepError::PermissionMissing {
                        operation,
                        statement: needs.to_string(),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    // ---- apply ----

    async fn apply_step(&self, step: &Step) -> Result<(), StepError> {
        let r = step.resource;
        match (r, step.action) {
            (Resource::Nsg, Action::Create) => self.create_nsg().await,
            (Resource::Nsg, _) => self.ensure_nsg_rules().await,
            (Resource::Node1 | Resource::Node2, Action::Wait) => {
                let id = self.id_of(r)?;
                self.await_node(r, &id).await
            }
            (Resource::Node1 | Resource::Node2, Action::Update) => self.update_node(r).await,
            (Resource::Node1 | Resource::Node2, action) => {
                if action == Action::Replace {
                    self.hand_over(r).await?;
                    self.terminate_node(r).await?;
                }
                self.launch_node(r).await?;
                if action == Action::Replace {
                    self.admit_to_dynamic_group(r).await?;
                }
                Ok(())
            }
            (Resource::DynamicGroup, action) => {
                if action == Action::Replace {
                    let id = self.id_of(r)?;
                    self.cloud.delete_dynamic_group(&id).await?;
                    self.iam_wrote();
                    self.record(|s| s.retire(r)).await?;
                }
                self.put_dynamic_group(action == Action::Update).await
            }
            (Resource::Policy, action) => {
                if action == Action::Replace {
                    let id = self.id_of(r)?;
                    self.cloud.delete_policy(&id).await?;
                    self.iam_wrote();
                    self.record(|s| s.retire(r)).await?;
                }
                self.put_policy(action == Action::Update).await
            }
            (Resource::Vip, Action::Update) => {
                self.update_vip().await?;
                self.ensure_extra_vips().await
            }
            (Resource::Vip, Action::Replace) => {
                if let Some(old) = self.read(|s| s.id(r).map(str::to_string)) {
                    self.progress.status(r, "deleting the old address");
                    self.cloud.delete_private_ip(&old).await?;
                    self.record(|s| s.retire(r)).await?;
                }
                self.create_vip().await?;
                self.ensure_extra_vips().await
            }
            (Resource::Vip, _) => {
                self.create_vip().await?;
                self.ensure_extra_vips().await
            }
        }
    }

    async fn create_nsg(&self) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Nsg;
        self.record(|s| s.retire(r)).await?;
        let spec = NsgSpec {
            compartment_id: d.compartment_id.clone(),
            vcn_id: d.vcn_id.clone(),
            display_name: d.nsg_name.clone(),
            tags: d.tags_for(r),
        };
        self.progress.status(r, "creating");
        let spec = &spec;
        let id = self
            .with_token(r, |token| async move {
                self.cloud.create_nsg(spec, &token).await
            })
            .await?;
        self.record(|s| s.entry(r).id = Some(id.clone())).await?;
        self.ensure_nsg_rules().await
    }

    /// Waits for AVAILABLE and adds whichever VRRP rule is missing (none after a resume).
    async fn ensure_nsg_rules(&self) -> Result<(), StepError> {
        let r = Resource::Nsg;
        let id = self.id_of(r)?;
        let nsg = self
            .poll(r, "AVAILABLE", || async {
                match self.cloud.get_nsg(&id).await? {
                    None => Err(StepError::Failed(format!(
                        "network security group {id} disappeared"
                    ))),
                    Some(n) if n.lifecycle_state == "AVAILABLE" => Ok(Some(n)),
                    Some(n) => {
                        self.progress.status(r, &n.lifecycle_state);
                        Ok(None)
                    }
                }
            })
            .await?;
        // Instances may launch into it from here on; the rules can follow.
        self.reach(r, Milestone::Launched);
        let missing: Vec<_> = vrrp_rules(&id)
            .into_iter()
            .filter(|w| !nsg.rules.contains(w))
            .collect();
        if !missing.is_empty() {
            self.progress.status(r, "adding VRRP rules");
            self.cloud.add_nsg_rules(&id, &missing).await?;
        }
        let want = self.desired().tags_for(r);
        if nsg.tags != want {
            self.progress.status(r, "updating tags");
            self.cloud.update_nsg_tags(&id, &want).await?;
        }
        Ok(())
    }

    /// A node about to be terminated that holds the VIP is soft-stopped first: its OS shuts
    /// keepalived down, which gives up MASTER at once, and the peer's agent takes the VIP
    /// over. Terminating straight away would leave the VIP on a dying VNIC until the peer
    /// noticed the silence. Which node holds it is read now (the agent may have moved it).
    async fn hand_over(&self, r: Resource) -> Result<(), StepError> {
        let d = self.desired();
        let Some((id, vnic)) = self.read(|s| {
            s.get(r)
                .and_then(|e| Some((e.id.clone()?, e.vnic_id.clone()?)))
        }) else {
            return Ok(());
        };
        let holds = self
            .cloud
            .find_private_ip(&d.subnet_id, d.vip)
            .await?
            .is_some_and(|p| !p.is_primary && p.vnic_id.as_deref() == Some(vnic.as_str()));
        let running = self
            .cloud
            .get_instance(&id)
            .await?
            .is_some_and(|i| i.lifecycle_state == "RUNNING");
        if !(holds && running) {
            return Ok(());
        }
        self.progress
            .status(r, "soft-stopping so the peer takes the vip over");
        self.cloud.instance_action(&id, "SOFTSTOP").await?;
        // OCI powers the instance off after 15 minutes if the OS has not shut down by then
        // (oci-python-sdk ComputeClient.instance_action, SOFTSTOP).
        self.poll(r, "STOPPED", || async {
            match self.cloud.get_instance(&id).await? {
                None => Ok(Some(())),
                Some(i) if matches!(i.lifecycle_state.as_str(), "STOPPED" | "TERMINATED") => {
                    Ok(Some(()))
                }
                Some(i) => {
                    self.progress.status(r, &i.lifecycle_state);
                    Ok(None)
                }
            }
        })
        .await
    }

    /// After a replacement: the existing dynamic group's matching rule names the new instance
    /// before this step ends, so the peer (whose step may wait for this one) is replaced only
    /// once this node may claim the VIP. A dynamic group the plan creates or replaces is left to
    /// its own step.
    async fn admit_to_dynamic_group(&self, r: Resource) -> Result<(), StepError> {
        let dg = Resource::DynamicGroup;
        if matches!(self.plan.action(dg), Action::Create | Action::Replace)
            || self.read(|s| s.id(dg).is_none())
        {
            return Ok(());
        }
        // The dynamic group's own step may have named it already (it runs once both nodes
        // are launched); then there is nothing to do.
        let spec = self.dynamic_group_spec()?;
        let live = self.cloud.get_dynamic_group(&self.id_of(dg)?).await?;
        if live.is_some_and(|g| iam::same_matching_rule(&g.matching_rule, &spec.matching_rule)) {
            return Ok(());
        }
        self.progress
            .status(r, "adding the new instance to the dynamic group");
        self.put_dynamic_group(true).await
    }

    /// Tags, a flex shape's size (OCI reboots a running instance for it), NSG membership and
    /// the ephemeral public IP, each changed in place as the plan's changes say.
    async fn update_node(&self, r: Resource) -> Result<(), StepError> {
        let d = self.desired();
        let i = r.node_index().expect("a node");
        let want = &d.nodes[i];
        let id = self.id_of(r)?;
        let changes = &self
            .plan
            .step(r)
            .expect("an update step is in its plan")
            .changes;
        let changed = |a: &str| changes.iter().any(|c| c.attribute == a);
        let tags = changes
            .iter()
            .any(|c| c.attribute.starts_with("freeform_tags."));
        let resize = changed("ocpus") || changed("memory_gb");
        if tags || resize {
            let u = InstanceUpdate {
                tags: tags.then(|| d.tags_for(r)),
                ocpus: want.ocpus.filter(|_| resize),
                memory_in_gbs: want.memory_in_gbs.filter(|_| resize),
            };
            self.progress.status(r, "updating");
            self.cloud.update_instance(&id, &u).await?;
        }
        if changed("nsg_ids") || changed("assign_public_ip") {
            let vnic = self
                .cloud
                .primary_vnic(&d.compartment_id, &id)
                .await?
                .ok_or_else(|| StepError::Failed(format!("{r} has no primary vnic")))?;
            let nsg = self.id_of(Resource::Nsg)?;
            if !vnic.nsg_ids.contains(&nsg) {
                let mut ids = vnic.nsg_ids.clone();
                ids.push(nsg);
                self.progress
                    .status(r, "adding its vnic to the network security group");
                self.cloud.update_vnic_nsgs(&vnic.id, &ids).await?;
            }
            match (&vnic.public_ip, want.assign_public_ip) {
                (None, true) => {
                    self.progress.status(r, "assigning a public ip");
                    self.cloud.assign_public_ip(&vnic.id).await?;
                }
                (Some(address), false) => {
                    self.progress.status(r, "removing its public ip");
                    self.cloud.unassign_public_ip(address).await?;
                }
                _ => {}
            }
        }
        if resize {
            self.await_node(r, &id).await?;
        }
        Ok(())
    }

    async fn terminate_node(&self, r: Resource) -> Result<(), StepError> {
        let Some(id) = self.read(|s| s.id(r).map(str::to_string)) else {
            return Ok(());
        };
        self.progress.status(r, "terminating the old instance");
        self.cloud.terminate_instance(&id).await?;
        self.wait_terminated(r, &id).await?;
        self.record(|s| s.retire(r)).await?;
        Ok(())
    }

    async fn wait_terminated(&self, r: Resource, id: &str) -> Result<(), StepError> {
        self.poll(r, "TERMINATED", || async {
            match self.cloud.get_instance(id).await? {
                None => Ok(Some(())),
                Some(i) if i.lifecycle_state == "TERMINATED" => Ok(Some(())),
                Some(i) => {
                    self.progress.status(r, &i.lifecycle_state);
                    Ok(None)
                }
            }
        })
        .await
    }

    /// OCI wants a node's hostname label unique in its subnet (SDK docstrings: "Must be unique
    /// across all VNICs in the subnet") and fails the launch otherwise: checked first, so the
    /// error says what to change.
    async fn check_hostname_free(&self, r: Resource) -> Result<(), StepError> {
        let d = self.desired();
        let i = r.node_index().expect("a node");
        let Some(label) = &d.nodes[i].hostname_label else {
            return Ok(());
        };
        match self.cloud.hostname_holder(&d.subnet_id, label).await? {
            Some(holder) => Err(StepError::Failed(format!(
                "hostname {label} is already used in subnet {} (by private IP {holder}); rename \
                 node {} in the blueprint or free that hostname, then run the command again",
                d.subnet_id, d.nodes[i].name
            ))),
            None => Ok(()),
        }
    }

    async fn launch_node(&self, r: Resource) -> Result<(), StepError> {
        let d = self.desired();
        let i = r.node_index().expect("a node");
        // A recorded instance that is gone gets a fresh token; an unrecorded one (killed right
        // after the launch request) re-sends the same token and OCI replays that launch.
        self.record(|s| s.retire(r)).await?;
        let spec = InstanceSpec {
            compartment_id: d.compartment_id.clone(),
            subnet_id: d.subnet_id.clone(),
            nsg_ids: vec![self.id_of(Resource::Nsg)?],
            node: d.nodes[i].clone(),
            tags: d.tags_for(r),
        };
        self.check_hostname_free(r).await?;
        self.progress.status(r, "launching");
        let spec = &spec;
        let id = self
            .with_token(r, |token| async move {
                self.cloud.launch_instance(spec, &token).await
            })
            .await?;
        self.record(|s| {
            let e = s.entry(r);
            e.id = Some(id.clone());
            e.name = Some(d.nodes[i].name.clone());
        })
        .await?;
        self.reach(r, Milestone::Launched);
        self.await_node(r, &id).await
    }

    /// Polls a launched node until its primary VNIC is known (milestone `VnicReady`, which
    /// the VIP waits for) and it is RUNNING.
    async fn await_node(&self, r: Resource, id: &str) -> Result<(), StepError> {
        let d = self.desired();
        self.reach(r, Milestone::Launched);
        let id = id.to_string();
        let vnic_known = AtomicBool::new(false);
        self.poll(r, "RUNNING", || {
            let (id, vnic_known) = (id.clone(), &vnic_known);
            async move {
                if !vnic_known.load(Ordering::SeqCst) {
                    if let Some(v) = self.cloud.primary_vnic(&d.compartment_id, &id).await? {
                        self.record(|s| s.entry(r).vnic_id = Some(v.id.clone())).await?;
                        self.reach(r, Milestone::VnicReady);
                        vnic_known.store(true, Ordering::SeqCst);
                    }
                }
                let vnic_known = vnic_known.load(Ordering::SeqCst);
                let inst = self.cloud.get_instance(&id).await?.ok_or_else(|| {
                    StepError::Failed(format!("instance {id} disappeared while launching"))
                })?;
                match inst.lifecycle_state.as_str() {
                    "RUNNING" if vnic_known => Ok(Some(())),
                    "TERMINATING" | "TERMINATED" => Err(StepError::Failed(format!(
                        "instance {id} was terminated while launching (often \"out of host capacity\"); \
                         try another fault domain or availability domain, then run apply again"
                    ))),
                    other => {
                        self.progress.status(r, other);
                        Ok(None)
                    }
                }
            }
        })
        .await
    }

    fn dynamic_group_spec(&self) -> Result<DynamicGroupSpec, StepError> {
        let d = self.desired();
        let ids = [self.id_of(Resource::Node1)?, self.id_of(Resource::Node2)?];
        Ok(DynamicGroupSpec {
            tenancy_id: d.tenancy_id.clone(),
            name: d.dynamic_group.name.clone(),
            description: d.dynamic_group.description.clone(),
            matching_rule: iam::matching_rule(&[&ids[0], &ids[1]]),
            tags: d.tags_for(Resource::DynamicGroup),
        })
    }

    async fn put_dynamic_group(&self, update: bool) -> Result<(), StepError> {
        let spec = &self.dynamic_group_spec()?;
        self.put_iam(
            Resource::DynamicGroup,
            &spec.name,
            update,
            |token| async move { self.cloud.create_dynamic_group(spec, &token).await },
            |id| async move { self.cloud.update_dynamic_group(&id, spec).await },
            |id| async move {
                let g = self.cloud.get_dynamic_group(&id).await?;
                Ok(g.map(|g| g.lifecycle_state))
            },
        )
        .await
    }

    async fn put_policy(&self, update: bool) -> Result<(), StepError> {
        let d = self.desired();
        let spec = &PolicySpec {
            compartment_id: d.policy.compartment_id.clone(),
            name: d.policy.name.clone(),
            description: d.policy.description.clone(),
            statements: d.policy.statements.clone(),
            tags: d.tags_for(Resource::Policy),
        };
        self.put_iam(
            Resource::Policy,
            &spec.name,
            update,
            |token| async move { self.cloud.create_policy(spec, &token).await },
            |id| async move { self.cloud.update_policy(&id, spec).await },
            |id| async move {
                let p = self.cloud.get_policy(&id).await?;
                Ok(p.map(|p| p.lifecycle_state))
            },
        )
        .await
    }

    /// The operation writing `r` and the statement the user's group needs for it (Oracle's IAM
    /// policy reference: DYNAMIC_GROUP_CREATE/UPDATE come with `manage dynamic-groups`, which
    /// exist only in the tenancy; POLICY_CREATE/UPDATE with `manage policies` where the policy is
    /// attached).
    fn iam_permission(&self, r: Resource, update: bool) -> (&'static str, String) {
        if r == Resource::DynamicGroup {
            let op = if update {
                "UpdateDynamicGroup"
            } else {
                "CreateDynamicGroup"
            };
            return (
                op,
                "Allow group <your-group> to manage dynamic-groups in tenancy".into(),
            );
        }
        let c = &self.desired().policy.compartment_id;
        let scope = if c.starts_with("ocid1.tenancy.") {
            "tenancy".to_string()
        } else {
            format!("compartment id {c}")
        };
        let op = if update {
            "UpdatePolicy"
        } else {
            "CreatePolicy"
        };
        (
            op,
            format!("Allow group <your-group> to manage policies in {scope}"),
        )
    }

    /// Creates (recording id and name at once) or updates a dynamic group or policy through
    /// `iam_call`, then waits for it to be ACTIVE. `lifecycle` reads its state by id.
    async fn put_iam<C, CFut, U, UFut, L, LFut>(
        &self,
        r: Resource,
        name: &str,
        update: bool,
        create: C,
        update_call: U,
        lifecycle: L,
    ) -> Result<(), StepError>
    where
        C: Fn(String) -> CFut,
        CFut: Future<Output = Result<String, CloudError>>,
        U: Fn(String) -> UFut,
        UFut: Future<Output = Result<(), CloudError>>,
        L: Fn(String) -> LFut,
        LFut: Future<Output = Result<Option<String>, CloudError>>,
    {
        let (operation, needs) = self.iam_permission(r, update);
        let id = if update {
            let id = self.id_of(r)?;
            self.progress.status(r, "updating");
            self.iam_call(r, operation, &needs, || update_call(id.clone()))
                .await?;
            id
        } else {
            self.record(|s| s.retire(r)).await?;
            self.progress.status(r, "creating");
            let token = self.read(|s| token_for(s, r));
            let id = match self
                .iam_call(r, operation, &needs, || create(token.clone()))
                .await
            {
                Err(StepError::Cloud(e)) if is_invalidated_token(&e) => {
                    self.record(|s| s.invalidate_token(r)).await?;
                    let token = self.read(|s| token_for(s, r));
                    self.iam_call(r, operation, &needs, || create(token.clone()))
                        .await?
                }
                other => other?,
            };
            self.record(|s| {
                let e = s.entry(r);
                e.id = Some(id.clone());
                e.name = Some(name.to_string());
            })
            .await?;
            id
        };
        self.poll(r, "ACTIVE", || async {
            match lifecycle(id.clone()).await? {
                Some(state) if state == "ACTIVE" => Ok(Some(())),
                Some(state) => {
                    self.progress.status(r, &state);
                    Ok(None)
                }
                None => Ok(None),
            }
        })
        .await
    }

    async fn create_vip(&self) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let holder = Resource::node(d.preferred);
        let vnic_id = self
            .read(|s| s.get(holder).and_then(|e| e.vnic_id.clone()))
            .ok_or_else(|| StepError::Failed(format!("no vnic recorded for {holder}")))?;
        // The agent may have made it already (it re-creates the VIP when it takes over and
        // finds none): adopt that one rather than fail on an address in use.
        if let Some(found) = self.adoptable_vip().await? {
            self.record(|s| s.entry(r).id = Some(found)).await?;
            return Ok(());
        }
        self.record(|s| s.retire(r)).await?;
        let spec = PrivateIpSpec {
            vnic_id,
            ip_address: d.vip,
            display_name: format!("{}-vip", d.pair),
            tags: d.tags_for(r),
        };
        self.progress
            .status(r, &format!("assigning {} to {holder}", d.vip));
        let spec = &spec;
        let id = self
            .with_token(r, |token| async move {
                self.cloud.create_private_ip(spec, &token).await
            })
            .await?;
        self.record(|s| s.entry(r).id = Some(id)).await?;
        Ok(())
    }

    /// The VIP's private IP if one exists on one of the pair's VNICs (as recorded now).
    async fn adoptable_vip(&self) -> Result<Option<String>, StepError> {
        let d = self.desired();
        let Some(found) = self.cloud.find_private_ip(&d.subnet_id, d.vip).await? else {
            return Ok(None);
        };
        let ours = self.read(|s| {
            [Resource::Node1, Resource::Node2]
                .iter()
                .any(|n| s.get(*n).and_then(|e| e.vnic_id.as_ref()) == found.vnic_id.as_ref())
        });
        if ours && !found.is_primary {
            Ok(Some(found.id))
        } else {
            Err(StepError::Failed(format!(
                "the vip {} is already in use in the subnet (private ip {} on vnic {}); choose a free address for `vip` in the blueprint",
                d.vip,
                found.id,
                found.vnic_id.as_deref().unwrap_or("none")
            )))
        }
    }

    /// Moves the VIP from a VNIC outside the pair back onto the preferred node, and sets the
    /// tags the blueprint names (keeping the others: the agent's takeover record). Both are
    /// decided on what the VIP looks like now, not at plan time: the agent may have moved it.
    async fn update_vip(&self) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let id = self.id_of(r)?;
        let live =
            self.cloud.get_private_ip(&id).await?.ok_or_else(|| {
                StepError::Failed(format!("the vip's private ip {id} disappeared"))
            })?;
        let on_pair = self.read(|s| {
            [Resource::Node1, Resource::Node2]
                .iter()
                .any(|n| s.get(*n).and_then(|e| e.vnic_id.as_ref()) == live.vnic_id.as_ref())
        });
        if !on_pair {
            let node = Resource::node(d.preferred);
            let vnic_id = self
                .read(|s| s.get(node).and_then(|e| e.vnic_id.clone()))
                .ok_or_else(|| StepError::Failed(format!("no vnic recorded for {node}")))?;
            self.progress.status(r, &format!("moving to {node}"));
            self.cloud.move_private_ip(&id, &vnic_id).await?;
        }
        let want = d.tags_for(r);
        if !drift::tag_changes(&live.tags, &want, true).is_empty() {
            self.progress.status(r, "updating tags");
            let tags = drift::merged_tags(&live.tags, &want, true);
            self.cloud.update_private_ip_tags(&id, &tags).await?;
        }
        Ok(())
    }

    /// The VIPs after the first, made on the VNIC that holds the first one now (the agent moves
    /// them together), adopted when the pair already has them, and those the blueprint no
    /// longer names deleted. Each is recorded before its create (crash safety: the retry token
    /// comes from its recorded generation) and after.
    async fn ensure_extra_vips(&self) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let pair_vnics: Vec<String> = self.read(|s| {
            [Resource::Node1, Resource::Node2]
                .iter()
                .filter_map(|n| s.get(*n).and_then(|e| e.vnic_id.clone()))
                .collect()
        });
        let first = self.id_of(r)?;
        let holder_vnic = match self.cloud.get_private_ip(&first).await? {
            Some(p) => p.vnic_id,
            None => None,
        }
        .filter(|v| pair_vnics.contains(v));
        let holder_vnic = match holder_vnic {
            Some(v) => v,
            None => {
                let node = Resource::node(d.preferred);
                self.read(|s| s.get(node).and_then(|e| e.vnic_id.clone()))
                    .ok_or_else(|| StepError::Failed(format!("no vnic recorded for {node}")))?
            }
        };
        for address in &d.extra_vips {
            let key = address.to_string();
            if let Some(found) =
                super::observe::find_address(self.cloud, &d.subnet_id, *address).await?
            {
                let recorded = self.read(|s| s.address_id(&key) == Some(found.id.as_str()));
                let tagged = found.tags.get(super::model::TAG_PAIR) == Some(&d.pair);
                let on_pair = found
                    .vnic_id
                    .as_ref()
                    .is_some_and(|v| pair_vnics.contains(v));
                if found.is_primary || !(recorded || tagged || on_pair) {
                    return Err(StepError::Failed(format!(
                        "the vip {address} is already in use in the subnet ({} on vnic {}); choose a free address in the blueprint",
                        found.id,
                        found.vnic_id.as_deref().unwrap_or("none")
                    )));
                }
                self.record(|s| {
                    s.addresses.entry(key.clone()).or_default().id = Some(found.id.clone())
                })
                .await?;
                self.settle_extra_vip(&found, &pair_vnics, &holder_vnic)
                    .await?;
                continue;
            }
            self.record(|s| s.retire_address(&key, false)).await?;
            self.progress
                .status(r, &format!("assigning {address} with the first vip"));
            let id = self.create_extra_vip(*address, &holder_vnic).await;
            let id = match id {
                Err(e) if is_invalidated_token(&e) => {
                    self.record(|s| {
                        s.addresses.entry(key.clone()).or_default().generation += 1;
                    })
                    .await?;
                    self.create_extra_vip(*address, &holder_vnic).await?
                }
                other => other?,
            };
            self.record(|s| s.addresses.entry(key.clone()).or_default().id = Some(id))
                .await?;
        }
        let stale: Vec<(String, String)> = self.read(|s| {
            s.addresses
                .iter()
                .filter(|(a, _)| {
                    a.parse::<std::net::IpAddr>()
                        .map_or(true, |ip| !d.extra_vips.contains(&ip))
                })
                .map(|(a, e)| (a.clone(), e.id.clone().unwrap_or_default()))
                .collect()
        });
        for (address, id) in stale {
            if !id.is_empty() {
                self.progress.status(r, &format!("deleting vip {address}"));
                self.delete_extra_vip(&address, &id).await?;
            }
            self.record(|s| s.retire_address(&address, true)).await?;
        }
        self.ensure_public_ip(&first).await
    }

    /// The public IP on the first VIP's private IP (`first`): the user's assigned there, or a
    /// reserved one made there (recorded before its create, for its retry token); one the
    /// blueprint no longer names is let go (the user's unassigned, vipsetup's deleted).
    async fn ensure_public_ip(&self, first: &str) -> Result<(), StepError> {
        let d = self.desired();
        let r = Resource::Vip;
        let recorded = self.read(|s| {
            s.public_ip
                .as_ref()
                .and_then(|p| Some((p.id.clone()?, p.name.as_deref() == Some(ADOPTED))))
        });
        let want = match &d.public_ip {
            None => {
                self.release_public_ip(false).await?;
                return Ok(());
            }
            Some(w) => w,
        };
        // The blueprint now names another public IP than the recorded one: let the old one go
        // first (the user's unassigned, vipsetup's deleted), so none is left untracked.
        let switching = match (want, &recorded) {
            (DesiredPublicIp::Existing(id), Some((old, _))) => old != id,
            (DesiredPublicIp::Reserved, Some((_, adopted))) => *adopted,
            _ => false,
        };
        let recorded = if switching {
            self.release_public_ip(true).await?;
            None
        } else {
            recorded
        };
        let current = match (want, &recorded) {
            (DesiredPublicIp::Existing(id), _) => {
                self.record(|s| {
                    let e = s.public_ip.get_or_insert_with(Default::default);
                    e.id = Some(id.clone());
                    e.name = Some(ADOPTED.to_string());
                })
                .await?;
                self.cloud.get_public_ip(id).await?
            }
            (DesiredPublicIp::Reserved, Some((id, false))) => self.cloud.get_public_ip(id).await?,
            (DesiredPublicIp::Reserved, _) => None,
        };
        match current {
            Some(p) if p.private_ip_id.as_deref() == Some(first) => Ok(()),
            Some(p) => {
                self.progress.status(
                    r,
                    &format!(
                        "assigning public ip {} to {}",
                        p.ip_address.as_deref().unwrap_or(&p.id),
                        d.vip
                    ),
                );
                Ok(self.cloud.set_public_ip_target(&p.id, first).await?)
            }
            None => {
                self.record(|s| {
                    let e = s.public_ip.get_or_insert_with(Default::default);
                    if e.id.take().is_some() {
                        e.generation += 1;
                    }
                    e.name = None;
                })
                .await?;
                let spec = ReservedIpSpec {
                    compartment_id: d.compartment_id.clone(),
                    display_name: format!("{}-public", d.pair),
                    private_ip_id: first.to_string(),
                    tags: d.tags_for(r),
                };
                self.progress
                    .status(r, &format!("creating a reserved public ip on {}", d.vip));
                let token = self.read(public_ip_token);
                let id = self.cloud.create_reserved_public_ip(&spec, &token).await?;
                self.record(|s| {
                    s.public_ip.get_or_insert_with(Default::default).id = Some(id);
                })
                .await?;
                Ok(())
            }
        }
    }

    /// Lets the recorded public IP go: the user's is unassigned (never deleted), vipsetup's is
    /// deleted; then state forgets it (`keep_generation`: its generation stays, bumped, so a
    /// later reserved create gets a new retry token).
    async fn release_public_ip(&self, keep_generation: bool) -> Result<(), StepError> {
        let recorded = self.read(|s| {
            s.public_ip
                .as_ref()
                .and_then(|p| Some((p.id.clone()?, p.name.as_deref() == Some(ADOPTED))))
        });
        if let Some((id, adopted)) = recorded {
            if adopted {
                self.progress
                    .status(Resource::Vip, &format!("unassigning public ip {id} (kept)"));
                self.cloud.set_public_ip_target(&id, "").await?;
            } else {
                self.progress
                    .status(Resource::Vip, &format!("deleting public ip {id}"));
                self.cloud.delete_public_ip(&id).await?;
            }
        }
        self.record(|s| {
            s.public_ip = match s.public_ip.take() {
                Some(mut e) if keep_generation => {
                    e.generation += 1;
                    e.id = None;
                    e.name = None;
                    Some(e)
                }
                _ => None,
            }
        })
        .await?;
        Ok(())
    }

    /// An extra VIP the pair already has: moved to the first VIP's VNIC when it is on a VNIC
    /// outside the pair, and given the tags the blueprint names (keeping the agent's).
    async fn settle_extra_vip(
        &self,
        found: &super::model::LiveAddress,
        pair_vnics: &[String],
        holder_vnic: &str,
    ) -> Result<(), StepError> {
        let r = Resource::Vip;
        let want = self.desired().tags_for(r);
        let off_pair = found
            .vnic_id
            .as_ref()
            .is_none_or(|v| !pair_vnics.contains(v));
        let retag = !drift::tag_changes(&found.tags, &want, true).is_empty();
        if !off_pair && !retag {
            return Ok(());
        }
        let tags = drift::merged_tags(&found.tags, &want, true);
        self.progress
            .status(r, &format!("updating vip {}", found.address));
        let vnic = off_pair.then_some(holder_vnic);
        match found.address {
            std::net::IpAddr::V4(_) => {
                if let Some(v) = vnic {
                    self.cloud.move_private_ip(&found.id, v).await?;
                }
                if retag {
                    self.cloud.update_private_ip_tags(&found.id, &tags).await?;
                }
            }
            std::net::IpAddr::V6(_) => {
                self.cloud
                    .update_ipv6(&found.id, vnic, retag.then_some(&tags))
                    .await?
            }
        }
        Ok(())
    }

    /// CreatePrivateIp or CreateIpv6 for an extra VIP, with its retry token as recorded.
    async fn create_extra_vip(
        &self,
        address: std::net::IpAddr,
        vnic_id: &str,
    ) -> Result<String, CloudError> {
        let d = self.desired();
        let token = self.read(|s| address_token(s, &address.to_string()));
        let tags = d.tags_for(Resource::Vip);
        let display_name = format!("{}-vip", d.pair);
        match address {
            std::net::IpAddr::V4(ip) => {
                let spec = PrivateIpSpec {
                    vnic_id: vnic_id.to_string(),
                    ip_address: ip,
                    display_name,
                    tags,
                };
                self.cloud.create_private_ip(&spec, &token).await
            }
            std::net::IpAddr::V6(ip) => {
                let spec = Ipv6Spec {
                    vnic_id: vnic_id.to_string(),
                    ip_address: ip,
                    display_name,
                    tags,
                };
                self.cloud.create_ipv6(&spec, &token).await
            }
        }
    }

    /// Deletes an extra VIP's object (a private IP or an Ipv6, by its address's family).
    async fn delete_extra_vip(&self, address: &str, id: &str) -> Result<(), CloudError> {
        if address.contains(':') {
            self.cloud.delete_ipv6(id).await
        } else {
            self.cloud.delete_private_ip(id).await
        }
    }

    // ---- destroy ----

    async fn destroy_step(&self, r: Resource) -> Result<(), StepError> {
        if r == Resource::Vip {
            self.release_public_ip(false).await?;
            // The VIPs after the first go with it, even when the first is already gone.
            let extras: Vec<(String, String)> = self.read(|s| {
                s.addresses
                    .iter()
                    .filter_map(|(a, e)| Some((a.clone(), e.id.clone()?)))
                    .collect()
            });
            for (address, extra) in extras {
                self.progress.status(r, &format!("deleting vip {address}"));
                self.delete_extra_vip(&address, &extra).await?;
                self.record(|s| s.retire_address(&address, true)).await?;
            }
        }
        let Some(id) = self.read(|s| s.id(r).map(str::to_string)) else {
            return Ok(());
        };
        self.progress.status(r, "deleting");
        match r {
            Resource::Vip => self.cloud.delete_private_ip(&id).await?,
            Resource::Node1 | Resource::Node2 => {
                self.cloud.terminate_instance(&id).await?;
                self.wait_terminated(r, &id).await?;
            }
            Resource::Policy => self.cloud.delete_policy(&id).await?,
            Resource::DynamicGroup => self.cloud.delete_dynamic_group(&id).await?,
            Resource::Nsg => {
                self.cloud.delete_nsg(&id).await?;
                self.poll(r, "TERMINATED", || async {
                    Ok(match self.cloud.get_nsg(&id).await? {
                        None => Some(()),
                        Some(n) if n.lifecycle_state == "TERMINATED" => Some(()),
                        Some(_) => None,
                    })
                })
                .await?;
            }
        }
        self.record(|s| s.retire(r)).await?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
