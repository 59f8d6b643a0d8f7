//! Data protection: a person's export and erasure (admin API), retention, and the analytics that must
//! survive both. Runs on SQLite and, with `LEADLINE_TEST_BACKEND=postgres`, on PostgreSQL.

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadline_model::analytics::{HourBucket, TelecallerFigures};
use leadline_model::privacy::{ErasureReport, PersonExport};
use leadline_model::supervise::{AuditAction, AuditEntry};
use leadline_model::sync::{Change, Cursor};
use leadline_model::{
    CallDirection, CallLog, FollowUp, FollowUpSpec, Id, Lead, LeadPriority, LeadSource, LeadStatus,
    PhoneNumber, Role, ServerEvent, User, new_id,
};
use leadline_server::db::analytics::{self, Who};
use leadline_server::db::{self, Tx};
use leadline_server::retention::{self, Age, RetentionPolicy};
use leadline_server::sql::Value;
use serde_json::json;

use crate::common::{TestDb, client, pull_all, token};

const NAME: &str = "Zephyrine Quokkawala";
const PHONE: &str = "+917700900123";
const ALT_PHONE: &str = "+917700900456";
const EMAIL: &str = "zephyrine.q@example.org";
const NOTE_1: &str = "wants a ruby choker for the wedding in Kochi";
const NOTE_2: &str = "callback after Diwali, husband decides";
const FOLLOW_UP_NOTE: &str = "bring the catalogue of temple jewellery";
const OPEN_NOTE: &str = "ask about the sister's engagement set";
const RECORDING: &str = "https://recordings.exotel.example/rec/9f8e7d6c.mp3";
const CALL_SID: &str = "sid-privacy-7a6b5c";
const REASON: &str = "DSR ticket 4711";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// What the test seeded about the person.
struct Subject {
    lead: Lead,
    calls: Vec<Id>,
    archived_call: Id,
    done_follow_up: Id,
    open_follow_up: Id,
}

fn call(lead: &Lead, telecaller: Id, started: &str, secs: i64, disposition: &str, notes: &str) -> CallLog {
    let started_at = at(started);
    CallLog {
        id: new_id(),
        lead_id: lead.id,
        telecaller_id: telecaller,
        direction: CallDirection::Outbound,
        started_at,
        answered_at: Some(started_at + Duration::seconds(5)),
        ended_at: Some(started_at + Duration::seconds(5 + secs)),
        duration_s: secs,
        disposition: disposition.into(),
        outcome_tags: vec![],
        notes: notes.into(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: Some("desk-7".into()),
        quality: None,
    }
}

fn seed_subject(db: &TestDb, priya: &User, meera: &User) -> Subject {
    let (priya, meera) = (priya.id, meera.id);
    db.tx(move |tx| {
        let now = Utc::now();
        let lead = Lead {
            id: new_id(),
            name: NAME.into(),
            phone: PhoneNumber::parse(PHONE).unwrap(),
            alternate_phone: Some(PhoneNumber::parse(ALT_PHONE).unwrap()),
            email: Some(EMAIL.into()),
            city: Some("Kochi".into()),
            source: LeadSource::Referral,
            interest: Some("ruby choker".into()),
            budget_inr: Some(450_000),
            priority: LeadPriority::High,
            status: LeadStatus::Interested,
            tags: vec!["wedding".into()],
            assigned_to: Some(priya),
            created_at: at("2020-02-01T08:00:00.000Z"),
            updated_at: now,
            version: 1,
        };
        let seq = db::reserve_seqs(tx, 1)?;
        db::insert_lead(tx, &lead, None, seq)?;
        // The oldest call goes to the archive below; the others stay live.
        let mut old = call(&lead, priya, "2020-03-01T09:10:00.000Z", 240, "interested", NOTE_2);
        old.follow_up = Some(FollowUpSpec {
            due_at: at("2020-03-05T10:00:00.000Z"),
            note: Some(FOLLOW_UP_NOTE.into()),
        });
        let mut recorded = call(&lead, priya, "2026-01-12T11:20:00.000Z", 600, "interested", NOTE_1);
        recorded.recording_url = Some(RECORDING.into());
        recorded.provider_call_id = Some(CALL_SID.into());
        let unanswered = CallLog {
            answered_at: None,
            duration_s: 0,
            ..call(&lead, priya, "2026-01-13T16:45:00.000Z", 0, "no_answer", "")
        };
        let mut calls = Vec::new();
        for log in [&old, &recorded, &unanswered] {
            let seq = db::reserve_seqs(tx, 1)?;
            db::insert_call_log(tx, log, &now, seq)?;
            calls.push(log.id);
        }
        let done = FollowUp {
            id: new_id(),
            lead_id: lead.id,
            assigned_to: priya,
            due_at: at("2020-03-05T10:00:00.000Z"),
            note: Some(FOLLOW_UP_NOTE.into()),
            call_log_id: Some(old.id),
            completed_at: Some(at("2020-03-05T10:40:00.000Z")),
            created_at: at("2020-03-01T09:15:00.000Z"),
        };
        let open = FollowUp {
            id: new_id(),
            note: Some(OPEN_NOTE.into()),
            call_log_id: Some(recorded.id),
            completed_at: None,
            due_at: now + Duration::days(3),
            created_at: at("2026-01-12T11:31:00.000Z"),
            ..done.clone()
        };
        for f in [&done, &open] {
            let seq = db::reserve_seqs(tx, 1)?;
            db::insert_follow_up(tx, f, &now, seq)?;
        }
        // Exotel's report of the recorded call (no numbers are kept in it).
        tx.execute(
            "INSERT INTO exotel_callbacks (idempotency_key, call_sid, custom_field, status, terminal, recording_url,
               conversation_duration_s, received_at, call_log_id, applied_at)
             VALUES ($1, $2, $3, 'completed', 1, $4, 600, $5, $3, $5)",
            &[
                Value::from("privacy-callback-1"),
                Value::from(CALL_SID),
                Value::from(db::id_text(&recorded.id)),
                Value::from(RECORDING),
                Value::from(db::ts(&now)),
            ],
        )?;
        // A supervisor's audit reason and an announcement that name the person.
        db::supervise::record_audit(
            tx,
            &AuditEntry {
                id: new_id(),
                lead_id: lead.id,
                actor_id: Some(meera),
                action: AuditAction::Assigned,
                from_user: None,
                to_user: Some(priya),
                team: None,
                reason: Some(format!("{NAME} asked for Priya")),
                at: now,
                details: json!({}),
            },
        )?;
        db::events::record(
            tx,
            &db::events::EventTarget::All,
            &ServerEvent::Announcement {
                message: format!("VIP walk-in tomorrow: {NAME}, {PHONE}"),
                from: meera,
                from_name: "Meera".into(),
            },
            &now,
        )?;
        // The oldest call is archived (nothing else in the demo data is that old).
        let moved = db::archive::archive_call_logs(tx, &at("2020-03-02T00:00:00.000Z"), 10, &now)?;
        assert_eq!(moved, 1);
        Ok(Subject {
            lead,
            archived_call: old.id,
            calls,
            done_follow_up: done.id,
            open_follow_up: open.id,
        })
    })
}

/// Every table of the database, every row, as text (the Debug form of each row's values).
fn dump(db: &TestDb) -> String {
    let sql = match db.database {
        db::DbConfig::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        db::DbConfig::Postgres(_) => {
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    let tables: Vec<String> = db.query(sql, vec![]).iter().map(|r| r.get(0).unwrap()).collect();
    assert!(tables.len() > 20, "found the tables: {tables:?}");
    let mut out = String::new();
    for table in tables {
        for row in db.query(&format!("SELECT * FROM {table}"), vec![]) {
            out.push_str(&table);
            out.push_str(&format!("{row:?}\n"));
        }
    }
    out
}

fn analytics_of(db: &TestDb) -> (Vec<TelecallerFigures>, Vec<HourBucket>) {
    db.read(|tx: &mut Tx<'_>| {
        let from = Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let now = Utc::now();
        let figures = analytics::figures(tx, &Who::All, &from, &to, &now, 1)?;
        let hourly = analytics::hourly(tx, &Who::All, &from, &to, 330)?;
        Ok((figures, hourly))
    })
}

fn add_admin(db: &TestDb) -> User {
    let admin = User {
        id: new_id(),
        username: "dpo".into(),
        name: "Data Protection Officer".into(),
        role: Role::Admin,
        team: None,
    };
    let user = admin.clone();
    db.tx(move |tx| {
        db::insert_user(tx, &user, leadline_server::auth::DUMMY_HASH, &Utc::now())?;
        Ok(())
    });
    admin
}

async fn post(base: &str, token: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let res = client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn export_then_erasure_leaves_no_pii_keeps_analytics_and_reaches_the_feed() {
    let db = TestDb::copy_of_seeded("privacy-erasure");
    let (priya, meera) = (db.user("priya"), db.user("meera"));
    let admin = add_admin(&db);
    let subject = seed_subject(&db, &priya, &meera);
    let server = db.start().await;
    let base = server.base_url();
    let (admin_token, priya_token, meera_token) = (
        token(&server, &db, "dpo"),
        token(&server, &db, "priya"),
        token(&server, &db, "meera"),
    );
    // Where priya's and the admin's desktops are in the feed now.
    let (_, priya_cursor) = pull_all(&client(), &base, &priya_token, Cursor::start(), 500).await;
    let (_, admin_cursor) = pull_all(&client(), &base, &admin_token, Cursor::start(), 2000).await;

    // The values at rest that identify the person: sealed columns and blind indexes.
    let lead_text = db::id_text(&subject.lead.id);
    let sealed_row = db.query(
        "SELECT phone, alternate_phone, email, phone_bidx, alternate_phone_bidx FROM leads WHERE id = $1",
        vec![lead_text.clone().into()],
    );
    let mut needles: Vec<String> = vec![
        NAME.into(),
        PHONE.into(),
        PHONE.trim_start_matches('+').into(),
        "7700900123".into(),
        "7700900456".into(),
        EMAIL.into(),
        NOTE_1.into(),
        NOTE_2.into(),
        FOLLOW_UP_NOTE.into(),
        OPEN_NOTE.into(),
        RECORDING.into(),
        CALL_SID.into(),
    ];
    let fixed = needles.len();
    for i in 0..5 {
        needles.push(sealed_row[0].get::<String>(i).unwrap());
    }
    for row in db.query(
        "SELECT notes FROM call_logs WHERE lead_id = $1 AND notes <> '' UNION ALL
         SELECT notes FROM call_logs_archive WHERE lead_id = $1 UNION ALL
         SELECT note FROM follow_ups WHERE lead_id = $1 AND note IS NOT NULL",
        vec![lead_text.clone().into()],
    ) {
        needles.push(row.get::<String>(0).unwrap());
    }
    let before = dump(&db);
    // Stored in the clear before: the name, the recording and call id, the announcement's number; the rest
    // only sealed (the sealed values and blind indexes are needles too).
    let plain = [NAME, PHONE, RECORDING, CALL_SID];
    for n in plain
        .iter()
        .copied()
        .chain(needles[fixed..].iter().map(String::as_str))
    {
        assert!(before.contains(n), "the seeded data holds {n:?} before");
    }
    for n in [EMAIL, NOTE_1, NOTE_2, FOLLOW_UP_NOTE, OPEN_NOTE] {
        assert!(!before.contains(n), "{n:?} is sealed at rest");
    }

    // Only an admin may export or erase.
    let by_id = json!({"person": {"lead_id": subject.lead.id}});
    for t in [&priya_token, &meera_token] {
        assert_eq!(
            post(&base, t, "/api/v1/privacy/export", by_id.clone()).await.0,
            403
        );
        let erase = json!({"person": {"lead_id": subject.lead.id}, "reason": REASON});
        assert_eq!(post(&base, t, "/api/v1/privacy/erase", erase).await.0, 403);
    }

    // The export, found by the second number: every piece, decrypted.
    let (status, body) = post(
        &base,
        &admin_token,
        "/api/v1/privacy/export",
        json!({"person": {"phone": ALT_PHONE}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let export: PersonExport = serde_json::from_value(body).unwrap();
    assert_eq!(export.leads.len(), 1);
    let e = &export.leads[0];
    let lead = e.lead.as_ref().unwrap();
    assert_eq!((lead.name.as_str(), lead.phone.as_str()), (NAME, PHONE));
    assert_eq!(lead.email.as_deref(), Some(EMAIL));
    assert_eq!(lead.tags, vec!["wedding".to_owned()]);
    assert!(e.erased.is_none() && !e.archived);
    let ids: Vec<Id> = e.call_logs.iter().map(|c| c.log.id).collect();
    assert_eq!(ids.len(), 3);
    for id in &subject.calls {
        assert!(ids.contains(id));
    }
    let archived = e
        .call_logs
        .iter()
        .find(|c| c.log.id == subject.archived_call)
        .unwrap();
    assert!(archived.archived);
    assert_eq!(archived.log.notes, NOTE_2);
    assert_eq!(
        archived.log.follow_up.as_ref().unwrap().note.as_deref(),
        Some(FOLLOW_UP_NOTE)
    );
    assert!(e.call_logs.iter().any(|c| c.log.notes == NOTE_1 && !c.archived));
    let notes: Vec<Option<&str>> = e.follow_ups.iter().map(|f| f.follow_up.note.as_deref()).collect();
    assert!(notes.contains(&Some(FOLLOW_UP_NOTE)) && notes.contains(&Some(OPEN_NOTE)));
    assert_eq!(e.recordings.len(), 1);
    assert_eq!(e.recordings[0].url, RECORDING);
    assert_eq!(e.recordings[0].provider_call_id.as_deref(), Some(CALL_SID));
    assert_eq!(e.provider_reports.len(), 1);
    assert_eq!(e.provider_reports[0].call_sid, CALL_SID);
    assert_eq!(e.audit.len(), 1);
    assert_eq!(e.audit[0].actor_id, Some(meera.id));
    // An unknown lead is 404; a number nobody has is an empty answer.
    let unknown = json!({"person": {"lead_id": new_id()}});
    assert_eq!(
        post(&base, &admin_token, "/api/v1/privacy/export", unknown)
            .await
            .0,
        404
    );
    let (status, body) = post(
        &base,
        &admin_token,
        "/api/v1/privacy/export",
        json!({"person": {"phone": "+917700900999"}}),
    )
    .await;
    assert_eq!((status, body["leads"].as_array().map(Vec::len)), (200, Some(0)));

    // A reason that names the person is refused, and nothing changes.
    let before_refused = dump(&db);
    let named = json!({"person": {"phone": PHONE}, "reason": format!("asked by {NAME}")});
    let (status, body) = post(&base, &admin_token, "/api/v1/privacy/erase", named).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("reason_names_person"))
    );
    let empty = json!({"person": {"phone": PHONE}, "reason": "  "});
    assert_eq!(
        post(&base, &admin_token, "/api/v1/privacy/erase", empty).await.0,
        400
    );
    assert_eq!(dump(&db), before_refused);

    let analytics_before = analytics_of(&db);

    // The erasure, by number.
    let erase = json!({"person": {"phone": PHONE}, "reason": REASON});
    let (status, body) = post(&base, &admin_token, "/api/v1/privacy/erase", erase.clone()).await;
    assert_eq!(status, 200, "{body}");
    let report: ErasureReport = serde_json::from_value(body).unwrap();
    assert_eq!(report.leads.len(), 1);
    let outcome = &report.leads[0];
    assert_eq!(outcome.lead_id, subject.lead.id);
    assert!(!outcome.already_erased);
    assert_eq!(
        (outcome.call_logs, outcome.follow_ups, outcome.recordings),
        (3, 2, 1)
    );
    assert_eq!(outcome.provider_call_ids, vec![CALL_SID.to_owned()]);

    // No trace of the person in any table, in any form.
    let after = dump(&db);
    for n in &needles {
        assert!(!after.contains(n.as_str()), "{n:?} survived the erasure");
    }
    // The id stays as a tombstone; the anonymised rows stay.
    let tombstone = db.read({
        let id = subject.lead.id;
        move |tx| db::privacy::tombstone(tx, &id)
    });
    assert_eq!(tombstone, Some(outcome.erased_at));
    let anonymised: i64 = db.scalar(
        "SELECT count(*) FROM call_logs_archive WHERE lead_id = $1 AND notes = '' AND recording_url IS NULL",
        vec![lead_text.clone().into()],
    );
    assert_eq!(anonymised, 3);
    let live: i64 = db.scalar(
        "SELECT (SELECT count(*) FROM leads WHERE id = $1) + (SELECT count(*) FROM call_logs WHERE lead_id = $1)
           + (SELECT count(*) FROM follow_ups WHERE lead_id = $1)",
        vec![lead_text.clone().into()],
    );
    assert_eq!(live, 0);

    // Analytics: every call figure and every completed follow-up as before; the erased lead's open
    // follow-up is no longer work to do.
    let analytics_after = analytics_of(&db);
    assert_eq!(analytics_after.1, analytics_before.1, "the hourly series");
    for (a, b) in analytics_after.0.iter().zip(&analytics_before.0) {
        assert_eq!(
            (
                a.user_id,
                a.calls,
                a.connected,
                a.conversions,
                a.talk_time_s,
                &a.dispositions,
                a.follow_ups_done
            ),
            (
                b.user_id,
                b.calls,
                b.connected,
                b.conversions,
                b.talk_time_s,
                &b.dispositions,
                b.follow_ups_done
            )
        );
        let open_gone = i64::from(a.user_id == priya.id);
        assert_eq!(a.follow_ups_due, b.follow_ups_due - open_gone, "{}", a.username);
    }
    assert_eq!(analytics_after.0.len(), analytics_before.0.len());

    // The audit record: who, when, which lead, why — no PII (checked by the dump above).
    let log = db.read({
        let id = subject.lead.id;
        move |tx| db::privacy::log_entries(tx, Some(&id))
    });
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["export", "erasure"]);
    let erasure = &log[1];
    assert_eq!(erasure.actor, format!("user:{}", admin.id));
    assert_eq!(erasure.reason.as_deref(), Some(REASON));
    assert_eq!(erasure.at, outcome.erased_at);
    assert_eq!(erasure.details["call_logs_anonymised"], 3);

    // The feed tells the assignee's and the admin's desktops that the lead was erased.
    for (t, cursor) in [(&priya_token, priya_cursor), (&admin_token, admin_cursor)] {
        let (pages, _) = pull_all(&client(), &base, t, cursor, 500).await;
        let erased: Vec<_> = pages
            .iter()
            .flat_map(|p| &p.changes)
            .filter_map(|c| match c {
                Change::LeadRemoved { lead_id, erased_at } if *lead_id == subject.lead.id => Some(*erased_at),
                _ => None,
            })
            .collect();
        assert_eq!(erased, vec![Some(outcome.erased_at)]);
    }
    // A supervisor's feed never sees the lead (it had no team) — and an unrelated one's export of it
    // stays refused.
    assert_eq!(
        post(&base, &meera_token, "/api/v1/privacy/export", by_id.clone())
            .await
            .0,
        403
    );

    // Repeating the erasure changes nothing; exporting says when it was erased.
    let (status, body) = post(&base, &admin_token, "/api/v1/privacy/erase", erase).await;
    assert_eq!(status, 200);
    let again: ErasureReport = serde_json::from_value(body).unwrap();
    assert!(again.leads.is_empty(), "the number no longer finds the lead");
    let erase_id = json!({"person": {"lead_id": subject.lead.id}, "reason": REASON});
    let (status, body) = post(&base, &admin_token, "/api/v1/privacy/erase", erase_id).await;
    assert_eq!(status, 200);
    let again: ErasureReport = serde_json::from_value(body).unwrap();
    assert!(again.leads[0].already_erased);
    assert_eq!(again.leads[0].erased_at, outcome.erased_at);
    let (status, body) = post(&base, &admin_token, "/api/v1/privacy/export", by_id).await;
    assert_eq!(status, 200);
    let export: PersonExport = serde_json::from_value(body).unwrap();
    let record = export.leads[0].erased.as_ref().unwrap();
    assert_eq!(
        (record.erased_at, record.reason.as_deref()),
        (outcome.erased_at, Some(REASON))
    );
    assert!(export.leads[0].lead.is_none() && export.leads[0].call_logs.is_empty());
    let erasures = db.read(|tx| db::privacy::log_entries(tx, None));
    assert_eq!(erasures.iter().filter(|e| e.action == "erasure").count(), 1);

    // Retention then purges the tombstone and its anonymised rows for good: analytics still the same.
    let later = Utc::now() + Duration::days(2);
    let policy = RetentionPolicy {
        calls_max_age: Some(Age::Days(1)),
        recordings_max_age: None,
        archived_leads_max_age: Some(Age::Days(1)),
    };
    let repo = db.repo().await;
    let (_, out) = retention::run(&repo, &policy, later, 2, "cli:test")
        .await
        .unwrap();
    assert_eq!((out.leads, out.lead_call_logs, out.lead_follow_ups), (1, 3, 2));
    let left: i64 = db.scalar(
        "SELECT (SELECT count(*) FROM leads_archive) + (SELECT count(*) FROM call_logs_archive)
           + (SELECT count(*) FROM follow_ups_archive)",
        vec![],
    );
    assert_eq!(left, 0);
    let analytics_purged = analytics_of(&db);
    assert_eq!(analytics_purged, analytics_after);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn retention_purges_in_batches_idempotently_and_keeps_analytics() {
    let db = TestDb::copy_of_seeded("privacy-retention");
    let now = Utc::now();
    let ts = |t: DateTime<Utc>| db::ts(&t);
    // Archive everything older than 10 days: closed leads untouched for 10 days go with their history.
    let repo = db.repo().await;
    let cutoff = now - Duration::days(10);
    repo.archive(cutoff, cutoff, 200, None).await.unwrap();
    let archived_calls: i64 = db.scalar("SELECT count(*) FROM call_logs_archive", vec![]);
    let archived_leads: i64 = db.scalar("SELECT count(*) FROM leads_archive", vec![]);
    assert!(
        archived_calls > 100 && archived_leads > 0,
        "{archived_calls} {archived_leads}"
    );
    // Some calls have recordings, live and archived.
    db.execute(
        "UPDATE call_logs SET recording_url = 'https://rec.example/' || id
         WHERE id IN (SELECT id FROM call_logs ORDER BY started_at LIMIT 30)",
        vec![],
    );
    db.execute(
        "UPDATE call_logs_archive SET recording_url = 'https://rec.example/' || id
         WHERE id IN (SELECT id FROM call_logs_archive ORDER BY started_at DESC LIMIT 20)",
        vec![],
    );
    let recordings_due: i64 = db.scalar(
        "SELECT (SELECT count(*) FROM call_logs WHERE recording_url IS NOT NULL AND started_at < $1)
           + (SELECT count(*) FROM call_logs_archive WHERE recording_url IS NOT NULL AND started_at < $1)",
        vec![ts(now - Duration::days(5)).into()],
    );
    assert!(recordings_due >= 50);
    let live_recordings_due: i64 = db.scalar(
        "SELECT count(*) FROM call_logs WHERE recording_url IS NOT NULL AND started_at < $1",
        vec![ts(now - Duration::days(5)).into()],
    );
    assert!(live_recordings_due > 0);
    let seq_before: i64 = db.scalar("SELECT max(seq) FROM call_logs", vec![]);
    let analytics_before = analytics_of(&db);

    // Nothing configured: nothing happens, nothing is logged.
    let (_, out) = retention::run(&repo, &RetentionPolicy::default(), now, 50, "cli:test")
        .await
        .unwrap();
    assert_eq!(out, retention::RetentionOutcome::default());

    let policy = RetentionPolicy {
        calls_max_age: Some("20d".parse().unwrap()),
        recordings_max_age: Some(Age::Days(5)),
        archived_leads_max_age: None,
    };
    let (cutoffs, due) = retention::due(&repo, &policy, now).await.unwrap();
    let calls_cutoff = cutoffs.calls.unwrap();
    let expected_calls: i64 = db.scalar(
        "SELECT count(*) FROM call_logs_archive WHERE started_at < $1",
        vec![ts(calls_cutoff).into()],
    );
    assert_eq!(due.call_logs, expected_calls);
    assert!(expected_calls > 0 && expected_calls < archived_calls);
    assert_eq!(due.recordings, recordings_due);
    assert_eq!(due.leads, 0);

    let (_, out) = retention::run(&repo, &policy, now, 37, "cli:ops").await.unwrap();
    assert_eq!(out.call_logs as i64, expected_calls);
    assert_eq!(out.recordings as i64, recordings_due);
    assert!(out.batches > 3, "small batches: {}", out.batches);
    let left: i64 = db.scalar(
        "SELECT count(*) FROM call_logs_archive WHERE started_at < $1",
        vec![ts(calls_cutoff).into()],
    );
    assert_eq!(left, 0);
    let recordings: i64 = db.scalar(
        "SELECT (SELECT count(*) FROM call_logs WHERE recording_url IS NOT NULL AND started_at < $1)
           + (SELECT count(*) FROM call_logs_archive WHERE recording_url IS NOT NULL AND started_at < $1)
           + (SELECT count(*) FROM exotel_callbacks c JOIN call_logs l ON l.id = c.call_log_id
              WHERE c.recording_url IS NOT NULL AND l.started_at < $1)",
        vec![ts(now - Duration::days(5)).into()],
    );
    assert_eq!(recordings, 0);
    // The live call logs that lost their recording are changes in the feed again, so the desktops that
    // pulled the reference drop it at their next sync; no other call log moved.
    let resent: i64 = db.scalar(
        "SELECT count(*) FROM call_logs WHERE seq > $1",
        vec![seq_before.into()],
    );
    assert_eq!(resent, live_recordings_due);
    assert_eq!(analytics_of(&db), analytics_before, "analytics survive retention");

    // A second run finds nothing; both runs are logged with their cutoffs and counts.
    let (_, again) = retention::run(&repo, &policy, now, 37, "cli:ops").await.unwrap();
    assert_eq!((again.call_logs, again.leads, again.recordings), (0, 0, 0));
    let log = db.read(|tx| db::privacy::log_entries(tx, None));
    let runs: Vec<_> = log.iter().filter(|e| e.action == "retention").collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].actor, "cli:ops");
    assert_eq!(runs[0].details["purged"]["call_logs"], expected_calls);
    assert_eq!(runs[0].details["cutoffs"]["calls"], json!(calls_cutoff));
    assert_eq!(runs[0].details["policy"]["calls_max_age"], "20d");
    assert_eq!(runs[1].details["purged"]["call_logs"], 0);

    // Archived leads go too, with whatever history they still have.
    let policy = RetentionPolicy {
        archived_leads_max_age: Some(Age::Days(1)),
        ..RetentionPolicy::default()
    };
    let (_, out) = retention::run(&repo, &policy, now + Duration::days(2), 1000, "serve")
        .await
        .unwrap();
    assert_eq!(out.leads as i64, archived_leads);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM leads_archive", vec![]), 0);
    assert_eq!(
        analytics_of(&db),
        analytics_before,
        "analytics survive purged leads"
    );
}

#[tokio::test]
async fn the_schedule_inside_serve_runs_the_policy_again_and_again() {
    let db = TestDb::copy_of_seeded("privacy-schedule");
    let repo = db.repo().await;
    let cutoff = Utc::now() - Duration::days(10);
    repo.archive(cutoff, cutoff, 200, None).await.unwrap();
    let old = |db: &TestDb| -> i64 {
        db.scalar(
            "SELECT count(*) FROM call_logs_archive WHERE started_at < $1",
            vec![db::ts(&(Utc::now() - Duration::days(20))).into()],
        )
    };
    assert!(old(&db) > 0);

    // Keeping everything schedules nothing, whatever the period.
    let idle = retention::RetentionSchedule {
        policy: RetentionPolicy::default(),
        every: Some(std::time::Duration::from_millis(50)),
    };
    assert!(retention::spawn(repo.clone(), idle).is_none());
    let never = retention::RetentionSchedule {
        policy: RetentionPolicy {
            calls_max_age: Some(Age::Days(20)),
            ..RetentionPolicy::default()
        },
        every: None,
    };
    assert!(retention::spawn(repo.clone(), never).is_none());

    let task = retention::spawn(
        repo.clone(),
        retention::RetentionSchedule {
            every: Some(std::time::Duration::from_millis(150)),
            ..never
        },
    )
    .unwrap();
    // Nothing runs before the first period is over.
    assert_eq!(
        db.read(|tx| db::privacy::log_entries(tx, None))
            .iter()
            .filter(|e| e.action == "retention")
            .count(),
        0
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let runs = loop {
        let runs: Vec<_> = db
            .read(|tx| db::privacy::log_entries(tx, None))
            .into_iter()
            .filter(|e| e.action == "retention")
            .collect();
        if runs.len() >= 2 || std::time::Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    task.abort();
    assert!(runs.len() >= 2, "the schedule ran {} times", runs.len());
    assert!(runs.iter().all(|r| r.actor == "serve"));
    assert!(runs[0].details["purged"]["call_logs"].as_i64().unwrap() > 0);
    assert_eq!(
        runs[1].details["purged"]["call_logs"], 0,
        "the second run finds nothing left"
    );
    assert_eq!(old(&db), 0);
}

#[test]
fn ages_parse_like_the_archive_subcommand_and_bad_ones_are_refused() {
    assert_eq!("6months".parse::<Age>().unwrap(), Age::Months(6));
    assert_eq!("180d".parse::<Age>().unwrap(), Age::Days(180));
    assert_eq!("1y".parse::<Age>().unwrap(), Age::Months(12));
    assert_eq!(" 26W ".parse::<Age>().unwrap(), Age::Days(182));
    for bad in [
        "",
        "0d",
        "six months",
        "12 parsecs",
        "99999999999d",
        "4294967295y",
    ] {
        assert!(bad.parse::<Age>().is_err(), "{bad:?} parsed");
    }
    // A policy read from configuration text keeps its ages as written.
    let policy: RetentionPolicy =
        serde_json::from_value(json!({"calls_max_age": "1y", "recordings_max_age": "90d"})).unwrap();
    assert_eq!(policy.calls_max_age, Some(Age::Months(12)));
    assert_eq!(policy.archived_leads_max_age, None);
    assert!(serde_json::from_value::<RetentionPolicy>(json!({"calls_max_age": "soon"})).is_err());
    assert!(serde_json::from_value::<RetentionPolicy>(json!({"call_max_age": "1y"})).is_err());
}
