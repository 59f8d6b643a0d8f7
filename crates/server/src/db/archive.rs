//! Archiving: moves call logs older than a cutoff, and closed leads untouched since a cutoff (with their
//! call logs and follow-ups), from the hot tables into `*_archive` tables (migration 10), so list and
//! feed queries stay fast as years of data pile up. Archived rows keep every column, PII still sealed.
//!
//! Work happens in batches, one short write transaction each (copy with `ON CONFLICT DO NOTHING`, then
//! delete), so an interrupted run leaves every row either hot or archived, never both or neither, and a
//! rerun simply continues. An archived lead leaves its assignee's and team's lists through a
//! `lead_removed` change, as a reassignment would.

use leadline_model::Timestamp;

use super::{DbError, Tx, next_seq, ts};
use crate::params;

/// Lead statuses that close a lead: such leads are archived once untouched for long enough.
pub const CLOSED_STATUSES: &[&str] = &["converted", "not_interested", "invalid", "do_not_call"];

const CALL_COLS: &str = "id, lead_id, telecaller_id, direction, started_at, answered_at, ended_at, duration_s, \
     disposition, outcome_tags, notes, follow_up_due_at, follow_up_note, recording_url, provider_call_id, \
     device_id, received_at, seq, quality_mos, quality_rtt_ms, quality_jitter_ms, quality_loss, quality_codec, \
     quality_remote_loss, quality_remote_jitter_ms";
const LEAD_COLS: &str = "id, name, phone, alternate_phone, email, city, source, interest, budget_inr, priority, \
     status, tags, assigned_to, team, created_at, updated_at, version, seq, phone_bidx, alternate_phone_bidx";
const FOLLOW_UP_COLS: &str =
    "id, lead_id, assigned_to, due_at, note, call_log_id, completed_at, created_at, updated_at, seq";

/// Moves up to `batch` call logs that started before `cutoff` (oldest first). Returns how many moved.
pub fn archive_call_logs(
    tx: &mut Tx<'_>,
    cutoff: &Timestamp,
    batch: u32,
    now: &Timestamp,
) -> Result<u64, DbError> {
    let ids: Vec<String> = tx
        .query(
            "SELECT id FROM call_logs WHERE started_at < $1 ORDER BY started_at, id LIMIT $2",
            &params![ts(cutoff), i64::from(batch)],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_, _>>()?;
    for id in &ids {
        move_call_log(tx, id, now)?;
    }
    Ok(ids.len() as u64)
}

fn move_call_log(tx: &mut Tx<'_>, id: &str, now: &Timestamp) -> Result<(), DbError> {
    tx.execute(
        &format!(
            "INSERT INTO call_logs_archive ({CALL_COLS}, archived_at)
             SELECT {CALL_COLS}, $2 FROM call_logs WHERE id = $1
             ON CONFLICT (id) DO NOTHING"
        ),
        &params![id, ts(now)],
    )?;
    tx.execute("DELETE FROM call_logs WHERE id = $1", &params![id])?;
    Ok(())
}

/// Moves up to `batch` closed leads last updated before `cutoff`, each with its call logs and follow-ups,
/// and tells their assignee and team they are gone. Returns how many leads moved.
pub fn archive_leads(
    tx: &mut Tx<'_>,
    cutoff: &Timestamp,
    batch: u32,
    now: &Timestamp,
) -> Result<u64, DbError> {
    let mut b = super::Binder::default();
    let statuses: Vec<String> = CLOSED_STATUSES.iter().map(|s| b.bind(*s)).collect();
    let cutoff_p = b.bind(ts(cutoff));
    let limit_p = b.bind(i64::from(batch));
    let rows = tx.query(
        &format!(
            "SELECT id, assigned_to, team FROM leads
             WHERE status IN ({}) AND updated_at < {cutoff_p}
             ORDER BY updated_at, id LIMIT {limit_p}",
            statuses.join(", ")
        ),
        &b.params,
    )?;
    for row in &rows {
        let id: String = row.get(0)?;
        let assignee: Option<String> = row.get(1)?;
        let team: Option<String> = row.get(2)?;
        archive_lead(tx, &id, now)?;
        if assignee.is_some() || team.is_some() {
            let seq = next_seq(tx)?;
            tx.execute(
                "INSERT INTO lead_removals (seq, lead_id, user_id, team, removed_at) VALUES ($1, $2, $3, $4, $5)",
                &params![seq, id.as_str(), assignee, team, ts(now)],
            )?;
        }
    }
    Ok(rows.len() as u64)
}

/// Moves one hot lead, with its call logs and follow-ups, to the archive tables (no removal row: the
/// caller tells the lead's holders).
pub(crate) fn archive_lead(tx: &mut Tx<'_>, id: &str, now: &Timestamp) -> Result<(), DbError> {
    let calls: Vec<String> = tx
        .query("SELECT id FROM call_logs WHERE lead_id = $1", &params![id])?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_, _>>()?;
    for call in &calls {
        move_call_log(tx, call, now)?;
    }
    tx.execute(
        &format!(
            "INSERT INTO follow_ups_archive ({FOLLOW_UP_COLS}, archived_at)
             SELECT {FOLLOW_UP_COLS}, $2 FROM follow_ups WHERE lead_id = $1
             ON CONFLICT (id) DO NOTHING"
        ),
        &params![id, ts(now)],
    )?;
    tx.execute("DELETE FROM follow_ups WHERE lead_id = $1", &params![id])?;
    tx.execute(
        &format!(
            "INSERT INTO leads_archive ({LEAD_COLS}, archived_at)
             SELECT {LEAD_COLS}, $2 FROM leads WHERE id = $1
             ON CONFLICT (id) DO NOTHING"
        ),
        &params![id, ts(now)],
    )?;
    tx.execute("DELETE FROM leads WHERE id = $1", &params![id])?;
    Ok(())
}

/// What an archive run moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveOutcome {
    pub leads: u64,
    pub call_logs: u64,
    pub batches: u64,
}

/// How much is due for archiving (for `--dry-run`): closed leads and call logs past their cutoffs.
pub fn pending(
    tx: &mut Tx<'_>,
    calls_cutoff: &Timestamp,
    leads_cutoff: &Timestamp,
) -> Result<(i64, i64), DbError> {
    let mut b = super::Binder::default();
    let statuses: Vec<String> = CLOSED_STATUSES.iter().map(|s| b.bind(*s)).collect();
    let cutoff_p = b.bind(ts(leads_cutoff));
    let leads: i64 = tx.query_scalar(
        &format!(
            "SELECT count(*) FROM leads WHERE status IN ({}) AND updated_at < {cutoff_p}",
            statuses.join(", ")
        ),
        &b.params,
    )?;
    let calls: i64 = tx.query_scalar(
        "SELECT count(*) FROM call_logs WHERE started_at < $1",
        &params![ts(calls_cutoff)],
    )?;
    Ok((leads, calls))
}

impl super::Repo {
    /// Archives everything past the cutoffs, batch by batch; stops early after `max_batches` batches
    /// when given (tests use it to interrupt a run).
    pub async fn archive(
        &self,
        calls_cutoff: Timestamp,
        leads_cutoff: Timestamp,
        batch: u32,
        max_batches: Option<u64>,
    ) -> Result<ArchiveOutcome, DbError> {
        let mut out = ArchiveOutcome::default();
        let batch = batch.max(1);
        let within = |out: &ArchiveOutcome| max_batches.is_none_or(|m| out.batches < m);
        // Leads first: their call logs go with them, whatever their age.
        while within(&out) {
            let now = chrono::Utc::now();
            let n = self
                .write(move |tx| archive_leads(tx, &leads_cutoff, batch, &now))
                .await?;
            out.batches += 1;
            out.leads += n;
            if n < u64::from(batch) {
                break;
            }
        }
        while within(&out) {
            let now = chrono::Utc::now();
            let n = self
                .write(move |tx| archive_call_logs(tx, &calls_cutoff, batch, &now))
                .await?;
            out.batches += 1;
            out.call_logs += n;
            if n < u64::from(batch) {
                break;
            }
        }
        Ok(out)
    }
}

/// A lead's archived call logs, oldest first, decrypted: archived history stays readable and exportable.
pub fn archived_call_logs_of_lead(
    tx: &mut Tx<'_>,
    lead_id: &leadline_model::Id,
) -> Result<Vec<leadline_model::CallLog>, DbError> {
    let pii = tx.pii;
    tx.query(
        &format!(
            "SELECT {}, 0 FROM call_logs_archive c WHERE c.lead_id = $1 ORDER BY c.started_at, c.id",
            super::CALL_COLS.trim_end_matches(", l.seq")
        ),
        &params![super::id_text(lead_id)],
    )?
    .iter()
    .map(|r| super::call_log_from_row(pii, r).map(|(log, _, _)| log))
    .collect()
}
