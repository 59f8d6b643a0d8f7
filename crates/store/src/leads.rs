//! Read queries for the UI and the CLI.

use leadline_model::{CallLog, FollowUp, Id, Lead, LeadStatus, PhoneNumber};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::codec::{self, CALL_COLUMNS, FOLLOW_UP_COLUMNS, LEAD_COLUMNS};
use crate::query::{Clock, LeadFilter, LeadOrder, LeadPageQuery, prefixed};
use crate::{Store, StoreError};

/// The most rows one list query returns.
pub const MAX_PAGE: u32 = 5_000;

/// A simple lead list filter (see [`LeadPageQuery`] for every filter, order and paging). Empty fields
/// do not filter. Results are newest-updated first.
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
    /// Leads matching `q`, most recently updated first: the first page of [`Store::list_lead_page`]
    /// with these filters (kept for the CLI and simple callers).
    pub fn list_leads(&self, q: &LeadQuery) -> Result<Vec<Lead>, StoreError> {
        let query = LeadPageQuery {
            filter: LeadFilter {
                search: q.search.clone(),
                statuses: q.status.into_iter().collect(),
                assigned_to: q.assigned_to,
                ..LeadFilter::default()
            },
            sort: LeadOrder::default(),
            limit: Some(q.limit.unwrap_or(MAX_PAGE)),
            cursor: None,
        };
        Ok(self.list_lead_page(&query, &Clock::system())?.leads)
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

    /// Listed leads per status, every status in pipeline order (zeros included), from the counts the
    /// triggers of migration 03 keep.
    pub(crate) fn status_counts_all(&self) -> Result<Vec<StatusCount>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT n FROM lead_status_counts WHERE status = ?1")?;
        LeadStatus::ALL
            .iter()
            .map(|s| {
                let n: Option<i64> = stmt.query_row([s.as_str()], |r| r.get(0)).optional()?;
                Ok(StatusCount {
                    status: *s,
                    count: n.unwrap_or(0).unsigned_abs(),
                })
            })
            .collect()
    }

    pub fn get_lead(&self, id: &Id) -> Result<Lead, StoreError> {
        self.conn
            .prepare_cached(&format!("SELECT {LEAD_COLUMNS} FROM leads WHERE id = ?1"))?
            .query_row([id.to_string()], |r| Ok(codec::lead_from_row(r)))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("lead {id}")))?
    }

    /// The lead with this number (main or alternate), for putting a name to an incoming call; the most
    /// recently updated when several share it.
    pub fn lead_by_phone(&self, phone: &PhoneNumber) -> Result<Option<Lead>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {LEAD_COLUMNS} FROM leads WHERE removed = 0 AND (phone = ?1 OR alternate_phone = ?1)
                 ORDER BY updated_at DESC, id LIMIT 1"
            ))?
            .query_row([phone.as_str()], |r| Ok(codec::lead_from_row(r)))
            .optional()?
            .transpose()
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
        self.follow_ups_where("f.completed_at IS NULL", None)
    }

    /// One lead's open follow-ups (anyone's), soonest first.
    pub fn open_follow_ups_of(&self, lead_id: &Id) -> Result<Vec<FollowUp>, StoreError> {
        self.follow_ups_where("f.completed_at IS NULL AND f.lead_id = ?1", Some(lead_id))
    }

    /// An open follow-up by id, on a lead still in the cache.
    pub fn open_follow_up(&self, id: &Id) -> Result<FollowUp, StoreError> {
        self.follow_ups_where("f.completed_at IS NULL AND f.id = ?1", Some(id))?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("open follow-up {id}")))
    }

    fn follow_ups_where(&self, condition: &str, id: Option<&Id>) -> Result<Vec<FollowUp>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM follow_ups f JOIN leads l ON l.id = f.lead_id
             WHERE {condition} AND l.removed = 0 ORDER BY f.due_at, f.id",
            prefixed(FOLLOW_UP_COLUMNS, "f.")
        ))?;
        let mut rows = match id {
            Some(id) => stmt.query([id.to_string()])?,
            None => stmt.query([])?,
        };
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(codec::follow_up_from_row(row)?);
        }
        Ok(out)
    }
}
