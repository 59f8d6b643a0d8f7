//! Tests of the Exotel module: callback fixtures, the client against the fake Exotel over real HTTP on
//! 127.0.0.1, webhook authentication, and a property test that parsing never panics.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::fake::{FAKE_RECORDING, FakeCallback, FakeExotel, FakeExotelConfig};
use super::*;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

/// A terminal callback for a recorded, completed call, form-encoded the way Exotel sends it (times in
/// IST, legs as `Legs[i][…]`, a repeated key, an unknown key).
const FORM_FIXTURE: &str = "CallSid=b6cfaf5f5cef3ca0fc937749ef960e25&EventType=terminal&Status=completed\
&RecordingUrl=https%3A%2F%2Fs3-ap-southeast-1.amazonaws.com%2Fexotelrecordings%2Fleadline%2Fb6cfaf5f5cef3ca0fc937749ef960e25.mp3\
&DateUpdated=2026-11-25+14%3A31%3A02&DateCreated=2026-11-25+14%3A30%3A05&To=%2B919876543210\
&From=%2B919812345678&PhoneNumberSid=%2B918047112233&StartTime=2026-11-25+14%3A30%3A05\
&EndTime=2026-11-25+14%3A31%3A01&ConversationDuration=41&Direction=outbound-api\
&CustomField=0193a7c2-1f4e-7b3d-9a51-6c0f2e8d4b17\
&Legs%5B1%5D%5BOnCallDuration%5D=41&Legs%5B1%5D%5BStatus%5D=completed&Legs%5B1%5D%5BAnsweredBy%5D=human\
&Legs%5B0%5D%5BOnCallDuration%5D=56&Legs%5B0%5D%5BStatus%5D=completed&Legs%5B0%5D%5BAnsweredBy%5D=NA\
&CallSid=ignored-second-value&SomethingNew=whatever";

/// The same event as [`FORM_FIXTURE`], as JSON (`StatusCallbackContentType=application/json`).
const JSON_FIXTURE: &str = r#"{
  "CallSid": "b6cfaf5f5cef3ca0fc937749ef960e25",
  "EventType": "terminal",
  "Status": "completed",
  "RecordingUrl": "https://s3-ap-southeast-1.amazonaws.com/exotelrecordings/leadline/b6cfaf5f5cef3ca0fc937749ef960e25.mp3",
  "DateUpdated": "2026-11-25 14:31:02",
  "DateCreated": "2026-11-25 14:30:05",
  "To": "+919876543210",
  "From": "+919812345678",
  "PhoneNumberSid": "+918047112233",
  "StartTime": "2026-11-25 14:30:05",
  "EndTime": "2026-11-25 14:31:01",
  "ConversationDuration": 41,
  "Direction": "outbound-api",
  "CustomField": "0193a7c2-1f4e-7b3d-9a51-6c0f2e8d4b17",
  "Legs": [
    {"OnCallDuration": 56, "Status": "completed", "AnsweredBy": "NA"},
    {"OnCallDuration": "41", "Status": "completed", "AnsweredBy": "human"}
  ]
}"#;

/// A busy customer just after midnight IST (the UTC date is the day before); no recording.
const JSON_BUSY_FIXTURE: &str = r#"{
  "CallSid": "c0ffee00c0ffee00c0ffee00c0ffee19",
  "EventType": "terminal",
  "Status": "busy",
  "RecordingUrl": null,
  "DateUpdated": "2026-01-01 00:15:21",
  "DateCreated": "2026-01-01 00:14:50",
  "StartTime": "2026-01-01 00:14:50",
  "EndTime": "2026-01-01 00:15:20",
  "ConversationDuration": 0,
  "Direction": "outbound-api",
  "From": "sip:priya@leadlinetest1.voip.exotel.com",
  "To": "+918023456789",
  "CustomField": "",
  "Legs": [
    {"OnCallDuration": 22, "Status": "completed"},
    {"OnCallDuration": 0, "Status": "busy"}
  ]
}"#;

fn assert_completed_fixture(cb: &StatusCallback) {
    assert_eq!(cb.call_sid, "b6cfaf5f5cef3ca0fc937749ef960e25");
    assert_eq!(cb.status, CallStatus::Completed);
    assert!(cb.is_terminal());
    assert_eq!(cb.event_type.as_deref(), Some("terminal"));
    assert_eq!(
        cb.recording_url.as_deref(),
        Some(
            "https://s3-ap-southeast-1.amazonaws.com/exotelrecordings/leadline/b6cfaf5f5cef3ca0fc937749ef960e25.mp3"
        )
    );
    assert_eq!(cb.conversation_duration_s, Some(41));
    // 14:30:05 IST is 09:00:05 UTC.
    assert_eq!(cb.date_created, Some(utc(2026, 11, 25, 9, 0, 5)));
    assert_eq!(cb.start_time, Some(utc(2026, 11, 25, 9, 0, 5)));
    assert_eq!(cb.end_time, Some(utc(2026, 11, 25, 9, 1, 1)));
    assert_eq!(cb.date_updated, Some(utc(2026, 11, 25, 9, 1, 2)));
    assert_eq!(cb.direction.as_deref(), Some("outbound-api"));
    assert_eq!(cb.from.as_deref(), Some("+919812345678"));
    assert_eq!(cb.to.as_deref(), Some("+919876543210"));
    assert_eq!(cb.phone_number_sid.as_deref(), Some("+918047112233"));
    assert_eq!(
        cb.custom_field.as_deref(),
        Some("0193a7c2-1f4e-7b3d-9a51-6c0f2e8d4b17")
    );
    assert_eq!(
        cb.legs,
        vec![
            Leg {
                status: Some(CallStatus::Completed),
                on_call_duration_s: Some(56),
                answered_by: Some("NA".into()),
            },
            Leg {
                status: Some(CallStatus::Completed),
                on_call_duration_s: Some(41),
                answered_by: Some("human".into()),
            },
        ]
    );
}

#[test]
fn form_fixture_parses_with_legs_in_index_order_and_ist_times_in_utc() {
    let cb = parse_status_callback(
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        FORM_FIXTURE.as_bytes(),
    )
    .unwrap();
    assert_completed_fixture(&cb);
}

#[test]
fn json_fixture_parses_the_same() {
    let cb = parse_status_callback(Some("Application/JSON; charset=utf-8"), JSON_FIXTURE.as_bytes()).unwrap();
    assert_completed_fixture(&cb);
}

#[test]
fn multipart_fixture_parses_the_same() {
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let mut body = String::from("a preamble to ignore\r\n");
    for (name, value) in form_urlencoded::parse(FORM_FIXTURE.as_bytes()) {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
    let cb = parse_status_callback(Some(&content_type), body.as_bytes()).unwrap();
    assert_completed_fixture(&cb);

    for (content_type, body) in [
        ("multipart/form-data", body.as_str()),
        ("multipart/form-data; boundary=other", body.as_str()),
        (
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
        ),
        (
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=\"CallSid\"",
        ),
    ] {
        let err = parse_status_callback(Some(content_type), body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, ExotelError::InvalidBody(_)),
            "{content_type}: {err}"
        );
    }
}

#[test]
fn form_and_json_of_one_event_share_the_idempotency_key() {
    let form = parse_status_callback(Some(FORM), FORM_FIXTURE.as_bytes()).unwrap();
    let json = parse_status_callback(Some(JSON), JSON_FIXTURE.as_bytes()).unwrap();
    assert_eq!(form.idempotency_key(), json.idempotency_key());
    assert_eq!(form.idempotency_key().len(), 64);
    assert!(form.idempotency_key().bytes().all(|b| b.is_ascii_hexdigit()));

    let mut other_status = json.clone();
    other_status.status = CallStatus::Failed;
    assert_ne!(other_status.idempotency_key(), json.idempotency_key());
    let mut other_update = json.clone();
    other_update.date_updated = Some(utc(2026, 11, 25, 9, 1, 3));
    assert_ne!(other_update.idempotency_key(), json.idempotency_key());
    let mut other_event = json.clone();
    other_event.event_type = Some("answered".into());
    assert_ne!(other_event.idempotency_key(), json.idempotency_key());
    let mut other_call = json;
    other_call.call_sid.push('0');
    assert_ne!(other_call.idempotency_key(), form.idempotency_key());
}

#[test]
fn busy_call_after_midnight_ist_is_dated_the_previous_day_in_utc() {
    let cb = parse_status_callback(Some(JSON), JSON_BUSY_FIXTURE.as_bytes()).unwrap();
    assert_eq!(cb.status, CallStatus::Busy);
    assert!(cb.is_terminal());
    assert_eq!(cb.recording_url, None);
    assert_eq!(cb.custom_field, None, "an empty CustomField is absent");
    assert_eq!(cb.conversation_duration_s, Some(0));
    assert_eq!(cb.start_time, Some(utc(2025, 12, 31, 18, 44, 50)));
    assert_eq!(cb.end_time, Some(utc(2025, 12, 31, 18, 45, 20)));
    assert_eq!(
        cb.from.as_deref(),
        Some("sip:priya@leadlinetest1.voip.exotel.com")
    );
    assert_eq!(cb.legs.len(), 2);
    assert_eq!(cb.legs[1].status, Some(CallStatus::Busy));
    assert_eq!(cb.legs[0].answered_by, None);
}

#[test]
fn minimal_default_callback_and_sniffing_without_content_type() {
    let form = "CallSid=abc123&Status=no-answer&RecordingUrl=&DateUpdated=2026-11-25+10%3A00%3A00";
    let cb = parse_status_callback(None, form.as_bytes()).unwrap();
    assert_eq!(cb.status, CallStatus::NoAnswer);
    assert_eq!(cb.recording_url, None);
    assert_eq!(cb.date_updated, Some(utc(2026, 11, 25, 4, 30, 0)));
    assert!(cb.legs.is_empty());
    assert!(cb.is_terminal());

    let json = br#"  {"CallSid": "abc123", "Status": "failed"}"#;
    let cb = parse_status_callback(None, json).unwrap();
    assert_eq!(cb.status, CallStatus::Failed);
}

#[test]
fn statuses_unknown_kept_and_terminality() {
    for (wire, status, terminal) in [
        ("completed", CallStatus::Completed, true),
        ("failed", CallStatus::Failed, true),
        ("busy", CallStatus::Busy, true),
        ("no-answer", CallStatus::NoAnswer, true),
        ("canceled", CallStatus::Canceled, true),
        ("Cancelled", CallStatus::Canceled, true),
        ("queued", CallStatus::Queued, false),
        ("ringing", CallStatus::Ringing, false),
        ("in-progress", CallStatus::InProgress, false),
        ("Voicemail", CallStatus::Other("voicemail".into()), false),
    ] {
        let body = format!("CallSid=s1&Status={wire}");
        let cb = parse_status_callback(Some(FORM), body.as_bytes()).unwrap();
        assert_eq!(cb.status, status, "{wire}");
        assert_eq!(cb.is_terminal(), terminal, "{wire}");
        assert_eq!(CallStatus::from_wire(cb.status.as_str()), cb.status);
    }
    // An `answered` event is not the end of the call.
    let cb = parse_status_callback(Some(FORM), b"CallSid=s1&Status=completed&EventType=answered").unwrap();
    assert!(!cb.is_terminal());
    // Serde uses the wire spelling.
    assert_eq!(
        serde_json::to_string(&CallStatus::NoAnswer).unwrap(),
        "\"no-answer\""
    );
    assert_eq!(
        serde_json::from_str::<CallStatus>("\"busy\"").unwrap(),
        CallStatus::Busy
    );
}

#[test]
fn missing_or_bad_fields_are_clear_errors() {
    let err = parse_status_callback(Some(FORM), b"Status=completed").unwrap_err();
    assert!(matches!(err, ExotelError::MissingField("CallSid")), "{err}");
    assert_eq!(err.to_string(), "status callback has no CallSid");
    let err = parse_status_callback(Some(JSON), br#"{"CallSid": "  ", "Status": "busy"}"#).unwrap_err();
    assert!(matches!(err, ExotelError::MissingField("CallSid")), "{err}");
    let err = parse_status_callback(Some(JSON), br#"{"CallSid": "x"}"#).unwrap_err();
    assert!(matches!(err, ExotelError::MissingField("Status")), "{err}");

    let err = parse_status_callback(Some(JSON), b"[1,2]").unwrap_err();
    assert!(matches!(err, ExotelError::InvalidBody(_)), "{err}");
    let err = parse_status_callback(Some(JSON), b"CallSid=x&Status=busy").unwrap_err();
    assert!(matches!(err, ExotelError::InvalidBody(_)), "{err}");
    let err = parse_status_callback(Some("text/xml"), b"<x/>").unwrap_err();
    assert!(
        matches!(err, ExotelError::UnsupportedContentType(ref t) if t == "text/xml"),
        "{err}"
    );

    let err = parse_status_callback(Some(FORM), b"CallSid=x&Status=busy&StartTime=yesterday").unwrap_err();
    assert!(
        matches!(err, ExotelError::InvalidField { ref field, ref value, .. } if field == "StartTime" && value == "yesterday"),
        "{err}"
    );
    let err =
        parse_status_callback(Some(FORM), b"CallSid=x&Status=busy&ConversationDuration=-3").unwrap_err();
    assert!(matches!(err, ExotelError::InvalidField { ref field, .. } if field == "ConversationDuration"));
    let err = parse_status_callback(
        Some(FORM),
        b"CallSid=x&Status=busy&Legs%5B2%5D%5BOnCallDuration%5D=1.5",
    )
    .unwrap_err();
    assert!(matches!(err, ExotelError::InvalidField { ref field, .. } if field == "Legs[2][OnCallDuration]"));
    let err =
        parse_status_callback(Some(JSON), br#"{"CallSid":"x","Status":"busy","Legs":"none"}"#).unwrap_err();
    assert!(matches!(err, ExotelError::InvalidField { ref field, .. } if field == "Legs"));
    let err =
        parse_status_callback(Some(JSON), br#"{"CallSid":"x","Status":"busy","Legs":[3]}"#).unwrap_err();
    assert!(matches!(err, ExotelError::InvalidField { ref field, .. } if field == "Legs[0]"));
}

#[test]
fn times_ist_iso_and_empty() {
    let expected = Some(utc(2026, 11, 25, 9, 0, 5));
    assert_eq!(parse_exotel_time("2026-11-25 14:30:05"), Ok(expected));
    assert_eq!(parse_exotel_time("2026-11-25T14:30:05"), Ok(expected));
    assert_eq!(parse_exotel_time("2026-11-25T09:00:05Z"), Ok(expected));
    assert_eq!(parse_exotel_time("2026-11-25T14:30:05+05:30"), Ok(expected));
    assert_eq!(parse_exotel_time(" 2026-11-25 14:30:05.000 "), Ok(expected));
    assert_eq!(parse_exotel_time(""), Ok(None));
    assert_eq!(parse_exotel_time("0000-00-00 00:00:00"), Ok(None));
    assert!(parse_exotel_time("2026-02-30 10:00:00").is_err());
    assert!(parse_exotel_time("25/11/2026 14:30").is_err());
    assert_eq!(
        format_exotel_time(utc(2025, 12, 31, 18, 44, 50)),
        "2026-01-01 00:14:50"
    );
}

#[test]
fn webhook_secret_is_compared_exactly() {
    assert!(verify_webhook_secret("s3cret-tenant-42", "s3cret-tenant-42"));
    assert!(!verify_webhook_secret("s3cret-tenant-42", "s3cret-tenant-43"));
    assert!(!verify_webhook_secret("s3cret-tenant-42", "s3cret-tenant-4"));
    assert!(!verify_webhook_secret("s3cret-tenant-42", ""));
    assert!(!verify_webhook_secret("", ""), "an empty secret never matches");
}

#[test]
fn basic_authorization_header_parsing() {
    let header = basic_authorization_header("exotel", "pa:ss word");
    let creds = parse_basic_authorization(&header).unwrap();
    assert_eq!(creds.username, "exotel");
    assert_eq!(creds.password, "pa:ss word");
    assert!(
        !format!("{creds:?}").contains("pa:ss"),
        "Debug hides the password"
    );
    // Scheme is case-insensitive.
    assert!(parse_basic_authorization("basic ZXhvdGVsOnNlY3JldA==").is_ok());
    for bad in [
        "",
        "Basic",
        "Bearer ZXhvdGVsOnNlY3JldA==",
        "Basic !!!notbase64",
        "Basic ZXhvdGVs", /* "exotel", no colon */
    ] {
        assert!(
            matches!(
                parse_basic_authorization(bad),
                Err(ExotelError::BadAuthorization(_))
            ),
            "{bad:?}"
        );
    }
    assert!(verify_basic_authorization(Some(&header), "exotel", "pa:ss word"));
    assert!(!verify_basic_authorization(Some(&header), "exotel", "pa:ss"));
    assert!(!verify_basic_authorization(Some(&header), "other", "pa:ss word"));
    assert!(!verify_basic_authorization(None, "exotel", "pa:ss word"));
}

fn config_for(base_url: &str) -> ExotelConfig {
    let mut config = ExotelConfig::new("leadlinetest1", "key-123", "token-very-secret", "+918047112233");
    config.base_url = base_url.to_owned();
    config
}

fn request() -> ConnectRequest {
    ConnectRequest {
        from: "+919812345678".into(),
        to: "+919876543210".into(),
        custom_field: Some("0193a7c2-1f4e-7b3d-9a51-6c0f2e8d4b17".into()),
        record: true,
        time_limit_s: Some(3600),
        timeout_s: Some(30),
    }
}

#[test]
fn config_and_client_debug_never_show_the_token() {
    let config = config_for(DEFAULT_BASE_URL);
    assert!(!format!("{config:?}").contains("token-very-secret"));
    let client = ExotelClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains("token-very-secret"));
    assert!(format!("{client:?}").contains("key-123"));
}

#[test]
fn client_refuses_bad_config_and_requests() {
    let mut config = config_for("ftp://api.exotel.com");
    assert!(matches!(
        ExotelClient::new(config.clone()),
        Err(ExotelError::InvalidConfig(_))
    ));
    config.base_url = MUMBAI_BASE_URL.into();
    config.account_sid = "../admin".into();
    assert!(matches!(
        ExotelClient::new(config.clone()),
        Err(ExotelError::InvalidConfig(_))
    ));
    config.account_sid = "leadlinetest1".into();
    config.api_token = " ".into();
    assert!(matches!(
        ExotelClient::new(config),
        Err(ExotelError::InvalidConfig(_))
    ));

    let client = ExotelClient::new(config_for(MUMBAI_BASE_URL)).unwrap();
    let form = client.connect_form(&request()).unwrap();
    assert!(
        !form.iter().any(|(k, _)| k.starts_with("StatusCallback")),
        "no callback URL configured"
    );
    for (change, what) in [
        (
            Box::new(|r: &mut ConnectRequest| r.from = " ".into()) as Box<dyn Fn(&mut ConnectRequest)>,
            "From",
        ),
        (Box::new(|r: &mut ConnectRequest| r.to = String::new()), "To"),
        (
            Box::new(|r: &mut ConnectRequest| r.custom_field = Some("x".repeat(129))),
            "CustomField",
        ),
        (
            Box::new(|r: &mut ConnectRequest| r.time_limit_s = Some(14_401)),
            "TimeLimit",
        ),
        (
            Box::new(|r: &mut ConnectRequest| r.timeout_s = Some(0)),
            "TimeOut",
        ),
    ] {
        let mut req = request();
        change(&mut req);
        match client.connect_form(&req) {
            Err(ExotelError::InvalidRequest(m)) => assert!(m.contains(what), "{m}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn connect_happy_path_sends_exotels_fields() {
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: None,
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let mut config = fake.exotel_config("+918047112233");
    config.status_callback_url = Some("https://leadline.example/api/v1/webhooks/exotel/status".into());
    let client = ExotelClient::new(config).unwrap();

    let call = client.connect(request()).await.unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let seen = &requests[0];
    assert_eq!(call.call_sid, seen.call_sid);
    assert_eq!(call.call_sid.len(), 32);
    assert_eq!(call.status, CallStatus::InProgress);
    assert_eq!(call.direction.as_deref(), Some("outbound-api"));
    assert_eq!(call.to.as_deref(), Some("+919876543210"));
    assert!(call.date_created.is_some());
    assert_eq!(
        call.uri.as_deref(),
        Some(format!("/v1/Accounts/leadlinetest1/Calls/{}.json", call.call_sid).as_str())
    );
    assert!(seen.json);
    assert_eq!(seen.account_sid, "leadlinetest1");
    for (field, value) in [
        ("From", "+919812345678"),
        ("To", "+919876543210"),
        ("CallerId", "+918047112233"),
        ("CustomField", "0193a7c2-1f4e-7b3d-9a51-6c0f2e8d4b17"),
        ("Record", "true"),
        ("TimeLimit", "3600"),
        ("TimeOut", "30"),
        (
            "StatusCallback",
            "https://leadline.example/api/v1/webhooks/exotel/status",
        ),
        ("StatusCallbackEvents[0]", "terminal"),
        ("StatusCallbackContentType", "application/json"),
    ] {
        assert_eq!(seen.field(field), Some(value), "{field}");
    }
    fake.stop().await;
}

#[tokio::test]
async fn connect_maps_exotels_errors() {
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: None,
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();

    // Wrong token.
    let mut config = fake.exotel_config("+918047112233");
    config.api_token = "wrong".into();
    let err = ExotelClient::new(config)
        .unwrap()
        .connect(request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExotelError::AuthFailed { ref message } if message.contains("Authentication failed")),
        "{err}"
    );
    assert!(!err.is_transient());
    // Wrong account SID with the right credentials.
    let mut config = fake.exotel_config("+918047112233");
    config.account_sid = "someoneelse".into();
    let err = ExotelClient::new(config)
        .unwrap()
        .connect(request())
        .await
        .unwrap_err();
    assert!(matches!(err, ExotelError::AuthFailed { .. }), "{err}");

    let client = ExotelClient::new(fake.exotel_config("+918047112233")).unwrap();
    // 400 with Exotel's message.
    let mut bad = request();
    bad.to = "call-me-maybe".into();
    let err = client.connect(bad).await.unwrap_err();
    assert!(
        matches!(err, ExotelError::BadRequest { ref message } if message == "Invalid parameter To: not a valid phone number"),
        "{err}"
    );
    assert!(fake.requests().is_empty(), "refused requests place no call");

    fake.fail_next(429, "Too many requests", Some(30));
    let err = client.connect(request()).await.unwrap_err();
    assert!(
        matches!(err, ExotelError::RateLimited { retry_after: Some(30), ref message } if message == "Too many requests"),
        "{err}"
    );
    assert!(err.is_transient());
    fake.fail_next(503, "Service Unavailable", None);
    let err = client.connect(request()).await.unwrap_err();
    assert!(matches!(err, ExotelError::Server { status: 503, .. }), "{err}");
    assert!(err.is_transient());
    fake.fail_next(402, "Insufficient balance", None);
    let err = client.connect(request()).await.unwrap_err();
    assert!(
        matches!(err, ExotelError::Rejected { status: 402, ref message } if message == "Insufficient balance"),
        "{err}"
    );
    // The queue is empty again: the next call goes through.
    client.connect(request()).await.unwrap();
    assert_eq!(fake.requests().len(), 1);
    fake.stop().await;
}

#[tokio::test]
async fn fake_checks_required_fields_like_exotel() {
    let fake = FakeExotel::start(FakeExotelConfig::default()).await.unwrap();
    let c = fake.config().clone();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/Accounts/{}/Calls/connect.json",
            fake.base_url(),
            c.account_sid
        ))
        .basic_auth(&c.api_key, Some(&c.api_token))
        .header(CONTENT_TYPE, FORM)
        .body("From=%2B919812345678&CallerId=%2B918047112233")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["RestException"]["Status"], 400);
    assert_eq!(
        body["RestException"]["Message"],
        "Missing parameter To. To is mandatory."
    );

    // Without `.json` the fake answers XML, like Exotel.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/Accounts/{}/Calls/connect",
            fake.base_url(),
            c.account_sid
        ))
        .basic_auth(&c.api_key, Some(&c.api_token))
        .header(CONTENT_TYPE, FORM)
        .body("From=%2B919812345678&To=%2B919876543210&CallerId=%2B918047112233")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let xml = response.text().await.unwrap();
    assert!(xml.contains("<Status>in-progress</Status>"), "{xml}");
    assert!(!fake.requests()[0].json);
    fake.stop().await;
}

#[tokio::test]
async fn connect_times_out_and_reports_refused_connections() {
    // A server that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let mut config = config_for(&format!("http://{addr}"));
    config.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let err = ExotelClient::new(config)
        .unwrap()
        .connect(request())
        .await
        .unwrap_err();
    assert!(matches!(err, ExotelError::Timeout), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    holder.abort();

    // Nothing listens on a port we just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = ExotelClient::new(config_for(&format!("http://{closed}")))
        .unwrap()
        .connect(request())
        .await
        .unwrap_err();
    assert!(matches!(err, ExotelError::Transport(_)), "{err}");
    assert!(err.is_transient());
}

/// What a webhook receiver got.
#[derive(Clone, Debug)]
struct Received {
    content_type: Option<String>,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Receiver {
    secret: &'static str,
    answer: StatusCode,
    got: Arc<Mutex<Vec<Received>>>,
}

/// A webhook endpoint like the lead's `POST /api/v1/webhooks/exotel/status/{secret}`, on 127.0.0.1.
async fn start_receiver(answer: StatusCode) -> (SocketAddr, Receiver) {
    async fn hook(
        State(r): State<Receiver>,
        Path(secret): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        if !verify_webhook_secret(r.secret, &secret) {
            return StatusCode::UNAUTHORIZED;
        }
        r.got.lock().unwrap().push(Received {
            content_type: headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: body.to_vec(),
        });
        r.answer
    }
    let receiver = Receiver {
        secret: "tenant-secret-1",
        answer,
        got: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hooks/exotel/{secret}", post(hook))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, receiver)
}

#[tokio::test]
async fn json_callback_is_delivered_parsed_and_its_recording_served() {
    let (addr, receiver) = start_receiver(StatusCode::OK).await;
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: Some(FakeCallback {
            delay: Duration::from_millis(50),
            conversation_duration_s: 37,
            deliveries: 2,
            ..FakeCallback::default()
        }),
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let mut config = fake.exotel_config("+918047112233");
    config.status_callback_url = Some(format!("http://{addr}/hooks/exotel/tenant-secret-1"));
    let client = ExotelClient::new(config).unwrap();
    let before = Utc::now() - chrono::Duration::seconds(1);
    let call = client.connect(request()).await.unwrap();

    let deliveries = fake.wait_for_deliveries(2, Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries.iter().all(|d| d.result == Ok(200)));
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].content_type.as_deref(), Some(JSON));

    let cb = parse_status_callback(got[0].content_type.as_deref(), &got[0].body).unwrap();
    let replay = parse_status_callback(got[1].content_type.as_deref(), &got[1].body).unwrap();
    assert_eq!(
        cb.idempotency_key(),
        replay.idempotency_key(),
        "a replay has the same key"
    );
    assert_eq!(cb.call_sid, call.call_sid);
    assert_eq!(cb.status, CallStatus::Completed);
    assert!(cb.is_terminal());
    assert_eq!(
        cb.custom_field.as_deref(),
        Some("0193a7c2-1f4e-7b3d-9a51-6c0f2e8d4b17")
    );
    assert_eq!(cb.conversation_duration_s, Some(37));
    assert_eq!(cb.from.as_deref(), Some("+919812345678"));
    assert_eq!(cb.to.as_deref(), Some("+919876543210"));
    assert_eq!(cb.legs.len(), 2);
    assert_eq!(cb.legs[1].on_call_duration_s, Some(37));
    // The fake wrote IST; parsed back it is the real UTC time of the call.
    let created = cb.date_created.unwrap();
    assert!(created >= before && created <= Utc::now(), "{created}");
    assert_eq!(
        (cb.end_time.unwrap() - cb.start_time.unwrap()).num_seconds(),
        5 + 3 + 37
    );

    let recording = cb.recording_url.unwrap();
    assert_eq!(recording, fake.recording_url(&call.call_sid));
    let http = reqwest::Client::new();
    let c = fake.config();
    let audio = http
        .get(&recording)
        .basic_auth(&c.api_key, Some(&c.api_token))
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()[CONTENT_TYPE], "audio/mpeg");
    assert_eq!(audio.bytes().await.unwrap().as_ref(), FAKE_RECORDING);
    assert_eq!(http.get(&recording).send().await.unwrap().status(), 401);
    let missing = http
        .get(fake.recording_url("0000"))
        .basic_auth(&c.api_key, Some(&c.api_token))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    fake.stop().await;
}

#[tokio::test]
async fn form_callback_and_default_fields_and_retries() {
    let (addr, receiver) = start_receiver(StatusCode::OK).await;
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: Some(FakeCallback {
            delay: Duration::from_millis(10),
            status: "no-answer".into(),
            ..FakeCallback::default()
        }),
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let c = fake.config().clone();
    let url = format!(
        "{}/v1/Accounts/{}/Calls/connect.json",
        fake.base_url(),
        c.account_sid
    );
    let hook = format!("http://{addr}/hooks/exotel/tenant-secret-1");
    let http = reqwest::Client::new();
    let send = |body: String| {
        http.post(&url)
            .basic_auth(&c.api_key, Some(&c.api_token))
            .header(CONTENT_TYPE, FORM)
            .body(body)
            .send()
    };
    let encoded_hook: String = form_urlencoded::byte_serialize(hook.as_bytes()).collect();

    // Terminal event, no content type asked: a form with Legs[i][…] keys.
    let body = format!(
        "From=%2B919812345678&To=%2B919876543210&CallerId=%2B918047112233&CustomField=log-7\
         &Record=true&StatusCallback={encoded_hook}&StatusCallbackEvents%5B0%5D=terminal"
    );
    assert_eq!(send(body).await.unwrap().status(), 200);
    fake.wait_for_deliveries(1, Duration::from_secs(10)).await;
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got[0].content_type.as_deref(), Some(FORM));
    let text = String::from_utf8(got[0].body.clone()).unwrap();
    assert!(text.contains("Legs%5B1%5D%5BStatus%5D=no-answer"), "{text}");
    let cb = parse_status_callback(got[0].content_type.as_deref(), &got[0].body).unwrap();
    assert_eq!(cb.status, CallStatus::NoAnswer);
    assert_eq!(cb.custom_field.as_deref(), Some("log-7"));
    assert_eq!(cb.recording_url, None, "no recording for an unanswered call");
    assert_eq!(cb.conversation_duration_s, Some(0));
    assert_eq!(cb.legs[1].status, Some(CallStatus::NoAnswer));

    // No StatusCallbackEvents: Exotel's four default fields only.
    let body = format!(
        "From=%2B919812345678&To=%2B919876543210&CallerId=%2B918047112233&CustomField=log-8\
         &StatusCallback={encoded_hook}"
    );
    assert_eq!(send(body).await.unwrap().status(), 200);
    fake.wait_for_deliveries(2, Duration::from_secs(10)).await;
    let got = receiver.got.lock().unwrap().clone();
    let cb = parse_status_callback(got[1].content_type.as_deref(), &got[1].body).unwrap();
    assert_eq!(cb.status, CallStatus::NoAnswer);
    assert!(cb.date_updated.is_some());
    assert_eq!(cb.custom_field, None);
    assert!(cb.legs.is_empty());

    // multipart/form-data when asked for.
    let body = format!(
        "From=%2B919812345678&To=%2B919876543210&CallerId=%2B918047112233&CustomField=log-9\
         &StatusCallback={encoded_hook}&StatusCallbackEvents%5B0%5D=terminal\
         &StatusCallbackContentType=multipart%2Fform-data"
    );
    assert_eq!(send(body).await.unwrap().status(), 200);
    fake.wait_for_deliveries(3, Duration::from_secs(10)).await;
    let got = receiver.got.lock().unwrap().clone();
    assert!(
        got[2]
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let cb = parse_status_callback(got[2].content_type.as_deref(), &got[2].body).unwrap();
    assert_eq!(cb.custom_field.as_deref(), Some("log-9"));
    assert_eq!(cb.legs.len(), 2);
    assert_eq!(cb.legs[0].status, Some(CallStatus::Completed));

    // A receiver that answers 500 gets the callback three times in all.
    let (failing_addr, failing) = start_receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let failing_hook: String = form_urlencoded::byte_serialize(
        format!("http://{failing_addr}/hooks/exotel/tenant-secret-1").as_bytes(),
    )
    .collect();
    let body = format!(
        "From=%2B919812345678&To=%2B919876543210&CallerId=%2B918047112233&StatusCallback={failing_hook}"
    );
    assert_eq!(send(body).await.unwrap().status(), 200);
    let deliveries = fake.wait_for_deliveries(6, Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 6);
    assert!(deliveries[3..].iter().all(|d| d.result == Ok(500)));
    assert_eq!(failing.got.lock().unwrap().len(), 3);
    fake.stop().await;
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_input(
        content_type in prop::option::of(prop_oneof![
            Just(FORM.to_owned()),
            Just(JSON.to_owned()),
            Just("application/json; charset=utf-8".to_owned()),
            Just("multipart/form-data; boundary=b".to_owned()),
            Just("multipart/form-data; boundary=\"\"".to_owned()),
            any::<String>(),
        ]),
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = parse_status_callback(content_type.as_deref(), &body);
    }

    #[test]
    fn parse_never_panics_on_exotel_shaped_fields(
        pairs in prop::collection::vec(
            (
                prop_oneof![
                    Just("CallSid".to_owned()),
                    Just("Status".to_owned()),
                    Just("StartTime".to_owned()),
                    Just("ConversationDuration".to_owned()),
                    Just("Legs[0][OnCallDuration]".to_owned()),
                    Just("Legs[18446744073709551615][Status]".to_owned()),
                    Just("Legs[99999999999999999999999][Status]".to_owned()),
                    "Legs\\[[0-9]{1,3}\\]\\[[A-Za-z]{0,12}\\]",
                    any::<String>(),
                ],
                prop_oneof![
                    "[0-9]{1,12}",
                    "20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}",
                    any::<String>(),
                ],
            ),
            0..16,
        ),
        as_json in any::<bool>(),
    ) {
        let (content_type, body) = if as_json {
            let object: serde_json::Map<String, serde_json::Value> =
                pairs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
            (JSON, serde_json::Value::Object(object).to_string())
        } else {
            (FORM, form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish())
        };
        let _ = parse_status_callback(Some(content_type), body.as_bytes());
    }

    #[test]
    fn parse_never_panics_on_multipart_shaped_bodies(
        pieces in prop::collection::vec(
            prop_oneof![
                Just("--b".to_owned()),
                Just("--b--".to_owned()),
                Just("\r\n".to_owned()),
                Just("\r\n\r\n".to_owned()),
                Just("Content-Disposition: form-data; name=\"CallSid\"".to_owned()),
                Just("Content-Disposition: form-data; name=\"Legs[0][OnCallDuration]\"".to_owned()),
                Just("Content-Disposition: form-data; name=".to_owned()),
                "[ -~]{0,12}",
                any::<String>(),
            ],
            0..24,
        ),
    ) {
        let _ = parse_status_callback(Some("multipart/form-data; boundary=b"), pieces.concat().as_bytes());
    }

    #[test]
    fn generated_callbacks_round_trip(
        sid in "[0-9a-f]{1,40}",
        status in prop_oneof![Just("completed"), Just("busy"), Just("no-answer"), Just("failed"), Just("canceled")],
        custom in "[ -~]{0,128}",
        duration in any::<u32>(),
    ) {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("CallSid", &sid)
            .append_pair("Status", status)
            .append_pair("CustomField", &custom)
            .append_pair("ConversationDuration", &duration.to_string())
            .finish();
        let cb = parse_status_callback(Some(FORM), body.as_bytes()).unwrap();
        prop_assert_eq!(&cb.call_sid, &sid);
        prop_assert_eq!(cb.status.as_str(), status);
        prop_assert!(cb.is_terminal());
        let trimmed = custom.trim();
        prop_assert_eq!(cb.custom_field.as_deref(), (!trimmed.is_empty() && !trimmed.eq_ignore_ascii_case("null")).then_some(trimmed));
        prop_assert_eq!(cb.conversation_duration_s, Some(duration));
    }
}
