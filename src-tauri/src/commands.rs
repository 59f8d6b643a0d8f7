//! The Tauri commands: each forwards to [`Shell`]. Status changes reach the UI as events (see `lib.rs`).

use tauri::State;

use crate::api::{AppStatus, CommandError, LeadPage, ListLeadsArgs, LoginArgs};
use crate::shell::Shell;

#[tauri::command]
pub async fn app_status(shell: State<'_, Shell>) -> Result<AppStatus, CommandError> {
    shell.status().await
}

#[tauri::command]
pub async fn login(shell: State<'_, Shell>, args: LoginArgs) -> Result<AppStatus, CommandError> {
    tracing::debug!(?args, "login");
    shell.login(args).await
}

#[tauri::command]
pub async fn sync_now(shell: State<'_, Shell>) -> Result<AppStatus, CommandError> {
    shell.sync_now().await
}

#[tauri::command]
pub async fn list_leads(shell: State<'_, Shell>, query: ListLeadsArgs) -> Result<LeadPage, CommandError> {
    shell.list_leads(query).await
}
