//! Forward-only migrations. Released migration files never change (their SHA-256 sums are checked in);
//! every released schema — every prefix of the migration list, as there are no tagged releases yet —
//! upgrades to the current one with every row intact and readable through the API; a database written by
//! a newer Leadline is refused, untouched. On SQLite, or on PostgreSQL with
//! `LEADLINE_TEST_BACKEND=postgres`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leadline_model::sync::{Change, Cursor};
use leadline_model::{LoginRequest, LoginResponse};
use leadline_server::db::{self, DbConfig};
use leadline_server::sql::{Backend, Conn, PgClient};
use leadline_server::{DbError, Repo};
use sha2::Digest;

use super::common::*;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const PASSWORD: &str = "fixture-password";

/// Columns an upgrade legitimately rewrites: PII sealed at start-up (plaintext before schema 04) and the
/// blind indexes filled in with it. They are checked through the API instead, decrypted.
const REWRITTEN: &[(&str, &str)] = &[
    ("leads", "phone"),
    ("leads", "alternate_phone"),
    ("leads", "email"),
    ("leads", "phone_bidx"),
    ("leads", "alternate_phone_bidx"),
    ("call_logs", "notes"),
    ("call_logs", "follow_up_note"),
    ("follow_ups", "note"),
];

fn fixtures_dir() -> PathBuf {
    Path::new(MANIFEST_DIR).join("tests/fixtures/schemas")
}

/// Every file under `root`, as paths relative to it with `/`, sorted.
fn files_under(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Checks every file under `root` against the checked-in `sha256sum`-style list `list`.
pub fn check_released_migrations(root: &Path, list: &Path) {
    let text = std::fs::read_to_string(list).unwrap();
    let released: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (sum, path) = l.split_once("  ").expect("`<sha256>  <path>` lines");
            (path.to_owned(), sum.to_owned())
        })
        .collect();
    let mut problems = Vec::new();
    let present = files_under(root);
    for rel in &present {
        let sum = hex(&sha2::Sha256::digest(std::fs::read(root.join(rel)).unwrap()));
        match released.get(rel) {
            Some(expected) if *expected == sum => {}
            Some(_) => problems.push(format!(
                "{rel} changed after it was released. Migrations are forward-only: databases in the field \
                 already ran the released text, so an edit never reaches them (and fresh databases would \
                 differ from upgraded ones). Revert the edit and add a new numbered migration instead."
            )),
            None => problems.push(format!(
                "{rel} is new: when it is final, add this line to {}:\n{sum}  {rel}",
                list.display()
            )),
        }
    }
    for rel in released.keys() {
        if !present.contains(rel) {
            problems.push(format!(
                "{rel} was released but is gone: databases in the field ran it; restore it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn released_migrations_are_unchanged() {
    let root = Path::new(MANIFEST_DIR);
    check_released_migrations(
        &root.join("migrations"),
        &root.join("tests/fixtures/migrations.sha256"),
    );
}

#[test]
fn the_checksum_check_catches_an_edited_migration() {
    let base = fresh_dir("edited-migration");
    let dir = base.join("migrations");
    std::fs::create_dir_all(dir.join("sqlite/01-initial")).unwrap();
    std::fs::write(dir.join("sqlite/01-initial/up.sql"), "CREATE TABLE t (a);").unwrap();
    let sum = hex(&sha2::Sha256::digest(b"CREATE TABLE t (a);"));
    let list = base.join("list");
    std::fs::write(&list, format!("{sum}  sqlite/01-initial/up.sql\n")).unwrap();
    check_released_migrations(&dir, &list);
    std::fs::write(dir.join("sqlite/01-initial/up.sql"), "CREATE TABLE t (a, b);").unwrap();
    let err = std::panic::catch_unwind(|| check_released_migrations(&dir, &list)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("changed after it was released"), "{msg}");
    assert!(msg.contains("add a new numbered migration"), "{msg}");
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |backend: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(Path::new(MANIFEST_DIR).join("migrations").join(backend))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert_eq!(names("sqlite").len() as i64, db::schema_version());
}

/// The fixture of schema `version`, if any, with the password hash filled in.
fn fixture(version: i64, hash: &str) -> Option<String> {
    let path = fixtures_dir().join(format!("{version:02}.sql"));
    std::fs::read_to_string(path)
        .ok()
        .map(|sql| sql.replace("$HASH", hash))
}

/// A database at schema `k` holding the fixtures 01..k, each written right after its migration (as a
/// server of that version would have), not yet opened by the current code.
fn database_at(k: i64, hash: &str) -> TestDb {
    let dir = fresh_dir(&format!("schema-{k}"));
    let database = match backend() {
        TestBackend::Sqlite => {
            let path = db::db_path(&dir);
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
                .unwrap();
            for version in 1..=k {
                db::migrate_sqlite_to(&mut conn, version as usize).unwrap();
                if let Some(sql) = fixture(version, hash) {
                    conn.execute_batch(&sql)
                        .unwrap_or_else(|e| panic!("fixture {version:02}: {e}"));
                }
            }
            DbConfig::Sqlite(path)
        }
        TestBackend::Postgres => {
            let name = format!("schema_{k}_{}", std::process::id());
            let hash = hash.to_owned();
            let url = std::thread::spawn(move || {
                let cluster = leadline_server::pg_cluster::PgCluster::shared().unwrap();
                let url = cluster.create_database(&name).unwrap();
                let mut pg = PgClient::new(postgres::Client::connect(&url, postgres::NoTls).unwrap());
                for version in 1..=k {
                    db::migrate_postgres_to(&mut pg, Some(version)).unwrap();
                    if let Some(sql) = fixture(version, &hash) {
                        pg.client().unwrap().batch_execute(&sql).unwrap_or_else(|e| {
                            panic!("fixture {version:02}: {}", leadline_server::sql::pg_message(&e))
                        });
                    }
                }
                url
            })
            .join()
            .unwrap();
            DbConfig::Postgres(url)
        }
    };
    TestDb { dir, database }
}

/// Every table's rows, ordered, as text: `table → rows`.
pub type Dump = BTreeMap<String, Vec<String>>;

/// Every table and its columns; for an upgrade, without `schema_migrations` and the [`REWRITTEN`]
/// columns.
pub fn tables_and_columns(c: &mut dyn Conn, upgrade: bool) -> Result<BTreeMap<String, Vec<String>>, DbError> {
    let tables: Vec<String> = match c.backend() {
        Backend::Sqlite => c.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            &[],
        )?,
        Backend::Postgres => c.query(
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )?,
    }
    .iter()
    .map(|r| r.get(0))
    .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for table in tables {
        if upgrade && table == "schema_migrations" {
            continue;
        }
        let columns: Vec<String> = match c.backend() {
            Backend::Sqlite => c.query(
                "SELECT name FROM pragma_table_info($1) ORDER BY cid",
                &[table.as_str().into()],
            )?,
            Backend::Postgres => c.query(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[table.as_str().into()],
            )?,
        }
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<Vec<String>, _>>()?
        .into_iter()
        .filter(|col| !upgrade || !REWRITTEN.contains(&(table.as_str(), col.as_str())))
        .collect();
        out.insert(table, columns);
    }
    Ok(out)
}

pub fn dump(c: &mut dyn Conn, layout: &BTreeMap<String, Vec<String>>) -> Result<Dump, DbError> {
    let mut out = Dump::new();
    for (table, columns) in layout {
        let list = columns.join(", ");
        let order: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
        let rows = c.query(
            &format!("SELECT {list} FROM {table} ORDER BY {}", order.join(", ")),
            &[],
        )?;
        out.insert(
            table.clone(),
            rows.into_iter()
                .map(|r| format!("{:?}", r.into_values()))
                .collect(),
        );
    }
    Ok(out)
}

/// The layout and dump of a database not opened by the current code (no migration runs); `upgrade` as
/// in [`tables_and_columns`].
pub fn raw_dump(database: &DbConfig, upgrade: bool) -> (BTreeMap<String, Vec<String>>, Dump) {
    let keys = pii_keys();
    match database {
        DbConfig::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            db::with_sqlite_conn(&conn, &keys, |tx| {
                let layout = tables_and_columns(&mut **tx, upgrade)?;
                let dump = dump(&mut **tx, &layout)?;
                Ok::<_, DbError>((layout, dump))
            })
            .unwrap()
        }
        DbConfig::Postgres(url) => {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut pg = PgClient::new(postgres::Client::connect(&url, postgres::NoTls).unwrap());
                let mut tx = pg.transaction(true).unwrap();
                let layout = tables_and_columns(&mut tx, upgrade).unwrap();
                let dump = dump(&mut tx, &layout).unwrap();
                (layout, dump)
            })
            .join()
            .unwrap()
        }
    }
}

#[test]
fn every_released_schema_upgrades_with_its_data() {
    let hash = leadline_server::auth::hash_password(PASSWORD).unwrap();
    let latest = db::schema_version();
    for k in 1..=latest {
        let old = database_at(k, &hash);
        let (layout, before) = raw_dump(&old.database, true);
        assert!(before["leads"].len() == 3, "schema {k}: the fixture is in");
        // The current code opens it: migrates forward, seals the plaintext PII, serves.
        let after = old.block_on(async {
            let repo: Repo = old.repo().await;
            let status = repo.schema_status().await.unwrap();
            assert_eq!(status.current, latest, "schema {k} was migrated to the latest");
            repo.seal_all().await.unwrap();
            let layout = layout.clone();
            repo.read(move |tx| dump(&mut **tx, &layout)).await.unwrap()
        });
        for (table, rows) in &before {
            assert_eq!(
                &after[table], rows,
                "schema {k}: the rows of {table} changed in the upgrade"
            );
        }
        check_reads(&old, k);
    }
}

/// The latest code reads the upgraded data back through the API: sign-in, the pull feed (decrypted),
/// and what later fixtures added.
fn check_reads(db: &TestDb, k: i64) {
    db.block_on(async {
        let server = db.start().await;
        let client = client();
        let login: LoginResponse = client
            .post(format!("{}/api/v1/auth/login", server.base_url()))
            .json(&LoginRequest {
                username: "tele1".into(),
                password: PASSWORD.into(),
                device_id: Some("device-upgrade".into()),
            })
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_else(|e| panic!("schema {k}: sign-in after the upgrade: {e}"));
        let (pages, _) = pull_all(
            &client,
            &server.base_url(),
            &login.access_token,
            Cursor::start(),
            100,
        )
        .await;
        let changes: Vec<Change> = pages.into_iter().flat_map(|p| p.changes).collect();
        let leads: Vec<_> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Lead(l) => Some(l),
                _ => None,
            })
            .collect();
        let mut names: Vec<&str> = leads.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["Kavitha Rao", "Priya Shah"], "schema {k}: tele1's leads");
        let kavitha = leads.iter().find(|l| l.name == "Kavitha Rao").unwrap();
        assert_eq!(kavitha.phone.as_str(), "+919876500001", "schema {k}");
        assert_eq!(
            kavitha.alternate_phone.as_ref().map(|p| p.as_str()),
            Some("+919876500002")
        );
        assert_eq!(kavitha.email.as_deref(), Some("kavitha@example.com"));
        assert_eq!(kavitha.tags, ["gold", "wedding"]);
        assert_eq!(kavitha.version, 3);
        let call = changes
            .iter()
            .find_map(|c| match c {
                Change::CallLog(c) if c.provider_call_id.as_deref() == Some("exo-1") => Some(c),
                _ => None,
            })
            .unwrap_or_else(|| panic!("schema {k}: the call log"));
        assert_eq!(call.notes, "Wants a Kundan set before the wedding.");
        assert_eq!(call.duration_s, 112);
        let quality = call.quality.as_ref().map(|q| q.mos);
        if k >= 16 {
            assert_eq!(quality, Some(4.25), "schema {k}: call quality survived");
        } else {
            assert_eq!(quality, None, "schema {k}");
        }
        let open: Vec<_> = changes
            .iter()
            .filter_map(|c| match c {
                Change::FollowUp(f) if f.completed_at.is_none() => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(open.len(), 1, "schema {k}");
        assert_eq!(open[0].note.as_deref(), Some("Send the catalogue first"));
        // The phone lookup works through the blind index the upgrade filled in.
        let found = db.read(|tx| {
            db::writes::lead_with_phone(
                tx,
                &db::Scope::All,
                &leadline_model::PhoneNumber::parse("+919876500004").unwrap(),
            )
        });
        assert!(found.is_some(), "schema {k}: lookup by phone");
        let log = db.read(|tx| db::privacy::log_entries(tx, None));
        if k >= 18 {
            assert_eq!(log.len(), 1, "schema {k}: the privacy log survived");
            assert_eq!(
                (log[0].action.as_str(), log[0].actor.as_str()),
                ("retention", "serve")
            );
            assert_eq!(log[0].details["purged"]["call_logs"], 2);
        } else {
            assert!(log.is_empty(), "schema {k}");
        }
        server.stop().await.unwrap();
    });
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let db = TestDb::fresh("newer-schema");
    let latest = db::schema_version();
    let newer = latest + 2;
    match &db.database {
        DbConfig::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {newer}"))
                .unwrap();
        }
        DbConfig::Postgres(_) => {
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                vec![
                    newer.into(),
                    "19-future".into(),
                    "2030-01-01T00:00:00.000Z".into(),
                ],
            );
        }
    }
    let err = db
        .block_on(async { Repo::connect(&db.database, pii_keys()).await })
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DbError::SchemaTooNew { .. }), "{msg}");
    assert_eq!(
        msg,
        format!(
            "this database was written by a newer Leadline (schema {newer}); this binary knows up to \
             {latest} — upgrade the binary"
        )
    );
    // Untouched: still at the newer version.
    if let DbConfig::Sqlite(path) = &db.database {
        let conn = rusqlite::Connection::open(path).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, newer);
    }
}
