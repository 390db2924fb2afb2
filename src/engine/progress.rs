//! How the engine tells a user interface what it is doing, one line per resource. The CLI
//! implements it (indicatif on a terminal, plain lines otherwise); tests record it.

use super::model::Resource;
use super::plan::Step;

pub trait Progress: Send + Sync {
    /// The step's dependencies are met and it starts now.
    fn started(&self, step: &Step);
    /// A new state worth showing, e.g. `PROVISIONING`, `waiting for node1's vnic`.
    fn status(&self, resource: Resource, status: &str);
    /// The step ended; `Err` carries the error text.
    fn finished(&self, resource: Resource, outcome: Result<(), &str>);
}

/// Shows nothing (JSON output, library callers).
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _: &Step) {}
    fn status(&self, _: Resource, _: &str) {}
    fn finished(&self, _: Resource, _: Result<(), &str>) {}
}
