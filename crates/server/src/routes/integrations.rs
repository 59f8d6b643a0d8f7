//! Telephony (Exotel) and lead-import endpoints:
//!
//! - `POST /api/v1/webhooks/exotel/status/{secret}` and `POST /api/v1/webhooks/exotel/status` (HTTP Basic
//!   `<webhook user>:<secret>`): Exotel's StatusCallback, stored replay-safe and merged onto its call log
//!   (see [`crate::db::integrations`]).
//! - `POST /api/v1/calls/click-to-call`: Exotel rings the caller's agent number, then the lead.
//! - `GET /api/v1/call-logs/{id}/recording`: the call's recording, streamed through the server.
//! - `POST /api/v1/import/csv` (multipart) and `POST /api/v1/import/sheets`: lead imports, all or nothing.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use leadline_model::auth::ApiError;
use leadline_model::telephony::{ClickToCall, ClickToCallRequest, codes};
use leadline_model::{Id, LeadSource, Role, User};

use crate::api::{ApiFailure, AuthUser};
use crate::db::integrations::{self as store, CallbackOutcome, ImportOutcome, ImportPlan};
use crate::db::{self, DbError, Scope};
use crate::exotel::{
    ConnectRequest, ExotelClient, ExotelConfig, ExotelError, parse_status_callback,
    verify_basic_authorization, verify_webhook_secret,
};
use crate::import::sheets::{ServiceAccountKey, SheetsClient, SheetsError};
use crate::import::{self, ImportError, ImportOptions, ParsedImport};
use crate::{AppState, ServerError};

/// Largest StatusCallback body accepted.
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;
/// The path of the StatusCallback webhook (the secret follows as one more segment).
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/exotel/status";
/// The HTTP Basic user name of the webhook when the secret travels in `Authorization` instead of the path.
pub const DEFAULT_WEBHOOK_USER: &str = "exotel";
/// Room for the multipart framing and the small form fields around an upload of
/// [`import::DEFAULT_MAX_BYTES`].
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Exotel as the server uses it: the account, the webhook secret and where Exotel reaches this server.
#[derive(Clone)]
pub struct ExotelSettings {
    /// The account (its `status_callback_url` is ignored: the server derives it from `public_url`).
    pub exotel: ExotelConfig,
    /// The webhook's secret (path segment or Basic password); at least 16 URL-safe characters.
    pub webhook_secret: String,
    /// The webhook's HTTP Basic user name ([`DEFAULT_WEBHOOK_USER`]).
    pub webhook_user: String,
    /// This server's public base URL (`https://crm.example.in`), for the StatusCallback URL.
    pub public_url: String,
}

impl std::fmt::Debug for ExotelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExotelSettings")
            .field("base_url", &self.exotel.base_url)
            .field("account_sid", &self.exotel.account_sid)
            .field("caller_id", &self.exotel.caller_id)
            .field("webhook_user", &self.webhook_user)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Google Sheets imports: the service account and, for tests, other endpoints.
#[derive(Debug, Clone)]
pub struct SheetsSettings {
    /// The service account's JSON key file (`GOOGLE_APPLICATION_CREDENTIALS`).
    pub key_path: PathBuf,
    /// The Sheets API base URL; `None`: Google's.
    pub base_url: Option<String>,
    /// The OAuth token endpoint; `None`: the key's `token_uri`.
    pub token_uri: Option<String>,
}

struct ExotelRuntime {
    client: ExotelClient,
    secret: String,
    user: String,
    /// For recordings: follows redirects, no overall timeout (bodies stream).
    http: reqwest::Client,
    /// The host of the API base URL (recordings there get the account's credentials).
    api_host: Option<String>,
}

/// The configured integrations, built once at start-up ([`Integrations::from_settings`]).
#[derive(Default)]
pub struct Integrations {
    exotel: Option<ExotelRuntime>,
    sheets: Option<Arc<SheetsClient>>,
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations")
            .field("exotel", &self.exotel.is_some())
            .field("sheets", &self.sheets.is_some())
            .finish()
    }
}

fn config_error(what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Integrations(format!("{what}: {e}"))
}

impl Integrations {
    /// Checks the settings and builds the clients.
    pub fn from_settings(
        exotel: Option<&ExotelSettings>,
        sheets: Option<&SheetsSettings>,
    ) -> Result<Self, ServerError> {
        let exotel = exotel.map(ExotelRuntime::new).transpose()?;
        let sheets = match sheets {
            None => None,
            Some(s) => {
                let key = ServiceAccountKey::from_file(&s.key_path)
                    .map_err(|e| config_error("Google service-account key", e))?;
                let mut client =
                    SheetsClient::new(key).map_err(|e| config_error("Google service-account key", e))?;
                if let Some(base) = &s.base_url {
                    client = client
                        .with_base_url(base)
                        .map_err(|e| config_error("LEADLINE_SHEETS_BASE_URL", e))?;
                }
                if let Some(uri) = &s.token_uri {
                    client = client.with_token_uri(uri);
                }
                Some(Arc::new(client))
            }
        };
        Ok(Self { exotel, sheets })
    }

    /// Whether click-to-call and the webhook are configured.
    pub fn telephony_configured(&self) -> bool {
        self.exotel.is_some()
    }

    /// Whether Google Sheets imports are configured.
    pub fn sheets_configured(&self) -> bool {
        self.sheets.is_some()
    }
}

impl ExotelRuntime {
    fn new(s: &ExotelSettings) -> Result<Self, ServerError> {
        let secret = s.webhook_secret.trim();
        let url_safe = secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
        if secret.len() < 16 || !url_safe {
            return Err(ServerError::Integrations(
                "LEADLINE_EXOTEL_WEBHOOK_SECRET must be at least 16 characters of A-Z a-z 0-9 - _ . ~".into(),
            ));
        }
        let public = s.public_url.trim().trim_end_matches('/');
        let public_ok = reqwest::Url::parse(public)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base());
        if !public_ok {
            return Err(ServerError::Integrations(
                "LEADLINE_PUBLIC_URL must be an http(s) URL".into(),
            ));
        }
        let mut config = s.exotel.clone();
        config.status_callback_url = Some(format!("{public}{WEBHOOK_PATH}/{secret}"));
        let api_host = reqwest::Url::parse(&config.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        let client = ExotelClient::new(config).map_err(|e| config_error("Exotel", e))?;
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| config_error("HTTP client", e))?;
        let user = match s.webhook_user.trim() {
            "" => DEFAULT_WEBHOOK_USER.to_owned(),
            u => u.to_owned(),
        };
        Ok(Self {
            client,
            secret: secret.to_owned(),
            user,
            http,
            api_host,
        })
    }

    /// Whether a recording URL is Exotel's (then it gets the account's Basic credentials).
    fn trusted_host(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        self.api_host.as_deref() == Some(host.as_str())
            || host == "exotel.com"
            || host == "exotel.in"
            || host.ends_with(".exotel.com")
            || host.ends_with(".exotel.in")
    }
}

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        exotel_status_basic,
        exotel_status_secret,
        click_to_call,
        recording,
        import_csv,
        import_sheets
    ),
    tags((name = "integrations", description = "Exotel telephony (webhook, click-to-call, recordings) and lead imports"))
)]
pub struct IntegrationsApi;

/// The `multipart/form-data` body of `POST /api/v1/import/csv` (documentation only).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CsvImportForm {
    /// The CSV file (a header row; UTF-8).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// `true`/`false` (default false): merge rows into existing leads with the same phone.
    pub merge_duplicates: Option<bool>,
    /// A username of your team to assign the imported leads to.
    pub assign_to: Option<String>,
}

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            WEBHOOK_PATH,
            post(exotel_status_basic).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
        )
        .route(
            "/api/v1/webhooks/exotel/status/{secret}",
            post(exotel_status_secret).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
        )
        .route("/api/v1/calls/click-to-call", post(click_to_call))
        .route("/api/v1/call-logs/{id}/recording", get(recording))
        .route(
            "/api/v1/import/csv",
            post(import_csv).layer(DefaultBodyLimit::max(
                import::DEFAULT_MAX_BYTES + MULTIPART_OVERHEAD,
            )),
        )
        .route("/api/v1/import/sheets", post(import_sheets))
}

/// A failed request of this module: an [`ApiFailure`] or a status and code of its own.
#[derive(Debug)]
pub enum Fail {
    Api(ApiFailure),
    Status {
        status: StatusCode,
        code: &'static str,
        message: String,
        retry_after: Option<u64>,
    },
}

impl Fail {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Fail::Status {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Fail::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<ApiFailure> for Fail {
    fn from(e: ApiFailure) -> Self {
        Fail::Api(e)
    }
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        Fail::Api(ApiFailure::Db(e))
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        match self {
            Fail::Api(e) => e.into_response(),
            Fail::Status {
                status,
                code,
                message,
                retry_after,
            } => {
                let mut response = (
                    status,
                    Json(ApiError {
                        code: code.to_owned(),
                        message,
                    }),
                )
                    .into_response();
                if let Some(secs) = retry_after {
                    response.headers_mut().insert(header::RETRY_AFTER, secs.into());
                }
                response
            }
        }
    }
}

fn telephony(state: &AppState) -> Result<&ExotelRuntime, Fail> {
    state.integrations().exotel.as_ref().ok_or_else(|| {
        Fail::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::TELEPHONY_NOT_CONFIGURED,
            "Exotel telephony is not configured on this server",
        )
    })
}

fn parse_id(text: &str, code: &'static str, what: &str) -> Result<Id, Fail> {
    Id::parse_str(text.trim()).map_err(|_| Fail::bad(code, format!("{what} must be a UUID")))
}

// --- the StatusCallback webhook -------------------------------------------------------------------

/// `POST /api/v1/webhooks/exotel/status/{secret}`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/exotel/status/{secret}",
    tag = "integrations",
    params(("secret" = String, Path, description = "The webhook secret (`LEADLINE_EXOTEL_WEBHOOK_SECRET`)")),
    request_body(
        description = "Exotel's StatusCallback fields (`CallSid`, `Status`, `CustomField`, `RecordingUrl`, …), \
                       as a form or as JSON",
        content(
            (Object = "application/x-www-form-urlencoded"),
            (Object = "application/json")
        )
    ),
    responses(
        (status = 200, description = "Stored (or a replay): what became of it", body = CallbackOutcome),
        (status = 400, description = "Not a StatusCallback (`bad_callback`)", body = ApiError),
        (status = 401, description = "Wrong or missing webhook secret (`unauthorized`)", body = ApiError),
        (status = 413, description = "Body over 64 KiB"),
        (status = 415, description = "Neither a form nor JSON (`bad_content_type`)", body = ApiError),
        (status = 503, description = "Telephony is not configured on this server (`telephony_not_configured`)", body = ApiError),
        (status = 404, description = "An empty secret: no such endpoint (`not_found`)", body = ApiError),
    )
)]
async fn exotel_status_secret(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CallbackOutcome>, Fail> {
    let exotel = telephony(&state)?;
    if !verify_webhook_secret(&exotel.secret, &secret) {
        return Err(webhook_unauthorized());
    }
    handle_callback(&state, &headers, &body).await
}

/// `POST /api/v1/webhooks/exotel/status` with `Authorization: Basic <user:secret>`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/exotel/status",
    tag = "integrations",
    description = "Exotel's StatusCallback, authenticated with HTTP Basic `<webhook user>:<webhook secret>`.",
    request_body(
        description = "Exotel's StatusCallback fields (`CallSid`, `Status`, `CustomField`, `RecordingUrl`, …), \
                       as a form or as JSON",
        content(
            (Object = "application/x-www-form-urlencoded"),
            (Object = "application/json")
        )
    ),
    responses(
        (status = 200, description = "Stored (or a replay): what became of it", body = CallbackOutcome),
        (status = 400, description = "Not a StatusCallback (`bad_callback`)", body = ApiError),
        (status = 401, description = "Wrong or missing webhook secret (`unauthorized`)", body = ApiError),
        (status = 413, description = "Body over 64 KiB"),
        (status = 415, description = "Neither a form nor JSON (`bad_content_type`)", body = ApiError),
        (status = 503, description = "Telephony is not configured on this server (`telephony_not_configured`)", body = ApiError),
    )
)]
async fn exotel_status_basic(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CallbackOutcome>, Fail> {
    let exotel = telephony(&state)?;
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if !verify_basic_authorization(authorization, &exotel.user, &exotel.secret) {
        return Err(webhook_unauthorized());
    }
    handle_callback(&state, &headers, &body).await
}

fn webhook_unauthorized() -> Fail {
    Fail::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "wrong or missing webhook secret",
    )
}

async fn handle_callback(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<CallbackOutcome>, Fail> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let callback = parse_status_callback(content_type, body).map_err(|e| match e {
        ExotelError::UnsupportedContentType(_) => Fail::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type",
            e.to_string(),
        ),
        other => Fail::bad("bad_callback", other.to_string()),
    })?;
    let now = chrono::Utc::now();
    let sid = callback.call_sid.clone();
    let outcome = state
        .repo()
        .write(move |tx| store::store_callback(tx, &callback, &now))
        .await?;
    tracing::info!(call_sid = %sid, outcome = ?outcome, "Exotel status callback");
    Ok(Json(outcome))
}

// --- click-to-call --------------------------------------------------------------------------------

/// `POST /api/v1/calls/click-to-call` `{lead_id}`: Exotel rings the caller's agent number, then the lead.
#[utoipa::path(
    post,
    path = "/api/v1/calls/click-to-call",
    tag = "integrations",
    request_body = ClickToCallRequest,
    responses(
        (status = 200, description = "Exotel is ringing your agent number", body = ClickToCall),
        (status = 400, description = "A bad body (`bad_request`, `bad_lead_id`)", body = ApiError),
        (status = 404, description = "No such lead in your scope (`not_found`)", body = ApiError),
        (status = 409, description = "You have no agent number (`no_agent_number`)", body = ApiError),
        (status = 502, description = "Exotel refused (`exotel_auth`, `exotel_rejected`, `exotel_unavailable`)", body = ApiError),
        (status = 503, description = "Telephony is not configured (`telephony_not_configured`), or Exotel's \
         rate limit (`exotel_rate_limited`, with `Retry-After`)", body = ApiError),
        (status = 504, description = "Exotel did not answer in time (`exotel_timeout`)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn click_to_call(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<ClickToCall>, Fail> {
    let Json(body) = body.map_err(|e| Fail::bad(codes::BAD_REQUEST, e.body_text()))?;
    let exotel = telephony(&state)?;
    // Read as JSON first, so that a `lead_id` that is not a UUID gets its own code.
    let lead_text = body.get("lead_id").and_then(|v| v.as_str()).map(str::to_owned);
    let req = match serde_json::from_value::<ClickToCallRequest>(body) {
        Ok(req) => req,
        Err(e) => match lead_text.as_deref().map(|t| Id::parse_str(t.trim())) {
            // Padded with spaces: taken, as before the type was shared.
            Some(Ok(lead_id)) => ClickToCallRequest { lead_id },
            Some(Err(_)) => return Err(Fail::bad(codes::BAD_LEAD_ID, "lead_id must be a UUID")),
            None => return Err(Fail::bad(codes::BAD_REQUEST, e.to_string())),
        },
    };
    let lead_id = req.lead_id;
    let scope = Scope::for_user(&user);
    let caller = user.id;
    let (lead, agent) = state
        .repo()
        .read(move |tx| {
            let lead = db::lead_in_scope(tx, &scope, &lead_id)?;
            let agent = store::agent_number(tx, &caller)?;
            Ok::<_, DbError>((lead, agent))
        })
        .await?;
    let lead = lead.ok_or(ApiFailure::Missing("lead"))?;
    let agent = agent.ok_or_else(|| {
        Fail::new(
            StatusCode::CONFLICT,
            codes::NO_AGENT_NUMBER,
            "you have no agent number or SIP user to ring; ask an admin to set one",
        )
    })?;
    let call_log_id = leadline_model::new_id();
    let call = exotel
        .client
        .connect(ConnectRequest {
            from: agent,
            to: lead.phone.as_str().to_owned(),
            custom_field: Some(db::id_text(&call_log_id)),
            record: true,
            time_limit_s: None,
            timeout_s: None,
        })
        .await
        .map_err(exotel_failure)?;
    tracing::info!(call_sid = %call.call_sid, call_log_id = %call_log_id, "click-to-call placed");
    Ok(Json(ClickToCall {
        call_sid: call.call_sid,
        call_log_id,
        status: call.status.as_str().to_owned(),
    }))
}

fn exotel_failure(e: ExotelError) -> Fail {
    tracing::warn!(error = %e, "Exotel call failed");
    match e {
        ExotelError::AuthFailed { .. } => Fail::new(
            StatusCode::BAD_GATEWAY,
            codes::EXOTEL_AUTH,
            "Exotel refused the server's credentials",
        ),
        ExotelError::RateLimited { retry_after, .. } => Fail::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: codes::EXOTEL_RATE_LIMITED,
            message: "Exotel's rate limit was reached; try again shortly".into(),
            retry_after: Some(retry_after.unwrap_or(5).max(1)),
        },
        ExotelError::Timeout => Fail::new(
            StatusCode::GATEWAY_TIMEOUT,
            codes::EXOTEL_TIMEOUT,
            "Exotel did not answer in time",
        ),
        ExotelError::BadRequest { message } | ExotelError::Rejected { message, .. } => Fail::new(
            StatusCode::BAD_GATEWAY,
            codes::EXOTEL_REJECTED,
            format!("Exotel refused the call: {message}"),
        ),
        other => Fail::new(
            StatusCode::BAD_GATEWAY,
            codes::EXOTEL_UNAVAILABLE,
            format!("talking to Exotel failed: {other}"),
        ),
    }
}

// --- recordings -----------------------------------------------------------------------------------

/// `GET /api/v1/call-logs/{id}/recording`: the recording, streamed from Exotel with the account's
/// credentials, to whoever may see the call log; 404 otherwise (or when it has no recording).
#[utoipa::path(
    get,
    path = "/api/v1/call-logs/{id}/recording",
    tag = "integrations",
    params(("id" = uuid::Uuid, Path, description = "The call log; `bad_id` when not a UUID")),
    responses(
        (status = 200, description = "The recording's bytes, streamed (the host's content type; default \
         `audio/mpeg`)", content_type = "audio/mpeg", body = String),
        (status = 400, description = "A bad id (`bad_id`)", body = ApiError),
        (status = 404, description = "No such call log in your scope, no recording, or the recording is gone \
         (`not_found`)", body = ApiError),
        (status = 502, description = "The recording could not be fetched (`recording_unavailable`)", body = ApiError),
        (status = 503, description = "Telephony is not configured (`telephony_not_configured`)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn recording(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Response, Fail> {
    let id = parse_id(&id, "bad_id", "call log id")?;
    let log = state
        .repo()
        .read(move |tx| store::call_log_for(tx, &user, &id))
        .await?;
    let url = log
        .and_then(|l| l.recording_url)
        .ok_or(ApiFailure::Missing("recording"))?;
    let exotel = telephony(&state)?;
    let url = reqwest::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            Fail::new(
                StatusCode::BAD_GATEWAY,
                "recording_unavailable",
                "bad recording URL",
            )
        })?;
    let mut request = exotel.http.get(url.clone());
    if exotel.trusted_host(&url) {
        let config = exotel.client.config();
        request = request.basic_auth(&config.api_key, Some(&config.api_token));
    }
    let upstream = request.send().await.map_err(|e| {
        tracing::warn!(error = %e.without_url(), "fetching a recording failed");
        Fail::new(
            StatusCode::BAD_GATEWAY,
            "recording_unavailable",
            "the recording could not be fetched",
        )
    })?;
    let status = upstream.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Err(Fail::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the recording is no longer available",
        ));
    }
    if !status.is_success() {
        tracing::warn!(status = status.as_u16(), "the recording host refused");
        return Err(Fail::new(
            StatusCode::BAD_GATEWAY,
            "recording_unavailable",
            format!("the recording host answered HTTP {}", status.as_u16()),
        ));
    }
    let content_type = upstream
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        .unwrap_or_else(|| HeaderValue::from_static("audio/mpeg"));
    let length = upstream
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    let mut response = Response::new(Body::from_stream(upstream.bytes_stream()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, length);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

// --- imports --------------------------------------------------------------------------------------

fn import_failure(e: ImportError) -> Fail {
    let status = match e {
        ImportError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Fail::new(status, e.code(), e.to_string())
}

fn sheets_failure(e: SheetsError) -> Fail {
    let status = match &e {
        SheetsError::Import(inner) => return import_failure(inner.clone()),
        SheetsError::PermissionDenied { .. }
        | SheetsError::NotFound { .. }
        | SheetsError::InvalidArgument { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        SheetsError::RateLimited { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    tracing::warn!(error = %e, "Google Sheets import failed");
    Fail::new(status, e.code(), e.to_string())
}

fn require_importer(user: &User) -> Result<(), Fail> {
    match user.role {
        Role::Supervisor | Role::Admin => Ok(()),
        Role::Telecaller => Err(ApiFailure::Forbidden.into()),
    }
}

fn truthy(text: &str) -> Result<bool, Fail> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        _ => Err(Fail::bad(
            "bad_merge_duplicates",
            "merge_duplicates must be true or false",
        )),
    }
}

/// Resolves `assign_to` (a username) to a user the importer may assign to.
async fn resolve_assignee(
    state: &AppState,
    importer: &User,
    name: Option<String>,
) -> Result<Option<User>, Fail> {
    let Some(name) = name.map(|n| n.trim().to_lowercase()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let found = state.repo().user_by_username(&name).await?.map(|r| r.user);
    let allowed = found
        .filter(|u| importer.role == Role::Admin || (importer.team.is_some() && u.team == importer.team));
    allowed
        .map(Some)
        .ok_or_else(|| Fail::bad("bad_assign_to", "assign_to names no user of your team"))
}

async fn write_parsed(
    state: &AppState,
    importer: User,
    parsed: ParsedImport,
    merge_duplicates: bool,
    assign_to: Option<User>,
    default_source: LeadSource,
    max_issues: usize,
) -> Result<Json<ImportOutcome>, Fail> {
    let plan = ImportPlan {
        importer,
        merge_duplicates,
        assign_to,
        default_source,
        now: chrono::Utc::now(),
    };
    let outcome = state
        .repo()
        .write(move |tx| store::write_import(tx, parsed, &plan, max_issues))
        .await?;
    tracing::info!(
        created = outcome.created,
        merged = outcome.merged,
        duplicates = outcome.duplicates,
        invalid = outcome.report.invalid,
        "leads imported"
    );
    Ok(Json(outcome))
}

/// `POST /api/v1/import/csv`, multipart: `file` (the CSV), optional `merge_duplicates`, `assign_to`.
#[utoipa::path(
    post,
    path = "/api/v1/import/csv",
    tag = "integrations",
    request_body(content = CsvImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Imported (all or nothing): the report", body = ImportOutcome),
        (status = 400, description = "A bad form (`bad_multipart`, `bad_file`, `bad_merge_duplicates`, \
         `bad_assign_to`)", body = ApiError),
        (status = 403, description = "A telecaller (`forbidden`)", body = ApiError),
        (status = 413, description = "The upload is too large (`import_too_large`, `too_large`)", body = ApiError),
        (status = 422, description = "The file cannot be imported (the import error's code)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn import_csv(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<ImportOutcome>, Fail> {
    require_importer(&user)?;
    // Not a multipart form: a JSON error like every other.
    let mut multipart = multipart.map_err(|e| Fail::bad("bad_multipart", e.body_text()))?;
    let mut file: Option<Bytes> = None;
    let mut merge_duplicates = false;
    let mut assign_to: Option<String> = None;
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Fail::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "import_too_large",
                format!("the upload is larger than {} bytes", import::DEFAULT_MAX_BYTES),
            )
        } else {
            Fail::bad("bad_multipart", e.body_text())
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "file" => file = Some(field.bytes().await.map_err(multipart_error)?),
            "merge_duplicates" => merge_duplicates = truthy(&field.text().await.map_err(multipart_error)?)?,
            "assign_to" => assign_to = Some(field.text().await.map_err(multipart_error)?),
            _ => {}
        }
    }
    let file = file.ok_or_else(|| Fail::bad("bad_file", "the form has no `file` field"))?;
    let assignee = resolve_assignee(&state, &user, assign_to).await?;
    let opts = ImportOptions {
        merge_duplicates,
        ..ImportOptions::default()
    };
    let max_issues = opts.max_issues;
    let parsed = tokio::task::spawn_blocking(move || import::parse_leads_csv(&file, &opts))
        .await
        .map_err(|e| ApiFailure::Internal(format!("import parser task: {e}")))?
        .map_err(import_failure)?;
    write_parsed(
        &state,
        user,
        parsed,
        merge_duplicates,
        assignee,
        LeadSource::Other,
        max_issues,
    )
    .await
}

pub use leadline_model::import::SheetsImportRequest;

/// `POST /api/v1/import/sheets` `{spreadsheet_id, range, merge_duplicates?, assign_to?}`.
#[utoipa::path(
    post,
    path = "/api/v1/import/sheets",
    tag = "integrations",
    request_body = SheetsImportRequest,
    responses(
        (status = 200, description = "Imported (all or nothing): the report", body = ImportOutcome),
        (status = 400, description = "A bad body (`bad_request`, `bad_spreadsheet_id`, `bad_range`, \
         `bad_assign_to`)", body = ApiError),
        (status = 403, description = "A telecaller (`forbidden`)", body = ApiError),
        (status = 413, description = "The sheet is too large", body = ApiError),
        (status = 422, description = "The sheet cannot be read or imported (no permission, not found, a bad \
         range, the import error's code)", body = ApiError),
        (status = 502, description = "Google Sheets failed", body = ApiError),
        (status = 503, description = "Sheets imports are not configured (`sheets_not_configured`), or \
         Google's rate limit", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn import_sheets(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<SheetsImportRequest>, JsonRejection>,
) -> Result<Json<ImportOutcome>, Fail> {
    require_importer(&user)?;
    let Json(req) = body.map_err(|e| Fail::bad("bad_request", e.body_text()))?;
    let sheets = state.integrations().sheets.clone().ok_or_else(|| {
        Fail::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "sheets_not_configured",
            "Google Sheets imports are not configured on this server",
        )
    })?;
    let id = req.spreadsheet_id.trim();
    if id.is_empty() || id.len() > 200 {
        return Err(Fail::bad(
            "bad_spreadsheet_id",
            "spreadsheet_id is empty or too long",
        ));
    }
    let range = req.range.trim();
    if range.is_empty() || range.len() > 200 {
        return Err(Fail::bad("bad_range", "range is empty or too long"));
    }
    let assignee = resolve_assignee(&state, &user, req.assign_to.clone()).await?;
    let opts = ImportOptions {
        merge_duplicates: req.merge_duplicates,
        ..ImportOptions::default()
    };
    let parsed = sheets
        .import_leads(id, range, &opts)
        .await
        .map_err(sheets_failure)?;
    write_parsed(
        &state,
        user,
        parsed,
        req.merge_duplicates,
        assignee,
        LeadSource::GoogleSheet,
        opts.max_issues,
    )
    .await
}
