use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use leadline_model::auth::ApiError;
use leadline_model::sync::{Cursor, PullPage, PullQuery, PushBatch, PushResponse};
use leadline_model::{
    ClickToCall, ClickToCallRequest, Id, LoginRequest, LoginResponse, LogoutRequest, RefreshRequest,
};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::SyncError;
use crate::error::CallError;

/// Every request gives up after this long (`LEADLINE_HTTP_TIMEOUT_SECS` overrides it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The request timeout: [`DEFAULT_TIMEOUT`], or `LEADLINE_HTTP_TIMEOUT_SECS` when set to a whole number
/// of seconds (tests cutting connections use a short one).
pub fn request_timeout() -> Duration {
    std::env::var("LEADLINE_HTTP_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// The tokens of a signed-in device session: what an owner persists (keyring, session file) to stay
/// signed in across runs.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    /// `None` for a bare access token (no refresh: the session ends when it expires).
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The token pair, shared by the clones of a client (they are one device session), and a gate so that
/// only one refresh runs at a time: refresh tokens are single use, so two concurrent refreshes with the
/// same token would look like reuse to the server and end the session.
#[derive(Default)]
struct Auth {
    tokens: Mutex<Option<Tokens>>,
    refresh_gate: tokio::sync::Mutex<()>,
}

/// A connection to one Leadline server, with the session's tokens once signed in.
///
/// Token rotation: when the server refuses an expired access token, [`Client::pull`] refreshes once (see
/// [`Client::refresh`]) and retries. The refresh token is single use, so after any call the owner should
/// read [`Client::tokens`] and persist it when it changed; a stale refresh token presented later is
/// taken as reuse and ends the session ([`SyncError::SessionEnded`]). Clones share the tokens.
#[derive(Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    base: Url,
    auth: Arc<Auth>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("signed_in", &self.tokens_lock().is_some())
            .finish()
    }
}

impl Client {
    /// A client for the server at `server_url` (`http://` or `https://`, path prefix allowed).
    pub fn new(server_url: &str) -> Result<Self, SyncError> {
        let mut base = Url::parse(server_url.trim()).map_err(|_| SyncError::BadUrl(server_url.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(SyncError::BadUrl(server_url.to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(request_timeout()))
            .timeout(request_timeout())
            .gzip(true)
            .user_agent(concat!("leadline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Unreachable {
                url: server_url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base,
            auth: Arc::default(),
        })
    }

    /// The same client, signed in with a bare access token kept from an earlier login (no refresh).
    pub fn with_token(self, token: impl Into<String>) -> Self {
        self.with_tokens(Tokens {
            access_token: token.into(),
            refresh_token: None,
        })
    }

    /// The same client, signed in with the tokens kept from an earlier login or refresh.
    pub fn with_tokens(self, tokens: Tokens) -> Self {
        *self.tokens_lock() = Some(tokens);
        self
    }

    /// The current access token.
    pub fn token(&self) -> Option<String> {
        self.tokens_lock().as_ref().map(|t| t.access_token.clone())
    }

    /// The current token pair, to persist after each call (it changes when the client refreshes).
    pub fn tokens(&self) -> Option<Tokens> {
        self.tokens_lock().clone()
    }

    fn tokens_lock(&self) -> MutexGuard<'_, Option<Tokens>> {
        // Holding the lock never panics half-way through a write; keep using it after a panic elsewhere.
        self.auth.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keep(&self, login: &LoginResponse) {
        *self.tokens_lock() = Some(Tokens {
            access_token: login.access_token.clone(),
            refresh_token: Some(login.refresh_token.clone()),
        });
    }

    /// The server's base URL, normalised (always ends with `/`).
    pub fn server_url(&self) -> &str {
        self.base.as_str()
    }

    pub(crate) fn url(&self, path: &str) -> Result<Url, SyncError> {
        self.base
            .join(path)
            .map_err(|_| SyncError::BadUrl(format!("{}{path}", self.base)))
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<(), SyncError> {
        let url = self.url("healthz")?;
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        expect_json::<serde_json::Value>(resp, &url).await.map(|_| ())
    }

    /// Signs in; on success the client keeps the access token.
    pub async fn login(
        &mut self,
        username: &str,
        password: &str,
        device_id: Option<&str>,
    ) -> Result<LoginResponse, SyncError> {
        let url = self.url("api/v1/auth/login")?;
        let body = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            device_id: device_id.map(str::to_owned),
        };
        let resp = self
            .http
            .post(url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(SyncError::InvalidCredentials);
        }
        let login: LoginResponse = expect_json(resp, &url).await?;
        self.keep(&login);
        Ok(login)
    }

    /// Trades the refresh token for a new token pair of the same session and keeps it. Refused
    /// (revoked, expired, or reused: signed out elsewhere or the token was stolen) is
    /// [`SyncError::SessionEnded`], and the client forgets its tokens; a network failure is transient and
    /// keeps them.
    pub async fn refresh(&self) -> Result<LoginResponse, SyncError> {
        let _gate = self.auth.refresh_gate.lock().await;
        self.refresh_locked().await
    }

    async fn refresh_locked(&self) -> Result<LoginResponse, SyncError> {
        let refresh_token = self
            .tokens_lock()
            .as_ref()
            .and_then(|t| t.refresh_token.clone())
            .ok_or(SyncError::Unauthorized)?;
        let url = self.url("api/v1/auth/refresh")?;
        let resp = self
            .http
            .post(url.clone())
            .json(&RefreshRequest { refresh_token })
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        match expect_json::<LoginResponse>(resp, &url).await {
            Ok(login) => {
                self.keep(&login);
                tracing::debug!(session_id = %login.session_id, "refreshed the access token");
                Ok(login)
            }
            Err(SyncError::Unauthorized) => {
                *self.tokens_lock() = None;
                Err(SyncError::SessionEnded)
            }
            Err(e) => Err(e),
        }
    }

    /// After the server refused `refused_access`: refreshes, unless a clone already did meanwhile.
    pub(crate) async fn refresh_after(&self, refused_access: &str) -> Result<(), SyncError> {
        let _gate = self.auth.refresh_gate.lock().await;
        if self.token().as_deref() != Some(refused_access) {
            return Ok(());
        }
        self.refresh_locked().await.map(drop)
    }

    /// Signs out: the server ends this device session (its tokens stop working). The client forgets its
    /// tokens whatever the outcome; an `Err` means the server may not know (e.g. offline).
    pub async fn logout(&self) -> Result<(), SyncError> {
        let Some(tokens) = self.tokens_lock().take() else {
            return Ok(());
        };
        let url = self.url("api/v1/auth/logout")?;
        let resp = self
            .http
            .post(url.clone())
            .bearer_auth(&tokens.access_token)
            .json(&LogoutRequest {
                refresh_token: tokens.refresh_token,
            })
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        // Already ended (expired, revoked): nothing left to end.
        if status == StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        expect_json::<serde_json::Value>(resp, &url).await.map(drop)
    }

    /// One page of the change feed after `cursor`. When the access token has expired, refreshes once and
    /// retries (read [`Client::tokens`] afterwards to persist the new pair).
    pub async fn pull(&self, cursor: &Cursor, limit: Option<u32>) -> Result<PullPage, SyncError> {
        self.authorized(|token: String| async move { self.pull_with(&token, cursor, limit).await })
            .await
    }

    /// The daily goals of the user's team (`GET /api/v1/goals`): the team default and per-telecaller ones.
    /// Refreshes an expired access token once, like [`Client::pull`].
    pub async fn goals(&self) -> Result<Vec<leadline_model::analytics::Goal>, SyncError> {
        self.authorized(|token: String| async move { self.goals_with(&token).await })
            .await
    }

    async fn goals_with(&self, token: &str) -> Result<Vec<leadline_model::analytics::Goal>, SyncError> {
        let url = self.url("api/v1/goals")?;
        let resp = self
            .http
            .get(url.clone())
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        expect_json(resp, &url).await
    }

    /// Sends local changes (`POST /api/v1/sync/push`); the answer has one result per mutation. Refreshes an
    /// expired access token once, like [`Client::pull`]. Safe to repeat: the server applies each client
    /// mutation id once.
    pub async fn push(&self, batch: &PushBatch) -> Result<PushResponse, SyncError> {
        self.authorized(|token: String| async move { self.push_with(&token, batch).await })
            .await
    }

    async fn push_with(&self, token: &str, batch: &PushBatch) -> Result<PushResponse, SyncError> {
        let url = self.url("api/v1/sync/push")?;
        let resp = self
            .http
            .post(url.clone())
            .bearer_auth(token)
            .json(batch)
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        expect_json(resp, &url).await
    }

    /// Asks the server to place a click-to-call on lead `lead_id` (`POST /api/v1/calls/click-to-call`):
    /// the telephony provider rings the caller's own phone (their agent number) first, then the lead.
    /// Answers the provider's call id and the id the call's log must have (log it with
    /// `leadline_store::Store::begin_click_to_call`; [`crate::place_click_to_call`] does both). Refreshes
    /// an expired access token once, like [`Client::pull`].
    ///
    /// Errors: the server's refusals as [`SyncError::Call`] ([`CallError::NoAgentNumber`],
    /// [`CallError::TelephonyNotConfigured`], [`CallError::LeadNotFound`], the provider's refusal, rate
    /// limit, failure or timeout); no server at all is [`SyncError::Unreachable`] (offline). Not retried:
    /// a second request would ring the telecaller twice.
    pub async fn click_to_call(&self, lead_id: Id) -> Result<ClickToCall, SyncError> {
        let answer = self
            .authorized(|token: String| async move { self.click_to_call_with(&token, lead_id).await })
            .await;
        answer.map_err(|e| match e {
            SyncError::Server {
                status,
                code,
                message,
                retry_after,
            } => match CallError::from_answer(status, &code, &message, retry_after) {
                Some(call) => SyncError::Call(call),
                None => SyncError::Server {
                    status,
                    code,
                    message,
                    retry_after,
                },
            },
            other => other,
        })
    }

    async fn click_to_call_with(&self, token: &str, lead_id: Id) -> Result<ClickToCall, SyncError> {
        let url = self.url("api/v1/calls/click-to-call")?;
        let resp = self
            .http
            .post(url.clone())
            .bearer_auth(token)
            .json(&ClickToCallRequest { lead_id })
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        expect_json(resp, &url).await
    }

    /// A call's recording (`GET /api/v1/call-logs/{id}/recording`): the server fetches it from the telephony
    /// provider with its own credentials and relays it. Refreshes an expired access token once, like
    /// [`Client::pull`]. A call without a recording, or one the provider no longer has, is
    /// [`SyncError::Server`] with status 404.
    pub async fn recording(&self, call_log_id: Id) -> Result<Recording, SyncError> {
        self.authorized(|token: String| async move { self.recording_with(&token, call_log_id).await })
            .await
    }

    async fn recording_with(&self, token: &str, call_log_id: Id) -> Result<Recording, SyncError> {
        let url = self.url(&format!("api/v1/call-logs/{call_log_id}/recording"))?;
        let resp = self
            .http
            .get(url.clone())
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("audio/mpeg")
            .to_owned();
        let bytes = expect_success(resp, &url).await?;
        Ok(Recording { content_type, bytes })
    }

    /// The URL of the real-time event socket (`ws://` or `wss://`), resuming after `cursor` when given.
    pub fn events_url(&self, cursor: Option<i64>) -> Result<Url, SyncError> {
        let mut url = self.url("api/v1/events")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| SyncError::BadUrl(url.to_string()))?;
        if let Some(c) = cursor {
            url.query_pairs_mut().append_pair("cursor", &c.to_string());
        }
        Ok(url)
    }

    /// Refreshes the access token when the refresh token allows (after the event socket was refused or
    /// closed for an expired token). `Ok(false)`: nothing to refresh with.
    pub async fn refresh_if_possible(&self, refused_access: &str) -> Result<bool, SyncError> {
        if !self.can_refresh() {
            return Ok(false);
        }
        self.refresh_after(refused_access).await?;
        Ok(true)
    }

    /// Sends `request` with the access token; when the server says the token has expired, refreshes it
    /// once and sends the request again (read [`Client::tokens`] afterwards to persist the new pair).
    pub(crate) async fn authorized<T, F>(&self, request: impl Fn(String) -> F) -> Result<T, SyncError>
    where
        F: Future<Output = Result<T, SyncError>>,
    {
        let token = self.token().ok_or(SyncError::Unauthorized)?;
        match request(token.clone()).await {
            Err(SyncError::Unauthorized) if self.can_refresh() => {
                self.refresh_after(&token).await?;
                let token = self.token().ok_or(SyncError::Unauthorized)?;
                request(token).await
            }
            other => other,
        }
    }

    pub(crate) fn can_refresh(&self) -> bool {
        self.tokens_lock()
            .as_ref()
            .is_some_and(|t| t.refresh_token.is_some())
    }

    async fn pull_with(
        &self,
        token: &str,
        cursor: &Cursor,
        limit: Option<u32>,
    ) -> Result<PullPage, SyncError> {
        let url = self.url("api/v1/sync/pull")?;
        let query = PullQuery {
            cursor: (!cursor.is_start()).then(|| cursor.clone()),
            limit,
        };
        let resp = self
            .http
            .get(url.clone())
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        expect_json(resp, &url).await
    }
}

pub(crate) fn unreachable(url: &Url, e: &reqwest::Error) -> SyncError {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    SyncError::Unreachable {
        url: url.to_string(),
        reason,
    }
}

pub(crate) async fn expect_json<T: DeserializeOwned>(
    resp: reqwest::Response,
    url: &Url,
) -> Result<T, SyncError> {
    let bytes = expect_success(resp, url).await?;
    // Our server validated every phone number it sends when it took it in.
    leadline_model::with_stored_numbers(|| serde_json::from_slice(&bytes))
        .map_err(|e| SyncError::Protocol(format!("{url}: {e}")))
}

/// The body of a successful answer; an error answer as [`SyncError`].
async fn expect_success(resp: reqwest::Response, url: &Url) -> Result<Vec<u8>, SyncError> {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bytes = resp.bytes().await.map_err(|e| unreachable(url, &e))?;
    if status == StatusCode::UNAUTHORIZED {
        return Err(SyncError::Unauthorized);
    }
    if !status.is_success() {
        let (code, message) = match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(e) => (e.code, e.message),
            Err(_) => (
                "http_error".to_owned(),
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            ),
        };
        return Err(SyncError::Server {
            status: status.as_u16(),
            code,
            message,
            retry_after,
        });
    }
    Ok(Vec::from(bytes))
}

/// A call's recording as the server relays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The provider's media type (`audio/mpeg` for Exotel's MP3s).
    pub content_type: String,
    pub bytes: Vec<u8>,
}
