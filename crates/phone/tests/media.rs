//! The media engine end to end, with real components: two `MediaSession`s in one process talking
//! WebRTC (ICE, DTLS-SRTP, RTP/RTCP) over 127.0.0.1, each sending a test tone and measuring what
//! it hears.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use leadline_phone::PhoneError;
use leadline_phone::audio::{self, AudioPath, Meter, MeterReading};
use leadline_phone::media::{Codec, Direction, MediaConfig, MediaSession, MediaState};

fn config(codecs: &[Codec]) -> MediaConfig {
    MediaConfig {
        bind_addrs: vec!["127.0.0.1:0".to_owned()],
        ice_gathering_timeout: Duration::from_secs(2),
        codecs: codecs.to_vec(),
        ..MediaConfig::default()
    }
}

struct Side {
    media: MediaSession,
    /// What this side plays (the other side's tone).
    meter: Meter,
}

/// A sends 440 Hz and listens for 1000 Hz; B the other way round.
async fn sides(a_codecs: &[Codec], b_codecs: &[Codec]) -> (Side, Side) {
    let a_meter = Meter::new(Some(1_000.0));
    let b_meter = Meter::new(Some(440.0));
    let a = MediaSession::new(
        &config(a_codecs),
        AudioPath {
            capture: audio::tone(440.0, 0.3),
            playback: Arc::new(a_meter.clone()),
        },
    )
    .await
    .unwrap();
    let b = MediaSession::new(
        &config(b_codecs),
        AudioPath {
            capture: audio::tone(1_000.0, 0.3),
            playback: Arc::new(b_meter.clone()),
        },
    )
    .await
    .unwrap();
    (
        Side {
            media: a,
            meter: a_meter,
        },
        Side {
            media: b,
            meter: b_meter,
        },
    )
}

async fn connect(a: &Side, b: &Side) -> (String, String) {
    let offer = a.media.create_offer().await.unwrap();
    let answer = b.media.answer_offer(&offer).await.unwrap();
    a.media.accept_answer(&answer).await.unwrap();
    (offer, answer)
}

async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hears_tone(reading: &MeterReading) -> bool {
    reading.frames >= 50 && reading.tone_share.unwrap_or(0.0) > 0.8 && reading.peak > 0.2
}

async fn two_way_tone(a_codecs: &[Codec], b_codecs: &[Codec], expect: Codec) -> (Side, Side) {
    let (a, b) = sides(a_codecs, b_codecs).await;
    let (offer, answer) = connect(&a, &b).await;
    assert!(offer.contains("a=candidate:") && answer.contains("a=candidate:"));
    println!("offer:\n{offer}\nanswer:\n{answer}");
    let started = tokio::time::Instant::now();
    let first = tokio::time::timeout(Duration::from_secs(5), a.media.first_rtp())
        .await
        .unwrap()
        .unwrap();
    assert!(first.elapsed() < Duration::from_secs(5));
    eventually("both tones", Duration::from_secs(6), || {
        hears_tone(&a.meter.reading()) && hears_tone(&b.meter.reading())
    })
    .await;
    println!(
        "{expect:?}: both tones heard {:?} after the answer",
        started.elapsed()
    );
    for (name, side) in [("A", &a), ("B", &b)] {
        let stats = side.media.stats();
        let heard = side.meter.reading();
        println!("{name} {heard:?}\n{name} {stats:?}");
        assert_eq!(stats.state, MediaState::Connected);
        assert_eq!(stats.send_codec.map(|(c, _)| c), Some(expect));
        assert_eq!(stats.receive_codec, Some(expect));
        assert_eq!(stats.direction, Some(Direction::SendRecv));
        assert!(
            stats.packets_sent >= 40 && stats.packets_received >= 40,
            "{stats:?}"
        );
        assert!(stats.bytes_sent > 0 && stats.bytes_received > 0);
        assert!(stats.frames_played >= 50);
        assert!(stats.loss_fraction < 0.05);
        assert!(stats.mos > 4.0, "{stats:?}");
        assert!(stats.first_rtp_at.is_some());
    }
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_call_carries_each_sides_tone_and_dtmf() {
    let (a, b) = two_way_tone(
        &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
        &[Codec::Opus, Codec::Pcmu],
        Codec::Opus,
    )
    .await;
    assert!(a.media.can_send_dtmf());
    a.media.send_dtmf("1#9").await.unwrap();
    eventually("DTMF at B", Duration::from_secs(2), || {
        b.media.stats().dtmf_received == "1#9"
    })
    .await;
    assert!(a.media.stats().dtmf_packets_sent >= 24);
    // Tones keep flowing after DTMF.
    assert!(hears_tone(&b.meter.reading()));
    // RTCP: both ends send receiver reports about each other; round-trip time from LSR/DLSR.
    eventually("RTCP round-trip time", Duration::from_secs(4), || {
        a.media.stats().rtt_ms.is_some()
    })
    .await;
    let stats = a.media.stats();
    println!("A after RTCP {stats:?}");
    assert!(stats.rtt_ms.unwrap() < 100.0);
    assert!(stats.remote_loss_fraction.is_some());
    a.media.close().await;
    b.media.close().await;
    assert_eq!(a.media.state(), MediaState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcmu_call_carries_each_sides_tone() {
    // A offers everything; B only takes PCMU: both send PCMU (resampled through G.711).
    let (a, b) = two_way_tone(
        &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
        &[Codec::Pcmu],
        Codec::Pcmu,
    )
    .await;
    a.media.send_dtmf("5").await.unwrap();
    eventually("DTMF at B", Duration::from_secs(2), || {
        b.media.stats().dtmf_received == "5"
    })
    .await;
    a.media.close().await;
    b.media.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_call_carries_each_sides_tone() {
    let (a, b) = two_way_tone(
        &[Codec::Pcma],
        &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
        Codec::Pcma,
    )
    .await;
    a.media.close().await;
    b.media.close().await;
}

/// Loud frames heard in `window`, after letting `settle` pass.
async fn loud_frames_during(side: &Side, settle: Duration, window: Duration) -> u64 {
    tokio::time::sleep(settle).await;
    let before = side.meter.reading().loud_frames;
    tokio::time::sleep(window).await;
    side.meter.reading().loud_frames - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_stops_the_flow_and_resume_restarts_it() {
    let (a, b) = two_way_tone(
        &[Codec::Opus, Codec::Pcmu],
        &[Codec::Opus, Codec::Pcmu],
        Codec::Opus,
    )
    .await;

    // A holds B.
    let hold_offer = a.media.hold(true).await.unwrap();
    assert!(hold_offer.contains("a=sendonly"), "{hold_offer}");
    let hold_answer = b.media.answer_reoffer(&hold_offer).await.unwrap();
    assert!(hold_answer.contains("a=recvonly"), "{hold_answer}");
    a.media.accept_answer(&hold_answer).await.unwrap();
    assert_eq!(a.media.stats().direction, Some(Direction::SendOnly));
    assert_eq!(b.media.stats().direction, Some(Direction::RecvOnly));
    let window = Duration::from_millis(800);
    let (a_loud, b_loud) = tokio::join!(
        loud_frames_during(&a, Duration::from_millis(400), window),
        loud_frames_during(&b, Duration::from_millis(400), window)
    );
    assert_eq!((a_loud, b_loud), (0, 0), "nothing is heard on hold");
    let sent_on_hold = b.media.stats().packets_sent;

    // A resumes.
    let resume_offer = a.media.hold(false).await.unwrap();
    assert!(resume_offer.contains("a=sendrecv"));
    let resume_answer = b.media.answer_reoffer(&resume_offer).await.unwrap();
    assert!(resume_answer.contains("a=sendrecv"));
    a.media.accept_answer(&resume_answer).await.unwrap();
    let (a_loud, b_loud) = tokio::join!(
        loud_frames_during(&a, Duration::from_millis(400), window),
        loud_frames_during(&b, Duration::from_millis(400), window)
    );
    assert!(a_loud > 30 && b_loud > 30, "flow restarts: {a_loud} {b_loud}");
    assert!(b.media.stats().packets_sent > sent_on_hold + 30);
    assert!(hears_tone(&a.meter.reading()) && hears_tone(&b.meter.reading()));

    // Now B holds A, with a=inactive as some gateways do: A answers inactive, no flow either way,
    // and the stream survives it (the webrtc crate alone would stop the transceiver for good).
    let inactive = b
        .media
        .hold(true)
        .await
        .unwrap()
        .replace("a=sendonly", "a=inactive");
    let answer = a.media.answer_reoffer(&inactive).await.unwrap();
    assert!(answer.contains("a=inactive"), "{answer}");
    b.media.accept_answer(&answer).await.unwrap();
    let (a_loud, b_loud) = tokio::join!(
        loud_frames_during(&a, Duration::from_millis(400), window),
        loud_frames_during(&b, Duration::from_millis(400), window)
    );
    assert_eq!((a_loud, b_loud), (0, 0));
    let resume = b.media.hold(false).await.unwrap();
    let answer = a.media.answer_reoffer(&resume).await.unwrap();
    b.media.accept_answer(&answer).await.unwrap();
    let (a_loud, b_loud) = tokio::join!(
        loud_frames_during(&a, Duration::from_millis(400), window),
        loud_frames_during(&b, Duration::from_millis(400), window)
    );
    assert!(
        a_loud > 30 && b_loud > 30,
        "flow restarts after inactive: {a_loud} {b_loud}"
    );
    a.media.close().await;
    b.media.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_sends_silence() {
    let (a, b) = two_way_tone(&[Codec::Opus], &[Codec::Opus], Codec::Opus).await;
    a.media.set_muted(true);
    assert!(a.media.is_muted());
    let b_loud = loud_frames_during(&b, Duration::from_millis(300), Duration::from_millis(600)).await;
    assert_eq!(b_loud, 0);
    a.media.set_muted(false);
    let b_loud = loud_frames_during(&b, Duration::from_millis(300), Duration::from_millis(600)).await;
    assert!(b_loud > 20);
    a.media.close().await;
    b.media.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_unusable_sdp_is_a_clear_error() {
    let (a, b) = sides(&[Codec::Opus, Codec::Pcmu], &[Codec::Pcma]).await;
    // An answer before any offer.
    let err = a.media.accept_answer("v=0\r\n").await.unwrap_err();
    assert!(
        matches!(&err, PhoneError::Media(m) if m.contains("no offer")),
        "{err}"
    );

    let offer = a.media.create_offer().await.unwrap();
    for garbage in [
        "",
        "SIP/2.0 200 OK",
        "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 banana\r\n",
        "v=0\r\nm=audio 9 RTP/AVP 0\r\nc=IN IP4 10.0.0.1\r\n",
    ] {
        let err = a.media.accept_answer(garbage).await.unwrap_err();
        println!("{garbage:?} → {err}");
        assert!(
            matches!(&err, PhoneError::Media(m) if m.contains("invalid SDP")),
            "{garbage:?}: {err}"
        );
    }
    // B supports only PCMA, which A did not offer: B cannot answer (488).
    let err = b.media.answer_offer(&offer).await.unwrap_err();
    assert!(
        matches!(&err, PhoneError::Media(m) if m.contains("no common audio codec")),
        "{err}"
    );
    // Still usable after all that: a proper answer works.
    let (c, _) = sides(&[Codec::Opus], &[Codec::Opus]).await;
    let good = c.media.answer_offer(&offer).await.unwrap();
    a.media.accept_answer(&good).await.unwrap();
    eventually("connected", Duration::from_secs(5), || {
        a.media.state() == MediaState::Connected
    })
    .await;
    a.media.close().await;
    b.media.close().await;
    c.media.close().await;
}

/// A browser-style offer whose payload types differ from ours (Opus 109, telephone-event 126/8000
/// and 110/48000): the answer keeps the offer's numbers and carries the telephone-event of the codec
/// it sends (48000 with Opus), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_keeps_the_offers_payload_types() {
    let (a, b) = sides(
        &[Codec::Opus, Codec::Pcmu],
        &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
    )
    .await;
    let offer = a.media.create_offer().await.unwrap();
    let foreign = offer
        .replace(" 111 0 110 101", " 109 0 110 126")
        .replace("a=rtpmap:111 ", "a=rtpmap:109 ")
        .replace("a=fmtp:111 ", "a=fmtp:109 ")
        .replace("a=rtcp-fb:111 ", "a=rtcp-fb:109 ")
        .replace("a=rtpmap:101 ", "a=rtpmap:126 ")
        .replace("a=fmtp:101 ", "a=fmtp:126 ")
        .replace("a=rtcp-fb:101 ", "a=rtcp-fb:126 ");
    assert!(foreign.contains("SAVPF 109 0 110 126"), "{foreign}");
    let answer = b.media.answer_offer(&foreign).await.unwrap();
    println!("{answer}");
    let m_line = answer.lines().find(|l| l.starts_with("m=audio")).unwrap();
    assert!(m_line.ends_with("SAVPF 109 0 110"), "{m_line}");
    assert!(answer.contains("a=rtpmap:109 opus/48000/2"));
    assert!(!answer.contains("a=rtpmap:126"));
    assert_eq!(answer.matches("a=rtpmap:110 telephone-event/48000").count(), 1);
    assert_eq!(b.media.stats().send_codec, Some((Codec::Opus, 109)));
    a.media.close().await;
    b.media.close().await;
}

/// A STUN server that never answers (a blocked or dead one, here a UDP socket that reads nothing) cannot
/// hold a call up: gathering ends at `ice_gathering_timeout` and the offer goes out with its host candidate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stun_server_delays_the_offer_by_the_gathering_timeout_only() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let cfg = MediaConfig {
        stun_servers: vec![format!("stun:{}", silent.local_addr().unwrap())],
        ice_gathering_timeout: Duration::from_millis(800),
        ..config(&[Codec::Opus])
    };
    let media = MediaSession::new(
        &cfg,
        AudioPath {
            capture: audio::silence(),
            playback: Arc::new(audio::NullPlayback),
        },
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let offer = media.create_offer().await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "gathering took {took:?}");
    assert!(offer.contains("typ host"), "{offer}");
    assert!(!offer.contains("typ srflx"), "{offer}");
    media.close().await;
}
