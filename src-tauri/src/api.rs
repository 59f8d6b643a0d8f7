//! The IPC contract between the UI and the shell: argument, answer and event types.
//!
//! TypeScript declarations of these (and of the model types they use) are generated with ts-rs into
//! ui/src/bindings/ by [`export_bindings`]; `tests/bindings.rs` fails when the committed files are stale.

use std::path::Path;

use leadline_model::{Lead, LeadStatus, Timestamp, User};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The event the shell emits whenever [`AppStatus`] changes (sign-in, sync started or finished).
pub const STATUS_EVENT: &str = "leadline://status";

/// Every command failure, as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message} ({code:?})")]
pub struct CommandError {
    /// Machine-readable: see [`ErrorCode`].
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
}

/// What kind of failure a [`CommandError`] is; the UI picks its wording and remedy from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Bad input from the form (empty field, malformed server address).
    InvalidInput,
    /// Username or password refused.
    InvalidCredentials,
    /// The session is over (token expired or revoked): sign in again.
    SessionExpired,
    /// A command that needs a signed-in user was called without one.
    NotSignedIn,
    /// The server could not be reached.
    Network,
    /// The server answered with an error.
    Server,
    /// The local cache failed.
    Storage,
    /// Anything else.
    Internal,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// What the header and the start screen show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AppStatus {
    /// A session with the server exists (signed in this run, or a token kept from an earlier one).
    pub signed_in: bool,
    /// The user whose leads are cached, if any.
    pub user: Option<User>,
    /// The server the cache belongs to.
    pub server_url: Option<String>,
    /// Leads in the local cache.
    pub lead_count: u64,
    /// When the last pull finished.
    pub last_sync_at: Option<Timestamp>,
    /// A sign-in or sync is running now.
    pub syncing: bool,
    /// Why the last sign-in or sync failed; cleared by the next success.
    pub last_error: Option<CommandError>,
}

/// Arguments of the `login` command.
#[derive(Clone, Serialize, Deserialize, TS)]
pub struct LoginArgs {
    pub server_url: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LoginArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginArgs")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Arguments of the `list_leads` command; absent fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct ListLeadsArgs {
    /// Free text: name, phone or notes.
    #[serde(default)]
    #[ts(optional)]
    pub search: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub status: Option<LeadStatus>,
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// The answer of `list_leads`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LeadPage {
    pub leads: Vec<Lead>,
    /// All leads in the cache, whatever the filter.
    pub total: u64,
    /// More leads matched than `limit` allowed.
    pub truncated: bool,
}

/// Writes the TypeScript declarations of the IPC types, and of every model type they use, into `dir`.
pub fn export_bindings(dir: &Path) -> Result<(), ts_rs::ExportError> {
    // serde_json writes i64/u64 as JSON numbers, so they are `number` in TypeScript, not `bigint`.
    let cfg = ts_rs::Config::new().with_large_int("number").with_out_dir(dir);
    AppStatus::export_all(&cfg)?;
    CommandError::export_all(&cfg)?;
    LoginArgs::export_all(&cfg)?;
    ListLeadsArgs::export_all(&cfg)?;
    LeadPage::export_all(&cfg)?;
    Ok(())
}
