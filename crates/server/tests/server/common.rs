//! Shared helpers of the server's integration tests: a demo database seeded once per test binary, an
//! in-process server on it, and a pull loop.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use leadline_model::sync::{Change, Cursor, PullPage};
use leadline_model::{Id, User};
use std::sync::Arc;

use leadline_server::db::{DbConfig, Tx};
use leadline_server::demo::{SeedOptions, SeedOutcome};
use leadline_server::pg_cluster::PgCluster;
use leadline_server::pii::PiiKeys;
use leadline_server::sql::{FromValue, Row, Value};
use leadline_server::{DbError, Repo, RunningServer, ServeConfig, db};

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const SEED: u64 = 7;

/// Where the test data directories go: kept for the whole run (the seeded one lives in a static), removed
/// by a later run once they are an hour old.
fn tmp_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("leadline-server-tests");
        std::fs::create_dir_all(&root).expect("tmp root");
        for entry in std::fs::read_dir(&root).expect("read tmp root").flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        root
    })
}

/// A fresh data directory for this test run.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(tmp_root())
        .expect("temp dir");
    dir.keep()
}

/// Which database the suite runs on: `LEADLINE_TEST_BACKEND=postgres` runs it on a throwaway PostgreSQL
/// cluster (started once per test binary, one database per [`TestDb`]); anything else on SQLite files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

pub fn backend() -> TestBackend {
    match std::env::var("LEADLINE_TEST_BACKEND").as_deref() {
        Ok("postgres") | Ok("postgresql") | Ok("pg") => TestBackend::Postgres,
        _ => TestBackend::Sqlite,
    }
}

/// The PII keys of every test database (fixed, so databases can be copied between tests).
pub fn pii_keys() -> Arc<PiiKeys> {
    static KEYS: OnceLock<Arc<PiiKeys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        Arc::new(PiiKeys::new(vec![("t1".to_owned(), [7u8; 32])], "t1", [9u8; 32]).expect("test keys"))
    })
    .clone()
}

fn pg() -> &'static PgCluster {
    PgCluster::shared().expect("start the throwaway PostgreSQL cluster")
}

/// Runs blocking database work off the async runtime (the `postgres` client must not run on it).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("database thread"))
}

/// A unique lowercase database name.
fn db_name(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("t_{clean}_{}_{n}", std::process::id())
}

/// One test database: a data directory (JWT secret file etc.) and the database itself, SQLite or
/// PostgreSQL per [`backend`].
#[derive(Debug, Clone)]
pub struct TestDb {
    pub dir: PathBuf,
    pub database: DbConfig,
}

impl TestDb {
    /// An empty, migrated database.
    pub fn fresh(name: &str) -> TestDb {
        let dir = fresh_dir(name);
        let database = match backend() {
            TestBackend::Sqlite => {
                let path = db::db_path(&dir);
                db::open_connection(&path).expect("create sqlite db");
                DbConfig::Sqlite(path)
            }
            TestBackend::Postgres => {
                let name = db_name(name);
                let url = off_runtime(|| pg().create_database(&name)).expect("create database");
                DbConfig::Postgres(url)
            }
        };
        let db = TestDb { dir, database };
        db.block_on(async { db.repo().await });
        db
    }

    /// The demo database, seeded once for this test binary (seeding takes seconds in a debug build).
    /// Tests must not write to it; take [`TestDb::copy_of_seeded`] first.
    pub fn seeded() -> &'static TestDb {
        static DB: OnceLock<TestDb> = OnceLock::new();
        DB.get_or_init(|| match backend() {
            TestBackend::Sqlite => seed_into(TestDb::fresh("seeded")),
            // On PostgreSQL the seeded database is a template nobody connects to (CREATE DATABASE …
            // TEMPLATE needs that); tests read a copy of it.
            TestBackend::Postgres => TestDb::copy_of_seeded("seeded"),
        })
    }

    /// A private copy of the seeded database, for tests that write.
    pub fn copy_of_seeded(name: &str) -> TestDb {
        let dir = fresh_dir(name);
        let database = match backend() {
            TestBackend::Sqlite => {
                let DbConfig::Sqlite(path) = &TestDb::seeded().database else {
                    unreachable!("sqlite backend")
                };
                let target = db::db_path(&dir);
                let conn = rusqlite::Connection::open(path).expect("open seeded");
                conn.execute("VACUUM INTO ?1", [target.to_string_lossy().as_ref()])
                    .expect("vacuum into");
                DbConfig::Sqlite(target)
            }
            TestBackend::Postgres => {
                let template = pg_template();
                let name = db_name(name);
                let url = off_runtime(|| {
                    let mut client = postgres::Client::connect(pg().url(), postgres::NoTls)?;
                    // The template's last connections close on threads of their own: retry briefly.
                    let mut tries = 0;
                    loop {
                        match client.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")) {
                            Ok(()) => break,
                            Err(e) if tries < 50 => {
                                tries += 1;
                                let _ = e;
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    let base = pg().url();
                    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
                    Ok::<_, postgres::Error>(format!("{base}/{name}"))
                })
                .expect("copy seeded database");
                DbConfig::Postgres(url)
            }
        };
        TestDb { dir, database }
    }

    /// Runs a future to completion on a private runtime on another thread (usable from sync tests and
    /// from inside `#[tokio::test]`).
    pub fn block_on<T: Send>(&self, fut: impl std::future::Future<Output = T> + Send) -> T {
        off_runtime(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(fut)
        })
    }

    /// A repo on this database (with the test PII keys).
    pub async fn repo(&self) -> Repo {
        Repo::connect(&self.database, pii_keys())
            .await
            .expect("open repo")
    }

    /// Runs `f` in a write transaction on this database, from sync or async test code.
    pub fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, DbError> + Send + 'static,
    ) -> T {
        self.block_on(async { self.repo().await.write(f).await.expect("test transaction") })
    }

    /// The rows of a query (`$1`-style parameters), on either backend.
    pub fn query(&self, sql: &str, params: Vec<Value>) -> Vec<Row> {
        let sql = sql.to_owned();
        self.tx(move |tx| Ok(tx.query(&sql, &params)?))
    }

    /// The first column of the first row of a query.
    pub fn scalar<T: FromValue + Send + 'static>(&self, sql: &str, params: Vec<Value>) -> T {
        let sql = sql.to_owned();
        self.tx(move |tx| Ok(tx.query_scalar::<T>(&sql, &params)?))
    }

    /// A server configuration on this database.
    pub fn config(&self) -> ServeConfig {
        ServeConfig {
            listen: "127.0.0.1:0".parse().expect("listen address"),
            jwt_secret: Some(SECRET.to_owned()),
            database: Some(self.database.clone()),
            pii: Some(pii_keys()),
            ..ServeConfig::new(&self.dir)
        }
    }

    /// Starts an in-process server on this database.
    pub async fn start(&self) -> RunningServer {
        leadline_server::start(&self.config())
            .await
            .expect("start server")
    }

    /// A user by username.
    pub fn user(&self, username: &str) -> User {
        let name = username.to_owned();
        self.tx(move |tx| db::user_by_username(tx, &name))
            .unwrap_or_else(|| panic!("no user {username}"))
            .user
    }
}

/// Seeds demo data into `db`.
fn seed_into(db: TestDb) -> TestDb {
    let opts = SeedOptions {
        now: seeded_now(),
        ..SeedOptions::new(SEED)
    };
    let outcome = db.block_on(async { db.repo().await.seed_demo(opts).await.expect("seed") });
    assert!(matches!(outcome, SeedOutcome::Seeded(_)), "{outcome:?}");
    db
}

/// The PostgreSQL template database holding the seeded demo data (seeded once per test binary).
fn pg_template() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let db = seed_into(TestDb::fresh("seeded_template"));
        match &db.database {
            DbConfig::Postgres(url) => url.rsplit('/').next().unwrap_or_default().to_owned(),
            DbConfig::Sqlite(_) => unreachable!("postgres backend"),
        }
    })
    .clone()
}

/// The data directory of the seeded database (SQLite: its file is `db::db_path` of it).
pub fn seeded_dir() -> &'static Path {
    &TestDb::seeded().dir
}

/// The "now" the shared demo database was seeded at.
pub fn seeded_now() -> chrono::DateTime<chrono::Utc> {
    static NOW: OnceLock<chrono::DateTime<chrono::Utc>> = OnceLock::new();
    *NOW.get_or_init(chrono::Utc::now)
}

/// A private copy of the seeded database (SQLite), for tests that write.
pub fn copy_of_seeded(name: &str) -> PathBuf {
    TestDb::copy_of_seeded(name).dir
}

/// Opens a database read-only, as the e2e tests do.
pub fn read_only(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db::db_path(dir), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open read-only")
}

pub async fn start(dir: &Path) -> RunningServer {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some(SECRET.to_owned()),
        pii: Some(pii_keys()),
        ..ServeConfig::new(dir)
    };
    leadline_server::start(&config).await.expect("start server")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub fn user(dir: &Path, username: &str) -> User {
    let conn = read_only(dir);
    db::with_sqlite_conn(&conn, &pii_keys(), |tx| db::user_by_username(tx, username))
        .expect("query")
        .unwrap_or_else(|| panic!("no user {username}"))
        .user
}

/// A valid access token for `username`, minted with the server's keys (no argon2 round trip).
pub fn token(server: &RunningServer, dir: &Path, username: &str) -> String {
    server
        .state()
        .keys()
        .issue(&user(dir, username), chrono::Utc::now())
        .expect("issue token")
}

pub async fn pull(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    cursor: &Cursor,
    limit: u32,
) -> PullPage {
    let res = client
        .get(format!("{base}/api/v1/sync/pull"))
        .bearer_auth(token)
        .query(&[("cursor", cursor.0.as_str()), ("limit", &limit.to_string())])
        .send()
        .await
        .expect("pull");
    assert_eq!(res.status(), 200, "pull answered {}", res.status());
    res.json().await.expect("pull page json")
}

/// Pulls from `cursor` until `has_more` is false; returns the pages and the final cursor.
pub async fn pull_all(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    mut cursor: Cursor,
    limit: u32,
) -> (Vec<PullPage>, Cursor) {
    let mut pages = Vec::new();
    loop {
        let page = pull(client, base, token, &cursor, limit).await;
        assert!(
            page.changes.len() <= limit as usize * 2,
            "page far over the limit"
        );
        cursor = page.next_cursor.clone();
        let more = page.has_more;
        pages.push(page);
        if !more {
            return (pages, cursor);
        }
        assert!(pages.len() < 10_000, "pull does not end");
    }
}

/// Checks the ordering guarantee over a sequence of pages: each call log and follow-up comes after a
/// `lead` change for its lead (same page or earlier), and no `lead_removed` for it in between.
pub fn assert_leads_precede_their_rows(pages: &[PullPage], already_known: &[Id]) {
    let mut known: std::collections::HashSet<Id> = already_known.iter().copied().collect();
    for (n, page) in pages.iter().enumerate() {
        for change in &page.changes {
            match change {
                Change::Lead(l) => {
                    known.insert(l.id);
                }
                Change::LeadRemoved { lead_id } => {
                    known.remove(lead_id);
                }
                Change::CallLog(c) => assert!(
                    known.contains(&c.lead_id),
                    "page {n}: call log {} before its lead {}",
                    c.id,
                    c.lead_id
                ),
                Change::FollowUp(f) => assert!(
                    known.contains(&f.lead_id),
                    "page {n}: follow-up {} before its lead {}",
                    f.id,
                    f.lead_id
                ),
            }
        }
    }
}
