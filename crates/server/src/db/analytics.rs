//! Storage side of analytics and goals: per-telecaller aggregates over call logs and follow-ups, the
//! hourly series, and the goals table. Aggregation happens in SQL (indexes: `call_logs_telecaller_started_id`
//! on `(telecaller_id, started_at DESC, id DESC)`, `follow_ups_open`), one row per telecaller and disposition.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, TimeZone, Utc};
use leadline_model::analytics::{Goal, HourBucket, TelecallerFigures};
use leadline_model::{DispositionCategory, Id, Timestamp};

use super::{Binder, DbError, Tx, dispositions, get_id, get_ts, id_text, ts};
use crate::params;

/// The disposition code that counts as a conversion.
pub const CONVERSION_CODE: &str = "converted";

/// Where calls are counted: live call logs, archived ones, and the anonymised activity of call logs
/// retention purged (`activity_stats`, by UTC half hour: exact for ranges that start and end on a half
/// hour, as every day and hour boundary of a whole- or half-hour time zone does). Archiving, erasure and
/// retention move a call between them, never out of all three.
#[derive(Debug, Clone, Copy)]
enum CallSource {
    Live,
    Archived,
    Purged,
}

const CALL_SOURCES: [CallSource; 3] = [CallSource::Live, CallSource::Archived, CallSource::Purged];

impl CallSource {
    /// (telecaller, disposition, calls, talk time) of calls in `[from, to)` of the users `filter` picks.
    fn per_disposition(self, filter: &str, from: &str, to: &str) -> String {
        match self {
            CallSource::Live | CallSource::Archived => format!(
                "SELECT c.telecaller_id, c.disposition, count(*), CAST(sum(c.duration_s) AS BIGINT)
                 FROM {} c JOIN users u ON u.id = c.telecaller_id
                 WHERE {filter} AND c.started_at >= {from} AND c.started_at < {to}
                 GROUP BY c.telecaller_id, c.disposition",
                self.table()
            ),
            CallSource::Purged => format!(
                "SELECT s.user_id, s.disposition, CAST(sum(s.count) AS BIGINT), CAST(sum(s.talk_time_s) AS BIGINT)
                 FROM activity_stats s JOIN users u ON u.id = s.user_id
                 WHERE {filter} AND s.kind = 'call' AND s.bucket >= {from} AND s.bucket < {to}
                 GROUP BY s.user_id, s.disposition"
            ),
        }
    }

    /// (UTC hour `YYYY-MM-DDTHH`, 0 or 30, disposition, calls, talk time) of calls in `[from, to)`.
    fn per_half_hour(self, filter: &str, from: &str, to: &str) -> String {
        let (time, count, talk, from_where) = match self {
            CallSource::Live | CallSource::Archived => (
                "c.started_at",
                "count(*)",
                "CAST(sum(c.duration_s) AS BIGINT)",
                format!(
                    "{} c JOIN users u ON u.id = c.telecaller_id WHERE {filter} AND c.started_at >= {from} \
                     AND c.started_at < {to}",
                    self.table()
                ),
            ),
            CallSource::Purged => (
                "c.bucket",
                "CAST(sum(c.count) AS BIGINT)",
                "CAST(sum(c.talk_time_s) AS BIGINT)",
                format!(
                    "activity_stats c JOIN users u ON u.id = c.user_id WHERE {filter} AND c.kind = 'call' \
                     AND c.bucket >= {from} AND c.bucket < {to}"
                ),
            ),
        };
        format!(
            "SELECT substr({time}, 1, 13), CASE WHEN substr({time}, 15, 2) < '30' THEN 0 ELSE 30 END,
                    c.disposition, {count}, {talk}
             FROM {from_where}
             GROUP BY 1, 2, 3"
        )
    }

    fn table(self) -> &'static str {
        match self {
            CallSource::Live => "call_logs",
            CallSource::Archived => "call_logs_archive",
            CallSource::Purged => "activity_stats",
        }
    }
}

/// Whose figures: one telecaller, a team's telecallers, or every telecaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    User(Id),
    Team(String),
    All,
}

impl Who {
    /// A condition on the `users` row aliased `u`.
    pub(crate) fn users_filter(&self, b: &mut Binder) -> String {
        match self {
            Who::User(id) => format!("u.id = {}", b.bind(id_text(id))),
            Who::Team(team) => format!("u.team = {} AND u.role = 'telecaller'", b.bind(team.as_str())),
            Who::All => "u.role = 'telecaller'".to_owned(),
        }
    }
}

/// Per-telecaller figures for calls started in `[from, to)` and follow-ups, with the goals of `days`
/// days. Telecallers without calls are listed too (with zeros).
pub fn figures(
    tx: &mut Tx<'_>,
    who: &Who,
    from: &Timestamp,
    to: &Timestamp,
    now: &Timestamp,
    days: i64,
) -> Result<Vec<TelecallerFigures>, DbError> {
    let connected: HashMap<String, bool> = dispositions(tx)?
        .into_iter()
        .map(|d| (d.code, d.category == DispositionCategory::Connected))
        .collect();

    let mut b = Binder::default();
    let filter = who.users_filter(&mut b);
    let users = tx.query(
        &format!("SELECT u.id, u.username, u.name, u.team FROM users u WHERE {filter} ORDER BY u.name, u.id"),
        &b.params,
    )?;
    let mut out: Vec<TelecallerFigures> = Vec::with_capacity(users.len());
    let mut teams: Vec<Option<String>> = Vec::with_capacity(users.len());
    let mut index: HashMap<Id, usize> = HashMap::new();
    for row in &users {
        let id = get_id(row, 0, "user id")?;
        index.insert(id, out.len());
        out.push(TelecallerFigures {
            user_id: id,
            username: row.get(1)?,
            name: row.get(2)?,
            ..TelecallerFigures::default()
        });
        teams.push(row.get(3)?);
    }

    for source in CALL_SOURCES {
        let mut b = Binder::default();
        let filter = who.users_filter(&mut b);
        let (from_p, to_p) = (b.bind(ts(from)), b.bind(ts(to)));
        let rows = tx.query(&source.per_disposition(&filter, &from_p, &to_p), &b.params)?;
        for row in rows {
            let Some(&i) = index.get(&get_id(&row, 0, "call telecaller")?) else {
                continue;
            };
            let code: String = row.get(1)?;
            let n: i64 = row.get(2)?;
            let talk: i64 = row.get::<Option<i64>>(3)?.unwrap_or(0);
            let f = &mut out[i];
            f.calls += n;
            f.talk_time_s += talk;
            if connected.get(&code).copied().unwrap_or(false) {
                f.connected += n;
            }
            if code == CONVERSION_CODE {
                f.conversions += n;
            }
            *f.dispositions.entry(code).or_insert(0) += n;
        }
    }

    let mut b = Binder::default();
    let filter = who.users_filter(&mut b);
    let (from_p, to_p, now_p) = (b.bind(ts(from)), b.bind(ts(to)), b.bind(ts(now)));
    let rows = tx.query(
        &format!(
            "SELECT f.assigned_to,
                CAST(sum(CASE WHEN f.completed_at IS NULL AND f.due_at >= {from_p} AND f.due_at < {to_p}
                              THEN 1 ELSE 0 END) AS BIGINT),
                CAST(sum(CASE WHEN f.completed_at IS NULL AND f.due_at < {now_p} THEN 1 ELSE 0 END) AS BIGINT),
                CAST(sum(CASE WHEN f.completed_at >= {from_p} AND f.completed_at < {to_p}
                              THEN 1 ELSE 0 END) AS BIGINT)
             FROM follow_ups f JOIN users u ON u.id = f.assigned_to
             WHERE {filter}
             GROUP BY f.assigned_to"
        ),
        &b.params,
    )?;
    for row in rows {
        let Some(&i) = index.get(&get_id(&row, 0, "follow-up assignee")?) else {
            continue;
        };
        let f = &mut out[i];
        f.follow_ups_due = row.get::<Option<i64>>(1)?.unwrap_or(0);
        f.follow_ups_overdue = row.get::<Option<i64>>(2)?.unwrap_or(0);
        f.follow_ups_done = row.get::<Option<i64>>(3)?.unwrap_or(0);
    }
    // Completed follow-ups of archived leads, and of purged ones (their counts in `activity_stats`).
    for sql in [
        "SELECT f.assigned_to, count(*) FROM follow_ups_archive f JOIN users u ON u.id = f.assigned_to
         WHERE {filter} AND f.completed_at >= {from_p} AND f.completed_at < {to_p}
         GROUP BY f.assigned_to",
        "SELECT s.user_id, CAST(sum(s.count) AS BIGINT) FROM activity_stats s JOIN users u ON u.id = s.user_id
         WHERE {filter} AND s.kind = 'follow_up_done' AND s.bucket >= {from_p} AND s.bucket < {to_p}
         GROUP BY s.user_id",
    ] {
        let mut b = Binder::default();
        let filter = who.users_filter(&mut b);
        let (from_p, to_p) = (b.bind(ts(from)), b.bind(ts(to)));
        let sql = sql
            .replace("{filter}", &filter)
            .replace("{from_p}", &from_p)
            .replace("{to_p}", &to_p);
        for row in tx.query(&sql, &b.params)? {
            let Some(&i) = index.get(&get_id(&row, 0, "follow-up assignee")?) else {
                continue;
            };
            out[i].follow_ups_done += row.get::<Option<i64>>(1)?.unwrap_or(0);
        }
    }

    // Goals: a telecaller's own goal, else their team's default.
    let goals = all_goals(tx)?;
    for (f, team) in out.iter_mut().zip(&teams) {
        let Some(team) = team else { continue };
        let own = goals
            .iter()
            .find(|g| &g.team == team && g.user_id == Some(f.user_id));
        let default = goals.iter().find(|g| &g.team == team && g.user_id.is_none());
        if let Some(g) = own.or(default) {
            f.goal_calls = g.daily_calls * days;
            f.goal_conversions = g.daily_conversions * days;
        }
    }
    Ok(out)
}

/// Calls per local hour (`tz_offset_minutes` east of UTC, a multiple of 30) for calls started in
/// `[from, to)`. Aggregated by UTC half hour in SQL, then folded into local hours, so any whole- or
/// half-hour time zone (India: +330) is exact.
pub fn hourly(
    tx: &mut Tx<'_>,
    who: &Who,
    from: &Timestamp,
    to: &Timestamp,
    tz_offset_minutes: i32,
) -> Result<Vec<HourBucket>, DbError> {
    let connected: HashMap<String, bool> = dispositions(tx)?
        .into_iter()
        .map(|d| (d.code, d.category == DispositionCategory::Connected))
        .collect();
    let mut rows = Vec::new();
    for source in CALL_SOURCES {
        let mut b = Binder::default();
        let filter = who.users_filter(&mut b);
        let (from_p, to_p) = (b.bind(ts(from)), b.bind(ts(to)));
        rows.extend(tx.query(&source.per_half_hour(&filter, &from_p, &to_p), &b.params)?);
    }
    let offset = Duration::minutes(i64::from(tz_offset_minutes));
    let mut buckets: BTreeMap<String, HourBucket> = BTreeMap::new();
    for row in rows {
        let hour: String = row.get(0)?;
        let half: i64 = row.get(1)?;
        let utc = chrono::NaiveDateTime::parse_from_str(&format!("{hour}:00:00"), "%Y-%m-%dT%H:%M:%S")
            .map_err(|e| super::corrupt("call started_at", e))?;
        let local = Utc.from_utc_datetime(&utc) + Duration::minutes(half) + offset;
        let key = local.format("%Y-%m-%dT%H:00").to_string();
        let code: String = row.get(2)?;
        let n: i64 = row.get(3)?;
        let bucket = buckets.entry(key.clone()).or_insert_with(|| HourBucket {
            hour: key,
            calls: 0,
            connected: 0,
            talk_time_s: 0,
        });
        bucket.calls += n;
        bucket.talk_time_s += row.get::<Option<i64>>(4)?.unwrap_or(0);
        if connected.get(&code).copied().unwrap_or(false) {
            bucket.connected += n;
        }
    }
    Ok(buckets.into_values().collect())
}

fn goal_from_row(row: &crate::sql::Row) -> Result<Goal, DbError> {
    let user: String = row.get(1)?;
    Ok(Goal {
        team: row.get(0)?,
        user_id: if user.is_empty() {
            None
        } else {
            Some(Id::parse_str(&user).map_err(|e| super::corrupt("goal user", e))?)
        },
        daily_calls: row.get(2)?,
        daily_conversions: row.get(3)?,
        updated_at: get_ts(row, 4, "goal updated_at")?,
        updated_by: get_id(row, 5, "goal updated_by")?,
    })
}

fn all_goals(tx: &mut Tx<'_>) -> Result<Vec<Goal>, DbError> {
    tx.query(
        "SELECT team, user_key, daily_calls, daily_conversions, updated_at, updated_by FROM goals
         ORDER BY team, user_key",
        &[],
    )?
    .iter()
    .map(goal_from_row)
    .collect()
}

/// The goals of `team` (its default first, then per telecaller), or of every team.
pub fn goals(tx: &mut Tx<'_>, team: Option<&str>) -> Result<Vec<Goal>, DbError> {
    Ok(all_goals(tx)?
        .into_iter()
        .filter(|g| team.is_none_or(|t| g.team == t))
        .collect())
}

/// Sets (inserts or replaces) a goal.
pub fn set_goal(
    tx: &mut Tx<'_>,
    team: &str,
    user_id: Option<&Id>,
    daily_calls: i64,
    daily_conversions: i64,
    by: &Id,
    now: &Timestamp,
) -> Result<Goal, DbError> {
    let user_key = user_id.map(id_text).unwrap_or_default();
    tx.execute(
        "INSERT INTO goals (team, user_key, daily_calls, daily_conversions, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (team, user_key) DO UPDATE SET daily_calls = excluded.daily_calls,
             daily_conversions = excluded.daily_conversions, updated_at = excluded.updated_at,
             updated_by = excluded.updated_by",
        &params![
            team,
            user_key.as_str(),
            daily_calls,
            daily_conversions,
            ts(now),
            id_text(by)
        ],
    )?;
    let row = tx.query_one(
        "SELECT team, user_key, daily_calls, daily_conversions, updated_at, updated_by FROM goals
         WHERE team = $1 AND user_key = $2",
        &params![team, user_key.as_str()],
    )?;
    goal_from_row(&row)
}
