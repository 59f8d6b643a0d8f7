//! The SQLite write path: one writer thread with its own connection, committing concurrent write
//! transactions together (group commit).
//!
//! SQLite runs one write transaction at a time, and with `synchronous = FULL` every commit waits for an
//! fsync of the WAL (about 3 ms on the reference VM). When each request took a pooled connection and
//! began its own `BEGIN IMMEDIATE`, concurrent writers queued inside SQLite's busy handler, which sleeps
//! in steps of up to 100 ms, while holding pool connections the readers were waiting for. Here writes
//! queue in memory instead: the writer thread takes every job waiting (up to [`MAX_BATCH`]), runs each
//! in its own savepoint inside one transaction, commits once, and only then answers each job. A job
//! that fails rolls back to its savepoint and leaves no trace; the others commit. So a job sees exactly
//! what it would have seen running alone after the jobs before it, and is acknowledged only once its
//! changes are durable, as before; what is shared is the fsync.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use rusqlite::Connection;

use super::{DbError, Tx};
use crate::pii::PiiKeys;
use crate::sql::SqliteConn;

/// Most jobs one transaction takes; more wait for the next commit.
pub(super) const MAX_BATCH: usize = 64;
/// Jobs that may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

/// Called with the outcome of the commit of the batch that ran the job successfully.
pub(super) type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;

/// A queued write. Given the open transaction it runs and returns `Some((events_recorded, finish))`
/// when it succeeded and waits for the commit, or `None` when it failed (having answered its caller).
/// Given an error (the transaction could not be opened) it answers its caller with it.
pub(super) type Job =
    Box<dyn for<'a, 'b> FnOnce(Result<&'a mut Tx<'b>, DbError>) -> Option<(bool, Finish)> + Send>;

/// The handle the repo keeps: dropping every clone stops the writer thread and closes its connection.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: tokio::sync::mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn` (pragmas applied, schema migrated).
    pub(super) fn start(
        conn: Connection,
        pii: Arc<PiiKeys>,
        events_notify: Arc<tokio::sync::Notify>,
    ) -> Result<Self, DbError> {
        let (jobs, rx) = tokio::sync::mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("leadline-db-writer".into())
            .spawn(move || writer_loop(conn, &pii, &events_notify, rx))
            .map_err(|e| DbError::Interact(format!("starting the database writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Queues `job`; fails only when the writer has stopped.
    pub(super) async fn submit(&self, job: Job) -> Result<(), DbError> {
        self.jobs
            .send(job)
            .await
            .map_err(|_| DbError::Interact("the database writer has stopped".into()))
    }
}

fn writer_loop(
    conn: Connection,
    pii: &PiiKeys,
    events_notify: &tokio::sync::Notify,
    mut rx: tokio::sync::mpsc::Receiver<Job>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if run_batch(&conn, pii, batch) {
            events_notify.notify_one();
        }
    }
    tracing::debug!("database writer stopped");
}

/// The same error again, for every job of a failed batch (rusqlite's error is not `Clone`).
fn copy_error(e: &rusqlite::Error) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
        }
        other => DbError::Interact(other.to_string()),
    }
}

/// What the jobs of a transaction SQLite rolled back on its own are told.
fn rolled_back() -> DbError {
    DbError::Interact("the write transaction was rolled back by the database".into())
}

/// Runs one batch; true when a committed job recorded events.
fn run_batch(conn: &Connection, pii: &PiiKeys, batch: Vec<Job>) -> bool {
    let mut jobs = batch.into_iter();
    let mut events = false;
    loop {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            for job in jobs {
                job(Err(copy_error(&e)));
            }
            return events;
        }
        // Jobs that ran and wait for the commit.
        let mut pending: Vec<Finish> = Vec::new();
        let mut pending_events = false;
        let mut restart = false;
        for job in jobs.by_ref() {
            if let Err(e) = conn.execute_batch("SAVEPOINT group_commit") {
                job(Err(copy_error(&e)));
                restart = conn.is_autocommit();
                if restart {
                    break;
                }
                continue;
            }
            let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut sc = SqliteConn(conn);
                let mut tx = Tx::new(&mut sc, pii);
                job(Ok(&mut tx))
            }));
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back (disk full, I/O error, interrupt): the jobs
                // before this one are undone too. Tell them, and go on in a new transaction.
                for finish in pending.drain(..) {
                    finish(Err(rolled_back()));
                }
                pending_events = false;
                if let Ok(Some((_, finish))) = ran {
                    finish(Err(rolled_back()));
                }
                restart = true;
                break;
            }
            let kept = match ran {
                Ok(Some((recorded, finish))) => match conn.execute_batch("RELEASE group_commit") {
                    Ok(()) => {
                        pending.push(finish);
                        pending_events |= recorded;
                        true
                    }
                    Err(e) => {
                        finish(Err(copy_error(&e)));
                        false
                    }
                },
                // Failed: it answered its caller already.
                Ok(None) => false,
                // Its caller sees the writer drop its answer.
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(
                        panic = what,
                        "a database write panicked; its changes are rolled back"
                    );
                    false
                }
            };
            if !kept && let Err(e) = conn.execute_batch("ROLLBACK TO group_commit; RELEASE group_commit") {
                tracing::error!(error = %e, "rolling back a failed write");
            }
        }
        if conn.is_autocommit() {
            for finish in pending {
                finish(Err(rolled_back()));
            }
        } else {
            match conn.execute_batch("COMMIT") {
                Ok(()) => {
                    events |= pending_events;
                    for finish in pending {
                        finish(Ok(()));
                    }
                }
                Err(e) => {
                    if let Err(e) = conn.execute_batch("ROLLBACK") {
                        tracing::error!(error = %e, "rolling back a failed commit");
                    }
                    for finish in pending {
                        finish(Err(copy_error(&e)));
                    }
                }
            }
        }
        if !restart {
            return events;
        }
    }
}
