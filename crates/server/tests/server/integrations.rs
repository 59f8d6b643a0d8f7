//! Exotel telephony (StatusCallback webhook, click-to-call, recordings) and lead imports (CSV, Google
//! Sheets) over HTTP, against `FakeExotel` and a fake Google, on either database.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use leadline_model::auth::ApiError;
use leadline_model::sync::{Change, Cursor};
use leadline_model::{CallDirection, CallLog, Id, Lead};
use leadline_server::db::integrations::{self as store};
use leadline_server::db::{self};
use leadline_server::exotel::fake::{FAKE_RECORDING, FakeCallback, FakeExotel, FakeExotelConfig};
use leadline_server::exotel::{basic_authorization_header, format_exotel_time};
use leadline_server::sql::Value;
use leadline_server::{ExotelSettings, RunningServer, ServeConfig, SheetsSettings};
use serde_json::{Value as Json_, json};

use super::common::*;

const WEBHOOK_SECRET: &str = "whsec-0123456789abcdef";
const CALLER_ID: &str = "+918047112233";

/// A free port on 127.0.0.1 (the server's public URL must be known before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the server with Exotel pointing at `fake` (or a placeholder account when `None`) and optional
/// Sheets settings.
async fn start(db: &TestDb, fake: Option<&FakeExotel>, sheets: Option<SheetsSettings>) -> RunningServer {
    let port = free_port();
    let exotel = fake.map(|f| ExotelSettings {
        exotel: f.exotel_config(CALLER_ID),
        webhook_secret: WEBHOOK_SECRET.to_owned(),
        webhook_user: "exotel".to_owned(),
        public_url: format!("http://127.0.0.1:{port}"),
    });
    let config = ServeConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        exotel,
        sheets,
        ..db.config()
    };
    leadline_server::start(&config).await.expect("start server")
}

fn token(server: &RunningServer, db: &TestDb, username: &str) -> String {
    server
        .state()
        .keys()
        .issue(&db.user(username), Utc::now())
        .unwrap()
}

/// The first lead (by id) assigned to `username`.
fn lead_of(db: &TestDb, username: &str) -> Lead {
    let user = db.user(username);
    db.tx(move |tx| {
        let id: String = tx.query_scalar(
            "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
            &[Value::from(db::id_text(&user.id))],
        )?;
        Ok(db::lead_by_id(tx, &Id::parse_str(&id).unwrap())?.unwrap())
    })
}

fn call_log(id: Id, lead: &Lead, provider_call_id: Option<&str>) -> CallLog {
    let started = Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap();
    CallLog {
        id,
        lead_id: lead.id,
        telecaller_id: lead.assigned_to.unwrap(),
        direction: CallDirection::Outbound,
        started_at: started,
        answered_at: None,
        ended_at: None,
        duration_s: 0,
        disposition: "interested".to_owned(),
        outcome_tags: vec![],
        notes: "wants a test drive".to_owned(),
        follow_up: None,
        recording_url: None,
        provider_call_id: provider_call_id.map(str::to_owned),
        device_id: Some("desk-1".to_owned()),
        quality: None,
    }
}

/// Writes a call log the way every writer does (new seq, `db::insert_call_log`).
fn insert_log(db: &TestDb, log: CallLog) {
    db.tx(move |tx| {
        let seq = db::reserve_seqs(tx, 1)?;
        db::insert_call_log(tx, &log, &Utc::now(), seq)
    });
}

fn read_log(db: &TestDb, id: Id) -> (CallLog, i64) {
    db.tx(move |tx| {
        let log = store::call_log_by_id(tx, &id)?.unwrap();
        let seq: i64 = tx.query_scalar(
            "SELECT seq FROM call_logs WHERE id = $1",
            &[Value::from(db::id_text(&id))],
        )?;
        Ok((log, seq))
    })
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.scalar::<i64>(sql, vec![])
}

/// A terminal StatusCallback as Exotel sends it with `StatusCallbackContentType=application/json`.
fn callback_json(sid: &str, status: &str, custom: Option<&str>, talk: u32, recording: Option<&str>) -> Json_ {
    let end = Utc.with_ymd_and_hms(2026, 3, 2, 6, 1, 0).unwrap();
    json!({
        "CallSid": sid,
        "EventType": "terminal",
        "Status": status,
        "RecordingUrl": recording,
        "DateCreated": format_exotel_time(end - chrono::Duration::seconds(60)),
        "DateUpdated": format_exotel_time(end + chrono::Duration::seconds(1)),
        "StartTime": format_exotel_time(end - chrono::Duration::seconds(60)),
        "EndTime": format_exotel_time(end),
        "ConversationDuration": talk,
        "Direction": "outbound-api",
        "From": "+919800000001",
        "To": "+919800000002",
        "CustomField": custom,
        "Legs": [{"OnCallDuration": talk + 3, "Status": "completed"}, {"OnCallDuration": talk, "Status": status}],
    })
}

async fn post_callback(base: &str, secret: &str, body: &Json_) -> reqwest::Response {
    client()
        .post(format!("{base}/api/v1/webhooks/exotel/status/{secret}"))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn error_code(res: reqwest::Response) -> String {
    res.json::<ApiError>().await.unwrap().code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_requires_the_secret_or_basic_credentials() {
    let db = TestDb::copy_of_seeded("exotel-webhook-auth");
    let fake = FakeExotel::start(FakeExotelConfig::default()).await.unwrap();
    let server = start(&db, Some(&fake), None).await;
    let base = server.base_url();
    let body = callback_json("sid-auth-1", "completed", None, 10, None);

    let res = post_callback(&base, "whsec-0123456789abcdeX", &body).await;
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(res).await, "unauthorized");
    let res = post_callback(&base, "", &body).await;
    assert!(
        matches!(res.status().as_u16(), 401 | 404 | 405),
        "{}",
        res.status()
    );
    // The path without a secret needs Basic credentials.
    let http = client();
    let url = format!("{base}/api/v1/webhooks/exotel/status");
    let res = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = http
        .post(&url)
        .header(
            "authorization",
            basic_authorization_header("exotel", "wrong-secret-123456"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        count(&db, "SELECT count(*) FROM exotel_callbacks"),
        0,
        "nothing stored"
    );

    let res = http
        .post(&url)
        .header(
            "authorization",
            basic_authorization_header("exotel", WEBHOOK_SECRET),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = post_callback(
        &base,
        WEBHOOK_SECRET,
        &callback_json("sid-auth-2", "failed", None, 0, None),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Json_>().await.unwrap()["outcome"], "pending");
    assert_eq!(count(&db, "SELECT count(*) FROM exotel_callbacks"), 2);

    // Garbage is refused (400), over 64 KiB is 413.
    let res = http
        .post(format!("{url}/{WEBHOOK_SECRET}"))
        .header("content-type", "application/json")
        .body("{\"Status\": \"completed\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "bad_callback");
    let res = http
        .post(format!("{url}/{WEBHOOK_SECRET}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "CallSid=x&Status=completed&Pad={}",
            "a".repeat(70 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    server.stop().await.unwrap();
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telephony_endpoints_answer_503_when_exotel_is_not_configured() {
    let db = TestDb::copy_of_seeded("exotel-unconfigured");
    let server = start(&db, None, None).await;
    let base = server.base_url();
    let res = post_callback(
        &base,
        WEBHOOK_SECRET,
        &callback_json("s", "completed", None, 1, None),
    )
    .await;
    assert_eq!(res.status(), 503);
    assert_eq!(error_code(res).await, "telephony_not_configured");
    let lead = lead_of(&db, "priya");
    let res = client()
        .post(format!("{base}/api/v1/calls/click-to-call"))
        .bearer_auth(token(&server, &db, "priya"))
        .json(&json!({"lead_id": lead.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(error_code(res).await, "telephony_not_configured");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_callback_has_one_effect() {
    let db = TestDb::copy_of_seeded("exotel-replay");
    let fake = FakeExotel::start(FakeExotelConfig::default()).await.unwrap();
    let server = start(&db, Some(&fake), None).await;
    let base = server.base_url();
    let lead = lead_of(&db, "priya");
    let log_id = leadline_model::new_id();
    insert_log(&db, call_log(log_id, &lead, Some("sid-replay")));
    let (_, seq_before) = read_log(&db, log_id);

    let body = callback_json(
        "sid-replay",
        "completed",
        None,
        42,
        Some("https://rec.example/a.mp3"),
    );
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let res = post_callback(&base, WEBHOOK_SECRET, &body).await;
        assert_eq!(res.status(), 200);
        outcomes.push(res.json::<Json_>().await.unwrap());
    }
    assert_eq!(outcomes[0]["outcome"], "merged");
    assert_eq!(outcomes[0]["changed"], true);
    assert_eq!(outcomes[1]["outcome"], "replay");
    assert_eq!(outcomes[2]["outcome"], "replay");
    let (log, seq_after) = read_log(&db, log_id);
    assert!(seq_after > seq_before, "the merged log takes a new seq");
    assert_eq!(count(&db, "SELECT count(*) FROM exotel_callbacks"), 1);
    assert_eq!(log.recording_url.as_deref(), Some("https://rec.example/a.mp3"));
    assert_eq!(log.duration_s, 42);

    // The same callback form-encoded is the same callback.
    let form = "CallSid=sid-replay&EventType=terminal&Status=completed&ConversationDuration=42\
                &DateUpdated=2026-03-02%2011%3A31%3A01";
    let res = client()
        .post(format!("{base}/api/v1/webhooks/exotel/status/{WEBHOOK_SECRET}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Json_>().await.unwrap()["outcome"], "replay");
    let (_, seq_final) = read_log(&db, log_id);
    assert_eq!(seq_final, seq_after, "replays change nothing");

    // The desktop pulls the merged log.
    let tok = token(&server, &db, "priya");
    let (pages, _) = pull_all(&client(), &base, &tok, Cursor::start(), 2000).await;
    let pulled = pages.iter().flat_map(|p| &p.changes).find_map(|c| match c {
        Change::CallLog(l) if l.id == log_id => Some(l.clone()),
        _ => None,
    });
    assert_eq!(pulled, Some(log));
    server.stop().await.unwrap();
    fake.stop().await;
}

/// Posts the callback before or after writing the log, on a private database; returns the final log.
async fn run_order(name: &str, callback_first: bool, status: &str, talk: u32) -> CallLog {
    let db = TestDb::copy_of_seeded(name);
    let fake = FakeExotel::start(FakeExotelConfig::default()).await.unwrap();
    let server = start(&db, Some(&fake), None).await;
    let base = server.base_url();
    let lead = lead_of(&db, "priya");
    // Same ids on every database, so the rows compare whole.
    let log_id = Id::parse_str("0190a000-0000-7000-8000-00000000c0de").unwrap();
    let recording = (status == "completed").then_some("https://rec.example/order.mp3");
    let body = callback_json("sid-order", status, Some(&db::id_text(&log_id)), talk, recording);
    if callback_first {
        let res = post_callback(&base, WEBHOOK_SECRET, &body).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Json_>().await.unwrap()["outcome"], "pending");
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM exotel_callbacks WHERE call_log_id IS NULL"
            ),
            1
        );
        // The desktop's log has no provider id: it is matched by CustomField.
        insert_log(&db, call_log(log_id, &lead, None));
    } else {
        insert_log(&db, call_log(log_id, &lead, None));
        let res = post_callback(&base, WEBHOOK_SECRET, &body).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Json_>().await.unwrap()["outcome"], "merged");
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM exotel_callbacks WHERE call_log_id IS NULL"
        ),
        0,
        "nothing left pending"
    );
    // A replay after the merge changes nothing either way.
    let res = post_callback(&base, WEBHOOK_SECRET, &body).await;
    assert_eq!(res.json::<Json_>().await.unwrap()["outcome"], "replay");
    let (log, _) = read_log(&db, log_id);
    server.stop().await.unwrap();
    fake.stop().await;
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_before_or_after_the_call_log_converges() {
    let before = run_order("exotel-order-before", true, "completed", 45).await;
    let after = run_order("exotel-order-after", false, "completed", 45).await;
    assert_eq!(before, after, "both orders end in identical rows");
    let end = Utc.with_ymd_and_hms(2026, 3, 2, 6, 1, 0).unwrap();
    assert_eq!(before.provider_call_id.as_deref(), Some("sid-order"));
    assert_eq!(
        before.recording_url.as_deref(),
        Some("https://rec.example/order.mp3")
    );
    assert_eq!(before.duration_s, 45);
    assert_eq!(before.ended_at, Some(end));
    assert_eq!(before.answered_at, Some(end - chrono::Duration::seconds(45)));
    assert_eq!(
        before.notes, "wants a test drive",
        "the desktop's fields are kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_sets_no_recording_answer_or_duration() {
    let before = run_order("exotel-failed-before", true, "failed", 0).await;
    let after = run_order("exotel-failed-after", false, "failed", 0).await;
    assert_eq!(before, after);
    assert_eq!(before.provider_call_id.as_deref(), Some("sid-order"));
    assert_eq!(before.recording_url, None);
    assert_eq!(before.answered_at, None);
    assert_eq!(before.duration_s, 0);
    assert_eq!(
        before.ended_at,
        Some(Utc.with_ymd_and_hms(2026, 3, 2, 6, 1, 0).unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_does_not_overwrite_what_the_desktop_logged() {
    let db = TestDb::copy_of_seeded("exotel-keep-desktop");
    let fake = FakeExotel::start(FakeExotelConfig::default()).await.unwrap();
    let server = start(&db, Some(&fake), None).await;
    let lead = lead_of(&db, "priya");
    let log_id = leadline_model::new_id();
    let mut log = call_log(log_id, &lead, Some("sid-keep"));
    let answered = Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 10).unwrap();
    log.answered_at = Some(answered);
    log.ended_at = Some(answered + chrono::Duration::seconds(30));
    log.duration_s = 30;
    insert_log(&db, log.clone());
    let body = callback_json(
        "sid-keep",
        "completed",
        None,
        45,
        Some("https://rec.example/k.mp3"),
    );
    let res = post_callback(&server.base_url(), WEBHOOK_SECRET, &body).await;
    assert_eq!(res.status(), 200);
    let (merged, _) = read_log(&db, log_id);
    assert_eq!(merged.answered_at, log.answered_at);
    assert_eq!(merged.ended_at, log.ended_at);
    assert_eq!(merged.duration_s, 30);
    assert_eq!(merged.recording_url.as_deref(), Some("https://rec.example/k.mp3"));
    server.stop().await.unwrap();
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_end_to_end_with_the_fake_exotel() {
    let db = TestDb::copy_of_seeded("exotel-click");
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: Some(FakeCallback {
            delay: Duration::from_millis(50),
            deliveries: 2,
            ..FakeCallback::default()
        }),
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let server = start(&db, Some(&fake), None).await;
    let base = server.base_url();
    let http = client();
    let priya = db.user("priya");
    let lead = lead_of(&db, "priya");
    let tok = token(&server, &db, "priya");
    let click = |tok: String, lead_id: Id| {
        let http = http.clone();
        let url = format!("{base}/api/v1/calls/click-to-call");
        async move {
            http.post(url)
                .bearer_auth(tok)
                .json(&json!({"lead_id": lead_id}))
                .send()
                .await
                .unwrap()
        }
    };

    // No agent number yet.
    let res = click(tok.clone(), lead.id).await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(res).await, "no_agent_number");
    let pid = priya.id;
    db.tx(move |tx| store::set_agent_number(tx, &pid, Some("+919811100001")));

    // Another telecaller's lead: 404; garbage: 400.
    let arjuns = lead_of(&db, "arjun");
    let res = click(tok.clone(), arjuns.id).await;
    assert_eq!(res.status(), 404);
    let res = http
        .post(format!("{base}/api/v1/calls/click-to-call"))
        .bearer_auth(&tok)
        .json(&json!({"lead_id": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "bad_lead_id");
    assert!(fake.requests().is_empty(), "nothing reached Exotel");

    let res = click(tok.clone(), lead.id).await;
    assert_eq!(res.status(), 200);
    let answer: Json_ = res.json().await.unwrap();
    let call_sid = answer["call_sid"].as_str().unwrap().to_owned();
    let call_log_id = Id::parse_str(answer["call_log_id"].as_str().unwrap()).unwrap();
    assert_eq!(answer["status"], "in-progress");

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.call_sid, call_sid);
    assert_eq!(r.field("From"), Some("+919811100001"));
    assert_eq!(r.field("To"), Some(lead.phone.as_str()));
    assert_eq!(r.field("CallerId"), Some(CALLER_ID));
    assert_eq!(r.field("CustomField"), Some(db::id_text(&call_log_id).as_str()));
    assert_eq!(r.field("Record"), Some("true"));
    assert_eq!(
        r.field("StatusCallback"),
        Some(format!("{base}/api/v1/webhooks/exotel/status/{WEBHOOK_SECRET}").as_str())
    );

    // The fake calls back twice (a replay); both are answered 200, one is stored, pending.
    let deliveries = fake.wait_for_deliveries(2, Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.result == Ok(200)), "{deliveries:?}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM exotel_callbacks WHERE call_log_id IS NULL"
        ),
        1
    );

    // The desktop logs the call under the id it was given: the recording lands on it.
    insert_log(&db, call_log(call_log_id, &lead, None));
    let (log, _) = read_log(&db, call_log_id);
    assert_eq!(log.provider_call_id.as_deref(), Some(call_sid.as_str()));
    assert_eq!(log.recording_url, Some(fake.recording_url(&call_sid)));
    assert_eq!(log.duration_s, 42);

    // The recording, through the server: priya (her call) and meera (her team) get the bytes.
    for who in ["priya", "meera"] {
        let res = http
            .get(format!("{base}/api/v1/call-logs/{call_log_id}/recording"))
            .bearer_auth(token(&server, &db, who))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{who}");
        assert_eq!(res.headers()["content-type"], "audio/mpeg");
        assert_eq!(res.bytes().await.unwrap().as_ref(), FAKE_RECORDING, "{who}");
    }
    // Arjun may not hear priya's call; nobody gets a redirect to the raw URL.
    let res = http
        .get(format!("{base}/api/v1/call-logs/{call_log_id}/recording"))
        .bearer_auth(token(&server, &db, "arjun"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // A call log without a recording, and an unknown one: 404.
    let plain = leadline_model::new_id();
    insert_log(&db, call_log(plain, &lead, Some("sid-no-recording")));
    for id in [plain, leadline_model::new_id()] {
        let res = http
            .get(format!("{base}/api/v1/call-logs/{id}/recording"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }

    // Exotel's errors, mapped.
    fake.fail_next(401, "Authentication failed", None);
    let res = click(tok.clone(), lead.id).await;
    assert_eq!(res.status(), 502);
    assert_eq!(error_code(res).await, "exotel_auth");
    fake.fail_next(429, "Too many requests", Some(7));
    let res = click(tok.clone(), lead.id).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "7");
    assert_eq!(error_code(res).await, "exotel_rate_limited");
    fake.fail_next(500, "oops", None);
    let res = click(tok.clone(), lead.id).await;
    assert_eq!(res.status(), 502);

    // A supervisor may call her team's leads.
    let mid = db.user("meera").id;
    db.tx(move |tx| store::set_agent_number(tx, &mid, Some("sip:meera")));
    let res = click(token(&server, &db, "meera"), lead.id).await;
    assert_eq!(res.status(), 200);
    server.stop().await.unwrap();
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_maps_an_exotel_timeout_to_504() {
    // An "Exotel" that accepts the connection and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let db = TestDb::copy_of_seeded("exotel-timeout");
    let port = free_port();
    let mut exotel = leadline_server::exotel::ExotelConfig::new("acct", "key", "token", CALLER_ID);
    exotel.base_url = format!("http://{addr}");
    exotel.timeout = Duration::from_millis(300);
    let config = ServeConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        exotel: Some(ExotelSettings {
            exotel,
            webhook_secret: WEBHOOK_SECRET.to_owned(),
            webhook_user: "exotel".to_owned(),
            public_url: format!("http://127.0.0.1:{port}"),
        }),
        ..db.config()
    };
    let server = leadline_server::start(&config).await.unwrap();
    let priya = db.user("priya");
    db.tx(move |tx| store::set_agent_number(tx, &priya.id, Some("+919811100001")));
    let lead = lead_of(&db, "priya");
    let res = client()
        .post(format!("{}/api/v1/calls/click-to-call", server.base_url()))
        .bearer_auth(token(&server, &db, "priya"))
        .json(&json!({"lead_id": lead.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 504);
    assert_eq!(error_code(res).await, "exotel_timeout");
    server.stop().await.unwrap();
    hold.abort();
}

// --- imports ----------------------------------------------------------------------------------------

const BOUNDARY: &str = "leadline-test-boundary-7d1f";

/// A multipart/form-data body with a `file` part and text fields.
fn multipart(file: &[u8], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(base: &str, tok: &str, file: &[u8], fields: &[(&str, &str)]) -> reqwest::Response {
    client()
        .post(format!("{base}/api/v1/import/csv"))
        .bearer_auth(tok)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(file, fields))
        .send()
        .await
        .unwrap()
}

/// The leads whose phone is `e164`, found through the blind index.
fn leads_with_phone(db: &TestDb, e164: &str) -> Vec<(Lead, Option<String>, i64)> {
    let e164 = e164.to_owned();
    db.tx(move |tx| {
        let bidx = tx.pii().blind_index(&e164);
        let ids: Vec<String> = tx
            .query(
                "SELECT id FROM leads WHERE phone_bidx = $1 ORDER BY id",
                &[Value::from(bidx)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            let lead = db::lead_by_id(tx, &Id::parse_str(&id).unwrap())?.unwrap();
            let row = tx.query_one(
                "SELECT team, seq FROM leads WHERE id = $1",
                &[Value::from(id.as_str())],
            )?;
            out.push((lead, row.get(0)?, row.get(1)?));
        }
        Ok(out)
    })
}

fn lead_count(db: &TestDb) -> i64 {
    count(db, "SELECT count(*) FROM leads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_happy_path_with_devanagari_and_mixed_phones() {
    let db = TestDb::copy_of_seeded("import-csv-happy");
    let server = start(&db, None, None).await;
    let base = server.base_url();
    let before = lead_count(&db);
    let csv = "Name,Mobile,City,Assigned To,Tags\n\
               अनिल कुमार,98765 01234,पुणे,priya,hot;दिवाली\n\
               Sunita Rao,+91-99887-01234,Mumbai,,\n\
               Ravi,0 98200 01234,,arjun,\n\
               Ghost,98111 01234,,nobody,\n\
               Bad phone,12,,,\n";
    let res = upload(&base, &token(&server, &db, "meera"), csv.as_bytes(), &[]).await;
    assert_eq!(res.status(), 200);
    let out: Json_ = res.json().await.unwrap();
    assert_eq!(out["created"], 3, "{out}");
    assert_eq!(out["merged"], 0);
    assert_eq!(out["duplicates"], 0);
    assert_eq!(out["report"]["rows"], 5);
    assert_eq!(out["report"]["invalid"], 2, "bad phone + unknown assignee: {out}");
    let issues = out["report"]["issues"].as_array().unwrap();
    assert!(
        issues
            .iter()
            .any(|i| i["row"] == 5 && i["column"] == "assigned_to"),
        "{issues:?}"
    );
    assert!(issues.iter().any(|i| i["row"] == 6), "{issues:?}");
    assert_eq!(lead_count(&db), before + 3);

    let priya = db.user("priya");
    let found = leads_with_phone(&db, "+919876501234");
    assert_eq!(found.len(), 1);
    let (lead, team, _) = &found[0];
    assert_eq!(lead.name, "अनिल कुमार");
    assert_eq!(lead.city.as_deref(), Some("पुणे"));
    assert_eq!(lead.tags, vec!["hot".to_owned(), "दिवाली".to_owned()]);
    assert_eq!(lead.assigned_to, Some(priya.id));
    assert_eq!(team.as_deref(), Some("Bandra Showroom"));
    assert_eq!(lead.source.as_str(), "other");
    assert_eq!(leads_with_phone(&db, "+919988701234")[0].0.assigned_to, None);
    assert_eq!(
        leads_with_phone(&db, "+919820001234")[0].0.assigned_to,
        Some(db.user("arjun").id)
    );
    assert!(
        leads_with_phone(&db, "+919811101234").is_empty(),
        "the unknown assignee's row is not written"
    );

    // Priya's desktop pulls her new lead.
    let tok = token(&server, &db, "priya");
    let (pages, _) = pull_all(&client(), &base, &tok, Cursor::start(), 2000).await;
    let seen = pages
        .iter()
        .flat_map(|p| &p.changes)
        .any(|c| matches!(c, Change::Lead(l) if l.id == lead.id));
    assert!(seen, "the imported lead is in priya's feed");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_rows_matching_existing_leads_are_reported_or_merged() {
    let db = TestDb::copy_of_seeded("import-csv-dupes");
    let server = start(&db, None, None).await;
    let base = server.base_url();
    let tok = token(&server, &db, "meera");
    let existing = lead_of(&db, "priya");
    let (_, _, seq_before) = leads_with_phone(&db, existing.phone.as_str())[0].clone();
    let local = existing.phone.as_str().trim_start_matches("+91").to_owned();
    let csv = format!("name,phone,tags\nSomeone Else,{local},imported-tag\nNew Person,9876512399,\n");
    let before = lead_count(&db);

    let res = upload(&base, &tok, csv.as_bytes(), &[]).await;
    assert_eq!(res.status(), 200);
    let out: Json_ = res.json().await.unwrap();
    assert_eq!(
        (
            out["created"].as_i64(),
            out["duplicates"].as_i64(),
            out["merged"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let issues = out["report"]["issues"].as_array().unwrap();
    assert!(
        issues.iter().any(|i| i["row"] == 2 && i["kind"] == "duplicate"),
        "{issues:?}"
    );
    assert_eq!(lead_count(&db), before + 1);
    let (unchanged, _, seq) = leads_with_phone(&db, existing.phone.as_str())[0].clone();
    assert_eq!(unchanged, existing, "a reported duplicate is left alone");
    assert_eq!(seq, seq_before);

    let res = upload(&base, &tok, csv.as_bytes(), &[("merge_duplicates", "true")]).await;
    assert_eq!(res.status(), 200);
    let out: Json_ = res.json().await.unwrap();
    // The second row now matches the lead created by the first upload.
    assert_eq!(
        (
            out["created"].as_i64(),
            out["duplicates"].as_i64(),
            out["merged"].as_i64()
        ),
        (Some(0), Some(0), Some(2))
    );
    assert_eq!(lead_count(&db), before + 1);
    let (merged, _, seq) = leads_with_phone(&db, existing.phone.as_str())[0].clone();
    assert_eq!(merged.name, existing.name, "the name is kept");
    assert!(
        merged.tags.contains(&"imported-tag".to_owned()),
        "{:?}",
        merged.tags
    );
    assert_eq!(merged.version, existing.version + 1);
    assert!(seq > seq_before, "a merged lead takes a new seq");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_or_refused_upload_writes_nothing() {
    let db = TestDb::copy_of_seeded("import-csv-corrupt");
    let server = start(&db, None, None).await;
    let base = server.base_url();
    let tok = token(&server, &db, "meera");
    let before = lead_count(&db);
    let seq_before = count(&db, "SELECT value FROM change_seq");
    let cases: [(&[u8], &str); 4] = [
        (
            b"name,phone\nAsha,9876543210\n\"Broken,9876543211\n",
            "import_malformed",
        ),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01", "import_not_csv"),
        (b"", "import_empty"),
        (b"foo,bar\nPune,Pune\n", "import_no_header"),
    ];
    for (file, code) in cases {
        let res = upload(&base, &tok, file, &[]).await;
        assert_eq!(res.status(), 422, "{code}");
        assert_eq!(error_code(res).await, code);
    }
    let res = upload(
        &base,
        &tok,
        b"name,phone\nA,9876543210\n",
        &[("merge_duplicates", "maybe")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "bad_merge_duplicates");
    let res = upload(
        &base,
        &tok,
        b"name,phone\nA,9876543210\n",
        &[("assign_to", "nobody")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "bad_assign_to");
    // No file part.
    let res = client()
        .post(format!("{base}/api/v1/import/csv"))
        .bearer_auth(&tok)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--{BOUNDARY}--\r\n"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "bad_file");

    // Telecallers may not import.
    let res = upload(
        &base,
        &token(&server, &db, "priya"),
        b"name,phone\nA,9876543210\n",
        &[],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(res).await, "forbidden");
    let res = client()
        .post(format!("{base}/api/v1/import/sheets"))
        .bearer_auth(token(&server, &db, "priya"))
        .json(&json!({"spreadsheet_id": "x", "range": "A1:B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Sheets not configured on this server.
    let res = client()
        .post(format!("{base}/api/v1/import/sheets"))
        .bearer_auth(&tok)
        .json(&json!({"spreadsheet_id": "x", "range": "A1:B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(error_code(res).await, "sheets_not_configured");

    assert_eq!(lead_count(&db), before, "nothing written");
    assert_eq!(
        count(&db, "SELECT value FROM change_seq"),
        seq_before,
        "no seq taken"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_limit_is_413() {
    let db = TestDb::copy_of_seeded("import-csv-413");
    let server = start(&db, None, None).await;
    let before = lead_count(&db);
    let mut big = b"name,phone\n".to_vec();
    big.resize(leadline_server::import::DEFAULT_MAX_BYTES + 1, b'x');
    let res = upload(&server.base_url(), &token(&server, &db, "meera"), &big, &[]).await;
    assert_eq!(res.status(), 413);
    assert_eq!(lead_count(&db), before);
    server.stop().await.unwrap();
}

// --- Google Sheets ----------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The server's fake Google (token endpoint + Sheets values, `leadline_server::import::fake`) with the
/// throwaway key pair of `tests/fixtures/`, and settings for it (the key file in `dir`).
pub(crate) async fn fake_google(dir: &std::path::Path) -> SheetsSettings {
    leadline_server::import::fake::start(
        dir,
        &fixture("THROWAWAY-test-only-service-account-key.pem"),
        &fixture("THROWAWAY-test-only-service-account-key.pub.pem"),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_import_through_the_fake_google() {
    let db = TestDb::copy_of_seeded("import-sheets");
    let settings = fake_google(&db.dir).await;
    let server = start(&db, None, Some(settings)).await;
    let base = server.base_url();
    let tok = token(&server, &db, "meera");
    let before = lead_count(&db);
    let sheets = |body: Json_| {
        let tok = tok.clone();
        let url = format!("{base}/api/v1/import/sheets");
        async move {
            client()
                .post(url)
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };

    let res = sheets(json!({"spreadsheet_id": "sheet-ok", "range": "Leads!A1:D"})).await;
    assert_eq!(res.status(), 200);
    let out: Json_ = res.json().await.unwrap();
    assert_eq!(out["created"], 3, "{out}");
    assert_eq!(out["report"]["blank_rows"], 1);
    assert_eq!(lead_count(&db), before + 3);
    let (asha, _, _) = leads_with_phone(&db, "+919876502345")[0].clone();
    assert_eq!(asha.name, "आशा");
    assert_eq!(asha.source.as_str(), "google_sheet");
    assert_eq!(asha.assigned_to, Some(db.user("kavya").id));

    // Again: every row is now a duplicate of an existing lead.
    let res = sheets(json!({"spreadsheet_id": "sheet-ok", "range": "Leads!A1:D"})).await;
    let out: Json_ = res.json().await.unwrap();
    assert_eq!(
        (out["created"].as_i64(), out["duplicates"].as_i64()),
        (Some(0), Some(3))
    );

    let res = sheets(json!({"spreadsheet_id": "forbidden", "range": "A1:B"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(error_code(res).await, "sheets_permission_denied");
    let res = sheets(json!({"spreadsheet_id": "", "range": "A1:B"})).await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "bad_spreadsheet_id");
    assert_eq!(lead_count(&db), before + 3);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_racing_their_call_logs_are_never_left_behind() {
    let db = TestDb::copy_of_seeded("exotel-race");
    let fake = FakeExotel::start(FakeExotelConfig::default()).await.unwrap();
    let server = start(&db, Some(&fake), None).await;
    let base = server.base_url();
    let lead = lead_of(&db, "priya");
    let mut tasks = Vec::new();
    let mut ids = Vec::new();
    for i in 0..12 {
        let log_id = leadline_model::new_id();
        ids.push(log_id);
        let body = callback_json(
            &format!("sid-race-{i}"),
            "completed",
            Some(&db::id_text(&log_id)),
            20,
            Some("https://rec.example/r.mp3"),
        );
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let res = post_callback(&base, WEBHOOK_SECRET, &body).await;
            assert_eq!(res.status(), 200);
        }));
        let db = db.clone();
        let log = call_log(log_id, &lead, None);
        tasks.push(tokio::task::spawn_blocking(move || insert_log(&db, log)));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM exotel_callbacks WHERE call_log_id IS NULL"
        ),
        0,
        "every callback found its log, whichever committed first"
    );
    for (i, id) in ids.into_iter().enumerate() {
        let (log, _) = read_log(&db, id);
        assert_eq!(log.provider_call_id, Some(format!("sid-race-{i}")));
        assert_eq!(log.duration_s, 20);
    }
    server.stop().await.unwrap();
    fake.stop().await;
}
