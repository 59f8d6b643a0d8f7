//! The user agent: public handle, events and the background task that keeps the registration
//! alive.

use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

use leadline_model::Id;

use crate::call::CallEvent;
use crate::config::{PhoneConfig, WsScheme};
use crate::error::PhoneError;
use crate::journal::CallJournal;
use crate::registration::{Registrar, Registration};
use crate::session::{AudioProvider, CallHandle, Calls};
use crate::sip;
use crate::transport::{self, Connection, Link, LocalEnd};

/// What the user agent reports. Subscribe with [`UserAgentHandle::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEvent {
    /// A REGISTER (initial, refresh or retry) is being sent.
    Registering,
    /// The registrar accepted the registration for `expires` seconds.
    Registered { expires: u32 },
    /// A registration attempt failed. For permanent errors ([`PhoneError::is_permanent`], e.g.
    /// [`PhoneError::AuthFailed`]) the agent stops retrying until
    /// [`UserAgentHandle::register_once`] is called; otherwise it retries with back-off.
    RegistrationFailed(PhoneError),
    /// The binding was removed (REGISTER with Expires: 0) during shutdown.
    Unregistered,
    /// The WebSocket connection was lost; the agent reconnects with back-off.
    Disconnected { reason: String },
    /// The server sent something broken; it was dropped (or answered with an error).
    ProtocolError(PhoneError),
    /// A call is coming in: answer or reject it through the handle.
    IncomingCall(CallHandle),
    /// Something happened to a call (also visible on its handle).
    Call { call_id: String, event: CallEvent },
    /// The far end pressed a key (RFC 4733 event or SIP INFO `application/dtmf-relay`).
    DtmfReceived { call_id: String, digit: char },
    /// A call event could not be written to the journal (the local store): the app must say so, since the
    /// call may then be missing from the telecaller's list.
    JournalFailed(String),
}

/// How the next call should be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRoute {
    /// Through this softphone.
    Softphone,
    /// As a click-to-call (the provider rings the telecaller's own phone, then the lead), because the
    /// softphone cannot carry it now.
    ClickToCall(FallbackReason),
}

/// Why a call goes as a click-to-call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    /// The softphone is not registered (no connection to the provider, wrong password, starting up).
    NotRegistered,
    /// No microphone to talk with.
    NoMicrophone,
    /// The last softphone call could not get its audio through (UDP blocked): see
    /// [`CallFailure::suggests_click_to_call`](crate::CallFailure::suggests_click_to_call).
    AudioBlocked,
}

/// Registration state as seen by the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    /// Started, nothing sent yet.
    Idle,
    /// Connecting and/or REGISTER in flight (refreshes of a live registration stay `Registered`).
    Registering,
    /// Registered; refreshed automatically before `expires` runs out.
    Registered { expires: u32 },
    /// Waiting `retry_in` before the next automatic attempt after `error`.
    RetryWait { retry_in: Duration, error: PhoneError },
    /// Stopped retrying after a permanent error; call `register_once` to try again.
    Failed(PhoneError),
    /// Shut down.
    Stopped,
}

enum Command {
    Dial(
        String,
        Option<Id>,
        oneshot::Sender<Result<CallHandle, PhoneError>>,
    ),
    RegisterOnce(oneshot::Sender<Result<Registration, PhoneError>>),
    Shutdown(oneshot::Sender<Result<(), PhoneError>>),
}

/// Entry point: `UserAgent::start(config)`.
pub struct UserAgent;

impl UserAgent {
    /// Validates `config` and spawns the background task on the current tokio runtime. The task
    /// connects and registers right away, then keeps the registration refreshed and reconnects
    /// after failures. It runs until [`UserAgentHandle::shutdown`] or until every handle is
    /// dropped (both de-register).
    pub fn start(
        config: PhoneConfig,
    ) -> Result<(UserAgentHandle, broadcast::Receiver<PhoneEvent>), PhoneError> {
        Self::start_with_audio(config, Arc::new(crate::session::silent_audio))
    }

    /// [`UserAgent::start`], with the sound of each call opened by `audio` (the app's devices).
    pub fn start_with_audio(
        config: PhoneConfig,
        audio: Arc<dyn AudioProvider>,
    ) -> Result<(UserAgentHandle, broadcast::Receiver<PhoneEvent>), PhoneError> {
        Self::start_with(config, audio, None)
    }

    /// [`UserAgent::start_with_audio`], with every call recorded in `journal` as it happens (the local
    /// store: `Arc<Mutex<Store>>`), so none goes unlogged.
    pub fn start_with(
        config: PhoneConfig,
        audio: Arc<dyn AudioProvider>,
        journal: Option<Arc<dyn CallJournal>>,
    ) -> Result<(UserAgentHandle, broadcast::Receiver<PhoneEvent>), PhoneError> {
        let scheme = config.validate()?;
        let tls = match scheme {
            WsScheme::Wss => Some(transport::tls_config(&config)?),
            WsScheme::Ws => None,
        };
        let registrar = Registrar::new(&config)?;
        let (events, events_rx) = broadcast::channel(256);
        let (state_tx, state_rx) = watch::channel(RegistrationState::Idle);
        let (cmd_tx, cmd_rx) = mpsc::channel(8);
        let cfg = Arc::new(config);
        let (link_tx, link_rx) = watch::channel(None);
        let calls = Arc::new(Calls::new(cfg.clone(), events.clone(), audio, journal, link_rx));
        let agent = Agent {
            local: LocalEnd {
                scheme,
                via_host: sip::random_invalid_host(),
            },
            cfg,
            calls,
            link: link_tx,
            tls,
            registrar,
            conn: None,
            events: events.clone(),
            state: state_tx,
            failures: 0,
            registered: false,
        };
        tokio::spawn(agent.run(cmd_rx));
        Ok((
            UserAgentHandle {
                cmd: cmd_tx,
                state: state_rx,
                events,
            },
            events_rx,
        ))
    }
}

/// Cloneable handle to a running user agent.
#[derive(Clone)]
pub struct UserAgentHandle {
    cmd: mpsc::Sender<Command>,
    state: watch::Receiver<RegistrationState>,
    events: broadcast::Sender<PhoneEvent>,
}

impl std::fmt::Debug for UserAgentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgentHandle")
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl UserAgentHandle {
    /// Registers now (one attempt, answering digest challenges) and returns the outcome. On
    /// success the agent keeps refreshing; this also restarts an agent that gave up after
    /// [`PhoneError::AuthFailed`].
    pub async fn register_once(&self) -> Result<Registration, PhoneError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::RegisterOnce(tx))
            .await
            .map_err(|_| PhoneError::Stopped)?;
        rx.await.map_err(|_| PhoneError::Stopped)?
    }

    /// Current registration state.
    pub fn state(&self) -> RegistrationState {
        self.state.borrow().clone()
    }

    /// How a call placed now should go: through the softphone when it is registered and a microphone is
    /// there, else as a click-to-call. `microphone`: whether the app could open an input device;
    /// `audio_blocked`: whether the last softphone call failed for want of an audio path.
    pub fn call_route(&self, microphone: bool, audio_blocked: bool) -> CallRoute {
        if !microphone {
            CallRoute::ClickToCall(FallbackReason::NoMicrophone)
        } else if !matches!(self.state(), RegistrationState::Registered { .. }) {
            CallRoute::ClickToCall(FallbackReason::NotRegistered)
        } else if audio_blocked {
            CallRoute::ClickToCall(FallbackReason::AudioBlocked)
        } else {
            CallRoute::Softphone
        }
    }

    /// A watch on the registration state, for UIs that render it.
    pub fn watch_state(&self) -> watch::Receiver<RegistrationState> {
        self.state.clone()
    }

    /// A new receiver of [`PhoneEvent`]s.
    pub fn subscribe(&self) -> broadcast::Receiver<PhoneEvent> {
        self.events.subscribe()
    }

    /// Calls `target`: a phone number (dialled as `sip:<number>@<domain>`) or a SIP URI. The handle is
    /// returned at once, the call dialling; follow it with [`CallHandle::watch`] or the events.
    pub async fn dial(&self, target: &str) -> Result<CallHandle, PhoneError> {
        self.dial_lead(target, None).await
    }

    /// [`UserAgentHandle::dial`] for a lead: the call's draft in the journal names it.
    pub async fn dial_lead(&self, target: &str, lead_id: Option<Id>) -> Result<CallHandle, PhoneError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Dial(target.to_owned(), lead_id, tx))
            .await
            .map_err(|_| PhoneError::Stopped)?;
        rx.await.map_err(|_| PhoneError::Stopped)?
    }

    /// De-registers (REGISTER with Expires: 0, bounded by `request_timeout`), closes the
    /// connection and stops the background task. An error means the de-registration could not
    /// be confirmed; the agent is stopped either way.
    pub async fn shutdown(&self) -> Result<(), PhoneError> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Shutdown(tx)).await.is_err() {
            return Ok(()); // already stopped
        }
        rx.await.unwrap_or(Ok(()))
    }
}

struct Agent {
    cfg: Arc<PhoneConfig>,
    calls: Arc<Calls>,
    /// The connection calls send on (None while disconnected).
    link: watch::Sender<Option<Link>>,
    local: LocalEnd,
    tls: Option<Arc<rustls::ClientConfig>>,
    registrar: Registrar,
    conn: Option<Connection>,
    events: broadcast::Sender<PhoneEvent>,
    state: watch::Sender<RegistrationState>,
    /// Consecutive failures, for the back-off.
    failures: u32,
    registered: bool,
}

impl Agent {
    async fn run(mut self, mut cmds: mpsc::Receiver<Command>) {
        let mut next: Option<Instant> = Some(Instant::now());
        loop {
            let closed = self.conn.as_ref().map(Connection::closed_watch);
            let conn_lost = async {
                match closed {
                    Some(rx) => transport::wait_closed(rx).await,
                    None => pending().await,
                }
            };
            let timer = async {
                match next {
                    Some(at) => sleep_until(at).await,
                    None => pending().await,
                }
            };
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => {
                        debug!("all handles dropped, stopping user agent");
                        let _ = self.stop().await;
                        return;
                    }
                    Some(Command::Shutdown(reply)) => {
                        let result = self.stop().await;
                        let _ = reply.send(result);
                        return;
                    }
                    Some(Command::Dial(target, lead_id, reply)) => {
                        let _ = reply.send(self.calls.dial(&target, lead_id));
                    }
                    Some(Command::RegisterOnce(reply)) => {
                        let (result, at) = self.attempt_and_schedule().await;
                        next = at;
                        let _ = reply.send(result);
                    }
                },
                reason = conn_lost => {
                    warn!(%reason, "SIP connection lost");
                    self.conn = None;
                    self.link.send_replace(None);
                    self.registered = false;
                    if !matches!(*self.state.borrow(), RegistrationState::Failed(_)) {
                        next = self.schedule(&Err(PhoneError::Disconnected { reason: reason.clone() }));
                    }
                    self.emit(PhoneEvent::Disconnected { reason });
                }
                () = timer => {
                    next = self.attempt_and_schedule().await.1;
                }
            }
        }
    }

    fn emit(&self, event: PhoneEvent) {
        let _ = self.events.send(event);
    }

    fn set_state(&self, state: RegistrationState) {
        self.state.send_replace(state);
    }

    async fn connection(&mut self) -> Result<&Connection, PhoneError> {
        if self.conn.as_ref().is_some_and(Connection::is_closed) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let conn = Connection::connect(
                &self.cfg,
                self.local.clone(),
                self.tls.clone(),
                self.events.clone(),
                self.calls.clone(),
            )
            .await?;
            self.link.send_replace(Some(conn.link()));
            self.conn = Some(conn);
        }
        self.conn.as_ref().ok_or(PhoneError::Stopped)
    }

    /// One attempt, then the state and the event describing its outcome (state first, so an
    /// event consumer that reads the state sees the new one).
    async fn attempt_and_schedule(&mut self) -> (Result<Registration, PhoneError>, Option<Instant>) {
        let result = self.attempt().await;
        let next = self.schedule(&result);
        match &result {
            Ok(reg) => self.emit(PhoneEvent::Registered { expires: reg.expires }),
            Err(err) => self.emit(PhoneEvent::RegistrationFailed(err.clone())),
        }
        (result, next)
    }

    /// One registration attempt (connecting first when needed).
    async fn attempt(&mut self) -> Result<Registration, PhoneError> {
        // A refresh of a live registration keeps showing "registered".
        if !self.registered {
            self.set_state(RegistrationState::Registering);
        }
        self.emit(PhoneEvent::Registering);
        let expires = self.cfg.register_expires;
        let cfg = self.cfg.clone();
        let result = match self.connection().await {
            Ok(_) => match self.conn.as_ref() {
                Some(conn) => self.registrar.register(&cfg, conn, expires).await,
                None => Err(PhoneError::Stopped),
            },
            Err(err) => Err(err),
        };
        match &result {
            Ok(reg) => {
                info!(aor = %reg.aor, expires = reg.expires, "registered");
                self.registered = true;
                self.set_state(RegistrationState::Registered { expires: reg.expires });
            }
            Err(err) => {
                warn!(error = %err, "registration failed");
                self.registered = false;
                // After a time-out or garbage the connection is suspect: start over on a fresh
                // one. After a permanent failure nothing will use it until `register_once`.
                if (err.is_permanent()
                    || matches!(
                        err,
                        PhoneError::Timeout | PhoneError::Disconnected { .. } | PhoneError::Protocol(_)
                    ))
                    && let Some(conn) = self.conn.take()
                {
                    conn.close().await;
                }
            }
        }
        result
    }

    /// When to attempt the next automatic registration.
    fn schedule(&mut self, result: &Result<Registration, PhoneError>) -> Option<Instant> {
        match result {
            Ok(reg) => {
                self.failures = 0;
                Some(Instant::now() + refresh_delay(reg.expires))
            }
            Err(err) if err.is_permanent() => {
                self.set_state(RegistrationState::Failed(err.clone()));
                None
            }
            Err(err) => {
                self.failures = self.failures.saturating_add(1);
                let delay = backoff(self.cfg.retry_min, self.cfg.retry_max, self.failures);
                debug!(?delay, failures = self.failures, "retrying registration later");
                self.set_state(RegistrationState::RetryWait {
                    retry_in: delay,
                    error: err.clone(),
                });
                Some(Instant::now() + delay)
            }
        }
    }

    async fn stop(&mut self) -> Result<(), PhoneError> {
        let mut result = Ok(());
        if self.registered
            && let Some(conn) = self.conn.as_ref()
            && !conn.is_closed()
        {
            let cfg = self.cfg.clone();
            result = self.registrar.register(&cfg, conn, 0).await.map(|_| ());
            match &result {
                Ok(()) => {
                    info!(aor = %self.registrar.aor(), "unregistered");
                    self.emit(PhoneEvent::Unregistered);
                }
                Err(err) => warn!(error = %err, "de-registration failed"),
            }
        }
        self.registered = false;
        if let Some(conn) = self.conn.take() {
            conn.close().await;
        }
        self.set_state(RegistrationState::Stopped);
        result
    }
}

/// Refresh at half the granted lifetime (at least 500 ms), like common SIP stacks, so that one
/// lost refresh can still be retried before the binding expires.
fn refresh_delay(expires: u32) -> Duration {
    Duration::from_millis(u64::from(expires) * 500).max(Duration::from_millis(500))
}

/// Exponential back-off with "equal jitter": the n-th consecutive failure waits a random time in
/// `[d/2, d]` where `d = min(max, min * 2^(n-1))`.
fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let full = min.saturating_mul(1 << exp).min(max);
    let half = full / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..100 {
            let first = backoff(min, max, 1);
            assert!(first >= Duration::from_millis(500) && first <= min, "{first:?}");
            let third = backoff(min, max, 3);
            assert!(
                third >= Duration::from_secs(2) && third <= Duration::from_secs(4),
                "{third:?}"
            );
            let late = backoff(min, max, 50);
            assert!(late >= Duration::from_secs(15) && late <= max, "{late:?}");
        }
    }

    #[test]
    fn refresh_before_expiry() {
        assert_eq!(refresh_delay(600), Duration::from_secs(300));
        assert_eq!(refresh_delay(1), Duration::from_millis(500));
        assert_eq!(refresh_delay(0), Duration::from_millis(500));
    }
}
