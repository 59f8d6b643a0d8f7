//! Local changes: each one writes its row and its outbox entry in one transaction.

use chrono::Utc;
use leadline_model::sync::{FieldValues, LeadPatch, Mutation, MutationOp};
use leadline_model::{CallLog, FollowUp, Id, Lead, Timestamp, User, new_id};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::codec::{self, FOLLOW_UP_COLUMNS, LEAD_COLUMNS, ts, write};
use crate::search;
use crate::{Store, StoreError};

/// A queued local change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub mutation: Mutation,
    /// The lead the change belongs to.
    pub lead_id: Option<Id>,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// `pending` (waiting for the server) or `rejected` (refused for good; kept and shown).
    pub state: String,
}

/// How many local changes wait for the server, how many it refused, and how many edits lost to someone
/// else's and wait for the user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCount {
    pub pending: u64,
    pub rejected: u64,
    pub conflicts: u64,
}

pub(crate) const OUTBOX_COLUMNS: &str = "seq, mutation, lead_id, attempts, last_error, state";

pub(crate) fn outbox_from_row(row: &rusqlite::Row<'_>) -> Result<OutboxEntry, StoreError> {
    let text: String = row.get(1)?;
    let lead: Option<String> = row.get(2)?;
    Ok(OutboxEntry {
        seq: row.get(0)?,
        mutation: serde_json::from_str(&text)?,
        lead_id: lead.as_deref().map(codec::parse_id).transpose()?,
        attempts: row.get(3)?,
        last_error: row.get(4)?,
        state: row.get(5)?,
    })
}

/// Queues `op` for the server. `base` (edits of a lead only) holds the values the edit replaced.
pub(crate) fn enqueue(
    tx: &Connection,
    entity: &str,
    entity_id: &Id,
    lead_id: &Id,
    op: MutationOp,
    base: Option<&FieldValues>,
) -> Result<Mutation, StoreError> {
    let mutation = Mutation {
        client_mutation_id: new_id(),
        created_at: Utc::now(),
        op,
    };
    tx.prepare_cached(
        "INSERT INTO outbox (client_mutation_id, entity, entity_id, lead_id, mutation, base, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        mutation.client_mutation_id.to_string(),
        entity,
        entity_id.to_string(),
        lead_id.to_string(),
        serde_json::to_string(&mutation)?,
        base.map(serde_json::to_string).transpose()?,
        ts(&mutation.created_at),
    ])?;
    Ok(mutation)
}

pub(crate) fn lead_in(conn: &Connection, id: &Id) -> Result<Option<Lead>, StoreError> {
    conn.prepare_cached(&format!("SELECT {LEAD_COLUMNS} FROM leads WHERE id = ?1"))?
        .query_row([id.to_string()], |r| Ok(codec::lead_from_row(r)))
        .optional()?
        .transpose()
}

fn follow_up_in(conn: &Connection, id: &Id) -> Result<Option<FollowUp>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {FOLLOW_UP_COLUMNS} FROM follow_ups WHERE id = ?1"
    ))?
    .query_row([id.to_string()], |r| Ok(codec::follow_up_from_row(r)))
    .optional()?
    .transpose()
}

/// A listed lead (not taken away from this user), or `NotFound`.
pub(crate) fn listed_lead(conn: &Connection, id: &Id) -> Result<Lead, StoreError> {
    let removed: Option<bool> = conn
        .prepare_cached("SELECT removed FROM leads WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    match removed {
        Some(false) => lead_in(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("lead {id}"))),
        Some(true) => Err(StoreError::Invalid(format!(
            "lead {id} was reassigned away from you; it can no longer be changed here"
        ))),
        None => Err(StoreError::NotFound(format!("lead {id}"))),
    }
}

/// The pending edits of a lead, in the order they were made.
pub(crate) fn pending_patches(conn: &Connection, lead_id: &Id) -> Result<Vec<LeadPatch>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT mutation FROM outbox WHERE lead_id = ?1 AND entity = 'lead' AND state = 'pending' ORDER BY seq",
    )?;
    let mut rows = stmt.query([lead_id.to_string()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        if let MutationOp::UpdateLead { patch, .. } = serde_json::from_str::<Mutation>(&text)?.op {
            out.push(patch);
        }
    }
    Ok(out)
}

/// The lead as the server last sent it, when this device shows unsent edits on top of it.
pub(crate) fn server_row(conn: &Connection, id: &Id) -> Result<Option<Lead>, StoreError> {
    let text: Option<Option<String>> = conn
        .prepare_cached("SELECT server_row FROM leads WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(text.flatten().as_deref().map(serde_json::from_str).transpose()?)
}

/// Writes the server's `lead` with this device's pending edits on top, so a pull never hides an edit
/// that is still on its way (the version stays the server's: new edits are based on it). The server's
/// row is kept beside it while edits are pending, so the visible row can be computed again when they are
/// confirmed or refused. A row older than the one already known is ignored. `edits_pending`: whether the
/// outbox holds any lead edit at all (when not, the per-lead lookups are skipped). Answers whether the
/// lead was listed here before.
pub(crate) fn write_with_pending(
    conn: &Connection,
    lead: &Lead,
    edits_pending: bool,
) -> Result<bool, StoreError> {
    let known: Option<(i64, bool, Option<String>)> = conn
        .prepare_cached("SELECT version, removed, server_row FROM leads WHERE id = ?1")?
        .query_row([lead.id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let listed = known.as_ref().is_some_and(|(_, removed, _)| !removed);
    let newest = match &known {
        Some((_, _, Some(row))) => Some(serde_json::from_str::<Lead>(row)?.version),
        Some((v, false, None)) => Some(*v),
        _ => None,
    };
    if newest.is_some_and(|v| v > lead.version) {
        return Ok(listed);
    }
    if edits_pending || known.as_ref().is_some_and(|(_, _, row)| row.is_some()) {
        show(conn, lead)?;
    } else {
        write::upsert_lead(conn, lead)?;
    }
    Ok(listed)
}

/// Whether any edit of a lead waits in the outbox.
pub(crate) fn any_edit_pending(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE entity = 'lead' AND state = 'pending')")?
        .query_row([], |r| r.get(0))?)
}

/// Writes the visible row: `lead` (the server's) plus the pending edits.
pub(crate) fn show(conn: &Connection, lead: &Lead) -> Result<(), StoreError> {
    let patches = pending_patches(conn, &lead.id)?;
    let mut shown = lead.clone();
    for p in &patches {
        p.apply_to(&mut shown);
    }
    write::upsert_lead(conn, &shown)?;
    let kept = if patches.is_empty() {
        None
    } else {
        Some(serde_json::to_string(lead)?)
    };
    conn.prepare_cached("UPDATE leads SET server_row = ?2 WHERE id = ?1")?
        .execute(params![lead.id.to_string(), kept])?;
    Ok(())
}

/// After an edit of `lead_id` was confirmed (`applied`: the server applied `patch` on `base_version`),
/// refused, or settled: computes the visible row again from the server's row and the edits still pending.
pub(crate) fn refresh_view(
    conn: &Connection,
    lead_id: &Id,
    applied: Option<(i64, &LeadPatch)>,
) -> Result<(), StoreError> {
    let Some(mut row) = server_row(conn, lead_id)? else {
        // No edit was pending: the visible row is the server's; an applied edit moved its version.
        if let Some((base, _)) = applied {
            conn.prepare_cached("UPDATE leads SET version = ?2 WHERE id = ?1 AND version = ?3")?
                .execute(params![lead_id.to_string(), base + 1, base])?;
        }
        return Ok(());
    };
    if let Some((base, patch)) = applied
        && row.version == base
    {
        patch.apply_to(&mut row);
        row.version = base + 1;
    }
    let removed: bool = conn
        .prepare_cached("SELECT removed FROM leads WHERE id = ?1")?
        .query_row([lead_id.to_string()], |r| r.get(0))?;
    show(conn, &row)?;
    if removed {
        conn.prepare_cached("UPDATE leads SET removed = 1 WHERE id = ?1")?
            .execute([lead_id.to_string()])?;
    }
    Ok(())
}

impl Store {
    /// The signed-in user of this cache.
    pub fn me(&self) -> Result<User, StoreError> {
        self.sync_state()?.user.ok_or(StoreError::NotSignedIn)
    }

    /// Records a finished call and queues it for the server. The lead must be in the cache. A call log
    /// with a follow-up also shows that follow-up at once (the server creates the same row, same id).
    /// Implausible quality figures ([`leadline_model::CallQuality::check`]) are refused
    /// ([`StoreError::Invalid`]), so the server never has to reject them.
    pub fn log_call(&mut self, call: &CallLog) -> Result<Mutation, StoreError> {
        self.log_call_and(call, |_| Ok(()))
    }

    /// [`Store::log_call`], running `also` in the same transaction before it commits.
    pub(crate) fn log_call_and(
        &mut self,
        call: &CallLog,
        also: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<Mutation, StoreError> {
        crate::codec::check_quality(call.quality.as_ref())?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let lead = lead_in(&tx, &call.lead_id)?
            .ok_or_else(|| StoreError::NotFound(format!("lead {}", call.lead_id)))?;
        if !write::insert_call(&tx, call)? {
            return Err(StoreError::Invalid(format!(
                "call log {} is already recorded",
                call.id
            )));
        }
        if let Some(f) = call.scheduled_follow_up(lead.assigned_to.unwrap_or(call.telecaller_id)) {
            write::upsert_follow_up(&tx, &f)?;
        }
        let mutation = enqueue(
            &tx,
            "call_log",
            &call.id,
            &call.lead_id,
            MutationOp::CreateCallLog(call.clone()),
            None,
        )?;
        search::reindex_lead(&tx, &call.lead_id)?;
        also(&tx)?;
        tx.commit()?;
        Ok(mutation)
    }

    /// Applies a user's edit locally and queues it with the version it was based on and the values it
    /// replaced (so a later conflict can tell which fields really clash). An edit that changes nothing
    /// is refused.
    pub fn update_lead(&mut self, lead_id: &Id, patch: &LeadPatch) -> Result<Mutation, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mutation = edit_lead(&tx, lead_id, patch)?;
        tx.commit()?;
        Ok(mutation)
    }

    /// Schedules a callback on a lead for the signed-in user.
    pub fn schedule_follow_up(
        &mut self,
        lead_id: &Id,
        due_at: Timestamp,
        note: Option<String>,
    ) -> Result<FollowUp, StoreError> {
        let me = self.me()?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        listed_lead(&tx, lead_id)?;
        let f = FollowUp {
            id: new_id(),
            lead_id: *lead_id,
            assigned_to: me.id,
            due_at,
            note: note.filter(|n| !n.trim().is_empty()),
            call_log_id: None,
            completed_at: None,
            created_at: Utc::now(),
        };
        write::upsert_follow_up(&tx, &f)?;
        enqueue(
            &tx,
            "follow_up",
            &f.id,
            lead_id,
            MutationOp::CreateFollowUp(f.clone()),
            None,
        )?;
        tx.commit()?;
        Ok(f)
    }

    /// Marks an open follow-up done.
    pub fn complete_follow_up(&mut self, id: &Id, at: Timestamp) -> Result<Mutation, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut f = follow_up_in(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("follow-up {id}")))?;
        if f.completed_at.is_some() {
            return Err(StoreError::Invalid(format!("follow-up {id} is already done")));
        }
        f.completed_at = Some(at);
        write::upsert_follow_up(&tx, &f)?;
        let m = enqueue(
            &tx,
            "follow_up",
            id,
            &f.lead_id,
            MutationOp::CompleteFollowUp {
                follow_up_id: *id,
                completed_at: at,
            },
            None,
        )?;
        tx.commit()?;
        Ok(m)
    }

    /// Moves an open follow-up to a new time.
    pub fn reschedule_follow_up(&mut self, id: &Id, due_at: Timestamp) -> Result<Mutation, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut f = follow_up_in(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("follow-up {id}")))?;
        if f.completed_at.is_some() {
            return Err(StoreError::Invalid(format!(
                "follow-up {id} is already done; schedule a new one"
            )));
        }
        f.due_at = due_at;
        write::upsert_follow_up(&tx, &f)?;
        let m = enqueue(
            &tx,
            "follow_up",
            id,
            &f.lead_id,
            MutationOp::RescheduleFollowUp {
                follow_up_id: *id,
                due_at,
            },
            None,
        )?;
        tx.commit()?;
        Ok(m)
    }

    /// The oldest pending changes, in the order they were made.
    pub fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_where("state = 'pending'", limit)
    }

    /// Changes the server refused for good, oldest first: shown to the user, never dropped silently.
    pub fn rejected_changes(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_where("state = 'rejected'", u32::MAX)
    }

    fn outbox_where(&self, filter: &str, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE {filter} ORDER BY seq LIMIT ?1"
        ))?;
        let mut rows = stmt.query([i64::from(limit)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(outbox_from_row(row)?);
        }
        Ok(out)
    }

    /// Sends a refused change again (after the cause was fixed, e.g. the disposition was re-enabled).
    pub fn retry_rejected(&mut self, seq: i64) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE outbox SET state = 'pending', last_error = NULL WHERE seq = ?1 AND state = 'rejected'",
            [seq],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("refused change {seq}")));
        }
        Ok(())
    }

    pub fn pending_count(&self) -> Result<PendingCount, StoreError> {
        let (pending, rejected, conflicts): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'),
                    (SELECT count(*) FROM outbox WHERE state = 'rejected'),
                    (SELECT count(*) FROM conflicts WHERE resolved_at IS NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(PendingCount {
            pending: pending.unsigned_abs(),
            rejected: rejected.unsigned_abs(),
            conflicts: conflicts.unsigned_abs(),
        })
    }
}

/// Edits a listed lead: writes the new values and queues the edit, in `tx`.
pub(crate) fn edit_lead(
    tx: &Transaction<'_>,
    lead_id: &Id,
    patch: &LeadPatch,
) -> Result<Mutation, StoreError> {
    let mut lead = listed_lead(tx, lead_id)?;
    let base = patch.values_in(&lead);
    if patch.values_after(&lead) == base {
        return Err(StoreError::Invalid("the edit changes nothing".into()));
    }
    let base_version = lead.version;
    if server_row(tx, lead_id)?.is_none() {
        // No edit pending: the visible row is the server's; keep it beside the edited one.
        tx.prepare_cached("UPDATE leads SET server_row = ?2 WHERE id = ?1")?
            .execute(params![lead_id.to_string(), serde_json::to_string(&lead)?])?;
    }
    patch.apply_to(&mut lead);
    lead.updated_at = Utc::now();
    write::upsert_lead(tx, &lead)?;
    let mutation = enqueue(
        tx,
        "lead",
        lead_id,
        lead_id,
        MutationOp::UpdateLead {
            lead_id: *lead_id,
            base_version,
            patch: patch.clone(),
        },
        Some(&base),
    )?;
    search::reindex_lead(tx, lead_id)?;
    Ok(mutation)
}
