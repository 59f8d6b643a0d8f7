//! A fake Exotel for tests and local runs, speaking the real wire format on 127.0.0.1.
//!
//! - `POST /v1/Accounts/{sid}/Calls/connect.json` (and `…/connect`, answered in XML): checks HTTP Basic
//!   credentials and the account SID (else 401), the required `From`, `To`, `CallerId` (else 400), answers
//!   `{"Call": {"Sid": …, "Status": "in-progress", …}}` like Exotel and records the request.
//! - Then, when the request has a `StatusCallback` and the fake is configured to, POSTs the StatusCallback
//!   after a short delay: JSON when `StatusCallbackContentType=application/json`, `multipart/form-data`
//!   when asked for, else `application/x-www-form-urlencoded`, with `Legs[i][…]` keys in both forms; the full payload (`EventType`, `CustomField`, `ConversationDuration`, `Legs`, IST
//!   times, …) when `terminal` is among `StatusCallbackEvents`, else Exotel's four default fields. A
//!   non-2xx answer is retried twice, like Exotel.
//! - `GET /recordings/{call_sid}.mp3`: a few bytes of fake audio, Basic credentials required; the
//!   callback's `RecordingUrl` points here when the call was placed with `Record=true` and completed.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use leadline_server::exotel::fake::{FakeExotel, FakeExotelConfig};
//! let fake = FakeExotel::start(FakeExotelConfig::default()).await?;
//! let config = fake.exotel_config("+918047112233"); // an ExotelConfig pointing at the fake
//! # drop(config);
//! fake.stop().await;
//! # Ok(()) }
//! ```

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use super::callback::format_exotel_time;
use super::client::ExotelConfig;
use super::webhook_auth::verify_basic_authorization;

/// The bytes served for every recording: an ID3v2 header and one silent MPEG-1 Layer III frame header.
pub const FAKE_RECORDING: &[u8] = &[
    b'I', b'D', b'3', 4, 0, 0, 0, 0, 0, 0, 0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// How the fake ends the calls it places, and how it reports them.
#[derive(Debug, Clone)]
pub struct FakeCallback {
    /// Wait this long after answering Calls/connect before POSTing the StatusCallback.
    pub delay: Duration,
    /// The call's final status (`completed`, `busy`, `no-answer`, `failed`, `canceled`).
    pub status: String,
    /// Seconds both parties talked (used when `status` is `completed`).
    pub conversation_duration_s: u32,
    /// How many times the same callback is delivered (more than 1 simulates Exotel's replays).
    pub deliveries: u32,
}

impl Default for FakeCallback {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(100),
            status: "completed".into(),
            conversation_duration_s: 42,
            deliveries: 1,
        }
    }
}

/// The fake's account and behaviour.
#[derive(Debug, Clone)]
pub struct FakeExotelConfig {
    pub account_sid: String,
    pub api_key: String,
    pub api_token: String,
    /// `None`: never POST StatusCallbacks.
    pub callback: Option<FakeCallback>,
}

impl Default for FakeExotelConfig {
    fn default() -> Self {
        Self {
            account_sid: "leadlinetest1".into(),
            api_key: "fake-api-key".into(),
            api_token: "fake-api-token".into(),
            callback: Some(FakeCallback::default()),
        }
    }
}

/// A Calls/connect request the fake accepted.
#[derive(Debug, Clone)]
pub struct RecordedConnect {
    /// The Sid the fake gave the call.
    pub call_sid: String,
    /// The account SID of the path.
    pub account_sid: String,
    /// Whether the path ended in `.json`.
    pub json: bool,
    /// The form fields, in order, decoded.
    pub form: Vec<(String, String)>,
}

impl RecordedConnect {
    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One StatusCallback POST the fake made.
#[derive(Debug, Clone)]
pub struct CallbackDelivery {
    pub call_sid: String,
    pub url: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The receiver's HTTP status, or why the POST failed.
    pub result: Result<u16, String>,
}

struct InjectedFailure {
    status: u16,
    message: String,
    retry_after: Option<u64>,
}

#[derive(Default)]
struct FakeState {
    requests: Vec<RecordedConnect>,
    deliveries: Vec<CallbackDelivery>,
    recordings: HashSet<String>,
    failures: VecDeque<InjectedFailure>,
}

struct Shared {
    config: FakeExotelConfig,
    base_url: String,
    http: reqwest::Client,
    state: Mutex<FakeState>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        // A panicking test thread must not take the fake down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        verify_basic_authorization(header, &self.config.api_key, &self.config.api_token)
    }
}

/// A running fake Exotel. Stops when [`FakeExotel::stop`] is called or when dropped.
pub struct FakeExotel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeExotel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeExotel")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeExotel {
    /// Starts the fake on 127.0.0.1 with a free port.
    pub async fn start(config: FakeExotelConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            config,
            base_url: format!("http://{addr}"),
            http,
            state: Mutex::new(FakeState::default()),
        });
        let router = Router::new()
            .route(
                "/v1/Accounts/{sid}/Calls/connect.json",
                post(
                    |State(s): State<Arc<Shared>>, Path(sid): Path<String>, h: HeaderMap, b: Bytes| {
                        connect(s, sid, h, b, true)
                    },
                ),
            )
            .route(
                "/v1/Accounts/{sid}/Calls/connect",
                post(
                    |State(s): State<Arc<Shared>>, Path(sid): Path<String>, h: HeaderMap, b: Bytes| {
                        connect(s, sid, h, b, false)
                    },
                ),
            )
            .route("/recordings/{file}", get(recording))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(error = %e, "fake Exotel stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, to use as [`ExotelConfig::base_url`].
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn config(&self) -> &FakeExotelConfig {
        &self.shared.config
    }

    /// A client configuration for this fake's account, with this ExoPhone and no status callback.
    pub fn exotel_config(&self, caller_id: &str) -> ExotelConfig {
        let c = &self.shared.config;
        let mut config = ExotelConfig::new(&c.account_sid, &c.api_key, &c.api_token, caller_id);
        config.base_url = self.shared.base_url.clone();
        config
    }

    /// Where the recording of a call is served (whether or not it exists).
    pub fn recording_url(&self, call_sid: &str) -> String {
        recording_url(&self.shared.base_url, call_sid)
    }

    /// The Calls/connect requests accepted so far.
    pub fn requests(&self) -> Vec<RecordedConnect> {
        self.shared.state().requests.clone()
    }

    /// The StatusCallback POSTs made so far (retries included).
    pub fn deliveries(&self) -> Vec<CallbackDelivery> {
        self.shared.state().deliveries.clone()
    }

    /// Waits until at least `n` StatusCallback POSTs were made (or `timeout` passed); returns them all.
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<CallbackDelivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let deliveries = self.deliveries();
            if deliveries.len() >= n || tokio::time::Instant::now() >= deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Makes the next authenticated Calls/connect fail with this HTTP status and a `RestException`
    /// carrying `message` (and a `Retry-After` header when given). Queued: call it twice for two
    /// failures.
    pub fn fail_next(&self, status: u16, message: &str, retry_after: Option<u64>) {
        self.shared.state().failures.push_back(InjectedFailure {
            status,
            message: message.to_owned(),
            retry_after,
        });
    }

    /// Stops accepting and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

fn recording_url(base_url: &str, call_sid: &str) -> String {
    format!("{base_url}/recordings/{call_sid}.mp3")
}

fn rest_exception(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"RestException": {"Status": status.as_u16(), "Message": message}})),
    )
        .into_response()
}

fn plausible_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn new_call_sid() -> String {
    let mut raw = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

async fn connect(shared: Arc<Shared>, sid: String, headers: HeaderMap, body: Bytes, json: bool) -> Response {
    if !shared.authorized(&headers) || sid != shared.config.account_sid {
        return rest_exception(
            StatusCode::UNAUTHORIZED,
            "Authentication failed. Invalid API Key, Token or Account SID.",
        );
    }
    if let Some(failure) = shared.state().failures.pop_front() {
        let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = rest_exception(status, &failure.message);
        if let Some(secs) = failure.retry_after {
            response.headers_mut().insert(RETRY_AFTER, secs.into());
        }
        return response;
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    for required in ["From", "To", "CallerId"] {
        if field(required).is_none() {
            return rest_exception(
                StatusCode::BAD_REQUEST,
                &format!("Missing parameter {required}. {required} is mandatory."),
            );
        }
    }
    for number in ["To", "CallerId"] {
        if !field(number).is_some_and(plausible_number) {
            return rest_exception(
                StatusCode::BAD_REQUEST,
                &format!("Invalid parameter {number}: not a valid phone number"),
            );
        }
    }

    let call_sid = new_call_sid();
    let now = Utc::now().trunc_subsecs(0);
    let (from, to, caller_id) = (
        field("From").unwrap_or_default().to_owned(),
        field("To").unwrap_or_default().to_owned(),
        field("CallerId").unwrap_or_default().to_owned(),
    );
    let uri = format!("/v1/Accounts/{sid}/Calls/{call_sid}.json");
    let callback_url = field("StatusCallback").map(str::to_owned);
    let encoding = Encoding::from_request(field("StatusCallbackContentType"));
    let events: Vec<String> = form
        .iter()
        .filter(|(k, _)| k.starts_with("StatusCallbackEvents["))
        .map(|(_, v)| v.trim().to_ascii_lowercase())
        .collect();
    let record = field("Record").is_some_and(|r| r.eq_ignore_ascii_case("true"));
    let custom_field = field("CustomField").map(str::to_owned);

    shared.state().requests.push(RecordedConnect {
        call_sid: call_sid.clone(),
        account_sid: sid.clone(),
        json,
        form: form.clone(),
    });

    if let (Some(url), Some(plan)) = (callback_url, shared.config.callback.clone()) {
        let call = PlacedCall {
            call_sid: call_sid.clone(),
            from: from.clone(),
            to: to.clone(),
            caller_id: caller_id.clone(),
            custom_field,
            record,
            created: now,
        };
        let full = events.iter().any(|e| e == "terminal");
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(plan.delay).await;
            deliver_callback(&shared, &call, &plan, &url, encoding, full).await;
        });
    }

    let created = format_exotel_time(now);
    if json {
        axum::Json(json!({
            "Call": {
                "Sid": call_sid,
                "ParentCallSid": null,
                "DateCreated": created,
                "DateUpdated": created,
                "AccountSid": sid,
                "To": to,
                "From": from,
                "PhoneNumberSid": caller_id,
                "Status": "in-progress",
                "StartTime": created,
                "EndTime": null,
                "Duration": null,
                "Price": null,
                "Direction": "outbound-api",
                "AnsweredBy": null,
                "ForwardedFrom": null,
                "CallerName": null,
                "Uri": uri,
                "RecordingUrl": null,
            }
        }))
        .into_response()
    } else {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TwilioResponse><Call><Sid>{call_sid}</Sid>\
             <AccountSid>{sid}</AccountSid><Status>in-progress</Status><DateCreated>{created}</DateCreated>\
             <Direction>outbound-api</Direction><Uri>{}</Uri></Call></TwilioResponse>\n",
            uri.trim_end_matches(".json")
        );
        ([(CONTENT_TYPE, "application/xml")], xml).into_response()
    }
}

struct PlacedCall {
    call_sid: String,
    from: String,
    to: String,
    caller_id: String,
    custom_field: Option<String>,
    record: bool,
    created: DateTime<Utc>,
}

/// The StatusCallback payload as a JSON object (the form encoding is derived from it).
fn callback_payload(
    base_url: &str,
    call: &PlacedCall,
    plan: &FakeCallback,
    full: bool,
) -> (Map<String, Value>, bool) {
    let status = plan.status.trim().to_ascii_lowercase();
    let completed = status == "completed";
    let talk = if completed {
        plan.conversation_duration_s
    } else {
        0
    };
    // The agent answers after 5 s; the customer rings for 3 s.
    let agent_answered = call.created + chrono::Duration::seconds(5);
    let end = agent_answered + chrono::Duration::seconds(3 + i64::from(talk));
    let updated = end + chrono::Duration::seconds(1);
    let recorded = call.record && completed;
    let recording = if recorded {
        Value::String(recording_url(base_url, &call.call_sid))
    } else {
        Value::Null
    };

    let mut payload = Map::new();
    payload.insert("CallSid".into(), call.call_sid.clone().into());
    payload.insert("Status".into(), status.clone().into());
    payload.insert("RecordingUrl".into(), recording);
    payload.insert("DateUpdated".into(), format_exotel_time(updated).into());
    if full {
        payload.insert("EventType".into(), "terminal".into());
        payload.insert("DateCreated".into(), format_exotel_time(call.created).into());
        payload.insert("To".into(), call.to.clone().into());
        payload.insert("From".into(), call.from.clone().into());
        payload.insert("PhoneNumberSid".into(), call.caller_id.clone().into());
        payload.insert("StartTime".into(), format_exotel_time(call.created).into());
        payload.insert("EndTime".into(), format_exotel_time(end).into());
        payload.insert("ConversationDuration".into(), talk.into());
        payload.insert("Direction".into(), "outbound-api".into());
        payload.insert(
            "CustomField".into(),
            call.custom_field
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        payload.insert(
            "Legs".into(),
            json!([
                {"OnCallDuration": 3 + talk, "Status": "completed", "AnsweredBy": "human"},
                {"OnCallDuration": talk, "Status": status, "AnsweredBy": if completed { "human" } else { "NA" }},
            ]),
        );
    }
    (payload, recorded)
}

/// A JSON callback payload as form fields: scalars as they are (`null` as empty), `Legs` as
/// `Legs[i][Field]`.
fn form_pairs(payload: &Map<String, Value>) -> Vec<(String, String)> {
    fn text(v: &Value) -> String {
        match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    let mut pairs = Vec::new();
    for (key, value) in payload {
        match value {
            Value::Array(legs) => {
                for (i, leg) in legs.iter().enumerate() {
                    if let Value::Object(leg) = leg {
                        for (field, v) in leg {
                            pairs.push((format!("{key}[{i}][{field}]"), text(v)));
                        }
                    }
                }
            }
            other => pairs.push((key.clone(), text(other))),
        }
    }
    pairs
}

/// How a callback body is encoded, from the call's `StatusCallbackContentType`.
#[derive(Clone, Copy)]
enum Encoding {
    Json,
    Form,
    Multipart,
}

impl Encoding {
    fn from_request(content_type: Option<&str>) -> Self {
        match content_type.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
            Some("application/json") => Self::Json,
            Some("multipart/form-data") => Self::Multipart,
            _ => Self::Form,
        }
    }

    /// The `Content-Type` and body of a callback.
    fn encode(self, payload: Map<String, Value>, call_sid: &str) -> (String, Vec<u8>) {
        match self {
            Self::Json => (
                "application/json".into(),
                Value::Object(payload).to_string().into_bytes(),
            ),
            Self::Form => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form_pairs(&payload))
                    .finish();
                ("application/x-www-form-urlencoded".into(), body.into_bytes())
            }
            Self::Multipart => {
                let boundary = format!("----ExotelFakeBoundary{call_sid}");
                let mut body = String::new();
                for (name, value) in form_pairs(&payload) {
                    body.push_str(&format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                    ));
                }
                body.push_str(&format!("--{boundary}--\r\n"));
                (
                    format!("multipart/form-data; boundary={boundary}"),
                    body.into_bytes(),
                )
            }
        }
    }
}

async fn deliver_callback(
    shared: &Shared,
    call: &PlacedCall,
    plan: &FakeCallback,
    url: &str,
    encoding: Encoding,
    full: bool,
) {
    let (payload, recorded) = callback_payload(&shared.base_url, call, plan, full);
    if recorded {
        shared.state().recordings.insert(call.call_sid.clone());
    }
    let (content_type, body) = encoding.encode(payload, &call.call_sid);
    for _ in 0..plan.deliveries.max(1) {
        // Exotel retries a callback that is not answered 2xx up to two more times.
        for attempt in 0..3 {
            let result = shared
                .http
                .post(url)
                .header(CONTENT_TYPE, &content_type)
                .body(body.clone())
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string());
            let ok = matches!(result, Ok(200..=299));
            shared.state().deliveries.push(CallbackDelivery {
                call_sid: call.call_sid.clone(),
                url: url.to_owned(),
                content_type: content_type.clone(),
                body: body.clone(),
                result,
            });
            if ok || attempt == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn recording(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !shared.authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [("WWW-Authenticate", "Basic realm=\"Exotel\"")],
            "authentication required",
        )
            .into_response();
    }
    let known = file
        .strip_suffix(".mp3")
        .is_some_and(|sid| shared.state().recordings.contains(sid));
    if !known {
        return (StatusCode::NOT_FOUND, "no such recording").into_response();
    }
    ([(CONTENT_TYPE, "audio/mpeg")], FAKE_RECORDING).into_response()
}
