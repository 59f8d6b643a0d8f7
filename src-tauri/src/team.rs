//! The supervisor's screens: the team dashboard (figures, leaderboard, hourly chart, goals and each
//! telecaller's live status), the team's leads with bulk assignment and transfer and each lead's audit
//! trail, lead imports (CSV, Google Sheets) with their row report, the goals and the disposition
//! catalogue. All of it asks the server through the session's `leadline_sync::Client` (the
//! `leadline_sync::supervisor` methods): it works online only, and offline answers
//! [`ErrorCode::Network`] for the UI to say so.
//!
//! Also the other side of the live status: every desktop reports what its user is doing (available, on a
//! call, in a wrap-up) while signed in ([`report_presence`]).

use std::sync::Arc;
use std::time::Duration;

use leadline_model::admin::{DispositionEntry, UserAccount};
use leadline_model::analytics::{AnalyticsSummary, Goal, HourlySeries, Leaderboard, SetGoal};
use leadline_model::import::{ImportOutcome, SheetsImportRequest};
use leadline_model::supervise::{
    AgentState, AssignLeads, AssignMatching, AuditPage, BulkOutcome, TeamPresence, TransferLeads,
};
use leadline_model::{Id, LeadListQuery, LeadPage, Timestamp};
use leadline_sync::supervisor::{CsvUpload, LeaderboardMetric, Range};
use leadline_sync::{Client, SyncError};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::{CallStage, CommandError, ErrorCode};
use crate::shell::{Shell, sync_failure};

/// Largest CSV file the import sends (the server's own limit is 20 MiB).
pub const MAX_CSV_BYTES: usize = 20 * 1024 * 1024;

/// What the leaderboard ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BoardMetric {
    Calls,
    Connected,
    Conversions,
    TalkTime,
}

/// Arguments of `team_dashboard`: the date range (RFC 3339) and the time zone of its days and hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TeamRangeArgs {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Minutes east of UTC (India: 330); a multiple of 30.
    pub tz_offset_minutes: i32,
    pub metric: BoardMetric,
}

/// The team dashboard: per-telecaller figures and the team's totals over the range, the leaderboard,
/// the calls hour by hour, each telecaller's live status, and the goals in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TeamDashboard {
    pub summary: AnalyticsSummary,
    pub leaderboard: Leaderboard,
    pub hourly: HourlySeries,
    pub presence: TeamPresence,
    pub goals: Vec<Goal>,
}

/// Arguments of `import_csv`: the file's bytes as the UI read them (the server detects the encoding).
///
/// The file crosses the IPC raw, not as JSON (a 20 MB file as a JSON array of numbers is some 80 MB of
/// text to build and parse): the UI's `importCsv` sends one line of JSON with the other fields, a newline,
/// then the bytes as they are; [`CsvImportArgs::from_ipc_body`] takes them apart.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CsvImportArgs {
    pub file_name: String,
    /// The UI may give a plain array or the `Uint8Array` it read.
    #[ts(type = "Array<number> | Uint8Array")]
    pub bytes: Vec<u8>,
    pub merge_duplicates: bool,
    /// A username of the team to assign rows that name no assignee to.
    #[serde(default)]
    #[ts(optional)]
    pub assign_to: Option<String>,
}

/// The first line of an `import_csv` body: every argument but the file.
#[derive(Deserialize)]
struct CsvImportHead {
    file_name: String,
    merge_duplicates: bool,
    #[serde(default)]
    assign_to: Option<String>,
}

/// The longest first line an `import_csv` body may have (a file name and two options).
const MAX_IMPORT_HEAD: usize = 64 * 1024;

/// An `import_csv` call the shell cannot take apart (a UI of another version).
fn malformed_import(why: &str) -> CommandError {
    tracing::warn!(why, "an import_csv call the shell does not understand");
    CommandError::new(
        ErrorCode::Internal,
        format!(
            "The file did not reach Leadline's shell as expected ({why}); reopen Leadline and try again."
        ),
    )
}

impl CsvImportArgs {
    /// The arguments of an `import_csv` call: its raw body (see [`CsvImportArgs::from_ipc_body`]), or the
    /// same bytes as a JSON array of numbers where the webview blocks the IPC's custom protocol and Tauri
    /// falls back to posting messages.
    pub fn from_invoke_body(body: &tauri::ipc::InvokeBody) -> Result<Self, CommandError> {
        match body {
            tauri::ipc::InvokeBody::Raw(bytes) => Self::from_ipc_body(bytes),
            tauri::ipc::InvokeBody::Json(serde_json::Value::Array(numbers)) => {
                let bytes: Vec<u8> = numbers
                    .iter()
                    .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
                    .collect::<Option<_>>()
                    .ok_or_else(|| malformed_import("not bytes"))?;
                Self::from_ipc_body(&bytes)
            }
            tauri::ipc::InvokeBody::Json(_) => Err(malformed_import("JSON arguments, not the file")),
        }
    }

    /// The arguments from the raw body of an `import_csv` call: a line of JSON (`file_name`,
    /// `merge_duplicates`, `assign_to`), `\n`, then the file's bytes. A file over [`MAX_CSV_BYTES`] is
    /// refused here, before it is copied.
    pub fn from_ipc_body(body: &[u8]) -> Result<Self, CommandError> {
        let malformed = malformed_import;
        let head_end = body
            .iter()
            .take(MAX_IMPORT_HEAD)
            .position(|&b| b == b'\n')
            .ok_or_else(|| malformed("no arguments line"))?;
        let head: CsvImportHead =
            serde_json::from_slice(&body[..head_end]).map_err(|_| malformed("unreadable arguments"))?;
        let file = &body[head_end + 1..];
        if file.len() > MAX_CSV_BYTES {
            return Err(too_large());
        }
        Ok(Self {
            file_name: head.file_name,
            bytes: file.to_vec(),
            merge_duplicates: head.merge_duplicates,
            assign_to: head.assign_to,
        })
    }
}

fn too_large() -> CommandError {
    CommandError::new(
        ErrorCode::InvalidInput,
        "The file is larger than 20 MB; split it into smaller files.",
    )
}

impl std::fmt::Debug for CsvImportArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvImportArgs")
            .field("file_name", &self.file_name)
            .field("bytes", &self.bytes.len())
            .field("merge_duplicates", &self.merge_duplicates)
            .field("assign_to", &self.assign_to)
            .finish()
    }
}

fn not_signed_in() -> CommandError {
    CommandError::new(
        ErrorCode::NotSignedIn,
        "Sign in to see the team; the team's screens need the server.",
    )
}

/// A failure of a team request, for people: the server's own sentence for a refusal, the sign-in and
/// network codes as everywhere else.
fn team_failure(e: SyncError) -> CommandError {
    match e {
        SyncError::Server { status: 403, .. } => CommandError::new(
            ErrorCode::Server,
            "The server refused: your role may not do this (the team's screens are for supervisors and \
             admins, the disposition catalogue for admins).",
        ),
        SyncError::Server {
            status: 503,
            ref code,
            ref message,
            ..
        } if code == "sheets_not_configured" => CommandError::new(ErrorCode::Server, message.clone()),
        SyncError::Server {
            status, ref message, ..
        } if (400..500).contains(&status) && status != 401 => {
            CommandError::new(ErrorCode::InvalidInput, message.clone())
        }
        other => sync_failure(other),
    }
}

fn metric(m: BoardMetric) -> LeaderboardMetric {
    match m {
        BoardMetric::Calls => LeaderboardMetric::Calls,
        BoardMetric::Connected => LeaderboardMetric::Connected,
        BoardMetric::Conversions => LeaderboardMetric::Conversions,
        BoardMetric::TalkTime => LeaderboardMetric::TalkTime,
    }
}

impl Shell {
    fn team_client(&self) -> Result<Arc<Client>, CommandError> {
        self.client().ok_or_else(not_signed_in)
    }

    /// The team dashboard over `args`' range; the five requests go out together.
    pub async fn team_dashboard(&self, args: TeamRangeArgs) -> Result<TeamDashboard, CommandError> {
        if args.to <= args.from {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "The range must end after it starts.",
            ));
        }
        let client = self.team_client()?;
        let range = Range {
            from: args.from,
            to: args.to,
            tz_offset_minutes: args.tz_offset_minutes,
        };
        let (summary, leaderboard, hourly, presence, goals) = tokio::join!(
            client.team_summary(&range),
            client.leaderboard(metric(args.metric), &range),
            client.team_hourly(&range),
            client.team_presence(),
            client.goals(),
        );
        Ok(TeamDashboard {
            summary: summary.map_err(team_failure)?,
            leaderboard: leaderboard.map_err(team_failure)?,
            hourly: hourly.map_err(team_failure)?,
            presence: presence.map_err(team_failure)?,
            goals: goals.map_err(team_failure)?,
        })
    }

    /// The users the caller manages (a supervisor's team), for the assignee pickers.
    pub async fn team_members(&self) -> Result<Vec<UserAccount>, CommandError> {
        self.team_client()?.users().await.map_err(team_failure)
    }

    /// A page of the whole team's leads, filtered on the server.
    pub async fn team_leads(&self, query: LeadListQuery) -> Result<LeadPage, CommandError> {
        self.team_client()?.team_leads(&query).await.map_err(team_failure)
    }

    /// Assigns the selected leads (or unassigns them), with the reason; all or nothing.
    pub async fn assign_leads(&self, args: AssignLeads) -> Result<BulkOutcome, CommandError> {
        if args.lead_ids.is_empty() {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "Select the leads to assign.",
            ));
        }
        require_reason(&args.reason)?;
        let outcome = self
            .team_client()?
            .assign_leads(&args)
            .await
            .map_err(team_failure)?;
        tracing::info!(assigned = outcome.assigned, to = ?args.to, "leads assigned");
        Ok(outcome)
    }

    /// Assigns (or unassigns) every team lead the filter lists, with the reason; all or nothing.
    pub async fn assign_matching(&self, args: AssignMatching) -> Result<BulkOutcome, CommandError> {
        require_reason(&args.reason)?;
        let outcome = self
            .team_client()?
            .assign_matching(&args)
            .await
            .map_err(team_failure)?;
        tracing::info!(assigned = outcome.assigned, to = ?args.to, "leads matching a filter assigned");
        Ok(outcome)
    }

    /// Moves one telecaller's open leads (or those of the given statuses) to another, with the reason.
    pub async fn transfer_leads(&self, args: TransferLeads) -> Result<BulkOutcome, CommandError> {
        require_reason(&args.reason)?;
        if args.from == args.to {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "Pick two different telecallers.",
            ));
        }
        let outcome = self
            .team_client()?
            .transfer_leads(&args)
            .await
            .map_err(team_failure)?;
        tracing::info!(moved = outcome.assigned, "leads transferred");
        Ok(outcome)
    }

    /// A page of one lead's audit trail, newest first.
    pub async fn lead_audit(&self, lead_id: Id, cursor: Option<String>) -> Result<AuditPage, CommandError> {
        self.team_client()?
            .lead_audit(lead_id, cursor.as_deref())
            .await
            .map_err(team_failure)
    }

    /// Imports a CSV file on the server; answers the row report.
    pub async fn import_csv(&self, args: CsvImportArgs) -> Result<ImportOutcome, CommandError> {
        if args.bytes.is_empty() {
            return Err(CommandError::new(ErrorCode::InvalidInput, "The file is empty."));
        }
        if args.bytes.len() > MAX_CSV_BYTES {
            return Err(too_large());
        }
        let upload = CsvUpload {
            file_name: args.file_name,
            bytes: args.bytes,
            merge_duplicates: args.merge_duplicates,
            assign_to: args.assign_to,
        };
        self.team_client()?
            .import_csv(&upload)
            .await
            .map_err(team_failure)
    }

    /// Imports a Google Sheet (shared with the server's service account); answers the row report.
    pub async fn import_sheet(&self, args: SheetsImportRequest) -> Result<ImportOutcome, CommandError> {
        if args.spreadsheet_id.trim().is_empty() || args.range.trim().is_empty() {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "Give the sheet's id (from its address) and the range, e.g. Leads!A1:L.",
            ));
        }
        self.team_client()?
            .import_sheet(&args)
            .await
            .map_err(team_failure)
    }

    /// The goals of the caller's team: the team default and each telecaller's own.
    pub async fn team_goals(&self) -> Result<Vec<Goal>, CommandError> {
        self.team_client()?.goals().await.map_err(team_failure)
    }

    /// Sets a daily goal (the team default, or one telecaller's).
    pub async fn set_goal(&self, goal: SetGoal) -> Result<Goal, CommandError> {
        if goal.daily_calls < 0 || goal.daily_conversions < 0 {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "Goals cannot be negative.",
            ));
        }
        self.team_client()?.set_goal(&goal).await.map_err(team_failure)
    }

    /// The disposition catalogue as the server keeps it (admins: inactive entries too).
    pub async fn disposition_catalogue(&self) -> Result<Vec<DispositionEntry>, CommandError> {
        self.team_client()?
            .disposition_catalogue()
            .await
            .map_err(team_failure)
    }

    /// Creates or replaces a catalogue entry (admins); answers the whole catalogue.
    pub async fn save_disposition(
        &self,
        entry: DispositionEntry,
    ) -> Result<Vec<DispositionEntry>, CommandError> {
        self.team_client()?
            .put_disposition(&entry)
            .await
            .map_err(team_failure)
    }

    /// Tells the server what this desktop's user is doing (the supervisor's live status). Reports go one
    /// at a time; once the app is quitting ([`Shell::report_quitting`]) nothing more is sent, so no late
    /// report undoes its "offline".
    pub async fn report_presence(&self, state: AgentState) -> Result<(), CommandError> {
        let client = self.team_client()?;
        let quitting = self.presence.lock().await;
        if *quitting {
            return Ok(());
        }
        let sent = client.report_presence(state).await;
        drop(quitting);
        sent.map(drop).map_err(team_failure)
    }

    /// Tells the server this desktop is going offline (before signing out); best effort, given up after
    /// [`SIGN_OUT_REPORT_WAIT`] so that signing out offline is not held up.
    pub async fn report_signing_out(&self) {
        if self.client().is_none() {
            return;
        }
        if let Err(e) = self.report_offline(SIGN_OUT_REPORT_WAIT, false).await {
            tracing::debug!(error = %e, "could not report signing out");
        }
    }

    /// Tells the server this desktop is going offline because the app quits (the tray's Quit, the last
    /// window closed, [`tauri::AppHandle::exit`]), and stops every later report. Best effort, given up
    /// after [`QUIT_REPORT_WAIT`] so that quitting offline is never held up longer; the session stays
    /// (the next start picks it up), only the supervisor's live status changes at once instead of after
    /// the server's presence timeout.
    pub async fn report_quitting(&self) {
        let started = tokio::time::Instant::now();
        match self.report_offline(QUIT_REPORT_WAIT, true).await {
            Ok(()) => tracing::info!(
                ms = started.elapsed().as_secs_f64() * 1e3,
                "told the server this desktop goes offline"
            ),
            Err(e) => tracing::info!(error = %e, "could not tell the server this desktop goes offline"),
        }
    }

    /// Reports `offline`, after any report in flight (`last`: and refuses every later one), given up after
    /// `wait`. Signed out there is no one to report to: nothing is sent, and that is no failure.
    async fn report_offline(&self, wait: std::time::Duration, last: bool) -> Result<(), String> {
        let client = self.client();
        let report = async {
            let mut quitting = self.presence.lock().await;
            if last {
                *quitting = true;
            }
            match client {
                Some(client) => client
                    .report_presence(AgentState::Offline)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                None => Ok(()),
            }
        };
        tokio::time::timeout(wait, report)
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {} ms", wait.as_millis())))
    }

    /// What this desktop's user is doing now: on a call while one rings or is connected, in a wrap-up
    /// while a call waits for its form, else available.
    pub async fn agent_state(&self) -> AgentState {
        let live = self
            .phone_status()
            .await
            .is_ok_and(|p| p.calls.iter().any(|c| c.stage != CallStage::Ended));
        if live {
            return AgentState::OnCall;
        }
        match self.status().await {
            Ok(s) if s.unlogged > 0 => AgentState::WrapUp,
            _ => AgentState::Available,
        }
    }
}

/// Signing out waits at most this long to tell the server.
pub const SIGN_OUT_REPORT_WAIT: Duration = Duration::from_secs(2);

/// Quitting waits at most this long to tell the server (the server's answer is usually there in a few
/// milliseconds; offline, the app must not hang on its way out).
pub const QUIT_REPORT_WAIT: Duration = Duration::from_millis(800);

/// How often the presence reporter looks at the phone.
const LOOK_EVERY: Duration = Duration::from_secs(3);
/// A report repeats at least this often (the server counts a desktop silent for 90 s as offline).
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// Runs for the app's life: while signed in, reports this desktop's state to the server when it changes
/// and every [`REPORT_EVERY`] (the supervisor's live status). Offline, reports simply fail and are tried
/// again; nothing queues.
pub async fn report_presence(app: tauri::AppHandle) {
    use tauri::Manager as _;
    let mut last: Option<(AgentState, tokio::time::Instant)> = None;
    loop {
        tokio::time::sleep(LOOK_EVERY).await;
        let shell = app.state::<Shell>();
        if shell.client().is_none() {
            last = None;
            continue;
        }
        let state = shell.agent_state().await;
        let due = last.is_none_or(|(s, at)| s != state || at.elapsed() >= REPORT_EVERY);
        if !due {
            continue;
        }
        match shell.report_presence(state).await {
            Ok(_) => last = Some((state, tokio::time::Instant::now())),
            Err(e) => {
                // Tried again when the state changes or the period is up, not every look.
                tracing::debug!(error = %e.message, "presence report failed");
                last = Some((state, tokio::time::Instant::now()));
            }
        }
    }
}

/// A bulk move needs its reason: it stays in each lead's history.
fn require_reason(reason: &str) -> Result<(), CommandError> {
    if reason.trim().is_empty() {
        return Err(CommandError::new(
            ErrorCode::InvalidInput,
            "Say why the leads move; the reason stays in each lead's history.",
        ));
    }
    Ok(())
}
