//! The `csv` target of `leadline-bench fuzz` as a property test (a few thousand cases each run): lead CSV
//! uploads — valid files as spreadsheets save them, the same mutated, raw bytes — through
//! `parse_leads_csv`. A valid file imports every row as written; anything else gets leads with a report
//! that adds up, or a typed refusal; never a panic.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../bench/src/fuzz/csv.rs"]
mod csv;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/mutate.rs"]
mod mutate;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[test]
fn csv_uploads_import_every_valid_row_and_never_panic() {
    let config = Config {
        cases: 600,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    runner
        .run(&csv::strategy(), |case| {
            csv::check(&case).map_err(TestCaseError::fail)
        })
        .unwrap();
}
