//! Forward-only migrations of the desktop cache. Released migration files never change (their SHA-256
//! sums are checked in); every released schema — every prefix of `migrations/`, as there are no tagged
//! releases yet — opens with the current code, migrated, with every row intact and readable; a cache
//! written by a newer Leadline is refused and left untouched.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use leadline_model::sync::{Mutation, MutationOp};
use leadline_model::*;
use leadline_store::{Clock, LeadFilter, LeadPageQuery, Store, StoreError, StoreKey};
use rusqlite::Connection;
use sha2::Digest;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn files_under(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn released_migrations_are_unchanged() {
    let root = Path::new(MANIFEST_DIR).join("../../migrations");
    let list = Path::new(MANIFEST_DIR).join("tests/fixtures/migrations.sha256");
    let released: BTreeMap<String, String> = std::fs::read_to_string(&list)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (sum, path) = l.split_once("  ").unwrap();
            (path.to_owned(), sum.to_owned())
        })
        .collect();
    let present = files_under(&root);
    let mut problems = Vec::new();
    for rel in &present {
        let sum = hex(&sha2::Sha256::digest(std::fs::read(root.join(rel)).unwrap()));
        match released.get(rel) {
            Some(expected) if *expected == sum => {}
            Some(_) => problems.push(format!(
                "migrations/{rel} changed after it was released. Migrations are forward-only: caches on \
                 the desks already ran the released text, so an edit never reaches them. Revert the edit \
                 and add a new numbered migration instead."
            )),
            None => problems.push(format!(
                "migrations/{rel} is new: when it is final, add this line to {}:\n{sum}  {rel}",
                list.display()
            )),
        }
    }
    for rel in released.keys() {
        if !present.contains(rel) {
            problems.push(format!("migrations/{rel} was released but is gone: restore it"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn t(day: u32, hour: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2025, 1, day, hour, 0, 0).unwrap()
}

fn ts(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

const USER: &str = "00000000-0000-4000-8000-000000000003";
const LEAD_A: &str = "00000000-0000-4000-8000-0000000000a1";
const LEAD_B: &str = "00000000-0000-4000-8000-0000000000a2";
const LEAD_GONE: &str = "00000000-0000-4000-8000-0000000000a3";
const CALL: &str = "00000000-0000-4000-8000-0000000000c1";
const FOLLOW_UP: &str = "00000000-0000-4000-8000-0000000000f1";

fn id(s: &str) -> Id {
    Id::parse_str(s).unwrap()
}

/// The pending change the fixture queues at schema 1: a follow-up completed offline.
fn pending_mutation() -> Mutation {
    Mutation {
        client_mutation_id: id("00000000-0000-4000-8000-0000000000d1"),
        created_at: t(6, 9),
        op: MutationOp::CompleteFollowUp {
            follow_up_id: id("00000000-0000-4000-8000-0000000000f2"),
            completed_at: t(6, 9),
        },
    }
}

/// Rows valid at schema `version`, written right after its migration as that version's app would have.
fn fixture(conn: &Connection, version: i64) {
    match version {
        1 => {
            conn.execute_batch(&format!(
                "INSERT INTO meta (key, value) VALUES ('fixture', 'schema 1');
                 INSERT INTO users (id, username, name, role, team)
                     VALUES ('{USER}', 'tele1', 'Tara Telecaller', 'telecaller', 'Jaipur');
                 INSERT INTO dispositions (code, label, category, requires_follow_up, hotkey, position)
                     VALUES ('interested', 'Interested', 'connected', 0, 1, 0),
                            ('callback', 'Call back', 'connected', 1, 2, 1);
                 INSERT INTO leads (id, name, phone, alternate_phone, email, city, source, interest,
                                    budget_inr, priority, status, tags, assigned_to, created_at, updated_at,
                                    version, next_follow_up_at, removed)
                     VALUES ('{LEAD_A}', 'Kavitha Rao', '+919876500001', '+919876500002',
                             'kavitha@example.com', 'Jaipur', 'instagram', 'temple jewellery', 150000, 'hot',
                             'interested', '[\"gold\"]', '{USER}', '{c}', '{u}', 3, '{due}', 0),
                            ('{LEAD_B}', 'José Müller', '+919876500003', NULL, NULL, NULL, 'walk_in', NULL,
                             NULL, 'normal', 'new', '[]', '{USER}', '{c}', '{c}', 1, NULL, 0),
                            ('{LEAD_GONE}', 'Reassigned Lead', '+919876500004', NULL, NULL, NULL, 'website',
                             NULL, NULL, 'low', 'contacted', '[]', NULL, '{c}', '{c}', 2, NULL, 1);
                 INSERT INTO call_logs (id, lead_id, telecaller_id, direction, started_at, answered_at,
                                        ended_at, duration_s, disposition, outcome_tags, notes,
                                        follow_up_due_at, follow_up_note, recording_url, provider_call_id,
                                        device_id)
                     VALUES ('{CALL}', '{LEAD_A}', '{USER}', 'outbound', '{s}', '{s}', '{e}', 112, 'callback',
                             '[\"price\"]', 'Wants a Kundan set before the wedding.', '{due}',
                             'Send the catalogue', NULL, 'exo-1', 'device-1');
                 INSERT INTO follow_ups (id, lead_id, assigned_to, due_at, note, call_log_id, completed_at,
                                         created_at)
                     VALUES ('{FOLLOW_UP}', '{LEAD_A}', '{USER}', '{due}', 'Send the catalogue', '{CALL}',
                             NULL, '{e}'),
                            ('00000000-0000-4000-8000-0000000000f2', '{LEAD_B}', '{USER}', '{e}', NULL,
                             NULL, NULL, '{e}');
                 INSERT INTO lead_search (rowid, name, phones, notes)
                     SELECT rowid, name, '919876500001 9876500001', 'Wants a Kundan set before the wedding.'
                     FROM leads WHERE id = '{LEAD_A}';
                 INSERT INTO lead_search (rowid, name, phones, notes)
                     SELECT rowid, name, '919876500003 9876500003', '' FROM leads WHERE id = '{LEAD_B}';",
                c = ts(t(3, 10)),
                u = ts(t(4, 11)),
                s = ts(t(4, 10)),
                e = ts(t(4, 11)),
                due = ts(t(10, 9)),
            ))
            .unwrap();
            let m = pending_mutation();
            conn.execute(
                "INSERT INTO outbox (client_mutation_id, entity, entity_id, mutation, created_at)
                 VALUES (?1, 'follow_up', ?2, ?3, ?4)",
                rusqlite::params![
                    m.client_mutation_id.to_string(),
                    "00000000-0000-4000-8000-0000000000f2",
                    serde_json::to_string(&m).unwrap(),
                    ts(m.created_at)
                ],
            )
            .unwrap();
        }
        2 => conn
            .execute_batch(&format!(
                "INSERT INTO conflicts (id, lead_id, client_mutation_id, patch, base, theirs, server_version,
                                        edited_at, detected_at, resolved_at, resolution)
                     VALUES ('00000000-0000-4000-8000-0000000000e1', '{LEAD_A}',
                             '00000000-0000-4000-8000-0000000000d0', '{{\"city\":\"Ajmer\"}}',
                             '{{\"city\":\"Jaipur\"}}', '{{\"city\":\"Kota\"}}', 3, '{a}', '{a}', '{a}',
                             'dismissed');",
                a = ts(t(5, 9)),
            ))
            .unwrap(),
        6 => conn
            .execute_batch(&format!(
                "INSERT INTO call_drafts (id, lead_id, direction, remote, provider_call_id, started_at,
                                          answered_at, ended_at, end_reason, last_seen_at, device_id)
                     VALUES ('00000000-0000-4000-8000-0000000000c9', '{LEAD_B}', 'outbound',
                             '+919876500003', NULL, '{s}', '{s}', '{e}', 'hung_up_there', '{e}', 'device-1');",
                s = ts(t(7, 9)),
                e = ts(t(7, 10)),
            ))
            .unwrap(),
        8 => conn
            .execute_batch(&format!(
                "UPDATE call_logs SET quality_mos = 4.25, quality_codec = 'opus' WHERE id = '{CALL}';"
            ))
            .unwrap(),
        _ => {}
    }
}

/// A cache file at schema `k` with the fixtures 1..k, encrypted with `key` (or plaintext, as caches were
/// before encryption), not yet opened by the current code.
fn cache_at(dir: &Path, k: i64, key: Option<&StoreKey>) -> PathBuf {
    let path = dir.join(format!("cache-{k}.sqlite3"));
    let mut conn = Connection::open(&path).unwrap();
    if let Some(key) = key {
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex().as_str()))
            .unwrap();
    }
    conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    for version in 1..=k {
        leadline_store::migrate_to_version(&mut conn, version as usize).unwrap();
        fixture(&conn, version);
    }
    path
}

/// Every table's rows (shadow tables of the search index aside: migration 05 rebuilds it), ordered.
fn dump(conn: &Connection) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>) {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             AND name NOT LIKE '%search%'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut layout = BTreeMap::new();
    for table in tables {
        let cols: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
            .unwrap()
            .query_map([&table], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        layout.insert(table, cols);
    }
    (layout.clone(), dump_with(conn, &layout))
}

fn dump_with(conn: &Connection, layout: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (table, cols) in layout {
        let order: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {} FROM {table} ORDER BY {}",
            cols.join(", "),
            order.join(", ")
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let n = stmt.column_count();
        let rows: Vec<String> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.join(" | "))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.insert(table.clone(), rows);
    }
    out
}

fn keyed(path: &Path, key: Option<&StoreKey>) -> Connection {
    let conn = Connection::open(path).unwrap();
    if let Some(key) = key {
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex().as_str()))
            .unwrap();
    }
    conn
}

#[test]
fn every_released_schema_upgrades_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate().unwrap();
    let latest = leadline_store::schema_version();
    for k in 1..=latest {
        // Schema 1 as the plaintext cache of the first releases; the others encrypted.
        let file_key = (k > 1).then_some(&key);
        let path = cache_at(dir.path(), k, file_key);
        let (layout, before) = {
            let conn = keyed(&path, file_key);
            dump(&conn)
        };
        assert_eq!(before["leads"].len(), 3, "schema {k}: the fixture is in");
        let store = Store::open(&path, &key).unwrap_or_else(|e| panic!("schema {k}: {e}"));
        assert_eq!(i64::from(store.schema_version().unwrap()), latest, "schema {k}");
        assert_eq!(store.open_report().converted_from_plaintext, k == 1);
        drop(store);
        let after = dump_with(&keyed(&path, Some(&key)), &layout);
        for (table, rows) in &before {
            assert_eq!(
                &after[table], rows,
                "schema {k}: the rows of {table} changed in the upgrade"
            );
        }
        check_reads(&Store::open(&path, &key).unwrap(), k);
    }
}

/// The current code reads the upgraded cache: leads, a lead's calls, follow-ups, the outbox, search.
fn check_reads(store: &Store, k: i64) {
    let lead = store.get_lead(&id(LEAD_A)).unwrap();
    assert_eq!(lead.name, "Kavitha Rao");
    assert_eq!(lead.phone.as_str(), "+919876500001");
    assert_eq!(lead.email.as_deref(), Some("kavitha@example.com"));
    assert_eq!(lead.tags, ["gold"]);
    assert_eq!(lead.version, 3);
    let clock = Clock::new(t(8, 12), 330);
    let page = |search: &str| -> Vec<String> {
        let q = LeadPageQuery {
            filter: LeadFilter {
                search: Some(search.to_owned()),
                ..LeadFilter::default()
            },
            ..LeadPageQuery::default()
        };
        let mut names: Vec<String> = store
            .list_lead_page(&q, &clock)
            .unwrap()
            .leads
            .into_iter()
            .map(|l| l.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        page(""),
        ["José Müller", "Kavitha Rao"],
        "schema {k}: the removed lead stays hidden"
    );
    assert_eq!(page("jose"), ["José Müller"], "schema {k}: search folds accents");
    assert_eq!(
        page("kundan"),
        ["Kavitha Rao"],
        "schema {k}: search in call notes"
    );
    assert_eq!(
        page("98765 00001"),
        ["Kavitha Rao"],
        "schema {k}: search by phone"
    );
    let history = store
        .call_history(&leadline_store::CallHistoryQuery::new(id(LEAD_A)))
        .unwrap();
    assert_eq!(history.calls.len(), 1, "schema {k}");
    let call = &history.calls[0];
    assert_eq!(call.notes, "Wants a Kundan set before the wedding.");
    assert_eq!(call.duration_s, 112);
    let mos = call.quality.as_ref().map(|q| q.mos);
    assert_eq!(mos, (k >= 8).then_some(4.25), "schema {k}: call quality");
    let open = store.open_follow_ups().unwrap();
    assert_eq!(open.len(), 2, "schema {k}");
    let pending = store.outbox_pending(10).unwrap();
    assert_eq!(pending.len(), 1, "schema {k}: the queued change survives");
    assert_eq!(pending[0].mutation, pending_mutation());
    let drafts = store.unlogged_calls().unwrap();
    assert_eq!(drafts.len(), usize::from(k >= 6), "schema {k}: the unlogged call");
}

#[test]
fn a_cache_from_a_newer_leadline_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate().unwrap();
    let latest = leadline_store::schema_version();
    let path = cache_at(dir.path(), latest, Some(&key));
    let newer = latest + 11;
    keyed(&path, Some(&key))
        .execute_batch(&format!("PRAGMA user_version = {newer};"))
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path, &key).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "this database was written by a newer Leadline (schema {newer}); this binary knows up to \
             {latest} — upgrade the binary"
        )
    );
    // Not moved aside as damaged, not rewritten.
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let siblings: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(siblings.is_empty(), "{siblings:?}");
}
