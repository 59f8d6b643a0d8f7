//! The demo data: counts, realism, validity, idempotence.

use std::collections::HashSet;

use super::common::*;
use leadline_model::{LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role, default_catalogue};
use leadline_server::db;
use leadline_server::demo::{self, DemoError, SeedOutcome};
use leadline_server::sql::{Row, Value};

fn count(db: &TestDb, sql: &str) -> i64 {
    db.scalar(sql, vec![])
}

#[test]
fn demo_has_the_documented_users_and_counts() {
    let db = TestDb::seeded();
    let users: Vec<(String, String, String, Option<String>)> = db
        .query(
            "SELECT username, name, role, team FROM users ORDER BY username",
            vec![],
        )
        .iter()
        .map(|r| {
            (
                r.get(0).unwrap(),
                r.get(1).unwrap(),
                r.get(2).unwrap(),
                r.get(3).unwrap(),
            )
        })
        .collect();
    let team = Some("Bandra Showroom".to_owned());
    let expect =
        |u: &str, n: &str, r: Role| (u.to_owned(), n.to_owned(), r.as_str().to_owned(), team.clone());
    assert_eq!(
        users,
        vec![
            expect("arjun", "Arjun Nair", Role::Telecaller),
            expect("divya", "Divya Menon", Role::Telecaller),
            expect("kavya", "Kavya Reddy", Role::Telecaller),
            expect("meera", "Meera Iyer", Role::Supervisor),
            expect("priya", "Priya Sharma", Role::Telecaller),
            expect("rohit", "Rohit Verma", Role::Telecaller),
        ]
    );
    // Argon2id hashes that verify the documented password.
    let hash: String = db.scalar("SELECT password_hash FROM users WHERE username = 'kavya'", vec![]);
    assert!(leadline_server::auth::verify_password(demo::DEMO_PASSWORD, &hash));
    assert_eq!(
        count(db, "SELECT count(DISTINCT password_hash) FROM users"),
        6,
        "salts differ"
    );

    assert_eq!(count(db, "SELECT count(*) FROM leads"), 2000);
    assert_eq!(count(db, "SELECT count(*) FROM call_logs"), 5000);
    let unassigned = count(db, "SELECT count(*) FROM leads WHERE assigned_to IS NULL");
    assert!(unassigned > 20 && unassigned < 400, "{unassigned} unassigned");
    // Every telecaller has leads, the supervisor none.
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM users u WHERE u.role = 'telecaller'
               AND (SELECT count(*) FROM leads l WHERE l.assigned_to = u.id) > 200"
        ),
        5
    );
    // Open follow-ups: some overdue, some due today, some upcoming.
    let now = chrono::Utc::now();
    let [now, in_a_day, in_two_days] = [
        now,
        now + chrono::Duration::days(1),
        now + chrono::Duration::days(2),
    ]
    .map(|t| Value::from(db::ts(&t)));
    let open = |cond: &str, params: Vec<Value>| -> i64 {
        db.scalar(
            &format!("SELECT count(*) FROM follow_ups WHERE completed_at IS NULL AND {cond}"),
            params,
        )
    };
    assert!(open("due_at < $1", vec![now.clone()]) > 0, "overdue");
    assert!(
        open("due_at >= $1 AND due_at < $2", vec![now, in_a_day]) > 0,
        "soon"
    );
    assert!(open("due_at >= $1", vec![in_two_days]) > 0, "upcoming");
    // Open follow-ups belong to open leads.
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM follow_ups f JOIN leads l ON l.id = f.lead_id WHERE f.completed_at IS NULL
               AND l.status IN ('converted', 'not_interested', 'invalid', 'do_not_call')"
        ),
        0
    );
}

#[test]
fn demo_values_are_valid_and_varied() {
    let db = TestDb::seeded();
    // The numbers are encrypted at rest: read them through the storage functions.
    let all = db.tx(decode_all);
    assert_eq!(all.leads.len(), 2000);
    let mut seen = HashSet::new();
    for phone in all
        .leads
        .iter()
        .flat_map(|l| std::iter::once(&l.phone).chain(&l.alternate_phone))
    {
        let phone = phone.as_str();
        assert!(phone.starts_with("+91") && phone.len() == 13, "{phone}");
        let parsed = PhoneNumber::parse(phone).unwrap_or_else(|e| panic!("{phone}: {e}"));
        assert_eq!(parsed.as_str(), phone, "stored in E.164");
        assert!(seen.insert(phone.to_owned()), "{phone} twice");
    }
    let emails = all.leads.iter().filter_map(|l| l.email.as_deref());
    assert!(emails.clone().count() > 400, "emails");
    assert!(emails.clone().all(|e| e.contains('@')));

    let distinct = |col: &str| -> HashSet<String> {
        db.query(
            &format!("SELECT DISTINCT {col} FROM leads WHERE {col} IS NOT NULL"),
            vec![],
        )
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect()
    };
    let set = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>();
    assert_eq!(
        distinct("source"),
        set(&LeadSource::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        distinct("status"),
        set(&LeadStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        distinct("priority"),
        set(&LeadPriority::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert!(distinct("name").len() > 1000, "names vary");
    assert!(distinct("city").len() > 30, "cities vary");
    assert!(distinct("interest").contains("bridal necklace"));
    assert!(count(db, "SELECT count(*) FROM leads WHERE budget_inr > 0") > 1000);
    assert!(count(db, "SELECT count(*) FROM leads WHERE tags != '[]'") > 500);

    // Calls: in the last 90 days, after the lead was created, with catalogue dispositions.
    let codes: HashSet<String> = default_catalogue().into_iter().map(|d| d.code).collect();
    let used: HashSet<String> = db
        .query("SELECT DISTINCT disposition FROM call_logs", vec![])
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    assert!(used.is_subset(&codes), "{used:?}");
    assert!(used.len() >= 10);
    let ninety = db::ts(&(chrono::Utc::now() - chrono::Duration::days(90)));
    let now = db::ts(&chrono::Utc::now());
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM call_logs WHERE started_at < $1 OR started_at > $2",
            vec![ninety.into(), now.into()],
        ),
        0
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM call_logs c JOIN leads l ON l.id = c.lead_id
             WHERE c.started_at < l.created_at OR c.seq <= l.seq"
        ),
        0
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM call_logs WHERE length(provider_call_id) != 32"
        ),
        0
    );
    assert!(
        count(
            db,
            "SELECT count(*) FROM call_logs WHERE duration_s > 60 AND answered_at IS NOT NULL"
        ) > 1000
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM call_logs WHERE answered_at IS NULL AND duration_s != 0"
        ),
        0
    );
    // Notes are encrypted at rest: decoded, they read like real call notes.
    assert_eq!(all.call_logs.len(), 5000);
    assert!(
        all.call_logs
            .iter()
            .filter(|c| c.notes.contains("catalogue"))
            .count()
            > 50
    );
    // New leads were never called.
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM call_logs c JOIN leads l ON l.id = c.lead_id WHERE l.status = 'new'"
        ),
        0
    );
    // The seq counter covers every row.
    let max_seq = count(
        db,
        "SELECT max(s) FROM (SELECT max(seq) AS s FROM leads UNION ALL SELECT max(seq) FROM call_logs
           UNION ALL SELECT max(seq) FROM follow_ups) AS t",
    );
    assert_eq!(count(db, "SELECT value FROM change_seq"), max_seq);
}

#[test]
fn seeding_twice_changes_nothing_and_other_data_is_not_overwritten() {
    let db = TestDb::seeded();
    let summary = |db: &TestDb| db.block_on(async { db.repo().await.read(demo::summary).await.unwrap() });
    let before = summary(db);
    let again = db.block_on(async {
        db.repo()
            .await
            .seed_demo(demo::SeedOptions::new(SEED + 1))
            .await
            .unwrap()
    });
    match again {
        SeedOutcome::AlreadySeeded(s) => assert_eq!(s, before),
        other => panic!("reseeded: {other:?}"),
    }
    assert_eq!(summary(db), before);
    assert_eq!(before.leads, 2000);
    assert_eq!(before.call_logs, 5000);
    assert_eq!(before.users.len(), 6);
    assert_eq!(before.seed, Some(SEED));
    assert!(before.open_follow_ups > 0);
    assert_eq!(before.users[0].user.username, "meera");
    assert_eq!(
        before.users.iter().map(|u| u.leads).sum::<i64>() + before.unassigned_leads,
        2000
    );

    // A database with real users is refused without --force.
    let other = TestDb::fresh("not-demo");
    let admin = leadline_model::User {
        id: leadline_model::new_id(),
        username: "admin".into(),
        name: "Admin".into(),
        role: Role::Admin,
        team: None,
    };
    other.tx(move |tx| db::insert_user(tx, &admin, leadline_server::auth::DUMMY_HASH, &chrono::Utc::now()));
    let err = other.block_on(async {
        other
            .repo()
            .await
            .seed_demo(demo::SeedOptions::new(SEED))
            .await
            .unwrap_err()
    });
    assert!(matches!(err, DemoError::NotEmpty { users: 1, leads: 0 }), "{err}");
    assert_eq!(count(&other, "SELECT count(*) FROM leads"), 0);
}

/// The columns of each seeded table that are stored as they are (not encrypted, not the feed position
/// `seq`, which keeps counting across reseeds), in every row ordered by id. Encrypted columns carry a
/// random nonce; they are compared decoded (see [`decode_all`]).
fn plain_dump(db: &TestDb, table: &str) -> Vec<Row> {
    let columns = match table {
        "users" => "id, username, name, role, team, password_hash, created_at, updated_at",
        "leads" => {
            "id, name, city, source, interest, budget_inr, priority, status, tags, assigned_to, team, \
             created_at, updated_at, version, phone_bidx, alternate_phone_bidx"
        }
        "call_logs" => {
            "id, lead_id, telecaller_id, direction, started_at, answered_at, ended_at, duration_s, \
             disposition, outcome_tags, follow_up_due_at, recording_url, provider_call_id, device_id, \
             received_at"
        }
        "follow_ups" => "id, lead_id, assigned_to, due_at, call_log_id, completed_at, created_at, updated_at",
        other => panic!("no dump of {other}"),
    };
    db.query(&format!("SELECT {columns} FROM {table} ORDER BY id"), vec![])
}

#[test]
fn the_same_seed_and_time_give_the_same_data() {
    let copy = TestDb::copy_of_seeded("determinism");
    let opts = demo::SeedOptions {
        force: true,
        now: seeded_now(),
        ..demo::SeedOptions::new(SEED)
    };
    let outcome = copy.block_on(async { copy.repo().await.seed_demo(opts).await.unwrap() });
    assert!(matches!(outcome, SeedOutcome::Seeded(_)), "{outcome:?}");
    let original = TestDb::seeded();
    for table in ["users", "leads", "call_logs", "follow_ups"] {
        let (a, b) = (plain_dump(original, table), plain_dump(&copy, table));
        assert!(!a.is_empty());
        assert!(a == b, "{table} differs between two seedings with seed {SEED}");
    }
    let (a, b) = (original.tx(decode_all).sorted(), copy.tx(decode_all).sorted());
    assert_eq!((a.leads.len(), a.call_logs.len()), (2000, 5000));
    assert!(!a.follow_ups.is_empty());
    assert!(a.leads == b.leads, "decoded leads differ");
    assert!(a.call_logs == b.call_logs, "decoded call logs differ");
    assert!(a.follow_ups == b.follow_ups, "decoded follow-ups differ");
}
