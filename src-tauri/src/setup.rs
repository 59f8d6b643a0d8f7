//! The first-run setup's commands: where the desk stands (set up yet? a provisioning file?), the server
//! check (`leadline_sync::check_server`), the microphone test (`DeskPhone::mic_test`, its levels to the
//! window as [`MIC_LEVEL_EVENT`]s) and test tone, a real test notification with the notification
//! service's name, and the result kept in the cache (`Store::set_desk_setup`). The logic lives in the
//! libraries; this only strings it together.
//!
//! The provisioning file is looked for (first found wins) at `--provision FILE`, then
//! `$XDG_CONFIG_HOME/leadline/provisioning.json`, then `/etc/leadline/provisioning.json`
//! (`leadline_model::setup::provisioning_candidates`), and read at every `setup_state`, so a file dropped
//! while the app runs counts.

use std::path::PathBuf;
use std::time::Duration;

use leadline_model::setup::{DeskSetup, Provisioning, ServerCheck, ServerProblem, StepOutcome};
use leadline_phone::audio::MicTest;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, State};
use ts_rs::TS;

use crate::api::{CommandError, ErrorCode};
use crate::shell::{Shell, storage};

/// The microphone test's readings (a [`MicLevel`]), about twenty times a second while it runs.
pub const MIC_LEVEL_EVENT: &str = "leadline://mic-level";

/// How long the test tone plays.
const TEST_TONE: Duration = Duration::from_millis(1500);

/// How long the notification service may take to say who it is.
const NOTIFICATION_SERVICE_WAIT: Duration = Duration::from_secs(5);

/// Where the setup's facts come from outside the cache: the `--provision` argument, the environment.
#[derive(Debug, Clone, Default)]
pub struct SetupSources {
    /// `--provision FILE`.
    pub provision_arg: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    /// `LEADLINE_SERVER_URL` is set: the environment names the server (demo runs, tests); no setup.
    pub server_from_env: bool,
}

impl SetupSources {
    /// From this process's arguments and environment.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            provision_arg: provision_arg(std::env::args().skip(1)),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME"),
            server_from_env: var("LEADLINE_SERVER_URL").is_some(),
        }
    }

    /// The provisioning file that applies: `Ok(None)` when there is none, `Err` when the first one found
    /// cannot be read or used (the setup shows why, and who to tell).
    pub fn provisioning(&self) -> Result<Option<Provisioned>, ProvisioningFault> {
        let candidates = leadline_model::setup::provisioning_candidates(
            self.provision_arg.as_deref(),
            self.xdg_config_home.as_deref(),
            self.home.as_deref(),
        );
        for (i, path) in candidates.iter().enumerate() {
            let fault = |message: String| ProvisioningFault {
                file: path.display().to_string(),
                message,
            };
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                // A missing file is normal, except the one named on the command line.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && !(i == 0 && self.provision_arg.is_some()) =>
                {
                    continue;
                }
                Err(e) => return Err(fault(format!("cannot be read: {e}"))),
            };
            return match Provisioning::parse(&text) {
                Ok(settings) => Ok(Some(Provisioned {
                    file: path.display().to_string(),
                    settings,
                })),
                Err(e) => Err(fault(e.to_string())),
            };
        }
        Ok(None)
    }
}

/// `--provision FILE` or `--provision=FILE` among the arguments.
pub fn provision_arg(args: impl IntoIterator<Item = String>) -> Option<PathBuf> {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--provision" {
            return args.next().map(PathBuf::from);
        }
        if let Some(file) = arg.strip_prefix("--provision=") {
            return Some(PathBuf::from(file));
        }
    }
    None
}

/// A provisioning file in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Provisioned {
    /// Its path.
    pub file: String,
    pub settings: Provisioning,
}

/// A provisioning file that is there but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProvisioningFault {
    pub file: String,
    /// What is wrong (the field, the line), in English, for the admin.
    pub message: String,
}

/// Where the desk stands with its setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SetupState {
    /// The setup shows before the sign-in (never set up, and no server known from an earlier sign-in or
    /// the environment; or a provisioning file came and the setup has not run since).
    pub needed: bool,
    /// What the last setup found.
    pub done: Option<DeskSetup>,
    pub provisioned: Option<Provisioned>,
    pub provisioning_fault: Option<ProvisioningFault>,
    /// The server the sign-in uses: the provisioned one, else the setup's, else the last one signed in to.
    pub server_url: Option<String>,
}

/// What the server check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ServerVerdict {
    Passed { check: ServerCheck },
    Failed { problem: ServerProblem },
}

/// How the microphone test started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MicStart {
    /// Levels follow as [`MIC_LEVEL_EVENT`]s.
    Started,
    /// This computer has no microphone (calls will go through the telecaller's mobile).
    NoMicrophone,
    /// The microphone could not be opened (busy, refused); `detail` says what the sound system said.
    Failed { detail: String },
}

/// One reading of the microphone test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct MicLevel {
    /// dB relative to full scale (-60 … 0).
    pub dbfs: f64,
    /// The meter's position, 0–1.
    pub meter: f64,
    /// A voice was heard: the test passed.
    pub heard: bool,
}

/// What the notification check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotificationCheck {
    /// The notification service that answered (`notification-daemon`, `gnome-shell`, `Plasma`, `xfce4-notifyd`);
    /// `None`: nothing answers, notifications cannot show.
    pub service: Option<String>,
    /// The test notification was handed to it.
    pub sent: bool,
    /// Why it was not (the D-Bus error), for whoever helps.
    pub error: Option<String>,
}

/// The setup's result as the window sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FinishSetup {
    pub server_url: String,
    #[serde(default)]
    pub allow_http: bool,
    #[serde(default)]
    #[ts(optional)]
    pub server_version: Option<String>,
    pub microphone: StepOutcome,
    /// The microphone and speaker chosen in the test (`None`: the system default); kept in the phone settings.
    #[serde(default)]
    #[ts(optional)]
    pub input_device: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub output_device: Option<String>,
    pub notifications: StepOutcome,
}

/// The setup's running parts: where its facts come from, and the microphone test while it runs.
#[derive(Default)]
pub struct SetupRuntime {
    pub sources: SetupSources,
    mic: tokio::sync::Mutex<Option<RunningMicTest>>,
}

struct RunningMicTest {
    _test: MicTest,
    forward: tokio::task::JoinHandle<()>,
}

impl Drop for RunningMicTest {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

impl SetupRuntime {
    pub fn new(sources: SetupSources) -> Self {
        Self {
            sources,
            mic: tokio::sync::Mutex::default(),
        }
    }

    /// Starts the microphone test on `device`, handing each reading to `emit` (at most every 50 ms, and at
    /// once when a voice is first heard). Stops a test already running.
    pub async fn start_mic_test(
        &self,
        shell: &Shell,
        device: Option<String>,
        emit: impl Fn(MicLevel) + Send + 'static,
    ) -> MicStart {
        let mut running = self.mic.lock().await;
        *running = None;
        let Some(phone) = shell.desk_phone() else {
            return MicStart::Failed {
                detail: "the local cache could not be opened".into(),
            };
        };
        let test = match phone.mic_test(device.filter(|d| !d.is_empty())).await {
            Ok(test) => test,
            Err(leadline_phone::DeskError::Audio(leadline_phone::audio::AudioError::NoDevice { .. })) => {
                tracing::info!("microphone test: no microphone");
                return MicStart::NoMicrophone;
            }
            Err(e) => {
                tracing::warn!(error = %e, "microphone test: cannot open the microphone");
                return MicStart::Failed {
                    detail: e.to_string(),
                };
            }
        };
        let mut levels = test.levels();
        let forward = tokio::spawn(async move {
            let mut last = tokio::time::Instant::now() - Duration::from_secs(1);
            let mut told_heard = false;
            while levels.changed().await.is_ok() {
                let level = *levels.borrow_and_update();
                let first_heard = level.heard && !told_heard;
                if first_heard || last.elapsed() >= Duration::from_millis(50) {
                    told_heard |= level.heard;
                    last = tokio::time::Instant::now();
                    emit(MicLevel {
                        dbfs: level.dbfs,
                        meter: level.meter,
                        heard: level.heard,
                    });
                }
            }
        });
        *running = Some(RunningMicTest { _test: test, forward });
        MicStart::Started
    }

    /// Stops the microphone test (the device closes).
    pub async fn stop_mic_test(&self) {
        *self.mic.lock().await = None;
    }
}

impl Shell {
    /// Where the desk stands: set up or not, the provisioning file, the server the sign-in uses.
    pub async fn setup_state(&self, sources: &SetupSources) -> Result<SetupState, CommandError> {
        let (done, signed_in_server) = {
            let store = self.shared_store()?.lock();
            (
                store.desk_setup().map_err(storage)?,
                store.sync_state().map_err(storage)?.server_url,
            )
        };
        let (provisioned, provisioning_fault) = match sources.provisioning() {
            Ok(p) => (p, None),
            Err(fault) => {
                tracing::warn!(file = %fault.file, error = %fault.message, "the provisioning file cannot be used");
                (None, Some(fault))
            }
        };
        let needed = done.is_none()
            && !sources.server_from_env
            && (signed_in_server.is_none() || provisioned.is_some());
        let server_url = provisioned
            .as_ref()
            .map(|p| p.settings.server_url.clone())
            .or_else(|| done.as_ref().map(|d| d.server_url.clone()))
            .or(signed_in_server);
        Ok(SetupState {
            needed,
            done,
            provisioned,
            provisioning_fault,
            server_url,
        })
    }

    /// Keeps the setup's result; a provisioned desk keeps the provisioned server whatever was sent. The
    /// microphone and speaker chosen, and the provisioning file's phone defaults (on a desk whose phone
    /// account is not filled in yet), go to the phone settings.
    pub async fn finish_setup(
        &self,
        sources: &SetupSources,
        args: FinishSetup,
    ) -> Result<SetupState, CommandError> {
        let provisioned = sources.provisioning().ok().flatten();
        let (server_url, allow_http) = match &provisioned {
            Some(p) => (p.settings.server_url.clone(), p.settings.allow_http),
            None => (args.server_url.clone(), args.allow_http),
        };
        let setup = DeskSetup {
            server_url,
            allow_http,
            server_version: args.server_version.clone(),
            microphone: args.microphone,
            input_device: args.input_device.clone().filter(|d| !d.is_empty()),
            notifications: args.notifications,
            completed_at: chrono::Utc::now(),
        };
        self.shared_store()?
            .lock()
            .set_desk_setup(&setup)
            .map_err(|e| match e {
                leadline_store::StoreError::Invalid(why) => CommandError::new(ErrorCode::InvalidInput, why),
                e => storage(e),
            })?;
        tracing::info!(
            server = %setup.server_url,
            microphone = ?setup.microphone,
            notifications = ?setup.notifications,
            provisioned = provisioned.is_some(),
            "desk set up"
        );
        if let Some(phone) = self.desk_phone() {
            let phone_defaults = provisioned.as_ref().and_then(|p| p.settings.phone.clone());
            match phone.settings().await {
                Ok((mut settings, _)) => {
                    let before = settings.clone();
                    if let Some(device) = setup.input_device.clone() {
                        settings.input_device = Some(device);
                    }
                    if let Some(device) = args.output_device.clone().filter(|d| !d.is_empty()) {
                        settings.output_device = Some(device);
                    }
                    if let Some(defaults) = phone_defaults
                        && settings.domain.is_empty()
                    {
                        if let Some(domain) = defaults.sip_domain {
                            settings.domain = domain;
                        }
                        if let Some(ws) = defaults.websocket_url {
                            settings.ws_url = ws;
                        }
                    }
                    // A phone in use restarts with them; one not set up yet just keeps them.
                    let kept = if settings == before {
                        Ok(())
                    } else if settings.enabled {
                        phone
                            .save_settings(settings, None)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    } else {
                        self.shared_store()?
                            .lock()
                            .set_phone_settings(&settings)
                            .map_err(|e| e.to_string())
                    };
                    if let Err(e) = kept {
                        tracing::warn!(error = %e, "the setup's phone settings were not kept");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the phone settings"),
            }
        }
        self.setup_state(sources).await
    }
}

/// Asks the notification service who it is, then hands it a test notification saying `title` and `body`.
pub async fn send_test_notification(title: String, body: String) -> NotificationCheck {
    let asked = tokio::task::spawn_blocking(move || {
        let service = notification_service()?;
        let mut n = notify_rust::Notification::new();
        n.appname("Leadline")
            .summary(&title)
            .body(&body)
            .icon("call-start");
        n.show().map(|_| service).map_err(|e| e.to_string())
    });
    let check = match tokio::time::timeout(NOTIFICATION_SERVICE_WAIT, asked).await {
        Ok(Ok(Ok(service))) => NotificationCheck {
            service: Some(service),
            sent: true,
            error: None,
        },
        Ok(Ok(Err(e))) => NotificationCheck {
            service: None,
            sent: false,
            error: Some(e),
        },
        Ok(Err(e)) => NotificationCheck {
            service: None,
            sent: false,
            error: Some(format!("the check failed: {e}")),
        },
        Err(_) => NotificationCheck {
            service: None,
            sent: false,
            error: Some("the notification service did not answer in time".into()),
        },
    };
    tracing::info!(service = ?check.service, sent = check.sent, error = ?check.error, "notification check");
    check
}

/// The notification service's name (D-Bus `org.freedesktop.Notifications.GetServerInformation`).
#[cfg(all(unix, not(target_os = "macos")))]
fn notification_service() -> Result<String, String> {
    notify_rust::get_server_information()
        .map(|info| info.name)
        .map_err(|e| e.to_string())
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn notification_service() -> Result<String, String> {
    Ok("system".into())
}

// The commands.

#[tauri::command]
pub async fn setup_state(
    shell: State<'_, Shell>,
    setup: State<'_, SetupRuntime>,
) -> Result<SetupState, CommandError> {
    shell.setup_state(&setup.sources).await
}

#[tauri::command]
pub async fn check_server(url: String, allow_http: bool) -> Result<ServerVerdict, CommandError> {
    let verdict = match leadline_sync::check_server(&url, allow_http).await {
        Ok(check) => ServerVerdict::Passed { check },
        Err(problem) => ServerVerdict::Failed { problem },
    };
    tracing::info!(url = %url, ?verdict, "server check");
    Ok(verdict)
}

#[tauri::command]
pub async fn start_mic_test(
    app: AppHandle,
    shell: State<'_, Shell>,
    setup: State<'_, SetupRuntime>,
    device: Option<String>,
) -> Result<MicStart, CommandError> {
    Ok(setup
        .start_mic_test(&shell, device, move |level| {
            if let Err(e) = app.emit(MIC_LEVEL_EVENT, level) {
                tracing::debug!(error = %e, "cannot emit a microphone level");
            }
        })
        .await)
}

#[tauri::command]
pub async fn stop_mic_test(setup: State<'_, SetupRuntime>) -> Result<(), CommandError> {
    setup.stop_mic_test().await;
    Ok(())
}

#[tauri::command]
pub async fn play_test_tone(shell: State<'_, Shell>, device: Option<String>) -> Result<(), CommandError> {
    let phone = shell.desk_phone().ok_or_else(|| {
        CommandError::new(
            ErrorCode::Storage,
            "The softphone needs the local cache, which could not be opened.",
        )
    })?;
    phone
        .play_test_tone(device.filter(|d| !d.is_empty()), TEST_TONE)
        .await
        .map_err(|e| CommandError::new(ErrorCode::Phone, e.to_string()))
}

#[tauri::command]
pub async fn test_notification(title: String, body: String) -> Result<NotificationCheck, CommandError> {
    Ok(send_test_notification(title, body).await)
}

#[tauri::command]
pub async fn finish_setup(
    shell: State<'_, Shell>,
    setup: State<'_, SetupRuntime>,
    args: FinishSetup,
) -> Result<SetupState, CommandError> {
    setup.stop_mic_test().await;
    shell.finish_setup(&setup.sources, args).await
}

/// Writes this module's IPC types as TypeScript.
pub fn export_bindings(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {
    SetupState::export_all(cfg)?;
    ServerVerdict::export_all(cfg)?;
    MicStart::export_all(cfg)?;
    MicLevel::export_all(cfg)?;
    NotificationCheck::export_all(cfg)?;
    FinishSetup::export_all(cfg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_provision_argument_is_found_in_both_forms() {
        let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            provision_arg(args(&["--minimised", "--provision", "/tmp/p.json"])),
            Some(PathBuf::from("/tmp/p.json"))
        );
        assert_eq!(
            provision_arg(args(&["--provision=/a b.json"])),
            Some(PathBuf::from("/a b.json"))
        );
        assert_eq!(provision_arg(args(&["--screen=leads"])), None);
        assert_eq!(provision_arg(args(&["--provision"])), None);
    }
}
