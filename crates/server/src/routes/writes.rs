//! The write side of the API: `POST /api/v1/sync/push` (the desktop's outbox, exactly once per client
//! mutation id) and the REST writes of leads, call logs and follow-ups. Storage: [`crate::db::writes`].
//!
//! | method, path | roles | success | errors (besides 401) |
//! |---|---|---|---|
//! | `POST /api/v1/sync/push` `PushBatch` | any | 200 `PushResponse` | 400 `bad_request` (JSON), `bad_protocol`, `bad_device_id`; 413 `payload_too_large` (body over [`MAX_PUSH_BYTES`]), `batch_too_large` (over [`MAX_PUSH_MUTATIONS`] mutations) |
//! | `POST /api/v1/call-logs` `CallLog` | any | 201 the row; 200 the stored row when the id exists | 400 `bad_disposition`, `bad_*`; 403 `forbidden`; 404 lead; 409 `duplicate_id` (id taken by a row you may not see) |
//! | `POST /api/v1/leads` [`NewLead`] | supervisor, admin | 201 `Lead` | 400 `bad_name`, `bad_phone`, …; 403; 409 `duplicate_phone` with `current: {lead_id}` |
//! | `PATCH /api/v1/leads/{id}` [`LeadUpdate`] | any (scoped) | 200 `Lead` | 400 `bad_patch`, `read_only_field`, `unknown_field`; 403 (a telecaller touching assignment); 404; 409 `version_conflict` with `current` = the lead |
//! | `POST /api/v1/follow-ups` `FollowUp` | any (scoped) | 201; 200 the stored row when the id exists | 400; 403; 404; 409 `duplicate_id` |
//! | `POST /api/v1/follow-ups/{id}/complete` `{completed_at?}` | any (scoped) | 200 `FollowUp` (a completed one as stored) | 400; 404 |
//! | `POST /api/v1/follow-ups/{id}/reschedule` `{due_at}` | any (scoped) | 200 `FollowUp` | 400; 404; 409 `already_completed` |

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{patch, post};
use chrono::SubsecRound;
use leadline_model::sync::{LeadPatch, PROTOCOL_VERSION, PushBatch, PushResponse};
use leadline_model::{
    CallLog, FollowUp, Id, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role, Timestamp, new_id,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{ApiFailure, AuthUser, parse_path_id};
use crate::db::writes::{self, Created, WriteError};
use crate::db::{DbError, Tx};

pub use crate::db::writes::MAX_PUSH_MUTATIONS;

/// Largest push body, in bytes. A client splits its outbox into batches below this (and below
/// [`MAX_PUSH_MUTATIONS`] mutations).
pub const MAX_PUSH_BYTES: usize = 8 * 1024 * 1024;

/// How often a write that lost a race with another (a PostgreSQL deadlock, SQLite busy) is tried.
const WRITE_ATTEMPTS: u32 = 4;

/// The write routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/sync/push",
            post(push).layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)),
        )
        .route("/api/v1/call-logs", post(create_call_log))
        .route("/api/v1/leads", post(create_lead))
        .route("/api/v1/leads/{id}", patch(update_lead))
        .route("/api/v1/follow-ups", post(create_follow_up))
        .route("/api/v1/follow-ups/{id}/complete", post(complete_follow_up))
        .route("/api/v1/follow-ups/{id}/reschedule", post(reschedule_follow_up))
}

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        push,
        create_call_log,
        create_lead,
        update_lead,
        create_follow_up,
        complete_follow_up,
        reschedule_follow_up
    ),
    tags(
        (name = "calls", description = "Call logs: recording, lists, export"),
        (name = "follow-ups", description = "Follow-ups: creating, completing, rescheduling, lists"),
    )
)]
pub struct WritesApi;

/// A 409 `version_conflict` answer: the edit was based on an older version; `current` is the stored lead.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VersionConflict {
    /// `version_conflict`.
    pub code: String,
    pub message: String,
    /// The lead as stored.
    pub current: Lead,
}

/// A 409 `duplicate_phone` answer: `current.lead_id` is the lead that has the number.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DuplicatePhone {
    /// `duplicate_phone`.
    pub code: String,
    pub message: String,
    pub current: DuplicatePhoneLead,
}

/// The lead a `duplicate_phone` answer names.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DuplicatePhoneLead {
    #[schema(value_type = uuid::Uuid)]
    pub lead_id: Id,
}

/// Now, at the millisecond precision the database stores.
fn now() -> Timestamp {
    chrono::Utc::now().trunc_subsecs(3)
}

fn retryable(e: &WriteError) -> bool {
    match e {
        WriteError::Db(DbError::Sql(s)) => s.is_retryable(),
        WriteError::Db(DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _))) => matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ),
        _ => false,
    }
}

/// Runs `f` in a write transaction, again (a few times) when it lost a race with another writer; the
/// sync pokes for the leads it changed commit with it.
async fn write<T, F>(state: &AppState, f: F) -> Result<T, WriteError>
where
    F: Fn(&mut Tx<'_>) -> Result<T, WriteError> + Clone + Send + 'static,
    T: writes::TouchedLeads + Send + 'static,
{
    let mut attempt = 1;
    loop {
        let f = f.clone();
        let with_pokes = move |tx: &mut Tx<'_>| -> Result<T, WriteError> {
            let out = f(tx)?;
            crate::db::events::poke_leads(tx, out.touched_leads(), &chrono::Utc::now())?;
            Ok(out)
        };
        match state.repo().write(with_pokes).await {
            Err(e) if attempt < WRITE_ATTEMPTS && retryable(&e) => {
                tracing::info!(error = %e, attempt, "write lost a race; retrying");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A refused write as an HTTP answer.
fn failure(e: WriteError) -> ApiFailure {
    match e {
        WriteError::NotFound(what) => ApiFailure::Missing(what),
        WriteError::Forbidden(message) => {
            tracing::info!(%message, "write refused");
            ApiFailure::Forbidden
        }
        WriteError::Invalid { code, message } => ApiFailure::BadRequest { code, message },
        e @ WriteError::Conflict { .. } => {
            let message = e.to_string();
            let WriteError::Conflict { current, .. } = e else {
                return ApiFailure::Internal("unreachable".to_owned());
            };
            ApiFailure::Conflict {
                code: "version_conflict",
                message,
                current: serde_json::to_value(&current).unwrap_or(serde_json::Value::Null),
            }
        }
        WriteError::State { code, message } => ApiFailure::Conflict {
            code,
            message,
            current: serde_json::Value::Null,
        },
        WriteError::Db(e) => ApiFailure::Db(e),
    }
}

fn body_error(e: &JsonRejection) -> ApiFailure {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiFailure::TooLarge {
            code: "payload_too_large",
            message: format!("the body is larger than {MAX_PUSH_BYTES} bytes"),
        }
    } else {
        ApiFailure::BadRequest {
            code: "bad_request",
            message: e.body_text(),
        }
    }
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiFailure {
    ApiFailure::BadRequest {
        code,
        message: message.into(),
    }
}

/// The checks of a push body before it is applied: its protocol, its size and its device id (answered
/// trimmed).
pub fn check_push(batch: &PushBatch) -> Result<String, ApiFailure> {
    if batch.protocol != PROTOCOL_VERSION {
        return Err(bad(
            "bad_protocol",
            format!("this server speaks sync protocol {PROTOCOL_VERSION}"),
        ));
    }
    if batch.mutations.len() > MAX_PUSH_MUTATIONS {
        return Err(ApiFailure::TooLarge {
            code: "batch_too_large",
            message: format!("at most {MAX_PUSH_MUTATIONS} mutations per push"),
        });
    }
    let device_id = batch.device_id.trim().to_owned();
    writes::check_text("bad_device_id", "device_id", &device_id, writes::MAX_SHORT_CHARS).map_err(failure)?;
    Ok(device_id)
}

/// `POST /api/v1/sync/push`: applies a device's outbox batch, each mutation exactly once by its client
/// mutation id, each in its own savepoint (a rejected one does not undo the others); answers one result
/// per mutation, in order. See docs/sync-protocol.md.
#[utoipa::path(
    post,
    path = "/api/v1/sync/push",
    tag = "sync",
    request_body = PushBatch,
    responses(
        (status = 200, description = "One result per mutation, in order", body = PushResponse),
        (status = 400, description = "Not a push batch (`bad_request`), another protocol (`bad_protocol`), a bad \
         `device_id` (`bad_device_id`)", body = leadline_model::auth::ApiError),
        (status = 413, description = "Body over 8 MiB (`payload_too_large`) or too many mutations \
         (`batch_too_large`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn push(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<PushBatch>, JsonRejection>,
) -> Result<Json<PushResponse>, ApiFailure> {
    let Json(batch) = body.map_err(|e| body_error(&e))?;
    let device_id = check_push(&batch)?;
    let n = batch.mutations.len();
    let mutations = Arc::new(batch.mutations);
    let actor = Arc::new(user);
    let now = now();
    let user_id = actor.id;
    let outcome = write(&state, {
        let device_id = device_id.clone();
        move |tx| Ok(writes::push(tx, &actor, &device_id, &mutations, &now)?)
    })
    .await
    .map_err(failure)?;
    let applied = outcome
        .results
        .iter()
        .filter(|r| r.status == leadline_model::sync::MutationStatus::Applied)
        .count();
    tracing::info!(%user_id, device_id, mutations = n, applied, "push");
    Ok(Json(PushResponse {
        protocol: PROTOCOL_VERSION,
        results: outcome.results,
    }))
}

/// `POST /api/v1/call-logs`: records a call log; idempotent by its id (201 the first time, 200 with the
/// stored row after).
#[utoipa::path(
    post,
    path = "/api/v1/call-logs",
    tag = "calls",
    request_body = CallLog,
    responses(
        (status = 201, description = "Recorded", body = CallLog),
        (status = 200, description = "A call log with this id exists: the stored row", body = CallLog),
        (status = 400, description = "A bad body (`bad_request`, `bad_disposition`, `bad_quality`: call quality \
         figures out of range — MOS 1 to 5, loss 0 to 1, times 0 to 60000 ms, finite numbers, codec 1 to 64 \
         characters — `bad_*`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "A call on a lead you may not log (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such lead in your scope (`not_found`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "The id belongs to a call log you may not see (`duplicate_id`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn create_call_log(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<CallLog>, JsonRejection>,
) -> Result<(StatusCode, Json<CallLog>), ApiFailure> {
    let Json(log) = body.map_err(|e| body_error(&e))?;
    let (actor, log, now) = (Arc::new(user), Arc::new(log), now());
    let created = write(&state, move |tx| {
        let created = writes::create_call_log(tx, &actor, &log, &now)?;
        if let Created::Existing(stored) = &created
            && !writes::may_see_call_log(tx, &actor, stored)?
        {
            return Err(duplicate_id("call log"));
        }
        Ok(created)
    })
    .await
    .map_err(failure)?;
    Ok(created_answer(created))
}

fn duplicate_id(what: &str) -> WriteError {
    WriteError::State {
        code: "duplicate_id",
        message: format!("another {what} has this id"),
    }
}

fn created_answer<T>(created: Created<T>) -> (StatusCode, Json<T>) {
    match created {
        Created::New(t) => (StatusCode::CREATED, Json(t)),
        Created::Existing(t) => (StatusCode::OK, Json(t)),
    }
}

/// `POST /api/v1/leads` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLead {
    pub name: String,
    /// As typed; numbers without a country code are read as Indian. Stored in E.164.
    pub phone: String,
    #[serde(default)]
    pub alternate_phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// Default `other`.
    #[serde(default)]
    pub source: Option<LeadSource>,
    #[serde(default)]
    pub interest: Option<String>,
    #[serde(default)]
    pub budget_inr: Option<i64>,
    /// Default `normal`.
    #[serde(default)]
    pub priority: Option<LeadPriority>,
    /// Default `new`.
    #[serde(default)]
    pub status: Option<LeadStatus>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A telecaller of the supervisor's team (admins: anyone); unassigned when absent.
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub assigned_to: Option<Id>,
    /// Admins only: the team the lead belongs to (default: the assignee's). A supervisor's leads belong
    /// to their team.
    #[serde(default)]
    pub team: Option<String>,
}

fn parse_phone(code: &'static str, text: &str) -> Result<PhoneNumber, ApiFailure> {
    PhoneNumber::parse(text).map_err(|e| bad(code, e.to_string()))
}

/// `POST /api/v1/leads`: creates a lead (supervisors and admins); 409 `duplicate_phone` when a lead the
/// caller may see has the number already (`current.lead_id` names it).
#[utoipa::path(
    post,
    path = "/api/v1/leads",
    tag = "leads",
    request_body = NewLead,
    responses(
        (status = 201, description = "Created", body = Lead),
        (status = 400, description = "A bad body (`bad_request`, `bad_name`, `bad_phone`, \
         `bad_alternate_phone`, `bad_team`, `bad_*`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "A telecaller, or an assignee outside your team (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such assignee (`not_found`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "A lead you may see has this phone number (`duplicate_phone`; \
         `current.lead_id` names it)", body = DuplicatePhone),
    ),
    security(("bearer" = []))
)]
pub async fn create_lead(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<NewLead>, JsonRejection>,
) -> Result<(StatusCode, Json<Lead>), ApiFailure> {
    if user.role == Role::Telecaller {
        return Err(ApiFailure::Forbidden);
    }
    let Json(req) = body.map_err(|e| body_error(&e))?;
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > writes::MAX_SHORT_CHARS {
        return Err(bad("bad_name", "name must be 1 to 200 characters"));
    }
    writes::check_text("bad_name", "name", &name, writes::MAX_SHORT_CHARS).map_err(failure)?;
    let phone = parse_phone("bad_phone", &req.phone)?;
    let alternate_phone = req
        .alternate_phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_phone("bad_alternate_phone", p))
        .transpose()?;
    let checks = LeadPatch {
        tags: Some(req.tags.clone()),
        interest: req.interest.clone(),
        city: req.city.clone(),
        email: req.email.clone(),
        budget_inr: req.budget_inr,
        ..LeadPatch::default()
    };
    writes::validate_patch(&checks).map_err(failure)?;
    let team = req.team.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if team.is_some() && user.role != Role::Admin {
        return Err(bad("bad_team", "only admins name a lead's team"));
    }
    if let Some(t) = team {
        writes::check_text("bad_team", "team", t, writes::MAX_SHORT_CHARS).map_err(failure)?;
    }
    let team = team.map(str::to_owned);
    let clean = |t: &Option<String>| {
        t.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let now = now();
    let lead = Lead {
        id: new_id(),
        name,
        phone,
        alternate_phone,
        email: clean(&req.email),
        city: clean(&req.city),
        source: req.source.unwrap_or(LeadSource::Other),
        interest: clean(&req.interest),
        budget_inr: req.budget_inr,
        priority: req.priority.unwrap_or(LeadPriority::Normal),
        status: req.status.unwrap_or(LeadStatus::New),
        tags: req.tags.iter().map(|t| t.trim().to_owned()).collect(),
        assigned_to: req.assigned_to,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let (actor, lead) = (Arc::new(user), Arc::new(lead));
    let outcome = write(&state, move |tx| {
        writes::create_lead(tx, &actor, &lead, team.as_deref())
    })
    .await
    .map_err(failure)?;
    match outcome {
        Ok(lead) => {
            tracing::info!(lead_id = %lead.id, "lead created");
            Ok((StatusCode::CREATED, Json(lead)))
        }
        Err(existing) => Err(ApiFailure::Conflict {
            code: "duplicate_phone",
            message: format!("lead {existing} has this phone number"),
            current: serde_json::json!({ "lead_id": existing }),
        }),
    }
}

/// `PATCH /api/v1/leads/{id}` body: the version the edit is based on and the fields to change.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeadUpdate {
    pub version: i64,
    /// A `LeadPatch` (status, priority, tags, interest, city, email, alternate_phone, budget_inr).
    #[schema(value_type = LeadPatch)]
    pub patch: serde_json::Value,
}

/// Lead fields no patch may change; the assignment ones only through assignment.
const READ_ONLY_FIELDS: &[&str] = &[
    "assigned_to",
    "team",
    "id",
    "name",
    "phone",
    "source",
    "version",
    "created_at",
    "updated_at",
];
const PATCH_FIELDS: &[&str] = &[
    "status",
    "priority",
    "tags",
    "interest",
    "city",
    "email",
    "alternate_phone",
    "budget_inr",
];

/// `PATCH /api/v1/leads/{id}`: edits a lead with optimistic concurrency; 409 `version_conflict` with the
/// current row when `version` is stale. Assignment is server-owned: a telecaller naming `assigned_to` (or
/// another read-only field) gets 403, others 400 `read_only_field`.
#[utoipa::path(
    patch,
    path = "/api/v1/leads/{id}",
    tag = "leads",
    params(("id" = uuid::Uuid, Path, description = "The lead; `bad_id` when not a UUID")),
    request_body = LeadUpdate,
    responses(
        (status = 200, description = "The edited lead", body = Lead),
        (status = 400, description = "A bad id (`bad_id`) or body (`bad_request`, `bad_patch`, \
         `read_only_field`, `unknown_field`, `bad_*`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "A telecaller naming an assignment field (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such lead in your scope (`not_found`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "`version` is stale (`version_conflict`; `current` is the stored lead)",
         body = VersionConflict),
    ),
    security(("bearer" = []))
)]
pub async fn update_lead(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    body: Result<Json<LeadUpdate>, JsonRejection>,
) -> Result<Json<Lead>, ApiFailure> {
    let id = parse_path_id(&id, "lead id")?;
    let Json(req) = body.map_err(|e| body_error(&e))?;
    let Some(fields) = req.patch.as_object() else {
        return Err(bad("bad_patch", "patch must be an object"));
    };
    for key in fields.keys() {
        if READ_ONLY_FIELDS.contains(&key.as_str()) {
            if user.role == Role::Telecaller {
                return Err(ApiFailure::Forbidden);
            }
            return Err(bad(
                "read_only_field",
                format!("{key} is not changed by an edit (assignment has its own endpoint)"),
            ));
        }
        if !PATCH_FIELDS.contains(&key.as_str()) {
            return Err(bad("unknown_field", format!("unknown lead field {key:?}")));
        }
    }
    let patch: LeadPatch = serde_json::from_value(req.patch).map_err(|e| bad("bad_patch", e.to_string()))?;
    let (actor, patch, now, version) = (Arc::new(user), Arc::new(patch), now(), req.version);
    let lead = write(&state, move |tx| {
        writes::update_lead(tx, &actor, &id, version, &patch, &now)
    })
    .await
    .map_err(failure)?;
    Ok(Json(lead))
}

/// `POST /api/v1/follow-ups`: creates a follow-up; idempotent by id.
#[utoipa::path(
    post,
    path = "/api/v1/follow-ups",
    tag = "follow-ups",
    request_body = FollowUp,
    responses(
        (status = 201, description = "Created", body = FollowUp),
        (status = 200, description = "A follow-up with this id exists: the stored row", body = FollowUp),
        (status = 400, description = "A bad body (`bad_request`, `bad_*`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "A follow-up you may not set (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such lead in your scope (`not_found`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "The id belongs to a follow-up you may not touch (`duplicate_id`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn create_follow_up(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<FollowUp>, JsonRejection>,
) -> Result<(StatusCode, Json<FollowUp>), ApiFailure> {
    let Json(f) = body.map_err(|e| body_error(&e))?;
    let (actor, f, now) = (Arc::new(user), Arc::new(f), now());
    let created = write(&state, move |tx| {
        let created = writes::create_follow_up(tx, &actor, &f, &now)?;
        if let Created::Existing(stored) = &created
            && !writes::may_touch_follow_up(tx, &actor, stored)?
        {
            return Err(duplicate_id("follow-up"));
        }
        Ok(created)
    })
    .await
    .map_err(failure)?;
    Ok(created_answer(created))
}

/// `POST /api/v1/follow-ups/{id}/complete` body (optional; default: now).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteFollowUp {
    #[serde(default)]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub completed_at: Option<Timestamp>,
}

/// `POST /api/v1/follow-ups/{id}/reschedule` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleFollowUp {
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub due_at: Timestamp,
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiFailure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| bad("bad_request", e.to_string()))
}

/// `POST /api/v1/follow-ups/{id}/complete`: marks it done (idempotent: a completed one is answered as
/// stored).
#[utoipa::path(
    post,
    path = "/api/v1/follow-ups/{id}/complete",
    tag = "follow-ups",
    params(("id" = uuid::Uuid, Path, description = "The follow-up; `bad_id` when not a UUID")),
    request_body(content = CompleteFollowUp, description = "Optional (an empty body: completed now)"),
    responses(
        (status = 200, description = "The completed follow-up (a completed one as stored)", body = FollowUp),
        (status = 400, description = "A bad id (`bad_id`) or body (`bad_request`, `bad_*`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not allowed (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such follow-up in your scope (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn complete_follow_up(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<FollowUp>, ApiFailure> {
    let id = parse_path_id(&id, "follow-up id")?;
    let req: CompleteFollowUp = parse_body(&body)?;
    let now = now();
    let completed_at = req.completed_at.map_or(now, |t| t.trunc_subsecs(3));
    let actor = Arc::new(user);
    let f = write(&state, move |tx| {
        writes::complete_follow_up(tx, &actor, &id, &completed_at, &now)
    })
    .await
    .map_err(failure)?;
    Ok(Json(f.into_inner()))
}

/// `POST /api/v1/follow-ups/{id}/reschedule`: moves an open follow-up; 409 `already_completed` for a done
/// one.
#[utoipa::path(
    post,
    path = "/api/v1/follow-ups/{id}/reschedule",
    tag = "follow-ups",
    params(("id" = uuid::Uuid, Path, description = "The follow-up; `bad_id` when not a UUID")),
    request_body = RescheduleFollowUp,
    responses(
        (status = 200, description = "The moved follow-up", body = FollowUp),
        (status = 400, description = "A bad id (`bad_id`) or body (`bad_request`, `bad_*`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not allowed (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such follow-up in your scope (`not_found`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "The follow-up is done (`already_completed`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn reschedule_follow_up(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    body: Result<Json<RescheduleFollowUp>, JsonRejection>,
) -> Result<Json<FollowUp>, ApiFailure> {
    let id = parse_path_id(&id, "follow-up id")?;
    let Json(req) = body.map_err(|e| body_error(&e))?;
    let (actor, now, due_at) = (Arc::new(user), now(), req.due_at.trunc_subsecs(3));
    let f = write(&state, move |tx| {
        writes::reschedule_follow_up(tx, &actor, &id, &due_at, &now)
    })
    .await
    .map_err(failure)?;
    Ok(Json(f))
}
