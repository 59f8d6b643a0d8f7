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
use crate::api::{ApiFailure, AuthUser, bad, parse_path_id};
use crate::auth::hash_password_gated;
use crate::db::{self, admin};

/// Shortest password an administrator may set.
pub const MIN_PASSWORD_LEN: usize = 10;

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

fn clean_name(text: &str, what: &'static str, code: &'static str, max: usize) -> Result<String, ApiFailure> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(bad(
            code,
            format!("{what} must be 1 to {max} printable characters"),
        ));
    }
    Ok(t.to_owned())
}

fn check_password(password: &str) -> Result<(), ApiFailure> {
    if password.chars().count() < MIN_PASSWORD_LEN || password.len() > 1024 {
        return Err(bad(
            "bad_password",
            format!("a password has at least {MIN_PASSWORD_LEN} characters (and at most 1024 bytes)"),
        ));
    }
    Ok(())
}

async fn hash(password: String) -> Result<String, ApiFailure> {
    hash_password_gated(password)
        .await
        .map_err(|e| ApiFailure::Internal(e.to_string()))
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
    let req = json(body)?;
    let username = req.username.trim().to_lowercase();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(bad(
            "bad_username",
            "a username is 1 to 64 letters, digits, dots, dashes or underscores",
        ));
    }
    let name = clean_name(&req.name, "a name", "bad_name", 120)?;
    check_password(&req.password)?;
    let team = req
        .team
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    if req.role == Role::Supervisor && team.is_none() {
        return Err(bad("bad_team", "a supervisor needs a team"));
    }
    let password_hash = hash(req.password).await?;
    let account = User {
        id: leadline_model::new_id(),
        username,
        name,
        role: req.role,
        team,
    };
    let created = state
        .repo()
        .write(
            move |tx| -> Result<Result<UserAccount, ApiFailure>, db::DbError> {
                if admin::username_taken(tx, &account.username)? {
                    return Ok(Err(ApiFailure::Taken {
                        code: "username_taken",
                        message: format!("the username {:?} is taken", account.username),
                    }));
                }
                if let Some(t) = &account.team
                    && !admin::team_exists(tx, t)?
                {
                    return Ok(Err(bad(
                        "unknown_team",
                        format!("no team {t:?}; create it first"),
                    )));
                }
                db::insert_user(tx, &account, &password_hash, &chrono::Utc::now())?;
                admin::account(tx, &account.id)?
                    .ok_or(db::DbError::NotFound("user"))
                    .map(Ok)
            },
        )
        .await??;
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
            .map(|n| clean_name(n, "a name", "bad_name", 120))
            .transpose()?,
        role: patch.role,
        team: patch
            .team
            .map(|t| t.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())),
        active: patch.active,
        password_hash: None,
    };
    if let Some(password) = patch.password {
        check_password(&password)?;
        change.password_hash = Some(hash(password).await?);
    }
    let by = user.id;
    let updated = state
        .repo()
        .write(
            move |tx| -> Result<Result<UserAccount, ApiFailure>, db::DbError> {
                if let Some(Some(t)) = &change.team
                    && !admin::team_exists(tx, t)?
                {
                    return Ok(Err(bad(
                        "unknown_team",
                        format!("no team {t:?}; create it first"),
                    )));
                }
                Ok(admin::change_account(tx, &id, &change, &by, &chrono::Utc::now())?
                    .ok_or(ApiFailure::Missing("user")))
            },
        )
        .await??;
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
    let name = clean_name(&json(body)?.name, "a team name", "bad_name", 80)?;
    let created = {
        let name = name.clone();
        state
            .repo()
            .write(move |tx| admin::create_team(tx, &name, &chrono::Utc::now()))
            .await?
    };
    if !created {
        return Err(ApiFailure::Taken {
            code: "team_exists",
            message: format!("the team {name:?} exists already"),
        });
    }
    Ok((StatusCode::CREATED, Json(state.repo().read(admin::teams).await?)))
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
    entry.label = clean_name(&entry.label, "a label", "bad_label", 80)?;
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
