//! Leadline's thin central API: sign-in, the sync change feed, and demo data.
//!
//! The binary (`leadline-server serve`) and in-process users (tests, the bench crate) share
//! [`AppState::open`], [`router`], [`serve`] and [`start`].

pub mod accounts;
pub mod api;
pub mod auth;
pub mod backup;
pub mod config;
pub mod cursor;
pub mod db;
pub mod demo;
pub mod erasure;
pub mod events;
pub mod exotel;
pub mod import;
pub mod openapi;
pub mod ops;
pub mod pg_cluster;
pub mod pii;
pub mod ratelimit;
pub mod retention;
pub mod routes;
pub mod sql;
pub mod tls;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderValue;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate as _};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

pub use api::{AuthUser, DEFAULT_LEAD_LIMIT, DEFAULT_PULL_LIMIT, MAX_LEAD_LIMIT, MAX_PULL_LIMIT};
pub use auth::{AuthError, TokenKeys};
pub use db::{DbError, LeadFilter, Repo, Scope};
pub use routes::integrations::{ExotelSettings, SheetsSettings};

/// Access tokens live this long unless configured otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// The file in the data directory holding the generated JWT secret.
pub const JWT_SECRET_FILE: &str = "jwt-secret";

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("JWT secret file {path}: {source}")]
    SecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("JWT secret file {path} is empty or damaged")]
    BadSecretFile { path: PathBuf },
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
    #[error("PII keys: {0}")]
    PiiKeys(#[from] pii::PiiConfigError),
    #[error("startup task failed: {0}")]
    Task(String),
    #[error("integration settings: {0}")]
    Integrations(String),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("data directory lock: {0}")]
    Lock(#[from] backup::BackupError),
}

/// How to run a server. `Debug` never shows the JWT secret nor the database password.
#[derive(Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// The HS256 secret; when `None`, read from (or generated into) `<data_dir>/jwt-secret`.
    pub jwt_secret: Option<String>,
    pub token_ttl: Duration,
    /// How long a device session's refresh token lives (each refresh starts a new period).
    pub refresh_ttl: Duration,
    /// Request rate limits (see [`ratelimit`]).
    pub rate_limits: ratelimit::RateLimits,
    /// Where the data lives; `None`: the SQLite file in `data_dir`.
    pub database: Option<db::DbConfig>,
    /// The keys sealing PII columns; `None`: see [`pii_keys`].
    pub pii: Option<Arc<pii::PiiKeys>>,
    /// Exotel telephony (click-to-call, StatusCallback webhook, recordings); `None`: not configured.
    pub exotel: Option<ExotelSettings>,
    /// Google Sheets lead imports; `None`: not configured.
    pub sheets: Option<SheetsSettings>,
    /// Real-time events: heartbeat, follow-up check and retention periods (see [`events`]).
    pub events: events::EventsConfig,
    /// Origins allowed to call the API from a browser (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for per-address rate limits).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// HTTPS with this certificate and key; `None`: plain HTTP (behind a TLS-terminating proxy).
    pub tls: Option<tls::TlsSettings>,
    /// The desktop app's in-app updates: `latest.json`, the packages and their signatures (see
    /// [`routes::updates`]); `None`: no updates served (the manifest route answers 204).
    pub updates_dir: Option<PathBuf>,
    /// Retention run inside `serve` ([`run`] only; off by default: see [`retention`]).
    pub retention: retention::RetentionSchedule,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "***"))
            .field("token_ttl", &self.token_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("database", &self.database)
            .field("exotel", &self.exotel)
            .field("sheets", &self.sheets)
            .field("cors_origins", &self.cors_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("tls", &self.tls)
            .field("updates_dir", &self.updates_dir)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl ServeConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            token_ttl: DEFAULT_TOKEN_TTL,
            refresh_ttl: auth::DEFAULT_REFRESH_TTL,
            rate_limits: ratelimit::RateLimits::default(),
            database: None,
            pii: None,
            exotel: None,
            sheets: None,
            events: events::EventsConfig::default(),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            tls: None,
            updates_dir: None,
            retention: retention::RetentionSchedule::default(),
        }
    }
}

struct Inner {
    repo: Repo,
    keys: TokenKeys,
    limiter: Arc<ratelimit::RateLimiter>,
    integrations: Arc<routes::integrations::Integrations>,
    events: events::EventHub,
    metrics: Arc<ops::Metrics>,
    cors_origins: Vec<String>,
    updates_dir: Option<PathBuf>,
    /// The data directory's lock, held shared while this state lives (see [`backup::lock_shared`]): a
    /// restore refuses to run while it is held.
    _data_dir_lock: Option<std::fs::File>,
}

/// What every handler shares: storage and token keys.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("repo", &self.0.repo)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state from an open repo and the HS256 secret.
    pub fn new(repo: Repo, jwt_secret: &[u8], token_ttl: Duration) -> Result<Self, ServerError> {
        let keys = TokenKeys::new(jwt_secret, token_ttl)?;
        Self::with_keys(repo, keys)
    }

    /// Builds the state from an open repo and token keys.
    pub fn with_keys(repo: Repo, keys: TokenKeys) -> Result<Self, ServerError> {
        let limiter = Arc::new(ratelimit::RateLimiter::new(ratelimit::RateLimits::default()));
        let events = events::EventHub::new(events::EventsConfig::default());
        Ok(Self(Arc::new(Inner {
            repo,
            keys,
            limiter,
            integrations: Arc::default(),
            events,
            metrics: Arc::new(ops::Metrics::default()),
            cors_origins: Vec::new(),
            updates_dir: None,
            _data_dir_lock: None,
        })))
    }

    /// Opens `<data_dir>/leadline-server.sqlite3` (migrating it) and loads or creates the JWT secret.
    pub async fn open(config: &ServeConfig) -> Result<Self, ServerError> {
        let lock = backup::lock_shared(&config.data_dir)?;
        let pii = match &config.pii {
            Some(keys) => keys.clone(),
            None => Arc::new(pii_keys(&config.data_dir)?),
        };
        let database = config
            .database
            .clone()
            .unwrap_or_else(|| db::DbConfig::Sqlite(db::db_path(&config.data_dir)));
        let repo = Repo::connect(&database, pii).await?;
        let sealed = repo.seal_all().await?;
        if sealed > 0 {
            tracing::info!(
                values = sealed,
                "sealed PII values written before encryption or under an old key"
            );
        }
        let integrations = routes::integrations::Integrations::from_settings(
            config.exotel.as_ref(),
            config.sheets.as_ref(),
        )?;
        let secret = match &config.jwt_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => load_or_create_secret(&config.data_dir)?,
        };
        Ok(Self::with_keys(
            repo,
            TokenKeys::new(&secret, config.token_ttl)?.with_refresh_ttl(config.refresh_ttl),
        )?
        .with_rate_limiter(
            ratelimit::RateLimiter::new(config.rate_limits)
                .with_trusted_proxies(config.trusted_proxies.clone()),
        )
        .with_integrations(integrations)
        .with_cors_origins(config.cors_origins.clone())
        .with_updates_dir(config.updates_dir.clone())
        .with_events_config(config.events)
        .with_data_dir_lock(lock))
    }

    /// The same state holding the data directory's lock for as long as it lives. Call it on a fresh state.
    fn with_data_dir_lock(mut self, lock: std::fs::File) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner._data_dir_lock = Some(lock);
        }
        self
    }

    pub fn repo(&self) -> &Repo {
        &self.0.repo
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.0.keys
    }

    /// The same state with other rate limits (default: [`ratelimit::RateLimits::default`]). Call it on a
    /// fresh state, before it is cloned; on a shared one it changes nothing (and logs a warning).
    pub fn with_rate_limits(self, limits: ratelimit::RateLimits) -> Self {
        self.with_rate_limiter(ratelimit::RateLimiter::new(limits))
    }

    /// The same state with this rate limiter. Call it on a fresh state, before it is cloned.
    pub fn with_rate_limiter(mut self, limiter: ratelimit::RateLimiter) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.limiter = Arc::new(limiter),
            None => tracing::warn!("rate limits not applied: the state is already shared"),
        }
        self
    }

    pub fn rate_limiter(&self) -> &Arc<ratelimit::RateLimiter> {
        &self.0.limiter
    }

    /// The same state with these integrations (Exotel, Google Sheets). Like [`Self::with_rate_limits`],
    /// call it on a fresh state.
    pub fn with_integrations(mut self, integrations: routes::integrations::Integrations) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.integrations = Arc::new(integrations),
            None => tracing::warn!("integrations not applied: the state is already shared"),
        }
        self
    }

    /// The same state with another events configuration (default: [`events::EventsConfig::default`]).
    /// Call it on a fresh state, before it is cloned; on a shared one it changes nothing (and logs a
    /// warning).
    pub fn with_events_config(mut self, config: events::EventsConfig) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.events = events::EventHub::new(config),
            None => tracing::warn!("events configuration not applied: the state is already shared"),
        }
        self
    }

    /// The configured integrations.
    pub fn integrations(&self) -> &routes::integrations::Integrations {
        &self.0.integrations
    }

    /// This process's real-time event hub.
    pub fn events(&self) -> &events::EventHub {
        &self.0.events
    }
    pub fn metrics(&self) -> &Arc<ops::Metrics> {
        &self.0.metrics
    }

    /// The same state serving the desktop's in-app updates from `dir` (see [`routes::updates`]). Call it
    /// on a fresh state, before it is cloned.
    pub fn with_updates_dir(mut self, dir: Option<PathBuf>) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.updates_dir = dir,
            None => tracing::warn!("updates directory not applied: the state is already shared"),
        }
        self
    }

    /// Where the in-app updates are served from, if anywhere.
    pub fn updates_dir(&self) -> Option<&Path> {
        self.0.updates_dir.as_deref()
    }

    /// The same state allowing cross-origin requests from `origins` (exact origins such as
    /// `https://crm.example.com`; empty: same-origin only). Call it on a fresh state, before it is cloned.
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.cors_origins = origins,
            None => tracing::warn!("CORS origins not applied: the state is already shared"),
        }
        self
    }
}

/// The keys sealing PII columns: from `LEADLINE_PII_KEYS` and `LEADLINE_PII_BLIND_KEY` when set (every API
/// node of one database needs the same keys), otherwise `<data_dir>/pii-keys` (created on first start).
pub fn pii_keys(data_dir: &Path) -> Result<pii::PiiKeys, ServerError> {
    match pii::PiiKeys::from_env()? {
        Some(keys) => Ok(keys),
        None => Ok(pii::PiiKeys::load_or_create(data_dir)?),
    }
}

/// Reads `<data_dir>/jwt-secret`, or creates it (32 random bytes, base64url, mode 0600) when absent.
/// Returns the secret bytes (the file's text).
pub fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>, ServerError> {
    let path = data_dir.join(JWT_SECRET_FILE);
    let file_err = |source| ServerError::SecretFile {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(file_err)?;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret = text.trim();
            if secret.len() < auth::MIN_SECRET_LEN {
                return Err(ServerError::BadSecretFile { path });
            }
            return Ok(secret.as_bytes().to_vec());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_err(e)),
    }
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    let secret = URL_SAFE_NO_PAD.encode(raw);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes()).map_err(file_err)?;
            file.write_all(b"\n").map_err(file_err)?;
            file.sync_all().map_err(file_err)?;
            tracing::info!(path = %path.display(), "generated a new JWT secret");
            Ok(secret.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_secret(data_dir),
        Err(e) => Err(file_err(e)),
    }
}

/// The API's routes, with request tracing (method, path, status, latency; never headers or bodies).
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.0.cors_origins);
    let router = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/version", get(ops::version))
        .route(openapi::OPENAPI_PATH, get(openapi::openapi_json))
        .route("/api/v1/auth/login", post(api::login))
        .route("/api/v1/auth/refresh", post(api::refresh))
        .route("/api/v1/auth/logout", post(api::logout))
        .route("/api/v1/users/{id}/sessions", get(api::list_sessions))
        .route("/api/v1/sessions/{id}/revoke", post(api::revoke_session))
        .route("/api/v1/sync/pull", get(api::pull))
        .route("/api/v1/leads", get(api::list_leads))
        .route("/api/v1/leads/{id}", get(api::get_lead))
        .merge(routes::routes())
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::observe))
        .with_state(state);
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    let request_id = axum::http::HeaderName::from_static(ops::REQUEST_ID);
    router
        // The fastest level: JSON still shrinks to a fraction, for a third of the CPU of the default
        // level (compression was the largest single cost in the server bench after SQLite).
        .layer(
            CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest)
                // Update packages are compressed already, and served with range requests.
                .compress_when(
                    DefaultPredicate::new().and(NotForContentType::const_new("application/octet-stream")),
                ),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let request_id = req
                        .headers()
                        .get(ops::REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("http", request_id = %request_id, user_id = tracing::field::Empty)
                })
                .on_request(())
                .on_response(())
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// CORS for the configured origins (`None` when there are none: browsers then allow same-origin only).
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o.trim()) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(origin = %o, "ignoring an invalid CORS origin");
                None
            }
        })
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                axum::http::Method::GET,
                axum::http::Method::POST,
                axum::http::Method::PATCH,
                axum::http::Method::DELETE,
            ])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderName::from_static(ops::REQUEST_ID),
            ])
            .expose_headers([axum::http::HeaderName::from_static(ops::REQUEST_ID)])
            .max_age(Duration::from_secs(600)),
    )
}

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_on(Bound::Plain(listener), state, shutdown).await
}

/// A bound listener: plain TCP, or TLS over it.
enum Bound {
    Plain(TcpListener),
    Tls(tls::TlsListener),
}

async fn serve_on<F>(listener: Bound, state: AppState, shutdown: F) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let _sweeper = ratelimit::spawn_sweeper(state.rate_limiter().clone());
    let _events = events::spawn(&state);
    // The peer address keys the rate limits of requests without a token.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    match listener {
        Bound::Plain(listener) => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Serve),
        Bound::Tls(listener) => {
            // `tap_io` lends the listener axum's `SocketAddr` connect info.
            axum::serve(axum::serve::ListenerExt::tap_io(listener, |_| {}), app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(ServerError::Serve)
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed by this call, not when the future
/// is first polled, so a signal sent as soon as the caller announces itself is not the default (fatal)
/// action.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            tokio::select! {
                () = next_signal(int.as_mut()) => {}
                () = next_signal(term.as_mut()) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
}

/// The next delivery of `signal`; never, when its handler could not be installed.
#[cfg(unix)]
async fn next_signal(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// A server running in this process (tests, benchmarks).
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    https: bool,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// The address it listens on (the real port when configured with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (`https://ADDR` with TLS).
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, finishes in-flight requests, and waits for the server task.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| ServerError::Task(e.to_string()))?
    }
}

/// What [`open_and_bind`] gives: the state, the listener, its real address, and the certificate with TLS.
struct Opened {
    state: AppState,
    listener: Bound,
    addr: SocketAddr,
    cert: Option<Arc<tls::ReloadableCert>>,
}

/// Opens the state and binds `config.listen` (with TLS when configured); answers the real address (port
/// 0 picks one). The certificate is read before the database is opened, so a bad one fails fast.
async fn open_and_bind(config: &ServeConfig) -> Result<Opened, ServerError> {
    let cert = config.tls.clone().map(tls::ReloadableCert::load).transpose()?;
    let state = AppState::open(config).await?;
    let bind_error = |source| ServerError::Bind {
        addr: config.listen,
        source,
    };
    let tcp = TcpListener::bind(config.listen).await.map_err(bind_error)?;
    let addr = tcp.local_addr().map_err(bind_error)?;
    let listener = match &cert {
        None => Bound::Plain(tcp),
        Some(cert) => {
            Bound::Tls(tls::TlsListener::new(tcp, tls::server_config(cert.clone())?).map_err(bind_error)?)
        }
    };
    Ok(Opened {
        state,
        listener,
        addr,
        cert,
    })
}

/// Opens the state, binds `config.listen` and serves in a background task until [`RunningServer::stop`].
pub async fn start(config: &ServeConfig) -> Result<RunningServer, ServerError> {
    let opened = open_and_bind(config).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let https = opened.cert.is_some();
    let state = opened.state.clone();
    let task = tokio::spawn(serve_on(opened.listener, opened.state, async move {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr: opened.addr,
        https,
        state,
        stop: Some(tx),
        task,
    })
}

/// What the binary runs: open, bind, print `listening on http://ADDR` (`https://` with TLS) to stdout,
/// serve until SIGINT or SIGTERM. With TLS, SIGHUP reloads the certificate and key.
pub async fn run(config: &ServeConfig) -> Result<(), ServerError> {
    let opened = open_and_bind(config).await?;
    let addr = opened.addr;
    let scheme = if opened.cert.is_some() { "https" } else { "http" };
    // Signal handlers first: whoever reads the line below may signal at once.
    let shutdown = shutdown_signal();
    #[cfg(unix)]
    let _reloader = opened.cert.clone().map(|cert| {
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        AbortOnDrop(tokio::spawn(reload_on_sighup(cert, hup)))
    });
    {
        let mut out = std::io::stdout().lock();
        // Tests and scripts read this line to learn the port; a closed stdout must not stop the server.
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        let _ = out.flush();
    }
    tracing::info!(%addr, scheme, db = ?opened.state.repo(), "listening");
    // Load the phone-number metadata now rather than in the first pull (it takes a moment).
    tokio::task::spawn_blocking(|| leadline_model::PhoneNumber::parse("+919876543210").is_ok());
    if let Some(every) = config.retention.every
        && retention::spawn(opened.state.repo().clone(), config.retention).is_some()
    {
        let policy = serde_json::to_string(&config.retention.policy).unwrap_or_default();
        tracing::info!(every_s = every.as_secs(), %policy, "retention runs inside serve");
    }
    serve_on(opened.listener, opened.state, shutdown).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reloads the certificate on each SIGHUP (certbot's deploy hook, say); a bad new one is logged and the
/// old one stays in service.
#[cfg(unix)]
async fn reload_on_sighup(cert: Arc<tls::ReloadableCert>, hup: std::io::Result<tokio::signal::unix::Signal>) {
    let Ok(mut hup) = hup else {
        tracing::warn!("cannot listen for SIGHUP: the TLS certificate will not be reloaded");
        return;
    };
    while hup.recv().await.is_some() {
        let files = cert.settings().clone();
        let reloaded = {
            let cert = cert.clone();
            tokio::task::spawn_blocking(move || cert.reload()).await
        };
        match reloaded {
            Ok(Ok(())) => tracing::info!(cert = %files.cert.display(), "reloaded the TLS certificate"),
            Ok(Err(e)) => tracing::error!(error = %e, "TLS certificate not reloaded; the old one stays"),
            Err(e) => tracing::error!(error = %e, "TLS certificate reload failed"),
        }
    }
}
