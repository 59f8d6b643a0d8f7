//! Leadline's local cache: one SQLite file per signed-in device, encrypted at rest (SQLCipher).
//!
//! - Opening sets the key ([`key`]: a random 256-bit key per data folder, in the OS keyring or a 0600 file),
//!   verifies it, applies the numbered migrations in the workspace's `migrations/` folder (embedded at build
//!   time), turns on WAL, `synchronous = FULL` and foreign keys, and checks the file. A file the key cannot
//!   read is [`StoreError::WrongKey`] and stays untouched; an unencrypted cache of an earlier version is
//!   encrypted in place; a damaged file is moved aside (never deleted) after its pending changes are
//!   exported, and a fresh cache takes its place with those changes queued again ([`OpenReport`]).
//! - Every local change (a call logged, a lead edited) writes its outbox row in the same transaction, so a
//!   change is either both stored and queued for the server, or neither.
//! - Pulled pages from the server are applied in one transaction each (see [`Store::apply_pull_page`]).
//!
//! - CSV export and import ([`Store::export_leads_csv`], [`Store::import_leads_csv`]) with the server's
//!   import rules (`leadline_model::import`); an import queues each new lead as `create_lead`.
//! - Read side for the UI (all offline): the lead list with filters, search, orders and keyset pages
//!   ([`Store::list_lead_page`]), counts per status ([`Store::lead_status_counts`]), the next-lead queue
//!   ([`Store::next_leads`]), a lead's call history ([`Store::call_history`]) and today's figures
//!   ([`Store::today_figures`]). "Today" and "overdue" come from a caller-given [`Clock`].
//!
//! All client-side SQL lives in this crate.

mod bulk;
mod codec;
mod conflicts;
mod csv;
mod cursor;
mod drafts;
mod error;
mod figures;
mod history;
pub mod key;
mod leads;
mod local;
mod meta;
mod open;
mod pull;
mod push;
mod query;
mod queue;
mod search;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use include_dir::{Dir, include_dir};
use rusqlite::Connection;
use rusqlite_migration::Migrations;

pub use conflicts::{Conflict, ConflictField};
pub use csv::{
    CALL_EXPORT_COLUMNS, CallExport, EXPORT_PAGE, LEAD_EXPORT_COLUMNS, LeadExport, LocalImport, guard_formula,
};
pub use drafts::{CallDraft, CallVia, WrapUp};
pub use error::StoreError;
pub use figures::{DEFAULT_CONVERSION_DISPOSITIONS, DayBreakdown, FiguresQuery, TodayFigures};
pub use history::{CallHistoryPage, CallHistoryQuery};
pub use key::{KeySource, KeyStorage, LoadedKey, StoreKey};
pub use leads::{LeadQuery, MAX_PAGE, StatusCount};
pub use local::{OutboxEntry, PendingCount};
pub use meta::SyncState;
pub use open::{OpenCheck, OpenReport, keycheck_path};
pub use pull::ApplyReport;
pub use push::{PUSH_MAX_BYTES, PUSH_MAX_MUTATIONS, PushOutcome};
pub use query::{
    Clock, DEFAULT_PAGE, FollowUpDue, LeadFilter, LeadListPage, LeadOrder, LeadOrderKey, LeadPageQuery,
    TimeRange,
};
pub use queue::{QueueEntry, QueuePage, QueueQuery, QueueReason};

static MIGRATION_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

static MIGRATIONS: LazyLock<Result<Migrations<'static>, String>> =
    LazyLock::new(|| Migrations::from_directory(&MIGRATION_DIR).map_err(|e| e.to_string()));

/// The schema version this binary migrates the cache to: the number of its migrations.
pub fn schema_version() -> i64 {
    MIGRATION_DIR.dirs().count() as i64
}

/// Migrates a connection's database to `version` exactly (at most this binary's), with the SQL functions
/// the migrations call: for upgrade tests, which build every older schema and then open it with
/// [`Store::open`].
#[doc(hidden)]
pub fn migrate_to_version(conn: &mut Connection, version: usize) -> Result<(), StoreError> {
    search::register_functions(conn)?;
    let migrations = MIGRATIONS
        .as_ref()
        .map_err(|e| StoreError::Migration(e.clone()))?;
    migrations
        .to_version(conn, version)
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// The local cache. `Send` but not `Sync`: share it behind a mutex.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    report: OpenReport,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    fn from_conn(conn: Connection, path: Option<PathBuf>) -> Self {
        Self {
            conn,
            path,
            report: OpenReport::default(),
        }
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
        // On a fresh connection with the store's SQL functions (migrations call them), as the store runs them.
        let migrations = MIGRATIONS.as_ref().expect("migrations load");
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory database");
        search::register_functions(&conn).expect("functions");
        migrations.to_latest(&mut conn).expect("migrations apply cleanly");
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version as usize, MIGRATION_DIR.dirs().count());
    }

    #[test]
    fn call_drafts_of_an_older_cache_are_softphone_calls_after_the_upgrade() {
        let migrations = MIGRATIONS.as_ref().expect("migrations load");
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory database");
        search::register_functions(&conn).expect("functions");
        migrations
            .to_version(&mut conn, 6)
            .expect("the schema before click-to-call");
        conn.execute(
            "INSERT INTO call_drafts (id, direction, remote, started_at, last_seen_at)
             VALUES ('d1', 'outbound', '+919876543210', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [],
        )
        .expect("an old draft");
        migrations.to_latest(&mut conn).expect("upgrade");
        let via: String = conn
            .query_row("SELECT via FROM call_drafts WHERE id = 'd1'", [], |r| r.get(0))
            .expect("via");
        assert_eq!(via, "softphone");
        assert!(
            conn.execute("UPDATE call_drafts SET via = 'carrier_pigeon'", [])
                .is_err(),
            "only known routes"
        );
    }

    #[test]
    fn the_search_index_of_an_older_cache_is_folded_on_upgrade() {
        let migrations = MIGRATIONS.as_ref().expect("migrations load");
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory database");
        search::register_functions(&conn).expect("functions");
        migrations
            .to_version(&mut conn, 4)
            .expect("the schema before folding");
        conn.execute(
            "INSERT INTO lead_search (rowid, name, phones, notes)
             VALUES (7, 'José MÜLLER', '919876543210 9876543210', 'Wants a Kundan set.')",
            [],
        )
        .expect("an old index row");
        migrations.to_latest(&mut conn).expect("upgrade");
        let find = |q: &str| -> Vec<i64> {
            conn.prepare("SELECT rowid FROM lead_search WHERE lead_search MATCH ?1")
                .expect("query")
                .query_map([q], |r| r.get(0))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        assert_eq!(find("\"jose\"* \"mull\"*"), vec![7]);
        assert_eq!(find("phones : \"98765\"*"), vec![7]);
        assert_eq!(find("\"kundan\""), vec![7]);
        let row: (String, String) = conn
            .query_row("SELECT name, notes FROM lead_search WHERE rowid = 7", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("row");
        assert_eq!(
            row,
            (
                "jose muller \u{B7}j \u{B7}m".to_owned(),
                "wants a kundan set".to_owned()
            )
        );
        assert_eq!(find("name : \"\u{B7}m\""), vec![7]);
    }
}
