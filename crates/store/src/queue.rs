//! The "next lead to call" queue.
//!
//! Tiers, in order: follow-ups overdue (oldest due first), follow-ups due later today (soonest first), then
//! leads without a follow-up scheduled: hot, high priority, and new leads of normal then low priority. Within
//! those, an earlier pipeline stage first (new before contacted…), then the newest lead first. Closed leads
//! ([`LeadStatus::is_closed`]), leads the dialer must not call ([`LeadStatus::may_call`]) and leads called in
//! the last few minutes are left out. Leads with a follow-up after today wait for it.

use chrono::Duration;
use leadline_model::{Id, Lead, LeadStatus, Timestamp};
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use crate::bulk::prepare_hinted;
use crate::codec::{self, LEAD_COLUMNS, parse_ts, ts};
use crate::cursor::{self, PageCursor};
use crate::query::{Clock, LEAD_COLUMN_COUNT, Sql, page_limit, prefixed};
use crate::{Store, StoreError};

/// Which page of the queue to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueQuery {
    /// Only leads assigned to this user; `None`: every listed lead.
    #[serde(default)]
    pub assigned_to: Option<Id>,
    /// Leave out leads with a call started in the last this many minutes.
    #[serde(default)]
    pub skip_called_within_minutes: u32,
    /// Rows per page (default [`crate::DEFAULT_PAGE`]).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Why a lead is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueReason {
    /// Its follow-up was due before now.
    OverdueFollowUp,
    /// Its follow-up is due later today.
    FollowUpToday,
    /// Priority hot.
    Hot,
    /// Priority high.
    HighPriority,
    /// Status new (normal or low priority).
    New,
}

/// One lead of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub lead: Lead,
    pub reason: QueueReason,
    /// The follow-up that put it here (follow-up reasons only).
    pub follow_up_due_at: Option<Timestamp>,
}

/// A page of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuePage {
    pub entries: Vec<QueueEntry>,
    pub next_cursor: Option<String>,
}

/// How one tier selects and orders its leads.
enum TierKind {
    /// `next_follow_up_at` in `[from, until)`, soonest first.
    FollowUp {
        from: Option<Timestamp>,
        until: Timestamp,
    },
    /// No follow-up, `queue_rank` in `lo..=hi`, highest rank then newest first.
    Rank { lo: i64, hi: i64 },
}

struct Tier {
    reason: QueueReason,
    kind: TierKind,
}

fn tiers(clock: &Clock) -> Result<Vec<Tier>, StoreError> {
    let (_, end) = clock.today()?;
    // queue_rank = priority_rank * 16 + 15 - status_rank (migration 03); status new has rank 0.
    let rank = |reason, lo, hi| Tier {
        reason,
        kind: TierKind::Rank { lo, hi },
    };
    Ok(vec![
        Tier {
            reason: QueueReason::OverdueFollowUp,
            kind: TierKind::FollowUp {
                from: None,
                until: clock.now,
            },
        },
        Tier {
            reason: QueueReason::FollowUpToday,
            kind: TierKind::FollowUp {
                from: Some(clock.now),
                until: end,
            },
        },
        rank(QueueReason::Hot, 48, 63),
        rank(QueueReason::HighPriority, 32, 47),
        rank(QueueReason::New, 31, 31),
        rank(QueueReason::New, 15, 15),
    ])
}

/// Statuses the queue may offer: open and callable, as the model defines them.
fn callable_statuses() -> Vec<&'static str> {
    LeadStatus::ALL
        .iter()
        .filter(|s| !s.is_closed() && s.may_call())
        .map(|s| s.as_str())
        .collect()
}

impl Store {
    /// A page of the leads to call next, each with the reason it is in the queue.
    pub fn next_leads(&self, q: &QueueQuery, clock: &Clock) -> Result<QueuePage, StoreError> {
        let fingerprint = cursor::fingerprint(&(&q.assigned_to, q.skip_called_within_minutes))?;
        let after = q
            .cursor
            .as_deref()
            .map(|c| PageCursor::decode(c, fingerprint))
            .transpose()?;
        let limit = page_limit(q.limit) as usize;
        let want = limit + 1;
        let called_since = clock.now - Duration::minutes(i64::from(q.skip_called_within_minutes));
        let mut rows: Vec<(QueueEntry, Vec<Value>, u32)> = Vec::with_capacity(want);
        let first = after.as_ref().map_or(0, |c| c.phase);
        for (phase, tier) in (0_u32..).zip(tiers(clock)?) {
            if phase < first {
                continue;
            }
            let bound = after.as_ref().filter(|c| c.phase == phase);
            let (sql, args, width) = tier_sql(&tier, q, &called_since, bound, want - rows.len())?;
            let mut stmt = prepare_hinted(&self.conn, &sql)?;
            let mut it = stmt.query(rusqlite::params_from_iter(args))?;
            while let Some(row) = it.next()? {
                let lead = codec::lead_from_row(row)?;
                let keys = (0..width)
                    .map(|i| row.get::<_, Value>(LEAD_COLUMN_COUNT + i))
                    .collect::<Result<Vec<_>, _>>()?;
                let follow_up_due_at = match (&tier.kind, keys.first()) {
                    (TierKind::FollowUp { .. }, Some(Value::Text(t))) => Some(parse_ts(t)?),
                    _ => None,
                };
                let entry = QueueEntry {
                    lead,
                    reason: tier.reason,
                    follow_up_due_at,
                };
                rows.push((entry, keys, phase));
            }
            if rows.len() >= want {
                break;
            }
        }
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last()
                .map(|(e, keys, phase)| {
                    PageCursor {
                        fingerprint,
                        phase: *phase,
                        keys: keys.clone(),
                        id: e.lead.id.to_string(),
                    }
                    .encode()
                })
                .transpose()?
        } else {
            None
        };
        Ok(QueuePage {
            entries: rows.into_iter().map(|(e, _, _)| e).collect(),
            next_cursor,
        })
    }
}

/// One tier's statement, its arguments, and how many sort keys (before the id) it selects.
fn tier_sql(
    tier: &Tier,
    q: &QueueQuery,
    called_since: &Timestamp,
    after: Option<&PageCursor>,
    limit: usize,
) -> Result<(String, Vec<Value>, usize), StoreError> {
    let mut sql = Sql::default();
    sql.term("l.removed = 0", []);
    let statuses = callable_statuses();
    sql.term(
        &format!("l.status IN ({})", vec!["?"; statuses.len()].join(", ")),
        statuses.iter().map(|s| Value::Text((*s).to_owned())),
    );
    if let Some(u) = q.assigned_to {
        sql.term("l.assigned_to = ?", [Value::Text(u.to_string())]);
    }
    sql.term(
        "NOT EXISTS (SELECT 1 FROM call_logs c WHERE c.lead_id = l.id AND c.started_at >= ?)",
        [Value::Text(ts(called_since))],
    );
    let (from, keys, dir): (_, &[&str], _) = match &tier.kind {
        TierKind::FollowUp { from, until } => {
            sql.term("l.next_follow_up_at IS NOT NULL", []);
            if let Some(f) = from {
                sql.term("l.next_follow_up_at >= ?", [Value::Text(ts(f))]);
            }
            sql.term("l.next_follow_up_at < ?", [Value::Text(ts(until))]);
            ("leads_sort_follow_up", &["l.next_follow_up_at"], "ASC")
        }
        TierKind::Rank { lo, hi } => {
            sql.term("l.next_follow_up_at IS NULL", []);
            sql.term(
                "l.queue_rank BETWEEN ? AND ?",
                [Value::Integer(*lo), Value::Integer(*hi)],
            );
            ("leads_queue", &["l.queue_rank", "l.created_at"], "DESC")
        }
    };
    if let Some(c) = after {
        if c.keys.len() != keys.len() {
            return Err(StoreError::BadCursor("it does not fit the queue".into()));
        }
        let cmp = if dir == "ASC" { ">" } else { "<" };
        let mut args = c.keys.clone();
        args.push(Value::Text(c.id.clone()));
        sql.term(
            &format!(
                "({}, l.id) {cmp} ({})",
                keys.join(", "),
                vec!["?"; keys.len() + 1].join(", ")
            ),
            args,
        );
    }
    let order: Vec<String> = keys
        .iter()
        .chain(std::iter::once(&"l.id"))
        .map(|k| format!("{k} {dir}"))
        .collect();
    let text = format!(
        "SELECT {}, {} FROM leads l INDEXED BY {from} WHERE {} ORDER BY {} LIMIT {limit}",
        prefixed(LEAD_COLUMNS, "l."),
        keys.join(", "),
        sql.where_clause(),
        order.join(", ")
    );
    Ok((text, sql.args, keys.len()))
}
