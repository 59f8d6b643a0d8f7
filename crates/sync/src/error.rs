/// Why talking to the server failed. Each variant tells the user what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0:?} is not a valid server URL (expected e.g. https://leadline.example.com)")]
    BadUrl(String),
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("not signed in, or the session expired; sign in again")]
    Unauthorized,
    /// The server refused the refresh token: the session was signed out, revoked by a supervisor,
    /// expired, or its refresh token was reused. Only signing in again helps (not a retry).
    #[error("the session has ended (signed out, revoked or expired); sign in again")]
    SessionEnded,
    #[error("the server refused the request ({status}, {code}): {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
        /// The server's `Retry-After` in seconds, when it sent one in that form (a `429 rate_limited`
        /// always does): wait at least this long before retrying.
        retry_after: Option<u64>,
    },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The server could not place a call through the telephony provider (click-to-call); nothing was
    /// rung unless the provider says otherwise.
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Store(#[from] leadline_store::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why the server could not place a click-to-call (`POST /api/v1/calls/click-to-call`): its error codes
/// (`leadline_model::telephony::codes`), typed. An unreachable server is [`SyncError::Unreachable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// `409 no_agent_number`: the telecaller has no number or SIP user for the provider to ring first.
    #[error("you have no phone number to be rung on; ask an admin to set your agent number")]
    NoAgentNumber,
    /// `503 telephony_not_configured`: the server has no telephony provider.
    #[error("calling through the server is not set up (no telephony provider is configured on the server)")]
    TelephonyNotConfigured,
    /// `404 not_found`: no such lead, or not one of the caller's.
    #[error("the server has no such lead for you (it may have been reassigned); sync and try again")]
    LeadNotFound,
    /// `502 exotel_rejected` / `exotel_auth`: the provider refused the call, or the server's credentials
    /// (`code` says which). Retrying the same call does not help.
    #[error("the telephony provider refused the call: {message}")]
    ProviderRefused { code: String, message: String },
    /// `503 exotel_rate_limited`: too many calls at once; try again after `retry_after` seconds.
    #[error("the telephony provider is busy (rate limit); try again in {} s", retry_after.unwrap_or(5))]
    ProviderRateLimited { retry_after: Option<u64> },
    /// `502 exotel_unavailable`: the provider failed or could not be reached from the server.
    #[error("the telephony provider is unavailable: {message}")]
    ProviderUnavailable { message: String },
    /// `504 exotel_timeout`: the provider did not answer the server in time (the call may or may not be
    /// ringing).
    #[error("the telephony provider did not answer in time; the call may not have been placed")]
    ProviderTimeout,
}

impl CallError {
    /// The typed error of a server answer `status`/`code`, when it is one of click-to-call's own.
    pub fn from_answer(status: u16, code: &str, message: &str, retry_after: Option<u64>) -> Option<Self> {
        use leadline_model::telephony::codes;
        Some(match (status, code) {
            (409, codes::NO_AGENT_NUMBER) => Self::NoAgentNumber,
            (503, codes::TELEPHONY_NOT_CONFIGURED) => Self::TelephonyNotConfigured,
            (404, codes::NOT_FOUND) => Self::LeadNotFound,
            (_, codes::EXOTEL_REJECTED | codes::EXOTEL_AUTH) => Self::ProviderRefused {
                code: code.to_owned(),
                message: message.to_owned(),
            },
            (_, codes::EXOTEL_RATE_LIMITED) => Self::ProviderRateLimited { retry_after },
            (_, codes::EXOTEL_UNAVAILABLE) => Self::ProviderUnavailable {
                message: message.to_owned(),
            },
            (_, codes::EXOTEL_TIMEOUT) => Self::ProviderTimeout,
            _ => return None,
        })
    }

    /// True when the same call may go through if tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::ProviderRateLimited { .. } | Self::ProviderUnavailable { .. } | Self::ProviderTimeout
        )
    }
}

impl SyncError {
    /// True when retrying later may succeed (network down, server restarting).
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Unreachable { .. } => true,
            SyncError::Server { status, .. } => *status >= 500 || *status == 429,
            SyncError::Call(e) => e.is_transient(),
            _ => false,
        }
    }

    /// True when the server could not be reached at all (offline): nothing was sent, or nothing arrived.
    pub fn is_offline(&self) -> bool {
        matches!(self, SyncError::Unreachable { .. })
    }
}
