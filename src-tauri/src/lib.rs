//! Leadline's desktop shell: a thin Tauri layer over leadline-store and leadline-sync.
//!
//! Commands (see [`commands`]): `app_status`, `login`, `logout`, `sync_now`, `list_leads`, `get_lead`, `dashboard`, `remember_screen`, `screen_ready`, and the softphone's
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
//! - `LEADLINE_UPDATER_PUBKEY`: in debug builds only, the minisign public key in-app updates must be signed
//!   with instead of the release key (tests); logged as a warning. Release builds ignore it.
//! - `RUST_LOG`: log filter (default `info`).
//!
//! SIGTERM and SIGINT quit the app like the tray's Quit (a clean end of the run; the supervisor sees the
//! desktop offline at once).
//!
//! Arguments: `--provision FILE` reads the desk's provisioning file from FILE (see [`setup`]); `--minimised`
//! starts in the taskbar; `--screen=<today|leads|follow-ups>` opens on that screen
//! (otherwise the app opens on the screen it was left on).

pub mod api;
mod commands;
pub mod conflicts;
mod desktop;
mod followups;
mod home;
pub mod leaddetail;
mod leadlist;
mod phone;
pub mod runlog;
pub mod setup;
mod shell;
pub mod team;
mod token;
pub mod updater;
mod wrapup;

use std::path::PathBuf;

use tauri::{Emitter, Manager};

pub use shell::{CACHE_FILE, Shell};

use crate::api::{LoginArgs, PHONE_EVENT, PhoneEvent, STATUS_EVENT};

/// What the app knows of its own run: where its data is, and whether the last run ended uncleanly.
pub struct RunState {
    pub data_dir: PathBuf,
    pub unclean: std::sync::Mutex<Option<runlog::UncleanExit>>,
    marker: runlog::Marker,
}

/// Starts the app; returns when its last window closes.
pub fn run() {
    runlog::mark_start();
    init_tracing();
    runlog::log_panics();
    home::open_on_from_args(std::env::args().skip(1));
    let built = tauri::Builder::default()
        // First: a second start hands over to the running app (its window comes forward) and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("Leadline was started again; showing this window");
            desktop::bring_to_front(app);
        }))
        // Signed in-app updates; the key is tauri.conf.json's (plugins.updater.pubkey), or in a debug
        // build LEADLINE_UPDATER_PUBKEY's (logged loudly).
        .plugin(match updater::pubkey_override() {
            Some(key) => tauri_plugin_updater::Builder::new().pubkey(key).build(),
            None => tauri_plugin_updater::Builder::new().build(),
        })
        .manage(updater::Updates::default())
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
            commands::unclean_exit,
            commands::save_crash_report,
            commands::preferences,
            commands::lead_page,
            commands::export_leads,
            commands::follow_ups,
            commands::complete_follow_up,
            commands::reschedule_follow_up,
            commands::export_follow_up,
            commands::save_preferences,
            commands::remember_screen,
            commands::conflicts,
            commands::resolve_conflict,
            commands::lead_detail,
            commands::edit_lead,
            commands::call_history,
            commands::export_call_history,
            commands::recording,
            commands::screen_ready,
            commands::team_dashboard,
            commands::team_members,
            commands::team_leads,
            commands::assign_leads,
            commands::assign_matching,
            commands::transfer_leads,
            commands::lead_audit,
            commands::import_csv,
            commands::import_sheet,
            commands::team_goals,
            commands::set_goal,
            commands::disposition_catalogue,
            commands::save_disposition,
            commands::update_state,
            commands::install_update,
            setup::setup_state,
            setup::check_server,
            setup::start_mic_test,
            setup::stop_mic_test,
            setup::play_test_tone,
            setup::test_notification,
            setup::finish_setup,
        ])
        .setup(|app| {
            let data_dir = data_dir(app.handle())?;
            runlog::start_file_log(&data_dir);
            tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %data_dir.display(), "starting");
            let (marker, unclean) = runlog::Marker::arm(&data_dir);
            if let Some(exit) = &unclean {
                tracing::warn!(started_at = ?exit.started_at, "the last run did not end cleanly");
                shell::request_cache_check(&data_dir);
            }
            app.manage(RunState {
                data_dir: data_dir.clone(),
                unclean: std::sync::Mutex::new(unclean),
                marker,
            });
            let opening = std::time::Instant::now();
            let shell = Shell::open(&data_dir);
            tracing::info!(
                ms = opening.elapsed().as_secs_f64() * 1e3,
                since_start_ms = runlog::since_start().as_secs_f64() * 1e3,
                "local cache opened"
            );
            start_minimised_if_asked(app.handle(), &shell);
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
            app.manage(setup::SetupRuntime::new(setup::SetupSources::from_env()));
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { start(handle).await });
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "Leadline could not start");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            // Every way out (the tray's Quit, the last window closed, `AppHandle::exit`) ends here: the
            // supervisor sees this desktop offline at once, as after a sign-out (at most a short wait).
            if let Some(shell) = app.try_state::<Shell>() {
                tauri::async_runtime::block_on(shell.report_quitting());
            }
            if let Some(run) = app.try_state::<RunState>() {
                run.marker.disarm();
            }
            tracing::info!("stopped");
        }
    });
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
    // Signed in-app updates from the server signed in to: checked now and then, offered, never forced.
    tauri::async_runtime::spawn(updater::run(app.clone()));
    // The supervisor's live status of this desktop's user, for the app's life.
    tauri::async_runtime::spawn(team::report_presence(app.clone()));
    #[cfg(unix)]
    tauri::async_runtime::spawn(quit_on_signal(app.clone()));
}

/// SIGTERM (the desktop session ending, `kill`) and SIGINT (Ctrl+C in the terminal it was started from)
/// quit the app the way the tray's Quit does: the run ends cleanly (no crash prompt next time) and the
/// supervisor sees this desktop offline at once. A second signal ends the process at once.
#[cfg(unix)]
async fn quit_on_signal(app: tauri::AppHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut interrupt) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(term), Ok(interrupt)) => (term, interrupt),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM and SIGINT");
            return;
        }
    };
    let mut asked = false;
    loop {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        if asked {
            tracing::warn!("asked to stop again; stopping now");
            std::process::exit(1);
        }
        asked = true;
        tracing::info!("asked to stop by a signal; quitting");
        app.exit(0);
    }
}

/// `--minimised` (an autostart entry) or the saved preference: start in the taskbar. Minimised rather
/// than hidden, so the app stays reachable on desktops without a tray.
fn start_minimised_if_asked(app: &tauri::AppHandle, shell: &Shell) {
    let flag = std::env::args().any(|a| a == "--minimised" || a == "--minimized");
    let preferred = shell
        .shared_store()
        .ok()
        .and_then(|s| s.lock().preferences().ok())
        .is_some_and(|p| p.start_minimised);
    if !(flag || preferred) {
        return;
    }
    tracing::info!("starting minimised");
    for window in app.webview_windows().into_values() {
        if let Err(e) = window.minimize() {
            tracing::warn!(error = %e, "cannot start minimised");
        }
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

/// Logs to stderr and, once the data folder is known, to the rolling log files (see [`runlog`]).
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let file = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(runlog::LateFile);
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer())
        .with(file)
        .try_init();
}
