//! Leadline's desktop shell: a thin Tauri layer over leadline-store and leadline-sync.
//!
//! Commands (see [`commands`]): `app_status`, `login`, `logout`, `sync_now`, `list_leads`, `get_lead`, `dashboard`, and the softphone's
//! `phone_status`, `phone_settings`, `save_phone_settings`, `audio_devices`, `dial`, `click_to_call`,
//! `call_action`, and the wrap-up's `unlogged_calls`, `dispositions`, `wrap_up`; their argument and answer types are in [`api`], exported to TypeScript for the UI. The
//! shell emits [`api::STATUS_EVENT`] whenever the status changes, [`api::PHONE_EVENT`] for everything
//! the softphone does, and [`api::OPEN_LEAD_EVENT`] when a notification about a lead is clicked.
//!
//! Once signed in, leadline-sync's engine syncs in the background; its notices (new leads, follow-ups
//! due, missed calls; none during a call) become desktop notifications, and the tray icon shows the
//! status (see [`desktop`]).
//!
//! Environment:
//! - `LEADLINE_DATA_DIR`: where the local cache (`leadline.sqlite3`) lives; default: the app data folder.
//! - `LEADLINE_SERVER_URL`, `LEADLINE_USER`, `LEADLINE_PASSWORD`: when all three are set, the app signs in
//!   and syncs at startup (demo runs and end-to-end tests).
//! - `LEADLINE_AUDIO`: `silent` or `tone` for synthetic call audio (machines without sound); default: the
//!   OS devices chosen in the phone settings.
//! - `RUST_LOG`: log filter (default `info`).

pub mod api;
mod commands;
mod desktop;
mod home;
mod phone;
mod shell;
mod token;
mod wrapup;

use std::path::PathBuf;

use tauri::{Emitter, Manager};

pub use shell::{CACHE_FILE, Shell};

use crate::api::{LoginArgs, PHONE_EVENT, PhoneEvent, STATUS_EVENT};

/// Starts the app; returns when its last window closes.
pub fn run() {
    init_tracing();
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::login,
            commands::logout,
            commands::get_lead,
            commands::dashboard,
            commands::sync_now,
            commands::list_leads,
            commands::phone_status,
            commands::phone_settings,
            commands::save_phone_settings,
            commands::audio_devices,
            commands::dial,
            commands::click_to_call,
            commands::call_action,
            commands::unlogged_calls,
            commands::dispositions,
            commands::wrap_up,
        ])
        .setup(|app| {
            let data_dir = data_dir(app.handle())?;
            tracing::info!(data_dir = %data_dir.display(), "starting");
            let shell = Shell::open(&data_dir);
            let emitter = app.handle().clone();
            let tray = desktop::tray(app.handle());
            shell.on_status(move |status| {
                if let Some(tray) = &tray {
                    desktop::show_status(tray, &status);
                }
                if let Err(e) = emitter.emit(STATUS_EVENT, status) {
                    tracing::warn!(error = %e, "cannot emit the status event");
                }
            });
            let handle = app.handle().clone();
            shell.on_alert(move |alert| desktop::notify(&handle, alert));
            app.manage(shell);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { start(handle).await });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(e) = result {
        tracing::error!(error = %e, "Leadline stopped with an error");
        std::process::exit(1);
    }
}

/// Restores the previous session, then signs in from the environment if asked to.
async fn start(app: tauri::AppHandle) {
    let shell = app.state::<Shell>();
    if let Err(e) = shell.restore_session().await {
        tracing::warn!(error = %e.message, "cannot restore the previous session");
    }
    let emitter = app.clone();
    shell
        .start_phone(move |event| {
            if let PhoneEvent::Incoming { .. } = &event {
                desktop::bring_to_front(&emitter);
            }
            if let Err(e) = emitter.emit(PHONE_EVENT, event) {
                tracing::warn!(error = %e, "cannot emit a phone event");
            }
        })
        .await;
    if let Some(args) = auto_login_args() {
        shell.auto_login(args).await;
    }
}

fn auto_login_args() -> Option<LoginArgs> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(LoginArgs {
        server_url: var("LEADLINE_SERVER_URL")?,
        username: var("LEADLINE_USER")?,
        password: var("LEADLINE_PASSWORD")?,
    })
}

fn data_dir(app: &tauri::AppHandle) -> Result<PathBuf, tauri::Error> {
    match std::env::var_os("LEADLINE_DATA_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => app.path().app_data_dir(),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
