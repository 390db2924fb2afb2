//! Operations behind the subcommands: each command builds its options and calls one function here.

pub mod pair;
