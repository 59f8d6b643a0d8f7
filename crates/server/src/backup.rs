//! `leadline-server backup` and `restore`: one file holding a consistent copy of the database, the keys
//! that read it, and a manifest that vouches for both.
//!
//! The backup file is a gzip-compressed tar (`.tar.gz`), mode 0600:
//! - `manifest.json` (first): format and version, creation time, server version, backend, schema version,
//!   and the size and SHA-256 of every other entry;
//! - `database/leadline-server.sqlite3` — a snapshot made with SQLite's online backup API in one step,
//!   so it is one consistent state even while the server writes — or `database/leadline.pgdump`
//!   (`pg_dump --format=custom`) on PostgreSQL;
//! - `keys/jwt-secret` and `keys/pii-keys` from the data directory, unless left out (`--no-keys`). Phone
//!   numbers, emails and notes are encrypted with the PII keys: a backup without them cannot be read.
//!   A backup with them is a secret: anyone holding it reads every customer's data.
//!
//! A restore verifies everything before it touches anything (checksums, `PRAGMA integrity_check` or
//! `pg_restore --list`, a schema no newer than this binary's, that the keys in effect decrypt the data),
//! refuses while a server uses the data directory (the server holds a shared lock on
//! `<data dir>/leadline-server.lock`) or the database, and replaces atomically, keeping what it replaced
//! (`<file>.pre-restore-<time>`, PostgreSQL: database `<name>_pre_restore_<time>`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{self, DbConfig};
use crate::pii::{self, PiiKeys};

/// The `format` field of every manifest.
pub const FORMAT: &str = "leadline-backup";
/// The manifest layout this binary writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The first entry of a backup.
pub const MANIFEST: &str = "manifest.json";
/// The lock file a serving server holds (shared) and a restore takes (exclusive).
pub const LOCK_FILE: &str = "leadline-server.lock";
const SQLITE_ENTRY: &str = "database/leadline-server.sqlite3";
const PG_ENTRY: &str = "database/leadline.pgdump";
/// The key files of a data directory, as named in the data directory and in the backup.
const KEY_FILES: [&str; 2] = [crate::JWT_SECRET_FILE, pii::KEY_FILE];
const MAX_MANIFEST: u64 = 1 << 20;

/// Why a backup or restore stopped. Nothing was replaced when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", crate::sql::pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("{path} is not a Leadline backup ({detail})")]
    Foreign { path: PathBuf, detail: String },
    #[error("the backup {path} is damaged or truncated: {detail}; nothing was restored")]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "this backup was written by a newer Leadline (backup format {found}); this binary reads up to \
         {known} — upgrade the binary"
    )]
    FormatTooNew { found: u32, known: u32 },
    #[error(
        "this backup holds a database written by a newer Leadline (schema {found}); this binary knows up \
         to {known} — upgrade the binary"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("this backup is of a {found} database, and the target is {target}; restore it into {found}")]
    WrongBackend { found: String, target: String },
    #[error(
        "a Leadline server is using {data_dir} (it holds {lock}): stop it (every `leadline-server serve` \
         on this data directory) and run the restore again"
    )]
    ServerRunning { data_dir: PathBuf, lock: PathBuf },
    #[error(
        "{sessions} other session(s) are connected to database {database} (a leadline-server still \
         running?): stop every server node using it and run the restore again"
    )]
    DatabaseInUse { database: String, sessions: i64 },
    #[error("{0}")]
    Keys(String),
    #[error("{program}: {detail}")]
    Tool { program: &'static str, detail: String },
    #[error("bad DATABASE_URL: {0}")]
    BadUrl(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + use<> {
    let path = path.to_owned();
    move |source| BackupError::Io { what, path, source }
}

/// One file inside the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a backup holds: `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The `leadline-server` version that wrote it.
    pub server_version: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub schema_version: i64,
    pub database: Entry,
    /// The key files included (none with `--no-keys`).
    pub keys: Vec<Entry>,
    /// Where the keys of this data are when they are not in the backup (environment, left out).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// What `backup` does.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub data_dir: PathBuf,
    pub database: DbConfig,
    /// The backup file, or a directory to create `leadline-backup-<time>.tar.gz` in.
    pub output: PathBuf,
    /// Include the JWT secret and PII key files of the data directory.
    pub include_keys: bool,
    /// The PII keys the server is configured with (`[pii] keys` / `LEADLINE_PII_KEYS`), if any: they are
    /// not files of the data directory, so the backup cannot hold them (a warning says so).
    pub configured_keys: Option<Arc<PiiKeys>>,
}

/// What `backup` did.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// Things the operator must know (keys not included, where they are instead).
    pub warnings: Vec<String>,
}

/// What `restore` does.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub data_dir: PathBuf,
    pub database: DbConfig,
    pub input: PathBuf,
    /// Keep the replaced database (`<file>.pre-restore-<time>`, or `<name>_pre_restore_<time>`).
    pub keep_replaced: bool,
    /// Only verify the backup (checksums, integrity, schema, keys); change nothing.
    pub check_only: bool,
    /// The PII keys the server is configured with (`[pii] keys` / `LEADLINE_PII_KEYS`): they take
    /// precedence over the backup's key file, as they will in the restored server.
    pub configured_keys: Option<Arc<PiiKeys>>,
}

/// What `restore` did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Where the replaced database was kept.
    pub kept: Option<String>,
    /// Key files written into the data directory, and where the ones they replaced were kept.
    pub keys: Vec<String>,
    pub warnings: Vec<String>,
}

/// The data directory's lock file: a serving server holds it shared for as long as it serves, so a
/// restore (which takes it exclusively) can tell that the data directory is in use. Dropping the file
/// releases the lock; the kernel releases it when the process dies.
pub fn lock_shared(data_dir: &Path) -> Result<File, BackupError> {
    let file = open_lock(data_dir)?;
    file.lock_shared()
        .map_err(io("locking", &data_dir.join(LOCK_FILE)))?;
    Ok(file)
}

fn open_lock(data_dir: &Path) -> Result<File, BackupError> {
    std::fs::create_dir_all(data_dir).map_err(io("creating the data directory", data_dir))?;
    let path = data_dir.join(LOCK_FILE);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("opening the lock file", &path))
}

fn lock_exclusive(data_dir: &Path) -> Result<File, BackupError> {
    let file = open_lock(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::ServerRunning {
            data_dir: data_dir.to_owned(),
            lock: data_dir.join(LOCK_FILE),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io("locking", &data_dir.join(LOCK_FILE))(e)),
    }
}

fn stamp() -> String {
    Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut file = File::open(path).map_err(io("reading", path))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(io("reading", path))?;
    Ok((bytes, hex(&hasher.finalize())))
}

#[cfg(unix)]
fn private_options() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true).mode(0o600);
    o
}

#[cfg(not(unix))]
fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    o
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

// ---- Backup ----

/// Writes a backup of the data directory's database (or the PostgreSQL database) and, unless left out,
/// its keys. Safe while servers run: SQLite is copied in one read transaction of the online backup API
/// (WAL: writers go on meanwhile), PostgreSQL by `pg_dump` (one snapshot).
pub fn backup(opts: &BackupOptions) -> Result<BackupReport, BackupError> {
    // Held shared for the run: a restore cannot replace the database under the copy.
    let _lock = lock_shared(&opts.data_dir)?;
    let output = if opts.output.is_dir() {
        opts.output.join(format!("leadline-backup-{}.tar.gz", stamp()))
    } else {
        opts.output.clone()
    };
    let out_dir = parent_of(&output);
    let work = tempfile::Builder::new()
        .prefix(".leadline-backup-")
        .tempdir_in(&out_dir)
        .map_err(io("creating a work directory in", &out_dir))?;
    let (backend, entry_name, snapshot, schema_version) = match &opts.database {
        DbConfig::Sqlite(path) => {
            let snapshot = work.path().join("db.sqlite3");
            let version = sqlite_snapshot(path, &snapshot)?;
            ("sqlite", SQLITE_ENTRY, snapshot, version)
        }
        DbConfig::Postgres(url) => {
            let snapshot = work.path().join("db.pgdump");
            let version = pg_dump(url, &snapshot)?;
            ("postgres", PG_ENTRY, snapshot, version)
        }
    };
    let (bytes, sha256) = sha256_file(&snapshot)?;
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut keys = Vec::new();
    let mut key_paths = Vec::new();
    if opts.configured_keys.is_some() {
        let note = "the PII keys in use come from the configuration ([pii] keys and blind_key, or \
                    LEADLINE_PII_KEYS/LEADLINE_PII_BLIND_KEY): they are not in this backup; keep them with \
                    it, or it cannot be read"
            .to_owned();
        warnings.push(note.clone());
        notes.push(note);
    }
    if opts.include_keys {
        for name in KEY_FILES {
            let path = opts.data_dir.join(name);
            if path.is_file() {
                let (bytes, sha256) = sha256_file(&path)?;
                keys.push(Entry {
                    name: format!("keys/{name}"),
                    bytes,
                    sha256,
                });
                key_paths.push(path);
            } else {
                let note = format!("{} was not there: not in this backup", path.display());
                warnings.push(note.clone());
                notes.push(note);
            }
        }
    } else {
        let note = format!(
            "keys left out (--no-keys): restoring needs {} and {} of {} (or the LEADLINE_PII_KEYS \
             environment): without the PII keys, phone numbers, emails and notes cannot be read",
            crate::JWT_SECRET_FILE,
            pii::KEY_FILE,
            opts.data_dir.display()
        );
        warnings.push(note.clone());
        notes.push(note);
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        created_at: db::ts(&Utc::now()),
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        backend: backend.to_owned(),
        schema_version,
        database: Entry {
            name: entry_name.to_owned(),
            bytes,
            sha256,
        },
        keys,
        notes,
    };
    let tmp = work.path().join("backup.tar.gz");
    write_archive(&tmp, &manifest, &snapshot, &key_paths)?;
    std::fs::rename(&tmp, &output).map_err(io("moving the backup into place at", &output))?;
    sync_dir(&out_dir);
    Ok(BackupReport {
        path: output,
        manifest,
        warnings,
    })
}

/// Copies the live database at `path` into `snapshot` with the online backup API, in one step (one
/// read transaction: one consistent state whatever writers do meanwhile), then checks the copy.
/// Returns its schema version.
fn sqlite_snapshot(path: &Path, snapshot: &Path) -> Result<i64, BackupError> {
    if !path.is_file() {
        return Err(BackupError::Io {
            what: "no database at",
            path: path.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let src = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    src.busy_timeout(std::time::Duration::from_secs(30))?;
    {
        let mut dst = rusqlite::Connection::open(snapshot)?;
        {
            let copy = rusqlite::backup::Backup::new(&src, &mut dst)?;
            // All pages in one step: one read transaction, so one consistent state (copying in several
            // steps would restart whenever another process writes, and might never finish).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                match copy.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    rusqlite::backup::StepResult::More => {}
                    _ if std::time::Instant::now() > deadline => {
                        return Err(BackupError::Io {
                            what: "the database stayed locked for a minute:",
                            path: path.to_owned(),
                            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
                        });
                    }
                    _ => std::thread::sleep(std::time::Duration::from_millis(50)),
                }
            }
        }
        // A single self-contained file (no write-ahead log beside it).
        dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0))?;
        let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(BackupError::Damaged {
                path: path.to_owned(),
                detail: format!("the live database fails its integrity check: {check}"),
            });
        }
    }
    let dst = rusqlite::Connection::open(snapshot)?;
    let version: i64 = dst.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    drop(dst);
    File::open(snapshot)
        .and_then(|f| f.sync_all())
        .map_err(io("flushing", snapshot))?;
    Ok(version)
}

fn write_archive(
    tmp: &Path,
    manifest: &Manifest,
    snapshot: &Path,
    key_paths: &[PathBuf],
) -> Result<(), BackupError> {
    let file = private_options().open(tmp).map_err(io("creating", tmp))?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Io {
        what: "writing the manifest of",
        path: tmp.to_owned(),
        source: std::io::Error::other(e),
    })?;
    let append = |tar: &mut tar::Builder<_>, name: &str, size: u64, data: &mut dyn Read| {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_mtime(Utc::now().timestamp().max(0) as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data)
            .map_err(io("writing", tmp))
    };
    append(&mut tar, MANIFEST, json.len() as u64, &mut json.as_slice())?;
    let mut db_file = File::open(snapshot).map_err(io("reading", snapshot))?;
    append(
        &mut tar,
        &manifest.database.name,
        manifest.database.bytes,
        &mut db_file,
    )?;
    for (entry, path) in manifest.keys.iter().zip(key_paths) {
        let mut f = File::open(path).map_err(io("reading", path))?;
        append(&mut tar, &entry.name, entry.bytes, &mut f)?;
    }
    let gz = tar.into_inner().map_err(io("writing", tmp))?;
    let buf = gz.finish().map_err(io("writing", tmp))?;
    let file = buf.into_inner().map_err(|e| io("writing", tmp)(e.into_error()))?;
    file.sync_all().map_err(io("flushing", tmp))?;
    Ok(())
}

// ---- Reading a backup ----

/// A backup unpacked into a work directory and verified entry by entry.
struct Unpacked {
    manifest: Manifest,
    /// The database entry's file.
    database: PathBuf,
    /// The key files (`jwt-secret`, `pii-keys`) and where they were unpacked.
    keys: Vec<(String, PathBuf)>,
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads the backup at `input` into `work`, checking every entry against the manifest.
fn unpack(input: &Path, work: &Path) -> Result<Unpacked, BackupError> {
    let mut file = File::open(input).map_err(io("opening the backup", input))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io("reading", input))?;
    let file = File::open(input).map_err(io("opening the backup", input))?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let damaged = |detail: String| BackupError::Damaged {
        path: input.to_owned(),
        detail,
    };
    let foreign = |detail: &str| BackupError::Foreign {
        path: input.to_owned(),
        detail: detail.to_owned(),
    };
    let mut archive = tar::Archive::new(reader);
    let mut entries = archive
        .entries()
        .map_err(|e| foreign(&format!("not a tar archive: {e}")))?;
    // The manifest comes first.
    let mut first = match entries.next() {
        Some(Ok(e)) => e,
        Some(Err(e)) if magic == [0x1f, 0x8b] => return Err(damaged(e.to_string())),
        Some(Err(e)) => return Err(foreign(&format!("not a tar archive: {e}"))),
        None => return Err(foreign("empty")),
    };
    let first_name = first
        .path()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if first_name != MANIFEST {
        return Err(foreign(&format!(
            "its first entry is {first_name:?}, not {MANIFEST}"
        )));
    }
    if first.size() > MAX_MANIFEST {
        return Err(foreign("its manifest is far too large"));
    }
    let mut json = Vec::new();
    first
        .read_to_end(&mut json)
        .map_err(|e| damaged(format!("reading the manifest: {e}")))?;
    let manifest: Manifest =
        serde_json::from_slice(&json).map_err(|e| foreign(&format!("its manifest does not parse: {e}")))?;
    if manifest.format != FORMAT {
        return Err(foreign(&format!("format {:?}", manifest.format)));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(BackupError::FormatTooNew {
            found: manifest.format_version,
            known: FORMAT_VERSION,
        });
    }
    let expected: Vec<&Entry> = std::iter::once(&manifest.database)
        .chain(manifest.keys.iter())
        .collect();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| damaged(e.to_string()))?;
        let Some(want) = expected.iter().find(|e| e.name == name) else {
            return Err(foreign(&format!("unexpected entry {name:?}")));
        };
        if found.iter().any(|(n, _)| *n == name) {
            return Err(foreign(&format!("entry {name:?} appears twice")));
        }
        // Entry names are fixed by the manifest; the file name inside the work directory is ours.
        let target = work.join(format!("entry-{}", found.len()));
        let out = private_options()
            .open(&target)
            .map_err(io("unpacking into", &target))?;
        let mut writer = HashingWriter {
            inner: BufWriter::new(out),
            hasher: Sha256::new(),
            bytes: 0,
        };
        std::io::copy(&mut entry, &mut writer).map_err(|e| damaged(format!("{name}: {e}")))?;
        writer.flush().map_err(io("unpacking into", &target))?;
        let sum = hex(&writer.hasher.finalize());
        if writer.bytes != want.bytes || sum != want.sha256 {
            return Err(damaged(format!(
                "{name} does not match its checksum ({} bytes, sha256 {sum}; the manifest says {} bytes, \
                 {})",
                writer.bytes, want.bytes, want.sha256
            )));
        }
        found.push((name, target));
    }
    for want in &expected {
        if !found.iter().any(|(n, _)| *n == want.name) {
            return Err(damaged(format!("{} is missing (a truncated file?)", want.name)));
        }
    }
    let take = |name: &str| found.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone());
    let database = take(&manifest.database.name).ok_or_else(|| damaged("no database".into()))?;
    let keys = manifest
        .keys
        .iter()
        .filter_map(|k| {
            let file = k.name.strip_prefix("keys/")?;
            KEY_FILES
                .contains(&file)
                .then(|| take(&k.name).map(|p| (file.to_owned(), p)))
                .flatten()
        })
        .collect();
    Ok(Unpacked {
        manifest,
        database,
        keys,
    })
}

/// Reads and verifies a backup without restoring it: the manifest, every checksum, and the database
/// (SQLite: `PRAGMA integrity_check`; PostgreSQL: `pg_restore --list`).
pub fn verify(input: &Path) -> Result<Manifest, BackupError> {
    let work = tempfile::Builder::new()
        .prefix(".leadline-verify-")
        .tempdir()
        .map_err(io("creating a work directory", Path::new("(temp)")))?;
    let unpacked = unpack(input, work.path())?;
    check_database(input, &unpacked)?;
    Ok(unpacked.manifest)
}

fn check_database(input: &Path, unpacked: &Unpacked) -> Result<(), BackupError> {
    let manifest = &unpacked.manifest;
    let known = db::schema_version();
    if manifest.schema_version > known {
        return Err(BackupError::SchemaTooNew {
            found: manifest.schema_version,
            known,
        });
    }
    match manifest.backend.as_str() {
        "sqlite" => {
            let conn = rusqlite::Connection::open_with_flags(
                &unpacked.database,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            let damaged = |detail: String| BackupError::Damaged {
                path: input.to_owned(),
                detail,
            };
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(|e| damaged(format!("its database does not open: {e}")))?;
            if check != "ok" {
                return Err(damaged(format!(
                    "its database fails the integrity check: {check}"
                )));
            }
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version != manifest.schema_version {
                return Err(damaged(format!(
                    "its database is at schema {version}, its manifest says {}",
                    manifest.schema_version
                )));
            }
            if version > known {
                return Err(BackupError::SchemaTooNew {
                    found: version,
                    known,
                });
            }
        }
        "postgres" => {
            run_tool(
                "pg_restore",
                Command::new("pg_restore").arg("--list").arg(&unpacked.database),
            )
            .map_err(|e| BackupError::Damaged {
                path: input.to_owned(),
                detail: format!("its dump does not read: {e}"),
            })?;
        }
        other => {
            return Err(BackupError::Foreign {
                path: input.to_owned(),
                detail: format!("unknown backend {other:?}"),
            });
        }
    }
    Ok(())
}

/// The PII keys that will be in effect after the restore: the configured ones, else the backup's, else
/// the data directory's. `None` when there are none anywhere.
fn keys_after_restore(
    configured: Option<&Arc<PiiKeys>>,
    data_dir: &Path,
    unpacked: &Unpacked,
    work: &Path,
) -> Result<Option<Arc<PiiKeys>>, BackupError> {
    let keys_err = |e: pii::PiiConfigError| BackupError::Keys(format!("PII keys: {e}"));
    if let Some(keys) = configured {
        return Ok(Some(keys.clone()));
    }
    if let Some((_, path)) = unpacked.keys.iter().find(|(n, _)| n == pii::KEY_FILE) {
        let dir = work.join("pii");
        std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        std::fs::copy(path, dir.join(pii::KEY_FILE)).map_err(io("reading", path))?;
        return PiiKeys::load_or_create(&dir)
            .map(|k| Some(Arc::new(k)))
            .map_err(keys_err);
    }
    if data_dir.join(pii::KEY_FILE).is_file() {
        return PiiKeys::load_or_create(data_dir)
            .map(|k| Some(Arc::new(k)))
            .map_err(keys_err);
    }
    Ok(None)
}

/// Sealed values to try the keys on: (context, stored) of the first sealed phone and note.
const SAMPLES: &str = "SELECT 'leads.phone', id, phone FROM (SELECT id, phone FROM leads \
     WHERE phone LIKE 'v1.%' ORDER BY id LIMIT 1) a \
     UNION ALL SELECT 'call_logs.notes', id, notes FROM (SELECT id, notes FROM call_logs \
     WHERE notes LIKE 'v1.%' ORDER BY id LIMIT 1) b";

fn check_keys(keys: Option<&PiiKeys>, samples: Vec<(String, String, String)>) -> Result<(), BackupError> {
    if samples.is_empty() {
        return Ok(());
    }
    let Some(keys) = keys else {
        return Err(BackupError::Keys(
            "the backup holds encrypted data but no PII keys, and none are in the data directory or the \
             environment (LEADLINE_PII_KEYS): put the pii-keys file of the backed-up server in the data \
             directory, or restore a backup made with its keys"
                .into(),
        ));
    };
    for (column, id, stored) in samples {
        if let Err(e) = keys.decrypt(&pii::row_context(&column, &id), &stored) {
            return Err(BackupError::Keys(format!(
                "the PII keys in effect cannot read this backup's data ({column} of row {id}: {e}): these \
                 are not the keys of the backed-up server. Restore with its pii-keys file (a backup made \
                 without --no-keys), or set LEADLINE_PII_KEYS/LEADLINE_PII_BLIND_KEY to its keys"
            )));
        }
    }
    Ok(())
}

// ---- Restore ----

/// Verifies the backup at `opts.input`, then replaces the database (and the key files it holds) with it.
/// Nothing changes unless every check passes; the replaced database is kept unless told otherwise.
pub fn restore(opts: &RestoreOptions) -> Result<RestoreReport, BackupError> {
    let _lock = if opts.check_only {
        None
    } else {
        Some(lock_exclusive(&opts.data_dir)?)
    };
    let work_parent = match &opts.database {
        DbConfig::Sqlite(path) => parent_of(path),
        DbConfig::Postgres(_) => opts.data_dir.clone(),
    };
    std::fs::create_dir_all(&work_parent).map_err(io("creating", &work_parent))?;
    let work = tempfile::Builder::new()
        .prefix(".leadline-restore-")
        .tempdir_in(&work_parent)
        .map_err(io("creating a work directory in", &work_parent))?;
    let unpacked = unpack(&opts.input, work.path())?;
    check_database(&opts.input, &unpacked)?;
    let target = match &opts.database {
        DbConfig::Sqlite(_) => "sqlite",
        DbConfig::Postgres(_) => "postgres",
    };
    if unpacked.manifest.backend != target {
        return Err(BackupError::WrongBackend {
            found: unpacked.manifest.backend.clone(),
            target: target.to_owned(),
        });
    }
    let keys = keys_after_restore(
        opts.configured_keys.as_ref(),
        &opts.data_dir,
        &unpacked,
        work.path(),
    )?;
    let mut warnings = Vec::new();
    if unpacked.keys.is_empty() {
        warnings.push(
            "this backup holds no keys: the configured PII keys, else the data directory's, stay in use"
                .to_owned(),
        );
    }
    let when = stamp();
    let report = |kept, keys, warnings| RestoreReport {
        manifest: unpacked.manifest.clone(),
        kept,
        keys,
        warnings,
    };
    match &opts.database {
        DbConfig::Sqlite(path) => {
            let samples = {
                let conn = rusqlite::Connection::open_with_flags(
                    &unpacked.database,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )?;
                let mut stmt = conn.prepare(SAMPLES)?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<Vec<_>, _>>()?
            };
            check_keys(keys.as_deref(), samples)?;
            if opts.check_only {
                return Ok(report(None, Vec::new(), warnings));
            }
            let placed_keys = place_keys(&opts.data_dir, &unpacked, &when)?;
            match replace_sqlite(path, &unpacked.database, opts.keep_replaced, &when) {
                Ok(kept) => Ok(report(kept, placed_keys.done, warnings)),
                Err(e) => {
                    placed_keys.undo();
                    Err(e)
                }
            }
        }
        DbConfig::Postgres(url) => {
            let placed = pg_restore(url, &unpacked, keys.as_deref(), opts, &when)?;
            if opts.check_only {
                return Ok(report(None, Vec::new(), warnings));
            }
            let placed_keys = place_keys(&opts.data_dir, &unpacked, &when);
            match placed_keys {
                Ok(k) => Ok(report(placed, k.done, warnings)),
                Err(e) => Err(e),
            }
        }
    }
}

/// Key files written, and how to put the previous ones back.
struct PlacedKeys {
    done: Vec<String>,
    undo: Vec<(PathBuf, Option<PathBuf>)>,
}

impl PlacedKeys {
    fn undo(self) {
        for (path, kept) in self.undo.into_iter().rev() {
            match kept {
                Some(kept) => {
                    let _ = std::fs::rename(kept, &path);
                }
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
}

/// Writes the backup's key files into the data directory (atomically, mode 0600); a different key file
/// already there is kept as `<name>.pre-restore-<time>` — keys are never deleted.
fn place_keys(data_dir: &Path, unpacked: &Unpacked, when: &str) -> Result<PlacedKeys, BackupError> {
    let mut placed = PlacedKeys {
        done: Vec::new(),
        undo: Vec::new(),
    };
    for (name, source) in &unpacked.keys {
        let path = data_dir.join(name);
        let new = std::fs::read(source).map_err(io("reading", source))?;
        let old = std::fs::read(&path).ok();
        if old.as_deref() == Some(new.as_slice()) {
            placed.done.push(format!("{} (unchanged)", path.display()));
            continue;
        }
        let result = (|| {
            let kept = if old.is_some() {
                let kept = data_dir.join(format!("{name}.pre-restore-{when}"));
                std::fs::hard_link(&path, &kept).map_err(io("keeping the replaced key file as", &kept))?;
                Some(kept)
            } else {
                None
            };
            let tmp = data_dir.join(format!(".{name}.restoring"));
            let _ = std::fs::remove_file(&tmp);
            let mut f = private_options().open(&tmp).map_err(io("writing", &tmp))?;
            f.write_all(&new)
                .and_then(|()| f.sync_all())
                .map_err(io("writing", &tmp))?;
            std::fs::rename(&tmp, &path).map_err(io("replacing", &path))?;
            Ok::<_, BackupError>(kept)
        })();
        match result {
            Ok(kept) => {
                placed.done.push(match &kept {
                    Some(k) => format!("{} (the previous one kept as {})", path.display(), k.display()),
                    None => path.display().to_string(),
                });
                placed.undo.push((path, kept));
            }
            Err(e) => {
                placed.undo();
                return Err(e);
            }
        }
    }
    sync_dir(data_dir);
    Ok(placed)
}

fn side(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Puts `snapshot` in place of the database at `path` in one rename, keeping the old file (folded: its
/// write-ahead log checkpointed into it first) as `<path>.pre-restore-<when>` when asked.
fn replace_sqlite(
    path: &Path,
    snapshot: &Path,
    keep: bool,
    when: &str,
) -> Result<Option<String>, BackupError> {
    let dir = parent_of(path);
    let mut kept = None;
    if path.exists() {
        // Fold the old log into the old file, so the kept copy is one whole file and no log of the old
        // database can be replayed into the new one.
        if let Ok(conn) = rusqlite::Connection::open(path) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            let _ = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0));
        }
        if keep {
            let name = side(path, &format!(".pre-restore-{when}"));
            if std::fs::hard_link(path, &name).is_err() {
                std::fs::copy(path, &name).map_err(io("keeping the replaced database as", &name))?;
            }
            for suffix in ["-wal", "-shm"] {
                let old = side(path, suffix);
                if old.exists() {
                    let to = side(&name, suffix);
                    std::fs::rename(&old, &to).map_err(io("keeping", &old))?;
                }
            }
            kept = Some(name.display().to_string());
        } else {
            for suffix in ["-wal", "-shm"] {
                let old = side(path, suffix);
                if old.exists() {
                    std::fs::remove_file(&old).map_err(io("removing", &old))?;
                }
            }
        }
    }
    File::open(snapshot)
        .and_then(|f| f.sync_all())
        .map_err(io("flushing", snapshot))?;
    std::fs::rename(snapshot, path).map_err(io("moving the restored database into place at", path))?;
    sync_dir(&dir);
    Ok(kept)
}

// ---- PostgreSQL ----

/// The environment that points libpq's tools at the database of `url`: the password goes in
/// `PGPASSWORD`, never on a command line (where `ps` shows it to every user of the machine).
pub fn pg_env(url: &str) -> Result<Vec<(&'static str, String)>, BackupError> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| BackupError::BadUrl(e.to_string()))?;
    let mut env = Vec::new();
    if let Some(host) = config.get_hosts().first() {
        let host = match host {
            postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        env.push(("PGHOST", host));
    }
    if let Some(port) = config.get_ports().first() {
        env.push(("PGPORT", port.to_string()));
    }
    if let Some(user) = config.get_user() {
        env.push(("PGUSER", user.to_owned()));
    }
    if let Some(password) = config.get_password() {
        env.push(("PGPASSWORD", String::from_utf8_lossy(password).into_owned()));
    }
    if let Some(db) = config.get_dbname() {
        env.push(("PGDATABASE", db.to_owned()));
    }
    let sslmode = match config.get_ssl_mode() {
        postgres::config::SslMode::Disable => "disable",
        postgres::config::SslMode::Require => "require",
        _ => "prefer",
    };
    env.push(("PGSSLMODE", sslmode.to_owned()));
    if let Some(t) = config.get_connect_timeout() {
        env.push(("PGCONNECT_TIMEOUT", t.as_secs().max(1).to_string()));
    }
    Ok(env)
}

/// A libpq tool with the connection in its environment (see [`pg_env`]), never prompting.
fn pg_command(program: &str, env: &[(&'static str, String)]) -> Command {
    let mut cmd = Command::new(program);
    for name in [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSERVICE",
        "PGSSLMODE",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.arg("--no-password");
    cmd
}

fn run_tool(program: &'static str, cmd: &mut Command) -> Result<String, BackupError> {
    let out = cmd.output().map_err(|e| BackupError::Tool {
        program,
        detail: if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "not found on PATH; install the PostgreSQL client tools (Debian: postgresql-client) ({e})"
            )
        } else {
            e.to_string()
        },
    })?;
    if !out.status.success() {
        return Err(BackupError::Tool {
            program,
            detail: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn pg_connect(url: &str) -> Result<postgres::Client, BackupError> {
    Ok(postgres::Client::connect(url, postgres::NoTls)?)
}

fn pg_schema_version(client: &mut postgres::Client) -> Result<i64, BackupError> {
    let row = client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?;
    Ok(row.get(0))
}

/// `pg_dump --format=custom` of the database of `url` into `file`; returns its schema version.
fn pg_dump(url: &str, file: &Path) -> Result<i64, BackupError> {
    let version = {
        let url = url.to_owned();
        off_runtime(move || pg_connect(&url).and_then(|mut c| pg_schema_version(&mut c)))?
    };
    let env = pg_env(url)?;
    run_tool(
        "pg_dump",
        pg_command("pg_dump", &env)
            .arg("--format=custom")
            .arg("--file")
            .arg(file),
    )?;
    Ok(version)
}

/// Runs blocking PostgreSQL client work on a thread of its own (the synchronous client must not run
/// inside an async runtime, and callers may be in one).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `base` + `suffix`, within PostgreSQL's 63-byte identifier limit.
fn db_name_with(base: &str, suffix: &str) -> String {
    let room = 63usize.saturating_sub(suffix.len());
    let mut cut = base.len().min(room);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &base[..cut])
}

/// Restores the dump into a new database, checks it, then swaps it in place of the target (which is
/// kept as `<name>_pre_restore_<when>` or dropped). Returns the kept database's name.
fn pg_restore(
    url: &str,
    unpacked: &Unpacked,
    keys: Option<&PiiKeys>,
    opts: &RestoreOptions,
    when: &str,
) -> Result<Option<String>, BackupError> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| BackupError::BadUrl(e.to_string()))?;
    let target = config
        .get_dbname()
        .ok_or_else(|| BackupError::BadUrl("DATABASE_URL names no database".into()))?
        .to_owned();
    let mut admin_config = config.clone();
    admin_config.dbname("postgres");
    let stamp = when.to_ascii_lowercase();
    let staging = db_name_with(&target, &format!("_restoring_{stamp}"));
    let kept = db_name_with(&target, &format!("_pre_restore_{stamp}"));
    off_runtime(|| {
        let mut admin = admin_config.connect(postgres::NoTls)?;
        let in_use = |admin: &mut postgres::Client| -> Result<(), BackupError> {
            let sessions: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&target],
                )?
                .get(0);
            if sessions > 0 {
                return Err(BackupError::DatabaseInUse {
                    database: target.clone(),
                    sessions,
                });
            }
            Ok(())
        };
        if !opts.check_only {
            in_use(&mut admin)?;
        }
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&target])?
            .is_some();
        admin.batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'",
            quote_ident(&staging)
        ))?;
        let drop_staging = |admin: &mut postgres::Client| {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(&staging)));
        };
        let result = (|| {
            let mut env = pg_env(url)?;
            env.retain(|(k, _)| *k != "PGDATABASE");
            env.push(("PGDATABASE", staging.clone()));
            run_tool(
                "pg_restore",
                pg_command("pg_restore", &env)
                    .args([
                        "--exit-on-error",
                        "--single-transaction",
                        "--no-owner",
                        "--no-privileges",
                    ])
                    .arg("--dbname")
                    .arg(&staging)
                    .arg(&unpacked.database),
            )?;
            let mut staged_config = config.clone();
            staged_config.dbname(&staging);
            let mut staged = staged_config.connect(postgres::NoTls)?;
            let version = pg_schema_version(&mut staged)?;
            if version != unpacked.manifest.schema_version {
                return Err(BackupError::Damaged {
                    path: opts.input.clone(),
                    detail: format!(
                        "its dump restored at schema {version}, its manifest says {}",
                        unpacked.manifest.schema_version
                    ),
                });
            }
            let samples = staged
                .query(SAMPLES, &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            drop(staged);
            check_keys(keys, samples)
        })();
        if let Err(e) = result {
            drop_staging(&mut admin);
            return Err(e);
        }
        if opts.check_only {
            drop_staging(&mut admin);
            return Ok(None);
        }
        // The swap: nobody may have connected meanwhile.
        if let Err(e) = in_use(&mut admin) {
            drop_staging(&mut admin);
            return Err(e);
        }
        let mut kept_name = None;
        if exists {
            let sql = if opts.keep_replaced {
                kept_name = Some(kept.clone());
                format!(
                    "ALTER DATABASE {} RENAME TO {}",
                    quote_ident(&target),
                    quote_ident(&kept)
                )
            } else {
                format!("DROP DATABASE {}", quote_ident(&target))
            };
            if let Err(e) = admin.batch_execute(&sql) {
                drop_staging(&mut admin);
                return Err(e.into());
            }
        }
        if let Err(e) = admin.batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(&staging),
            quote_ident(&target)
        )) {
            if let Some(k) = &kept_name {
                let _ = admin.batch_execute(&format!(
                    "ALTER DATABASE {} RENAME TO {}",
                    quote_ident(k),
                    quote_ident(&target)
                ));
            }
            drop_staging(&mut admin);
            return Err(e.into());
        }
        Ok(kept_name)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_in_the_environment_never_on_the_command_line() {
        let env = pg_env("postgres://leadline:s3cret%2Fpw@db.example.com:6432/crm?sslmode=require").unwrap();
        assert!(env.contains(&("PGPASSWORD", "s3cret/pw".to_owned())), "{env:?}");
        assert!(env.contains(&("PGHOST", "db.example.com".to_owned())));
        assert!(env.contains(&("PGPORT", "6432".to_owned())));
        assert!(env.contains(&("PGDATABASE", "crm".to_owned())));
        assert!(env.contains(&("PGSSLMODE", "require".to_owned())));
        let mut cmd = pg_command("pg_dump", &env);
        cmd.arg("--format=custom").arg("--file").arg("/tmp/x");
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(args.iter().all(|a| !a.contains("s3cret")), "{args:?}");
        assert!(args.contains(&"--no-password".to_owned()));
    }

    #[test]
    fn long_database_names_stay_within_the_identifier_limit() {
        let name = db_name_with(&"x".repeat(70), "_pre_restore_20260101t000000z");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_pre_restore_20260101t000000z"));
    }
}
