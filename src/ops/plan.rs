//! `vipsetup plan`: what apply (or destroy, with `--destroy`) would do, changing nothing.

use crate::engine::plan::Plan;

use super::pair::Session;
use super::target::{open, TargetOptions};

pub struct PlanOptions {
    pub target: TargetOptions,
    /// Node names (or node1/node2) to plan a replacement for.
    pub replace: Vec<String>,
    pub destroy: bool,
}

pub async fn plan(opts: &PlanOptions) -> anyhow::Result<Plan> {
    let t = open(&opts.target).await?;
    let sess = Session {
        cloud: t.cloud.as_ref(),
        tenancy_id: t.tenancy_id.clone(),
        spec: t.spec.clone(),
        state_path: opts.target.state_path(),
        render: t.render.as_ref(),
        exec: t.exec.clone(),
    };
    if opts.destroy {
        return Ok(sess.destroy_plan().await?.1);
    }
    let replace = sess.node_indexes(&opts.replace)?;
    Ok(sess.plan(&replace).await?)
}
