//! Edits that lost to someone else's edit of the same field: kept, shown, reapplied or dismissed by the
//! user — never dropped silently.

use chrono::Utc;
use leadline_model::sync::{FieldValues, LeadPatch, Mutation};
use leadline_model::{Id, Timestamp};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::codec::{parse_id, parse_ts, ts};
use crate::local::edit_lead;
use crate::{Store, StoreError};

/// One field of a conflict: what the user saw, what they wanted, what the server holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictField {
    pub field: String,
    /// The value before the user's edit, as the user saw it.
    pub base: serde_json::Value,
    /// The user's value (the losing edit).
    pub mine: serde_json::Value,
    /// The server's value when it refused the edit.
    pub theirs: serde_json::Value,
}

/// A user's edit of a lead that clashed with someone else's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub id: Id,
    pub lead_id: Id,
    /// The lead's name, when the lead is still in the cache.
    pub lead_name: Option<String>,
    pub fields: Vec<ConflictField>,
    /// The losing edit, as a patch to reapply.
    pub patch: LeadPatch,
    pub server_version: i64,
    pub edited_at: Timestamp,
    pub detected_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// `reapplied` or `dismissed` once resolved.
    pub resolution: Option<String>,
}

const CONFLICT_COLUMNS: &str = "c.id, c.lead_id, l.name, c.patch, c.base, c.theirs, c.server_version, \
     c.edited_at, c.detected_at, c.resolved_at, c.resolution";

fn conflict_from_row(row: &rusqlite::Row<'_>) -> Result<Conflict, StoreError> {
    let patch: LeadPatch = serde_json::from_str(&row.get::<_, String>(3)?)?;
    let base: FieldValues = serde_json::from_str(&row.get::<_, String>(4)?)?;
    let theirs: FieldValues = serde_json::from_str(&row.get::<_, String>(5)?)?;
    let mine = match serde_json::to_value(&patch)? {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let fields = patch
        .fields()
        .into_iter()
        .map(|f| ConflictField {
            field: f.to_owned(),
            base: base.get(f).cloned().unwrap_or_default(),
            mine: mine.get(f).cloned().unwrap_or_default(),
            theirs: theirs.get(f).cloned().unwrap_or_default(),
        })
        .collect();
    let resolved: Option<String> = row.get(9)?;
    Ok(Conflict {
        id: parse_id(&row.get::<_, String>(0)?)?,
        lead_id: parse_id(&row.get::<_, String>(1)?)?,
        lead_name: row.get(2)?,
        fields,
        patch,
        server_version: row.get(6)?,
        edited_at: parse_ts(&row.get::<_, String>(7)?)?,
        detected_at: parse_ts(&row.get::<_, String>(8)?)?,
        resolved_at: resolved.as_deref().map(parse_ts).transpose()?,
        resolution: row.get(10)?,
    })
}

impl Store {
    /// Conflicts waiting for the user, oldest first.
    pub fn open_conflicts(&self) -> Result<Vec<Conflict>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONFLICT_COLUMNS} FROM conflicts c LEFT JOIN leads l ON l.id = c.lead_id
             WHERE c.resolved_at IS NULL ORDER BY c.detected_at, c.id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(conflict_from_row(row)?);
        }
        Ok(out)
    }

    pub fn conflict(&self, id: &Id) -> Result<Conflict, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {CONFLICT_COLUMNS} FROM conflicts c LEFT JOIN leads l ON l.id = c.lead_id WHERE c.id = ?1"
            ))?
            .query_row([id.to_string()], |r| Ok(conflict_from_row(r)))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("conflict {id}")))?
    }

    /// Makes the user's losing edit again, on top of the lead as it is now, and queues it. `None` when
    /// the lead already holds those values (the conflict is closed all the same).
    pub fn reapply_conflict(&mut self, id: &Id) -> Result<Option<Mutation>, StoreError> {
        let c = self.conflict(id)?;
        if c.resolved_at.is_some() {
            return Err(StoreError::Invalid(format!("conflict {id} is already resolved")));
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mutation = match edit_lead(&tx, &c.lead_id, &c.patch) {
            Ok(m) => Some(m),
            Err(StoreError::Invalid(msg)) if msg == "the edit changes nothing" => None,
            Err(e) => return Err(e),
        };
        resolve(&tx, id, "reapplied")?;
        tx.commit()?;
        Ok(mutation)
    }

    /// Closes a conflict, keeping the server's values.
    pub fn dismiss_conflict(&mut self, id: &Id) -> Result<(), StoreError> {
        let c = self.conflict(id)?;
        if c.resolved_at.is_some() {
            return Err(StoreError::Invalid(format!("conflict {id} is already resolved")));
        }
        resolve(&self.conn, id, "dismissed")
    }
}

fn resolve(conn: &rusqlite::Connection, id: &Id, how: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE conflicts SET resolved_at = ?2, resolution = ?3 WHERE id = ?1")?
        .execute(params![id.to_string(), ts(&Utc::now()), how])?;
    Ok(())
}
