//! A small soak in CI: the real server process, desks and CLI clients through the fault-injecting proxy,
//! kills and cuts, for 20 s; every call log must reach the server exactly once. (The full run, its figures
//! and memory are `cargo run --release -p leadline-bench -- soak`; see docs/benchmarks.md.)
//!
//! Needs the debug `leadline-server` and `leadline` binaries (built by `scripts/test` before the tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn a_short_soak_with_cuts_and_kills_loses_and_duplicates_no_call_log() {
    let out = Command::new(env!("CARGO_BIN_EXE_leadline-bench"))
        .args([
            "soak",
            "--secs",
            "20",
            "--clients",
            "10",
            "--cli-clients",
            "2",
            "--users",
            "2",
            "--call-gap-ms",
            "1200",
            "--interval-secs",
            "5",
        ])
        // The binaries are built already; no `cargo build` from inside the test.
        .env_remove("CARGO")
        .output()
        .expect("run leadline-bench soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v.get("lost").is_some())
        .unwrap_or_else(|| panic!("no summary line ({}):\n{stdout}\n{stderr}", out.status));
    let n = |k: &str| {
        summary[k]
            .as_u64()
            .unwrap_or_else(|| panic!("summary has no number {k}: {summary}"))
    };
    assert!(out.status.success(), "the soak failed: {summary}\n{stderr}");
    assert_eq!((n("lost"), n("duplicated")), (0, 0), "{summary}");
    assert_eq!(n("outbox_not_empty"), 0, "{summary}");
    assert_eq!(
        (n("follow_ups_lost"), n("follow_ups_duplicated")),
        (0, 0),
        "{summary}"
    );
    assert_eq!(n("unexpected_on_server"), 0, "{summary}");
    // The run really was hostile, and really logged calls.
    assert!(n("calls_logged") >= 30, "{summary}");
    assert!(
        n("desk_kills") > 0 && n("cli_kills") > 0,
        "kills happened: {summary}"
    );
    assert!(n("push_answer_cuts") > 0, "pushes lost their answers: {summary}");
    assert!(
        n("request_cuts") + n("response_cuts") + n("live_connections_cut") > 0,
        "connections were cut: {summary}"
    );
}
