//! The background sync engine: when to sync, what to tell the UI.
//!
//! Triggers: start-up, a local change (debounced, so ten quick edits make one push), a poke or assignment
//! from the event socket, the socket coming back after a cut, and a periodic timer. A failed round is
//! retried with exponential backoff and jitter; a trigger from the server (which proves it is reachable)
//! cuts the wait short. The status stream ([`Engine::status`]) says online/offline/syncing, how many
//! changes wait, the last success and the last error; [`Engine::subscribe`] gives typed events (leads
//! assigned, conflicts, refused changes, announcements) the desktop turns into notifications.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use leadline_model::{Id, Lead, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::run_socket;
use crate::{Client, SharedStore, SyncError, SyncReport, sync_once};

/// How the engine paces itself.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A sync round at least this often, even without triggers.
    pub periodic: Duration,
    /// A local change waits this long for more before it is pushed.
    pub debounce: Duration,
    /// First retry delay after a failure; doubles per failure (with jitter) up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Listen on the server's event socket for pokes and assignments.
    pub events: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            periodic: Duration::from_secs(60),
            debounce: Duration::from_millis(400),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            events: true,
        }
    }
}

/// Whether the server could be reached, as far as the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Nothing tried yet.
    Unknown,
    Online,
    Offline,
}

/// What the UI and the tray show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub connectivity: Connectivity,
    pub syncing: bool,
    /// Local changes waiting for the server.
    pub pending: u64,
    /// Changes the server refused for good (kept, shown).
    pub rejected: u64,
    /// Edits that lost to someone else's and wait for the user.
    pub conflicts: u64,
    pub last_success_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    /// The last round's error, cleared by a successful round.
    pub last_error: Option<String>,
    /// When the next retry is due after a failure.
    pub next_retry_at: Option<Timestamp>,
    /// The event socket is connected.
    pub events_connected: bool,
    /// The server ended the session: only signing in again helps; the engine stopped syncing.
    pub session_ended: bool,
}

impl Default for SyncStatus {
    fn default() -> Self {
        Self {
            connectivity: Connectivity::Unknown,
            syncing: false,
            pending: 0,
            rejected: 0,
            conflicts: 0,
            last_success_at: None,
            last_attempt_at: None,
            last_error: None,
            next_retry_at: None,
            events_connected: false,
            session_ended: false,
        }
    }
}

/// Something the user may need to hear about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SyncEvent {
    /// Leads newly assigned to this user arrived in the cache.
    LeadsAssigned { leads: Vec<Lead> },
    /// Leads taken away from this user left the cache.
    LeadsDropped { lead_ids: Vec<Id> },
    /// Edits lost to someone else's: open conflicts to show.
    Conflicts { conflict_ids: Vec<Id> },
    /// Changes the server refused for good: client mutation id and reason.
    Rejected { changes: Vec<(Id, String)> },
    /// A follow-up of this user is due (from the server's event socket).
    FollowUpDue {
        follow_up_id: Id,
        lead_id: Id,
        due_at: Timestamp,
    },
    /// A supervisor's or admin's message.
    Announcement { message: String, from_name: String },
    /// The client's tokens changed (refreshed): the owner persists [`Client::tokens`].
    TokensChanged,
    /// The session ended on the server; sign in again.
    SessionEnded,
}

/// What wakes the engine up.
#[derive(Debug)]
pub(crate) enum Trigger {
    LocalChange,
    SyncNow,
    /// The server said something changed (poke, assignment) or the socket (re)connected.
    Server,
    SocketState(bool),
    Emit(SyncEvent),
    Shutdown,
}

/// A running engine. Dropping it stops it.
pub struct Engine {
    tx: mpsc::UnboundedSender<Trigger>,
    status: watch::Receiver<SyncStatus>,
    events: broadcast::Sender<SyncEvent>,
    task: Option<JoinHandle<()>>,
    socket: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("status", &*self.status.borrow())
            .finish()
    }
}

impl Engine {
    /// Starts syncing `store` with the server of `client` (signed in) on the current tokio runtime. The
    /// first round starts at once.
    pub fn start(client: Client, store: SharedStore, config: EngineConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(SyncStatus::default());
        let (events, _) = broadcast::channel(256);
        let status_tx = Arc::new(status_tx);
        let socket = config
            .events
            .then(|| tokio::spawn(run_socket(client.clone(), tx.clone())));
        let worker = Worker {
            client,
            store,
            config,
            status: status_tx,
            events: events.clone(),
            failures: 0,
            goals_at: None,
        };
        let task = tokio::spawn(worker.run(rx));
        Self {
            tx,
            status,
            events,
            task: Some(task),
            socket,
        }
    }

    /// The status stream: `borrow()` for now, `changed().await` for the next.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// Typed events for notifications. A slow receiver may miss old events (it is told it lagged).
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    /// A local change was written: push it soon (debounced).
    pub fn local_change(&self) {
        let _ = self.tx.send(Trigger::LocalChange);
    }

    /// Sync now (the user pressed the button); also cuts a backoff wait short.
    pub fn sync_now(&self) {
        let _ = self.tx.send(Trigger::SyncNow);
    }

    /// Syncs now and waits for that round to end (`timeout` at most); answers the status after it. A round
    /// already running when this is called does not count: its data may predate the call.
    pub async fn sync_now_and_wait(&self, timeout: Duration) -> SyncStatus {
        let mut status = self.status.clone();
        let asked_at = Utc::now();
        self.sync_now();
        let finished = status.wait_for(|s| {
            (!s.syncing && s.last_attempt_at.is_some_and(|t| t >= asked_at)) || s.session_ended
        });
        match tokio::time::timeout(timeout, finished).await {
            Ok(Ok(s)) => s.clone(),
            _ => self.status.borrow().clone(),
        }
    }

    /// Stops the engine, letting a running round finish its current step.
    pub async fn shutdown(mut self) {
        let _ = self.tx.send(Trigger::Shutdown);
        if let Some(s) = self.socket.take() {
            s.abort();
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.tx.send(Trigger::Shutdown);
        if let Some(s) = self.socket.take() {
            s.abort();
        }
    }
}

struct Worker {
    client: Client,
    store: SharedStore,
    config: EngineConfig,
    status: Arc<watch::Sender<SyncStatus>>,
    events: broadcast::Sender<SyncEvent>,
    failures: u32,
    /// When the goals were last fetched.
    goals_at: Option<Instant>,
}

/// How often the team's goals are fetched again.
const GOALS_EVERY: Duration = Duration::from_secs(600);

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Trigger>) {
        let mut due = Some(Instant::now());
        self.refresh_counts().await;
        loop {
            let wake = due.unwrap_or_else(|| Instant::now() + self.config.periodic);
            tokio::select! {
                trigger = rx.recv() => match trigger {
                    None | Some(Trigger::Shutdown) => break,
                    Some(Trigger::LocalChange) => {
                        self.refresh_counts().await;
                        let soon = Instant::now() + self.config.debounce;
                        // A change during a backoff wait does not cut it short: the server is down.
                        if self.failures == 0 {
                            due = Some(due.map_or(soon, |d| d.min(soon)));
                        }
                    }
                    Some(Trigger::SyncNow | Trigger::Server) => {
                        due = Some(Instant::now());
                    }
                    Some(Trigger::SocketState(up)) => {
                        self.status.send_modify(|s| {
                            s.events_connected = up;
                            if up {
                                s.connectivity = Connectivity::Online;
                            }
                        });
                        if up {
                            // Back online (or first connect): sync at once.
                            due = Some(Instant::now());
                        }
                    }
                    Some(Trigger::Emit(e)) => {
                        let _ = self.events.send(e);
                    }
                },
                () = tokio::time::sleep_until(wake) => {
                    if self.status.borrow().session_ended {
                        due = None;
                        continue;
                    }
                    due = Some(self.round().await);
                }
            }
        }
    }

    async fn refresh_counts(&self) {
        match self.store.run(|s| s.pending_count()).await {
            Ok(c) => self.status.send_modify(|s| {
                s.pending = c.pending;
                s.rejected = c.rejected;
                s.conflicts = c.conflicts;
            }),
            Err(e) => tracing::warn!(error = %e, "cannot count pending changes"),
        }
    }

    /// Runs one round; answers when the next is due.
    async fn round(&mut self) -> Instant {
        let started = Utc::now();
        self.status.send_modify(|s| {
            s.syncing = true;
            s.last_attempt_at = Some(started);
        });
        let before = self.client.tokens();
        let result = sync_once(&self.client, &self.store).await;
        if self.client.tokens() != before {
            let _ = self.events.send(SyncEvent::TokensChanged);
        }
        self.refresh_counts().await;
        match result {
            Ok(report) => {
                self.failures = 0;
                self.status.send_modify(|s| {
                    s.syncing = false;
                    s.connectivity = Connectivity::Online;
                    s.last_success_at = Some(Utc::now());
                    s.last_error = None;
                    s.next_retry_at = None;
                });
                self.announce(report);
                self.refresh_team_settings().await;
                Instant::now() + self.config.periodic
            }
            Err(e) => self.failed(&e),
        }
    }

    /// The team's goals and the disposition catalogue change rarely: fetched after a good round at most
    /// every [`GOALS_EVERY`], kept in the cache (the dashboard's goals; the wrap-up form's catalogue, which
    /// a pull brings only to a new device). A failure only waits for the next round.
    async fn refresh_team_settings(&mut self) {
        if self.goals_at.is_some_and(|t| t.elapsed() < GOALS_EVERY) {
            return;
        }
        let goals = match self.client.goals().await {
            Ok(goals) => self
                .store
                .run(move |s| s.set_goals(&goals))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let catalogue = match self.client.disposition_catalogue().await {
            Ok(mut entries) => {
                entries.retain(|d| d.active);
                entries.sort_by_key(|d| d.position);
                let list: Vec<leadline_model::Disposition> = entries
                    .into_iter()
                    .map(|d| leadline_model::Disposition {
                        code: d.code,
                        label: d.label,
                        category: d.category,
                        requires_follow_up: d.requires_follow_up,
                        hotkey: d.hotkey,
                    })
                    .collect();
                self.store
                    .run(move |s| s.set_dispositions(&list))
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match (goals, catalogue) {
            (Ok(()), Ok(())) => self.goals_at = Some(Instant::now()),
            (goals, catalogue) => {
                tracing::info!(?goals, ?catalogue, "cannot refresh the goals or the catalogue")
            }
        }
    }

    fn announce(&self, report: SyncReport) {
        if !report.assigned.is_empty() {
            let _ = self.events.send(SyncEvent::LeadsAssigned {
                leads: report.assigned,
            });
        }
        if !report.push.leads_dropped.is_empty() {
            let _ = self.events.send(SyncEvent::LeadsDropped {
                lead_ids: report.push.leads_dropped,
            });
        }
        if !report.push.conflicts.is_empty() {
            let _ = self.events.send(SyncEvent::Conflicts {
                conflict_ids: report.push.conflicts,
            });
        }
        if !report.push.rejected.is_empty() {
            let _ = self.events.send(SyncEvent::Rejected {
                changes: report.push.rejected,
            });
        }
    }

    fn failed(&mut self, e: &SyncError) -> Instant {
        let message = e.to_string();
        if matches!(e, SyncError::SessionEnded | SyncError::Unauthorized) {
            tracing::warn!(error = %message, "the session ended; sync stopped until the next sign-in");
            self.status.send_modify(|s| {
                s.syncing = false;
                s.session_ended = true;
                s.last_error = Some(message);
                s.next_retry_at = None;
            });
            let _ = self.events.send(SyncEvent::SessionEnded);
            return Instant::now() + Duration::from_secs(365 * 24 * 3600);
        }
        self.failures = self.failures.saturating_add(1);
        let delay = backoff(self.failures, self.config.backoff_min, self.config.backoff_max);
        let offline = matches!(e, SyncError::Unreachable { .. });
        tracing::info!(error = %message, failures = self.failures, retry_in_ms = delay.as_millis() as u64, "sync failed");
        let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        self.status.send_modify(|s| {
            s.syncing = false;
            if offline {
                s.connectivity = Connectivity::Offline;
            }
            s.last_error = Some(message);
            s.next_retry_at = Some(retry_at);
        });
        Instant::now() + delay
    }
}

/// The wait before retry number `failures` (1-based): `min · 2^(failures-1)`, capped at `max`, times a
/// random factor in [0.5, 1.0] so a showroom of desktops coming back together does not retry in step.
pub(crate) fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let exp = min.saturating_mul(1_u32 << failures.saturating_sub(1).min(20));
    let capped = exp.min(max);
    capped.mul_f64(rand::random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let min = Duration::from_secs(1);
        let max = Duration::from_secs(300);
        for failures in 1..40 {
            let d = backoff(failures, min, max);
            let ceiling = min.saturating_mul(1 << (failures - 1).min(20)).min(max);
            assert!(d <= ceiling, "{failures}: {d:?} > {ceiling:?}");
            assert!(d >= ceiling / 2, "{failures}: {d:?} < half of {ceiling:?}");
        }
        assert!(backoff(30, min, max) <= max);
        assert!(backoff(30, min, max) >= max / 2);
    }
}
