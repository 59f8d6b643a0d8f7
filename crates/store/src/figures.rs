//! Today's figures for the dashboard, computed from the cache alone (they work offline).

use leadline_model::{Id, Timestamp};
use serde::{Deserialize, Serialize};

use crate::bulk::prepare_hinted;
use crate::codec::{parse_ts, ts};
use crate::query::Clock;
use crate::{Store, StoreError};

/// The disposition codes that count as a conversion when the caller names none: the default catalogue's
/// "Purchased / order placed". (`DispositionCategory` only tells connected from not connected.)
pub const DEFAULT_CONVERSION_DISPOSITIONS: &[&str] = &["converted"];

/// Whose figures, and the goals they are measured against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiguresQuery {
    /// Whose day; `None`: the signed-in user.
    #[serde(default)]
    pub user_id: Option<Id>,
    /// Follow-ups the user aims to complete in a day.
    #[serde(default)]
    pub follow_up_goal: u32,
    /// Disposition codes that count as a conversion; empty: [`DEFAULT_CONVERSION_DISPOSITIONS`].
    #[serde(default)]
    pub conversion_dispositions: Vec<String>,
}

/// One user's day so far (the local day of the [`Clock`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayFigures {
    pub user_id: Id,
    /// The day, as a UTC range `[day_start, day_end)`.
    pub day_start: Timestamp,
    pub day_end: Timestamp,
    /// Calls the user started today.
    pub calls_made: u64,
    /// Of those, answered (or with talk time).
    pub connected: u64,
    /// Talk time of today's calls, in seconds.
    pub talk_time_s: u64,
    /// Today's calls with a conversion disposition.
    pub conversions: u64,
    /// Follow-ups assigned to the user and completed today.
    pub follow_ups_done: u64,
    pub follow_up_goal: u32,
    /// Open follow-ups of the user due today (earlier or later than now).
    pub follow_ups_due_today: u64,
    /// Open follow-ups of the user due before now (including earlier days).
    pub follow_ups_overdue: u64,
}

/// How one user's day went, for the dashboard's charts: calls per local hour and per disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayBreakdown {
    /// Calls logged today that started in each local hour, `[0]` being midnight to 1 am (24 entries).
    pub hourly: Vec<u64>,
    /// Today's logged calls per disposition code, most frequent first (ties by code).
    pub dispositions: Vec<(String, u64)>,
}

impl Store {
    /// Today's calls of `user_id` (or the signed-in user) by local hour and by disposition.
    pub fn today_breakdown(&self, user_id: Option<Id>, clock: &Clock) -> Result<DayBreakdown, StoreError> {
        let user_id = match user_id {
            Some(u) => u,
            None => self
                .sync_state()?
                .user
                .map(|u| u.id)
                .ok_or_else(|| StoreError::NotFound("signed-in user".into()))?,
        };
        let (start, end) = clock.today()?;
        let mut stmt = prepare_hinted(
            &self.conn,
            "SELECT started_at, disposition FROM call_logs INDEXED BY call_logs_by_caller
             WHERE telecaller_id = ?1 AND started_at >= ?2 AND started_at < ?3",
        )?;
        let mut rows = stmt.query(rusqlite::params![user_id.to_string(), ts(&start), ts(&end)])?;
        let mut hourly = vec![0_u64; 24];
        let mut by_code = std::collections::BTreeMap::<String, u64>::new();
        while let Some(row) = rows.next()? {
            let started = parse_ts(&row.get::<_, String>(0)?)?;
            // Hours since local midnight: the day starts at `start`, so no zone arithmetic is needed.
            let hour = (started - start).num_hours().clamp(0, 23) as usize;
            if let Some(slot) = hourly.get_mut(hour) {
                *slot += 1;
            }
            *by_code.entry(row.get::<_, String>(1)?).or_default() += 1;
        }
        let mut dispositions: Vec<(String, u64)> = by_code.into_iter().collect();
        dispositions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(DayBreakdown { hourly, dispositions })
    }

    /// Today's figures for `q.user_id` (or the signed-in user).
    pub fn today_figures(&self, q: &FiguresQuery, clock: &Clock) -> Result<TodayFigures, StoreError> {
        let user_id = match q.user_id {
            Some(u) => u,
            None => self
                .sync_state()?
                .user
                .map(|u| u.id)
                .ok_or_else(|| StoreError::NotFound("signed-in user".into()))?,
        };
        let (start, end) = clock.today()?;
        let (start_s, end_s, now_s, user) = (ts(&start), ts(&end), ts(&clock.now), user_id.to_string());
        let conversions: Vec<&str> = if q.conversion_dispositions.is_empty() {
            DEFAULT_CONVERSION_DISPOSITIONS.to_vec()
        } else {
            q.conversion_dispositions.iter().map(String::as_str).collect()
        };
        let conversions = serde_json::to_string(&conversions)?;
        let (calls, connected, talk, converted): (i64, i64, i64, i64) = prepare_hinted(
            &self.conn,
            "SELECT count(*),
                        count(*) FILTER (WHERE answered_at IS NOT NULL OR duration_s > 0),
                        coalesce(sum(max(duration_s, 0)), 0),
                        count(*) FILTER (WHERE disposition IN (SELECT value FROM json_each(?4)))
                 FROM call_logs INDEXED BY call_logs_by_caller
                 WHERE telecaller_id = ?1 AND started_at >= ?2 AND started_at < ?3",
        )?
        .query_row(rusqlite::params![user, start_s, end_s, conversions], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        let done: i64 = prepare_hinted(
            &self.conn,
            "SELECT count(*) FROM follow_ups INDEXED BY follow_ups_done
                 WHERE assigned_to = ?1 AND completed_at >= ?2 AND completed_at < ?3",
        )?
        .query_row(rusqlite::params![user, start_s, end_s], |r| r.get(0))?;
        let (due_today, overdue): (i64, i64) = prepare_hinted(
            &self.conn,
            "SELECT count(*) FILTER (WHERE f.due_at >= ?2),
                        count(*) FILTER (WHERE f.due_at < ?4)
                 FROM follow_ups f INDEXED BY follow_ups_open_by_assignee
                 WHERE f.completed_at IS NULL AND f.assigned_to = ?1 AND f.due_at < ?3
                   AND f.lead_id NOT IN (SELECT id FROM leads WHERE removed = 1)",
        )?
        .query_row(rusqlite::params![user, start_s, end_s, now_s], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(TodayFigures {
            user_id,
            day_start: start,
            day_end: end,
            calls_made: calls.unsigned_abs(),
            connected: connected.unsigned_abs(),
            talk_time_s: talk.unsigned_abs(),
            conversions: converted.unsigned_abs(),
            follow_ups_done: done.unsigned_abs(),
            follow_up_goal: q.follow_up_goal,
            follow_ups_due_today: due_today.unsigned_abs(),
            follow_ups_overdue: overdue.unsigned_abs(),
        })
    }
}
