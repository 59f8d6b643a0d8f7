//! The team's live status: `PUT /api/v1/presence` (a desktop reports what its user is doing: available,
//! on a call, in a wrap-up, or going offline) and `GET /api/v1/presence` (a supervisor's team, an admin's
//! any team or everyone). The last report is kept per user in the database (so every API node answers the
//! same); a desktop silent for longer than [`PRESENCE_TIMEOUT`] counts as offline. Storage:
//! [`crate::db::presence`].

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, SubsecRound, Utc};
use leadline_model::supervise::{AgentPresence, PresenceReport, TeamPresence};
use leadline_model::{Role, User};

use crate::AppState;
use crate::api::{ApiFailure, AuthUser, bad, single};
use crate::db::analytics::Who;
use crate::db::presence;

/// A desktop reports at least this often while it runs ([`PRESENCE_TIMEOUT`] leaves room for two
/// missed reports).
pub const REPORT_EVERY_S: u64 = 30;
/// A desktop silent this long is offline.
pub const PRESENCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3 * REPORT_EVERY_S);

/// The presence routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/presence", get(team_presence).put(report))
}

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(team_presence, report),
    tags((name = "presence", description = "The team's live status, as each desktop reports it"))
)]
pub struct PresenceApi;

fn timeout() -> Duration {
    Duration::seconds(PRESENCE_TIMEOUT.as_secs() as i64)
}

/// `PUT /api/v1/presence {state}`: the caller's desktop reports its user's state (`available`, `on_call`,
/// `wrap_up`, `offline`); repeat it every [`REPORT_EVERY_S`] seconds to stay online. Answers the caller's
/// status as the team sees it.
#[utoipa::path(
    put,
    path = "/api/v1/presence",
    tag = "presence",
    request_body = PresenceReport,
    responses(
        (status = 200, description = "Recorded: the caller's status", body = AgentPresence),
        (status = 400, description = "Not a report (`bad_request`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn report(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<PresenceReport>, JsonRejection>,
) -> Result<Json<AgentPresence>, ApiFailure> {
    let Json(body) = body.map_err(|e| bad("bad_request", e.body_text()))?;
    let now = Utc::now().trunc_subsecs(3);
    let id = user.id;
    let mine = state
        .repo()
        .write(move |tx| {
            presence::report(tx, &id, body.state, &now)?;
            presence::team(tx, &Who::User(id), &now, timeout())
        })
        .await?;
    mine.into_iter()
        .next()
        .map(Json)
        .ok_or(ApiFailure::Missing("user"))
}

/// `GET /api/v1/presence?team=`: the live status of the telecallers of the supervisor's team (admins:
/// of `team`, or everyone), by name.
#[utoipa::path(
    get,
    path = "/api/v1/presence",
    tag = "presence",
    params(("team" = Option<String>, Query, description = "A team (admins; supervisors only their own)")),
    responses(
        (status = 200, description = "Each telecaller's status", body = TeamPresence),
        (status = 400, description = "A bad query (`bad_request`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "A telecaller, a supervisor without a team, or another team \
         (`forbidden`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn team_presence(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<TeamPresence>, ApiFailure> {
    let Query(pairs) = params.map_err(|e| bad("bad_request", e.body_text()))?;
    let who = who(&user, single(&pairs, "team"))?;
    let now = Utc::now();
    let agents = state
        .repo()
        .read(move |tx| presence::team(tx, &who, &now, timeout()))
        .await?;
    Ok(Json(TeamPresence {
        timeout_s: PRESENCE_TIMEOUT.as_secs(),
        agents,
    }))
}

fn who(user: &User, team: Option<&str>) -> Result<Who, ApiFailure> {
    match (user.role, &user.team) {
        (Role::Admin, _) => Ok(team.map_or(Who::All, |t| Who::Team(t.to_owned()))),
        (Role::Supervisor, Some(own)) if team.is_none_or(|t| t == own) => Ok(Who::Team(own.clone())),
        _ => Err(ApiFailure::Forbidden),
    }
}
