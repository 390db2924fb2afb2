//! One file per subcommand: each turns parsed flags into options and calls the library.

pub mod init;
pub mod render;
pub mod simulator;
pub mod validate;
