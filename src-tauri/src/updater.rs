//! Signed in-app updates (tauri-plugin-updater) from the manifest the Leadline server hosts
//! (`GET /api/v1/updates/{target}/{arch}/{current_version}?bundle_type=…`, see leadline-server's
//! `routes::updates`).
//!
//! The app checks the server it is signed in to a minute after the start and every [`CHECK_EVERY`]; a newer
//! release is downloaded at once and kept in memory only if its minisign signature verifies with the public
//! key built into the app (`plugins.updater.pubkey` in tauri.conf.json) and was made for the version the
//! manifest announces (`requireSignedVersion`). It is then offered, never forced, by [`decide`]:
//! with a call live it waits for the call to end; with changes waiting for the server (outbox, calls not
//! logged yet) it says how many and asks (sync first / update anyway / later); with nothing pending it
//! offers "Restart to update". [`install_allowed`] checks the same again when the user clicks.
//!
//! On Linux the plugin installs a .deb with `pkexec dpkg -i` (a polkit password prompt; then zenity/kdialog
//! or `sudo`), an .rpm with `rpm -U`: the user needs an administrator's password, or the IT team pushes
//! the package itself. Only https servers are checked in release builds (the plugin's rule).
//!
//! `LEADLINE_UPDATER_PUBKEY` replaces the built-in key in debug builds only, with a warning in the log:
//! a release build ignores it, so nobody with access to a desk's environment can make it trust their key.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};
use ts_rs::TS;

use crate::api::{CommandError, ErrorCode};
use crate::shell::Shell;

/// How often the app asks the server for a newer release.
pub const CHECK_EVERY: Duration = Duration::from_secs(4 * 3600);
/// The first check, after the start.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(60);
/// The environment variable that replaces the release key, in debug builds only.
pub const PUBKEY_ENV: &str = "LEADLINE_UPDATER_PUBKEY";
/// The environment variable that replaces [`FIRST_CHECK_AFTER`] (whole seconds), in debug builds only:
/// the desktop E2E test does not wait a minute.
pub const FIRST_CHECK_ENV: &str = "LEADLINE_UPDATE_FIRST_CHECK_SECS";
/// The environment variable that replaces [`CHECK_EVERY`] (whole seconds), in debug builds only.
pub const CHECK_EVERY_ENV: &str = "LEADLINE_UPDATE_CHECK_EVERY_SECS";
/// The event the window hears [`UpdateState`] on.
pub const UPDATE_EVENT: &str = "leadline://update";

/// What waits on this desk that an update (a restart) would interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pending {
    /// A call is live (ringing, connected, on hold).
    pub call_live: bool,
    /// Changes in the outbox, not yet on the server.
    pub unsynced_changes: u64,
    /// Calls that ended but are not logged yet (their wrap-up waits).
    pub unlogged_calls: u64,
}

/// What to do with a release the server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not newer than this app: nothing to do.
    NotNewer,
    /// Its signature does not verify: never installed.
    Refused(String),
    /// A call is live: say nothing until it ends.
    WaitForCall,
    /// Changes wait for the server: ask (sync first / update anyway / later).
    AskUnsynced { changes: u64 },
    /// Nothing pending: offer "Restart to update".
    OfferRestart,
}

/// The decision, from the versions, the signature check and what is pending on the desk.
pub fn decide(
    current: &semver::Version,
    offered: &semver::Version,
    signature: Result<(), String>,
    pending: Pending,
) -> Verdict {
    if offered <= current {
        return Verdict::NotNewer;
    }
    if let Err(why) = signature {
        return Verdict::Refused(why);
    }
    if pending.call_live {
        return Verdict::WaitForCall;
    }
    let changes = pending.unsynced_changes + pending.unlogged_calls;
    if changes > 0 {
        Verdict::AskUnsynced { changes }
    } else {
        Verdict::OfferRestart
    }
}

/// Why an install asked for now may not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotNow {
    #[error("a call is in progress")]
    CallLive,
    #[error("{0} changes are waiting for the server")]
    Unsynced(u64),
}

/// Whether the user's click may install now: never during a call; with changes waiting only when the
/// user said "update anyway".
pub fn install_allowed(pending: Pending, anyway: bool) -> Result<(), NotNow> {
    if pending.call_live {
        return Err(NotNow::CallLive);
    }
    let changes = pending.unsynced_changes + pending.unlogged_calls;
    if changes > 0 && !anyway {
        return Err(NotNow::Unsynced(changes));
    }
    Ok(())
}

/// What the window shows about updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpdateState {
    /// Nothing to offer.
    None,
    /// A newer version is downloaded and verified; it waits for the call to end.
    WaitingForCall { version: String },
    /// A newer version is ready. `changes`: local changes that would wait (0: "Restart to update").
    Ready {
        version: String,
        notes: Option<String>,
        changes: u64,
    },
    /// Installing it (the administrator's password may be asked for).
    Installing { version: String },
}

impl UpdateState {
    /// The state a verdict shows.
    pub fn of(verdict: &Verdict, version: &str, notes: Option<&str>) -> Self {
        match verdict {
            Verdict::NotNewer | Verdict::Refused(_) => Self::None,
            Verdict::WaitForCall => Self::WaitingForCall {
                version: version.to_owned(),
            },
            Verdict::AskUnsynced { changes } => Self::Ready {
                version: version.to_owned(),
                notes: notes.map(str::to_owned),
                changes: *changes,
            },
            Verdict::OfferRestart => Self::Ready {
                version: version.to_owned(),
                notes: notes.map(str::to_owned),
                changes: 0,
            },
        }
    }
}

/// A check that went wrong (the server, the network, or a package that failed its signature check).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("not an update address: {0}")]
    Url(String),
    #[error("update check: {0}")]
    Updater(#[from] tauri_plugin_updater::Error),
}

impl CheckError {
    /// The package was downloaded but its signature did not verify (tampered, or another key's).
    pub fn is_bad_signature(&self) -> bool {
        matches!(
            self,
            CheckError::Updater(
                tauri_plugin_updater::Error::Minisign(_)
                    | tauri_plugin_updater::Error::Base64(_)
                    | tauri_plugin_updater::Error::SignatureUtf8(_)
                    | tauri_plugin_updater::Error::SignedVersionMismatch { .. }
                    | tauri_plugin_updater::Error::MissingSignedVersion
            )
        )
    }
}

/// The manifest's address on `server_url`, with the updater's placeholders.
pub fn endpoint(server_url: &str) -> Result<url::Url, CheckError> {
    let text = format!(
        "{}/api/v1/updates/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}?bundle_type={{{{bundle_type}}}}",
        server_url.trim_end_matches('/')
    );
    url::Url::parse(&text).map_err(|e| CheckError::Url(format!("{server_url}: {e}")))
}

/// A release downloaded and verified, ready to install.
pub struct Downloaded {
    pub update: Update,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Downloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloaded")
            .field("version", &self.update.version)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Asks `server_url` for a release newer than this app and downloads it: `None` when there is none; an
/// error when the server fails or the package's signature does not verify with the app's key.
pub async fn fetch<R: Runtime>(
    app: &AppHandle<R>,
    server_url: &str,
) -> Result<Option<Downloaded>, CheckError> {
    let updater = app
        .updater_builder()
        .endpoints(vec![endpoint(server_url)?])?
        .timeout(Duration::from_secs(120))
        .build()?;
    let Some(update) = updater.check().await? else {
        return Ok(None);
    };
    tracing::info!(version = %update.version, url = %update.download_url, "an update is offered; downloading");
    // `download` verifies the signature (and the version it was signed for) before it answers.
    let bytes = update.download(|_, _| {}, || {}).await?;
    tracing::info!(version = %update.version, bytes = bytes.len(), "the update is downloaded and its signature verified");
    Ok(Some(Downloaded { update, bytes }))
}

/// A period from the environment variable `name` (whole seconds), honoured in debug builds only: the
/// desktop E2E test does not wait minutes for a check.
fn debug_override(name: &str) -> Option<Duration> {
    let secs = std::env::var(name).ok()?.trim().parse::<u64>().ok()?;
    if cfg!(debug_assertions) {
        Some(Duration::from_secs(secs))
    } else {
        tracing::warn!("{name} is ignored in a release build");
        None
    }
}

/// The public key the updater trusts: the built-in one, or in debug builds `LEADLINE_UPDATER_PUBKEY`.
pub fn pubkey_override() -> Option<String> {
    let key = std::env::var(PUBKEY_ENV).ok().filter(|k| !k.trim().is_empty())?;
    if cfg!(debug_assertions) {
        tracing::warn!(
            "{PUBKEY_ENV} is set: this DEBUG build trusts updates signed by that key instead of the release key"
        );
        Some(key)
    } else {
        tracing::warn!("{PUBKEY_ENV} is ignored: a release build trusts only its built-in update key");
        None
    }
}

impl Shell {
    /// What an update would interrupt now: a live call (the phone) and the changes waiting for the
    /// server and the calls not logged yet (the store).
    pub async fn update_pending(&self) -> Result<Pending, CommandError> {
        let call_live = self
            .desk_phone()
            .is_some_and(|phone| phone.calls().iter().any(|c| c.is_live()));
        let status = self.status().await?;
        Ok(Pending {
            call_live,
            unsynced_changes: status.pending,
            unlogged_calls: status.unlogged,
        })
    }
}

/// The app's update: the release downloaded and verified, and what the window was last told.
pub struct Updates {
    ready: tokio::sync::Mutex<Option<Downloaded>>,
    shown: std::sync::Mutex<UpdateState>,
}

impl Default for Updates {
    fn default() -> Self {
        Self {
            ready: tokio::sync::Mutex::new(None),
            shown: std::sync::Mutex::new(UpdateState::None),
        }
    }
}

impl Updates {
    /// What the window shows now.
    pub fn state(&self) -> UpdateState {
        self.shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn show<R: Runtime>(&self, app: &AppHandle<R>, state: UpdateState) {
        let mut shown = self
            .shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *shown == state {
            return;
        }
        *shown = state.clone();
        drop(shown);
        if let Err(e) = app.emit(UPDATE_EVENT, state) {
            tracing::warn!(error = %e, "cannot emit the update state");
        }
    }
}

/// The app's update loop: a check a minute after the start and every [`CHECK_EVERY`], and every 5 s the
/// offer weighed again against what is pending on the desk (a call that ended, changes that went out).
pub async fn run<R: Runtime>(app: AppHandle<R>) {
    let first = debug_override(FIRST_CHECK_ENV).unwrap_or(FIRST_CHECK_AFTER);
    let every = debug_override(CHECK_EVERY_ENV).unwrap_or(CHECK_EVERY);
    tokio::time::sleep(first).await;
    let mut next_check = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_check {
            // Nobody signed in yet (the app waits at the sign-in): ask again soon, not in four hours.
            let wait = if check_once(&app).await {
                every
            } else {
                first.min(every)
            };
            next_check = tokio::time::Instant::now() + wait;
        }
        weigh(&app).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Asks the signed-in server; keeps a verified release, forgets one that is gone or refused. False when
/// there was no server to ask.
async fn check_once<R: Runtime>(app: &AppHandle<R>) -> bool {
    let (Some(shell), Some(updates)) = (app.try_state::<Shell>(), app.try_state::<Updates>()) else {
        return false;
    };
    let Some(server_url) = shell.status().await.ok().and_then(|s| s.server_url) else {
        return false;
    };
    match fetch(app, &server_url).await {
        Ok(found) => *updates.ready.lock().await = found,
        Err(e) if e.is_bad_signature() => {
            tracing::error!(error = %e, "REFUSED an update whose signature does not verify with this app's key");
            *updates.ready.lock().await = None;
        }
        Err(e) => tracing::warn!(error = %e, "cannot check for updates"),
    }
    true
}

/// Weighs the kept release against what is pending and tells the window when that changes.
async fn weigh<R: Runtime>(app: &AppHandle<R>) {
    let (Some(shell), Some(updates)) = (app.try_state::<Shell>(), app.try_state::<Updates>()) else {
        return;
    };
    let offered = {
        let ready = updates.ready.lock().await;
        ready
            .as_ref()
            .map(|d| (d.update.version.clone(), d.update.body.clone()))
    };
    let state = match offered {
        None => UpdateState::None,
        Some((version, notes)) => {
            if matches!(updates.state(), UpdateState::Installing { .. }) {
                return;
            }
            let Ok(pending) = shell.update_pending().await else {
                return;
            };
            let current = app.package_info().version.clone();
            let verdict = match semver::Version::parse(&version) {
                Ok(offered) => decide(&current, &offered, Ok(()), pending),
                Err(e) => Verdict::Refused(e.to_string()),
            };
            UpdateState::of(&verdict, &version, notes.as_deref())
        }
    };
    updates.show(app, state);
}

/// The user's "Restart to update" (or "Update anyway"): checked again, installed (the administrator's
/// password may be asked for), then the app restarts into the new version.
pub async fn install<R: Runtime>(app: &AppHandle<R>, anyway: bool) -> Result<(), CommandError> {
    let shell = app.state::<Shell>();
    let updates = app.state::<Updates>();
    let pending = shell.update_pending().await?;
    install_allowed(pending, anyway).map_err(|e| match e {
        NotNow::CallLive => CommandError::new(
            ErrorCode::InvalidInput,
            "A call is in progress: the update waits until it ends.",
        ),
        NotNow::Unsynced(_) => CommandError::new(
            ErrorCode::InvalidInput,
            "Changes are waiting for the server: sync them first, or choose to update anyway.",
        ),
    })?;
    let (update, bytes) = {
        let ready = updates.ready.lock().await;
        let Some(d) = ready.as_ref() else {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "There is no update to install.",
            ));
        };
        (d.update.clone(), d.bytes.clone())
    };
    let version = update.version.clone();
    updates.show(
        app,
        UpdateState::Installing {
            version: version.clone(),
        },
    );
    tracing::info!(%version, changes_waiting = pending.unsynced_changes + pending.unlogged_calls, "installing the update");
    let installed = tauri::async_runtime::spawn_blocking(move || update.install(bytes)).await;
    match installed {
        Ok(Ok(())) => {
            tracing::info!(%version, "the update is installed; restarting");
            app.request_restart();
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::error!(%version, error = %e, "the update could not be installed");
            updates.show(app, UpdateState::None);
            weigh(app).await;
            Err(CommandError::new(
                ErrorCode::Internal,
                format!("The update could not be installed: {e}"),
            ))
        }
        Err(e) => {
            updates.show(app, UpdateState::None);
            weigh(app).await;
            Err(CommandError::new(
                ErrorCode::Internal,
                format!("The update could not be installed: {e}"),
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).unwrap()
    }

    const NOTHING: Pending = Pending {
        call_live: false,
        unsynced_changes: 0,
        unlogged_calls: 0,
    };

    #[test]
    fn a_newer_signed_release_with_nothing_pending_is_offered_as_a_restart() {
        assert_eq!(
            decide(&v("0.1.0"), &v("0.2.0"), Ok(()), NOTHING),
            Verdict::OfferRestart
        );
    }

    #[test]
    fn a_release_not_newer_is_ignored_whatever_else() {
        for offered in ["0.1.0", "0.0.9", "0.1.0-rc.1"] {
            let busy = Pending {
                call_live: true,
                unsynced_changes: 3,
                unlogged_calls: 1,
            };
            assert_eq!(decide(&v("0.1.0"), &v(offered), Ok(()), busy), Verdict::NotNewer);
            assert_eq!(
                decide(&v("0.1.0"), &v(offered), Err("bad".into()), NOTHING),
                Verdict::NotNewer
            );
        }
    }

    #[test]
    fn a_bad_signature_is_refused_even_with_nothing_pending() {
        assert_eq!(
            decide(
                &v("0.1.0"),
                &v("0.2.0"),
                Err("signature of another key".into()),
                NOTHING
            ),
            Verdict::Refused("signature of another key".into())
        );
    }

    #[test]
    fn a_live_call_waits_before_anything_is_asked() {
        let on_call = Pending {
            call_live: true,
            unsynced_changes: 2,
            unlogged_calls: 0,
        };
        assert_eq!(
            decide(&v("0.1.0"), &v("0.2.0"), Ok(()), on_call),
            Verdict::WaitForCall
        );
        assert_eq!(install_allowed(on_call, true), Err(NotNow::CallLive));
    }

    #[test]
    fn waiting_changes_and_unlogged_calls_are_counted_and_asked_about() {
        let waiting = Pending {
            call_live: false,
            unsynced_changes: 2,
            unlogged_calls: 1,
        };
        assert_eq!(
            decide(&v("0.1.0"), &v("0.2.0"), Ok(()), waiting),
            Verdict::AskUnsynced { changes: 3 }
        );
        assert_eq!(install_allowed(waiting, false), Err(NotNow::Unsynced(3)));
        assert_eq!(install_allowed(waiting, true), Ok(()));
        assert_eq!(install_allowed(NOTHING, false), Ok(()));
    }

    #[test]
    fn the_window_is_shown_what_the_verdict_says() {
        assert_eq!(
            UpdateState::of(&Verdict::NotNewer, "0.2.0", None),
            UpdateState::None
        );
        assert_eq!(
            UpdateState::of(&Verdict::Refused("x".into()), "0.2.0", None),
            UpdateState::None
        );
        assert_eq!(
            UpdateState::of(&Verdict::WaitForCall, "0.2.0", None),
            UpdateState::WaitingForCall {
                version: "0.2.0".into()
            }
        );
        assert_eq!(
            UpdateState::of(&Verdict::AskUnsynced { changes: 4 }, "0.2.0", Some("notes")),
            UpdateState::Ready {
                version: "0.2.0".into(),
                notes: Some("notes".into()),
                changes: 4
            }
        );
    }

    #[test]
    fn the_endpoint_keeps_the_updaters_placeholders() {
        assert_eq!(
            endpoint("https://crm.example.in/").unwrap().as_str(),
            "https://crm.example.in/api/v1/updates/%7B%7Btarget%7D%7D/%7B%7Barch%7D%7D/%7B%7Bcurrent_version%7D%7D?bundle_type={{bundle_type}}"
        );
        assert!(endpoint("not a url").is_err());
    }
}
