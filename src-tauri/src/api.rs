//! The IPC contract between the UI and the shell: argument, answer and event types.
//!
//! TypeScript declarations of these (and of the model types they use) are generated with ts-rs into
//! ui/src/bindings/ by [`export_bindings`]; `tests/bindings.rs` fails when the committed files are stale.

use std::path::Path;

use leadline_model::{
    CallDirection, CallEnd, CallQuality, Disposition, Id, Lead, LeadPriority, LeadSource, LeadStatus,
    PhoneSettings, Timestamp, User,
};
use leadline_store::{FollowUpDue, LeadOrder};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The event the shell emits whenever [`AppStatus`] changes (sign-in, sync started or finished).
pub const STATUS_EVENT: &str = "leadline://status";

/// The event the shell emits for everything the softphone does: a [`PhoneEvent`].
pub const PHONE_EVENT: &str = "leadline://phone";

/// The event the shell emits when the user clicked a notification about a lead: an [`OpenLead`].
pub const OPEN_LEAD_EVENT: &str = "leadline://open-lead";

/// A lead to bring forward (a notification was clicked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OpenLead {
    pub lead_id: Id,
}

/// Whether the server can be reached, as far as the app knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Not tried yet (not signed in, or just started).
    Unknown,
    Online,
    /// The last attempt could not reach the server: work goes on from the cache, changes wait.
    Offline,
}

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
    /// The softphone cannot do it (no such call any more, the call refused the move, the keyring locked).
    Phone,
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
    /// Online, offline (working from the cache), or not known yet.
    pub connection: Connection,
    /// After a failed sync: when the next try is due (sooner if the server comes back and says so).
    pub next_retry_at: Option<Timestamp>,
    /// Why the last sign-in or sync failed; cleared by the next success.
    pub last_error: Option<CommandError>,
    /// Local changes (calls logged, edits) waiting for the server.
    pub pending: u64,
    /// Changes the server refused for good.
    pub rejected: u64,
    /// Edits of this user that lost to someone else's and wait for a decision.
    pub conflicts: u64,
    /// Calls waiting for their wrap-up.
    pub unlogged: u64,
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

/// The softphone's state, for the header's phone indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PhoneState {
    /// Switched off, or never set up: calls go as click-to-calls.
    Off,
    /// Set up, but the keyring holds no SIP password: open the phone settings.
    NoPassword,
    /// The keyring or the saved settings cannot be used (the detail says why).
    Unavailable,
    /// Connecting to the provider and registering.
    Connecting,
    /// Registered: calls go through the softphone, incoming calls ring here.
    Ready,
    /// The connection or registration failed; retrying by itself.
    Retrying,
    /// The provider refused the account (wrong password): fix the settings.
    Failed,
}

/// The softphone as the header shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PhoneStatus {
    /// Grows at every change of `state`: of two statuses (a command's answer and an event), the window keeps
    /// the one with the higher version.
    pub version: u64,
    pub state: PhoneState,
    /// Why it is not ready, for people.
    pub detail: Option<String>,
    /// The last softphone call could not get its audio through: calls go to the telecaller's mobile for a
    /// while.
    pub audio_blocked: bool,
    /// The calls going on now.
    pub calls: Vec<CallView>,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallStage {
    Dialing,
    Ringing,
    Connected,
    OnHold,
    Ended,
}

/// One call, as the call bar and the incoming-call popup show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallView {
    pub call_id: String,
    /// The id its call log takes when wrapped up.
    pub log_id: Id,
    pub lead_id: Option<Id>,
    pub direction: CallDirection,
    /// The far end: a phone number or SIP user.
    pub remote: String,
    pub remote_name: Option<String>,
    pub stage: CallStage,
    /// On hold by us, and by the far end.
    pub held_here: bool,
    pub held_there: bool,
    pub muted: bool,
    pub started_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// How it ended, once it has.
    pub end: Option<CallEnd>,
    /// Why it was refused or failed, for people.
    pub problem: Option<String>,
    /// It failed for want of an audio path or a microphone: offer to call through the mobile instead.
    pub suggests_click_to_call: bool,
    /// Live quality (refreshed every second while the call has audio).
    pub quality: Option<CallQuality>,
}

/// Everything the shell tells the window about the phone (event [`PHONE_EVENT`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PhoneEvent {
    /// The phone's state changed.
    Status { status: PhoneStatus },
    /// A call is coming in; `lead` is the cached lead with the caller's number.
    Incoming {
        call: Box<CallView>,
        lead: Option<Box<Lead>>,
    },
    /// A call changed (state, mute, live quality).
    Call { call: Box<CallView> },
    /// The far end pressed a key.
    Dtmf { call_id: String, digit: String },
    /// A call could not be written to the local cache.
    JournalFailed { message: String },
}

/// The phone settings form: the saved settings, and whether the keyring holds a password for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PhoneSettingsView {
    pub settings: PhoneSettings,
    pub has_password: bool,
}

/// Arguments of `save_phone_settings`: a new password, or none to keep the keyring's.
#[derive(Clone, Serialize, Deserialize, TS)]
pub struct SavePhoneSettingsArgs {
    pub settings: PhoneSettings,
    #[serde(default)]
    #[ts(optional)]
    pub password: Option<String>,
}

impl std::fmt::Debug for SavePhoneSettingsArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavePhoneSettingsArgs")
            .field("settings", &self.settings)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A sound device to choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AudioDevice {
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

/// The sound devices of this computer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AudioDeviceList {
    pub inputs: Vec<AudioDevice>,
    pub outputs: Vec<AudioDevice>,
}

/// Arguments of `dial`: a number, and the lead it is about (needed for a click-to-call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DialArgs {
    pub number: String,
    #[serde(default)]
    #[ts(optional)]
    pub lead_id: Option<Id>,
}

/// Why a call went to the telecaller's mobile instead of the softphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FallbackWhy {
    /// The softphone is off or not registered.
    NotRegistered,
    NoMicrophone,
    /// The last softphone call could not get its audio through.
    AudioBlocked,
    /// The telecaller asked for it.
    Asked,
}

/// The answer of `dial` and `click_to_call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum DialResult {
    /// Through the softphone: follow the call's events.
    Softphone { call: Box<CallView> },
    /// The provider rings the telecaller's own phone first, then the lead; the call is logged under
    /// `call_log_id` like any other.
    ClickToCall { why: FallbackWhy, call_log_id: Id },
}

/// What to do to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CallAction {
    Answer,
    Reject,
    HangUp,
    Mute,
    Unmute,
    Hold,
    Resume,
    /// Send keypad digits (`0-9*#`).
    Dtmf {
        digits: String,
    },
    /// Blind transfer to a number or SIP URI.
    Transfer {
        target: String,
    },
}

/// A call waiting for its wrap-up (a softphone call, or a click-to-call placed from this desk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct UnloggedCall {
    /// The id its call log takes.
    pub log_id: Id,
    /// The lead it was with; none for a caller whose number matched no lead (the form asks which).
    pub lead: Option<Lead>,
    pub direction: CallDirection,
    /// The other party: an E.164 number or a SIP URI.
    pub remote: String,
    /// Placed through the telecaller's mobile (the provider reports its times later).
    pub click_to_call: bool,
    pub started_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub end: Option<CallEnd>,
    /// Talk time so far, in seconds.
    pub talk_seconds: i64,
    /// A softphone call still going: it can be wrapped up once it ends.
    pub ongoing: bool,
}

/// The lead list's filter bar and scroll position: which leads, in what order, from where. Empty fields do
/// not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct LeadListArgs {
    /// Name (word prefixes), phone in any form, or words of call notes.
    #[serde(default)]
    #[ts(optional)]
    pub search: Option<String>,
    #[serde(default)]
    pub statuses: Vec<LeadStatus>,
    #[serde(default)]
    pub priorities: Vec<LeadPriority>,
    #[serde(default)]
    pub sources: Vec<LeadSource>,
    #[serde(default)]
    #[ts(optional)]
    pub follow_up: Option<FollowUpDue>,
    /// Created in `[created_from, created_until)`.
    #[serde(default)]
    #[ts(optional)]
    pub created_from: Option<Timestamp>,
    #[serde(default)]
    #[ts(optional)]
    pub created_until: Option<Timestamp>,
    #[serde(default)]
    pub sort: LeadOrder,
    /// Rows per page (at most the store's page cap).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`; none for the first page.
    #[serde(default)]
    #[ts(optional)]
    pub cursor: Option<String>,
}

/// One page of the lead list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LeadListView {
    pub leads: Vec<Lead>,
    /// Pass back as `cursor` for the next page; none on the last.
    pub next_cursor: Option<String>,
    /// First page only: how many leads the filter lists, and per status (the status filter aside, so each
    /// status chip says what choosing it would list).
    pub matched: Option<u64>,
    pub by_status: Vec<StatusTally>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StatusTally {
    pub status: LeadStatus,
    pub count: u64,
}

/// The lead-list export: the list's filter and order; with `only`, just those leads (a selection).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct ExportLeadsArgs {
    pub list: LeadListArgs,
    #[serde(default)]
    #[ts(optional)]
    pub only: Option<Vec<Id>>,
}

/// An open follow-up of the signed-in user, with its lead, for the follow-ups screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FollowUpItem {
    pub id: Id,
    pub due_at: Timestamp,
    pub note: Option<String>,
    pub lead: Lead,
}

/// The home screen: today's figures against the goals, the charts, and who to call next. From the cache
/// alone, so it works offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Dashboard {
    /// Calls logged today (local day).
    pub calls_made: u64,
    /// Of those, answered.
    pub connected: u64,
    pub talk_time_s: u64,
    pub conversions: u64,
    pub follow_ups_done: u64,
    /// Open follow-ups due today, and due before now (earlier days included).
    pub follow_ups_due_today: u64,
    pub follow_ups_overdue: u64,
    /// The daily goal the supervisor set (the user's own, else the team's); none when not set.
    pub goal: Option<DailyGoal>,
    /// Calls per local hour of today: 24 entries, `[0]` from midnight.
    pub hourly: Vec<u64>,
    /// Today's calls per disposition, most frequent first.
    pub dispositions: Vec<DispositionCount>,
    /// The next leads to call, overdue follow-ups first.
    pub queue: Vec<QueueItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DailyGoal {
    pub calls: u64,
    pub conversions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DispositionCount {
    pub code: String,
    /// The catalogue's label (the code when the catalogue no longer has it).
    pub label: String,
    pub count: u64,
}

/// Why a lead is next in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum QueueWhy {
    OverdueFollowUp,
    FollowUpToday,
    Hot,
    HighPriority,
    New,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct QueueItem {
    pub lead: Lead,
    pub why: QueueWhy,
    pub follow_up_due_at: Option<Timestamp>,
}

/// A screen whose first showing the UI reports (see `screen_ready`): the sign-in screen or a tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ReadyScreen {
    SignIn,
    Today,
    Leads,
    FollowUps,
}

/// A moment of the UI's start-up (the script ran, the status came, the first page was asked for…) in ms since
/// the page began to load; sent with the first screen that showed (see `screen_ready`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StartupMark {
    pub name: String,
    pub at_ms: f64,
}

/// Writes the TypeScript declarations of the IPC types, and of every model type they use, into `dir`.
pub fn export_bindings(dir: &Path) -> Result<(), ts_rs::ExportError> {
    // serde_json writes i64/u64 as JSON numbers, so they are `number` in TypeScript, not `bigint`.
    let cfg = ts_rs::Config::new().with_large_int("number").with_out_dir(dir);
    AppStatus::export_all(&cfg)?;
    crate::updater::UpdateState::export_all(&cfg)?;
    OpenLead::export_all(&cfg)?;
    ReadyScreen::export_all(&cfg)?;
    StartupMark::export_all(&cfg)?;
    crate::leaddetail::LeadDetail::export_all(&cfg)?;
    crate::conflicts::ConflictView::export_all(&cfg)?;
    crate::conflicts::ConflictChoice::export_all(&cfg)?;
    crate::leaddetail::LeadEdit::export_all(&cfg)?;
    crate::leaddetail::CallHistoryArgs::export_all(&cfg)?;
    crate::leaddetail::CallHistoryView::export_all(&cfg)?;
    Dashboard::export_all(&cfg)?;
    FollowUpItem::export_all(&cfg)?;
    LeadListView::export_all(&cfg)?;
    ExportLeadsArgs::export_all(&cfg)?;
    leadline_model::DeskPreferences::export_all(&cfg)?;
    crate::runlog::UncleanExit::export_all(&cfg)?;
    CommandError::export_all(&cfg)?;
    LoginArgs::export_all(&cfg)?;
    ListLeadsArgs::export_all(&cfg)?;
    LeadPage::export_all(&cfg)?;
    PhoneStatus::export_all(&cfg)?;
    PhoneEvent::export_all(&cfg)?;
    PhoneSettingsView::export_all(&cfg)?;
    SavePhoneSettingsArgs::export_all(&cfg)?;
    AudioDeviceList::export_all(&cfg)?;
    DialArgs::export_all(&cfg)?;
    DialResult::export_all(&cfg)?;
    CallAction::export_all(&cfg)?;
    UnloggedCall::export_all(&cfg)?;
    leadline_model::WrapUp::export_all(&cfg)?;
    Disposition::export_all(&cfg)?;
    crate::team::TeamRangeArgs::export_all(&cfg)?;
    crate::team::TeamDashboard::export_all(&cfg)?;
    crate::team::CsvImportArgs::export_all(&cfg)?;
    leadline_model::LeadListQuery::export_all(&cfg)?;
    leadline_model::LeadPage::export_all(&cfg)?;
    leadline_model::admin::UserAccount::export_all(&cfg)?;
    leadline_model::admin::DispositionEntry::export_all(&cfg)?;
    leadline_model::supervise::AssignLeads::export_all(&cfg)?;
    leadline_model::supervise::AssignMatching::export_all(&cfg)?;
    leadline_model::supervise::TransferLeads::export_all(&cfg)?;
    leadline_model::supervise::BulkOutcome::export_all(&cfg)?;
    leadline_model::supervise::AuditPage::export_all(&cfg)?;
    leadline_model::import::ImportOutcome::export_all(&cfg)?;
    leadline_model::import::SheetsImportRequest::export_all(&cfg)?;
    leadline_model::analytics::SetGoal::export_all(&cfg)?;
    crate::setup::export_bindings(&cfg)?;
    Ok(())
}
