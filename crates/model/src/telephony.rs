//! Wire types of the telephony endpoints: `POST /api/v1/calls/click-to-call`, the fallback of the softphone
//! when WebRTC cannot be used on a desk (UDP blocked, no microphone). The server asks the telephony
//! provider (Exotel) to ring the telecaller's own phone (their agent number or SIP user) first and then the
//! lead; the provider reports the call's outcome (times, talk time, recording) to the server later, which
//! merges it into the call log whose id is [`ClickToCall::call_log_id`]. The desktop logs the call itself,
//! under that id, like every other call (see `leadline_store::Store::begin_click_to_call`).

use serde::{Deserialize, Serialize};

use crate::Id;

/// The body of `POST /api/v1/calls/click-to-call`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickToCallRequest {
    /// The lead to call (one the caller may see); a value that is not a UUID is `400 bad_lead_id`.
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
}

/// The answer of `POST /api/v1/calls/click-to-call`: the provider is ringing the caller's agent number.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickToCall {
    /// The provider's id of the call (Exotel's CallSid): the call log's `provider_call_id`.
    pub call_sid: String,
    /// The id the desktop gives this call's log. The provider echoes it in its status callback
    /// (`CustomField`), so the server merges the call's outcome into the desktop's log, whichever of the
    /// two reaches the server first. The server creates no call log itself.
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub call_log_id: Id,
    /// The provider's status of the call (`in-progress`: ringing the agent).
    pub status: String,
}

/// Exotel's WebRTC gateway, the default SIP-over-WebSocket server of a new desk.
pub const EXOTEL_WSS_URL: &str = "wss://voip.exotel.in:443/wss";

/// How this desk's softphone reaches the telephony provider, and which sound devices it uses: the settings
/// form of the desktop app, kept in the local cache. The SIP password is not here: it lives in the OS
/// keyring only.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneSettings {
    /// Register and take calls. Off: every call goes as a click-to-call.
    pub enabled: bool,
    /// `wss://host:port/path` (or `ws://` on a trusted network) of the SIP WebSocket server.
    pub ws_url: String,
    /// The SIP domain (Exotel: `<account_sid>.voip.exotel.com`).
    pub domain: String,
    /// The SIP user of this telecaller.
    pub username: String,
    /// The digest user name, when it differs from `username`.
    pub auth_username: Option<String>,
    /// Shown to the far end.
    pub display_name: Option<String>,
    /// `sip:proxy;lr`, when the provider wants one.
    pub outbound_proxy: Option<String>,
    /// `stun:host:port` URLs for ICE.
    pub stun_servers: Vec<String>,
    /// Answer incoming calls at once (Exotel's agent flow rings the telecaller before the customer).
    pub auto_answer: bool,
    /// Sound devices by id or name; absent: the system default.
    pub input_device: Option<String>,
    pub output_device: Option<String>,
    /// Where incoming calls ring (a loudspeaker while the headset is on the desk); absent: the output device.
    pub ringtone_device: Option<String>,
    pub echo_cancellation: bool,
    pub noise_suppression: bool,
}

impl Default for PhoneSettings {
    /// Exotel's gateway, nothing filled in for the account, echo cancellation and noise suppression on.
    fn default() -> Self {
        Self {
            enabled: false,
            ws_url: EXOTEL_WSS_URL.to_owned(),
            domain: String::new(),
            username: String::new(),
            auth_username: None,
            display_name: None,
            outbound_proxy: None,
            stun_servers: vec!["stun:stun.l.google.com:19302".to_owned()],
            auto_answer: false,
            input_device: None,
            output_device: None,
            ringtone_device: None,
            echo_cancellation: true,
            noise_suppression: true,
        }
    }
}

impl PhoneSettings {
    /// What is wrong with these settings, as a sentence for the form; `Ok` when they can be used.
    pub fn check(&self) -> Result<(), String> {
        let url = self.ws_url.trim();
        let Some(rest) = url.strip_prefix("wss://").or_else(|| url.strip_prefix("ws://")) else {
            return Err(format!(
                "The server address must start with wss:// (or ws://), not {url:?}."
            ));
        };
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Err(format!("The server address {url:?} names no host."));
        }
        // A softphone switched off may keep an account not filled in yet (the first-run setup keeps the
        // devices chosen and a provisioning file's domain before the telecaller enters a SIP user).
        let needed = |v: &str| v.is_empty() && self.enabled;
        let domain = self.domain.trim();
        if needed(domain) || domain.contains(|c: char| c.is_whitespace() || c == '@' || c == '/') {
            return Err("Enter the SIP domain, like 1234.voip.exotel.com.".to_owned());
        }
        let user = self.username.trim();
        if needed(user) || user.contains(|c: char| c.is_whitespace() || c == '@' || c == ':') {
            return Err("Enter the SIP user name (without @ or spaces).".to_owned());
        }
        if let Some(bad) = self
            .stun_servers
            .iter()
            .find(|s| !(s.starts_with("stun:") || s.starts_with("stuns:")) || s.len() < 6)
        {
            return Err(format!("{bad:?} is not a STUN server (stun:host:port)."));
        }
        if let Some(proxy) = self.outbound_proxy.as_deref().filter(|p| !p.trim().is_empty())
            && !(proxy.starts_with("sip:") || proxy.starts_with("sips:"))
        {
            return Err(format!(
                "The outbound proxy {proxy:?} must be a SIP URI (sip:host;lr)."
            ));
        }
        Ok(())
    }
}

/// The `code`s of the error answers of `POST /api/v1/calls/click-to-call` (in an `ApiError`).
pub mod codes {
    /// 400: the body is not a `ClickToCallRequest`.
    pub const BAD_REQUEST: &str = "bad_request";
    /// 400: `lead_id` is not a UUID.
    pub const BAD_LEAD_ID: &str = "bad_lead_id";
    /// 404: no such lead in the caller's scope.
    pub const NOT_FOUND: &str = "not_found";
    /// 409: the caller has no agent number or SIP user to ring first.
    pub const NO_AGENT_NUMBER: &str = "no_agent_number";
    /// 503: the server has no telephony provider configured.
    pub const TELEPHONY_NOT_CONFIGURED: &str = "telephony_not_configured";
    /// 502: the provider refused the server's credentials.
    pub const EXOTEL_AUTH: &str = "exotel_auth";
    /// 502: the provider refused the call (a bad number, no balance, a suspended account, …).
    pub const EXOTEL_REJECTED: &str = "exotel_rejected";
    /// 502: the provider could not be reached or failed (5xx, network, a bad answer).
    pub const EXOTEL_UNAVAILABLE: &str = "exotel_unavailable";
    /// 503 with `Retry-After`: the provider's rate limit.
    pub const EXOTEL_RATE_LIMITED: &str = "exotel_rate_limited";
    /// 504: the provider did not answer in time.
    pub const EXOTEL_TIMEOUT: &str = "exotel_timeout";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_to_call_wire_shape() {
        let id = crate::new_id();
        let body = serde_json::to_value(ClickToCallRequest { lead_id: id }).expect("json");
        assert_eq!(body, serde_json::json!({"lead_id": id.to_string()}));
        let answer: ClickToCall = serde_json::from_value(serde_json::json!({
            "call_sid": "b6cfaf5f5cef3ca0fc937749ef960e25",
            "call_log_id": id.to_string(),
            "status": "in-progress",
        }))
        .expect("answer");
        assert_eq!(answer.call_log_id, id);
        assert_eq!(answer.call_sid, "b6cfaf5f5cef3ca0fc937749ef960e25");
        assert!(
            serde_json::from_value::<ClickToCallRequest>(serde_json::json!({"lead_id": "nope"})).is_err()
        );
    }

    #[test]
    fn phone_settings_are_checked_with_a_reason() {
        let good = PhoneSettings {
            enabled: true,
            domain: "acme.voip.exotel.com".into(),
            username: "agent7".into(),
            ..PhoneSettings::default()
        };
        assert_eq!(good.check(), Ok(()));
        // Switched off, the account may be empty (not yet filled in), but not wrong.
        assert_eq!(PhoneSettings::default().check(), Ok(()));
        let off_but_wrong = PhoneSettings {
            domain: "acme voip".into(),
            ..PhoneSettings::default()
        };
        assert!(off_but_wrong.check().is_err());
        let bad = |f: fn(&mut PhoneSettings)| {
            let mut s = good.clone();
            f(&mut s);
            s.check().expect_err("must be refused")
        };
        assert!(bad(|s| s.ws_url = "https://voip.exotel.in".into()).contains("wss://"));
        assert!(bad(|s| s.ws_url = "wss://".into()).contains("no host"));
        assert!(bad(|s| s.domain = " ".into()).contains("SIP domain"));
        assert!(bad(|s| s.username = "agent 7".into()).contains("user name"));
        assert!(bad(|s| s.stun_servers = vec!["turn:x".into()]).contains("STUN"));
        assert!(bad(|s| s.outbound_proxy = Some("proxy.example.com".into())).contains("SIP URI"));
        // Older caches may hold fewer fields: the rest take their defaults.
        let old: PhoneSettings = serde_json::from_str(r#"{"username":"a"}"#).expect("partial json");
        assert_eq!(old.ws_url, EXOTEL_WSS_URL);
        assert!(old.echo_cancellation);
    }
}

/// The app's look, as the user picked it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the operating system's light or dark setting.
    #[default]
    System,
    Light,
    Dark,
}

/// The language of the app's screens.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    En,
    Hi,
}

/// How this desk's app behaves (kept in the local cache, like [`PhoneSettings`]).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeskPreferences {
    pub theme: Theme,
    /// Start in the taskbar (minimised) instead of with the window open: for an app started at login.
    pub start_minimised: bool,
    pub language: Language,
    /// The screen the app opens on: the one the user left it on.
    pub screen: DeskScreen,
    /// The longest a call's wrap-up form stays open untouched after the call, in seconds (0: no limit).
    /// When it runs out the form closes and the call waits in "calls to log"; a form being filled in
    /// stays open and shows how far over time it is.
    pub wrap_up_limit_s: u32,
}

/// The wrap-up time a desk starts with: two minutes.
pub const DEFAULT_WRAP_UP_LIMIT_S: u32 = 120;

impl Default for DeskPreferences {
    fn default() -> Self {
        Self {
            theme: Theme::default(),
            start_minimised: false,
            language: Language::default(),
            screen: DeskScreen::default(),
            wrap_up_limit_s: DEFAULT_WRAP_UP_LIMIT_S,
        }
    }
}

/// The desktop app's main screens (its tabs).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeskScreen {
    /// The day's figures and the next-lead queue.
    #[default]
    Today,
    Leads,
    FollowUps,
}

#[cfg(test)]
mod preference_tests {
    use super::*;

    #[test]
    fn preferences_saved_by_an_older_app_take_the_new_fields_defaults() {
        let old: DeskPreferences =
            serde_json::from_str(r#"{"theme":"dark","start_minimised":true,"language":"hi"}"#)
                .expect("old json");
        assert_eq!(old.theme, Theme::Dark);
        assert_eq!(old.screen, DeskScreen::Today);
        assert_eq!(old.wrap_up_limit_s, DEFAULT_WRAP_UP_LIMIT_S);
        let none: DeskPreferences = serde_json::from_str(r#"{"wrap_up_limit_s":0}"#).expect("json");
        assert_eq!(none.wrap_up_limit_s, 0, "no limit is kept as chosen");
    }
}
