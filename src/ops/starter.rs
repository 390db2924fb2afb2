//! The starter blueprint `vipsetup init` writes: every field, commented, with example values
//! for the pair `STARTER_NAME`; every other name in it (nodes, dynamic group, policy) derives
//! from that one.

pub const STARTER: &str = include_str!("../../templates/init.yaml");
pub const STARTER_NAME: &str = "web-vip";

/// The starter for pair `name`.
pub fn starter(name: &str) -> String {
    STARTER.replace(STARTER_NAME, name)
}
