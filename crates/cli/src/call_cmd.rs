//! `leadline call <lead> --click-to-call`, `leadline wrap-up <call>` and `leadline unlogged`: placing a
//! call through the server (the softphone's fallback: the telephony provider rings your own phone, then the
//! lead), and logging a drafted call with its disposition, notes and follow-up.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use leadline_model::{FollowUpSpec, Id};
use leadline_store::{Store, WrapUp};
use leadline_sync::{CallError, SharedStore, SyncError};

use crate::open_store;
use crate::sync_cmd::{ended_error, keep_tokens_after, session_client};

#[derive(Args)]
pub struct CallArgs {
    /// The lead to call (its id; see `leadline leads`).
    lead: Id,
    /// Have the server's telephony provider ring your own phone (your agent number) first, then the lead.
    /// The only way this headless client places calls; needs the server.
    #[arg(long)]
    click_to_call: bool,
    /// Print JSON (the server's answer and the call's draft).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct WrapUpArgs {
    /// The call (its id, as `leadline call` or `leadline unlogged` printed it).
    call: Id,
    /// A disposition code of the catalogue (e.g. `interested`).
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
    /// The lead's new status, when the call moved it along (e.g. `converted`).
    #[arg(long)]
    status: Option<leadline_model::LeadStatus>,
}

/// Why a click-to-call failed, in words for the telecaller.
fn call_failure(e: SyncError) -> anyhow::Error {
    match e {
        SyncError::Unreachable { url, reason } => anyhow!(
            "cannot reach the server at {url} ({reason}); click-to-call needs the server: try again when \
             online (a call made another way can be logged offline with `leadline log-call`)"
        ),
        SyncError::Call(CallError::NoAgentNumber) => anyhow!(
            "you have no phone number for the provider to ring first; ask an admin to set your agent \
             number, then try again"
        ),
        SyncError::Call(CallError::TelephonyNotConfigured) => {
            anyhow!("click-to-call is not available: the server has no telephony provider configured")
        }
        SyncError::Call(CallError::ProviderRateLimited { retry_after }) => anyhow!(
            "the telephony provider is busy (rate limit); try again in {} s",
            retry_after.unwrap_or(5)
        ),
        other => ended_error(other),
    }
}

/// `leadline call <lead> --click-to-call`.
pub async fn call(dir: &Path, a: CallArgs) -> Result<()> {
    if !a.click_to_call {
        bail!(
            "the headless client places calls only through the server: add --click-to-call (your phone rings \
             first, then the lead)"
        );
    }
    let (mut session, client) = session_client(dir)?;
    let store = SharedStore::new(open_store(dir)?);
    let lead = a.lead;
    let known = store.run(move |s| s.get_lead(&lead)).await;
    let lead = match known {
        Ok(lead) => lead,
        Err(SyncError::Store(leadline_store::StoreError::NotFound(_))) => bail!(
            "lead {lead} is not in the local cache; run `leadline sync` (or check the id with `leadline leads`)"
        ),
        Err(e) => return Err(e.into()),
    };
    let placed = leadline_sync::place_click_to_call(&client, &store, lead.id).await;
    keep_tokens_after(dir, &mut session, &client, &placed)?;
    let placed = placed.map_err(call_failure)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({"call": placed.call, "draft": placed.draft});
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "calling {} ({}): your phone rings first, then theirs",
        lead.name, lead.phone
    )?;
    writeln!(
        out,
        "call {} (provider call {}, {})",
        placed.call.call_log_id, placed.call.call_sid, placed.call.status
    )?;
    writeln!(
        out,
        "when it is over: leadline wrap-up {} --disposition <code> [--notes …] [--follow-up <time>]",
        placed.call.call_log_id
    )?;
    Ok(())
}

/// The catalogue's disposition `code`, checked against the follow-up it needs (the store's check).
pub(crate) fn disposition(store: &Store, code: &str, has_follow_up: bool) -> Result<String> {
    let d = store.checked_disposition(code, has_follow_up).context(
        "check --disposition (and --follow-up <RFC 3339 time>); `leadline sync` fetches the catalogue",
    )?;
    Ok(d.code)
}

/// `leadline wrap-up <call>`: logs a drafted call (works offline; the next sync sends it).
pub fn wrap_up(store: &mut Store, a: WrapUpArgs) -> Result<()> {
    // A softphone call still going (the desktop's, sharing this cache) is refused by the store.
    store.call_draft(&a.call)?.with_context(|| {
        format!(
            "no call {} waiting for its wrap-up (see `leadline unlogged`)",
            a.call
        )
    })?;
    let wrap = WrapUp {
        lead_id: None,
        disposition: a.disposition.clone(),
        outcome_tags: Vec::new(),
        notes: a.notes.unwrap_or_default(),
        follow_up: a.follow_up.map(|t| FollowUpSpec {
            due_at: t.with_timezone(&Utc),
            note: a.follow_up_note,
        }),
        lead_status: a.status,
    };
    // The store checks the form against the catalogue (disposition, follow-up it needs).
    let log = store
        .wrap_up_call(&a.call, &wrap)
        .with_context(|| format!("cannot log call {}", a.call))?;
    println!("{}", log.id);
    Ok(())
}

/// `leadline unlogged`: calls waiting for their wrap-up.
pub fn unlogged(store: &Store, json: bool) -> Result<()> {
    let drafts = store.unlogged_calls()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &drafts)?;
        writeln!(out)?;
        return Ok(());
    }
    for d in &drafts {
        writeln!(
            out,
            "{} {} {:<13} {:<8} {} {}",
            d.id,
            d.started_at.format("%Y-%m-%d %H:%M"),
            d.via.as_str(),
            d.direction,
            d.remote,
            d.provider_call_id.as_deref().unwrap_or("")
        )?;
    }
    writeln!(out, "{} call(s) waiting for their wrap-up", drafts.len())?;
    Ok(())
}
