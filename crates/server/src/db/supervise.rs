//! Storage of the supervisor resources: audited bulk assignment and transfer, the lead audit log, the
//! call-log and follow-up lists, and the denormalised `leads.next_follow_up_at`.
//!
//! Leads, call logs and follow-ups are read through the decoders of [`crate::db`] (their PII columns are
//! encrypted); this module only ever selects their plain columns itself.

use leadline_model::{
    CallDirection, CallLog, FollowUp, Id, Lead, LeadStatus, PhoneNumber, Role, Timestamp, User,
};
use serde::{Deserialize, Serialize};

use super::{
    Binder, CALL_COLS, CALL_COLS_LEN, DbError, FOLLOW_UP_COLS, LEAD_COLS, LeadFilter, Scope, Tx, assign_lead,
    call_log_from_row, corrupt, follow_up_from_row, get_enum, get_id, get_opt_id, get_ts, id_text,
    lead_from_row, lead_list_sql, like_escape, ts, user_by_id,
};
use crate::params;
use crate::sql::{Row, Value};

/// The most leads one bulk assignment or transfer may change; more is refused (`too_many_leads`).
pub const MAX_BULK_LEADS: usize = 5000;

/// Recomputes `leads.next_follow_up_at` (the due time of the lead's earliest open follow-up) of one lead.
/// Call it in the transaction of every follow-up change ([`super::insert_follow_up`] does).
pub fn refresh_next_follow_up(tx: &mut Tx<'_>, lead_id: &Id) -> Result<(), DbError> {
    tx.execute(
        "UPDATE leads SET next_follow_up_at =
           (SELECT min(f.due_at) FROM follow_ups f WHERE f.lead_id = leads.id AND f.completed_at IS NULL)
         WHERE id = $1",
        &params![id_text(lead_id)],
    )?;
    Ok(())
}

// ---- The audit log ----

pub use leadline_model::supervise::{AuditAction, AuditEntry, BulkOutcome};

/// Writes an audit entry; call it in the transaction of the change it records.
pub fn record_audit(tx: &mut Tx<'_>, e: &AuditEntry) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO lead_audit (id, lead_id, actor_id, action, from_user, to_user, team, reason, at, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &params![
            id_text(&e.id),
            id_text(&e.lead_id),
            e.actor_id.as_ref().map(id_text),
            e.action.as_str(),
            e.from_user.as_ref().map(id_text),
            e.to_user.as_ref().map(id_text),
            e.team.clone(),
            e.reason.clone(),
            ts(&e.at),
            e.details.to_string(),
        ],
    )?;
    Ok(())
}

const AUDIT_COLS: &str = "a.id, a.lead_id, a.actor_id, a.action, a.from_user, a.to_user, a.team, a.reason, \
     a.at, a.details";

fn audit_from_row(row: &Row) -> Result<AuditEntry, DbError> {
    let details: String = row.get(9)?;
    Ok(AuditEntry {
        id: get_id(row, 0, "audit id")?,
        lead_id: get_id(row, 1, "audit lead id")?,
        actor_id: get_opt_id(row, 2, "audit actor")?,
        action: get_enum(row, 3, "audit action")?,
        from_user: get_opt_id(row, 4, "audit from_user")?,
        to_user: get_opt_id(row, 5, "audit to_user")?,
        team: row.get(6)?,
        reason: row.get(7)?,
        at: get_ts(row, 8, "audit at")?,
        details: serde_json::from_str(&details).map_err(|e| corrupt("audit details", e))?,
    })
}

/// Filters of the audit list. `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub lead_id: Option<Id>,
    pub actor: Option<Id>,
    pub action: Option<AuditAction>,
    /// `at >= from`.
    pub from: Option<Timestamp>,
    /// `at <= to`.
    pub to: Option<Timestamp>,
}

/// One page of audit entries, newest first (`at` desc, `id` desc), after the keyset position `after`;
/// `team`: only that team's entries (a supervisor's view). Returns the entries and whether more follow.
pub fn list_audit(
    tx: &mut Tx<'_>,
    team: Option<&str>,
    filter: &AuditFilter,
    after: Option<&(Timestamp, Id)>,
    limit: u32,
) -> Result<(Vec<AuditEntry>, bool), DbError> {
    let mut b = Binder::default();
    let mut conds: Vec<String> = vec!["1 = 1".to_owned()];
    if let Some(team) = team {
        conds.push(format!("a.team = {}", b.bind(team)));
    }
    if let Some(id) = &filter.lead_id {
        conds.push(format!("a.lead_id = {}", b.bind(id_text(id))));
    }
    if let Some(id) = &filter.actor {
        conds.push(format!("a.actor_id = {}", b.bind(id_text(id))));
    }
    if let Some(action) = filter.action {
        conds.push(format!("a.action = {}", b.bind(action.as_str())));
    }
    if let Some(t) = &filter.from {
        conds.push(format!("a.at >= {}", b.bind(ts(t))));
    }
    if let Some(t) = &filter.to {
        conds.push(format!("a.at <= {}", b.bind(ts(t))));
    }
    if let Some((at, id)) = after {
        let at = b.bind(ts(at));
        let id = b.bind(id_text(id));
        conds.push(format!("(a.at, a.id) < ({at}, {id})"));
    }
    let fetch = b.bind(i64::from(limit) + 1);
    let sql = format!(
        "SELECT {AUDIT_COLS} FROM lead_audit a WHERE {} ORDER BY a.at DESC, a.id DESC LIMIT {fetch}",
        conds.join(" AND ")
    );
    let mut entries = tx
        .query(&sql, &b.params)?
        .iter()
        .map(audit_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    Ok((entries, more))
}

// ---- Bulk assignment and transfer ----

/// Which leads a bulk assignment takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// These leads (each must be in the actor's scope).
    Ids(Vec<Id>),
    /// The leads of the actor's scope matching a lead-list filter.
    Filter(LeadFilter),
    /// The leads of the actor's scope assigned to `from`, with one of `statuses`.
    Transfer { from: Id, statuses: Vec<LeadStatus> },
}

/// Why a bulk assignment was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0} leads selected; at most {MAX_BULK_LEADS} per request")]
    TooManyLeads(usize),
    #[error("no lead {0} in your scope")]
    LeadNotFound(Id),
    #[error("no user {0}")]
    UnknownUser(Id),
    #[error("user {0} is not in your team")]
    OutsideTeam(Id),
    #[error("not allowed for your role")]
    Forbidden,
}

impl From<crate::sql::SqlError> for BulkError {
    fn from(e: crate::sql::SqlError) -> Self {
        BulkError::Db(e.into())
    }
}

/// Checks that `actor` may hand leads to (or take them from) `user_id`: an admin anyone, a supervisor a
/// member of their team.
fn check_user(tx: &mut Tx<'_>, actor: &User, user_id: &Id) -> Result<User, BulkError> {
    let user = user_by_id(tx, user_id)?
        .ok_or(BulkError::UnknownUser(*user_id))?
        .user;
    match actor.role {
        Role::Admin => Ok(user),
        Role::Supervisor if actor.team.is_some() && user.team == actor.team => Ok(user),
        Role::Supervisor => Err(BulkError::OutsideTeam(*user_id)),
        Role::Telecaller => Err(BulkError::Forbidden),
    }
}

fn ids_of(rows: &[Row]) -> Result<Vec<Id>, DbError> {
    rows.iter().map(|r| get_id(r, 0, "lead id")).collect()
}

/// Assigns the selected leads to `to` (`None`: unassigns them) in the caller's transaction, each through
/// [`assign_lead`] (new seqs, `lead_removed` for the former assignee, history re-sequenced), each change
/// with a `lead_audit` entry by `actor` with `reason`. A supervisor may select only their team's leads and
/// hand them only to their team's members; an admin anything; a telecaller nothing. More than
/// [`MAX_BULK_LEADS`] selected leads are refused before any change.
pub fn bulk_assign(
    tx: &mut Tx<'_>,
    actor: &User,
    selection: &Selection,
    to: Option<&Id>,
    reason: &str,
    now: &Timestamp,
) -> Result<BulkOutcome, BulkError> {
    let scope = match (actor.role, &actor.team) {
        (Role::Admin, _) => Scope::All,
        (Role::Supervisor, Some(team)) => Scope::Team(team.clone()),
        _ => return Err(BulkError::Forbidden),
    };
    if let Some(to) = to {
        check_user(tx, actor, to)?;
    }
    let cap = MAX_BULK_LEADS as i64 + 1;
    let mut ids: Vec<Id> = match selection {
        Selection::Ids(ids) => {
            let mut ids = ids.clone();
            ids.sort();
            ids.dedup();
            if ids.len() > MAX_BULK_LEADS {
                return Err(BulkError::TooManyLeads(ids.len()));
            }
            for id in &ids {
                let mut b = Binder::default();
                let p = b.bind(id_text(id));
                let filter = scope.lead_filter(&mut b);
                let found = tx.query_opt(
                    &format!("SELECT l.id FROM leads l WHERE l.id = {p} AND {filter}"),
                    &b.params,
                )?;
                if found.is_none() {
                    return Err(BulkError::LeadNotFound(*id));
                }
            }
            ids
        }
        Selection::Filter(filter) => {
            let (sql, params) = lead_list_sql(
                "l.id",
                tx.pii(),
                &scope,
                filter,
                leadline_model::LeadSort::default(),
                None,
                cap,
            );
            ids_of(&tx.query(&sql, &params)?)?
        }
        Selection::Transfer { from, statuses } => {
            check_user(tx, actor, from)?;
            let mut b = Binder::default();
            let who = b.bind(id_text(from));
            let mut conds = vec![format!("l.assigned_to = {who}"), scope.lead_filter(&mut b)];
            if !statuses.is_empty() {
                let names: Vec<String> = statuses.iter().map(|s| b.bind(s.as_str())).collect();
                conds.push(format!("l.status IN ({})", names.join(", ")));
            }
            let limit = b.bind(cap);
            ids_of(&tx.query(
                &format!(
                    "SELECT l.id FROM leads l WHERE {} ORDER BY l.id LIMIT {limit}",
                    conds.join(" AND ")
                ),
                &b.params,
            )?)?
        }
    };
    if ids.len() > MAX_BULK_LEADS {
        return Err(BulkError::TooManyLeads(ids.len()));
    }
    // One lock order for every writer: by id.
    ids.sort();
    let transfer = matches!(selection, Selection::Transfer { .. });
    let lock = tx.for_update();
    let mut out = BulkOutcome {
        assigned: 0,
        unchanged: 0,
        lead_ids: Vec::new(),
    };
    for id in &ids {
        // Lock the lead and check it is still in scope (another writer may have moved it since it was
        // selected): a listed lead gone out of scope refuses the batch, a filtered one is skipped.
        let mut b = Binder::default();
        let p = b.bind(id_text(id));
        let in_scope = scope.lead_filter(&mut b);
        let Some(row) = tx.query_opt(
            &format!("SELECT l.assigned_to, l.team FROM leads l WHERE l.id = {p} AND {in_scope}{lock}"),
            &b.params,
        )?
        else {
            match selection {
                Selection::Ids(_) => return Err(BulkError::LeadNotFound(*id)),
                _ => continue,
            }
        };
        let from = get_opt_id(&row, 0, "lead assignee")?;
        let from_team: Option<String> = row.get(1).map_err(DbError::from)?;
        if from.as_ref() == to {
            out.unchanged += 1;
            continue;
        }
        let lead = assign_lead(tx, id, to, now)?;
        let to_team: Option<String> = tx
            .query_scalar("SELECT team FROM leads WHERE id = $1", &params![id_text(id)])
            .map_err(DbError::from)?;
        let action = match (to, transfer) {
            (None, _) => AuditAction::Unassigned,
            (Some(_), true) => AuditAction::Transferred,
            (Some(_), false) => AuditAction::Assigned,
        };
        record_audit(
            tx,
            &AuditEntry {
                id: leadline_model::new_id(),
                lead_id: *id,
                actor_id: Some(actor.id),
                action,
                from_user: from,
                to_user: to.copied(),
                team: to_team.clone(),
                reason: Some(reason.to_owned()),
                at: *now,
                details: serde_json::json!({
                    "version": lead.version,
                    "from_team": from_team,
                    "to_team": to_team,
                    "batch_size": ids.len(),
                }),
            },
        )?;
        out.assigned += 1;
        out.lead_ids.push(*id);
    }
    Ok(out)
}

// ---- Call-log lists ----

/// Filters of the call-log lists. Empty lists and `None` filter nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallLogFilter {
    /// Calls of one lead.
    pub lead_id: Option<Id>,
    pub telecaller: Option<Id>,
    /// `started_at >= from`.
    pub from: Option<Timestamp>,
    /// `started_at <= to`.
    pub to: Option<Timestamp>,
    pub disposition: Vec<String>,
    pub direction: Option<CallDirection>,
    /// Whether the call's disposition is of the `connected` category.
    pub connected: Option<bool>,
    /// A substring of the lead's name (case-insensitive for ASCII).
    pub lead_name_contains: Option<String>,
    /// The lead's whole phone number (or alternate number), matched through the blind index.
    pub lead_phone: Option<PhoneNumber>,
}

/// A call log with its lead and the telecaller's username.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLogItem {
    pub log: CallLog,
    pub lead: Lead,
    pub telecaller_username: String,
}

/// Who sees which call logs: a telecaller their own calls, a supervisor the calls on their team's leads,
/// an admin all. (`Scope::All` with a `lead_id` filter serves "the calls of a lead the caller may see".)
fn call_scope(scope: &Scope, b: &mut Binder) -> String {
    match scope {
        Scope::Assignee(id) => format!("c.telecaller_id = {}", b.bind(id_text(id))),
        Scope::Team(team) => format!("l.team = {}", b.bind(team.as_str())),
        Scope::All => "1 = 1".to_owned(),
    }
}

/// One page of call logs, newest first (`started_at` desc, `id` desc), after the keyset position
/// `after`; returns the calls and whether more follow.
pub fn list_call_logs(
    tx: &mut Tx<'_>,
    scope: &Scope,
    filter: &CallLogFilter,
    after: Option<&(Timestamp, Id)>,
    limit: u32,
) -> Result<(Vec<CallLogItem>, bool), DbError> {
    let mut b = Binder::default();
    let mut conds = vec![call_scope(scope, &mut b)];
    if let Some(id) = &filter.lead_id {
        conds.push(format!("c.lead_id = {}", b.bind(id_text(id))));
    }
    if let Some(id) = &filter.telecaller {
        conds.push(format!("c.telecaller_id = {}", b.bind(id_text(id))));
    }
    if let Some(t) = &filter.from {
        conds.push(format!("c.started_at >= {}", b.bind(ts(t))));
    }
    if let Some(t) = &filter.to {
        conds.push(format!("c.started_at <= {}", b.bind(ts(t))));
    }
    if !filter.disposition.is_empty() {
        let names: Vec<String> = filter.disposition.iter().map(|d| b.bind(d.as_str())).collect();
        conds.push(format!("c.disposition IN ({})", names.join(", ")));
    }
    if let Some(d) = filter.direction {
        conds.push(format!("c.direction = {}", b.bind(d.as_str())));
    }
    if let Some(connected) = filter.connected {
        let not = if connected { "" } else { "NOT " };
        conds.push(format!(
            "c.disposition {not}IN (SELECT d.code FROM dispositions d WHERE d.category = 'connected')"
        ));
    }
    if let Some(name) = &filter.lead_name_contains {
        let p = b.bind(format!("%{}%", like_escape(&name.to_ascii_lowercase())));
        conds.push(format!("lower(l.name) LIKE {p} ESCAPE '\\'"));
    }
    if let Some(phone) = &filter.lead_phone {
        let p = b.bind(tx.pii().blind_index(phone.as_str()));
        conds.push(format!("(l.phone_bidx = {p} OR l.alternate_phone_bidx = {p})"));
    }
    if let Some((at, id)) = after {
        let at = b.bind(ts(at));
        let id = b.bind(id_text(id));
        conds.push(format!("(c.started_at, c.id) < ({at}, {id})"));
    }
    let fetch = b.bind(i64::from(limit) + 1);
    let sql = format!(
        "SELECT {CALL_COLS}, u.username, {LEAD_COLS} FROM call_logs c
           JOIN leads l ON l.id = c.lead_id
           JOIN users u ON u.id = c.telecaller_id
         WHERE {} ORDER BY c.started_at DESC, c.id DESC LIMIT {fetch}",
        conds.join(" AND ")
    );
    let rows = tx.query(&sql, &b.params)?;
    let pii = tx.pii();
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let (log, _, _) = call_log_from_row(pii, &row)?;
        let telecaller_username: String = row.get(CALL_COLS_LEN)?;
        let lead_row = Row::new(
            row.into_values()
                .into_iter()
                .skip(CALL_COLS_LEN + 1)
                .collect::<Vec<Value>>(),
        );
        let (lead, _) = lead_from_row(pii, &lead_row)?;
        items.push(CallLogItem {
            log,
            lead,
            telecaller_username,
        });
    }
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok((items, more))
}

// ---- Follow-up lists ----

/// Which follow-ups by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpStatus {
    /// Not completed.
    Open,
    /// Completed.
    Done,
    /// Not completed and due before now.
    Overdue,
}

/// Filters of the follow-up list. `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowUpFilter {
    /// `due_at >= due_after`.
    pub due_after: Option<Timestamp>,
    /// `due_at < due_before`.
    pub due_before: Option<Timestamp>,
    pub status: Option<FollowUpStatus>,
    pub assigned_to: Option<Id>,
}

/// A follow-up with its lead's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowUpItem {
    #[serde(flatten)]
    pub follow_up: FollowUp,
    pub lead_name: String,
}

/// One page of follow-ups, soonest due first (`due_at`, `id` ascending), after the keyset position
/// `after`: a telecaller's own (assigned to them), a supervisor's team's (on the team's leads), an admin's
/// all. `now` decides what is overdue. Returns the follow-ups and whether more follow.
pub fn list_follow_ups(
    tx: &mut Tx<'_>,
    scope: &Scope,
    filter: &FollowUpFilter,
    now: &Timestamp,
    after: Option<&(Timestamp, Id)>,
    limit: u32,
) -> Result<(Vec<FollowUpItem>, bool), DbError> {
    let mut b = Binder::default();
    let mut conds = vec![match scope {
        Scope::Assignee(id) => format!("f.assigned_to = {}", b.bind(id_text(id))),
        Scope::Team(team) => format!("l.team = {}", b.bind(team.as_str())),
        Scope::All => "1 = 1".to_owned(),
    }];
    if let Some(id) = &filter.assigned_to {
        conds.push(format!("f.assigned_to = {}", b.bind(id_text(id))));
    }
    if let Some(t) = &filter.due_after {
        conds.push(format!("f.due_at >= {}", b.bind(ts(t))));
    }
    if let Some(t) = &filter.due_before {
        conds.push(format!("f.due_at < {}", b.bind(ts(t))));
    }
    match filter.status {
        Some(FollowUpStatus::Open) => conds.push("f.completed_at IS NULL".to_owned()),
        Some(FollowUpStatus::Done) => conds.push("f.completed_at IS NOT NULL".to_owned()),
        Some(FollowUpStatus::Overdue) => {
            conds.push(format!(
                "f.completed_at IS NULL AND f.due_at < {}",
                b.bind(ts(now))
            ));
        }
        None => {}
    }
    if let Some((at, id)) = after {
        let at = b.bind(ts(at));
        let id = b.bind(id_text(id));
        conds.push(format!("(f.due_at, f.id) > ({at}, {id})"));
    }
    let fetch = b.bind(i64::from(limit) + 1);
    let sql = format!(
        "SELECT {FOLLOW_UP_COLS}, l.name FROM follow_ups f JOIN leads l ON l.id = f.lead_id
         WHERE {} ORDER BY f.due_at, f.id LIMIT {fetch}",
        conds.join(" AND ")
    );
    let rows = tx.query(&sql, &b.params)?;
    let pii = tx.pii();
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let (follow_up, _, _) = follow_up_from_row(pii, row)?;
        items.push(FollowUpItem {
            follow_up,
            lead_name: row.get(10)?,
        });
    }
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok((items, more))
}
