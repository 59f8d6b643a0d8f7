//! A person's data on request: export (GDPR Art. 15, India's DPDP Act 2023 s.11) and erasure (GDPR
//! Art. 17, DPDP Act s.12), for the admin API (`routes::privacy`) and the `lead-export` / `lead-erase`
//! subcommands.
//!
//! A person is one lead (by id) or every lead, live or archived, with a phone number (through the blind
//! indexes). Export decrypts everything held: the lead, its call logs (live and archived, with notes and
//! recordings), follow-ups, the provider's reports and the audit trail. Erasure (`db::privacy::erase_lead`,
//! one transaction per lead) empties every PII column in live and archive tables, drops recording
//! references and provider call ids, deletes events and clears audit reasons that name the person, and
//! keeps the lead's id as a tombstone plus its call logs and follow-ups anonymised, so analytics keep
//! their figures; desktops learn of it through the pull feed (an erased `lead_removed`) and delete their
//! copy. Both write a `privacy_log` entry (who, when, which lead, the reason; never PII). Repeating an
//! erasure changes nothing; exporting an erased lead answers when it was erased.

use chrono::SubsecRound;
use leadline_model::privacy::{ErasureReport, PersonExport, PersonSelector};
use leadline_model::{Id, Timestamp};

use crate::db::privacy::{self, Erase, PrivacyAction};
use crate::db::{DbError, Repo};

/// Longest reason an erasure may carry.
pub const MAX_REASON_CHARS: usize = 500;

/// Why an export or erasure was refused.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("no such lead")]
    NoSuchLead,
    #[error("the reason must be 1 to {MAX_REASON_CHARS} printable characters")]
    BadReason,
    #[error(
        "the reason names the person (their name or number): it is kept in the audit log, which holds no \
         personal data; give a ticket number or similar instead"
    )]
    ReasonNamesPerson,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Who asked, as the privacy log records it: an API user or the operator at the command line.
pub fn user_actor(user: &Id) -> String {
    format!("user:{user}")
}

/// `cli:<os user>` for the subcommands.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{user}")
}

async fn lead_ids(repo: &Repo, person: &PersonSelector) -> Result<Vec<Id>, PrivacyError> {
    match person {
        PersonSelector::LeadId(id) => Ok(vec![*id]),
        PersonSelector::Phone(phone) => {
            let phone = phone.clone();
            Ok(repo.read(move |tx| privacy::leads_with_phone(tx, &phone)).await?)
        }
    }
}

/// Everything held about `person`, decrypted, with a privacy log entry per lead exported. A lead id the
/// server does not hold is [`PrivacyError::NoSuchLead`]; a number no lead has answers no leads.
pub async fn export(
    repo: &Repo,
    person: &PersonSelector,
    actor: &str,
    now: Timestamp,
) -> Result<PersonExport, PrivacyError> {
    let now = now.trunc_subsecs(3);
    let ids = lead_ids(repo, person).await?;
    let actor = actor.to_owned();
    let leads = repo
        .write(move |tx| {
            let mut leads = Vec::with_capacity(ids.len());
            for id in &ids {
                let Some(export) = privacy::export_lead(tx, id)? else {
                    continue;
                };
                privacy::write_log(
                    tx,
                    PrivacyAction::Export,
                    &actor,
                    Some(id),
                    None,
                    &serde_json::json!({
                        "erased": export.erased.is_some(),
                        "archived": export.archived,
                        "call_logs": export.call_logs.len(),
                        "follow_ups": export.follow_ups.len(),
                    }),
                    &now,
                )?;
                leads.push(export);
            }
            Ok::<_, DbError>(leads)
        })
        .await?;
    if leads.is_empty() && matches!(person, PersonSelector::LeadId(_)) {
        return Err(PrivacyError::NoSuchLead);
    }
    Ok(PersonExport {
        exported_at: now,
        leads,
    })
}

/// Checks an erasure's reason: 1 to [`MAX_REASON_CHARS`] printable characters.
pub fn check_reason(reason: &str) -> Result<&str, PrivacyError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) {
        return Err(PrivacyError::BadReason);
    }
    Ok(r)
}

/// Erases `person` (each lead in its own transaction). A lead id the server does not hold is
/// [`PrivacyError::NoSuchLead`]; a number no lead has answers no leads.
pub async fn erase(
    repo: &Repo,
    person: &PersonSelector,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<ErasureReport, PrivacyError> {
    let reason = check_reason(reason)?.to_owned();
    // Stored times have millisecond precision: answer the time as it is kept.
    let now = now.trunc_subsecs(3);
    let ids = lead_ids(repo, person).await?;
    let mut report = ErasureReport { leads: Vec::new() };
    for id in ids {
        let (actor, reason) = (actor.to_owned(), reason.clone());
        let done = repo
            .write(move |tx| privacy::erase_lead(tx, &id, &actor, &reason, &now))
            .await?;
        match done {
            Erase::NotHeld => {}
            Erase::ReasonNamesPerson => return Err(PrivacyError::ReasonNamesPerson),
            Erase::Done(outcome) => report.leads.push(outcome),
        }
    }
    if report.leads.is_empty() && matches!(person, PersonSelector::LeadId(_)) {
        return Err(PrivacyError::NoSuchLead);
    }
    Ok(report)
}
