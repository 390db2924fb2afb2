//! Ctrl-C (SIGINT) and SIGTERM as a stop, not a crash (issue 20): the first one asks the run
//! to stop at the next safe point, the executor lets the call in flight finish, starts no new
//! step and stops waiting; the state it saved after every call stays the truth, the lock is
//! released on the way out and the command exits 130 saying "run apply again". A second signal
//! exits at once. The CLI installs the handler (`commands::interrupt`); the engine only asks
//! `requested()`, so library users and tests that never install it see no difference.
//!
//! Process-wide on purpose: a signal is.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static PHASE: AtomicU8 = AtomicU8::new(Phase::Working as u8);

/// What the run is doing when a signal comes, which decides what the first one does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Reading, planning or changing the cloud: stop at the next safe point.
    Working = 0,
    /// Waiting for the user at the confirmation prompt (a blocking read): nothing has changed
    /// yet, so the first signal exits at once.
    Prompting = 1,
}

/// Records a stop request; returns whether one was already recorded (a second signal).
pub fn request() -> bool {
    REQUESTED.swap(true, Ordering::SeqCst)
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

pub fn set_phase(p: Phase) {
    PHASE.store(p as u8, Ordering::SeqCst);
}

pub fn phase() -> Phase {
    if PHASE.load(Ordering::SeqCst) == Phase::Prompting as u8 {
        Phase::Prompting
    } else {
        Phase::Working
    }
}
