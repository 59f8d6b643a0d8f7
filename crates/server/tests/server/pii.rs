//! PII at rest: phone numbers, emails and call/follow-up notes are stored sealed (`v1.<key id>.…`) and
//! read back decrypted; a sealed value moved to another row does not open; a key rotation re-seals
//! everything at start-up; plaintext written before encryption is sealed and indexed at start-up.

use std::sync::Arc;

use super::common::*;
use leadline_model::auth::ApiError;
use leadline_model::{Id, Lead, LeadPage};
use leadline_server::db::{self, DbError};
use leadline_server::pii::{PiiError, PiiKeys};
use leadline_server::sql::Value;
use leadline_server::{RunningServer, ServeConfig};

/// Every PII column: table and column.
const SEALED: &[(&str, &str)] = &[
    ("leads", "phone"),
    ("leads", "alternate_phone"),
    ("leads", "email"),
    ("call_logs", "notes"),
    ("call_logs", "follow_up_note"),
    ("follow_ups", "note"),
];

/// The archive tables' sealed columns, with the live table their seals name.
const ARCHIVED: &[(&str, &str, &str)] = &[
    ("leads_archive", "phone", "leads"),
    ("leads_archive", "alternate_phone", "leads"),
    ("leads_archive", "email", "leads"),
    ("call_logs_archive", "notes", "call_logs"),
    ("call_logs_archive", "follow_up_note", "call_logs"),
    ("follow_ups_archive", "note", "follow_ups"),
];

/// The stored (raw) non-NULL values of a column, by row id.
fn raw(db: &TestDb, table: &str, column: &str) -> Vec<(String, String)> {
    db.query(
        &format!("SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id"),
        vec![],
    )
    .iter()
    .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
    .collect()
}

fn text(id: &Id) -> Value {
    id.hyphenated().to_string().into()
}

async fn get_lead(server: &RunningServer, tok: &str, id: Id) -> reqwest::Response {
    client()
        .get(format!("{}/api/v1/leads/{id}", server.base_url()))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
}

async fn search(server: &RunningServer, tok: &str, q: &str) -> Vec<Lead> {
    let res = client()
        .get(format!("{}/api/v1/leads", server.base_url()))
        .bearer_auth(tok)
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "q={q}");
    res.json::<LeadPage>().await.unwrap().leads
}

/// A keyring with a new active key `t2` and the tests' key `t1` (same blind-index key).
fn rotated_keys() -> Arc<PiiKeys> {
    Arc::new(
        PiiKeys::new(
            vec![("t2".to_owned(), [11u8; 32]), ("t1".to_owned(), [7u8; 32])],
            "t2",
            [9u8; 32],
        )
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_pii_is_sealed_and_the_api_answers_it_decrypted() {
    let db = TestDb::seeded();
    let all = db.tx(decode_all);
    for (table, column) in SEALED {
        let values = raw(db, table, column);
        assert!(!values.is_empty(), "{table}.{column} has values");
        for (id, stored) in &values {
            assert!(
                stored.starts_with("v1.t1."),
                "{table}.{column} of {id}: {stored:.40}"
            );
        }
    }
    // Not one decoded value appears in the stored text (a plaintext leak would show at least one).
    let stored_leads: std::collections::HashMap<String, String> = db
        .query(
            "SELECT id, phone || ' ' || coalesce(alternate_phone, '') || ' ' || coalesce(email, '') || ' ' \
             || name FROM leads",
            vec![],
        )
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    assert_eq!(stored_leads.len(), 2000);
    for lead in &all.leads {
        let stored = &stored_leads[&lead.id.hyphenated().to_string()];
        assert!(stored.contains(&lead.name), "names are not PII here");
        assert!(!stored.contains(lead.phone.as_str()), "{stored}");
        assert!(!stored.contains(lead.phone.digits()), "{stored}");
        if let Some(email) = &lead.email {
            assert!(!stored.contains(email.as_str()), "{stored}");
        }
    }
    let notes = raw(db, "call_logs", "notes");
    let with_text: Vec<&str> = all
        .call_logs
        .iter()
        .map(|c| c.notes.as_str())
        .filter(|n| n.len() > 10)
        .collect();
    assert!(with_text.len() > 1000);
    for note in with_text.iter().take(200) {
        assert!(!notes.iter().any(|(_, s)| s.contains(note)), "{note}");
    }
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM call_logs WHERE notes LIKE '%catalogue%'",
            vec![]
        ),
        0
    );
    let follow_up_notes = raw(db, "follow_ups", "note");
    let decoded_notes: Vec<&str> = all
        .follow_ups
        .iter()
        .filter_map(|f| f.note.as_deref())
        .filter(|n| n.len() > 10)
        .collect();
    assert!(!decoded_notes.is_empty());
    for note in decoded_notes.iter().take(200) {
        assert!(!follow_up_notes.iter().any(|(_, s)| s.contains(note)), "{note}");
    }
    // The blind index is the keyed hash of the number, not the number.
    let lead = &all.leads[0];
    let bidx: String = db.scalar("SELECT phone_bidx FROM leads WHERE id = $1", vec![text(&lead.id)]);
    assert_eq!(bidx, pii_keys().blind_index(lead.phone.as_str()));
    assert!(!bidx.contains(lead.phone.digits()));

    // The API answers the plaintext, equal to what the storage functions decode.
    let server = db.start().await;
    let tok = token(&server, db, "meera");
    let with_email = all.leads.iter().find(|l| l.email.is_some()).unwrap();
    for lead in [lead, with_email] {
        let res = get_lead(&server, &tok, lead.id).await;
        assert_eq!(res.status(), 200);
        let got: Lead = res.json().await.unwrap();
        assert_eq!(&got, lead);
        assert!(got.phone.as_str().starts_with("+91"));
    }
    assert!(with_email.email.as_deref().unwrap().contains('@'));
    let (pages, _) = pull_all(
        &client(),
        &server.base_url(),
        &tok,
        leadline_model::sync::Cursor::start(),
        2000,
    )
    .await;
    let pulled_notes: std::collections::HashSet<&str> = pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            leadline_model::sync::Change::CallLog(c) => Some(c.notes.as_str()),
            _ => None,
        })
        .collect();
    assert!(with_text.iter().all(|n| pulled_notes.contains(n)));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_value_copied_to_another_row_or_column_does_not_open() {
    let db = TestDb::copy_of_seeded("pii-swap");
    let priya = db.user("priya");
    let theirs = ids_of(
        &db,
        "SELECT id FROM leads WHERE assigned_to = $1 AND email IS NOT NULL ORDER BY id LIMIT 3",
        vec![text(&priya.id)],
    );
    let (a, b, c) = (theirs[0], theirs[1], theirs[2]);
    let before = db.tx(decode_all);
    let (lead_a, lead_b) = (before.lead(a).clone(), before.lead(b).clone());
    // B's phone column gets A's sealed phone; C's phone column gets C's own sealed email.
    db.tx(move |tx| {
        tx.execute(
            "UPDATE leads SET phone = (SELECT phone FROM leads WHERE id = $1) WHERE id = $2",
            &[text(&a), text(&b)],
        )?;
        tx.execute("UPDATE leads SET phone = email WHERE id = $1", &[text(&c)])?;
        Ok(())
    });
    for (victim, column) in [(b, "leads.phone"), (c, "leads.phone")] {
        let err = db
            .try_tx(pii_keys(), move |tx| db::lead_by_id(tx, &victim))
            .unwrap_err();
        match &err {
            DbError::Pii(PiiError::AuthenticationFailed { context, .. }) => {
                assert_eq!(context, &format!("{column}:{}", victim.hyphenated()));
            }
            other => panic!("{victim}: {other}"),
        }
    }
    // A's own row still opens.
    assert_eq!(db.tx(move |tx| db::lead_by_id(tx, &a)), Some(lead_a.clone()));

    let server = db.start().await;
    let tok = token(&server, &db, "priya");
    let res = get_lead(&server, &tok, b).await;
    assert_eq!(res.status(), 500);
    let body = res.text().await.unwrap();
    let err: ApiError = serde_json::from_str(&body).unwrap();
    assert_eq!(err.code, "internal");
    for secret in [lead_a.phone.digits(), lead_b.phone.digits()] {
        assert!(!body.contains(secret), "{body}");
    }
    // The list and the feed that would carry B fail the same way rather than show A's number.
    let res = client()
        .get(format!("{}/api/v1/sync/pull", server.base_url()))
        .bearer_auth(&tok)
        .query(&[("limit", "2000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert!(!res.text().await.unwrap().contains(lead_a.phone.digits()));
    // A's number still finds only A (the blind indexes were not moved).
    let found = search(&server, &tok, lead_a.phone.as_str()).await;
    assert_eq!(found.iter().map(|l| l.id).collect::<Vec<_>>(), vec![a]);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_active_key_re_seals_every_value_at_start_up() {
    let db = TestDb::copy_of_seeded("pii-rotate");
    // Some history is archived already: those rows move to the new key too, or the old key could never
    // be dropped.
    let far = chrono::Utc::now() + chrono::Duration::days(3650);
    let moved = db.tx(move |tx| {
        let now = chrono::Utc::now();
        Ok((
            db::archive::archive_leads(tx, &far, 20, &now)?,
            db::archive::archive_call_logs(tx, &far, 200, &now)?,
        ))
    });
    assert!(moved.0 > 0 && moved.1 > 0, "{moved:?}");
    let archived = |keys: &PiiKeys| -> Vec<(String, String, String)> {
        ARCHIVED
            .iter()
            .flat_map(|(table, column, live)| {
                raw(&db, table, column).into_iter().map(move |(id, stored)| {
                    let context = leadline_server::pii::row_context(&format!("{live}.{column}"), &id);
                    (
                        format!("{table}.{column}"),
                        id,
                        keys.decrypt(&context, &stored).unwrap(),
                    )
                })
            })
            .collect()
    };
    let archived_before = archived(&pii_keys());
    assert!(
        archived_before
            .iter()
            .any(|(c, _, v)| c == "call_logs_archive.notes" && !v.is_empty())
            && archived_before.iter().any(|(c, _, _)| c == "leads_archive.phone"),
        "archived PII to re-seal"
    );
    let before = db.tx(decode_all).sorted();
    let counts: Vec<usize> = SEALED.iter().map(|(t, c)| raw(&db, t, c).len()).collect();

    let config = ServeConfig {
        pii: Some(rotated_keys()),
        ..db.config()
    };
    let server = leadline_server::start(&config)
        .await
        .expect("start with rotated keys");
    for ((table, column), n) in SEALED.iter().zip(&counts) {
        let values = raw(&db, table, column);
        assert_eq!(values.len(), *n, "{table}.{column}: no value lost");
        for (id, stored) in &values {
            assert!(
                stored.starts_with("v1.t2."),
                "{table}.{column} of {id}: {stored:.40}"
            );
        }
    }
    for (table, column, _) in ARCHIVED {
        for (id, stored) in raw(&db, table, column) {
            assert!(
                stored.starts_with("v1.t2."),
                "{table}.{column} of {id}: {stored:.40}"
            );
        }
    }
    assert_eq!(
        archived(&rotated_keys()),
        archived_before,
        "archived values read the same"
    );
    // The data reads the same under the new keyring, and no longer opens with the old key alone.
    let after = db.try_tx(rotated_keys(), decode_all).unwrap().sorted();
    assert!(after == before, "decoded data changed in the rotation");
    match db.try_tx(pii_keys(), decode_all) {
        Err(DbError::Pii(PiiError::UnknownKeyId { key_id, .. })) => assert_eq!(key_id, "t2"),
        other => panic!(
            "the old key alone still reads the data: {:?}",
            other.map(|d| d.leads.len())
        ),
    }
    // Nothing is left to re-seal.
    let again = db.block_on(async { db.repo_with(rotated_keys()).await.seal_all().await.unwrap() });
    assert_eq!(again, 0);

    // The API answers the same values, and phone search (same blind-index key) still works.
    let tok = token(&server, &db, "meera");
    let lead = &before.leads[17];
    let res = get_lead(&server, &tok, lead.id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(&res.json::<Lead>().await.unwrap(), lead);
    let found = search(&server, &tok, lead.phone.as_str()).await;
    assert_eq!(found, vec![lead.clone()]);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_written_before_encryption_is_sealed_and_indexed_at_start_up() {
    let db = TestDb::copy_of_seeded("pii-legacy");
    let all = db.tx(decode_all);
    let unused = |n: u32| {
        let phone = format!("+9170{n:08}");
        let taken = all.leads.iter().any(|l| {
            l.phone.as_str() == phone || l.alternate_phone.as_ref().is_some_and(|a| a.as_str() == phone)
        });
        (!taken).then_some(phone)
    };
    let mut free = (1..1000).filter_map(unused);
    let (phone, alternate) = (free.next().unwrap(), free.next().unwrap());
    let lead = all
        .leads
        .iter()
        .find(|l| l.assigned_to.is_some())
        .unwrap()
        .clone();
    let call = all
        .call_logs
        .iter()
        .find(|c| c.lead_id == lead.id)
        .or_else(|| all.call_logs.first())
        .unwrap()
        .clone();
    let follow_up = all.follow_ups.first().unwrap().clone();
    // As a server from before encryption wrote them: plaintext, no blind indexes.
    {
        let (phone, alternate) = (phone.clone(), alternate.clone());
        db.tx(move |tx| {
            tx.execute(
                "UPDATE leads SET phone = $1, phone_bidx = NULL, alternate_phone = $2,
                   alternate_phone_bidx = NULL, email = $3 WHERE id = $4",
                &[
                    phone.into(),
                    alternate.into(),
                    "legacy@example.com".into(),
                    text(&lead.id),
                ],
            )?;
            tx.execute(
                "UPDATE call_logs SET notes = $1, follow_up_note = NULL WHERE id = $2",
                &["legacy plain note".into(), text(&call.id)],
            )?;
            tx.execute(
                "UPDATE follow_ups SET note = $1 WHERE id = $2",
                &["legacy follow-up".into(), text(&follow_up.id)],
            )?;
            Ok(())
        });
    }
    let server = db.start().await;
    let id = text(&lead.id);
    let row = db.query(
        "SELECT phone, phone_bidx, alternate_phone, alternate_phone_bidx, email FROM leads WHERE id = $1",
        vec![id],
    );
    let stored: Vec<Option<String>> = (0..5).map(|i| row[0].get(i).unwrap()).collect();
    for value in [&stored[0], &stored[2], &stored[4]] {
        let value = value.as_deref().unwrap();
        assert!(value.starts_with("v1.t1."), "{value}");
    }
    assert_eq!(
        stored[1].as_deref(),
        Some(pii_keys().blind_index(&phone).as_str())
    );
    assert_eq!(
        stored[3].as_deref(),
        Some(pii_keys().blind_index(&alternate).as_str())
    );
    for (table, column, id) in [
        ("call_logs", "notes", call.id),
        ("follow_ups", "note", follow_up.id),
    ] {
        let value: String = db.scalar(
            &format!("SELECT {column} FROM {table} WHERE id = $1"),
            vec![text(&id)],
        );
        assert!(value.starts_with("v1.t1."), "{table}.{column}: {value}");
    }
    // No plaintext is left anywhere.
    for (table, column) in SEALED {
        assert!(
            raw(&db, table, column)
                .iter()
                .all(|(_, v)| v.starts_with("v1.t1.")),
            "{table}.{column}"
        );
    }

    // Read back decrypted, and findable by either number.
    let tok = token(&server, &db, "meera");
    let res = get_lead(&server, &tok, lead.id).await;
    assert_eq!(res.status(), 200);
    let got: Lead = res.json().await.unwrap();
    assert_eq!(got.phone.as_str(), phone);
    assert_eq!(
        got.alternate_phone.as_ref().map(|p| p.as_str()),
        Some(alternate.as_str())
    );
    assert_eq!(got.email.as_deref(), Some("legacy@example.com"));
    let national = phone.strip_prefix("+91").unwrap();
    for q in [
        phone.clone(),
        format!("{} {}", &national[..5], &national[5..]),
        alternate.clone(),
    ] {
        let found = search(&server, &tok, &q).await;
        assert_eq!(
            found.iter().map(|l| l.id).collect::<Vec<_>>(),
            vec![lead.id],
            "q={q}"
        );
    }
    let decoded = db.tx(decode_all);
    let call_after = decoded.call_logs.iter().find(|c| c.id == call.id).unwrap();
    assert_eq!(call_after.notes, "legacy plain note");
    assert!(call_after.follow_up.as_ref().is_none_or(|f| f.note.is_none()));
    let fu_after = decoded.follow_ups.iter().find(|f| f.id == follow_up.id).unwrap();
    assert_eq!(fu_after.note.as_deref(), Some("legacy follow-up"));
    server.stop().await.unwrap();
}
