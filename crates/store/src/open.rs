//! Opening the cache file: the key, converting an unencrypted file, the integrity check, and recovery
//! from a damaged file.
//!
//! **Key first.** The key is set (`PRAGMA key = "x'…'"`, a raw 256-bit key: no key derivation) before
//! anything reads the file, then verified by reading the schema. SQLCipher cannot tell a file encrypted
//! with another key from a file whose first page is damaged (both are "file is not a database"), so the
//! cache keeps a fingerprint of its key next to it (`<file>.keycheck`, a SHA-256 of the key, written after
//! every verified open). The rule:
//! - the schema reads → the key is right; any damage found later (integrity check, migrations) is
//!   corruption;
//! - the schema does not read and the key check matches this key → the key is right, the file is damaged;
//! - otherwise → [`StoreError::WrongKey`], and the file is not touched (never moved aside, never
//!   replaced).
//!
//! **Unencrypted files** (a cache of an earlier version: it starts with `SQLite format 3\0`) are converted
//! on the first keyed open: WAL folded in, `sqlcipher_export` into `<file>.encrypting`, fsync, atomic
//! rename over the old file (which is gone only once the encrypted copy is complete), fsync of the folder.
//!
//! **Damage** never strands the user: the pending outbox rows the file still yields are read row by row
//! and written to `<file>.corrupt-<UTC time>.outbox.jsonl` (one `Mutation` JSON per line, exactly as in
//! the outbox), the file and its `-wal`/`-shm` are renamed to `<file>.corrupt-<UTC time>` (kept, never
//! deleted), a fresh database is made, the account facts and the salvaged rows are put back, and
//! [`OpenReport`] says what happened. The new file has no cursor, so the next sync pulls everything again;
//! re-sending the salvaged changes is safe because the server remembers client mutation ids.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use leadline_model::User;
use leadline_model::sync::Mutation;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};

use crate::key::{StoreKey, sync_dir};
use crate::{MIGRATIONS, Store, StoreError};

/// What opening the cache had to do besides opening it. All fields empty: a plain open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The file was an unencrypted cache of an earlier version and is now encrypted.
    pub converted_from_plaintext: bool,
    /// The file was damaged and moved here (with its `-wal`/`-shm`); a fresh cache took its place.
    pub recovered_from: Option<PathBuf>,
    /// What was wrong with the damaged file.
    pub damage: Option<String>,
    /// The pending changes salvaged from the damaged file, one `Mutation` JSON per line.
    pub export_file: Option<PathBuf>,
    /// How many salvaged changes were queued again in the fresh cache.
    pub requeued: usize,
    /// Queued changes the damaged file listed but could not give back.
    pub unreadable: usize,
}

/// The 16 bytes every unencrypted SQLite file starts with.
const PLAINTEXT_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Opening failed in a way that may call for recovery.
enum Failure {
    /// The file is damaged (the connection that found it is closed: salvage opens its own).
    Damaged {
        detail: String,
    },
    Fatal(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Fatal(e)
    }
}

fn is_damage(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Sorts a SQLite error on an open connection whose key is verified: damage or a plain failure.
fn damage_or(path: &Path, e: rusqlite::Error) -> Failure {
    if is_damage(&e) {
        Failure::Damaged {
            detail: e.to_string(),
        }
    } else {
        Failure::Fatal(StoreError::open(path, e))
    }
}

/// Where the key fingerprint of the cache at `path` is kept.
pub fn keycheck_path(path: &Path) -> PathBuf {
    sibling(path, ".keycheck")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + use<> {
    let path = path.to_owned();
    move |source| StoreError::Io { what, path, source }
}

impl Store {
    /// Opens (creating if absent) the encrypted cache at `path` with `key` and brings its schema up to date.
    ///
    /// An unencrypted cache of an earlier version is encrypted in place; a damaged file is moved aside and
    /// replaced by a fresh cache holding the pending changes it still yielded (see [`Store::open_report`]).
    /// A file that this key cannot read is [`StoreError::WrongKey`] and stays untouched.
    pub fn open(path: &Path, key: &StoreKey) -> Result<Self, StoreError> {
        Self::open_with(path, key, OpenCheck::Full)
    }

    /// [`Store::open`], reading the whole file to check it ([`OpenCheck::Full`]) or not
    /// ([`OpenCheck::Light`]: for a start after a clean exit, with [`Store::check_integrity`] run aside).
    pub fn open_with(path: &Path, key: &StoreKey, check: OpenCheck) -> Result<Self, StoreError> {
        let mut report = OpenReport::default();
        let opened = if is_plaintext(path)? {
            convert_to_encrypted(path, key).and_then(|()| {
                report.converted_from_plaintext = true;
                tracing::info!(path = %path.display(), "encrypted the local cache of an earlier version");
                open_keyed(path, key, OpenCheck::Full)
            })
        } else {
            open_keyed(path, key, check)
        };
        let mut store = match opened {
            Ok(conn) => Store::from_conn(conn, Some(path.to_owned())),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Damaged { detail }) => recover(path, key, detail, &mut report)?,
        };
        store.report = report;
        Ok(store)
    }

    /// What [`Store::open`] had to do (conversion, recovery); empty for a plain open.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// Reads every page of the cache file at `path` on a connection of its own (`PRAGMA quick_check`),
    /// while this process may be using the file: `Ok(None)` when it is sound, `Ok(Some(what))` when it is
    /// damaged — then the next [`Store::open`] moves it aside and rebuilds it, keeping the pending changes.
    pub fn check_integrity(path: &Path, key: &StoreKey) -> Result<Option<String>, StoreError> {
        let conn = connect(path)?;
        set_key(&conn, path, key)?;
        if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
            let page_one_read = e.sqlite_error_code() == Some(rusqlite::ffi::ErrorCode::DatabaseCorrupt);
            if is_damage(&e) && !page_one_read && !key_check_matches(path, key) {
                return Err(StoreError::WrongKey {
                    path: path.to_owned(),
                });
            }
        }
        match conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)) {
            Ok(check) if check == "ok" => Ok(None),
            Ok(check) => Ok(Some(check)),
            Err(e) if is_damage(&e) => Ok(Some(e.to_string())),
            Err(e) => Err(StoreError::open(path, e)),
        }
    }

    /// A throwaway cache in memory (unencrypted), for tests and benchmarks.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(StoreError::Sqlite)?;
        match prepare(conn, None, OpenCheck::Full) {
            Ok(conn) => Ok(Store::from_conn(conn, None)),
            Err(Failure::Fatal(e)) => Err(e),
            Err(Failure::Damaged { detail }) => Err(StoreError::Corrupt { path: None, detail }),
        }
    }
}

fn is_plaintext(path: &Path) -> Result<bool, StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_error("cannot read the local database", path)(e)),
    };
    let mut head = [0u8; 16];
    match file.read_exact(&mut head) {
        Ok(()) => Ok(&head == PLAINTEXT_HEADER),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(io_error("cannot read the local database", path)(e)),
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::open(path, e))?;
    // Another process (the desktop beside a script's `leadline`) may hold the file: wait for it from the
    // very first statement (the key check, WAL mode) instead of failing with "database is locked".
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| StoreError::open(path, e))?;
    Ok(conn)
}

/// SQLCipher reports every page that fails to decrypt on stderr (a process-wide setting); the errors it
/// returns say enough.
fn quiet(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA cipher_log_level = NONE;") {
        tracing::debug!(error = %e, "cannot quiet SQLCipher's log");
    }
}

/// Keys a throwaway in-memory database once per process, before any real key is set.
///
/// SQLCipher sets up its crypto provider (OpenSSL) when a key is first used. A CI run had one of several
/// caches opened at once on test threads fail with "An error occurred with PRAGMA key or rekey" on a brand
/// new file, once in many runs, never again on re-runs: the signature of that first set-up racing between
/// threads. Doing it once, with every other first opener waiting on the `Once`, takes the race away.
fn activate_sqlcipher() {
    static ACTIVATED: std::sync::Once = std::sync::Once::new();
    ACTIVATED.call_once(|| {
        let warmed = Connection::open_in_memory().and_then(|c| {
            c.execute_batch("PRAGMA key = 'leadline-warm-up';")?;
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        });
        if let Err(e) = warmed {
            tracing::debug!(error = %e, "SQLCipher warm-up failed");
        }
    });
}

fn set_key(conn: &Connection, path: &Path, key: &StoreKey) -> Result<(), StoreError> {
    activate_sqlcipher();
    let literal = key.sqlcipher_literal();
    let mut sql = zeroize::Zeroizing::new(String::with_capacity(literal.len() + 20));
    sql.push_str("PRAGMA key = \"");
    sql.push_str(&literal);
    sql.push_str("\";");
    conn.execute_batch(&sql).map_err(|e| StoreError::open(path, e))?;
    // After the key: SQLCipher sets its default log level when a key first activates it.
    quiet(conn);
    Ok(())
}

/// Opens `path` with `key`, verifies the key, checks and migrates the file.
fn open_keyed(path: &Path, key: &StoreKey, check: OpenCheck) -> Result<Connection, Failure> {
    let existed = std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false);
    let conn = connect(path)?;
    set_key(&conn, path, key)?;
    // The first read of the file: page 1 decrypts (and its HMAC verifies) only with the right key.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => {}
        Err(e) if existed && is_damage(&e) => {
            let code = e.sqlite_error_code();
            if code == Some(rusqlite::ffi::ErrorCode::DatabaseCorrupt) || key_check_matches(path, key) {
                // Page 1 decrypted (corrupt, not "not a database"), or this key is known to be the file's.
                return Err(Failure::Damaged {
                    detail: e.to_string(),
                });
            }
            return Err(Failure::Fatal(StoreError::WrongKey {
                path: path.to_owned(),
            }));
        }
        Err(e) => return Err(Failure::Fatal(StoreError::open(path, e))),
    }
    write_key_check(path, key)?;
    prepare(conn, Some(path), check)
}

fn key_check_matches(path: &Path, key: &StoreKey) -> bool {
    std::fs::read_to_string(keycheck_path(path)).is_ok_and(|text| text.trim() == key.fingerprint())
}

fn write_key_check(path: &Path, key: &StoreKey) -> Result<(), StoreError> {
    if key_check_matches(path, key) {
        return Ok(());
    }
    let check = keycheck_path(path);
    let dir = check.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".keycheck.")
        .tempfile_in(dir)
        .map_err(io_error("cannot write the key check", &check))?;
    tmp.write_all(format!("{}\n", key.fingerprint()).as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_error("cannot write the key check", &check))?;
    tmp.persist(&check)
        .map_err(|e| io_error("cannot write the key check", &check)(e.error))?;
    sync_dir(dir);
    Ok(())
}

/// How much of the file [`Store::open_with`] reads to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenCheck {
    /// Every page (`PRAGMA quick_check`): a damaged file is found and rebuilt before anything uses it.
    /// Its cost grows with the cache (about 0.9 s for 100,000 leads).
    Full,
    /// The schema only (the key and the first page are still checked). For a start after a clean exit:
    /// damage from a crash or a power cut is checked for fully on the start after one.
    Light,
}

/// WAL, durability, the integrity check and migrations, on a connection that can read its file.
fn prepare(mut conn: Connection, path: Option<&Path>, check: OpenCheck) -> Result<Connection, Failure> {
    let at = path.unwrap_or_else(|| Path::new(":memory:"));
    let journal: String = match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
        Ok(j) => j,
        Err(e) => return Err(damage_or(at, e)),
    };
    if path.is_some() && !journal.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal, "SQLite refused WAL mode; continuing with {journal}");
    }
    // synchronous = FULL: in WAL mode NORMAL may lose the last commits on power loss, and a commit here can
    // be a call log the user was told is saved (the outbox must never lose one). Local changes come at
    // human pace and a pull page is one transaction, so the one fsync per commit costs little.
    // secure_delete: deleted rows and freed pages are overwritten with zeros, so a lead erased on the
    // person's request is not left in free space for whoever holds the laptop and its key (the search
    // index's own copy is handled by FTS5's secure-delete, migration 09).
    if let Err(e) = conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 30000;
         PRAGMA cache_size = -65536;",
    ) {
        return Err(damage_or(at, e));
    }
    if check == OpenCheck::Full {
        match conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)) {
            Ok(check) if check == "ok" => {}
            Ok(check) => return Err(Failure::Damaged { detail: check }),
            Err(e) => return Err(damage_or(at, e)),
        }
    }
    // The search functions (indexing, list queries and migrations call them) and `rarray` (a search's
    // gathered matches as a statement parameter).
    if let Err(e) =
        crate::search::register_functions(&conn).and_then(|()| rusqlite::vtab::array::load_module(&conn))
    {
        return Err(Failure::Fatal(StoreError::Sqlite(e)));
    }
    // A cache written by a newer Leadline is left as it is: never "migrated" down or sideways.
    match conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)) {
        Ok(found) if found > crate::schema_version() => {
            return Err(Failure::Fatal(StoreError::SchemaTooNew {
                found,
                known: crate::schema_version(),
            }));
        }
        Ok(_) => {}
        Err(e) => return Err(damage_or(at, e)),
    }
    // A bulk load cut short (crash, kill) left list indexes dropped: build them before anything reads or
    // migrates the schema.
    if let Err(e) = crate::bulk::restore(&mut conn) {
        return Err(match e {
            StoreError::Sqlite(e) => damage_or(at, e),
            other => Failure::from(other),
        });
    }
    let migrations = MIGRATIONS
        .as_ref()
        .map_err(|e| Failure::Fatal(StoreError::Migration(e.clone())))?;
    match migrations.to_latest(&mut conn) {
        Ok(()) => Ok(conn),
        Err(rusqlite_migration::Error::RusqliteError { err, .. }) => Err(damage_or(at, err)),
        Err(other) => Err(Failure::Fatal(StoreError::Migration(other.to_string()))),
    }
}

/// Encrypts the unencrypted cache at `path` with `key`, replacing it atomically.
fn convert_to_encrypted(path: &Path, key: &StoreKey) -> Result<(), Failure> {
    let tmp = sibling(path, ".encrypting");
    remove_if_present(&tmp)?;
    remove_if_present(&sibling(&tmp, "-journal"))?;
    let conn = connect(path)?;
    let result = export_encrypted(&conn, &tmp, key);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        drop(conn);
        return Err(if is_damage(&e) {
            Failure::Damaged {
                detail: e.to_string(),
            }
        } else {
            Failure::Fatal(StoreError::open(path, e))
        });
    }
    conn.close().map_err(|(_, e)| StoreError::open(path, e))?;
    // Leaving WAL mode folded the log into the file and deleted it: a plaintext log must never sit
    // next to the encrypted file (SQLite would replay it into it).
    for suffix in ["-wal", "-shm"] {
        let side = sibling(path, suffix);
        if std::fs::metadata(&side).is_ok_and(|m| m.len() > 0) && suffix == "-wal" {
            let _ = std::fs::remove_file(&tmp);
            return Err(Failure::Fatal(StoreError::Corrupt {
                path: Some(path.to_owned()),
                detail: "its write-ahead log could not be folded in before encrypting it".into(),
            }));
        }
        remove_if_present(&side)?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_error("cannot flush the encrypted copy", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error("cannot replace the unencrypted local database", path))?;
    sync_dir(path.parent().unwrap_or_else(|| Path::new(".")));
    Ok(())
}

fn export_encrypted(conn: &Connection, tmp: &Path, key: &StoreKey) -> Result<(), rusqlite::Error> {
    conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    conn.execute(
        "ATTACH DATABASE ?1 AS encrypted KEY ?2",
        rusqlite::params![tmp.to_string_lossy(), key.sqlcipher_literal().as_str()],
    )?;
    let exported = conn
        .query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
        .and_then(|()| conn.execute_batch(&format!("PRAGMA encrypted.user_version = {version};")));
    let detached = conn.execute_batch("DETACH DATABASE encrypted");
    exported.and(detached)
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("cannot remove", path)(e)),
    }
}

/// One outbox row read back from a damaged file: its columns by name.
struct Salvaged {
    columns: Vec<(String, Value)>,
    mutation: String,
}

/// What a damaged file still yields.
#[derive(Default)]
struct Salvage {
    rows: Vec<Salvaged>,
    unreadable: usize,
    meta: Vec<(String, String)>,
}

/// Meta facts carried over to the fresh cache (not the cursor: everything is pulled again).
const KEPT_META: [&str; 3] = ["device_id", "server_url", "user"];

/// Reads what it can, row by row: the pending outbox rows and the account facts. Never fails.
///
/// SQLCipher leaves a connection that met a bad page in an error state, so every failed read is followed by
/// a fresh connection (`connect`).
fn salvage(connect: &dyn Fn() -> Option<Connection>) -> Salvage {
    let mut out = Salvage::default();
    let Some(mut conn) = connect() else { return out };
    // Candidate row ids from the table and from every index on it: each scan stops at its first
    // unreadable page, and an index may still list rows whose table page is readable.
    let mut seqs = BTreeSet::new();
    let mut scans = vec!["SELECT seq FROM outbox NOT INDEXED".to_owned()];
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))
                .map(|rows| rows.map_while(Result::ok).collect())
        })
        .unwrap_or_default();
    for name in indexes {
        let name = name.replace('"', "\"\"");
        scans.push(format!("SELECT seq FROM outbox INDEXED BY \"{name}\""));
        scans.push(format!(
            "SELECT seq FROM outbox INDEXED BY \"{name}\" WHERE state = 'pending'"
        ));
    }
    for sql in &scans {
        let failed = 'scan: {
            let Ok(mut stmt) = conn.prepare(sql) else {
                break 'scan false;
            };
            let Ok(mut rows) = stmt.query([]) else {
                break 'scan true;
            };
            loop {
                match rows.next() {
                    Ok(Some(row)) => {
                        if let Ok(seq) = row.get::<_, i64>(0) {
                            seqs.insert(seq);
                        }
                    }
                    Ok(None) => break 'scan false,
                    Err(_) => break 'scan true,
                }
            }
        };
        if failed {
            let Some(fresh) = connect() else { return out };
            conn = fresh;
        }
    }
    for seq in seqs {
        match read_outbox_row(&conn, seq) {
            Ok(Some(row)) => out.rows.push(row),
            Ok(None) => {}
            Err(()) => {
                out.unreadable += 1;
                let Some(fresh) = connect() else { return out };
                conn = fresh;
            }
        }
    }
    for key in KEPT_META {
        match conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                r.get::<_, String>(0)
            })
            .optional()
        {
            Ok(Some(value)) => out.meta.push((key.to_owned(), value)),
            Ok(None) => {}
            Err(_) => {
                let Some(fresh) = connect() else { return out };
                conn = fresh;
            }
        }
    }
    out
}

/// `Ok(None)`: the row is gone or not pending; `Err`: it could not be read.
fn read_outbox_row(conn: &Connection, seq: i64) -> Result<Option<Salvaged>, ()> {
    let mut stmt = conn
        .prepare("SELECT * FROM outbox WHERE seq = ?1")
        .map_err(|_| ())?;
    let names: Vec<String> = stmt.column_names().iter().map(|n| (*n).to_owned()).collect();
    let columns = stmt
        .query_row([seq], |r| {
            (0..names.len())
                .map(|i| Ok((names[i].clone(), r.get::<_, Value>(i)?)))
                .collect::<Result<Vec<_>, _>>()
        })
        .optional()
        .map_err(|_| ())?;
    let Some(columns) = columns else { return Ok(None) };
    let text = |name: &str| {
        columns
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| match v {
                Value::Text(t) => Some(t.clone()),
                _ => None,
            })
    };
    if text("state").is_some_and(|s| s != "pending") {
        return Ok(None);
    }
    let mutation = text("mutation").ok_or(())?;
    serde_json::from_str::<Mutation>(&mutation).map_err(|_| ())?;
    Ok(Some(Salvaged { columns, mutation }))
}

/// Columns of a salvaged outbox row that are not carried over: the row starts afresh in the new outbox.
const RESET_COLUMNS: [&str; 5] = ["seq", "attempts", "last_error", "state", "sent_at"];

fn recover(
    path: &Path,
    key: &StoreKey,
    detail: String,
    report: &mut OpenReport,
) -> Result<Store, StoreError> {
    tracing::error!(path = %path.display(), damage = %detail, "the local database is damaged; recovering");
    let plaintext = is_plaintext(path).unwrap_or(false);
    let salvaged = salvage(&|| {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        if !plaintext {
            set_key(&conn, path, key).ok()?;
        }
        Some(conn)
    });
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut aside = sibling(path, &format!(".corrupt-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = sibling(path, &format!(".corrupt-{stamp}-{n}"));
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    // The salvaged changes reach the disk before anything is moved.
    if !salvaged.rows.is_empty() {
        let export = sibling(&aside, ".outbox.jsonl");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&export)
            .map_err(io_error("cannot write the salvaged changes to", &export))?;
        let mut text = String::new();
        for row in &salvaged.rows {
            text.push_str(&row.mutation);
            text.push('\n');
        }
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error("cannot write the salvaged changes to", &export))?;
        report.export_file = Some(export);
    }
    // The log first: a log left behind next to a fresh file would be wrong, a file without its log is
    // only more damaged (and the log is kept aside either way).
    for suffix in ["-wal", "-shm", "-journal", ""] {
        let from = sibling(path, suffix);
        let to = sibling(&aside, suffix);
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !suffix.is_empty() => {}
            Err(e) => return Err(io_error("cannot move the damaged local database aside", &from)(e)),
        }
    }
    sync_dir(dir);
    report.recovered_from = Some(aside);
    report.damage = Some(detail);
    report.unreadable = salvaged.unreadable;

    let conn = match open_keyed(path, key, OpenCheck::Full) {
        Ok(conn) => conn,
        Err(Failure::Fatal(e)) => return Err(e),
        Err(Failure::Damaged { detail }) => {
            return Err(StoreError::Corrupt {
                path: Some(path.to_owned()),
                detail: format!("the fresh database is damaged too: {detail}"),
            });
        }
    };
    let mut store = Store::from_conn(conn, Some(path.to_owned()));
    report.requeued = store.restore(&salvaged)?;
    tracing::warn!(
        moved_to = ?report.recovered_from,
        export = ?report.export_file,
        requeued = report.requeued,
        unreadable = report.unreadable,
        "the damaged local database was moved aside; a fresh one will be filled by the next sync"
    );
    Ok(store)
}

impl Store {
    /// Puts the account facts and the salvaged outbox rows into a fresh cache, in one transaction.
    fn restore(&mut self, salvaged: &Salvage) -> Result<usize, StoreError> {
        let meta = |k: &str| {
            salvaged
                .meta
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        if let (Some(server_url), Some(user)) = (meta("server_url"), meta("user"))
            && let Ok(user) = serde_json::from_str::<User>(user)
        {
            self.set_account(server_url, &user)?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(device_id) = meta("device_id") {
            Self::meta_set(&tx, "device_id", device_id)?;
        }
        let present: BTreeSet<String> = {
            let mut stmt = tx.prepare("SELECT name FROM pragma_table_info('outbox')")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()?
        };
        let mut requeued = 0;
        for row in &salvaged.rows {
            let (names, values): (Vec<&str>, Vec<&Value>) = row
                .columns
                .iter()
                .filter(|(n, _)| present.contains(n) && !RESET_COLUMNS.contains(&n.as_str()))
                .map(|(n, v)| (n.as_str(), v))
                .unzip();
            let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "INSERT OR IGNORE INTO outbox ({}) VALUES ({})",
                names
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                placeholders.join(", ")
            );
            requeued += tx.execute(&sql, params_from_iter(values))?;
        }
        tx.commit()?;
        Ok(requeued)
    }
}
