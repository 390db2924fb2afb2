//! Typed OCI operations on `Client`, named after the OCI operations in snake_case. Each builds an
//! `ApiRequest` value (see the `*_request` functions, tested without a network) and sends it.

pub mod core;
pub mod identity;
pub mod limits;
pub mod object_storage;
pub mod placement;
pub mod routing;
pub mod security_lists;
pub mod update;
