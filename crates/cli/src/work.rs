//! A telecaller's work on the local cache: a lead's card, logging a call, follow-ups, conflicts and refused
//! changes. All of it works offline; `leadline sync` sends it.

use std::io::Write;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use leadline_model::sync::LeadPatch;
use leadline_model::{CallDirection, CallLog, FollowUpSpec, Id, LeadPriority, LeadStatus, new_id};
use leadline_store::Store;

#[derive(Subcommand)]
pub enum LeadAction {
    /// A lead with its call history and follow-ups.
    Show {
        id: Id,
        #[arg(long)]
        json: bool,
    },
    /// Edit a lead's fields (works offline; the next sync sends it, with the version it was based on).
    Edit {
        id: Id,
        #[arg(long)]
        status: Option<LeadStatus>,
        #[arg(long)]
        priority: Option<LeadPriority>,
        /// Empty clears it.
        #[arg(long)]
        city: Option<String>,
        /// Empty clears it.
        #[arg(long)]
        interest: Option<String>,
        /// Comma-separated; replaces the lead's tags.
        #[arg(long, value_delimiter = ',')]
        tags: Option<Vec<String>>,
    },
}

#[derive(Args)]
pub struct LogCallArgs {
    #[arg(long)]
    lead: Id,
    /// A disposition code of the catalogue (e.g. `interested`); see the server's catalogue.
    #[arg(long)]
    disposition: String,
    #[arg(long)]
    notes: Option<String>,
    /// When to call back (RFC 3339, e.g. 2026-11-26T11:00:00+05:30). Some dispositions require it.
    #[arg(long)]
    follow_up: Option<DateTime<chrono::FixedOffset>>,
    /// A note for the follow-up.
    #[arg(long)]
    follow_up_note: Option<String>,
    /// Talk time in seconds (0: not answered). The call is taken to have ended now.
    #[arg(long, default_value_t = 0)]
    duration: i64,
    /// The telephony provider's call id (Exotel's CallSid).
    #[arg(long)]
    provider_call_id: Option<String>,
    /// The lead called in (default: you called out).
    #[arg(long)]
    inbound: bool,
}

#[derive(Subcommand)]
pub enum ConflictAction {
    /// Make your edit again on top of the lead as it is now (it is sent at the next sync).
    Reapply { id: Id },
    /// Keep the other person's values.
    Dismiss { id: Id },
}

pub fn lead(store: &mut Store, action: LeadAction) -> Result<()> {
    match action {
        LeadAction::Edit {
            id,
            status,
            priority,
            city,
            interest,
            tags,
        } => {
            let patch = LeadPatch {
                status,
                priority,
                city,
                interest,
                tags,
                ..LeadPatch::default()
            };
            store
                .update_lead(&id, &patch)
                .with_context(|| format!("cannot edit lead {id}"))?;
            println!("edited; it is sent at the next sync");
        }
        LeadAction::Show { id, json } => {
            let lead = store.get_lead(&id)?;
            let calls = store.call_logs_for_lead(&id)?;
            let follow_ups: Vec<_> = store
                .open_follow_ups()?
                .into_iter()
                .filter(|f| f.lead_id == id)
                .collect();
            let mut out = std::io::stdout().lock();
            if json {
                let v = serde_json::json!({"lead": lead, "calls": calls, "follow_ups": follow_ups});
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
                return Ok(());
            }
            writeln!(out, "{} ({})", lead.name, lead.phone)?;
            writeln!(
                out,
                "status: {}; priority: {}; source: {}; city: {}",
                lead.status,
                lead.priority,
                lead.source,
                lead.city.as_deref().unwrap_or("-")
            )?;
            if let Some(i) = &lead.interest {
                writeln!(out, "interest: {i}")?;
            }
            if !lead.tags.is_empty() {
                writeln!(out, "tags: {}", lead.tags.join(", "))?;
            }
            for f in &follow_ups {
                writeln!(
                    out,
                    "follow-up {} due {}{}",
                    f.id,
                    f.due_at.to_rfc3339(),
                    f.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
                )?;
            }
            writeln!(out, "{} call(s):", calls.len())?;
            for c in &calls {
                writeln!(
                    out,
                    "  {} {:<8} {:>5}s {:<16} {}",
                    c.started_at.format("%Y-%m-%d %H:%M"),
                    c.direction,
                    c.duration_s,
                    c.disposition,
                    c.notes.lines().next().unwrap_or("")
                )?;
            }
        }
    }
    Ok(())
}

pub fn log_call(store: &mut Store, a: LogCallArgs) -> Result<()> {
    let me = store.me()?;
    let disposition = crate::call_cmd::disposition(store, &a.disposition, a.follow_up.is_some())?;
    if !(0..=86_400).contains(&a.duration) {
        bail!("--duration must be between 0 and 86400 seconds");
    }
    let ended = Utc::now();
    let started = ended - chrono::Duration::seconds(a.duration);
    let call = CallLog {
        id: new_id(),
        lead_id: a.lead,
        telecaller_id: me.id,
        direction: if a.inbound {
            CallDirection::Inbound
        } else {
            CallDirection::Outbound
        },
        started_at: started,
        answered_at: (a.duration > 0).then_some(started),
        ended_at: Some(ended),
        duration_s: a.duration,
        disposition,
        outcome_tags: Vec::new(),
        notes: a.notes.unwrap_or_default(),
        follow_up: a.follow_up.map(|t| FollowUpSpec {
            due_at: t.with_timezone(&Utc),
            note: a.follow_up_note,
        }),
        recording_url: None,
        provider_call_id: a.provider_call_id,
        device_id: Some(store.device_id()?),
        quality: None,
    };
    store
        .log_call(&call)
        .with_context(|| format!("cannot log the call on lead {}", a.lead))?;
    println!("{}", call.id);
    Ok(())
}

pub fn follow_ups(store: &Store, due: bool, json: bool) -> Result<()> {
    let now = Utc::now();
    let list: Vec<_> = store
        .open_follow_ups()?
        .into_iter()
        .filter(|f| !due || f.due_at <= now)
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
        return Ok(());
    }
    for f in &list {
        let name = store.get_lead(&f.lead_id).map(|l| l.name).unwrap_or_default();
        writeln!(
            out,
            "{} {:<28} {}{}",
            f.due_at.format("%Y-%m-%d %H:%M"),
            crate::truncate(&name, 28),
            f.id,
            f.note.as_deref().map(|n| format!("  {n}")).unwrap_or_default()
        )?;
    }
    writeln!(out, "{} follow-up(s)", list.len())?;
    Ok(())
}

pub fn conflicts(store: &mut Store, action: Option<ConflictAction>) -> Result<()> {
    match action {
        None => {
            let list = store.open_conflicts()?;
            let mut out = std::io::stdout().lock();
            for c in &list {
                writeln!(
                    out,
                    "{} lead {} ({})",
                    c.id,
                    c.lead_name.as_deref().unwrap_or("?"),
                    c.lead_id
                )?;
                for f in &c.fields {
                    writeln!(
                        out,
                        "  {}: you {} (was {}), now {}",
                        f.field, f.mine, f.base, f.theirs
                    )?;
                }
            }
            writeln!(out, "{} open conflict(s)", list.len())?;
        }
        Some(ConflictAction::Reapply { id }) => match store.reapply_conflict(&id)? {
            Some(_) => println!("reapplied; it is sent at the next sync"),
            None => println!("the lead already has your values; conflict closed"),
        },
        Some(ConflictAction::Dismiss { id }) => {
            store.dismiss_conflict(&id)?;
            println!("dismissed; the lead keeps the other values");
        }
    }
    Ok(())
}

pub fn rejected(store: &mut Store, retry: Option<i64>, json: bool) -> Result<()> {
    if let Some(seq) = retry {
        store.retry_rejected(seq)?;
        println!("change {seq} is queued again; it is sent at the next sync");
        return Ok(());
    }
    let list = store.rejected_changes()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
        return Ok(());
    }
    for e in &list {
        let op = serde_json::to_value(&e.mutation)?
            .get("op")
            .and_then(|o| o.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(
            out,
            "{:>6} {:<20} {}",
            e.seq,
            op,
            e.last_error.as_deref().unwrap_or("")
        )?;
    }
    writeln!(out, "{} refused change(s)", list.len())?;
    Ok(())
}
