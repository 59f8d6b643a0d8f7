//! Call quality figures kept with the call log: pushed by the desktop, validated, stored (SQLite or
//! PostgreSQL), pulled by the team's supervisor, listed, exported and archived with the log; logs without
//! figures (older clients) keep working, and out-of-range figures are refused without losing the rest of
//! the batch.

use chrono::{Duration, SubsecRound, TimeZone, Utc};
use leadline_model::sync::{
    Change, Cursor, Mutation, MutationOp, MutationStatus, PROTOCOL_VERSION, PushResponse,
};
use leadline_model::{CallDirection, CallLog, CallQuality, Id, Timestamp, new_id};
use leadline_server::db;
use leadline_server::params;
use serde_json::json;

use super::common::*;

fn now() -> Timestamp {
    Utc::now().trunc_subsecs(3)
}

fn call(lead: Id, telecaller: Id, started: Timestamp, quality: Option<CallQuality>) -> CallLog {
    CallLog {
        id: new_id(),
        lead_id: lead,
        telecaller_id: telecaller,
        direction: CallDirection::Outbound,
        started_at: started,
        answered_at: Some(started + Duration::seconds(4)),
        ended_at: Some(started + Duration::seconds(94)),
        duration_s: 90,
        disposition: "interested".to_owned(),
        outcome_tags: vec![],
        notes: "Line was crackly".to_owned(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: Some("dev-quality".to_owned()),
        quality,
    }
}

fn figures() -> CallQuality {
    CallQuality {
        rtt_ms: Some(142.5),
        codec: Some("opus".to_owned()),
        remote_loss: Some(0.02),
        remote_jitter_ms: Some(6.125),
        ..CallQuality::new(4.31, 4.75, 0.0125)
    }
}

fn mutation(log: &CallLog) -> Mutation {
    Mutation {
        client_mutation_id: new_id(),
        created_at: Utc::now(),
        op: MutationOp::CreateCallLog(log.clone()),
    }
}

/// Leads assigned to `username`, by id.
fn leads_of(db: &TestDb, username: &str, n: i64) -> Vec<Id> {
    ids_of(
        db,
        "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT $2",
        params![db::id_text(&db.user(username).id), n],
    )
}

/// The stored quality columns of a call log (hot table).
type StoredFigures = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<String>,
    Option<f64>,
    Option<f64>,
);

fn stored(db: &TestDb, table: &str, id: &Id) -> Option<StoredFigures> {
    db.query(
        &format!(
            "SELECT quality_mos, quality_rtt_ms, quality_jitter_ms, quality_loss, quality_codec,
                    quality_remote_loss, quality_remote_jitter_ms FROM {table} WHERE id = $1"
        ),
        params![db::id_text(id)],
    )
    .first()
    .map(|r| {
        (
            r.get(0).unwrap(),
            r.get(1).unwrap(),
            r.get(2).unwrap(),
            r.get(3).unwrap(),
            r.get(4).unwrap(),
            r.get(5).unwrap(),
            r.get(6).unwrap(),
        )
    })
}

async fn push_json(
    http: &reqwest::Client,
    base: &str,
    tok: &str,
    mutations: Vec<serde_json::Value>,
) -> Vec<MutationStatus> {
    let n = mutations.len();
    let res = http
        .post(format!("{base}/api/v1/sync/push"))
        .bearer_auth(tok)
        .json(&json!({"protocol": PROTOCOL_VERSION, "device_id": "dev-quality", "mutations": mutations}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: PushResponse = res.json().await.unwrap();
    assert_eq!(body.results.len(), n);
    body.results.into_iter().map(|r| r.status).collect()
}

fn rejected(s: &MutationStatus) -> &str {
    match s {
        MutationStatus::Rejected { reason } => reason,
        other => panic!("expected rejected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_figures_are_pushed_stored_pulled_listed_and_exported_and_bad_ones_refused() {
    let db = TestDb::copy_of_seeded("call_quality");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let priya = db.user("priya").id;
    let tok = token(&server, &db, "priya");
    let sup = token(&server, &db, "meera");
    let leads = leads_of(&db, "priya", 3);
    let start = now() - Duration::hours(1);

    let with = call(leads[0], priya, start, Some(figures()));
    let without = call(leads[1], priya, start, None);
    let bad_mos = call(leads[1], priya, start, Some(CallQuality::new(7.5, 3.0, 0.0)));
    let bad_loss = call(leads[1], priya, start, Some(CallQuality::new(4.0, 3.0, 1.5)));
    let bad_jitter = call(leads[1], priya, start, Some(CallQuality::new(4.0, -2.0, 0.0)));
    let bad_rtt = call(
        leads[1],
        priya,
        start,
        Some(CallQuality {
            rtt_ms: Some(-1.0),
            ..figures()
        }),
    );
    let bad_codec = call(
        leads[1],
        priya,
        start,
        Some(CallQuality {
            codec: Some("x".repeat(65)),
            ..figures()
        }),
    );
    let after = call(leads[2], priya, start, Some(CallQuality::new(1.0, 0.0, 1.0)));
    let batch = [
        &with,
        &without,
        &bad_mos,
        &bad_loss,
        &bad_jitter,
        &bad_rtt,
        &bad_codec,
        &after,
    ];
    let mut bodies: Vec<serde_json::Value> = batch
        .iter()
        .map(|c| serde_json::to_value(mutation(c)).unwrap())
        .collect();
    // The old-style log is exactly what an older client sends: no `quality` key at all.
    assert!(bodies[1]["data"].get("quality").is_none(), "{}", bodies[1]);
    assert_eq!(bodies[0]["data"]["quality"]["mos"], 4.31);
    // A client may also send an explicit null.
    bodies[1]["data"]["quality"] = serde_json::Value::Null;
    let results = push_json(&http, &base, &tok, bodies.clone()).await;
    assert_eq!(results[0], MutationStatus::Applied, "{results:?}");
    assert_eq!(results[1], MutationStatus::Applied, "{results:?}");
    for (i, what) in [
        (2, "mos"),
        (3, "loss"),
        (4, "jitter_ms"),
        (5, "rtt_ms"),
        (6, "codec"),
    ] {
        let reason = rejected(&results[i]);
        assert!(reason.starts_with("bad_quality: "), "{reason}");
        assert!(reason.contains(what), "{reason}");
    }
    assert_eq!(
        results[7],
        MutationStatus::Applied,
        "the rest of the batch applies: {results:?}"
    );
    // Nothing of the refused logs was kept, and their mutation ids are not remembered (a corrected
    // re-send is evaluated again).
    for c in [&bad_mos, &bad_loss, &bad_jitter, &bad_rtt, &bad_codec] {
        assert_eq!(stored(&db, "call_logs", &c.id), None);
    }
    let remembered: i64 = db.scalar(
        "SELECT count(*) FROM applied_mutations WHERE user_id = $1",
        params![db::id_text(&priya)],
    );
    assert_eq!(remembered, 3);
    // The same batch again: the applied ones are duplicates, the bad ones refused again.
    let again = push_json(&http, &base, &tok, bodies).await;
    assert_eq!(again[0], MutationStatus::Duplicate);
    assert_eq!(again[1], MutationStatus::Duplicate);
    assert!(rejected(&again[2]).starts_with("bad_quality"));

    // Stored exactly, in typed columns.
    assert_eq!(
        stored(&db, "call_logs", &with.id),
        Some((
            Some(4.31),
            Some(142.5),
            Some(4.75),
            Some(0.0125),
            Some("opus".to_owned()),
            Some(0.02),
            Some(6.125)
        ))
    );
    assert_eq!(
        stored(&db, "call_logs", &without.id),
        Some((None, None, None, None, None, None, None))
    );

    // The team's supervisor pulls them, figures intact; the old-style log has none.
    let (pages, _) = pull_all(&http, &base, &sup, Cursor::start(), 2000).await;
    let pulled: Vec<CallLog> = pages
        .into_iter()
        .flat_map(|p| p.changes)
        .filter_map(|ch| match ch {
            Change::CallLog(l) if [with.id, without.id, after.id].contains(&l.id) => Some(l),
            _ => None,
        })
        .collect();
    assert_eq!(pulled.len(), 3);
    for l in &pulled {
        let sent = [&with, &without, &after]
            .into_iter()
            .find(|c| c.id == l.id)
            .unwrap();
        assert_eq!(l.quality, sent.quality, "{}", l.id);
    }

    // Lists: the supervisor's call-log list and the lead's calls carry them (no key without figures).
    let res = http
        .get(format!("{base}/api/v1/call-logs"))
        .bearer_auth(&sup)
        .query(&[("telecaller", db::id_text(&priya)), ("limit", "500".to_owned())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: serde_json::Value = res.json().await.unwrap();
    let view = |id: &Id| {
        page["call_logs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == db::id_text(id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed"))
    };
    assert_eq!(
        view(&with.id)["quality"],
        json!({"mos": 4.31, "rtt_ms": 142.5, "jitter_ms": 4.75, "loss": 0.0125, "codec": "opus",
               "remote_loss": 0.02, "remote_jitter_ms": 6.125})
    );
    assert!(view(&without.id).get("quality").is_none());
    let res = http
        .get(format!("{base}/api/v1/leads/{}/call-logs", leads[0]))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: serde_json::Value = res.json().await.unwrap();
    let listed: Vec<CallLog> = page["call_logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| serde_json::from_value(v.clone()).unwrap())
        .collect();
    assert_eq!(
        listed.iter().find(|l| l.id == with.id).unwrap().quality,
        Some(figures())
    );

    // The CSV export has the figures in their columns.
    let res = http
        .get(format!("{base}/api/v1/call-logs/export.csv"))
        .bearer_auth(&sup)
        .query(&[("telecaller", db::id_text(&priya))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row = |id: &Id| {
        rows.iter()
            .find(|r| r[col("call_id")] == db::id_text(id))
            .unwrap()
            .clone()
    };
    let r = row(&with.id);
    let got: Vec<&str> = ["mos", "rtt_ms", "jitter_ms", "loss", "codec"]
        .iter()
        .map(|c| &r[col(c)])
        .collect();
    assert_eq!(got, ["4.31", "142.5", "4.75", "0.0125", "opus"]);
    let r = row(&without.id);
    assert!(
        ["mos", "rtt_ms", "jitter_ms", "loss", "codec"]
            .iter()
            .all(|c| r[col(c)].is_empty())
    );

    // REST writes validate the same way: 400 `bad_quality`, and a good log answers its figures.
    let res = http
        .post(format!("{base}/api/v1/call-logs"))
        .bearer_auth(&tok)
        .json(&call(
            leads[2],
            priya,
            start,
            Some(CallQuality::new(0.2, 1.0, 0.0)),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["code"], "bad_quality", "{err}");
    assert!(err["message"].as_str().unwrap().contains("mos"), "{err}");
    let good = call(leads[2], priya, start, Some(figures()));
    let res = http
        .post(format!("{base}/api/v1/call-logs"))
        .bearer_auth(&tok)
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let answered: CallLog = res.json().await.unwrap();
    assert_eq!(answered.quality, Some(figures()));
    // A figure of the wrong type is a malformed body.
    let mut wrong = serde_json::to_value(call(leads[2], priya, start, None)).unwrap();
    wrong["quality"] = json!({"mos": "great", "jitter_ms": 1.0, "loss": 0.0});
    let res = http
        .post(format!("{base}/api/v1/call-logs"))
        .bearer_auth(&tok)
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_call_logs_keep_their_quality_figures() {
    let db = TestDb::copy_of_seeded("call_quality_archive");
    let priya = db.user("priya").id;
    let lead = leads_of(&db, "priya", 1)[0];
    // A call from long before the seeded data, so the archive moves it alone.
    let old = call(
        lead,
        priya,
        Utc.with_ymd_and_hms(2020, 3, 2, 10, 0, 0).unwrap(),
        Some(figures()),
    );
    let (log, user) = (old.clone(), db.user("priya"));
    db.tx(
        move |tx| match db::writes::create_call_log(tx, &user, &log, &Utc::now()) {
            Ok(_) => Ok(()),
            Err(db::writes::WriteError::Db(e)) => Err(e),
            Err(e) => panic!("the old call is refused: {e}"),
        },
    );
    let cutoff = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
    let moved = db.tx(move |tx| db::archive::archive_call_logs(tx, &cutoff, 100, &Utc::now()));
    assert_eq!(moved, 1);
    assert_eq!(stored(&db, "call_logs", &old.id), None);
    assert!(stored(&db, "call_logs_archive", &old.id).is_some());
    let history = db.tx(move |tx| db::archive::archived_call_logs_of_lead(tx, &lead));
    let archived = history.iter().find(|c| c.id == old.id).unwrap();
    assert_eq!(archived.quality, Some(figures()));
}
