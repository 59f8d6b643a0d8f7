//! Fuzz target `exotel`: what Exotel sends the server — StatusCallback webhooks as form, multipart and
//! JSON bodies ([`parse_status_callback`]), their `Authorization: Basic` header
//! ([`parse_basic_authorization`]), and answers to Calls/connect ([`read_connect_response`]).

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use leadline_server::exotel::{
    CallStatus, basic_authorization_header, format_exotel_time, parse_basic_authorization,
    parse_status_callback, read_connect_response, verify_basic_authorization,
};

use super::mutate::{Case, awkward_text, cases, re};

#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    Form,
    Json,
    Multipart,
    /// Form without a Content-Type (sniffed).
    Bare,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub encoding: Encoding,
    pub call_sid: String,
    pub status: &'static str,
    pub duration: Option<u32>,
    /// Seconds since 2020 of DateUpdated; IST text or RFC 3339.
    pub updated: Option<(i64, bool)>,
    pub custom_field: Option<String>,
    pub from: String,
    pub legs: Vec<(&'static str, u32)>,
    pub basic: (String, String),
}

const TOKENS: &[&[u8]] = &[
    b"&",
    b"=",
    b"%",
    b"%ZZ",
    b"%00",
    b"+",
    b"Legs[0][Status]=",
    b"Legs[18446744073709551616][OnCallDuration]=1",
    b"Legs[99999999][OnCallDuration]=1e10",
    b"ConversationDuration=",
    b"DateUpdated=0000-00-00 00:00:00",
    b"2026-02-30 25:61:61",
    b"+262143-12-31T23:59:59Z",
    b"\"Legs\":",
    b"\"Legs\":{}",
    b"\"Legs\":[1]",
    b"{",
    b"}",
    b"[",
    b"\"",
    b"null",
    b"1e400",
    b"--",
    b"\r\n\r\n",
    b"Content-Disposition: form-data; name=\"CallSid\"\r\n\r\n",
    b"CallSid",
    b"Status",
];

const BOUNDARY: &str = "----leadlineFuzz7MA4YWxkTrZu0gW";

fn sample() -> BoxedStrategy<Sample> {
    (
        prop::sample::select(vec![
            Encoding::Form,
            Encoding::Json,
            Encoding::Multipart,
            Encoding::Bare,
        ]),
        re("[0-9a-f]{32}"),
        prop::sample::select(vec![
            "completed",
            "failed",
            "busy",
            "no-answer",
            "canceled",
            "in-progress",
        ]),
        prop::option::of(0..100_000u32),
        prop::option::of((0..400_000_000i64, any::<bool>())),
        prop::option::of(prop_oneof![re("[0-9a-f-]{36}"), awkward_text()]),
        re("0?[6-9][0-9]{9}"),
        prop::collection::vec(
            (
                prop::sample::select(vec!["completed", "busy", "no-answer"]),
                0..10_000u32,
            ),
            0..3,
        ),
        (re("[A-Za-z0-9_.-]{1,20}"), re("[ -~]{1,30}")),
    )
        .prop_map(
            |(encoding, call_sid, status, duration, updated, custom_field, from, legs, basic)| Sample {
                encoding,
                call_sid,
                status,
                duration,
                updated,
                custom_field,
                from,
                legs,
                basic,
            },
        )
        .boxed()
}

fn time(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_577_836_800 + secs, 0)
        .single()
        .unwrap_or_default()
}

fn fields(s: &Sample) -> Vec<(String, String)> {
    let mut f = vec![
        ("CallSid".to_owned(), s.call_sid.clone()),
        ("Status".to_owned(), s.status.to_owned()),
        ("EventType".to_owned(), "terminal".to_owned()),
        ("From".to_owned(), s.from.clone()),
    ];
    if let Some(d) = s.duration {
        f.push(("ConversationDuration".into(), d.to_string()));
    }
    if let Some((secs, rfc)) = s.updated {
        let t = time(secs);
        let text = if rfc {
            t.to_rfc3339()
        } else {
            format_exotel_time(t)
        };
        f.push(("DateUpdated".into(), text));
    }
    if let Some(c) = &s.custom_field {
        f.push(("CustomField".into(), c.clone()));
    }
    for (i, (status, secs)) in s.legs.iter().enumerate() {
        f.push((format!("Legs[{i}][Status]"), (*status).to_owned()));
        f.push((format!("Legs[{i}][OnCallDuration]"), secs.to_string()));
    }
    f
}

fn content_type(e: Encoding) -> Option<String> {
    match e {
        Encoding::Form => Some("application/x-www-form-urlencoded; charset=utf-8".into()),
        Encoding::Json => Some("application/json".into()),
        Encoding::Multipart => Some(format!("multipart/form-data; boundary={BOUNDARY}")),
        Encoding::Bare => None,
    }
}

/// The callback body as Exotel sends it.
pub fn render(s: &Sample) -> Vec<u8> {
    let f = fields(s);
    match s.encoding {
        Encoding::Form | Encoding::Bare => {
            let mut out = String::new();
            for (k, v) in &f {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(&encode(k));
                out.push('=');
                out.push_str(&encode(v));
            }
            out.into_bytes()
        }
        Encoding::Json => {
            let mut top = Map::new();
            let mut legs = vec![Value::Object(Map::new()); s.legs.len()];
            for (k, v) in &f {
                if let Some(rest) = k.strip_prefix("Legs[") {
                    let (i, name) = rest.split_once("][").unwrap_or(("0", "x]"));
                    let i: usize = i.parse().unwrap_or(0);
                    if let Some(Value::Object(leg)) = legs.get_mut(i) {
                        let value = if name == "OnCallDuration]" {
                            json!(v.parse::<u32>().unwrap_or(0))
                        } else {
                            json!(v)
                        };
                        leg.insert(name.trim_end_matches(']').to_owned(), value);
                    }
                } else {
                    top.insert(k.clone(), json!(v));
                }
            }
            top.insert("Legs".into(), Value::Array(legs));
            Value::Object(top).to_string().into_bytes()
        }
        Encoding::Multipart => {
            let mut out = String::from("preamble\r\n");
            for (k, v) in &f {
                out.push_str(&format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                ));
            }
            out.push_str(&format!("--{BOUNDARY}--\r\n"));
            out.into_bytes()
        }
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn strategy() -> BoxedStrategy<Case<Sample>> {
    cases(sample(), render, TOKENS)
}

const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/json"),
    Some("multipart/form-data; boundary=\"----leadlineFuzz7MA4YWxkTrZu0gW\""),
    Some("multipart/form-data"),
    Some("text/plain"),
];

/// Checks one case.
pub fn check(case: &Case<Sample>) -> Result<(), String> {
    let s = match case {
        Case::Bytes(b) => {
            for ct in CONTENT_TYPES {
                if let Ok(cb) = parse_status_callback(ct, b) {
                    let _ = cb.idempotency_key();
                    let _ = cb.is_terminal();
                }
            }
            let text = String::from_utf8_lossy(b);
            let _ = parse_basic_authorization(&text);
            let _ = verify_basic_authorization(Some(&text), "user", "secret");
            let _ = parse_basic_authorization(&format!("Basic {text}"));
            let status = [200u16, 201, 400, 401, 429, 503, 302][b.len() % 7];
            let _ = read_connect_response(status, Some(5), b);
            return Ok(());
        }
        Case::Valid(s) => s,
    };
    let body = render(s);
    let cb = parse_status_callback(content_type(s.encoding).as_deref(), &body)
        .map_err(|e| format!("valid callback refused: {e}"))?;
    if cb.call_sid != s.call_sid || cb.status != CallStatus::from_wire(s.status) {
        return Err(format!("read as {cb:?}"));
    }
    if cb.conversation_duration_s != s.duration {
        return Err(format!("duration read as {:?}", cb.conversation_duration_s));
    }
    if cb.date_updated != s.updated.map(|(secs, _)| time(secs)) {
        return Err(format!("DateUpdated read as {:?}", cb.date_updated));
    }
    let want_custom = s
        .custom_field
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("null"));
    if cb.custom_field.as_deref() != want_custom {
        return Err(format!("CustomField read as {:?}", cb.custom_field));
    }
    let legs: Vec<(CallStatus, u32)> = s
        .legs
        .iter()
        .map(|(st, secs)| (CallStatus::from_wire(st), *secs))
        .collect();
    let got: Vec<(CallStatus, u32)> = cb
        .legs
        .iter()
        .map(|l| {
            (
                l.status.clone().unwrap_or(CallStatus::Other(String::new())),
                l.on_call_duration_s.unwrap_or(u32::MAX),
            )
        })
        .collect();
    if legs != got {
        return Err(format!("legs read as {got:?}"));
    }
    // The same callback in another encoding is the same event.
    let other = Sample {
        encoding: match s.encoding {
            Encoding::Json => Encoding::Form,
            _ => Encoding::Json,
        },
        ..s.clone()
    };
    let again = parse_status_callback(content_type(other.encoding).as_deref(), &render(&other))
        .map_err(|e| format!("re-encoded callback refused: {e}"))?;
    if again.idempotency_key() != cb.idempotency_key() {
        return Err("idempotency key differs between encodings".into());
    }
    let (user, password) = &s.basic;
    let header = basic_authorization_header(user, password);
    let creds = parse_basic_authorization(&header).map_err(|e| format!("own Basic header refused: {e}"))?;
    if creds.username != *user
        || creds.password != *password
        || !verify_basic_authorization(Some(&header), user, password)
    {
        return Err("Basic credentials do not round-trip".into());
    }
    Ok(())
}
