//! The client against servers that misbehave: broken JSON, a cursor that never moves, a crash mid-pull,
//! a protocol it does not speak, nobody listening. Each is a typed error; nothing applied is lost and
//! nothing half-applied is kept.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use leadline_model::sync::{Change, Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::*;
use leadline_store::{Clock, LeadPageQuery, Store};
use leadline_sync::SharedStore;
use leadline_sync::{Client, SyncError, pull_all};

type Handler = Arc<dyn Fn(Option<String>) -> Response + Send + Sync>;

/// Serves `/api/v1/sync/pull` with `handler(cursor)` and records every cursor asked for.
async fn serve(handler: Handler) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let app = Router::new()
        .route(
            "/api/v1/sync/pull",
            get(move |Query(q): Query<HashMap<String, String>>| {
                let cursor = q.get("cursor").cloned();
                seen2.lock().unwrap().push(cursor.clone());
                let h = handler.clone();
                async move { h(cursor) }
            }),
        )
        .route(
            "/api/v1/auth/login",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    Json(serde_json::json!({"code": "invalid_credentials", "message": "wrong username or password"})),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn lead(i: u32) -> Lead {
    let now = Utc::now();
    Lead {
        id: new_id(),
        name: format!("Lead {i}"),
        phone: PhoneNumber::parse(&format!("+9198450{i:05}")).unwrap(),
        alternate_phone: None,
        email: None,
        city: None,
        source: LeadSource::Website,
        interest: None,
        budget_inr: None,
        priority: LeadPriority::Normal,
        status: LeadStatus::New,
        tags: vec![],
        assigned_to: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn page(changes: Vec<Change>, next: &str, has_more: bool) -> Response {
    Json(PullPage {
        protocol: PROTOCOL_VERSION,
        changes,
        next_cursor: Cursor(next.into()),
        has_more,
        dispositions: vec![],
        server_time: Utc::now(),
    })
    .into_response()
}

fn client(url: &str) -> Client {
    Client::new(url).unwrap().with_token("token")
}

#[tokio::test]
async fn broken_json_is_a_protocol_error_and_nothing_is_applied() {
    let (url, _) = serve(Arc::new(|_| {
        "{\"protocol\":1,\"changes\":[{\"kind\":\"lead\"".into_response()
    }))
    .await;
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    let err = pull_all(&client(&url), &store).await.unwrap_err();
    assert!(matches!(err, SyncError::Protocol(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(store.lock().count_leads().unwrap(), 0);
    assert!(store.lock().sync_state().unwrap().cursor.is_start());
}

#[tokio::test]
async fn a_lead_with_an_invalid_phone_is_refused_not_stored() {
    let body = serde_json::json!({
        "protocol": 1, "has_more": false, "next_cursor": "c1", "server_time": Utc::now(),
        "changes": [{"kind": "lead", "data": {
            "id": new_id(), "name": "Bad", "phone": "not a number", "source": "website", "priority": "low",
            "status": "new", "created_at": Utc::now(), "updated_at": Utc::now(), "version": 1}}]
    });
    let (url, _) = serve(Arc::new(move |_| Json(body.clone()).into_response())).await;
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    let err = pull_all(&client(&url), &store).await.unwrap_err();
    assert!(err.to_string().contains("not a number"), "{err}");
    assert_eq!(store.lock().count_leads().unwrap(), 0);
}

#[tokio::test]
async fn a_cursor_that_never_moves_stops_the_pull() {
    let (url, seen) = serve(Arc::new(|_| page(vec![], "same", true))).await;
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    // The first page moves from the start to "same"; the second claims more but stays at "same".
    let err = pull_all(&client(&url), &store).await.unwrap_err();
    assert!(matches!(err, SyncError::Protocol(_)), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_server_dying_mid_pull_keeps_the_applied_pages_and_resumes_after_them() {
    let healthy = Arc::new(Mutex::new(false));
    let h = healthy.clone();
    let (url, seen) = serve(Arc::new(move |cursor| match cursor.as_deref() {
        None => page((0..3).map(|i| Change::Lead(lead(i))).collect(), "p1", true),
        Some("p1") if !*h.lock().unwrap() => StatusCode::BAD_GATEWAY.into_response(),
        Some("p1") => page((3..5).map(|i| Change::Lead(lead(i))).collect(), "p2", false),
        Some(other) => panic!("unexpected cursor {other}"),
    }))
    .await;
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    let err = pull_all(&client(&url), &store).await.unwrap_err();
    assert!(matches!(err, SyncError::Server { status: 502, .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(store.lock().count_leads().unwrap(), 3);
    assert_eq!(store.lock().sync_state().unwrap().cursor, Cursor("p1".into()));
    // A first pull of several pages loads without the list indexes; a failed one still builds them.
    assert!(store.lock().deferred_indexes().unwrap().is_empty());
    let plan = store
        .lock()
        .explain_lead_page(&LeadPageQuery::default(), &Clock::new(Utc::now(), 0))
        .unwrap()
        .join(" ");
    assert!(plan.contains("USING INDEX"), "{plan}");

    *healthy.lock().unwrap() = true;
    let report = pull_all(&client(&url), &store).await.unwrap();
    assert_eq!(report.pages, 1);
    assert_eq!(store.lock().count_leads().unwrap(), 5);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [None, Some("p1".into()), Some("p1".into())]
    );
}

#[tokio::test]
async fn another_protocol_version_is_refused() {
    let (url, _) = serve(Arc::new(|_| {
        let mut v = serde_json::to_value(PullPage {
            protocol: PROTOCOL_VERSION,
            changes: vec![Change::Lead(lead(1))],
            next_cursor: Cursor("c".into()),
            has_more: false,
            dispositions: vec![],
            server_time: Utc::now(),
        })
        .unwrap();
        v["protocol"] = 99.into();
        Json(v).into_response()
    }))
    .await;
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    let err = pull_all(&client(&url), &store).await.unwrap_err();
    assert!(err.to_string().contains("99"), "{err}");
    assert_eq!(store.lock().count_leads().unwrap(), 0);
}

#[tokio::test]
async fn wrong_credentials_and_no_server_are_told_apart() {
    let (url, _) = serve(Arc::new(|_| StatusCode::NOT_FOUND.into_response())).await;
    let mut c = Client::new(&url).unwrap();
    assert!(matches!(
        c.login("priya", "wrong", None).await,
        Err(SyncError::InvalidCredentials)
    ));
    assert!(c.token().is_none());

    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let err = c.login("priya", "x", None).await.unwrap_err();
    assert!(matches!(err, SyncError::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());

    assert!(matches!(
        Client::new("ftp://example.com"),
        Err(SyncError::BadUrl(_))
    ));
    assert!(matches!(Client::new("not a url"), Err(SyncError::BadUrl(_))));
    let no_session = Client::new(&url).unwrap();
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    assert!(matches!(
        pull_all(&no_session, &store).await,
        Err(SyncError::Unauthorized)
    ));
}

fn rate_limited(wait_s: u64) -> Response {
    let mut res = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(serde_json::json!({"code": "rate_limited", "message": format!("too many requests; retry in {wait_s} s")})),
    )
        .into_response();
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(wait_s),
    );
    res
}

#[tokio::test]
async fn a_short_rate_limit_wait_is_waited_out_and_the_pull_goes_on() {
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = answered.clone();
    let (url, seen) = serve(Arc::new(move |_cursor| {
        if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            rate_limited(1)
        } else {
            page(vec![Change::Lead(lead(1))], "p1", false)
        }
    }))
    .await;
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    let report = pull_all(&client(&url), &store).await.unwrap();
    assert_eq!(report.leads_upserted, 1);
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "two refusals waited out, then the page"
    );
}

#[tokio::test]
async fn a_rate_limited_pull_is_transient_and_tells_how_long_to_wait() {
    // Longer than the client waits by itself: the error goes to the engine's backoff.
    let wait = leadline_sync::RATE_LIMIT_WAIT_MAX_S + 15;
    let (url, seen) = serve(Arc::new(move |_cursor| rate_limited(wait))).await;
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    let err = pull_all(&client(&url), &store).await.unwrap_err();
    match &err {
        SyncError::Server {
            status,
            code,
            retry_after,
            ..
        } => {
            assert_eq!(
                (*status, code.as_str(), *retry_after),
                (429, "rate_limited", Some(wait))
            );
        }
        other => panic!("expected a 429, got {other:?}"),
    }
    assert!(err.is_transient());
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the client does not wait this long itself"
    );
    assert_eq!(store.lock().count_leads().unwrap(), 0);
}
