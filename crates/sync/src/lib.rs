//! Leadline's client side of the API and its sync engine.
//!
//! - [`Client`]: the HTTP client (login, refresh, pull, push, click-to-call), with token rotation.
//! - [`place_click_to_call`]: the softphone's fallback: the server has the provider ring the telecaller's
//!   phone, then the lead, and the call is drafted in the cache under the server's call log id.
//! - [`check_server`]: the first-run setup's check of a server address (Leadline? compatible? if not, why).
//! - [`sync_once`]: one full round — push every pending outbox row in batches, then pull every page after the
//!   cursor — usable from a script ([`pull_all`] and [`push_all`] are its halves).
//! - [`Engine`]: the background engine the desktop runs: triggers (startup, local change, event socket,
//!   timer), backoff with jitter, offline detection, a status stream and typed events.
//! - [`Notices`] / [`Alerts`]: what the desktop notifies (assignments, follow-ups due, missed calls), held
//!   back during a call.
//!
//! Exactly once: an outbox row leaves the local cache only in the transaction that records the server's
//! confirmation of its client mutation id, and the server applies each id once. Whatever is cut — the
//! request, the answer, the process — the row is sent again and answered `duplicate`.

mod alerts;
mod calls;
mod check;
mod client;
mod engine;
mod error;
mod events;
mod shared;
pub mod supervisor;

pub use alerts::{Alert, AlertKind, Alerts, BURST, FOLLOW_UP_SCAN, Notices};
pub use calls::{PlacedCall, place_click_to_call};
pub use check::{CHECK_TIMEOUT, check_server};
pub use client::{Client, DEFAULT_TIMEOUT, Recording, Tokens, request_timeout};
pub use engine::{Connectivity, Engine, EngineConfig, SyncEvent, SyncStatus};
pub use error::{CallError, SyncError};
pub use events::{Frame, FrameEffect, read_frame};
pub use shared::SharedStore;

use leadline_model::sync::{Cursor, PROTOCOL_VERSION, PullPage, PushBatch};
use leadline_model::{Id, Lead};
use leadline_store::{ApplyReport, PUSH_MAX_BYTES, PUSH_MAX_MUTATIONS, PushOutcome};
use serde::{Deserialize, Serialize};

/// What a full pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullReport {
    pub pages: u32,
    pub leads_upserted: u64,
    pub leads_removed: u64,
    pub call_logs_added: u64,
    pub follow_ups_upserted: u64,
    /// Leads that are new on this device and assigned to its user: the desktop notifies about these.
    pub leads_assigned: Vec<Id>,
}

impl PullReport {
    fn add(&mut self, a: ApplyReport) {
        self.pages += 1;
        self.leads_upserted += u64::from(a.leads_upserted);
        self.leads_removed += u64::from(a.leads_removed);
        self.call_logs_added += u64::from(a.call_logs_added);
        self.follow_ups_upserted += u64::from(a.follow_ups_upserted);
        self.leads_assigned.extend(a.leads_assigned);
    }
}

/// What a full push did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushReport {
    pub batches: u32,
    /// Confirmed by the server and gone from the outbox.
    pub confirmed: u64,
    /// Edits rebased on the server's newer version and sent again.
    pub rebased: u64,
    /// New visible conflicts (their ids).
    pub conflicts: Vec<Id>,
    /// Changes the server refused for good: client mutation id and reason.
    pub rejected: Vec<(Id, String)>,
    /// Leads taken away from this user that left the cache once their last change was pushed.
    pub leads_dropped: Vec<Id>,
}

impl PushReport {
    /// Adds a later push of the same round.
    fn merge(&mut self, other: PushReport) {
        self.batches += other.batches;
        self.confirmed += other.confirmed;
        self.rebased += other.rebased;
        self.conflicts.extend(other.conflicts);
        self.rejected.extend(other.rejected);
        self.leads_dropped.extend(other.leads_dropped);
    }

    fn add(&mut self, o: PushOutcome) {
        self.batches += 1;
        self.confirmed += u64::from(o.confirmed);
        self.rebased += u64::from(o.rebased);
        self.conflicts.extend(o.conflicts);
        self.rejected.extend(o.rejected);
        self.leads_dropped.extend(o.leads_dropped);
    }
}

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    pub push: PushReport,
    pub pull: PullReport,
    /// The newly assigned leads, read back from the cache for notifications.
    pub assigned: Vec<Lead>,
}

/// Changes asked for per pull page: fewer round trips on a first sync, pages still small enough to apply
/// in one short transaction.
pub const PULL_PAGE: u32 = 1_000;

/// A `429 rate_limited` answer with a `Retry-After` up to this many seconds is waited out and the request
/// repeated, up to [`RATE_LIMIT_RETRIES`] times in a row; longer waits are the engine's backoff.
pub const RATE_LIMIT_WAIT_MAX_S: u64 = 30;
pub const RATE_LIMIT_RETRIES: u32 = 5;

/// Runs `call` again after the server's `Retry-After` when it answered 429 with a short one.
async fn patiently<T, F, Fut>(mut call: F) -> Result<T, SyncError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SyncError>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Err(SyncError::Server {
                status: 429,
                retry_after: Some(s),
                ..
            }) if s <= RATE_LIMIT_WAIT_MAX_S && tries < RATE_LIMIT_RETRIES => {
                tries += 1;
                tracing::info!(wait_s = s, "rate limited; waiting");
                tokio::time::sleep(std::time::Duration::from_secs(s.max(1))).await;
            }
            other => return other,
        }
    }
}

/// The most pages one pull follows before it stops and reports: a server that always says `has_more`
/// must not keep a client busy for ever.
pub const MAX_PAGES_PER_PULL: u32 = 10_000;

/// The most push batches one round sends (500 each): a round never runs for ever, the next continues.
pub const MAX_BATCHES_PER_PUSH: u32 = 1_000;

/// Pulls every page after the store's cursor and applies each in its own transaction.
///
/// The cursor moves only with an applied page, so an interrupted pull resumes where it stopped.
pub async fn pull_all(client: &Client, store: &SharedStore) -> Result<PullReport, SyncError> {
    pull_with_progress(client, store, |_| {}).await
}

/// [`pull_all`], calling `progress` after every applied page (for progress bars).
///
/// The next page is fetched while the current one is applied (the server's work and the cache's overlap).
/// A pull into a cache with no lead that has more than one page is a bulk load: the store drops its list
/// indexes first and builds them once at the end, whether the pull succeeds or fails (see
/// `leadline_store::Store::defer_list_indexes`).
pub async fn pull_with_progress(
    client: &Client,
    store: &SharedStore,
    progress: impl FnMut(&PullReport),
) -> Result<PullReport, SyncError> {
    let mut report = PullReport::default();
    let mut bulk = false;
    let pulled = pull_pages(client, store, &mut report, &mut bulk, progress).await;
    if bulk {
        let built = store.run(|s| s.restore_list_indexes()).await;
        tracing::info!(pages = report.pages, "bulk load done; list indexes built");
        // The pull's own error comes first: it is what the user must act on.
        pulled?;
        built?;
    } else {
        pulled?;
    }
    tracing::info!(
        pages = report.pages,
        leads = report.leads_upserted,
        calls = report.call_logs_added,
        "pulled"
    );
    Ok(report)
}

async fn fetch_page(client: &Client, cursor: &Cursor) -> Result<PullPage, SyncError> {
    let page = patiently(|| client.pull(cursor, Some(PULL_PAGE))).await?;
    if page.protocol != PROTOCOL_VERSION {
        return Err(SyncError::Protocol(format!(
            "server speaks sync protocol {}, this client speaks {PROTOCOL_VERSION}",
            page.protocol
        )));
    }
    if page.has_more && page.next_cursor == *cursor {
        return Err(SyncError::Protocol(
            "server says there is more but its cursor does not move".into(),
        ));
    }
    Ok(page)
}

async fn pull_pages(
    client: &Client,
    store: &SharedStore,
    report: &mut PullReport,
    bulk: &mut bool,
    mut progress: impl FnMut(&PullReport),
) -> Result<(), SyncError> {
    let cursor = store.run(|s| s.sync_state()).await?.cursor;
    let mut page = fetch_page(client, &cursor).await?;
    if page.has_more {
        *bulk = store.run(|s| s.defer_list_indexes()).await?;
    }
    loop {
        let next = page.next_cursor.clone();
        let more = page.has_more;
        let go_on = more && report.pages + 1 < MAX_PAGES_PER_PULL;
        let apply = store.run(move |s| s.apply_pull_page(&page));
        let (applied, fetched) = if go_on {
            let (applied, fetched) = tokio::join!(apply, fetch_page(client, &next));
            (applied, Some(fetched))
        } else {
            (apply.await, None)
        };
        report.add(applied?);
        progress(report);
        match fetched {
            Some(fetched) => page = fetched?,
            None => {
                if more {
                    tracing::warn!(
                        pages = report.pages,
                        "pull stopped after the page limit; the next sync continues"
                    );
                }
                return Ok(());
            }
        }
    }
}

/// Pushes every pending outbox row, in batches, until none is left (or only edits waiting on a batch
/// that failed). A batch that fails as a whole (network, 5xx) stops the push with its error; its rows stay
/// pending, marked with the error, and go again next time.
pub async fn push_all(client: &Client, store: &SharedStore) -> Result<PushReport, SyncError> {
    push_with_progress(client, store, |_| {}).await
}

/// [`push_all`], calling `progress` after every batch.
pub async fn push_with_progress(
    client: &Client,
    store: &SharedStore,
    mut progress: impl FnMut(&PushReport),
) -> Result<PushReport, SyncError> {
    let mut report = PushReport::default();
    let device_id = store.run(|s| s.device_id()).await?;
    loop {
        let batch = store
            .run(|s| s.next_push_batch(PUSH_MAX_MUTATIONS, PUSH_MAX_BYTES))
            .await?;
        if batch.is_empty() {
            break;
        }
        let body = PushBatch {
            protocol: PROTOCOL_VERSION,
            device_id: device_id.clone(),
            mutations: batch.iter().map(|e| e.mutation.clone()).collect(),
        };
        let response = match patiently(|| client.push(&body)).await {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                store.run(move |s| s.note_push_failure(&batch, &msg)).await?;
                return Err(e);
            }
        };
        if response.protocol != PROTOCOL_VERSION {
            return Err(SyncError::Protocol(format!(
                "server speaks sync protocol {}, this client speaks {PROTOCOL_VERSION}",
                response.protocol
            )));
        }
        let sent = batch.len();
        let outcome = store
            .run(move |s| s.apply_push_results(&batch, &response.results))
            .await?;
        if outcome.unanswered > 0 {
            // The answer did not name every change sent: keep them and stop rather than loop on them.
            return Err(SyncError::Protocol(format!(
                "the server answered {} of {sent} changes",
                usize::try_from(outcome.unanswered).map_or(0, |u| sent.saturating_sub(u))
            )));
        }
        report.add(outcome);
        progress(&report);
        if report.batches >= MAX_BATCHES_PER_PUSH {
            tracing::warn!(batches = report.batches, "push stopped after the batch limit");
            break;
        }
    }
    if report.batches > 0 {
        tracing::info!(
            batches = report.batches,
            confirmed = report.confirmed,
            conflicts = report.conflicts.len(),
            rejected = report.rejected.len(),
            "pushed"
        );
    }
    Ok(report)
}

/// One full round: push the outbox, pull the feed, and push again what the pull rebased (edits answered
/// `conflict` are rebased on the server's version and go once more).
pub async fn sync_once(client: &Client, store: &SharedStore) -> Result<SyncReport, SyncError> {
    let mut push = push_all(client, store).await?;
    let pull = pull_all(client, store).await?;
    let again = push_all(client, store).await?;
    push.merge(again);
    let ids = pull.leads_assigned.clone();
    let assigned = if ids.is_empty() {
        Vec::new()
    } else {
        store
            .run(move |s| {
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    match s.get_lead(id) {
                        Ok(l) => out.push(l),
                        Err(leadline_store::StoreError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            })
            .await?
    };
    Ok(SyncReport { push, pull, assigned })
}
