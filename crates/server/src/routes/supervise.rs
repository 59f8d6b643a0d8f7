//! Supervisor resources: audited bulk assignment and transfer of leads, the lead audit log, call-log
//! lists and their CSV export, and the follow-up list. Storage: [`crate::db::supervise`].

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use leadline_model::{CallDirection, CallLog, Id, LeadStatus, PhoneNumber, Role, Timestamp, User};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{
    ApiFailure, AuthUser, bad, parse_lead_query, parse_list, parse_path_id, parse_time, single,
};
use crate::cursor;
use crate::db::supervise::{
    self as store, AuditAction, AuditFilter, BulkError, BulkOutcome, CallLogFilter, CallLogItem,
    FollowUpFilter, FollowUpItem, FollowUpStatus, MAX_BULK_LEADS, Selection,
};
use crate::db::{DbError, Scope};

/// Page size of the lists here when the client names none.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page of the lists here; larger asks are clamped.
pub const MAX_LIMIT: u32 = 500;
/// Rows per read transaction of the CSV export.
pub const EXPORT_PAGE: u32 = 1000;
/// Longest `reason` of an assignment or transfer, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The routes of this group.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/leads/assign", post(assign))
        .route("/api/v1/leads/transfer", post(transfer))
        .route("/api/v1/leads/{id}/audit", get(lead_audit))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/leads/{id}/call-logs", get(lead_call_logs))
        .route("/api/v1/call-logs", get(call_logs))
        .route("/api/v1/call-logs/export.csv", get(export_call_logs))
        .route("/api/v1/follow-ups", get(follow_ups))
}

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        assign,
        transfer,
        lead_audit,
        audit,
        lead_call_logs,
        call_logs,
        export_call_logs,
        follow_ups
    ),
    components(schemas(AuditAction, CallDirection, FollowUpListStatus)),
    tags((name = "audit", description = "The audit log of lead assignments and edits"))
)]
pub struct SuperviseApi;

/// `POST /api/v1/leads/assign` body (documentation only: the handler reads the JSON itself). Exactly one
/// of `lead_ids` and `filter`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AssignRequest {
    /// The leads (at most 5000).
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub lead_ids: Option<Vec<Id>>,
    /// A lead-list filter (`status`, `priority`, `source`, `assigned_to`, `created_from`, `created_to`,
    /// `updated_from`, `updated_to`, `follow_up_from`, `follow_up_to`, `q`: strings or lists of them).
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    /// The new assignee; `null` unassigns. Required.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub to: Option<Id>,
    /// Why (1 to 500 characters).
    pub reason: String,
}

/// `POST /api/v1/leads/transfer` body (documentation only).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TransferRequest {
    /// Whose leads move.
    #[schema(value_type = uuid::Uuid)]
    pub from: Id,
    /// Who gets them.
    #[schema(value_type = uuid::Uuid)]
    pub to: Id,
    /// The statuses that move (default: the open ones).
    pub status: Option<Vec<LeadStatus>>,
    /// Why (1 to 500 characters).
    pub reason: String,
}

/// The `status` filter of `GET /api/v1/follow-ups` (documentation only).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpListStatus {
    Open,
    Done,
    Overdue,
}

/// 403 unless the user is a supervisor with a team or an admin.
fn require_supervisor(user: &User) -> Result<(), ApiFailure> {
    match user.role {
        Role::Admin => Ok(()),
        Role::Supervisor if user.team.is_some() => Ok(()),
        _ => Err(ApiFailure::Forbidden),
    }
}

fn bulk_failure(e: BulkError) -> ApiFailure {
    match e {
        BulkError::Db(e) => ApiFailure::Db(e),
        BulkError::TooManyLeads(_) => bad("too_many_leads", e.to_string()),
        BulkError::LeadNotFound(_) => ApiFailure::Missing("lead"),
        BulkError::UnknownUser(_) => bad("unknown_user", e.to_string()),
        BulkError::OutsideTeam(_) | BulkError::Forbidden => ApiFailure::Forbidden,
    }
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

fn body_object(body: Result<Json<serde_json::Value>, JsonRejection>) -> Result<JsonObject, ApiFailure> {
    match body {
        Ok(Json(serde_json::Value::Object(map))) => Ok(map),
        Ok(Json(_)) => Err(bad("bad_request", "the body must be a JSON object")),
        Err(e) => Err(bad("bad_request", e.body_text())),
    }
}

fn reason_of(body: &JsonObject) -> Result<String, ApiFailure> {
    let reason = body
        .get("reason")
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if reason.is_empty() {
        return Err(bad("bad_reason", "reason is required (why the leads move)"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(bad(
            "bad_reason",
            format!("reason is longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.to_owned())
}

/// A user id field: `Ok(None)` for JSON null; 400 `bad_<name>` when missing or not a UUID.
fn user_field(body: &JsonObject, name: &str, code: &'static str) -> Result<Option<Id>, ApiFailure> {
    match body.get(name) {
        None => Err(bad(code, format!("{name} is required (a user id, or null)"))),
        Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Id::parse_str(s.trim())
            .map(Some)
            .map_err(|_| bad(code, format!("{name} must be a user id (UUID)"))),
        Some(_) => Err(bad(code, format!("{name} must be a user id (UUID) or null"))),
    }
}

/// The lead-list filter keys a bulk assignment accepts.
const FILTER_KEYS: &[&str] = &[
    "status",
    "priority",
    "source",
    "assigned_to",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
    "follow_up_from",
    "follow_up_to",
    "q",
];

/// A JSON filter object (`{"status": ["new"], "assigned_to": "none"}`) as query pairs of the lead list.
fn filter_pairs(filter: &JsonObject) -> Result<Vec<(String, String)>, ApiFailure> {
    let mut pairs = Vec::new();
    for (key, value) in filter {
        if !FILTER_KEYS.contains(&key.as_str()) {
            return Err(bad(
                "bad_filter",
                format!("unknown filter {key:?}; filters: {}", FILTER_KEYS.join(", ")),
            ));
        }
        let values: Vec<&serde_json::Value> = match value {
            serde_json::Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            match v {
                serde_json::Value::String(s) => pairs.push((key.clone(), s.clone())),
                serde_json::Value::Null => {}
                _ => return Err(bad("bad_filter", format!("filter {key} takes strings"))),
            }
        }
    }
    Ok(pairs)
}

/// `POST /api/v1/leads/assign {lead_ids | filter, to, reason}`: assigns leads to `to` (a user id; `null`
/// unassigns) in one transaction, each change audited. See the crate README for the rules.
#[utoipa::path(
    post,
    path = "/api/v1/leads/assign",
    tag = "leads",
    request_body = AssignRequest,
    responses(
        (status = 200, description = "What changed", body = BulkOutcome),
        (status = 400, description = "A bad body (`bad_request`, `bad_reason`, `bad_to`, `bad_lead_ids`, \
         `too_many_leads`, `bad_filter`, `bad_selection`, `unknown_user`, a lead-list filter's code)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not a supervisor with a team nor an admin, or a user outside your team \
         (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "A lead not in your scope (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn assign(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<BulkOutcome>, ApiFailure> {
    require_supervisor(&user)?;
    let body = body_object(body)?;
    let reason = reason_of(&body)?;
    let to = user_field(&body, "to", "bad_to")?;
    let selection = match (body.get("lead_ids"), body.get("filter")) {
        (Some(ids), None) => {
            let items = ids
                .as_array()
                .ok_or_else(|| bad("bad_lead_ids", "lead_ids must be an array of lead ids"))?;
            if items.is_empty() {
                return Err(bad("bad_lead_ids", "lead_ids is empty"));
            }
            if items.len() > MAX_BULK_LEADS {
                return Err(bad(
                    "too_many_leads",
                    format!(
                        "{} leads selected; at most {MAX_BULK_LEADS} per request",
                        items.len()
                    ),
                ));
            }
            let ids = items
                .iter()
                .map(|v| v.as_str().and_then(|s| Id::parse_str(s.trim()).ok()))
                .collect::<Option<Vec<Id>>>()
                .ok_or_else(|| bad("bad_lead_ids", "lead_ids must be an array of lead ids (UUIDs)"))?;
            Selection::Ids(ids)
        }
        (None, Some(serde_json::Value::Object(filter))) => {
            Selection::Filter(parse_lead_query(&filter_pairs(filter)?)?.filter)
        }
        (None, Some(_)) => return Err(bad("bad_filter", "filter must be an object")),
        _ => {
            return Err(bad(
                "bad_selection",
                "give exactly one of lead_ids (an array) or filter (an object)",
            ));
        }
    };
    run_bulk(&state, user, selection, to, reason).await
}

async fn run_bulk(
    state: &AppState,
    user: User,
    selection: Selection,
    to: Option<Id>,
    reason: String,
) -> Result<Json<BulkOutcome>, ApiFailure> {
    let now = chrono::Utc::now();
    let actor = user.id;
    let outcome = state
        .repo()
        .write(move |tx| {
            store::bulk_assign(tx, &user, &selection, to.as_ref(), &reason, &now).map_err(BulkOutcomeError)
        })
        .await
        .map_err(|BulkOutcomeError(e)| bulk_failure(e))?;
    tracing::info!(%actor, to = ?to, assigned = outcome.assigned, unchanged = outcome.unchanged,
        "leads assigned");
    Ok(Json(outcome))
}

/// A [`BulkError`] that `Repo::write` can produce from a [`DbError`].
struct BulkOutcomeError(BulkError);

impl From<DbError> for BulkOutcomeError {
    fn from(e: DbError) -> Self {
        BulkOutcomeError(BulkError::Db(e))
    }
}

/// The statuses a transfer moves by default: every one that is not closed.
const OPEN_STATUSES: [LeadStatus; 5] = [
    LeadStatus::New,
    LeadStatus::Contacted,
    LeadStatus::Interested,
    LeadStatus::FollowUp,
    LeadStatus::VisitScheduled,
];

/// `POST /api/v1/leads/transfer {from, to, status?, reason}`: moves `from`'s leads (by default the open
/// ones: not converted, not_interested, invalid or do_not_call) to `to`, audited as `transferred`.
#[utoipa::path(
    post,
    path = "/api/v1/leads/transfer",
    tag = "leads",
    request_body = TransferRequest,
    responses(
        (status = 200, description = "What changed", body = BulkOutcome),
        (status = 400, description = "A bad body (`bad_request`, `bad_reason`, `bad_from`, `bad_to`, \
         `bad_status`, `unknown_user`, `too_many_leads`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not a supervisor with a team nor an admin, or a user outside your team \
         (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "A lead not in your scope (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn transfer(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<BulkOutcome>, ApiFailure> {
    require_supervisor(&user)?;
    let body = body_object(body)?;
    let reason = reason_of(&body)?;
    let from = user_field(&body, "from", "bad_from")?.ok_or_else(|| bad("bad_from", "from is required"))?;
    let to = user_field(&body, "to", "bad_to")?.ok_or_else(|| bad("bad_to", "to is required"))?;
    if from == to {
        return Err(bad("bad_to", "from and to are the same user"));
    }
    let statuses: Vec<LeadStatus> = match body.get("status") {
        None | Some(serde_json::Value::Null) => OPEN_STATUSES.to_vec(),
        Some(v) => {
            let pairs = filter_pairs(&JsonObject::from_iter([("status".to_owned(), v.clone())]))
                .map_err(|_| bad("bad_status", "status takes a status or a list of them"))?;
            let list: Vec<LeadStatus> = parse_list(&pairs, "status", "bad_status")?;
            if list.is_empty() {
                return Err(bad("bad_status", "status is empty"));
            }
            list
        }
    };
    run_bulk(
        &state,
        user,
        Selection::Transfer { from, statuses },
        Some(to),
        reason,
    )
    .await
}

/// The page size of a list query.
fn parse_limit(pairs: &[(String, String)]) -> Result<u32, ApiFailure> {
    match single(pairs, "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<u64>() {
            Ok(0) | Err(_) => Err(bad(
                "bad_limit",
                format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
            )),
            Ok(n) => Ok(u32::try_from(n.min(u64::from(MAX_LIMIT))).unwrap_or(MAX_LIMIT)),
        },
    }
}

fn parse_uuid(pairs: &[(String, String)], name: &str, code: &'static str) -> Result<Option<Id>, ApiFailure> {
    single(pairs, name)
        .map(|v| Id::parse_str(v).map_err(|_| bad(code, format!("{name} must be a user id (UUID)"))))
        .transpose()
}

fn query_pairs(
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiFailure> {
    params
        .map(|Query(p)| p)
        .map_err(|e| bad("bad_request", e.body_text()))
}

fn next_cursor(more: bool, last: Option<(&Timestamp, &Id)>) -> Option<String> {
    match last {
        Some((at, id)) if more => Some(cursor::encode_lead(at, id)),
        _ => None,
    }
}

pub use leadline_model::supervise::AuditPage;

async fn audit_page(
    state: &AppState,
    user: &User,
    filter: AuditFilter,
    pairs: &[(String, String)],
) -> Result<Json<AuditPage>, ApiFailure> {
    let after = cursor::decode_lead(single(pairs, "cursor").unwrap_or_default())?;
    let limit = parse_limit(pairs)?;
    let team = match user.role {
        Role::Admin => None,
        _ => user.team.clone(),
    };
    let (entries, more) = state
        .repo()
        .read(move |tx| store::list_audit(tx, team.as_deref(), &filter, after.as_ref(), limit))
        .await?;
    let next_cursor = next_cursor(more, entries.last().map(|e| (&e.at, &e.id)));
    Ok(Json(AuditPage { entries, next_cursor }))
}

/// `GET /api/v1/leads/{id}/audit?cursor=&limit=`: the lead's audit entries, newest first. Supervisors
/// (of the lead's team) and admins; telecallers 403; a lead out of scope 404.
#[utoipa::path(
    get,
    path = "/api/v1/leads/{id}/audit",
    tag = "audit",
    params(
        ("id" = uuid::Uuid, Path, description = "The lead; `bad_id` when not a UUID"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page; `bad_cursor`"),
        ("limit" = Option<u32>, Query, minimum = 1, description = "Page size (default 50, larger than 500 is clamped); `bad_limit`"),
    ),
    responses(
        (status = 200, description = "The lead's audit entries, newest first", body = AuditPage),
        (status = 400, description = "A bad id or query (`bad_id`, `bad_request`, `bad_cursor`, `bad_limit`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not a supervisor with a team nor an admin (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such lead in your scope (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn lead_audit(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiFailure> {
    require_supervisor(&user)?;
    let id = parse_path_id(&id, "lead id")?;
    let pairs = query_pairs(params)?;
    state
        .repo()
        .lead_in_scope(Scope::for_user(&user), id)
        .await?
        .ok_or(ApiFailure::Missing("lead"))?;
    let filter = AuditFilter {
        lead_id: Some(id),
        ..AuditFilter::default()
    };
    // The lead is the supervisor's now: show its whole history, entries of earlier teams included.
    let admin_view = User {
        role: Role::Admin,
        ..user
    };
    audit_page(&state, &admin_view, filter, &pairs).await
}

/// `GET /api/v1/audit?actor=&action=&from=&to=&cursor=&limit=`: audit entries newest first (`at` desc,
/// `id` desc); a supervisor's are their team's (the lead's team after the change), an admin's all.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(
        ("actor" = Option<uuid::Uuid>, Query, description = "Changes by this user; `bad_actor`"),
        ("action" = Option<AuditAction>, Query, description = "`bad_action`"),
        ("from" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "At or after (RFC 3339); `bad_from`"),
        ("to" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Before (RFC 3339); `bad_to`"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page; `bad_cursor`"),
        ("limit" = Option<u32>, Query, minimum = 1, description = "Page size (default 50, larger than 500 is clamped); `bad_limit`"),
    ),
    responses(
        (status = 200, description = "Audit entries of your team's leads (admins: all), newest first", body = AuditPage),
        (status = 400, description = "A bad query (`bad_request`, `bad_actor`, `bad_action`, `bad_from`, `bad_to`, \
         `bad_cursor`, `bad_limit`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not a supervisor with a team nor an admin (`forbidden`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn audit(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiFailure> {
    require_supervisor(&user)?;
    let pairs = query_pairs(params)?;
    let filter = AuditFilter {
        lead_id: None,
        actor: parse_uuid(&pairs, "actor", "bad_actor")?,
        action: single(&pairs, "action")
            .map(|a| {
                a.parse::<AuditAction>()
                    .map_err(|e| bad("bad_action", e.to_string()))
            })
            .transpose()?,
        from: parse_time(&pairs, "from", "bad_from")?,
        to: parse_time(&pairs, "to", "bad_to")?,
    };
    audit_page(&state, &user, filter, &pairs).await
}

/// A call log in a list: the log, its lead's name and the telecaller's username.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallLogView {
    #[serde(flatten)]
    pub log: CallLog,
    pub lead_name: String,
    pub telecaller_username: String,
}

impl From<CallLogItem> for CallLogView {
    fn from(item: CallLogItem) -> Self {
        CallLogView {
            log: item.log,
            lead_name: item.lead.name,
            telecaller_username: item.telecaller_username,
        }
    }
}

/// A page of call logs.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallLogPage {
    pub call_logs: Vec<CallLogView>,
    pub next_cursor: Option<String>,
}

/// Parses the call-log filters (everything but `cursor` and `limit`).
pub fn parse_call_log_filter(pairs: &[(String, String)]) -> Result<CallLogFilter, ApiFailure> {
    let mut filter = CallLogFilter {
        telecaller: parse_uuid(pairs, "telecaller", "bad_telecaller")?,
        from: parse_time(pairs, "from", "bad_from")?,
        to: parse_time(pairs, "to", "bad_to")?,
        disposition: crate::api::list_values(pairs, "disposition")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        direction: single(pairs, "direction")
            .map(|d| {
                d.parse::<CallDirection>()
                    .map_err(|e| bad("bad_direction", e.to_string()))
            })
            .transpose()?,
        connected: match single(pairs, "connected") {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(_) => return Err(bad("bad_connected", "connected must be true or false")),
        },
        ..CallLogFilter::default()
    };
    if filter.disposition.iter().any(|d| d.chars().count() > 64) {
        return Err(bad(
            "bad_disposition",
            "a disposition code is at most 64 characters",
        ));
    }
    if let Some(q) = single(pairs, "q") {
        if q.chars().count() > 100 {
            return Err(bad("bad_q", "q is longer than 100 characters"));
        }
        let phone_like = q
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.'));
        if phone_like && q.chars().any(|c| c.is_ascii_digit()) {
            // Numbers are encrypted; only whole numbers are found, through the blind index.
            filter.lead_phone = Some(PhoneNumber::parse(q).map_err(|_| {
                bad(
                    "bad_q",
                    "a phone search needs the whole number, e.g. +919876543210",
                )
            })?);
        } else {
            filter.lead_name_contains = Some(q.to_owned());
        }
    }
    Ok(filter)
}

async fn call_log_page(
    state: &AppState,
    scope: Scope,
    filter: CallLogFilter,
    pairs: &[(String, String)],
) -> Result<Json<CallLogPage>, ApiFailure> {
    let after = cursor::decode_lead(single(pairs, "cursor").unwrap_or_default())?;
    let limit = parse_limit(pairs)?;
    let (items, more) = state
        .repo()
        .read(move |tx| store::list_call_logs(tx, &scope, &filter, after.as_ref(), limit))
        .await?;
    let next_cursor = next_cursor(more, items.last().map(|i| (&i.log.started_at, &i.log.id)));
    Ok(Json(CallLogPage {
        call_logs: items.into_iter().map(CallLogView::from).collect(),
        next_cursor,
    }))
}

/// `GET /api/v1/leads/{id}/call-logs?cursor=&limit=`: every call of a lead the caller may see, newest
/// first; 404 when the lead is out of scope.
#[utoipa::path(
    get,
    path = "/api/v1/leads/{id}/call-logs",
    tag = "calls",
    params(
        ("id" = uuid::Uuid, Path, description = "The lead; `bad_id` when not a UUID"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page; `bad_cursor`"),
        ("limit" = Option<u32>, Query, minimum = 1, description = "Page size (default 50, larger than 500 is clamped); `bad_limit`"),
    ),
    responses(
        (status = 200, description = "The lead's call logs, newest first", body = CallLogPage),
        (status = 400, description = "A bad id or query (`bad_id`, `bad_request`, `bad_cursor`, `bad_limit`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such lead in your scope (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn lead_call_logs(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<CallLogPage>, ApiFailure> {
    let id = parse_path_id(&id, "lead id")?;
    let pairs = query_pairs(params)?;
    state
        .repo()
        .lead_in_scope(Scope::for_user(&user), id)
        .await?
        .ok_or(ApiFailure::Missing("lead"))?;
    let filter = CallLogFilter {
        lead_id: Some(id),
        ..CallLogFilter::default()
    };
    call_log_page(&state, Scope::All, filter, &pairs).await
}

/// `GET /api/v1/call-logs?telecaller=&from=&to=&disposition=&direction=&connected=&q=&cursor=&limit=`:
/// call logs newest first (`started_at` desc, `id` desc); a telecaller's own calls, a supervisor's
/// team's (calls on the team's leads), an admin's all.
#[utoipa::path(
    get,
    path = "/api/v1/call-logs",
    tag = "calls",
    params(
        ("telecaller" = Option<uuid::Uuid>, Query, description = "Calls of this user; `bad_telecaller`"),
        ("from" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Started at or after (RFC 3339); `bad_from`"),
        ("to" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Started before (RFC 3339); `bad_to`"),
        ("disposition" = Option<String>, Query, description = "Disposition codes (repeated or comma-separated, each at most 64 characters); `bad_disposition`"),
        ("direction" = Option<CallDirection>, Query, description = "`bad_direction`"),
        ("connected" = Option<bool>, Query, description = "`true`/`1` or `false`/`0`; `bad_connected`"),
        ("q" = Option<String>, Query, description = "A lead name fragment, or a whole phone number (at most 100 characters); `bad_q`"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page; `bad_cursor`"),
        ("limit" = Option<u32>, Query, minimum = 1, description = "Page size (default 50, larger than 500 is clamped); `bad_limit`"),
    ),
    responses(
        (status = 200, description = "Call logs in your scope, newest first", body = CallLogPage),
        (status = 400, description = "A bad query (`bad_request`, `bad_telecaller`, `bad_from`, `bad_to`, \
         `bad_disposition`, `bad_direction`, `bad_connected`, `bad_q`, `bad_cursor`, `bad_limit`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn call_logs(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<CallLogPage>, ApiFailure> {
    let pairs = query_pairs(params)?;
    let filter = parse_call_log_filter(&pairs)?;
    call_log_page(&state, Scope::for_user(&user), filter, &pairs).await
}

/// The columns of the call-log export.
pub const EXPORT_COLUMNS: [&str; 17] = [
    "call_id",
    "started_at",
    "lead_name",
    "lead_phone",
    "telecaller",
    "direction",
    "disposition",
    "duration_s",
    "notes",
    "follow_up_due_at",
    "recording_url",
    "provider_call_id",
    "mos",
    "rtt_ms",
    "jitter_ms",
    "loss",
    "codec",
];

/// A free-text cell made safe for spreadsheets: one starting with `=`, `+`, `-`, `@`, tab or carriage
/// return (a formula to Excel, LibreOffice and Sheets) gets a leading apostrophe.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// One export row. Generated values (ids, times, numbers, enums, the validated E.164 phone: `+` and
/// digits only) are written as they are; free text goes through [`spreadsheet_safe`].
fn export_record(item: &CallLogItem) -> Vec<String> {
    let log = &item.log;
    let text = |s: &str| spreadsheet_safe(s).into_owned();
    let mut record = vec![
        log.id.hyphenated().to_string(),
        crate::db::ts(&log.started_at),
        text(&item.lead.name),
        item.lead.phone.as_str().to_owned(),
        text(&item.telecaller_username),
        log.direction.as_str().to_owned(),
        text(&log.disposition),
        log.duration_s.to_string(),
        text(&log.notes),
        log.follow_up
            .as_ref()
            .map(|f| crate::db::ts(&f.due_at))
            .unwrap_or_default(),
        text(log.recording_url.as_deref().unwrap_or_default()),
        text(log.provider_call_id.as_deref().unwrap_or_default()),
    ];
    // The call's quality figures (empty cells without them); numbers are never formula-like.
    let q = log.quality.as_ref();
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    record.extend([
        number(q.map(|q| q.mos)),
        number(q.and_then(|q| q.rtt_ms)),
        number(q.map(|q| q.jitter_ms)),
        number(q.map(|q| q.loss)),
        text(q.and_then(|q| q.codec.as_deref()).unwrap_or_default()),
    ]);
    record
}

/// CSV text of some records (RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or
/// line break, quotes doubled).
fn csv_chunk(header: bool, records: &[Vec<String>]) -> Result<Bytes, std::io::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    if header {
        w.write_record(EXPORT_COLUMNS).map_err(std::io::Error::other)?;
    }
    for r in records {
        w.write_record(r).map_err(std::io::Error::other)?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

struct ExportState {
    state: AppState,
    scope: Scope,
    filter: CallLogFilter,
    after: Option<(Timestamp, Id)>,
    header: bool,
    done: bool,
}

/// `GET /api/v1/call-logs/export.csv?<the call-log filters>`: the filtered call logs as CSV, streamed: pages
/// of [`EXPORT_PAGE`] rows, each read in its own short read transaction and written out as it comes.
#[utoipa::path(
    get,
    path = "/api/v1/call-logs/export.csv",
    tag = "calls",
    params(
        ("telecaller" = Option<uuid::Uuid>, Query, description = "Calls of this user; `bad_telecaller`"),
        ("from" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Started at or after (RFC 3339); `bad_from`"),
        ("to" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Started before (RFC 3339); `bad_to`"),
        ("disposition" = Option<String>, Query, description = "Disposition codes (repeated or comma-separated, each at most 64 characters); `bad_disposition`"),
        ("direction" = Option<CallDirection>, Query, description = "`bad_direction`"),
        ("connected" = Option<bool>, Query, description = "`true`/`1` or `false`/`0`; `bad_connected`"),
        ("q" = Option<String>, Query, description = "A lead name fragment, or a whole phone number (at most 100 characters); `bad_q`"),
    ),
    responses(
        (status = 200, description = "Every matching call log in your scope as CSV (a header row, CRLF lines), \
         streamed as an attachment. Columns: call_id, started_at, lead_name, lead_phone, telecaller, direction, \
         disposition, duration_s, notes, follow_up_due_at, recording_url, provider_call_id, and the call's \
         quality figures mos, rtt_ms, jitter_ms, loss, codec (empty when the call has none)", content_type = "text/csv", body = String),
        (status = 400, description = "A bad query (`bad_request`, `bad_telecaller`, `bad_from`, `bad_to`, \
         `bad_disposition`, `bad_direction`, `bad_connected`, `bad_q`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn export_call_logs(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiFailure> {
    let pairs = query_pairs(params)?;
    let filter = parse_call_log_filter(&pairs)?;
    let start = ExportState {
        state,
        scope: Scope::for_user(&user),
        filter,
        after: None,
        header: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut st| async move {
        if st.done {
            return None;
        }
        let (scope, filter, after) = (st.scope.clone(), st.filter.clone(), st.after);
        let page = st
            .state
            .repo()
            .read(move |tx| store::list_call_logs(tx, &scope, &filter, after.as_ref(), EXPORT_PAGE))
            .await;
        let chunk = match page {
            Ok((items, more)) => {
                st.done = !more;
                st.after = items.last().map(|i| (i.log.started_at, i.log.id));
                let records: Vec<Vec<String>> = items.iter().map(export_record).collect();
                csv_chunk(st.header, &records)
            }
            Err(e) => {
                tracing::error!(error = %e, "call-log export failed part way");
                st.done = true;
                Err(std::io::Error::other(e.to_string()))
            }
        };
        st.header = false;
        Some((chunk, st))
    });
    // Layers around the body (compression, metrics) may poll once more after the end: fuse it.
    let stream = futures_util::StreamExt::fuse(stream);
    let filename = format!(
        "attachment; filename=\"call-logs-{}.csv\"",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A page of follow-ups.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowUpPage {
    pub follow_ups: Vec<FollowUpItem>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/follow-ups?due_before=&due_after=&status=open|done|overdue&assigned_to=&cursor=&limit=`:
/// follow-ups soonest due first (`due_at`, `id`); a telecaller's own (assigned to them), a supervisor's
/// team's, an admin's all. `due_after` is inclusive, `due_before` exclusive.
#[utoipa::path(
    get,
    path = "/api/v1/follow-ups",
    tag = "follow-ups",
    params(
        ("due_after" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Due at or after (RFC 3339); `bad_due_after`"),
        ("due_before" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "Due before (RFC 3339); `bad_due_before`"),
        ("status" = Option<FollowUpListStatus>, Query, description = "`bad_status`"),
        ("assigned_to" = Option<uuid::Uuid>, Query, description = "Follow-ups of this user's leads; `bad_assigned_to`"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page; `bad_cursor`"),
        ("limit" = Option<u32>, Query, minimum = 1, description = "Page size (default 50, larger than 500 is clamped); `bad_limit`"),
    ),
    responses(
        (status = 200, description = "Follow-ups in your scope, soonest due first", body = FollowUpPage),
        (status = 400, description = "A bad query (`bad_request`, `bad_due_after`, `bad_due_before`, `bad_status`, \
         `bad_assigned_to`, `bad_cursor`, `bad_limit`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn follow_ups(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<FollowUpPage>, ApiFailure> {
    let pairs = query_pairs(params)?;
    let filter = FollowUpFilter {
        due_after: parse_time(&pairs, "due_after", "bad_due_after")?,
        due_before: parse_time(&pairs, "due_before", "bad_due_before")?,
        status: match single(&pairs, "status") {
            None => None,
            Some("open") => Some(FollowUpStatus::Open),
            Some("done") => Some(FollowUpStatus::Done),
            Some("overdue") => Some(FollowUpStatus::Overdue),
            Some(_) => return Err(bad("bad_status", "status must be open, done or overdue")),
        },
        assigned_to: parse_uuid(&pairs, "assigned_to", "bad_assigned_to")?,
    };
    let after = cursor::decode_lead(single(&pairs, "cursor").unwrap_or_default())?;
    let limit = parse_limit(&pairs)?;
    let scope = Scope::for_user(&user);
    let now = chrono::Utc::now();
    let (items, more) = state
        .repo()
        .read(move |tx| store::list_follow_ups(tx, &scope, &filter, &now, after.as_ref(), limit))
        .await?;
    let next_cursor = next_cursor(more, items.last().map(|i| (&i.follow_up.due_at, &i.follow_up.id)));
    Ok(Json(FollowUpPage {
        follow_ups: items,
        next_cursor,
    }))
}
