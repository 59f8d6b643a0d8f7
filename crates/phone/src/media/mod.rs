//! The media engine of a call: WebRTC audio (ICE, DTLS-SRTP, RTP/RTCP over one bundled,
//! RTCP-multiplexed UDP flow) between the [`audio`](crate::audio) devices and the far end, driven
//! by SDP that the SIP layer carries in INVITE / 200 OK / re-INVITE.
//!
//! # Using it from the SIP layer
//!
//! ```no_run
//! # async fn demo(remote_answer: &str) -> Result<(), leadline_phone::PhoneError> {
//! use leadline_phone::audio::{self, AudioPath, NullPlayback};
//! use leadline_phone::media::{MediaConfig, MediaSession};
//! use std::sync::Arc;
//!
//! let cfg = MediaConfig { stun_servers: vec!["stun:stun.l.google.com:19302".into()], ..MediaConfig::default() };
//! let media = MediaSession::new(&cfg, AudioPath { capture: audio::silence(), playback: Arc::new(NullPlayback) }).await?;
//! let offer = media.create_offer().await?;     // body of the INVITE (candidates included)
//! media.accept_answer(remote_answer).await?;   // body of the 200 OK
//! let _ = media.first_rtp().await;             // far end's audio started
//! let _hold_offer = media.hold(true).await?;   // body of a re-INVITE; then accept_answer(..)
//! media.close().await;                          // after BYE
//! # Ok(()) }
//! ```
//!
//! An incoming call is [`MediaSession::answer_offer`] (the INVITE's SDP → the 200 OK's SDP); an
//! incoming re-INVITE is [`MediaSession::answer_reoffer`]. An error from either means "488 Not
//! Acceptable Here". Watch [`MediaSession::state_watch`]: [`MediaState::Failed`] means the media
//! path is dead (ICE/DTLS failure or consent expiry) and the call should end.
//!
//! # Design
//!
//! * One [`MediaSession`] is one `webrtc` 0.21 peer connection with one audio transceiver, whose
//!   local track is a `TrackLocalStaticRTP`: the engine builds its own RTP packets (codec payloads
//!   and RFC 4733 telephone-events on one SSRC and sequence), the crate protects and sends them.
//!   The peer connection is built by the first offer or answer: an answer reuses the offer's
//!   payload types (the crate would otherwise answer with its own numbers) and carries one
//!   telephone-event, the one at the clock rate of the codec we send.
//! * Codecs: Opus 48000/2 (`minptime=10;useinbandfec=1`; encoder 20 ms, VoIP, in-band FEC for
//!   10 % loss), PCMU/8000 (PT 0), PCMA/8000 (PT 8) in [`MediaConfig::codecs`] order, and
//!   telephone-event/48000 (PT 110, with Opus) and telephone-event/8000 (PT 101). G.711 resamples
//!   48 kHz ⇄ 8 kHz with a polyphase FIR ([`resample`]) and companding written here ([`g711`]).
//! * We send with the first codec of the *answer* we support (RFC 3264), and decode whatever
//!   payload type arrives (every type of both offer and answer is mapped).
//! * Receive: every RTP packet goes through RFC 3550 statistics into a bounded [`jitter`] buffer;
//!   a playout task pulls one 20 ms frame per tick, decodes it, conceals losses (Opus: FEC from
//!   the next packet, else PLC; G.711: repeat and fade) and hands it to the playback sink.
//! * Quality ([`quality`]): local receive statistics, the far end's reception reports (RR blocks,
//!   or SR blocks while it sends) read by an interceptor that also times our sender reports, so
//!   the round-trip time is `arrival − LSR send time − DLSR`, and an E-model MOS estimate.
//! * Direction (hold) is owned here, not by the crate: `webrtc` 0.21 answers a re-offer of
//!   `sendonly` with `sendrecv` and *stops* a transceiver for good on an `inactive` offer. So the
//!   crate is always shown `sendrecv` (the far end's SDP is rewritten before it is applied) and
//!   the direction we mean is written into the SDP we return; the engine then simply does not
//!   send (or does not play) what the agreed direction excludes. Holding sends silence
//!   (`sendonly`: RTP keeps NAT bindings and media timers alive) and stops playing.
//! * Non-trickle ICE: offers and answers are returned only after ICE gathering completes or
//!   [`MediaConfig::ice_gathering_timeout`] passes; the `m=` port and `c=` address are set to the
//!   default candidate like browsers do.
//! * Far-end SDP is checked by our own parser first ([`sdp::inspect`]): malformed SDP, no audio,
//!   no DTLS fingerprint / ICE credentials or no common codec are [`PhoneError::Media`](crate::PhoneError::Media) errors.
//!   Every call into the crate runs on its own task, so even a panic inside it is an error.
//! * Everything is bounded: the capture queue (audio module), the jitter buffer (50 packets), the
//!   crate's channels (it drops RTP when the reader falls behind), the DTMF queue (4 requests).

mod codec;
mod dtmf;
pub mod g711;
pub mod jitter;
pub mod quality;
pub mod resample;
pub mod sdp;
mod session;

use std::time::{Duration, Instant};

pub use codec::OpusSettings;
pub use jitter::JitterConfig;
pub use sdp::Direction;
pub use session::MediaSession;

/// An audio codec the engine can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Opus 48000/2 (mono content), payload type 111 in our offers.
    Opus,
    /// G.711 μ-law, PCMU/8000, payload type 0.
    Pcmu,
    /// G.711 A-law, PCMA/8000, payload type 8.
    Pcma,
}

impl Codec {
    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            Self::Pcmu | Self::Pcma => 8_000,
        }
    }

    /// RTP timestamp units per 20 ms frame.
    pub fn frame_units(self) -> u32 {
        self.clock_rate() / 50
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Opus => "opus",
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }
}

/// Settings of a [`MediaSession`].
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    /// STUN servers, `stun:host:port` (server-reflexive candidates). Empty: host candidates only.
    pub stun_servers: Vec<String>,
    /// Longest wait for ICE gathering before an offer or answer is returned anyway.
    pub ice_gathering_timeout: Duration,
    /// Codecs in order of preference (default Opus, PCMU, PCMA). Exotel accounts without Opus
    /// negotiate PCMU/PCMA from the same offer.
    pub codecs: Vec<Codec>,
    /// Local UDP addresses to bind (default `0.0.0.0:0`: every interface, any port).
    pub bind_addrs: Vec<String>,
    /// Jitter buffer tuning.
    pub jitter: JitterConfig,
    /// Opus encoder settings.
    pub opus: OpusSettings,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            stun_servers: Vec::new(),
            ice_gathering_timeout: Duration::from_secs(3),
            codecs: vec![Codec::Opus, Codec::Pcmu, Codec::Pcma],
            bind_addrs: vec!["0.0.0.0:0".to_owned()],
            jitter: JitterConfig::default(),
            opus: OpusSettings::default(),
        }
    }
}

/// State of the media path (the peer connection's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaState {
    /// Not negotiated yet.
    New,
    /// ICE / DTLS in progress.
    Connecting,
    /// Media can flow.
    Connected,
    /// Connectivity lost for now; may come back (ICE consent), or end in `Failed`.
    Disconnected,
    /// ICE or DTLS failed: the call's media is dead; end the call.
    Failed,
    /// Closed by [`MediaSession::close`].
    Closed,
}

/// A snapshot of a session's counters and quality (see [`MediaSession::stats`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaStats {
    pub state: MediaState,
    /// The codec we send with, and its payload type.
    pub send_codec: Option<(Codec, u8)>,
    /// The codec of the last audio packet decoded.
    pub receive_codec: Option<Codec>,
    /// The agreed direction of the audio stream.
    pub direction: Option<Direction>,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// RFC 4733 packets sent.
    pub dtmf_packets_sent: u64,
    /// RTP packets received (all payload types; payload bytes).
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Lost on the way to us (from sequence numbers), and that fraction of the expected packets.
    pub packets_lost: u64,
    pub loss_fraction: f64,
    /// Arrived too late for playout, or twice.
    pub late_packets: u64,
    pub duplicate_packets: u64,
    /// 20 ms frames played, concealed (PLC/silence for missing packets) and recovered by Opus FEC.
    pub frames_played: u64,
    pub frames_concealed: u64,
    pub frames_recovered_fec: u64,
    /// Interarrival jitter of what we receive (RFC 3550), ms.
    pub jitter_ms: f64,
    /// The far end's view of our stream, from its RTCP reception reports.
    pub remote_loss_fraction: Option<f64>,
    pub remote_packets_lost: Option<u64>,
    pub remote_jitter_ms: Option<f64>,
    /// Round-trip time from RTCP (LSR/DLSR), ms.
    pub rtt_ms: Option<f64>,
    /// Estimated MOS (1–4.41), simplified E-model over the worse direction; see [`quality`].
    pub mos: f64,
    /// When the first RTP packet from the far end arrived.
    pub first_rtp_at: Option<Instant>,
    /// DTMF digits received as RFC 4733 events (the last 64).
    pub dtmf_received: String,
}
