use std::time::Duration;

use leadline_model::auth::ApiError;
use leadline_model::sync::{Cursor, PullPage, PullQuery};
use leadline_model::{LoginRequest, LoginResponse};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::SyncError;

/// Every request gives up after this long.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to one Leadline server, with the access token once signed in.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("signed_in", &self.token.is_some())
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
            .connect_timeout(Duration::from_secs(10))
            .timeout(DEFAULT_TIMEOUT)
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
            token: None,
        })
    }

    /// The same client, signed in with a token kept from an earlier login.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The server's base URL, normalised (always ends with `/`).
    pub fn server_url(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, path: &str) -> Result<Url, SyncError> {
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
        self.token = Some(login.access_token.clone());
        Ok(login)
    }

    /// One page of the change feed after `cursor`.
    pub async fn pull(&self, cursor: &Cursor, limit: Option<u32>) -> Result<PullPage, SyncError> {
        let url = self.url("api/v1/sync/pull")?;
        let token = self.token.as_deref().ok_or(SyncError::Unauthorized)?;
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

fn unreachable(url: &Url, e: &reqwest::Error) -> SyncError {
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

async fn expect_json<T: DeserializeOwned>(resp: reqwest::Response, url: &Url) -> Result<T, SyncError> {
    let status = resp.status();
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
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| SyncError::Protocol(format!("{url}: {e}")))
}
