//! The Tauri commands: each forwards to [`Shell`]. Status changes reach the UI as events (see `lib.rs`).

use tauri::State;

use leadline_model::{Disposition, Id, Lead};

use crate::api::{
    AppStatus, AudioDeviceList, CallAction, CallView, CommandError, Dashboard, DialArgs, DialResult,
    LeadPage, ListLeadsArgs, LoginArgs, PhoneSettingsView, PhoneStatus, SavePhoneSettingsArgs, UnloggedCall,
};
use crate::shell::Shell;

#[tauri::command]
pub async fn app_status(shell: State<'_, Shell>) -> Result<AppStatus, CommandError> {
    static FIRST: std::sync::Once = std::sync::Once::new();
    FIRST.call_once(|| {
        tracing::info!(
            since_start_ms = crate::runlog::since_start().as_secs_f64() * 1e3,
            "the window asked for the status"
        );
    });
    shell.status().await
}

#[tauri::command]
pub async fn login(shell: State<'_, Shell>, args: LoginArgs) -> Result<AppStatus, CommandError> {
    tracing::debug!(?args, "login");
    shell.login(args).await
}

#[tauri::command]
pub async fn logout(shell: State<'_, Shell>) -> Result<AppStatus, CommandError> {
    // The supervisor sees this desktop offline at once rather than after the presence timeout.
    shell.report_signing_out().await;
    shell.logout().await
}

#[tauri::command]
pub async fn get_lead(shell: State<'_, Shell>, lead_id: Id) -> Result<Lead, CommandError> {
    shell.get_lead(lead_id).await
}

#[tauri::command]
pub async fn dashboard(shell: State<'_, Shell>) -> Result<Dashboard, CommandError> {
    shell.dashboard().await
}

#[tauri::command]
pub async fn sync_now(shell: State<'_, Shell>) -> Result<AppStatus, CommandError> {
    shell.sync_now().await
}

#[tauri::command]
pub async fn list_leads(shell: State<'_, Shell>, query: ListLeadsArgs) -> Result<LeadPage, CommandError> {
    shell.list_leads(query).await
}

#[tauri::command]
pub async fn phone_status(shell: State<'_, Shell>) -> Result<PhoneStatus, CommandError> {
    shell.phone_status().await
}

#[tauri::command]
pub async fn phone_settings(shell: State<'_, Shell>) -> Result<PhoneSettingsView, CommandError> {
    shell.phone_settings().await
}

#[tauri::command]
pub async fn save_phone_settings(
    shell: State<'_, Shell>,
    args: SavePhoneSettingsArgs,
) -> Result<PhoneStatus, CommandError> {
    tracing::debug!(?args, "save_phone_settings");
    shell.save_phone_settings(args).await
}

#[tauri::command]
pub async fn audio_devices(shell: State<'_, Shell>) -> Result<AudioDeviceList, CommandError> {
    shell.audio_devices().await
}

#[tauri::command]
pub async fn dial(shell: State<'_, Shell>, args: DialArgs) -> Result<DialResult, CommandError> {
    shell.dial(args).await
}

#[tauri::command]
pub async fn click_to_call(shell: State<'_, Shell>, lead_id: Id) -> Result<DialResult, CommandError> {
    shell.click_to_call(lead_id).await
}

#[tauri::command]
pub async fn call_action(
    shell: State<'_, Shell>,
    call_id: String,
    action: CallAction,
) -> Result<CallView, CommandError> {
    shell.call_action(&call_id, action).await
}

#[tauri::command]
pub async fn unlogged_calls(shell: State<'_, Shell>) -> Result<Vec<UnloggedCall>, CommandError> {
    shell.unlogged_calls().await
}

#[tauri::command]
pub async fn dispositions(shell: State<'_, Shell>) -> Result<Vec<Disposition>, CommandError> {
    shell.dispositions().await
}

#[tauri::command]
pub async fn wrap_up(
    shell: State<'_, Shell>,
    log_id: Id,
    args: leadline_model::WrapUp,
) -> Result<(), CommandError> {
    shell.wrap_up(log_id, args).await
}

/// How the last run ended, when it did not end cleanly (shown once: answered, it is forgotten).
#[tauri::command]
pub async fn unclean_exit(
    run: State<'_, crate::RunState>,
) -> Result<Option<crate::runlog::UncleanExit>, CommandError> {
    Ok(run
        .unclean
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take())
}

/// Saves a report of the last unclean exit (the end of the logs) for support; answers its path.
#[tauri::command]
pub async fn save_crash_report(
    run: State<'_, crate::RunState>,
    exit: crate::runlog::UncleanExit,
) -> Result<String, CommandError> {
    let data_dir = run.data_dir.clone();
    tokio::task::spawn_blocking(move || crate::runlog::save_report(&data_dir, &exit))
        .await
        .map_err(|e| CommandError::new(crate::api::ErrorCode::Internal, e.to_string()))?
        .map(|p| p.display().to_string())
        .map_err(|e| {
            CommandError::new(
                crate::api::ErrorCode::Storage,
                format!("The report could not be saved: {e}"),
            )
        })
}

#[tauri::command]
pub async fn preferences(shell: State<'_, Shell>) -> Result<leadline_model::DeskPreferences, CommandError> {
    shell.preferences().await
}

#[tauri::command]
pub async fn save_preferences(
    shell: State<'_, Shell>,
    preferences: leadline_model::DeskPreferences,
) -> Result<leadline_model::DeskPreferences, CommandError> {
    shell.save_preferences(preferences).await
}

#[tauri::command]
pub async fn remember_screen(
    shell: State<'_, Shell>,
    screen: leadline_model::DeskScreen,
) -> Result<(), CommandError> {
    shell.remember_screen(screen).await
}

#[tauri::command]
pub fn screen_ready(screen: crate::api::ReadyScreen, marks: Vec<crate::api::StartupMark>) {
    crate::home::screen_ready(screen, &marks);
}

#[tauri::command]
pub async fn follow_ups(shell: State<'_, Shell>) -> Result<Vec<crate::api::FollowUpItem>, CommandError> {
    shell.follow_ups().await
}

#[tauri::command]
pub async fn complete_follow_up(shell: State<'_, Shell>, id: Id) -> Result<(), CommandError> {
    shell.complete_follow_up(id).await
}

#[tauri::command]
pub async fn reschedule_follow_up(
    shell: State<'_, Shell>,
    id: Id,
    due_at: leadline_model::Timestamp,
) -> Result<(), CommandError> {
    shell.reschedule_follow_up(id, due_at).await
}

/// Saves the follow-up as a calendar file in the Downloads folder (the data folder when there is none).
#[tauri::command]
pub async fn export_follow_up(
    app: tauri::AppHandle,
    shell: State<'_, Shell>,
    run: State<'_, crate::RunState>,
    id: Id,
) -> Result<String, CommandError> {
    let dir = downloads(&app, &run);
    shell
        .export_follow_up(id, &dir)
        .await
        .map(|p| p.display().to_string())
}

#[tauri::command]
pub async fn lead_page(
    shell: State<'_, Shell>,
    args: crate::api::LeadListArgs,
) -> Result<crate::api::LeadListView, CommandError> {
    static FIRST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
    let first = FIRST.swap(false, std::sync::atomic::Ordering::Relaxed);
    let asked = std::time::Instant::now();
    let page = shell.lead_page(args).await;
    if first {
        tracing::info!(
            ms = asked.elapsed().as_secs_f64() * 1e3,
            since_start_ms = crate::runlog::since_start().as_secs_f64() * 1e3,
            "the first lead page was read"
        );
    }
    page
}

/// Saves the lead list (or the selection) as CSV in the Downloads folder; answers the path and the count.
#[tauri::command]
pub async fn export_leads(
    app: tauri::AppHandle,
    shell: State<'_, Shell>,
    run: State<'_, crate::RunState>,
    args: crate::api::ExportLeadsArgs,
) -> Result<(String, u64), CommandError> {
    let dir = downloads(&app, &run);
    shell
        .export_leads(args, &dir)
        .await
        .map(|(p, n)| (p.display().to_string(), n))
}

/// Edits of leads that lost to someone else's, waiting for the user.
#[tauri::command]
pub async fn conflicts(shell: State<'_, Shell>) -> Result<Vec<crate::conflicts::ConflictView>, CommandError> {
    shell.conflicts().await
}

#[tauri::command]
pub async fn resolve_conflict(
    shell: State<'_, Shell>,
    id: Id,
    keep: crate::conflicts::ConflictChoice,
) -> Result<(), CommandError> {
    shell.resolve_conflict(id, keep).await
}

#[tauri::command]
pub async fn lead_detail(
    shell: State<'_, Shell>,
    lead_id: Id,
) -> Result<crate::leaddetail::LeadDetail, CommandError> {
    shell.lead_detail(lead_id).await
}

#[tauri::command]
pub async fn edit_lead(
    shell: State<'_, Shell>,
    lead_id: Id,
    edit: crate::leaddetail::LeadEdit,
) -> Result<leadline_model::Lead, CommandError> {
    shell.edit_lead(lead_id, edit).await
}

#[tauri::command]
pub async fn call_history(
    shell: State<'_, Shell>,
    args: crate::leaddetail::CallHistoryArgs,
) -> Result<crate::leaddetail::CallHistoryView, CommandError> {
    shell.call_history(args).await
}

/// Saves the lead's calls (as filtered) as CSV in the Downloads folder; answers the path and the count.
#[tauri::command]
pub async fn export_call_history(
    app: tauri::AppHandle,
    shell: State<'_, Shell>,
    run: State<'_, crate::RunState>,
    args: crate::leaddetail::CallHistoryArgs,
) -> Result<(String, u64), CommandError> {
    let dir = downloads(&app, &run);
    shell
        .export_call_history(args, &dir)
        .await
        .map(|(p, n)| (p.display().to_string(), n))
}

/// A call's recording as raw bytes (an `ArrayBuffer` in the UI).
#[tauri::command]
pub async fn recording(
    shell: State<'_, Shell>,
    call_log_id: Id,
) -> Result<tauri::ipc::Response, CommandError> {
    shell.recording(call_log_id).await.map(tauri::ipc::Response::new)
}

/// The user's Downloads folder, or the data folder's `exports` where there is none.
fn downloads(app: &tauri::AppHandle, run: &crate::RunState) -> std::path::PathBuf {
    use tauri::Manager as _;
    app.path()
        .download_dir()
        .unwrap_or_else(|_| run.data_dir.join("exports"))
}

// ---- The supervisor's screens (crate::team): online only.

#[tauri::command]
pub async fn team_dashboard(
    shell: State<'_, Shell>,
    args: crate::team::TeamRangeArgs,
) -> Result<crate::team::TeamDashboard, CommandError> {
    shell.team_dashboard(args).await
}

#[tauri::command]
pub async fn team_members(
    shell: State<'_, Shell>,
) -> Result<Vec<leadline_model::admin::UserAccount>, CommandError> {
    shell.team_members().await
}

#[tauri::command]
pub async fn team_leads(
    shell: State<'_, Shell>,
    query: leadline_model::LeadListQuery,
) -> Result<leadline_model::LeadPage, CommandError> {
    shell.team_leads(query).await
}

#[tauri::command]
pub async fn assign_leads(
    shell: State<'_, Shell>,
    args: leadline_model::supervise::AssignLeads,
) -> Result<leadline_model::supervise::BulkOutcome, CommandError> {
    shell.assign_leads(args).await
}

#[tauri::command]
pub async fn assign_matching(
    shell: State<'_, Shell>,
    args: leadline_model::supervise::AssignMatching,
) -> Result<leadline_model::supervise::BulkOutcome, CommandError> {
    shell.assign_matching(args).await
}

#[tauri::command]
pub async fn transfer_leads(
    shell: State<'_, Shell>,
    args: leadline_model::supervise::TransferLeads,
) -> Result<leadline_model::supervise::BulkOutcome, CommandError> {
    shell.transfer_leads(args).await
}

#[tauri::command]
pub async fn lead_audit(
    shell: State<'_, Shell>,
    lead_id: Id,
    cursor: Option<String>,
) -> Result<leadline_model::supervise::AuditPage, CommandError> {
    shell.lead_audit(lead_id, cursor).await
}

/// A CSV import: the body is raw (see [`crate::team::CsvImportArgs::from_ipc_body`]), not JSON.
#[tauri::command]
pub async fn import_csv(
    shell: State<'_, Shell>,
    request: tauri::ipc::Request<'_>,
) -> Result<leadline_model::import::ImportOutcome, CommandError> {
    let args = crate::team::CsvImportArgs::from_invoke_body(request.body())?;
    tracing::debug!(?args, "import_csv");
    shell.import_csv(args).await
}

#[tauri::command]
pub async fn import_sheet(
    shell: State<'_, Shell>,
    args: leadline_model::import::SheetsImportRequest,
) -> Result<leadline_model::import::ImportOutcome, CommandError> {
    shell.import_sheet(args).await
}

#[tauri::command]
pub async fn team_goals(
    shell: State<'_, Shell>,
) -> Result<Vec<leadline_model::analytics::Goal>, CommandError> {
    shell.team_goals().await
}

#[tauri::command]
pub async fn set_goal(
    shell: State<'_, Shell>,
    goal: leadline_model::analytics::SetGoal,
) -> Result<leadline_model::analytics::Goal, CommandError> {
    shell.set_goal(goal).await
}

#[tauri::command]
pub async fn disposition_catalogue(
    shell: State<'_, Shell>,
) -> Result<Vec<leadline_model::admin::DispositionEntry>, CommandError> {
    shell.disposition_catalogue().await
}

#[tauri::command]
pub async fn save_disposition(
    shell: State<'_, Shell>,
    entry: leadline_model::admin::DispositionEntry,
) -> Result<Vec<leadline_model::admin::DispositionEntry>, CommandError> {
    shell.save_disposition(entry).await
}

#[tauri::command]
pub async fn update_state(
    updates: State<'_, crate::updater::Updates>,
) -> Result<crate::updater::UpdateState, CommandError> {
    Ok(updates.state())
}

/// "Restart to update" (`anyway`: "Update anyway" with changes waiting for the server).
#[tauri::command]
pub async fn install_update(app: tauri::AppHandle, anyway: bool) -> Result<(), CommandError> {
    crate::updater::install(&app, anyway).await
}
