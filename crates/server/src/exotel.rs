//! Exotel, the cloud telephony provider: everything of the integration that does not touch the database.
//!
//! - [`parse_status_callback`]: the StatusCallback webhook Exotel POSTs when a call ends (form-encoded,
//!   with `Legs[i][…]` keys, or JSON when the call was placed with
//!   `StatusCallbackContentType=application/json`), into a typed [`StatusCallback`] with UTC times and an
//!   [idempotency key](StatusCallback::idempotency_key) for detecting replays (Exotel may deliver a
//!   callback more than once).
//! - [`ExotelClient::connect`]: click-to-call (`POST /v1/Accounts/<sid>/Calls/connect.json`): Exotel rings
//!   the agent (`From`) first, then the customer (`To`), showing the ExoPhone (`CallerId`).
//! - [`verify_webhook_secret`] and [`parse_basic_authorization`]: authenticating webhook requests by a
//!   per-tenant secret in the URL path or HTTP Basic credentials, compared in constant time.
//! - [`fake`]: a fake Exotel speaking the real wire format, for tests and local runs.
//!
//! Exotel sends times as `YYYY-MM-DD HH:MM:SS` in India Standard Time (+05:30, no daylight saving);
//! [`parse_exotel_time`] turns them (and ISO 8601 / RFC 3339 times) into UTC.

mod callback;
mod client;
pub mod fake;
mod webhook_auth;

#[cfg(test)]
mod tests;

pub use callback::{
    CallStatus, IST_OFFSET_SECONDS, Leg, StatusCallback, format_exotel_time, parse_exotel_time,
    parse_status_callback,
};
pub use client::{
    ConnectRequest, ConnectedCall, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, ExotelClient, ExotelConfig,
    MAX_CUSTOM_FIELD_LEN, MAX_TIME_LIMIT_S, MUMBAI_BASE_URL, read_connect_response,
};
pub use webhook_auth::{
    BasicCredentials, basic_authorization_header, parse_basic_authorization, verify_basic_authorization,
    verify_webhook_secret,
};

/// What went wrong talking to Exotel or reading what it sent.
#[derive(Debug, thiserror::Error)]
pub enum ExotelError {
    // --- reading a StatusCallback ---
    /// The callback's `Content-Type` is neither form-encoded nor JSON.
    #[error(
        "unsupported status callback content type {0:?} (expected application/x-www-form-urlencoded, multipart/form-data or application/json)"
    )]
    UnsupportedContentType(String),
    /// The body is not valid for its content type (bad JSON, not a JSON object, …).
    #[error("invalid status callback body: {0}")]
    InvalidBody(String),
    /// A required field is absent or empty.
    #[error("status callback has no {0}")]
    MissingField(&'static str),
    /// A field is present but its value cannot be understood.
    #[error("status callback field {field} = {value:?}: {reason}")]
    InvalidField {
        field: String,
        value: String,
        reason: &'static str,
    },

    // --- webhook authentication ---
    /// An `Authorization` header that is not valid HTTP Basic credentials.
    #[error("bad Authorization header: {0}")]
    BadAuthorization(&'static str),

    // --- the REST client ---
    /// The client configuration cannot work (empty account SID, base URL not http(s), …).
    #[error("invalid Exotel configuration: {0}")]
    InvalidConfig(String),
    /// The request was refused before sending it (empty number, custom field too long, …).
    #[error("invalid call request: {0}")]
    InvalidRequest(String),
    /// Exotel answered 401: wrong API key or token (or account SID).
    #[error("Exotel refused the credentials: {message}")]
    AuthFailed { message: String },
    /// Exotel answered 400 with this message (a missing or invalid parameter).
    #[error("Exotel rejected the request: {message}")]
    BadRequest { message: String },
    /// Exotel answered 429; `retry_after` is its `Retry-After` in seconds when given.
    #[error("Exotel rate limit reached (retry after {retry_after:?} s): {message}")]
    RateLimited {
        retry_after: Option<u64>,
        message: String,
    },
    /// Exotel answered another 4xx (402 balance, 403 account suspended, 404, …).
    #[error("Exotel refused the request with HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    /// Exotel answered 5xx.
    #[error("Exotel server error HTTP {status}: {message}")]
    Server { status: u16, message: String },
    /// No answer within the configured timeout.
    #[error("Exotel did not answer in time")]
    Timeout,
    /// The request could not be sent or the answer not read (DNS, connection refused, TLS, …).
    #[error("talking to Exotel: {0}")]
    Transport(String),
    /// Exotel answered 2xx but the body is not the expected `{"Call": {...}}`.
    #[error("unexpected answer from Exotel: {0}")]
    InvalidResponse(String),
}

impl ExotelError {
    /// Whether trying the same request again later may succeed (rate limit, server error, timeout,
    /// network trouble).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout | Self::Transport(_)
        )
    }
}
