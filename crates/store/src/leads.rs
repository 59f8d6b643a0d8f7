//! Read queries for the UI and the CLI.

use leadline_model::{CallLog, FollowUp, Id, Lead, LeadStatus};
use rusqlite::OptionalExtension;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use crate::codec::{self, CALL_COLUMNS, FOLLOW_UP_COLUMNS, LEAD_COLUMNS};
use crate::search::fts_query;
use crate::{Store, StoreError};

/// The most rows one list query returns.
pub const MAX_PAGE: u32 = 5_000;

/// From this many full-text matches on, a search walks the recency index instead of sorting the matches.
const MANY_MATCHES: i64 = 2_000;
const COUNT_MATCHES: &str =
    "SELECT count(*) FROM (SELECT 1 FROM lead_search WHERE lead_search MATCH ?1 LIMIT 2000)";

/// A lead list filter. Empty fields do not filter. Results are newest-updated first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadQuery {
    /// Free text: name, phone (any digit form) or call notes.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub status: Option<LeadStatus>,
    #[serde(default)]
    pub assigned_to: Option<Id>,
    /// At most this many rows (default and cap: [`MAX_PAGE`]).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// How many listed leads have one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCount {
    pub status: LeadStatus,
    pub count: u64,
}

impl Store {
    /// Leads matching `q`, most recently updated first.
    pub fn list_leads(&self, q: &LeadQuery) -> Result<Vec<Lead>, StoreError> {
        let fts = q.search.as_deref().and_then(fts_query);
        // Two plans, picked by how many leads the words match. Few matches: fetch them by rowid and sort
        // (fast for a phone number or a rare name). Many matches (a common surname): walk the recency index
        // and keep rows that are in the match set, stopping at the limit instead of sorting thousands.
        let walk_recency_index = match &fts {
            Some(m) => {
                self.conn
                    .prepare_cached(COUNT_MATCHES)?
                    .query_row([m], |r| r.get::<_, i64>(0))?
                    >= MANY_MATCHES
            }
            None => false,
        };
        let from = if walk_recency_index {
            "leads l INDEXED BY leads_by_updated"
        } else {
            "leads l"
        };
        let mut sql = format!(
            "SELECT {} FROM {from} WHERE l.removed = 0",
            prefixed(LEAD_COLUMNS, "l.")
        );
        let mut args: Vec<Value> = Vec::new();
        if let Some(m) = fts {
            sql.push_str(" AND l.rowid IN (SELECT rowid FROM lead_search WHERE lead_search MATCH ?)");
            args.push(m.into());
        }
        if let Some(s) = q.status {
            sql.push_str(" AND l.status = ?");
            args.push(s.as_str().to_owned().into());
        }
        if let Some(u) = q.assigned_to {
            sql.push_str(" AND l.assigned_to = ?");
            args.push(u.to_string().into());
        }
        sql.push_str(" ORDER BY l.updated_at DESC, l.id DESC LIMIT ?");
        args.push(i64::from(q.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE)).into());
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(codec::lead_from_row(row)?);
        }
        Ok(out)
    }

    /// How many leads are listed (not removed).
    pub fn count_leads(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM leads WHERE removed = 0", [], |r| r.get(0))?;
        Ok(n.unsigned_abs())
    }

    /// Listed leads per status, for the dashboard.
    pub fn status_counts(&self) -> Result<Vec<StatusCount>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, count(*) FROM leads WHERE removed = 0 GROUP BY status ORDER BY status",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let status: String = row.get(0)?;
            let count: i64 = row.get(1)?;
            out.push(StatusCount {
                status: status.parse().map_err(|e| StoreError::Invalid(format!("{e}")))?,
                count: count.unsigned_abs(),
            });
        }
        Ok(out)
    }

    pub fn get_lead(&self, id: &Id) -> Result<Lead, StoreError> {
        self.conn
            .prepare_cached(&format!("SELECT {LEAD_COLUMNS} FROM leads WHERE id = ?1"))?
            .query_row([id.to_string()], |r| Ok(codec::lead_from_row(r)))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("lead {id}")))?
    }

    /// A lead's calls, newest first.
    pub fn call_logs_for_lead(&self, lead_id: &Id) -> Result<Vec<CallLog>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CALL_COLUMNS} FROM call_logs WHERE lead_id = ?1 ORDER BY started_at DESC, id DESC"
        ))?;
        let mut rows = stmt.query([lead_id.to_string()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(codec::call_from_row(row)?);
        }
        Ok(out)
    }

    pub fn count_call_logs(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM call_logs", [], |r| r.get(0))?;
        Ok(n.unsigned_abs())
    }

    /// Open follow-ups of listed leads, soonest first.
    pub fn open_follow_ups(&self) -> Result<Vec<FollowUp>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM follow_ups f JOIN leads l ON l.id = f.lead_id
             WHERE f.completed_at IS NULL AND l.removed = 0 ORDER BY f.due_at, f.id",
            prefixed(FOLLOW_UP_COLUMNS, "f.")
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(codec::follow_up_from_row(row)?);
        }
        Ok(out)
    }
}

fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
