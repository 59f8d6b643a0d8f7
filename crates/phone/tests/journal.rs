//! Every call lands in the local store as it happens: answered, refused, missed — and one whose process is
//! killed mid-call, which the next start finds and ends at its last heartbeat. Real parts: kamailio, the
//! browser far end, an encrypted SQLite file.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadline_model::{CallDirection, CallEnd};
use leadline_phone::audio::{self, AudioPath, NullPlayback};
use leadline_phone::{CallJournal, PhoneEvent, UserAgent, UserAgentHandle};
use leadline_store::{CallDraft, Store, StoreKey};
use serde_json::json;
use support::farend::FarEnd;
use support::{FAR_PASSWORD, FAR_USER, Kamailio, PASSWORD, USER};
use tokio::io::AsyncBufReadExt as _;

const KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn open(path: &Path) -> Store {
    Store::open(path, &StoreKey::from_hex(KEY_HEX).unwrap()).unwrap()
}

async fn journaled_phone(ws: &str, store: Arc<Mutex<Store>>) -> UserAgentHandle {
    support::init_tracing();
    let mut cfg = support::config(ws, PASSWORD);
    cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    cfg.ring_timeout = Duration::from_secs(5);
    let audio = || {
        Ok(AudioPath {
            capture: audio::tone(440.0, 0.3),
            playback: Arc::new(NullPlayback),
        })
    };
    let journal: Arc<dyn CallJournal> = store;
    let (phone, mut events) = UserAgent::start_with(cfg, Arc::new(audio), Some(journal)).unwrap();
    support::wait_for(&mut events, Duration::from_secs(20), "registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    phone
}

fn draft(store: &Arc<Mutex<Store>>, id: &leadline_model::Id) -> CallDraft {
    store
        .lock()
        .unwrap()
        .call_draft(id)
        .unwrap()
        .expect("the call has a draft")
}

/// Drafts are written by a task of their own: give it a moment after the call ends.
async fn settled(store: &Arc<Mutex<Store>>, id: &leadline_model::Id) -> CallDraft {
    for _ in 0..50 {
        if let Some(d) = store.lock().unwrap().call_draft(id).unwrap()
            && d.ended_at.is_some()
        {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    draft(store, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_refused_and_missed_calls_are_all_drafted_for_their_wrap_up() {
    let kam = Kamailio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(open(&dir.path().join("cache.sqlite3"))));
    let mut far = FarEnd::launch().await;
    far.register(&kam.ws_url(), FAR_USER, FAR_PASSWORD, true).await;
    let phone = journaled_phone(&kam.ws_url(), store.clone()).await;

    // Answered, then hung up there: a draft with its answer, end and reason, from the moment it rang.
    let call = phone.dial(FAR_USER).await.unwrap();
    let id = call.info().log_id;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = draft(&store, &id);
    assert_eq!(early.direction, CallDirection::Outbound);
    assert!(early.ended_at.is_none());
    assert!(call.connected().await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    far.send(json!({"cmd": "hangup"})).await;
    assert_eq!(call.ended().await, CallEnd::HungUpThere);
    let done = settled(&store, &id).await;
    assert_eq!(done.remote, format!("sip:{FAR_USER}@{}", support::DOMAIN));
    assert_eq!(done.end_reason, Some(CallEnd::HungUpThere));
    // (The store keeps microseconds.)
    let answered = call.info().call.answered_at.unwrap();
    assert!(
        (done.answered_at.unwrap() - answered).num_milliseconds().abs() < 1,
        "{done:?}"
    );
    assert!(done.talk_seconds() >= 1, "{done:?}");
    // Its audio quality is kept with it (written as the call's media closes).
    let mut quality = done.quality.clone();
    for _ in 0..50 {
        if quality.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        quality = draft(&store, &id).quality;
    }
    let quality = quality.expect("the answered call's quality figures");
    assert!((3.5..=4.6).contains(&quality.mos), "{quality:?}");
    assert!(quality.loss < 0.05 && quality.jitter_ms < 50.0, "{quality:?}");
    assert_eq!(quality.codec.as_deref(), Some("opus"));

    // Refused by the network (nobody registered): drafted, ended failed, never answered.
    let refused = phone.dial("+919812345678").await.unwrap();
    refused.ended().await;
    let failed = settled(&store, &refused.info().log_id).await;
    assert_eq!(failed.remote, "+919812345678");
    assert_eq!(
        (failed.answered_at, failed.end_reason),
        (None, Some(CallEnd::Failed))
    );
    assert_eq!(failed.quality, None, "no audio, no figures");

    // The far end calls and gives up before we answer: a missed call, drafted as one.
    let mut events = phone.subscribe();
    far.send(json!({"cmd": "call", "target": format!("sip:{USER}@{}", support::DOMAIN)}))
        .await;
    let missed = match support::wait_for(&mut events, Duration::from_secs(20), "incoming call", |e| {
        matches!(e, PhoneEvent::IncomingCall(_))
    })
    .await
    {
        PhoneEvent::IncomingCall(call) => call,
        _ => unreachable!(),
    };
    far.expect("progress", Duration::from_secs(10)).await;
    far.send(json!({"cmd": "hangup"})).await;
    assert_eq!(missed.ended().await, CallEnd::NoAnswer);
    let missed = settled(&store, &missed.info().log_id).await;
    assert_eq!(missed.direction, CallDirection::Inbound);
    assert_eq!(
        (missed.answered_at, missed.end_reason),
        (None, Some(CallEnd::NoAnswer))
    );

    // All three wait for their wrap-up.
    let unlogged = store.lock().unwrap().unlogged_calls().unwrap();
    assert_eq!(unlogged.len(), 3, "{unlogged:?}");
    phone.shutdown().await.unwrap();
    far.quit().await;
}

/// The child of [`a_call_cut_short_by_a_crash_is_ended_at_its_last_heartbeat`]: registers, calls the far
/// end, says "connected" with the call's id, and talks until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by the crash test as its child process"]
async fn crash_child() {
    let (Ok(ws), Ok(path)) = (
        std::env::var("LEADLINE_CRASH_WS"),
        std::env::var("LEADLINE_CRASH_DB"),
    ) else {
        panic!("run by a_call_cut_short_by_a_crash_is_ended_at_its_last_heartbeat only");
    };
    let store = Arc::new(Mutex::new(open(Path::new(&path))));
    let phone = journaled_phone(&ws, store).await;
    let call = phone.dial(FAR_USER).await.unwrap();
    assert!(call.connected().await);
    println!("CONNECTED {}", call.info().log_id);
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_short_by_a_crash_is_ended_at_its_last_heartbeat() {
    let kam = Kamailio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.sqlite3");
    drop(open(&db)); // created and migrated
    let mut far = FarEnd::launch().await;
    far.register(&kam.ws_url(), FAR_USER, FAR_PASSWORD, true).await;

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LEADLINE_CRASH_WS", kam.ws_url())
        .env("LEADLINE_CRASH_DB", &db)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let id = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(id) = line.strip_prefix("CONNECTED ") {
                return id.trim().parse::<leadline_model::Id>().unwrap();
            }
        }
        panic!("the child ended without connecting a call");
    })
    .await
    .unwrap();
    far.expect("confirmed", Duration::from_secs(10)).await;
    // Past a heartbeat (every 5 s), then the process dies without a word.
    tokio::time::sleep(Duration::from_secs(7)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let mut store = open(&db);
    let open_draft = store.call_draft(&id).unwrap().expect("the killed call's draft");
    assert!(
        open_draft.answered_at.is_some() && open_draft.ended_at.is_none(),
        "{open_draft:?}"
    );
    let recovered = store.recover_interrupted_calls().unwrap();
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    let ended = &recovered[0];
    assert_eq!(ended.id, id);
    assert_eq!(ended.end_reason, Some(CallEnd::Interrupted));
    assert!(
        ended.last_seen_at > ended.answered_at.unwrap(),
        "a heartbeat came after the answer: {ended:?}"
    );
    assert!(
        ended.talk_seconds() >= 4,
        "talk time up to the last heartbeat: {ended:?}"
    );
    assert_eq!(store.unlogged_calls().unwrap().len(), 1);
    far.quit().await;
}
