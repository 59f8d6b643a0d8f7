//! Leadline's local cache: one SQLite file per signed-in device.
//!
//! - Opening applies the numbered migrations in the workspace's `migrations/` folder (embedded at build time),
//!   turns on WAL and foreign keys, and checks the file; a file that is not a Leadline database is a
//!   [`StoreError::Corrupt`], never silently replaced.
//! - Every local change (a call logged, a lead edited) writes its outbox row in the same transaction, so a
//!   change is either both stored and queued for the server, or neither.
//! - Pulled pages from the server are applied in one transaction each (see [`Store::apply_pull_page`]).
//!
//! - Read side for the UI (all offline): the lead list with filters, search, orders and keyset pages
//!   ([`Store::list_lead_page`]), counts per status ([`Store::lead_status_counts`]), the next-lead queue
//!   ([`Store::next_leads`]), a lead's call history ([`Store::call_history`]) and today's figures
//!   ([`Store::today_figures`]). "Today" and "overdue" come from a caller-given [`Clock`].
//!
//! All client-side SQL lives in this crate.

mod codec;
mod cursor;
mod error;
mod figures;
mod history;
mod leads;
mod local;
mod meta;
mod pull;
mod query;
mod queue;
mod search;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use include_dir::{Dir, include_dir};
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::Migrations;

pub use error::StoreError;
pub use figures::{DEFAULT_CONVERSION_DISPOSITIONS, FiguresQuery, TodayFigures};
pub use history::{CallHistoryPage, CallHistoryQuery};
pub use leads::{LeadQuery, MAX_PAGE, StatusCount};
pub use local::{OutboxEntry, PendingCount};
pub use meta::SyncState;
pub use pull::ApplyReport;
pub use query::{
    Clock, DEFAULT_PAGE, FollowUpDue, LeadFilter, LeadListPage, LeadOrder, LeadOrderKey, LeadPageQuery,
    TimeRange,
};
pub use queue::{QueueEntry, QueuePage, QueueQuery, QueueReason};

static MIGRATION_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

static MIGRATIONS: LazyLock<Result<Migrations<'static>, String>> =
    LazyLock::new(|| Migrations::from_directory(&MIGRATION_DIR).map_err(|e| e.to_string()));

/// The local cache. `Send` but not `Sync`: share it behind a mutex.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if absent) the cache at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::open(path, e))?;
        Self::init(conn, Some(path.to_owned()))
    }

    /// A throwaway cache in memory, for tests and benchmarks.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(StoreError::Sqlite)?;
        Self::init(conn, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        let at = path.as_deref();
        // The first statement that reads the file tells whether it is a database at all.
        let journal: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| StoreError::classify(at, e))?;
        if path.is_some() && !journal.eq_ignore_ascii_case("wal") {
            tracing::warn!(journal, "SQLite refused WAL mode; continuing with {journal}");
        }
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -65536;",
        )
        .map_err(|e| StoreError::classify(at, e))?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| StoreError::classify(at, e))?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: at.map(Path::to_owned),
                detail: check,
            });
        }
        let migrations = MIGRATIONS
            .as_ref()
            .map_err(|e| StoreError::Migration(e.clone()))?;
        migrations.to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => StoreError::classify(at, err),
            other => StoreError::Migration(other.to_string()),
        })?;
        Ok(Self { conn, path })
    }

    /// Where the cache lives (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version the file is at (the number of migrations applied).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        let migrations = MIGRATIONS.as_ref().expect("migrations load");
        migrations.validate().expect("migrations apply cleanly");
    }
}
