//! Leadline's softphone in real calls: kamailio (WebSocket, digest auth) in the middle and a browser
//! softphone (JsSIP in headless Chromium, its microphone a steady tone) at the far end. Leadline's own
//! microphone is a 440 Hz tone and its speaker a meter, so each side proves it hears the other's tone
//! through Opus, ICE and DTLS-SRTP.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use leadline_model::{CallDirection, CallEnd};
use leadline_phone::audio::{self, AudioPath, Meter};
use leadline_phone::{CallHandle, CallState, PhoneConfig, PhoneEvent, UserAgent, UserAgentHandle};
use serde_json::json;
use support::farend::FarEnd;
use support::{FAR_PASSWORD, FAR_USER, Kamailio, PASSWORD, THIRD_PASSWORD, THIRD_USER, USER};
use tokio::sync::broadcast;

const OUR_TONE: f64 = 440.0;

/// A Leadline phone whose calls hear through `meter` and speak a 440 Hz tone.
async fn leadline(
    kam: &Kamailio,
    meter: &Meter,
    tune: impl FnOnce(&mut PhoneConfig),
) -> (UserAgentHandle, broadcast::Receiver<PhoneEvent>) {
    support::init_tracing();
    let mut cfg = support::config(&kam.ws_url(), PASSWORD);
    cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    tune(&mut cfg);
    let speaker = meter.clone();
    let provider = move || {
        Ok(AudioPath {
            capture: audio::tone(OUR_TONE, 0.3),
            playback: Arc::new(speaker.clone()),
        })
    };
    let (phone, mut events) = UserAgent::start_with_audio(cfg, Arc::new(provider)).unwrap();
    support::wait_for(&mut events, Duration::from_secs(20), "registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    (phone, events)
}

/// Both sides hear each other: the far end's packets and dominant frequency, our meter's tone share.
async fn assert_two_way_audio(far: &mut FarEnd, call: &CallHandle, meter: &Meter) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = far.stats().await;
    assert!(
        stats["packetsReceived"].as_u64().unwrap() > 50,
        "far end got no audio: {stats}"
    );
    let heard = stats["dominantHz"].as_f64().unwrap_or(0.0);
    assert!(
        (heard - OUR_TONE).abs() < 40.0,
        "far end heard {heard} Hz, not our {OUR_TONE} Hz: {stats}"
    );

    let reading = meter.reading();
    assert!(reading.frames > 100, "{reading:?}");
    assert!(
        reading.tone_share.unwrap_or(0.0) > 0.5,
        "we did not hear the far end's {} Hz tone: {reading:?}",
        far.tone_hz()
    );
    let media = call.info().media.expect("media figures while connected");
    assert!(
        media.packets_received > 100 && media.packets_sent > 100,
        "{media:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadline_calls_the_browser_hears_it_holds_sends_dtmf_and_the_far_end_hangs_up() {
    let kam = Kamailio::start().await;
    let mut far = FarEnd::launch().await;
    far.register_with(
        &kam.ws_url(),
        FAR_USER,
        FAR_PASSWORD,
        json!({"autoAnswer": true, "noTelephoneEvent": true}),
    )
    .await;
    let meter = Meter::new(Some(far.tone_hz()));
    let (phone, _events) = leadline(&kam, &meter, |_| {}).await;

    let call = phone.dial(FAR_USER).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(20), call.connected())
            .await
            .unwrap(),
        "not connected: {:?}\n{}",
        call.info(),
        kam.log()
    );
    far.expect("confirmed", Duration::from_secs(10)).await;
    let info = call.info();
    assert_eq!(info.direction, CallDirection::Outbound);
    assert_eq!(info.remote_user, FAR_USER);
    assert!(info.call.answered_at.is_some());
    assert_two_way_audio(&mut far, &call, &meter).await;

    // DTMF: the far end left RFC 4733 out, so the digits go by SIP INFO and it reports each.
    call.send_dtmf("12#").await.unwrap();
    for tone in ["1", "2", "#"] {
        let got = far.expect("dtmf", Duration::from_secs(10)).await;
        assert_eq!(got["tone"], tone, "{got}");
    }

    // Mute: the far end hears silence, then our tone again.
    call.set_muted(true).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let muted = far.stats().await;
    assert!(
        muted["recentPeak"].as_f64().unwrap() < 0.01,
        "still heard while muted: {muted}"
    );
    assert!(call.info().muted);
    call.set_muted(false).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let unmuted = far.stats().await;
    assert!(
        unmuted["recentPeak"].as_f64().unwrap() > 0.05,
        "silent after unmute: {unmuted}"
    );

    // Hold: a re-INVITE with sendonly; the far end stops sending and says it is held; resume restarts it.
    call.hold(true).await.unwrap();
    far.expect("hold", Duration::from_secs(10)).await;
    assert_eq!(
        call.info().call.state,
        CallState::OnHold {
            here: true,
            there: false
        }
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = received(&call).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = received(&call).await;
    assert!(
        during - before < 10,
        "the far end kept sending while held: {before} → {during}"
    );
    call.hold(false).await.unwrap();
    far.expect("unhold", Duration::from_secs(10)).await;
    assert_eq!(call.info().call.state, CallState::Connected);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        received(&call).await > during + 40,
        "audio did not come back after resume"
    );

    // The far end hangs up: BYE, and the call ends "hung up there" with its times.
    far.send(json!({"cmd": "hangup"})).await;
    let end = tokio::time::timeout(Duration::from_secs(10), call.ended())
        .await
        .unwrap();
    assert_eq!(end, CallEnd::HungUpThere);
    let info = call.info();
    assert!(
        info.call.ended_at.is_some() && info.call.talk_seconds() >= 5,
        "{info:?}"
    );
    phone.shutdown().await.unwrap();
    far.quit().await;
}

async fn received(call: &CallHandle) -> u64 {
    // Media figures refresh every second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call.info().media.map_or(0, |m| m.packets_received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_calls_leadline_which_answers_hears_it_and_hangs_up() {
    let kam = Kamailio::start().await;
    let mut far = FarEnd::launch().await;
    far.register(&kam.ws_url(), FAR_USER, FAR_PASSWORD, false).await;
    let meter = Meter::new(Some(far.tone_hz()));
    let (phone, mut events) = leadline(&kam, &meter, |_| {}).await;

    far.send(json!({"cmd": "call", "target": format!("sip:{USER}@{}", support::DOMAIN)}))
        .await;
    let call = match support::wait_for(&mut events, Duration::from_secs(20), "incoming call", |e| {
        matches!(e, PhoneEvent::IncomingCall(_))
    })
    .await
    {
        PhoneEvent::IncomingCall(call) => call,
        _ => unreachable!(),
    };
    let info = call.info();
    assert_eq!(info.direction, CallDirection::Inbound);
    assert_eq!(info.call.state, CallState::Ringing);
    assert_eq!(info.remote_user, FAR_USER);
    far.expect("progress", Duration::from_secs(10)).await; // our 180 reached it

    call.answer().await.unwrap();
    far.expect("confirmed", Duration::from_secs(20)).await;
    assert!(call.connected().await);
    assert_two_way_audio(&mut far, &call, &meter).await;

    call.hang_up().await;
    let ended = far.expect("ended", Duration::from_secs(10)).await;
    assert_eq!(ended["originator"], "remote", "{ended}");
    assert_eq!(call.ended().await, CallEnd::HungUpHere);
    phone.shutdown().await.unwrap();
    far.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_cancelled_and_missed_calls_end_with_their_reason() {
    let kam = Kamailio::start().await;
    let mut far = FarEnd::launch().await;
    far.register(&kam.ws_url(), FAR_USER, FAR_PASSWORD, false).await;
    let meter = Meter::new(None);
    let (phone, mut events) = leadline(&kam, &meter, |cfg| cfg.ring_timeout = Duration::from_secs(4)).await;

    // Nobody registered as "nobody": the proxy says 404 and the call ends refused as not found.
    let call = phone.dial("nobody").await.unwrap();
    assert_eq!(call.ended().await, CallEnd::Failed);
    assert_eq!(
        call.info().refusal,
        Some(leadline_phone::CallRefusal::NotFound),
        "{:?}",
        call.info()
    );

    // We give up while it rings: CANCEL, the far end sees the call cancelled, ours ends cancelled.
    let call = phone.dial(FAR_USER).await.unwrap();
    far.expect("incoming", Duration::from_secs(10)).await;
    wait_state(&call, CallState::Ringing).await;
    call.hang_up().await;
    let failed = far.expect("failed", Duration::from_secs(10)).await;
    assert_eq!(failed["cause"], "Canceled", "{failed}");
    assert_eq!(call.ended().await, CallEnd::Cancelled);

    // Nobody answers: after ring_timeout we cancel and the call ends unanswered.
    let call = phone.dial(FAR_USER).await.unwrap();
    far.expect("incoming", Duration::from_secs(10)).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(15), call.ended())
            .await
            .unwrap(),
        CallEnd::NoAnswer
    );
    far.expect("failed", Duration::from_secs(10)).await;

    // The far end is busy: 486, typed.
    let call = phone.dial(FAR_USER).await.unwrap();
    far.expect("incoming", Duration::from_secs(10)).await;
    wait_state(&call, CallState::Ringing).await;
    far.send(json!({"cmd": "reject", "status": 486})).await;
    far.expect("failed", Duration::from_secs(10)).await;
    let end = tokio::time::timeout(Duration::from_secs(10), call.ended())
        .await
        .unwrap();
    assert_eq!(end, CallEnd::Busy);
    assert_eq!(call.info().refusal, Some(leadline_phone::CallRefusal::Busy));

    // The far end declines: 603, typed.
    let call = phone.dial(FAR_USER).await.unwrap();
    far.expect("incoming", Duration::from_secs(10)).await;
    wait_state(&call, CallState::Ringing).await;
    far.send(json!({"cmd": "reject", "status": 603})).await;
    far.expect("failed", Duration::from_secs(10)).await;
    let end = tokio::time::timeout(Duration::from_secs(10), call.ended())
        .await
        .unwrap();
    assert_eq!(end, CallEnd::Rejected);
    assert_eq!(call.info().refusal, Some(leadline_phone::CallRefusal::Declined));

    // The browser calls us and gives up before we answer: a missed call.
    far.send(json!({"cmd": "call", "target": format!("sip:{USER}@{}", support::DOMAIN)}))
        .await;
    let incoming = match support::wait_for(&mut events, Duration::from_secs(20), "incoming call", |e| {
        matches!(e, PhoneEvent::IncomingCall(_))
    })
    .await
    {
        PhoneEvent::IncomingCall(call) => call,
        _ => unreachable!(),
    };
    far.expect("progress", Duration::from_secs(10)).await;
    far.send(json!({"cmd": "hangup"})).await;
    assert_eq!(incoming.ended().await, CallEnd::NoAnswer);
    phone.shutdown().await.unwrap();
    far.quit().await;
}

async fn wait_state(call: &CallHandle, state: CallState) {
    let mut watch = call.watch();
    tokio::time::timeout(Duration::from_secs(10), watch.wait_for(|i| i.call.state == state))
        .await
        .unwrap_or_else(|_| panic!("never {state:?}: {:?}", call.info()))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_end_that_vanishes_without_bye_ends_the_call_by_its_silence() {
    let kam = Kamailio::start().await;
    let mut far = FarEnd::launch().await;
    far.register(&kam.ws_url(), FAR_USER, FAR_PASSWORD, true).await;
    let meter = Meter::new(None);
    let (phone, _events) = leadline(&kam, &meter, |cfg| cfg.media_timeout = Duration::from_secs(3)).await;
    let call = phone.dial(FAR_USER).await.unwrap();
    assert!(call.connected().await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    far.send(json!({"cmd": "vanish"})).await;
    let end = tokio::time::timeout(Duration::from_secs(15), call.ended())
        .await
        .unwrap();
    assert_eq!(end, CallEnd::Failed);
    let info = call.info();
    assert!(
        info.failure.as_deref().unwrap_or("").contains("no audio"),
        "{info:?}"
    );
    assert!(info.call.answered_at.is_some() && info.call.ended_at.is_some());
    phone.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_leadline_phones_talk_over_g711_and_dtmf_travels_as_rfc_4733_events() {
    let kam = Kamailio::start().await;
    // The callee: a second Leadline registered as the far end's account, answering at once, hearing 440 Hz.
    let callee_meter = Meter::new(Some(OUR_TONE));
    let mut callee_cfg = support::config(&kam.ws_url(), FAR_PASSWORD);
    callee_cfg.username = FAR_USER.into();
    callee_cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    callee_cfg.auto_answer = true;
    let speaker = callee_meter.clone();
    let callee_audio = move || {
        Ok(AudioPath {
            capture: audio::tone(1000.0, 0.3),
            playback: Arc::new(speaker.clone()),
        })
    };
    let (callee, mut callee_events) =
        UserAgent::start_with_audio(callee_cfg, Arc::new(callee_audio)).unwrap();
    support::wait_for(
        &mut callee_events,
        Duration::from_secs(20),
        "callee registered",
        |e| matches!(e, PhoneEvent::Registered { .. }),
    )
    .await;
    // The caller offers G.711 μ-law only.
    let caller_meter = Meter::new(Some(1000.0));
    let (caller, _events) = leadline(&kam, &caller_meter, |cfg| {
        cfg.media.codecs = vec![leadline_phone::media::Codec::Pcmu];
    })
    .await;

    let call = caller.dial(FAR_USER).await.unwrap();
    assert!(call.connected().await, "{:?}\n{}", call.info(), kam.log());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let info = call.info();
    let media = info.media.clone().unwrap();
    assert_eq!(
        media.send_codec.map(|(c, _)| c),
        Some(leadline_phone::media::Codec::Pcmu),
        "{media:?}"
    );
    for (who, meter) in [("caller", &caller_meter), ("callee", &callee_meter)] {
        let heard = meter.reading();
        assert!(
            heard.tone_share.unwrap_or(0.0) > 0.5,
            "{who} did not hear the other's tone: {heard:?}"
        );
    }

    // Both offered telephone-event: the digits go in the media and the callee reports each.
    call.send_dtmf("159#").await.unwrap();
    for want in ['1', '5', '9', '#'] {
        match support::wait_for(&mut callee_events, Duration::from_secs(10), "DTMF", |e| {
            matches!(e, PhoneEvent::DtmfReceived { .. })
        })
        .await
        {
            PhoneEvent::DtmfReceived { digit, .. } => assert_eq!(digit, want),
            _ => unreachable!(),
        }
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // media figures refresh every second
    assert!(call.info().media.unwrap().dtmf_packets_sent > 0);
    call.hang_up().await;
    assert_eq!(call.ended().await, CallEnd::HungUpHere);
    caller.shutdown().await.unwrap();
    callee.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_transfer_hands_the_far_end_to_the_target_and_ends_our_call() {
    let kam = Kamailio::start().await;
    let mut far = FarEnd::launch().await;
    far.register_with(
        &kam.ws_url(),
        FAR_USER,
        FAR_PASSWORD,
        json!({"autoAnswer": true, "acceptRefer": true}),
    )
    .await;
    let mut target = FarEnd::launch().await;
    target
        .register(&kam.ws_url(), THIRD_USER, THIRD_PASSWORD, true)
        .await;
    let meter = Meter::new(None);
    let (phone, _events) = leadline(&kam, &meter, |_| {}).await;

    let call = phone.dial(FAR_USER).await.unwrap();
    assert!(call.connected().await);
    far.expect("confirmed", Duration::from_secs(10)).await;
    call.transfer(THIRD_USER).await.unwrap();
    let refer = far.expect("refer", Duration::from_secs(10)).await;
    assert!(refer["target"].as_str().unwrap().contains(THIRD_USER), "{refer}");
    let incoming = target.expect("incoming", Duration::from_secs(20)).await;
    assert!(
        incoming["from"].as_str().unwrap().contains(FAR_USER),
        "{incoming}"
    );
    target.expect("confirmed", Duration::from_secs(20)).await;
    // The far end reported the transfer done: our leg is hung up here.
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), call.ended())
            .await
            .unwrap(),
        CallEnd::HungUpHere
    );
    phone.shutdown().await.unwrap();
    far.quit().await;
    target.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_outlives_its_registrar_going_down_and_calls_work_again_once_it_is_back() {
    let port = support::free_port();
    let mut kam = Kamailio::start_with(support::KamailioOptions {
        port,
        ..Default::default()
    })
    .await;
    let callee_meter = Meter::new(Some(OUR_TONE));
    let mut callee_cfg = support::config(&kam.ws_url(), FAR_PASSWORD);
    callee_cfg.username = FAR_USER.into();
    callee_cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    callee_cfg.auto_answer = true;
    callee_cfg.media_timeout = Duration::from_secs(3);
    let speaker = callee_meter.clone();
    let callee_audio = move || {
        Ok(AudioPath {
            capture: audio::tone(1000.0, 0.3),
            playback: Arc::new(speaker.clone()),
        })
    };
    let (callee, mut callee_events) =
        UserAgent::start_with_audio(callee_cfg, Arc::new(callee_audio)).unwrap();
    support::wait_for(
        &mut callee_events,
        Duration::from_secs(20),
        "callee registered",
        |e| matches!(e, PhoneEvent::Registered { .. }),
    )
    .await;
    let meter = Meter::new(Some(1000.0));
    let (caller, mut events) = leadline(&kam, &meter, |_| {}).await;
    let call = caller.dial(FAR_USER).await.unwrap();
    assert!(call.connected().await);
    let theirs = match support::wait_for(&mut callee_events, Duration::from_secs(10), "incoming", |e| {
        matches!(e, PhoneEvent::IncomingCall(_))
    })
    .await
    {
        PhoneEvent::IncomingCall(call) => call,
        _ => unreachable!(),
    };

    // Both sides connected and talking: the callee's media figures (refreshed only once its answer was
    // ACKed) show the caller's first packet.
    tokio::time::timeout(Duration::from_secs(10), theirs.first_rtp())
        .await
        .unwrap()
        .expect("the callee hears the caller");

    // The proxy dies mid-call: both phones lose their WebSocket, the media (peer to peer) goes on.
    kam.stop();
    support::wait_for(&mut events, Duration::from_secs(10), "disconnected", |e| {
        matches!(e, PhoneEvent::Disconnected { .. })
    })
    .await;
    let before = received(&call).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = received(&call).await;
    assert!(
        during > before + 50,
        "audio stopped with the proxy: {before} → {during}"
    );
    assert_eq!(call.info().call.state, CallState::Connected);

    // It comes back: both register again by themselves.
    let kam = Kamailio::start_with(support::KamailioOptions {
        port,
        ..Default::default()
    })
    .await;
    support::wait_for(&mut events, Duration::from_secs(20), "registered again", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    support::wait_for(
        &mut callee_events,
        Duration::from_secs(20),
        "callee registered again",
        |e| matches!(e, PhoneEvent::Registered { .. }),
    )
    .await;

    // Hanging up the old call ends it here; the callee's side ends too (by the BYE, or by the silence that
    // follows when the BYE cannot follow the far end's old connection).
    call.hang_up().await;
    assert_eq!(call.ended().await, CallEnd::HungUpHere);
    let their_end = tokio::time::timeout(Duration::from_secs(15), theirs.ended())
        .await
        .unwrap();
    assert!(
        matches!(their_end, CallEnd::HungUpThere | CallEnd::Failed),
        "{their_end:?}"
    );

    // And a new call goes through the restarted proxy.
    let again = caller.dial(FAR_USER).await.unwrap();
    assert!(again.connected().await, "{:?}\n{}", again.info(), kam.log());
    again.hang_up().await;
    assert_eq!(again.ended().await, CallEnd::HungUpHere);
    caller.shutdown().await.unwrap();
    callee.shutdown().await.unwrap();
}
