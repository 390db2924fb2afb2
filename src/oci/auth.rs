//! Credentials as Oracle's CLI finds them: the options the CLI fills (`--config-file`,
//! `--profile`, `--auth`, `--region`, `--endpoint`) with their environment fallbacks, and the
//! three providers (API key, session token, instance principal) behind one `Credentials` type
//! that hands out a key id and key for each request.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::config::{expand_tilde, ConfigFile};
use super::instance_principal::InstancePrincipal;
use super::keys::{permission_warning, PrivateKey};
use super::secret::SecretString;
use super::signer::SigningIdentity;

// Kept here too: callers name it `oci::auth::AuthError`.
pub use super::error::AuthError;

/// How to authenticate (`--auth`, `OCI_CLI_AUTH`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMethod {
    #[default]
    ApiKey,
    SecurityToken,
    InstancePrincipal,
}

impl std::str::FromStr for AuthMethod {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        match s {
            "api_key" => Ok(AuthMethod::ApiKey),
            "security_token" => Ok(AuthMethod::SecurityToken),
            "instance_principal" => Ok(AuthMethod::InstancePrincipal),
            other => Err(AuthError::Method(other.to_string())),
        }
    }
}

impl std::fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthMethod::ApiKey => "api_key",
            AuthMethod::SecurityToken => "security_token",
            AuthMethod::InstancePrincipal => "instance_principal",
        })
    }
}

/// Environment variables read by [`AuthOptions::with_env`].
pub mod env {
    pub const CONFIG_FILE: &str = "OCI_CLI_CONFIG_FILE";
    pub const PROFILE: &str = "OCI_CLI_PROFILE";
    pub const AUTH: &str = "OCI_CLI_AUTH";
    pub const REGION: &str = "OCI_CLI_REGION";
    pub const ENDPOINT: &str = "VIPSETUP_OCI_ENDPOINT";
    pub const METADATA_BASE_URL: &str = "OCI_METADATA_BASE_URL";
    pub const HOME: &str = "HOME";
}

/// What the CLI collects from flags; unset fields fall back to the environment, then defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthOptions {
    /// `--config-file` (default `~/.oci/config`).
    pub config_file: Option<PathBuf>,
    /// `--profile` (default `DEFAULT`).
    pub profile: Option<String>,
    /// `--auth` (default api_key).
    pub auth: Option<AuthMethod>,
    /// `--region`, over the profile's or the instance's region.
    pub region: Option<String>,
    /// `--endpoint`: one base URL for every service.
    pub endpoint: Option<String>,
    /// Instance principals: the metadata service base (default http://169.254.169.254/opc/v2).
    pub metadata_base_url: Option<String>,
    /// Instance principals: the federation endpoint (default the region's auth service).
    pub federation_endpoint: Option<String>,
    /// Home directory for `~` (from `HOME`).
    pub home: Option<PathBuf>,
}

impl AuthOptions {
    /// Fills every unset field from the environment; flags already set win, as in the OCI CLI.
    pub fn with_env(mut self, get: impl Fn(&str) -> Option<String>) -> Result<Self, AuthError> {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        if self.config_file.is_none() {
            self.config_file = get(env::CONFIG_FILE).map(PathBuf::from);
        }
        if self.profile.is_none() {
            self.profile = get(env::PROFILE);
        }
        if self.auth.is_none() {
            self.auth = get(env::AUTH).map(|s| s.parse()).transpose()?;
        }
        if self.region.is_none() {
            self.region = get(env::REGION);
        }
        if self.endpoint.is_none() {
            self.endpoint = get(env::ENDPOINT);
        }
        if self.metadata_base_url.is_none() {
            self.metadata_base_url = get(env::METADATA_BASE_URL);
        }
        if self.home.is_none() {
            self.home = get(env::HOME).map(PathBuf::from);
        }
        Ok(self)
    }

    /// [`AuthOptions::with_env`] with the process environment.
    pub fn with_process_env(self) -> Result<Self, AuthError> {
        self.with_env(|k| std::env::var(k).ok())
    }

    pub fn method(&self) -> AuthMethod {
        self.auth.unwrap_or_default()
    }

    pub fn profile_name(&self) -> &str {
        self.profile.as_deref().unwrap_or("DEFAULT")
    }

    /// The home directory for `~`: `home`, else `HOME` from the process environment.
    pub fn home_dir(&self) -> Option<PathBuf> {
        self.home
            .clone()
            .or_else(|| std::env::var_os(env::HOME).map(PathBuf::from))
    }

    /// The config file path, `~` expanded.
    pub fn config_path(&self) -> PathBuf {
        let raw = self
            .config_file
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "~/.oci/config".to_string());
        expand_tilde(&raw, self.home_dir().as_deref())
    }
}

/// An API key user.
#[derive(Debug)]
pub struct ApiKeyCredentials {
    pub tenancy: String,
    pub user: String,
    pub fingerprint: String,
    pub key: PrivateKey,
    pub region: String,
}

/// A session token (`oci session authenticate`), re-read from its file after a 401.
#[derive(Debug)]
pub struct SessionTokenCredentials {
    pub tenancy: String,
    pub region: String,
    pub key: PrivateKey,
    pub token_file: Option<PathBuf>,
    token: RwLock<SecretString>,
}

impl SessionTokenCredentials {
    pub fn new(
        token: SecretString,
        token_file: Option<PathBuf>,
        key: PrivateKey,
        tenancy: String,
        region: String,
    ) -> Self {
        SessionTokenCredentials {
            tenancy,
            region,
            key,
            token_file,
            token: RwLock::new(token),
        }
    }

    pub fn token(&self) -> SecretString {
        self.token.read().expect("token lock").clone()
    }
}

fn read_token(path: &Path) -> Result<SecretString, AuthError> {
    let err = |source| AuthError::TokenFile {
        path: path.to_path_buf(),
        source,
    };
    let bytes =
        crate::bounded_read::read_io(path, crate::bounded_read::limits::TOKEN_FILE).map_err(err)?;
    let t = String::from_utf8(bytes).map_err(|_| {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })?;
    let t = t.trim();
    if t.is_empty() {
        return Err(AuthError::EmptyToken {
            path: path.to_path_buf(),
        });
    }
    Ok(SecretString::from(t))
}

/// One of the three ways to authenticate. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Credentials {
    ApiKey(Arc<ApiKeyCredentials>),
    SessionToken(Arc<SessionTokenCredentials>),
    InstancePrincipal(Arc<InstancePrincipal>),
}

impl Credentials {
    /// API key credentials from their parts (tests, or callers with their own config source).
    pub fn api_key(tenancy: &str, user: &str, key: PrivateKey, region: &str) -> Self {
        Credentials::ApiKey(Arc::new(ApiKeyCredentials {
            tenancy: tenancy.to_string(),
            user: user.to_string(),
            fingerprint: key.fingerprint(),
            key,
            region: region.to_string(),
        }))
    }

    /// Session-token credentials from their parts.
    pub fn session_token(
        token: SecretString,
        key: PrivateKey,
        tenancy: &str,
        region: &str,
    ) -> Self {
        Credentials::SessionToken(Arc::new(SessionTokenCredentials::new(
            token,
            None,
            key,
            tenancy.to_string(),
            region.to_string(),
        )))
    }

    pub fn method(&self) -> AuthMethod {
        match self {
            Credentials::ApiKey(_) => AuthMethod::ApiKey,
            Credentials::SessionToken(_) => AuthMethod::SecurityToken,
            Credentials::InstancePrincipal(_) => AuthMethod::InstancePrincipal,
        }
    }

    pub fn tenancy_id(&self) -> &str {
        match self {
            Credentials::ApiKey(c) => &c.tenancy,
            Credentials::SessionToken(c) => &c.tenancy,
            Credentials::InstancePrincipal(c) => c.tenancy_id(),
        }
    }

    pub fn region(&self) -> &str {
        match self {
            Credentials::ApiKey(c) => &c.region,
            Credentials::SessionToken(c) => &c.region,
            Credentials::InstancePrincipal(c) => c.region(),
        }
    }

    /// The key id and key for the next request (federating first when an instance-principal
    /// token is missing or about to expire).
    pub async fn identity(&self) -> Result<SigningIdentity, AuthError> {
        match self {
            Credentials::ApiKey(c) => Ok(SigningIdentity {
                key_id: SecretString::new(format!("{}/{}/{}", c.tenancy, c.user, c.fingerprint)),
                key: c.key.clone(),
            }),
            Credentials::SessionToken(c) => Ok(SigningIdentity {
                key_id: SecretString::new(format!("ST${}", c.token().expose())),
                key: c.key.clone(),
            }),
            Credentials::InstancePrincipal(c) => c.identity().await,
        }
    }

    /// After a 401: renew what can be renewed. Returns whether a retry could now succeed.
    pub async fn refresh(&self) -> Result<bool, AuthError> {
        match self {
            Credentials::ApiKey(_) => Ok(false),
            Credentials::SessionToken(c) => {
                let Some(path) = &c.token_file else {
                    return Ok(false);
                };
                let fresh = read_token(path)?;
                let mut t = c.token.write().expect("token lock");
                let changed = *t != fresh;
                *t = fresh;
                Ok(changed)
            }
            Credentials::InstancePrincipal(c) => {
                c.refresh().await?;
                Ok(true)
            }
        }
    }
}

/// API-key or session-token credentials from the config file, and the warnings to show.
pub fn load_from_config(opts: &AuthOptions) -> Result<(Credentials, Vec<String>), AuthError> {
    let path = opts.config_path();
    let file = ConfigFile::read(&path)?;
    let profile = file.profile(opts.profile_name())?;
    let mut warnings = Vec::new();
    let region = opts
        .region
        .clone()
        .or_else(|| profile.get("region").map(str::to_string))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AuthError::NoRegion {
            profile: profile.name.clone(),
            path: path.clone(),
        })?;
    let key_path = expand_tilde(profile.require("key_file")?, opts.home_dir().as_deref());
    let pass = profile
        .get("pass_phrase")
        .or_else(|| profile.get("passphrase"))
        .filter(|p| !p.is_empty())
        .map(SecretString::from);
    let key = PrivateKey::from_file(&key_path, pass.as_ref())?;
    warnings.extend(permission_warning(&key_path));
    let tenancy = profile.require("tenancy")?.to_string();
    match opts.method() {
        AuthMethod::ApiKey => {
            let user = profile.require("user")?.to_string();
            let fingerprint = profile.require("fingerprint")?.to_string();
            if fingerprint != key.fingerprint() {
                warnings.push(format!(
                    "fingerprint {fingerprint} in profile '{}' of {} does not match key file {} (fingerprint {}); OCI will refuse the requests, fix `fingerprint` or `key_file`",
                    profile.name,
                    path.display(),
                    key_path.display(),
                    key.fingerprint()
                ));
            }
            Ok((
                Credentials::ApiKey(Arc::new(ApiKeyCredentials {
                    tenancy,
                    user,
                    fingerprint,
                    key,
                    region: crate::oci::endpoint::canonical_region(&region),
                })),
                warnings,
            ))
        }
        AuthMethod::SecurityToken => {
            let token_path = expand_tilde(
                profile.require("security_token_file")?,
                opts.home_dir().as_deref(),
            );
            let token = read_token(&token_path)?;
            Ok((
                Credentials::SessionToken(Arc::new(SessionTokenCredentials::new(
                    token,
                    Some(token_path),
                    key,
                    tenancy,
                    crate::oci::endpoint::canonical_region(&region),
                ))),
                warnings,
            ))
        }
        AuthMethod::InstancePrincipal => Err(AuthError::Method(
            "instance_principal (it reads no config file)".to_string(),
        )),
    }
}
