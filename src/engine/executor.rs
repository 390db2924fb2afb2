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
use super::interrupt;
use super::model::{altered_vrrp_rules, vrrp_rules, Desired, DesiredPublicIp, Resource};
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
    /// Ctrl-C / SIGTERM (`engine::interrupt`): the step did not start, or stopped waiting.
    #[error("{0}")]
    Interrupted(String),
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

/// What a step a stop request kept from starting says.
pub const NOT_STARTED_INTERRUPTED: &str = "not started: interrupted";

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
    /// Steps inside a stretch a stop request must not cut: a replacement from the hand-over to
    /// the new instance's launch (stopped between, the pair would be left with a stopped or
    /// terminated node and no successor).
    finishing: Mutex<BTreeSet<Resource>>,
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
            finishing: Mutex::new(BTreeSet::new()),
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
            if interrupt::requested() {
                let why = NOT_STARTED_INTERRUPTED.to_string();
                self.progress.finished(r, Err(&why));
                return Err(StepError::Interrupted(why));
            }
            self.progress
                .finished(r, Err(&format!("not started: {failed} failed")));
            return Err(StepError::DependencyFailed(failed));
        }
        if interrupt::requested() {
            self.fail(r);
            let why = NOT_STARTED_INTERRUPTED.to_string();
            self.progress.finished(r, Err(&why));
            return Err(StepError::Interrupted(why));
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
            if interrupt::requested() && !self.is_finishing(r) {
                return Err(StepError::Interrupted(format!(
                    "interrupted while waiting for {r} to be {what}; the next run picks it up there"
                )));
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

    fn is_finishing(&self, r: Resource) -> bool {
        self.finishing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&r)
    }

    /// Marks `r` as in (`true`) or out of a stretch a stop request lets finish.
    pub(super) fn set_finishing(&self, r: Resource, on: bool) {
        let mut f = self.finishing.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            f.insert(r);
        } else {
            f.remove(&r);
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
                    if interrupt::requested() {
                        return Err(StepError::Interrupted(format!(
                            "interrupted while waiting for IAM to catch up on {r}; the next run \
                             tries again"
                        )));
                    }
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
                    self.set_finishing(r, true);
                    let old_gone = async {
                        self.hand_over(r).await?;
                        self.terminate_node(r).await
                    }
                    .await;
                    if let Err(e) = old_gone {
                        self.set_finishing(r, false);
                        return Err(e);
                    }
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
        let altered: Vec<String> = altered_vrrp_rules(&nsg)
            .into_iter()
            .filter_map(|r| r.id.clone())
            .collect();
        if !altered.is_empty() {
            self.progress
                .status(r, "removing VRRP rules altered outside vipsetup");
            self.cloud.remove_nsg_rules(&id, &altered).await?;
        }
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
        self.await_peer_ready(r, &id).await?;
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

    /// Before the VIP holder `r` is stopped: its peer must be ready to take the VIPs over (its
    /// instance RUNNING, its agent reporting MASTER or BACKUP with a fresh heartbeat and no
    /// error: an agent that could write its view has IAM in effect). A new peer on OCI needs
    /// minutes for cloud-init and IAM; stopping the holder before would leave the VIPs with no
    /// owner. A pair on which no agent has ever reported (no view tag on either VNIC: nothing
    /// runs the agent, e.g. `--simulate`) is not waited for.
    async fn await_peer_ready(&self, r: Resource, holder_id: &str) -> Result<(), StepError> {
        use super::readiness::node_waits_for;
        use super::report::{AgentView, NodeReport};
        let d = self.desired();
        let i = r.node_index().expect("a node");
        let peer = Resource::node(1 - i);
        let Some(peer_id) = self.read(|s| s.id(peer).map(str::to_string)) else {
            return Ok(());
        };
        let holder_reports = self
            .cloud
            .primary_vnic(&d.compartment_id, holder_id)
            .await?
            .is_some_and(|v| AgentView::from_tags(&v.tags).is_some());
        let peer_name = d.nodes[1 - i].name.clone();
        let said = std::sync::Mutex::new(String::new());
        self.poll(r, "handed over (its peer never became ready)", || {
            let (peer_id, peer_name, said) = (peer_id.clone(), peer_name.clone(), &said);
            async move {
                let inst = self.cloud.get_instance(&peer_id).await?;
                let vnic = match &inst {
                    Some(x) if !x.is_gone() => {
                        self.cloud.primary_vnic(&d.compartment_id, &peer_id).await?
                    }
                    _ => None,
                };
                let agent = vnic.as_ref().and_then(|v| AgentView::from_tags(&v.tags));
                if agent.is_none() && !holder_reports {
                    return Ok(Some(()));
                }
                let n = NodeReport {
                    role: peer.key().to_string(),
                    name: peer_name.clone(),
                    private_ip: None,
                    instance_id: Some(peer_id.clone()),
                    vnic_id: vnic.as_ref().map(|v| v.id.clone()),
                    fault_domain: None,
                    state: inst.map_or("ABSENT".into(), |x| x.lifecycle_state),
                    user_data_file: None,
                    agent,
                };
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |t| t.as_secs());
                match node_waits_for(&n, now) {
                    None => Ok(Some(())),
                    Some(w) => {
                        let line = format!("waiting for {peer_name} to be ready first: {w}");
                        let mut said = said.lock().unwrap_or_else(|e| e.into_inner());
                        if *said != line {
                            self.progress.status(r, &line);
                            *said = line;
                        }
                        Ok(None)
                    }
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
                self.record(|s| s.mark_deleting(r)).await?;
                self.wait_terminated(r, &id).await?;
            }
            Resource::Policy => self.cloud.delete_policy(&id).await?,
            Resource::DynamicGroup => self.cloud.delete_dynamic_group(&id).await?,
            Resource::Nsg => {
                self.cloud.delete_nsg(&id).await?;
                self.record(|s| s.mark_deleting(r)).await?;
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

mod iam_steps;
mod node_steps;
mod vip_steps;

#[cfg(test)]
pub(crate) mod tests;
