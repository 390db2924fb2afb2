//! One file per subcommand: its clap args and a thin `run` that calls one `ops` function.

pub mod apply;
pub mod confirm;
pub mod destroy;
pub mod force_unlock;
pub mod plan;
pub mod progress;
pub mod status;
pub mod target_args;
