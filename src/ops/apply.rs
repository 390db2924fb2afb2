//! `vipsetup apply`: plan, confirm, build or repair the pair, report its outputs.

use std::path::PathBuf;

use crate::engine::plan::Plan;
use crate::engine::progress::Progress;

use super::error::OpsError;
use super::pair::{default_user_data_dir, Outcome};
use super::target::{open, TargetOptions};

pub struct ApplyOptions {
    pub target: TargetOptions,
    pub replace: Vec<String>,
    /// Default: `<blueprint>.rendered/`.
    pub user_data_dir: Option<PathBuf>,
    /// Run `vipsetup doctor`'s checks first and change nothing if one finds a problem.
    pub doctor: bool,
    /// `--upgrade-image`: move nodes to the newest image of the blueprint's os + version.
    pub upgrade_image: bool,
}

pub async fn apply(
    opts: &ApplyOptions,
    confirm: &(dyn Fn(&Plan) -> bool + Sync),
    progress: &dyn Progress,
) -> Result<Outcome, OpsError> {
    if opts.doctor {
        let report = super::doctor::doctor(&opts.target).await?;
        let problems: Vec<String> = report
            .problems()
            .iter()
            .map(|c| match &c.fix {
                Some(fix) => format!("{}: {}; {fix}", c.id, c.detail),
                None => format!("{}: {}", c.id, c.detail),
            })
            .collect();
        if !problems.is_empty() {
            return Err(OpsError::DoctorProblems { problems });
        }
    }
    let t = open(&opts.target).await?;
    let mut sess = t.session_for(&opts.target).await?;
    sess.upgrade_image = opts.upgrade_image;
    let replace = sess.node_indexes(&opts.replace)?;
    let dir = opts
        .user_data_dir
        .clone()
        .unwrap_or_else(|| default_user_data_dir(&opts.target.blueprint));
    sess.apply(&replace, confirm, progress, &dir).await
}
