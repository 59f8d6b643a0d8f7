//! Storage: the server's database behind [`Repo`]: a SQLite file by default, PostgreSQL when configured.
//!
//! Everything SQL lives here. Each query is written once, against [`crate::sql::Conn`], and runs on both
//! databases (see [`crate::sql`] for the portable subset). Ids are stored as hyphenated UUID text and
//! timestamps as RFC 3339 UTC text with millisecond precision (see [`ts`]), so both compare correctly as
//! strings in both databases.

pub mod admin;
pub mod analytics;
pub mod archive;
pub mod lead_sort;
pub mod presence;
pub mod privacy;
pub mod supervise;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use chrono::SecondsFormat;
use deadpool_sqlite::{Hook, HookError, Runtime};
use include_dir::{Dir, include_dir};
use leadline_model::ServerEvent;
use leadline_model::SessionInfo;
use leadline_model::sync::Change;
use leadline_model::{
    CallLog, CallQuality, Disposition, FollowUp, FollowUpSpec, Id, Lead, LeadSort, PhoneNumber, Role,
    Timestamp, User, default_catalogue,
};
use rusqlite::Connection;
use rusqlite_migration::Migrations;

pub mod events;

use crate::params;
pub use lead_sort::LeadKeyset;

use crate::pii::{PiiError, PiiKeys, row_context};
use crate::sql::{Backend, Conn, PgClient, PgManager, PgPool, Row, SqlError, SqliteConn, Value};

pub mod integrations;
mod writer;
pub mod writes;

/// The database file inside a data directory.
pub const DB_FILE_NAME: &str = "leadline-server.sqlite3";

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations/sqlite");
static PG_MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations/postgres");

static MIGRATIONS: LazyLock<Result<Migrations<'static>, String>> =
    LazyLock::new(|| Migrations::from_directory(&MIGRATIONS_DIR).map_err(|e| e.to_string()));

/// The advisory lock key PostgreSQL migrations hold, so API nodes starting together migrate once.
const PG_MIGRATION_LOCK: i64 = 0x4c45_4144_4c49_4e45; // "LEADLINE"

/// Set on every connection the server opens.
/// `synchronous = FULL`: a change the server acknowledged survives a power cut (WAL alone would keep the
/// file consistent but could lose the last commits).
/// `temp_store = FILE`: the workspace's SQLite is SQLCipher (for the desktop cache), built with temporary
/// tables and sort spills in memory by default; the server keeps plain SQLite's default (files).
const CONNECTION_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
     PRAGMA synchronous = FULL; PRAGMA temp_store = FILE;";

/// Default of `LEADLINE_SQLITE_MMAP_MIB`: how much of the database file reads may map instead of copying
/// pages into each connection's page cache (SQLite empties that cache whenever another connection has
/// written since, so under a steady stream of writes every read transaction starts cold either way).
const DEFAULT_MMAP_MIB: u64 = 2047;

/// The pragmas of a server connection, with the memory-map size from `LEADLINE_SQLITE_MMAP_MIB` (0 turns
/// memory-mapped reads off; unset or unparsable: [`DEFAULT_MMAP_MIB`]).
fn connection_pragmas() -> String {
    let mib = std::env::var("LEADLINE_SQLITE_MMAP_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_MMAP_MIB)
        .min(DEFAULT_MMAP_MIB);
    format!("{CONNECTION_PRAGMAS} PRAGMA mmap_size = {};", mib * 1024 * 1024)
}

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", crate::sql::pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("PostgreSQL connection pool: {0}")]
    PgPool(String),
    #[error("bad DATABASE_URL: {0}")]
    BadUrl(String),
    #[error("protected data: {0}")]
    Pii(#[from] PiiError),
    #[error("migrating the server schema: {0}")]
    Migration(String),
    /// The database's schema is newer than this binary's migrations: it was written by a newer Leadline.
    /// Nothing was changed; migrations only go forward.
    #[error(
        "this database was written by a newer Leadline (schema {found}); this binary knows up to {known} \
         — upgrade the binary"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_sqlite::PoolError),
    #[error("building the database pool: {0}")]
    BuildPool(String),
    #[error("database task failed: {0}")]
    Interact(String),
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("creating data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> DbError {
    DbError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

/// The canonical text form of a timestamp in the database: `2026-01-31T09:15:00.000Z`.
pub fn ts(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The canonical text form of an id in the database.
pub fn id_text(id: &Id) -> String {
    id.hyphenated().to_string()
}

/// The schema version this binary migrates to: the number of its migrations (the same on both backends).
pub fn schema_version() -> i64 {
    MIGRATIONS_DIR.dirs().count() as i64
}

/// Refuses a schema newer than this binary's: it is never "migrated" (that would mean running without
/// the newer code's tables, triggers and rules).
fn refuse_newer(found: i64) -> Result<(), DbError> {
    let known = schema_version();
    if found > known {
        return Err(DbError::SchemaTooNew { found, known });
    }
    Ok(())
}

/// Migrates a SQLite database to `version` exactly (at most this binary's): for upgrade tests, which
/// build every older schema and then open it with the current code.
#[doc(hidden)]
pub fn migrate_sqlite_to(conn: &mut Connection, version: usize) -> Result<(), DbError> {
    let migrations = MIGRATIONS.as_ref().map_err(|e| DbError::Migration(e.clone()))?;
    migrations
        .to_version(conn, version)
        .map_err(|e| DbError::Migration(e.to_string()))
}

/// The database file of a data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE_NAME)
}

/// Opens (creating if needed) the database file, switches it to WAL, applies the connection pragmas,
/// migrates the schema to the latest version and installs the default disposition catalogue when the
/// catalogue is empty. Used by [`Repo::open`] and by the `demo` command.
pub fn open_connection(path: &Path) -> Result<Connection, DbError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut conn = Connection::open(path)?;
    refuse_newer(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(&connection_pragmas())?;
    let migrations = MIGRATIONS.as_ref().map_err(|e| DbError::Migration(e.clone()))?;
    migrations
        .to_latest(&mut conn)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    {
        let t = conn.transaction()?;
        ensure_catalogue(&mut SqliteConn(&t))?;
        t.commit()?;
    }
    Ok(conn)
}

/// Runs `f` in one (immediate) transaction on a plain SQLite connection: for the `demo` command, tests
/// and benchmarks that work on a database file without a [`Repo`].
pub fn with_sqlite_tx<T, E: From<DbError>>(
    conn: &mut Connection,
    pii: &PiiKeys,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let t = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(DbError::from)?;
    let out = {
        let mut c = SqliteConn(&t);
        f(&mut Tx::new(&mut c, pii))?
    };
    t.commit().map_err(DbError::from)?;
    Ok(out)
}

/// Runs `f` on a plain SQLite connection without opening a transaction (each statement is its own):
/// for read-only connections in tests and diagnosis.
pub fn with_sqlite_conn<T, E: From<DbError>>(
    conn: &Connection,
    pii: &PiiKeys,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let mut c = SqliteConn(conn);
    f(&mut Tx::new(&mut c, pii))
}

/// A transaction, on either database: what every storage function takes.
pub struct Tx<'a> {
    conn: &'a mut dyn Conn,
    pii: &'a PiiKeys,
    /// Set by [`events::record`]: the repo wakes the event hub after this transaction commits.
    events_recorded: bool,
}

impl<'a> Tx<'a> {
    fn new(conn: &'a mut dyn Conn, pii: &'a PiiKeys) -> Self {
        Tx {
            conn,
            pii,
            events_recorded: false,
        }
    }
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = dyn Conn + 'a;
    fn deref(&self) -> &Self::Target {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn
    }
}

impl Tx<'_> {
    /// The keys that protect PII columns.
    pub fn pii(&self) -> &PiiKeys {
        self.pii
    }

    /// ` FOR UPDATE` on PostgreSQL (lock the selected rows until commit); nothing on SQLite, whose write
    /// transactions are exclusive already.
    pub fn for_update(&self) -> &'static str {
        match self.conn.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

/// Numbers the parameters of a query built piece by piece: each [`Binder::bind`] returns the placeholder
/// of the value it took.
#[derive(Debug, Default)]
pub struct Binder {
    pub params: Vec<Value>,
}

impl Binder {
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }
}

fn ensure_catalogue(tx: &mut dyn Conn) -> Result<(), DbError> {
    let count: i64 = tx.query_scalar("SELECT count(*) FROM dispositions", &[])?;
    if count > 0 {
        return Ok(());
    }
    for (position, d) in default_catalogue().iter().enumerate() {
        tx.execute(
            "INSERT INTO dispositions (code, label, category, requires_follow_up, hotkey, position, active)
             VALUES ($1, $2, $3, $4, $5, $6, 1)",
            &params![
                d.code.as_str(),
                d.label.as_str(),
                d.category.as_str(),
                d.requires_follow_up,
                d.hotkey,
                position as i64
            ],
        )?;
    }
    Ok(())
}

/// Applies the PostgreSQL migrations not yet applied, in order, each in the one transaction that also
/// records it; an advisory lock makes nodes that start together wait for each other.
fn migrate_postgres(client: &mut PgClient) -> Result<(), DbError> {
    migrate_postgres_to(client, None)
}

/// [`migrate_postgres`] up to `target` (`None`: all): for upgrade tests, which build every older schema
/// and then open it with the current code. A database already past this binary's migrations is refused.
#[doc(hidden)]
pub fn migrate_postgres_to(client: &mut PgClient, target: Option<i64>) -> Result<(), DbError> {
    let mut dirs: Vec<&Dir<'_>> = PG_MIGRATIONS_DIR.dirs().collect();
    dirs.sort_by_key(|d| d.path().to_owned());
    let mut tx = client.transaction(false)?;
    {
        let c: &mut dyn Conn = &mut tx;
        c.query(
            "SELECT CAST(pg_advisory_xact_lock($1) AS TEXT)",
            &params![PG_MIGRATION_LOCK],
        )?;
        c.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TEXT NOT NULL
             )",
        )?;
        let applied: Vec<i64> = c
            .query("SELECT version FROM schema_migrations", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_, _>>()?;
        refuse_newer(applied.iter().copied().max().unwrap_or(0))?;
        for dir in &dirs {
            let name = dir.path().display().to_string();
            // The version is the directory's number (`05-events` → 5), as in the SQLite set.
            let version: i64 = name
                .split('-')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| DbError::Migration(format!("{name}: the name must start with its number")))?;
            if applied.contains(&version) || target.is_some_and(|t| version > t) {
                continue;
            }
            let sql = dir
                .get_file(dir.path().join("up.sql"))
                .and_then(|f| f.contents_utf8())
                .ok_or_else(|| DbError::Migration(format!("{name}: no up.sql")))?;
            c.batch(sql)
                .map_err(|e| DbError::Migration(format!("{name}: {e}")))?;
            c.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &params![version, name, ts(&chrono::Utc::now())],
            )?;
        }
        if target.is_none() {
            ensure_catalogue(c)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Reserves `n` consecutive change sequence numbers and returns the first. Call inside the transaction
/// that writes the rows, so the numbers become visible together with them. On PostgreSQL the row lock this
/// takes also orders committing writers by seq, so a reader never sees seq N+1 before seq N.
pub fn reserve_seqs(tx: &mut Tx<'_>, n: i64) -> Result<i64, DbError> {
    let last: i64 = tx.query_scalar(
        "UPDATE change_seq SET value = value + $1 WHERE id = 1 RETURNING value",
        &params![n],
    )?;
    Ok(last - n + 1)
}

fn next_seq(tx: &mut Tx<'_>) -> Result<i64, DbError> {
    reserve_seqs(tx, 1)
}

/// A user row with the password hash, for sign-in.
#[derive(Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("user", &self.user)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// Inserts a user (and their team, when it is new). `password_hash` must be a PHC string (see
/// `auth::hash_password`).
pub fn insert_user(
    tx: &mut Tx<'_>,
    user: &User,
    password_hash: &str,
    now: &Timestamp,
) -> Result<(), DbError> {
    if let Some(team) = &user.team {
        tx.execute(
            "INSERT INTO teams (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &params![team.as_str(), ts(now)],
        )?;
    }
    tx.execute(
        "INSERT INTO users (id, username, name, role, team, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        &params![
            id_text(&user.id),
            user.username.as_str(),
            user.name.as_str(),
            user.role.as_str(),
            user.team.clone(),
            password_hash,
            ts(now)
        ],
    )?;
    Ok(())
}

/// Inserts a lead row at change-feed position `seq`; `team` is the showroom team it belongs to when the
/// assignee has none (an assigned lead always takes its assignee's team).
///
/// The phone numbers and email are stored encrypted ([`crate::pii`]), with blind indexes of both numbers
/// for lookup by phone.
pub fn insert_lead(tx: &mut Tx<'_>, lead: &Lead, team: Option<&str>, seq: i64) -> Result<(), DbError> {
    let pii = tx.pii;
    let alternate = lead.alternate_phone.as_ref().map(PhoneNumber::as_str);
    tx.execute(
        "INSERT INTO leads (id, name, phone, alternate_phone, email, city, source, interest, budget_inr,
           priority, status, tags, assigned_to, team, created_at, updated_at, version, seq, phone_bidx,
           alternate_phone_bidx)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
           COALESCE((SELECT u.team FROM users u WHERE u.id = $13), $14), $15, $16, $17, $18, $19, $20)",
        &params![
            id_text(&lead.id),
            lead.name.as_str(),
            seal(pii, "leads.phone", &lead.id, Some(lead.phone.as_str()))?,
            seal(pii, "leads.alternate_phone", &lead.id, alternate)?,
            seal(pii, "leads.email", &lead.id, lead.email.as_deref())?,
            lead.city.clone(),
            lead.source.as_str(),
            lead.interest.clone(),
            lead.budget_inr,
            lead.priority.as_str(),
            lead.status.as_str(),
            json_list(&lead.tags),
            lead.assigned_to.as_ref().map(id_text),
            team,
            ts(&lead.created_at),
            ts(&lead.updated_at),
            lead.version,
            seq,
            pii.blind_index(lead.phone.as_str()),
            alternate.map(|p| pii.blind_index(p)),
        ],
    )?;
    Ok(())
}

/// Inserts a call log row at change-feed position `seq`, received by the server at `received_at`.
pub fn insert_call_log(
    tx: &mut Tx<'_>,
    log: &CallLog,
    received_at: &Timestamp,
    seq: i64,
) -> Result<(), DbError> {
    let pii = tx.pii;
    let q = log.quality.as_ref();
    tx.execute(
        "INSERT INTO call_logs (id, lead_id, telecaller_id, direction, started_at, answered_at, ended_at,
           duration_s, disposition, outcome_tags, notes, follow_up_due_at, follow_up_note,
           recording_url, provider_call_id, device_id, received_at, seq, quality_mos, quality_rtt_ms,
           quality_jitter_ms, quality_loss, quality_codec, quality_remote_loss, quality_remote_jitter_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
           $19, $20, $21, $22, $23, $24, $25)",
        &params![
            id_text(&log.id),
            id_text(&log.lead_id),
            id_text(&log.telecaller_id),
            log.direction.as_str(),
            ts(&log.started_at),
            log.answered_at.as_ref().map(ts),
            log.ended_at.as_ref().map(ts),
            log.duration_s,
            log.disposition.as_str(),
            json_list(&log.outcome_tags),
            seal(pii, "call_logs.notes", &log.id, Some(log.notes.as_str()))?,
            log.follow_up.as_ref().map(|f| ts(&f.due_at)),
            seal(
                pii,
                "call_logs.follow_up_note",
                &log.id,
                log.follow_up.as_ref().and_then(|f| f.note.as_deref())
            )?,
            log.recording_url.clone(),
            log.provider_call_id.clone(),
            log.device_id.clone(),
            ts(received_at),
            seq,
            q.map(|q| q.mos),
            q.and_then(|q| q.rtt_ms),
            q.map(|q| q.jitter_ms),
            q.map(|q| q.loss),
            q.and_then(|q| q.codec.clone()),
            q.and_then(|q| q.remote_loss),
            q.and_then(|q| q.remote_jitter_ms),
        ],
    )?;
    // Exotel callbacks that arrived before this log merge onto it now.
    integrations::apply_pending_callbacks(tx, log)?;
    Ok(())
}

/// Inserts a follow-up row at change-feed position `seq`, last changed at `updated_at`.
pub fn insert_follow_up(
    tx: &mut Tx<'_>,
    f: &FollowUp,
    updated_at: &Timestamp,
    seq: i64,
) -> Result<(), DbError> {
    let pii = tx.pii;
    tx.execute(
        "INSERT INTO follow_ups (id, lead_id, assigned_to, due_at, note, call_log_id, completed_at,
           created_at, updated_at, seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &params![
            id_text(&f.id),
            id_text(&f.lead_id),
            id_text(&f.assigned_to),
            ts(&f.due_at),
            seal(pii, "follow_ups.note", &f.id, f.note.as_deref())?,
            f.call_log_id.as_ref().map(id_text),
            f.completed_at.as_ref().map(ts),
            ts(&f.created_at),
            ts(updated_at),
            seq,
        ],
    )?;
    supervise::refresh_next_follow_up(tx, &f.lead_id)?;
    Ok(())
}

/// A list of strings as the JSON array text the database stores.
pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Which rows of the change feed a user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A telecaller: the leads assigned to them.
    Assignee(Id),
    /// A supervisor: the leads of their team (`leads.team`: the assignee's team, or for an unassigned
    /// lead the team it was given).
    Team(String),
    /// An admin: everything.
    All,
}

impl Scope {
    pub fn for_user(user: &User) -> Self {
        match (user.role, &user.team) {
            (Role::Admin, _) => Scope::All,
            (Role::Supervisor, Some(team)) => Scope::Team(team.clone()),
            (Role::Supervisor, None) | (Role::Telecaller, _) => Scope::Assignee(user.id),
        }
    }

    /// A boolean SQL expression over the `leads` row aliased `l`, its parameter bound in `b`.
    pub fn lead_filter(&self, b: &mut Binder) -> String {
        match self {
            Scope::Assignee(id) => format!("l.assigned_to = {}", b.bind(id_text(id))),
            // `leads.team` is the assignee's team whenever the lead has one (kept by `insert_lead` and
            // `assign_lead`), so one equality covers the team's leads and uses `leads_team_updated`.
            Scope::Team(team) => format!("l.team = {}", b.bind(team.as_str())),
            Scope::All => "1 = 1".to_owned(),
        }
    }

    /// A boolean SQL expression over the `lead_removals` row aliased `r`; `None` when this scope never
    /// loses leads.
    fn removal_filter(&self, b: &mut Binder) -> Option<String> {
        match self {
            Scope::Assignee(id) => Some(format!("r.user_id = {}", b.bind(id_text(id)))),
            Scope::Team(team) => Some(format!("r.team = {}", b.bind(team.as_str()))),
            // Admins see every lead, so only erasures take one away (their rows name no user or team).
            Scope::All => Some("r.erased_at IS NOT NULL AND r.user_id IS NULL AND r.team IS NULL".to_owned()),
        }
    }
}

/// One page of the change feed, before it is dressed as a `PullPage`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// The highest seq covered by this page (the cursor to continue from); the requested cursor when the
    /// page is empty.
    pub last_seq: i64,
    pub has_more: bool,
}

pub(crate) const LEAD_COLS: &str = "l.id, l.name, l.phone, l.alternate_phone, l.email, l.city, l.source, l.interest, \
     l.budget_inr, l.priority, l.status, l.tags, l.assigned_to, l.created_at, l.updated_at, l.version, l.seq";

pub(crate) const CALL_COLS: &str = "c.id, c.lead_id, c.telecaller_id, c.direction, c.started_at, c.answered_at, \
     c.ended_at, c.duration_s, c.disposition, c.outcome_tags, c.notes, c.follow_up_due_at, c.follow_up_note, \
     c.recording_url, c.provider_call_id, c.device_id, c.quality_mos, c.quality_rtt_ms, c.quality_jitter_ms, \
     c.quality_loss, c.quality_codec, c.quality_remote_loss, c.quality_remote_jitter_ms, c.seq, l.seq";
/// How many columns [`CALL_COLS`] selects (a query selecting more after them reads those from here on).
pub(crate) const CALL_COLS_LEN: usize = {
    let bytes = CALL_COLS.as_bytes();
    let (mut n, mut i) = (1, 0);
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
};

pub(crate) const FOLLOW_UP_COLS: &str = "f.id, f.lead_id, f.assigned_to, f.due_at, f.note, f.call_log_id, \
     f.completed_at, f.created_at, f.seq, l.seq";

const USER_COLS: &str = "id, username, name, role, team, password_hash";

pub(crate) fn get_id(row: &Row, idx: usize, what: &'static str) -> Result<Id, DbError> {
    let text: String = row.get(idx)?;
    Id::parse_str(&text).map_err(|e| corrupt(what, format!("{text:?}: {e}")))
}

pub(crate) fn get_opt_id(row: &Row, idx: usize, what: &'static str) -> Result<Option<Id>, DbError> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| Id::parse_str(&t).map_err(|e| corrupt(what, format!("{t:?}: {e}"))))
        .transpose()
}

fn parse_ts(text: &str, what: &'static str) -> Result<Timestamp, DbError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| corrupt(what, format!("{text:?}: {e}")))
}

pub(crate) fn get_ts(row: &Row, idx: usize, what: &'static str) -> Result<Timestamp, DbError> {
    let text: String = row.get(idx)?;
    parse_ts(&text, what)
}

pub(crate) fn get_opt_ts(row: &Row, idx: usize, what: &'static str) -> Result<Option<Timestamp>, DbError> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| parse_ts(&t, what)).transpose()
}

pub(crate) fn get_enum<T>(row: &Row, idx: usize, what: &'static str) -> Result<T, DbError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| corrupt(what, e))
}

/// The prefix of every value [`PiiKeys::encrypt`] writes. A PII column holding anything else is plaintext
/// from before encryption was switched on; [`seal_plaintext`] encrypts those rows at start-up.
const SEALED_PREFIX: &str = "v1.";

/// Reads a PII column: decrypts it under its row's context (column and row id).
fn get_sealed(
    pii: &PiiKeys,
    row: &Row,
    idx: usize,
    column: &str,
    id: &Id,
) -> Result<Option<String>, DbError> {
    let stored: Option<String> = row.get(idx)?;
    match stored {
        Some(text) if text.starts_with(SEALED_PREFIX) => {
            Ok(Some(pii.decrypt(&row_context(column, id), &text)?))
        }
        other => Ok(other),
    }
}

/// Encrypts a PII value for column `column` of row `id`.
pub(crate) fn seal(
    pii: &PiiKeys,
    column: &str,
    id: &Id,
    plaintext: Option<&str>,
) -> Result<Option<String>, DbError> {
    Ok(pii.encrypt_opt(&row_context(column, id), plaintext)?)
}

fn get_phone(
    pii: &PiiKeys,
    row: &Row,
    idx: usize,
    column: &str,
    id: &Id,
) -> Result<Option<PhoneNumber>, DbError> {
    get_sealed(pii, row, idx, column, id)?
        .map(|t| PhoneNumber::from_stored(&t).map_err(|e| corrupt("lead phone", e)))
        .transpose()
}

fn get_string_list(row: &Row, idx: usize, what: &'static str) -> Result<Vec<String>, DbError> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(what, e))
}

fn user_from_row(row: &Row) -> Result<UserRecord, DbError> {
    Ok(UserRecord {
        user: User {
            id: get_id(row, 0, "user id")?,
            username: row.get(1)?,
            name: row.get(2)?,
            role: get_enum(row, 3, "user role")?,
            team: row.get(4)?,
        },
        password_hash: row.get(5)?,
    })
}

/// Reads a lead from a row selected with [`LEAD_COLS`]; also returns its seq.
pub(crate) fn lead_from_row(pii: &PiiKeys, row: &Row) -> Result<(Lead, i64), DbError> {
    let id = get_id(row, 0, "lead id")?;
    let lead = Lead {
        id,
        name: row.get(1)?,
        phone: get_phone(pii, row, 2, "leads.phone", &id)?.ok_or_else(|| corrupt("lead phone", "missing"))?,
        alternate_phone: get_phone(pii, row, 3, "leads.alternate_phone", &id)?,
        email: get_sealed(pii, row, 4, "leads.email", &id)?,
        city: row.get(5)?,
        source: get_enum(row, 6, "lead source")?,
        interest: row.get(7)?,
        budget_inr: row.get(8)?,
        priority: get_enum(row, 9, "lead priority")?,
        status: get_enum(row, 10, "lead status")?,
        tags: get_string_list(row, 11, "lead tags")?,
        assigned_to: get_opt_id(row, 12, "lead assignee")?,
        created_at: get_ts(row, 13, "lead created_at")?,
        updated_at: get_ts(row, 14, "lead updated_at")?,
        version: row.get(15)?,
    };
    Ok((lead, row.get(16)?))
}

/// Reads a call log from a row selected with [`CALL_COLS`]; also returns its seq and its lead's seq.
pub(crate) fn call_log_from_row(pii: &PiiKeys, row: &Row) -> Result<(CallLog, i64, i64), DbError> {
    let id = get_id(row, 0, "call log id")?;
    let follow_up = match get_opt_ts(row, 11, "call log follow-up due_at")? {
        Some(due_at) => Some(FollowUpSpec {
            due_at,
            note: get_sealed(pii, row, 12, "call_logs.follow_up_note", &id)?,
        }),
        None => None,
    };
    let log = CallLog {
        id,
        lead_id: get_id(row, 1, "call log lead id")?,
        telecaller_id: get_id(row, 2, "call log telecaller id")?,
        direction: get_enum(row, 3, "call direction")?,
        started_at: get_ts(row, 4, "call started_at")?,
        answered_at: get_opt_ts(row, 5, "call answered_at")?,
        ended_at: get_opt_ts(row, 6, "call ended_at")?,
        duration_s: row.get(7)?,
        disposition: row.get(8)?,
        outcome_tags: get_string_list(row, 9, "call outcome tags")?,
        notes: get_sealed(pii, row, 10, "call_logs.notes", &id)?.unwrap_or_default(),
        follow_up,
        recording_url: row.get(13)?,
        provider_call_id: row.get(14)?,
        device_id: row.get(15)?,
        quality: match row.get::<Option<f64>>(16)? {
            None => None,
            Some(mos) => Some(CallQuality {
                mos,
                rtt_ms: row.get(17)?,
                jitter_ms: row.get::<Option<f64>>(18)?.unwrap_or_default(),
                loss: row.get::<Option<f64>>(19)?.unwrap_or_default(),
                codec: row.get(20)?,
                remote_loss: row.get(21)?,
                remote_jitter_ms: row.get(22)?,
            }),
        },
    };
    Ok((log, row.get(23)?, row.get(24)?))
}

/// Reads a follow-up from a row selected with [`FOLLOW_UP_COLS`]; also returns its seq and its lead's seq.
pub(crate) fn follow_up_from_row(pii: &PiiKeys, row: &Row) -> Result<(FollowUp, i64, i64), DbError> {
    let id = get_id(row, 0, "follow-up id")?;
    let f = FollowUp {
        id,
        lead_id: get_id(row, 1, "follow-up lead id")?,
        assigned_to: get_id(row, 2, "follow-up assignee")?,
        due_at: get_ts(row, 3, "follow-up due_at")?,
        note: get_sealed(pii, row, 4, "follow_ups.note", &id)?,
        call_log_id: get_opt_id(row, 5, "follow-up call log id")?,
        completed_at: get_opt_ts(row, 6, "follow-up completed_at")?,
        created_at: get_ts(row, 7, "follow-up created_at")?,
    };
    Ok((f, row.get(8)?, row.get(9)?))
}

fn disposition_from_row(row: &Row) -> Result<Disposition, DbError> {
    let hotkey: Option<i64> = row.get(4)?;
    Ok(Disposition {
        code: row.get(0)?,
        label: row.get(1)?,
        category: get_enum(row, 2, "disposition category")?,
        requires_follow_up: row.get(3)?,
        hotkey: hotkey
            .map(|k| u8::try_from(k).map_err(|e| corrupt("disposition hotkey", e)))
            .transpose()?,
    })
}

/// Looks an active user up by sign-in name (deactivated users cannot sign in).
pub fn user_by_username(tx: &mut Tx<'_>, username: &str) -> Result<Option<UserRecord>, DbError> {
    tx.query_opt(
        &format!("SELECT {USER_COLS} FROM users WHERE username = $1 AND active = 1"),
        &params![username],
    )?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

/// Looks an active user up by id (a deactivated user's tokens stop working; they cannot be assigned).
pub fn user_by_id(tx: &mut Tx<'_>, id: &Id) -> Result<Option<UserRecord>, DbError> {
    tx.query_opt(
        &format!("SELECT {USER_COLS} FROM users WHERE id = $1 AND active = 1"),
        &params![id_text(id)],
    )?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

/// Every user, by username.
pub fn list_users(tx: &mut Tx<'_>) -> Result<Vec<User>, DbError> {
    tx.query(&format!("SELECT {USER_COLS} FROM users ORDER BY username"), &[])?
        .iter()
        .map(|r| user_from_row(r).map(|u| u.user))
        .collect()
}

/// The active disposition catalogue, in display order.
pub fn dispositions(tx: &mut Tx<'_>) -> Result<Vec<Disposition>, DbError> {
    tx.query(
        "SELECT code, label, category, requires_follow_up, hotkey FROM dispositions
         WHERE active = 1 ORDER BY position, code",
        &[],
    )?
    .iter()
    .map(disposition_from_row)
    .collect()
}

/// One lead by id.
pub fn lead_by_id(tx: &mut Tx<'_>, id: &Id) -> Result<Option<Lead>, DbError> {
    Ok(tx
        .query_opt(
            &format!("SELECT {LEAD_COLS} FROM leads l WHERE l.id = $1"),
            &params![id_text(id)],
        )?
        .as_ref()
        .map(|r| lead_from_row(tx.pii, r))
        .transpose()?
        .map(|(lead, _)| lead))
}

/// Whom lead `id` is assigned to (`None` when no such lead; `Some(None)` when unassigned): what a write
/// that only checks ownership needs, without unsealing the lead's PII.
pub fn lead_assignee(tx: &mut Tx<'_>, id: &Id) -> Result<Option<Option<Id>>, DbError> {
    tx.query_opt(
        "SELECT assigned_to FROM leads WHERE id = $1",
        &params![id_text(id)],
    )?
    .as_ref()
    .map(|r| get_opt_id(r, 0, "leads.assigned_to"))
    .transpose()
}

/// The filters of a lead list (`GET /api/v1/leads`), parsed. Empty lists and `None` filter nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFilter {
    pub status: Vec<leadline_model::LeadStatus>,
    pub priority: Vec<leadline_model::LeadPriority>,
    pub source: Vec<leadline_model::LeadSource>,
    pub assigned_to: Option<leadline_model::AssigneeFilter>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
    pub updated_from: Option<Timestamp>,
    pub updated_to: Option<Timestamp>,
    /// A phone number (E.164) matched exactly against the phone or alternate phone, through their blind
    /// indexes (the numbers themselves are encrypted).
    pub phone: Option<PhoneNumber>,
    /// A substring of the name (case-insensitive for ASCII).
    pub name_contains: Option<String>,
    /// The lead's next open follow-up (`leads.next_follow_up_at`) is due at or after this time.
    pub follow_up_from: Option<Timestamp>,
    /// The lead's next open follow-up is due at or before this time.
    pub follow_up_to: Option<Timestamp>,
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// The SQL of one lead-list page in the order `sort` and its parameters, selecting `cols` (of `leads l`).
pub(crate) fn lead_list_sql(
    cols: &str,
    pii: &PiiKeys,
    scope: &Scope,
    filter: &LeadFilter,
    sort: LeadSort,
    after: Option<&LeadKeyset>,
    fetch: i64,
) -> (String, Vec<Value>) {
    let mut b = Binder::default();
    let mut conds: Vec<String> = vec![scope.lead_filter(&mut b)];
    let in_list = |column: &str, values: Vec<&'static str>, b: &mut Binder, conds: &mut Vec<String>| {
        if values.is_empty() {
            return;
        }
        let names: Vec<String> = values.into_iter().map(|v| b.bind(v)).collect();
        conds.push(format!("l.{column} IN ({})", names.join(", ")));
    };
    in_list(
        "status",
        filter.status.iter().map(|s| s.as_str()).collect(),
        &mut b,
        &mut conds,
    );
    in_list(
        "priority",
        filter.priority.iter().map(|s| s.as_str()).collect(),
        &mut b,
        &mut conds,
    );
    in_list(
        "source",
        filter.source.iter().map(|s| s.as_str()).collect(),
        &mut b,
        &mut conds,
    );
    match &filter.assigned_to {
        Some(leadline_model::AssigneeFilter::Unassigned) => conds.push("l.assigned_to IS NULL".to_owned()),
        Some(leadline_model::AssigneeFilter::User(id)) => {
            conds.push(format!("l.assigned_to = {}", b.bind(id_text(id))));
        }
        None => {}
    }
    for (value, column, op) in [
        (&filter.created_from, "created_at", ">="),
        (&filter.created_to, "created_at", "<="),
        (&filter.updated_from, "updated_at", ">="),
        (&filter.updated_to, "updated_at", "<="),
        (&filter.follow_up_from, "next_follow_up_at", ">="),
        (&filter.follow_up_to, "next_follow_up_at", "<="),
    ] {
        if let Some(t) = value {
            conds.push(format!("l.{column} {op} {}", b.bind(ts(t))));
        }
    }
    if let Some(phone) = &filter.phone {
        let p = b.bind(pii.blind_index(phone.as_str()));
        conds.push(format!("(l.phone_bidx = {p} OR l.alternate_phone_bidx = {p})"));
    }
    if let Some(name) = &filter.name_contains {
        let p = b.bind(format!("%{}%", like_escape(&name.to_ascii_lowercase())));
        conds.push(format!("lower(l.name) LIKE {p} ESCAPE '\\'"));
    }
    if let Some(after) = after {
        conds.push(lead_sort::after_sql(sort, after, &mut b));
    }
    let limit = b.bind(fetch);
    let sql = format!(
        "SELECT {cols} FROM leads l WHERE {} ORDER BY {} LIMIT {limit}",
        conds.join(" AND "),
        lead_sort::order_sql(sort)
    );
    (sql, b.params)
}

/// The query plan of the lead-list query in the default order (for tests and diagnosis): SQLite's
/// `EXPLAIN QUERY PLAN` detail lines, or PostgreSQL's `EXPLAIN` lines.
pub fn explain_list_leads(
    tx: &mut Tx<'_>,
    scope: &Scope,
    filter: &LeadFilter,
    after: Option<&(Timestamp, Id)>,
) -> Result<Vec<String>, DbError> {
    let after = after.map(|(at, id)| LeadKeyset { key: ts(at), id: *id });
    explain_sorted_list_leads(tx, scope, filter, LeadSort::default(), after.as_ref())
}

/// The query plan of the lead-list query in the order `sort` (see [`explain_list_leads`]).
pub fn explain_sorted_list_leads(
    tx: &mut Tx<'_>,
    scope: &Scope,
    filter: &LeadFilter,
    sort: LeadSort,
    after: Option<&LeadKeyset>,
) -> Result<Vec<String>, DbError> {
    let (sql, params) = lead_list_sql(LEAD_COLS, tx.pii, scope, filter, sort, after, 51);
    let (explain, column) = match tx.backend() {
        Backend::Sqlite => ("EXPLAIN QUERY PLAN", 3),
        Backend::Postgres => ("EXPLAIN", 0),
    };
    tx.query(&format!("{explain} {sql}"), &params)?
        .iter()
        .map(|r| Ok(r.get::<String>(column)?))
        .collect()
}

/// One page of the leads `scope` may see that match `filter`, in the order `sort` (see [`lead_sort`]),
/// after the keyset position `after`: at most `limit` leads, and when more follow, the keyset position
/// of the last one (to continue from).
pub fn list_leads(
    tx: &mut Tx<'_>,
    scope: &Scope,
    filter: &LeadFilter,
    sort: LeadSort,
    after: Option<&LeadKeyset>,
    limit: u32,
) -> Result<(Vec<Lead>, Option<LeadKeyset>), DbError> {
    // The sort key rides along after the lead's columns, as the database compares it.
    let cols = format!("{LEAD_COLS}, {}", lead_sort::key_sql(sort));
    let key_col = LEAD_COLS.split(',').count();
    let (sql, params) = lead_list_sql(&cols, tx.pii, scope, filter, sort, after, i64::from(limit) + 1);
    let mut out = Vec::new();
    tx.query_each(&sql, &params, &mut |row| {
        out.push(row);
        Ok(())
    })?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = out.len() > limit;
    out.truncate(limit);
    let leads = out
        .iter()
        .map(|r| lead_from_row(tx.pii, r).map(|(l, _)| l))
        .collect::<Result<Vec<_>, _>>()?;
    let next = match (more, leads.last(), out.last()) {
        (true, Some(lead), Some(row)) => Some(LeadKeyset {
            key: row.get(key_col)?,
            id: lead.id,
        }),
        _ => None,
    };
    Ok((leads, next))
}

/// One lead by id, when `scope` may see it.
pub fn lead_in_scope(tx: &mut Tx<'_>, scope: &Scope, id: &Id) -> Result<Option<Lead>, DbError> {
    let mut b = Binder::default();
    let id = b.bind(id_text(id));
    let filter = scope.lead_filter(&mut b);
    Ok(tx
        .query_opt(
            &format!("SELECT {LEAD_COLS} FROM leads l WHERE l.id = {id} AND {filter}"),
            &b.params,
        )?
        .as_ref()
        .map(|r| lead_from_row(tx.pii, r))
        .transpose()?
        .map(|(lead, _)| lead))
}

/// An entry of the feed before ordering: its seq, and for call logs and follow-ups the lead's seq.
struct Entry {
    seq: i64,
    lead: Option<(Id, i64)>,
    change: Change,
}

/// Runs one feed query and appends each decoded row to `entries`.
fn read_entries(
    tx: &mut Tx<'_>,
    sql: &str,
    params: &[Value],
    entries: &mut Vec<Entry>,
    decode: impl Fn(&Row) -> Result<Entry, DbError>,
) -> Result<(), DbError> {
    for row in tx.query(sql, params)? {
        entries.push(decode(&row)?);
    }
    Ok(())
}

/// Reads one page of the change feed for `scope`: the changes with `seq > after`, at most `limit`
/// entries. Run it in a read transaction (one snapshot). See `api::pull` for the ordering guarantee.
pub fn pull(tx: &mut Tx<'_>, scope: &Scope, after: i64, limit: u32) -> Result<FeedPage, DbError> {
    let pii = tx.pii;
    let fetch = i64::from(limit) + 1;
    let mut b = Binder::default();
    let after_p = b.bind(after);
    let limit_p = b.bind(fetch);
    let filter = scope.lead_filter(&mut b);
    let params = b.params;
    // A scoped feed finds the scope's leads with call logs or follow-ups above the cursor first
    // (`leads.child_seq`, kept by triggers: see migration 14) and reads only their rows. The unscoped
    // (admin) feed walks the rows in seq order instead, which needs no lead filter.
    let children = match scope {
        Scope::All => String::new(),
        Scope::Assignee(_) | Scope::Team(_) => format!("l.child_seq > {after_p} AND "),
    };

    let mut entries: Vec<Entry> = Vec::new();
    let leads = format!(
        "SELECT {LEAD_COLS} FROM leads l WHERE l.seq > {after_p} AND {filter} ORDER BY l.seq LIMIT {limit_p}"
    );
    read_entries(tx, &leads, &params, &mut entries, |row| {
        let (lead, seq) = lead_from_row(pii, row)?;
        Ok(Entry {
            seq,
            lead: None,
            change: Change::Lead(lead),
        })
    })?;
    let calls = format!(
        "SELECT {CALL_COLS} FROM call_logs c JOIN leads l ON l.id = c.lead_id
         WHERE {children}c.seq > {after_p} AND {filter} ORDER BY c.seq LIMIT {limit_p}"
    );
    read_entries(tx, &calls, &params, &mut entries, |row| {
        let (log, seq, lead_seq) = call_log_from_row(pii, row)?;
        Ok(Entry {
            seq,
            lead: Some((log.lead_id, lead_seq)),
            change: Change::CallLog(log),
        })
    })?;
    let follow_ups = format!(
        "SELECT {FOLLOW_UP_COLS} FROM follow_ups f JOIN leads l ON l.id = f.lead_id
         WHERE {children}f.seq > {after_p} AND {filter} ORDER BY f.seq LIMIT {limit_p}"
    );
    read_entries(tx, &follow_ups, &params, &mut entries, |row| {
        let (f, seq, lead_seq) = follow_up_from_row(pii, row)?;
        Ok(Entry {
            seq,
            lead: Some((f.lead_id, lead_seq)),
            change: Change::FollowUp(f),
        })
    })?;
    let mut b = Binder::default();
    let after_p = b.bind(after);
    let limit_p = b.bind(fetch);
    if let Some(rfilter) = scope.removal_filter(&mut b) {
        let removals = format!(
            "SELECT r.seq, r.lead_id, r.erased_at FROM lead_removals r
             WHERE r.seq > {after_p} AND {rfilter} ORDER BY r.seq LIMIT {limit_p}"
        );
        read_entries(tx, &removals, &b.params, &mut entries, |row| {
            Ok(Entry {
                seq: row.get(0)?,
                lead: None,
                change: Change::LeadRemoved {
                    lead_id: get_id(row, 1, "removed lead id")?,
                    erased_at: get_opt_ts(row, 2, "lead erased_at")?,
                },
            })
        })?;
    }

    entries.sort_by_key(|e| e.seq);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = entries.len() > limit;
    entries.truncate(limit);
    let last_seq = entries.last().map_or(after, |e| e.seq);

    // Leads whose current row lies beyond this page but that a call log or follow-up of this page needs:
    // sent ahead of those rows (and again at their own position later).
    let mut early_ids: Vec<Id> = Vec::new();
    for e in &entries {
        if let Some((lead_id, lead_seq)) = e.lead
            && lead_seq > last_seq
            && !early_ids.contains(&lead_id)
        {
            early_ids.push(lead_id);
        }
    }
    let mut early: Vec<(i64, Lead)> = Vec::with_capacity(early_ids.len());
    for id in &early_ids {
        if let Some(row) = tx.query_opt(
            &format!("SELECT {LEAD_COLS} FROM leads l WHERE l.id = $1"),
            &params![id_text(id)],
        )? {
            let (lead, seq) = lead_from_row(tx.pii, &row)?;
            early.push((seq, lead));
        }
    }
    early.sort_by_key(|(seq, _)| *seq);

    let (lead_entries, row_entries): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.lead.is_none());
    let mut changes = Vec::with_capacity(lead_entries.len() + early.len() + row_entries.len());
    changes.extend(lead_entries.into_iter().map(|e| e.change));
    changes.extend(early.into_iter().map(|(_, lead)| Change::Lead(lead)));
    changes.extend(row_entries.into_iter().map(|e| e.change));
    Ok(FeedPage {
        changes,
        last_seq,
        has_more,
    })
}

/// Assigns a lead to `assignee` (or unassigns it), as a supervisor does; [`assign_lead_by`] with no
/// known actor.
pub fn assign_lead(
    tx: &mut Tx<'_>,
    lead_id: &Id,
    assignee: Option<&Id>,
    now: &Timestamp,
) -> Result<Lead, DbError> {
    assign_lead_by(tx, lead_id, assignee, None, now)
}

/// Assigns a lead to `assignee` (or unassigns it) on behalf of user `by`, as a supervisor does.
///
/// Records, in the same transaction, a `lead_removed` event for the former assignee and a
/// `lead_assigned` event (naming `by`) for the new one (see [`events::record`]).
///
/// Bumps the lead's version and gives it a new seq; the former assignee (and, if the lead thereby leaves
/// their team, that team) gets a `lead_removed` change just before it; and the lead's call logs and
/// follow-ups get new seqs after the lead's, so the new owner's next pull brings the lead's history after
/// the lead itself. Run it in a write transaction.
pub fn assign_lead_by(
    tx: &mut Tx<'_>,
    lead_id: &Id,
    assignee: Option<&Id>,
    by: Option<&Id>,
    now: &Timestamp,
) -> Result<Lead, DbError> {
    let lock = tx.for_update();
    let row = tx
        .query_opt(
            &format!("SELECT {LEAD_COLS}, l.team FROM leads l WHERE l.id = $1{lock}"),
            &params![id_text(lead_id)],
        )?
        .ok_or(DbError::NotFound("lead"))?;
    let (lead, _) = lead_from_row(tx.pii, &row)?;
    let lead_team: Option<String> = row.get(17)?;
    if lead.assigned_to.as_ref() == assignee {
        return Ok(lead);
    }
    let new_team = match assignee {
        Some(id) => {
            user_by_id(tx, id)?
                .ok_or(DbError::NotFound("assignee"))?
                .user
                .team
        }
        None => None,
    };
    // The lead follows its assignee's team; unassigned (or given to someone without a team) it stays in
    // its team.
    let next_team = new_team.or_else(|| lead_team.clone());
    if let Some(old) = lead.assigned_to {
        // The old team stops seeing the lead when the lead moves to another team.
        let team_loses = lead_team.filter(|t| next_team.as_ref() != Some(t));
        let seq = next_seq(tx)?;
        tx.execute(
            "INSERT INTO lead_removals (seq, lead_id, user_id, team, removed_at) VALUES ($1, $2, $3, $4, $5)",
            &params![seq, id_text(lead_id), id_text(&old), team_loses, ts(now)],
        )?;
        events::record(
            tx,
            &events::EventTarget::User(old),
            &ServerEvent::LeadRemoved { lead_id: *lead_id },
            now,
        )?;
    }
    let seq = next_seq(tx)?;
    tx.execute(
        "UPDATE leads SET assigned_to = $1, version = version + 1, updated_at = $2, seq = $3, team = $5
         WHERE id = $4",
        &params![assignee.map(id_text), ts(now), seq, id_text(lead_id), next_team],
    )?;
    for table in ["call_logs", "follow_ups"] {
        let ids: Vec<String> = tx
            .query(
                &format!("SELECT id FROM {table} WHERE lead_id = $1 ORDER BY seq"),
                &params![id_text(lead_id)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            continue;
        }
        let first = reserve_seqs(tx, ids.len() as i64)?;
        for (i, id) in ids.iter().enumerate() {
            tx.execute(
                &format!("UPDATE {table} SET seq = $1 WHERE id = $2"),
                &params![first + i as i64, id.as_str()],
            )?;
        }
    }
    if let Some(new) = assignee {
        events::record(
            tx,
            &events::EventTarget::User(*new),
            &ServerEvent::LeadAssigned {
                lead_id: *lead_id,
                by: by.copied(),
            },
            now,
        )?;
    }
    lead_by_id(tx, lead_id)?.ok_or(DbError::NotFound("lead"))
}

/// Where the server keeps its data.
#[derive(Clone, PartialEq, Eq)]
pub enum DbConfig {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/dbname`).
    Postgres(String),
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbConfig::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DbConfig::Postgres(url) => f.debug_tuple("Postgres").field(&redact_url(url)).finish(),
        }
    }
}

/// A database URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite {
        /// Read-only transactions.
        pool: deadpool_sqlite::Pool,
        /// Write transactions, committed in groups on one connection.
        writer: writer::Writer,
        path: PathBuf,
    },
    Postgres {
        pool: PgPool,
        url: String,
    },
}

/// The server's storage: a pool of connections to a SQLite file or a PostgreSQL database.
#[derive(Clone)]
pub struct Repo {
    pool: Pool,
    pii: Arc<PiiKeys>,
    events_notify: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.pool {
            Pool::Sqlite { path, .. } => f.debug_struct("Repo").field("sqlite", path).finish(),
            Pool::Postgres { url, .. } => f
                .debug_struct("Repo")
                .field("postgres", &redact_url(url))
                .finish(),
        }
    }
}

impl Repo {
    /// Opens the database `config` names (migrating it).
    pub async fn connect(config: &DbConfig, pii: Arc<PiiKeys>) -> Result<Self, DbError> {
        match config {
            DbConfig::Sqlite(path) => Self::open(path.clone(), pii).await,
            DbConfig::Postgres(url) => Self::open_postgres(url, pii).await,
        }
    }

    /// Opens the SQLite database at `path` (see [`open_connection`]) and builds the connection pool.
    pub async fn open(path: impl Into<PathBuf>, pii: Arc<PiiKeys>) -> Result<Self, DbError> {
        let path = path.into();
        let migrate_path = path.clone();
        // Migrates; the connection then serves as the writer's.
        let writer_conn = tokio::task::spawn_blocking(move || open_connection(&migrate_path))
            .await
            .map_err(|e| DbError::Interact(e.to_string()))??;
        let pragmas = connection_pragmas();
        let pool = deadpool_sqlite::Config::new(&path)
            .builder(Runtime::Tokio1)
            .map_err(|e| DbError::BuildPool(e.to_string()))?
            .max_size(8)
            .post_create(Hook::sync_fn(move |conn, _| {
                let guard = conn
                    .lock()
                    .map_err(|_| HookError::message("connection mutex poisoned"))?;
                guard.execute_batch(&pragmas).map_err(HookError::Backend)
            }))
            .build()
            .map_err(|e| DbError::BuildPool(e.to_string()))?;
        let events_notify: Arc<tokio::sync::Notify> = Arc::default();
        let writer = writer::Writer::start(writer_conn, pii.clone(), events_notify.clone())?;
        Ok(Self {
            pool: Pool::Sqlite { pool, writer, path },
            pii,
            events_notify,
        })
    }

    /// Connects to PostgreSQL at `url`, migrates the schema and builds the connection pool.
    pub async fn open_postgres(url: &str, pii: Arc<PiiKeys>) -> Result<Self, DbError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| DbError::BadUrl(e.to_string()))?;
        let pool = PgPool::builder(PgManager { config })
            .max_size(16)
            .build()
            .map_err(|e| DbError::BuildPool(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| DbError::PgPool(e.to_string()))?;
        tokio::task::spawn_blocking(move || migrate_postgres(&mut client))
            .await
            .map_err(|e| DbError::Interact(e.to_string()))??;
        Ok(Self {
            pool: Pool::Postgres {
                pool,
                url: url.to_owned(),
            },
            pii,
            events_notify: Arc::default(),
        })
    }

    /// The keys protecting PII columns.
    pub fn pii(&self) -> &Arc<PiiKeys> {
        &self.pii
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite { .. } => Backend::Sqlite,
            Pool::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The SQLite database file, when the repo is on SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.pool {
            Pool::Sqlite { path, .. } => Some(path),
            Pool::Postgres { .. } => None,
        }
    }

    /// The PostgreSQL URL, when the repo is on PostgreSQL.
    pub fn postgres_url(&self) -> Option<&str> {
        match &self.pool {
            Pool::Sqlite { .. } => None,
            Pool::Postgres { url, .. } => Some(url),
        }
    }

    /// Runs `f` in a read-only transaction (one consistent snapshot) on the blocking thread pool.
    pub async fn read<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.run(true, f).await
    }

    /// Runs `f` in a write transaction on the blocking thread pool; commits when `f` returns `Ok`.
    /// SQLite write transactions are exclusive (`BEGIN IMMEDIATE`); PostgreSQL ones are READ COMMITTED,
    /// and code that reads before it writes locks what it read ([`Tx::for_update`]).
    pub async fn write<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.run(false, f).await
    }

    async fn run<F, T, E>(&self, read_only: bool, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pii = self.pii.clone();
        match &self.pool {
            Pool::Sqlite { writer, .. } if !read_only => {
                let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, E>>();
                let job: writer::Job = Box::new(move |tx| {
                    let tx = match tx {
                        Ok(tx) => tx,
                        Err(e) => {
                            let _ = answer.send(Err(E::from(e)));
                            return None;
                        }
                    };
                    match f(tx) {
                        Ok(out) => {
                            let finish: writer::Finish = Box::new(move |committed| {
                                let _ = answer.send(committed.map(|()| out).map_err(E::from));
                            });
                            Some((tx.events_recorded, finish))
                        }
                        Err(e) => {
                            let _ = answer.send(Err(e));
                            None
                        }
                    }
                });
                writer.submit(job).await?;
                answered
                    .await
                    .map_err(|_| DbError::Interact("the database write was abandoned".into()))?
            }
            // Reads only: SQLite writes went to the writer above.
            Pool::Sqlite { pool, .. } => {
                let conn = pool.get().await.map_err(DbError::from)?;
                conn.interact(move |c| {
                    let t = c
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
                        .map_err(DbError::from)?;
                    let (out, recorded) = {
                        let mut sc = SqliteConn(&t);
                        let mut tx = Tx::new(&mut sc, &pii);
                        let out = f(&mut tx)?;
                        (out, tx.events_recorded)
                    };
                    t.commit().map_err(DbError::from)?;
                    Ok((out, recorded))
                })
                .await
                .map_err(|e| DbError::Interact(e.to_string()))?
                .map(|(out, recorded)| self.after_commit(out, recorded))
            }
            Pool::Postgres { pool, .. } => {
                let mut client = pool.get().await.map_err(|e| DbError::PgPool(e.to_string()))?;
                tokio::task::spawn_blocking(move || {
                    let mut t = client.transaction(read_only).map_err(DbError::from)?;
                    let (out, recorded) = {
                        let mut tx = Tx::new(&mut t, &pii);
                        let out = f(&mut tx)?;
                        (out, tx.events_recorded)
                    };
                    t.commit().map_err(DbError::from)?;
                    Ok((out, recorded))
                })
                .await
                .map_err(|e| DbError::Interact(e.to_string()))?
                .map(|(out, recorded)| self.after_commit(out, recorded))
            }
        }
    }

    /// Wakes this process's event hub when the committed transaction recorded events.
    fn after_commit<T>(&self, out: T, events_recorded: bool) -> T {
        if events_recorded {
            self.events_notify.notify_one();
        }
        out
    }

    /// Notified after every commit of a transaction that recorded events (see [`events::record`]); the
    /// event hub waits on it.
    pub fn events_notify(&self) -> &Arc<tokio::sync::Notify> {
        &self.events_notify
    }

    /// Checks that the database answers and its schema is there.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|tx| Ok(tx.query_scalar::<i64>("SELECT count(*) FROM change_seq", &[])?))
            .await
            .map(drop)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, DbError> {
        let username = username.to_owned();
        self.read(move |tx| user_by_username(tx, &username)).await
    }

    pub async fn user_by_id(&self, id: Id) -> Result<Option<User>, DbError> {
        self.read(move |tx| Ok(user_by_id(tx, &id)?.map(|r| r.user)))
            .await
    }

    pub async fn dispositions(&self) -> Result<Vec<Disposition>, DbError> {
        self.read(dispositions).await
    }

    pub async fn pull(&self, scope: Scope, after: i64, limit: u32) -> Result<FeedPage, DbError> {
        self.read(move |tx| pull(tx, &scope, after, limit)).await
    }

    pub async fn list_leads(
        &self,
        scope: Scope,
        filter: LeadFilter,
        sort: LeadSort,
        after: Option<LeadKeyset>,
        limit: u32,
    ) -> Result<(Vec<Lead>, Option<LeadKeyset>), DbError> {
        self.read(move |tx| list_leads(tx, &scope, &filter, sort, after.as_ref(), limit))
            .await
    }

    pub async fn lead_in_scope(&self, scope: Scope, id: Id) -> Result<Option<Lead>, DbError> {
        self.read(move |tx| lead_in_scope(tx, &scope, &id)).await
    }

    pub async fn assign_lead(
        &self,
        lead_id: Id,
        assignee: Option<Id>,
        now: Timestamp,
    ) -> Result<Lead, DbError> {
        self.write(move |tx| assign_lead(tx, &lead_id, assignee.as_ref(), &now))
            .await
    }
}

/// The schema version a database is at, and the one this binary expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    pub current: i64,
    pub expected: i64,
}

impl Repo {
    /// Reads the applied schema version (SQLite: `user_version`, set by the migrations; PostgreSQL: rows
    /// of `schema_migrations`).
    pub async fn schema_status(&self) -> Result<SchemaStatus, DbError> {
        let backend = self.backend();
        self.read(move |tx| {
            let (current, expected) = match backend {
                Backend::Sqlite => (
                    tx.query_scalar::<i64>("PRAGMA user_version", &[])?,
                    MIGRATIONS_DIR.dirs().count(),
                ),
                Backend::Postgres => (
                    tx.query_scalar::<i64>("SELECT count(*) FROM schema_migrations", &[])?,
                    PG_MIGRATIONS_DIR.dirs().count(),
                ),
            };
            Ok(SchemaStatus {
                current,
                expected: expected as i64,
            })
        })
        .await
    }
}

// ---- Sealing PII columns ----

/// The PII columns: table, column, the blind index when the column holds a phone number, and the table
/// named in the seal's context. Archive tables hold rows moved from the live ones with their values as
/// sealed there, so their context names the live table; they are re-sealed on key rotation like the
/// live ones (otherwise the old key could never be dropped while archived rows exist).
const SEALED_COLUMNS: &[(&str, &str, Option<&str>, &str)] = &[
    ("leads", "phone", Some("phone_bidx"), "leads"),
    ("leads", "alternate_phone", Some("alternate_phone_bidx"), "leads"),
    ("leads", "email", None, "leads"),
    ("call_logs", "notes", None, "call_logs"),
    ("call_logs", "follow_up_note", None, "call_logs"),
    ("follow_ups", "note", None, "follow_ups"),
    ("leads_archive", "phone", Some("phone_bidx"), "leads"),
    (
        "leads_archive",
        "alternate_phone",
        Some("alternate_phone_bidx"),
        "leads",
    ),
    ("leads_archive", "email", None, "leads"),
    ("call_logs_archive", "notes", None, "call_logs"),
    ("call_logs_archive", "follow_up_note", None, "call_logs"),
    ("follow_ups_archive", "note", None, "follow_ups"),
];

/// Encrypts up to `batch` PII values per column that are plaintext (written before encryption was on) or
/// sealed under a key other than the active one (key rotation), and fills missing blind indexes.
/// Returns how many values it rewrote; call it until it returns 0. Each call is one short transaction,
/// so it is safe to interrupt and to run beside normal traffic.
pub fn seal_batch(tx: &mut Tx<'_>, batch: u32) -> Result<u64, DbError> {
    let pii = tx.pii;
    let active_prefix = format!("{SEALED_PREFIX}{}.", pii.active_key_id());
    let mut rewritten = 0;
    for (table, column, bidx, context_table) in SEALED_COLUMNS {
        let bidx_missing = bidx.map_or(String::new(), |b| format!(" OR {b} IS NULL"));
        let rows = tx.query(
            &format!(
                "SELECT id, {column} FROM {table}
                 WHERE {column} IS NOT NULL AND (substr({column}, 1, $1) <> $2{bidx_missing})
                 LIMIT $3"
            ),
            &params![
                active_prefix.len() as i64,
                active_prefix.as_str(),
                i64::from(batch)
            ],
        )?;
        for row in rows {
            let id = get_id(&row, 0, "sealed row id")?;
            let stored: String = row.get(1)?;
            let context = row_context(&format!("{context_table}.{column}"), id);
            let plaintext = if stored.starts_with(SEALED_PREFIX) {
                pii.decrypt(&context, &stored)?
            } else {
                stored
            };
            let sealed = pii.encrypt(&context, &plaintext)?;
            match bidx {
                Some(b) => tx.execute(
                    &format!("UPDATE {table} SET {column} = $1, {b} = $2 WHERE id = $3"),
                    &params![sealed, pii.blind_index(&plaintext), id_text(&id)],
                )?,
                None => tx.execute(
                    &format!("UPDATE {table} SET {column} = $1 WHERE id = $2"),
                    &params![sealed, id_text(&id)],
                )?,
            };
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

impl Repo {
    /// Runs [`seal_batch`] until nothing is left to seal; returns how many values it rewrote.
    pub async fn seal_all(&self) -> Result<u64, DbError> {
        let mut total = 0;
        loop {
            let n = self.write(|tx| seal_batch(tx, 500)).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }
}

// ---- Device sessions and refresh tokens ----

const SESSION_COLS: &str =
    "id, user_id, device_id, created_at, last_used_at, expires_at, revoked_at, revoke_reason";

fn session_from_row(row: &Row) -> Result<SessionInfo, DbError> {
    Ok(SessionInfo {
        id: get_id(row, 0, "session id")?,
        user_id: get_id(row, 1, "session user")?,
        device_id: row.get(2)?,
        created_at: get_ts(row, 3, "session created_at")?,
        last_used_at: get_ts(row, 4, "session last_used_at")?,
        expires_at: get_ts(row, 5, "session expires_at")?,
        revoked_at: get_opt_ts(row, 6, "session revoked_at")?,
        revoke_reason: row.get(7)?,
    })
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now used, and the session's current token is the new one.
    Rotated {
        session: Box<SessionInfo>,
        user: Box<User>,
    },
    /// The token had been rotated away already: its whole session (token family) is now revoked.
    Reused { session_id: Id },
    /// Unknown, expired, or of a revoked session.
    Invalid,
}

/// Starts a device session whose current refresh token has hash `refresh_hash`.
pub fn create_session(
    tx: &mut Tx<'_>,
    user_id: &Id,
    device_id: Option<&str>,
    refresh_hash: &str,
    now: &Timestamp,
    expires_at: &Timestamp,
) -> Result<SessionInfo, DbError> {
    let id = leadline_model::new_id();
    tx.execute(
        "INSERT INTO sessions (id, user_id, device_id, family_id, refresh_hash, created_at, last_used_at,
                               expires_at)
         VALUES ($1, $2, $3, $1, $4, $5, $5, $6)",
        &params![
            id_text(&id),
            id_text(user_id),
            device_id,
            refresh_hash,
            ts(now),
            ts(expires_at)
        ],
    )?;
    session_by_id(tx, &id)?.ok_or(DbError::NotFound("session"))
}

/// A session by id.
pub fn session_by_id(tx: &mut Tx<'_>, id: &Id) -> Result<Option<SessionInfo>, DbError> {
    tx.query_opt(
        &format!("SELECT {SESSION_COLS} FROM sessions WHERE id = $1"),
        &params![id_text(id)],
    )?
    .as_ref()
    .map(session_from_row)
    .transpose()
}

/// A user's sessions, newest first.
pub fn sessions_of_user(tx: &mut Tx<'_>, user_id: &Id) -> Result<Vec<SessionInfo>, DbError> {
    tx.query(
        &format!("SELECT {SESSION_COLS} FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC"),
        &params![id_text(user_id)],
    )?
    .iter()
    .map(session_from_row)
    .collect()
}

/// Revokes a session (no-op when already revoked); true when this call revoked it.
pub fn revoke_session(tx: &mut Tx<'_>, id: &Id, reason: &str, now: &Timestamp) -> Result<bool, DbError> {
    let n = tx.execute(
        "UPDATE sessions SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL",
        &params![id_text(id), ts(now), reason],
    )?;
    Ok(n > 0)
}

/// The session a refresh token (current or already used) belongs to.
pub fn session_id_by_refresh_hash(tx: &mut Tx<'_>, hash: &str) -> Result<Option<Id>, DbError> {
    let text: Option<String> = tx
        .query_opt(
            "SELECT id FROM sessions WHERE refresh_hash = $1
             UNION ALL SELECT session_id FROM used_refresh_tokens WHERE hash = $1 LIMIT 1",
            &params![hash],
        )?
        .map(|r| r.get(0))
        .transpose()?;
    text.map(|t| Id::parse_str(&t).map_err(|e| corrupt("session id", format!("{t:?}: {e}"))))
        .transpose()
}

/// Presents refresh token `hash`: rotates it to `new_hash` (the session then expires at `new_expires_at`),
/// or detects reuse and revokes the token's session. Run it in a write transaction: the session row is
/// locked, so two concurrent refreshes with the same token cannot both rotate.
pub fn rotate_refresh(
    tx: &mut Tx<'_>,
    hash: &str,
    new_hash: &str,
    now: &Timestamp,
    new_expires_at: &Timestamp,
) -> Result<Rotation, DbError> {
    let lock = tx.for_update();
    let current = tx
        .query_opt(
            &format!("SELECT {SESSION_COLS} FROM sessions WHERE refresh_hash = $1{lock}"),
            &params![hash],
        )?
        .as_ref()
        .map(session_from_row)
        .transpose()?;
    let outcome = match current {
        Some(session) => {
            if session.revoked_at.is_some() || session.expires_at <= *now {
                Rotation::Invalid
            } else {
                let Some(user) = user_by_id(tx, &session.user_id)? else {
                    return Ok(Rotation::Invalid);
                };
                tx.execute(
                    "INSERT INTO used_refresh_tokens (hash, session_id, used_at) VALUES ($1, $2, $3)",
                    &params![hash, id_text(&session.id), ts(now)],
                )?;
                tx.execute(
                    "UPDATE sessions SET refresh_hash = $2, last_used_at = $3, expires_at = $4 WHERE id = $1",
                    &params![id_text(&session.id), new_hash, ts(now), ts(new_expires_at)],
                )?;
                let session = session_by_id(tx, &session.id)?.ok_or(DbError::NotFound("session"))?;
                Rotation::Rotated {
                    session: Box::new(session),
                    user: Box::new(user.user),
                }
            }
        }
        None => {
            let used: Option<(String, String)> = tx
                .query_opt(
                    "SELECT session_id, used_at FROM used_refresh_tokens WHERE hash = $1",
                    &params![hash],
                )?
                .map(|r| Ok::<_, DbError>((r.get(0)?, r.get(1)?)))
                .transpose()?;
            match used {
                Some((text, used_at)) => {
                    let session_id =
                        Id::parse_str(&text).map_err(|e| corrupt("session id", format!("{text:?}: {e}")))?;
                    match retried_rotation(tx, &session_id, hash, &used_at, new_hash, now, new_expires_at)? {
                        Some(rotation) => rotation,
                        None => {
                            revoke_session(tx, &session_id, "refresh_reused", now)?;
                            Rotation::Reused { session_id }
                        }
                    }
                }
                None => Rotation::Invalid,
            }
        }
    };
    Ok(outcome)
}

/// How long after a refresh its token may be presented again as a retry: a desk whose refresh answer was
/// lost (a cut connection, a proxy timeout) never received the new token and retries with the one it has.
pub const REFRESH_RETRY_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// A used refresh token presented again: a retry of the session's latest rotation when it comes within
/// [`REFRESH_RETRY_GRACE`] and the session has not been refreshed since (its `last_used_at` is still that
/// rotation's; a retry leaves it so, so retries may repeat within the window). Then the token it was
/// rotated to — never received — is retired as used (presenting it later is reuse) and the session
/// rotates to `new_hash`. Anything else (`None`) is reuse.
fn retried_rotation(
    tx: &mut Tx<'_>,
    session_id: &Id,
    hash: &str,
    used_at: &str,
    new_hash: &str,
    now: &Timestamp,
    new_expires_at: &Timestamp,
) -> Result<Option<Rotation>, DbError> {
    let Ok(used) = chrono::DateTime::parse_from_rfc3339(used_at) else {
        return Ok(None);
    };
    if *now - used.with_timezone(&chrono::Utc) > REFRESH_RETRY_GRACE {
        return Ok(None);
    }
    let lock = tx.for_update();
    let Some(session) = tx
        .query_opt(
            &format!("SELECT {SESSION_COLS} FROM sessions WHERE id = $1{lock}"),
            &params![id_text(session_id)],
        )?
        .as_ref()
        .map(session_from_row)
        .transpose()?
    else {
        return Ok(None);
    };
    if session.revoked_at.is_some() || session.expires_at <= *now || ts(&session.last_used_at) != used_at {
        return Ok(None);
    }
    let Some(user) = user_by_id(tx, &session.user_id)? else {
        return Ok(None);
    };
    let lost: String = tx.query_scalar(
        "SELECT refresh_hash FROM sessions WHERE id = $1",
        &params![id_text(session_id)],
    )?;
    tx.execute(
        "INSERT INTO used_refresh_tokens (hash, session_id, used_at) VALUES ($1, $2, $3)",
        &params![lost, id_text(session_id), ts(now)],
    )?;
    tx.execute(
        "UPDATE sessions SET refresh_hash = $2, expires_at = $3 WHERE id = $1",
        &params![id_text(session_id), new_hash, ts(new_expires_at)],
    )?;
    tracing::info!(session_id = %session_id, token = %&hash[..8.min(hash.len())], "refresh retried within the grace window");
    let session = session_by_id(tx, session_id)?.ok_or(DbError::NotFound("session"))?;
    Ok(Some(Rotation::Rotated {
        session: Box::new(session),
        user: Box::new(user.user),
    }))
}

/// The user of an access token, when the user exists and the token's session (if it names one) belongs to
/// them and is not revoked. Two primary-key lookups.
pub fn authenticate(tx: &mut Tx<'_>, user_id: &Id, session_id: Option<&Id>) -> Result<Option<User>, DbError> {
    if let Some(sid) = session_id {
        let active: Option<String> = tx
            .query_opt(
                "SELECT user_id FROM sessions WHERE id = $1 AND revoked_at IS NULL",
                &params![id_text(sid)],
            )?
            .map(|r| r.get(0))
            .transpose()?;
        if active.as_deref() != Some(id_text(user_id).as_str()) {
            return Ok(None);
        }
    }
    Ok(user_by_id(tx, user_id)?.map(|r| r.user))
}

impl Repo {
    pub async fn create_session(
        &self,
        user_id: Id,
        device_id: Option<String>,
        refresh_hash: String,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<SessionInfo, DbError> {
        self.write(move |tx| {
            create_session(
                tx,
                &user_id,
                device_id.as_deref(),
                &refresh_hash,
                &now,
                &expires_at,
            )
        })
        .await
    }

    pub async fn rotate_refresh(
        &self,
        hash: String,
        new_hash: String,
        now: Timestamp,
        new_expires_at: Timestamp,
    ) -> Result<Rotation, DbError> {
        self.write(move |tx| rotate_refresh(tx, &hash, &new_hash, &now, &new_expires_at))
            .await
    }

    pub async fn authenticate(&self, user_id: Id, session_id: Option<Id>) -> Result<Option<User>, DbError> {
        self.read(move |tx| authenticate(tx, &user_id, session_id.as_ref()))
            .await
    }

    pub async fn session_by_id(&self, id: Id) -> Result<Option<SessionInfo>, DbError> {
        self.read(move |tx| session_by_id(tx, &id)).await
    }

    pub async fn sessions_of_user(&self, user_id: Id) -> Result<Vec<SessionInfo>, DbError> {
        self.read(move |tx| sessions_of_user(tx, &user_id)).await
    }

    pub async fn revoke_session(&self, id: Id, reason: String, now: Timestamp) -> Result<bool, DbError> {
        self.write(move |tx| revoke_session(tx, &id, &reason, &now)).await
    }

    pub async fn session_id_by_refresh_hash(&self, hash: String) -> Result<Option<Id>, DbError> {
        self.read(move |tx| session_id_by_refresh_hash(tx, &hash)).await
    }
}
