//! The `sip` target of `leadline-bench fuzz` as a property test (a few thousand cases each run): SIP
//! frames — valid ones as a server sends them, the same mutated, raw bytes — through
//! `leadline_phone::inbound::read_inbound`. Valid messages are read as sent and print back to themselves;
//! anything else gets an answer, never a panic.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../bench/src/fuzz/mutate.rs"]
mod mutate;
#[allow(dead_code)]
#[path = "../../bench/src/fuzz/sip.rs"]
mod sip;

use leadline_phone::inbound::read_inbound;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[test]
fn sip_frames_get_an_answer_and_valid_ones_round_trip() {
    let config = Config {
        cases: 2_000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    runner
        .run(&sip::strategy(), |case| {
            sip::check(&case).map_err(TestCaseError::fail)
        })
        .unwrap();
}

#[test]
fn hostile_frames_are_refused_with_a_protocol_error() {
    for bytes in [
        &b""[..],
        b"\r\n\r\n",
        b"SIP/2.0 99999999999999999999 OK\r\n\r\n",
        b"\xff\xfe\x00",
    ] {
        assert!(
            read_inbound(bytes).is_err(),
            "{:?}",
            bytes.escape_ascii().to_string()
        );
    }
    // rsip reads a request without Via, From, To, Call-ID or CSeq (and does not check Content-Length);
    // every reader refuses what is missing.
    let bare =
        read_inbound(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 18446744073709551616\r\n\r\n").unwrap();
    assert!(bare.branch.is_err() && bare.cseq.is_err());
    assert!(matches!(bare.dialog, Some(Err(_))));
    assert!(matches!(bare.answer, Some(Err(_))));
}
