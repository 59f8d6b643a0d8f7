//! A lead's call history: newest first, keyset pages, optional search in call notes and dispositions.

use leadline_model::{CallLog, Id};
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use crate::codec::{self, CALL_COLUMNS};
use crate::cursor::{self, PageCursor};
use crate::query::{Sql, page_limit, prefixed};
use crate::search::words_query;
use crate::{Store, StoreError};

/// Which page of one lead's calls to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallHistoryQuery {
    pub lead_id: Id,
    /// Words (as prefixes) that must all appear in the call's notes or disposition code.
    #[serde(default)]
    pub search: Option<String>,
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

const CALL_COLUMN_COUNT: usize = 16;

impl Store {
    /// A page of one lead's calls, newest first (ties by id), after `q.cursor`.
    pub fn call_history(&self, q: &CallHistoryQuery) -> Result<CallHistoryPage, StoreError> {
        let fingerprint = cursor::fingerprint(&(&q.lead_id, &q.search))?;
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
        if let Some(m) = q.search.as_deref().and_then(words_query) {
            // A lead has few calls: probe the index for each instead of gathering every match.
            sql.term(
                "EXISTS (SELECT 1 FROM call_search WHERE call_search MATCH ? AND call_search.rowid = c.rowid)",
                [Value::Text(m)],
            );
        }
        let text = format!(
            "SELECT {}, c.started_at FROM call_logs c INDEXED BY call_logs_history WHERE {}
             ORDER BY c.started_at DESC, c.id DESC LIMIT {}",
            prefixed(CALL_COLUMNS, "c."),
            sql.where_clause(),
            limit + 1
        );
        let mut stmt = self.conn.prepare_cached(&text)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(sql.args))?;
        let mut calls = Vec::with_capacity(limit + 1);
        let mut last_key = None;
        while let Some(row) = rows.next()? {
            if calls.len() == limit {
                let next = PageCursor {
                    fingerprint,
                    phase: 0,
                    keys: vec![last_key.take().unwrap_or(Value::Null)],
                    id: calls.last().map(|c: &CallLog| c.id.to_string()).unwrap_or_default(),
                };
                return Ok(CallHistoryPage {
                    calls,
                    next_cursor: Some(next.encode()?),
                });
            }
            calls.push(codec::call_from_row(row)?);
            last_key = Some(row.get::<_, Value>(CALL_COLUMN_COUNT)?);
        }
        Ok(CallHistoryPage {
            calls,
            next_cursor: None,
        })
    }
}
