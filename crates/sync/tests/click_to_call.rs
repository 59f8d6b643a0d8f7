//! Click-to-call, the softphone's fallback, with real parts: the server in-process on a real SQLite file
//! (the demo data), Exotel played by `FakeExotel` (Exotel's wire format: Calls/connect, then a JSON
//! StatusCallback to the server's webhook), and a desktop cache file. A placed call is drafted under the
//! server's ids; the wrap-up and Exotel's report meet on ONE server call log whichever arrives first; the
//! server's refusals and an unreachable server are typed errors, and leave nothing logged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use leadline_model::{CallDirection, CallLog, FollowUpSpec, Id};
use leadline_server::exotel::fake::{FakeCallback, FakeExotel, FakeExotelConfig};
use leadline_server::exotel::parse_exotel_time;
use leadline_server::{ExotelSettings, RunningServer, ServeConfig};
use leadline_store::{CallVia, Store, StoreKey, WrapUp};
use leadline_sync::{CallError, Client, SharedStore, SyncError, place_click_to_call, sync_once};

const PASSWORD: &str = "leadline-demo";
const SECRET: &str = "click-to-call-test-secret-0123456789abcdef";
const WEBHOOK_SECRET: &str = "whsec-click-to-call-0123456789";
const CALLER_ID: &str = "+918047112233";
const PRIYAS_PHONE: &str = "+919811100001";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The demo data in `dir/server`, priya with an agent number (arjun has none).
fn seed(dir: &Path) {
    let server = dir.join("server");
    leadline_server::demo::seed(&server, 7).unwrap();
    let db = rusqlite::Connection::open(server.join("leadline-server.sqlite3")).unwrap();
    let n = db
        .execute(
            "UPDATE users SET agent_number = ?1 WHERE username = 'priya'",
            [PRIYAS_PHONE],
        )
        .unwrap();
    assert_eq!(n, 1);
}

/// The server on the seeded data, with this Exotel account (its webhook on the server), or none.
async fn start(dir: &Path, exotel: Option<leadline_server::exotel::ExotelConfig>) -> RunningServer {
    start_with(dir, exotel, leadline_server::DEFAULT_TOKEN_TTL).await
}

/// [`start`], with access tokens living `token_ttl`.
async fn start_with(
    dir: &Path,
    exotel: Option<leadline_server::exotel::ExotelConfig>,
    token_ttl: Duration,
) -> RunningServer {
    let port = free_port();
    let exotel = exotel.map(|config| ExotelSettings {
        exotel: config,
        webhook_secret: WEBHOOK_SECRET.to_owned(),
        webhook_user: "exotel".to_owned(),
        public_url: format!("http://127.0.0.1:{port}"),
    });
    let config = ServeConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        jwt_secret: Some(SECRET.into()),
        token_ttl,
        exotel,
        ..ServeConfig::new(dir.join("server"))
    };
    leadline_server::start(&config).await.unwrap()
}

/// A signed-in desktop of `user` with its own cache file, synced once.
async fn device(dir: &Path, server: &RunningServer, user: &str, name: &str) -> (Client, SharedStore) {
    let mut store = Store::open(
        &dir.join(format!("{name}.sqlite3")),
        &StoreKey::from_hex(&"5a".repeat(32)).unwrap(),
    )
    .unwrap();
    let device_id = store.device_id().unwrap();
    let mut client = Client::new(&server.base_url()).unwrap();
    let login = client.login(user, PASSWORD, Some(&device_id)).await.unwrap();
    store.set_account(client.server_url(), &login.user).unwrap();
    let store = SharedStore::new(store);
    sync_once(&client, &store).await.unwrap();
    (client, store)
}

/// The server's database, read-only.
fn server_db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        dir.join("server/leadline-server.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap()
}

/// The first lead (by id) assigned to `username` on the server.
fn lead_of(dir: &Path, username: &str) -> Id {
    let id: String = server_db(dir)
        .query_row(
            "SELECT l.id FROM leads l JOIN users u ON u.id = l.assigned_to
             WHERE u.username = ?1 ORDER BY l.id LIMIT 1",
            [username],
            |r| r.get(0),
        )
        .unwrap();
    Id::parse_str(&id).unwrap()
}

/// The server's call-log rows with this id: (disposition, duration, recording, provider id, ended_at,
/// answered_at, follow-up due).
type ServerRow = (
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn server_rows(dir: &Path, id: &Id) -> Vec<ServerRow> {
    let db = server_db(dir);
    let mut stmt = db
        .prepare(
            "SELECT disposition, duration_s, recording_url, provider_call_id, ended_at, answered_at,
                    follow_up_due_at
             FROM call_logs WHERE id = ?1",
        )
        .unwrap();
    stmt.query_map([id.to_string()], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    server_db(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn wrap_up(now: DateTime<Utc>) -> WrapUp {
    WrapUp {
        lead_id: None,
        disposition: "interested".into(),
        outcome_tags: vec![],
        notes: "Wants the kundan bridal set; will visit on Saturday".into(),
        follow_up: Some(FollowUpSpec {
            due_at: (now + chrono::Duration::days(3)).trunc_subsecs(0),
            note: Some("confirm the visit".into()),
        }),
        lead_status: None,
    }
}

/// The call's facts as the fake's StatusCallback reported them (from the delivered JSON).
struct Reported {
    end: DateTime<Utc>,
    talk: i64,
    recording: String,
}

fn reported(fake: &FakeExotel, call_sid: &str) -> Reported {
    let delivery = fake
        .deliveries()
        .into_iter()
        .find(|d| d.call_sid == call_sid && d.result == Ok(200))
        .expect("a delivered callback");
    assert_eq!(delivery.content_type, "application/json");
    let body: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    Reported {
        end: parse_exotel_time(body["EndTime"].as_str().unwrap())
            .unwrap()
            .unwrap(),
        talk: body["ConversationDuration"].as_i64().unwrap(),
        recording: body["RecordingUrl"].as_str().unwrap().to_owned(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Order {
    /// Exotel's StatusCallback reaches the server before the desktop pushes its wrap-up.
    CallbackFirst,
    /// The desktop pushes its wrap-up before Exotel calls back.
    WrapUpFirst,
}

async fn one_log_with_the_wrap_up_and_exotels_outcome(order: Order) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    seed(dir);
    let delay = match order {
        Order::CallbackFirst => Duration::from_millis(50),
        Order::WrapUpFirst => Duration::from_secs(4),
    };
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: Some(FakeCallback {
            delay,
            conversation_duration_s: 42,
            // Exotel may deliver a callback more than once.
            deliveries: 2,
            ..FakeCallback::default()
        }),
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let server = start(dir, Some(fake.exotel_config(CALLER_ID))).await;
    let (client, store) = device(dir, &server, "priya", "desk-1").await;
    let lead_id = lead_of(dir, "priya");
    let lead = store.run(move |s| s.get_lead(&lead_id)).await.unwrap();
    let device_id = store.run(|s| s.device_id()).await.unwrap();
    let logs_before = count(dir, "SELECT count(*) FROM call_logs");

    // The call: Exotel rings priya's phone, then the lead; the answer names the call and its log.
    let before = Utc::now();
    let placed = place_click_to_call(&client, &store, lead_id).await.unwrap();
    let call = &placed.call;
    assert_eq!(call.status, "in-progress");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].call_sid, call.call_sid);
    assert_eq!(requests[0].field("From"), Some(PRIYAS_PHONE));
    assert_eq!(requests[0].field("To"), Some(lead.phone.as_str()));
    assert_eq!(
        requests[0].field("CustomField"),
        Some(call.call_log_id.to_string().as_str())
    );
    assert_eq!(
        count(dir, "SELECT count(*) FROM call_logs"),
        logs_before,
        "the server logs nothing itself"
    );

    // The desktop's draft carries the server's ids.
    let draft = &placed.draft;
    assert_eq!(draft.id, call.call_log_id);
    assert_eq!(draft.provider_call_id.as_deref(), Some(call.call_sid.as_str()));
    assert_eq!(draft.lead_id, Some(lead_id));
    assert_eq!(draft.direction, CallDirection::Outbound);
    assert_eq!(draft.via, CallVia::ClickToCall);
    assert_eq!(draft.remote, lead.phone.as_str());
    assert_eq!(draft.device_id.as_deref(), Some(device_id.as_str()));
    assert!(draft.started_at >= before - chrono::Duration::seconds(1) && draft.started_at <= Utc::now());
    assert_eq!(
        store.run(|s| s.unlogged_calls()).await.unwrap(),
        vec![draft.clone()]
    );

    if let Order::CallbackFirst = order {
        let deliveries = fake.wait_for_deliveries(2, Duration::from_secs(10)).await;
        assert!(
            deliveries.len() == 2 && deliveries.iter().all(|d| d.result == Ok(200)),
            "{deliveries:?}"
        );
        assert_eq!(
            count(
                dir,
                "SELECT count(*) FROM exotel_callbacks WHERE call_log_id IS NULL"
            ),
            1,
            "stored once, waiting for the desktop's log"
        );
    }

    // The telecaller wraps up; the log is queued and pushed.
    let now = Utc::now();
    let wrap = wrap_up(now);
    let id = call.call_log_id;
    let w = wrap.clone();
    let logged: CallLog = store.run(move |s| s.log_drafted_call(&id, &w)).await.unwrap();
    assert_eq!(logged.id, call.call_log_id);
    assert_eq!(logged.provider_call_id.as_deref(), Some(call.call_sid.as_str()));
    assert_eq!(
        (logged.answered_at, logged.ended_at, logged.duration_s),
        (None, None, 0)
    );
    assert!(store.run(|s| s.unlogged_calls()).await.unwrap().is_empty());
    sync_once(&client, &store).await.unwrap();
    assert_eq!(store.run(|s| s.pending_count()).await.unwrap().pending, 0);

    if let Order::WrapUpFirst = order {
        assert!(
            fake.deliveries().is_empty(),
            "the wrap-up reached the server before Exotel's callback"
        );
        let rows = server_rows(dir, &id);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1, 0, "no talk time before Exotel reports it");
        assert_eq!(rows[0].2, None);
        let deliveries = fake.wait_for_deliveries(2, Duration::from_secs(15)).await;
        assert!(
            deliveries.len() == 2 && deliveries.iter().all(|d| d.result == Ok(200)),
            "{deliveries:?}"
        );
        // The merge gave the log a new seq: the desktop pulls it.
        sync_once(&client, &store).await.unwrap();
    }

    // The server holds ONE call log with the wrap-up and Exotel's outcome.
    let facts = reported(&fake, &call.call_sid);
    assert_eq!(facts.talk, 42);
    assert_eq!(facts.recording, fake.recording_url(&call.call_sid));
    let rows = server_rows(dir, &id);
    assert_eq!(rows.len(), 1, "one call log");
    let (disposition, duration, recording, provider, ended, answered, follow_up) = rows[0].clone();
    assert_eq!(disposition, "interested");
    assert_eq!(duration, 42);
    assert_eq!(recording.as_deref(), Some(facts.recording.as_str()));
    assert_eq!(provider.as_deref(), Some(call.call_sid.as_str()));
    let ts = |t: Option<String>| DateTime::parse_from_rfc3339(&t.unwrap()).unwrap().to_utc();
    assert_eq!(ts(ended), facts.end);
    assert_eq!(ts(answered), facts.end - chrono::Duration::seconds(42));
    assert_eq!(ts(follow_up), wrap.follow_up.as_ref().unwrap().due_at);
    assert_eq!(count(dir, "SELECT count(*) FROM call_logs"), logs_before + 1);
    assert_eq!(
        count(
            dir,
            &format!(
                "SELECT count(*) FROM exotel_callbacks WHERE call_log_id = '{id}' AND applied_at IS NOT NULL"
            )
        ),
        1,
        "the callback (once, though delivered twice) is applied to that log"
    );

    // The desktop's cache shows the same log: its wrap-up, and Exotel's outcome after the pull.
    let mine = store
        .run(move |s| s.call_logs_for_lead(&lead_id))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap();
    assert_eq!(mine.notes, wrap.notes);
    assert_eq!(mine.duration_s, 42);
    assert_eq!(mine.recording_url, Some(facts.recording.clone()));
    assert_eq!(mine.ended_at, Some(facts.end));

    // The recording plays through the server, which holds Exotel's credentials: the fake's MP3 bytes.
    let played = client.recording(id).await.unwrap();
    assert_eq!(played.content_type, "audio/mpeg");
    assert!(
        played.bytes.starts_with(b"ID3"),
        "{:?}",
        &played.bytes[..8.min(played.bytes.len())]
    );
    // No such call, or another telecaller's: not found, and no bytes.
    match client.recording(leadline_model::new_id()).await {
        Err(SyncError::Server { status: 404, .. }) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    let (arjun, _) = device(dir, &server, "arjun", "desk-arjun").await;
    match arjun.recording(id).await {
        Err(SyncError::Server { status: 404, .. }) => {}
        other => panic!("arjun may not hear priya's call: {other:?}"),
    }

    // Another desk of priya's pulls the one log with both halves (the notes decrypted by the server).
    let (_, other) = device(dir, &server, "priya", "desk-2").await;
    let theirs: Vec<CallLog> = other
        .run(move |s| s.call_logs_for_lead(&lead_id))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.id == id)
        .collect();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].notes, wrap.notes);
    assert_eq!(theirs[0].disposition, "interested");
    assert_eq!(theirs[0].duration_s, 42);
    assert_eq!(theirs[0].recording_url, Some(facts.recording));
    assert_eq!(theirs[0].provider_call_id, Some(call.call_sid.clone()));
    assert_eq!(theirs[0].device_id, Some(device_id));

    server.stop().await.unwrap();
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_callback_first_then_wrap_up_is_one_call_log() {
    one_log_with_the_wrap_up_and_exotels_outcome(Order::CallbackFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_wrap_up_first_then_callback_is_one_call_log() {
    one_log_with_the_wrap_up_and_exotels_outcome(Order::WrapUpFirst).await;
}

/// Nothing of a refused call is left on the desktop: no draft, no queued change.
async fn assert_nothing_logged(store: &SharedStore) {
    assert!(store.run(|s| s.unlogged_calls()).await.unwrap().is_empty());
    assert_eq!(store.run(|s| s.pending_count()).await.unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_refusals_are_typed_and_log_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    seed(dir);
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: None,
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let server = start(dir, Some(fake.exotel_config(CALLER_ID))).await;
    let logs_before = count(dir, "SELECT count(*) FROM call_logs");

    // Arjun has no agent number.
    let (arjun, arjuns_store) = device(dir, &server, "arjun", "arjun").await;
    let err = place_click_to_call(&arjun, &arjuns_store, lead_of(dir, "arjun"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Call(CallError::NoAgentNumber)),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert!(err.to_string().contains("agent number"), "{err}");
    assert_nothing_logged(&arjuns_store).await;

    // Priya: a lead that is not hers (asked directly: it is not in her cache either).
    let (priya, store) = device(dir, &server, "priya", "priya").await;
    let err = priya.click_to_call(lead_of(dir, "arjun")).await.unwrap_err();
    assert!(matches!(err, SyncError::Call(CallError::LeadNotFound)), "{err:?}");
    let err = place_click_to_call(&priya, &store, lead_of(dir, "arjun"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Store(leadline_store::StoreError::NotFound(_))),
        "not in the cache: the server is not asked ({err:?})"
    );
    assert!(fake.requests().is_empty(), "nothing reached Exotel");

    // Exotel's refusals, rate limit (with its Retry-After) and failures.
    let lead = lead_of(dir, "priya");
    fake.fail_next(429, "Too many requests", Some(7));
    let err = place_click_to_call(&priya, &store, lead).await.unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Call(CallError::ProviderRateLimited { retry_after: Some(7) })
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    fake.fail_next(400, "Invalid parameter To", None);
    let err = place_click_to_call(&priya, &store, lead).await.unwrap_err();
    match &err {
        SyncError::Call(CallError::ProviderRefused { code, message }) => {
            assert_eq!(code, "exotel_rejected");
            assert!(message.contains("Invalid parameter To"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    fake.fail_next(401, "Authentication failed", None);
    let err = place_click_to_call(&priya, &store, lead).await.unwrap_err();
    assert!(
        matches!(&err, SyncError::Call(CallError::ProviderRefused { code, .. }) if code == "exotel_auth"),
        "{err:?}"
    );
    fake.fail_next(503, "Service unavailable", None);
    let err = place_click_to_call(&priya, &store, lead).await.unwrap_err();
    assert!(
        matches!(err, SyncError::Call(CallError::ProviderUnavailable { .. })),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_nothing_logged(&store).await;
    assert_eq!(count(dir, "SELECT count(*) FROM call_logs"), logs_before);

    // The server goes away: offline, nothing logged.
    server.stop().await.unwrap();
    let err = place_click_to_call(&priya, &store, lead).await.unwrap_err();
    assert!(matches!(err, SyncError::Unreachable { .. }), "{err:?}");
    assert!(err.is_offline() && err.is_transient());
    assert_nothing_logged(&store).await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_without_telephony_or_with_a_silent_exotel_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    seed(dir);

    // No telephony configured on the server; one-second access tokens.
    let server = start_with(dir, None, Duration::from_secs(1)).await;
    let (priya, store) = device(dir, &server, "priya", "priya").await;
    let lead = lead_of(dir, "priya");
    // The access token expires: the client refreshes once and gets the server's real answer.
    let tokens = priya.tokens().unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = place_click_to_call(&priya, &store, lead).await.unwrap_err();
    assert!(
        matches!(err, SyncError::Call(CallError::TelephonyNotConfigured)),
        "{err:?}"
    );
    assert_ne!(priya.tokens().unwrap(), tokens, "refreshed");
    assert!(!err.is_transient());
    assert_nothing_logged(&store).await;
    server.stop().await.unwrap();

    // Exotel accepts the connection and never answers: the server gives up (exotel_timeout).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = leadline_server::exotel::ExotelConfig::new(
        "leadlinetest1",
        "fake-api-key",
        "fake-api-token",
        CALLER_ID,
    );
    config.base_url = format!("http://{}", silent.local_addr().unwrap());
    config.timeout = Duration::from_secs(1);
    let server = start(dir, Some(config)).await;
    let priya = Client::new(&server.base_url())
        .unwrap()
        .with_tokens(priya.tokens().unwrap());
    let err = place_click_to_call(&priya, &store, lead).await.unwrap_err();
    assert!(
        matches!(err, SyncError::Call(CallError::ProviderTimeout)),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_nothing_logged(&store).await;
    server.stop().await.unwrap();
    drop(silent);
}
