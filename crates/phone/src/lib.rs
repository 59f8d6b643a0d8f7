//! Leadline's softphone: a SIP user agent over WebSocket (RFC 7118) with WebRTC audio.
//!
//! It registers with the provider's WebSocket gateway (Exotel: `wss://voip.exotel.in:443/wss`, domain
//! `<account_sid>.voip.exotel.com`) with digest authentication and keeps the registration alive; places
//! and answers calls (INVITE with digest challenges, early media, CANCEL, typed refusals; ringing,
//! answering, rejecting, auto-answer); holds, mutes, sends DTMF (RFC 4733 or SIP INFO), transfers (REFER)
//! and hangs up either way; carries the audio with the `webrtc` crate (ICE, DTLS-SRTP, Opus with FEC,
//! PCMU/PCMA, a jitter buffer with loss concealment, RTCP figures and an estimated MOS) between the OS sound
//! devices ([`audio`]) and the far end ([`media`]); and writes every call into the local store as it happens
//! ([`CallJournal`]), so that none goes unlogged, not even one a crash cuts short.
//!
//! # Usage
//!
//! ```no_run
//! # async fn demo() -> Result<(), leadline_phone::PhoneError> {
//! use leadline_phone::{PhoneConfig, PhoneEvent, UserAgent};
//!
//! let mut config = PhoneConfig::new("wss://voip.exotel.in:443/wss", "acme.voip.exotel.com", "agent7", "s3cret");
//! config.display_name = Some("Agent 7".into());
//! config.media.stun_servers = vec!["stun:stun.l.google.com:19302".into()];
//! let (phone, mut events) = UserAgent::start(config)?;
//! while let Ok(event) = events.recv().await {
//!     match event {
//!         PhoneEvent::Registered { expires } => {
//!             println!("online for {expires}s");
//!             let call = phone.dial("+919812345678").await?;
//!             if call.connected().await {
//!                 call.send_dtmf("1").await?;
//!                 call.hang_up().await;
//!             }
//!             println!("ended: {:?}", call.ended().await);
//!         }
//!         PhoneEvent::IncomingCall(call) => call.answer().await?,
//!         PhoneEvent::RegistrationFailed(err) => eprintln!("{err}"),
//!         _ => {}
//!     }
//! #   break;
//! }
//! phone.shutdown().await?; // REGISTER Expires: 0, then close
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! Layers, bottom to top:
//!
//! * `sip` — `rsip` 0.4 parses and prints SIP messages. Every frame from
//!   the network goes through `sip::parse_message`, which caps the size and turns any parser
//!   failure (even a panic inside the parser) into [`PhoneError::Protocol`].
//! * `transport` — one WebSocket connection (tokio-tungstenite, subprotocol `sip`, rustls with the
//!   aws-lc-rs provider for `wss://`). A reader task routes responses to the waiting client
//!   transaction by the branch of their top Via, passes requests to the request handler and reports
//!   garbage as [`PhoneEvent::ProtocolError`]. A writer task sends frames plus a WebSocket ping
//!   every `keepalive_interval`; silence for `keepalive_interval + keepalive_timeout` closes the
//!   connection. Client transactions are keyed by branch and method (a CANCEL shares its INVITE's
//!   branch); no retransmissions (WS is reliable); every wait is bounded.
//! * `inbound` — [`inbound::read_inbound`]: every reader above applied to one frame, in one pure function
//!   (what the fuzz bench and the property tests feed hostile bytes).
//! * `incoming` — requests from the server: those of a call's dialog go to its task, a new INVITE
//!   starts an incoming call, OPTIONS → 200 OK, a request for an unknown dialog → 481, others → 501.
//! * `digest` — RFC 2617 / RFC 7616 / RFC 8760 digest responses: MD5, MD5-sess, SHA-256,
//!   SHA-256-sess; qop `auth` (preferred), `auth-int` or none; hex nonce counts.
//! * `registration` — builds REGISTER requests. Via `SIP/2.0/WS(S) <random>.invalid;branch=z9hG4bK…`,
//!   a Contact `<sip:user@<random>.invalid;transport=ws>` with `+sip.instance` and `reg-id=1`
//!   (RFC 5626), Call-ID, From tag and Contact stable for the agent's lifetime, CSeq incremented
//!   per request. 401/407 are answered once per challenge; the challenge is cached so refreshes
//!   authenticate pre-emptively. A second challenge after fresh credentials (unless
//!   `stale=true`) or a 403 is [`PhoneError::AuthFailed`]. 423 is answered with the server's
//!   Min-Expires. The granted lifetime comes from our Contact's `expires` in the 200 OK, else the
//!   Expires header, and is never taken larger than requested.
//! * `agent` — [`UserAgent::start`] spawns one task owning the connection and the registrar; the
//!   cloneable [`UserAgentHandle`] talks to it through a command channel, reads the
//!   [`RegistrationState`] from a watch and events from a broadcast channel. The task refreshes
//!   at half the granted lifetime, and after a failure (connection refused, lost connection,
//!   time-out, server error) retries with exponential back-off with jitter (`retry_min` doubling
//!   up to `retry_max`, each delay randomised in `[d/2, d]`). Permanent errors (wrong password)
//!   stop the retries until [`UserAgentHandle::register_once`] is called, so a bad password
//!   never hammers the registrar. Shutdown (or dropping every handle) de-registers with
//!   Expires: 0.
//!
//! * `call` — a call's life apart from SIP and media: [`CallState`] (dialling, ringing, connected,
//!   on hold, ended), the moves a [`CallInput`] may make, the [`CallEvent`]s the app turns into the call's
//!   draft in the store, and the typed [`CallRefusal`] of a final SIP answer (busy, not found,
//!   unavailable, declined, auth failed, time-out, cancelled).
//! * `dialog` — one dialog's identifiers, route set and sequence numbers, and the messages built from
//!   them (INVITE, its ACK and CANCEL, in-dialog requests, answers with our tag). Pure.
//! * `session` — one task per call, driving its dialog, its [`media::MediaSession`] and its [`Call`];
//!   the app holds a [`CallHandle`] (live [`CallInfo`], answer, reject, hang up, mute, hold, DTMF,
//!   transfer). A media that never connects ends the call as [`CallFailure::AudioPath`] (the hint to fall
//!   back to click-to-call, see [`UserAgentHandle::call_route`]); a far end silent for `media_timeout`
//!   ends it as [`CallFailure::FarEndSilent`].
//! * `journal` — each call's entries (start, provider id, answer, heartbeat, end, quality) written in
//!   order to the [`CallJournal`] (the store's call drafts) on the blocking pool.
//!
//! The password is held in [`Password`] (secrecy), which never appears in `Debug` output or logs.

mod agent;
pub mod audio;
mod call;
mod config;
pub mod credentials;
pub mod desk;
mod dialog;
mod digest;
mod error;
pub mod inbound;
mod incoming;
mod journal;
pub mod media;
mod registration;
mod session;
mod sip;
mod transport;

pub use agent::{CallRoute, FallbackReason, PhoneEvent, RegistrationState, UserAgent, UserAgentHandle};
pub use call::{Call, CallEvent, CallInput, CallRefusal, CallState, InvalidMove};
pub use config::{Password, PhoneConfig, WsScheme};
pub use desk::{
    DeskAudio, DeskError, DeskEvent, DeskPhone, DeskState, DialOutcome, MemoryVault, OffReason, OsKeyring,
    PasswordVault,
};
pub use error::{ConnectCause, PhoneError};
pub use journal::{CallJournal, JournalEntry};
pub use registration::Registration;
pub use session::{AudioProvider, CallFailure, CallHandle, CallInfo};
