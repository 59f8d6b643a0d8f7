//! The sync engine against the real server (in-process, real SQLite files on both sides, the demo data):
//! offline changes reach the server exactly once, a lost answer is not a second copy, concurrent edits
//! merge field by field or become visible conflicts, a call on a lead reassigned while offline is kept,
//! refused changes stay visible, and the running engine hears assignments over the event socket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use leadline_model::sync::{LeadPatch, MutationStatus, PROTOCOL_VERSION, PushBatch};
use leadline_model::{CallDirection, CallLog, Id, Lead, LeadPriority, LeadStatus, new_id};
use leadline_server::{RunningServer, ServeConfig};
use leadline_store::{Store, StoreKey};
use leadline_sync::{Client, Engine, EngineConfig, SharedStore, SyncError, SyncEvent, push_all, sync_once};

const PASSWORD: &str = "leadline-demo";
const SECRET: &str = "engine-test-secret-engine-test-secret-0123";

async fn start(dir: &Path, listen: SocketAddr) -> RunningServer {
    let config = ServeConfig {
        listen,
        jwt_secret: Some(SECRET.into()),
        ..ServeConfig::new(dir)
    };
    leadline_server::start(&config).await.unwrap()
}

struct World {
    dir: tempfile::TempDir,
    server: Option<RunningServer>,
    addr: SocketAddr,
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        leadline_server::demo::seed(&dir.path().join("server"), 7).unwrap();
        let server = start(&dir.path().join("server"), "127.0.0.1:0".parse().unwrap()).await;
        let addr = server.addr();
        Self {
            dir,
            server: Some(server),
            addr,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token of an admin (the demo has none: one is added).
    async fn admin_token(&self) -> String {
        let admin = leadline_model::User {
            id: leadline_model::new_id(),
            username: "asha".into(),
            name: "Asha Admin".into(),
            role: leadline_model::Role::Admin,
            team: None,
        };
        let hash = leadline_server::auth::hash_password(PASSWORD).unwrap();
        self.server
            .as_ref()
            .unwrap()
            .state()
            .repo()
            .write(move |tx| leadline_server::db::insert_user(tx, &admin, &hash, &Utc::now()))
            .await
            .unwrap();
        self.token("asha").await
    }

    async fn stop(&mut self) {
        self.server.take().unwrap().stop().await.unwrap();
    }

    /// Starts the server again on the same port (clients keep their URL).
    async fn restart(&mut self) {
        let dir = self.dir.path().join("server");
        let mut tries = 0;
        loop {
            let config = ServeConfig {
                listen: self.addr,
                jwt_secret: Some(SECRET.into()),
                ..ServeConfig::new(&dir)
            };
            match leadline_server::start(&config).await {
                Ok(s) => {
                    self.server = Some(s);
                    return;
                }
                Err(e) if tries < 50 => {
                    tries += 1;
                    tracing_free_sleep(&e).await;
                }
                Err(e) => panic!("restart: {e}"),
            }
        }
    }

    /// A signed-in device of `user` with its own cache file, pulled once.
    async fn device(&self, user: &str, name: &str) -> (Client, SharedStore) {
        let mut store = Store::open(
            &self.dir.path().join(format!("{name}.sqlite3")),
            // One key for every device file of a test (a device reopened keeps its file readable).
            &StoreKey::from_hex(&"5a".repeat(32)).unwrap(),
        )
        .unwrap();
        let device_id = store.device_id().unwrap();
        let mut client = Client::new(&self.url()).unwrap();
        let login = client.login(user, PASSWORD, Some(&device_id)).await.unwrap();
        store.set_account(client.server_url(), &login.user).unwrap();
        let store = SharedStore::new(store);
        sync_once(&client, &store).await.unwrap();
        (client, store)
    }

    /// The server's database, read-only: the test's own view of what the server holds.
    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.dir.path().join("server/leadline-server.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    fn server_call_ids(&self, lead: Option<&Id>) -> Vec<String> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT id FROM call_logs WHERE (?1 IS NULL OR lead_id = ?1) ORDER BY id")
            .unwrap();
        stmt.query_map([lead.map(ToString::to_string)], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A bearer token of `user`, for REST calls the supervisor makes.
    async fn token(&self, user: &str) -> String {
        let mut c = Client::new(&self.url()).unwrap();
        c.login(user, PASSWORD, Some("test-rest"))
            .await
            .unwrap()
            .access_token
    }

    async fn rest(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// The supervisor (token `supervisor`) assigns priya an unassigned or someone else's lead; its id.
    async fn give_priya_a_lead(&self, supervisor: &str) -> String {
        let lead_id: String = self
            .db()
        .query_row(
                "SELECT id FROM leads WHERE assigned_to IS NOT (SELECT id FROM users WHERE username = 'priya')
                 ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let priya = self.user_id("priya").await;
        self.rest(
            supervisor,
            reqwest::Method::POST,
            "/api/v1/leads/assign",
            serde_json::json!({"lead_ids": [lead_id], "to": priya, "reason": "walk-in enquiry"}),
        )
        .await;
        lead_id
    }

    async fn user_id(&self, username: &str) -> Id {
        let db = self.db();
        let id: String = db
            .query_row("SELECT id FROM users WHERE username = ?1", [username], |r| {
                r.get(0)
            })
            .unwrap();
        id.parse().unwrap()
    }
}

async fn tracing_free_sleep(_e: &leadline_server::ServerError) {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn call(lead: &Lead, me: Id, notes: &str) -> CallLog {
    let now = Utc::now();
    CallLog {
        id: new_id(),
        lead_id: lead.id,
        telecaller_id: me,
        direction: CallDirection::Outbound,
        started_at: now - chrono::Duration::seconds(90),
        answered_at: Some(now - chrono::Duration::seconds(85)),
        ended_at: Some(now),
        duration_s: 85,
        disposition: "interested".into(),
        outcome_tags: vec![],
        notes: notes.into(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: Some("test".into()),
        quality: None,
    }
}

async fn my_leads(store: &SharedStore, n: usize) -> Vec<Lead> {
    let leads = store
        .run(|s| s.list_leads(&leadline_store::LeadQuery::default()))
        .await
        .unwrap();
    leads
        .into_iter()
        .filter(|l| !l.status.is_closed())
        .take(n)
        .collect()
}

async fn me(store: &SharedStore) -> Id {
    store.run(|s| s.me()).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_offline_reach_the_server_exactly_once() {
    let mut w = World::new().await;
    let (client, store) = w.device("priya", "priya").await;
    let me = me(&store).await;
    let leads = my_leads(&store, 5).await;
    let before = w.server_call_ids(None).len();

    w.stop().await;
    let mut logged = BTreeSet::new();
    for i in 0..40 {
        let c = call(&leads[i % leads.len()], me, &format!("offline call {i}"));
        logged.insert(c.id.to_string());
        store.run(move |s| s.log_call(&c)).await.unwrap();
    }
    let lead = leads[0].id;
    let wanted = if leads[0].priority == LeadPriority::Hot {
        LeadPriority::Low
    } else {
        LeadPriority::Hot
    };
    store
        .run(move |s| {
            s.update_lead(
                &lead,
                &LeadPatch {
                    priority: Some(wanted),
                    ..LeadPatch::default()
                },
            )
        })
        .await
        .unwrap();
    let err = push_all(&client, &store).await.unwrap_err();
    assert!(matches!(err, SyncError::Unreachable { .. }), "{err}");
    assert_eq!(store.run(|s| s.pending_count()).await.unwrap().pending, 41);

    w.restart().await;
    let report = sync_once(&client, &store).await.unwrap();
    assert_eq!(report.push.confirmed, 41);
    let counts = store.run(|s| s.pending_count()).await.unwrap();
    assert_eq!((counts.pending, counts.rejected, counts.conflicts), (0, 0, 0));
    let on_server: BTreeSet<String> = w.server_call_ids(None).into_iter().collect();
    assert_eq!(
        on_server.len(),
        before + 40,
        "exactly the offline calls were added"
    );
    assert!(logged.is_subset(&on_server));
    let priority: String = w
        .db()
        .query_row(
            "SELECT priority FROM leads WHERE id = ?1",
            [lead.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(priority, wanted.as_str());

    // Sending the same changes again (a retry after a lost answer) changes nothing.
    let again = sync_once(&client, &store).await.unwrap();
    assert_eq!(again.push.batches, 0, "nothing left to send");
    assert_eq!(w.server_call_ids(None).len(), before + 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_answer_was_lost_is_sent_again_and_counted_once() {
    let w = World::new().await;
    let (client, store) = w.device("priya", "priya").await;
    let me = me(&store).await;
    let leads = my_leads(&store, 3).await;
    let before = w.server_call_ids(None).len();
    for (i, l) in leads.iter().enumerate() {
        let c = call(l, me, &format!("call {i}"));
        store.run(move |s| s.log_call(&c)).await.unwrap();
    }
    // The batch reaches the server and is applied, but the answer never comes back (cut, crash).
    let batch = store.run(|s| s.next_push_batch(500, 1 << 22)).await.unwrap();
    let device_id = store.run(|s| s.device_id()).await.unwrap();
    let body = PushBatch {
        protocol: PROTOCOL_VERSION,
        device_id,
        mutations: batch.iter().map(|e| e.mutation.clone()).collect(),
    };
    let first = client.push(&body).await.unwrap();
    assert!(first.results.iter().all(|r| r.status == MutationStatus::Applied));
    assert_eq!(store.run(|s| s.pending_count()).await.unwrap().pending, 3);

    let report = push_all(&client, &store).await.unwrap();
    assert_eq!(report.confirmed, 3, "answered duplicate, confirmed, gone");
    assert_eq!(store.run(|s| s.pending_count()).await.unwrap().pending, 0);
    assert_eq!(w.server_call_ids(None).len(), before + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_of_other_fields_merge_and_a_clash_on_one_field_is_kept_as_a_conflict() {
    let w = World::new().await;
    let (client, store) = w.device("priya", "priya").await;
    // The demo data is random: pick a lead both edits below really change.
    let lead = my_leads(&store, usize::MAX)
        .await
        .into_iter()
        .find(|l| l.status != LeadStatus::VisitScheduled && l.priority != LeadPriority::Low)
        .expect("an open lead neither scheduled for a visit nor of low priority");
    let meera = w.token("meera").await;

    // The supervisor changes the priority while Priya (offline) changes the status: both survive.
    let id = lead.id;
    store
        .run(move |s| {
            s.update_lead(
                &id,
                &LeadPatch {
                    status: Some(LeadStatus::VisitScheduled),
                    ..LeadPatch::default()
                },
            )
        })
        .await
        .unwrap();
    w.rest(
        &meera,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{id}"),
        serde_json::json!({"version": lead.version, "patch": {"priority": "low"}}),
    )
    .await;
    let report = sync_once(&client, &store).await.unwrap();
    assert_eq!(report.push.rebased, 1);
    assert!(report.push.conflicts.is_empty());
    let (status, priority): (String, String) = w
        .db()
        .query_row(
            "SELECT status, priority FROM leads WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), priority.as_str()), ("visit_scheduled", "low"));
    let local = store.run(move |s| s.get_lead(&id)).await.unwrap();
    assert_eq!(
        (local.status, local.priority),
        (LeadStatus::VisitScheduled, LeadPriority::Low)
    );

    // Both change the status: the server's value stands and Priya's edit becomes a visible conflict.
    let version = local.version;
    store
        .run(move |s| {
            s.update_lead(
                &id,
                &LeadPatch {
                    status: Some(LeadStatus::Interested),
                    city: Some("Pune".into()),
                    ..LeadPatch::default()
                },
            )
        })
        .await
        .unwrap();
    w.rest(
        &meera,
        reqwest::Method::PATCH,
        &format!("/api/v1/leads/{id}"),
        serde_json::json!({"version": version, "patch": {"status": "not_interested"}}),
    )
    .await;
    let report = sync_once(&client, &store).await.unwrap();
    assert_eq!(report.push.conflicts.len(), 1);
    let conflicts = store.run(|s| s.open_conflicts()).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(c.lead_id, id);
    assert_eq!(c.fields.len(), 1, "only the status clashed: {:?}", c.fields);
    assert_eq!(c.fields[0].field, "status");
    assert_eq!(c.fields[0].mine, "interested");
    assert_eq!(c.fields[0].theirs, "not_interested");
    assert_eq!(c.fields[0].base, "visit_scheduled");
    let (status, city): (String, Option<String>) = w
        .db()
        .query_row(
            "SELECT status, city FROM leads WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "not_interested", "the server's value stands");
    assert!(city.is_some(), "the city, which did not clash, went through");
    let local = store.run(move |s| s.get_lead(&id)).await.unwrap();
    assert_eq!(
        local.status,
        LeadStatus::NotInterested,
        "the cache shows the server's value"
    );

    // The user reapplies: it goes through on the new version.
    let cid = c.id;
    assert!(
        store
            .run(move |s| s.reapply_conflict(&cid))
            .await
            .unwrap()
            .is_some()
    );
    sync_once(&client, &store).await.unwrap();
    assert!(store.run(|s| s.open_conflicts()).await.unwrap().is_empty());
    let status: String = w
        .db()
        .query_row("SELECT status FROM leads WHERE id = ?1", [id.to_string()], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "interested");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_a_lead_reassigned_while_offline_is_kept_and_the_lead_leaves_after_sync() {
    let w = World::new().await;
    let (client, store) = w.device("priya", "priya").await;
    let me = me(&store).await;
    let leads = my_leads(&store, 2).await;
    let (a, b) = (leads[0].clone(), leads[1].clone());
    let c1 = call(&a, me, "called before the transfer");
    let c2 = call(&b, me, "called before the transfer too");
    let (c1_id, c2_id) = (c1.id, c2.id);
    store.run(move |s| s.log_call(&c1)).await.unwrap();
    store.run(move |s| s.log_call(&c2)).await.unwrap();

    let meera = w.token("meera").await;
    let arjun = w.user_id("arjun").await;
    w.rest(
        &meera,
        reqwest::Method::POST,
        "/api/v1/leads/assign",
        serde_json::json!({"lead_ids": [a.id, b.id], "to": arjun, "reason": "rebalancing"}),
    )
    .await;

    // Pull first (the removal arrives while the calls are unsent): the leads hide but stay.
    leadline_sync::pull_all(&client, &store).await.unwrap();
    let listed: Vec<Id> = store
        .run(|s| s.list_leads(&leadline_store::LeadQuery::default()))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert!(!listed.contains(&a.id) && !listed.contains(&b.id));
    assert_eq!(store.run(|s| s.pending_count()).await.unwrap().pending, 2);

    // Then push: the server takes both calls (they started before the transfer) and the leads go.
    let report = push_all(&client, &store).await.unwrap();
    assert_eq!(report.confirmed, 2);
    let dropped: BTreeSet<Id> = report.leads_dropped.into_iter().collect();
    assert_eq!(dropped, BTreeSet::from([a.id, b.id]));
    let on_server = w.server_call_ids(None);
    assert!(on_server.contains(&c1_id.to_string()) && on_server.contains(&c2_id.to_string()));
    let aid = a.id;
    assert!(matches!(
        store.run(move |s| s.get_lead(&aid)).await,
        Err(SyncError::Store(leadline_store::StoreError::NotFound(_)))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_server_refuses_stays_visible_and_is_not_retried_blindly() {
    let w = World::new().await;
    let (client, store) = w.device("priya", "priya").await;
    let me = me(&store).await;
    let lead = my_leads(&store, 1).await.remove(0);
    let mut bad = call(&lead, me, "a disposition nobody has");
    bad.disposition = "teleported".into();
    let bad_id = bad.id;
    store.run(move |s| s.log_call(&bad)).await.unwrap();
    let report = sync_once(&client, &store).await.unwrap();
    assert_eq!(report.push.rejected.len(), 1);
    assert!(
        report.push.rejected[0].1.starts_with("bad_disposition"),
        "{:?}",
        report.push.rejected
    );
    let counts = store.run(|s| s.pending_count()).await.unwrap();
    assert_eq!((counts.pending, counts.rejected), (0, 1));
    let rejected = store.run(|s| s.rejected_changes()).await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("bad_disposition")
    );
    // The call log stays in the cache; a later sync does not send it again.
    let lid = lead.id;
    let calls = store.run(move |s| s.call_logs_for_lead(&lid)).await.unwrap();
    assert!(calls.iter().any(|c| c.id == bad_id));
    let again = sync_once(&client, &store).await.unwrap();
    assert_eq!(again.push.batches, 0);
    assert!(!w.server_call_ids(None).contains(&bad_id.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_hears_an_assignment_at_once_and_reports_status() {
    let w = World::new().await;
    let (client, store) = w.device("priya", "priya").await;
    let config = EngineConfig {
        // Only the event socket can bring the assignment this quickly.
        periodic: Duration::from_secs(3600),
        ..EngineConfig::default()
    };
    let engine = Engine::start(client.clone(), store.clone(), config);
    let mut events = engine.subscribe();
    let mut status = engine.status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Wait until the first round succeeded and the socket is up.
    loop {
        {
            let s = status.borrow_and_update();
            if s.events_connected && s.last_success_at.is_some() && !s.syncing {
                assert_eq!(s.connectivity, leadline_sync::Connectivity::Online);
                break;
            }
        }
        tokio::time::timeout_at(deadline, status.changed())
            .await
            .unwrap()
            .unwrap();
    }

    // The supervisor assigns an unassigned or someone else's lead to Priya.
    let meera = w.token("meera").await;
    let lead_id = w.give_priya_a_lead(&meera).await;
    let assigned = loop {
        match tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            SyncEvent::LeadsAssigned { leads } => break leads,
            _ => continue,
        }
    };
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].id.to_string(), lead_id);

    // A local change is counted at once and pushed soon.
    let me = me(&store).await;
    let c = call(&assigned[0], me, "first call on the new lead");
    let cid = c.id;
    store.run(move |s| s.log_call(&c)).await.unwrap();
    engine.local_change();
    loop {
        if w.server_call_ids(None).contains(&cid.to_string()) && status.borrow().pending == 0 {
            break;
        }
        tokio::time::timeout_at(deadline, status.changed())
            .await
            .unwrap()
            .unwrap();
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_announce_an_assignment_and_a_due_follow_up_and_sync_now_waits_for_its_round() {
    let mut w = World::new().await;
    let (client, store) = w.device("priya", "priya-notices").await;
    // One follow-up of hers already due when the desk starts (the demo's backlog is done first: it would
    // be one summary).
    let lead = my_leads(&store, 1).await.remove(0);
    let lead_id = lead.id;
    store
        .run(move |s| {
            for f in s.open_follow_ups()? {
                s.complete_follow_up(&f.id, Utc::now())?;
            }
            s.schedule_follow_up(&lead_id, Utc::now() - chrono::Duration::minutes(2), None)
        })
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let notices = leadline_sync::Notices::new(store.clone(), move |alert| {
        let _ = tx.send(alert);
    });
    notices.set_user(Some(me(&store).await));
    // Meera set priya's daily goal: the engine brings it into the cache for the dashboard.
    let meera = w.token("meera").await;
    let priya = w.user_id("priya").await;
    w.rest(
        &meera,
        reqwest::Method::PUT,
        "/api/v1/goals",
        serde_json::json!({"user_id": priya, "daily_calls": 80, "daily_conversions": 4}),
    )
    .await;
    // An admin adds an outcome to the catalogue after priya's desk was set up: it reaches the form too.
    let admin = w.admin_token().await;
    w.rest(
        &admin,
        reqwest::Method::PUT,
        "/api/v1/dispositions/gold_rate_asked",
        serde_json::json!({"code": "gold_rate_asked", "label": "Asked today's gold rate", "category": "connected",
            "requires_follow_up": false, "hotkey": null, "position": 99, "active": true}),
    )
    .await;
    assert!(
        !store
            .run(|s| s.dispositions())
            .await
            .unwrap()
            .iter()
            .any(|d| d.code == "gold_rate_asked")
    );
    let config = EngineConfig {
        periodic: Duration::from_secs(3600),
        ..EngineConfig::default()
    };
    let engine = Engine::start(client.clone(), store.clone(), config);
    let watcher = notices.watch(&engine);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let first = tokio::time::timeout_at(deadline, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.kind, leadline_sync::AlertKind::FollowUpDue);
    assert_eq!(first.title, format!("Call back {}", lead.name));
    assert_eq!(first.lead_id, Some(lead.id));

    // Wait for the socket, then the supervisor assigns a lead.
    let mut status = engine.status();
    while !status.borrow_and_update().events_connected {
        tokio::time::timeout_at(deadline, status.changed())
            .await
            .unwrap()
            .unwrap();
    }
    let other = w.give_priya_a_lead(&meera).await;
    let alert = tokio::time::timeout_at(deadline, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.kind, leadline_sync::AlertKind::LeadsAssigned);
    assert_eq!(alert.lead_id.map(|id| id.to_string()), Some(other));
    assert_eq!(alert.title, "New lead assigned to you");

    // During a call the next one waits for the call's end.
    notices.set_on_call(true);
    notices.missed_call("call-1", "+912240001234", None, None);
    assert!(rx.try_recv().is_err());
    notices.set_on_call(false);
    assert_eq!(rx.try_recv().unwrap().kind, leadline_sync::AlertKind::MissedCall);

    // "Sync now" answers after its own round: online now, offline once the server is gone.
    let s = engine.sync_now_and_wait(Duration::from_secs(20)).await;
    assert_eq!(s.connectivity, leadline_sync::Connectivity::Online);
    assert!(s.last_error.is_none(), "{s:?}");
    let goal = store
        .run(move |s| s.goal_for(&priya))
        .await
        .unwrap()
        .expect("priya's goal");
    assert_eq!((goal.daily_calls, goal.daily_conversions), (80, 4));
    let catalogue = store.run(|s| s.dispositions()).await.unwrap();
    let added = catalogue
        .iter()
        .find(|d| d.code == "gold_rate_asked")
        .expect("the admin's new outcome");
    assert_eq!(added.label, "Asked today's gold rate");
    assert_eq!(
        catalogue.last().map(|d| d.code.as_str()),
        Some("gold_rate_asked"),
        "in the server's order"
    );
    w.stop().await;
    let s = engine.sync_now_and_wait(Duration::from_secs(20)).await;
    assert_eq!(s.connectivity, leadline_sync::Connectivity::Offline, "{s:?}");
    assert!(s.last_error.is_some() && s.next_retry_at.is_some(), "{s:?}");
    engine.shutdown().await;
    tokio::time::timeout(Duration::from_secs(5), watcher)
        .await
        .unwrap()
        .unwrap();
}
