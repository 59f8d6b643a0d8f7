//! Shared helpers of the server's integration tests: a demo database seeded once per test binary, an
//! in-process server on it, and a pull loop.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use leadline_model::sync::{Change, Cursor, PullPage};
use leadline_model::{Id, User};
use leadline_server::demo::{self, SeedOptions, SeedOutcome};
use leadline_server::{RunningServer, ServeConfig, db};

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

/// The demo database, seeded once for this test binary (seeding takes seconds in a debug build).
/// Tests must not write to it; copy it with [`copy_of_seeded`] first.
pub fn seeded_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = fresh_dir("seeded");
        let mut conn = db::open_connection(&db::db_path(&dir)).expect("open db");
        let opts = SeedOptions {
            now: seeded_now(),
            ..SeedOptions::new(SEED)
        };
        let outcome = demo::seed_with(&mut conn, &opts).expect("seed");
        assert!(matches!(outcome, SeedOutcome::Seeded(_)), "{outcome:?}");
        dir
    })
}

/// The "now" the shared demo database was seeded at.
pub fn seeded_now() -> chrono::DateTime<chrono::Utc> {
    static NOW: OnceLock<chrono::DateTime<chrono::Utc>> = OnceLock::new();
    *NOW.get_or_init(chrono::Utc::now)
}

/// A private copy of the seeded database (`VACUUM INTO`), for tests that write.
pub fn copy_of_seeded(name: &str) -> PathBuf {
    let src = db::db_path(seeded_dir());
    let dir = fresh_dir(name);
    let conn = rusqlite::Connection::open(&src).expect("open seeded");
    conn.execute("VACUUM INTO ?1", [db::db_path(&dir).to_string_lossy().as_ref()])
        .expect("vacuum into");
    dir
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
    db::with_sqlite_conn(&conn, |tx| db::user_by_username(tx, username))
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
