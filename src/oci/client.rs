//! `Client`: credentials + endpoints + transport, and the one loop every operation goes through
//! (sign, send, retry per policy, refresh the token once on 401, follow `opc-next-page`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::auth::{load_from_config, AuthMethod, AuthOptions, Credentials};
use super::clock::{Clock, Sleeper, SystemClock, TokioSleeper};
use super::endpoint::{canonical_region, Endpoints};
use super::error::{OciError, TransportErrorKind};
use super::instance_principal::{
    InstancePrincipal, InstancePrincipalConfig, DEFAULT_METADATA_BASE_URL,
};
use super::log;
use super::request::{self, api_error, build_http_request, ApiRequest, HttpResponse};
use super::retry::{Decision, Outcome, RetryPolicy};
use super::transport::{HttpSend, ReqwestTransport, Timeouts};

/// A handle on OCI (or the simulator). Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    credentials: Credentials,
    endpoints: Endpoints,
    region: String,
    http: Arc<dyn HttpSend>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    home_region: OnceCell<String>,
    warnings: Vec<String>,
    /// Whether any attempt got an HTTP answer (see `RetryPolicy::first_contact_budget`).
    answered: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("auth", &self.inner.credentials.method())
            .field("region", &self.inner.region)
            .field("endpoints", &self.inner.endpoints)
            .finish()
    }
}

/// Assembles a `Client` from parts; every part but the credentials has a production default.
pub struct ClientBuilder {
    credentials: Credentials,
    endpoints: Endpoints,
    region: Option<String>,
    http: Option<Arc<dyn HttpSend>>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    home_region: Option<String>,
    timeouts: Timeouts,
    warnings: Vec<String>,
}

impl ClientBuilder {
    /// Send every service to this base URL (`--endpoint`); plain http is allowed.
    pub fn endpoint(mut self, base_url: Option<&str>) -> Self {
        self.endpoints = match base_url {
            Some(u) => Endpoints::Override(u.to_string()),
            None => Endpoints::Oci,
        };
        self
    }

    /// Overrides the region the credentials name.
    pub fn region(mut self, region: Option<&str>) -> Self {
        self.region = region.map(canonical_region);
        self
    }

    /// Skips the home-region lookup (IAM writes go here).
    pub fn home_region(mut self, region: &str) -> Self {
        self.home_region = Some(canonical_region(region));
        self
    }

    pub fn transport(mut self, http: Arc<dyn HttpSend>) -> Self {
        self.http = Some(http);
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    pub fn build(self) -> Result<Client, OciError> {
        let http = match self.http {
            Some(h) => h,
            None => Arc::new(ReqwestTransport::new(self.timeouts).map_err(|source| {
                OciError::Transport {
                    operation: "setup".into(),
                    url: String::new(),
                    attempts: 0,
                    waited: Duration::ZERO,
                    source,
                }
            })?),
        };
        let region = self
            .region
            .unwrap_or_else(|| self.credentials.region().to_string());
        let home_region = OnceCell::new();
        if let Some(h) = self.home_region {
            let _ = home_region.set(h);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                credentials: self.credentials,
                endpoints: self.endpoints,
                region,
                http,
                clock: self.clock,
                sleeper: self.sleeper,
                retry: self.retry,
                home_region,
                warnings: self.warnings,
                answered: AtomicBool::new(false),
            }),
        })
    }
}

impl Client {
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            credentials,
            endpoints: Endpoints::Oci,
            region: None,
            http: None,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            retry: RetryPolicy::default(),
            home_region: None,
            timeouts: Timeouts::default(),
            warnings: Vec::new(),
        }
    }

    /// The client the CLI makes: credentials per `opts.auth` (config file profile, session
    /// token or instance principal), region and endpoint overrides, the real transport.
    /// Call `opts.with_process_env()` first to apply the environment.
    pub async fn from_options(opts: &AuthOptions) -> Result<Client, OciError> {
        Self::from_options_with(opts, None, Arc::new(SystemClock), Arc::new(TokioSleeper)).await
    }

    /// [`Client::from_options`] with injectable transport, clock and sleeper (tests).
    pub async fn from_options_with(
        opts: &AuthOptions,
        http: Option<Arc<dyn HttpSend>>,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Client, OciError> {
        let http: Arc<dyn HttpSend> = match http {
            Some(h) => h,
            None => Arc::new(
                ReqwestTransport::new(Timeouts::default()).map_err(|source| {
                    OciError::Transport {
                        operation: "setup".into(),
                        url: String::new(),
                        attempts: 0,
                        waited: Duration::ZERO,
                        source,
                    }
                })?,
            ),
        };
        let endpoints = match &opts.endpoint {
            Some(u) => Endpoints::Override(u.clone()),
            None => Endpoints::Oci,
        };
        let (credentials, warnings) = match opts.method() {
            AuthMethod::ApiKey | AuthMethod::SecurityToken => load_from_config(opts)?,
            AuthMethod::InstancePrincipal => {
                let cfg = InstancePrincipalConfig {
                    metadata_base_url: opts
                        .metadata_base_url
                        .clone()
                        .unwrap_or_else(|| DEFAULT_METADATA_BASE_URL.to_string()),
                    federation_endpoint: opts.federation_endpoint.clone(),
                    endpoints: endpoints.clone(),
                    region: opts.region.clone(),
                };
                let ip = InstancePrincipal::new(cfg, http.clone(), clock.clone(), sleeper.clone())
                    .await?;
                (Credentials::InstancePrincipal(Arc::new(ip)), Vec::new())
            }
        };
        Client::builder(credentials)
            .endpoint(opts.endpoint.as_deref())
            .region(opts.region.as_deref())
            .transport(http)
            .clock(clock)
            .sleeper(sleeper)
            .warnings(warnings)
            .build()
    }

    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    pub fn tenancy_id(&self) -> &str {
        self.inner.credentials.tenancy_id()
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// Things the user should know (loose key permissions, fingerprint mismatch); the CLI prints them.
    pub fn warnings(&self) -> &[String] {
        &self.inner.warnings
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub(crate) fn sleeper(&self) -> &dyn Sleeper {
        self.inner.sleeper.as_ref()
    }

    /// The tenancy's home region, from its region subscriptions (cached).
    pub async fn home_region(&self) -> Result<String, OciError> {
        self.inner
            .home_region
            .get_or_try_init(|| async {
                let subs = self.list_region_subscriptions(self.tenancy_id()).await?;
                Ok::<_, OciError>(
                    subs.iter()
                        .find(|s| s.is_home_region)
                        .map(|s| canonical_region(&s.region_name))
                        .unwrap_or_else(|| self.inner.region.clone()),
                )
            })
            .await
            .cloned()
    }

    async fn base_url(&self, req: &ApiRequest) -> Result<String, OciError> {
        if let Endpoints::Override(base) = &self.inner.endpoints {
            return Ok(base.trim_end_matches('/').to_string());
        }
        let region = if req.home_region {
            // Boxed: the lookup itself goes through `send` (a non-IAM-write, so no deeper recursion).
            Box::pin(self.home_region()).await?
        } else {
            self.inner.region.clone()
        };
        Ok(self.inner.endpoints.base_url(req.service, &region))
    }

    /// Sends one operation: signs it, retries per the policy (the same `opc-retry-token` on
    /// every attempt of a create), renews a token once after a 401, and returns the 2xx answer.
    pub async fn send(&self, mut req: ApiRequest) -> Result<HttpResponse, OciError> {
        if req.method == "POST" && req.retry_token.is_none() && takes_retry_token(req.operation) {
            req.retry_token = Some(random_token(30));
        }
        let base = self.base_url(&req).await?;
        let url = req.url(&base)?;
        let start = self.inner.clock.now();
        let opc_request_id = random_token(32).to_ascii_uppercase();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let identity = self.inner.credentials.identity().await?;
            let date = httpdate::fmt_http_date(self.inner.clock.now());
            let http_req = build_http_request(
                &req,
                url.clone(),
                &date,
                &opc_request_id,
                identity.key_id.expose(),
                &identity.key,
            )
            .map_err(|e| OciError::from(super::auth::AuthError::from(e)))?;
            let sent = std::time::Instant::now();
            let result = self.inner.http.send(http_req).await;
            let took = sent.elapsed();
            if result.is_ok() {
                self.inner.answered.store(true, Ordering::Relaxed);
            }
            let elapsed = self
                .inner
                .clock
                .now()
                .duration_since(start)
                .unwrap_or(Duration::ZERO);
            let jitter: f64 = rand::thread_rng().gen();
            let log = |result, request_id: Option<&str>, next| {
                log::report(&log::Attempt {
                    operation: req.operation,
                    method: req.method,
                    url: url.as_str(),
                    attempt,
                    result,
                    opc_request_id: request_id.unwrap_or(&opc_request_id),
                    duration: took,
                    next,
                })
            };
            let (decision, error) = match result {
                Ok(resp) if resp.is_success() => {
                    log(
                        log::AttemptResult::Status {
                            status: resp.status,
                            code: "",
                        },
                        resp.header("opc-request-id"),
                        log::Next::Done,
                    );
                    return Ok(resp);
                }
                Ok(resp) => {
                    let err = api_error(req.operation, &resp);
                    let result = log::AttemptResult::Status {
                        status: err.status,
                        code: &err.code,
                    };
                    let rid = err.opc_request_id.as_deref();
                    if resp.status == 401 && !refreshed && self.inner.credentials.refresh().await? {
                        log(result, rid, log::Next::RenewToken);
                        refreshed = true;
                        attempt -= 1;
                        continue;
                    }
                    let outcome = Outcome::Response {
                        status: err.status,
                        code: &err.code,
                    };
                    let decision = self.inner.retry.decide(attempt, elapsed, outcome, jitter);
                    log(result, rid, next_of(decision));
                    (decision, OciError::from(err))
                }
                Err(e) => {
                    let outcome = match e.kind {
                        TransportErrorKind::Timeout => Outcome::Timeout,
                        TransportErrorKind::Connect => Outcome::ConnectionError,
                        TransportErrorKind::Other => Outcome::Response {
                            status: 0,
                            code: "",
                        },
                    };
                    let decision = if self.inner.answered.load(Ordering::Relaxed) {
                        self.inner.retry.decide(attempt, elapsed, outcome, jitter)
                    } else {
                        self.inner
                            .retry
                            .decide_first_contact(attempt, elapsed, outcome, jitter)
                    };
                    log(
                        log::AttemptResult::NoAnswer(&e.message),
                        None,
                        next_of(decision),
                    );
                    (
                        decision,
                        OciError::Transport {
                            operation: req.operation.to_string(),
                            url: url.to_string(),
                            attempts: attempt,
                            waited: elapsed,
                            source: e,
                        },
                    )
                }
            };
            match decision {
                Decision::RetryAfter(d) => self.inner.sleeper.sleep(d).await,
                Decision::GiveUp => return Err(error),
            }
        }
    }

    /// Sends and parses a JSON answer.
    pub async fn call<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T, OciError> {
        let op = req.operation;
        let resp = self.send(req).await?;
        request::parse_json(op, &resp)
    }

    /// Sends and parses a JSON answer with its etag.
    pub async fn call_versioned<T: DeserializeOwned>(
        &self,
        req: ApiRequest,
    ) -> Result<request::Versioned<T>, OciError> {
        let op = req.operation;
        let resp = self.send(req).await?;
        request::parse_versioned(op, &resp)
    }

    /// A list operation followed through every `opc-next-page`.
    pub async fn list_all<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<Vec<T>, OciError> {
        let mut items = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut r = req.clone();
            if let Some(p) = &page {
                r.query.push(("page".into(), p.clone()));
            }
            let resp = self.send(r).await?;
            let mut batch: Vec<T> = request::parse_json(req.operation, &resp)?;
            items.append(&mut batch);
            match resp.next_page() {
                // A server repeating a token would loop forever; stop instead.
                Some(next) if Some(&next) != page.as_ref() => page = Some(next),
                _ => return Ok(items),
            }
        }
    }
}

/// Operations whose POST takes `opc-retry-token` (per the SDKs' clients).
fn takes_retry_token(operation: &str) -> bool {
    matches!(
        operation,
        "CreateDynamicGroup"
            | "CreatePolicy"
            | "LaunchInstance"
            | "InstanceAction"
            | "CreatePrivateIp"
            | "CreateNetworkSecurityGroup"
    )
}

/// A random `[A-Za-z0-9]` token (the SDKs' retry-token form).
pub fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn next_of(d: Decision) -> log::Next {
    match d {
        Decision::RetryAfter(d) => log::Next::RetryAfter(d),
        Decision::GiveUp => log::Next::GiveUp,
    }
}
