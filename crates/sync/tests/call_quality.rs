//! Call quality figures from the softphone's draft to another device, with real parts: the server
//! in-process on a real SQLite file (the demo data) and two desktop cache files. Priya's softphone sets the
//! figures on the call's draft, the wrap-up logs it, sync pushes it, the server keeps the figures with the
//! log, and her supervisor's desktop pulls the log with them intact; a log without figures (an older
//! client, a click-to-call) syncs as before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use chrono::{Duration, SubsecRound, Utc};
use leadline_model::{CallDirection, CallEnd, CallLog, CallQuality, Id};
use leadline_server::{RunningServer, ServeConfig};
use leadline_store::{CallDraft, Store, StoreError, StoreKey, WrapUp};
use leadline_sync::{Client, SharedStore, SyncError, sync_once};

const PASSWORD: &str = "leadline-demo";
const SECRET: &str = "call-quality-test-secret-0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &Path) -> RunningServer {
    let server = dir.join("server");
    leadline_server::demo::seed(&server, 7).unwrap();
    let config = ServeConfig {
        listen: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        jwt_secret: Some(SECRET.into()),
        ..ServeConfig::new(server)
    };
    leadline_server::start(&config).await.unwrap()
}

/// A signed-in desktop of `user` with its own cache file, synced once.
async fn device(dir: &Path, server: &RunningServer, user: &str) -> (Client, SharedStore) {
    let mut store = Store::open(
        &dir.join(format!("{user}.sqlite3")),
        &StoreKey::from_hex(&"3c".repeat(32)).unwrap(),
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

/// The first lead (by id) assigned to `username` on the server.
fn lead_of(dir: &Path, username: &str) -> Id {
    let db = rusqlite::Connection::open(dir.join("server/leadline-server.sqlite3")).unwrap();
    let id: String = db
        .query_row(
            "SELECT l.id FROM leads l JOIN users u ON u.id = l.assigned_to
             WHERE u.username = ?1 ORDER BY l.id LIMIT 1",
            [username],
            |r| r.get(0),
        )
        .unwrap();
    Id::parse_str(&id).unwrap()
}

/// The server's stored figures of call log `id`: (mos, rtt, jitter, loss, codec).
type Figures = (Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<String>);

fn server_figures(dir: &Path, id: &Id) -> Figures {
    let db = rusqlite::Connection::open(dir.join("server/leadline-server.sqlite3")).unwrap();
    db.query_row(
        "SELECT quality_mos, quality_rtt_ms, quality_jitter_ms, quality_loss, quality_codec
         FROM call_logs WHERE id = ?1",
        [id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_quality_goes_from_the_draft_to_the_supervisors_desktop() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let server = start(dir).await;
    let (priya_client, priya) = device(dir, &server, "priya").await;
    let (meera_client, meera) = device(dir, &server, "meera").await;
    let lead_id = lead_of(dir, "priya");

    // The softphone's call: drafted, answered, figures while it runs, final figures when it ends.
    let t0 = (Utc::now() - Duration::minutes(4)).trunc_subsecs(3);
    let lead = priya.run(move |s| s.get_lead(&lead_id)).await.unwrap();
    let mut draft = CallDraft::new(CallDirection::Outbound, lead.phone.as_str(), t0);
    draft.lead_id = Some(lead_id);
    let id = draft.id;
    let final_figures = CallQuality {
        rtt_ms: Some(182.0),
        codec: Some("opus".into()),
        remote_loss: Some(0.031),
        remote_jitter_ms: Some(9.5),
        ..CallQuality::new(3.87, 12.25, 0.0425)
    };
    let figures = final_figures.clone();
    priya
        .run(move |s| {
            s.begin_call(&draft)?;
            s.call_answered(&id, t0 + Duration::seconds(6))?;
            s.call_quality(&id, &CallQuality::new(4.1, 5.0, 0.01))?;
            s.call_alive(&id, t0 + Duration::seconds(60))?;
            s.end_call(&id, t0 + Duration::seconds(126), CallEnd::HungUpThere)?;
            s.call_quality(&id, &figures)
        })
        .await
        .unwrap();
    // Figures that cannot be are refused on the desktop already, and the draft keeps the last good ones.
    let refused = priya
        .run(move |s| s.call_quality(&id, &CallQuality::new(4.0, 3.0, 1.2)))
        .await;
    assert!(
        matches!(refused, Err(SyncError::Store(StoreError::Invalid(ref m))) if m.contains("loss")),
        "{refused:?}"
    );

    // The wrap-up logs it with the figures; an old-style log (no figures) goes in the same push.
    let wrap = WrapUp {
        disposition: "interested".into(),
        notes: "Bad line at first; wants the catalogue on WhatsApp".into(),
        ..WrapUp::default()
    };
    let logged = priya.run(move |s| s.log_drafted_call(&id, &wrap)).await.unwrap();
    assert_eq!(logged.quality, Some(final_figures.clone()));
    let me = priya.run(|s| s.me()).await.unwrap();
    let plain = CallLog {
        id: leadline_model::new_id(),
        started_at: t0 + Duration::seconds(200),
        answered_at: None,
        ended_at: Some(t0 + Duration::seconds(230)),
        duration_s: 0,
        disposition: "no_answer".into(),
        notes: String::new(),
        quality: None,
        provider_call_id: None,
        telecaller_id: me.id,
        ..logged.clone()
    };
    let plain_log = plain.clone();
    priya.run(move |s| s.log_call(&plain_log)).await.unwrap();

    let report = sync_once(&priya_client, &priya).await.unwrap();
    assert_eq!(report.push.confirmed, 2, "{report:?}");
    assert!(report.push.rejected.is_empty(), "{report:?}");
    assert_eq!(
        server_figures(dir, &id),
        (
            Some(3.87),
            Some(182.0),
            Some(12.25),
            Some(0.0425),
            Some("opus".into())
        )
    );
    assert_eq!(server_figures(dir, &plain.id), (None, None, None, None, None));

    // The supervisor's desktop pulls both: the figures intact, none on the plain one.
    sync_once(&meera_client, &meera).await.unwrap();
    let seen = meera.run(move |s| s.call_logs_for_lead(&lead_id)).await.unwrap();
    let pulled = seen.iter().find(|c| c.id == id).expect("the call reached meera");
    assert_eq!(pulled.quality, Some(final_figures.clone()));
    assert_eq!(pulled.notes, logged.notes);
    let pulled_plain = seen
        .iter()
        .find(|c| c.id == plain.id)
        .expect("the plain call too");
    assert_eq!(pulled_plain.quality, None);

    // Priya's own cache agrees after her pull (nothing doubled, nothing changed).
    sync_once(&priya_client, &priya).await.unwrap();
    let mine = priya.run(move |s| s.call_logs_for_lead(&lead_id)).await.unwrap();
    assert_eq!(mine.iter().filter(|c| c.id == id).count(), 1);
    assert_eq!(
        mine.iter().find(|c| c.id == id).unwrap().quality,
        Some(final_figures)
    );
    server.stop().await.unwrap();
}
