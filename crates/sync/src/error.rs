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
    #[error(transparent)]
    Store(#[from] leadline_store::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl SyncError {
    /// True when retrying later may succeed (network down, server restarting).
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Unreachable { .. } => true,
            SyncError::Server { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
