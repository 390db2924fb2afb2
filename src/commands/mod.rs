//! One file per subcommand: each turns parsed flags into options and calls the library.

pub mod apply;
pub mod confirm;
pub mod destroy;
pub mod doctor;
pub mod drill;
pub mod force_unlock;
pub mod init;
pub mod interrupt;
pub mod output;
pub mod plan;
pub mod progress;
pub mod render;
pub mod simulator;
pub mod state;
pub mod status;
pub mod target_args;
pub mod validate;
