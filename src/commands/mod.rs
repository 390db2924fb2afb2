//! One file per subcommand: clap arguments and a thin `run` that calls the library.

pub mod simulator;
