//! The softphone as a telecaller's desk runs it, all day: the settings kept in the local cache, the SIP
//! password in the OS keyring, the user agent (re)started whenever they change, every call journalled into
//! the store, the ringtone on the chosen device while a call comes in, the caller's lead found by number,
//! and the choice between the softphone and a click-to-call (the provider rings the telecaller's own phone)
//! when this desk cannot carry the audio.
//!
//! The desktop shell holds one [`DeskPhone`] and forwards its [`DeskEvent`]s to the window; it places the
//! click-to-call itself (`leadline_sync::place_click_to_call`) when [`DeskPhone::dial`] answers
//! [`DialOutcome::ClickToCall`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use leadline_model::{Id, Lead, PhoneSettings};
use leadline_store::{Store, StoreError};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::agent::{CallRoute, FallbackReason, PhoneEvent, RegistrationState, UserAgent, UserAgentHandle};
use crate::audio::{
    AudioDevices, AudioError, DeviceInfo, Direction, MicTest, ProcessingSettings, RingHandle, Ringtone,
};
use crate::call::CallState;
use crate::config::{Password, PhoneConfig};
use crate::credentials::{self, CredentialError};
use crate::error::PhoneError;
use crate::journal::CallJournal;
use crate::session::{AudioProvider, CallHandle, CallInfo};

/// After a call that could not get its audio through, calls go as click-to-calls this long before the
/// softphone is tried again (the firewall may have been fixed, the desk moved to another network).
pub const AUDIO_BLOCKED_FOR: Duration = Duration::from_secs(15 * 60);

/// Where the SIP password is kept.
pub trait PasswordVault: Send + Sync + 'static {
    fn load(&self, domain: &str, username: &str) -> Result<Option<Password>, CredentialError>;
    fn save(&self, domain: &str, username: &str, password: &Password) -> Result<(), CredentialError>;
    fn forget(&self, domain: &str, username: &str) -> Result<(), CredentialError>;
}

/// The OS keyring ([`credentials`]): the vault of the app.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsKeyring;

impl PasswordVault for OsKeyring {
    fn load(&self, domain: &str, username: &str) -> Result<Option<Password>, CredentialError> {
        credentials::load_password(domain, username)
    }
    fn save(&self, domain: &str, username: &str, password: &Password) -> Result<(), CredentialError> {
        credentials::save_password(domain, username, password)
    }
    fn forget(&self, domain: &str, username: &str) -> Result<(), CredentialError> {
        credentials::forget_password(domain, username)
    }
}

/// A vault in memory only, lost with the process: for headless runs and tests without a keyring.
#[derive(Debug, Default)]
pub struct MemoryVault(Mutex<HashMap<String, String>>);

impl MemoryVault {
    /// How many passwords it holds.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PasswordVault for MemoryVault {
    fn load(&self, domain: &str, username: &str) -> Result<Option<Password>, CredentialError> {
        Ok(self
            .entries()
            .get(&format!("{username}@{domain}"))
            .map(|p| Password::new(p.clone())))
    }
    fn save(&self, domain: &str, username: &str, password: &Password) -> Result<(), CredentialError> {
        self.entries()
            .insert(format!("{username}@{domain}"), password.expose().to_owned());
        Ok(())
    }
    fn forget(&self, domain: &str, username: &str) -> Result<(), CredentialError> {
        self.entries().remove(&format!("{username}@{domain}"));
        Ok(())
    }
}

/// The sound of the desk's calls.
pub enum DeskAudio {
    /// The OS sound devices, chosen in the settings.
    System(AudioDevices),
    /// Another source (a headless run, a test's tone generator); `microphone` says whether it can talk.
    Provided {
        provider: Arc<dyn AudioProvider>,
        microphone: bool,
    },
}

/// Why the softphone is not running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffReason {
    /// Switched off in the settings (or never set up).
    Disabled,
    /// Set up, but no SIP password is in the keyring for the account.
    NoPassword,
    /// The keyring could not be read (no Secret Service running, access refused).
    Keyring(String),
    /// The saved settings cannot be used.
    Invalid(String),
}

/// The softphone's state as the header shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskState {
    Off(OffReason),
    /// The user agent runs; this is its registration.
    On(RegistrationState),
}

/// What the window is told.
#[derive(Debug, Clone)]
pub enum DeskEvent {
    /// The softphone's state changed.
    State(DeskState),
    /// A call is coming in; `lead` is the cached lead with the caller's number, if any.
    Incoming { call: CallInfo, lead: Option<Box<Lead>> },
    /// A call changed: state, mute, failure, or its live quality (every second while it has media).
    Call(CallInfo),
    /// The far end pressed a key.
    Dtmf { call_id: String, digit: char },
    /// A call could not be written to the local store: it may be missing from the list of calls.
    JournalFailed(String),
}

/// How a call asked for by [`DeskPhone::dial`] goes.
#[derive(Debug)]
pub enum DialOutcome {
    /// Through the softphone: follow it with the handle or the [`DeskEvent::Call`]s.
    Softphone(CallHandle),
    /// The softphone cannot carry it now; place a click-to-call for the lead.
    ClickToCall(FallbackReason),
}

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The settings form has a bad value (the sentence says which).
    #[error("{0}")]
    Settings(String),
    #[error("the OS keyring: {0}")]
    Keyring(#[from] CredentialError),
    #[error("the local cache: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error("sound devices: {0}")]
    Audio(#[from] AudioError),
    /// No call with this id is going on.
    #[error("no call {0} is going on")]
    NoSuchCall(String),
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Adjusts the configuration built from the settings before the agent starts (time-outs in tests, extra
/// root certificates of a self-hosted gateway).
pub type Tuning = Box<dyn Fn(&mut PhoneConfig) + Send + Sync>;

/// The desk's softphone. Cheap to clone.
#[derive(Clone)]
pub struct DeskPhone {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Mutex<Store>>,
    audio: DeskAudio,
    vault: Arc<dyn PasswordVault>,
    tuning: Mutex<Option<Tuning>>,
    /// The running agent and the tasks that follow it; swapped whole on a restart.
    running: tokio::sync::Mutex<Option<Running>>,
    calls: Mutex<HashMap<String, CallHandle>>,
    audio_blocked_since: Mutex<Option<Instant>>,
    /// The state, with a version that grows at every change (a window reading the state through a command
    /// and through events at once keeps the newer one).
    state: watch::Sender<(u64, DeskState)>,
    events: broadcast::Sender<DeskEvent>,
}

struct Running {
    agent: UserAgentHandle,
    tasks: Vec<JoinHandle<()>>,
}

impl DeskPhone {
    /// A desk phone over the local cache (its settings and journal) with `audio`, keeping the SIP password
    /// in `vault`. Nothing runs until [`DeskPhone::start`].
    pub fn new(store: Arc<Mutex<Store>>, audio: DeskAudio, vault: Arc<dyn PasswordVault>) -> Self {
        let (events, _) = broadcast::channel(256);
        Self {
            inner: Arc::new(Inner {
                store,
                audio,
                vault,
                tuning: Mutex::new(None),
                running: tokio::sync::Mutex::new(None),
                calls: Mutex::new(HashMap::new()),
                audio_blocked_since: Mutex::new(None),
                state: watch::channel((0, DeskState::Off(OffReason::Disabled))).0,
                events,
            }),
        }
    }

    /// Sets the [`Tuning`] applied at every (re)start.
    pub fn set_tuning(&self, tuning: Tuning) {
        *lock(&self.inner.tuning) = Some(tuning);
    }

    /// A receiver of everything the window shows.
    pub fn subscribe(&self) -> broadcast::Receiver<DeskEvent> {
        self.inner.events.subscribe()
    }

    /// The softphone's state now.
    pub fn state(&self) -> DeskState {
        self.inner.state.borrow().1.clone()
    }

    /// The state now and its version, which grows at every change.
    pub fn versioned_state(&self) -> (u64, DeskState) {
        self.inner.state.borrow().clone()
    }

    /// A watch on the state (and its version).
    pub fn watch_state(&self) -> watch::Receiver<(u64, DeskState)> {
        self.inner.state.subscribe()
    }

    /// The saved settings, and whether the keyring holds a password for their account.
    pub async fn settings(&self) -> Result<(PhoneSettings, bool), DeskError> {
        let settings = self.with_store(|s| s.phone_settings()).await?;
        if settings.username.is_empty() || settings.domain.is_empty() {
            return Ok((settings, false));
        }
        let (domain, user) = (settings.domain.clone(), settings.username.clone());
        let vault = self.inner.vault.clone();
        let has = blocking(move || vault.load(&domain, &user)).await??.is_some();
        Ok((settings, has))
    }

    /// Checks and keeps new settings, with a new password when given (else the keyring's stays), then
    /// restarts the softphone with them. A bad value is [`DeskError::Settings`], and nothing changes.
    pub async fn save_settings(
        &self,
        settings: PhoneSettings,
        password: Option<Password>,
    ) -> Result<DeskState, DeskError> {
        let settings = trimmed(settings);
        settings.check().map_err(DeskError::Settings)?;
        if let Some(p) = &password
            && p.expose().is_empty()
        {
            return Err(DeskError::Settings("The SIP password is empty.".into()));
        }
        // Build the configuration first: the phone's own check catches what the form's cannot.
        config_of(
            &settings,
            password.clone().unwrap_or_else(|| Password::new("-")),
            None,
        )
        .validate()
        .map_err(|e| DeskError::Settings(e.to_string()))?;
        let previous = self.with_store(|s| s.phone_settings()).await?;
        if let Some(password) = password {
            let (domain, user, vault) = (
                settings.domain.clone(),
                settings.username.clone(),
                self.inner.vault.clone(),
            );
            blocking(move || vault.save(&domain, &user, &password)).await??;
        }
        let saved = settings.clone();
        self.with_store(move |s| s.set_phone_settings(&saved)).await?;
        // A password of an account no longer used leaves the keyring.
        if (previous.domain != settings.domain || previous.username != settings.username)
            && !previous.username.is_empty()
            && !previous.domain.is_empty()
        {
            let vault = self.inner.vault.clone();
            if let Err(e) = blocking(move || vault.forget(&previous.domain, &previous.username)).await? {
                tracing::warn!(error = %e, "cannot remove the old SIP password from the keyring");
            }
        }
        *lock(&self.inner.audio_blocked_since) = None;
        self.start().await
    }

    /// Starts (or restarts) the softphone from the saved settings and the keyring's password. Answers the
    /// new state: `Off` with the reason when it cannot run.
    pub async fn start(&self) -> Result<DeskState, DeskError> {
        let mut running = self.inner.running.lock().await;
        if let Some(old) = running.take() {
            stop(old).await;
        }
        let settings = self.with_store(|s| s.phone_settings()).await?;
        let off = |reason| {
            let state = DeskState::Off(reason);
            self.set_state(state.clone());
            Ok(state)
        };
        if !settings.enabled {
            return off(OffReason::Disabled);
        }
        if let Err(e) = settings.check() {
            return off(OffReason::Invalid(e));
        }
        let (domain, user, vault) = (
            settings.domain.clone(),
            settings.username.clone(),
            self.inner.vault.clone(),
        );
        let password = match blocking(move || vault.load(&domain, &user)).await? {
            Ok(Some(p)) => p,
            Ok(None) => return off(OffReason::NoPassword),
            Err(e) => return off(OffReason::Keyring(e.to_string())),
        };
        let instance = self
            .with_store(|s| s.device_id())
            .await
            .ok()
            .and_then(|id| uuid::Uuid::parse_str(&id).ok());
        let mut config = config_of(&settings, password, instance);
        if let Some(tune) = lock(&self.inner.tuning).as_ref() {
            tune(&mut config);
        }
        let journal: Arc<dyn CallJournal> = self.inner.store.clone();
        let provider = self.provider(&settings);
        let (agent, events) = match UserAgent::start_with(config, provider, Some(journal)) {
            Ok(started) => started,
            Err(e) => return off(OffReason::Invalid(e.to_string())),
        };
        let tasks = vec![
            tokio::spawn(follow_state(self.clone(), agent.watch_state())),
            tokio::spawn(follow_events(self.clone(), events, settings)),
        ];
        self.set_state(DeskState::On(agent.state()));
        *running = Some(Running { agent, tasks });
        Ok(self.state())
    }

    /// Hangs up every call and stops the softphone (de-registers).
    pub async fn stop(&self) {
        let calls: Vec<CallHandle> = lock(&self.inner.calls).values().cloned().collect();
        for call in calls {
            call.hang_up().await;
        }
        if let Some(old) = self.inner.running.lock().await.take() {
            stop(old).await;
        }
        self.set_state(DeskState::Off(OffReason::Disabled));
    }

    /// How a call placed now would go.
    pub async fn route(&self) -> CallRoute {
        let agent = self.agent().await;
        self.route_for(agent.as_ref()).await
    }

    /// [`DeskPhone::route`] with the running agent already in hand.
    async fn route_for(&self, agent: Option<&UserAgentHandle>) -> CallRoute {
        let Some(agent) = agent else {
            return CallRoute::ClickToCall(FallbackReason::NotRegistered);
        };
        let microphone = self.has_microphone().await;
        let blocked = {
            let mut since = lock(&self.inner.audio_blocked_since);
            if since.is_some_and(|t| t.elapsed() >= AUDIO_BLOCKED_FOR) {
                *since = None;
            }
            since.is_some()
        };
        agent.call_route(microphone, blocked)
    }

    /// Calls `number` (about `lead`, when given) through the softphone, or answers that it should go as a
    /// click-to-call and why.
    pub async fn dial(&self, number: &str, lead: Option<Id>) -> Result<DialOutcome, DeskError> {
        let number = number.trim();
        if number.is_empty() {
            return Err(DeskError::Settings("Enter a number to call.".into()));
        }
        let agent = self.agent().await;
        match (self.route_for(agent.as_ref()).await, agent) {
            (CallRoute::Softphone, Some(agent)) => {
                let call = agent.dial_lead(number, lead).await?;
                self.follow_call(call.clone(), None);
                Ok(DialOutcome::Softphone(call))
            }
            (CallRoute::ClickToCall(reason), _) => Ok(DialOutcome::ClickToCall(reason)),
            // `route_for` never answers the softphone without an agent.
            (CallRoute::Softphone, None) => Ok(DialOutcome::ClickToCall(FallbackReason::NotRegistered)),
        }
    }

    /// The call with this id, while it goes on.
    pub fn call(&self, call_id: &str) -> Result<CallHandle, DeskError> {
        lock(&self.inner.calls)
            .get(call_id)
            .cloned()
            .ok_or_else(|| DeskError::NoSuchCall(call_id.to_owned()))
    }

    /// The calls going on now, oldest first.
    pub fn calls(&self) -> Vec<CallInfo> {
        let mut calls: Vec<CallInfo> = lock(&self.inner.calls).values().map(CallHandle::info).collect();
        calls.sort_by_key(|c| c.call.started_at);
        calls
    }

    /// Whether the last softphone call failed for want of an audio path (calls go as click-to-calls
    /// meanwhile, for [`AUDIO_BLOCKED_FOR`]).
    pub fn audio_blocked(&self) -> bool {
        lock(&self.inner.audio_blocked_since).is_some()
    }

    /// Microphones and speakers to choose from (none for a provided source).
    pub async fn devices(&self) -> Result<(Vec<DeviceInfo>, Vec<DeviceInfo>), DeskError> {
        let DeskAudio::System(devices) = &self.inner.audio else {
            return Ok((Vec::new(), Vec::new()));
        };
        let devices = devices.clone();
        Ok(blocking(move || Ok::<_, AudioError>((devices.inputs()?, devices.outputs()?))).await??)
    }

    /// Starts the setup's microphone test on `device` (by id or name; `None`: the system default). A provided
    /// source tests its own microphone (the tone of `LEADLINE_AUDIO=tone`); one without a microphone, or a
    /// machine with none, is [`AudioError::NoDevice`]. The device closes when the test is dropped.
    pub async fn mic_test(&self, device: Option<String>) -> Result<MicTest, DeskError> {
        let no_microphone = || {
            DeskError::Audio(AudioError::NoDevice {
                direction: Direction::Input,
            })
        };
        match &self.inner.audio {
            DeskAudio::Provided {
                microphone: false, ..
            } => Err(no_microphone()),
            DeskAudio::Provided { provider, .. } => Ok(MicTest::start(provider.open()?.capture)),
            DeskAudio::System(devices) => {
                let devices = devices.clone();
                // The capture's own thread keeps the device open; the handle is not needed.
                let (capture, _control) =
                    blocking(move || devices.open_capture(device.as_deref(), None)).await??;
                Ok(MicTest::start(capture))
            }
        }
    }

    /// Plays a 440 Hz test tone for `length` on `device` (`None`: the system default; a provided source:
    /// its own speaker). Answers when the tone has been played.
    pub async fn play_test_tone(&self, device: Option<String>, length: Duration) -> Result<(), DeskError> {
        let playback: Arc<dyn crate::audio::Playback> = match &self.inner.audio {
            DeskAudio::Provided { provider, .. } => provider.open()?.playback,
            DeskAudio::System(devices) => {
                let devices = devices.clone();
                blocking(move || devices.open_playback(device.as_deref(), None)).await??
            }
        };
        let mut tone = crate::audio::tone(440.0, 0.25);
        let frames = length.as_millis() / crate::audio::FRAME_DURATION.as_millis().max(1);
        for _ in 0..frames {
            let Some(frame) = tone.next_frame().await else {
                break;
            };
            playback.play(&frame);
        }
        Ok(())
    }

    async fn agent(&self) -> Option<UserAgentHandle> {
        self.inner.running.lock().await.as_ref().map(|r| r.agent.clone())
    }

    async fn has_microphone(&self) -> bool {
        match &self.inner.audio {
            DeskAudio::Provided { microphone, .. } => *microphone,
            DeskAudio::System(devices) => {
                let devices = devices.clone();
                blocking(move || devices.inputs().map(|i| !i.is_empty()).unwrap_or(false))
                    .await
                    .unwrap_or(false)
            }
        }
    }

    fn provider(&self, settings: &PhoneSettings) -> Arc<dyn AudioProvider> {
        match &self.inner.audio {
            DeskAudio::Provided { provider, .. } => provider.clone(),
            DeskAudio::System(devices) => {
                let devices = devices.clone();
                let (input, output) = (settings.input_device.clone(), settings.output_device.clone());
                let processing = ProcessingSettings {
                    echo_cancellation: settings.echo_cancellation,
                    noise_suppression: settings.noise_suppression,
                    ..ProcessingSettings::default()
                };
                Arc::new(move || {
                    devices
                        .open_call(input.as_deref(), output.as_deref(), processing)
                        .map(|audio| audio.path)
                        .map_err(|e| PhoneError::Media(e.to_string()))
                })
            }
        }
    }

    /// Keeps the call in the table and reports its changes until it ends; rings while an incoming call
    /// rings.
    fn follow_call(&self, call: CallHandle, ring: Option<RingHandle>) {
        lock(&self.inner.calls).insert(call.call_id().to_owned(), call.clone());
        let desk = self.clone();
        tokio::spawn(async move {
            let mut ring = ring;
            let mut watch = call.watch();
            loop {
                let info = watch.borrow_and_update().clone();
                if ring.is_some() && !matches!(info.call.state, CallState::Ringing) {
                    ring = None;
                }
                if let CallState::Ended(_) = info.call.state {
                    desk.call_ended(&info);
                    desk.emit(DeskEvent::Call(info));
                    break;
                }
                desk.emit(DeskEvent::Call(info));
                if watch.changed().await.is_err() {
                    break;
                }
            }
            lock(&desk.inner.calls).remove(call.call_id());
        });
    }

    fn call_ended(&self, info: &CallInfo) {
        let mut blocked = lock(&self.inner.audio_blocked_since);
        match info.failure_kind {
            Some(kind) if kind.suggests_click_to_call() => {
                tracing::warn!(call_id = %info.call_id, ?kind, "no audio path: calls go as click-to-calls for a while");
                *blocked = Some(Instant::now());
            }
            // A call that carried audio proves the path.
            _ if info.first_rtp_at.is_some() => *blocked = None,
            _ => {}
        }
    }

    fn set_state(&self, state: DeskState) {
        let changed = self.inner.state.send_if_modified(|(version, s)| {
            if *s == state {
                false
            } else {
                *s = state.clone();
                *version += 1;
                true
            }
        });
        if changed {
            self.emit(DeskEvent::State(state));
        }
    }

    fn emit(&self, event: DeskEvent) {
        // No receiver (no window yet) is fine.
        let _ = self.inner.events.send(event);
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, DeskError> {
        let store = self.inner.store.clone();
        Ok(blocking(move || f(&mut lock(&store))).await??)
    }
}

impl std::fmt::Debug for DeskPhone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskPhone")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

async fn follow_state(desk: DeskPhone, mut state: watch::Receiver<RegistrationState>) {
    loop {
        let now = state.borrow_and_update().clone();
        let stopped = now == RegistrationState::Stopped;
        desk.set_state(DeskState::On(now));
        if stopped || state.changed().await.is_err() {
            break;
        }
    }
}

async fn follow_events(
    desk: DeskPhone,
    mut events: broadcast::Receiver<PhoneEvent>,
    settings: PhoneSettings,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "the desk fell behind the phone's events");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        match event {
            PhoneEvent::IncomingCall(call) => {
                let info = call.info();
                // The session found the caller's lead by number (the store is its journal).
                let lead = match info.lead_id {
                    Some(id) => desk.with_store(move |s| s.get_lead(&id)).await.map_or_else(
                        |e| {
                            tracing::warn!(error = %e, "cannot read the caller's lead");
                            None
                        },
                        Some,
                    ),
                    None => None,
                };
                let ring = if settings.auto_answer {
                    None
                } else {
                    desk.ring(&settings)
                };
                desk.follow_call(call, ring);
                desk.emit(DeskEvent::Incoming {
                    call: info,
                    lead: lead.map(Box::new),
                });
            }
            PhoneEvent::DtmfReceived { call_id, digit } => desk.emit(DeskEvent::Dtmf { call_id, digit }),
            PhoneEvent::JournalFailed(why) => desk.emit(DeskEvent::JournalFailed(why)),
            _ => {}
        }
    }
}

impl DeskPhone {
    fn ring(&self, settings: &PhoneSettings) -> Option<RingHandle> {
        let DeskAudio::System(devices) = &self.inner.audio else {
            return None;
        };
        let device = settings
            .ringtone_device
            .as_deref()
            .or(settings.output_device.as_deref());
        match devices.ring(device, &Ringtone::india()) {
            Ok(ring) => Some(ring),
            Err(e) => {
                tracing::warn!(error = %e, "cannot play the ringtone");
                None
            }
        }
    }
}

async fn stop(running: Running) {
    if let Err(e) = running.agent.shutdown().await {
        tracing::warn!(error = %e, "the softphone stopped without de-registering");
    }
    for task in running.tasks {
        task.abort();
    }
}

/// The settings with surrounding spaces gone and empty optional fields absent.
fn trimmed(mut s: PhoneSettings) -> PhoneSettings {
    let opt = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    s.ws_url = s.ws_url.trim().to_owned();
    s.domain = s.domain.trim().to_owned();
    s.username = s.username.trim().to_owned();
    s.auth_username = opt(s.auth_username);
    s.display_name = opt(s.display_name);
    s.outbound_proxy = opt(s.outbound_proxy);
    s.input_device = opt(s.input_device);
    s.output_device = opt(s.output_device);
    s.ringtone_device = opt(s.ringtone_device);
    s.stun_servers = s
        .stun_servers
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    s
}

fn config_of(settings: &PhoneSettings, password: Password, instance: Option<uuid::Uuid>) -> PhoneConfig {
    let mut config = PhoneConfig::new(
        settings.ws_url.clone(),
        settings.domain.clone(),
        settings.username.clone(),
        password,
    );
    config.auth_username = settings.auth_username.clone();
    config.display_name = settings.display_name.clone();
    config.outbound_proxy = settings.outbound_proxy.clone();
    config.auto_answer = settings.auto_answer;
    config.instance_id = instance;
    config.media.stun_servers = settings.stun_servers.clone();
    config
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs blocking work (the keyring over D-Bus, SQLite, device listing) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, DeskError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeskError::Internal(format!("a background task failed: {e}")))
}
