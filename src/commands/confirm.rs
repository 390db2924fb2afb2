//! Asking before changing the cloud: `--auto-approve`, else a prompt on a terminal, else refuse.

use std::io::{BufRead, IsTerminal, Write};

use crate::engine::plan::Plan;

/// Fails early when there is no way to confirm.
pub fn check_can_confirm(auto_approve: bool, verb: &str) -> anyhow::Result<()> {
    if auto_approve || std::io::stdin().is_terminal() {
        Ok(())
    } else {
        anyhow::bail!(
            "refusing to {verb} without confirmation: stdin is not a terminal; \
             review `vipsetup plan` and pass --auto-approve to {verb} non-interactively"
        )
    }
}

/// The confirmation callback the ops layer calls with the plan once it is known.
pub fn confirmer(
    auto_approve: bool,
    show_plan: bool,
    verb: &'static str,
) -> impl Fn(&Plan) -> bool + Sync {
    move |plan: &Plan| {
        if show_plan {
            print!("{}", plan.render_text());
        }
        if auto_approve {
            return true;
        }
        eprint!("\nDo you want to {verb} these changes? Only 'yes' is accepted: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        line.trim() == "yes"
    }
}
