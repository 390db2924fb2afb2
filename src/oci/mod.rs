//! The OCI REST client: credentials, request signing, endpoints, transport with retries, and the
//! typed operations vipsetup and its agent use. Only `transport` touches reqwest.
//!
//! How the pieces stack: [`auth::AuthOptions`] (what the CLI collects) -> [`Credentials`] (API
//! key, session token or instance principal) -> [`Client`] (endpoints, retry policy, transport)
//! -> typed operations in [`ops`] that build [`request::ApiRequest`] values, signed by the pure
//! [`signer`] and sent by [`transport`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), vipsetup::oci::OciError> {
//! use vipsetup::oci::{auth::AuthOptions, Client};
//! // Flags first; the environment (OCI_CLI_*, VIPSETUP_OCI_ENDPOINT) fills the rest.
//! let opts = AuthOptions {
//!     profile: Some("DEFAULT".into()),
//!     endpoint: Some("http://127.0.0.1:8080".into()), // e.g. the simulator
//!     ..Default::default()
//! }
//! .with_process_env()?;
//! let client = Client::from_options(&opts).await?;
//! for w in client.warnings() {
//!     eprintln!("warning: {w}");
//! }
//! let subnet = client.get_subnet("ocid1.subnet.oc1..example").await?;
//! println!("{} (etag {:?})", subnet.value.cidr_block, subnet.etag);
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod client;
pub mod clock;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod instance_principal;
pub mod keys;
pub mod log;
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
pub use ops::core::{
    ListImagesRequest, ListInstancesRequest, ListIpv6sRequest, ListPrivateIpsRequest,
};
pub use request::Versioned;
pub use retry::RetryPolicy;
pub use secret::{Secret, SecretString};
pub use wait::WaitOptions;
