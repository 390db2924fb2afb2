//! Waiting for lifecycle states: poll a get until the resource reaches a target state, fails into
//! a terminal one, or the time runs out; clock and sleeper come from the client (tests don't wait).

use std::future::Future;
use std::time::Duration;

use super::client::Client;
use super::error::OciError;
use super::models::*;
use super::request::Versioned;

/// How often and how long to poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitOptions {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(20 * 60),
        }
    }
}

impl Client {
    /// Polls `get` until `state(&value)` is in `targets` (Ok), in `failures` (WaitFailed), or
    /// `opts.timeout` passes (WaitTimeout).
    pub async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        mut get: F,
        state: impl Fn(&T) -> String,
        targets: &[&str],
        failures: &[&str],
        opts: WaitOptions,
    ) -> Result<T, OciError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciError>>,
    {
        let start = self.clock().now();
        loop {
            let value = get().await?;
            let s = state(&value);
            if targets.contains(&s.as_str()) {
                return Ok(value);
            }
            if failures.contains(&s.as_str()) {
                return Err(OciError::WaitFailed {
                    what: what.to_string(),
                    target: targets.join("|"),
                    state: s,
                });
            }
            let waited = self.clock().now().duration_since(start).unwrap_or_default();
            if waited >= opts.timeout {
                return Err(OciError::WaitTimeout {
                    what: what.to_string(),
                    target: targets.join("|"),
                    last: s,
                    waited,
                });
            }
            self.sleeper().sleep(opts.interval).await;
        }
    }

    /// Waits for an instance to reach `target` (TERMINATED counts as failure unless it is the target).
    pub async fn wait_for_instance(
        &self,
        id: &str,
        target: InstanceLifecycleState,
        opts: WaitOptions,
    ) -> Result<Versioned<Instance>, OciError> {
        let failures: &[&str] = if target == InstanceLifecycleState::Terminated {
            &[]
        } else {
            &["TERMINATING", "TERMINATED"]
        };
        self.wait_for(
            &format!("instance {id}"),
            || self.get_instance(id),
            |i| i.value.lifecycle_state.to_string(),
            &[target.as_str()],
            failures,
            opts,
        )
        .await
    }

    pub async fn wait_for_dynamic_group_active(
        &self,
        id: &str,
        opts: WaitOptions,
    ) -> Result<Versioned<DynamicGroup>, OciError> {
        self.wait_for(
            &format!("dynamic group {id}"),
            || self.get_dynamic_group(id),
            |g| g.value.lifecycle_state.to_string(),
            &["ACTIVE"],
            &["DELETING", "DELETED", "INACTIVE"],
            opts,
        )
        .await
    }

    pub async fn wait_for_policy_active(
        &self,
        id: &str,
        opts: WaitOptions,
    ) -> Result<Versioned<Policy>, OciError> {
        self.wait_for(
            &format!("policy {id}"),
            || self.get_policy(id),
            |p| p.value.lifecycle_state.to_string(),
            &["ACTIVE"],
            &["DELETING", "DELETED", "INACTIVE"],
            opts,
        )
        .await
    }

    pub async fn wait_for_network_security_group_available(
        &self,
        id: &str,
        opts: WaitOptions,
    ) -> Result<Versioned<NetworkSecurityGroup>, OciError> {
        self.wait_for(
            &format!("network security group {id}"),
            || self.get_network_security_group(id),
            |n| n.value.lifecycle_state.to_string(),
            &["AVAILABLE"],
            &["TERMINATING", "TERMINATED"],
            opts,
        )
        .await
    }
}
