//! Typed errors of the phone crate.

use std::fmt;

/// Why a WebSocket connection to the SIP server could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectCause {
    /// HTTP status of the refused WebSocket upgrade, when the server answered at all.
    pub http_status: Option<u16>,
    /// Human-readable cause (I/O error, TLS failure, missing `sip` subprotocol, time-out, ...).
    pub message: String,
}

impl fmt::Display for ConnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.http_status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConnectCause {}

/// Everything that can go wrong in the user agent. Cheap to clone so it can travel in
/// [`PhoneEvent`](crate::PhoneEvent)s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// The registrar refused our credentials: it challenged again after we answered a fresh
    /// challenge, or it answered 403 Forbidden.
    #[error("authentication failed for realm {realm:?}: check the SIP username and password")]
    AuthFailed { realm: String },
    /// The SIP server could not be reached or the WebSocket handshake failed.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: ConnectCause,
    },
    /// No final answer from the server in time.
    #[error("timed out waiting for the SIP server")]
    Timeout,
    /// The server answered with a final error response we cannot recover from.
    #[error("rejected by the SIP server: {code} {reason}")]
    Rejected { code: u16, reason: String },
    /// The server sent something that is not valid SIP or breaks the protocol.
    #[error("SIP protocol error: {0}")]
    Protocol(String),
    /// The connection closed while a request was in flight.
    #[error("connection lost: {reason}")]
    Disconnected { reason: String },
    /// The configuration cannot work (bad URL, empty username, ...).
    #[error("invalid phone configuration: {0}")]
    InvalidConfig(String),
    /// The user agent has been shut down; the handle is no longer usable.
    #[error("the user agent is shut down")]
    Stopped,
    /// The call is over; nothing more can be done with it.
    #[error("the call is over")]
    CallOver,
    /// A request the phone cannot carry out as asked (a number it cannot dial, DTMF that is not DTMF, a hold
    /// before the answer).
    #[error("{0}")]
    InvalidInput(String),
    /// The media engine failed: unusable SDP (answer 488), no common codec, a WebRTC failure, or a
    /// media request that cannot be served now (e.g. DTMF without telephone-event).
    #[error("media: {0}")]
    Media(String),
}

impl PhoneError {
    /// A [`PhoneError::Protocol`] whose text may quote network input: control characters are
    /// escaped (no forged log lines) and the length is capped.
    pub(crate) fn protocol(message: impl AsRef<str>) -> Self {
        const MAX: usize = 500;
        let message = message.as_ref();
        let mut out = String::with_capacity(message.len().min(MAX + 8));
        for c in message.chars().take(MAX) {
            if c.is_control() {
                out.extend(c.escape_debug());
            } else {
                out.push(c);
            }
        }
        if message.chars().nth(MAX).is_some() {
            out.push('…');
        }
        Self::Protocol(out)
    }

    /// True for errors that retrying with the same configuration will not fix.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::AuthFailed { .. } | Self::InvalidConfig(_) | Self::Stopped
        )
    }
}
