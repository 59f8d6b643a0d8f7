//! Local changes: each one writes its row and its outbox entry in one transaction.

use chrono::Utc;
use leadline_model::sync::{LeadPatch, Mutation, MutationOp};
use leadline_model::{CallLog, Id, new_id};
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

use crate::codec::{ts, write};
use crate::search;
use crate::{Store, StoreError};

/// A queued local change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub mutation: Mutation,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// How many local changes wait for the server, and how many it refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCount {
    pub pending: u64,
    pub rejected: u64,
}

fn enqueue(
    tx: &Transaction<'_>,
    entity: &str,
    entity_id: &Id,
    op: MutationOp,
) -> Result<Mutation, StoreError> {
    let mutation = Mutation {
        client_mutation_id: new_id(),
        created_at: Utc::now(),
        op,
    };
    tx.prepare_cached(
        "INSERT INTO outbox (client_mutation_id, entity, entity_id, mutation, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        mutation.client_mutation_id.to_string(),
        entity,
        entity_id.to_string(),
        serde_json::to_string(&mutation)?,
        ts(&mutation.created_at),
    ])?;
    Ok(mutation)
}

impl Store {
    /// Records a finished call and queues it for the server. The lead must be in the cache.
    pub fn log_call(&mut self, call: &CallLog) -> Result<Mutation, StoreError> {
        let tx = self.conn.transaction()?;
        let lead_known: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM leads WHERE id = ?1)")?
            .query_row([call.lead_id.to_string()], |r| r.get(0))?;
        if !lead_known {
            return Err(StoreError::NotFound(format!("lead {}", call.lead_id)));
        }
        if !write::insert_call(&tx, call)? {
            return Err(StoreError::Invalid(format!(
                "call log {} is already recorded",
                call.id
            )));
        }
        let mutation = enqueue(&tx, "call_log", &call.id, MutationOp::CreateCallLog(call.clone()))?;
        search::reindex_lead(&tx, &call.lead_id)?;
        tx.commit()?;
        Ok(mutation)
    }

    /// Applies a user's edit locally and queues it with the version it was based on.
    pub fn update_lead(&mut self, lead_id: &Id, patch: &LeadPatch) -> Result<Mutation, StoreError> {
        let mut lead = self.get_lead(lead_id)?;
        let base_version = lead.version;
        if let Some(s) = patch.status {
            lead.status = s;
        }
        if let Some(p) = patch.priority {
            lead.priority = p;
        }
        if let Some(t) = &patch.tags {
            lead.tags = t.clone();
        }
        if let Some(i) = &patch.interest {
            lead.interest = Some(i.clone());
        }
        if let Some(c) = &patch.city {
            lead.city = Some(c.clone());
        }
        if let Some(e) = &patch.email {
            lead.email = Some(e.clone());
        }
        if let Some(p) = &patch.alternate_phone {
            lead.alternate_phone = Some(p.clone());
        }
        if let Some(b) = patch.budget_inr {
            lead.budget_inr = Some(b);
        }
        lead.updated_at = Utc::now();
        let tx = self.conn.transaction()?;
        write::upsert_lead(&tx, &lead)?;
        let mutation = enqueue(
            &tx,
            "lead",
            lead_id,
            MutationOp::UpdateLead {
                lead_id: *lead_id,
                base_version,
                patch: patch.clone(),
            },
        )?;
        search::reindex_lead(&tx, lead_id)?;
        tx.commit()?;
        Ok(mutation)
    }

    /// The oldest pending changes, in the order they were made.
    pub fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, mutation, attempts, last_error FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?1",
        )?;
        let mut rows = stmt.query([limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let text: String = row.get(1)?;
            out.push(OutboxEntry {
                seq: row.get(0)?,
                mutation: serde_json::from_str(&text)?,
                attempts: row.get(2)?,
                last_error: row.get(3)?,
            });
        }
        Ok(out)
    }

    pub fn pending_count(&self) -> Result<PendingCount, StoreError> {
        let (pending, rejected): (i64, i64) = self.conn.query_row(
            "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'rejected') FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(PendingCount {
            pending: pending.unsigned_abs(),
            rejected: rejected.unsigned_abs(),
        })
    }
}
