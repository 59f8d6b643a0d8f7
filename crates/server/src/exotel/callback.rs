//! The StatusCallback webhook: what Exotel POSTs to the `StatusCallback` URL of a call.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ExotelError;

/// India Standard Time, the zone of Exotel's `YYYY-MM-DD HH:MM:SS` times: UTC+05:30, no daylight saving.
pub const IST_OFFSET_SECONDS: i32 = 5 * 3600 + 30 * 60;

/// The format of Exotel's times (in IST).
const EXOTEL_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

fn ist() -> FixedOffset {
    // 19,800 s is well inside ±24 h, so this always succeeds; UTC is a harmless fallback.
    FixedOffset::east_opt(IST_OFFSET_SECONDS).unwrap_or_else(|| Utc.fix())
}

/// The status of a call (overall, or of one leg), as Exotel spells it on the wire.
///
/// Exotel documents `completed`, `failed`, `busy`, `no-answer` for StatusCallbacks, `canceled` in its
/// call reports, and `queued`, `ringing`, `in-progress` for calls still under way (the Calls/connect
/// answer says `in-progress`). Anything else is kept as [`CallStatus::Other`] (lower-cased), never
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Failed,
    Busy,
    NoAnswer,
    Canceled,
    /// A value Exotel did not document (lower-cased, trimmed).
    Other(String),
}

impl CallStatus {
    /// Reads Exotel's spelling, case-insensitively (`cancelled` is taken as `canceled`).
    pub fn from_wire(s: &str) -> Self {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "queued" => Self::Queued,
            "ringing" => Self::Ringing,
            "in-progress" | "in_progress" | "inprogress" => Self::InProgress,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "busy" => Self::Busy,
            "no-answer" | "no_answer" | "noanswer" => Self::NoAnswer,
            "canceled" | "cancelled" => Self::Canceled,
            _ => Self::Other(s),
        }
    }

    /// Exotel's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "queued",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Canceled => "canceled",
            Self::Other(s) => s,
        }
    }

    /// Whether the call is over: completed, failed, busy, no-answer or canceled. Unknown values are not.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Busy | Self::NoAnswer | Self::Canceled
        )
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for CallStatus {
    fn from(s: String) -> Self {
        Self::from_wire(&s)
    }
}

impl From<CallStatus> for String {
    fn from(s: CallStatus) -> Self {
        s.as_str().to_owned()
    }
}

/// One attempt of a call (leg 1: the `From` party, the agent; leg 2: the `To` party, the customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    pub status: Option<CallStatus>,
    /// Seconds this leg was on the call (`OnCallDuration`).
    pub on_call_duration_s: Option<u32>,
    /// `AnsweredBy` (`human`, `machine`, `NA`, …) when Exotel sends it.
    pub answered_by: Option<String>,
}

/// A parsed StatusCallback. Times are UTC; string fields are `None` when absent or empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCallback {
    /// Exotel's id of the call (the `Sid` of the Calls/connect answer).
    pub call_sid: String,
    /// The overall status of the call.
    pub status: CallStatus,
    /// `terminal` or `answered` (the subscribed `StatusCallbackEvents`), when sent.
    pub event_type: Option<String>,
    /// The recording (Exotel serves it with the account's Basic credentials), when the call was recorded.
    pub recording_url: Option<String>,
    /// Seconds both parties were connected.
    pub conversation_duration_s: Option<u32>,
    pub date_created: Option<DateTime<Utc>>,
    pub date_updated: Option<DateTime<Utc>>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// `inbound`, `outbound-dial` or `outbound-api`.
    pub direction: Option<String>,
    /// The number (or SIP user) called first.
    pub from: Option<String>,
    /// The customer's number.
    pub to: Option<String>,
    /// The ExoPhone's identifier.
    pub phone_number_sid: Option<String>,
    /// The `CustomField` given to Calls/connect (Leadline puts its call-log id there).
    pub custom_field: Option<String>,
    /// Per-leg details, in leg order.
    pub legs: Vec<Leg>,
}

impl StatusCallback {
    /// Whether this callback reports the end of the call (a terminal status, and not an `answered`
    /// event).
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
            && !self
                .event_type
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case("answered"))
    }

    /// A stable key for this callback: the same for every delivery of the same event (form or JSON
    /// alike), different for another call, status, event or update time. 64 lower-case hex characters
    /// (SHA-256 over the call SID, event type, status and `DateUpdated` in UTC), fit for a UNIQUE column.
    pub fn idempotency_key(&self) -> String {
        let event = self.event_type.as_deref().unwrap_or("").to_ascii_lowercase();
        let updated = self
            .date_updated
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let mut hasher = Sha256::new();
        for part in [self.call_sid.as_str(), &event, self.status.as_str(), &updated] {
            // Length-prefixed, so no two different tuples hash the same bytes.
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Formats a UTC time the way Exotel sends times: `YYYY-MM-DD HH:MM:SS` in IST.
pub fn format_exotel_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&ist()).format(EXOTEL_TIME_FORMAT).to_string()
}

/// Reads a time as Exotel sends it: `YYYY-MM-DD HH:MM:SS` (optionally with fractional seconds, or a `T`
/// separator) in IST; or ISO 8601 / RFC 3339 with an offset (`2026-01-15T10:30:00Z`,
/// `…+05:30`). An empty value or an all-zero date (`0000-00-00 00:00:00`) is `None`.
pub fn parse_exotel_time(s: &str) -> Result<Option<DateTime<Utc>>, &'static str> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("null") || s.starts_with("0000-00-00") {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return naive
                .and_local_timezone(ist())
                .single()
                .map(|t| Some(t.with_timezone(&Utc)))
                .ok_or("not a valid IST time");
        }
    }
    Err("not a time in the form YYYY-MM-DD HH:MM:SS (IST) or RFC 3339")
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The fields of a callback as text, whatever its encoding: top-level scalars and the legs.
#[derive(Default)]
struct Fields {
    top: HashMap<String, String>,
    legs: BTreeMap<u64, HashMap<String, String>>,
}

impl Fields {
    /// Adds a flat key (`CallSid`, `Legs[0][Status]`, …); the first occurrence of a repeated key wins.
    fn insert(&mut self, key: &str, value: &str) {
        if let Some((index, name)) = leg_key(key) {
            self.legs
                .entry(index)
                .or_default()
                .entry(name.to_owned())
                .or_insert_with(|| value.to_owned());
        } else {
            self.top.entry(key.to_owned()).or_insert_with(|| value.to_owned());
        }
    }

    fn from_form(body: &[u8]) -> Self {
        let mut fields = Self::default();
        for (key, value) in form_urlencoded::parse(body) {
            fields.insert(&key, &value);
        }
        fields
    }

    /// The text fields of a `multipart/form-data` body (RFC 7578); file parts are read as text too.
    fn from_multipart(content_type: &str, body: &[u8]) -> Result<Self, ExotelError> {
        let boundary = content_type
            .split(';')
            .skip(1)
            .find_map(|param| {
                let (key, value) = param.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("boundary")
                    .then(|| value.trim().trim_matches('"'))
            })
            .filter(|b| !b.is_empty() && b.len() <= 200)
            .ok_or_else(|| ExotelError::InvalidBody("multipart/form-data without a boundary".into()))?;
        let delimiter = format!("--{boundary}");
        let mut chunks = split_bytes(body, delimiter.as_bytes()).into_iter();
        // Before the first delimiter: the preamble. No delimiter at all: not this multipart body.
        if chunks.len() < 2 {
            return Err(ExotelError::InvalidBody(
                "multipart body does not contain its boundary".into(),
            ));
        }
        chunks.next();
        let mut fields = Self::default();
        for chunk in chunks {
            if chunk.starts_with(b"--") {
                break; // the closing delimiter
            }
            let part = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
            let Some(end) = find_bytes(part, b"\r\n\r\n") else {
                return Err(ExotelError::InvalidBody(
                    "a multipart part has no end of headers".into(),
                ));
            };
            let headers = String::from_utf8_lossy(&part[..end]);
            let value = &part[end + 4..];
            let value = value.strip_suffix(b"\r\n").unwrap_or(value);
            let Some(name) = headers.lines().find_map(disposition_name) else {
                return Err(ExotelError::InvalidBody(
                    "a multipart part has no field name".into(),
                ));
            };
            fields.insert(&name, &String::from_utf8_lossy(value));
        }
        Ok(fields)
    }

    fn from_json(body: &[u8]) -> Result<Self, ExotelError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| ExotelError::InvalidBody(format!("not JSON: {e}")))?;
        let serde_json::Value::Object(object) = value else {
            return Err(ExotelError::InvalidBody("JSON body is not an object".into()));
        };
        let mut fields = Self::default();
        for (key, value) in object {
            if key == "Legs" {
                match value {
                    serde_json::Value::Array(legs) => {
                        for (index, leg) in (0u64..).zip(legs) {
                            let serde_json::Value::Object(leg) = leg else {
                                return Err(ExotelError::InvalidField {
                                    field: format!("Legs[{index}]"),
                                    value: leg.to_string(),
                                    reason: "a leg must be a JSON object",
                                });
                            };
                            let leg: HashMap<String, String> = leg
                                .into_iter()
                                .filter_map(|(k, v)| json_scalar(v).map(|v| (k, v)))
                                .collect();
                            fields.legs.insert(index, leg);
                        }
                    }
                    serde_json::Value::Null => {}
                    other => {
                        return Err(ExotelError::InvalidField {
                            field: "Legs".into(),
                            value: other.to_string(),
                            reason: "Legs must be a JSON array",
                        });
                    }
                }
            } else if let Some(text) = json_scalar(value) {
                fields.insert(&key, &text);
            }
        }
        Ok(fields)
    }

    /// A top-level field, `None` when absent or blank.
    fn text(&self, key: &str) -> Option<String> {
        non_blank(self.top.get(key))
    }
}

/// The pieces of `hay` around every occurrence of `needle` (not empty).
fn split_bytes<'a>(mut hay: &'a [u8], needle: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = find_bytes(hay, needle) {
        out.push(&hay[..at]);
        hay = &hay[at + needle.len()..];
    }
    out.push(hay);
    out
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The field name of a `Content-Disposition: form-data; name="…"` header line.
fn disposition_name(line: &str) -> Option<String> {
    let (header, value) = line.split_once(':')?;
    if !header.trim().eq_ignore_ascii_case("content-disposition") {
        return None;
    }
    value.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("name")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// A JSON scalar as text (`null`, arrays and objects give `None`).
fn json_scalar(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn non_blank(value: Option<&String>) -> Option<String> {
    value
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("null"))
        .map(str::to_owned)
}

/// `Legs[3][Status]` → `(3, "Status")`.
fn leg_key(key: &str) -> Option<(u64, &str)> {
    let rest = key.strip_prefix("Legs[")?;
    let (index, rest) = rest.split_once("][")?;
    let name = rest.strip_suffix(']')?;
    let index = index.parse().ok()?;
    (!name.is_empty()).then_some((index, name))
}

fn invalid(field: impl Into<String>, value: &str, reason: &'static str) -> ExotelError {
    ExotelError::InvalidField {
        field: field.into(),
        value: value.chars().take(100).collect(),
        reason,
    }
}

/// A duration in whole seconds: `41`, `"41"`, `41.0`; blank is `None`.
fn parse_seconds(field: &str, value: Option<String>) -> Result<Option<u32>, ExotelError> {
    let Some(value) = value else { return Ok(None) };
    if let Ok(n) = value.parse::<u32>() {
        return Ok(Some(n));
    }
    match value.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= f64::from(u32::MAX) => {
            // Checked above: a whole number within u32.
            Ok(Some(f as u32))
        }
        _ => Err(invalid(field, &value, "not a whole number of seconds")),
    }
}

fn parse_time(fields: &Fields, field: &'static str) -> Result<Option<DateTime<Utc>>, ExotelError> {
    match fields.text(field) {
        None => Ok(None),
        Some(value) => parse_exotel_time(&value).map_err(|reason| invalid(field, &value, reason)),
    }
}

/// Parses a StatusCallback request body.
///
/// `content_type` is the request's `Content-Type` header: `application/x-www-form-urlencoded` (per-leg
/// fields as `Legs[0][Status]`, `Legs[0][OnCallDuration]`, …), `multipart/form-data` (the same keys, one
/// part each) or `application/json` (`"Legs": [{…}]`); parameters such as `charset` are ignored. Without one, a body starting with `{` is read as JSON, anything
/// else as a form.
///
/// Errors: no `CallSid` or `Status` → [`ExotelError::MissingField`]; a time, duration or `Legs` that
/// cannot be read → [`ExotelError::InvalidField`]; a body that is not JSON (when JSON) →
/// [`ExotelError::InvalidBody`]; another content type → [`ExotelError::UnsupportedContentType`].
/// Unknown fields are ignored and unknown statuses kept as [`CallStatus::Other`]. Never panics.
pub fn parse_status_callback(content_type: Option<&str>, body: &[u8]) -> Result<StatusCallback, ExotelError> {
    let fields = match content_type.map(media_type).as_deref() {
        Some("application/json") => Fields::from_json(body)?,
        Some("application/x-www-form-urlencoded") => Fields::from_form(body),
        Some("multipart/form-data") => Fields::from_multipart(content_type.unwrap_or_default(), body)?,
        None | Some("") => {
            if body.trim_ascii_start().starts_with(b"{") {
                Fields::from_json(body)?
            } else {
                Fields::from_form(body)
            }
        }
        Some(other) => {
            return Err(ExotelError::UnsupportedContentType(
                other.chars().take(100).collect(),
            ));
        }
    };

    let call_sid = fields
        .text("CallSid")
        .ok_or(ExotelError::MissingField("CallSid"))?;
    let status = fields
        .text("Status")
        .map(|s| CallStatus::from_wire(&s))
        .ok_or(ExotelError::MissingField("Status"))?;

    let mut legs = Vec::with_capacity(fields.legs.len());
    for (index, leg) in &fields.legs {
        legs.push(Leg {
            status: non_blank(leg.get("Status")).map(|s| CallStatus::from_wire(&s)),
            on_call_duration_s: parse_seconds(
                &format!("Legs[{index}][OnCallDuration]"),
                non_blank(leg.get("OnCallDuration")),
            )?,
            answered_by: non_blank(leg.get("AnsweredBy")),
        });
    }

    Ok(StatusCallback {
        call_sid,
        status,
        event_type: fields.text("EventType"),
        recording_url: fields.text("RecordingUrl"),
        conversation_duration_s: parse_seconds("ConversationDuration", fields.text("ConversationDuration"))?,
        date_created: parse_time(&fields, "DateCreated")?,
        date_updated: parse_time(&fields, "DateUpdated")?,
        start_time: parse_time(&fields, "StartTime")?,
        end_time: parse_time(&fields, "EndTime")?,
        direction: fields.text("Direction"),
        from: fields.text("From"),
        to: fields.text("To"),
        phone_number_sid: fields.text("PhoneNumberSid"),
        custom_field: fields.text("CustomField"),
        legs,
    })
}
