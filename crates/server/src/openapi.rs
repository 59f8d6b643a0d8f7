//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]` annotations and
//! the wire types' `utoipa::ToSchema` derives (leadline-model's `openapi` feature), served at
//! `GET /api/v1/openapi.json`.
//!
//! # Assembly
//!
//! [`document`] starts from [`CoreApi`] (the routes of [`crate::api`] and [`crate::ops`], and this
//! module's own route), merges one `#[derive(OpenApi)]` struct per route module of [`crate::routes`],
//! then [`finish`]es the whole: title and version, the `bearer` security scheme, and the answers every
//! operation shares (429 with `Retry-After` on rate-limited routes, 401 on authenticated ones, 500).
//!
//! # Adding a route module
//!
//! A new `crate::routes::<name>` module (handlers plus `pub fn routes()`) must also:
//!
//! 1. annotate each handler with `#[utoipa::path(<method>, path = "/api/v1/...", tag = "<name>",
//!    params(...), request_body = ..., responses(...), security(("bearer" = [])))]`, the path exactly as
//!    routed (`{id}` for path parameters, declared in `params` as `uuid::Uuid, Path`), every status the
//!    handler itself answers (400/403/404/409 … with `body = ApiError`); 401, 429 and 500 are added by
//!    [`finish`];
//! 2. declare `#[derive(utoipa::OpenApi)] #[openapi(paths(handler_a, handler_b, ...))] pub struct
//!    <Name>Api;` next to `routes()`. Schemas of request and response bodies are collected
//!    automatically; those referenced only by `params(...)` (an enum query parameter) must be listed in
//!    `components(schemas(...))`. Wire types in leadline-model need
//!    `#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]`;
//! 3. add ONE line to [`document`]: `doc.merge(crate::routes::<name>::<Name>Api::openapi());`.
//!
//! The test `tests/server/openapi.rs` compares the router's routes with the document's operations, so a
//! route that is served but not documented (or documented but not served) fails the build.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{ResponseBuilder, Responses};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Type};
use utoipa::{OpenApi, ToSchema};

/// The path the document is served at.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// The name of the bearer-token security scheme (`security(("bearer" = []))`).
pub const BEARER: &str = "bearer";

/// `GET /healthz` answer.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz` answer (200: `status` = `ready`; 503: `unavailable` with a `reason`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// `sqlite` or `postgres` (ready only).
    pub database: Option<String>,
    /// The database's schema version.
    pub schema_version: Option<i64>,
    /// The version this binary expects (schema mismatch only).
    pub expected_schema_version: Option<i64>,
    /// `schema_version_mismatch` or `database_unreachable` (unavailable only).
    pub reason: Option<String>,
}

/// The routes of [`crate::api`] and [`crate::ops`], and the document itself.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Leadline API",
        description = "Leadline's central API: sign-in and device sessions, the sync change feed, leads, \
                       analytics. Errors answer `{code, message}` (`ApiError`) with a stable `code`."
    ),
    paths(
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::ops::version,
        openapi_json,
        crate::api::login,
        crate::api::refresh,
        crate::api::logout,
        crate::api::list_sessions,
        crate::api::revoke_session,
        crate::api::pull,
        crate::api::list_leads,
        crate::api::get_lead,
    ),
    components(schemas(
        leadline_model::auth::ApiError,
        leadline_model::LeadStatus,
        leadline_model::LeadPriority,
        leadline_model::LeadSource,
        leadline_model::LeadSort
    )),
    tags(
        (name = "ops", description = "Liveness, readiness, metrics, this document"),
        (name = "auth", description = "Sign-in, token refresh, sign-out, device sessions"),
        (name = "sync", description = "The change feed the desktop pulls"),
        (name = "leads", description = "Lead lists and single leads"),
        (name = "analytics", description = "Figures, leaderboard, hourly series, daily goals"),
    )
)]
pub struct CoreApi;

/// The whole document: [`CoreApi`] plus every route module's, [`finish`]ed.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = CoreApi::openapi();
    doc.merge(crate::routes::analytics::AnalyticsApi::openapi());
    doc.merge(crate::routes::writes::WritesApi::openapi());
    doc.merge(crate::routes::supervise::SuperviseApi::openapi());
    doc.merge(crate::routes::admin::AdminApi::openapi());
    doc.merge(crate::routes::events::EventsApi::openapi());
    doc.merge(crate::routes::integrations::IntegrationsApi::openapi());
    doc.merge(crate::routes::presence::PresenceApi::openapi());
    doc.merge(crate::routes::updates::UpdatesApi::openapi());
    doc.merge(crate::routes::privacy::PrivacyApi::openapi());
    // One line per route module, e.g. `doc.merge(crate::routes::writes::WritesApi::openapi());`
    finish(&mut doc);
    doc
}

fn api_error_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ApiError")))
        .build()
}

fn add_response(
    responses: &mut Responses,
    status: &str,
    response: impl Into<RefOr<utoipa::openapi::Response>>,
) {
    responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| response.into());
}

fn is_authenticated(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|reqs| {
        reqs.iter()
            .any(|r| serde_json::to_value(r).is_ok_and(|v| v.get(BEARER).is_some()))
    })
}

/// Completes a merged document: info version, the bearer scheme, and the shared answers.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    doc.info.title = "Leadline API".to_owned();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "The `access_token` of `POST /api/v1/auth/login` or `/refresh`, as \
                     `Authorization: Bearer <token>`.",
                ))
                .build(),
        ),
    );
    let retry_after = HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)),
        ))
        .description(Some("Whole seconds to wait before retrying (at least 1)."))
        .build();
    let rate_limited = ResponseBuilder::new()
        .description("Over the rate limit (`rate_limited`): retry after `Retry-After` seconds.")
        .header("Retry-After", retry_after)
        .content("application/json", api_error_content())
        .build();
    let unauthorized = ResponseBuilder::new()
        .description(
            "Missing, malformed, forged or expired access token, or a revoked session (`unauthorized`).",
        )
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some("`Bearer`"))
                .build(),
        )
        .content("application/json", api_error_content())
        .build();
    let internal = ResponseBuilder::new()
        .description("The server failed (storage unreachable …): `internal`.")
        .content("application/json", api_error_content())
        .build();
    for (path, item) in doc.paths.paths.iter_mut() {
        let limited = !crate::ratelimit::UNLIMITED_PATHS.contains(&path.as_str());
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for op in ops.into_iter().flatten() {
            if limited {
                add_response(&mut op.responses, "429", rate_limited.clone());
            }
            if is_authenticated(op) {
                add_response(&mut op.responses, "401", unauthorized.clone());
            }
            if path.starts_with("/api/") && path != OPENAPI_PATH {
                add_response(&mut op.responses, "500", internal.clone());
            }
        }
    }
}

/// The document as JSON, built once per process.
fn document_json() -> Option<&'static str> {
    static JSON: OnceLock<Option<String>> = OnceLock::new();
    JSON.get_or_init(|| match document().to_json() {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::error!(error = %e, "serializing the OpenAPI document failed");
            None
        }
    })
    .as_deref()
}

/// `GET /api/v1/openapi.json`: this document (no token needed).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "ops",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json",
         body = serde_json::Value),
    )
)]
pub async fn openapi_json() -> Response {
    match document_json() {
        Some(text) => {
            let mut response = text.to_owned().into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
