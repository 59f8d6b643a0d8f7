//! Answers of the analytics API (`/api/v1/analytics/*`) and the goals a supervisor sets
//! (`/api/v1/goals`): the figures behind the telecaller dashboard and the supervisor's team view.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// Daily targets: for one telecaller, or the team default (`user_id` absent).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    pub team: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub user_id: Option<Id>,
    pub daily_calls: i64,
    pub daily_conversions: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub updated_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub updated_by: Id,
}

/// `PUT /api/v1/goals` body.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetGoal {
    /// The team (admins; supervisors may only name their own and may leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub team: Option<String>,
    /// One telecaller's goal; absent: the team default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub user_id: Option<Id>,
    pub daily_calls: i64,
    pub daily_conversions: i64,
}

/// One telecaller's figures over a date range.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TelecallerFigures {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub user_id: Id,
    pub username: String,
    pub name: String,
    /// Calls made (every call log in the range).
    pub calls: i64,
    /// Calls whose disposition is in the `connected` category.
    pub connected: i64,
    /// Sum of call durations, in seconds.
    pub talk_time_s: i64,
    /// Calls with the `converted` disposition.
    pub conversions: i64,
    /// Calls per disposition code.
    pub dispositions: BTreeMap<String, i64>,
    /// Open follow-ups due within the range.
    pub follow_ups_due: i64,
    /// Open follow-ups due before now (at the time of the query).
    pub follow_ups_overdue: i64,
    /// Follow-ups completed within the range.
    pub follow_ups_done: i64,
    /// The daily goals in force, multiplied by the days of the range, and progress against them.
    pub goal_calls: i64,
    pub goal_conversions: i64,
}

/// `GET /api/v1/analytics/summary` answer.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub from: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub to: Timestamp,
    /// Days covered (goals are per day).
    pub days: i64,
    pub telecallers: Vec<TelecallerFigures>,
    /// The sum over `telecallers`.
    pub team: TeamTotals,
}

/// The team's totals.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamTotals {
    pub calls: i64,
    pub connected: i64,
    pub talk_time_s: i64,
    pub conversions: i64,
    pub dispositions: BTreeMap<String, i64>,
    pub follow_ups_due: i64,
    pub follow_ups_overdue: i64,
    pub follow_ups_done: i64,
    pub goal_calls: i64,
    pub goal_conversions: i64,
}

/// One place of the leaderboard.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    pub rank: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub user_id: Id,
    pub name: String,
    pub value: i64,
}

/// `GET /api/v1/analytics/leaderboard` answer.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// `calls`, `connected`, `conversions` or `talk_time_s`.
    pub metric: String,
    pub entries: Vec<LeaderboardEntry>,
}

/// One hour of the hourly series, in the requested time zone.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourBucket {
    /// Local time of the hour's start, `YYYY-MM-DDTHH:00` (no offset: the answer's `tz_offset_minutes`).
    pub hour: String,
    pub calls: i64,
    pub connected: i64,
    pub talk_time_s: i64,
}

/// `GET /api/v1/analytics/hourly` answer.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourlySeries {
    pub tz_offset_minutes: i32,
    pub hours: Vec<HourBucket>,
}
