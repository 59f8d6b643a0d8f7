//! Route groups beyond the core ones in [`crate::api`]: each module owns one resource (its handlers and
//! request/response types) and exposes `routes()`, merged here. Storage code for a group lives in the
//! matching `crate::db` submodule.

pub mod admin;
pub mod analytics;
pub mod events;
pub mod integrations;
pub mod presence;
pub mod privacy;
pub mod supervise;
pub mod updates;
pub mod writes;

use axum::Router;

use crate::AppState;

/// Every route group, merged; [`crate::router`] adds the core routes, rate limits and tracing.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(admin::routes())
        .merge(analytics::routes())
        .merge(integrations::routes())
        .merge(events::routes())
        .merge(presence::routes())
        .merge(privacy::routes())
        .merge(supervise::routes())
        .merge(updates::routes())
        .merge(writes::routes())
}
