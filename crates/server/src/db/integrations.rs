//! Storage of the telephony and import integrations: Exotel StatusCallbacks merged onto call logs
//! (replay-safe and order-independent), agents' numbers for click-to-call, recording look-ups, and lead
//! imports written in one transaction.
//!
//! **Callbacks and call logs converge.** A callback is stored once per
//! [`StatusCallback::idempotency_key`] (a replay inserts nothing and changes nothing). It merges onto the
//! call log whose `provider_call_id` is its `CallSid`, or failing that whose id is its `CustomField`:
//! each merged field is only filled when the log lacks it (`provider_call_id`, `recording_url`,
//! `ended_at`, `answered_at`, `duration_s` when 0). When no such log exists yet the callback stays
//! pending, and [`apply_pending_callbacks`] (called by [`super::insert_call_log`]) merges it when the log
//! arrives. Both orders therefore give the same row. Writers serialize on the `change_seq` row (every
//! call-log writer locks it to take a seq), so on PostgreSQL a callback and the log it belongs to can
//! never miss each other.

use std::collections::HashMap;

use chrono::Duration;
use leadline_model::{CallLog, Id, Lead, LeadSource, Role, Timestamp, User};
use serde::Serialize;

use super::{
    CALL_COLS, DbError, LEAD_COLS, Scope, Tx, call_log_from_row, id_text, insert_lead, lead_from_row,
    reserve_seqs, seal, ts,
};
use crate::exotel::{CallStatus, StatusCallback};
use crate::import::{ImportReport, ImportedLead, IssueKind, ParsedImport, RowIssue};
use crate::params;
use crate::sql::Row;

/// Locks the change counter until commit (PostgreSQL; SQLite write transactions are exclusive anyway),
/// so that a callback and a call log written concurrently see each other.
fn lock_changes(tx: &mut Tx<'_>) -> Result<(), DbError> {
    let lock = tx.for_update();
    tx.query(&format!("SELECT value FROM change_seq WHERE id = 1{lock}"), &[])?;
    Ok(())
}

/// What became of a StatusCallback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum CallbackOutcome {
    /// The same callback was stored before: nothing changed.
    Replay,
    /// No call log matches yet: kept until the desktop's log arrives.
    Pending,
    /// Merged onto this call log; `changed`: whether the log took a new value (and a new seq).
    Merged {
        #[schema(value_type = uuid::Uuid)]
        call_log_id: Id,
        changed: bool,
    },
}

/// The call-log columns a callback can fill (none of them is PII).
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogFacts {
    answered_at: Option<String>,
    ended_at: Option<String>,
    duration_s: i64,
    recording_url: Option<String>,
    provider_call_id: Option<String>,
}

const FACT_COLS: &str = "answered_at, ended_at, duration_s, recording_url, provider_call_id";

fn facts_from_row(row: &Row, offset: usize) -> Result<LogFacts, DbError> {
    Ok(LogFacts {
        answered_at: row.get(offset)?,
        ended_at: row.get(offset + 1)?,
        duration_s: row.get(offset + 2)?,
        recording_url: row.get(offset + 3)?,
        provider_call_id: row.get(offset + 4)?,
    })
}

/// A stored callback, as far as merging needs it.
#[derive(Debug, Clone)]
struct StoredCallback {
    key: String,
    call_sid: String,
    status: String,
    terminal: bool,
    recording_url: Option<String>,
    conversation_duration_s: Option<i64>,
    end_time: Option<String>,
}

const CALLBACK_COLS: &str =
    "idempotency_key, call_sid, status, terminal, recording_url, conversation_duration_s, end_time";

fn callback_from_row(row: &Row) -> Result<StoredCallback, DbError> {
    Ok(StoredCallback {
        key: row.get(0)?,
        call_sid: row.get(1)?,
        status: row.get(2)?,
        terminal: row.get(3)?,
        recording_url: row.get(4)?,
        conversation_duration_s: row.get(5)?,
        end_time: row.get(6)?,
    })
}

/// Fills what `facts` lacks from `cb`. Each field only ever goes from empty to a value, so applying
/// callbacks before or after the log is written gives the same row.
fn merge_facts(facts: &LogFacts, cb: &StoredCallback) -> LogFacts {
    let mut out = facts.clone();
    if out.provider_call_id.is_none() {
        out.provider_call_id = Some(cb.call_sid.clone());
    }
    if out.recording_url.is_none() {
        out.recording_url = cb.recording_url.clone();
    }
    if cb.terminal {
        if out.ended_at.is_none() {
            out.ended_at = cb.end_time.clone();
        }
        let talk = cb.conversation_duration_s.unwrap_or(0).max(0);
        let completed = CallStatus::from_wire(&cb.status) == CallStatus::Completed;
        if completed && talk > 0 {
            if out.duration_s == 0 {
                out.duration_s = talk;
            }
            if out.answered_at.is_none()
                && let Some(end) = cb.end_time.as_deref().and_then(parse_time)
            {
                out.answered_at = Some(ts(&(end - Duration::seconds(talk))));
            }
        }
    }
    out
}

fn parse_time(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn write_facts(tx: &mut Tx<'_>, id: &str, facts: &LogFacts, seq: Option<i64>) -> Result<(), DbError> {
    let params = params![
        facts.answered_at.clone(),
        facts.ended_at.clone(),
        facts.duration_s,
        facts.recording_url.clone(),
        facts.provider_call_id.clone(),
        id
    ];
    match seq {
        Some(seq) => {
            let mut params = params;
            params.push(seq.into());
            tx.execute(
                "UPDATE call_logs SET answered_at = $1, ended_at = $2, duration_s = $3, recording_url = $4,
                   provider_call_id = $5, seq = $7 WHERE id = $6",
                &params,
            )?
        }
        None => tx.execute(
            "UPDATE call_logs SET answered_at = $1, ended_at = $2, duration_s = $3, recording_url = $4,
               provider_call_id = $5 WHERE id = $6",
            &params,
        )?,
    };
    Ok(())
}

fn mark_applied(tx: &mut Tx<'_>, key: &str, call_log_id: &str, now: &Timestamp) -> Result<(), DbError> {
    tx.execute(
        "UPDATE exotel_callbacks SET call_log_id = $1, applied_at = $2 WHERE idempotency_key = $3",
        &params![call_log_id, ts(now), key],
    )?;
    Ok(())
}

/// Stores a StatusCallback (once per idempotency key) and merges it onto its call log when that exists
/// (the log then takes a new seq, so devices pull it). Run it in a write transaction.
pub fn store_callback(
    tx: &mut Tx<'_>,
    cb: &StatusCallback,
    now: &Timestamp,
) -> Result<CallbackOutcome, DbError> {
    lock_changes(tx)?;
    let key = cb.idempotency_key();
    let inserted = tx.execute(
        "INSERT INTO exotel_callbacks (idempotency_key, call_sid, custom_field, status, event_type, terminal,
           recording_url, conversation_duration_s, start_time, end_time, date_updated, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (idempotency_key) DO NOTHING",
        &params![
            key.as_str(),
            cb.call_sid.as_str(),
            cb.custom_field.clone(),
            cb.status.as_str(),
            cb.event_type.clone(),
            cb.is_terminal(),
            cb.recording_url.clone(),
            cb.conversation_duration_s.map(i64::from),
            cb.start_time.as_ref().map(ts),
            cb.end_time.as_ref().map(ts),
            cb.date_updated.as_ref().map(ts),
            ts(now),
        ],
    )?;
    if inserted == 0 {
        return Ok(CallbackOutcome::Replay);
    }
    let lock = tx.for_update();
    let mut target = tx.query_opt(
        &format!(
            "SELECT id, {FACT_COLS} FROM call_logs WHERE provider_call_id = $1 ORDER BY id LIMIT 1{lock}"
        ),
        &params![cb.call_sid.as_str()],
    )?;
    if target.is_none()
        && let Some(custom) = cb.custom_field.as_deref()
        && let Ok(id) = Id::parse_str(custom.trim())
    {
        target = tx.query_opt(
            &format!(
                "SELECT id, {FACT_COLS} FROM call_logs
                 WHERE id = $1 AND (provider_call_id IS NULL OR provider_call_id = $2){lock}"
            ),
            &params![id_text(&id), cb.call_sid.as_str()],
        )?;
    }
    let Some(row) = target else {
        return Ok(CallbackOutcome::Pending);
    };
    let log_id: String = row.get(0)?;
    let facts = facts_from_row(&row, 1)?;
    let stored = tx
        .query_one(
            &format!("SELECT {CALLBACK_COLS} FROM exotel_callbacks WHERE idempotency_key = $1"),
            &params![key.as_str()],
        )
        .map_err(DbError::from)
        .and_then(|r| callback_from_row(&r))?;
    let merged = merge_facts(&facts, &stored);
    let changed = merged != facts;
    if changed {
        let seq = reserve_seqs(tx, 1)?;
        write_facts(tx, &log_id, &merged, Some(seq))?;
    }
    mark_applied(tx, &key, &log_id, now)?;
    let call_log_id = Id::parse_str(&log_id).map_err(|e| DbError::Corrupt {
        what: "call log id",
        detail: e.to_string(),
    })?;
    Ok(CallbackOutcome::Merged { call_log_id, changed })
}

/// Merges the callbacks that arrived before `log` was written (matched by its `provider_call_id` or by
/// its id in their `CustomField`) onto its row, in place: the row was just inserted in this transaction
/// with its own seq. Answers how many callbacks were applied. Called by [`super::insert_call_log`].
pub fn apply_pending_callbacks(tx: &mut Tx<'_>, log: &CallLog) -> Result<usize, DbError> {
    lock_changes(tx)?;
    let id = id_text(&log.id);
    let mut pending: Vec<StoredCallback> = Vec::new();
    for row in tx.query(
        &format!(
            "SELECT {CALLBACK_COLS}, date_updated FROM exotel_callbacks
             WHERE call_log_id IS NULL AND custom_field = $1"
        ),
        &params![id.as_str()],
    )? {
        pending.push(callback_from_row(&row)?);
    }
    if let Some(sid) = log.provider_call_id.as_deref() {
        for row in tx.query(
            &format!(
                "SELECT {CALLBACK_COLS}, date_updated FROM exotel_callbacks
                 WHERE call_log_id IS NULL AND call_sid = $1"
            ),
            &params![sid],
        )? {
            let cb = callback_from_row(&row)?;
            if !pending.iter().any(|p| p.key == cb.key) {
                pending.push(cb);
            }
        }
    }
    // A callback naming this log in CustomField but another call than the log's own belongs elsewhere.
    pending.retain(|cb| {
        log.provider_call_id
            .as_deref()
            .is_none_or(|sid| sid == cb.call_sid)
    });
    if pending.is_empty() {
        return Ok(0);
    }
    pending.sort_by(|a, b| a.key.cmp(&b.key));
    let row = tx.query_one(
        &format!("SELECT {FACT_COLS} FROM call_logs WHERE id = $1"),
        &params![id.as_str()],
    )?;
    let facts = facts_from_row(&row, 0)?;
    let mut merged = facts.clone();
    for cb in &pending {
        // Once the log has a provider call id, only that call's callbacks apply.
        if merged
            .provider_call_id
            .as_deref()
            .is_some_and(|sid| sid != cb.call_sid)
        {
            continue;
        }
        merged = merge_facts(&merged, cb);
    }
    if merged != facts {
        write_facts(tx, &id, &merged, None)?;
    }
    let now = chrono::Utc::now();
    let mut applied = 0;
    for cb in &pending {
        if merged.provider_call_id.as_deref() == Some(cb.call_sid.as_str()) {
            mark_applied(tx, &cb.key, &id, &now)?;
            applied += 1;
        }
    }
    Ok(applied)
}

/// The agent number or SIP user Exotel rings first for this user's click-to-calls.
pub fn agent_number(tx: &mut Tx<'_>, user_id: &Id) -> Result<Option<String>, DbError> {
    let value: Option<String> = tx
        .query_opt(
            "SELECT agent_number FROM users WHERE id = $1",
            &params![id_text(user_id)],
        )?
        .map(|r| r.get(0))
        .transpose()?
        .flatten();
    Ok(value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// Sets (or clears) a user's agent number. Answers whether the user exists.
pub fn set_agent_number(tx: &mut Tx<'_>, user_id: &Id, number: Option<&str>) -> Result<bool, DbError> {
    Ok(tx.execute(
        "UPDATE users SET agent_number = $1 WHERE id = $2",
        &params![number, id_text(user_id)],
    )? > 0)
}

/// The SQL condition (over `call_logs c` joined to `leads l`) of the call logs `user` may see: a
/// telecaller their own calls, a supervisor their team's (the lead's team or a team member's call), an
/// admin all.
fn call_log_scope(user: &User, b: &mut super::Binder) -> String {
    match (user.role, Scope::for_user(user)) {
        (Role::Admin, _) | (_, Scope::All) => "1 = 1".to_owned(),
        (Role::Telecaller, _) | (_, Scope::Assignee(_)) => {
            format!("c.telecaller_id = {}", b.bind(id_text(&user.id)))
        }
        (Role::Supervisor, Scope::Team(team)) => {
            let leads = Scope::Team(team.clone()).lead_filter(b);
            let t = b.bind(team);
            format!("({leads} OR c.telecaller_id IN (SELECT u2.id FROM users u2 WHERE u2.team = {t}))")
        }
    }
}

/// A call log `user` may see, with its seq; `None` when it does not exist or is out of their scope.
pub fn call_log_for(tx: &mut Tx<'_>, user: &User, id: &Id) -> Result<Option<CallLog>, DbError> {
    let mut b = super::Binder::default();
    let id_p = b.bind(id_text(id));
    let scope = call_log_scope(user, &mut b);
    let row = tx.query_opt(
        &format!(
            "SELECT {CALL_COLS} FROM call_logs c JOIN leads l ON l.id = c.lead_id
             WHERE c.id = {id_p} AND {scope}"
        ),
        &b.params,
    )?;
    row.map(|r| call_log_from_row(tx.pii(), &r).map(|(log, _, _)| log))
        .transpose()
}

/// One call log by id (whoever may see it).
pub fn call_log_by_id(tx: &mut Tx<'_>, id: &Id) -> Result<Option<CallLog>, DbError> {
    let row = tx.query_opt(
        &format!("SELECT {CALL_COLS} FROM call_logs c JOIN leads l ON l.id = c.lead_id WHERE c.id = $1"),
        &params![id_text(id)],
    )?;
    row.map(|r| call_log_from_row(tx.pii(), &r).map(|(log, _, _)| log))
        .transpose()
}

/// Rewrites a lead's fields (sealing the PII columns and refreshing their blind indexes) at change-feed
/// position `seq`; `team` is left as it is.
fn update_lead(tx: &mut Tx<'_>, lead: &Lead, seq: i64) -> Result<(), DbError> {
    let pii = tx.pii();
    let alternate = lead.alternate_phone.as_ref().map(|p| p.as_str());
    let params = params![
        lead.name.as_str(),
        seal(pii, "leads.phone", &lead.id, Some(lead.phone.as_str()))?,
        seal(pii, "leads.alternate_phone", &lead.id, alternate)?,
        seal(pii, "leads.email", &lead.id, lead.email.as_deref())?,
        lead.city.clone(),
        lead.source.as_str(),
        lead.interest.clone(),
        lead.budget_inr,
        lead.priority.as_str(),
        lead.status.as_str(),
        serde_json::to_string(&lead.tags).unwrap_or_else(|_| "[]".to_owned()),
        lead.assigned_to.as_ref().map(id_text),
        ts(&lead.updated_at),
        lead.version,
        seq,
        pii.blind_index(lead.phone.as_str()),
        alternate.map(|p| pii.blind_index(p)),
        id_text(&lead.id),
    ];
    tx.execute(
        "UPDATE leads SET name = $1, phone = $2, alternate_phone = $3, email = $4, city = $5, source = $6,
           interest = $7, budget_inr = $8, priority = $9, status = $10, tags = $11, assigned_to = $12,
           updated_at = $13, version = $14, seq = $15, phone_bidx = $16, alternate_phone_bidx = $17
         WHERE id = $18",
        &params,
    )?;
    Ok(())
}

/// How to write an import.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// Who imports (a supervisor or an admin): their team goes on new leads, and a supervisor can only
    /// assign to their team and merge into leads of their team.
    pub importer: User,
    /// Merge rows whose phone matches an existing lead into it ([`ImportedLead::fill_existing`]);
    /// otherwise report them as duplicates.
    pub merge_duplicates: bool,
    /// The assignee of rows that name none.
    pub assign_to: Option<User>,
    /// The source of rows that name none.
    pub default_source: LeadSource,
    pub now: Timestamp,
}

pub use leadline_model::import::ImportOutcome;

fn add_issue(report: &mut ImportReport, max_issues: usize, issue: RowIssue) {
    report.issues_total += 1;
    if report.issues.len() < max_issues {
        report.issues.push(issue);
    } else {
        report.issues_truncated = true;
    }
}

enum Action {
    Create { lead: Lead, team: Option<String> },
    Merge { lead: Lead },
}

/// Writes a parsed import in the caller's (write) transaction: resolves assignees (unknown or, for a
/// supervisor, outside the team → the row is reported invalid and skipped), matches existing leads by
/// phone (blind index), merges into them or reports them, and inserts the rest, every written lead with
/// a new seq. Any error leaves the transaction to be rolled back: nothing is written.
pub fn write_import(
    tx: &mut Tx<'_>,
    parsed: ParsedImport,
    plan: &ImportPlan,
    max_issues: usize,
) -> Result<ImportOutcome, DbError> {
    lock_changes(tx)?;
    let ParsedImport { leads, mut report } = parsed;
    let importer_team = plan.importer.team.clone();
    let supervisor_team = match plan.importer.role {
        Role::Admin => None,
        _ => Some(importer_team.clone()),
    };
    // username → Some(user) when assignable, None when unknown or outside the team.
    let mut users: HashMap<String, Option<User>> = HashMap::new();
    let mut team_of: HashMap<Id, Option<String>> = HashMap::new();
    let mut actions: Vec<Action> = Vec::with_capacity(leads.len());
    let mut duplicates = 0;
    let mut merged = 0;
    let lock = tx.for_update();
    for row in leads {
        let assignee = match row.assigned_to.as_deref() {
            Some(name) => {
                let key = name.trim().to_lowercase();
                if !users.contains_key(&key) {
                    let found = super::user_by_username(tx, &key)?.map(|r| r.user);
                    let allowed = found.filter(|u| match &supervisor_team {
                        None => true,
                        Some(team) => team.is_some() && u.team == *team,
                    });
                    users.insert(key.clone(), allowed);
                }
                match users.get(&key).cloned().flatten() {
                    Some(u) => Some(u),
                    None => {
                        add_issue(
                            &mut report,
                            max_issues,
                            RowIssue {
                                row: row.row,
                                kind: IssueKind::Invalid,
                                column: Some("assigned_to".to_owned()),
                                value: Some(crate::import::truncate_value(name)),
                                reason: "no such user in your team".to_owned(),
                                duplicate_of: None,
                            },
                        );
                        report.invalid += 1;
                        report.valid = report.valid.saturating_sub(1);
                        report.leads = report.leads.saturating_sub(1);
                        continue;
                    }
                }
            }
            None => plan.assign_to.clone(),
        };
        let bidx = tx.pii().blind_index(row.phone.as_str());
        let existing = tx.query_opt(
            &format!(
                "SELECT {LEAD_COLS}, l.team FROM leads l WHERE l.phone_bidx = $1
                 ORDER BY l.created_at, l.id LIMIT 1{lock}"
            ),
            &params![bidx],
        )?;
        match existing {
            None => {
                let lead = row.to_lead(
                    leadline_model::new_id(),
                    assignee.as_ref().map(|u| u.id),
                    plan.now,
                    plan.default_source,
                );
                let team = importer_team
                    .clone()
                    .or_else(|| assignee.as_ref().and_then(|u| u.team.clone()));
                actions.push(Action::Create { lead, team });
            }
            Some(found) => {
                let (mut lead, _) = lead_from_row(tx.pii(), &found)?;
                let lead_team: Option<String> = found.get(17)?;
                let in_scope = match &supervisor_team {
                    None => true,
                    Some(team) => {
                        let assignee_team = match lead.assigned_to {
                            Some(a) => {
                                if let std::collections::hash_map::Entry::Vacant(slot) = team_of.entry(a) {
                                    slot.insert(super::user_by_id(tx, &a)?.and_then(|u| u.user.team));
                                }
                                team_of.get(&a).cloned().flatten()
                            }
                            None => None,
                        };
                        team.is_some() && (lead_team == *team || assignee_team == *team)
                    }
                };
                if plan.merge_duplicates && in_scope {
                    merged += 1;
                    let changed = fill(&row, &mut lead, assignee.as_ref().map(|u| u.id));
                    add_issue(
                        &mut report,
                        max_issues,
                        existing_issue(
                            &row,
                            IssueKind::Merged,
                            "merged into the existing lead with this phone",
                        ),
                    );
                    if changed {
                        lead.version += 1;
                        lead.updated_at = plan.now;
                        // Two rows of one file merging into the same lead: fold into the pending write.
                        if let Some(Action::Merge { lead: pending }) = actions
                            .iter_mut()
                            .find(|a| matches!(a, Action::Merge { lead: l } if l.id == lead.id))
                        {
                            fill(&row, pending, assignee.as_ref().map(|u| u.id));
                        } else {
                            actions.push(Action::Merge { lead });
                        }
                    }
                } else {
                    duplicates += 1;
                    add_issue(
                        &mut report,
                        max_issues,
                        existing_issue(
                            &row,
                            IssueKind::Duplicate,
                            "a lead with this phone exists already",
                        ),
                    );
                }
            }
        }
    }
    report.issues.sort_by_key(|i| i.row);
    let first_seq = if actions.is_empty() {
        0
    } else {
        reserve_seqs(tx, actions.len() as i64)?
    };
    let mut created = 0;
    for (seq, action) in (first_seq..).zip(&actions) {
        match action {
            // Rows repeating a phone within the file were folded by the parser: one insert per phone.
            Action::Create { lead, team } => {
                insert_lead(tx, lead, team.as_deref(), seq)?;
                created += 1;
            }
            Action::Merge { lead } => update_lead(tx, lead, seq)?,
        }
    }
    Ok(ImportOutcome {
        report,
        created,
        merged,
        duplicates,
    })
}

fn fill(row: &ImportedLead, lead: &mut Lead, assignee: Option<Id>) -> bool {
    row.fill_existing(lead, assignee)
}

fn existing_issue(row: &ImportedLead, kind: IssueKind, reason: &str) -> RowIssue {
    RowIssue {
        row: row.row,
        kind,
        column: Some("phone".to_owned()),
        value: Some(row.phone.as_str().to_owned()),
        reason: reason.to_owned(),
        duplicate_of: None,
    }
}
