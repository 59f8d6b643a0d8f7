//! Operations endpoints and middleware: liveness, readiness, Prometheus metrics, request ids,
//! compression, CORS.

use crate::common::{TestDb, client};

async fn body(res: reqwest::Response) -> String {
    res.text().await.unwrap()
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let base = server.base_url();
    let http = client();

    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    let res = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ready: serde_json::Value = res.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert!(ready["schema_version"].as_i64().unwrap() >= 4, "{ready}");

    // A request to a templated route is counted under its template, never its raw path.
    let lead = leadline_model::new_id();
    let tok = server
        .state()
        .keys()
        .issue(&db.user("priya"), chrono::Utc::now())
        .unwrap();
    let res = http
        .get(format!("{base}/api/v1/leads/{lead}"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = body(res).await;
    assert!(
        text.contains(
            r#"leadline_http_requests_total{method="GET",route="/api/v1/leads/{id}",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("leadline_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        !text.contains(&lead.to_string()),
        "a raw path leaked into the metrics"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn readiness_fails_when_the_schema_is_behind() {
    let db = TestDb::copy_of_seeded("ops-schema");
    let server = db.start().await;
    let base = server.base_url();
    // Pretend a migration is missing.
    match &db.database {
        leadline_server::db::DbConfig::Sqlite(_) => {
            db.query("PRAGMA user_version = 1", vec![]);
        }
        leadline_server::db::DbConfig::Postgres(_) => {
            db.query("DELETE FROM schema_migrations WHERE version > 1", vec![]);
        }
    }
    let res = client().get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let ready: serde_json::Value = res.json().await.unwrap();
    assert_eq!(ready["reason"], "schema_version_mismatch");
    assert_eq!(ready["schema_version"], 1);
    // Liveness does not depend on the database.
    let res = client().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn request_ids_are_set_or_kept_and_large_answers_are_compressed() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let base = server.base_url();
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    let tok = server
        .state()
        .keys()
        .issue(&db.user("priya"), chrono::Utc::now())
        .unwrap();

    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let res = http
        .get(format!("{base}/healthz"))
        .header("x-request-id", "proxy-given-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "proxy-given-42");

    let res = http
        .get(format!("{base}/api/v1/leads?limit=200"))
        .bearer_auth(&tok)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let compressed = res.bytes().await.unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut plain).unwrap();
    let page: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert!(!page["leads"].as_array().unwrap().is_empty());
    assert!(
        compressed.len() * 2 < plain.len(),
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let db = TestDb::seeded();
    let mut config = db.config();
    config.cors_origins = vec!["https://crm.example.com".to_owned()];
    let server = leadline_server::start(&config).await.unwrap();
    let base = server.base_url();
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, format!("{base}/api/v1/leads"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let res = preflight("https://crm.example.com").await.unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://crm.example.com"
    );
    let res = preflight("https://evil.example").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Without configured origins there is no CORS at all.
    let plain = db.start().await;
    let res = client()
        .get(format!("{}/healthz", plain.base_url()))
        .header("origin", "https://crm.example.com")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    server.stop().await.unwrap();
    plain.stop().await.unwrap();
}
