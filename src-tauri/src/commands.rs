//! The Tauri commands: each forwards to [`Shell`] and tells the UI when the status changed.

use tauri::{AppHandle, Emitter, State};

use crate::api::{AppStatus, CommandError, LeadPage, ListLeadsArgs, LoginArgs, STATUS_EVENT};
use crate::shell::Shell;

#[tauri::command]
pub async fn app_status(shell: State<'_, Shell>) -> Result<AppStatus, CommandError> {
    shell.status().await
}

#[tauri::command]
pub async fn login(
    app: AppHandle,
    shell: State<'_, Shell>,
    args: LoginArgs,
) -> Result<AppStatus, CommandError> {
    tracing::debug!(?args, "login");
    let status = shell.login(args).await?;
    emit_status(&app, &status);
    Ok(status)
}

#[tauri::command]
pub async fn sync_now(app: AppHandle, shell: State<'_, Shell>) -> Result<AppStatus, CommandError> {
    let outcome = shell.sync_now().await;
    // Also on failure: the session may have ended, which the header must show.
    if let Ok(status) = shell.status().await {
        emit_status(&app, &status);
    }
    outcome
}

#[tauri::command]
pub async fn list_leads(shell: State<'_, Shell>, query: ListLeadsArgs) -> Result<LeadPage, CommandError> {
    shell.list_leads(query).await
}

pub fn emit_status(app: &AppHandle, status: &AppStatus) {
    if let Err(e) = app.emit(STATUS_EVENT, status) {
        tracing::warn!(error = %e, "cannot emit the status event");
    }
}
