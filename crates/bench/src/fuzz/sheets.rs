//! Fuzz target `sheets`: Google's answers to the server's Sheets client — token endpoint answers
//! ([`read_token_response`]), values answers and Google error bodies ([`read_values_response`]) — and the
//! values grid through the import pipeline ([`parse_sheet_values`]).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use leadline_server::import::ImportOptions;
use leadline_server::import::sheets::{
    MAX_TOKEN_LIFETIME, SheetsError, ValueRange, parse_sheet_values, read_token_response,
    read_values_response,
};

use super::mutate::{Case, cases, re};

#[derive(Debug, Clone)]
pub enum Sample {
    /// A values answer: first row the header, then (name, phone digits after 98, city) rows.
    Values {
        first_row: u32,
        rows: Vec<(String, u32, Value)>,
        trailing_blank: bool,
    },
    Token {
        access_token: String,
        expires_in: Option<u64>,
        bearer_case: u8,
    },
    Refused {
        status: u16,
        error: String,
    },
    ApiError {
        status: u16,
        google_status: &'static str,
        message: String,
    },
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"18446744073709551616",
    b"\"",
    b"\\u0000",
    b"\\ud800",
    b",",
    b":",
    b"\"values\":",
    b"\"range\":\"Sheet1!A18446744073709551615:C\"",
    b"\"expires_in\":",
    b"\"token_type\":\"mac\"",
    b"\"error\":",
    b"{\"error\":{\"code\":70000,\"status\":\"PERMISSION_DENIED\"}}",
];

fn sample() -> BoxedStrategy<Sample> {
    prop_oneof![
        4 => (
            1..1_000_000u32,
            prop::collection::vec(
                (
                    re("[A-Za-z][A-Za-z ]{0,20}[A-Za-z]"),
                    0..100_000_000u32,
                    prop_oneof![
                        Just(Value::Null),
                        re("[A-Za-z]{1,12}").prop_map(Value::String),
                        (1..10_000u32).prop_map(|n| json!(n)),
                        any::<bool>().prop_map(Value::Bool),
                    ],
                ),
                1..10,
            ),
            any::<bool>(),
        )
            .prop_map(|(first_row, rows, trailing_blank)| Sample::Values { first_row, rows, trailing_blank }),
        2 => (
            re("[A-Za-z0-9._-]{1,200}"),
            prop::option::of(prop_oneof![0..100_000u64, any::<u64>()]),
            0..3u8,
        )
            .prop_map(|(access_token, expires_in, bearer_case)| Sample::Token { access_token, expires_in, bearer_case }),
        1 => (400..500u16, prop::sample::select(vec!["invalid_grant", "unauthorized_client", "invalid_client"]))
            .prop_map(|(status, error)| Sample::Refused { status, error: error.to_owned() }),
        1 => (
            prop::sample::select(vec![400u16, 401, 403, 404, 429, 500, 503]),
            prop::sample::select(vec!["PERMISSION_DENIED", "NOT_FOUND", "INVALID_ARGUMENT", "UNAUTHENTICATED",
                "RESOURCE_EXHAUSTED", "INTERNAL", ""]),
            re(".{0,40}"),
        )
            .prop_map(|(status, google_status, message)| Sample::ApiError { status, google_status, message }),
    ]
    .boxed()
}

/// The answer's body as Google sends it.
pub fn render(s: &Sample) -> Vec<u8> {
    let v = match s {
        Sample::Values {
            first_row,
            rows,
            trailing_blank,
        } => {
            let mut values = vec![json!(["Name", "Phone", "City"])];
            for (name, number, city) in rows {
                values.push(json!([name, format!("+91 98{number:08}"), city]));
            }
            if *trailing_blank {
                values.push(json!([]));
            }
            json!({"range": format!("Leads!A{first_row}:C"), "majorDimension": "ROWS", "values": values})
        }
        Sample::Token {
            access_token,
            expires_in,
            bearer_case,
        } => {
            let kind = ["Bearer", "bearer", "BEARER"][usize::from(*bearer_case % 3)];
            match expires_in {
                Some(e) => json!({"access_token": access_token, "expires_in": e, "token_type": kind}),
                None => json!({"access_token": access_token, "token_type": kind}),
            }
        }
        Sample::Refused { error, .. } => {
            json!({"error": error, "error_description": "Invalid JWT Signature."})
        }
        Sample::ApiError {
            status,
            google_status,
            message,
        } => json!({"error": {"code": status, "message": message, "status": google_status}}),
    };
    v.to_string().into_bytes()
}

pub fn strategy() -> BoxedStrategy<Case<Sample>> {
    cases(sample(), render, TOKENS)
}

fn status_of(bytes: &[u8]) -> StatusCode {
    const STATUSES: [u16; 8] = [200, 200, 200, 400, 401, 403, 429, 503];
    let h = bytes
        .iter()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(*b)));
    StatusCode::from_u16(STATUSES[h % STATUSES.len()]).unwrap_or(StatusCode::OK)
}

fn use_token(lifetime: Duration) -> Result<(), String> {
    // What the client does with the lifetime: it must fit the clock.
    if lifetime > MAX_TOKEN_LIFETIME || Instant::now().checked_add(lifetime).is_none() {
        return Err(format!("token lifetime {lifetime:?} is unbounded"));
    }
    Ok(())
}

/// Checks one case.
pub fn check(case: &Case<Sample>) -> Result<(), String> {
    let opts = ImportOptions::default();
    let s = match case {
        Case::Bytes(b) => {
            let status = status_of(b);
            if let Ok((_, lifetime)) = read_token_response(status, b) {
                use_token(lifetime)?;
            }
            if let Ok(values) = read_values_response(status, b)
                && let Ok(parsed) = parse_sheet_values(&values, &opts)
            {
                // Row numbers are the sheet's: below the header, in order (a wrapped number breaks this).
                let rows: Vec<usize> = parsed.leads.iter().map(|l| l.row).collect();
                if rows.iter().any(|r| *r < 2) || rows.windows(2).any(|w| w[0] > w[1]) {
                    return Err(format!("row numbers {rows:?} for range {:?}", values.range));
                }
            }
            return Ok(());
        }
        Case::Valid(s) => s,
    };
    let body = render(s);
    match s {
        Sample::Values { first_row, rows, .. } => {
            let values: ValueRange =
                read_values_response(StatusCode::OK, &body).map_err(|e| format!("values refused: {e}"))?;
            let parsed = parse_sheet_values(&values, &opts).map_err(|e| format!("grid refused: {e}"))?;
            let mut distinct = std::collections::HashSet::new();
            let want: Vec<_> = rows.iter().filter(|r| distinct.insert(r.1)).collect();
            if parsed.leads.len() != want.len() || parsed.report.invalid != 0 {
                return Err(format!(
                    "{} leads of {} rows: {:?}",
                    parsed.leads.len(),
                    want.len(),
                    parsed.report
                ));
            }
            for (lead, (name, number, _)) in parsed.leads.iter().zip(want) {
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                if lead.name != name || lead.phone.as_str() != format!("+9198{number:08}") {
                    return Err(format!("{name} {number} read as {} {}", lead.name, lead.phone));
                }
            }
            if parsed.leads.first().map(|l| l.row) != Some(*first_row as usize + 1) {
                return Err(format!(
                    "first data row {:?}, header at {first_row}",
                    parsed.leads.first().map(|l| l.row)
                ));
            }
        }
        Sample::Token {
            access_token,
            expires_in,
            ..
        } => {
            let (token, lifetime) =
                read_token_response(StatusCode::OK, &body).map_err(|e| format!("token refused: {e}"))?;
            use_token(lifetime)?;
            let want = Duration::from_secs(expires_in.unwrap_or(3600)).min(MAX_TOKEN_LIFETIME);
            if token != *access_token || lifetime != want {
                return Err(format!("token read as {token} for {lifetime:?}"));
            }
        }
        Sample::Refused { status, error } => {
            let status = StatusCode::from_u16(*status).map_err(|e| e.to_string())?;
            match read_token_response(status, &body) {
                Err(SheetsError::TokenRefused { error: e, .. }) if e == *error => {}
                other => return Err(format!("refusal read as {other:?}")),
            }
        }
        Sample::ApiError { status, .. } => {
            let status = StatusCode::from_u16(*status).map_err(|e| e.to_string())?;
            match read_values_response(status, &body) {
                Err(SheetsError::InvalidResponse { .. }) | Ok(_) => {
                    return Err(format!("Google's error body not read: {body:?}"));
                }
                Err(_) => {}
            }
        }
    }
    Ok(())
}
