//! The far end of the softphone tests, proved on its own: two browser softphones (JsSIP in headless
//! Chromium, fake audio) register with the test proxy (kamailio) and call each other through it. The
//! softphone's call tests put Leadline in the place of the caller; this test is also the browser's
//! baseline for `leadline-bench phone`.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::farend::FarEnd;
use support::{FAR_PASSWORD, FAR_USER, Kamailio, PASSWORD, USER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_softphones_call_each_other_through_the_proxy_and_hear_each_other() {
    let kam = Kamailio::start().await;
    let ws = format!("ws://127.0.0.1:{}", kam.port);
    let mut callee = FarEnd::launch().await;
    callee.register(&ws, FAR_USER, FAR_PASSWORD, true).await;
    let mut caller = FarEnd::launch().await;
    caller.register(&ws, USER, PASSWORD, false).await;

    caller
        .send(json!({"cmd": "call", "target": format!("sip:{FAR_USER}@{}", support::DOMAIN)}))
        .await;
    let incoming = callee.expect("incoming", Duration::from_secs(20)).await;
    assert!(
        incoming["from"].as_str().unwrap().contains(USER),
        "{incoming}\n{}",
        kam.log()
    );
    callee.expect("confirmed", Duration::from_secs(20)).await;
    caller.expect("confirmed", Duration::from_secs(20)).await;

    // Both hear the other's fake microphone (a beep): packets arrive and carry sound.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for far in [&mut caller, &mut callee] {
        let stats = far.stats().await;
        assert!(stats["packetsReceived"].as_u64().unwrap() > 50, "{stats}");
        assert!(stats["peakLevel"].as_f64().unwrap() > 0.05, "silence: {stats}");
    }

    // DTMF (SIP INFO, what a browser can report) reaches the other side; the caller hangs up and the callee
    // sees the call end.
    caller.send(json!({"cmd": "dtmf", "tones": "12#"})).await;
    for tone in ["1", "2", "#"] {
        let got = callee.expect("dtmf", Duration::from_secs(10)).await;
        assert_eq!(got["tone"], tone, "{got}");
    }
    caller.send(json!({"cmd": "hangup"})).await;
    let ended = callee.expect("ended", Duration::from_secs(10)).await;
    assert_eq!(ended["originator"], "remote", "{ended}");
    caller.quit().await;
    callee.quit().await;
}
