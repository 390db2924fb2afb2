//! `vipsetup status`: each resource's live state and which node holds the VIP, per the API.

use crate::engine::report::Report;

use super::target::{open, TargetOptions};

pub async fn status(opts: &TargetOptions) -> anyhow::Result<Report> {
    let t = open(opts).await?;
    let sess = t.session(opts.state_path());
    Ok(sess.status().await?)
}
