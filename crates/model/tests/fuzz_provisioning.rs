//! The `provisioning` target of `leadline-bench fuzz` as a property test (a few thousand cases each run):
//! provisioning files as an admin writes them, the same damaged, raw bytes, through
//! `Provisioning::parse`. A valid file is read as written; whatever is accepted obeys the setup's rules and
//! reads back the same; never a panic.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../bench/src/fuzz/mutate.rs"]
mod mutate;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/provisioning.rs"]
mod provisioning;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[test]
fn provisioning_files_are_read_as_written_or_refused_and_never_panic() {
    let config = Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    runner
        .run(&provisioning::strategy(), |case| {
            provisioning::check(&case).map_err(TestCaseError::fail)
        })
        .unwrap();
}
