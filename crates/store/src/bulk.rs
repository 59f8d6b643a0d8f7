//! Bulk loading: a new device's first pull writes its whole book of leads at once.
//!
//! Every list order, the calling queue and today's figures have an index of their own (schema 3). Kept up
//! row by row, each new lead writes a random page of each of them, and the first pull of 100,000 leads spends
//! most of its time there (and in encrypting those pages). So a first pull of more than one page drops them,
//! loads the rows, and builds each index once at the end, which is one sort per index.
//!
//! The definitions wait in `deferred_indexes` (schema 4), written in the transaction that drops the indexes:
//! whatever happens between (an error, a lost network, a crash), [`Store::restore_list_indexes`] or the next
//! [`Store::open`] builds them again from there. Lookups the pull itself makes (a lead by id, a lead's call
//! notes and follow-ups, the outbox) keep their indexes throughout; lists shown during the load are only
//! slower, never wrong.

use rusqlite::{Connection, OptionalExtension};

use crate::{Store, StoreError};

/// The indexes a pull never reads: list orders and filters, the queue, today's figures.
pub(crate) const DEFERRABLE: &[&str] = &[
    "leads_by_updated",
    "leads_sort_created",
    "leads_sort_name",
    "leads_sort_follow_up",
    "leads_sort_priority",
    "leads_by_status",
    "leads_queue",
    "leads_by_phone",
    "leads_removed",
    "call_logs_by_started",
    "call_logs_by_caller",
    "follow_ups_open_by_due",
    "follow_ups_open_by_assignee",
    "follow_ups_done",
];

impl Store {
    /// Drops the list indexes for a bulk load when the cache holds no lead yet; `true` when it did. Call
    /// [`Store::restore_list_indexes`] when the load ends, however it ends.
    pub fn defer_list_indexes(&mut self) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let empty: bool = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM leads)", [], |r| r.get(0))?;
        if !empty {
            return Ok(false);
        }
        let mut deferred = 0;
        for name in DEFERRABLE {
            let sql: Option<String> = tx
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(sql) = sql else { continue };
            tx.execute(
                "INSERT INTO deferred_indexes (name, sql) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET sql = excluded.sql",
                [name, &sql.as_str()],
            )?;
            tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
            deferred += 1;
        }
        tx.commit()?;
        if deferred > 0 {
            tracing::debug!(deferred, "list indexes dropped for a bulk load");
        }
        Ok(deferred > 0)
    }

    /// Builds every index a bulk load dropped (none when nothing is deferred); returns how many.
    pub fn restore_list_indexes(&mut self) -> Result<usize, StoreError> {
        restore(&mut self.conn)
    }

    /// The indexes dropped for a bulk load and not built again yet.
    pub fn deferred_indexes(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM deferred_indexes ORDER BY name")?;
        let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(names)
    }
}

/// Builds the deferred indexes in one transaction. Also run by `open` before migrations, so a migration
/// always finds the schema it was written against.
pub(crate) fn restore(conn: &mut Connection) -> Result<usize, StoreError> {
    let table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deferred_indexes')",
        [],
        |r| r.get(0),
    )?;
    if !table {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let pending: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT name, sql FROM deferred_indexes ORDER BY name")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (name, sql) in &pending {
        let present: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if !present {
            tx.execute_batch(sql)?;
        }
    }
    tx.execute("DELETE FROM deferred_indexes", [])?;
    tx.commit()?;
    if !pending.is_empty() {
        tracing::debug!(built = pending.len(), "list indexes built after a bulk load");
    }
    Ok(pending.len())
}

/// `conn.prepare_cached` of [`runnable`]`(sql)`: how every statement that names an index is prepared.
pub(crate) fn prepare_hinted<'c>(
    conn: &'c Connection,
    sql: &str,
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    Ok(conn.prepare_cached(&runnable(conn, sql)?)?)
}

/// `sql` as it can run now. While a bulk load has indexes dropped, an `INDEXED BY` naming one of them is
/// taken out (SQLite refuses a statement whose named index is missing): lists, the queue and today's
/// figures keep working during a first sync, by scanning, until the indexes are back.
pub(crate) fn runnable<'a>(conn: &Connection, sql: &'a str) -> Result<std::borrow::Cow<'a, str>, StoreError> {
    if !sql.contains("INDEXED BY") {
        return Ok(sql.into());
    }
    let mut stmt = conn.prepare_cached("SELECT name FROM deferred_indexes")?;
    let deferred = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if deferred.is_empty() {
        return Ok(sql.into());
    }
    let mut text = sql.to_owned();
    for name in deferred {
        for hint in [format!("INDEXED BY {name}"), format!("INDEXED BY \"{name}\"")] {
            text = text.replace(&hint, "");
        }
    }
    Ok(text.into())
}
