//! The API against a real database (SQLite or PostgreSQL, see `common::backend`) and an in-process server
//! on 127.0.0.1:0, driven with reqwest.

use std::collections::HashSet;

use super::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadline_model::auth::ApiError;
use leadline_model::sync::{Change, Cursor, PROTOCOL_VERSION};
use leadline_model::{Id, LoginRequest, LoginResponse, Role, default_catalogue};
use leadline_server::TokenKeys;

async fn login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: username.into(),
            password: password.into(),
            device_id: Some("test-device".into()),
        })
        .send()
        .await
        .expect("login request")
}

async fn api_error(res: reqwest::Response) -> (u16, ApiError) {
    let status = res.status().as_u16();
    (status, res.json().await.expect("ApiError body"))
}

fn ids_where(db: &TestDb, sql: &str) -> HashSet<Id> {
    ids_of(db, sql, vec![]).into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_answers_a_token_and_refuses_wrong_passwords_and_unknown_users_alike() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());

    let (ok, wrong, unknown) = tokio::join!(
        login(&http, &base, "priya", "leadline-demo"),
        login(&http, &base, "priya", "leadline-demo2"),
        login(&http, &base, "nobody-here", "leadline-demo"),
    );
    assert_eq!(ok.status(), 200);
    let body: LoginResponse = ok.json().await.unwrap();
    assert_eq!(body.token_type, "Bearer");
    assert!(body.expires_in > 0 && body.expires_in <= 15 * 60);
    assert_eq!(body.user.username, "priya");
    assert_eq!(body.user.name, "Priya Sharma");
    assert_eq!(body.user.role, Role::Telecaller);
    // The token works.
    let page = pull(&http, &base, &body.access_token, &Cursor::start(), 5).await;
    assert_eq!(page.protocol, PROTOCOL_VERSION);

    let (wrong, unknown) = (api_error(wrong).await, api_error(unknown).await);
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong.1.code, "invalid_credentials");
    assert_eq!(
        wrong, unknown,
        "unknown user and wrong password must answer alike"
    );

    // Garbage bodies are a 400, not a panic.
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"username\": 5")
        .send()
        .await
        .unwrap();
    let (status, err) = api_error(res).await;
    assert_eq!((status, err.code.as_str()), (400, "bad_request"));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_missing_tokens_are_refused() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let priya = db.user("priya");
    let good = token(&server, db, "priya");
    assert_eq!(
        http.get(format!("{base}/api/v1/sync/pull"))
            .bearer_auth(&good)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let other_keys = TokenKeys::new(
        b"another-secret-another-secret-another-secret",
        std::time::Duration::from_secs(900),
    )
    .unwrap();
    let other_secret = other_keys.issue(&priya, chrono::Utc::now()).unwrap();

    // Tampered payload: make priya a supervisor, keep the signature.
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["role"] = "admin".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    // Same claims, "alg":"none", no signature.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let alg_none_sig = format!("{none_header}.{}.{}", parts[1], parts[2]);
    let expired = server
        .state()
        .keys()
        .issue(&priya, chrono::Utc::now() - chrono::Duration::hours(1))
        .unwrap();
    // Validly signed, but for a user that does not exist.
    let mut ghost = priya.clone();
    ghost.id = leadline_model::new_id();
    let ghost = server.state().keys().issue(&ghost, chrono::Utc::now()).unwrap();

    for (what, header) in [
        ("other secret", Some(format!("Bearer {other_secret}"))),
        ("tampered payload", Some(format!("Bearer {tampered}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("alg none with signature", Some(format!("Bearer {alg_none_sig}"))),
        ("expired", Some(format!("Bearer {expired}"))),
        ("unknown user", Some(format!("Bearer {ghost}"))),
        ("garbage", Some("Bearer not.a.jwt".to_owned())),
        ("wrong scheme", Some(format!("Basic {good}"))),
        ("no token", Some("Bearer".to_owned())),
        ("no header", None),
    ] {
        let mut req = http.get(format!("{base}/api/v1/sync/pull"));
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let (status, err) = api_error(req.send().await.unwrap()).await;
        assert_eq!((status, err.code.as_str()), (401, "unauthorized"), "{what}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telecaller_pulls_exactly_their_leads_with_their_history_page_by_page() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let tok = token(&server, db, "priya");

    let (pages, end) = pull_all(&http, &base, &tok, Cursor::start(), 97).await;
    assert!(pages.len() > 3, "a small limit must take several pages");
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page.protocol, PROTOCOL_VERSION);
        assert_eq!(page.has_more, i + 1 < pages.len());
        assert!(
            page.changes.len() <= 97,
            "page {i} has {} changes",
            page.changes.len()
        );
        if i == 0 {
            assert_eq!(page.dispositions, default_catalogue());
        } else {
            assert!(page.dispositions.is_empty(), "catalogue only on the first page");
        }
    }

    let mut leads = Vec::new();
    let mut logs = Vec::new();
    let mut follow_ups = Vec::new();
    for change in pages.iter().flat_map(|p| &p.changes) {
        match change {
            Change::Lead(l) => leads.push(l.id),
            Change::CallLog(c) => logs.push(c.id),
            Change::FollowUp(f) => follow_ups.push(f.id),
            Change::LeadRemoved { .. } => panic!("nothing was removed"),
        }
    }
    let expected_leads = ids_where(
        db,
        "SELECT l.id FROM leads l JOIN users u ON u.id = l.assigned_to WHERE u.username = 'priya'",
    );
    let got: HashSet<Id> = leads.iter().copied().collect();
    assert_eq!(got.len(), leads.len(), "a lead came twice");
    assert_eq!(got, expected_leads);
    assert!(expected_leads.len() > 200);

    let expected_logs = ids_where(
        db,
        "SELECT c.id FROM call_logs c JOIN leads l ON l.id = c.lead_id JOIN users u ON u.id = l.assigned_to
         WHERE u.username = 'priya'",
    );
    let got_logs: HashSet<Id> = logs.iter().copied().collect();
    assert_eq!(got_logs.len(), logs.len(), "a call log came twice");
    assert_eq!(got_logs, expected_logs);
    let expected_fu = ids_where(
        db,
        "SELECT f.id FROM follow_ups f JOIN leads l ON l.id = f.lead_id JOIN users u ON u.id = l.assigned_to
         WHERE u.username = 'priya'",
    );
    assert_eq!(follow_ups.iter().copied().collect::<HashSet<_>>(), expected_fu);
    assert_eq!(follow_ups.len(), expected_fu.len());
    assert_leads_precede_their_rows(&pages, &[]);

    // Caught up: the same cursor, nothing more.
    let again = pull(&http, &base, &tok, &end, 97).await;
    assert!(again.changes.is_empty() && !again.has_more);
    assert_eq!(again.next_cursor, end);

    // One big page gives the same set.
    let (big, _) = pull_all(&http, &base, &tok, Cursor::start(), 2000).await;
    let big_leads: HashSet<Id> = big
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Lead(l) => Some(l.id),
            _ => None,
        })
        .collect();
    assert_eq!(big_leads, expected_leads);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_pulls_the_whole_team() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let tok = token(&server, db, "meera");
    let (pages, _) = pull_all(&http, &base, &tok, Cursor::start(), 2000).await;
    let mut leads = HashSet::new();
    let mut logs = 0;
    for change in pages.iter().flat_map(|p| &p.changes) {
        match change {
            Change::Lead(l) => assert!(leads.insert(l.id), "lead {} twice", l.id),
            Change::CallLog(_) => logs += 1,
            _ => {}
        }
    }
    let expected = ids_where(
        db,
        "SELECT l.id FROM leads l WHERE l.team = 'Bandra Showroom'
           OR l.assigned_to IN (SELECT id FROM users WHERE team = 'Bandra Showroom')",
    );
    assert_eq!(leads, expected);
    // Every demo lead is the showroom's, unassigned ones included.
    assert_eq!(leads.len(), 2000);
    assert!(
        pages
            .iter()
            .flat_map(|p| &p.changes)
            .any(|c| matches!(c, Change::Lead(l) if l.assigned_to.is_none()))
    );
    assert_eq!(logs, 5000);
    assert_leads_precede_their_rows(&pages, &[]);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cursors_and_limits_are_400_and_big_limits_are_clamped() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let tok = token(&server, db, "meera");
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let long = "A".repeat(5000);
    for (cursor, limit, code) in [
        ("zzz!", "10", "bad_cursor"),
        (&b64("v2:10"), "10", "bad_cursor"),
        (&b64("v1:-5"), "10", "bad_cursor"),
        (&b64("v1:abc"), "10", "bad_cursor"),
        (&b64("v1:99999999999999999999999"), "10", "bad_cursor"),
        (long.as_str(), "10", "bad_cursor"),
        ("", "0", "bad_limit"),
        ("", "-1", "bad_limit"),
        ("", "lots", "bad_limit"),
    ] {
        let res = http
            .get(format!("{base}/api/v1/sync/pull"))
            .bearer_auth(&tok)
            .query(&[("cursor", cursor), ("limit", limit)])
            .send()
            .await
            .unwrap();
        let (status, err) = api_error(res).await;
        assert_eq!(
            (status, err.code.as_str()),
            (400, code),
            "cursor {cursor:.40} limit {limit}"
        );
    }
    let page = pull(&http, &base, &tok, &Cursor::start(), 1_000_000).await;
    assert_eq!(page.changes.len(), leadline_server::MAX_PULL_LIMIT as usize);
    assert!(page.has_more);
    // No limit: the default.
    let res = http
        .get(format!("{base}/api/v1/sync/pull"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    let page: leadline_model::sync::PullPage = res.json().await.unwrap();
    assert_eq!(page.changes.len(), leadline_server::DEFAULT_PULL_LIMIT as usize);

    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );
    let (status, err) = api_error(http.get(format!("{base}/api/v1/nope")).send().await.unwrap()).await;
    assert_eq!((status, err.code.as_str()), (404, "not_found"));
    server.stop().await.unwrap();
}

/// Simulates an edit of a lead made after its calls were logged: a new seq and version.
fn touch_lead(tx: &mut leadline_server::db::Tx<'_>, lead_id: &Id) -> Result<(), leadline_server::DbError> {
    tx.execute("UPDATE change_seq SET value = value + 1 WHERE id = 1", &[])?;
    tx.execute(
        "UPDATE leads SET seq = (SELECT value FROM change_seq WHERE id = 1), version = version + 1
         WHERE id = $1",
        &[lead_id.hyphenated().to_string().into()],
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassignment_and_late_lead_edits_keep_leads_ahead_of_their_history() {
    let db = TestDb::copy_of_seeded("reassign");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let (priya_tok, arjun_tok) = (token(&server, &db, "priya"), token(&server, &db, "arjun"));
    let (priya, arjun) = (db.user("priya"), db.user("arjun"));

    let (_, priya_cursor) = pull_all(&http, &base, &priya_tok, Cursor::start(), 2000).await;
    let (arjun_pages, arjun_cursor) = pull_all(&http, &base, &arjun_tok, Cursor::start(), 2000).await;
    let arjun_known: Vec<Id> = arjun_pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Lead(l) => Some(l.id),
            _ => None,
        })
        .collect();

    // A lead of priya's with the most calls moves to arjun.
    let (moved, calls): (Id, i64) = {
        let rows = db.query(
            "SELECT l.id, count(c.id) FROM leads l JOIN call_logs c ON c.lead_id = l.id
             WHERE l.assigned_to = $1 GROUP BY l.id ORDER BY count(c.id) DESC, l.id LIMIT 1",
            vec![priya.id.hyphenated().to_string().into()],
        );
        (
            Id::parse_str(&rows[0].get::<String>(0).unwrap()).unwrap(),
            rows[0].get(1).unwrap(),
        )
    };
    assert!(calls > 1);
    let lead = server
        .state()
        .repo()
        .assign_lead(moved, Some(arjun.id), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(lead.assigned_to, Some(arjun.id));

    let (priya_pages, _) = pull_all(&http, &base, &priya_tok, priya_cursor, 3).await;
    let priya_changes: Vec<&Change> = priya_pages.iter().flat_map(|p| &p.changes).collect();
    assert_eq!(
        priya_changes,
        vec![&Change::LeadRemoved {
            lead_id: moved,
            erased_at: None
        }]
    );

    // Arjun gets the lead first, then all of its calls, even with tiny pages.
    let (arjun_pages, _) = pull_all(&http, &base, &arjun_tok, arjun_cursor, 2).await;
    assert_leads_precede_their_rows(&arjun_pages, &arjun_known);
    let arjun_changes: Vec<&Change> = arjun_pages.iter().flat_map(|p| &p.changes).collect();
    assert!(matches!(arjun_changes[0], Change::Lead(l) if l.id == moved && l.version == lead.version));
    let got_calls = arjun_changes
        .iter()
        .filter(|c| matches!(c, Change::CallLog(l) if l.lead_id == moved))
        .count();
    assert_eq!(got_calls as i64, calls);

    // Late edits: leads edited after their calls were logged sit after those calls in the feed; a fresh
    // device paging in small steps must still get each lead before its calls.
    let touched: Vec<Id> = ids_of(
        &db,
        "SELECT DISTINCT l.id FROM leads l JOIN call_logs c ON c.lead_id = l.id
         WHERE l.assigned_to = $1 ORDER BY l.id LIMIT 25",
        vec![arjun.id.hyphenated().to_string().into()],
    );
    assert_eq!(touched.len(), 25);
    let to_touch = touched.clone();
    db.tx(move |tx| {
        for id in &to_touch {
            touch_lead(tx, id)?;
        }
        Ok(())
    });
    let (fresh_pages, _) = pull_all(&http, &base, &arjun_tok, Cursor::start(), 25).await;
    assert_leads_precede_their_rows(&fresh_pages, &[]);
    // The edited leads were sent ahead of their calls and again at their own position.
    let sent_twice = touched
        .iter()
        .filter(|id| {
            fresh_pages
                .iter()
                .flat_map(|p| &p.changes)
                .filter(|c| matches!(c, Change::Lead(l) if l.id == **id))
                .count()
                >= 2
        })
        .count();
    assert!(sent_twice > 0, "the early-lead path was not exercised");
    let fresh_leads: HashSet<Id> = fresh_pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Lead(l) => Some(l.id),
            _ => None,
        })
        .collect();
    let expected = ids_where(
        &db,
        &format!(
            "SELECT id FROM leads WHERE assigned_to = '{}'",
            arjun.id.hyphenated()
        ),
    );
    assert_eq!(fresh_leads, expected);
    server.stop().await.unwrap();
}
