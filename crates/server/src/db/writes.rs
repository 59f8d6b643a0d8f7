//! Storage of the write side: the push of client mutations (`POST /api/v1/sync/push`) and the REST writes
//! of leads, call logs and follow-ups.
//!
//! Every write here runs inside a write transaction ([`crate::db::Repo::write`]) and starts by locking
//! the change counter ([`lock_writers`]): on PostgreSQL that orders concurrent writers (two pushes of the
//! same batch, two creates of the same phone number) so that each one's checks see what the other
//! committed; on SQLite write transactions are exclusive already.
//!
//! Exactly once: a pushed mutation first claims its client mutation id in `applied_mutations` (the
//! primary key; `ON CONFLICT DO NOTHING`), then applies its effect, both inside one savepoint. A mutation
//! that is rejected or conflicts rolls back to the savepoint, so it leaves no trace and the others of the
//! batch stand.

use std::collections::BTreeSet;

use leadline_model::sync::{LeadPatch, Mutation, MutationOp, MutationResult, MutationStatus};
use leadline_model::{CallLog, FollowUp, Id, Lead, PhoneNumber, Role, Timestamp, User};

use super::{
    DbError, FOLLOW_UP_COLS, LEAD_COLS, Scope, Tx, call_log_from_row, follow_up_from_row, id_text,
    insert_call_log, insert_follow_up, insert_lead, json_list, lead_assignee, lead_by_id, lead_from_row,
    reserve_seqs, seal, ts, user_by_id,
};
use crate::params;
use crate::sql::SqlError;

/// Most mutations one push may carry.
pub const MAX_PUSH_MUTATIONS: usize = 500;
/// Longest call notes, in characters.
pub const MAX_NOTES_CHARS: usize = 20_000;
/// Longest follow-up note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// Most tags on a lead or outcome tags on a call, and the longest tag.
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
/// Longest short text field (city, interest, disposition code, provider call id, device id).
pub const MAX_SHORT_CHARS: usize = 200;
/// Longest recording URL.
pub const MAX_URL_CHARS: usize = 2_048;
/// Longest call the server believes, in seconds.
pub const MAX_CALL_SECONDS: i64 = 24 * 3600;
/// How far in the future a device clock may be and its timestamps still accepted.
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(10);
/// How far ahead a follow-up may be scheduled.
pub const MAX_FOLLOW_UP_AHEAD: chrono::Duration = chrono::Duration::days(5 * 366);

/// Why a write was not done.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The row does not exist or lies outside the caller's scope (the two are not told apart).
    #[error("no such {0}, or not yours")]
    NotFound(&'static str),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The input is invalid; `code` names the bad field.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The lead changed since the version the edit was based on.
    #[error("the lead is at version {}, the edit was based on version {base}", current.version)]
    Conflict { current: Box<Lead>, base: i64 },
    /// The row is in a state that does not allow this (e.g. rescheduling a completed follow-up).
    #[error("{message}")]
    State { code: &'static str, message: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<SqlError> for WriteError {
    fn from(e: SqlError) -> Self {
        WriteError::Db(DbError::Sql(e))
    }
}

impl WriteError {
    /// A stable code naming the failure, for push rejections and HTTP error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            WriteError::NotFound(_) => "not_found",
            WriteError::Forbidden(_) => "forbidden",
            WriteError::Invalid { code, .. } | WriteError::State { code, .. } => code,
            WriteError::Conflict { .. } => "version_conflict",
            WriteError::Db(_) => "internal",
        }
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> WriteError {
    WriteError::Invalid {
        code,
        message: message.into(),
    }
}

/// A create that is idempotent by id: the row written now, or the one stored before under the same id.
#[derive(Debug, Clone, PartialEq)]
pub enum Created<T> {
    New(T),
    Existing(T),
}

/// What a REST write changed, for the sync pokes (`db::events::poke_leads`): the leads whose feed
/// changed; nothing when the write found its row already there.
pub trait TouchedLeads {
    fn touched_leads(&self) -> Vec<Id>;
}

impl TouchedLeads for CallLog {
    fn touched_leads(&self) -> Vec<Id> {
        vec![self.lead_id]
    }
}

impl TouchedLeads for FollowUp {
    fn touched_leads(&self) -> Vec<Id> {
        vec![self.lead_id]
    }
}

impl TouchedLeads for Lead {
    fn touched_leads(&self) -> Vec<Id> {
        vec![self.id]
    }
}

impl<T: TouchedLeads> TouchedLeads for Created<T> {
    fn touched_leads(&self) -> Vec<Id> {
        match self {
            Created::New(v) => v.touched_leads(),
            Created::Existing(_) => Vec::new(),
        }
    }
}

impl<T: TouchedLeads, E> TouchedLeads for Result<T, E> {
    fn touched_leads(&self) -> Vec<Id> {
        self.as_ref().map(TouchedLeads::touched_leads).unwrap_or_default()
    }
}

/// A push pokes inside [`push`] already, once for the whole batch.
impl TouchedLeads for PushOutcome {
    fn touched_leads(&self) -> Vec<Id> {
        Vec::new()
    }
}

impl<T> Created<T> {
    pub fn into_inner(self) -> T {
        match self {
            Created::New(t) | Created::Existing(t) => t,
        }
    }

    pub fn is_new(&self) -> bool {
        matches!(self, Created::New(_))
    }
}

/// Locks the change counter until the transaction ends (PostgreSQL; SQLite write transactions are
/// exclusive already). Writers that take it first run one after the other, each seeing what the previous
/// committed.
pub fn lock_writers(tx: &mut Tx<'_>) -> Result<(), DbError> {
    let lock = tx.for_update();
    tx.query(&format!("SELECT value FROM change_seq WHERE id = 1{lock}"), &[])?;
    Ok(())
}

// ---- Checks ----

fn check_len(code: &'static str, what: &str, text: &str, max: usize) -> Result<(), WriteError> {
    // PostgreSQL text cannot hold NUL; refuse it on both databases alike.
    if text.contains('\0') {
        return Err(invalid(code, format!("{what} contains a NUL character")));
    }
    if text.chars().count() > max {
        return Err(invalid(code, format!("{what} is longer than {max} characters")));
    }
    Ok(())
}

fn check_opt_len(code: &'static str, what: &str, text: Option<&str>, max: usize) -> Result<(), WriteError> {
    text.map_or(Ok(()), |t| check_len(code, what, t, max))
}

fn check_tags(code: &'static str, tags: &[String]) -> Result<(), WriteError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(code, format!("at most {MAX_TAGS} tags")));
    }
    for t in tags {
        if t.trim().is_empty() {
            return Err(invalid(code, "a tag is empty"));
        }
        check_len(code, "a tag", t, MAX_TAG_CHARS)?;
    }
    Ok(())
}

/// The earliest time a write may carry. Times are stored as RFC 3339 text and compared as strings, which
/// holds for four-digit years only: a pushed `-0001-…` was stored, then refused as corrupt by every read
/// of its row (found by `leadline-bench fuzz`, target `sync_push`).
pub const MIN_TIME_YEAR: i32 = 1970;

fn check_not_ancient(code: &'static str, what: &str, t: &Timestamp) -> Result<(), WriteError> {
    if chrono::Datelike::year(t) < MIN_TIME_YEAR {
        return Err(invalid(code, format!("{what} is before {MIN_TIME_YEAR}")));
    }
    Ok(())
}

fn check_not_future(
    code: &'static str,
    what: &str,
    t: &Timestamp,
    now: &Timestamp,
) -> Result<(), WriteError> {
    check_not_ancient(code, what, t)?;
    if *t > *now + MAX_CLOCK_SKEW {
        return Err(invalid(code, format!("{what} is in the future")));
    }
    Ok(())
}

/// The team of a user; `None` when the user does not exist.
fn team_of(tx: &mut Tx<'_>, user_id: &Id) -> Result<Option<Option<String>>, DbError> {
    Ok(user_by_id(tx, user_id)?.map(|r| r.user.team))
}

/// Whether `actor` may act for `target` (log a call as them, give them a follow-up): themselves; a
/// supervisor their team's members; an admin anyone who exists.
fn may_act_for(tx: &mut Tx<'_>, actor: &User, target: &Id) -> Result<bool, DbError> {
    if actor.id == *target {
        return Ok(true);
    }
    Ok(match actor.role {
        Role::Telecaller => false,
        Role::Supervisor => match (&actor.team, team_of(tx, target)?) {
            (Some(mine), Some(Some(theirs))) => *mine == theirs,
            _ => false,
        },
        Role::Admin => team_of(tx, target)?.is_some(),
    })
}

/// Whether `scope` may see lead `lead_id`.
fn lead_visible(tx: &mut Tx<'_>, scope: &Scope, lead_id: &Id) -> Result<bool, DbError> {
    let mut b = super::Binder::default();
    let id = b.bind(id_text(lead_id));
    let filter = scope.lead_filter(&mut b);
    Ok(tx
        .query_opt(
            &format!("SELECT 1 FROM leads l WHERE l.id = {id} AND {filter}"),
            &b.params,
        )?
        .is_some())
}

/// Whether `user_id` lost lead `lead_id` (reassigned away) after `at`: they were its assignee then.
fn removed_after(tx: &mut Tx<'_>, lead_id: &Id, user_id: &Id, at: &Timestamp) -> Result<bool, DbError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM lead_removals WHERE lead_id = $1 AND user_id = $2 AND removed_at > $3 LIMIT 1",
            &params![id_text(lead_id), id_text(user_id), ts(at)],
        )?
        .is_some())
}

/// A lead, locked until the transaction ends, when `actor` may see it.
fn lead_for_update(tx: &mut Tx<'_>, actor: &User, lead_id: &Id) -> Result<Lead, WriteError> {
    let lock = tx.for_update();
    let row = tx
        .query_opt(
            &format!("SELECT {LEAD_COLS} FROM leads l WHERE l.id = $1{lock}"),
            &params![id_text(lead_id)],
        )?
        .ok_or(WriteError::NotFound("lead"))?;
    let (lead, _) = lead_from_row(tx.pii, &row)?;
    if !lead_visible(tx, &Scope::for_user(actor), lead_id)? {
        return Err(WriteError::NotFound("lead"));
    }
    Ok(lead)
}

// ---- Call logs ----

/// A call log by id.
pub fn call_log_by_id(tx: &mut Tx<'_>, id: &Id) -> Result<Option<CallLog>, DbError> {
    tx.query_opt(
        &format!(
            "SELECT {} FROM call_logs c JOIN leads l ON l.id = c.lead_id WHERE c.id = $1",
            super::CALL_COLS
        ),
        &params![id_text(id)],
    )?
    .as_ref()
    .map(|r| call_log_from_row(tx.pii, r).map(|(log, _, _)| log))
    .transpose()
}

/// Whether `actor` may read call log `log` (to be answered it again on a repeated create).
pub fn may_see_call_log(tx: &mut Tx<'_>, actor: &User, log: &CallLog) -> Result<bool, DbError> {
    Ok(log.telecaller_id == actor.id || lead_visible(tx, &Scope::for_user(actor), &log.lead_id)?)
}

fn validate_call_log(tx: &mut Tx<'_>, log: &CallLog, now: &Timestamp) -> Result<(), WriteError> {
    check_len(
        "bad_disposition",
        "disposition",
        &log.disposition,
        MAX_SHORT_CHARS,
    )?;
    let known = tx
        .query_opt(
            "SELECT 1 FROM dispositions WHERE code = $1 AND active = 1",
            &params![log.disposition.as_str()],
        )?
        .is_some();
    if !known {
        return Err(invalid(
            "bad_disposition",
            format!("unknown disposition {:?}", log.disposition),
        ));
    }
    check_not_future("bad_started_at", "started_at", &log.started_at, now)?;
    if let Some(answered) = &log.answered_at {
        if *answered < log.started_at {
            return Err(invalid("bad_answered_at", "answered_at is before started_at"));
        }
        check_not_future("bad_answered_at", "answered_at", answered, now)?;
    }
    if let Some(ended) = &log.ended_at {
        if *ended < log.started_at {
            return Err(invalid("bad_ended_at", "ended_at is before started_at"));
        }
        if log.answered_at.is_some_and(|a| a > *ended) {
            return Err(invalid("bad_ended_at", "ended_at is before answered_at"));
        }
        if (*ended - log.started_at).num_seconds() > MAX_CALL_SECONDS {
            return Err(invalid("bad_ended_at", "the call is longer than a day"));
        }
        check_not_future("bad_ended_at", "ended_at", ended, now)?;
    }
    if !(0..=MAX_CALL_SECONDS).contains(&log.duration_s) {
        return Err(invalid(
            "bad_duration",
            format!("duration_s must be from 0 to {MAX_CALL_SECONDS}"),
        ));
    }
    check_len("bad_notes", "notes", &log.notes, MAX_NOTES_CHARS)?;
    check_tags("bad_outcome_tags", &log.outcome_tags)?;
    if let Some(f) = &log.follow_up {
        check_opt_len(
            "bad_follow_up",
            "the follow-up note",
            f.note.as_deref(),
            MAX_NOTE_CHARS,
        )?;
        check_not_ancient("bad_follow_up", "the follow-up's due_at", &f.due_at)?;
        if f.due_at > *now + MAX_FOLLOW_UP_AHEAD {
            return Err(invalid("bad_follow_up", "the follow-up is due too far ahead"));
        }
    }
    check_opt_len(
        "bad_recording_url",
        "recording_url",
        log.recording_url.as_deref(),
        MAX_URL_CHARS,
    )?;
    check_opt_len(
        "bad_provider_call_id",
        "provider_call_id",
        log.provider_call_id.as_deref(),
        MAX_SHORT_CHARS,
    )?;
    check_opt_len(
        "bad_device_id",
        "device_id",
        log.device_id.as_deref(),
        MAX_SHORT_CHARS,
    )?;
    if let Some(quality) = &log.quality {
        quality
            .check()
            .map_err(|e| invalid("bad_quality", e.to_string()))?;
    }
    Ok(())
}

/// Records a call log (append-only; idempotent by its id: a second create of the same id changes nothing
/// and answers the stored row). When the log carries a follow-up, its `follow_ups` row is created in the
/// same transaction (owned by the lead's assignee, or the caller when the lead is unassigned).
///
/// Who: a telecaller logs their own calls (`telecaller_id` = themselves), on leads assigned to them — or
/// on a lead reassigned away from them after the call started (they were offline when it moved); a
/// supervisor for themselves or their team's members, on their team's leads (or such a reassigned lead);
/// an admin for anyone, on any lead. The lead row itself is left alone: a call never bumps the lead's
/// version or seq, so logging calls never makes an offline edit of the lead conflict.
pub fn create_call_log(
    tx: &mut Tx<'_>,
    actor: &User,
    log: &CallLog,
    now: &Timestamp,
) -> Result<Created<CallLog>, WriteError> {
    lock_writers(tx)?;
    if let Some(existing) = call_log_by_id(tx, &log.id)? {
        return Ok(Created::Existing(existing));
    }
    validate_call_log(tx, log, now)?;
    if !may_act_for(tx, actor, &log.telecaller_id)? {
        return Err(WriteError::Forbidden(
            "telecaller_id must be yours (or a member of your team, as a supervisor)".to_owned(),
        ));
    }
    let assignee = lead_assignee(tx, &log.lead_id)?.ok_or(WriteError::NotFound("lead"))?;
    let lead_id = log.lead_id;
    let allowed = match actor.role {
        Role::Admin => true,
        Role::Telecaller => {
            assignee == Some(actor.id) || removed_after(tx, &lead_id, &actor.id, &log.started_at)?
        }
        Role::Supervisor => {
            lead_visible(tx, &Scope::for_user(actor), &lead_id)?
                || removed_after(tx, &lead_id, &log.telecaller_id, &log.started_at)?
        }
    };
    if !allowed {
        return Err(WriteError::NotFound("lead"));
    }
    let seq = reserve_seqs(tx, if log.follow_up.is_some() { 2 } else { 1 })?;
    insert_call_log(tx, log, now, seq)?;
    // The follow-up's id derives from the call log's, so the device that logged the call offline already
    // shows this very row and its pull does not bring a second one.
    if let Some(follow_up) = log.scheduled_follow_up(assignee.unwrap_or(log.telecaller_id)) {
        insert_follow_up(tx, &follow_up, now, seq + 1)?;
    }
    Ok(Created::New(log.clone()))
}

// ---- Leads ----

/// Writes every column of `lead` except its assignment and team (server-owned, see
/// `db::assign_lead`): the PII columns are sealed again and the blind indexes recomputed. `lead.version`
/// and `lead.updated_at` are written as given; the row takes change-feed position `seq`.
pub fn update_lead_row(tx: &mut Tx<'_>, lead: &Lead, seq: i64) -> Result<(), DbError> {
    let pii = tx.pii;
    let alternate = lead.alternate_phone.as_ref().map(PhoneNumber::as_str);
    let n = tx.execute(
        "UPDATE leads SET name = $2, phone = $3, alternate_phone = $4, email = $5, city = $6, source = $7,
           interest = $8, budget_inr = $9, priority = $10, status = $11, tags = $12, updated_at = $13,
           version = $14, seq = $15, phone_bidx = $16, alternate_phone_bidx = $17
         WHERE id = $1",
        &params![
            id_text(&lead.id),
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
            json_list(&lead.tags),
            ts(&lead.updated_at),
            lead.version,
            seq,
            pii.blind_index(lead.phone.as_str()),
            alternate.map(|p| pii.blind_index(p)),
        ],
    )?;
    if n == 0 {
        return Err(DbError::NotFound("lead"));
    }
    Ok(())
}

/// Checks a free-text field: at most `max` characters, no NUL (see [`check_len`]).
pub fn check_text(code: &'static str, what: &str, text: &str, max: usize) -> Result<(), WriteError> {
    check_len(code, what, text, max)
}

/// Checks a patch's values (sizes, email shape, budget).
pub fn validate_patch(patch: &LeadPatch) -> Result<(), WriteError> {
    if let Some(tags) = &patch.tags {
        check_tags("bad_tags", tags)?;
    }
    check_opt_len(
        "bad_interest",
        "interest",
        patch.interest.as_deref(),
        MAX_SHORT_CHARS,
    )?;
    check_opt_len("bad_city", "city", patch.city.as_deref(), MAX_SHORT_CHARS)?;
    if let Some(email) = patch.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        let shaped = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !host.contains('@'))
            && !email.chars().any(char::is_whitespace);
        if !shaped {
            return Err(invalid("bad_email", "email is not an email address"));
        }
    }
    if patch.budget_inr.is_some_and(|b| b < 0) {
        return Err(invalid("bad_budget", "budget_inr must not be negative"));
    }
    Ok(())
}

/// Empty text (after trimming) clears an optional field.
/// Applies a user's edit of a lead with optimistic concurrency: only when the lead is still at
/// `base_version` (the row is locked while checked); bumps the version, takes a new seq. Otherwise
/// [`WriteError::Conflict`] with the current row, and nothing changes. A telecaller edits only leads
/// assigned to them, a supervisor their team's, an admin any; the patch holds user-editable fields only
/// (assignment is server-owned). Empty `email`, `city` or `interest` clear the field.
pub fn update_lead(
    tx: &mut Tx<'_>,
    actor: &User,
    lead_id: &Id,
    base_version: i64,
    patch: &LeadPatch,
    now: &Timestamp,
) -> Result<Lead, WriteError> {
    lock_writers(tx)?;
    validate_patch(patch)?;
    let mut lead = lead_for_update(tx, actor, lead_id)?;
    if lead.version != base_version {
        return Err(WriteError::Conflict {
            current: Box::new(lead),
            base: base_version,
        });
    }
    patch.apply_to(&mut lead);
    lead.version += 1;
    lead.updated_at = *now;
    let seq = reserve_seqs(tx, 1)?;
    update_lead_row(tx, &lead, seq)?;
    Ok(lead)
}

/// The id of a lead `scope` may see whose phone or alternate phone is `phone` (by blind index).
pub fn lead_with_phone(tx: &mut Tx<'_>, scope: &Scope, phone: &PhoneNumber) -> Result<Option<Id>, DbError> {
    let mut b = super::Binder::default();
    let p = b.bind(tx.pii.blind_index(phone.as_str()));
    let filter = scope.lead_filter(&mut b);
    let text: Option<String> = tx
        .query_opt(
            &format!(
                "SELECT l.id FROM leads l WHERE (l.phone_bidx = {p} OR l.alternate_phone_bidx = {p}) \
                 AND {filter} ORDER BY l.id LIMIT 1"
            ),
            &b.params,
        )?
        .map(|r| r.get(0))
        .transpose()?;
    text.map(|t| Id::parse_str(&t).map_err(|e| super::corrupt("lead id", format!("{t:?}: {e}"))))
        .transpose()
}

/// Creates a lead (supervisors and admins). Refused with [`WriteError::State`] `duplicate_phone` (message:
/// the existing lead's id) when a lead the caller may see already has one of its numbers. A supervisor's
/// lead belongs to their team and may be assigned only to a member of it; an admin's to `team` (or the
/// assignee's team).
pub fn create_lead(
    tx: &mut Tx<'_>,
    actor: &User,
    lead: &Lead,
    team: Option<&str>,
) -> Result<Result<Lead, Id>, WriteError> {
    lock_writers(tx)?;
    if actor.role == Role::Telecaller {
        return Err(WriteError::Forbidden(
            "only supervisors and admins create leads".into(),
        ));
    }
    insert_new_lead(tx, actor, lead, team)
}

/// Inserts a new lead for `actor` (see [`create_lead`]; a telecaller's lead belongs to their team), or
/// answers the id of a lead the caller may see that has one of its numbers already.
fn insert_new_lead(
    tx: &mut Tx<'_>,
    actor: &User,
    lead: &Lead,
    team: Option<&str>,
) -> Result<Result<Lead, Id>, WriteError> {
    let team = match actor.role {
        Role::Telecaller | Role::Supervisor => actor.team.clone(),
        Role::Admin => team.map(str::to_owned),
    };
    let team = match &lead.assigned_to {
        Some(assignee) => {
            if !may_act_for(tx, actor, assignee)? {
                return Err(invalid(
                    "bad_assigned_to",
                    "assigned_to is not a member of your team",
                ));
            }
            match team {
                Some(t) => Some(t),
                None => team_of(tx, assignee)?.flatten(),
            }
        }
        None => team,
    };
    let scope = Scope::for_user(actor);
    for phone in std::iter::once(&lead.phone).chain(lead.alternate_phone.as_ref()) {
        if let Some(existing) = lead_with_phone(tx, &scope, phone)? {
            return Ok(Err(existing));
        }
    }
    let seq = reserve_seqs(tx, 1)?;
    insert_lead(tx, lead, team.as_deref(), seq)?;
    Ok(Ok(lead.clone()))
}

/// Creates a lead a device made (push `create_lead`, e.g. from a CSV import into the desktop cache).
///
/// Idempotent by the client's id: a lead the caller may see with this id already is
/// [`Created::Existing`]; one they may not see is refused (`duplicate_id`). A telecaller creates leads
/// assigned to themselves only (`forbidden`), a supervisor leads of their team (unassigned or assigned to
/// a member), an admin any (the lead joins its assignee's team). Validated like `POST /api/v1/leads`
/// (`bad_name`, `bad_phone`, `bad_alternate_phone`, `bad_created_at`, `bad_*` of the patch fields); a
/// number a lead the caller may see has already is refused with `duplicate_phone` (the message names
/// that lead). The server starts the lead at version 1, `updated_at` = now, with a new seq.
pub fn create_pushed_lead(
    tx: &mut Tx<'_>,
    actor: &User,
    lead: &Lead,
    now: &Timestamp,
) -> Result<Created<Lead>, WriteError> {
    lock_writers(tx)?;
    if let Some(stored) = lead_by_id(tx, &lead.id)? {
        if lead_visible(tx, &Scope::for_user(actor), &lead.id)? {
            return Ok(Created::Existing(stored));
        }
        return Err(WriteError::State {
            code: "duplicate_id",
            message: "another lead has this id".to_owned(),
        });
    }
    let lead = validate_new_lead(lead, now)?;
    if actor.role == Role::Telecaller && lead.assigned_to != Some(actor.id) {
        return Err(WriteError::Forbidden(
            "a telecaller creates leads assigned to themselves only".into(),
        ));
    }
    match insert_new_lead(tx, actor, &lead, None)? {
        Ok(lead) => Ok(Created::New(lead)),
        Err(existing) => Err(WriteError::State {
            code: "duplicate_phone",
            message: format!("lead {existing} has this phone number"),
        }),
    }
}

/// A device-made lead checked and cleaned as `POST /api/v1/leads` does: name 1 to 200 characters,
/// E.164 numbers, the patch fields' rules; text trimmed, empty optional text dropped, version 1.
fn validate_new_lead(lead: &Lead, now: &Timestamp) -> Result<Lead, WriteError> {
    let name = lead.name.trim().to_owned();
    if name.is_empty() {
        return Err(invalid("bad_name", "name is empty"));
    }
    check_len("bad_name", "name", &name, MAX_SHORT_CHARS)?;
    PhoneNumber::from_stored(lead.phone.as_str()).map_err(|e| invalid("bad_phone", format!("phone: {e}")))?;
    if let Some(p) = &lead.alternate_phone {
        PhoneNumber::from_stored(p.as_str())
            .map_err(|e| invalid("bad_alternate_phone", format!("alternate_phone: {e}")))?;
    }
    validate_patch(&LeadPatch {
        tags: Some(lead.tags.clone()),
        interest: lead.interest.clone(),
        city: lead.city.clone(),
        email: lead.email.clone(),
        budget_inr: lead.budget_inr,
        ..LeadPatch::default()
    })?;
    check_not_future("bad_created_at", "created_at", &lead.created_at, now)?;
    let clean = |t: &Option<String>| {
        t.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    Ok(Lead {
        id: lead.id,
        name,
        phone: lead.phone.clone(),
        alternate_phone: lead.alternate_phone.clone().filter(|p| *p != lead.phone),
        email: clean(&lead.email),
        city: clean(&lead.city),
        source: lead.source,
        interest: clean(&lead.interest),
        budget_inr: lead.budget_inr,
        priority: lead.priority,
        status: lead.status,
        tags: lead.tags.iter().map(|t| t.trim().to_owned()).collect(),
        assigned_to: lead.assigned_to,
        created_at: lead.created_at,
        updated_at: *now,
        version: 1,
    })
}

// ---- Follow-ups ----

/// A follow-up by id; locked until the transaction ends when `lock`.
pub fn follow_up_by_id(tx: &mut Tx<'_>, id: &Id, lock: bool) -> Result<Option<FollowUp>, DbError> {
    let lock = if lock { tx.for_update() } else { "" };
    tx.query_opt(
        &format!(
            "SELECT {FOLLOW_UP_COLS} FROM follow_ups f JOIN leads l ON l.id = f.lead_id WHERE f.id = $1{lock}"
        ),
        &params![id_text(id)],
    )?
    .as_ref()
    .map(|r| follow_up_from_row(tx.pii, r).map(|(f, _, _)| f))
    .transpose()
}

/// Whether `actor` may see and change follow-up `f`: the one it is assigned to, or anyone who may see
/// its lead.
pub fn may_touch_follow_up(tx: &mut Tx<'_>, actor: &User, f: &FollowUp) -> Result<bool, DbError> {
    Ok(f.assigned_to == actor.id || lead_visible(tx, &Scope::for_user(actor), &f.lead_id)?)
}

/// Creates a follow-up (idempotent by id). On a lead the caller may see; assigned to themselves (a
/// supervisor: or a team member; an admin: anyone); its call log, when named, must be of the same lead.
pub fn create_follow_up(
    tx: &mut Tx<'_>,
    actor: &User,
    f: &FollowUp,
    now: &Timestamp,
) -> Result<Created<FollowUp>, WriteError> {
    lock_writers(tx)?;
    if let Some(existing) = follow_up_by_id(tx, &f.id, false)? {
        return Ok(Created::Existing(existing));
    }
    check_opt_len("bad_note", "note", f.note.as_deref(), MAX_NOTE_CHARS)?;
    check_not_ancient("bad_due_at", "due_at", &f.due_at)?;
    if f.due_at > *now + MAX_FOLLOW_UP_AHEAD {
        return Err(invalid("bad_due_at", "due_at is too far ahead"));
    }
    check_not_future("bad_created_at", "created_at", &f.created_at, now)?;
    if let Some(done) = &f.completed_at {
        check_not_future("bad_completed_at", "completed_at", done, now)?;
    }
    if !may_act_for(tx, actor, &f.assigned_to)? {
        return Err(WriteError::Forbidden(
            "assigned_to must be you (or a member of your team, as a supervisor)".to_owned(),
        ));
    }
    if !lead_visible(tx, &Scope::for_user(actor), &f.lead_id)? {
        return Err(WriteError::NotFound("lead"));
    }
    if let Some(call_id) = &f.call_log_id {
        match call_log_by_id(tx, call_id)? {
            Some(log) if log.lead_id == f.lead_id => {}
            _ => {
                return Err(invalid(
                    "bad_call_log_id",
                    "call_log_id names no call log of this lead",
                ));
            }
        }
    }
    let seq = reserve_seqs(tx, 1)?;
    insert_follow_up(tx, f, now, seq)?;
    Ok(Created::New(f.clone()))
}

/// A follow-up the caller may change, locked.
fn follow_up_for_update(tx: &mut Tx<'_>, actor: &User, id: &Id) -> Result<FollowUp, WriteError> {
    let f = follow_up_by_id(tx, id, true)?.ok_or(WriteError::NotFound("follow-up"))?;
    if !may_touch_follow_up(tx, actor, &f)? {
        return Err(WriteError::NotFound("follow-up"));
    }
    Ok(f)
}

/// Marks a follow-up done at `completed_at`. Idempotent: an already completed one is answered as it is
/// ([`Created::Existing`]) and keeps its first completion time.
pub fn complete_follow_up(
    tx: &mut Tx<'_>,
    actor: &User,
    id: &Id,
    completed_at: &Timestamp,
    now: &Timestamp,
) -> Result<Created<FollowUp>, WriteError> {
    lock_writers(tx)?;
    check_not_future("bad_completed_at", "completed_at", completed_at, now)?;
    let mut f = follow_up_for_update(tx, actor, id)?;
    if f.completed_at.is_some() {
        return Ok(Created::Existing(f));
    }
    let seq = reserve_seqs(tx, 1)?;
    tx.execute(
        "UPDATE follow_ups SET completed_at = $2, updated_at = $3, seq = $4 WHERE id = $1",
        &params![id_text(id), ts(completed_at), ts(now), seq],
    )?;
    f.completed_at = Some(*completed_at);
    super::supervise::refresh_next_follow_up(tx, &f.lead_id)?;
    Ok(Created::New(f))
}

/// Moves an open follow-up to `due_at`; a completed one is refused ([`WriteError::State`]
/// `already_completed`).
pub fn reschedule_follow_up(
    tx: &mut Tx<'_>,
    actor: &User,
    id: &Id,
    due_at: &Timestamp,
    now: &Timestamp,
) -> Result<FollowUp, WriteError> {
    lock_writers(tx)?;
    check_not_ancient("bad_due_at", "due_at", due_at)?;
    if *due_at > *now + MAX_FOLLOW_UP_AHEAD {
        return Err(invalid("bad_due_at", "due_at is too far ahead"));
    }
    let mut f = follow_up_for_update(tx, actor, id)?;
    if f.completed_at.is_some() {
        return Err(WriteError::State {
            code: "already_completed",
            message: "the follow-up is completed already".to_owned(),
        });
    }
    let seq = reserve_seqs(tx, 1)?;
    tx.execute(
        "UPDATE follow_ups SET due_at = $2, updated_at = $3, seq = $4 WHERE id = $1",
        &params![id_text(id), ts(due_at), ts(now), seq],
    )?;
    f.due_at = *due_at;
    super::supervise::refresh_next_follow_up(tx, &f.lead_id)?;
    Ok(f)
}

// ---- Push ----

/// What a push did: one result per mutation, in order, and the leads whose feed changed.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOutcome {
    pub results: Vec<MutationResult>,
    /// Leads touched by applied mutations (for sync pokes to the users who see them).
    pub touched_leads: BTreeSet<Id>,
}

fn status_json(status: &MutationStatus) -> String {
    serde_json::to_string(status).unwrap_or_else(|_| "{}".to_owned())
}

/// Applies one mutation's effect; answers its status and the lead it touched.
fn apply_op(
    tx: &mut Tx<'_>,
    actor: &User,
    op: &MutationOp,
    now: &Timestamp,
) -> Result<(MutationStatus, Option<Id>), WriteError> {
    Ok(match op {
        MutationOp::CreateCallLog(log) => match create_call_log(tx, actor, log, now)? {
            Created::New(log) => (MutationStatus::Applied, Some(log.lead_id)),
            Created::Existing(_) => (MutationStatus::Duplicate, None),
        },
        MutationOp::UpdateLead {
            lead_id,
            base_version,
            patch,
        } => match update_lead(tx, actor, lead_id, *base_version, patch, now) {
            Ok(lead) => (MutationStatus::Applied, Some(lead.id)),
            Err(WriteError::Conflict { current, .. }) => (MutationStatus::Conflict { current }, None),
            Err(e) => return Err(e),
        },
        MutationOp::CreateFollowUp(f) => match create_follow_up(tx, actor, f, now)? {
            Created::New(f) => (MutationStatus::Applied, Some(f.lead_id)),
            Created::Existing(_) => (MutationStatus::Duplicate, None),
        },
        MutationOp::CompleteFollowUp {
            follow_up_id,
            completed_at,
        } => match complete_follow_up(tx, actor, follow_up_id, completed_at, now)? {
            Created::New(f) => (MutationStatus::Applied, Some(f.lead_id)),
            Created::Existing(_) => (MutationStatus::Duplicate, None),
        },
        MutationOp::RescheduleFollowUp { follow_up_id, due_at } => {
            let f = reschedule_follow_up(tx, actor, follow_up_id, due_at, now)?;
            (MutationStatus::Applied, Some(f.lead_id))
        }
        MutationOp::CreateLead(lead) => match create_pushed_lead(tx, actor, lead, now)? {
            Created::New(lead) => (MutationStatus::Applied, Some(lead.id)),
            Created::Existing(_) => (MutationStatus::Duplicate, None),
        },
    })
}

const SAVEPOINT: &str = "SAVEPOINT push_mutation";
const RELEASE: &str = "RELEASE SAVEPOINT push_mutation";
const ROLLBACK: &str = "ROLLBACK TO SAVEPOINT push_mutation; RELEASE SAVEPOINT push_mutation";

/// Applies one mutation in its own savepoint: claims its client mutation id, applies the effect, keeps
/// both (applied, duplicate) or rolls both back (conflict, rejected).
fn apply_one(
    tx: &mut Tx<'_>,
    actor: &User,
    device_id: &str,
    m: &Mutation,
    now: &Timestamp,
) -> Result<(MutationStatus, Option<Id>), DbError> {
    tx.batch(SAVEPOINT)?;
    let claimed = tx.execute(
        "INSERT INTO applied_mutations (client_mutation_id, user_id, device_id, applied_at, status)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_mutation_id) DO NOTHING",
        &params![
            id_text(&m.client_mutation_id),
            id_text(&actor.id),
            device_id,
            ts(now),
            status_json(&MutationStatus::Applied)
        ],
    )?;
    if claimed == 0 {
        tx.batch(RELEASE)?;
        return Ok((MutationStatus::Duplicate, None));
    }
    match apply_op(tx, actor, &m.op, now) {
        Ok((MutationStatus::Applied, lead)) => {
            tx.batch(RELEASE)?;
            Ok((MutationStatus::Applied, lead))
        }
        Ok((MutationStatus::Duplicate, _)) => {
            // Done before under another mutation id (same call log id, follow-up already completed):
            // remember this id too, so a retry is answered at once.
            tx.execute(
                "UPDATE applied_mutations SET status = $2 WHERE client_mutation_id = $1",
                &params![
                    id_text(&m.client_mutation_id),
                    status_json(&MutationStatus::Duplicate)
                ],
            )?;
            tx.batch(RELEASE)?;
            Ok((MutationStatus::Duplicate, None))
        }
        Ok((status, _)) => {
            tx.batch(ROLLBACK)?;
            Ok((status, None))
        }
        // A concurrent writer inserted the same row first: it is there, so this one is a duplicate.
        Err(WriteError::Db(DbError::Sql(e))) if e.is_unique_violation() => {
            tx.batch(ROLLBACK)?;
            Ok((MutationStatus::Duplicate, None))
        }
        Err(WriteError::Db(e)) => Err(e),
        Err(e) => {
            tx.batch(ROLLBACK)?;
            Ok((
                MutationStatus::Rejected {
                    reason: format!("{}: {e}", e.code()),
                },
                None,
            ))
        }
    }
}

/// Applies a pushed batch for `actor` from `device_id`, in order, each mutation exactly once (see the
/// module doc). Run it in one write transaction; a storage error fails the whole batch (nothing of it
/// is kept, and the client retries it).
pub fn push(
    tx: &mut Tx<'_>,
    actor: &User,
    device_id: &str,
    mutations: &[Mutation],
    now: &Timestamp,
) -> Result<PushOutcome, DbError> {
    lock_writers(tx)?;
    let mut results = Vec::with_capacity(mutations.len());
    let mut touched_leads = BTreeSet::new();
    for m in mutations {
        let (status, lead) = apply_one(tx, actor, device_id, m, now)?;
        touched_leads.extend(lead);
        results.push(MutationResult {
            client_mutation_id: m.client_mutation_id,
            status,
        });
    }
    // Devices that see a changed lead pull at once (the poke commits with the changes it announces).
    super::events::poke_leads(tx, touched_leads.iter().copied(), now)?;
    Ok(PushOutcome {
        results,
        touched_leads,
    })
}
