//! Storage of real-time events (`GET /api/v1/events`): the `events` table.
//!
//! **Recording.** Code that changes something a user should hear about calls [`record`] inside the same
//! write transaction as the change, so an event exists exactly when its change committed:
//!
//! ```ignore
//! state.repo().write(move |tx| {
//!     /* … the change … */
//!     db::events::record(tx, &EventTarget::User(assignee), &ServerEvent::SyncPoke, &now)?;
//!     Ok(())
//! }).await?;
//! ```
//!
//! `record` takes the event id from `change_seq` (the same counter as `db::reserve_seqs`, whose row lock
//! orders committing writers), so ids grow in commit order and a reader that saw id N has seen every
//! earlier event. On PostgreSQL it also runs `pg_notify('leadline_events', <id>)`, delivered to every
//! server's listener when the transaction commits; on both backends it marks the transaction so that
//! `Repo::write` wakes this process's event hub after the commit. Nothing else is needed from callers.

use leadline_model::{Id, ServerEvent, Timestamp, User};

use super::{DbError, Tx, get_id, id_text, reserve_seqs, ts};
use crate::params;
use crate::sql::{Backend, Row};

/// The PostgreSQL notification channel woken on every commit that recorded events.
pub const PG_CHANNEL: &str = "leadline_events";

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventTarget {
    /// One user (every device they are connected with).
    User(Id),
    /// Every member of a team: its supervisors and telecallers.
    Team(String),
    /// Everyone.
    All,
}

impl EventTarget {
    /// Whether a connected `user` receives events for this target.
    pub fn reaches(&self, user: &User) -> bool {
        match self {
            EventTarget::User(id) => *id == user.id,
            EventTarget::Team(team) => user.team.as_deref() == Some(team.as_str()),
            EventTarget::All => true,
        }
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Its position in the event stream (the `cursor` clients see).
    pub id: i64,
    pub target: EventTarget,
    pub event: ServerEvent,
    pub created_at: Timestamp,
}

/// Records `event` for `target` in the transaction `tx`, at time `now`; returns its id. See the module
/// documentation.
pub fn record(
    tx: &mut Tx<'_>,
    target: &EventTarget,
    event: &ServerEvent,
    now: &Timestamp,
) -> Result<i64, DbError> {
    let id = reserve_seqs(tx, 1)?;
    let (user, team) = match target {
        EventTarget::User(id) => (Some(id_text(id)), None),
        EventTarget::Team(team) => (None, Some(team.clone())),
        EventTarget::All => (None, None),
    };
    let payload = serde_json::to_string(event).map_err(|e| DbError::Corrupt {
        what: "event payload",
        detail: e.to_string(),
    })?;
    tx.execute(
        "INSERT INTO events (id, target_user, target_team, kind, payload, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &params![id, user, team, event.kind(), payload, ts(now)],
    )?;
    if tx.backend() == Backend::Postgres {
        // Delivered to every LISTENing server when (and only if) this transaction commits.
        tx.execute(
            &format!("SELECT pg_notify('{PG_CHANNEL}', $1)"),
            &params![id.to_string()],
        )?;
    }
    tx.events_recorded = true;
    Ok(id)
}

const EVENT_COLS: &str = "id, target_user, target_team, payload, created_at";

fn event_from_row(row: &Row) -> Result<StoredEvent, DbError> {
    let id: i64 = row.get(0)?;
    let team: Option<String> = row.get(2)?;
    let target = match (row.get::<Option<String>>(1)?, team) {
        (Some(_), _) => EventTarget::User(get_id(row, 1, "event target user")?),
        (None, Some(team)) => EventTarget::Team(team),
        (None, None) => EventTarget::All,
    };
    let payload: String = row.get(3)?;
    let event = serde_json::from_str(&payload).map_err(|e| DbError::Corrupt {
        what: "event payload",
        detail: format!("event {id}: {e}"),
    })?;
    let created_at: String = row.get(4)?;
    let created_at = chrono::DateTime::parse_from_rfc3339(&created_at)
        .map_err(|e| DbError::Corrupt {
            what: "event created_at",
            detail: format!("event {id}: {e}"),
        })?
        .with_timezone(&chrono::Utc);
    Ok(StoredEvent {
        id,
        target,
        event,
        created_at,
    })
}

/// The events with `id > after`, in id order, at most `limit` of them (all targets): what the hub reads.
pub fn events_after(tx: &mut Tx<'_>, after: i64, limit: u32) -> Result<Vec<StoredEvent>, DbError> {
    tx.query(
        &format!("SELECT {EVENT_COLS} FROM events WHERE id > $1 ORDER BY id LIMIT $2"),
        &params![after, i64::from(limit)],
    )?
    .iter()
    .map(event_from_row)
    .collect()
}

/// The events `user` receives with `id > after`, in id order, at most `limit` of them: the replay after
/// a reconnect.
pub fn events_for_user_after(
    tx: &mut Tx<'_>,
    user: &User,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredEvent>, DbError> {
    tx.query(
        &format!(
            "SELECT {EVENT_COLS} FROM events
             WHERE id > $1 AND (target_user = $2 OR target_team = $3
                                OR (target_user IS NULL AND target_team IS NULL))
             ORDER BY id LIMIT $4"
        ),
        &params![after, id_text(&user.id), user.team.clone(), i64::from(limit)],
    )?
    .iter()
    .map(event_from_row)
    .collect()
}

/// The highest event id (0 when there is none).
pub fn last_event_id(tx: &mut Tx<'_>) -> Result<i64, DbError> {
    Ok(tx.query_scalar("SELECT CAST(COALESCE(max(id), 0) AS BIGINT) FROM events", &[])?)
}

/// Deletes the events recorded before `cutoff`; returns how many.
pub fn delete_events_before(tx: &mut Tx<'_>, cutoff: &Timestamp) -> Result<u64, DbError> {
    Ok(tx.execute("DELETE FROM events WHERE created_at < $1", &params![ts(cutoff)])?)
}

/// Records `follow_up_due` events for up to `limit` open follow-ups whose `due_at` lies in
/// `(not_before, now]` and that were not announced for that `due_at` yet; returns how many it recorded.
///
/// Each follow-up is claimed in `follow_up_due_events` with `INSERT … ON CONFLICT … DO UPDATE … WHERE`
/// the stored `due_at` differs, so when several server nodes run this at once exactly one of them records
/// each event (the others' statement waits for the winner's commit, then changes no row). `change_seq` is
/// locked first, in the order every seq-taking writer uses, so this cannot deadlock with lead assignment.
pub fn record_due_follow_ups(
    tx: &mut Tx<'_>,
    now: &Timestamp,
    not_before: &Timestamp,
    limit: u32,
) -> Result<u64, DbError> {
    let lock = tx.for_update();
    tx.query(&format!("SELECT value FROM change_seq WHERE id = 1{lock}"), &[])?;
    let candidates = tx.query(
        "SELECT f.id, f.lead_id, f.assigned_to, f.due_at FROM follow_ups f
         LEFT JOIN follow_up_due_events d ON d.follow_up_id = f.id
         WHERE f.completed_at IS NULL AND f.due_at <= $1 AND f.due_at > $2
           AND (d.due_at IS NULL OR d.due_at <> f.due_at)
         ORDER BY f.due_at, f.id LIMIT $3",
        &params![ts(now), ts(not_before), i64::from(limit)],
    )?;
    let mut recorded = 0;
    for row in candidates {
        let id = get_id(&row, 0, "follow-up id")?;
        let lead_id = get_id(&row, 1, "follow-up lead")?;
        let assignee = get_id(&row, 2, "follow-up assignee")?;
        let due_text: String = row.get(3)?;
        let claimed = tx.execute(
            "INSERT INTO follow_up_due_events (follow_up_id, due_at) VALUES ($1, $2)
             ON CONFLICT (follow_up_id) DO UPDATE SET due_at = excluded.due_at
             WHERE follow_up_due_events.due_at <> excluded.due_at",
            &params![id_text(&id), due_text.as_str()],
        )?;
        if claimed == 0 {
            continue;
        }
        let due_at = chrono::DateTime::parse_from_rfc3339(&due_text)
            .map_err(|e| DbError::Corrupt {
                what: "follow-up due_at",
                detail: e.to_string(),
            })?
            .with_timezone(&chrono::Utc);
        record(
            tx,
            &EventTarget::User(assignee),
            &ServerEvent::FollowUpDue {
                follow_up_id: id,
                lead_id,
                due_at,
            },
            now,
        )?;
        recorded += 1;
    }
    Ok(recorded)
}

/// The active supervisors of `team`.
fn team_supervisors(tx: &mut Tx<'_>, team: &str) -> Result<Vec<Id>, DbError> {
    tx.query(
        "SELECT id FROM users WHERE team = $1 AND role = 'supervisor' AND active = 1 ORDER BY id",
        &params![team],
    )?
    .into_iter()
    .map(|row| {
        let id: String = row.get(0)?;
        Id::parse_str(&id).map_err(|e| super::corrupt("supervisor id", e))
    })
    .collect()
}

/// Records a `sync_poke` for whoever pulls these leads — each lead's assignee and its team's supervisors
/// (a telecaller's feed holds only their own leads, so their teammates are not woken) — once per user:
/// their devices, connected to any node, then pull at once. Call it inside the write transaction, after
/// the changes.
pub fn poke_leads(
    tx: &mut Tx<'_>,
    leads: impl IntoIterator<Item = Id>,
    now: &Timestamp,
) -> Result<usize, DbError> {
    let mut targets: Vec<EventTarget> = Vec::new();
    // Each team's active supervisors, read once per team.
    let mut supervisors: std::collections::HashMap<String, Vec<Id>> = std::collections::HashMap::new();
    let add = |targets: &mut Vec<EventTarget>, user: Id| {
        let target = EventTarget::User(user);
        if !targets.contains(&target) {
            targets.push(target);
        }
    };
    for lead in leads {
        let Some(row) = tx.query_opt(
            "SELECT team, assigned_to FROM leads WHERE id = $1",
            &params![id_text(&lead)],
        )?
        else {
            continue;
        };
        let team: Option<String> = row.get(0)?;
        let assignee: Option<String> = row.get(1)?;
        if let Some(a) = assignee {
            add(
                &mut targets,
                Id::parse_str(&a).map_err(|e| super::corrupt("lead assignee", e))?,
            );
        }
        if let Some(team) = team {
            if !supervisors.contains_key(&team) {
                let ids = team_supervisors(tx, &team)?;
                supervisors.insert(team.clone(), ids);
            }
            for id in supervisors.get(&team).into_iter().flatten() {
                add(&mut targets, *id);
            }
        }
    }
    for target in &targets {
        record(tx, target, &ServerEvent::SyncPoke, now)?;
    }
    Ok(targets.len())
}
