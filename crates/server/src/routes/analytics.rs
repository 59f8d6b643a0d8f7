//! Analytics and goals: `GET /api/v1/analytics/{summary,leaderboard,hourly}`, `GET/PUT /api/v1/goals`.
//!
//! Who sees what: a telecaller their own figures (summary and hourly); a supervisor their team's, any
//! member's, and the leaderboard; an admin any team's (`team=`) or everyone's. Times are RFC 3339; the
//! range defaults to today (local midnight at `tz_offset_minutes`, default India's +330, until now).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use leadline_model::analytics::{
    AnalyticsSummary, Goal, HourlySeries, Leaderboard, LeaderboardEntry, SetGoal, TeamTotals,
};
use leadline_model::{Id, Role, Timestamp, User};

use crate::AppState;
use crate::api::{ApiFailure, AuthUser, bad, parse_time, single};
use crate::db::analytics::{self, Who};

/// Longest range one request may cover.
pub const MAX_RANGE_DAYS: i64 = 366;
/// India Standard Time, minutes east of UTC: the default time zone of day boundaries and hours.
pub const DEFAULT_TZ_OFFSET_MINUTES: i32 = 330;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/analytics/summary", get(summary))
        .route("/api/v1/analytics/leaderboard", get(leaderboard))
        .route("/api/v1/analytics/hourly", get(hourly))
        .route("/api/v1/goals", get(list_goals).put(set_goal))
}

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

struct Range {
    from: Timestamp,
    to: Timestamp,
    days: i64,
    tz: i32,
}

fn parse_range(pairs: &[(String, String)], now: Timestamp) -> Result<Range, ApiFailure> {
    let tz = match single(pairs, "tz_offset_minutes") {
        None => DEFAULT_TZ_OFFSET_MINUTES,
        Some(v) => match v.parse::<i32>() {
            Ok(m) if m.abs() <= 14 * 60 && m % 30 == 0 => m,
            _ => {
                return Err(bad(
                    "bad_tz_offset_minutes",
                    "tz_offset_minutes must be a multiple of 30 between -840 and 840 (India: 330)",
                ));
            }
        },
    };
    let offset = Duration::minutes(i64::from(tz));
    let local_midnight = {
        let local = (now + offset).date_naive();
        local
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc() - offset)
            .unwrap_or(now)
    };
    let from = parse_time(pairs, "from", "bad_from")?.unwrap_or(local_midnight);
    let to = parse_time(pairs, "to", "bad_to")?.unwrap_or(now);
    if to <= from {
        return Err(bad("bad_range", "to must be after from"));
    }
    let span = to - from;
    if span > Duration::days(MAX_RANGE_DAYS) {
        return Err(bad(
            "bad_range",
            format!("a range covers at most {MAX_RANGE_DAYS} days"),
        ));
    }
    // Goals are daily: a partial day counts as a day.
    let days = (span.num_seconds() + 86_399) / 86_400;
    Ok(Range { from, to, days, tz })
}

fn parse_id(text: &str, code: &'static str) -> Result<Id, ApiFailure> {
    Id::parse_str(text).map_err(|_| bad(code, format!("{text:?} is not an id")))
}

/// Whose figures a request may see and asked for.
async fn who(state: &AppState, user: &User, pairs: &[(String, String)]) -> Result<Who, ApiFailure> {
    let telecaller = single(pairs, "telecaller")
        .map(|t| parse_id(t, "bad_telecaller"))
        .transpose()?;
    let team = single(pairs, "team");
    match user.role {
        Role::Telecaller => match telecaller {
            Some(id) if id != user.id => Err(ApiFailure::Forbidden),
            _ if team.is_some() => Err(ApiFailure::Forbidden),
            _ => Ok(Who::User(user.id)),
        },
        Role::Supervisor => {
            let own = user.team.clone().ok_or(ApiFailure::Forbidden)?;
            if team.is_some_and(|t| t != own) {
                return Err(ApiFailure::Forbidden);
            }
            match telecaller {
                Some(id) => {
                    let member = state.repo().user_by_id(id).await?;
                    match member {
                        Some(m) if m.team.as_deref() == Some(own.as_str()) => Ok(Who::User(id)),
                        _ => Err(ApiFailure::Missing("telecaller")),
                    }
                }
                None => Ok(Who::Team(own)),
            }
        }
        Role::Admin => Ok(match (telecaller, team) {
            (Some(id), _) => Who::User(id),
            (None, Some(t)) => Who::Team(t.to_owned()),
            (None, None) => Who::All,
        }),
    }
}

fn totals(telecallers: &[leadline_model::analytics::TelecallerFigures]) -> TeamTotals {
    let mut t = TeamTotals::default();
    for f in telecallers {
        t.calls += f.calls;
        t.connected += f.connected;
        t.talk_time_s += f.talk_time_s;
        t.conversions += f.conversions;
        t.follow_ups_due += f.follow_ups_due;
        t.follow_ups_overdue += f.follow_ups_overdue;
        t.follow_ups_done += f.follow_ups_done;
        t.goal_calls += f.goal_calls;
        t.goal_conversions += f.goal_conversions;
        for (code, n) in &f.dispositions {
            *t.dispositions.entry(code.clone()).or_insert(0) += n;
        }
    }
    t
}

/// `GET /api/v1/analytics/summary?from=&to=&team=&telecaller=&tz_offset_minutes=`
async fn summary(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Pairs,
) -> Result<Json<AnalyticsSummary>, ApiFailure> {
    let Query(pairs) = params.map_err(|e| bad("bad_request", e.body_text()))?;
    let now = Utc::now();
    let range = parse_range(&pairs, now)?;
    let who = who(&state, &user, &pairs).await?;
    let (from, to, days) = (range.from, range.to, range.days);
    let telecallers = state
        .repo()
        .read(move |tx| analytics::figures(tx, &who, &from, &to, &now, days))
        .await?;
    let team = totals(&telecallers);
    Ok(Json(AnalyticsSummary {
        from,
        to,
        days,
        telecallers,
        team,
    }))
}

/// `GET /api/v1/analytics/leaderboard?metric=calls|connected|conversions|talk_time_s&from=&to=&team=`:
/// supervisors and admins.
async fn leaderboard(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Pairs,
) -> Result<Json<Leaderboard>, ApiFailure> {
    let Query(pairs) = params.map_err(|e| bad("bad_request", e.body_text()))?;
    if user.role == Role::Telecaller {
        return Err(ApiFailure::Forbidden);
    }
    let metric = single(&pairs, "metric").unwrap_or("calls").to_owned();
    let value: fn(&leadline_model::analytics::TelecallerFigures) -> i64 = match metric.as_str() {
        "calls" => |f| f.calls,
        "connected" => |f| f.connected,
        "conversions" => |f| f.conversions,
        "talk_time_s" => |f| f.talk_time_s,
        _ => {
            return Err(bad(
                "bad_metric",
                "metric must be calls, connected, conversions or talk_time_s",
            ));
        }
    };
    let now = Utc::now();
    let range = parse_range(&pairs, now)?;
    if single(&pairs, "telecaller").is_some() {
        return Err(bad(
            "bad_telecaller",
            "a leaderboard ranks a team; leave out telecaller",
        ));
    }
    let who = who(&state, &user, &pairs).await?;
    let (from, to, days) = (range.from, range.to, range.days);
    let mut figures = state
        .repo()
        .read(move |tx| analytics::figures(tx, &who, &from, &to, &now, days))
        .await?;
    figures.sort_by(|a, b| value(b).cmp(&value(a)).then_with(|| a.name.cmp(&b.name)));
    let mut entries = Vec::with_capacity(figures.len());
    let mut rank = 0u32;
    let mut last: Option<i64> = None;
    for (i, f) in figures.iter().enumerate() {
        let v = value(f);
        if last != Some(v) {
            rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
            last = Some(v);
        }
        entries.push(LeaderboardEntry {
            rank,
            user_id: f.user_id,
            name: f.name.clone(),
            value: v,
        });
    }
    Ok(Json(Leaderboard { metric, entries }))
}

/// `GET /api/v1/analytics/hourly?from=&to=&team=&telecaller=&tz_offset_minutes=`
async fn hourly(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Pairs,
) -> Result<Json<HourlySeries>, ApiFailure> {
    let Query(pairs) = params.map_err(|e| bad("bad_request", e.body_text()))?;
    let range = parse_range(&pairs, Utc::now())?;
    let who = who(&state, &user, &pairs).await?;
    let (from, to, tz) = (range.from, range.to, range.tz);
    let hours = state
        .repo()
        .read(move |tx| analytics::hourly(tx, &who, &from, &to, tz))
        .await?;
    Ok(Json(HourlySeries {
        tz_offset_minutes: tz,
        hours,
    }))
}

/// `GET /api/v1/goals?team=`: a team's goals (supervisors: their own team; telecallers: their team's, to
/// show progress; admins: any or all).
async fn list_goals(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    params: Pairs,
) -> Result<Json<Vec<Goal>>, ApiFailure> {
    let Query(pairs) = params.map_err(|e| bad("bad_request", e.body_text()))?;
    let asked = single(&pairs, "team").map(str::to_owned);
    let team = match user.role {
        Role::Admin => asked,
        Role::Supervisor | Role::Telecaller => {
            let own = user.team.clone().ok_or(ApiFailure::Forbidden)?;
            if asked.as_ref().is_some_and(|t| *t != own) {
                return Err(ApiFailure::Forbidden);
            }
            Some(own)
        }
    };
    let goals = state
        .repo()
        .read(move |tx| analytics::goals(tx, team.as_deref()))
        .await?;
    Ok(Json(goals))
}

/// `PUT /api/v1/goals`: supervisors for their team (and its members), admins for any team.
async fn set_goal(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<SetGoal>, JsonRejection>,
) -> Result<Json<Goal>, ApiFailure> {
    let Json(req) = body.map_err(|e| bad("bad_request", e.body_text()))?;
    if !(0..=10_000).contains(&req.daily_calls) || !(0..=10_000).contains(&req.daily_conversions) {
        return Err(bad(
            "bad_goal",
            "daily goals must be whole numbers from 0 to 10000",
        ));
    }
    let team = match user.role {
        Role::Telecaller => return Err(ApiFailure::Forbidden),
        Role::Supervisor => {
            let own = user.team.clone().ok_or(ApiFailure::Forbidden)?;
            if req.team.as_ref().is_some_and(|t| *t != own) {
                return Err(ApiFailure::Forbidden);
            }
            own
        }
        Role::Admin => req
            .team
            .clone()
            .ok_or_else(|| bad("bad_team", "an admin names the team"))?,
    };
    if let Some(id) = req.user_id {
        match state.repo().user_by_id(id).await? {
            Some(member) if member.team.as_deref() == Some(team.as_str()) => {}
            _ => return Err(ApiFailure::Missing("telecaller")),
        }
    }
    let by = user.id;
    let goal = state
        .repo()
        .write(move |tx| {
            analytics::set_goal(
                tx,
                &team,
                req.user_id.as_ref(),
                req.daily_calls,
                req.daily_conversions,
                &by,
                &Utc::now(),
            )
        })
        .await?;
    Ok(Json(goal))
}
