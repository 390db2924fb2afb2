//! `vipsetup destroy`: remove the pair in reverse order; safe to run again.

use crate::engine::plan::Plan;
use crate::engine::progress::Progress;

use super::pair::{Outcome, Session};
use super::target::{open, TargetOptions};

pub async fn destroy(
    opts: &TargetOptions,
    confirm: &(dyn Fn(&Plan) -> bool + Sync),
    progress: &dyn Progress,
) -> anyhow::Result<Outcome> {
    let t = open(opts).await?;
    let sess = Session {
        cloud: t.cloud.as_ref(),
        tenancy_id: t.tenancy_id.clone(),
        spec: t.spec.clone(),
        state_path: opts.state_path(),
        render: t.render.as_ref(),
        exec: t.exec.clone(),
    };
    Ok(sess.destroy(confirm, progress).await?)
}
