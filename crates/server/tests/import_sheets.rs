//! The Google Sheets import client against a fake Google (OAuth token endpoint + Sheets API v4 values
//! endpoint) on 127.0.0.1, speaking Google's wire format. The fake verifies the RS256 assertion with the
//! public half of the throwaway key pair in `tests/fixtures/`.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use leadline_server::import::sheets::{SCOPE, ServiceAccountKey, SheetsClient, SheetsError};
use leadline_server::import::{ImportOptions, IssueKind};
use serde::Deserialize;
use serde_json::json;

const CLIENT_EMAIL: &str = "leadline-importer@leadline-test.iam.gserviceaccount.com";

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Fake {
    token_uri: String,
    public_key: DecodingKey,
    token_requests: AtomicUsize,
    values_requests: AtomicUsize,
    /// The lifetime the token endpoint announces.
    expires_in: AtomicU64,
    /// Tokens the values endpoint accepts.
    valid_tokens: Mutex<Vec<String>>,
    /// Ranges the values endpoint was asked for (decoded).
    ranges: Mutex<Vec<String>>,
}

#[derive(Deserialize)]
struct AssertionClaims {
    scope: String,
}

fn oauth_error(description: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": description})),
    )
        .into_response()
}

async fn token(State(fake): State<Arc<Fake>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let n = fake.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("no assertion".into());
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&fake.token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims = match jsonwebtoken::decode::<AssertionClaims>(assertion, &fake.public_key, &validation) {
        Ok(data) => data.claims,
        Err(e) => return oauth_error(format!("Invalid JWT: {e}")),
    };
    if claims.scope != SCOPE {
        return oauth_error(format!("bad scope {}", claims.scope));
    }
    let access_token = format!("ya29.fake-{n}");
    fake.valid_tokens.lock().unwrap().push(access_token.clone());
    Json(json!({
        "access_token": access_token,
        "expires_in": fake.expires_in.load(Ordering::SeqCst),
        "token_type": "Bearer",
    }))
    .into_response()
}

fn google_error(status: StatusCode, message: &str, google_status: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": message, "status": google_status}})),
    )
        .into_response()
}

async fn values(
    State(fake): State<Arc<Fake>>,
    Path((id, range)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    fake.values_requests.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !fake.valid_tokens.lock().unwrap().iter().any(|t| t == bearer) {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials.",
            "UNAUTHENTICATED",
        );
    }
    fake.ranges.lock().unwrap().push(range.clone());
    match id.as_str() {
        "sheet-ok" => Json(json!({
            "range": "'Leads 2026'!A1:D4",
            "majorDimension": "ROWS",
            "values": [
                ["Name", "Phone", "City", "Status"],
                ["Asha", "98765 43210", "Pune", "new"],
                ["Vikram", "+91 98200 12345"],
                [],
                ["Neha", "098123 45678", "", "hot lead"],
            ]
        }))
        .into_response(),
        "sheet-offset" => Json(json!({
            "range": "Leads!B5:C8",
            "majorDimension": "ROWS",
            "values": [["Customer Name", "Mobile"], ["Asha", "98765 43210"], ["Bad", "12"], ["Asha again", 919876543210_u64]]
        }))
        .into_response(),
        "sheet-empty" => Json(json!({"range": "Leads!A1:Z1000", "majorDimension": "ROWS"})).into_response(),
        "forbidden" => google_error(
            StatusCode::FORBIDDEN,
            "The caller does not have permission",
            "PERMISSION_DENIED",
        ),
        "garbage" => (StatusCode::OK, "<html>this is not JSON</html>").into_response(),
        _ => google_error(StatusCode::NOT_FOUND, "Requested entity was not found.", "NOT_FOUND"),
    }
}

async fn start_fake(expires_in: u64) -> (Arc<Fake>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Arc::new(Fake {
        token_uri: format!("{base}/token"),
        public_key: DecodingKey::from_rsa_pem(
            fixture("THROWAWAY-test-only-service-account-key.pub.pem").as_bytes(),
        )
        .unwrap(),
        token_requests: AtomicUsize::new(0),
        values_requests: AtomicUsize::new(0),
        expires_in: AtomicU64::new(expires_in),
        valid_tokens: Mutex::new(Vec::new()),
        ranges: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/v4/spreadsheets/{id}/values/{range}", get(values))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, base)
}

fn client(base: &str, client_email: &str) -> SheetsClient {
    let key = json!({
        "type": "service_account",
        "project_id": "leadline-test",
        "private_key_id": "throwaway-test-key",
        "private_key": fixture("THROWAWAY-test-only-service-account-key.pem"),
        "client_email": client_email,
        "token_uri": format!("{base}/token"),
    });
    let key = ServiceAccountKey::from_json(&key.to_string()).unwrap();
    assert!(
        !format!("{key:?}").contains("PRIVATE KEY"),
        "the key's Debug redacts the secret"
    );
    SheetsClient::new(key).unwrap().with_base_url(base).unwrap()
}

#[tokio::test]
async fn happy_path_with_short_rows_and_sheet_row_numbers() {
    let (fake, base) = start_fake(3600).await;
    let sheets = client(&base, CLIENT_EMAIL);
    let parsed = sheets
        .import_leads("sheet-ok", "Leads 2026!A1:D", &ImportOptions::default())
        .await
        .unwrap();

    assert_eq!(
        fake.ranges.lock().unwrap().as_slice(),
        ["Leads 2026!A1:D"],
        "range sent intact"
    );
    assert_eq!(parsed.report.rows, 3);
    assert_eq!(parsed.report.blank_rows, 1);
    let rows: Vec<(usize, &str, Option<&str>)> = parsed
        .leads
        .iter()
        .map(|l| (l.row, l.phone.as_str(), l.city.as_deref()))
        .collect();
    assert_eq!(
        rows,
        vec![(2, "+919876543210", Some("Pune")), (3, "+919820012345", None)],
        "Vikram's row lacks its trailing cells: they are empty"
    );
    assert_eq!(parsed.report.issues.len(), 1);
    let issue = &parsed.report.issues[0];
    assert_eq!(
        (issue.row, issue.column.as_deref(), issue.value.as_deref()),
        (5, Some("Status"), Some("hot lead"))
    );
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_range_not_starting_at_row_one_keeps_sheet_row_numbers() {
    let (_fake, base) = start_fake(3600).await;
    let sheets = client(&base, CLIENT_EMAIL);
    let parsed = sheets
        .import_leads("sheet-offset", "Leads!B5:C", &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(parsed.leads.iter().map(|l| l.row).collect::<Vec<_>>(), vec![6]);
    let issues: Vec<(usize, IssueKind, Option<usize>)> = parsed
        .report
        .issues
        .iter()
        .map(|i| (i.row, i.kind, i.duplicate_of))
        .collect();
    assert_eq!(
        issues,
        vec![(7, IssueKind::Invalid, None), (8, IssueKind::Duplicate, Some(6))],
        "a numeric cell (919876543210) is read as text and matches row 6"
    );
}

#[tokio::test]
async fn the_token_is_cached_between_fetches() {
    let (fake, base) = start_fake(3600).await;
    let sheets = client(&base, CLIENT_EMAIL);
    let first = sheets.fetch_values("sheet-ok", "A1:D").await.unwrap();
    let second = sheets.fetch_values("sheet-ok", "A1:D").await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.values.len(), 5);
    assert_eq!(fake.values_requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        fake.token_requests.load(Ordering::SeqCst),
        1,
        "second fetch reused the token"
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_replaced() {
    // 30 s is inside the refresh margin: the token must not be reused.
    let (fake, base) = start_fake(30).await;
    let sheets = client(&base, CLIENT_EMAIL);
    sheets.fetch_values("sheet-ok", "A1:D").await.unwrap();
    sheets.fetch_values("sheet-ok", "A1:D").await.unwrap();
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_google_rejects_is_refreshed_once() {
    let (fake, base) = start_fake(3600).await;
    let sheets = client(&base, CLIENT_EMAIL);
    sheets.fetch_values("sheet-ok", "A1:D").await.unwrap();
    // Google expires or revokes the token early.
    fake.valid_tokens.lock().unwrap().clear();
    sheets.fetch_values("sheet-ok", "A1:D").await.unwrap();
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        fake.values_requests.load(Ordering::SeqCst),
        3,
        "one 401, then the retry"
    );
}

#[tokio::test]
async fn google_errors_are_typed() {
    let (_fake, base) = start_fake(3600).await;
    let sheets = client(&base, CLIENT_EMAIL);
    match sheets.fetch_values("forbidden", "A1:D").await {
        Err(e @ SheetsError::PermissionDenied { .. }) => {
            assert!(
                e.to_string().contains("The caller does not have permission"),
                "{e}"
            );
            assert_eq!(e.code(), "sheets_permission_denied");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sheets.fetch_values("missing", "A1:D").await,
        Err(SheetsError::NotFound { .. })
    ));
    match sheets.fetch_values("garbage", "A1:D").await {
        Err(e @ SheetsError::InvalidResponse { http_status: 200, .. }) => {
            assert!(e.to_string().contains("<html>this is not JSON"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match sheets
        .import_leads("sheet-empty", "A1:Z", &ImportOptions::default())
        .await
    {
        Err(e @ SheetsError::Import(_)) => assert_eq!(e.code(), "import_empty"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refused_sign_in_is_typed() {
    let (fake, base) = start_fake(3600).await;
    let sheets = client(&base, "someone-else@leadline-test.iam.gserviceaccount.com");
    match sheets.fetch_values("sheet-ok", "A1:D").await {
        Err(SheetsError::TokenRefused {
            status: 400,
            error,
            description,
        }) => {
            assert_eq!(error, "invalid_grant");
            assert!(description.unwrap().contains("Invalid JWT"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.values_requests.load(Ordering::SeqCst), 0);
}

#[test]
fn a_key_that_is_not_rsa_pem_is_refused() {
    let key = json!({
        "client_email": CLIENT_EMAIL,
        "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let key = ServiceAccountKey::from_json(&key.to_string()).unwrap();
    assert!(matches!(SheetsClient::new(key), Err(SheetsError::BadKey(_))));
    assert!(matches!(
        ServiceAccountKey::from_json("{}"),
        Err(SheetsError::BadKey(_))
    ));
}
