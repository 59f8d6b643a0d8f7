//! `leadline-server archive`: old call logs and closed, stale leads move to archive tables in batches;
//! an interrupted run and a rerun end in the same place, nothing lost or doubled.

use chrono::Duration;
use leadline_model::sync::{Change, Cursor};

use crate::common::{TestDb, client, pull_all, seeded_now};

fn count(db: &TestDb, table: &str) -> i64 {
    db.scalar(&format!("SELECT count(*) FROM {table}"), vec![])
}

#[tokio::test]
async fn archive_moves_old_rows_idempotently_and_survives_interruption() {
    let db = TestDb::copy_of_seeded("archive");
    let calls_cutoff = seeded_now() - Duration::days(30);
    let leads_cutoff = seeded_now() - Duration::days(20);
    let ts = |t| leadline_server::db::ts(&t);
    let closed = "('converted', 'not_interested', 'invalid', 'do_not_call')";
    let total_calls = count(&db, "call_logs");
    let total_leads = count(&db, "leads");
    let total_follow_ups = count(&db, "follow_ups");
    let stale_leads: i64 = db.scalar(
        &format!("SELECT count(*) FROM leads WHERE status IN {closed} AND updated_at < $1"),
        vec![ts(leads_cutoff).into()],
    );
    let calls_to_move: i64 = db.scalar(
        &format!(
            "SELECT count(*) FROM call_logs c WHERE c.started_at < $1 OR c.lead_id IN
               (SELECT id FROM leads WHERE status IN {closed} AND updated_at < $2)"
        ),
        vec![ts(calls_cutoff).into(), ts(leads_cutoff).into()],
    );
    assert!(
        stale_leads > 0 && calls_to_move > 0,
        "the seeded data has something to archive"
    );
    let archived_lead: String = db.scalar(
        &format!(
            "SELECT l.id FROM leads l WHERE l.status IN {closed} AND l.updated_at < $1 AND l.assigned_to IS NOT NULL
               AND EXISTS (SELECT 1 FROM call_logs c WHERE c.lead_id = l.id) ORDER BY l.id LIMIT 1"
        ),
        vec![ts(leads_cutoff).into()],
    );
    let archived_lead: leadline_model::Id = archived_lead.parse().unwrap();
    let owner: String = db.scalar(
        "SELECT u.username FROM leads l JOIN users u ON u.id = l.assigned_to WHERE l.id = $1",
        vec![leadline_server::db::id_text(&archived_lead).into()],
    );
    let history_before = db.tx(move |tx| {
        let lead = leadline_server::db::lead_by_id(tx, &archived_lead)?;
        Ok(lead)
    });
    assert!(history_before.is_some());

    let repo = db.block_on(async { db.repo().await });
    let conserved = |db: &TestDb| {
        assert_eq!(
            count(db, "call_logs") + count(db, "call_logs_archive"),
            total_calls
        );
        assert_eq!(count(db, "leads") + count(db, "leads_archive"), total_leads);
        assert_eq!(
            count(db, "follow_ups") + count(db, "follow_ups_archive"),
            total_follow_ups
        );
        let both: i64 = db.scalar(
            "SELECT count(*) FROM call_logs c JOIN call_logs_archive a ON a.id = c.id",
            vec![],
        );
        assert_eq!(both, 0, "no call log is both hot and archived");
    };

    // Interrupted after two small batches: part moved, nothing lost or doubled.
    let partial = db
        .block_on(repo.archive(calls_cutoff, leads_cutoff, 25, Some(2)))
        .unwrap();
    assert_eq!(partial.batches, 2);
    assert!(partial.leads > 0);
    conserved(&db);

    // The rerun finishes the job.
    let rest = db
        .block_on(repo.archive(calls_cutoff, leads_cutoff, 200, None))
        .unwrap();
    assert_eq!(partial.leads + rest.leads, stale_leads as u64);
    assert_eq!(count(&db, "call_logs_archive"), calls_to_move);
    assert_eq!(count(&db, "leads_archive"), stale_leads);
    conserved(&db);
    let left: i64 = db.scalar(
        "SELECT count(*) FROM call_logs WHERE started_at < $1",
        vec![ts(calls_cutoff).into()],
    );
    assert_eq!(left, 0);

    // A third run has nothing to do.
    let again = db
        .block_on(repo.archive(calls_cutoff, leads_cutoff, 200, None))
        .unwrap();
    assert_eq!((again.leads, again.call_logs), (0, 0));
    conserved(&db);

    // The archived history stays readable, decrypted.
    let history =
        db.tx(move |tx| leadline_server::db::archive::archived_call_logs_of_lead(tx, &archived_lead));
    assert!(!history.is_empty());
    assert!(
        history
            .iter()
            .all(|c| c.lead_id == archived_lead && !c.notes.starts_with("v1."))
    );

    // The owner's feed no longer holds the lead, and says it was removed.
    let server = db.start().await;
    let tok = server
        .state()
        .keys()
        .issue(&db.user(&owner), chrono::Utc::now())
        .unwrap();
    let (pages, _) = pull_all(&client(), &server.base_url(), &tok, Cursor::start(), 500).await;
    let mut removed = false;
    for change in pages.iter().flat_map(|p| &p.changes) {
        match change {
            Change::Lead(l) => assert_ne!(l.id, archived_lead),
            Change::CallLog(c) => assert!(c.started_at >= calls_cutoff && c.lead_id != archived_lead),
            Change::LeadRemoved { lead_id, .. } if *lead_id == archived_lead => removed = true,
            _ => {}
        }
    }
    assert!(removed, "a lead_removed change tells the desktop");
    server.stop().await.unwrap();
}
