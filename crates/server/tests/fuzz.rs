//! The `sheets`, `exotel`, `jwt` and `sync_push` targets of `leadline-bench fuzz` as property tests (a
//! few thousand cases each run), and the inputs the fuzzing found as regression tests. Valid samples are
//! read back as written; mutated and raw input gets a value or a typed error, never a panic.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../bench/src/fuzz/exotel.rs"]
mod exotel;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/jwt.rs"]
mod jwt;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/mutate.rs"]
mod mutate;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/push.rs"]
mod push;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/sheets.rs"]
mod sheets;

use std::time::{Duration, Instant};

use leadline_server::import::ImportOptions;
use leadline_server::import::sheets::{
    MAX_TOKEN_LIFETIME, parse_sheet_values, read_token_response, read_values_response,
};
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use reqwest::StatusCode;

fn run<T: std::fmt::Debug>(
    cases: u32,
    strategy: BoxedStrategy<T>,
    mut check: impl FnMut(&T) -> Result<(), String>,
) {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    // `run` takes a `Fn`: the push target's database sits behind a RefCell.
    let check = std::cell::RefCell::new(&mut check);
    runner
        .run(&strategy, |case| {
            (check.borrow_mut())(&case).map_err(TestCaseError::fail)
        })
        .unwrap();
}

#[test]
fn google_sheets_answers_are_read_or_refused() {
    run(2_000, sheets::strategy(), sheets::check);
}

#[test]
fn exotel_callbacks_and_answers_are_read_or_refused() {
    run(2_000, exotel::strategy(), exotel::check);
}

#[test]
fn only_our_unexpired_hs256_tokens_verify() {
    let target = jwt::Target::new().unwrap();
    run(800, target.strategy(), |c| target.check(c));
}

#[test]
fn sync_pushes_answer_every_mutation_once() {
    let mut target = push::Target::new().unwrap();
    let strategy = target.strategy();
    run(1_000, strategy, |c| target.check(c));
}

/// Found while writing the fuzz target `sheets` (its row-order check catches it): Google echoes the range it read, and a range starting at row
/// 18446744073709551615 made the row number of the first data row overflow (a panic in debug builds, a
/// wrap to row 0 in release).
#[test]
fn a_huge_range_start_row_does_not_overflow() {
    let body = br#"{"range":"Leads!A18446744073709551615:C","values":[["Name","Phone"],["Asha","+91 98765 43210"]]}"#;
    let values = read_values_response(StatusCode::OK, body).unwrap();
    let parsed = parse_sheet_values(&values, &ImportOptions::default()).unwrap();
    assert_eq!(parsed.leads.len(), 1);
    assert_eq!(parsed.leads[0].row, usize::MAX);
}

/// Found while writing the fuzz target `sheets` (its lifetime check catches it): a token answer with a huge `expires_in` overflowed the client's
/// `Instant` arithmetic (a panic while caching the token). The lifetime is capped now.
#[test]
fn a_huge_token_lifetime_is_capped() {
    for expires_in in [
        u64::MAX.to_string(),
        "18446744073709551615".into(),
        "99999999999".into(),
    ] {
        let body = format!(r#"{{"access_token":"ya29.x","expires_in":{expires_in},"token_type":"Bearer"}}"#);
        let (token, lifetime) = read_token_response(StatusCode::OK, body.as_bytes()).unwrap();
        assert_eq!((token.as_str(), lifetime), ("ya29.x", MAX_TOKEN_LIFETIME));
        assert!(Instant::now().checked_add(lifetime).is_some());
    }
    let body = br#"{"access_token":"ya29.x","expires_in":120}"#;
    assert_eq!(
        read_token_response(StatusCode::OK, body).unwrap().1,
        Duration::from_secs(120)
    );
    // Past u64: a typed error, not a panic.
    let body = br#"{"access_token":"ya29.x","expires_in":18446744073709551616}"#;
    assert!(read_token_response(StatusCode::OK, body).is_err());
}

/// Found by `leadline-bench fuzz` (target `sync_push`, 1,000,000 cases): a reschedule to year -1 was
/// stored as `-0001-…`, which every later read of the follow-up refused as corrupt, so the next mutation
/// on it (here its completion) failed the whole batch with a storage error — a batch the desktop would
/// retry for ever. Now the reschedule is rejected and the completion applies.
#[test]
fn a_push_with_a_time_before_1970_is_rejected_not_stored() {
    use leadline_model::sync::MutationStatus;
    let mut target = push::Target::new().unwrap();
    let body = br#"{"protocol":1,"device_id":"desk-7","mutations":[
        {"client_mutation_id":"00000000-0000-0000-0000-000000c10000","created_at":"2026-11-27T00:31:02.510Z",
         "op":"reschedule_follow_up","data":{"follow_up_id":"00000000-0000-0000-0000-000000f00002","due_at":"-1-11-27T00:32:02.510Z"}},
        {"client_mutation_id":"00000000-0000-0000-0000-000000c10001","created_at":"2026-11-27T00:31:02.510Z",
         "op":"complete_follow_up","data":{"follow_up_id":"00000000-0000-0000-0000-000000f00002","completed_at":"2026-11-27T00:30:02.510Z"}}]}"#;
    target.check(&mutate::Case::Bytes(body.to_vec())).unwrap();
    let statuses = target.statuses(body).unwrap();
    assert!(
        matches!(&statuses[0], MutationStatus::Rejected { reason } if reason.starts_with("bad_due_at")),
        "{statuses:?}"
    );
    assert_eq!(statuses[1], MutationStatus::Applied);
}
