//! Shared helpers of the server's integration tests: a demo database seeded once per test binary (SQLite,
//! or PostgreSQL with `LEADLINE_TEST_BACKEND=postgres`), in-process servers on it, and a pull loop.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use leadline_model::sync::{Change, Cursor, PullPage};
use leadline_model::{CallLog, FollowUp, Id, Lead, User};
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
        DB.get_or_init(|| {
            let db = TestDb::fresh("seeded");
            let opts = SeedOptions {
                now: seeded_now(),
                ..SeedOptions::new(SEED)
            };
            let outcome = db.block_on(async { db.repo().await.seed_demo(opts).await.expect("seed") });
            assert!(matches!(outcome, SeedOutcome::Seeded(_)), "{outcome:?}");
            if let DbConfig::Postgres(url) = &db.database {
                // PostgreSQL copies a database only while nobody is connected to it, and tests keep
                // servers running on the shared one: copies come from a pristine template nobody uses.
                let name = url.rsplit('/').next().unwrap_or_default().to_owned();
                off_runtime(|| {
                    let mut client = postgres::Client::connect(pg().url(), postgres::NoTls)?;
                    client.batch_execute(&format!("CREATE DATABASE {name}_tpl TEMPLATE {name}"))
                })
                .expect("template of the seeded database");
            }
            db
        })
    }

    /// A private copy of the seeded database, for tests that write.
    pub fn copy_of_seeded(name: &str) -> TestDb {
        let src = TestDb::seeded();
        let dir = fresh_dir(name);
        let database = match &src.database {
            DbConfig::Sqlite(path) => {
                let target = db::db_path(&dir);
                let conn = rusqlite::Connection::open(path).expect("open seeded");
                conn.execute("VACUUM INTO ?1", [target.to_string_lossy().as_ref()])
                    .expect("vacuum into");
                DbConfig::Sqlite(target)
            }
            DbConfig::Postgres(_) => {
                let name = db_name(name);
                let url = off_runtime(|| {
                    let mut client = postgres::Client::connect(pg().url(), postgres::NoTls)?;
                    client.batch_execute(&format!(
                        "CREATE DATABASE {name} TEMPLATE {}_tpl",
                        seeded_pg_name()
                    ))?;
                    let base = pg().url().rsplit_once('/').map_or("", |(base, _)| base);
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
        self.repo_with(pii_keys()).await
    }

    /// A repo on this database with other PII keys.
    pub async fn repo_with(&self, keys: Arc<PiiKeys>) -> Repo {
        Repo::connect(&self.database, keys).await.expect("open repo")
    }

    /// Runs `f` in a write transaction on this database, from sync or async test code.
    pub fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, DbError> + Send + 'static,
    ) -> T {
        self.try_tx(pii_keys(), f).expect("test transaction")
    }

    /// Runs `f` in a write transaction with the PII keys `keys`; its error is returned, not a panic.
    pub fn try_tx<T: Send + 'static>(
        &self,
        keys: Arc<PiiKeys>,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        self.block_on(async { self.repo_with(keys).await.write(f).await })
    }

    /// Runs `f` in a read-only transaction (one snapshot; on SQLite no write lock, so tests reading the
    /// shared seeded database never wait on each other).
    pub fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, DbError> + Send + 'static,
    ) -> T {
        self.block_on(async { self.repo().await.read(f).await })
            .expect("test read transaction")
    }

    /// The rows of a query (`$1`-style parameters), on either backend. Statements that write go
    /// through [`TestDb::execute`].
    pub fn query(&self, sql: &str, params: Vec<Value>) -> Vec<Row> {
        let sql = sql.to_owned();
        let upper = sql.trim_start().to_ascii_uppercase();
        if upper.starts_with("SELECT") || upper.starts_with("WITH") || upper.starts_with("EXPLAIN") {
            self.read(move |tx| Ok(tx.query(&sql, &params)?))
        } else {
            self.tx(move |tx| Ok(tx.query(&sql, &params)?))
        }
    }

    /// Runs a statement that writes.
    pub fn execute(&self, sql: &str, params: Vec<Value>) -> u64 {
        let sql = sql.to_owned();
        self.tx(move |tx| Ok(tx.execute(&sql, &params)?))
    }

    /// The first column of the first row of a query.
    pub fn scalar<T: FromValue + Send + 'static>(&self, sql: &str, params: Vec<Value>) -> T {
        let sql = sql.to_owned();
        self.read(move |tx| Ok(tx.query_scalar::<T>(&sql, &params)?))
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
        self.read(move |tx| db::user_by_username(tx, &name))
            .unwrap_or_else(|| panic!("no user {username}"))
            .user
    }
}

fn seeded_pg_name() -> String {
    match &TestDb::seeded().database {
        DbConfig::Postgres(url) => url.rsplit('/').next().unwrap_or_default().to_owned(),
        DbConfig::Sqlite(_) => String::new(),
    }
}

/// The "now" the shared demo database was seeded at.
pub fn seeded_now() -> chrono::DateTime<chrono::Utc> {
    static NOW: OnceLock<chrono::DateTime<chrono::Utc>> = OnceLock::new();
    *NOW.get_or_init(chrono::Utc::now)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A valid access token for `username`, minted with the server's keys (no argon2 round trip).
pub fn token(server: &RunningServer, db: &TestDb, username: &str) -> String {
    server
        .state()
        .keys()
        .issue(&db.user(username), chrono::Utc::now())
        .expect("issue token")
}

/// Every lead, call log and follow-up of a database, decoded (decrypted) through the storage functions:
/// one pull of the whole change feed as an admin sees it, in feed order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub leads: Vec<Lead>,
    pub call_logs: Vec<CallLog>,
    pub follow_ups: Vec<FollowUp>,
}

impl Decoded {
    /// The same rows sorted by id (for comparing databases whose feed positions differ).
    pub fn sorted(mut self) -> Self {
        self.leads.sort_by_key(|l| l.id);
        self.call_logs.sort_by_key(|c| c.id);
        self.follow_ups.sort_by_key(|f| f.id);
        self
    }

    /// The lead with id `id`.
    pub fn lead(&self, id: Id) -> &Lead {
        self.leads
            .iter()
            .find(|l| l.id == id)
            .unwrap_or_else(|| panic!("no lead {id}"))
    }
}

/// Decodes everything in `tx` (see [`Decoded`]).
pub fn decode_all(tx: &mut Tx<'_>) -> Result<Decoded, DbError> {
    let page = db::pull(tx, &db::Scope::All, 0, 1_000_000)?;
    assert!(!page.has_more);
    let mut out = Decoded::default();
    for change in page.changes {
        match change {
            Change::Lead(l) => out.leads.push(l),
            Change::CallLog(c) => out.call_logs.push(c),
            Change::FollowUp(f) => out.follow_ups.push(f),
            Change::LeadRemoved { .. } => {}
        }
    }
    Ok(out)
}

/// The ids a query's first column names.
pub fn ids_of(db: &TestDb, sql: &str, params: Vec<Value>) -> Vec<Id> {
    db.query(sql, params)
        .iter()
        .map(|r| Id::parse_str(&r.get::<String>(0).unwrap()).unwrap())
        .collect()
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
                Change::LeadRemoved { lead_id, .. } => {
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
