//! The signal handler of `apply` and `destroy`: the first SIGINT or SIGTERM asks the engine to
//! stop at the next safe point (`engine::interrupt`); a second one, or one at the confirmation
//! prompt (nothing has changed yet), exits at once with 130 (128 + SIGINT, as shells report it).

use tokio::signal::unix::{signal, SignalKind};

use crate::engine::interrupt::{self, Phase};

use crate::error::exit::INTERRUPTED as EXIT_INTERRUPTED;

/// Installs the handler; call inside the runtime that runs `verb` (`apply` or `destroy`).
pub fn install(verb: &'static str) -> std::io::Result<()> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if interrupt::phase() == Phase::Prompting {
                eprintln!("\ninterrupted at the prompt: nothing was changed");
                std::process::exit(EXIT_INTERRUPTED);
            }
            if interrupt::request() {
                eprintln!(
                    "\ninterrupted again: exiting at once; the state is saved up to the last \
                     finished call; run {verb} again to finish (the lock this run held is taken \
                     over by the next run on this machine, or remove it with `vipsetup force-unlock`)"
                );
                std::process::exit(EXIT_INTERRUPTED);
            }
            eprintln!(
                "\nstopping: the call in flight finishes, no new step starts, the state is saved \
                 and the lock released (press Ctrl-C again to exit at once)"
            );
        }
    });
    Ok(())
}
