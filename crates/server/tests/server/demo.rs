//! The demo data: counts, realism, validity, idempotence.

use std::collections::HashSet;

use super::common::*;
use leadline_model::{LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role, default_catalogue};
use leadline_server::db;
use leadline_server::demo::{self, DemoError, SeedOutcome};

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn demo_has_the_documented_users_and_counts() {
    let conn = read_only(seeded_dir());
    let mut stmt = conn
        .prepare("SELECT username, name, role, team FROM users ORDER BY username")
        .unwrap();
    let users: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
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
    let hash: String = conn
        .query_row(
            "SELECT password_hash FROM users WHERE username = 'kavya'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(leadline_server::auth::verify_password(demo::DEMO_PASSWORD, &hash));
    assert_eq!(
        count(&conn, "SELECT count(DISTINCT password_hash) FROM users"),
        6,
        "salts differ"
    );

    assert_eq!(count(&conn, "SELECT count(*) FROM leads"), 2000);
    assert_eq!(count(&conn, "SELECT count(*) FROM call_logs"), 5000);
    let unassigned = count(&conn, "SELECT count(*) FROM leads WHERE assigned_to IS NULL");
    assert!(unassigned > 20 && unassigned < 400, "{unassigned} unassigned");
    // Every telecaller has leads, the supervisor none.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM users u WHERE u.role = 'telecaller'
               AND (SELECT count(*) FROM leads l WHERE l.assigned_to = u.id) > 200"
        ),
        5
    );
    // Open follow-ups: some overdue, some due today, some upcoming.
    let now = leadline_server::db::ts(&chrono::Utc::now());
    let open = |cond: &str| {
        conn.query_row(
            &format!("SELECT count(*) FROM follow_ups WHERE completed_at IS NULL AND {cond}"),
            [&now],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    assert!(open("due_at < ?1") > 0, "overdue");
    assert!(
        open("due_at >= ?1 AND due_at < strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '+1 day')") > 0,
        "soon"
    );
    assert!(
        open("due_at >= strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '+2 days')") > 0,
        "upcoming"
    );
    // Open follow-ups belong to open leads.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM follow_ups f JOIN leads l ON l.id = f.lead_id WHERE f.completed_at IS NULL
               AND l.status IN ('converted', 'not_interested', 'invalid', 'do_not_call')"
        ),
        0
    );
}

#[test]
fn demo_values_are_valid_and_varied() {
    let conn = read_only(seeded_dir());
    let mut stmt = conn.prepare("SELECT phone, alternate_phone FROM leads").unwrap();
    let phones: Vec<(String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut seen = HashSet::new();
    for phone in phones.iter().flat_map(|(p, a)| std::iter::once(p).chain(a)) {
        assert!(phone.starts_with("+91") && phone.len() == 13, "{phone}");
        let parsed = PhoneNumber::parse(phone).unwrap_or_else(|e| panic!("{phone}: {e}"));
        assert_eq!(parsed.as_str(), phone, "stored in E.164");
        assert!(seen.insert(phone.clone()), "{phone} twice");
    }

    let distinct = |col: &str| -> HashSet<String> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT DISTINCT {col} FROM leads WHERE {col} IS NOT NULL"
            ))
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let all = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>();
    assert_eq!(
        distinct("source"),
        all(&LeadSource::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        distinct("status"),
        all(&LeadStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert_eq!(
        distinct("priority"),
        all(&LeadPriority::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    );
    assert!(distinct("name").len() > 1000, "names vary");
    assert!(distinct("city").len() > 30, "cities vary");
    assert!(distinct("interest").contains("bridal necklace"));
    assert!(count(&conn, "SELECT count(*) FROM leads WHERE budget_inr > 0") > 1000);
    assert!(count(&conn, "SELECT count(*) FROM leads WHERE tags != '[]'") > 500);

    // Calls: in the last 90 days, after the lead was created, with catalogue dispositions.
    let codes: HashSet<String> = default_catalogue().into_iter().map(|d| d.code).collect();
    let mut stmt = conn
        .prepare("SELECT DISTINCT disposition FROM call_logs")
        .unwrap();
    let used: HashSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(used.is_subset(&codes), "{used:?}");
    assert!(used.len() >= 10);
    let ninety = db::ts(&(chrono::Utc::now() - chrono::Duration::days(90)));
    let now = db::ts(&chrono::Utc::now());
    assert_eq!(
        conn.query_row(
            "SELECT count(*) FROM call_logs WHERE started_at < ?1 OR started_at > ?2",
            [&ninety, &now],
            |r| r.get::<_, i64>(0)
        )
        .unwrap(),
        0
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM call_logs c JOIN leads l ON l.id = c.lead_id
             WHERE c.started_at < l.created_at OR c.seq <= l.seq"
        ),
        0
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM call_logs WHERE length(provider_call_id) != 32"
        ),
        0
    );
    assert!(
        count(
            &conn,
            "SELECT count(*) FROM call_logs WHERE duration_s > 60 AND answered_at IS NOT NULL"
        ) > 1000
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM call_logs WHERE answered_at IS NULL AND duration_s != 0"
        ),
        0
    );
    assert!(
        count(
            &conn,
            "SELECT count(*) FROM call_logs WHERE notes LIKE '%catalogue%'"
        ) > 50
    );
    // New leads were never called.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM call_logs c JOIN leads l ON l.id = c.lead_id WHERE l.status = 'new'"
        ),
        0
    );
    // The seq counter covers every row.
    let max_seq = count(
        &conn,
        "SELECT max(s) FROM (SELECT max(seq) s FROM leads UNION ALL SELECT max(seq) FROM call_logs
           UNION ALL SELECT max(seq) FROM follow_ups)",
    );
    assert_eq!(count(&conn, "SELECT value FROM change_seq"), max_seq);
}

#[test]
fn seeding_twice_changes_nothing_and_other_data_is_not_overwritten() {
    let dir = seeded_dir();
    let mut conn = db::open_connection(&db::db_path(dir)).unwrap();
    let keys = pii_keys();
    let before = demo::summary_of(&mut conn, &keys).unwrap();
    match demo::seed_with(&mut conn, &keys, &demo::SeedOptions::new(SEED + 1)).unwrap() {
        SeedOutcome::AlreadySeeded(s) => assert_eq!(s, before),
        other => panic!("reseeded: {other:?}"),
    }
    assert_eq!(demo::summary_of(&mut conn, &keys).unwrap(), before);
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
    let other = fresh_dir("not-demo");
    let mut conn = db::open_connection(&db::db_path(&other)).unwrap();
    let admin = leadline_model::User {
        id: leadline_model::new_id(),
        username: "admin".into(),
        name: "Admin".into(),
        role: Role::Admin,
        team: None,
    };
    db::with_sqlite_tx(&mut conn, &keys, |tx| {
        db::insert_user(tx, &admin, leadline_server::auth::DUMMY_HASH, &chrono::Utc::now())
    })
    .unwrap();
    let err = demo::seed_with(&mut conn, &keys, &demo::SeedOptions::new(SEED)).unwrap_err();
    assert!(matches!(err, DemoError::NotEmpty { users: 1, leads: 0 }), "{err}");
    assert_eq!(count(&conn, "SELECT count(*) FROM leads"), 0);
}

/// Every row of a table ordered by id, without the feed position (`seq` keeps counting across reseeds).
fn dump(conn: &rusqlite::Connection, table: &str) -> Vec<Vec<rusqlite::types::Value>> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY id"))
        .unwrap();
    let keep: Vec<usize> = (0..stmt.column_count())
        .filter(|&i| stmt.column_name(i).unwrap() != "seq")
        .collect();
    stmt.query_map([], |r| {
        keep.iter().map(|&i| r.get(i)).collect::<Result<Vec<_>, _>>()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn the_same_seed_and_time_give_the_same_data() {
    let dir = copy_of_seeded("determinism");
    let mut conn = db::open_connection(&db::db_path(&dir)).unwrap();
    let opts = demo::SeedOptions {
        force: true,
        now: seeded_now(),
        ..demo::SeedOptions::new(SEED)
    };
    assert!(matches!(
        demo::seed_with(&mut conn, &pii_keys(), &opts).unwrap(),
        SeedOutcome::Seeded(_)
    ));
    let original = read_only(seeded_dir());
    for table in ["users", "leads", "call_logs", "follow_ups"] {
        let (a, b) = (dump(&original, table), dump(&conn, table));
        assert!(!a.is_empty());
        assert!(a == b, "{table} differs between two seedings with seed {SEED}");
    }
}
