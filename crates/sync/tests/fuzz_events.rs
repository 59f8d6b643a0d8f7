//! The `events` target of `leadline-bench fuzz` as a property test (a few thousand cases each run): the
//! event socket's text frames through `read_frame` — every kind the server sends, kinds from a newer
//! server, the same damaged. A frame is read as the server meant it or refused; never a panic.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../bench/src/fuzz/events.rs"]
mod events;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/mutate.rs"]
mod mutate;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[test]
fn event_frames_are_read_as_meant_or_refused_and_never_panic() {
    let config = Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    runner
        .run(&events::strategy(), |case| {
            events::check(&case).map_err(TestCaseError::fail)
        })
        .unwrap();
}
