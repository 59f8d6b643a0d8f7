//! HTTP handlers, the bearer-token extractor, and the JSON error answers.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadline_model::auth::ApiError;
use leadline_model::sync::{Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::{LoginRequest, LoginResponse, User};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{DUMMY_HASH, verify_password};
use crate::cursor;
use crate::db::{DbError, Scope};

/// Page size of `GET /api/v1/sync/pull` when the client names none.
pub const DEFAULT_PULL_LIMIT: u32 = 500;
/// Largest page size a client may ask for; larger asks are clamped.
pub const MAX_PULL_LIMIT: u32 = 2000;

/// A failed request, answered as an [`ApiError`] body.
#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    #[error("missing, malformed, forged or expired access token")]
    Unauthorized,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("bad cursor: {0}")]
    BadCursor(#[from] cursor::CursorError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("no such endpoint")]
    NotFound,
    #[error("storage: {0}")]
    Db(#[from] DbError),
    #[error("internal: {0}")]
    Internal(String),
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiFailure::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiFailure::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiFailure::BadCursor(_) => (StatusCode::BAD_REQUEST, "bad_cursor"),
            ApiFailure::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            ApiFailure::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiFailure::Db(_) | ApiFailure::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
            "internal server error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            Json(ApiError {
                code: code.to_owned(),
                message,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The signed-in user of a request, from its `Authorization: Bearer` token. The user is re-read from the
/// database, so a deleted user's tokens stop working and role changes apply at once.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiFailure::Unauthorized)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(ApiFailure::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiFailure::Unauthorized);
        }
        let (id, _claims) = state.keys().verify(token.trim()).map_err(|e| {
            tracing::info!(reason = %e, "access token refused");
            ApiFailure::Unauthorized
        })?;
        let user = state
            .repo()
            .user_by_id(id)
            .await?
            .ok_or(ApiFailure::Unauthorized)?;
        Ok(AuthUser(user))
    }
}

/// `GET /healthz`: 200 `{"status":"ok"}` when the database answers, else 503.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.repo().ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// `POST /api/v1/auth/login`: checks the password and issues an access token.
///
/// An unknown username and a wrong password get the same answer, and both cost one argon2 verification
/// (an unknown user is checked against a dummy hash), so the answer does not tell which names exist.
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let Json(req) = body.map_err(|e| ApiFailure::BadRequest {
        code: "bad_request",
        message: e.body_text(),
    })?;
    let record = state.repo().user_by_username(req.username.trim()).await?;
    let hash = match &record {
        Some(r) => r.password_hash.clone(),
        None => DUMMY_HASH.to_owned(),
    };
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiFailure::Internal(e.to_string()))?;
    let user = match record {
        Some(r) if ok => r.user,
        // The attempted name is not logged: people type passwords into the username field.
        Some(r) => {
            tracing::info!(user_id = %r.user.id, "sign-in refused: wrong password");
            return Err(ApiFailure::InvalidCredentials);
        }
        None => {
            tracing::info!("sign-in refused: unknown username");
            return Err(ApiFailure::InvalidCredentials);
        }
    };
    let now = chrono::Utc::now();
    let access_token = state
        .keys()
        .issue(&user, now)
        .map_err(|e| ApiFailure::Internal(e.to_string()))?;
    tracing::info!(user_id = %user.id, role = %user.role, device_id = ?req.device_id, "signed in");
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: i64::try_from(state.keys().ttl().as_secs()).unwrap_or(i64::MAX),
        user,
    }))
}

/// Query of `GET /api/v1/sync/pull`, read as text so that a bad value gets a typed error.
#[derive(Debug, Deserialize)]
pub struct PullParams {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// `GET /api/v1/sync/pull?cursor=&limit=`: one page of the caller's change feed.
///
/// What a caller sees: a telecaller the leads assigned to them, a supervisor the leads of their team (the
/// lead's team, or assigned to a member), an admin every lead; with each lead its call logs and
/// follow-ups, and `lead_removed` when a lead leaves the caller's list.
///
/// Paging: the feed is ordered by the global change sequence `seq`; a page holds the changes with
/// `seq > cursor`, at most `limit` of them (default 500, at most 2000; plus any leads sent early, see
/// below), and `next_cursor` continues after the last one. `has_more` is true exactly when more changes follow. The first page (empty cursor) also
/// carries the disposition catalogue.
///
/// Ordering guarantee: every call log and follow-up in a page has its lead in the same page, placed before
/// it, or in an earlier page. Within a page, lead changes (`lead`, `lead_removed`) come first in seq order,
/// then call logs and follow-ups in seq order. A call log is normally newer than its lead's row; when the
/// lead changed after the log was written (so the lead's own position lies beyond this page), the page
/// carries the lead's current row ahead of the log, and the lead is sent again at its own position in a
/// later page — clients upsert leads, so the repeat is harmless. When a lead is (re)assigned, its call
/// logs and follow-ups are re-sequenced after it, so a new owner receives the lead before its history.
pub async fn pull(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Result<Query<PullParams>, QueryRejection>,
) -> Result<Json<PullPage>, ApiFailure> {
    let Query(params) = params.map_err(|e| ApiFailure::BadRequest {
        code: "bad_request",
        message: e.body_text(),
    })?;
    let cursor = Cursor(params.cursor.unwrap_or_default());
    let after = cursor::decode(&cursor)?;
    let limit = match params.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_PULL_LIMIT,
        Some(text) => match text.parse::<u64>() {
            Ok(0) | Err(_) => {
                return Err(ApiFailure::BadRequest {
                    code: "bad_limit",
                    message: format!("limit must be a whole number from 1 to {MAX_PULL_LIMIT}"),
                });
            }
            Ok(n) => u32::try_from(n.min(u64::from(MAX_PULL_LIMIT))).unwrap_or(MAX_PULL_LIMIT),
        },
    };
    let page = state.repo().pull(Scope::for_user(&user), after, limit).await?;
    let dispositions = if cursor.is_start() {
        state.repo().dispositions().await?
    } else {
        Vec::new()
    };
    Ok(Json(PullPage {
        protocol: PROTOCOL_VERSION,
        changes: page.changes,
        next_cursor: cursor::encode(page.last_seq),
        has_more: page.has_more,
        dispositions,
        server_time: chrono::Utc::now(),
    }))
}

/// Any other path.
pub async fn not_found() -> ApiFailure {
    ApiFailure::NotFound
}
