//! Storage side of data protection: the privacy log, retention (purging archived rows and recording
//! references for good, their anonymised activity folded into `activity_stats` first), and a person's
//! export and erasure (migration 18). See `crate::retention` and `crate::erasure` for the policies.

use leadline_model::privacy::{
    ErasureOutcome, ErasureRecord, ExportedCallLog, ExportedFollowUp, LeadExport, ProviderReport,
    RecordingReference,
};
use leadline_model::supervise::AuditEntry;
use leadline_model::{Id, Lead, PhoneNumber, Timestamp};

use super::{
    Binder, CALL_COLS, DbError, FOLLOW_UP_COLS, LEAD_COLS, Tx, call_log_from_row, corrupt, events,
    follow_up_from_row, get_id, get_opt_ts, get_ts, id_text, lead_from_row, next_seq, ts,
};
use crate::params;
use crate::sql::{Row, Value};

// ---- The privacy log ----

/// What a privacy log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyAction {
    Retention,
    Export,
    Erasure,
}

impl PrivacyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyAction::Retention => "retention",
            PrivacyAction::Export => "export",
            PrivacyAction::Erasure => "erasure",
        }
    }
}

/// One row of `privacy_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyLogEntry {
    pub id: Id,
    pub at: Timestamp,
    pub action: String,
    /// `user:<id>`, `cli:<os user>` or `serve`.
    pub actor: String,
    pub lead_id: Option<Id>,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

/// Writes a privacy log entry; call it in the transaction of what it records.
pub fn write_log(
    tx: &mut Tx<'_>,
    action: PrivacyAction,
    actor: &str,
    lead_id: Option<&Id>,
    reason: Option<&str>,
    details: &serde_json::Value,
    now: &Timestamp,
) -> Result<Id, DbError> {
    let id = leadline_model::new_id();
    tx.execute(
        "INSERT INTO privacy_log (id, at, action, actor, lead_id, reason, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![
            id_text(&id),
            ts(now),
            action.as_str(),
            actor,
            lead_id.map(id_text),
            reason,
            details.to_string()
        ],
    )?;
    Ok(id)
}

fn log_from_row(row: &Row) -> Result<PrivacyLogEntry, DbError> {
    let details: String = row.get(6)?;
    let lead: Option<String> = row.get(4)?;
    Ok(PrivacyLogEntry {
        id: get_id(row, 0, "privacy log id")?,
        at: get_ts(row, 1, "privacy log at")?,
        action: row.get(2)?,
        actor: row.get(3)?,
        lead_id: lead
            .map(|t| Id::parse_str(&t).map_err(|e| corrupt("privacy log lead", e)))
            .transpose()?,
        reason: row.get(5)?,
        details: serde_json::from_str(&details).map_err(|e| corrupt("privacy log details", e))?,
    })
}

/// The privacy log, oldest first: every entry, or one lead's.
pub fn log_entries(tx: &mut Tx<'_>, lead_id: Option<&Id>) -> Result<Vec<PrivacyLogEntry>, DbError> {
    let cols = "id, at, action, actor, lead_id, reason, details";
    let rows = match lead_id {
        Some(id) => tx.query(
            &format!("SELECT {cols} FROM privacy_log WHERE lead_id = $1 ORDER BY at, id"),
            &params![id_text(id)],
        )?,
        None => tx.query(&format!("SELECT {cols} FROM privacy_log ORDER BY at, id"), &[])?,
    };
    rows.iter().map(log_from_row).collect()
}

/// The erasure of `lead_id`, when it was erased.
pub fn erasure_of(tx: &mut Tx<'_>, lead_id: &Id) -> Result<Option<ErasureRecord>, DbError> {
    let row = tx.query_opt(
        "SELECT at, actor, reason FROM privacy_log WHERE lead_id = $1 AND action = 'erasure'
         ORDER BY at, id LIMIT 1",
        &params![id_text(lead_id)],
    )?;
    row.map(|r| {
        Ok(ErasureRecord {
            lead_id: *lead_id,
            erased_at: get_ts(&r, 0, "erasure at")?,
            erased_by: r.get(1)?,
            reason: r.get(2)?,
        })
    })
    .transpose()
}

// ---- Activity of purged rows ----

/// The start of a timestamp column's UTC half hour, as RFC 3339 text like every stored time.
fn half_hour(column: &str) -> String {
    format!(
        "substr({column}, 1, 14) || CASE WHEN substr({column}, 15, 2) < '30' THEN '00' ELSE '30' END \
         || ':00.000Z'"
    )
}

fn in_list(b: &mut Binder, ids: &[String]) -> String {
    ids.iter()
        .map(|id| b.bind(id.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds the archived call logs `ids` to `activity_stats` (a call per row: who, when, disposition, talk
/// time), then deletes them and the provider reports about them.
fn purge_archived_calls(tx: &mut Tx<'_>, ids: &[String]) -> Result<u64, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut b = Binder::default();
    let list = in_list(&mut b, ids);
    tx.execute(
        &format!(
            "INSERT INTO activity_stats (bucket, user_id, kind, disposition, count, talk_time_s)
             SELECT {bucket}, c.telecaller_id, 'call', c.disposition, count(*), CAST(sum(c.duration_s) AS BIGINT)
             FROM call_logs_archive c WHERE c.id IN ({list})
             GROUP BY {bucket}, c.telecaller_id, c.disposition
             ON CONFLICT (user_id, kind, bucket, disposition) DO UPDATE
               SET count = activity_stats.count + excluded.count,
                   talk_time_s = activity_stats.talk_time_s + excluded.talk_time_s",
            bucket = half_hour("c.started_at")
        ),
        &b.params,
    )?;
    tx.execute(
        &format!("DELETE FROM exotel_callbacks WHERE call_log_id IN ({list})"),
        &b.params,
    )?;
    let n = tx.execute(
        &format!("DELETE FROM call_logs_archive WHERE id IN ({list})"),
        &b.params,
    )?;
    Ok(n)
}

/// Adds the completed ones among the archived follow-ups `ids` to `activity_stats`, then deletes them all.
fn purge_archived_follow_ups(tx: &mut Tx<'_>, ids: &[String]) -> Result<u64, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut b = Binder::default();
    let list = in_list(&mut b, ids);
    tx.execute(
        &format!(
            "INSERT INTO activity_stats (bucket, user_id, kind, disposition, count, talk_time_s)
             SELECT {bucket}, f.assigned_to, 'follow_up_done', '', count(*), 0
             FROM follow_ups_archive f WHERE f.id IN ({list}) AND f.completed_at IS NOT NULL
             GROUP BY {bucket}, f.assigned_to
             ON CONFLICT (user_id, kind, bucket, disposition) DO UPDATE
               SET count = activity_stats.count + excluded.count",
            bucket = half_hour("f.completed_at")
        ),
        &b.params,
    )?;
    tx.execute(
        &format!("DELETE FROM follow_up_due_events WHERE follow_up_id IN ({list})"),
        &b.params,
    )?;
    let n = tx.execute(
        &format!("DELETE FROM follow_ups_archive WHERE id IN ({list})"),
        &b.params,
    )?;
    Ok(n)
}

fn texts(tx: &mut Tx<'_>, sql: &str, params: &[Value]) -> Result<Vec<String>, DbError> {
    tx.query(sql, params)?
        .iter()
        .map(|r| r.get(0).map_err(DbError::from))
        .collect()
}

/// Purges up to `batch` archived call logs that started before `cutoff` (oldest first), their activity
/// kept in `activity_stats`. Returns how many went.
pub fn purge_call_logs(tx: &mut Tx<'_>, cutoff: &Timestamp, batch: u32) -> Result<u64, DbError> {
    let ids = texts(
        tx,
        "SELECT id FROM call_logs_archive WHERE started_at < $1 ORDER BY started_at, id LIMIT $2",
        &params![ts(cutoff), i64::from(batch)],
    )?;
    purge_archived_calls(tx, &ids)
}

/// What one batch of archived leads took with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeadPurge {
    pub leads: u64,
    pub call_logs: u64,
    pub follow_ups: u64,
}

/// Purges up to `batch` archived leads archived before `cutoff` (oldest first), each with its archived
/// call logs and follow-ups (their activity kept in `activity_stats`).
pub fn purge_leads(tx: &mut Tx<'_>, cutoff: &Timestamp, batch: u32) -> Result<LeadPurge, DbError> {
    let leads = texts(
        tx,
        "SELECT id FROM leads_archive WHERE archived_at < $1 ORDER BY archived_at, id LIMIT $2",
        &params![ts(cutoff), i64::from(batch)],
    )?;
    let mut out = LeadPurge::default();
    for lead in &leads {
        let calls = texts(
            tx,
            "SELECT id FROM call_logs_archive WHERE lead_id = $1",
            &params![lead.as_str()],
        )?;
        out.call_logs += purge_archived_calls(tx, &calls)?;
        let follow_ups = texts(
            tx,
            "SELECT id FROM follow_ups_archive WHERE lead_id = $1",
            &params![lead.as_str()],
        )?;
        out.follow_ups += purge_archived_follow_ups(tx, &follow_ups)?;
        out.leads += tx.execute("DELETE FROM leads_archive WHERE id = $1", &params![lead.as_str()])?;
    }
    Ok(out)
}

/// Where a walk over call logs by start time has got to (keyset), so a batch never reads a row twice.
pub type WalkPosition = Option<(String, String)>;

/// Drops the recording references of up to `batch` call logs of `table` (`call_logs` or
/// `call_logs_archive`) that started before `cutoff`, walking from `after`, and of the provider reports
/// about them. Returns how many references went, and the position to continue from (`None`: done).
pub fn purge_recordings(
    tx: &mut Tx<'_>,
    table: RecordingTable,
    cutoff: &Timestamp,
    after: &WalkPosition,
    batch: u32,
) -> Result<(u64, WalkPosition), DbError> {
    let table = table.name();
    let mut b = Binder::default();
    let cutoff_p = b.bind(ts(cutoff));
    let position = match after {
        Some((started, id)) => {
            let (s, i) = (b.bind(started.as_str()), b.bind(id.as_str()));
            format!(" AND (started_at > {s} OR (started_at = {s} AND id > {i}))")
        }
        None => String::new(),
    };
    let limit = b.bind(i64::from(batch));
    let rows = tx.query(
        &format!(
            "SELECT started_at, id FROM {table} WHERE started_at < {cutoff_p}{position}
             ORDER BY started_at, id LIMIT {limit}"
        ),
        &b.params,
    )?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in &rows {
        let started: String = row.get(0)?;
        let id: String = row.get(1)?;
        ids.push(id.clone());
        last = Some((started, id));
    }
    if ids.is_empty() {
        return Ok((0, None));
    }
    let mut b = Binder::default();
    let list = in_list(&mut b, &ids);
    let n = if table == RecordingTable::Live.name() {
        // Each live call log that loses its recording gets a new change number, so the desktops that hold
        // it pull it again and drop the reference they kept (their cache takes the server's "none").
        let with: Vec<String> = tx
            .query(
                &format!(
                    "SELECT id FROM call_logs WHERE id IN ({list}) AND recording_url IS NOT NULL ORDER BY id"
                ),
                &b.params,
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_, _>>()?;
        if !with.is_empty() {
            let first = super::reserve_seqs(tx, with.len() as i64)?;
            for (i, id) in with.iter().enumerate() {
                tx.execute(
                    "UPDATE call_logs SET recording_url = NULL, seq = $1 WHERE id = $2",
                    &params![first + i as i64, id.as_str()],
                )?;
            }
        }
        with.len() as u64
    } else {
        tx.execute(
            &format!(
                "UPDATE {table} SET recording_url = NULL WHERE id IN ({list}) AND recording_url IS NOT NULL"
            ),
            &b.params,
        )?
    };
    tx.execute(
        &format!(
            "UPDATE exotel_callbacks SET recording_url = NULL
             WHERE call_log_id IN ({list}) AND recording_url IS NOT NULL"
        ),
        &b.params,
    )?;
    let more = u32::try_from(ids.len()).unwrap_or(u32::MAX) >= batch;
    Ok((n, if more { last } else { None }))
}

/// Drops the recording references of provider reports received before `cutoff` that never matched a
/// call log.
pub fn purge_pending_recordings(tx: &mut Tx<'_>, cutoff: &Timestamp) -> Result<u64, DbError> {
    Ok(tx.execute(
        "UPDATE exotel_callbacks SET recording_url = NULL
         WHERE call_log_id IS NULL AND received_at < $1 AND recording_url IS NOT NULL",
        &params![ts(cutoff)],
    )?)
}

/// The call-log tables whose recording references retention drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingTable {
    Live,
    Archive,
}

impl RecordingTable {
    fn name(self) -> &'static str {
        match self {
            RecordingTable::Live => "call_logs",
            RecordingTable::Archive => "call_logs_archive",
        }
    }
}

/// What retention would purge now (for `--dry-run`): archived call logs, archived leads, recording
/// references (live and archived call logs, provider reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionDue {
    pub call_logs: i64,
    pub leads: i64,
    pub recordings: i64,
}

/// Counts what is past the given cutoffs (`None`: that kind is kept forever).
pub fn retention_due(
    tx: &mut Tx<'_>,
    calls: Option<&Timestamp>,
    recordings: Option<&Timestamp>,
    leads: Option<&Timestamp>,
) -> Result<RetentionDue, DbError> {
    let mut due = RetentionDue::default();
    if let Some(c) = calls {
        due.call_logs = tx.query_scalar(
            "SELECT count(*) FROM call_logs_archive WHERE started_at < $1",
            &params![ts(c)],
        )?;
    }
    if let Some(l) = leads {
        due.leads = tx.query_scalar(
            "SELECT count(*) FROM leads_archive WHERE archived_at < $1",
            &params![ts(l)],
        )?;
    }
    if let Some(r) = recordings {
        for sql in [
            "SELECT count(*) FROM call_logs WHERE started_at < $1 AND recording_url IS NOT NULL",
            "SELECT count(*) FROM call_logs_archive WHERE started_at < $1 AND recording_url IS NOT NULL",
        ] {
            let n: i64 = tx.query_scalar(sql, &params![ts(r)])?;
            due.recordings += n;
        }
    }
    Ok(due)
}

// ---- Finding a person ----

/// The ids of every lead, live or archived, with `phone` as its number or second number (through the
/// blind indexes; erased leads have none).
pub fn leads_with_phone(tx: &mut Tx<'_>, phone: &PhoneNumber) -> Result<Vec<Id>, DbError> {
    let bidx = tx.pii().blind_index(phone.as_str());
    let mut ids = Vec::new();
    for table in ["leads", "leads_archive"] {
        for id in texts(
            tx,
            &format!(
                "SELECT id FROM {table} WHERE phone_bidx = $1
                 UNION SELECT id FROM {table} WHERE alternate_phone_bidx = $1"
            ),
            &params![bidx.as_str()],
        )? {
            let id = Id::parse_str(&id).map_err(|e| corrupt("lead id", e))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// Where a lead is held.
enum Held {
    Live(Lead, Option<String>),
    Archived(Lead, Option<String>),
    /// Erased: only the anonymised rows are left (or nothing, once retention purged them).
    Erased(ErasureRecord),
    Unknown,
}

fn held(tx: &mut Tx<'_>, lead_id: &Id) -> Result<Held, DbError> {
    if let Some(record) = erasure_of(tx, lead_id)? {
        return Ok(Held::Erased(record));
    }
    let pii = tx.pii;
    if let Some(row) = tx.query_opt(
        &format!("SELECT {LEAD_COLS}, l.team FROM leads l WHERE l.id = $1"),
        &params![id_text(lead_id)],
    )? {
        let (lead, _) = lead_from_row(pii, &row)?;
        return Ok(Held::Live(lead, row.get(17)?));
    }
    if let Some(row) = tx.query_opt(
        &format!("SELECT {LEAD_COLS}, l.team FROM leads_archive l WHERE l.id = $1"),
        &params![id_text(lead_id)],
    )? {
        let (lead, _) = lead_from_row(pii, &row)?;
        return Ok(Held::Archived(lead, row.get(17)?));
    }
    Ok(Held::Unknown)
}

// ---- Export ----

fn call_logs_of(tx: &mut Tx<'_>, lead_id: &Id) -> Result<Vec<ExportedCallLog>, DbError> {
    let pii = tx.pii;
    let mut out = Vec::new();
    for row in tx.query(
        &format!(
            "SELECT {CALL_COLS} FROM call_logs c JOIN leads l ON l.id = c.lead_id
             WHERE c.lead_id = $1 ORDER BY c.started_at, c.id"
        ),
        &params![id_text(lead_id)],
    )? {
        let (log, _, _) = call_log_from_row(pii, &row)?;
        out.push(ExportedCallLog { log, archived: false });
    }
    for log in super::archive::archived_call_logs_of_lead(tx, lead_id)? {
        out.push(ExportedCallLog { log, archived: true });
    }
    out.sort_by_key(|a| (a.log.started_at, a.log.id));
    Ok(out)
}

fn follow_ups_of(tx: &mut Tx<'_>, lead_id: &Id) -> Result<Vec<ExportedFollowUp>, DbError> {
    let pii = tx.pii;
    let mut out = Vec::new();
    for (sql, archived) in [
        (
            format!(
                "SELECT {FOLLOW_UP_COLS} FROM follow_ups f JOIN leads l ON l.id = f.lead_id
                 WHERE f.lead_id = $1 ORDER BY f.due_at, f.id"
            ),
            false,
        ),
        (
            format!(
                "SELECT {} FROM follow_ups_archive f WHERE f.lead_id = $1 ORDER BY f.due_at, f.id",
                FOLLOW_UP_COLS.replace("l.seq", "0")
            ),
            true,
        ),
    ] {
        for row in tx.query(&sql, &params![id_text(lead_id)])? {
            let (follow_up, _, _) = follow_up_from_row(pii, &row)?;
            out.push(ExportedFollowUp { follow_up, archived });
        }
    }
    Ok(out)
}

fn provider_reports_of(tx: &mut Tx<'_>, call_ids: &[String]) -> Result<Vec<ProviderReport>, DbError> {
    if call_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut b = Binder::default();
    let list = in_list(&mut b, call_ids);
    tx.query(
        &format!(
            "SELECT call_sid, status, recording_url, conversation_duration_s, received_at
             FROM exotel_callbacks WHERE call_log_id IN ({list}) OR custom_field IN ({list})
             ORDER BY received_at, idempotency_key"
        ),
        &b.params,
    )?
    .iter()
    .map(|r| {
        Ok(ProviderReport {
            call_sid: r.get(0)?,
            status: r.get(1)?,
            recording_url: r.get(2)?,
            conversation_duration_s: r.get(3)?,
            received_at: get_ts(r, 4, "callback received_at")?,
        })
    })
    .collect()
}

fn audit_of(tx: &mut Tx<'_>, lead_id: &Id) -> Result<Vec<AuditEntry>, DbError> {
    let filter = super::supervise::AuditFilter {
        lead_id: Some(*lead_id),
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let (page, more) = super::supervise::list_audit(tx, None, &filter, after.as_ref(), 500)?;
        after = page.last().map(|e| (e.at, e.id));
        out.extend(page);
        if !more {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

/// Everything held about one lead, decrypted; `None` when the server never held it (or retention has
/// purged it since). An erased lead answers its erasure record and nothing else.
pub fn export_lead(tx: &mut Tx<'_>, lead_id: &Id) -> Result<Option<LeadExport>, DbError> {
    let (lead, team, archived) = match held(tx, lead_id)? {
        Held::Unknown => return Ok(None),
        Held::Erased(record) => {
            return Ok(Some(LeadExport {
                lead_id: *lead_id,
                erased: Some(record),
                archived: true,
                lead: None,
                team: None,
                call_logs: Vec::new(),
                follow_ups: Vec::new(),
                recordings: Vec::new(),
                provider_reports: Vec::new(),
                audit: Vec::new(),
            }));
        }
        Held::Live(lead, team) => (lead, team, false),
        Held::Archived(lead, team) => (lead, team, true),
    };
    let call_logs = call_logs_of(tx, lead_id)?;
    let recordings = call_logs
        .iter()
        .filter_map(|c| {
            c.log.recording_url.as_ref().map(|url| RecordingReference {
                call_log_id: c.log.id,
                url: url.clone(),
                provider_call_id: c.log.provider_call_id.clone(),
            })
        })
        .collect();
    let call_ids: Vec<String> = call_logs.iter().map(|c| id_text(&c.log.id)).collect();
    Ok(Some(LeadExport {
        lead_id: *lead_id,
        erased: None,
        archived,
        lead: Some(lead),
        team,
        follow_ups: follow_ups_of(tx, lead_id)?,
        provider_reports: provider_reports_of(tx, &call_ids)?,
        audit: audit_of(tx, lead_id)?,
        recordings,
        call_logs,
    }))
}

// ---- Erasure ----

/// The texts that identify the person in free text: the name and every form of each number.
fn identifying_texts(lead: &Lead) -> Vec<String> {
    let mut out = Vec::new();
    let name = lead.name.trim();
    if name.chars().count() >= 3 {
        out.push(name.to_lowercase());
    }
    for phone in std::iter::once(&lead.phone).chain(lead.alternate_phone.as_ref()) {
        for form in [phone.as_str(), phone.digits(), phone.national_digits()] {
            if form.len() >= 6 && !out.iter().any(|o| o == form) {
                out.push(form.to_owned());
            }
        }
    }
    out
}

fn mentions(text: &str, needles: &[String]) -> bool {
    let lower = text.to_lowercase();
    needles.iter().any(|n| lower.contains(n.as_str()))
}

/// Erases one lead (see `crate::erasure`): a live lead moves to the archive; there every PII column is
/// emptied (the lead's name, numbers, email, city, interest, budget, tags, blind indexes; its calls'
/// notes, follow-up notes, recordings and provider ids; its follow-ups' notes), the provider reports
/// about its calls lose their recording and call id, events and audit reasons naming the person go, and
/// every device that held the lead gets an erased `lead_removed`. Call logs and follow-ups stay
/// anonymised (who called when, how long, the disposition), so analytics keep their figures. Writes the
/// erasure's privacy log entry. An erased lead is answered as such and nothing changes; `None` when the
/// server does not hold the lead.
pub fn erase_lead(
    tx: &mut Tx<'_>,
    lead_id: &Id,
    actor: &str,
    reason: &str,
    now: &Timestamp,
) -> Result<Erase, DbError> {
    let (lead, team, live) = match held(tx, lead_id)? {
        Held::Unknown => return Ok(Erase::NotHeld),
        Held::Erased(record) => {
            return Ok(Erase::Done(ErasureOutcome {
                lead_id: *lead_id,
                erased_at: record.erased_at,
                already_erased: true,
                call_logs: 0,
                follow_ups: 0,
                recordings: 0,
                provider_call_ids: Vec::new(),
            }));
        }
        Held::Live(lead, team) => (lead, team, true),
        Held::Archived(lead, team) => (lead, team, false),
    };
    let needles = identifying_texts(&lead);
    if mentions(reason, &needles) {
        return Ok(Erase::ReasonNamesPerson);
    }
    let id = id_text(lead_id);
    if live {
        super::archive::archive_lead(tx, &id, now)?;
    }

    let calls = texts(
        tx,
        "SELECT id FROM call_logs_archive WHERE lead_id = $1 ORDER BY id",
        &params![id.as_str()],
    )?;
    let provider_call_ids = texts(
        tx,
        "SELECT provider_call_id FROM call_logs_archive
         WHERE lead_id = $1 AND provider_call_id IS NOT NULL ORDER BY started_at, id",
        &params![id.as_str()],
    )?;
    let recordings: i64 = tx.query_scalar(
        "SELECT count(*) FROM call_logs_archive WHERE lead_id = $1 AND recording_url IS NOT NULL",
        &params![id.as_str()],
    )?;
    tx.execute(
        "UPDATE call_logs_archive SET notes = '', follow_up_note = NULL, recording_url = NULL,
           provider_call_id = NULL
         WHERE lead_id = $1",
        &params![id.as_str()],
    )?;
    if !calls.is_empty() {
        let mut b = Binder::default();
        let list = in_list(&mut b, &calls);
        tx.execute(
            &format!(
                "UPDATE exotel_callbacks SET recording_url = NULL, call_sid = ''
                 WHERE call_log_id IN ({list}) OR custom_field IN ({list})"
            ),
            &b.params,
        )?;
    }
    let follow_ups = texts(
        tx,
        "SELECT id FROM follow_ups_archive WHERE lead_id = $1",
        &params![id.as_str()],
    )?;
    tx.execute(
        "UPDATE follow_ups_archive SET note = NULL WHERE lead_id = $1",
        &params![id.as_str()],
    )?;
    if !follow_ups.is_empty() {
        let mut b = Binder::default();
        let list = in_list(&mut b, &follow_ups);
        tx.execute(
            &format!("DELETE FROM follow_up_due_events WHERE follow_up_id IN ({list})"),
            &b.params,
        )?;
    }
    tx.execute(
        "UPDATE leads_archive SET name = '', phone = '', alternate_phone = NULL, email = NULL, city = NULL,
           interest = NULL, budget_inr = NULL, tags = '[]', phone_bidx = NULL, alternate_phone_bidx = NULL,
           erased_at = $2
         WHERE id = $1",
        &params![id.as_str(), ts(now)],
    )?;

    // Free text that names the person: announcements (events) and audit reasons.
    let mut gone_events = Vec::new();
    for row in tx.query("SELECT id, payload FROM events", &[])? {
        let payload: String = row.get(1)?;
        if mentions(&payload, &needles) {
            gone_events.push(row.get::<i64>(0)?);
        }
    }
    for event in gone_events {
        tx.execute("DELETE FROM events WHERE id = $1", &params![event])?;
    }
    for row in tx.query(
        "SELECT id, reason FROM lead_audit WHERE lead_id = $1 AND reason IS NOT NULL",
        &params![id.as_str()],
    )? {
        let reason: String = row.get(1)?;
        if mentions(&reason, &needles) {
            let audit_id: String = row.get(0)?;
            tx.execute(
                "UPDATE lead_audit SET reason = '[erased]' WHERE id = $1",
                &params![audit_id],
            )?;
        }
    }

    // Every device that may hold the lead drops it: its assignee and team, everyone it was taken from,
    // and admins (the row with no user and no team).
    let mut targets: Vec<(Option<String>, Option<String>)> =
        vec![(lead.assigned_to.map(|u| id_text(&u)), team)];
    for row in tx.query(
        "SELECT DISTINCT user_id, team FROM lead_removals WHERE lead_id = $1 AND erased_at IS NULL",
        &params![id.as_str()],
    )? {
        let target = (row.get(0)?, row.get(1)?);
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets.retain(|t| t.0.is_some() || t.1.is_some());
    targets.push((None, None));
    for (user, team) in &targets {
        let seq = next_seq(tx)?;
        tx.execute(
            "INSERT INTO lead_removals (seq, lead_id, user_id, team, removed_at, erased_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
            &params![seq, id.as_str(), user.clone(), team.clone(), ts(now)],
        )?;
        if let Some(user) = user {
            let user = Id::parse_str(user).map_err(|e| corrupt("removal user", e))?;
            events::record(
                tx,
                &events::EventTarget::User(user),
                &leadline_model::ServerEvent::LeadRemoved { lead_id: *lead_id },
                now,
            )?;
        }
    }

    let outcome = ErasureOutcome {
        lead_id: *lead_id,
        erased_at: *now,
        already_erased: false,
        call_logs: calls.len() as u64,
        follow_ups: follow_ups.len() as u64,
        recordings: u64::try_from(recordings).unwrap_or(0),
        provider_call_ids,
    };
    write_log(
        tx,
        PrivacyAction::Erasure,
        actor,
        Some(lead_id),
        Some(reason),
        &serde_json::json!({
            "was_archived": !live,
            "call_logs_anonymised": outcome.call_logs,
            "follow_ups_anonymised": outcome.follow_ups,
            "recordings_dropped": outcome.recordings,
            "provider_call_ids_dropped": outcome.provider_call_ids.len(),
            "devices_told": targets.len(),
        }),
        now,
    )?;
    Ok(Erase::Done(outcome))
}

/// What [`erase_lead`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erase {
    /// The server does not hold the lead (never did, or retention purged it).
    NotHeld,
    /// Refused: the reason names the person (it is kept in the privacy log, which must hold no PII).
    ReasonNamesPerson,
    Done(ErasureOutcome),
}

/// When an erased lead's tombstone says it was erased (for tests and diagnosis).
pub fn tombstone(tx: &mut Tx<'_>, lead_id: &Id) -> Result<Option<Timestamp>, DbError> {
    let row = tx.query_opt(
        "SELECT erased_at FROM leads_archive WHERE id = $1",
        &params![id_text(lead_id)],
    )?;
    match row {
        Some(r) => get_opt_ts(&r, 0, "lead erased_at"),
        None => Ok(None),
    }
}
