//! Retention: how long the server keeps archived call logs, archived leads and call recording
//! references, and the run that purges what is older for good (`leadline-server retention`, from cron or
//! a systemd timer, and optionally every few hours inside `serve`).
//!
//! - `calls_max_age`: archived call logs (`call_logs_archive`, filled by `leadline-server archive`) that
//!   started longer ago are deleted, with the provider reports about them. Live call logs are archived
//!   first; retention never deletes a live row.
//! - `archived_leads_max_age`: archived leads (`leads_archive`) archived longer ago are deleted with their
//!   archived call logs and follow-ups (erased leads' tombstones too; the privacy log keeps the erasure).
//! - `recordings_max_age`: calls (live or archived) that started longer ago lose their recording URL,
//!   and so do the provider reports about them (and unmatched reports received longer ago): the server's
//!   recording relay (`GET /api/v1/call-logs/{id}/recording`) answers 404 from then on. The provider
//!   (Exotel) keeps its own copy until deleted there (docs/security.md says how).
//!
//! Before a row is deleted its anonymised activity (per UTC half hour, user and disposition: calls and
//! talk time; completed follow-ups) is added to `activity_stats` in the same transaction, and analytics
//! read live + archived + purged activity, so their figures do not change (`crate::db::analytics`).
//!
//! Every run works in batches of one short transaction each (safe to interrupt, rerun continues),
//! changes nothing a second time, and ends by writing one `privacy_log` entry with the cutoffs, the
//! counts and who ran it.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use leadline_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::db::privacy::{self, PrivacyAction, RecordingTable, RetentionDue};
use crate::db::{DbError, Repo};

/// An age such as `6months`: a count and a unit (days, weeks, calendar months or years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Age {
    Days(u32),
    Months(u32),
}

/// Why an age did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgeError {
    #[error("{0:?}: expected a count and a unit, e.g. 6months, 180d, 1y")]
    Syntax(String),
    #[error("an age must be above zero")]
    Zero,
    #[error("{0:?} is too long ago")]
    TooLong(String),
    #[error("unknown unit {0:?}: use days, weeks, months or years")]
    Unit(String),
}

impl FromStr for Age {
    type Err = AgeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().to_ascii_lowercase();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (count, unit) = text.split_at(split);
        let count: u32 = count.parse().map_err(|_| AgeError::Syntax(text.clone()))?;
        if count == 0 {
            return Err(AgeError::Zero);
        }
        let too_long = || AgeError::TooLong(text.clone());
        match unit.trim() {
            "d" | "day" | "days" => Ok(Age::Days(count)),
            "w" | "week" | "weeks" => count.checked_mul(7).map(Age::Days).ok_or_else(too_long),
            "m" | "mo" | "month" | "months" => Ok(Age::Months(count)),
            "y" | "year" | "years" => count.checked_mul(12).map(Age::Months).ok_or_else(too_long),
            other => Err(AgeError::Unit(other.to_owned())),
        }
    }
}

impl TryFrom<String> for Age {
    type Error = AgeError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Age> for String {
    fn from(age: Age) -> String {
        age.to_string()
    }
}

impl std::fmt::Display for Age {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Age::Days(d) => write!(f, "{d}d"),
            Age::Months(m) => write!(f, "{m}months"),
        }
    }
}

impl Age {
    /// The time this age before `now`; `None` when that is before the calendar starts.
    pub fn before(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Age::Days(d) => now.checked_sub_signed(chrono::Duration::days(i64::from(d))),
            Age::Months(m) => now.checked_sub_months(Months::new(m)),
        }
    }
}

/// How long each kind of data is kept; `None` keeps it forever. Embeddable in a configuration file
/// (`calls_max_age = "1y"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Archived call logs older than this (by start time) are purged.
    #[serde(default)]
    pub calls_max_age: Option<Age>,
    /// Recording references of calls older than this (by start time) are dropped.
    #[serde(default)]
    pub recordings_max_age: Option<Age>,
    /// Archived leads archived longer ago than this are purged with their history.
    #[serde(default)]
    pub archived_leads_max_age: Option<Age>,
}

impl RetentionPolicy {
    /// True when the policy keeps everything forever.
    pub fn keeps_everything(&self) -> bool {
        self.calls_max_age.is_none()
            && self.recordings_max_age.is_none()
            && self.archived_leads_max_age.is_none()
    }

    /// The cutoffs at `now`.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> Result<Cutoffs, RetentionError> {
        let cut = |age: Option<Age>| {
            age.map(|a| a.before(now).ok_or(RetentionError::AgeTooLong(a)))
                .transpose()
        };
        Ok(Cutoffs {
            calls: cut(self.calls_max_age)?,
            recordings: cut(self.recordings_max_age)?,
            archived_leads: cut(self.archived_leads_max_age)?,
        })
    }
}

/// The times before which each kind goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cutoffs {
    pub calls: Option<Timestamp>,
    pub recordings: Option<Timestamp>,
    pub archived_leads: Option<Timestamp>,
}

/// Why a retention run failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("the age {0} reaches before the calendar starts")]
    AgeTooLong(Age),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a run purged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionOutcome {
    pub call_logs: u64,
    pub leads: u64,
    /// Archived call logs and follow-ups that went with their leads.
    pub lead_call_logs: u64,
    pub lead_follow_ups: u64,
    pub recordings: u64,
    pub batches: u64,
}

/// Rows per transaction unless told otherwise.
pub const DEFAULT_BATCH: u32 = 1000;

/// Runs the policy at `now`: purges everything past its cutoffs, batch by batch, then writes the privacy
/// log entry naming `actor`. A policy that keeps everything does nothing (and logs nothing).
pub async fn run(
    repo: &Repo,
    policy: &RetentionPolicy,
    now: Timestamp,
    batch: u32,
    actor: &str,
) -> Result<(Cutoffs, RetentionOutcome), RetentionError> {
    let cutoffs = policy.cutoffs(now)?;
    let mut out = RetentionOutcome::default();
    if policy.keeps_everything() {
        return Ok((cutoffs, out));
    }
    let batch = batch.max(1);
    let full = |n: u64| n >= u64::from(batch);
    if let Some(cutoff) = cutoffs.archived_leads {
        loop {
            let purged = repo
                .write(move |tx| privacy::purge_leads(tx, &cutoff, batch))
                .await?;
            out.batches += 1;
            out.leads += purged.leads;
            out.lead_call_logs += purged.call_logs;
            out.lead_follow_ups += purged.follow_ups;
            if !full(purged.leads) {
                break;
            }
        }
    }
    if let Some(cutoff) = cutoffs.calls {
        loop {
            let n = repo
                .write(move |tx| privacy::purge_call_logs(tx, &cutoff, batch))
                .await?;
            out.batches += 1;
            out.call_logs += n;
            if !full(n) {
                break;
            }
        }
    }
    if let Some(cutoff) = cutoffs.recordings {
        for table in [RecordingTable::Live, RecordingTable::Archive] {
            let mut position = None;
            loop {
                let after = position.clone();
                let (n, next) = repo
                    .write(move |tx| privacy::purge_recordings(tx, table, &cutoff, &after, batch))
                    .await?;
                out.batches += 1;
                out.recordings += n;
                match next {
                    Some(p) => position = Some(p),
                    None => break,
                }
            }
        }
        out.recordings += repo
            .write(move |tx| privacy::purge_pending_recordings(tx, &cutoff))
            .await?;
        out.batches += 1;
    }
    let actor = actor.to_owned();
    let policy = *policy;
    repo.write(move |tx| {
        privacy::write_log(
            tx,
            PrivacyAction::Retention,
            &actor,
            None,
            None,
            &serde_json::json!({
                "policy": policy,
                "cutoffs": cutoffs,
                "purged": out,
            }),
            &now,
        )
    })
    .await?;
    Ok((cutoffs, out))
}

/// What a run would purge now (`--dry-run`).
pub async fn due(
    repo: &Repo,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> Result<(Cutoffs, RetentionDue), RetentionError> {
    let cutoffs = policy.cutoffs(now)?;
    let due = repo
        .read(move |tx| {
            privacy::retention_due(
                tx,
                cutoffs.calls.as_ref(),
                cutoffs.recordings.as_ref(),
                cutoffs.archived_leads.as_ref(),
            )
        })
        .await?;
    Ok((cutoffs, due))
}

/// Retention inside `serve`: the policy and how often to run it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionSchedule {
    pub policy: RetentionPolicy,
    /// Time between runs (the first runs this long after start); `None`: never inside `serve` (run the
    /// `retention` subcommand from cron instead).
    pub every: Option<Duration>,
}

/// Runs the schedule until the process ends (several API nodes may each run it: every step is
/// idempotent, so they only repeat each other's empty batches).
pub fn spawn(repo: Repo, schedule: RetentionSchedule) -> Option<tokio::task::JoinHandle<()>> {
    let every = schedule.every?;
    if schedule.policy.keeps_everything() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match run(&repo, &schedule.policy, Utc::now(), DEFAULT_BATCH, "serve").await {
                Ok((_, out)) => tracing::info!(
                    call_logs = out.call_logs,
                    leads = out.leads,
                    recordings = out.recordings,
                    "retention run done"
                ),
                Err(e) => tracing::error!(error = %e, "retention run failed"),
            }
        }
    }))
}
