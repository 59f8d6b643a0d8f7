//! Calls: one task per call drives its dialog ([`crate::dialog`]), its media ([`crate::media`]) and its
//! state ([`crate::call`]), and the app holds a [`CallHandle`] to it.
//!
//! * Outgoing: offer SDP with every ICE candidate, INVITE (answering one digest challenge), 1xx → ringing
//!   (an SDP in a 183 starts early media), 2xx → ACK along the route set and connected, other finals →
//!   ACK and a typed [`CallRefusal`]. Hanging up before the answer CANCELs (after the first provisional,
//!   as RFC 3261 requires) and ACKs the 487.
//! * Incoming: 180 with our tag, then the app answers (200 with our SDP, re-sent until the ACK comes),
//!   rejects (603), or the caller CANCELs (200 + 487: a missed call). `auto_answer` answers at once.
//! * In the call: BYE either way, hold/resume by re-INVITE (`sendonly` / `sendrecv`), the far end's
//!   re-INVITEs answered (it may hold us), DTMF as RFC 4733 events or, if the far end did not offer
//!   them, SIP INFO, blind transfer by REFER (the call ends when the far end reports the transfer took),
//!   mute. A far end that vanishes without BYE is noticed by its silence: no RTP for `media_timeout`
//!   while nobody holds ends the call as failed.
//!
//! Every request from the far end gets an answer, a malformed one included (400), and nothing it sends
//! can panic or stall the task: each wait is bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use leadline_model::{CallDirection, CallEnd, Id};
use rsip::headers::UntypedHeader as _;
use rsip::prelude::HeadersExt as _;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

use crate::PhoneEvent;
use crate::audio::{AudioPath, NullPlayback};
use crate::call::{Call, CallEvent, CallInput, CallRefusal, CallState};
use crate::config::PhoneConfig;
use crate::dialog::{self, Dialog, LocalParty, SentInvite};
use crate::digest::{Challenge, pick_challenge};
use crate::error::PhoneError;
use crate::journal::{CallJournal, JournalEntry, JournalWriter};
use crate::media::{MediaSession, MediaState, MediaStats};
use crate::sip::{self, random_token};
use crate::transport::{Link, Responses};

/// Opens the sound of a call when it starts (outgoing) or is answered (incoming): OS devices in the
/// app, synthetic ones headless and in tests.
pub trait AudioProvider: Send + Sync + 'static {
    fn open(&self) -> Result<AudioPath, PhoneError>;
}

impl<F> AudioProvider for F
where
    F: Fn() -> Result<AudioPath, PhoneError> + Send + Sync + 'static,
{
    fn open(&self) -> Result<AudioPath, PhoneError> {
        self()
    }
}

/// The headless default: a silent microphone and a speaker that discards.
pub(crate) fn silent_audio() -> Result<AudioPath, PhoneError> {
    Ok(AudioPath {
        capture: crate::audio::silence(),
        playback: Arc::new(NullPlayback),
    })
}

/// Why a call failed, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// No audio path to the far end: ICE or DTLS failed (UDP blocked, a firewall), or the media sockets
    /// could not be opened.
    AudioPath,
    /// The sound devices could not be opened (no microphone, the device busy).
    NoMicrophone,
    /// Connected, then no audio at all from the far end for `media_timeout`: it vanished without a BYE.
    FarEndSilent,
    /// The signalling went wrong: a broken answer, the connection lost, no ACK to our answer.
    Signalling,
}

impl CallFailure {
    /// Whether the call would likely work as a click-to-call (the provider rings the telecaller's own
    /// phone): true when this desk cannot carry the audio, not when the far end or the network failed.
    pub fn suggests_click_to_call(self) -> bool {
        matches!(self, Self::AudioPath | Self::NoMicrophone)
    }
}

/// What the app sees of a call.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// The SIP Call-ID: the call's identity for the app.
    pub call_id: String,
    /// The id of the call's draft in the journal, which its call log takes once wrapped up.
    pub log_id: Id,
    /// The lead the call is about, when the app said (outgoing) or knows.
    pub lead_id: Option<Id>,
    pub direction: CallDirection,
    /// The far end's user part (a phone number for PSTN calls) and display name.
    pub remote_user: String,
    pub remote_name: Option<String>,
    /// The far end's SIP URI.
    pub remote_uri: String,
    /// The telephony provider's id of the call (Exotel: `X-Exotel-Callsid`).
    pub provider_call_id: Option<String>,
    /// State and times.
    pub call: Call,
    pub muted: bool,
    /// Why an outgoing call was refused.
    pub refusal: Option<CallRefusal>,
    /// Why the call failed, when it did: the kind, and the details for a person.
    pub failure_kind: Option<CallFailure>,
    pub failure: Option<String>,
    /// Media figures, refreshed every second while the call has media.
    pub media: Option<MediaStats>,
    /// When the first RTP packet of the far end arrived (for set-up time: dial → first sound).
    pub first_rtp_at: Option<std::time::Instant>,
}

impl CallInfo {
    /// The call's quality figures so far (the ones its log keeps when it ends); none before any audio.
    pub fn quality(&self) -> Option<leadline_model::CallQuality> {
        self.media.as_ref().and_then(quality_of)
    }

    /// An incoming call nobody answered: the caller gave up, or it rang out. (One the telecaller declined is
    /// not missed.)
    pub fn is_missed(&self) -> bool {
        self.direction == CallDirection::Inbound
            && self.call.answered_at.is_none()
            && matches!(
                self.call.state,
                CallState::Ended(CallEnd::Cancelled | CallEnd::NoAnswer)
            )
    }

    /// Not over yet (dialling, ringing, talking or on hold).
    pub fn is_live(&self) -> bool {
        !matches!(self.call.state, CallState::Ended(_))
    }
}

enum Command {
    Answer(oneshot::Sender<Result<(), PhoneError>>),
    Reject(u16),
    HangUp,
    Mute(bool),
    Hold(bool, oneshot::Sender<Result<(), PhoneError>>),
    Dtmf(String, oneshot::Sender<Result<(), PhoneError>>),
    Transfer(String, oneshot::Sender<Result<(), PhoneError>>),
}

/// The app's handle on one call. Cheap to clone; the call goes on when every handle is dropped (hang up
/// explicitly).
#[derive(Clone)]
pub struct CallHandle {
    call_id: Arc<str>,
    cmd: mpsc::Sender<Command>,
    info: watch::Receiver<CallInfo>,
}

impl PartialEq for CallHandle {
    fn eq(&self, other: &Self) -> bool {
        self.call_id == other.call_id
    }
}

impl Eq for CallHandle {}

impl std::fmt::Debug for CallHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallHandle")
            .field("call_id", &self.call_id)
            .field("state", &self.info.borrow().call.state)
            .finish()
    }
}

impl CallHandle {
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The call as it is now.
    pub fn info(&self) -> CallInfo {
        self.info.borrow().clone()
    }

    /// A watch on the call, for a UI that renders it live.
    pub fn watch(&self) -> watch::Receiver<CallInfo> {
        self.info.clone()
    }

    /// Waits until the call is over; answers how it ended.
    pub async fn ended(&self) -> CallEnd {
        let mut rx = self.info.clone();
        let result = rx
            .wait_for(|info| matches!(info.call.state, CallState::Ended(_)))
            .await
            .map(|info| info.call.state);
        match result {
            Ok(CallState::Ended(end)) => end,
            // The task is gone without an end: it can only have been dropped with the runtime.
            _ => CallEnd::Interrupted,
        }
    }

    /// Waits for the far end's first RTP packet; `None` when the call ended without one.
    pub async fn first_rtp(&self) -> Option<std::time::Instant> {
        let mut rx = self.info.clone();
        let info = rx
            .wait_for(|info| info.first_rtp_at.is_some() || matches!(info.call.state, CallState::Ended(_)))
            .await
            .ok()?;
        info.first_rtp_at
    }

    /// Waits until the call is connected (true) or over (false).
    pub async fn connected(&self) -> bool {
        let mut rx = self.info.clone();
        matches!(
            rx.wait_for(|info| matches!(
                info.call.state,
                CallState::Connected | CallState::OnHold { .. } | CallState::Ended(_)
            ))
            .await
            .map(|info| info.call.state),
            Ok(CallState::Connected | CallState::OnHold { .. })
        )
    }

    async fn ask(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), PhoneError>>) -> Command,
    ) -> Result<(), PhoneError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(make(tx)).await.map_err(|_| PhoneError::CallOver)?;
        rx.await.map_err(|_| PhoneError::CallOver)?
    }

    /// Answers an incoming call.
    pub async fn answer(&self) -> Result<(), PhoneError> {
        self.ask(Command::Answer).await
    }

    /// Turns down an incoming call (603 Decline).
    pub async fn reject(&self) {
        let _ = self.cmd.send(Command::Reject(603)).await;
    }

    /// Hangs up: BYE when connected, CANCEL while ringing out, 603 for an incoming call not answered.
    pub async fn hang_up(&self) {
        let _ = self.cmd.send(Command::HangUp).await;
    }

    /// Mutes or unmutes the microphone.
    pub async fn set_muted(&self, muted: bool) {
        let _ = self.cmd.send(Command::Mute(muted)).await;
    }

    /// Holds (true) or resumes (false) the call by re-INVITE.
    pub async fn hold(&self, on: bool) -> Result<(), PhoneError> {
        self.ask(|tx| Command::Hold(on, tx)).await
    }

    /// Sends DTMF digits (`0-9*#A-D`).
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), PhoneError> {
        if digits.is_empty()
            || !digits
                .chars()
                .all(|c| c.is_ascii_digit() || "*#ABCDabcd".contains(c))
        {
            return Err(PhoneError::InvalidInput(format!("not DTMF digits: {digits:?}")));
        }
        let digits = digits.to_ascii_uppercase();
        self.ask(|tx| Command::Dtmf(digits, tx)).await
    }

    /// Blind transfer to `target` (a SIP URI or a number): REFER, then the call ends once the far end
    /// reports the new call was set up.
    pub async fn transfer(&self, target: &str) -> Result<(), PhoneError> {
        let target = target.to_owned();
        self.ask(|tx| Command::Transfer(target, tx)).await
    }
}

/// The calls of one user agent: the table routing in-dialog requests to their call task, and what a new
/// call needs.
pub(crate) struct Calls {
    cfg: Arc<PhoneConfig>,
    events: broadcast::Sender<PhoneEvent>,
    audio: Arc<dyn AudioProvider>,
    journal: Option<Arc<dyn CallJournal>>,
    table: Mutex<HashMap<String, mpsc::Sender<rsip::Request>>>,
    link: watch::Receiver<Option<Link>>,
}

impl Calls {
    pub(crate) fn new(
        cfg: Arc<PhoneConfig>,
        events: broadcast::Sender<PhoneEvent>,
        audio: Arc<dyn AudioProvider>,
        journal: Option<Arc<dyn CallJournal>>,
        link: watch::Receiver<Option<Link>>,
    ) -> Self {
        Self {
            cfg,
            events,
            audio,
            journal,
            table: Mutex::default(),
            link,
        }
    }

    fn me(&self, link: &Link) -> LocalParty {
        LocalParty {
            via_transport: link.local.scheme.via_transport(),
            via_host: link.local.via_host.clone(),
            contact: format!(
                "sip:{}@{};transport={};ob",
                self.cfg.username,
                link.local.via_host,
                link.local.scheme.uri_transport()
            ),
            user_agent: self.cfg.user_agent.clone(),
        }
    }

    fn current_link(&self) -> Result<Link, PhoneError> {
        match &*self.link.borrow() {
            Some(link) if !link.is_closed() => Ok(link.clone()),
            _ => Err(PhoneError::Disconnected {
                reason: "not connected to the SIP server".into(),
            }),
        }
    }

    /// Hands a request to the call whose dialog it belongs to; gives it back when no call claims it.
    pub(crate) fn route(&self, req: rsip::Request) -> Option<rsip::Request> {
        let Ok(call_id) = req.call_id_header().map(|c| c.value().trim().to_owned()) else {
            return Some(req);
        };
        let sender = self
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&call_id)
            .cloned();
        match sender {
            Some(tx) => match tx.try_send(req) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(req) | mpsc::error::TrySendError::Closed(req)) => {
                    Some(req)
                }
            },
            None => Some(req),
        }
    }

    /// The target URI for `target`: a SIP URI as is, anything else (a phone number) as a user at our
    /// domain.
    fn target_uri(&self, target: &str) -> Result<String, PhoneError> {
        let target = target.trim();
        let uri = if target.starts_with("sip:") || target.starts_with("sips:") {
            target.to_owned()
        } else {
            let user: String = target
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
                .collect();
            if user.is_empty()
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+*#_".contains(c))
            {
                return Err(PhoneError::InvalidInput(format!("cannot call {target:?}")));
            }
            format!("sip:{user}@{}", self.cfg.domain)
        };
        rsip::Uri::try_from(uri.as_str())
            .map_err(|e| PhoneError::InvalidInput(format!("cannot call {target:?}: {e}")))?;
        Ok(uri)
    }

    fn local_name_addr(&self) -> String {
        let aor = format!("sip:{}@{}", self.cfg.username, self.cfg.domain);
        match &self.cfg.display_name {
            Some(name) => format!("\"{}\" <{aor}>", name.replace(['"', '\\'], "")),
            None => format!("<{aor}>"),
        }
    }

    fn spawn(
        self: &Arc<Self>,
        dialog: Dialog,
        info: CallInfo,
    ) -> (
        CallHandle,
        CallTask,
        mpsc::Receiver<Command>,
        mpsc::Receiver<rsip::Request>,
    ) {
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let (req_tx, req_rx) = mpsc::channel(32);
        let journal = JournalWriter::new(self.journal.clone(), self.events.clone());
        journal.write(JournalEntry::Started {
            id: info.log_id,
            direction: info.direction,
            remote: journal_remote(&info),
            lead_id: info.lead_id,
            at: info.call.started_at,
        });
        if let Some(provider_call_id) = &info.provider_call_id {
            journal.write(JournalEntry::ProviderId {
                id: info.log_id,
                provider_call_id: provider_call_id.clone(),
            });
        }
        let log_id = info.log_id;
        let (info_tx, info_rx) = watch::channel(info);
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(dialog.call_id.clone(), req_tx);
        let handle = CallHandle {
            call_id: Arc::from(dialog.call_id.as_str()),
            cmd: cmd_tx,
            info: info_rx,
        };
        let task = CallTask {
            calls: self.clone(),
            dialog,
            info: info_tx,
            media: None,
            journal,
            log_id,
            last_heartbeat: Instant::now(),
            media_connected: false,
            connected_since: Instant::now(),
            dtmf_seen: 0,
            last_rx_packets: 0,
            last_rx_change: Instant::now(),
            transfer: None,
        };
        (handle, task, cmd_rx, req_rx)
    }

    /// Starts an outgoing call to `target` (a SIP URI or a number at our domain).
    pub(crate) fn dial(
        self: &Arc<Self>,
        target: &str,
        lead_id: Option<Id>,
    ) -> Result<CallHandle, PhoneError> {
        let uri = self.target_uri(target)?;
        let link = self.current_link()?;
        let dialog = Dialog::outgoing(self.local_name_addr(), &uri, self.cfg.outbound_proxy.as_deref());
        let (_, user) = dialog::party(&uri);
        let info = CallInfo {
            call_id: dialog.call_id.clone(),
            log_id: leadline_model::new_id(),
            lead_id,
            direction: CallDirection::Outbound,
            remote_user: user,
            remote_name: None,
            remote_uri: uri,
            provider_call_id: None,
            call: Call::new(CallDirection::Outbound, chrono::Utc::now()),
            muted: false,
            refusal: None,
            failure_kind: None,
            failure: None,
            media: None,
            first_rtp_at: None,
        };
        let (handle, task, cmds, inbound) = self.spawn(dialog, info);
        info!(call_id = %handle.call_id, target, "calling");
        tokio::spawn(task.outgoing(link, cmds, inbound));
        Ok(handle)
    }

    /// A new INVITE from the server: a call for the app to answer.
    pub(crate) async fn incoming(self: &Arc<Self>, invite: rsip::Request, link: &Link) {
        let me = self.me(link);
        let dialog = match Dialog::incoming(&invite) {
            Ok(dialog) => dialog,
            Err(err) => {
                warn!(error = %err, "refusing a malformed INVITE");
                let _ = answer_stateless(link, &invite, 400, "Bad Request").await;
                let _ = self.events.send(PhoneEvent::ProtocolError(err));
                return;
            }
        };
        let offer = match dialog::sdp_body(&invite.headers, &invite.body) {
            Ok(Some(offer)) => offer,
            Ok(None) => {
                // A late offer (SDP in the ACK) is not supported: WebRTC gateways always offer.
                let _ = answer_stateless(link, &invite, 488, "Not Acceptable Here").await;
                return;
            }
            Err(err) => {
                let _ = answer_stateless(link, &invite, 415, "Unsupported Media Type").await;
                let _ = self.events.send(PhoneEvent::ProtocolError(err));
                return;
            }
        };
        // An offer we could never answer is refused before anything rings.
        match crate::media::sdp::inspect(&offer) {
            Ok(info) if info.audio.send_codec(&self.cfg.media.codecs).is_some() => {}
            Ok(_) => {
                info!("refusing a call with no codec in common");
                let _ = answer_stateless(link, &invite, 488, "Not Acceptable Here").await;
                return;
            }
            Err(err) => {
                warn!(error = %err, "refusing a call with unusable SDP");
                let _ = answer_stateless(link, &invite, 488, "Not Acceptable Here").await;
                let _ = self.events.send(PhoneEvent::ProtocolError(err));
                return;
            }
        }
        let from = invite
            .from_header()
            .map(|f| f.value().to_owned())
            .unwrap_or_default();
        let (remote_name, remote_user) = dialog::party(&from);
        let remote_uri = sip::split_contact(&from)
            .map(|(u, _)| u.to_owned())
            .unwrap_or_default();
        let provider_call_id = dialog::other_header(&invite.headers, "X-Exotel-Callsid").map(str::to_owned);
        // The caller's lead, from the journal (the store's cached leads), before anything rings.
        let lead_id = match self.journal.clone() {
            Some(journal) => {
                let who = remote_user.clone();
                tokio::task::spawn_blocking(move || journal.lead_for_number(&who))
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        let info = CallInfo {
            call_id: dialog.call_id.clone(),
            log_id: leadline_model::new_id(),
            lead_id,
            direction: CallDirection::Inbound,
            remote_user,
            remote_name,
            remote_uri,
            provider_call_id,
            call: Call::new(CallDirection::Inbound, chrono::Utc::now()),
            muted: false,
            refusal: None,
            failure_kind: None,
            failure: None,
            media: None,
            first_rtp_at: None,
        };
        let (handle, task, cmds, inbound) = self.spawn(dialog, info);
        info!(call_id = %handle.call_id, from = %sip::truncate(&from), "incoming call");
        tokio::spawn(task.incoming(invite, offer, me, cmds, inbound));
        let _ = self.events.send(PhoneEvent::IncomingCall(handle));
    }
}

/// The other party as the journal keeps it: the number when the user part is one, else the SIP URI.
fn journal_remote(info: &CallInfo) -> String {
    let user = info.remote_user.trim();
    let digits = user.strip_prefix('+').unwrap_or(user);
    if !digits.is_empty() && digits.len() <= 20 && digits.chars().all(|c| c.is_ascii_digit()) {
        user.to_owned()
    } else {
        info.remote_uri.clone()
    }
}

/// Answers a request outside any dialog (malformed, or for a dialog we do not know).
/// Fails only when the request is too broken to answer (no Via, From, To, Call-ID or CSeq).
pub(crate) async fn answer_stateless(
    link: &Link,
    req: &rsip::Request,
    code: u16,
    reason: &str,
) -> Result<(), PhoneError> {
    let extra = vec![
        rsip::headers::Allow::new(dialog::ALLOW).into(),
        rsip::headers::Accept::new("application/sdp").into(),
    ];
    let resp = sip::response_to(req, code, reason, extra)?;
    // A lost connection is noticed by the agent; nothing to do about it here.
    let _ = link.send(rsip::SipMessage::Response(resp)).await;
    Ok(())
}

/// SIP timer T1 and T2 (RFC 3261 §17): 2xx retransmission starts at T1 and doubles up to T2.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// How often a connected call tells the journal it is alive (a crash ends its draft at the last one).
const HEARTBEAT: Duration = Duration::from_secs(5);
/// 64 × T1: how long a transaction may go unanswered.
const TIMER_B: Duration = Duration::from_secs(32);

struct CallTask {
    calls: Arc<Calls>,
    dialog: Dialog,
    info: watch::Sender<CallInfo>,
    media: Option<MediaSession>,
    journal: JournalWriter,
    log_id: Id,
    last_heartbeat: Instant,
    /// Whether the media ever connected (ICE and DTLS), and since when the call is connected.
    media_connected: bool,
    connected_since: Instant,
    /// RFC 4733 digits from the far end already reported.
    dtmf_seen: usize,
    last_rx_packets: u64,
    last_rx_change: Instant,
    /// A REFER in progress: its answer is sent when the far end's NOTIFY reports the outcome.
    transfer: Option<oneshot::Sender<Result<(), PhoneError>>>,
}

enum Flow {
    Continue,
    Over,
}

impl CallTask {
    fn cfg(&self) -> &PhoneConfig {
        &self.calls.cfg
    }

    fn call_id(&self) -> String {
        self.dialog.call_id.clone()
    }

    fn is_over(&self) -> bool {
        matches!(self.info.borrow().call.state, CallState::Ended(_))
    }

    fn state(&self) -> CallState {
        self.info.borrow().call.state
    }

    /// Applies an input to the call's state machine and tells the app.
    fn apply(&self, input: CallInput) {
        let at = chrono::Utc::now();
        let mut event = None;
        self.info
            .send_modify(|info| match info.call.apply(input.clone(), at) {
                Ok(Some(ev)) => {
                    if let CallEvent::Ended { refusal, .. } = &ev {
                        info.refusal = *refusal;
                    }
                    if let CallInput::Failed(why) = &input {
                        info.failure = Some(why.clone());
                    }
                    event = Some(ev);
                }
                Ok(None) => {}
                Err(invalid) => debug!(error = %invalid, "ignored"),
            });
        if let Some(event) = event {
            debug!(call_id = %self.dialog.call_id, ?event, "call event");
            match &event {
                CallEvent::Answered { at } => self.journal.write(JournalEntry::Answered {
                    id: self.log_id,
                    at: *at,
                }),
                CallEvent::Ended { at, reason, .. } => {
                    // The figures so far go in before the end, so a draft seen ended already has them (the
                    // final ones replace them once the media is closed).
                    if let Some(quality) = self.media.as_ref().and_then(|m| quality_of(&m.stats())) {
                        self.journal.write(JournalEntry::Quality {
                            id: self.log_id,
                            quality,
                        });
                    }
                    self.journal.write(JournalEntry::Ended {
                        id: self.log_id,
                        at: *at,
                        reason: *reason,
                    });
                }
                CallEvent::Ringing | CallEvent::HoldChanged { .. } => {}
            }
            let _ = self.calls.events.send(PhoneEvent::Call {
                call_id: self.call_id(),
                event,
            });
        }
    }

    /// Ends the call as failed, for `kind`.
    fn fail(&self, kind: CallFailure, why: impl Into<String>) {
        self.info.send_modify(|info| info.failure_kind = Some(kind));
        self.apply(CallInput::Failed(why.into()));
    }

    fn link(&self) -> Result<(Link, LocalParty), PhoneError> {
        let link = self.calls.current_link()?;
        let me = self.calls.me(&link);
        Ok((link, me))
    }

    async fn open_media(&mut self) -> Result<(), PhoneError> {
        let audio = self.calls.audio.open().inspect_err(|_| {
            self.info
                .send_modify(|info| info.failure_kind = Some(CallFailure::NoMicrophone));
        })?;
        let media = MediaSession::new(&self.cfg().media, audio).await?;
        self.media = Some(media);
        self.last_rx_change = Instant::now();
        Ok(())
    }

    fn media(&self) -> Result<&MediaSession, PhoneError> {
        self.media.as_ref().ok_or(PhoneError::CallOver)
    }

    /// Ends the call's life: media closed, out of the routing table, final stats kept.
    async fn finish(mut self) {
        if let Some(media) = self.media.take() {
            let stats = media.stats();
            media.close().await;
            if let Some(quality) = quality_of(&stats) {
                self.journal.write(JournalEntry::Quality {
                    id: self.log_id,
                    quality,
                });
            }
            self.info.send_modify(|info| info.media = Some(stats));
        }
        if !self.is_over() {
            self.apply(CallInput::Failed("the call task stopped".into()));
        }
        if let Some(tx) = self.transfer.take() {
            let _ = tx.send(Err(PhoneError::CallOver));
        }
        self.calls
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.dialog.call_id);
        info!(call_id = %self.dialog.call_id, state = %self.state(), "call over");
    }

    // ----- outgoing -------------------------------------------------------------------------------

    async fn outgoing(
        mut self,
        link: Link,
        mut cmds: mpsc::Receiver<Command>,
        mut inbound: mpsc::Receiver<rsip::Request>,
    ) {
        let established = match self.invite(link, &mut cmds, &mut inbound).await {
            Ok(Some(responses)) => Some(responses),
            Ok(None) => None,
            Err(err) => {
                warn!(call_id = %self.dialog.call_id, error = %err, "call failed");
                let kind = self.info.borrow().failure_kind.unwrap_or(failure_of(&err));
                self.fail(kind, err.to_string());
                None
            }
        };
        if let Some(responses) = established {
            self.connected(&mut cmds, &mut inbound, Some(responses)).await;
        }
        self.finish().await;
    }

    /// Sends the INVITE and follows it to the call's answer. `Some(responses)` when connected (kept to
    /// re-ACK a repeated 2xx), `None` when the call is over.
    async fn invite(
        &mut self,
        link: Link,
        cmds: &mut mpsc::Receiver<Command>,
        inbound: &mut mpsc::Receiver<rsip::Request>,
    ) -> Result<Option<Responses>, PhoneError> {
        let t0 = Instant::now();
        self.open_media().await?;
        let offer = self.media()?.create_offer().await?;
        debug!(call_id = %self.dialog.call_id, elapsed = ?t0.elapsed(), "offer ready");
        let me = self.calls.me(&link);
        let mut auth: Option<(Challenge, u32)> = None;
        let mut hang_up_asked = false;
        for _round in 0..3 {
            let extra = self.authorization(&mut auth, "INVITE", &self.dialog.remote_target.clone());
            let sent = self.dialog.invite(&me, &offer, extra)?;
            let mut responses = link.start(sent.request.clone(), &sent.branch).await?;
            // Any provisional answer (100 included) moves the INVITE to "proceeding": it may be CANCELled.
            let mut proceeding = false;
            let mut cancelled = false;
            let mut early_media = false;
            let mut deadline = Instant::now() + self.cfg().invite_timeout;
            loop {
                tokio::select! {
                    resp = responses.next() => {
                        let resp = resp?;
                        if !matches!(dialog::cseq_of(&resp), Ok((seq, rsip::Method::Invite)) if seq == sent.cseq) {
                            warn!(call_id = %self.dialog.call_id, "dropping an answer whose CSeq is not our INVITE's");
                            continue;
                        }
                        let code = resp.status_code.code();
                        match code {
                            100 => {
                                // The proxy has it: from now on it is the ring time that counts.
                                if !proceeding && !cancelled {
                                    proceeding = true;
                                    deadline = Instant::now() + self.cfg().ring_timeout;
                                }
                                if hang_up_asked && !cancelled {
                                    self.send_cancel(&link, &sent).await;
                                    cancelled = true;
                                    deadline = Instant::now() + TIMER_B;
                                }
                            }
                            101..=199 => {
                                if !proceeding && !cancelled {
                                    proceeding = true;
                                    deadline = Instant::now() + self.cfg().ring_timeout;
                                }
                                if let Err(err) = self.dialog.confirm(&resp) {
                                    debug!(error = %err, "provisional answer without a usable To tag");
                                }
                                self.apply(CallInput::Provisional(code));
                                if !early_media
                                    && let Ok(Some(sdp)) = dialog::sdp_body(&resp.headers, &resp.body)
                                {
                                    self.media()?.accept_answer(&sdp).await?;
                                    early_media = true;
                                }
                                if hang_up_asked && !cancelled {
                                    self.send_cancel(&link, &sent).await;
                                    cancelled = true;
                                    deadline = Instant::now() + TIMER_B;
                                }
                            }
                            200..=299 => {
                                self.take_provider_id(&resp.headers);
                                self.dialog.confirm(&resp)?;
                                let ack = self.dialog.ack(&me, sent.cseq)?;
                                link.send(rsip::SipMessage::Request(ack)).await?;
                                if !early_media {
                                    let sdp = dialog::sdp_body(&resp.headers, &resp.body)?
                                        .ok_or_else(|| PhoneError::Protocol("2xx to INVITE without SDP".into()))?;
                                    self.media()?.accept_answer(&sdp).await?;
                                }
                                self.apply(CallInput::Answered);
                                if hang_up_asked || cancelled {
                                    // Answered as we hung up: end it properly.
                                    self.bye().await;
                                    self.apply(CallInput::HangUp);
                                    return Ok(None);
                                }
                                return Ok(Some(responses));
                            }
                            401 | 407 => {
                                link.send(rsip::SipMessage::Request(dialog::ack_failure(&sent, &resp)?)).await?;
                                let fresh = pick_challenge(&resp, code == 407)?;
                                if cancelled || hang_up_asked {
                                    self.apply(CallInput::HangUp);
                                    return Ok(None);
                                }
                                // Challenged again after answering a challenge: the password is wrong
                                // (unless only the nonce went stale).
                                if auth.is_some() && !fresh.stale {
                                    self.apply(CallInput::Refused(code));
                                    return Ok(None);
                                }
                                auth = Some((fresh, 0));
                                break;
                            }
                            _ => {
                                link.send(rsip::SipMessage::Request(dialog::ack_failure(&sent, &resp)?)).await?;
                                self.take_provider_id(&resp.headers);
                                if cancelled || hang_up_asked {
                                    self.apply(CallInput::HangUp);
                                } else {
                                    self.apply(CallInput::Refused(code));
                                }
                                return Ok(None);
                            }
                        }
                    }
                    cmd = next_command(cmds) => match cmd {
                        Command::HangUp | Command::Reject(_) => {
                            hang_up_asked = true;
                            if proceeding && !cancelled {
                                self.send_cancel(&link, &sent).await;
                                cancelled = true;
                                deadline = Instant::now() + TIMER_B;
                            }
                            // Before any provisional answer a CANCEL may not be sent: it goes once one
                            // comes, or the INVITE times out.
                        }
                        other => self.refuse_command(other, "the call is not connected yet").await,
                    },
                    req = inbound.recv() => {
                        if let Some(req) = req {
                            self.early_request(&link, req).await;
                        }
                    }
                    () = sleep_until(deadline) => {
                        if cancelled {
                            // No 487 to our CANCEL: give up on the transaction.
                            self.apply(CallInput::HangUp);
                            return Ok(None);
                        }
                        if proceeding {
                            // Rang for ring_timeout: give up like a caller would.
                            info!(call_id = %self.dialog.call_id, "no answer, cancelling");
                            self.send_cancel(&link, &sent).await;
                            cancelled = true;
                            hang_up_asked = false;
                            deadline = Instant::now() + TIMER_B;
                            self.apply(CallInput::Refused(480));
                            continue;
                        }
                        self.apply(CallInput::Refused(408));
                        return Ok(None);
                    }
                }
            }
        }
        self.apply(CallInput::Refused(407));
        Ok(None)
    }

    /// Credentials for a challenged request, counting nonce uses.
    fn authorization(
        &self,
        auth: &mut Option<(Challenge, u32)>,
        method: &str,
        uri: &str,
    ) -> Vec<rsip::Header> {
        let Some((challenge, nc)) = auth.as_mut() else {
            return Vec::new();
        };
        *nc += 1;
        let cfg = self.cfg();
        let value = challenge.authorization(
            cfg.auth_user(),
            cfg.password.expose(),
            method,
            uri,
            *nc,
            &random_token(16),
            b"",
        );
        vec![if challenge.proxy {
            rsip::headers::ProxyAuthorization::new(value).into()
        } else {
            rsip::headers::Authorization::new(value).into()
        }]
    }

    async fn send_cancel(&self, link: &Link, sent: &SentInvite) {
        let result = match dialog::cancel(sent) {
            Ok(cancel) => {
                let branch = sent.branch.clone();
                let link = link.clone();
                // The CANCEL's own 200 is not waited for here: the INVITE's 487 is what ends the call.
                tokio::spawn(async move {
                    if let Err(err) = link.transaction(cancel, &branch, TIMER_B).await {
                        debug!(error = %err, "CANCEL not answered");
                    }
                });
                Ok(())
            }
            Err(err) => Err(err),
        };
        if let Err(err) = result {
            warn!(error = %err, "cannot build CANCEL");
        }
    }

    fn take_provider_id(&self, headers: &rsip::Headers) {
        if let Some(id) = dialog::other_header(headers, "X-Exotel-Callsid") {
            let id = sip::truncate(id);
            let fresh = self.info.send_if_modified(|info| {
                if info.provider_call_id.is_none() {
                    info.provider_call_id = Some(id.clone());
                    true
                } else {
                    false
                }
            });
            if fresh {
                self.journal.write(JournalEntry::ProviderId {
                    id: self.log_id,
                    provider_call_id: id,
                });
            }
        }
    }

    /// A request from the far end before our call is answered (OPTIONS, INFO, a stray BYE...).
    async fn early_request(&mut self, link: &Link, req: rsip::Request) {
        let (code, reason) = match req.method {
            rsip::Method::Ack => return,
            rsip::Method::Options | rsip::Method::Info => (200, "OK"),
            _ => (481, "Call/Transaction Does Not Exist"),
        };
        let _ = answer_stateless(link, &req, code, reason).await;
    }

    async fn refuse_command(&self, cmd: Command, why: &str) {
        let err = || PhoneError::InvalidInput(why.to_owned());
        match cmd {
            Command::Answer(tx) | Command::Hold(_, tx) | Command::Dtmf(_, tx) | Command::Transfer(_, tx) => {
                let _ = tx.send(Err(err()));
            }
            Command::Mute(muted) => {
                if let Some(media) = &self.media {
                    media.set_muted(muted);
                }
                self.info.send_modify(|info| info.muted = muted);
            }
            Command::Reject(_) | Command::HangUp => {}
        }
    }

    // ----- incoming -------------------------------------------------------------------------------

    async fn incoming(
        mut self,
        invite: rsip::Request,
        offer: String,
        me: LocalParty,
        mut cmds: mpsc::Receiver<Command>,
        mut inbound: mpsc::Receiver<rsip::Request>,
    ) {
        let answered = self.ring(&invite, &offer, &me, &mut cmds, &mut inbound).await;
        match answered {
            Ok(true) => self.connected(&mut cmds, &mut inbound, None).await,
            Ok(false) => {}
            Err(err) => {
                warn!(call_id = %self.dialog.call_id, error = %err, "incoming call failed");
                if let Ok((link, _)) = self.link() {
                    let _ = answer_stateless(&link, &invite, 500, "Server Internal Error").await;
                }
                let kind = self.info.borrow().failure_kind.unwrap_or(failure_of(&err));
                self.fail(kind, err.to_string());
            }
        }
        self.finish().await;
    }

    async fn respond(
        &self,
        invite: &rsip::Request,
        code: u16,
        reason: &str,
        sdp: Option<&str>,
    ) -> Result<(), PhoneError> {
        let (link, me) = self.link()?;
        let body = sdp.map(|s| ("application/sdp", s.as_bytes().to_vec()));
        let resp = dialog::answer_invite(invite, &self.dialog, &me, code, reason, body)?;
        link.send(rsip::SipMessage::Response(resp)).await
    }

    /// Rings until answered (true), or rejected / cancelled / timed out (false).
    async fn ring(
        &mut self,
        invite: &rsip::Request,
        offer: &str,
        me: &LocalParty,
        cmds: &mut mpsc::Receiver<Command>,
        inbound: &mut mpsc::Receiver<rsip::Request>,
    ) -> Result<bool, PhoneError> {
        let _ = me;
        self.respond(invite, 180, "Ringing", None).await?;
        let deadline = Instant::now() + self.cfg().ring_timeout;
        let mut auto = self.cfg().auto_answer;
        loop {
            let cmd = if auto {
                auto = false;
                let (tx, _rx) = oneshot::channel();
                Some(Command::Answer(tx))
            } else {
                tokio::select! {
                    cmd = next_command(cmds) => Some(cmd),
                    req = inbound.recv() => {
                        let Some(req) = req else { continue };
                        if self.ringing_request(invite, req).await {
                            return Ok(false);
                        }
                        None
                    }
                    () = sleep_until(deadline) => {
                        self.respond(invite, 480, "Temporarily Unavailable", None).await?;
                        self.apply(CallInput::RemoteHangUp);
                        return Ok(false);
                    }
                }
            };
            match cmd {
                None => {}
                Some(Command::Answer(reply)) => {
                    let result = self.answer(invite, offer, inbound).await;
                    let ok = result.is_ok();
                    if let Err(err) = &result
                        && !self.is_over()
                    {
                        // The caller must hear the end too: our final answer, with our tag.
                        warn!(call_id = %self.dialog.call_id, error = %err, "cannot answer");
                        let _ = self.respond(invite, 500, "Server Internal Error", None).await;
                        let kind = self.info.borrow().failure_kind.unwrap_or(failure_of(err));
                        self.fail(kind, err.to_string());
                    }
                    let _ = reply.send(result);
                    return Ok(ok && !self.is_over());
                }
                Some(Command::Reject(code)) => {
                    self.respond(
                        invite,
                        code,
                        if code == 486 { "Busy Here" } else { "Decline" },
                        None,
                    )
                    .await?;
                    self.apply(CallInput::HangUp);
                    return Ok(false);
                }
                Some(Command::HangUp) => {
                    self.respond(invite, 603, "Decline", None).await?;
                    self.apply(CallInput::HangUp);
                    return Ok(false);
                }
                Some(other) => self.refuse_command(other, "the call is not answered yet").await,
            }
        }
    }

    /// A request while ringing; true when it ended the call (CANCEL).
    async fn ringing_request(&mut self, invite: &rsip::Request, req: rsip::Request) -> bool {
        let Ok((link, _)) = self.link() else { return false };
        match req.method {
            rsip::Method::Cancel => {
                let _ = answer_stateless(&link, &req, 200, "OK").await;
                if let Err(err) = self.respond(invite, 487, "Request Terminated", None).await {
                    debug!(error = %err, "cannot send 487");
                }
                self.apply(CallInput::RemoteHangUp);
                true
            }
            rsip::Method::Ack => false,
            rsip::Method::Invite => {
                // A retransmission of the INVITE: ring again.
                let _ = self.respond(invite, 180, "Ringing", None).await;
                false
            }
            rsip::Method::Options => {
                let _ = answer_stateless(&link, &req, 200, "OK").await;
                false
            }
            _ => {
                let _ = answer_stateless(&link, &req, 481, "Call/Transaction Does Not Exist").await;
                false
            }
        }
    }

    /// Answers the INVITE with our SDP and waits for the ACK, re-sending the 200 meanwhile.
    async fn answer(
        &mut self,
        invite: &rsip::Request,
        offer: &str,
        inbound: &mut mpsc::Receiver<rsip::Request>,
    ) -> Result<(), PhoneError> {
        self.open_media().await?;
        let answer = self.media()?.answer_offer(offer).await?;
        self.respond(invite, 200, "OK", Some(&answer)).await?;
        self.apply(CallInput::Answered);
        let give_up = Instant::now() + TIMER_B;
        let mut interval = T1;
        let mut resend = Instant::now() + interval;
        loop {
            tokio::select! {
                req = inbound.recv() => match req {
                    Some(req) if req.method == rsip::Method::Ack => return Ok(()),
                    Some(req) => {
                        // BYE before ACK, INFO...: the connected loop's rules apply.
                        if let Flow::Over = self.in_dialog_request(req).await {
                            return Ok(());
                        }
                    }
                    None => return Ok(()),
                },
                () = sleep_until(resend) => {
                    if Instant::now() >= give_up {
                        warn!(call_id = %self.dialog.call_id, "no ACK for our 200 OK, hanging up");
                        self.bye().await;
                        self.fail(CallFailure::Signalling, "the caller never confirmed the answer (no ACK)");
                        return Ok(());
                    }
                    let _ = self.respond(invite, 200, "OK", Some(&answer)).await;
                    interval = (interval * 2).min(T2);
                    resend = Instant::now() + interval;
                }
            }
        }
    }

    // ----- connected ------------------------------------------------------------------------------

    async fn connected(
        &mut self,
        cmds: &mut mpsc::Receiver<Command>,
        inbound: &mut mpsc::Receiver<rsip::Request>,
        mut invite_responses: Option<Responses>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.last_rx_change = Instant::now();
        self.connected_since = Instant::now();
        let mut media_state = self.media.as_ref().map(MediaSession::state_watch);
        while !self.is_over() {
            let media_failed = async {
                match media_state.as_mut() {
                    Some(rx) => {
                        if rx.wait_for(|s| *s == MediaState::Failed).await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            let repeat_2xx = async {
                match invite_responses.as_mut() {
                    Some(r) => r.next().await.ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = next_command(cmds) => {
                    if let Flow::Over = self.command(cmd).await {
                        break;
                    }
                }
                req = inbound.recv() => {
                    let Some(req) = req else { break };
                    if let Flow::Over = self.in_dialog_request(req).await {
                        break;
                    }
                }
                resp = repeat_2xx => match resp {
                    Some(resp) if (200..300).contains(&resp.status_code.code()) => {
                        // Our ACK was lost or the far end is slow: ACK again.
                        if let Ok((link, me)) = self.link()
                            && let Ok((seq, _)) = dialog::cseq_of(&resp)
                            && let Ok(ack) = self.dialog.ack(&me, seq)
                        {
                            let _ = link.send(rsip::SipMessage::Request(ack)).await;
                        }
                    }
                    Some(_) => {}
                    None => invite_responses = None,
                },
                _ = tick.tick() => {
                    if let Flow::Over = self.check_media().await {
                        break;
                    }
                }
                () = media_failed => {
                    warn!(call_id = %self.dialog.call_id, "media failed (ICE or DTLS), ending the call");
                    self.bye().await;
                    self.fail(CallFailure::AudioPath, "the audio connection failed (ICE/DTLS)");
                    break;
                }
            }
        }
    }

    /// Refreshes the media figures; ends the call when the far end has been silent (no RTP at all) for
    /// `media_timeout` while nobody holds.
    async fn check_media(&mut self) -> Flow {
        let Some(media) = &self.media else {
            return Flow::Continue;
        };
        let stats = media.stats();
        let received = stats.packets_received;
        if stats.state == MediaState::Connected {
            self.media_connected = true;
        }
        if self.last_heartbeat.elapsed() >= HEARTBEAT {
            self.last_heartbeat = Instant::now();
            self.journal.write(JournalEntry::Alive {
                id: self.log_id,
                at: chrono::Utc::now(),
            });
        }
        for digit in stats.dtmf_received.chars().skip(self.dtmf_seen) {
            let _ = self.calls.events.send(PhoneEvent::DtmfReceived {
                call_id: self.dialog.call_id.clone(),
                digit,
            });
        }
        self.dtmf_seen = stats.dtmf_received.chars().count();
        self.info.send_modify(|info| {
            info.first_rtp_at = info.first_rtp_at.or(stats.first_rtp_at);
            info.media = Some(stats);
        });
        // Never connected at all (ICE or DTLS found no path, e.g. UDP blocked): the audio path failed.
        if !self.media_connected && self.connected_since.elapsed() >= self.cfg().media_connect_timeout {
            let waited = self.connected_since.elapsed().as_secs();
            warn!(call_id = %self.dialog.call_id, waited, "no audio path to the far end, ending the call");
            self.bye().await;
            self.fail(
                CallFailure::AudioPath,
                format!("no audio path to the far end: ICE/DTLS did not connect in {waited} s"),
            );
            return Flow::Over;
        }
        let held = matches!(self.state(), CallState::OnHold { .. });
        if received != self.last_rx_packets || held {
            self.last_rx_packets = received;
            self.last_rx_change = Instant::now();
            return Flow::Continue;
        }
        let silent = self.last_rx_change.elapsed();
        if silent >= self.cfg().media_timeout {
            warn!(call_id = %self.dialog.call_id, ?silent, "no audio from the far end, ending the call");
            self.bye().await;
            self.fail(
                CallFailure::FarEndSilent,
                format!("no audio from the far end for {} s", silent.as_secs()),
            );
            return Flow::Over;
        }
        Flow::Continue
    }

    async fn command(&mut self, cmd: Command) -> Flow {
        match cmd {
            Command::HangUp | Command::Reject(_) => {
                self.bye().await;
                self.apply(CallInput::HangUp);
                Flow::Over
            }
            Command::Answer(tx) => {
                let _ = tx.send(Err(PhoneError::InvalidInput(
                    "the call is already answered".into(),
                )));
                Flow::Continue
            }
            Command::Mute(muted) => {
                if let Some(media) = &self.media {
                    media.set_muted(muted);
                }
                self.info.send_modify(|info| info.muted = muted);
                Flow::Continue
            }
            Command::Hold(on, tx) => {
                let result = self.hold(on).await;
                let _ = tx.send(result);
                Flow::Continue
            }
            Command::Dtmf(digits, tx) => {
                let result = self.dtmf(&digits).await;
                let _ = tx.send(result);
                Flow::Continue
            }
            Command::Transfer(target, tx) => match self.refer(&target).await {
                Ok(()) => {
                    // Answered when the far end's NOTIFY reports how the transfer went.
                    self.transfer = Some(tx);
                    Flow::Continue
                }
                Err(err) => {
                    let _ = tx.send(Err(err));
                    Flow::Continue
                }
            },
        }
    }

    /// Sends an in-dialog request and waits for its final answer, answering one digest challenge. An INVITE
    /// (its body is the SDP offer) is ACKed (see [`Self::reinvite`]).
    async fn in_dialog(
        &mut self,
        method: rsip::Method,
        extra: Vec<rsip::Header>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<rsip::Response, PhoneError> {
        let mut auth: Option<(Challenge, u32)> = None;
        for _ in 0..2 {
            let (link, me) = self.link()?;
            let mut headers = extra.clone();
            headers.extend(self.authorization(
                &mut auth,
                &method.to_string(),
                &self.dialog.remote_target.clone(),
            ));
            let resp = match (method, &body) {
                (rsip::Method::Invite, Some((_, sdp))) => {
                    let sdp = String::from_utf8_lossy(sdp).into_owned();
                    self.reinvite(&link, &me, &sdp, headers).await?
                }
                _ => {
                    let (req, branch) = self.dialog.next_request(&me, method, headers, body.clone())?;
                    link.transaction(req, &branch, self.cfg().request_timeout).await?
                }
            };
            let code = resp.status_code.code();
            if (code == 401 || code == 407) && auth.is_none() {
                auth = Some((pick_challenge(&resp, code == 407)?, 0));
                continue;
            }
            return Ok(resp);
        }
        Err(PhoneError::Rejected {
            code: 407,
            reason: "credentials refused".into(),
        })
    }

    /// BYE, bounded by the request time-out; the call ends whatever the answer.
    async fn bye(&mut self) {
        match self.in_dialog(rsip::Method::Bye, Vec::new(), None).await {
            Ok(resp) => debug!(code = resp.status_code.code(), "BYE answered"),
            Err(err) => debug!(error = %err, "BYE not answered"),
        }
    }

    async fn hold(&mut self, on: bool) -> Result<(), PhoneError> {
        let offer = self.media()?.hold(on).await?;
        let resp = self
            .in_dialog(
                rsip::Method::Invite,
                Vec::new(),
                Some(("application/sdp", offer.into_bytes())),
            )
            .await?;
        let code = resp.status_code.code();
        if !(200..300).contains(&code) {
            return Err(PhoneError::Rejected {
                code,
                reason: sip::reason_phrase(&resp.status_code),
            });
        }
        if let Some(sdp) = dialog::sdp_body(&resp.headers, &resp.body)? {
            self.media()?.accept_answer(&sdp).await?;
        }
        self.apply(CallInput::Hold { here: true, held: on });
        Ok(())
    }

    /// A re-INVITE in the dialog with the offer `sdp`: waits past provisional answers for the final one and
    /// ACKs it (a 2xx in a request of its own, a failure in the INVITE's transaction).
    async fn reinvite(
        &mut self,
        link: &Link,
        me: &LocalParty,
        sdp: &str,
        extra: Vec<rsip::Header>,
    ) -> Result<rsip::Response, PhoneError> {
        let sent = self.dialog.invite(me, sdp, extra)?;
        let mut responses = link.start(sent.request.clone(), &sent.branch).await?;
        let resp = loop {
            let resp = tokio::time::timeout(TIMER_B, responses.next())
                .await
                .map_err(|_| PhoneError::Timeout)??;
            if resp.status_code.code() >= 200 {
                break resp;
            }
        };
        let ack = if (200..300).contains(&resp.status_code.code()) {
            self.dialog.ack(me, sent.cseq)?
        } else {
            dialog::ack_failure(&sent, &resp)?
        };
        link.send(rsip::SipMessage::Request(ack)).await?;
        Ok(resp)
    }

    async fn dtmf(&mut self, digits: &str) -> Result<(), PhoneError> {
        let media = self.media()?;
        if media.can_send_dtmf() {
            return media.send_dtmf(digits).await;
        }
        debug!("no RFC 4733 events with this far end: DTMF by SIP INFO");
        for digit in digits.chars() {
            let body = format!("Signal={digit}\r\nDuration=160\r\n");
            let resp = self
                .in_dialog(
                    rsip::Method::Info,
                    Vec::new(),
                    Some(("application/dtmf-relay", body.into_bytes())),
                )
                .await?;
            let code = resp.status_code.code();
            if !(200..300).contains(&code) {
                return Err(PhoneError::Rejected {
                    code,
                    reason: sip::reason_phrase(&resp.status_code),
                });
            }
        }
        Ok(())
    }

    async fn refer(&mut self, target: &str) -> Result<(), PhoneError> {
        let uri = self.calls.target_uri(target)?;
        let extra = vec![
            rsip::Header::Other("Refer-To".into(), format!("<{uri}>")),
            rsip::Header::Other(
                "Referred-By".into(),
                format!("<sip:{}@{}>", self.cfg().username, self.cfg().domain),
            ),
        ];
        let resp = self.in_dialog(rsip::Method::Refer, extra, None).await?;
        let code = resp.status_code.code();
        if (200..300).contains(&code) {
            info!(call_id = %self.dialog.call_id, %uri, "transfer accepted");
            Ok(())
        } else {
            Err(PhoneError::Rejected {
                code,
                reason: sip::reason_phrase(&resp.status_code),
            })
        }
    }

    /// A request in the established dialog.
    async fn in_dialog_request(&mut self, req: rsip::Request) -> Flow {
        let Ok((link, me)) = self.link() else {
            return Flow::Continue;
        };
        if let Err(err) = self.dialog.accept_remote_cseq(&req) {
            warn!(error = %err, "out-of-order request");
            let _ = answer_stateless(&link, &req, 500, "Server Internal Error").await;
            return Flow::Continue;
        }
        match req.method {
            rsip::Method::Ack | rsip::Method::Cancel => {
                if req.method == rsip::Method::Cancel {
                    let _ = answer_stateless(&link, &req, 200, "OK").await;
                }
                Flow::Continue
            }
            rsip::Method::Bye => {
                let _ = answer_stateless(&link, &req, 200, "OK").await;
                self.apply(CallInput::RemoteHangUp);
                Flow::Over
            }
            rsip::Method::Invite | rsip::Method::Update => {
                self.reoffer(&link, &me, req).await;
                Flow::Continue
            }
            rsip::Method::Info => {
                if let Some(digit) = info_digit(&req.body) {
                    let _ = self.calls.events.send(PhoneEvent::DtmfReceived {
                        call_id: self.call_id(),
                        digit,
                    });
                }
                let _ = answer_stateless(&link, &req, 200, "OK").await;
                Flow::Continue
            }
            rsip::Method::Notify => {
                let _ = answer_stateless(&link, &req, 200, "OK").await;
                self.transfer_progress(&req).await
            }
            rsip::Method::Options => {
                let _ = answer_stateless(&link, &req, 200, "OK").await;
                Flow::Continue
            }
            _ => {
                let _ = answer_stateless(&link, &req, 501, "Not Implemented").await;
                Flow::Continue
            }
        }
    }

    /// The far end's re-INVITE or UPDATE: hold, resume, a new media path, or a session refresh.
    async fn reoffer(&mut self, link: &Link, me: &LocalParty, req: rsip::Request) {
        let offer = match dialog::sdp_body(&req.headers, &req.body) {
            Ok(offer) => offer,
            Err(err) => {
                warn!(error = %err, "unusable re-offer");
                let _ = answer_stateless(link, &req, 488, "Not Acceptable Here").await;
                return;
            }
        };
        let answer = match (&offer, &self.media) {
            (Some(offer), Some(media)) => match media.answer_reoffer(offer).await {
                Ok(answer) => Some(answer),
                Err(err) => {
                    warn!(error = %err, "cannot answer the far end's re-offer");
                    let _ = answer_stateless(link, &req, 488, "Not Acceptable Here").await;
                    return;
                }
            },
            // A refresh without SDP: answer with what we have.
            _ => None,
        };
        let body = answer.map(|a| ("application/sdp", a.into_bytes()));
        match dialog::answer_invite(&req, &self.dialog, me, 200, "OK", body) {
            Ok(resp) => {
                let _ = link.send(rsip::SipMessage::Response(resp)).await;
            }
            Err(err) => warn!(error = %err, "cannot answer re-INVITE"),
        }
        if let Some(offer) = offer
            && let Ok(info) = crate::media::sdp::inspect(&offer)
        {
            // They hold us when they no longer want to receive (sendonly, inactive).
            self.apply(CallInput::Hold {
                here: false,
                held: !info.audio.direction.has_recv(),
            });
        }
    }

    /// A NOTIFY about our REFER: a final status in its `message/sipfrag` body settles the transfer; a 2xx
    /// means the far end is now connected to the target, so our part of the call ends.
    async fn transfer_progress(&mut self, req: &rsip::Request) -> Flow {
        let Some(code) = sipfrag_status(&req.body) else {
            return Flow::Continue;
        };
        if code < 200 {
            return Flow::Continue;
        }
        let Some(tx) = self.transfer.take() else {
            return Flow::Continue;
        };
        if (200..300).contains(&code) {
            let _ = tx.send(Ok(()));
            self.bye().await;
            self.apply(CallInput::HangUp);
            Flow::Over
        } else {
            let _ = tx.send(Err(PhoneError::Rejected {
                code,
                reason: "the transfer target did not answer".into(),
            }));
            Flow::Continue
        }
    }
}

/// The figures kept with the call log, for a call that carried audio (none for one that never did: its MOS
/// would be a guess about nothing).
fn quality_of(stats: &MediaStats) -> Option<leadline_model::CallQuality> {
    if stats.packets_received == 0 && stats.packets_sent == 0 {
        return None;
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let quality = leadline_model::CallQuality {
        mos: stats.mos.clamp(1.0, 5.0),
        rtt_ms: stats.rtt_ms.and_then(finite).map(|v| v.clamp(0.0, 60_000.0)),
        jitter_ms: finite(stats.jitter_ms).unwrap_or(0.0).clamp(0.0, 60_000.0),
        loss: finite(stats.loss_fraction).unwrap_or(0.0).clamp(0.0, 1.0),
        codec: stats
            .receive_codec
            .or(stats.send_codec.map(|(codec, _)| codec))
            .map(|codec| codec.name().to_owned()),
        remote_loss: stats
            .remote_loss_fraction
            .and_then(finite)
            .map(|v| v.clamp(0.0, 1.0)),
        remote_jitter_ms: stats
            .remote_jitter_ms
            .and_then(finite)
            .map(|v| v.clamp(0.0, 60_000.0)),
    };
    quality.check().ok().map(|()| quality)
}

/// The kind of failure an error means: media errors are the audio path, the rest signalling.
fn failure_of(err: &PhoneError) -> CallFailure {
    match err {
        PhoneError::Media(_) => CallFailure::AudioPath,
        _ => CallFailure::Signalling,
    }
}

/// The app's next command. Once every handle is gone no more can come, and the call goes on (it ends by
/// the far end, its timers or its media) rather than being hung up for want of a handle.
async fn next_command(cmds: &mut mpsc::Receiver<Command>) -> Command {
    match cmds.recv().await {
        Some(cmd) => cmd,
        None => std::future::pending().await,
    }
}

/// The status code of a `message/sipfrag` body (`SIP/2.0 200 OK`), as a REFER's NOTIFY carries it.
pub(crate) fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let body = String::from_utf8_lossy(body);
    body.lines()
        .next()
        .and_then(|line| line.strip_prefix("SIP/2.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
}

/// The digit of an `application/dtmf-relay` INFO body (`Signal=5`).
pub(crate) fn info_digit(body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("signal") {
            return None;
        }
        let digit = value.trim().chars().next()?;
        (digit.is_ascii_digit() || "*#ABCDabcd".contains(digit)).then(|| digit.to_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies_give_their_digit() {
        assert_eq!(info_digit(b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(info_digit(b"signal = #\r\n"), Some('#'));
        assert_eq!(info_digit(b"Signal=x\r\n"), None);
        assert_eq!(info_digit(&[0xff, 0xfe]), None);
    }
}
