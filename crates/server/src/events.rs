//! Real-time events: the per-process hub that fans committed events out to WebSocket connections, and the
//! background tasks around it.
//!
//! Events are rows of the `events` table ([`crate::db::events`]), recorded in the same transaction as the
//! change they announce. Each server process runs:
//!
//! - the **dispatcher**: reads the events after the last id it saw, in id order, and broadcasts them to
//!   this process's connections (each connection filters by its user). It wakes when a transaction of
//!   this process that recorded events commits (`Repo::events_notify`), when the PostgreSQL listener
//!   hears a notification from any node, and at least every [`EventsConfig::poll`] as a safety net;
//! - on PostgreSQL, the **listener**: a thread with its own connection running `LISTEN leadline_events`
//!   that wakes the dispatcher on each notification; when its connection drops it reconnects with
//!   backoff and wakes the dispatcher, which re-reads the table from the last id it saw, so nothing is
//!   missed;
//! - the **follow-up task**: every [`EventsConfig::follow_up_check`], records `follow_up_due` events for
//!   open follow-ups that came due (exactly once across nodes, see
//!   [`crate::db::events::record_due_follow_ups`]);
//! - the **retention task**: deletes events older than [`EventsConfig::retention`].
//!
//! [`spawn`] starts them; the returned guard stops them (and closes this process's event sockets).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, watch};

use crate::db::events::{
    PG_CHANNEL, StoredEvent, delete_events_before, events_after, last_event_id, record_due_follow_ups,
};
use crate::{AppState, DbError, Repo};

/// How events behave; [`EventsConfig::default`] are the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsConfig {
    /// How often the server pings each socket (WebSocket ping and a `heartbeat` message). A socket that
    /// sends nothing (not even a pong) for two periods is dropped.
    pub heartbeat: Duration,
    /// How often the follow-up task looks for follow-ups that came due.
    pub follow_up_check: Duration,
    /// Follow-ups that came due longer ago than this are not announced (e.g. after downtime).
    pub follow_up_window: Duration,
    /// Events older than this are deleted.
    pub retention: Duration,
    /// How often old events are deleted.
    pub retention_check: Duration,
    /// The dispatcher re-reads the table at least this often, even without a wake-up.
    pub poll: Duration,
    /// At most this many events are replayed after a reconnect; a client further behind gets a
    /// `sync_poke` (pull the feed) and continues from the newest event.
    pub max_replay: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(20),
            follow_up_check: Duration::from_secs(30),
            follow_up_window: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(7 * 24 * 3600),
            retention_check: Duration::from_secs(3600),
            poll: Duration::from_secs(5),
            max_replay: 1000,
        }
    }
}

/// Events read from the table per query.
pub const PAGE: u32 = 500;
/// Events buffered per connection before a slow one must re-read from the table.
const CHANNEL_CAPACITY: usize = 1024;
/// Follow-ups announced per transaction.
const FOLLOW_UP_BATCH: u32 = 200;

/// The in-process hub: committed events, broadcast in id order to this process's connections.
#[derive(Debug, Clone)]
pub struct EventHub {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
struct HubInner {
    sender: broadcast::Sender<Arc<StoredEvent>>,
    shutdown: watch::Sender<bool>,
    config: EventsConfig,
}

impl EventHub {
    /// A hub with `config`; nothing runs until [`spawn`].
    pub fn new(config: EventsConfig) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let (shutdown, _) = watch::channel(false);
        Self {
            inner: Arc::new(HubInner {
                sender,
                shutdown,
                config,
            }),
        }
    }

    pub fn config(&self) -> &EventsConfig {
        &self.inner.config
    }

    /// A receiver of every event dispatched from now on (all targets; filter with
    /// [`crate::db::events::EventTarget::reaches`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.inner.sender.subscribe()
    }

    /// Becomes `true` when the server stops: connections close.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
}

/// Stops the event tasks (and closes this process's event sockets) when dropped.
#[derive(Debug)]
pub struct EventTasks {
    hub: EventHub,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Drop for EventTasks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.hub.inner.shutdown.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the dispatcher, the follow-up and retention tasks and, on PostgreSQL, the listener thread.
pub fn spawn(state: &AppState) -> EventTasks {
    let repo = state.repo().clone();
    let hub = state.events().clone();
    let config = *hub.config();
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(url) = repo.postgres_url() {
        let url = url.to_owned();
        let notify = repo.events_notify().clone();
        let stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("leadline-events-listen".to_owned())
            .spawn(move || listen(&url, &notify, &stop));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the event listener thread; polling only");
        }
    }
    let tasks = vec![
        tokio::spawn(dispatch(repo.clone(), hub.clone())),
        tokio::spawn(follow_up_task(repo.clone(), config)),
        tokio::spawn(retention_task(repo, config)),
    ];
    EventTasks { hub, tasks, stop }
}

/// Reads new events and broadcasts them, forever.
async fn dispatch(repo: Repo, hub: EventHub) {
    let notify = repo.events_notify().clone();
    let poll = hub.config().poll;
    let mut last = loop {
        match repo.read(last_event_id).await {
            Ok(id) => break id,
            Err(e) => {
                tracing::warn!(error = %e, "event dispatcher: reading the last event id failed");
                tokio::time::sleep(poll).await;
            }
        }
    };
    loop {
        if let Err(e) = dispatch_new(&repo, &hub, &mut last).await {
            tracing::warn!(error = %e, after = last, "event dispatcher: reading events failed");
        }
        tokio::select! {
            () = notify.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

async fn dispatch_new(repo: &Repo, hub: &EventHub, last: &mut i64) -> Result<(), DbError> {
    loop {
        let after = *last;
        let page = repo.read(move |tx| events_after(tx, after, PAGE)).await?;
        let full = page.len() >= PAGE as usize;
        for event in page {
            *last = event.id;
            // No receivers is fine: nobody is connected to this process.
            let _ = hub.inner.sender.send(Arc::new(event));
        }
        if !full {
            return Ok(());
        }
    }
}

/// The PostgreSQL listener thread: `LISTEN leadline_events` and wake the dispatcher on each notification,
/// reconnecting with backoff, until `stop`.
fn listen(url: &str, notify: &Notify, stop: &AtomicBool) {
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    let mut backoff = Duration::from_millis(100);
    while !stop.load(Ordering::Relaxed) {
        let connected = postgres::Client::connect(url, postgres::NoTls).and_then(|mut client| {
            client.batch_execute(&format!("LISTEN {PG_CHANNEL}"))?;
            Ok(client)
        });
        match connected {
            Ok(mut client) => {
                backoff = Duration::from_millis(100);
                // Whatever committed while we were not listening: re-read from the last id seen.
                notify.notify_one();
                tracing::debug!("event listener connected");
                while !stop.load(Ordering::Relaxed) {
                    let next = {
                        let mut notifications = client.notifications();
                        let mut iter = notifications.timeout_iter(Duration::from_millis(250));
                        postgres::fallible_iterator::FallibleIterator::next(&mut iter).map(|n| n.is_some())
                    };
                    match next {
                        Ok(true) => notify.notify_one(),
                        Ok(false) => {
                            if client.is_closed() {
                                tracing::warn!("event listener: connection closed; reconnecting");
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "event listener: connection lost; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "event listener: cannot connect");
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}

/// Records `follow_up_due` events for the follow-ups that came due by `now` (within the window); returns
/// how many. Safe to run on several nodes at once: each follow-up is announced once per `due_at`.
pub async fn announce_due_follow_ups(
    repo: &Repo,
    now: leadline_model::Timestamp,
    window: Duration,
) -> Result<u64, DbError> {
    let not_before = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(1));
    let mut total = 0;
    loop {
        let n = repo
            .write(move |tx| record_due_follow_ups(tx, &now, &not_before, FOLLOW_UP_BATCH))
            .await?;
        total += n;
        if n < u64::from(FOLLOW_UP_BATCH) {
            return Ok(total);
        }
    }
}

async fn follow_up_task(repo: Repo, config: EventsConfig) {
    // The first round one period after start, not at once: a starting node does not compete with work.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + config.follow_up_check,
        config.follow_up_check,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match announce_due_follow_ups(&repo, chrono::Utc::now(), config.follow_up_window).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "follow-ups came due"),
            Err(e) if is_retryable(&e) => {
                tracing::debug!(error = %e, "follow-up check lost a race; next round")
            }
            Err(e) => tracing::warn!(error = %e, "follow-up check failed"),
        }
    }
}

fn is_retryable(e: &DbError) -> bool {
    matches!(e, DbError::Sql(s) if s.is_retryable())
}

/// Deletes the events older than `retention` before `now`; returns how many.
pub async fn delete_old_events(
    repo: &Repo,
    now: leadline_model::Timestamp,
    retention: Duration,
) -> Result<u64, DbError> {
    let cutoff = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
    repo.write(move |tx| delete_events_before(tx, &cutoff)).await
}

async fn retention_task(repo: Repo, config: EventsConfig) {
    // The first round one period after start, not at once: a starting node does not compete with work.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + config.retention_check,
        config.retention_check,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Follow-up claims go with the events, but never within the follow-up window (they would be
        // announced again).
        let keep = config.retention.max(config.follow_up_window);
        match delete_old_events(&repo, chrono::Utc::now(), keep).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "deleted old events"),
            Err(e) => tracing::warn!(error = %e, "deleting old events failed"),
        }
    }
}
