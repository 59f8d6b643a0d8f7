//! A fake Google for tests and local runs: the OAuth token endpoint (checks the service account's RS256
//! assertion: issuer, audience, scope) and the Sheets API v4 `values` endpoint, speaking Google's wire
//! format. Three spreadsheets: `sheet-ok` (four rows: a Devanagari name, a row without a city, a blank
//! row, a number written the Indian way), `forbidden` (403 `PERMISSION_DENIED`), anything else 404.
//!
//! The caller gives the service account's key pair (the tests' throwaway one is in
//! `tests/fixtures/THROWAWAY-test-only-service-account-key*.pem`); nothing here holds a key.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Form, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;

use crate::SheetsSettings;

/// The fake service account's e-mail (the assertion's issuer).
pub const CLIENT_EMAIL: &str = "leadline-importer@leadline-test.iam.gserviceaccount.com";

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum FakeGoogleError {
    #[error("the public key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

struct FakeGoogle {
    token_uri: String,
    public_key: DecodingKey,
    tokens: Mutex<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct Assertion {
    scope: String,
}

async fn token(State(g): State<Arc<FakeGoogle>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&g.token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    let ok = form
        .get("assertion")
        .and_then(|a| jsonwebtoken::decode::<Assertion>(a, &g.public_key, &validation).ok())
        .is_some_and(|d| d.claims.scope == super::sheets::SCOPE);
    if !ok {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    }
    let mut tokens = g.tokens.lock().unwrap_or_else(PoisonError::into_inner);
    let token = format!("ya29.fake-{}", tokens.len());
    tokens.push(token.clone());
    Json(json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})).into_response()
}

async fn values(
    State(g): State<Arc<FakeGoogle>>,
    UrlPath((id, _range)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let known = g
        .tokens
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|t| t == bearer);
    if !known {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": 401, "message": "no", "status": "UNAUTHENTICATED"}})),
        )
            .into_response();
    }
    match id.as_str() {
        "sheet-ok" => Json(json!({
            "range": "Leads!A1:D4",
            "majorDimension": "ROWS",
            "values": [
                ["Name", "Phone", "City", "Assigned To"],
                ["आशा", "98765 02345", "Pune", "kavya"],
                ["Vikram", "+91 98200 02345"],
                [],
                ["Neha", "098123 02345", "", ""],
            ]
        }))
        .into_response(),
        "forbidden" => (
            StatusCode::FORBIDDEN,
            Json(
                json!({"error": {"code": 403, "message": "The caller does not have permission",
                "status": "PERMISSION_DENIED"}}),
            ),
        )
            .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"code": 404, "message": "Requested entity was not found.",
                "status": "NOT_FOUND"}}),
            ),
        )
            .into_response(),
    }
}

/// Starts the fake on 127.0.0.1 (a task of the current runtime) and writes the service account's key
/// file into `dir`; answers the server's settings for it.
pub async fn start(
    dir: &Path,
    private_key_pem: &str,
    public_key_pem: &str,
) -> Result<SheetsSettings, FakeGoogleError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let g = Arc::new(FakeGoogle {
        token_uri: format!("{base}/token"),
        public_key: DecodingKey::from_rsa_pem(public_key_pem.as_bytes())?,
        tokens: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/v4/spreadsheets/{id}/values/{range}", get(values))
        .with_state(g);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let key = json!({
        "type": "service_account",
        "project_id": "leadline-test",
        "private_key_id": "throwaway-test-key",
        "private_key": private_key_pem,
        "client_email": CLIENT_EMAIL,
        "token_uri": format!("{base}/token"),
    });
    let key_path = dir.join("service-account.json");
    std::fs::write(&key_path, key.to_string())?;
    Ok(SheetsSettings {
        key_path,
        base_url: Some(base),
        token_uri: None,
    })
}
