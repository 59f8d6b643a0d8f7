//! Click-to-call through Exotel's REST API (Voice v1 `Calls/connect`).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde::Deserialize;

use super::ExotelError;
use super::callback::{CallStatus, parse_exotel_time};

/// Exotel's Singapore cluster (the default).
pub const DEFAULT_BASE_URL: &str = "https://api.exotel.com";
/// Exotel's Mumbai cluster (accounts hosted in India).
pub const MUMBAI_BASE_URL: &str = "https://api.in.exotel.com";
/// How long one request to Exotel may take, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Exotel's limit on `CustomField`.
pub const MAX_CUSTOM_FIELD_LEN: usize = 128;
/// Exotel's limit on `TimeLimit` (4 hours).
pub const MAX_TIME_LIMIT_S: u32 = 14_400;

/// How to reach one Exotel account. `Debug` never shows the API token.
#[derive(Clone)]
pub struct ExotelConfig {
    /// [`DEFAULT_BASE_URL`], [`MUMBAI_BASE_URL`], or a fake's URL in tests; no trailing path.
    pub base_url: String,
    pub account_sid: String,
    /// The HTTP Basic user name.
    pub api_key: String,
    /// The HTTP Basic password. Secret.
    pub api_token: String,
    /// The ExoPhone shown to the customer (`CallerId`).
    pub caller_id: String,
    /// Where Exotel should POST the terminal StatusCallback (as JSON); `None` for no callback.
    pub status_callback_url: Option<String>,
    /// Timeout of each request (see [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
}

impl ExotelConfig {
    /// A configuration for the Singapore cluster, no status callback, the default timeout.
    pub fn new(
        account_sid: impl Into<String>,
        api_key: impl Into<String>,
        api_token: impl Into<String>,
        caller_id: impl Into<String>,
    ) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            account_sid: account_sid.into(),
            api_key: api_key.into(),
            api_token: api_token.into(),
            caller_id: caller_id.into(),
            status_callback_url: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for ExotelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExotelConfig")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("api_key", &self.api_key)
            .field("api_token", &"<redacted>")
            .field("caller_id", &self.caller_id)
            .field("status_callback_url", &self.status_callback_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One click-to-call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Rung first: the agent's number or SIP user.
    pub from: String,
    /// Rung when `from` answers: the customer, E.164.
    pub to: String,
    /// Echoed back in the StatusCallback (Leadline: the call-log id); at most 128 characters.
    pub custom_field: Option<String>,
    /// Record the conversation (`Record=true`).
    pub record: bool,
    /// Cut the call after this many seconds (`TimeLimit`, at most 14,400).
    pub time_limit_s: Option<u32>,
    /// Ring each party this long (`TimeOut`).
    pub timeout_s: Option<u32>,
}

/// Exotel's answer to a successful Calls/connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedCall {
    /// Exotel's id of the call; the StatusCallback's `CallSid`.
    pub call_sid: String,
    /// Usually `in-progress` (Exotel is ringing `From`).
    pub status: CallStatus,
    pub date_created: Option<DateTime<Utc>>,
    pub direction: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The API path of the call resource (`/v1/Accounts/<sid>/Calls/<call_sid>.json`).
    pub uri: Option<String>,
}

/// A client of one Exotel account. Cheap to clone (the HTTP connection pool is shared).
#[derive(Clone)]
pub struct ExotelClient {
    http: reqwest::Client,
    config: ExotelConfig,
    connect_url: String,
}

impl fmt::Debug for ExotelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExotelClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct CallEnvelope {
    #[serde(rename = "Call")]
    call: CallBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CallBody {
    sid: Option<String>,
    status: Option<String>,
    date_created: Option<String>,
    direction: Option<String>,
    from: Option<String>,
    to: Option<String>,
    uri: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    #[serde(rename = "RestException")]
    rest_exception: RestException,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RestException {
    message: Option<String>,
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Exotel's error message from an error body: `RestException.Message`, else the body's start.
fn error_message(body: &[u8]) -> String {
    if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(body)
        && let Some(message) = blank_to_none(envelope.rest_exception.message)
    {
        return message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(no message)".to_owned()
    } else {
        text.chars().take(300).collect()
    }
}

impl ExotelClient {
    /// Checks the configuration and builds the HTTP client.
    pub fn new(config: ExotelConfig) -> Result<Self, ExotelError> {
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(ExotelError::InvalidConfig(format!(
                "base URL {:?} is not an http(s) URL",
                config.base_url
            )));
        }
        let sid_ok = !config.account_sid.is_empty()
            && config
                .account_sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !sid_ok {
            return Err(ExotelError::InvalidConfig(format!(
                "account SID {:?} must be non-empty letters, digits, '_' or '-'",
                config.account_sid
            )));
        }
        for (name, value) in [
            ("API key", &config.api_key),
            ("API token", &config.api_token),
            ("caller id (ExoPhone)", &config.caller_id),
        ] {
            if value.trim().is_empty() {
                return Err(ExotelError::InvalidConfig(format!("the {name} is empty")));
            }
        }
        if config
            .status_callback_url
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            return Err(ExotelError::InvalidConfig(
                "the status callback URL is empty".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| ExotelError::InvalidConfig(format!("building the HTTP client: {e}")))?;
        let connect_url = format!("{base}/v1/Accounts/{}/Calls/connect.json", config.account_sid);
        Ok(Self {
            http,
            config,
            connect_url,
        })
    }

    pub fn config(&self) -> &ExotelConfig {
        &self.config
    }

    /// The form fields of a Calls/connect request (in order), after checking the request.
    pub fn connect_form(&self, req: &ConnectRequest) -> Result<Vec<(&'static str, String)>, ExotelError> {
        let from = req.from.trim();
        let to = req.to.trim();
        if from.is_empty() {
            return Err(ExotelError::InvalidRequest(
                "From (the agent's number or SIP user) is empty".into(),
            ));
        }
        if to.is_empty() {
            return Err(ExotelError::InvalidRequest(
                "To (the customer's number) is empty".into(),
            ));
        }
        let mut form = vec![
            ("From", from.to_owned()),
            ("To", to.to_owned()),
            ("CallerId", self.config.caller_id.trim().to_owned()),
        ];
        if let Some(custom) = &req.custom_field {
            if custom.chars().count() > MAX_CUSTOM_FIELD_LEN {
                return Err(ExotelError::InvalidRequest(format!(
                    "CustomField is longer than {MAX_CUSTOM_FIELD_LEN} characters"
                )));
            }
            form.push(("CustomField", custom.clone()));
        }
        if req.record {
            form.push(("Record", "true".to_owned()));
        }
        if let Some(limit) = req.time_limit_s {
            if limit == 0 || limit > MAX_TIME_LIMIT_S {
                return Err(ExotelError::InvalidRequest(format!(
                    "TimeLimit {limit} s is outside 1..={MAX_TIME_LIMIT_S}"
                )));
            }
            form.push(("TimeLimit", limit.to_string()));
        }
        if let Some(timeout) = req.timeout_s {
            if timeout == 0 {
                return Err(ExotelError::InvalidRequest("TimeOut must be at least 1 s".into()));
            }
            form.push(("TimeOut", timeout.to_string()));
        }
        if let Some(url) = &self.config.status_callback_url {
            form.push(("StatusCallback", url.trim().to_owned()));
            form.push(("StatusCallbackEvents[0]", "terminal".to_owned()));
            form.push(("StatusCallbackContentType", "application/json".to_owned()));
        }
        Ok(form)
    }

    /// Places a click-to-call: `POST {base}/v1/Accounts/{sid}/Calls/connect.json`, form-encoded, HTTP
    /// Basic `api_key:api_token`. With a status callback URL configured, asks for a JSON
    /// StatusCallback on the terminal event.
    ///
    /// Errors: 401 → [`ExotelError::AuthFailed`], 400 → [`ExotelError::BadRequest`] with Exotel's
    /// message, 429 → [`ExotelError::RateLimited`], other 4xx → [`ExotelError::Rejected`], 5xx →
    /// [`ExotelError::Server`], no answer in time → [`ExotelError::Timeout`].
    pub async fn connect(&self, req: ConnectRequest) -> Result<ConnectedCall, ExotelError> {
        let form = self.connect_form(&req)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let response = self
            .http
            .post(&self.connect_url)
            .basic_auth(&self.config.api_key, Some(&self.config.api_token))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = response.bytes().await.map_err(transport_error)?;
        read_connect_response(status, retry_after, &bytes)
    }
}

/// Reads Exotel's answer to Calls/connect (HTTP `status`, its `Retry-After` seconds, `body`): the call
/// it started, or the typed error it means.
pub fn read_connect_response(
    status: u16,
    retry_after: Option<u64>,
    bytes: &[u8],
) -> Result<ConnectedCall, ExotelError> {
    match status {
        200..=299 => parse_connected(bytes),
        401 => Err(ExotelError::AuthFailed {
            message: error_message(bytes),
        }),
        400 => Err(ExotelError::BadRequest {
            message: error_message(bytes),
        }),
        429 => Err(ExotelError::RateLimited {
            retry_after,
            message: error_message(bytes),
        }),
        500..=599 => Err(ExotelError::Server {
            status,
            message: error_message(bytes),
        }),
        _ => Err(ExotelError::Rejected {
            status,
            message: error_message(bytes),
        }),
    }
}

fn transport_error(e: reqwest::Error) -> ExotelError {
    if e.is_timeout() {
        ExotelError::Timeout
    } else {
        // The URL holds the account SID only (credentials travel in a header), so the message is safe.
        ExotelError::Transport(e.to_string())
    }
}

fn parse_connected(bytes: &[u8]) -> Result<ConnectedCall, ExotelError> {
    let envelope: CallEnvelope = serde_json::from_slice(bytes).map_err(|e| {
        ExotelError::InvalidResponse(format!(
            "expected {{\"Call\": {{...}}}}: {e}; body starts {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })?;
    let call = envelope.call;
    let call_sid =
        blank_to_none(call.sid).ok_or_else(|| ExotelError::InvalidResponse("the Call has no Sid".into()))?;
    Ok(ConnectedCall {
        call_sid,
        status: blank_to_none(call.status)
            .map(|s| CallStatus::from_wire(&s))
            .unwrap_or(CallStatus::Queued),
        date_created: call
            .date_created
            .and_then(|t| parse_exotel_time(&t).ok().flatten()),
        direction: blank_to_none(call.direction),
        from: blank_to_none(call.from),
        to: blank_to_none(call.to),
        uri: blank_to_none(call.uri),
    })
}
