//! The write side: `POST /api/v1/sync/push` (exactly once, per-mutation results, scope, conflicts) and the
//! REST writes of leads, call logs and follow-ups, on a private copy of the seeded database.

use chrono::{Duration, SubsecRound, Utc};
use leadline_model::sync::{
    Change, Cursor, LeadPatch, Mutation, MutationOp, MutationStatus, PROTOCOL_VERSION, PushBatch,
    PushResponse,
};
use leadline_model::{
    CallDirection, CallLog, FollowUp, FollowUpSpec, Id, Lead, LeadStatus, PhoneNumber, Timestamp, new_id,
};
use leadline_server::db::{self, Scope};
use leadline_server::{RunningServer, params};
use serde_json::json;

use super::common::*;

struct Env {
    db: TestDb,
    server: RunningServer,
    http: reqwest::Client,
    base: String,
}

impl Env {
    async fn new(name: &str) -> Env {
        let db = TestDb::copy_of_seeded(name);
        let server = db.start().await;
        let base = server.base_url();
        Env {
            db,
            server,
            http: client(),
            base,
        }
    }

    fn token(&self, username: &str) -> String {
        self.server
            .state()
            .keys()
            .issue(&self.db.user(username), Utc::now())
            .expect("token")
    }

    fn id(&self, username: &str) -> Id {
        self.db.user(username).id
    }

    /// Leads assigned to `username`, by id.
    fn leads_of(&self, username: &str, n: i64) -> Vec<Id> {
        self.db
            .query(
                "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT $2",
                params![db::id_text(&self.id(username)), n],
            )
            .iter()
            .map(|r| Id::parse_str(&r.get::<String>(0).unwrap()).unwrap())
            .collect()
    }

    fn lead(&self, id: Id) -> Lead {
        self.db.tx(move |tx| db::lead_by_id(tx, &id)).expect("lead")
    }

    fn count(&self, sql: &str, params: Vec<leadline_server::sql::Value>) -> i64 {
        self.db.scalar::<i64>(sql, params)
    }

    fn calls_from(&self, device: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM call_logs WHERE device_id = $1",
            params![device],
        )
    }

    async fn push_raw(&self, tok: &str, body: reqwest::Body) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1/sync/push", self.base))
            .bearer_auth(tok)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("push")
    }

    async fn push(&self, tok: &str, mutations: &[Mutation]) -> Vec<MutationStatus> {
        let batch = PushBatch {
            protocol: PROTOCOL_VERSION,
            device_id: "test-device".to_owned(),
            mutations: mutations.to_vec(),
        };
        let res = self
            .push_raw(tok, serde_json::to_vec(&batch).unwrap().into())
            .await;
        assert_eq!(res.status(), 200);
        let body: PushResponse = res.json().await.expect("PushResponse");
        assert_eq!(body.results.len(), mutations.len());
        for (r, m) in body.results.iter().zip(mutations) {
            assert_eq!(r.client_mutation_id, m.client_mutation_id, "results in order");
        }
        body.results.into_iter().map(|r| r.status).collect()
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        tok: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(tok)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    async fn pull_everything(&self, tok: &str) -> Vec<Change> {
        let (pages, _) = pull_all(&self.http, &self.base, tok, Cursor::start(), 2000).await;
        pages.into_iter().flat_map(|p| p.changes).collect()
    }
}

fn now() -> Timestamp {
    Utc::now().trunc_subsecs(3)
}

fn call(lead: Id, telecaller: Id, started: Timestamp, disposition: &str, device: &str) -> CallLog {
    CallLog {
        id: new_id(),
        lead_id: lead,
        telecaller_id: telecaller,
        direction: CallDirection::Outbound,
        started_at: started,
        answered_at: Some(started + Duration::seconds(5)),
        ended_at: Some(started + Duration::seconds(65)),
        duration_s: 60,
        disposition: disposition.to_owned(),
        outcome_tags: vec!["asked_price".to_owned()],
        notes: "Wants a **gold chain**, call after Diwali".to_owned(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: Some(device.to_owned()),
        quality: None,
    }
}

fn mutation(op: MutationOp) -> Mutation {
    Mutation {
        client_mutation_id: new_id(),
        created_at: Utc::now(),
        op,
    }
}

fn rejected(s: &MutationStatus) -> &str {
    match s {
        MutationStatus::Rejected { reason } => reason,
        other => panic!("expected rejected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_batch_applies_once_and_reaches_the_pull_feed() {
    let env = Env::new("push_once").await;
    let (priya, tok) = (env.id("priya"), env.token("priya"));
    let leads = env.leads_of("priya", 5);
    assert_eq!(leads.len(), 5);
    let start = now() - Duration::hours(2);
    let mut calls: Vec<CallLog> = leads
        .iter()
        .map(|l| call(*l, priya, start, "interested", "dev-once"))
        .collect();
    let due = now() + Duration::days(2);
    calls[0].follow_up = Some(FollowUpSpec {
        due_at: due,
        note: Some("bring the catalogue".to_owned()),
    });
    let batch: Vec<Mutation> = calls
        .iter()
        .map(|c| mutation(MutationOp::CreateCallLog(c.clone())))
        .collect();

    let first = env.push(&tok, &batch).await;
    assert!(first.iter().all(|s| *s == MutationStatus::Applied), "{first:?}");
    assert_eq!(env.calls_from("dev-once"), 5);
    let follow_ups = env.count(
        "SELECT count(*) FROM follow_ups WHERE call_log_id = $1",
        params![db::id_text(&calls[0].id)],
    );
    assert_eq!(follow_ups, 1, "the call's follow-up is created with it");

    let again = env.push(&tok, &batch).await;
    assert!(again.iter().all(|s| *s == MutationStatus::Duplicate), "{again:?}");
    assert_eq!(env.calls_from("dev-once"), 5);

    // The same call log under a new client mutation id is a duplicate too.
    let renewed = env
        .push(&tok, &[mutation(MutationOp::CreateCallLog(calls[1].clone()))])
        .await;
    assert_eq!(renewed, vec![MutationStatus::Duplicate]);
    assert_eq!(env.calls_from("dev-once"), 5);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM applied_mutations WHERE user_id = $1",
            params![db::id_text(&priya)]
        ),
        6
    );

    // Priya's own pull feed carries the logs (notes decrypted) and the follow-up.
    let changes = env.pull_everything(&tok).await;
    for c in &calls {
        let pulled = changes
            .iter()
            .find_map(|ch| match ch {
                Change::CallLog(l) if l.id == c.id => Some(l),
                _ => None,
            })
            .unwrap_or_else(|| panic!("call log {} not in the feed", c.id));
        assert_eq!(pulled.notes, c.notes);
        assert_eq!(pulled.disposition, "interested");
    }
    let fu = changes
        .iter()
        .find_map(|ch| match ch {
            Change::FollowUp(f) if f.call_log_id == Some(calls[0].id) => Some(f),
            _ => None,
        })
        .expect("the follow-up is in the feed");
    assert_eq!(fu.due_at, due);
    assert_eq!(fu.assigned_to, priya);
    assert_eq!(fu.note.as_deref(), Some("bring the catalogue"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_pushes_apply_once() {
    let env = Env::new("push_concurrent").await;
    let (priya, tok) = (env.id("priya"), env.token("priya"));
    let start = now() - Duration::hours(1);
    let batch: Vec<Mutation> = env
        .leads_of("priya", 20)
        .iter()
        .map(|l| {
            mutation(MutationOp::CreateCallLog(call(
                *l,
                priya,
                start,
                "no_answer",
                "dev-race",
            )))
        })
        .collect();
    let (a, b) = tokio::join!(env.push(&tok, &batch), env.push(&tok, &batch));
    for (x, y) in a.iter().zip(&b) {
        let mut pair = [x.clone(), y.clone()];
        pair.sort_by_key(|s| format!("{s:?}"));
        assert_eq!(
            pair,
            [MutationStatus::Applied, MutationStatus::Duplicate],
            "each mutation applied by exactly one push"
        );
    }
    assert_eq!(env.calls_from("dev-race"), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_logs_are_scoped_to_the_telecallers_leads() {
    let env = Env::new("push_scope").await;
    let (priya, arjun, tok) = (env.id("priya"), env.id("arjun"), env.token("priya"));
    let mine = env.leads_of("priya", 1)[0];
    let theirs = env.leads_of("arjun", 1)[0];
    let start = now() - Duration::minutes(30);
    let results = env
        .push(
            &tok,
            &[
                mutation(MutationOp::CreateCallLog(call(
                    theirs,
                    priya,
                    start,
                    "interested",
                    "dev-scope",
                ))),
                mutation(MutationOp::CreateCallLog(call(
                    mine,
                    arjun,
                    start,
                    "interested",
                    "dev-scope",
                ))),
                mutation(MutationOp::CreateCallLog(call(
                    mine,
                    priya,
                    start,
                    "interested",
                    "dev-scope",
                ))),
            ],
        )
        .await;
    assert!(rejected(&results[0]).starts_with("not_found"), "{results:?}");
    assert!(rejected(&results[1]).starts_with("forbidden"), "{results:?}");
    assert_eq!(results[2], MutationStatus::Applied);
    assert_eq!(env.calls_from("dev-scope"), 1);

    // The supervisor may log for a member of her team.
    let meera = env.token("meera");
    let results = env
        .push(
            &meera,
            &[mutation(MutationOp::CreateCallLog(call(
                theirs,
                arjun,
                start,
                "busy",
                "dev-scope",
            )))],
        )
        .await;
    assert_eq!(results, vec![MutationStatus::Applied]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_reassigned_while_offline_still_takes_the_calls_made_before() {
    let env = Env::new("push_reassigned").await;
    let (priya, arjun, tok) = (env.id("priya"), env.id("arjun"), env.token("priya"));
    let lead = env.leads_of("priya", 1)[0];
    let moved_at = now() - Duration::minutes(30);
    env.db
        .tx(move |tx| db::assign_lead(tx, &lead, Some(&arjun), &moved_at));
    let before = call(
        lead,
        priya,
        moved_at - Duration::minutes(20),
        "interested",
        "dev-moved",
    );
    let after = call(
        lead,
        priya,
        moved_at + Duration::minutes(5),
        "interested",
        "dev-moved",
    );
    let results = env
        .push(
            &tok,
            &[
                mutation(MutationOp::CreateCallLog(before.clone())),
                mutation(MutationOp::CreateCallLog(after)),
            ],
        )
        .await;
    assert_eq!(results[0], MutationStatus::Applied);
    assert!(rejected(&results[1]).starts_with("not_found"), "{results:?}");
    assert_eq!(env.calls_from("dev-moved"), 1);
    // The new owner receives it.
    let changes = env.pull_everything(&env.token("arjun")).await;
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::CallLog(l) if l.id == before.id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_call_logs_are_rejected_while_the_rest_applies() {
    let env = Env::new("push_invalid").await;
    let (priya, tok) = (env.id("priya"), env.token("priya"));
    let leads = env.leads_of("priya", 3);
    let start = now() - Duration::hours(1);
    let mut backwards = call(leads[1], priya, start, "interested", "dev-invalid");
    backwards.ended_at = Some(start - Duration::seconds(1));
    let mut future = call(
        leads[1],
        priya,
        now() + Duration::days(1),
        "interested",
        "dev-invalid",
    );
    future.ended_at = None;
    future.answered_at = None;
    let mut negative = call(leads[1], priya, start, "interested", "dev-invalid");
    negative.duration_s = -1;
    let mut novel = call(leads[1], priya, start, "interested", "dev-invalid");
    novel.notes = "x".repeat(20_001);
    let mut nul = call(leads[1], priya, start, "interested", "dev-invalid");
    nul.provider_call_id = Some("CA\0x".to_owned());
    let results = env
        .push(
            &tok,
            &[
                mutation(MutationOp::CreateCallLog(call(
                    leads[0],
                    priya,
                    start,
                    "interested",
                    "dev-invalid",
                ))),
                mutation(MutationOp::CreateCallLog(call(
                    leads[1],
                    priya,
                    start,
                    "teleported",
                    "dev-invalid",
                ))),
                mutation(MutationOp::CreateCallLog(backwards)),
                mutation(MutationOp::CreateCallLog(future)),
                mutation(MutationOp::CreateCallLog(negative)),
                mutation(MutationOp::CreateCallLog(novel)),
                mutation(MutationOp::CreateCallLog(nul)),
                mutation(MutationOp::CreateCallLog(call(
                    leads[2],
                    priya,
                    start,
                    "busy",
                    "dev-invalid",
                ))),
            ],
        )
        .await;
    assert_eq!(results[0], MutationStatus::Applied);
    assert!(
        rejected(&results[1]).starts_with("bad_disposition"),
        "{results:?}"
    );
    assert!(rejected(&results[2]).starts_with("bad_ended_at"), "{results:?}");
    assert!(rejected(&results[3]).starts_with("bad_started_at"), "{results:?}");
    assert!(rejected(&results[4]).starts_with("bad_duration"), "{results:?}");
    assert!(rejected(&results[5]).starts_with("bad_notes"), "{results:?}");
    assert!(
        rejected(&results[6]).starts_with("bad_provider_call_id"),
        "{results:?}"
    );
    assert_eq!(results[7], MutationStatus::Applied);
    assert_eq!(env.calls_from("dev-invalid"), 2);
    // A rejected mutation leaves no trace: only the two applied ids are remembered.
    assert_eq!(
        env.count(
            "SELECT count(*) FROM applied_mutations WHERE user_id = $1",
            params![db::id_text(&priya)]
        ),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_lead_applies_on_its_version_and_conflicts_otherwise() {
    let env = Env::new("push_update").await;
    let tok = env.token("priya");
    let id = env.leads_of("priya", 1)[0];
    let before = env.lead(id);
    let stale = mutation(MutationOp::UpdateLead {
        lead_id: id,
        base_version: before.version - 1,
        patch: LeadPatch {
            status: Some(LeadStatus::Converted),
            ..LeadPatch::default()
        },
    });
    let results = env.push(&tok, &[stale]).await;
    match &results[0] {
        MutationStatus::Conflict { current } => assert_eq!(**current, before),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(env.lead(id), before, "a conflict changes nothing");

    let alternate = PhoneNumber::parse("+91 90000 12345").unwrap();
    let fresh = mutation(MutationOp::UpdateLead {
        lead_id: id,
        base_version: before.version,
        patch: LeadPatch {
            status: Some(LeadStatus::VisitScheduled),
            tags: Some(vec!["bridal".to_owned()]),
            email: Some("asha@example.in".to_owned()),
            alternate_phone: Some(alternate.clone()),
            budget_inr: Some(250_000),
            ..LeadPatch::default()
        },
    });
    assert_eq!(
        env.push(&tok, std::slice::from_ref(&fresh)).await,
        vec![MutationStatus::Applied]
    );
    let after = env.lead(id);
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.status, LeadStatus::VisitScheduled);
    assert_eq!(after.tags, vec!["bridal".to_owned()]);
    assert_eq!(after.email.as_deref(), Some("asha@example.in"));
    assert_eq!(after.alternate_phone.as_ref(), Some(&alternate));
    assert_eq!(after.budget_inr, Some(250_000));
    assert_eq!(after.phone, before.phone);
    // Stored sealed, found by the blind index.
    let stored: String = env
        .db
        .scalar("SELECT email FROM leads WHERE id = $1", params![db::id_text(&id)]);
    assert!(!stored.contains("asha"), "email stored in the clear: {stored}");
    let found = env
        .db
        .tx(move |tx| db::writes::lead_with_phone(tx, &Scope::All, &alternate));
    assert_eq!(found, Some(id));
    // The same mutation again: a duplicate, not a conflict.
    assert_eq!(env.push(&tok, &[fresh]).await, vec![MutationStatus::Duplicate]);

    // Someone else's lead is not found for a telecaller.
    let theirs = env.leads_of("arjun", 1)[0];
    let v = env.lead(theirs).version;
    let results = env
        .push(
            &tok,
            &[mutation(MutationOp::UpdateLead {
                lead_id: theirs,
                base_version: v,
                patch: LeadPatch {
                    status: Some(LeadStatus::Invalid),
                    ..LeadPatch::default()
                },
            })],
        )
        .await;
    assert!(rejected(&results[0]).starts_with("not_found"));
    assert_eq!(env.lead(theirs).version, v);

    // The feed carries the new version.
    let changes = env.pull_everything(&tok).await;
    let last = changes
        .iter()
        .filter_map(|c| match c {
            Change::Lead(l) if l.id == id => Some(l),
            _ => None,
        })
        .next_back()
        .expect("lead in the feed");
    assert_eq!(last.version, before.version + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_lead_answers_409_with_the_current_row_and_keeps_assignment_server_owned() {
    let env = Env::new("patch_lead").await;
    let (tok, meera) = (env.token("priya"), env.token("meera"));
    let id = env.leads_of("priya", 1)[0];
    let before = env.lead(id);
    let path = format!("/api/v1/leads/{id}");

    let (status, body) = env
        .send(
            reqwest::Method::PATCH,
            &path,
            &tok,
            json!({"version": before.version + 3, "patch": {"status": "contacted"}}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "version_conflict");
    let current: Lead = serde_json::from_value(body["current"].clone()).expect("current lead");
    assert_eq!(current, before);
    assert_eq!(env.lead(id), before);

    let arjun = env.id("arjun");
    let (status, body) = env
        .send(
            reqwest::Method::PATCH,
            &path,
            &tok,
            json!({"version": before.version, "patch": {"assigned_to": arjun}}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = env
        .send(
            reqwest::Method::PATCH,
            &path,
            &meera,
            json!({"version": before.version, "patch": {"assigned_to": arjun}}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("read_only_field")));
    let (status, body) = env
        .send(
            reqwest::Method::PATCH,
            &path,
            &tok,
            json!({"version": before.version, "patch": {"colour": "blue"}}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("unknown_field")));
    let (status, body) = env
        .send(
            reqwest::Method::PATCH,
            &path,
            &tok,
            json!({"version": before.version, "patch": {"email": "not an email"}}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_email")));
    assert_eq!(env.lead(id), before, "refused edits change nothing");

    let (status, body) = env
        .send(
            reqwest::Method::PATCH,
            &path,
            &tok,
            json!({"version": before.version, "patch": {"status": "contacted", "priority": "hot"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let after: Lead = serde_json::from_value(body).unwrap();
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.assigned_to, Some(env.id("priya")));
    assert_eq!(env.lead(id), after);

    // Another telecaller's lead is 404 for priya.
    let theirs = env.leads_of("arjun", 1)[0];
    let v = env.lead(theirs).version;
    let (status, _) = env
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/leads/{theirs}"),
            &tok,
            json!({"version": v, "patch": {"status": "contacted"}}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_lead_checks_role_phone_and_duplicates() {
    let env = Env::new("create_lead").await;
    let (priya, meera) = (env.token("priya"), env.token("meera"));
    let arjun = env.id("arjun");
    // A number no seeded lead has.
    let number = (0..100)
        .map(|i| PhoneNumber::parse(&format!("+91 93{i:02}0 5{i:02}17")).unwrap())
        .find(|p| {
            let p = p.clone();
            env.db
                .tx(move |tx| db::writes::lead_with_phone(tx, &Scope::All, &p))
                .is_none()
        })
        .expect("a free number");
    let body = json!({"name": "Asha Kulkarni", "phone": number.as_str(), "source": "walk_in",
                      "assigned_to": arjun, "tags": ["bridal"], "email": "asha@example.in"});

    let (status, _) = env
        .send(reqwest::Method::POST, "/api/v1/leads", &priya, body.clone())
        .await;
    assert_eq!(status, 403);

    let (status, created) = env
        .send(reqwest::Method::POST, "/api/v1/leads", &meera, body.clone())
        .await;
    assert_eq!(status, 201, "{created}");
    let lead: Lead = serde_json::from_value(created).unwrap();
    assert_eq!(lead.phone, number);
    assert_eq!(lead.assigned_to, Some(arjun));
    assert_eq!(lead.version, 1);
    assert_eq!(env.lead(lead.id), lead);

    // The same number typed another way.
    let local = format!("0{}", &number.as_str()[3..]);
    let (status, dup) = env
        .send(
            reqwest::Method::POST,
            "/api/v1/leads",
            &meera,
            json!({"name": "Asha K", "phone": local}),
        )
        .await;
    assert_eq!(status, 409, "{dup}");
    assert_eq!(dup["code"], "duplicate_phone");
    assert_eq!(dup["current"]["lead_id"], json!(lead.id));

    let (status, bad) = env
        .send(
            reqwest::Method::POST,
            "/api/v1/leads",
            &meera,
            json!({"name": "X", "phone": "12"}),
        )
        .await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("bad_phone")));
    assert_eq!(
        env.count(
            "SELECT count(*) FROM leads WHERE created_at = $1",
            params![db::ts(&lead.created_at)]
        ),
        1
    );

    // Arjun receives the new lead in his feed.
    let changes = env.pull_everything(&env.token("arjun")).await;
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Lead(l) if l.id == lead.id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_whole_with_codes() {
    let env = Env::new("push_bad").await;
    let (priya, tok) = (env.id("priya"), env.token("priya"));
    let lead = env.leads_of("priya", 1)[0];
    let count = || env.count("SELECT count(*) FROM applied_mutations", vec![]) + env.calls_from("dev-bad");
    let before = count();

    let res = env
        .push_raw(&tok, "{\"protocol\": 1, \"mutations\": [".into())
        .await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");

    let start = now() - Duration::hours(1);
    let too_many = PushBatch {
        protocol: PROTOCOL_VERSION,
        device_id: "d".to_owned(),
        mutations: (0..501)
            .map(|_| {
                mutation(MutationOp::CreateCallLog(call(
                    lead, priya, start, "busy", "dev-bad",
                )))
            })
            .collect(),
    };
    let res = env
        .push_raw(&tok, serde_json::to_vec(&too_many).unwrap().into())
        .await;
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "batch_too_large");

    let mut huge = call(lead, priya, start, "busy", "dev-bad");
    huge.notes = "x".repeat(9 * 1024 * 1024);
    let big = PushBatch {
        protocol: PROTOCOL_VERSION,
        device_id: "d".to_owned(),
        mutations: vec![mutation(MutationOp::CreateCallLog(huge))],
    };
    // In process, not over TCP: a server refusing a body it has not read closes the connection, and the
    // client may see the reset rather than the answer.
    let request = axum::http::Request::post("/api/v1/sync/push")
        .header("authorization", format!("Bearer {tok}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(serde_json::to_vec(&big).unwrap()))
        .unwrap();
    let res = tower::ServiceExt::oneshot(leadline_server::router(env.server.state().clone()), request)
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["code"], "payload_too_large");

    let old = PushBatch {
        protocol: 99,
        device_id: "d".to_owned(),
        mutations: vec![mutation(MutationOp::CreateCallLog(call(
            lead, priya, start, "busy", "dev-bad",
        )))],
    };
    let res = env.push_raw(&tok, serde_json::to_vec(&old).unwrap().into()).await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "bad_protocol");

    let res = env
        .http
        .post(format!("{}/api/v1/sync/push", env.base))
        .json(&big.mutations[..0])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(count(), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_call_logs_and_follow_ups_are_idempotent() {
    let env = Env::new("rest_writes").await;
    let (priya, tok) = (env.id("priya"), env.token("priya"));
    let lead = env.leads_of("priya", 1)[0];
    let log = call(
        lead,
        priya,
        now() - Duration::minutes(10),
        "callback_requested",
        "dev-rest",
    );
    let body = serde_json::to_value(&log).unwrap();
    let (status, first) = env
        .send(reqwest::Method::POST, "/api/v1/call-logs", &tok, body.clone())
        .await;
    assert_eq!(status, 201, "{first}");
    let mut changed = body.clone();
    changed["notes"] = json!("something else");
    let (status, again) = env
        .send(reqwest::Method::POST, "/api/v1/call-logs", &tok, changed)
        .await;
    assert_eq!(status, 200);
    let stored: CallLog = serde_json::from_value(again).unwrap();
    assert_eq!(stored.notes, log.notes, "the stored row, unchanged");
    assert_eq!(env.calls_from("dev-rest"), 1);
    // Arjun may not log on priya's lead, nor read her log through a repeated id.
    let arjun = env.token("arjun");
    let mut other = call(
        lead,
        env.id("arjun"),
        now() - Duration::minutes(5),
        "busy",
        "dev-rest",
    );
    let (status, _) = env
        .send(
            reqwest::Method::POST,
            "/api/v1/call-logs",
            &arjun,
            serde_json::to_value(&other).unwrap(),
        )
        .await;
    assert_eq!(status, 404);
    other.id = log.id;
    let (status, dup) = env
        .send(
            reqwest::Method::POST,
            "/api/v1/call-logs",
            &arjun,
            serde_json::to_value(&other).unwrap(),
        )
        .await;
    assert_eq!((status, dup["code"].as_str()), (409, Some("duplicate_id")));
    let mut bad = call(lead, priya, now(), "nope", "dev-rest");
    bad.id = new_id();
    let (status, body) = env
        .send(
            reqwest::Method::POST,
            "/api/v1/call-logs",
            &tok,
            serde_json::to_value(&bad).unwrap(),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_disposition")));

    let f = FollowUp {
        id: new_id(),
        lead_id: lead,
        assigned_to: priya,
        due_at: now() + Duration::days(1),
        note: Some("call after lunch".to_owned()),
        call_log_id: Some(log.id),
        completed_at: None,
        created_at: now(),
    };
    let fbody = serde_json::to_value(&f).unwrap();
    let (status, _) = env
        .send(reqwest::Method::POST, "/api/v1/follow-ups", &tok, fbody.clone())
        .await;
    assert_eq!(status, 201);
    let (status, _) = env
        .send(reqwest::Method::POST, "/api/v1/follow-ups", &tok, fbody)
        .await;
    assert_eq!(status, 200);
    // Not for someone else, as a telecaller.
    let mut theirs = f.clone();
    theirs.id = new_id();
    theirs.assigned_to = env.id("arjun");
    let (status, _) = env
        .send(
            reqwest::Method::POST,
            "/api/v1/follow-ups",
            &tok,
            serde_json::to_value(&theirs).unwrap(),
        )
        .await;
    assert_eq!(status, 403);

    let new_due = (now() + Duration::days(3)).trunc_subsecs(3);
    let (status, moved) = env
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/follow-ups/{}/reschedule", f.id),
            &tok,
            json!({"due_at": new_due}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(serde_json::from_value::<FollowUp>(moved).unwrap().due_at, new_due);
    let (status, done) = env
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/follow-ups/{}/complete", f.id),
            &tok,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let done: FollowUp = serde_json::from_value(done).unwrap();
    let at = done.completed_at.expect("completed");
    let (status, again) = env
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/follow-ups/{}/complete", f.id),
            &tok,
            json!({"completed_at": now()}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_value::<FollowUp>(again).unwrap().completed_at,
        Some(at),
        "the first completion stands"
    );
    let (status, body) = env
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/follow-ups/{}/reschedule", f.id),
            &tok,
            json!({"due_at": new_due}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("already_completed")));
    let (status, _) = env
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/follow-ups/{}/complete", f.id),
            &arjun,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_mutations_create_reschedule_and_complete() {
    let env = Env::new("push_follow_ups").await;
    let (priya, tok) = (env.id("priya"), env.token("priya"));
    let lead = env.leads_of("priya", 1)[0];
    let f = FollowUp {
        id: new_id(),
        lead_id: lead,
        assigned_to: priya,
        due_at: now() + Duration::days(1),
        note: None,
        call_log_id: None,
        completed_at: None,
        created_at: now(),
    };
    let due = now() + Duration::days(4);
    let done_at = now();
    let ops = [
        mutation(MutationOp::CreateFollowUp(f.clone())),
        mutation(MutationOp::RescheduleFollowUp {
            follow_up_id: f.id,
            due_at: due,
        }),
        mutation(MutationOp::CompleteFollowUp {
            follow_up_id: f.id,
            completed_at: done_at,
        }),
        mutation(MutationOp::CompleteFollowUp {
            follow_up_id: f.id,
            completed_at: now(),
        }),
        mutation(MutationOp::RescheduleFollowUp {
            follow_up_id: f.id,
            due_at: due,
        }),
        mutation(MutationOp::CompleteFollowUp {
            follow_up_id: new_id(),
            completed_at: now(),
        }),
    ];
    let results = env.push(&tok, &ops).await;
    assert_eq!(
        &results[..3],
        &[
            MutationStatus::Applied,
            MutationStatus::Applied,
            MutationStatus::Applied
        ]
    );
    assert_eq!(results[3], MutationStatus::Duplicate);
    assert!(rejected(&results[4]).starts_with("already_completed"));
    assert!(rejected(&results[5]).starts_with("not_found"));
    let changes = env.pull_everything(&tok).await;
    let pulled = changes
        .iter()
        .find_map(|c| match c {
            Change::FollowUp(x) if x.id == f.id => Some(x),
            _ => None,
        })
        .expect("follow-up in the feed");
    assert_eq!(pulled.due_at, due);
    assert_eq!(pulled.completed_at, Some(done_at));
}

/// Every lead's `child_seq` equals the highest seq among its call logs and follow-ups (0 without any).
fn assert_child_seq_invariant(env: &Env) {
    let wrong = env.count(
        "SELECT count(*) FROM leads l WHERE l.child_seq <> (
             SELECT coalesce(max(s), 0) FROM (
                 SELECT max(c.seq) AS s FROM call_logs c WHERE c.lead_id = l.id
                 UNION ALL SELECT max(f.seq) AS s FROM follow_ups f WHERE f.lead_id = l.id) x)",
        params![],
    );
    assert_eq!(
        wrong, 0,
        "leads whose child_seq is not their children's highest seq"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_pulls_bring_every_new_child_row_of_the_scope() {
    let env = Env::new("push_child_seq").await;
    assert_child_seq_invariant(&env);
    let (priya, tok) = (env.id("priya"), env.token("priya"));
    let meera_tok = env.token("meera");
    // Both feeds caught up: what follows must arrive through the child_seq path.
    let (_, cursor) = pull_all(&env.http, &env.base, &tok, Cursor::start(), 2000).await;
    let (_, team_cursor) = pull_all(&env.http, &env.base, &meera_tok, Cursor::start(), 2000).await;

    let mine = env.leads_of("priya", 2);
    let mut logged = call(
        mine[0],
        priya,
        now() - Duration::minutes(3),
        "interested",
        "dev-child",
    );
    logged.follow_up = Some(FollowUpSpec {
        due_at: now() + Duration::days(1),
        note: None,
    });
    let f = FollowUp {
        id: new_id(),
        lead_id: mine[1],
        assigned_to: priya,
        due_at: now() + Duration::days(2),
        note: None,
        call_log_id: None,
        completed_at: None,
        created_at: now(),
    };
    let results = env
        .push(
            &tok,
            &[
                mutation(MutationOp::CreateCallLog(logged.clone())),
                mutation(MutationOp::CreateFollowUp(f.clone())),
                mutation(MutationOp::RescheduleFollowUp {
                    follow_up_id: f.id,
                    due_at: now() + Duration::days(3),
                }),
            ],
        )
        .await;
    assert!(
        results.iter().all(|s| *s == MutationStatus::Applied),
        "{results:?}"
    );
    // A lead of arjun's, with its history, moves to priya: its old call logs are new to her feed.
    let moved = env.leads_of("arjun", 1)[0];
    let history: Vec<String> = env
        .db
        .query(
            "SELECT id FROM call_logs WHERE lead_id = $1",
            params![db::id_text(&moved)],
        )
        .iter()
        .map(|r| r.get::<String>(0).unwrap())
        .collect();
    assert!(!history.is_empty(), "the demo lead has call logs");
    let at = now();
    env.db
        .tx(move |tx| db::assign_lead(tx, &moved, Some(&priya), &at));
    assert_child_seq_invariant(&env);

    for (token, from) in [(&tok, cursor), (&meera_tok, team_cursor)] {
        let (pages, _) = pull_all(&env.http, &env.base, token, from, 3).await;
        let changes: Vec<Change> = pages.into_iter().flat_map(|p| p.changes).collect();
        let calls: Vec<String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::CallLog(l) => Some(l.id.to_string()),
                _ => None,
            })
            .collect();
        assert!(calls.contains(&logged.id.to_string()), "the pushed call log");
        for id in &history {
            assert!(calls.contains(id), "the moved lead's call log {id}");
        }
        let follow_ups: Vec<(Id, Timestamp)> = changes
            .iter()
            .filter_map(|c| match c {
                Change::FollowUp(x) => Some((x.id, x.due_at)),
                _ => None,
            })
            .collect();
        assert!(follow_ups.iter().any(|(id, _)| *id == f.id), "the follow-up");
        assert!(
            follow_ups.iter().any(|(id, _)| *id != f.id),
            "the call log's follow-up"
        );
    }
}
