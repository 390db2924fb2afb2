//! `vipsetup status`: each resource's live state and which node holds the VIP, per the API.

use crate::engine::report::Report;

use super::pair::Session;
use super::target::{open, TargetOptions};

pub async fn status(opts: &TargetOptions) -> anyhow::Result<Report> {
    let t = open(opts).await?;
    let sess = Session {
        cloud: t.cloud.as_ref(),
        tenancy_id: t.tenancy_id.clone(),
        spec: t.spec.clone(),
        state_path: opts.state_path(),
        render: t.render.as_ref(),
        exec: t.exec.clone(),
    };
    Ok(sess.status().await?)
}
