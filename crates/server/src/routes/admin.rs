//! Administration: user accounts, teams and the disposition catalogue.
//!
//! | route | who |
//! |---|---|
//! | `GET /api/v1/users` | admins (everyone), supervisors (their team) |
//! | `POST /api/v1/users`, `PATCH /api/v1/users/{id}` | admins |
//! | `GET /api/v1/teams` | admins, supervisors |
//! | `POST /api/v1/teams` | admins |
//! | `GET /api/v1/dispositions` | everyone signed in (active entries; admins also see inactive ones) |
//! | `PUT /api/v1/dispositions/{code}` | admins |
//!
//! Deactivating a user (or setting a new password) revokes every device session of theirs at once.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, put};
use axum::{Json, Router};
use leadline_model::admin::{DispositionEntry, NewTeam, NewUser, Team, UserAccount, UserPatch};
use leadline_model::{Role, User};

use crate::AppState;
use crate::accounts::{self, AccountError};
use crate::api::{ApiFailure, AuthUser, bad, parse_path_id};
use crate::db::{self, admin};

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_users,
        create_user,
        update_user,
        list_teams,
        create_team,
        list_dispositions,
        put_disposition
    ),
    tags((name = "admin", description = "Users, teams and the disposition catalogue"))
)]
pub struct AdminApi;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{id}", patch(update_user))
        .route("/api/v1/teams", get(list_teams).post(create_team))
        .route("/api/v1/dispositions", get(list_dispositions))
        .route("/api/v1/dispositions/{code}", put(put_disposition))
}

fn json<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiFailure> {
    body.map(|Json(v)| v)
        .map_err(|e| bad("bad_request", e.body_text()))
}

fn admin_only(user: &User) -> Result<(), ApiFailure> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiFailure::Forbidden)
    }
}

impl From<AccountError> for ApiFailure {
    fn from(e: AccountError) -> Self {
        let message = e.to_string();
        match e {
            AccountError::BadUsername => bad("bad_username", message),
            AccountError::BadName { .. } => bad("bad_name", message),
            AccountError::BadPassword => bad("bad_password", message),
            AccountError::SupervisorNeedsTeam => bad("bad_team", message),
            AccountError::UnknownTeam(_) => bad("unknown_team", message),
            AccountError::UsernameTaken(_) => ApiFailure::Taken {
                code: "username_taken",
                message,
            },
            AccountError::TeamExists(_) => ApiFailure::Taken {
                code: "team_exists",
                message,
            },
            AccountError::NoSuchUser(_) => ApiFailure::Missing("user"),
            AccountError::Hash(e) => ApiFailure::Internal(e),
            AccountError::Db(e) => ApiFailure::Db(e),
        }
    }
}

/// `GET /api/v1/users`
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "admin",
    responses(
        (status = 200, description = "Every user (supervisors: their team's)", body = Vec<UserAccount>),
        (status = 403, description = "A telecaller, or a supervisor without a team (`forbidden`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn list_users(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<Vec<UserAccount>>, ApiFailure> {
    let team = match user.role {
        Role::Admin => None,
        Role::Supervisor => Some(user.team.clone().ok_or(ApiFailure::Forbidden)?),
        Role::Telecaller => return Err(ApiFailure::Forbidden),
    };
    let accounts = state
        .repo()
        .read(move |tx| admin::accounts(tx, team.as_deref()))
        .await?;
    Ok(Json(accounts))
}

/// `POST /api/v1/users`: `201` with the account; `409 username_taken`; `400 unknown_team`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "admin",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserAccount),
        (status = 400, description = "A bad body (`bad_request`, `bad_username`, `bad_name`, `bad_password`, \
         `bad_team`, `unknown_team`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "The username is taken (`username_taken`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn create_user(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<UserAccount>), ApiFailure> {
    admin_only(&user)?;
    let created = accounts::create_user(state.repo(), json(body)?).await?;
    tracing::info!(user_id = %created.user.id, by = %user.id, "user created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PATCH /api/v1/users/{id}`
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "The user; `bad_id` when not a UUID")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user", body = UserAccount),
        (status = 400, description = "A bad id or body (`bad_id`, `bad_request`, `bad_name`, `bad_password`, \
         `unknown_team`; an admin deactivating or demoting themselves)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No such user (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn update_user(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    body: Result<Json<UserPatch>, JsonRejection>,
) -> Result<Json<UserAccount>, ApiFailure> {
    admin_only(&user)?;
    let id = parse_path_id(&id, "user id")?;
    let patch = json(body)?;
    if id == user.id && (patch.active == Some(false) || patch.role.is_some_and(|r| r != Role::Admin)) {
        return Err(bad(
            "bad_request",
            "an admin cannot deactivate or demote themselves",
        ));
    }
    let mut change = admin::AccountChange {
        name: patch
            .name
            .as_deref()
            .map(|n| accounts::clean_name(n, "a name", 120))
            .transpose()?,
        role: patch.role,
        team: patch.team.map(|t| accounts::clean_team(t.as_deref())),
        active: patch.active,
        password_hash: None,
    };
    if let Some(password) = patch.password {
        accounts::check_password(&password)?;
        change.password_hash = Some(accounts::hash(password).await?);
    }
    let revoked_by = format!("revoked_by:{}", db::id_text(&user.id));
    let updated = accounts::change_user(state.repo(), accounts::Who::Id(id), change, revoked_by)
        .await?
        .ok_or(ApiFailure::Missing("user"))?;
    tracing::info!(user_id = %id, by = %user.id, "user changed");
    Ok(Json(updated))
}

/// `GET /api/v1/teams`
#[utoipa::path(
    get,
    path = "/api/v1/teams",
    tag = "admin",
    responses(
        (status = 200, description = "Every team", body = Vec<Team>),
        (status = 403, description = "A telecaller (`forbidden`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn list_teams(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<Vec<Team>>, ApiFailure> {
    if user.role == Role::Telecaller {
        return Err(ApiFailure::Forbidden);
    }
    Ok(Json(state.repo().read(admin::teams).await?))
}

/// `POST /api/v1/teams`: `201`; `409 team_exists`.
#[utoipa::path(
    post,
    path = "/api/v1/teams",
    tag = "admin",
    request_body = NewTeam,
    responses(
        (status = 201, description = "Created: every team", body = Vec<Team>),
        (status = 400, description = "A bad body (`bad_request`, `bad_name`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "The team exists (`team_exists`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn create_team(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<NewTeam>, JsonRejection>,
) -> Result<(StatusCode, Json<Vec<Team>>), ApiFailure> {
    admin_only(&user)?;
    let teams = accounts::create_team(state.repo(), &json(body)?.name).await?;
    Ok((StatusCode::CREATED, Json(teams)))
}

/// `GET /api/v1/dispositions`
#[utoipa::path(
    get,
    path = "/api/v1/dispositions",
    tag = "admin",
    responses(
        (status = 200, description = "The disposition catalogue (admins: inactive ones too)", body = Vec<DispositionEntry>),
    ),
    security(("bearer" = []))
)]
async fn list_dispositions(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<Vec<DispositionEntry>>, ApiFailure> {
    let all = state.repo().read(admin::catalogue).await?;
    Ok(Json(if user.role == Role::Admin {
        all
    } else {
        all.into_iter().filter(|d| d.active).collect()
    }))
}

/// `PUT /api/v1/dispositions/{code}`: creates or replaces an entry; `409 hotkey_taken` when another
/// active entry has the hotkey.
#[utoipa::path(
    put,
    path = "/api/v1/dispositions/{code}",
    tag = "admin",
    params(("code" = String, Path, min_length = 1, max_length = 40, description = "1 to 40 of a-z, 0-9 and _; `bad_code`")),
    request_body = DispositionEntry,
    responses(
        (status = 200, description = "Created or replaced: the whole catalogue", body = Vec<DispositionEntry>),
        (status = 400, description = "A bad code or body (`bad_request`, `bad_code`, `bad_label`, `bad_hotkey`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "An empty code: no such endpoint (`not_found`)", body = leadline_model::auth::ApiError),
        (status = 409, description = "Another active disposition has the hotkey (`hotkey_taken`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn put_disposition(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(code): Path<String>,
    body: Result<Json<DispositionEntry>, JsonRejection>,
) -> Result<Json<Vec<DispositionEntry>>, ApiFailure> {
    admin_only(&user)?;
    let mut entry = json(body)?;
    let code = code.trim().to_owned();
    if code.is_empty()
        || code.len() > 40
        || !code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(bad("bad_code", "a disposition code is 1 to 40 of a-z, 0-9 and _"));
    }
    if entry.code != code {
        return Err(bad("bad_code", "the body's code must match the path"));
    }
    entry.label =
        accounts::clean_name(&entry.label, "a label", 80).map_err(|e| bad("bad_label", e.to_string()))?;
    if entry.hotkey.is_some_and(|k| !(1..=9).contains(&k)) {
        return Err(bad("bad_hotkey", "a hotkey is 1 to 9"));
    }
    let all = state
        .repo()
        .write(
            move |tx| -> Result<Result<Vec<DispositionEntry>, ApiFailure>, db::DbError> {
                if let Some(k) = entry.hotkey
                    && entry.active
                    && admin::catalogue(tx)?
                        .iter()
                        .any(|d| d.active && d.code != entry.code && d.hotkey == Some(k))
                {
                    return Ok(Err(ApiFailure::Taken {
                        code: "hotkey_taken",
                        message: format!("another active disposition uses hotkey {k}"),
                    }));
                }
                admin::put_disposition(tx, &entry)?;
                Ok(Ok(admin::catalogue(tx)?))
            },
        )
        .await??;
    Ok(Json(all))
}
