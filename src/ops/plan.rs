//! `vipsetup plan`: what apply (or destroy, with `--destroy`) would do, changing nothing.

use crate::engine::plan::Plan;

use super::error::OpsError;
use super::target::{open, TargetOptions};

pub struct PlanOptions {
    pub target: TargetOptions,
    /// Node names (or node1/node2) to plan a replacement for.
    pub replace: Vec<String>,
    pub destroy: bool,
    /// `--upgrade-image`: plan moving nodes to the newest image of the blueprint's os + version.
    pub upgrade_image: bool,
}

pub async fn plan(opts: &PlanOptions) -> Result<Plan, OpsError> {
    let t = open(&opts.target).await?;
    let mut sess = t.session_for(&opts.target).await?;
    sess.upgrade_image = opts.upgrade_image;
    // A plan while another run changes the pair would describe that run's half-done work.
    sess.backend.wait_unlocked(sess.lock_timeout).await?;
    if opts.destroy {
        return sess.destroy_plan().await;
    }
    let replace = sess.node_indexes(&opts.replace)?;
    sess.plan(&replace).await
}
