//! The softphone's commands: each forwards to [`DeskPhone`] (leadline-phone) or, for the click-to-call
//! fallback, to `leadline_sync::place_click_to_call`, and translates what comes back into the IPC types of
//! [`crate::api`].

use std::sync::Arc;

use leadline_model::Id;
use leadline_phone::{
    CallFailure, CallHandle, CallInfo, CallState, DeskAudio, DeskError, DeskEvent, DeskPhone, DeskState,
    DialOutcome, FallbackReason, OffReason, OsKeyring, Password, PasswordVault, RegistrationState,
    audio::{self, AudioDevices, AudioPath, NullPlayback},
};

use crate::api::{
    AudioDevice, AudioDeviceList, CallAction, CallStage, CallView, CommandError, DialArgs, DialResult,
    ErrorCode, FallbackWhy, PhoneEvent, PhoneSettingsView, PhoneState, PhoneStatus, SavePhoneSettingsArgs,
};
use crate::shell::{Shell, sync_failure};
use leadline_sync::{Notices, SharedStore};

/// How the desk's calls sound: the OS devices, unless `LEADLINE_AUDIO` says `silent` (no microphone: calls
/// go as click-to-calls) or `tone` (a 440 Hz tone as the microphone; demo and end-to-end runs on machines
/// without sound).
pub fn audio_from_env() -> DeskAudio {
    let synthetic = |tone: bool| {
        let provider = move || {
            Ok(AudioPath {
                capture: if tone {
                    audio::tone(440.0, 0.2)
                } else {
                    audio::silence()
                },
                playback: Arc::new(NullPlayback),
            })
        };
        DeskAudio::Provided {
            provider: Arc::new(provider),
            microphone: tone,
        }
    };
    match std::env::var("LEADLINE_AUDIO").as_deref() {
        Ok("silent") => synthetic(false),
        Ok("tone") => synthetic(true),
        _ => DeskAudio::System(AudioDevices::system()),
    }
}

/// The OS keyring, the home of the SIP password.
pub fn keyring() -> Arc<dyn PasswordVault> {
    Arc::new(OsKeyring)
}

impl Shell {
    fn phone(&self) -> Result<&DeskPhone, CommandError> {
        self.desk_phone().ok_or_else(|| {
            CommandError::new(
                ErrorCode::Storage,
                "The softphone needs the local cache, which could not be opened.",
            )
        })
    }

    /// Starts the softphone from the saved settings and hands every event, translated, to `emit`. Call
    /// once, inside the async runtime.
    pub async fn start_phone(&self, emit: impl Fn(PhoneEvent) + Send + Sync + 'static) {
        let Ok(phone) = self.phone() else {
            return;
        };
        let mut events = phone.subscribe();
        let watched = phone.clone();
        let notices = self.notices().cloned();
        let store = self.shared_store().ok().cloned();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if let (Some(notices), Some(store)) = (&notices, &store) {
                            tell_notices(notices, store, &event).await;
                        }
                        emit(event_view(&watched, event));
                    }
                    Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "phone events dropped"),
                    Err(RecvError::Closed) => break,
                }
            }
        });
        match phone.start().await {
            Ok(state) => tracing::info!(?state, "softphone started"),
            Err(e) => tracing::error!(error = %e, "cannot start the softphone"),
        }
    }

    pub async fn phone_status(&self) -> Result<PhoneStatus, CommandError> {
        Ok(status_of(self.phone()?))
    }

    pub async fn phone_settings(&self) -> Result<PhoneSettingsView, CommandError> {
        let (settings, has_password) = self.phone()?.settings().await.map_err(desk_failure)?;
        Ok(PhoneSettingsView {
            settings,
            has_password,
        })
    }

    /// Checks, keeps and applies the settings; a new password goes to the keyring.
    pub async fn save_phone_settings(
        &self,
        args: SavePhoneSettingsArgs,
    ) -> Result<PhoneStatus, CommandError> {
        let phone = self.phone()?;
        let password = args.password.filter(|p| !p.is_empty()).map(Password::new);
        phone
            .save_settings(args.settings, password)
            .await
            .map_err(desk_failure)?;
        Ok(status_of(phone))
    }

    pub async fn audio_devices(&self) -> Result<AudioDeviceList, CommandError> {
        let (inputs, outputs) = self.phone()?.devices().await.map_err(desk_failure)?;
        let view = |list: Vec<leadline_phone::audio::DeviceInfo>| {
            list.into_iter()
                .map(|d| AudioDevice {
                    id: d.id,
                    name: d.name,
                    is_default: d.is_default,
                })
                .collect()
        };
        Ok(AudioDeviceList {
            inputs: view(inputs),
            outputs: view(outputs),
        })
    }

    /// Calls through the softphone, or — when it cannot carry the call now — as a click-to-call on the
    /// lead (the telecaller's mobile rings first), logged like any call.
    pub async fn dial(&self, args: DialArgs) -> Result<DialResult, CommandError> {
        let outcome = self
            .phone()?
            .dial(&args.number, args.lead_id)
            .await
            .map_err(desk_failure)?;
        match outcome {
            DialOutcome::Softphone(call) => Ok(DialResult::Softphone {
                call: Box::new(call_view(&call.info())),
            }),
            DialOutcome::ClickToCall(reason) => {
                let why = match reason {
                    FallbackReason::NotRegistered => FallbackWhy::NotRegistered,
                    FallbackReason::NoMicrophone => FallbackWhy::NoMicrophone,
                    FallbackReason::AudioBlocked => FallbackWhy::AudioBlocked,
                };
                let Some(lead_id) = args.lead_id else {
                    return Err(CommandError::new(
                        ErrorCode::Phone,
                        format!(
                            "The softphone cannot call now ({}), and only a lead's number can be called through \
                             your mobile instead.",
                            fallback_text(why)
                        ),
                    ));
                };
                self.click_to_call_as(lead_id, why).await
            }
        }
    }

    /// A click-to-call on the lead, asked for by the telecaller.
    pub async fn click_to_call(&self, lead_id: Id) -> Result<DialResult, CommandError> {
        self.click_to_call_as(lead_id, FallbackWhy::Asked).await
    }

    async fn click_to_call_as(&self, lead_id: Id, why: FallbackWhy) -> Result<DialResult, CommandError> {
        let client = self.client().ok_or_else(|| {
            CommandError::new(
                ErrorCode::NotSignedIn,
                "Sign in to call through your mobile: the server places that call.",
            )
        })?;
        let placed = leadline_sync::place_click_to_call(&client, self.shared_store()?, lead_id)
            .await
            .map_err(sync_failure)?;
        tracing::info!(lead = %lead_id, call_log = %placed.call.call_log_id, ?why, "click-to-call placed");
        Ok(DialResult::ClickToCall {
            why,
            call_log_id: placed.call.call_log_id,
        })
    }

    /// Does `action` to the call `call_id`; answers the call as it is afterwards.
    pub async fn call_action(&self, call_id: &str, action: CallAction) -> Result<CallView, CommandError> {
        let call: CallHandle = self.phone()?.call(call_id).map_err(desk_failure)?;
        let result = match action {
            CallAction::Answer => call.answer().await,
            CallAction::Reject => {
                call.reject().await;
                Ok(())
            }
            CallAction::HangUp => {
                call.hang_up().await;
                Ok(())
            }
            CallAction::Mute | CallAction::Unmute => {
                call.set_muted(action == CallAction::Mute).await;
                Ok(())
            }
            CallAction::Hold => call.hold(true).await,
            CallAction::Resume => call.hold(false).await,
            CallAction::Dtmf { digits } => call.send_dtmf(&digits).await,
            CallAction::Transfer { target } => call.transfer(target.trim()).await,
        };
        result.map_err(|e| CommandError::new(ErrorCode::Phone, e.to_string()))?;
        Ok(call_view(&call.info()))
    }
}

fn status_of(phone: &DeskPhone) -> PhoneStatus {
    let (version, desk_state) = phone.versioned_state();
    let (state, detail) = state_view(&desk_state);
    PhoneStatus {
        version,
        state,
        detail,
        audio_blocked: phone.audio_blocked(),
        calls: phone.calls().iter().map(call_view).collect(),
    }
}

/// Calls decide do-not-disturb, and a missed call is a notification.
async fn tell_notices(notices: &Notices, store: &SharedStore, event: &DeskEvent) {
    let call = match event {
        DeskEvent::Incoming { call, .. } | DeskEvent::Call(call) => call,
        _ => return,
    };
    notices.call_changed(&call.call_id, call.is_live());
    if call.is_missed() {
        let lead = match call.lead_id {
            Some(id) => store.run(move |s| s.get_lead(&id)).await.ok(),
            None => None,
        };
        notices.missed_call(
            &call.call_id,
            &call.remote_user,
            call.remote_name.as_deref(),
            lead.as_ref(),
        );
    }
}

fn event_view(phone: &DeskPhone, event: DeskEvent) -> PhoneEvent {
    match event {
        DeskEvent::State(_) => PhoneEvent::Status {
            status: status_of(phone),
        },
        DeskEvent::Incoming { call, lead } => PhoneEvent::Incoming {
            call: Box::new(call_view(&call)),
            lead,
        },
        DeskEvent::Call(call) => PhoneEvent::Call {
            call: Box::new(call_view(&call)),
        },
        DeskEvent::Dtmf { call_id, digit } => PhoneEvent::Dtmf {
            call_id,
            digit: digit.to_string(),
        },
        DeskEvent::JournalFailed(message) => PhoneEvent::JournalFailed { message },
    }
}

fn state_view(state: &DeskState) -> (PhoneState, Option<String>) {
    match state {
        DeskState::Off(OffReason::Disabled) | DeskState::On(RegistrationState::Stopped) => {
            (PhoneState::Off, None)
        }
        DeskState::Off(OffReason::NoPassword) => (
            PhoneState::NoPassword,
            Some("No SIP password is saved for this account: enter it in the phone settings.".into()),
        ),
        DeskState::Off(OffReason::Keyring(e)) => (
            PhoneState::Unavailable,
            Some(format!("The system keyring cannot be read: {e}")),
        ),
        DeskState::Off(OffReason::Invalid(e)) => (PhoneState::Unavailable, Some(e.clone())),
        DeskState::On(RegistrationState::Idle | RegistrationState::Registering) => {
            (PhoneState::Connecting, None)
        }
        DeskState::On(RegistrationState::Registered { .. }) => (PhoneState::Ready, None),
        DeskState::On(RegistrationState::RetryWait { retry_in, error }) => (
            PhoneState::Retrying,
            Some(format!(
                "{error}; trying again in {} s",
                retry_in.as_secs().max(1)
            )),
        ),
        DeskState::On(RegistrationState::Failed(e)) => (PhoneState::Failed, Some(e.to_string())),
    }
}

/// What the window shows of a call.
pub fn call_view(info: &CallInfo) -> CallView {
    let (stage, held_here, held_there, end) = match &info.call.state {
        CallState::Dialing => (CallStage::Dialing, false, false, None),
        CallState::Ringing => (CallStage::Ringing, false, false, None),
        CallState::Connected => (CallStage::Connected, false, false, None),
        CallState::OnHold { here, there } => (CallStage::OnHold, *here, *there, None),
        CallState::Ended(end) => (CallStage::Ended, false, false, Some(*end)),
    };
    let problem = match (&info.refusal, info.failure_kind, &info.failure) {
        (Some(refusal), _, _) => Some(refusal.to_string()),
        (None, Some(kind), detail) => Some(failure_text(kind, detail.as_deref())),
        (None, None, Some(detail)) => Some(detail.clone()),
        (None, None, None) => None,
    };
    CallView {
        call_id: info.call_id.clone(),
        log_id: info.log_id,
        lead_id: info.lead_id,
        direction: info.direction,
        remote: info.remote_user.clone(),
        remote_name: info.remote_name.clone(),
        stage,
        held_here,
        held_there,
        muted: info.muted,
        started_at: info.call.started_at,
        answered_at: info.call.answered_at,
        ended_at: info.call.ended_at,
        end,
        problem,
        suggests_click_to_call: info.failure_kind.is_some_and(CallFailure::suggests_click_to_call),
        quality: info.quality(),
    }
}

fn failure_text(kind: CallFailure, detail: Option<&str>) -> String {
    let what = match kind {
        CallFailure::AudioPath => {
            "No audio could get through (the network may block calls from this computer)"
        }
        CallFailure::NoMicrophone => "The microphone or speaker could not be opened",
        CallFailure::FarEndSilent => "The other side went silent and the call was lost",
        CallFailure::Signalling => "The call was lost",
    };
    match detail {
        Some(d) => format!("{what}: {d}"),
        None => what.to_owned(),
    }
}

fn fallback_text(why: FallbackWhy) -> &'static str {
    match why {
        FallbackWhy::NotRegistered => "it is not connected to the telephony provider",
        FallbackWhy::NoMicrophone => "no microphone",
        FallbackWhy::AudioBlocked => "the network blocked the audio of the last call",
        FallbackWhy::Asked => "you asked for your mobile",
    }
}

fn desk_failure(e: DeskError) -> CommandError {
    match e {
        DeskError::Settings(why) => CommandError::new(ErrorCode::InvalidInput, why),
        DeskError::Store(e) => CommandError::new(ErrorCode::Storage, e.to_string()),
        DeskError::NoSuchCall(_) => CommandError::new(ErrorCode::Phone, "That call is over."),
        DeskError::Keyring(e) => CommandError::new(
            ErrorCode::Phone,
            format!("The system keyring cannot keep the SIP password: {e}"),
        ),
        e @ (DeskError::Phone(_) | DeskError::Audio(_) | DeskError::Internal(_)) => {
            CommandError::new(ErrorCode::Phone, e.to_string())
        }
    }
}
