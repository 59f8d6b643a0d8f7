//! Device sessions: login per device, refresh-token rotation and reuse detection, logout, expiry, and a
//! supervisor listing and revoking a telecaller's sessions. Real database (SQLite or PostgreSQL), in-process
//! server.

use std::time::Duration;

use leadline_model::auth::ApiError;
use leadline_model::{LoginRequest, LoginResponse, SessionInfo};
use leadline_server::demo::DEMO_PASSWORD;
use leadline_server::{RunningServer, ServeConfig};

use super::common::*;

async fn start_with_refresh_ttl(db: &TestDb, refresh_ttl: Duration) -> RunningServer {
    let config = ServeConfig {
        refresh_ttl,
        ..db.config()
    };
    leadline_server::start(&config).await.expect("start server")
}

async fn login(http: &reqwest::Client, base: &str, username: &str, device: &str) -> LoginResponse {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: username.into(),
            password: DEMO_PASSWORD.into(),
            device_id: Some(device.into()),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login {username}");
    res.json().await.unwrap()
}

/// `POST auth/refresh`: the new pair, or the status and error code.
async fn refresh(http: &reqwest::Client, base: &str, token: &str) -> Result<LoginResponse, (u16, String)> {
    let res = http
        .post(format!("{base}/api/v1/auth/refresh"))
        .json(&serde_json::json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    if status == 200 {
        Ok(res.json().await.unwrap())
    } else {
        let err: ApiError = res.json().await.unwrap();
        Err((status, err.code))
    }
}

/// The status of a pull with `token`.
async fn pull_status(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/api/v1/sync/pull"))
        .bearer_auth(token)
        .query(&[("limit", "1")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sessions_of(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    user_id: leadline_model::Id,
) -> Result<Vec<SessionInfo>, u16> {
    let res = http
        .get(format!("{base}/api/v1/users/{user_id}/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    match res.status().as_u16() {
        200 => Ok(res.json().await.unwrap()),
        other => Err(other),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_ends_only_that_devices_session() {
    let db = TestDb::copy_of_seeded("sessions-rotate");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());

    let laptop = login(&http, &base, "priya", "laptop").await;
    let phone = login(&http, &base, "priya", "phone").await;
    assert_ne!(laptop.session_id, phone.session_id);
    assert_ne!(laptop.refresh_token, phone.refresh_token);
    assert_eq!(laptop.refresh_token.len(), 43, "256 bits, base64url");
    assert!(laptop.refresh_expires_in > 24 * 3600);
    let mine = sessions_of(&http, &base, &laptop.access_token, laptop.user.id)
        .await
        .unwrap();
    // (The shared seeded database may hold sessions of other tests' sign-ins too.)
    let find = |list: &[SessionInfo], id| list.iter().find(|s| s.id == id).cloned();
    assert_eq!(
        find(&mine, laptop.session_id).unwrap().device_id.as_deref(),
        Some("laptop")
    );
    assert_eq!(
        find(&mine, phone.session_id).unwrap().device_id.as_deref(),
        Some("phone")
    );

    // Only a hash is stored.
    let stored: Vec<String> = db
        .query("SELECT refresh_hash FROM sessions", vec![])
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    assert!(stored.len() >= 2);
    assert!(!stored.contains(&laptop.refresh_token));

    // Rotate twice: each answer is a new pair of the same session.
    let second = refresh(&http, &base, &laptop.refresh_token).await.unwrap();
    assert_eq!(second.session_id, laptop.session_id);
    assert_ne!(second.refresh_token, laptop.refresh_token);
    assert_eq!(pull_status(&http, &base, &second.access_token).await, 200);
    let third = refresh(&http, &base, &second.refresh_token).await.unwrap();
    assert_eq!(pull_status(&http, &base, &third.access_token).await, 200);

    // Replaying a rotated-away token is reuse: the whole family ends.
    assert_eq!(
        refresh(&http, &base, &laptop.refresh_token).await.unwrap_err(),
        (401, "refresh_reused".to_owned())
    );
    assert_eq!(
        refresh(&http, &base, &third.refresh_token).await.unwrap_err(),
        (401, "invalid_refresh".to_owned()),
        "the newest token of a revoked family"
    );
    assert_eq!(pull_status(&http, &base, &third.access_token).await, 401);
    assert_eq!(pull_status(&http, &base, &laptop.access_token).await, 401);

    // The phone's session is untouched.
    assert_eq!(pull_status(&http, &base, &phone.access_token).await, 200);
    let phone2 = refresh(&http, &base, &phone.refresh_token).await.unwrap();
    assert_eq!(pull_status(&http, &base, &phone2.access_token).await, 200);

    let after = sessions_of(&http, &base, &phone2.access_token, laptop.user.id)
        .await
        .unwrap();
    let revoked = find(&after, laptop.session_id).unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.revoke_reason.as_deref(), Some("refresh_reused"));
    assert!(find(&after, phone.session_id).unwrap().revoked_at.is_none());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_answer_was_lost_may_be_retried_briefly_and_only_by_its_token() {
    let db = TestDb::copy_of_seeded("sessions-retry");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let desk = login(&http, &base, "priya", "desk").await;

    // The answer of this refresh is lost on the way: the desk never sees `lost`, and retries — twice.
    let lost = refresh(&http, &base, &desk.refresh_token).await.unwrap();
    let retry = refresh(&http, &base, &desk.refresh_token).await.unwrap();
    let again = refresh(&http, &base, &desk.refresh_token).await.unwrap();
    assert_eq!(again.session_id, desk.session_id);
    assert_ne!(retry.refresh_token, lost.refresh_token);
    assert_ne!(again.refresh_token, retry.refresh_token);
    assert_eq!(pull_status(&http, &base, &again.access_token).await, 200);
    // The tokens it never received are dead: presenting one is reuse, which ends the session.
    let next = refresh(&http, &base, &again.refresh_token).await.unwrap();
    assert_eq!(pull_status(&http, &base, &next.access_token).await, 200);
    // Once the session moved on, the old token is no retry any more: reuse.
    assert_eq!(
        refresh(&http, &base, &desk.refresh_token).await.unwrap_err(),
        (401, "refresh_reused".to_owned())
    );
    assert_eq!(pull_status(&http, &base, &next.access_token).await, 401);

    // A never-received token presented later (a thief's copy) is reuse too.
    let desk = login(&http, &base, "priya", "desk-2").await;
    let lost = refresh(&http, &base, &desk.refresh_token).await.unwrap();
    let retry = refresh(&http, &base, &desk.refresh_token).await.unwrap();
    assert_eq!(
        refresh(&http, &base, &lost.refresh_token).await.unwrap_err(),
        (401, "refresh_reused".to_owned())
    );
    assert_eq!(pull_status(&http, &base, &retry.access_token).await, 401);

    // Past the grace window a retry is reuse.
    let desk = login(&http, &base, "priya", "desk-3").await;
    let _lost = refresh(&http, &base, &desk.refresh_token).await.unwrap();
    let past = leadline_server::db::ts(
        &(chrono::Utc::now() - leadline_server::db::REFRESH_RETRY_GRACE - chrono::Duration::seconds(1)),
    );
    db.execute(
        "UPDATE used_refresh_tokens SET used_at = $1 WHERE session_id = $2",
        vec![
            past.clone().into(),
            leadline_server::db::id_text(&desk.session_id).into(),
        ],
    );
    db.execute(
        "UPDATE sessions SET last_used_at = $1 WHERE id = $2",
        vec![past.into(), leadline_server::db::id_text(&desk.session_id).into()],
    );
    assert_eq!(
        refresh(&http, &base, &desk.refresh_token).await.unwrap_err(),
        (401, "refresh_reused".to_owned())
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_by_access_token_or_refresh_token_ends_the_session() {
    let db = TestDb::copy_of_seeded("sessions-logout");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());

    let a = login(&http, &base, "arjun", "a").await;
    let b = login(&http, &base, "arjun", "b").await;
    let res = http
        .post(format!("{base}/api/v1/auth/logout"))
        .bearer_auth(&a.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(pull_status(&http, &base, &a.access_token).await, 401);
    assert_eq!(
        refresh(&http, &base, &a.refresh_token).await.unwrap_err(),
        (401, "invalid_refresh".to_owned())
    );
    assert_eq!(pull_status(&http, &base, &b.access_token).await, 200);

    // With only the refresh token (an expired access token, say).
    let res = http
        .post(format!("{base}/api/v1/auth/logout"))
        .json(&serde_json::json!({ "refresh_token": b.refresh_token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(pull_status(&http, &base, &b.access_token).await, 401);

    // Neither: 401.
    let res = http
        .post(format!("{base}/api/v1/auth/logout"))
        .json(&serde_json::json!({ "refresh_token": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_is_refused() {
    let db = TestDb::copy_of_seeded("sessions-expiry");
    let server = start_with_refresh_ttl(&db, Duration::from_secs(1)).await;
    let (base, http) = (server.base_url(), client());
    let s = login(&http, &base, "kavya", "d").await;
    assert!(s.refresh_expires_in <= 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        refresh(&http, &base, &s.refresh_token).await.unwrap_err(),
        (401, "invalid_refresh".to_owned())
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_lists_and_revokes_a_team_members_sessions_and_a_telecaller_cannot() {
    let db = TestDb::copy_of_seeded("sessions-supervisor");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let priya_laptop = login(&http, &base, "priya", "laptop").await;
    let priya_phone = login(&http, &base, "priya", "phone").await;
    let meera = login(&http, &base, "meera", "desk").await;
    let rohit = login(&http, &base, "rohit", "desk").await;
    let priya_id = priya_laptop.user.id;

    let listed = sessions_of(&http, &base, &meera.access_token, priya_id)
        .await
        .unwrap();
    assert!(listed.iter().all(|s| s.user_id == priya_id));
    let ids: Vec<_> = listed.iter().map(|s| s.id).collect();
    assert!(ids.contains(&priya_laptop.session_id) && ids.contains(&priya_phone.session_id));
    assert!(!ids.contains(&meera.session_id));

    // A telecaller cannot list or revoke anyone else's sessions.
    assert_eq!(
        sessions_of(&http, &base, &rohit.access_token, priya_id).await,
        Err(403)
    );
    let res = http
        .post(format!(
            "{base}/api/v1/sessions/{}/revoke",
            priya_phone.session_id
        ))
        .bearer_auth(&rohit.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(pull_status(&http, &base, &priya_phone.access_token).await, 200);

    // The supervisor revokes the phone: its access token stops at once, its refresh token too.
    let res = http
        .post(format!(
            "{base}/api/v1/sessions/{}/revoke",
            priya_phone.session_id
        ))
        .bearer_auth(&meera.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let revoked: SessionInfo = res.json().await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        revoked.revoke_reason,
        Some(format!("revoked_by:{}", meera.user.id))
    );
    assert_eq!(pull_status(&http, &base, &priya_phone.access_token).await, 401);
    assert_eq!(
        refresh(&http, &base, &priya_phone.refresh_token)
            .await
            .unwrap_err(),
        (401, "invalid_refresh".to_owned())
    );
    assert_eq!(pull_status(&http, &base, &priya_laptop.access_token).await, 200);

    // Unknown ids.
    let res = http
        .post(format!(
            "{base}/api/v1/sessions/{}/revoke",
            leadline_model::new_id()
        ))
        .bearer_auth(&meera.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .get(format!("{base}/api/v1/users/not-a-uuid/sessions"))
        .bearer_auth(&meera.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_garbage_refresh_tokens_are_401() {
    let db = TestDb::copy_of_seeded("sessions-garbage");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let real = login(&http, &base, "divya", "d").await;
    let long = "A".repeat(100_000);
    let mut flipped = real.refresh_token.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for token in [
        "",
        " ",
        "null",
        "\u{0}\u{1}",
        "é✓🙂",
        long.as_str(),
        flipped.as_str(),
    ] {
        assert_eq!(
            refresh(&http, &base, token).await.unwrap_err(),
            (401, "invalid_refresh".to_owned()),
            "{:?}",
            token.chars().take(10).collect::<String>()
        );
    }
    // Malformed bodies are 400, never 5xx.
    for body in ["", "{}", "[]", "{\"refresh_token\": 5}", "not json"] {
        let res = http
            .post(format!("{base}/api/v1/auth/refresh"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{body:?}: {}", res.status());
    }
    // The real session still works after all that.
    let next = refresh(&http, &base, &real.refresh_token).await.unwrap();
    assert_eq!(pull_status(&http, &base, &next.access_token).await, 200);
    server.stop().await.unwrap();
}
