//! [`MediaSession`]: one call's peer connection, its send, receive and playout tasks.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::Slot;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{MissedTickBehavior, interval};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCIceServer, RTCPeerConnectionState, RTCSessionDescription, Registry,
    SettingEngine, SettingEngineBuilder, register_default_interceptors,
};

use crate::audio::{AudioPath, CaptureStream, FRAME_DURATION, FRAME_SAMPLES, Playback};
use crate::error::PhoneError;

use super::codec::{Concealment, Decoder, Encoder};
use super::dtmf::{self, Player, Step};
use super::jitter::{JitterBuffer, Packet, Pop, Push};
use super::quality::{ReceiveStats, RemoteView, RtcpWatch, estimate_mos};
use super::sdp::{self, AudioSection, Direction, Format};
use super::{Codec, MediaConfig, MediaState, MediaStats};

/// Payload types of our offers.
const PT_OPUS: u8 = 111;
const PT_PCMU: u8 = 0;
const PT_PCMA: u8 = 8;
const PT_EVENT_48K: u8 = 110;
const PT_EVENT_8K: u8 = 101;
/// Slot of the RTCP watcher: wire-most, below every built-in interceptor.
const RTCP_WATCH_SLOT: usize = 500;
/// Pending DTMF requests.
const DTMF_QUEUE: usize = 4;
/// Received DTMF digits remembered.
const DTMF_MEMORY: usize = 64;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn media_err(what: &str, err: impl std::fmt::Display) -> PhoneError {
    let text: String = err.to_string().chars().take(300).collect();
    PhoneError::Media(format!("{what}: {text}"))
}

/// Runs a call into the `webrtc` crate on its own task, so that a panic inside the crate (odd SDP)
/// becomes an error instead of taking the caller down.
async fn guarded<T: Send + 'static>(
    what: &'static str,
    fut: impl Future<Output = webrtc::error::Result<T>> + Send + 'static,
) -> Result<T, PhoneError> {
    match tokio::spawn(fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(media_err(what, err)),
        Err(join) if join.is_panic() => Err(PhoneError::Media(format!("{what}: the WebRTC stack panicked"))),
        Err(_) => Err(PhoneError::Media(format!("{what}: cancelled"))),
    }
}

#[derive(Debug, Clone, Copy)]
struct SendState {
    codec: Option<(Codec, u8)>,
    telephone_event: Option<(u8, u32)>,
    direction: Option<Direction>,
    local_hold: bool,
}

struct RecvState {
    jitter: JitterBuffer,
    stats: ReceiveStats,
    payloads: HashMap<u8, Format>,
    /// Whether received audio is played (false while the agreed direction has no receive).
    accept: bool,
    last_ssrc: Option<u32>,
    last_clock: u32,
    dtmf: String,
    last_event_timestamp: Option<u32>,
}

#[derive(Default)]
struct Counters {
    packets_sent: AtomicU64,
    bytes_sent: AtomicU64,
    dtmf_sent: AtomicU64,
    send_errors: AtomicU64,
    frames_played: AtomicU64,
    frames_concealed: AtomicU64,
    frames_fec: AtomicU64,
    receive_codec: Mutex<Option<Codec>>,
}

struct Shared {
    cfg: MediaConfig,
    send: Mutex<SendState>,
    recv: Mutex<RecvState>,
    remote: Arc<Mutex<RemoteView>>,
    muted: AtomicBool,
    counters: Counters,
    first_rtp: watch::Sender<Option<Instant>>,
    state: watch::Sender<MediaState>,
    gathered: watch::Sender<bool>,
}

impl Shared {
    fn on_rtp(&self, packet: rtc::rtp::Packet) {
        let now = Instant::now();
        self.first_rtp.send_if_modified(|first| {
            if first.is_none() {
                *first = Some(now);
                true
            } else {
                false
            }
        });
        let header = &packet.header;
        let mut recv = lock(&self.recv);
        let format = recv
            .payloads
            .get(&header.payload_type)
            .copied()
            .unwrap_or(Format::Other);
        if let Format::Audio(codec) = format {
            recv.last_clock = codec.clock_rate();
        }
        let clock = recv.last_clock;
        recv.stats.on_packet(
            header.ssrc,
            header.sequence_number,
            header.timestamp,
            clock,
            packet.payload.len(),
            now,
        );
        if recv.last_ssrc != Some(header.ssrc) {
            recv.last_ssrc = Some(header.ssrc);
            recv.jitter.reset();
        }
        match format {
            Format::Audio(_) if recv.accept => {
                let _: Push = recv.jitter.push(Packet {
                    seq: header.sequence_number,
                    timestamp: header.timestamp,
                    payload_type: header.payload_type,
                    payload: packet.payload.clone(),
                });
            }
            Format::TelephoneEvent(_) => {
                if let Some((code, true)) = dtmf::parse_payload(&packet.payload)
                    && recv.last_event_timestamp != Some(header.timestamp)
                    && let Some(digit) = dtmf::digit_of(code)
                {
                    recv.last_event_timestamp = Some(header.timestamp);
                    if recv.dtmf.len() >= DTMF_MEMORY {
                        recv.dtmf.remove(0);
                    }
                    recv.dtmf.push(digit);
                }
            }
            _ => {}
        }
    }
}

struct Handler {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.shared
            .gathered
            .send_replace(state == RTCIceGatheringState::Complete);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let mapped = match state {
            RTCPeerConnectionState::Connecting => MediaState::Connecting,
            RTCPeerConnectionState::Connected => MediaState::Connected,
            RTCPeerConnectionState::Disconnected => MediaState::Disconnected,
            RTCPeerConnectionState::Failed => MediaState::Failed,
            RTCPeerConnectionState::Closed => MediaState::Closed,
            _ => MediaState::New,
        };
        tracing::debug!(?mapped, "media connection state");
        self.shared.state.send_if_modified(|current| {
            // Closed is final.
            if *current == MediaState::Closed || *current == mapped {
                false
            } else {
                *current = mapped;
                true
            }
        });
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(packet) => shared.on_rtp(packet),
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

struct DtmfJob {
    codes: Vec<u8>,
    done: oneshot::Sender<Result<(), PhoneError>>,
}

#[derive(Debug, Default)]
struct Negotiation {
    track_added: bool,
    /// The codec the sender's RTP stream is registered with in the crate (see `bind_codec`).
    bound_codec: Option<Codec>,
    /// Direction of our offer waiting for its answer.
    pending_offer: Option<Direction>,
    local_hold: bool,
}

/// One call's media. See the [module documentation](super).
pub struct MediaSession {
    pc: tokio::sync::OnceCell<Arc<dyn PeerConnection>>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    shared: Arc<Shared>,
    negotiation: tokio::sync::Mutex<Negotiation>,
    dtmf_tx: mpsc::Sender<DtmfJob>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("state", &*self.shared.state.borrow())
            .finish_non_exhaustive()
    }
}

fn codec_parameters(codec: Codec, payload_type: u8) -> RTCRtpCodecParameters {
    let (mime, channels, fmtp) = match codec {
        Codec::Opus => ("audio/opus", 2, "minptime=10;useinbandfec=1"),
        Codec::Pcmu => ("audio/PCMU", 0, ""),
        Codec::Pcma => ("audio/PCMA", 0, ""),
    };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate: codec.clock_rate(),
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type,
    }
}

fn dedup(codecs: &[Codec]) -> Vec<Codec> {
    let mut out: Vec<Codec> = Vec::with_capacity(codecs.len());
    for codec in codecs {
        if !out.contains(codec) {
            out.push(*codec);
        }
    }
    out
}

fn event_parameters(clock_rate: u32, payload_type: u8, fmtp: Option<&str>) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: "audio/telephone-event".to_owned(),
            clock_rate,
            channels: 0,
            sdp_fmtp_line: fmtp.unwrap_or("0-16").to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type,
    }
}

/// Our local track: one encoding with our SSRC, and `codec` if given.
fn local_track(ssrc: u32, codec: Option<Codec>) -> TrackLocalStaticRTP {
    TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("leadline-{ssrc:08x}"),
        format!("audio-{ssrc:08x}"),
        "audio".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: codec
                .map(|c| codec_parameters(c, 0).rtp_codec)
                .unwrap_or_default(),
            active: true,
            ..Default::default()
        }],
    ))
}

fn validate(cfg: &MediaConfig) -> Result<(), PhoneError> {
    if cfg.codecs.is_empty() {
        return Err(PhoneError::InvalidConfig("media: no codecs".into()));
    }
    if cfg.bind_addrs.is_empty() {
        return Err(PhoneError::InvalidConfig("media: no bind addresses".into()));
    }
    if let Some(bad) = cfg
        .stun_servers
        .iter()
        .find(|u| !(u.starts_with("stun:") || u.starts_with("stuns:")))
    {
        return Err(PhoneError::InvalidConfig(format!(
            "media: {bad:?} is not a stun: URL"
        )));
    }
    Ok(())
}

impl MediaSession {
    /// A session with its send and playout tasks running (they wait for negotiation). The
    /// WebRTC peer connection and its UDP sockets are created by the first
    /// [`create_offer`](Self::create_offer) or [`answer_offer`](Self::answer_offer), whose codec
    /// table they need. Errors: [`PhoneError::InvalidConfig`] for an unusable configuration.
    pub async fn new(cfg: &MediaConfig, audio: AudioPath) -> Result<Self, PhoneError> {
        validate(cfg)?;
        let ssrc = rand::random::<u32>().max(1);
        let (first_rtp, _) = watch::channel(None);
        let (state, _) = watch::channel(MediaState::New);
        let (gathered, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            send: Mutex::new(SendState {
                codec: None,
                telephone_event: None,
                direction: None,
                local_hold: false,
            }),
            recv: Mutex::new(RecvState {
                jitter: JitterBuffer::new(cfg.jitter),
                stats: ReceiveStats::default(),
                payloads: HashMap::new(),
                accept: false,
                last_ssrc: None,
                last_clock: 8_000,
                dtmf: String::new(),
                last_event_timestamp: None,
            }),
            remote: Arc::new(Mutex::new(RemoteView::default())),
            muted: AtomicBool::new(false),
            counters: Counters::default(),
            first_rtp,
            state,
            gathered,
        });
        // No codec on the encoding: the offer then carries every registered codec.
        let track = Arc::new(local_track(ssrc, None));
        let (dtmf_tx, dtmf_rx) = mpsc::channel(DTMF_QUEUE);
        let AudioPath { capture, playback } = audio;
        let tasks = vec![
            tokio::spawn(send_loop(
                Arc::clone(&shared),
                Arc::clone(&track),
                ssrc,
                capture,
                dtmf_rx,
            )),
            tokio::spawn(playout_loop(Arc::clone(&shared), playback)),
        ];
        let session = Self {
            pc: tokio::sync::OnceCell::new(),
            track,
            ssrc,
            shared,
            negotiation: tokio::sync::Mutex::new(Negotiation::default()),
            dtmf_tx,
            tasks: Mutex::new(tasks),
        };
        Ok(session)
    }

    /// The peer connection, built on first use with `codecs` registered (payload types included).
    ///
    /// Built lazily because its codec table is fixed at construction, and an answer must reuse
    /// the offer's payload types: `webrtc` 0.21 answers with the payload types of its own table
    /// (and maps both telephone-events of a Chrome offer onto one), so for an incoming call the
    /// table is made from the offer.
    async fn peer(&self, codecs: Vec<RTCRtpCodecParameters>) -> Result<Arc<dyn PeerConnection>, PhoneError> {
        let shared = Arc::clone(&self.shared);
        let ssrc = self.ssrc;
        self.pc
            .get_or_try_init(|| async move {
                let cfg = &shared.cfg;
                let mut engine = MediaEngine::default();
                for codec in codecs {
                    engine
                        .register_codec(codec, RtpCodecKind::Audio)
                        .map_err(|e| media_err("codec", e))?;
                }
                let registry = register_default_interceptors(Registry::new(), &mut engine)
                    .map_err(|e| media_err("interceptors", e))?
                    .with(
                        Slot::from(RTCP_WATCH_SLOT),
                        RtcpWatch::new(ssrc, Arc::clone(&shared.remote)),
                    );
                let ice_servers = if cfg.stun_servers.is_empty() {
                    vec![]
                } else {
                    vec![RTCIceServer {
                        urls: cfg.stun_servers.clone(),
                        ..Default::default()
                    }]
                };
                let config = RTCConfigurationBuilder::new()
                    .with_ice_servers(ice_servers)
                    .build();
                let pc = PeerConnectionBuilder::new()
                    .with_configuration(config)
                    .with_media_engine(engine)
                    .with_interceptor_registry(registry)
                    .with_handler(Arc::new(Handler {
                        shared: Arc::clone(&shared),
                    }))
                    .with_udp_addrs(cfg.bind_addrs.clone())
                    .with_setting_engine(engine_settings())
                    .build()
                    .await
                    .map_err(|e| media_err("cannot open the media sockets", e))?;
                let pc: Arc<dyn PeerConnection> = Arc::new(pc);
                Ok(pc)
            })
            .await
            .cloned()
    }

    /// The peer connection for our own offer: our codecs with our payload types.
    async fn peer_for_offer(&self) -> Result<Arc<dyn PeerConnection>, PhoneError> {
        let cfg = &self.shared.cfg;
        let mut codecs = Vec::new();
        for codec in dedup(&cfg.codecs) {
            let pt = match codec {
                Codec::Opus => PT_OPUS,
                Codec::Pcmu => PT_PCMU,
                Codec::Pcma => PT_PCMA,
            };
            codecs.push(codec_parameters(codec, pt));
        }
        if cfg.codecs.contains(&Codec::Opus) {
            codecs.push(event_parameters(48_000, PT_EVENT_48K, None));
        }
        codecs.push(event_parameters(8_000, PT_EVENT_8K, None));
        self.peer(codecs).await
    }

    /// The peer connection for answering `offer`: the codecs we share with it, with its payload
    /// types, in our order of preference.
    async fn peer_for_answer(&self, offer: &AudioSection) -> Result<Arc<dyn PeerConnection>, PhoneError> {
        let mut codecs = Vec::new();
        for codec in dedup(&self.shared.cfg.codecs) {
            if let Some(map) = offer.maps.iter().find(|m| m.format() == Format::Audio(codec)) {
                codecs.push(codec_parameters(codec, map.payload_type));
            }
        }
        // One telephone-event only, the one going with the codec we will send: the crate matches
        // telephone-events by name and format parameters, not clock rate, and would answer a
        // Chrome offer's two (48000 and 8000) as one payload type twice.
        if let Some((codec, _)) = offer.send_codec(&self.shared.cfg.codecs)
            && let Some((pt, rate)) = offer.telephone_event(codec)
        {
            let fmtp = offer
                .maps
                .iter()
                .find(|m| m.payload_type == pt)
                .and_then(|m| m.fmtp.as_deref());
            codecs.push(event_parameters(rate, pt, fmtp));
        }
        self.peer(codecs).await
    }

    fn existing_peer(&self) -> Result<Arc<dyn PeerConnection>, PhoneError> {
        self.pc
            .get()
            .cloned()
            .ok_or_else(|| PhoneError::Media("nothing negotiated yet".into()))
    }

    async fn ensure_track(&self, negotiation: &mut Negotiation) -> Result<(), PhoneError> {
        if !negotiation.track_added {
            let pc = self.existing_peer()?;
            let track: Arc<dyn TrackLocal> = self.track.clone();
            guarded("add track", async move { pc.add_track(track).await.map(|_| ()) }).await?;
            negotiation.track_added = true;
        }
        Ok(())
    }

    /// Tells the crate which codec our RTP stream uses, before the negotiation that starts it.
    ///
    /// `webrtc` 0.21 registers a sender's stream with its interceptors (sender reports, TWCC)
    /// once, when the first negotiation completes, and only if the track's encoding names a
    /// negotiated codec. Our track names none (so that offers list every codec); here the crate's
    /// copy of the track is swapped for one naming the codec about to be negotiated. Same SSRC and
    /// track id, so the `TrackLocalStaticRTP` we write to stays bound.
    async fn bind_codec(&self, negotiation: &mut Negotiation, codec: Codec) -> Result<(), PhoneError> {
        if negotiation.bound_codec.is_some() {
            return Ok(());
        }
        let pc = self.existing_peer()?;
        let carrier: Arc<dyn TrackLocal> = Arc::new(local_track(self.ssrc, Some(codec)));
        guarded("set the sender's codec", async move {
            for sender in pc.get_senders().await {
                sender.replace_track(Arc::clone(&carrier)).await?;
            }
            Ok(())
        })
        .await?;
        negotiation.bound_codec = Some(codec);
        Ok(())
    }

    /// Our local description once ICE gathering is complete (or the timeout passed).
    async fn gathered_local_sdp(&self) -> Result<String, PhoneError> {
        let mut gathered = self.shared.gathered.subscribe();
        let timeout = self.shared.cfg.ice_gathering_timeout;
        if tokio::time::timeout(timeout, gathered.wait_for(|done| *done))
            .await
            .is_err()
        {
            tracing::debug!(
                ?timeout,
                "ICE gathering not complete; using the candidates so far"
            );
        }
        let desc = self
            .existing_peer()?
            .local_description()
            .await
            .ok_or_else(|| PhoneError::Media("no local description".into()))?;
        if sdp::candidate_count(&desc.sdp) == 0 {
            return Err(PhoneError::Media(format!(
                "no ICE candidate gathered within {timeout:?}"
            )));
        }
        Ok(desc.sdp)
    }

    async fn offer(&self, negotiation: &mut Negotiation) -> Result<String, PhoneError> {
        let pc = self.peer_for_offer().await?;
        self.ensure_track(negotiation).await?;
        guarded("create offer", async move {
            let offer = pc.create_offer(None).await?;
            pc.set_local_description(offer).await
        })
        .await?;
        let local = self.gathered_local_sdp().await?;
        let direction = if negotiation.local_hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        negotiation.pending_offer = Some(direction);
        Ok(sdp::finalize_local(&local, direction))
    }

    /// The SDP offer of an outgoing INVITE: one audio stream, all our codecs, DTLS fingerprint,
    /// and every ICE candidate gathered within [`MediaConfig::ice_gathering_timeout`].
    pub async fn create_offer(&self) -> Result<String, PhoneError> {
        let mut negotiation = self.negotiation.lock().await;
        self.offer(&mut negotiation).await
    }

    /// Applies the far end's answer to our last offer (from [`create_offer`](Self::create_offer) or
    /// [`hold`](Self::hold)). Media starts flowing once ICE and DTLS complete.
    pub async fn accept_answer(&self, answer: &str) -> Result<(), PhoneError> {
        let mut negotiation = self.negotiation.lock().await;
        let offered = negotiation
            .pending_offer
            .ok_or_else(|| PhoneError::Media("no offer is waiting for an answer".into()))?;
        let info = sdp::inspect(answer)?;
        if info.audio.port == 0 {
            return Err(PhoneError::Media(
                "the far end rejected the audio stream (port 0)".into(),
            ));
        }
        let Some((codec, _)) = info.audio.send_codec(&self.shared.cfg.codecs) else {
            return Err(PhoneError::Media(format!(
                "the answer has no codec we offered (payload types {:?})",
                info.audio.formats
            )));
        };
        self.bind_codec(&mut negotiation, codec).await?;
        let prepared = sdp::prepare_remote(answer, &info);
        let pc = self.existing_peer()?;
        guarded("apply answer", async move {
            let desc = RTCSessionDescription::answer(prepared)?;
            pc.set_remote_description(desc).await
        })
        .await?;
        negotiation.pending_offer = None;
        let agreed = offered.agreed_with_answer(info.audio.direction);
        self.apply(
            &info.audio,
            info.audio.payload_map(),
            agreed,
            negotiation.local_hold,
        );
        Ok(())
    }

    async fn answer(&self, offer: &str) -> Result<String, PhoneError> {
        let mut negotiation = self.negotiation.lock().await;
        let info = sdp::inspect(offer)?;
        if info.audio.port == 0 {
            return Err(PhoneError::Media(
                "the offer's audio stream is disabled (port 0)".into(),
            ));
        }
        let Some((codec, _)) = info.audio.send_codec(&self.shared.cfg.codecs) else {
            let offered: Vec<String> = info
                .audio
                .maps
                .iter()
                .map(|m| format!("{}/{}", m.name, m.clock_rate))
                .collect();
            return Err(PhoneError::Media(format!(
                "no common audio codec; offered: {}",
                offered.join(", ")
            )));
        };
        let prepared = sdp::prepare_remote(offer, &info);
        let pc = self.peer_for_answer(&info.audio).await?;
        guarded("apply offer", async move {
            let desc = RTCSessionDescription::offer(prepared)?;
            pc.set_remote_description(desc).await
        })
        .await?;
        self.ensure_track(&mut negotiation).await?;
        self.bind_codec(&mut negotiation, codec).await?;
        let pc = self.existing_peer()?;
        guarded("create answer", async move {
            let answer = pc.create_answer(None).await?;
            pc.set_local_description(answer).await
        })
        .await?;
        let local = self.gathered_local_sdp().await?;
        let direction = Direction::answer_to(info.audio.direction, negotiation.local_hold);
        let answer = sdp::finalize_local(&local, direction);
        let ours = sdp::inspect(&answer)?;
        let mut payloads = info.audio.payload_map();
        payloads.extend(ours.audio.payload_map());
        self.apply(&ours.audio, payloads, direction, negotiation.local_hold);
        negotiation.pending_offer = None;
        Ok(answer)
    }

    /// The answer to an incoming INVITE's offer (non-trickle, candidates included). An error means
    /// the offer is unusable: answer 488 Not Acceptable Here.
    pub async fn answer_offer(&self, offer: &str) -> Result<String, PhoneError> {
        self.answer(offer).await
    }

    /// The answer to a re-INVITE's offer: the far end holds us (`sendonly`/`inactive` → we answer
    /// `recvonly`/`inactive` and stop sending), resumes, or changes codec or address.
    pub async fn answer_reoffer(&self, offer: &str) -> Result<String, PhoneError> {
        self.answer(offer).await
    }

    /// Puts the call on hold (`on`) or resumes it: returns the offer for the re-INVITE
    /// (`a=sendonly` / `a=sendrecv`); give its answer to [`accept_answer`](Self::accept_answer).
    /// While on hold we send silence and play nothing, from this call on.
    pub async fn hold(&self, on: bool) -> Result<String, PhoneError> {
        let mut negotiation = self.negotiation.lock().await;
        negotiation.local_hold = on;
        lock(&self.shared.send).local_hold = on;
        if on {
            lock(&self.shared.recv).accept = false;
        }
        self.offer(&mut negotiation).await
    }

    fn apply(
        &self,
        section: &AudioSection,
        payloads: HashMap<u8, Format>,
        direction: Direction,
        local_hold: bool,
    ) {
        let codec = section.send_codec(&self.shared.cfg.codecs);
        let telephone_event = codec.and_then(|(c, _)| section.telephone_event(c));
        tracing::debug!(?codec, ?telephone_event, ?direction, "media negotiated");
        {
            let mut send = lock(&self.shared.send);
            send.codec = codec;
            send.telephone_event = telephone_event;
            send.direction = Some(direction);
            send.local_hold = local_hold;
        }
        let mut recv = lock(&self.shared.recv);
        recv.payloads = payloads;
        recv.accept = direction.has_recv() && !local_hold;
        if !recv.accept {
            recv.jitter.reset();
        }
    }

    /// Sends silence instead of the microphone (`true`) or the microphone again.
    pub fn set_muted(&self, muted: bool) {
        self.shared.muted.store(muted, Ordering::Relaxed);
    }

    pub fn is_muted(&self) -> bool {
        self.shared.muted.load(Ordering::Relaxed)
    }

    /// Whether RFC 4733 DTMF was negotiated (else use SIP INFO).
    pub fn can_send_dtmf(&self) -> bool {
        lock(&self.shared.send).telephone_event.is_some()
    }

    /// Sends `digits` (0-9, *, #, A-D) as RFC 4733 telephone-events in the RTP stream, 100 ms
    /// each with 60 ms gaps; returns when they are sent. Errors when telephone-event was not
    /// negotiated (fall back to SIP INFO), media is not flowing, or a digit is invalid.
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), PhoneError> {
        let codes = dtmf::parse_digits(digits)?;
        if codes.is_empty() {
            return Ok(());
        }
        if !self.can_send_dtmf() {
            return Err(PhoneError::Media(
                "telephone-event was not negotiated; use SIP INFO".into(),
            ));
        }
        let (done, result) = oneshot::channel();
        let steps = u32::try_from(codes.len()).unwrap_or(u32::MAX).saturating_mul(11);
        self.dtmf_tx
            .try_send(DtmfJob { codes, done })
            .map_err(|_| PhoneError::Media("too many DTMF requests pending".into()))?;
        let limit = FRAME_DURATION * steps.saturating_add(100);
        match tokio::time::timeout(limit, result).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(PhoneError::Media("the media session ended".into())),
            Err(_) => Err(PhoneError::Media("DTMF was not sent in time".into())),
        }
    }

    /// Current state of the media path.
    pub fn state(&self) -> MediaState {
        *self.shared.state.borrow()
    }

    /// Changes of the media path's state; [`MediaState::Failed`] means the call's media is dead.
    pub fn state_watch(&self) -> watch::Receiver<MediaState> {
        self.shared.state.subscribe()
    }

    /// When the first RTP packet from the far end arrived; waits for it. Errors if the session
    /// fails or closes first.
    pub async fn first_rtp(&self) -> Result<Instant, PhoneError> {
        let mut first = self.shared.first_rtp.subscribe();
        let mut state = self.shared.state.subscribe();
        tokio::select! {
            got = first.wait_for(Option::is_some) => {
                got.ok().and_then(|v| *v).ok_or_else(|| PhoneError::Media("the media session ended".into()))
            }
            ended = state.wait_for(|s| matches!(s, MediaState::Failed | MediaState::Closed)) => {
                let how = ended.map(|s| *s).unwrap_or(MediaState::Closed);
                Err(PhoneError::Media(format!("media {how:?} before any RTP arrived")))
            }
        }
    }

    /// Counters and quality now.
    pub fn stats(&self) -> MediaStats {
        let send = *lock(&self.shared.send);
        let recv = lock(&self.shared.recv);
        let remote = lock(&self.shared.remote).clone();
        let c = &self.shared.counters;
        let jb = recv.jitter.counters();
        let rtt_ms = remote.rtt.map(|d| d.as_secs_f64() * 1000.0);
        let remote_jitter_ms = match (remote.jitter_units, send.codec) {
            (Some(units), Some((codec, _))) => {
                Some(f64::from(units) * 1000.0 / f64::from(codec.clock_rate()))
            }
            _ => None,
        };
        let loss = recv
            .stats
            .loss_fraction()
            .max(remote.fraction_lost.unwrap_or(0.0));
        let jitter = recv.stats.jitter_ms().max(remote_jitter_ms.unwrap_or(0.0));
        let receive_codec = *lock(&c.receive_codec);
        let codec = send.codec.map(|(c, _)| c).or(receive_codec);
        MediaStats {
            state: *self.shared.state.borrow(),
            send_codec: send.codec,
            receive_codec,
            direction: send.direction,
            packets_sent: c.packets_sent.load(Ordering::Relaxed),
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
            dtmf_packets_sent: c.dtmf_sent.load(Ordering::Relaxed),
            packets_received: recv.stats.packets,
            bytes_received: recv.stats.bytes,
            packets_lost: recv.stats.lost(),
            loss_fraction: recv.stats.loss_fraction(),
            late_packets: jb.late,
            duplicate_packets: jb.duplicates,
            frames_played: c.frames_played.load(Ordering::Relaxed),
            frames_concealed: c.frames_concealed.load(Ordering::Relaxed),
            frames_recovered_fec: c.frames_fec.load(Ordering::Relaxed),
            jitter_ms: recv.stats.jitter_ms(),
            remote_loss_fraction: remote.fraction_lost,
            remote_packets_lost: remote.total_lost,
            remote_jitter_ms,
            rtt_ms,
            mos: estimate_mos(codec, rtt_ms, jitter, loss),
            first_rtp_at: *self.shared.first_rtp.borrow(),
            dtmf_received: recv.dtmf.clone(),
        }
    }

    /// Stops the tasks and closes the peer connection (no more media). Idempotent.
    pub async fn close(&self) {
        let tasks: Vec<JoinHandle<()>> = lock(&self.tasks).drain(..).collect();
        for task in tasks {
            task.abort();
        }
        let Some(pc) = self.pc.get().cloned() else {
            self.shared.state.send_replace(MediaState::Closed);
            return;
        };
        if let Err(err) = guarded("close", async move { pc.close().await }).await {
            tracing::debug!(%err, "closing the peer connection");
        }
        self.shared.state.send_replace(MediaState::Closed);
    }
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Reads the microphone, encodes and sends; sends DTMF in place of audio while a job runs.
/// How the crate's connection set-up is tuned for calls.
///
/// * ICE connectivity checks every 20 ms instead of the crate's 200 ms (pion's default), 70 tries per pair:
///   the same 1.4 s before a pair is given up, but the audio path is found in one or two round trips, about
///   as fast as a browser (which paces its checks at 50 ms or less), instead of waiting up to 200 ms for the
///   next check and again for the nomination.
/// * Answering, we take the DTLS server's part (`a=setup:passive`; RFC 5763 lets the answerer pick either).
///   As the client, the crate's first ClientHello waits in its DTLS layer for a ~200 ms timer once ICE
///   connects (seen in `rtc_dtls` debug logs); as the server we answer the far end's ClientHello as it
///   arrives. Incoming calls (Exotel's agent flow) are the ones we answer.
fn engine_settings() -> SettingEngine {
    SettingEngineBuilder::new()
        .with_ice_connection_attempts(Some(Duration::from_millis(20)), Some(70))
        .with_answering_dtls_role(rtc::peer_connection::transport::RTCDtlsRole::Server)
        .build()
}

async fn send_loop(
    shared: Arc<Shared>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    mut capture: CaptureStream,
    mut dtmf_rx: mpsc::Receiver<DtmfJob>,
) {
    let mut seq: u16 = rand::random();
    let mut timestamp: u32 = rand::random();
    let mut encoder: Option<(Codec, Encoder)> = None;
    let mut marker = true;
    let mut job: Option<(Player, oneshot::Sender<Result<(), PhoneError>>)> = None;
    let mut event_timestamp = timestamp;
    let silence = vec![0i16; FRAME_SAMPLES];
    while let Some(frame) = capture.next_frame().await {
        if job.is_none()
            && let Ok(next) = dtmf_rx.try_recv()
        {
            let clock = lock(&shared.send)
                .telephone_event
                .map_or(8_000, |(_, clock)| clock);
            job = Some((Player::new(next.codes, clock), next.done));
        }
        let params = *lock(&shared.send);
        let connected = *shared.state.borrow() == MediaState::Connected;
        let Some((codec, payload_type)) = params.codec else {
            continue;
        };
        let step = codec.frame_units();
        let sending = connected && params.direction.is_some_and(Direction::has_send);
        if !sending {
            timestamp = timestamp.wrapping_add(step);
            marker = true;
            if let Some((_, done)) = job.take() {
                let _ = done.send(Err(PhoneError::Media("media is not flowing".into())));
            }
            continue;
        }
        if encoder.as_ref().is_none_or(|(c, _)| *c != codec) {
            match Encoder::new(codec, shared.cfg.opus) {
                Ok(e) => encoder = Some((codec, e)),
                Err(err) => {
                    tracing::warn!(%err, "cannot create the encoder");
                    continue;
                }
            }
        }
        let mut packet_out: Option<(u8, Vec<u8>, bool, u32)> = None;
        if let Some((player, _)) = job.as_mut() {
            match (player.next_step(), params.telephone_event) {
                (
                    Some(Step::Event {
                        payload,
                        marker: m,
                        starts_event,
                    }),
                    Some((te_pt, _)),
                ) => {
                    if starts_event {
                        event_timestamp = timestamp;
                    }
                    packet_out = Some((te_pt, payload.to_vec(), m, event_timestamp));
                }
                (Some(Step::Event { .. }), None) => {
                    if let Some((_, done)) = job.take() {
                        let _ = done.send(Err(PhoneError::Media(
                            "telephone-event is no longer negotiated".into(),
                        )));
                    }
                }
                _ => {}
            }
            if job.as_ref().is_some_and(|(p, _)| p.is_done())
                && let Some((_, done)) = job.take()
            {
                let _ = done.send(Ok(()));
            }
        }
        let is_dtmf = packet_out.is_some();
        let (pt, payload, m, ts) = match packet_out {
            Some(p) => p,
            None => {
                let silent = shared.muted.load(Ordering::Relaxed) || params.local_hold;
                let pcm: &[i16] = if silent { &silence } else { &frame };
                let Some((_, enc)) = encoder.as_mut() else {
                    continue;
                };
                match enc.encode(pcm) {
                    Ok(payload) => (payload_type, payload, marker, timestamp),
                    Err(err) => {
                        tracing::warn!(%err, "encode failed");
                        timestamp = timestamp.wrapping_add(step);
                        continue;
                    }
                }
            }
        };
        let len = payload.len();
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker: m,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        };
        match track.write_rtp(packet).await {
            Ok(()) => {
                let c = &shared.counters;
                c.packets_sent.fetch_add(1, Ordering::Relaxed);
                c.bytes_sent.fetch_add(len as u64, Ordering::Relaxed);
                if is_dtmf {
                    c.dtmf_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(err) => {
                shared.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(%err, "RTP write failed");
            }
        }
        seq = seq.wrapping_add(1);
        timestamp = timestamp.wrapping_add(step);
        marker = false;
    }
    if let Some((_, done)) = job.take() {
        let _ = done.send(Err(PhoneError::Media("the microphone stream ended".into())));
    }
}

/// Every 20 ms: pulls from the jitter buffer, decodes or conceals, plays one frame. Starts playing
/// with the first received packet and then keeps the sink fed (silence when nothing comes).
async fn playout_loop(shared: Arc<Shared>, playback: Arc<dyn Playback>) {
    let mut tick = interval(FRAME_DURATION);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut decoder: Option<Decoder> = None;
    let mut pcm: VecDeque<i16> = VecDeque::with_capacity(FRAME_SAMPLES * 4);
    let mut scratch: Vec<i16> = Vec::with_capacity(FRAME_SAMPLES * 6);
    let mut started = false;
    loop {
        tick.tick().await;
        let mut concealed = false;
        while pcm.len() < FRAME_SAMPLES {
            let (pop, payloads) = {
                let mut recv = lock(&shared.recv);
                let pop = recv.jitter.pop();
                let payloads = match &pop {
                    Pop::Packet(p) => recv.payloads.get(&p.payload_type).copied(),
                    _ => None,
                };
                (pop, payloads)
            };
            scratch.clear();
            match pop {
                Pop::Packet(packet) => {
                    let Some(Format::Audio(codec)) = payloads else {
                        continue;
                    };
                    if decoder.as_ref().is_none_or(|d| d.codec() != codec) {
                        match Decoder::new(codec) {
                            Ok(d) => decoder = Some(d),
                            Err(err) => {
                                tracing::warn!(%err, "cannot create the decoder");
                                continue;
                            }
                        }
                        *lock(&shared.counters.receive_codec) = Some(codec);
                    }
                    started = true;
                    if let Some(d) = decoder.as_mut()
                        && !d.decode(&packet.payload, &mut scratch)
                    {
                        concealed = true;
                    }
                }
                Pop::Lost { next } => {
                    if let Some(d) = decoder.as_mut() {
                        let next_payload = next.as_ref().map(|p| p.payload.as_ref());
                        match d.conceal(next_payload, &mut scratch) {
                            Concealment::Fec => {
                                shared.counters.frames_fec.fetch_add(1, Ordering::Relaxed);
                            }
                            Concealment::Plc | Concealment::Silence => concealed = true,
                        }
                    }
                }
                Pop::Empty => break,
            }
            pcm.extend(scratch.iter().copied());
        }
        if !started {
            continue;
        }
        if pcm.len() < FRAME_SAMPLES {
            // Nothing arrived in time (or the far end stopped): conceal, then silence.
            scratch.clear();
            match decoder.as_mut() {
                Some(d) => {
                    d.conceal(None, &mut scratch);
                }
                None => scratch.resize(FRAME_SAMPLES, 0),
            }
            pcm.extend(scratch.iter().copied());
            concealed = true;
            if pcm.len() < FRAME_SAMPLES {
                pcm.resize(FRAME_SAMPLES, 0);
            }
        }
        let frame: Vec<i16> = pcm.drain(..FRAME_SAMPLES).collect();
        // Never let decoded audio pile up (packets longer than 20 ms are drained next ticks).
        while pcm.len() > FRAME_SAMPLES * 6 {
            pcm.pop_front();
        }
        playback.play(&frame);
        shared.counters.frames_played.fetch_add(1, Ordering::Relaxed);
        if concealed {
            shared.counters.frames_concealed.fetch_add(1, Ordering::Relaxed);
        }
    }
}
