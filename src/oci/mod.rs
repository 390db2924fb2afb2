//! The OCI REST client: credentials, request signing, endpoints, transport with retries, and the
//! typed operations vipsetup and its agent use. Only `transport` touches reqwest.

pub mod auth;
pub mod client;
pub mod clock;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod instance_principal;
pub mod keys;
pub mod models;
pub mod ops;
pub mod request;
pub mod retry;
pub mod secret;
pub mod signer;
pub mod transport;
pub mod wait;

pub use auth::{AuthError, AuthMethod, AuthOptions, Credentials};
pub use client::{Client, ClientBuilder};
pub use endpoint::{Endpoints, Service};
pub use error::{ApiError, OciError};
pub use keys::{KeyError, PrivateKey};
pub use ops::core::{ListImagesRequest, ListInstancesRequest, ListPrivateIpsRequest};
pub use request::Versioned;
pub use retry::RetryPolicy;
pub use secret::{Secret, SecretString};
pub use wait::WaitOptions;
