//! Storage of the team's live status: the `presence` table (one row per user: the state their desktop
//! last reported, since when it holds, and when it last reported).

use chrono::Duration;
use leadline_model::supervise::{AgentPresence, AgentState};
use leadline_model::{Id, Timestamp};

use super::analytics::Who;
use super::{Binder, DbError, Tx, get_enum, get_id, get_opt_ts, id_text, ts};
use crate::params;

/// Records `state` as `user_id`'s report at `now`; `since` stays when the state is unchanged.
pub fn report(tx: &mut Tx<'_>, user_id: &Id, state: AgentState, now: &Timestamp) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO presence (user_id, state, since, reported_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (user_id) DO UPDATE SET
             since = CASE WHEN presence.state = excluded.state THEN presence.since ELSE excluded.since END,
             state = excluded.state,
             reported_at = excluded.reported_at",
        &params![id_text(user_id), state.as_str(), ts(now)],
    )?;
    Ok(())
}

/// The active telecallers of `who` with their status at `now`: a report older than `timeout` (or none)
/// is [`AgentState::Offline`]. Ordered by name, then id.
pub fn team(
    tx: &mut Tx<'_>,
    who: &Who,
    now: &Timestamp,
    timeout: Duration,
) -> Result<Vec<AgentPresence>, DbError> {
    let mut b = Binder::default();
    let filter = who.users_filter(&mut b);
    let sql = format!(
        "SELECT u.id, u.username, u.name, p.state, p.since, p.reported_at
         FROM users u LEFT JOIN presence p ON p.user_id = u.id
         WHERE {filter} AND u.active = 1
         ORDER BY u.name, u.id"
    );
    let rows = tx.query(&sql, &b.params)?;
    let stale_before = *now - timeout;
    rows.iter()
        .map(|row| {
            let state: Option<AgentState> = match row.get::<Option<String>>(3)? {
                Some(_) => Some(get_enum(row, 3, "presence state")?),
                None => None,
            };
            let since = get_opt_ts(row, 4, "presence since")?;
            let last_seen = get_opt_ts(row, 5, "presence reported_at")?;
            let fresh = last_seen.is_some_and(|t| t >= stale_before);
            let (state, since) = match state {
                Some(s) if fresh => (s, since),
                // Silent too long: offline since its last report.
                Some(_) => (AgentState::Offline, last_seen),
                None => (AgentState::Offline, None),
            };
            Ok(AgentPresence {
                user_id: get_id(row, 0, "user id")?,
                username: row.get(1)?,
                name: row.get(2)?,
                state,
                since,
                last_seen,
            })
        })
        .collect()
}
