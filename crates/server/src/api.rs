//! HTTP handlers, the bearer-token extractor, and the JSON error answers.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadline_model::auth::ApiError;
use leadline_model::sync::{Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::{
    AssigneeFilter, Id, Lead, LeadPage, LeadSort, LoginRequest, LoginResponse, LogoutRequest, RefreshRequest,
    Role, SessionInfo, Timestamp, User,
};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{DUMMY_HASH, new_refresh_token, refresh_token_hash, verify_password_gated};
use crate::cursor;
use crate::db::{DbError, LeadFilter, LeadKeyset, Rotation, Scope, lead_sort};

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
    #[error("unknown, expired or revoked refresh token; sign in again")]
    InvalidRefresh,
    #[error("this refresh token was already used; the session is ended, sign in again")]
    RefreshReused,
    #[error("not allowed for your role")]
    Forbidden,
    #[error("no such {0}")]
    Missing(&'static str),
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
    /// 409: a unique name is taken (username, team, hotkey).
    #[error("{message}")]
    Taken { code: &'static str, message: String },
    /// 409: the request clashes with the stored state; `current` (when not null) is the stored row.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        current: serde_json::Value,
    },
    /// 413: the request body or batch is too large.
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiFailure::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiFailure::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiFailure::InvalidRefresh => (StatusCode::UNAUTHORIZED, "invalid_refresh"),
            ApiFailure::RefreshReused => (StatusCode::UNAUTHORIZED, "refresh_reused"),
            ApiFailure::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ApiFailure::Missing(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiFailure::BadCursor(_) => (StatusCode::BAD_REQUEST, "bad_cursor"),
            ApiFailure::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            ApiFailure::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiFailure::Db(_) | ApiFailure::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiFailure::Taken { code, .. } => (StatusCode::CONFLICT, *code),
            ApiFailure::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            ApiFailure::TooLarge { code, .. } => (StatusCode::PAYLOAD_TOO_LARGE, *code),
        };
        if let ApiFailure::Conflict { current, .. } = &self
            && !current.is_null()
        {
            let body = serde_json::json!({"code": code, "message": self.to_string(), "current": current});
            return (status, Json(body)).into_response();
        }
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
/// database, so a deleted user's tokens stop working and role changes apply at once; and when the token
/// names a device session (`sid`), the session must not be revoked — one primary-key lookup per request,
/// so a revoked session's access tokens stop at once rather than at their expiry.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // The rate limiter verified the token already and left its claims here; don't verify twice.
        let verified = parts.extensions.get::<crate::auth::Claims>();
        let (user, _) = authenticate(&parts.headers, verified, state).await?;
        // The access log's span carries who asked (an id, never a name or number).
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        Ok(AuthUser(user))
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The user and session (when the token names one) of a request's bearer token. `verified`: the token's
/// claims when a middleware has verified it already.
async fn authenticate(
    headers: &HeaderMap,
    verified: Option<&crate::auth::Claims>,
    state: &AppState,
) -> Result<(User, Option<Id>), ApiFailure> {
    let (id, claims) = match verified {
        Some(claims) => {
            let id = Id::parse_str(&claims.sub).map_err(|_| ApiFailure::Unauthorized)?;
            (id, claims.clone())
        }
        None => {
            let token = bearer_token(headers).ok_or(ApiFailure::Unauthorized)?;
            state.keys().verify(token).map_err(|e| {
                tracing::info!(reason = %e, "access token refused");
                ApiFailure::Unauthorized
            })?
        }
    };
    let session_id = claims
        .sid
        .as_deref()
        .map(Id::parse_str)
        .transpose()
        .map_err(|_| ApiFailure::Unauthorized)?;
    let user = state
        .repo()
        .authenticate(id, session_id)
        .await?
        .ok_or(ApiFailure::Unauthorized)?;
    Ok((user, session_id))
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
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in: an access token and the device session's refresh token",
         body = LoginResponse),
        (status = 400, description = "Body is not a login request (`bad_request`)", body = leadline_model::auth::ApiError),
        (status = 401, description = "Wrong username or password (`invalid_credentials`)", body = leadline_model::auth::ApiError),
        (status = 413, description = "Body larger than 64 KiB (`payload_too_large`)", body = leadline_model::auth::ApiError),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let Json(req) = body.map_err(|e| bad_json(&e))?;
    let record = state.repo().user_by_username(req.username.trim()).await?;
    let hash = match &record {
        Some(r) => r.password_hash.clone(),
        None => DUMMY_HASH.to_owned(),
    };
    let password = req.password;
    let ok = verify_password_gated(password, hash)
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
    let refresh_token = new_refresh_token();
    let device_id = req
        .device_id
        .map(|d| d.trim().chars().take(200).collect::<String>())
        .filter(|d| !d.is_empty());
    let session = state
        .repo()
        .create_session(
            user.id,
            device_id,
            refresh_token_hash(&refresh_token),
            now,
            refresh_expiry(&state, now),
        )
        .await?;
    tracing::info!(user_id = %user.id, role = %user.role, session_id = %session.id,
        device_id = ?session.device_id, "signed in");
    token_pair(&state, user, &session, refresh_token, now)
}

fn refresh_expiry(state: &AppState, now: Timestamp) -> Timestamp {
    let ttl = chrono::Duration::from_std(state.keys().refresh_ttl()).unwrap_or(chrono::Duration::days(30));
    now.checked_add_signed(ttl).unwrap_or(now)
}

fn token_pair(
    state: &AppState,
    user: User,
    session: &SessionInfo,
    refresh_token: String,
    now: Timestamp,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let access_token = state
        .keys()
        .issue_for(&user, session.id, now)
        .map_err(|e| ApiFailure::Internal(e.to_string()))?;
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: i64::try_from(state.keys().ttl().as_secs()).unwrap_or(i64::MAX),
        user,
        refresh_token,
        refresh_expires_in: (session.expires_at - now).num_seconds().max(0),
        session_id: session.id,
    }))
}

fn bad_json(e: &JsonRejection) -> ApiFailure {
    ApiFailure::BadRequest {
        code: "bad_request",
        message: e.body_text(),
    }
}

/// `POST /api/v1/auth/refresh {refresh_token}`: trades a current refresh token for a new access + refresh
/// token pair of the same session. A token already traded (reuse: stolen, or replayed) ends the session
/// — every token of the family stops working — and answers 401 `refresh_reused`; an unknown, expired or
/// revoked one answers 401 `invalid_refresh`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access + refresh token pair of the same session",
         body = LoginResponse),
        (status = 400, description = "Body is not a refresh request (`bad_request`)", body = leadline_model::auth::ApiError),
        (status = 401, description = "Unknown, expired or revoked refresh token (`invalid_refresh`), or one \
         already used (`refresh_reused`: the session is ended)", body = leadline_model::auth::ApiError),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiFailure> {
    let Json(req) = body.map_err(|e| bad_json(&e))?;
    let now = chrono::Utc::now();
    let next = new_refresh_token();
    let outcome = state
        .repo()
        .rotate_refresh(
            refresh_token_hash(req.refresh_token.trim()),
            refresh_token_hash(&next),
            now,
            refresh_expiry(&state, now),
        )
        .await?;
    match outcome {
        Rotation::Rotated { session, user } => {
            tracing::debug!(user_id = %user.id, session_id = %session.id, "refreshed");
            token_pair(&state, *user, &session, next, now)
        }
        Rotation::Reused { session_id } => {
            tracing::warn!(%session_id, "refresh token reused; session revoked");
            Err(ApiFailure::RefreshReused)
        }
        Rotation::Invalid => Err(ApiFailure::InvalidRefresh),
    }
}

/// `POST /api/v1/auth/logout`: ends the session of the request's Bearer access token, or of the refresh
/// token in the body (either suffices; an expired access token does not, send the refresh token then).
/// 204 when a session was found (even if it had ended already), else 401.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body(content = Option<LogoutRequest>,
        description = "Optional when the request carries a Bearer access token"),
    responses(
        (status = 204, description = "The session is ended (also when it had ended already)"),
        (status = 400, description = "The access token belongs to no session (`no_session`)", body = leadline_model::auth::ApiError),
        (status = 401, description = "Neither a known refresh token nor a valid access token \
         (`unauthorized`)", body = leadline_model::auth::ApiError),
    ),
    security((), ("bearer" = []))
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<LogoutRequest>, JsonRejection>,
) -> Result<StatusCode, ApiFailure> {
    let from_body = match body {
        Ok(Json(LogoutRequest {
            refresh_token: Some(token),
        })) => {
            state
                .repo()
                .session_id_by_refresh_hash(refresh_token_hash(token.trim()))
                .await?
        }
        _ => None,
    };
    let session_id = match from_body {
        Some(id) => id,
        None => match authenticate(&headers, None, &state).await? {
            (_, Some(id)) => id,
            (_, None) => {
                return Err(ApiFailure::BadRequest {
                    code: "no_session",
                    message: "this access token belongs to no session".to_owned(),
                });
            }
        },
    };
    state
        .repo()
        .revoke_session(session_id, "logout".to_owned(), chrono::Utc::now())
        .await?;
    tracing::info!(%session_id, "signed out");
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `actor` may see and revoke the sessions of `target`: their own; an admin anyone's; a
/// supervisor those of their team's telecallers (not a fellow supervisor's, nor those of an admin who is a
/// member of the team).
fn may_manage_sessions(actor: &User, target: &User) -> bool {
    actor.id == target.id
        || actor.role == Role::Admin
        || (actor.role == Role::Supervisor
            && target.role == Role::Telecaller
            && actor.team.is_some()
            && actor.team == target.team)
}

pub(crate) fn parse_path_id(text: &str, what: &'static str) -> Result<Id, ApiFailure> {
    Id::parse_str(text.trim()).map_err(|_| ApiFailure::BadRequest {
        code: "bad_id",
        message: format!("{what} must be a UUID"),
    })
}

/// `GET /api/v1/users/{id}/sessions`: the user's device sessions, newest first (never their tokens).
/// A telecaller may list only their own; a supervisor their team's telecallers'; an admin anyone's.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/sessions",
    tag = "auth",
    params(("id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's device sessions, newest first", body = Vec<SessionInfo>),
        (status = 400, description = "The id is not a UUID (`bad_id`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not the caller's own, their team's telecaller (supervisor) or any \
         (admin) user (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such user (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(user_id): Path<String>,
) -> Result<Json<Vec<SessionInfo>>, ApiFailure> {
    let user_id = parse_path_id(&user_id, "user id")?;
    if actor.role == Role::Telecaller && actor.id != user_id {
        return Err(ApiFailure::Forbidden);
    }
    let target = state
        .repo()
        .user_by_id(user_id)
        .await?
        .ok_or(ApiFailure::Missing("user"))?;
    if !may_manage_sessions(&actor, &target) {
        return Err(ApiFailure::Forbidden);
    }
    Ok(Json(state.repo().sessions_of_user(user_id).await?))
}

/// `POST /api/v1/sessions/{id}/revoke`: ends a device session (its access tokens stop at once, its refresh
/// token is refused). Same permissions as listing; answers the session as it now is.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/revoke",
    tag = "auth",
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session as it now is (revoked)", body = SessionInfo),
        (status = 400, description = "The id is not a UUID (`bad_id`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not a session the caller may manage (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such session (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_session(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(session_id): Path<String>,
) -> Result<Json<SessionInfo>, ApiFailure> {
    let session_id = parse_path_id(&session_id, "session id")?;
    let session = state
        .repo()
        .session_by_id(session_id)
        .await?
        .ok_or(ApiFailure::Missing("session"))?;
    if actor.role == Role::Telecaller && actor.id != session.user_id {
        return Err(ApiFailure::Forbidden);
    }
    let target = state
        .repo()
        .user_by_id(session.user_id)
        .await?
        .ok_or(ApiFailure::Missing("user"))?;
    if !may_manage_sessions(&actor, &target) {
        return Err(ApiFailure::Forbidden);
    }
    let now = chrono::Utc::now();
    state
        .repo()
        .revoke_session(session_id, format!("revoked_by:{}", actor.id), now)
        .await?;
    tracing::info!(%session_id, by = %actor.id, "session revoked");
    state
        .repo()
        .session_by_id(session_id)
        .await?
        .map(Json)
        .ok_or(ApiFailure::Missing("session"))
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
/// lead's team: its assignee's team when it has one), an admin every lead; with each lead its call logs and
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
#[utoipa::path(
    get,
    path = "/api/v1/sync/pull",
    tag = "sync",
    params(
        ("cursor" = Option<String>, Query,
         description = "`next_cursor` of the previous page; empty or absent for the first page"),
        ("limit" = Option<u32>, Query, minimum = 1,
         description = "Changes per page: default 500, larger than 2000 is clamped"),
    ),
    responses(
        (status = 200, description = "One page of the caller's change feed", body = PullPage),
        (status = 400, description = "Bad cursor (`bad_cursor`), limit (`bad_limit`) or query \
         (`bad_request`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
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

/// Page size of `GET /api/v1/leads` when the client names none.
pub const DEFAULT_LEAD_LIMIT: u32 = 50;
/// Largest lead-list page; larger asks are clamped.
pub const MAX_LEAD_LIMIT: u32 = 500;

pub(crate) fn bad(code: &'static str, message: impl Into<String>) -> ApiFailure {
    ApiFailure::BadRequest {
        code,
        message: message.into(),
    }
}

/// Values of a list filter: repeated parameters and comma lists, blanks skipped.
pub(crate) fn list_values<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

pub(crate) fn parse_list<T: std::str::FromStr>(
    pairs: &[(String, String)],
    name: &str,
    code: &'static str,
) -> Result<Vec<T>, ApiFailure>
where
    T::Err: std::fmt::Display,
{
    let mut out = Vec::new();
    for v in list_values(pairs, name) {
        out.push(v.parse::<T>().map_err(|e| bad(code, e.to_string()))?);
    }
    Ok(out)
}

/// The last non-blank value of a single-valued parameter.
pub(crate) fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

pub(crate) fn parse_time(
    pairs: &[(String, String)],
    name: &str,
    code: &'static str,
) -> Result<Option<Timestamp>, ApiFailure> {
    single(pairs, name)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    bad(
                        code,
                        format!("{name} must be an RFC 3339 time, e.g. 2026-01-31T09:15:00Z"),
                    )
                })
        })
        .transpose()
}

/// The query of `GET /api/v1/leads`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadQuery {
    pub filter: LeadFilter,
    /// The order (`sort`; default `-updated_at`).
    pub sort: LeadSort,
    /// The keyset position of the cursor in that order; `None` for the first page.
    pub after: Option<LeadKeyset>,
    pub limit: u32,
}

/// Parses the query of `GET /api/v1/leads` into a filter, the keyset position and the page size.
pub fn parse_lead_query(pairs: &[(String, String)]) -> Result<LeadQuery, ApiFailure> {
    let mut filter = LeadFilter {
        status: parse_list(pairs, "status", "bad_status")?,
        priority: parse_list(pairs, "priority", "bad_priority")?,
        source: parse_list(pairs, "source", "bad_source")?,
        created_from: parse_time(pairs, "created_from", "bad_created_from")?,
        created_to: parse_time(pairs, "created_to", "bad_created_to")?,
        updated_from: parse_time(pairs, "updated_from", "bad_updated_from")?,
        updated_to: parse_time(pairs, "updated_to", "bad_updated_to")?,
        follow_up_from: parse_time(pairs, "follow_up_from", "bad_follow_up_from")?,
        follow_up_to: parse_time(pairs, "follow_up_to", "bad_follow_up_to")?,
        ..LeadFilter::default()
    };
    filter.assigned_to = match single(pairs, "assigned_to") {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("none") => Some(AssigneeFilter::Unassigned),
        Some(v) => Some(AssigneeFilter::User(Id::parse_str(v).map_err(|_| {
            bad(
                "bad_assigned_to",
                "assigned_to must be a user id (UUID) or `none`",
            )
        })?)),
    };
    if let Some(q) = single(pairs, "q") {
        if q.chars().count() > 100 {
            return Err(bad("bad_q", "q is longer than 100 characters"));
        }
        let phone_like = q
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.'));
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        if phone_like && !digits.is_empty() {
            // Numbers are stored encrypted and found through a keyed hash of the whole number, so the
            // server searches whole numbers only (the desktop searches partial digits in its own cache).
            match leadline_model::PhoneNumber::parse(q) {
                Ok(phone) => filter.phone = Some(phone),
                Err(_) => {
                    return Err(bad(
                        "bad_q",
                        "a phone search needs the whole number, e.g. 98765 43210 or +919876543210".to_owned(),
                    ));
                }
            }
        } else {
            filter.name_contains = Some(q.to_owned());
        }
    }
    let sort = match single(pairs, "sort") {
        None => LeadSort::default(),
        Some(text) => text.parse::<LeadSort>().map_err(|_| {
            bad(
                "bad_sort",
                format!(
                    "sort must be one of: {} (`-` = descending)",
                    LeadSort::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?,
    };
    let after = lead_sort::decode_cursor(single(pairs, "cursor").unwrap_or_default(), sort)?;
    let limit = match single(pairs, "limit") {
        None => DEFAULT_LEAD_LIMIT,
        Some(text) => match text.parse::<u64>() {
            Ok(0) | Err(_) => {
                return Err(bad(
                    "bad_limit",
                    format!("limit must be a whole number from 1 to {MAX_LEAD_LIMIT}"),
                ));
            }
            Ok(n) => u32::try_from(n.min(u64::from(MAX_LEAD_LIMIT))).unwrap_or(MAX_LEAD_LIMIT),
        },
    };
    Ok(LeadQuery {
        filter,
        sort,
        after,
        limit,
    })
}

/// `GET /api/v1/leads`: one page of the leads the caller may see (same scope as the pull feed: a
/// telecaller their assigned leads, a supervisor their team's, an admin all), in the order `sort`
/// (default: newest change first, `updated_at` desc then `id` desc), keyset-paged by the opaque `cursor`.
///
/// `sort`: `updated_at`, `created_at`, `name` or `follow_up_due` for ascending, with a leading `-` for
/// descending (see [`LeadSort`]); ties are broken by `id` in the same direction. An unknown value answers
/// 400 `bad_sort`; a cursor continues only the sort it came from (else 400 `bad_cursor`).
///
/// Filters: `status`, `priority`, `source` (repeatable or comma lists), `assigned_to` (uuid or `none`),
/// `created_from`/`created_to`, `updated_from`/`updated_to`, `follow_up_from`/`follow_up_to` (the due
/// time of the lead's next open follow-up) (RFC 3339, inclusive), `q` (name substring,
/// or when phone-like the digits anywhere in the E.164 number), `limit` (default 50, at most 500). A bad
/// value answers 400 with code `bad_<parameter>`.
#[utoipa::path(
    get,
    path = "/api/v1/leads",
    tag = "leads",
    params(
        ("status" = Option<Vec<leadline_model::LeadStatus>>, Query, style = Form, explode,
         description = "Any of these statuses (repeat the parameter or send a comma list); `bad_status`"),
        ("priority" = Option<Vec<leadline_model::LeadPriority>>, Query, style = Form, explode,
         description = "Any of these priorities; `bad_priority`"),
        ("source" = Option<Vec<leadline_model::LeadSource>>, Query, style = Form, explode,
         description = "Any of these sources; `bad_source`"),
        ("assigned_to" = Option<String>, Query,
         description = "A user id (UUID) or `none` (unassigned); `bad_assigned_to`"),
        ("created_from" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Inclusive lower bound of `created_at` (RFC 3339); `bad_created_from`"),
        ("created_to" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Inclusive upper bound of `created_at`; `bad_created_to`"),
        ("updated_from" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Inclusive lower bound of `updated_at`; `bad_updated_from`"),
        ("updated_to" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Inclusive upper bound of `updated_at`; `bad_updated_to`"),
        ("follow_up_from" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Inclusive lower bound of the due time of the lead's next open follow-up; \
         `bad_follow_up_from`"),
        ("follow_up_to" = Option<chrono::DateTime<chrono::Utc>>, Query,
         description = "Inclusive upper bound of the due time of the lead's next open follow-up; \
         `bad_follow_up_to`"),
        ("q" = Option<String>, Query, max_length = 100,
         description = "A name substring, or a whole phone number; `bad_q`"),
        ("sort" = Option<LeadSort>, Query,
         description = "The order: a field for ascending, `-field` for descending; default \
         `-updated_at` (most recently changed first). `updated_at`/`created_at` by time; `name` by the \
         name with ASCII letters lower-cased, compared as UTF-8 bytes (the same on SQLite and \
         PostgreSQL; non-ASCII letters are not case-folded and sort after ASCII); `follow_up_due` by the \
         due time of the lead's next open follow-up, leads without one last (ascending) or first \
         (descending). Ties are broken by `id` in the same direction. Unknown value: `bad_sort`"),
        ("limit" = Option<u32>, Query, minimum = 1,
         description = "Page size: default 50, larger than 500 is clamped; `bad_limit`"),
        ("cursor" = Option<String>, Query,
         description = "`next_cursor` of the previous page, with the same `sort`; `bad_cursor` when \
         malformed or from another sort"),
    ),
    responses(
        (status = 200, description = "One page of the leads the caller may see", body = LeadPage),
        (status = 400, description = "A bad parameter: `bad_<parameter>` (or `bad_cursor`, \
         `bad_request`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn list_leads(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<LeadPage>, ApiFailure> {
    let Query(pairs) = params.map_err(|e| bad("bad_request", e.body_text()))?;
    let LeadQuery {
        filter,
        sort,
        after,
        limit,
    } = parse_lead_query(&pairs)?;
    let (leads, next) = state
        .repo()
        .list_leads(Scope::for_user(&user), filter, sort, after, limit)
        .await?;
    let next_cursor = next.map(|after| lead_sort::encode_cursor(sort, &after));
    Ok(Json(LeadPage { leads, next_cursor }))
}

/// `GET /api/v1/leads/{id}`: one lead, when the caller may see it; 404 otherwise (whether or not it
/// exists).
#[utoipa::path(
    get,
    path = "/api/v1/leads/{id}",
    tag = "leads",
    params(("id" = uuid::Uuid, Path, description = "The lead's id")),
    responses(
        (status = 200, description = "The lead", body = Lead),
        (status = 400, description = "The id is not a UUID (`bad_id`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such lead, or not one the caller may see (`not_found`)",
         body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn get_lead(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Lead>, ApiFailure> {
    let id = parse_path_id(&id, "lead id")?;
    state
        .repo()
        .lead_in_scope(Scope::for_user(&user), id)
        .await?
        .map(Json)
        .ok_or(ApiFailure::Missing("lead"))
}

/// Any other path.
pub async fn not_found() -> ApiFailure {
    ApiFailure::NotFound
}
