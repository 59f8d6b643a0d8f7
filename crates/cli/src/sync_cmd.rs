//! `leadline sync [--watch]` and `leadline status`.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use leadline_sync::{Client, Engine, EngineConfig, SharedStore, SyncError, SyncEvent};

use crate::open_store;
use crate::session::Session;

pub(crate) fn session_client(dir: &Path) -> Result<(Session, Client)> {
    let session = Session::load(dir)?;
    let client = Client::new(&session.server_url)?.with_tokens(session.tokens());
    Ok((session, client))
}

/// Keeps the client's token pair when a refresh changed it (the old refresh token is used up), or forgets
/// the session when the server ended it.
pub(crate) fn keep_tokens(dir: &Path, session: &mut Session, client: &Client, ended: bool) -> Result<()> {
    if ended {
        Session::remove(dir)?;
    } else if session.update(client.tokens()) {
        session.save(dir)?;
    }
    Ok(())
}

/// [`keep_tokens`] after a request's `outcome`: the session is forgotten when the outcome says it ended.
pub(crate) fn keep_tokens_after<T>(
    dir: &Path,
    session: &mut Session,
    client: &Client,
    outcome: &Result<T, SyncError>,
) -> Result<()> {
    keep_tokens(
        dir,
        session,
        client,
        matches!(outcome, Err(SyncError::SessionEnded)),
    )
}

pub(crate) fn ended_error(e: SyncError) -> anyhow::Error {
    match e {
        SyncError::Unauthorized | SyncError::SessionEnded => {
            anyhow!("the session has ended; run `leadline login` again")
        }
        other => other.into(),
    }
}

fn bar(len: Option<u64>, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{msg:10} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg:10} {pos} rows ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One round: push everything pending, pull to the end, push what the pull rebased.
pub async fn sync(dir: &Path) -> Result<()> {
    let (mut session, client) = session_client(dir)?;
    let store = SharedStore::new(open_store(dir)?);
    let pending = store.run(|s| s.pending_count()).await?.pending;
    let outcome = async {
        let push_bar = bar((pending > 0).then_some(pending), "pushing");
        let push = leadline_sync::push_with_progress(&client, &store, |r| {
            push_bar
                .set_position(r.confirmed + r.rebased + r.conflicts.len() as u64 + r.rejected.len() as u64);
        })
        .await;
        push_bar.finish_and_clear();
        let push_report = push?;
        let pull_bar = bar(None, "pulling");
        let pull = leadline_sync::pull_with_progress(&client, &store, |r| {
            pull_bar
                .set_position(r.leads_upserted + r.call_logs_added + r.follow_ups_upserted + r.leads_removed);
        })
        .await;
        pull_bar.finish_and_clear();
        let pull = pull?;
        let again = leadline_sync::push_all(&client, &store).await?;
        Ok::<_, SyncError>((push_report, pull, again))
    }
    .await;
    keep_tokens_after(dir, &mut session, &client, &outcome)?;
    let online = !matches!(outcome, Err(SyncError::Unreachable { .. }));
    let error = outcome.as_ref().err().map(ToString::to_string);
    store
        .run(move |s| s.record_sync_attempt(online, error.as_deref()))
        .await?;
    let (push, pull, again) = outcome.map_err(ended_error)?;
    let counts = store.run(|s| s.pending_count()).await?;
    let leads = store.run(|s| s.count_leads()).await?;
    println!(
        "synced: pushed {} change(s), pulled {} page(s) ({} lead(s), {} call log(s), {} follow-up(s), {} removed); \
         {leads} leads cached; {} pending, {} refused, {} conflict(s)",
        push.confirmed + again.confirmed,
        pull.pages,
        pull.leads_upserted,
        pull.call_logs_added,
        pull.follow_ups_upserted,
        pull.leads_removed,
        counts.pending,
        counts.rejected,
        counts.conflicts,
    );
    for (id, reason) in push.rejected.iter().chain(&again.rejected) {
        eprintln!("refused by the server: change {id}: {reason}");
    }
    let conflicts = push.conflicts.len() + again.conflicts.len();
    if conflicts > 0 {
        eprintln!("{conflicts} edit(s) clashed with someone else's; see `leadline conflicts`");
    }
    Ok(())
}

/// Runs the engine until Ctrl-C, printing status changes and events as JSON lines.
pub async fn watch(dir: &Path) -> Result<()> {
    let (mut session, client) = session_client(dir)?;
    let store = SharedStore::new(open_store(dir)?);
    let engine = Engine::start(client.clone(), store.clone(), EngineConfig::default());
    let mut status = engine.status();
    let mut events = engine.subscribe();
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            changed = status.changed() => {
                if changed.is_err() {
                    break;
                }
                let s = status.borrow_and_update().clone();
                println!("{}", serde_json::json!({"status": s}));
                let online = s.connectivity == leadline_sync::Connectivity::Online;
                if !s.syncing && s.last_attempt_at.is_some() {
                    let err = s.last_error.clone();
                    store.run(move |st| st.record_sync_attempt(online, err.as_deref())).await?;
                }
                if s.session_ended {
                    keep_tokens(dir, &mut session, &client, true)?;
                    engine.shutdown().await;
                    return Err(anyhow!("the session has ended; run `leadline login` again"));
                }
            }
            event = events.recv() => match event {
                Ok(SyncEvent::TokensChanged) => keep_tokens(dir, &mut session, &client, false)?,
                Ok(e) => println!("{}", serde_json::json!({"event": e})),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("warning: {n} event(s) missed");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    engine.shutdown().await;
    keep_tokens(dir, &mut session, &client, false)?;
    Ok(())
}

pub fn status(dir: &Path, json: bool) -> Result<()> {
    let store = open_store(dir)?;
    let state = store.sync_state()?;
    let counts = store.pending_count()?;
    let signed_in = Session::load(dir).is_ok();
    let leads = store.count_leads()?;
    if json {
        let v = serde_json::json!({
            "signed_in": signed_in,
            "server_url": state.server_url,
            "user": state.user,
            "online": state.online,
            "last_sync_at": state.last_sync_at,
            "last_attempt_at": state.last_attempt_at,
            "last_error": state.last_error,
            "leads": leads,
            "pending": counts.pending,
            "rejected": counts.rejected,
            "conflicts": counts.conflicts,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match (&state.user, &state.server_url) {
        (Some(u), Some(s)) => println!("user: {} ({}) on {s}", u.name, u.username),
        _ => println!("user: not signed in"),
    }
    println!("session: {}", if signed_in { "active" } else { "none" });
    println!(
        "server: {}",
        match state.online {
            Some(true) => "reachable at the last attempt",
            Some(false) => "unreachable at the last attempt (working offline)",
            None => "not tried yet",
        }
    );
    println!(
        "last sync: {}",
        state
            .last_sync_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into())
    );
    if let Some(e) = &state.last_error {
        println!("last error: {e}");
    }
    println!(
        "leads: {leads}; pending changes: {}; refused: {}; conflicts: {}",
        counts.pending, counts.rejected, counts.conflicts
    );
    Ok(())
}
