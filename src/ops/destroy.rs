//! `vipsetup destroy`: remove the pair in reverse order; safe to run again.

use crate::engine::plan::Plan;
use crate::engine::progress::Progress;

use super::error::OpsError;
use super::pair::Outcome;
use super::target::{open, TargetOptions};

pub async fn destroy(
    opts: &TargetOptions,
    confirm: &(dyn Fn(&Plan) -> bool + Sync),
    progress: &dyn Progress,
) -> Result<Outcome, OpsError> {
    let t = open(opts).await?;
    let sess = t.session_for(opts).await?;
    sess.destroy(confirm, progress).await
}
