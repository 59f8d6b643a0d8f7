//! Conversions between model types and their column values.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use leadline_model::{CallLog, CallQuality, FollowUp, FollowUpSpec, Id, Lead, PhoneNumber, Timestamp};
use rusqlite::Row;

use crate::StoreError;

/// RFC 3339, UTC, microseconds, `Z`: sorts as text.
pub(crate) fn ts(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn opt_ts(t: &Option<Timestamp>) -> Option<String> {
    t.as_ref().map(ts)
}

fn invalid(what: &str, value: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("{what} {value:?}: {e}"))
}

pub(crate) fn parse_ts(s: &str) -> Result<Timestamp, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| invalid("timestamp", s, e))
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Result<Option<Timestamp>, StoreError> {
    s.as_deref().map(parse_ts).transpose()
}

pub(crate) fn parse_id(s: &str) -> Result<Id, StoreError> {
    Id::parse_str(s).map_err(|e| invalid("id", s, e))
}

pub(crate) fn parse_enum<T: FromStr>(s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn parse_phone(s: &str) -> Result<PhoneNumber, StoreError> {
    PhoneNumber::from_stored(s).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(crate) fn json_list(v: &[String]) -> Result<String, StoreError> {
    Ok(serde_json::to_string(v)?)
}

fn parse_list(s: &str) -> Result<Vec<String>, StoreError> {
    Ok(serde_json::from_str(s)?)
}

/// The lead columns in the order [`lead_from_row`] reads them.
pub(crate) const LEAD_COLUMNS: &str = "id, name, phone, alternate_phone, email, city, source, interest, \
     budget_inr, priority, status, tags, assigned_to, created_at, updated_at, version";

pub(crate) fn lead_from_row(row: &Row<'_>) -> Result<Lead, StoreError> {
    let get = |i: usize| -> Result<String, StoreError> { Ok(row.get::<_, String>(i)?) };
    let opt = |i: usize| -> Result<Option<String>, StoreError> { Ok(row.get::<_, Option<String>>(i)?) };
    Ok(Lead {
        id: parse_id(&get(0)?)?,
        name: get(1)?,
        phone: parse_phone(&get(2)?)?,
        alternate_phone: opt(3)?.as_deref().map(parse_phone).transpose()?,
        email: opt(4)?,
        city: opt(5)?,
        source: parse_enum(&get(6)?)?,
        interest: opt(7)?,
        budget_inr: row.get(8)?,
        priority: parse_enum(&get(9)?)?,
        status: parse_enum(&get(10)?)?,
        tags: parse_list(&get(11)?)?,
        assigned_to: opt(12)?.as_deref().map(parse_id).transpose()?,
        created_at: parse_ts(&get(13)?)?,
        updated_at: parse_ts(&get(14)?)?,
        version: row.get(15)?,
    })
}

pub(crate) const CALL_COLUMNS: &str = "id, lead_id, telecaller_id, direction, started_at, answered_at, \
     ended_at, duration_s, disposition, outcome_tags, notes, follow_up_due_at, follow_up_note, recording_url, \
     provider_call_id, device_id, quality_mos, quality_rtt_ms, quality_jitter_ms, quality_loss, quality_codec, \
     quality_remote_loss, quality_remote_jitter_ms";

/// How many columns [`CALL_COLUMNS`] names (a query selecting more after them reads those from here on).
pub(crate) const CALL_COLUMN_COUNT: usize = column_count(CALL_COLUMNS);

/// The number of names in a comma-separated column list.
const fn column_count(list: &str) -> usize {
    let bytes = list.as_bytes();
    let mut n = 1;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The call quality columns (of `call_logs` and `call_drafts`), in the order [`quality_from_row`] reads
/// them and [`QualityCols`] binds them.
pub(crate) const QUALITY_COLUMNS: &str = "quality_mos, quality_rtt_ms, quality_jitter_ms, quality_loss, \
     quality_codec, quality_remote_loss, quality_remote_jitter_ms";

/// Reads the quality figures from the seven [`QUALITY_COLUMNS`] starting at column `first`: `None` when
/// the row has none (no MOS).
pub(crate) fn quality_from_row(row: &Row<'_>, first: usize) -> Result<Option<CallQuality>, StoreError> {
    let Some(mos) = row.get::<_, Option<f64>>(first)? else {
        return Ok(None);
    };
    let real = |i: usize| row.get::<_, Option<f64>>(first + i);
    Ok(Some(CallQuality {
        mos,
        rtt_ms: real(1)?,
        jitter_ms: real(2)?.unwrap_or_default(),
        loss: real(3)?.unwrap_or_default(),
        codec: row.get(first + 4)?,
        remote_loss: real(5)?,
        remote_jitter_ms: real(6)?,
    }))
}

/// The values of the [`QUALITY_COLUMNS`] for some figures (all NULL for none).
#[derive(Debug, Default)]
pub(crate) struct QualityCols {
    pub mos: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub loss: Option<f64>,
    pub codec: Option<String>,
    pub remote_loss: Option<f64>,
    pub remote_jitter_ms: Option<f64>,
}

/// `head` (a statement's own parameters, from `params!`), then the seven quality values in
/// [`QUALITY_COLUMNS`] order: every statement that writes quality columns binds them last.
pub(crate) fn with_quality<'a>(
    head: &[&'a dyn rusqlite::ToSql],
    q: &'a QualityCols,
) -> rusqlite::ParamsFromIter<Vec<&'a dyn rusqlite::ToSql>> {
    let tail: [&dyn rusqlite::ToSql; 7] = [
        &q.mos,
        &q.rtt_ms,
        &q.jitter_ms,
        &q.loss,
        &q.codec,
        &q.remote_loss,
        &q.remote_jitter_ms,
    ];
    rusqlite::params_from_iter(head.iter().copied().chain(tail).collect())
}

impl QualityCols {
    pub(crate) fn of(q: Option<&CallQuality>) -> Self {
        match q {
            None => Self::default(),
            Some(q) => Self {
                mos: Some(q.mos),
                rtt_ms: q.rtt_ms,
                jitter_ms: Some(q.jitter_ms),
                loss: Some(q.loss),
                codec: q.codec.clone(),
                remote_loss: q.remote_loss,
                remote_jitter_ms: q.remote_jitter_ms,
            },
        }
    }
}

/// Refuses implausible figures (see [`CallQuality::check`]) before they are stored or queued.
pub(crate) fn check_quality(q: Option<&CallQuality>) -> Result<(), StoreError> {
    q.map_or(Ok(()), |q| {
        q.check().map_err(|e| StoreError::Invalid(e.to_string()))
    })
}

pub(crate) fn call_from_row(row: &Row<'_>) -> Result<CallLog, StoreError> {
    let get = |i: usize| -> Result<String, StoreError> { Ok(row.get::<_, String>(i)?) };
    let opt = |i: usize| -> Result<Option<String>, StoreError> { Ok(row.get::<_, Option<String>>(i)?) };
    let follow_up = match parse_opt_ts(opt(11)?)? {
        Some(due_at) => Some(FollowUpSpec {
            due_at,
            note: opt(12)?,
        }),
        None => None,
    };
    Ok(CallLog {
        id: parse_id(&get(0)?)?,
        lead_id: parse_id(&get(1)?)?,
        telecaller_id: parse_id(&get(2)?)?,
        direction: parse_enum(&get(3)?)?,
        started_at: parse_ts(&get(4)?)?,
        answered_at: parse_opt_ts(opt(5)?)?,
        ended_at: parse_opt_ts(opt(6)?)?,
        duration_s: row.get(7)?,
        disposition: get(8)?,
        outcome_tags: parse_list(&get(9)?)?,
        notes: get(10)?,
        follow_up,
        recording_url: opt(13)?,
        provider_call_id: opt(14)?,
        device_id: opt(15)?,
        quality: quality_from_row(row, 16)?,
    })
}

pub(crate) const FOLLOW_UP_COLUMNS: &str =
    "id, lead_id, assigned_to, due_at, note, call_log_id, completed_at, created_at";

pub(crate) fn follow_up_from_row(row: &Row<'_>) -> Result<FollowUp, StoreError> {
    let get = |i: usize| -> Result<String, StoreError> { Ok(row.get::<_, String>(i)?) };
    let opt = |i: usize| -> Result<Option<String>, StoreError> { Ok(row.get::<_, Option<String>>(i)?) };
    Ok(FollowUp {
        id: parse_id(&get(0)?)?,
        lead_id: parse_id(&get(1)?)?,
        assigned_to: parse_id(&get(2)?)?,
        due_at: parse_ts(&get(3)?)?,
        note: opt(4)?,
        call_log_id: opt(5)?.as_deref().map(parse_id).transpose()?,
        completed_at: parse_opt_ts(opt(6)?)?,
        created_at: parse_ts(&get(7)?)?,
    })
}

/// Writes (inserts or replaces) rows; shared by pulls from the server and by local changes.
pub(crate) mod write {
    use super::*;
    use rusqlite::{Connection, params};

    const INSERT_LEAD: &str =
        "INSERT INTO leads (id, name, phone, alternate_phone, email, city, source, interest,
            budget_inr, priority, status, tags, assigned_to, created_at, updated_at, version, removed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 0)";

    /// Inserts or replaces the lead's row; answers its rowid (the search index is keyed by it).
    pub(crate) fn upsert_lead(conn: &Connection, l: &Lead) -> Result<i64, StoreError> {
        let sql = format!(
            "{INSERT_LEAD}
             ON CONFLICT (id) DO UPDATE SET
                name = excluded.name, phone = excluded.phone, alternate_phone = excluded.alternate_phone,
                email = excluded.email, city = excluded.city, source = excluded.source,
                interest = excluded.interest, budget_inr = excluded.budget_inr, priority = excluded.priority,
                status = excluded.status, tags = excluded.tags, assigned_to = excluded.assigned_to,
                created_at = excluded.created_at, updated_at = excluded.updated_at,
                version = excluded.version, removed = 0
             RETURNING rowid"
        );
        let tags = json_list(&l.tags)?;
        Ok(conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(lead_params(l, &tags)), |r| r.get(0))?)
    }

    /// Inserts a lead the cache does not have (a new id: no conflict to resolve, no row to return);
    /// answers its rowid.
    pub(crate) fn insert_new_lead(conn: &Connection, l: &Lead) -> Result<i64, StoreError> {
        let tags = json_list(&l.tags)?;
        conn.prepare_cached(INSERT_LEAD)?
            .execute(rusqlite::params_from_iter(lead_params(l, &tags)))?;
        Ok(conn.last_insert_rowid())
    }

    fn lead_params<'a>(l: &'a Lead, tags: &'a str) -> [Box<dyn rusqlite::ToSql + 'a>; 16] {
        [
            Box::new(l.id.to_string()),
            Box::new(l.name.as_str()),
            Box::new(l.phone.as_str()),
            Box::new(l.alternate_phone.as_ref().map(|p| p.as_str())),
            Box::new(l.email.as_deref()),
            Box::new(l.city.as_deref()),
            Box::new(l.source.as_str()),
            Box::new(l.interest.as_deref()),
            Box::new(l.budget_inr),
            Box::new(l.priority.as_str()),
            Box::new(l.status.as_str()),
            Box::new(tags),
            Box::new(l.assigned_to.map(|u| u.to_string())),
            Box::new(ts(&l.created_at)),
            Box::new(ts(&l.updated_at)),
            Box::new(l.version),
        ]
    }

    /// Call logs are append-only: a second copy of the same id is ignored.
    pub(crate) fn insert_call(conn: &Connection, c: &CallLog) -> Result<bool, StoreError> {
        let q = QualityCols::of(c.quality.as_ref());
        let n = conn
            .prepare_cached(
                "INSERT INTO call_logs (id, lead_id, telecaller_id, direction, started_at, answered_at, ended_at,
                    duration_s, disposition, outcome_tags, notes, follow_up_due_at, follow_up_note,
                    recording_url, provider_call_id, device_id, quality_mos, quality_rtt_ms, quality_jitter_ms,
                    quality_loss, quality_codec, quality_remote_loss, quality_remote_jitter_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20, ?21, ?22, ?23)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(with_quality(
params![
                c.id.to_string(),
                c.lead_id.to_string(),
                c.telecaller_id.to_string(),
                c.direction.as_str(),
                ts(&c.started_at),
                opt_ts(&c.answered_at),
                opt_ts(&c.ended_at),
                c.duration_s,
                c.disposition,
                json_list(&c.outcome_tags)?,
                c.notes,
                c.follow_up.as_ref().map(|f| ts(&f.due_at)),
                c.follow_up.as_ref().and_then(|f| f.note.clone()),
                c.recording_url,
                c.provider_call_id,
                c.device_id,
            ],
            &q,
        ))?;
        Ok(n == 1)
    }

    /// Fills what the cached call log `c.id` lacks from the server's copy `c`: the provider's facts that
    /// the server merges in after the log was written (a click-to-call's answer and end times, talk time,
    /// recording, call id), and the call quality figures when the cached copy has none (all of them
    /// together). Like the server's merge, each only goes from empty to a value — except the recording,
    /// which the server drops when retention purges it: a copy without one clears the cached reference.
    /// The telecaller's wrap-up is never touched. Answers whether the row changed.
    pub(crate) fn fill_call_facts(conn: &Connection, c: &CallLog) -> Result<bool, StoreError> {
        let q = QualityCols::of(c.quality.as_ref());
        let n = conn
            .prepare_cached(
                "UPDATE call_logs SET
                    answered_at = coalesce(answered_at, ?2),
                    ended_at = coalesce(ended_at, ?3),
                    duration_s = CASE WHEN duration_s = 0 THEN ?4 ELSE duration_s END,
                    recording_url = CASE WHEN ?5 IS NULL THEN NULL ELSE coalesce(recording_url, ?5) END,
                    provider_call_id = coalesce(provider_call_id, ?6),
                    quality_rtt_ms = CASE WHEN quality_mos IS NULL THEN ?8 ELSE quality_rtt_ms END,
                    quality_jitter_ms = CASE WHEN quality_mos IS NULL THEN ?9 ELSE quality_jitter_ms END,
                    quality_loss = CASE WHEN quality_mos IS NULL THEN ?10 ELSE quality_loss END,
                    quality_codec = CASE WHEN quality_mos IS NULL THEN ?11 ELSE quality_codec END,
                    quality_remote_loss = CASE WHEN quality_mos IS NULL THEN ?12 ELSE quality_remote_loss END,
                    quality_remote_jitter_ms =
                        CASE WHEN quality_mos IS NULL THEN ?13 ELSE quality_remote_jitter_ms END,
                    quality_mos = coalesce(quality_mos, ?7)
                 WHERE id = ?1
                   AND ((answered_at IS NULL AND ?2 IS NOT NULL) OR (ended_at IS NULL AND ?3 IS NOT NULL)
                        OR (duration_s = 0 AND ?4 <> 0) OR (recording_url IS NULL AND ?5 IS NOT NULL)
                        OR (recording_url IS NOT NULL AND ?5 IS NULL)
                        OR (provider_call_id IS NULL AND ?6 IS NOT NULL)
                        OR (quality_mos IS NULL AND ?7 IS NOT NULL))",
            )?
            .execute(with_quality(
                params![
                    c.id.to_string(),
                    opt_ts(&c.answered_at),
                    opt_ts(&c.ended_at),
                    c.duration_s,
                    c.recording_url,
                    c.provider_call_id,
                ],
                &q,
            ))?;
        Ok(n == 1)
    }

    pub(crate) fn upsert_follow_up(conn: &Connection, f: &FollowUp) -> Result<(), StoreError> {
        conn.prepare_cached(
            "INSERT INTO follow_ups (id, lead_id, assigned_to, due_at, note, call_log_id, completed_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET
                assigned_to = excluded.assigned_to, due_at = excluded.due_at, note = excluded.note,
                completed_at = excluded.completed_at",
        )?
        .execute(params![
            f.id.to_string(),
            f.lead_id.to_string(),
            f.assigned_to.to_string(),
            ts(&f.due_at),
            f.note,
            f.call_log_id.map(|i| i.to_string()),
            opt_ts(&f.completed_at),
            ts(&f.created_at),
        ])?;
        refresh_next_follow_up(conn, &f.lead_id)
    }

    pub(crate) fn refresh_next_follow_up(conn: &Connection, lead_id: &Id) -> Result<(), StoreError> {
        conn.prepare_cached(
            "UPDATE leads SET next_follow_up_at =
                (SELECT min(due_at) FROM follow_ups WHERE lead_id = ?1 AND completed_at IS NULL)
             WHERE id = ?1",
        )?
        .execute([lead_id.to_string()])?;
        Ok(())
    }
}
