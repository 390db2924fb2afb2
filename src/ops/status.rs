//! `vipsetup status`: each resource's live state and which node holds the VIP, per the API.

use crate::engine::report::Report;

use super::error::OpsError;
use super::target::{open, TargetOptions};

pub async fn status(opts: &TargetOptions) -> Result<Report, OpsError> {
    let t = open(opts).await?;
    let sess = t.session_for(opts).await?;
    sess.status().await
}
