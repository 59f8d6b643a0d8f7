//! A person's data on request (admins only; see [`crate::erasure`]):
//!
//! | route | who |
//! |---|---|
//! | `POST /api/v1/privacy/export` | admins: everything held about a lead (by id) or a number, decrypted |
//! | `POST /api/v1/privacy/erase` | admins: erase it; the answer lists what went |
//!
//! The person is named in the JSON body, never in the URL, so phone numbers stay out of access logs.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::post;
use axum::{Json, Router};
use leadline_model::privacy::{ErasureReport, ErasureRequest, ExportRequest, PersonExport};
use leadline_model::{Role, User};

use crate::AppState;
use crate::api::{ApiFailure, AuthUser, bad};
use crate::erasure::{self, PrivacyError};

/// The OpenAPI operations of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(export, erase),
    tags((name = "privacy", description = "A person's data: export and erasure on request (GDPR, DPDP Act)"))
)]
pub struct PrivacyApi;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/privacy/export", post(export))
        .route("/api/v1/privacy/erase", post(erase))
}

fn admin_only(user: &User) -> Result<(), ApiFailure> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiFailure::Forbidden)
    }
}

impl From<PrivacyError> for ApiFailure {
    fn from(e: PrivacyError) -> Self {
        match e {
            PrivacyError::NoSuchLead => ApiFailure::Missing("lead"),
            PrivacyError::BadReason => bad("bad_reason", e.to_string()),
            PrivacyError::ReasonNamesPerson => bad("reason_names_person", e.to_string()),
            PrivacyError::Db(e) => ApiFailure::Db(e),
        }
    }
}

/// `POST /api/v1/privacy/export`
#[utoipa::path(
    post,
    path = "/api/v1/privacy/export",
    tag = "privacy",
    request_body = ExportRequest,
    responses(
        (status = 200, description = "Everything held about the lead, or about every lead with the number \
         (none: an empty list); an erased lead answers when it was erased", body = PersonExport),
        (status = 400, description = "A bad body (`bad_request`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No lead with this id (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn export(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<ExportRequest>, JsonRejection>,
) -> Result<Json<PersonExport>, ApiFailure> {
    admin_only(&user)?;
    let Json(req) = body.map_err(|e| bad("bad_request", e.body_text()))?;
    let out = erasure::export(
        state.repo(),
        &req.person,
        &erasure::user_actor(&user.id),
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(out))
}

/// `POST /api/v1/privacy/erase`
#[utoipa::path(
    post,
    path = "/api/v1/privacy/erase",
    tag = "privacy",
    request_body = ErasureRequest,
    responses(
        (status = 200, description = "Erased (or erased before: `already_erased`); one entry per lead \
         found", body = ErasureReport),
        (status = 400, description = "A bad body (`bad_request`), a bad reason (`bad_reason`), or a reason \
         naming the person (`reason_names_person`)", body = leadline_model::auth::ApiError),
        (status = 403, description = "Not an admin (`forbidden`)", body = leadline_model::auth::ApiError),
        (status = 404, description = "No lead with this id (`not_found`)", body = leadline_model::auth::ApiError),
    ),
    security(("bearer" = []))
)]
async fn erase(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<ErasureRequest>, JsonRejection>,
) -> Result<Json<ErasureReport>, ApiFailure> {
    admin_only(&user)?;
    let Json(req) = body.map_err(|e| bad("bad_request", e.body_text()))?;
    let out = erasure::erase(
        state.repo(),
        &req.person,
        &erasure::user_actor(&user.id),
        &req.reason,
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(out))
}
