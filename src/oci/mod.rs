//! The OCI REST client: credentials, request signing, endpoints, transport with retries, and the
//! typed operations vipsetup and its agent use. Only `transport` touches reqwest.

pub mod keys;
pub mod secret;
pub mod signer;

pub use keys::{KeyError, PrivateKey};
pub use secret::{Secret, SecretString};
