//! A lead's call history: newest first, keyset pages, optional search in call notes and dispositions.

use leadline_model::{CallDirection, CallLog, Id};
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use crate::codec::{self, CALL_COLUMN_COUNT, CALL_COLUMNS};
use crate::cursor::{self, PageCursor};
use crate::query::{Sql, page_limit, prefixed};
use crate::{Store, StoreError};

/// Which page of one lead's calls to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallHistoryQuery {
    pub lead_id: Id,
    /// Words that must all appear, as word prefixes and ignoring case, in the call's notes or disposition
    /// code (`visit` finds `visit_booked`).
    #[serde(default)]
    pub search: Option<String>,
    /// Only calls in this direction.
    #[serde(default)]
    pub direction: Option<CallDirection>,
    /// Only calls with one of these disposition codes (all when empty).
    #[serde(default)]
    pub dispositions: Vec<String>,
    /// Rows per page (default [`crate::DEFAULT_PAGE`]).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

impl CallHistoryQuery {
    /// The first page of a lead's calls, no search.
    pub fn new(lead_id: Id) -> Self {
        Self {
            lead_id,
            search: None,
            direction: None,
            dispositions: Vec::new(),
            limit: None,
            cursor: None,
        }
    }
}

/// A page of calls, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallHistoryPage {
    pub calls: Vec<CallLog>,
    pub next_cursor: Option<String>,
}

impl Store {
    /// A page of one lead's calls, newest first (ties by id), after `q.cursor`.
    pub fn call_history(&self, q: &CallHistoryQuery) -> Result<CallHistoryPage, StoreError> {
        let fingerprint = cursor::fingerprint(&(&q.lead_id, &q.search, &q.direction, &q.dispositions))?;
        let after = q
            .cursor
            .as_deref()
            .map(|c| PageCursor::decode(c, fingerprint))
            .transpose()?;
        let limit = page_limit(q.limit) as usize;
        let mut sql = Sql::default();
        sql.term("c.lead_id = ?", [Value::Text(q.lead_id.to_string())]);
        if let Some(c) = &after {
            let [started] = c.keys.as_slice() else {
                return Err(StoreError::BadCursor("it does not fit a call history".into()));
            };
            sql.term(
                "(c.started_at, c.id) < (?, ?)",
                [started.clone(), Value::Text(c.id.clone())],
            );
        }
        let filter = CallFilter::new(q.search.as_deref(), q.direction, &q.dispositions);
        let text = format!(
            "SELECT {}, c.started_at FROM call_logs c INDEXED BY call_logs_history WHERE {}
             ORDER BY c.started_at DESC, c.id DESC",
            prefixed(CALL_COLUMNS, "c."),
            sql.where_clause(),
        );
        let mut stmt = self.conn.prepare_cached(&text)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(sql.args))?;
        let mut calls = Vec::with_capacity(limit + 1);
        let mut last_key = None;
        while let Some(row) = rows.next()? {
            let call = codec::call_from_row(row)?;
            if !filter.accepts(&call.notes, &call.disposition, call.direction) {
                continue;
            }
            if calls.len() == limit {
                // One more match: another page follows, starting after the last row of this one.
                let next = PageCursor {
                    fingerprint,
                    phase: 0,
                    keys: vec![last_key.take().unwrap_or(Value::Null)],
                    id: calls
                        .last()
                        .map(|c: &CallLog| c.id.to_string())
                        .unwrap_or_default(),
                };
                return Ok(CallHistoryPage {
                    calls,
                    next_cursor: Some(next.encode()?),
                });
            }
            calls.push(call);
            last_key = Some(row.get::<_, Value>(CALL_COLUMN_COUNT)?);
        }
        Ok(CallHistoryPage {
            calls,
            next_cursor: None,
        })
    }
}

/// A lead's calls as the history screen narrows them: search words, direction, dispositions.
pub(crate) struct CallFilter<'a> {
    terms: Vec<String>,
    direction: Option<CallDirection>,
    dispositions: &'a [String],
}

impl<'a> CallFilter<'a> {
    pub(crate) fn new(
        search: Option<&str>,
        direction: Option<CallDirection>,
        dispositions: &'a [String],
    ) -> Self {
        Self {
            terms: words(search.unwrap_or("")).collect(),
            direction,
            dispositions,
        }
    }

    pub(crate) fn accepts(&self, notes: &str, disposition: &str, direction: CallDirection) -> bool {
        self.direction.is_none_or(|d| d == direction)
            && (self.dispositions.is_empty() || self.dispositions.iter().any(|d| d == disposition))
            && matches(&self.terms, notes, disposition)
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Every term is the start of a word of the notes or the disposition code. A lead has few calls, so they
/// are matched as they are read (a full-text index over a million call notes answers a prefix probe more
/// slowly than this: see docs/benchmarks.md, "store").
fn matches(terms: &[String], notes: &str, disposition: &str) -> bool {
    if terms.is_empty() {
        return true;
    }
    let have: Vec<String> = words(notes).chain(words(disposition)).collect();
    terms
        .iter()
        .all(|t| have.iter().any(|w| w.starts_with(t.as_str())))
}
