//! Operations behind the subcommands: each command builds its options and calls one function here.

pub mod apply;
pub mod blueprint_view;
pub mod destroy;
pub mod doctor;
pub mod drill;
pub mod error;
pub mod init_subnet;
pub mod pair;
pub mod plan;
pub mod ready;
pub mod simulate;
pub mod starter;
pub mod state_admin;
pub mod state_location;
pub mod status;
pub mod target;
