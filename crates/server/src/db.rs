//! Storage: the server's SQLite database behind [`Repo`].
//!
//! Everything SQL lives here, so a PostgreSQL backend can later be put beside it behind the same methods.
//! Ids are stored as hyphenated UUID text and timestamps as RFC 3339 UTC text with millisecond precision
//! (see [`ts`]), so both compare correctly as strings.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::SecondsFormat;
use deadpool_sqlite::{Hook, HookError, Runtime};
use include_dir::{Dir, include_dir};
use leadline_model::SessionInfo;
use leadline_model::sync::Change;
use leadline_model::{
    CallLog, Disposition, FollowUp, FollowUpSpec, Id, Lead, PhoneNumber, Role, Timestamp, User,
    default_catalogue,
};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use rusqlite_migration::Migrations;

/// The database file inside a data directory.
pub const DB_FILE_NAME: &str = "leadline-server.sqlite3";

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

static MIGRATIONS: LazyLock<Result<Migrations<'static>, String>> =
    LazyLock::new(|| Migrations::from_directory(&MIGRATIONS_DIR).map_err(|e| e.to_string()));

/// Set on every connection the server opens.
/// `synchronous = FULL`: a change the server acknowledged survives a power cut (WAL alone would keep the
/// file consistent but could lose the last commits).
const CONNECTION_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
     PRAGMA synchronous = FULL;";

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migrating the server schema: {0}")]
    Migration(String),
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
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(CONNECTION_PRAGMAS)?;
    let migrations = MIGRATIONS.as_ref().map_err(|e| DbError::Migration(e.clone()))?;
    migrations
        .to_latest(&mut conn)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    ensure_catalogue(&conn)?;
    Ok(conn)
}

fn ensure_catalogue(conn: &Connection) -> Result<(), DbError> {
    let count: i64 = conn.query_row("SELECT count(*) FROM dispositions", [], |r| r.get(0))?;
    if count > 0 {
        return Ok(());
    }
    let mut stmt = conn.prepare(
        "INSERT INTO dispositions (code, label, category, requires_follow_up, hotkey, position, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
    )?;
    for (position, d) in default_catalogue().iter().enumerate() {
        stmt.execute(params![
            d.code,
            d.label,
            d.category.as_str(),
            d.requires_follow_up,
            d.hotkey,
            position as i64
        ])?;
    }
    Ok(())
}

/// Reserves `n` consecutive change sequence numbers and returns the first. Call inside the transaction
/// that writes the rows, so the numbers become visible together with them.
pub fn reserve_seqs(tx: &Transaction<'_>, n: i64) -> Result<i64, DbError> {
    let last: i64 = tx.query_row(
        "UPDATE change_seq SET value = value + ?1 WHERE id = 1 RETURNING value",
        [n],
        |r| r.get(0),
    )?;
    Ok(last - n + 1)
}

fn next_seq(tx: &Transaction<'_>) -> Result<i64, DbError> {
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

/// Inserts a user. `password_hash` must be a PHC string (see `auth::hash_password`).
pub fn insert_user(
    conn: &Connection,
    user: &User,
    password_hash: &str,
    now: &Timestamp,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO users (id, username, name, role, team, password_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            id_text(&user.id),
            user.username,
            user.name,
            user.role.as_str(),
            user.team,
            password_hash,
            ts(now)
        ],
    )?;
    Ok(())
}

/// Which rows of the change feed a user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A telecaller: the leads assigned to them.
    Assignee(Id),
    /// A supervisor: the leads of their team (the lead's team, or assigned to a member of the team).
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

    /// A boolean SQL expression over the `leads` row aliased `l`, with its named parameter if any.
    fn lead_filter(&self) -> (&'static str, Option<(&'static str, String)>) {
        match self {
            Scope::Assignee(id) => ("l.assigned_to = :who", Some((":who", id_text(id)))),
            Scope::Team(team) => (
                "(l.team = :who OR l.assigned_to IN (SELECT u.id FROM users u WHERE u.team = :who))",
                Some((":who", team.clone())),
            ),
            Scope::All => ("1 = 1", None),
        }
    }

    /// A boolean SQL expression over the `lead_removals` row aliased `r`; `None` when this scope never
    /// loses leads.
    fn removal_filter(&self) -> Option<(&'static str, (&'static str, String))> {
        match self {
            Scope::Assignee(id) => Some(("r.user_id = :who", (":who", id_text(id)))),
            Scope::Team(team) => Some(("r.team = :who", (":who", team.clone()))),
            Scope::All => None,
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

const LEAD_COLS: &str = "l.id, l.name, l.phone, l.alternate_phone, l.email, l.city, l.source, l.interest, \
     l.budget_inr, l.priority, l.status, l.tags, l.assigned_to, l.created_at, l.updated_at, l.version, l.seq";

const CALL_COLS: &str = "c.id, c.lead_id, c.telecaller_id, c.direction, c.started_at, c.answered_at, \
     c.ended_at, c.duration_s, c.disposition, c.outcome_tags, c.notes, c.follow_up_due_at, c.follow_up_note, \
     c.recording_url, c.provider_call_id, c.device_id, c.seq, l.seq";

const FOLLOW_UP_COLS: &str = "f.id, f.lead_id, f.assigned_to, f.due_at, f.note, f.call_log_id, \
     f.completed_at, f.created_at, f.seq, l.seq";

const USER_COLS: &str = "id, username, name, role, team, password_hash";

fn get_id(row: &Row<'_>, idx: usize, what: &'static str) -> Result<Id, DbError> {
    let text: String = row.get(idx)?;
    Id::parse_str(&text).map_err(|e| corrupt(what, format!("{text:?}: {e}")))
}

fn get_opt_id(row: &Row<'_>, idx: usize, what: &'static str) -> Result<Option<Id>, DbError> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| Id::parse_str(&t).map_err(|e| corrupt(what, format!("{t:?}: {e}"))))
        .transpose()
}

fn parse_ts(text: &str, what: &'static str) -> Result<Timestamp, DbError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| corrupt(what, format!("{text:?}: {e}")))
}

fn get_ts(row: &Row<'_>, idx: usize, what: &'static str) -> Result<Timestamp, DbError> {
    let text: String = row.get(idx)?;
    parse_ts(&text, what)
}

fn get_opt_ts(row: &Row<'_>, idx: usize, what: &'static str) -> Result<Option<Timestamp>, DbError> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| parse_ts(&t, what)).transpose()
}

fn get_enum<T>(row: &Row<'_>, idx: usize, what: &'static str) -> Result<T, DbError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| corrupt(what, e))
}

fn get_phone(row: &Row<'_>, idx: usize) -> Result<Option<PhoneNumber>, DbError> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| PhoneNumber::from_stored(&t).map_err(|e| corrupt("lead phone", e)))
        .transpose()
}

fn get_string_list(row: &Row<'_>, idx: usize, what: &'static str) -> Result<Vec<String>, DbError> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(what, e))
}

fn user_from_row(row: &Row<'_>) -> Result<UserRecord, DbError> {
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
fn lead_from_row(row: &Row<'_>) -> Result<(Lead, i64), DbError> {
    let lead = Lead {
        id: get_id(row, 0, "lead id")?,
        name: row.get(1)?,
        phone: get_phone(row, 2)?.ok_or_else(|| corrupt("lead phone", "missing"))?,
        alternate_phone: get_phone(row, 3)?,
        email: row.get(4)?,
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
fn call_log_from_row(row: &Row<'_>) -> Result<(CallLog, i64, i64), DbError> {
    let follow_up = match get_opt_ts(row, 11, "call log follow-up due_at")? {
        Some(due_at) => Some(FollowUpSpec {
            due_at,
            note: row.get(12)?,
        }),
        None => None,
    };
    let log = CallLog {
        id: get_id(row, 0, "call log id")?,
        lead_id: get_id(row, 1, "call log lead id")?,
        telecaller_id: get_id(row, 2, "call log telecaller id")?,
        direction: get_enum(row, 3, "call direction")?,
        started_at: get_ts(row, 4, "call started_at")?,
        answered_at: get_opt_ts(row, 5, "call answered_at")?,
        ended_at: get_opt_ts(row, 6, "call ended_at")?,
        duration_s: row.get(7)?,
        disposition: row.get(8)?,
        outcome_tags: get_string_list(row, 9, "call outcome tags")?,
        notes: row.get(10)?,
        follow_up,
        recording_url: row.get(13)?,
        provider_call_id: row.get(14)?,
        device_id: row.get(15)?,
    };
    Ok((log, row.get(16)?, row.get(17)?))
}

/// Reads a follow-up from a row selected with [`FOLLOW_UP_COLS`]; also returns its seq and its lead's seq.
fn follow_up_from_row(row: &Row<'_>) -> Result<(FollowUp, i64, i64), DbError> {
    let f = FollowUp {
        id: get_id(row, 0, "follow-up id")?,
        lead_id: get_id(row, 1, "follow-up lead id")?,
        assigned_to: get_id(row, 2, "follow-up assignee")?,
        due_at: get_ts(row, 3, "follow-up due_at")?,
        note: row.get(4)?,
        call_log_id: get_opt_id(row, 5, "follow-up call log id")?,
        completed_at: get_opt_ts(row, 6, "follow-up completed_at")?,
        created_at: get_ts(row, 7, "follow-up created_at")?,
    };
    Ok((f, row.get(8)?, row.get(9)?))
}

fn disposition_from_row(row: &Row<'_>) -> Result<Disposition, DbError> {
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

/// Looks a user up by sign-in name.
pub fn user_by_username(conn: &Connection, username: &str) -> Result<Option<UserRecord>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE username = ?1"))?;
    let mut rows = stmt.query([username])?;
    rows.next()?.map(user_from_row).transpose()
}

/// Looks a user up by id.
pub fn user_by_id(conn: &Connection, id: &Id) -> Result<Option<UserRecord>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))?;
    let mut rows = stmt.query([id_text(id)])?;
    rows.next()?.map(user_from_row).transpose()
}

/// Every user, by username.
pub fn list_users(conn: &Connection) -> Result<Vec<User>, DbError> {
    let mut stmt = conn.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY username"))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(user_from_row(row)?.user);
    }
    Ok(out)
}

/// The active disposition catalogue, in display order.
pub fn dispositions(conn: &Connection) -> Result<Vec<Disposition>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT code, label, category, requires_follow_up, hotkey FROM dispositions
         WHERE active = 1 ORDER BY position, code",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(disposition_from_row(row)?);
    }
    Ok(out)
}

/// One lead by id.
pub fn lead_by_id(conn: &Connection, id: &Id) -> Result<Option<Lead>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {LEAD_COLS} FROM leads l WHERE l.id = ?1"))?;
    let mut rows = stmt.query([id_text(id)])?;
    Ok(rows.next()?.map(lead_from_row).transpose()?.map(|(lead, _)| lead))
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
    /// A run of digits matched anywhere in the E.164 phone (or alternate phone).
    pub phone_digits: Option<String>,
    /// A substring of the name (case-insensitive for ASCII).
    pub name_contains: Option<String>,
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

/// The SQL of one lead-list page and its named parameters.
fn lead_list_sql(
    scope: &Scope,
    filter: &LeadFilter,
    after: Option<&(Timestamp, Id)>,
    fetch: i64,
) -> (String, Vec<(String, rusqlite::types::Value)>) {
    use rusqlite::types::Value;
    let (scope_sql, who) = scope.lead_filter();
    let mut conds: Vec<String> = vec![scope_sql.to_owned()];
    let mut named: Vec<(String, Value)> = Vec::new();
    if let Some((name, value)) = who {
        named.push((name.to_owned(), Value::Text(value)));
    }
    let mut in_list = |column: &str, prefix: &str, values: Vec<&'static str>, conds: &mut Vec<String>| {
        if values.is_empty() {
            return;
        }
        let names: Vec<String> = (0..values.len()).map(|i| format!(":{prefix}{i}")).collect();
        conds.push(format!("l.{column} IN ({})", names.join(", ")));
        for (name, value) in names.into_iter().zip(values) {
            named.push((name, Value::Text(value.to_owned())));
        }
    };
    in_list(
        "status",
        "st",
        filter.status.iter().map(|s| s.as_str()).collect(),
        &mut conds,
    );
    in_list(
        "priority",
        "pr",
        filter.priority.iter().map(|s| s.as_str()).collect(),
        &mut conds,
    );
    in_list(
        "source",
        "so",
        filter.source.iter().map(|s| s.as_str()).collect(),
        &mut conds,
    );
    match &filter.assigned_to {
        Some(leadline_model::AssigneeFilter::Unassigned) => conds.push("l.assigned_to IS NULL".to_owned()),
        Some(leadline_model::AssigneeFilter::User(id)) => {
            conds.push("l.assigned_to = :assignee".to_owned());
            named.push((":assignee".to_owned(), Value::Text(id_text(id))));
        }
        None => {}
    }
    for (value, cond, name) in [
        (
            &filter.created_from,
            "l.created_at >= :created_from",
            ":created_from",
        ),
        (&filter.created_to, "l.created_at <= :created_to", ":created_to"),
        (
            &filter.updated_from,
            "l.updated_at >= :updated_from",
            ":updated_from",
        ),
        (&filter.updated_to, "l.updated_at <= :updated_to", ":updated_to"),
    ] {
        if let Some(t) = value {
            conds.push(cond.to_owned());
            named.push((name.to_owned(), Value::Text(ts(t))));
        }
    }
    if let Some(digits) = &filter.phone_digits {
        conds.push(
            "(instr(l.phone, :digits) > 0 OR instr(coalesce(l.alternate_phone, ''), :digits) > 0)".to_owned(),
        );
        named.push((":digits".to_owned(), Value::Text(digits.clone())));
    }
    if let Some(name) = &filter.name_contains {
        conds.push("l.name LIKE :name ESCAPE '\\'".to_owned());
        named.push((
            ":name".to_owned(),
            Value::Text(format!("%{}%", like_escape(name))),
        ));
    }
    if let Some((at, id)) = after {
        conds.push("(l.updated_at, l.id) < (:after_at, :after_id)".to_owned());
        named.push((":after_at".to_owned(), Value::Text(ts(at))));
        named.push((":after_id".to_owned(), Value::Text(id_text(id))));
    }
    named.push((":limit".to_owned(), Value::Integer(fetch)));
    let sql = format!(
        "SELECT {LEAD_COLS} FROM leads l WHERE {} ORDER BY l.updated_at DESC, l.id DESC LIMIT :limit",
        conds.join(" AND ")
    );
    (sql, named)
}

/// `EXPLAIN QUERY PLAN` of the lead-list query (for tests and diagnosis): the plan rows' `detail` text.
pub fn explain_list_leads(
    conn: &Connection,
    scope: &Scope,
    filter: &LeadFilter,
    after: Option<&(Timestamp, Id)>,
) -> Result<Vec<String>, DbError> {
    let (sql, named) = lead_list_sql(scope, filter, after, 51);
    let params: Vec<(&str, &dyn ToSql)> = named.iter().map(|(n, v)| (n.as_str(), v as &dyn ToSql)).collect();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let mut rows = stmt.query(params.as_slice())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(row.get::<_, String>(3)?);
    }
    Ok(out)
}

/// One page of the leads `scope` may see that match `filter`, by `(updated_at, id)` descending, after the
/// keyset position `after`: at most `limit` leads, and whether more follow.
pub fn list_leads(
    conn: &Connection,
    scope: &Scope,
    filter: &LeadFilter,
    after: Option<&(Timestamp, Id)>,
    limit: u32,
) -> Result<(Vec<Lead>, bool), DbError> {
    let (sql, named) = lead_list_sql(scope, filter, after, i64::from(limit) + 1);
    let params: Vec<(&str, &dyn ToSql)> = named.iter().map(|(n, v)| (n.as_str(), v as &dyn ToSql)).collect();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params.as_slice())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(lead_from_row(row)?.0);
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = out.len() > limit;
    out.truncate(limit);
    Ok((out, more))
}

/// One lead by id, when `scope` may see it.
pub fn lead_in_scope(conn: &Connection, scope: &Scope, id: &Id) -> Result<Option<Lead>, DbError> {
    let (filter, who) = scope.lead_filter();
    let id = id_text(id);
    let mut named: Vec<(&str, &dyn ToSql)> = vec![(":id", &id)];
    if let Some((name, value)) = &who {
        named.push((name, value));
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LEAD_COLS} FROM leads l WHERE l.id = :id AND {filter}"
    ))?;
    let mut rows = stmt.query(named.as_slice())?;
    Ok(rows.next()?.map(lead_from_row).transpose()?.map(|(lead, _)| lead))
}

/// An entry of the feed before ordering: its seq, and for call logs and follow-ups the lead's seq.
struct Entry {
    seq: i64,
    lead: Option<(Id, i64)>,
    change: Change,
}

/// Runs one feed query and appends each decoded row to `entries`.
fn read_entries(
    tx: &Transaction<'_>,
    sql: &str,
    named: &[(&str, &dyn ToSql)],
    entries: &mut Vec<Entry>,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<Entry, DbError>,
) -> Result<(), DbError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(named)?;
    while let Some(row) = rows.next()? {
        entries.push(decode(row)?);
    }
    Ok(())
}

/// Reads one page of the change feed for `scope`: the changes with `seq > after`, at most `limit`
/// entries, in one read transaction (a consistent snapshot). See `api::pull` for the ordering guarantee.
pub fn pull(conn: &mut Connection, scope: &Scope, after: i64, limit: u32) -> Result<FeedPage, DbError> {
    let tx = conn.transaction()?;
    let fetch = i64::from(limit) + 1;
    let (filter, who) = scope.lead_filter();
    let mut named: Vec<(&str, &dyn ToSql)> = vec![(":after", &after), (":limit", &fetch)];
    if let Some((name, value)) = &who {
        named.push((name, value));
    }

    let mut entries: Vec<Entry> = Vec::new();
    let leads = format!(
        "SELECT {LEAD_COLS} FROM leads l WHERE l.seq > :after AND {filter} ORDER BY l.seq LIMIT :limit"
    );
    read_entries(&tx, &leads, &named, &mut entries, |row| {
        let (lead, seq) = lead_from_row(row)?;
        Ok(Entry {
            seq,
            lead: None,
            change: Change::Lead(lead),
        })
    })?;
    let calls = format!(
        "SELECT {CALL_COLS} FROM call_logs c JOIN leads l ON l.id = c.lead_id
         WHERE c.seq > :after AND {filter} ORDER BY c.seq LIMIT :limit"
    );
    read_entries(&tx, &calls, &named, &mut entries, |row| {
        let (log, seq, lead_seq) = call_log_from_row(row)?;
        Ok(Entry {
            seq,
            lead: Some((log.lead_id, lead_seq)),
            change: Change::CallLog(log),
        })
    })?;
    let follow_ups = format!(
        "SELECT {FOLLOW_UP_COLS} FROM follow_ups f JOIN leads l ON l.id = f.lead_id
         WHERE f.seq > :after AND {filter} ORDER BY f.seq LIMIT :limit"
    );
    read_entries(&tx, &follow_ups, &named, &mut entries, |row| {
        let (f, seq, lead_seq) = follow_up_from_row(row)?;
        Ok(Entry {
            seq,
            lead: Some((f.lead_id, lead_seq)),
            change: Change::FollowUp(f),
        })
    })?;
    if let Some((rfilter, (name, value))) = scope.removal_filter() {
        let removals = format!(
            "SELECT r.seq, r.lead_id FROM lead_removals r
             WHERE r.seq > :after AND {rfilter} ORDER BY r.seq LIMIT :limit"
        );
        let named: Vec<(&str, &dyn ToSql)> = vec![(":after", &after), (":limit", &fetch), (name, &value)];
        read_entries(&tx, &removals, &named, &mut entries, |row| {
            Ok(Entry {
                seq: row.get(0)?,
                lead: None,
                change: Change::LeadRemoved {
                    lead_id: get_id(row, 1, "removed lead id")?,
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
    {
        let mut stmt = tx.prepare_cached(&format!("SELECT {LEAD_COLS} FROM leads l WHERE l.id = ?1"))?;
        for id in &early_ids {
            let mut rows = stmt.query([id_text(id)])?;
            if let Some(row) = rows.next()? {
                let (lead, seq) = lead_from_row(row)?;
                early.push((seq, lead));
            }
        }
    }
    early.sort_by_key(|(seq, _)| *seq);

    let (lead_entries, row_entries): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.lead.is_none());
    let mut changes = Vec::with_capacity(lead_entries.len() + early.len() + row_entries.len());
    changes.extend(lead_entries.into_iter().map(|e| e.change));
    changes.extend(early.into_iter().map(|(_, lead)| Change::Lead(lead)));
    changes.extend(row_entries.into_iter().map(|e| e.change));
    tx.finish()?;
    Ok(FeedPage {
        changes,
        last_seq,
        has_more,
    })
}

/// Assigns a lead to `assignee` (or unassigns it), as a supervisor does.
///
/// Bumps the lead's version and gives it a new seq; the former assignee (and, if the lead thereby leaves
/// their team, that team) gets a `lead_removed` change just before it; and the lead's call logs and
/// follow-ups get new seqs after the lead's, so the new owner's next pull brings the lead's history after
/// the lead itself.
pub fn assign_lead(
    conn: &mut Connection,
    lead_id: &Id,
    assignee: Option<&Id>,
    now: &Timestamp,
) -> Result<Lead, DbError> {
    let tx = conn.transaction()?;
    let lead = lead_by_id(&tx, lead_id)?.ok_or(DbError::NotFound("lead"))?;
    if lead.assigned_to.as_ref() == assignee {
        return Ok(lead);
    }
    let lead_team: Option<String> =
        tx.query_row("SELECT team FROM leads WHERE id = ?1", [id_text(lead_id)], |r| {
            r.get(0)
        })?;
    let team_of =
        |id: &Id| -> Result<Option<String>, DbError> { Ok(user_by_id(&tx, id)?.and_then(|u| u.user.team)) };
    let new_team = match assignee {
        Some(id) => {
            if user_by_id(&tx, id)?.is_none() {
                return Err(DbError::NotFound("assignee"));
            }
            team_of(id)?
        }
        None => None,
    };
    if let Some(old) = lead.assigned_to {
        let old_team = team_of(&old)?;
        // The old team keeps seeing the lead if it is the lead's team or the new assignee's team.
        let team_loses = old_team
            .clone()
            .filter(|t| lead_team.as_ref() != Some(t) && new_team.as_ref() != Some(t));
        let seq = next_seq(&tx)?;
        tx.execute(
            "INSERT INTO lead_removals (seq, lead_id, user_id, team, removed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![seq, id_text(lead_id), id_text(&old), team_loses, ts(now)],
        )?;
    }
    let seq = next_seq(&tx)?;
    tx.execute(
        "UPDATE leads SET assigned_to = ?1, version = version + 1, updated_at = ?2, seq = ?3 WHERE id = ?4",
        params![assignee.map(id_text), ts(now), seq, id_text(lead_id)],
    )?;
    for table in ["call_logs", "follow_ups"] {
        let ids: Vec<String> = {
            let mut stmt = tx.prepare(&format!("SELECT id FROM {table} WHERE lead_id = ?1 ORDER BY seq"))?;
            stmt.query_map([id_text(lead_id)], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        if ids.is_empty() {
            continue;
        }
        let first = reserve_seqs(&tx, ids.len() as i64)?;
        let mut stmt = tx.prepare(&format!("UPDATE {table} SET seq = ?1 WHERE id = ?2"))?;
        for (i, id) in ids.iter().enumerate() {
            stmt.execute(params![first + i as i64, id])?;
        }
    }
    let updated = lead_by_id(&tx, lead_id)?.ok_or(DbError::NotFound("lead"))?;
    tx.commit()?;
    Ok(updated)
}

/// The server's storage: a pool of SQLite connections to one database file.
#[derive(Clone)]
pub struct Repo {
    pool: deadpool_sqlite::Pool,
    path: PathBuf,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("path", &self.path).finish()
    }
}

impl Repo {
    /// Opens the database at `path` (see [`open_connection`]) and builds the connection pool.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, DbError> {
        let path = path.into();
        let migrate_path = path.clone();
        tokio::task::spawn_blocking(move || open_connection(&migrate_path).map(drop))
            .await
            .map_err(|e| DbError::Interact(e.to_string()))??;
        let pool = deadpool_sqlite::Config::new(&path)
            .builder(Runtime::Tokio1)
            .map_err(|e| DbError::BuildPool(e.to_string()))?
            .max_size(8)
            .post_create(Hook::sync_fn(|conn, _| {
                let guard = conn
                    .lock()
                    .map_err(|_| HookError::message("connection mutex poisoned"))?;
                guard
                    .execute_batch(CONNECTION_PRAGMAS)
                    .map_err(HookError::Backend)
            }))
            .build()
            .map_err(|e| DbError::BuildPool(e.to_string()))?;
        Ok(Self { pool, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn interact<F, T>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let conn = self.pool.get().await?;
        conn.interact(f)
            .await
            .map_err(|e| DbError::Interact(e.to_string()))?
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.interact(|c| Ok(c.query_row("SELECT count(*) FROM change_seq", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(drop)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, DbError> {
        let username = username.to_owned();
        self.interact(move |c| user_by_username(c, &username)).await
    }

    pub async fn user_by_id(&self, id: Id) -> Result<Option<User>, DbError> {
        self.interact(move |c| Ok(user_by_id(c, &id)?.map(|r| r.user)))
            .await
    }

    pub async fn dispositions(&self) -> Result<Vec<Disposition>, DbError> {
        self.interact(|c| dispositions(c)).await
    }

    pub async fn pull(&self, scope: Scope, after: i64, limit: u32) -> Result<FeedPage, DbError> {
        self.interact(move |c| pull(c, &scope, after, limit)).await
    }

    pub async fn list_leads(
        &self,
        scope: Scope,
        filter: LeadFilter,
        after: Option<(Timestamp, Id)>,
        limit: u32,
    ) -> Result<(Vec<Lead>, bool), DbError> {
        self.interact(move |c| list_leads(c, &scope, &filter, after.as_ref(), limit))
            .await
    }

    pub async fn lead_in_scope(&self, scope: Scope, id: Id) -> Result<Option<Lead>, DbError> {
        self.interact(move |c| lead_in_scope(c, &scope, &id)).await
    }

    pub async fn assign_lead(
        &self,
        lead_id: Id,
        assignee: Option<Id>,
        now: Timestamp,
    ) -> Result<Lead, DbError> {
        self.interact(move |c| assign_lead(c, &lead_id, assignee.as_ref(), &now))
            .await
    }
}

// ---- Device sessions and refresh tokens ----

const SESSION_COLS: &str =
    "id, user_id, device_id, created_at, last_used_at, expires_at, revoked_at, revoke_reason";

fn session_from_row(row: &Row<'_>) -> Result<SessionInfo, DbError> {
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
    conn: &Connection,
    user_id: &Id,
    device_id: Option<&str>,
    refresh_hash: &str,
    now: &Timestamp,
    expires_at: &Timestamp,
) -> Result<SessionInfo, DbError> {
    let id = leadline_model::new_id();
    conn.execute(
        "INSERT INTO sessions (id, user_id, device_id, family_id, refresh_hash, created_at, last_used_at,
                               expires_at)
         VALUES (?1, ?2, ?3, ?1, ?4, ?5, ?5, ?6)",
        params![
            id_text(&id),
            id_text(user_id),
            device_id,
            refresh_hash,
            ts(now),
            ts(expires_at)
        ],
    )?;
    session_by_id(conn, &id)?.ok_or(DbError::NotFound("session"))
}

/// A session by id.
pub fn session_by_id(conn: &Connection, id: &Id) -> Result<Option<SessionInfo>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {SESSION_COLS} FROM sessions WHERE id = ?1"))?;
    let mut rows = stmt.query([id_text(id)])?;
    rows.next()?.map(session_from_row).transpose()
}

/// A user's sessions, newest first.
pub fn sessions_of_user(conn: &Connection, user_id: &Id) -> Result<Vec<SessionInfo>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM sessions WHERE user_id = ?1 ORDER BY created_at DESC, id DESC"
    ))?;
    let mut rows = stmt.query([id_text(user_id)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(session_from_row(row)?);
    }
    Ok(out)
}

/// Revokes a session (no-op when already revoked); true when this call revoked it.
pub fn revoke_session(conn: &Connection, id: &Id, reason: &str, now: &Timestamp) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![id_text(id), ts(now), reason],
    )?;
    Ok(n > 0)
}

/// The session a refresh token (current or already used) belongs to.
pub fn session_id_by_refresh_hash(conn: &Connection, hash: &str) -> Result<Option<Id>, DbError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT id FROM sessions WHERE refresh_hash = ?1
             UNION ALL SELECT session_id FROM used_refresh_tokens WHERE hash = ?1 LIMIT 1",
            [hash],
            |r| r.get(0),
        )
        .optional()?;
    text.map(|t| Id::parse_str(&t).map_err(|e| corrupt("session id", format!("{t:?}: {e}"))))
        .transpose()
}

/// Presents refresh token `hash`: rotates it to `new_hash` (the session then expires at `new_expires_at`),
/// or detects reuse and revokes the token's session. One transaction, so two concurrent refreshes with
/// the same token cannot both rotate.
pub fn rotate_refresh(
    conn: &mut Connection,
    hash: &str,
    new_hash: &str,
    now: &Timestamp,
    new_expires_at: &Timestamp,
) -> Result<Rotation, DbError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE refresh_hash = ?1"
        ))?;
        let mut rows = stmt.query([hash])?;
        rows.next()?.map(session_from_row).transpose()?
    };
    let outcome = match current {
        Some(session) => {
            if session.revoked_at.is_some() || session.expires_at <= *now {
                Rotation::Invalid
            } else {
                let Some(user) = user_by_id(&tx, &session.user_id)? else {
                    return Ok(Rotation::Invalid);
                };
                tx.execute(
                    "INSERT INTO used_refresh_tokens (hash, session_id, used_at) VALUES (?1, ?2, ?3)",
                    params![hash, id_text(&session.id), ts(now)],
                )?;
                tx.execute(
                    "UPDATE sessions SET refresh_hash = ?2, last_used_at = ?3, expires_at = ?4 WHERE id = ?1",
                    params![id_text(&session.id), new_hash, ts(now), ts(new_expires_at)],
                )?;
                let session = session_by_id(&tx, &session.id)?.ok_or(DbError::NotFound("session"))?;
                Rotation::Rotated {
                    session: Box::new(session),
                    user: Box::new(user.user),
                }
            }
        }
        None => {
            let used: Option<String> = tx
                .query_row(
                    "SELECT session_id FROM used_refresh_tokens WHERE hash = ?1",
                    [hash],
                    |r| r.get(0),
                )
                .optional()?;
            match used {
                Some(text) => {
                    let session_id =
                        Id::parse_str(&text).map_err(|e| corrupt("session id", format!("{text:?}: {e}")))?;
                    revoke_session(&tx, &session_id, "refresh_reused", now)?;
                    Rotation::Reused { session_id }
                }
                None => Rotation::Invalid,
            }
        }
    };
    tx.commit()?;
    Ok(outcome)
}

/// The user of an access token, when the user exists and the token's session (if it names one) belongs to
/// them and is not revoked. One connection, two primary-key lookups.
pub fn authenticate(
    conn: &Connection,
    user_id: &Id,
    session_id: Option<&Id>,
) -> Result<Option<User>, DbError> {
    if let Some(sid) = session_id {
        let active: Option<String> = conn
            .prepare_cached("SELECT user_id FROM sessions WHERE id = ?1 AND revoked_at IS NULL")?
            .query_row([id_text(sid)], |r| r.get(0))
            .optional()?;
        if active.as_deref() != Some(id_text(user_id).as_str()) {
            return Ok(None);
        }
    }
    Ok(user_by_id(conn, user_id)?.map(|r| r.user))
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
        self.interact(move |c| {
            create_session(
                c,
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
        self.interact(move |c| rotate_refresh(c, &hash, &new_hash, &now, &new_expires_at))
            .await
    }

    pub async fn authenticate(&self, user_id: Id, session_id: Option<Id>) -> Result<Option<User>, DbError> {
        self.interact(move |c| authenticate(c, &user_id, session_id.as_ref()))
            .await
    }

    pub async fn session_by_id(&self, id: Id) -> Result<Option<SessionInfo>, DbError> {
        self.interact(move |c| session_by_id(c, &id)).await
    }

    pub async fn sessions_of_user(&self, user_id: Id) -> Result<Vec<SessionInfo>, DbError> {
        self.interact(move |c| sessions_of_user(c, &user_id)).await
    }

    pub async fn revoke_session(&self, id: Id, reason: String, now: Timestamp) -> Result<bool, DbError> {
        self.interact(move |c| revoke_session(c, &id, &reason, &now))
            .await
    }

    pub async fn session_id_by_refresh_hash(&self, hash: String) -> Result<Option<Id>, DbError> {
        self.interact(move |c| session_id_by_refresh_hash(c, &hash)).await
    }
}
