//! Sending the outbox: picking the next batch and taking the server's answers.
//!
//! An outbox row leaves only when the server confirms it (`applied` or `duplicate`), in the transaction
//! that records the answer. A push cut off before its answer leaves every row pending: sending it again is
//! safe, the server remembers client mutation ids.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use leadline_model::sync::{FieldValues, LeadPatch, Mutation, MutationOp, MutationResult, MutationStatus};
use leadline_model::{Id, Lead, new_id};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::codec::ts;
use crate::local::{OUTBOX_COLUMNS, OutboxEntry, outbox_from_row, refresh_view, show};
use crate::{Store, StoreError};

/// The most mutations the server takes in one push.
pub const PUSH_MAX_MUTATIONS: usize = 500;
/// A push stays under this many bytes of mutations (the server refuses bodies over 8 MiB).
pub const PUSH_MAX_BYTES: usize = 4 * 1024 * 1024;

/// What one push's answers did locally.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushOutcome {
    /// Confirmed by the server (applied now, or before: duplicate) and gone from the outbox.
    pub confirmed: u32,
    /// Edits whose lead changed on the server in other fields only: rebased on the server's version and
    /// queued again.
    pub rebased: u32,
    /// Edits that lost to someone else's edit of the same field, now visible conflicts.
    pub conflicts: Vec<Id>,
    /// Changes the server refused for good, now kept as rejected, with the reason.
    pub rejected: Vec<(Id, String)>,
    /// Sent but not answered (the server's answer did not name them): still pending.
    pub unanswered: u32,
    /// Leads taken away from this user whose last unsent change just went: gone from the cache.
    pub leads_dropped: Vec<Id>,
}

impl Store {
    /// The next changes to send, oldest first: at most `max` mutations and about `max_bytes` of JSON.
    /// Only the first pending edit of a lead goes in one batch: the next is based on the version the first
    /// makes, and follows in the next batch. Only reads: the attempt is recorded with its outcome
    /// ([`Store::apply_push_results`], [`Store::note_push_failure`]), so picking a batch costs no commit.
    pub fn next_push_batch(&mut self, max: usize, max_bytes: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::new();
        {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS}, length(mutation) FROM outbox WHERE state = 'pending' ORDER BY seq"
            ))?;
            let mut rows = stmt.query([])?;
            let mut edited: HashSet<Id> = HashSet::new();
            let mut bytes = 0_usize;
            while let Some(row) = rows.next()? {
                if out.len() >= max {
                    break;
                }
                let len = usize::try_from(row.get::<_, i64>(6)?).unwrap_or(usize::MAX);
                if !out.is_empty() && bytes.saturating_add(len) > max_bytes {
                    break;
                }
                let entry = outbox_from_row(row)?;
                if let MutationOp::UpdateLead { lead_id, .. } = &entry.mutation.op
                    && !edited.insert(*lead_id)
                {
                    continue;
                }
                bytes = bytes.saturating_add(len);
                out.push(entry);
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Notes why a push of `sent` failed as a whole (network, server error): the rows stay pending.
    pub fn note_push_failure(&mut self, sent: &[OutboxEntry], error: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let now = ts(&Utc::now());
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET last_error = ?2, sent_at = ?3, attempts = attempts + 1
                 WHERE seq = ?1 AND state = 'pending'",
            )?;
            for e in sent {
                stmt.execute(params![e.seq, error, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the server's answers to `sent`, in one transaction (see the module docs).
    pub fn apply_push_results(
        &mut self,
        sent: &[OutboxEntry],
        results: &[MutationResult],
    ) -> Result<PushOutcome, StoreError> {
        let by_id: HashMap<Id, &MutationStatus> = results
            .iter()
            .map(|r| (r.client_mutation_id, &r.status))
            .collect();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut outcome = PushOutcome::default();
        let now = ts(&Utc::now());
        for entry in sent {
            let status = by_id.get(&entry.mutation.client_mutation_id);
            if !matches!(status, Some(MutationStatus::Applied | MutationStatus::Duplicate)) {
                // Stays in the outbox (pending, rebased or rejected): one more attempt made.
                tx.prepare_cached("UPDATE outbox SET sent_at = ?2, attempts = attempts + 1 WHERE seq = ?1")?
                    .execute(params![entry.seq, now])?;
            }
            let Some(status) = status else {
                outcome.unanswered += 1;
                continue;
            };
            match status {
                MutationStatus::Applied | MutationStatus::Duplicate => {
                    let gone = tx
                        .prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND state = 'pending'")?
                        .execute([entry.seq])?;
                    if gone == 1 {
                        outcome.confirmed += 1;
                    }
                    if let MutationOp::UpdateLead {
                        lead_id,
                        base_version,
                        patch,
                    } = &entry.mutation.op
                    {
                        if matches!(status, MutationStatus::Applied) {
                            edit_applied(&tx, lead_id, *base_version)?;
                            refresh_view(&tx, lead_id, Some((*base_version, patch)))?;
                        } else {
                            refresh_view(&tx, lead_id, None)?;
                        }
                    }
                }
                MutationStatus::Conflict { current } => match &entry.mutation.op {
                    MutationOp::UpdateLead { patch, .. } => {
                        match settle_conflict(&tx, entry, patch, current)? {
                            Settled::Rebased => outcome.rebased += 1,
                            Settled::Recorded(id) => outcome.conflicts.push(id),
                            Settled::Nothing => outcome.confirmed += 1,
                        }
                    }
                    // Only edits carry a version; any other op answered `conflict` is a server bug: keep it.
                    _ => reject(
                        &tx,
                        entry,
                        "conflict: the server reported a conflict for a change without a version",
                        &mut outcome,
                    )?,
                },
                MutationStatus::Rejected { reason } => {
                    reject(&tx, entry, reason, &mut outcome)?;
                }
            }
        }
        // Nothing searchable changes with an answer (names, phones and notes are the same), so no reindex.
        outcome.leads_dropped = purge_removed(&tx)?;
        tx.commit()?;
        Ok(outcome)
    }
}

/// The server applied an edit based on `base_version`: it is now at `base_version + 1` (it bumps the
/// version by one per change). Later edits of the lead that were based on the same version follow it.
fn edit_applied(conn: &Connection, lead_id: &Id, base_version: i64) -> Result<(), StoreError> {
    let next = base_version + 1;
    let later: Vec<(i64, String)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, mutation FROM outbox WHERE lead_id = ?1 AND entity = 'lead' AND state = 'pending' ORDER BY seq",
        )?;
        stmt.query_map([lead_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (seq, text) in later {
        let mut m: Mutation = serde_json::from_str(&text)?;
        if let MutationOp::UpdateLead { base_version: b, .. } = &mut m.op
            && *b == base_version
        {
            *b = next;
            conn.prepare_cached("UPDATE outbox SET mutation = ?2 WHERE seq = ?1")?
                .execute(params![seq, serde_json::to_string(&m)?])?;
        }
    }
    Ok(())
}

enum Settled {
    /// Queued again on the server's version (the fields it changed are not the ones edited).
    Rebased,
    /// A visible conflict (and any part of the edit that did not clash rebased and queued again).
    Recorded(Id),
    /// The server already holds the edit's values.
    Nothing,
}

fn base_of(conn: &Connection, seq: i64) -> Result<Option<FieldValues>, StoreError> {
    let text: Option<Option<String>> = conn
        .prepare_cached("SELECT base FROM outbox WHERE seq = ?1")?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    Ok(text.flatten().as_deref().map(serde_json::from_str).transpose()?)
}

/// Field by field: a field the server holds at the user's value is done; a field the server did not
/// change since the user saw it (its value is still the edit's base) is rebased; any other field clashes
/// and becomes a conflict record. The lead row becomes the server's, with the pending edits on top.
fn settle_conflict(
    conn: &Connection,
    entry: &OutboxEntry,
    patch: &LeadPatch,
    current: &Lead,
) -> Result<Settled, StoreError> {
    let base = base_of(conn, entry.seq)?.unwrap_or_default();
    let theirs = patch.values_in(current);
    let mine = patch.values_after(current);
    let mut rebase = Vec::new();
    let mut clash = Vec::new();
    for field in patch.fields() {
        if theirs.get(field) == mine.get(field) {
            continue;
        }
        if base.contains_key(field) && base.get(field) == theirs.get(field) {
            rebase.push(field);
        } else {
            clash.push(field);
        }
    }
    let keep = |fields: &[&str], values: &FieldValues| -> FieldValues {
        values
            .iter()
            .filter(|(k, _)| fields.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if rebase.is_empty() {
        conn.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
            .execute([entry.seq])?;
    } else {
        let mut m = entry.mutation.clone();
        m.op = MutationOp::UpdateLead {
            lead_id: current.id,
            base_version: current.version,
            patch: patch.only(&rebase),
        };
        conn.prepare_cached(
            "UPDATE outbox SET mutation = ?2, base = ?3, sent_at = NULL, last_error = NULL WHERE seq = ?1",
        )?
        .execute(params![
            entry.seq,
            serde_json::to_string(&m)?,
            serde_json::to_string(&keep(&rebase, &base))?
        ])?;
    }
    let settled = if clash.is_empty() {
        if rebase.is_empty() {
            Settled::Nothing
        } else {
            Settled::Rebased
        }
    } else {
        let id = new_id();
        conn.prepare_cached(
            "INSERT INTO conflicts (id, lead_id, client_mutation_id, patch, base, theirs, server_version,
                                    edited_at, detected_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            id.to_string(),
            current.id.to_string(),
            entry.mutation.client_mutation_id.to_string(),
            serde_json::to_string(&patch.only(&clash))?,
            serde_json::to_string(&keep(&clash, &base))?,
            serde_json::to_string(&keep(&clash, &theirs))?,
            current.version,
            ts(&entry.mutation.created_at),
            ts(&Utc::now()),
        ])?;
        Settled::Recorded(id)
    };
    // The server's row is the truth now; the edits still on their way show on top of it.
    let removed: bool = conn
        .prepare_cached("SELECT coalesce((SELECT removed FROM leads WHERE id = ?1), 0)")?
        .query_row([current.id.to_string()], |r| r.get(0))?;
    show(conn, current)?;
    if removed {
        conn.prepare_cached("UPDATE leads SET removed = 1 WHERE id = ?1")?
            .execute([current.id.to_string()])?;
    }
    Ok(settled)
}

/// Keeps a refused change, visibly; the visible row becomes the server's row plus the edits still
/// pending.
fn reject(
    conn: &Connection,
    entry: &OutboxEntry,
    reason: &str,
    outcome: &mut PushOutcome,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'rejected', last_error = ?2, sent_at = NULL WHERE seq = ?1 AND state = 'pending'",
    )?
    .execute(params![entry.seq, reason])?;
    if let MutationOp::UpdateLead { lead_id, .. } = &entry.mutation.op {
        refresh_view(conn, lead_id, None)?;
    }
    outcome
        .rejected
        .push((entry.mutation.client_mutation_id, reason.to_owned()));
    Ok(())
}

/// Deletes leads taken away from this user once no change of theirs waits in the outbox (pending or
/// refused), with their call logs and follow-ups.
pub(crate) fn purge_removed(conn: &Connection) -> Result<Vec<Id>, StoreError> {
    let ids: Vec<String> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM leads l WHERE removed = 1 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.lead_id = l.id)",
        )?;
        stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        conn.prepare_cached("DELETE FROM lead_search WHERE rowid = (SELECT rowid FROM leads WHERE id = ?1)")?
            .execute([&id])?;
        conn.prepare_cached("DELETE FROM follow_ups WHERE lead_id = ?1")?
            .execute([&id])?;
        conn.prepare_cached("DELETE FROM call_logs WHERE lead_id = ?1")?
            .execute([&id])?;
        conn.prepare_cached("DELETE FROM leads WHERE id = ?1")?
            .execute([&id])?;
        out.push(crate::codec::parse_id(&id)?);
    }
    Ok(out)
}
