//! Google Sheets: a read-only Sheets API v4 client authenticated as a service account (OAuth 2.0 JWT
//! bearer grant, RS256), and the conversion of a values grid into the shared import pipeline.
//!
//! Share the spreadsheet with the service account's `client_email` (viewer) for it to be readable.

use std::path::Path;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use super::{Collector, ColumnMap, ImportError, ImportOptions, ParsedImport};

/// The Sheets API's public base URL.
pub const DEFAULT_BASE_URL: &str = "https://sheets.googleapis.com";
/// The only scope the client asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets.readonly";
/// Assertions are valid this long (Google's maximum).
const ASSERTION_TTL_SECS: i64 = 3600;
/// A cached token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why reading a sheet failed.
#[derive(Debug, thiserror::Error)]
pub enum SheetsError {
    #[error("service-account key: {0}")]
    BadKey(String),
    #[error("service-account key file {path}: {source}")]
    KeyFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad Sheets API base URL {0:?}")]
    BadBaseUrl(String),
    #[error("could not reach {what}: {source}")]
    Http {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// The token endpoint refused the service account (`invalid_grant`: wrong key, clock skew, deleted
    /// account ...).
    #[error("Google refused the service-account sign-in ({status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenRefused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    #[error(
        "the service account may not read this spreadsheet: {message} (share it with the service \
         account's email)"
    )]
    PermissionDenied { message: String },
    #[error("spreadsheet or range not found: {message}")]
    NotFound { message: String },
    #[error("bad spreadsheet id or range: {message}")]
    InvalidArgument { message: String },
    #[error("Google rejected the access token: {message}")]
    Unauthenticated { message: String },
    #[error("Google's rate limit was hit, try again later: {message}")]
    RateLimited { message: String },
    /// Any other Google API error.
    #[error("Google Sheets API error {http_status} {status}: {message}")]
    Api {
        http_status: u16,
        status: String,
        message: String,
    },
    /// A response that is not what the API documents (not JSON, missing fields).
    #[error("unexpected response from {what} (HTTP {http_status}): {detail}")]
    InvalidResponse {
        what: &'static str,
        http_status: u16,
        detail: String,
    },
    #[error(transparent)]
    Import(#[from] ImportError),
}

impl SheetsError {
    /// A stable snake_case code for API error bodies; import errors keep their own
    /// ([`ImportError::code`]).
    pub fn code(&self) -> &'static str {
        match self {
            SheetsError::BadKey(_) | SheetsError::KeyFile { .. } | SheetsError::BadBaseUrl(_) => {
                "sheets_misconfigured"
            }
            SheetsError::TokenRefused { .. } | SheetsError::Unauthenticated { .. } => "sheets_auth_failed",
            SheetsError::PermissionDenied { .. } => "sheets_permission_denied",
            SheetsError::NotFound { .. } => "sheets_not_found",
            SheetsError::InvalidArgument { .. } => "sheets_bad_range",
            SheetsError::RateLimited { .. } => "sheets_rate_limited",
            SheetsError::Http { .. } | SheetsError::Api { .. } | SheetsError::InvalidResponse { .. } => {
                "sheets_unavailable"
            }
            SheetsError::Import(e) => e.code(),
        }
    }

    /// Whether trying again later may succeed (network trouble, rate limits, Google's 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            SheetsError::Http { .. } | SheetsError::RateLimited { .. } => true,
            SheetsError::Api { http_status, .. } | SheetsError::InvalidResponse { http_status, .. } => {
                *http_status >= 500
            }
            _ => false,
        }
    }
}

/// The fields of a Google service-account JSON key that the client uses.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    /// PEM, PKCS#8 RSA.
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key", &"<redacted>")
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

impl ServiceAccountKey {
    /// Reads the JSON key Google's console downloads.
    pub fn from_json(json: &str) -> Result<Self, SheetsError> {
        let key: Self = serde_json::from_str(json).map_err(|e| SheetsError::BadKey(e.to_string()))?;
        if key.client_email.trim().is_empty() || key.token_uri.trim().is_empty() {
            return Err(SheetsError::BadKey(
                "client_email and token_uri must not be empty".into(),
            ));
        }
        Ok(key)
    }

    /// Reads the JSON key from a file.
    pub fn from_file(path: &Path) -> Result<Self, SheetsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SheetsError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }
}

/// A `ValueRange` as the API returns it. Cells are strings by default (`FORMATTED_VALUE`); numbers and
/// booleans are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueRange {
    #[serde(default)]
    pub range: String,
    #[serde(default)]
    pub major_dimension: Option<String>,
    /// Rows; Google omits trailing empty cells and trailing empty rows, and the whole field when the
    /// range is empty.
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct GoogleErrorBody {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

struct CachedToken {
    token: String,
    /// When to stop using it.
    refresh_at: Instant,
}

/// A read-only Google Sheets client for one service account. Cheap to share behind an `Arc`; the access
/// token is cached until [`REFRESH_MARGIN`] before it expires (and refreshed once when Google answers
/// 401 for it).
pub struct SheetsClient {
    http: reqwest::Client,
    base_url: Url,
    key: ServiceAccountKey,
    signing_key: EncodingKey,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for SheetsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SheetsClient")
            .field("base_url", &self.base_url.as_str())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl SheetsClient {
    /// A client for Google's API ([`DEFAULT_BASE_URL`]) signing in with `key` at `key.token_uri`.
    pub fn new(key: ServiceAccountKey) -> Result<Self, SheetsError> {
        let signing_key = EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|e| SheetsError::BadKey(format!("private_key is not an RSA PEM key: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|source| SheetsError::Http {
                what: "the HTTP client",
                source,
            })?;
        let base_url =
            Url::parse(DEFAULT_BASE_URL).map_err(|_| SheetsError::BadBaseUrl(DEFAULT_BASE_URL.into()))?;
        Ok(Self {
            http,
            base_url,
            key,
            signing_key,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The same client against another API base URL (tests, proxies).
    pub fn with_base_url(mut self, base_url: &str) -> Result<Self, SheetsError> {
        let url = Url::parse(base_url).map_err(|_| SheetsError::BadBaseUrl(base_url.to_owned()))?;
        if url.cannot_be_a_base() {
            return Err(SheetsError::BadBaseUrl(base_url.to_owned()));
        }
        self.base_url = url;
        Ok(self)
    }

    /// The same client with another token endpoint than the key's `token_uri`.
    pub fn with_token_uri(mut self, token_uri: &str) -> Self {
        self.key.token_uri = token_uri.to_owned();
        self
    }

    /// The service account's email (to tell users whom to share the sheet with).
    pub fn client_email(&self) -> &str {
        &self.key.client_email
    }

    /// `GET {base}/v4/spreadsheets/{id}/values/{range}` (A1 notation, e.g. `Leads!A1:L`).
    pub async fn fetch_values(&self, spreadsheet_id: &str, range: &str) -> Result<ValueRange, SheetsError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| SheetsError::BadBaseUrl(self.base_url.to_string()))?
            .pop_if_empty()
            .extend(["v4", "spreadsheets", spreadsheet_id, "values", range]);
        url.query_pairs_mut()
            .append_pair("majorDimension", "ROWS")
            .append_pair("valueRenderOption", "FORMATTED_VALUE");

        let mut retried = false;
        loop {
            let token = self.access_token().await?;
            let response = self
                .http
                .get(url.clone())
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|source| SheetsError::Http {
                    what: "the Sheets API",
                    source,
                })?;
            let status = response.status();
            let body = response.bytes().await.map_err(|source| SheetsError::Http {
                what: "the Sheets API",
                source,
            })?;
            if status == StatusCode::UNAUTHORIZED && !retried {
                // Revoked or expired early: forget it and sign in again, once.
                retried = true;
                self.forget_token(&token).await;
                continue;
            }
            return read_values_response(status, &body);
        }
    }

    /// Fetches a range and runs it through the import pipeline ([`parse_sheet_values`]).
    pub async fn import_leads(
        &self,
        spreadsheet_id: &str,
        range: &str,
        opts: &ImportOptions,
    ) -> Result<ParsedImport, SheetsError> {
        let values = self.fetch_values(spreadsheet_id, range).await?;
        Ok(parse_sheet_values(&values, opts)?)
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    async fn access_token(&self) -> Result<String, SheetsError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.token.clone());
        }
        let fresh = self.request_token().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn forget_token(&self, token: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.token == token) {
            *cached = None;
        }
    }

    async fn request_token(&self) -> Result<CachedToken, SheetsError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: &self.key.client_email,
            scope: SCOPE,
            aud: &self.key.token_uri,
            iat: now,
            exp: now + ASSERTION_TTL_SECS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key.private_key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map_err(|e| SheetsError::BadKey(format!("cannot sign with private_key: {e}")))?;
        let started = Instant::now();
        let response = self
            .http
            .post(&self.key.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|source| SheetsError::Http {
                what: "Google's token endpoint",
                source,
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|source| SheetsError::Http {
            what: "Google's token endpoint",
            source,
        })?;
        let (token, lifetime) = read_token_response(status, &body)?;
        Ok(CachedToken {
            token,
            refresh_at: started + lifetime.saturating_sub(REFRESH_MARGIN),
        })
    }
}

/// Longest an access token is used, whatever `expires_in` says (Google's last an hour): a hostile or
/// broken answer cannot make the client keep a token for ever, nor overflow the clock.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Reads the token endpoint's answer (`status`, `body`): the bearer access token and how long to use it
/// (`expires_in`, default an hour, at most [`MAX_TOKEN_LIFETIME`]), or the typed refusal.
pub fn read_token_response(status: StatusCode, body: &[u8]) -> Result<(String, Duration), SheetsError> {
    if !status.is_success() {
        if let Ok(e) = serde_json::from_slice::<OAuthError>(body) {
            return Err(SheetsError::TokenRefused {
                status: status.as_u16(),
                error: e.error,
                description: e.error_description,
            });
        }
        return Err(SheetsError::InvalidResponse {
            what: "Google's token endpoint",
            http_status: status.as_u16(),
            detail: format!("body starts {:?}", snippet(body)),
        });
    }
    let token: TokenResponse = serde_json::from_slice(body).map_err(|e| SheetsError::InvalidResponse {
        what: "Google's token endpoint",
        http_status: status.as_u16(),
        detail: format!("{e}; body starts {:?}", snippet(body)),
    })?;
    if token.access_token.is_empty()
        || token
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(SheetsError::InvalidResponse {
            what: "Google's token endpoint",
            http_status: status.as_u16(),
            detail: "no bearer access_token".into(),
        });
    }
    let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600)).min(MAX_TOKEN_LIFETIME);
    Ok((token.access_token, lifetime))
}

/// Reads the Sheets API's answer to a values request (`status`, `body`): the `ValueRange`, or the typed
/// error Google reports.
pub fn read_values_response(status: StatusCode, body: &[u8]) -> Result<ValueRange, SheetsError> {
    if !status.is_success() {
        return Err(api_error(status, body));
    }
    serde_json::from_slice::<ValueRange>(body).map_err(|e| SheetsError::InvalidResponse {
        what: "the Sheets API",
        http_status: status.as_u16(),
        detail: format!("{e}; body starts {:?}", snippet(body)),
    })
}

/// Maps a Google error response (`{"error": {"code", "message", "status"}}`) to a typed error.
fn api_error(http: StatusCode, body: &[u8]) -> SheetsError {
    let Ok(GoogleErrorBody { error }) = serde_json::from_slice::<GoogleErrorBody>(body) else {
        return SheetsError::InvalidResponse {
            what: "the Sheets API",
            http_status: http.as_u16(),
            detail: format!(
                "error body is not Google's error JSON; starts {:?}",
                snippet(body)
            ),
        };
    };
    let message = error.message;
    match (error.status.as_str(), error.code.unwrap_or(http.as_u16())) {
        ("PERMISSION_DENIED", _) | (_, 403) => SheetsError::PermissionDenied { message },
        ("NOT_FOUND", _) | (_, 404) => SheetsError::NotFound { message },
        ("INVALID_ARGUMENT", _) | (_, 400) => SheetsError::InvalidArgument { message },
        ("UNAUTHENTICATED", _) | (_, 401) => SheetsError::Unauthenticated { message },
        ("RESOURCE_EXHAUSTED", _) | (_, 429) => SheetsError::RateLimited { message },
        (status, _) => SheetsError::Api {
            http_status: http.as_u16(),
            status: status.to_owned(),
            message,
        },
    }
}

/// The first 200 characters of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// Runs a sheet's values through the import pipeline: the first row is the header, row numbers are the
/// sheet's (a range starting at `A5` makes its header row 5), rows shorter than the header have empty
/// trailing cells, cells beyond the header are ignored, empty rows are skipped.
pub fn parse_sheet_values(values: &ValueRange, opts: &ImportOptions) -> Result<ParsedImport, ImportError> {
    let first_row = first_row_of_range(&values.range);
    let mut rows = values.values.iter().enumerate();
    let header = loop {
        match rows.next() {
            None => return Err(ImportError::Empty),
            Some((_, cells)) if cells.iter().all(|c| cell_text(c).trim().is_empty()) => continue,
            Some((_, cells)) => break cells.iter().map(cell_text).collect::<Vec<_>>(),
        }
    };
    let columns = ColumnMap::from_header(&header)?;
    let mut collector = Collector::new(opts, &columns);
    for (index, cells) in rows {
        // `first_row` comes from Google's echo of the range: a huge row number must not overflow.
        let row = first_row.saturating_add(index);
        let cells: Vec<String> = cells.iter().map(cell_text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            collector.blank();
            continue;
        }
        collector.start_row()?;
        collector.add(columns.validate_row(row, &cells));
    }
    collector.finish()
}

fn cell_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first row number of an A1 range as Google echoes it (`Sheet1!A5:F20` → 5); 1 when it has none.
fn first_row_of_range(range: &str) -> usize {
    let cells = range.rsplit_once('!').map_or(range, |(_, c)| c);
    let start = cells.split(':').next().unwrap_or("");
    let digits: String = start
        .trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '$')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|n| *n > 0).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_start_rows() {
        assert_eq!(first_row_of_range("Sheet1!A1:Z1000"), 1);
        assert_eq!(first_row_of_range("'Leads 2026'!B5:F"), 5);
        assert_eq!(first_row_of_range("Sheet1!$A$7:$F$9"), 7);
        assert_eq!(first_row_of_range("Sheet1"), 1);
        assert_eq!(first_row_of_range("Sheet1!A:F"), 1);
    }

    #[test]
    fn google_errors_are_typed() {
        let body = br#"{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}"#;
        match api_error(StatusCode::FORBIDDEN, body) {
            SheetsError::PermissionDenied { message } => {
                assert_eq!(message, "The caller does not have permission")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            api_error(StatusCode::BAD_GATEWAY, b"<html>"),
            SheetsError::InvalidResponse { http_status: 502, .. }
        ));
    }
}
