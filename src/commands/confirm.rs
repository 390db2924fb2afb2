//! Asking before changing the cloud: `--auto-approve`, else a prompt on a terminal, else refuse.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use super::progress::CallSpinner;

use crate::engine::interrupt::{self, Phase};
use crate::engine::plan::Plan;
use crate::engine::report::plan_text;
use crate::error::NeedsConfirmation;

/// Fails early when there is no way to confirm.
pub fn check_can_confirm(auto_approve: bool, verb: &'static str) -> anyhow::Result<()> {
    if auto_approve || std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(NeedsConfirmation { verb }.into())
    }
}

/// The confirmation callback the ops layer calls with the plan once it is known.
pub fn confirmer(
    auto_approve: bool,
    show_plan: bool,
    verb: &'static str,
    spinner: Option<Arc<CallSpinner>>,
    names: [String; 2],
) -> impl Fn(&Plan) -> bool + Sync {
    move |plan: &Plan| {
        if let Some(s) = &spinner {
            s.stop();
        }
        if show_plan {
            print!("{}", plan_text(plan, &names));
        }
        if auto_approve {
            return true;
        }
        let what = if verb == "destroy" {
            "these resources"
        } else {
            "these changes"
        };
        eprint!("\nDo you want to {verb} {what}? Only 'yes' is accepted: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        // A signal here exits at once (nothing has changed yet): the read would not return.
        interrupt::set_phase(Phase::Prompting);
        let _ = std::io::stdin().lock().read_line(&mut line);
        interrupt::set_phase(Phase::Working);
        line.trim() == "yes"
    }
}
