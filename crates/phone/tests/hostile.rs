//! The user agent against a scripted, misbehaving SIP-over-WebSocket server: garbage frames,
//! truncated and absurd responses, oversized frames and broken handshakes must surface as errors
//! (events / typed results), never as a panic or a hang.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod support;

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use leadline_phone::{PhoneConfig, PhoneError, PhoneEvent, UserAgent, UserAgentHandle};
use rsip::headers::UntypedHeader as _;
use rsip::prelude::HeadersExt as _;
use support::{init_tracing, wait_for};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

const WITHIN: Duration = Duration::from_secs(10);

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics on any thread (the agent's tasks included) on top of the default report.
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Only the runtime's worker threads run the agent; test threads panic on failed
            // assertions, which must not be blamed on other tests.
            if std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("tokio-runtime-worker"))
            {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

fn assert_no_panics() {
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a panic happened in a runtime worker (see stderr)"
    );
}

type Ws = WebSocketStream<TcpStream>;

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    (listener, url)
}

/// Accepts one WebSocket client, answering the `sip` subprotocol.
async fn accept(listener: &TcpListener) -> Ws {
    let (tcp, _) = listener.accept().await.unwrap();
    tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, mut resp: Response| {
        assert_eq!(
            req.headers()
                .get("Sec-WebSocket-Protocol")
                .map(|v| v.to_str().unwrap()),
            Some("sip")
        );
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
        Ok(resp)
    })
    .await
    .unwrap()
}

/// Next SIP message from the client (pings skipped); `None` when it went away.
async fn recv_sip(ws: &mut Ws) -> Option<rsip::SipMessage> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => return Some(rsip::SipMessage::try_from(text.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn recv_register(ws: &mut Ws) -> rsip::Request {
    match recv_sip(ws).await {
        Some(rsip::SipMessage::Request(req)) if req.method == rsip::Method::Register => req,
        other => panic!("expected REGISTER, got {other:?}"),
    }
}

async fn recv_response(ws: &mut Ws) -> rsip::Response {
    match tokio::time::timeout(WITHIN, recv_sip(ws)).await.unwrap() {
        Some(rsip::SipMessage::Response(resp)) => resp,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// A well-formed final response to `req`, with `extra` header lines.
fn answer(req: &rsip::Request, status: &str, extra: &str) -> String {
    let contact = req.contact_header().unwrap().value().to_owned();
    let contact_uri = contact
        .split('>')
        .next()
        .unwrap()
        .trim_start_matches('<')
        .to_owned();
    let extra = extra.replace("{contact}", &contact_uri);
    format!(
        "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=srv1\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}\
         Content-Length: 0\r\n\r\n",
        req.via_header().unwrap().value(),
        req.from_header().unwrap().value(),
        req.to_header().unwrap().value(),
        req.call_id_header().unwrap().value(),
        req.cseq_header().unwrap().value(),
    )
}

fn config(url: &str) -> PhoneConfig {
    let mut cfg = PhoneConfig::new(url, "hostile.test", "bob", "pw");
    cfg.request_timeout = Duration::from_secs(1);
    cfg.connect_timeout = Duration::from_secs(1);
    cfg.retry_min = Duration::from_millis(50);
    cfg.retry_max = Duration::from_millis(200);
    cfg
}

async fn failure(events: &mut tokio::sync::broadcast::Receiver<PhoneEvent>) -> PhoneError {
    match wait_for(events, WITHIN, "RegistrationFailed", |e| {
        matches!(e, PhoneEvent::RegistrationFailed(_))
    })
    .await
    {
        PhoneEvent::RegistrationFailed(err) => err,
        _ => unreachable!(),
    }
}

/// The agent is alive (its task answers) and stops within a bound.
async fn alive_then_shutdown(phone: &UserAgentHandle) {
    assert_ne!(phone.state(), leadline_phone::RegistrationState::Stopped);
    tokio::time::timeout(WITHIN, phone.shutdown())
        .await
        .expect("shutdown is bounded")
        .ok();
    assert_eq!(phone.state(), leadline_phone::RegistrationState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_are_reported_and_requests_are_answered() {
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let (phone, mut events) = UserAgent::start(config(&url)).unwrap();
    let mut ws = accept(&listener).await;

    for garbage in [
        Message::text("this is not SIP at all\r\n\r\n"),
        Message::binary(vec![0xff, 0xfe, 0x00, 0x01, b'\r', b'\n', 0x80]),
        Message::text("SIP/2.0 200 OK\r\n\r\n"),
        Message::text("SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x.invalid\r\nCall-ID: 1\r\n\r\n"),
        Message::text("SIP/2.0 200 OK\r\nVia: \u{0}\u{1}garbage;;;===\r\n\r\n"),
        Message::text("\r\n\r\n"),
    ] {
        ws.send(garbage).await.unwrap();
    }
    let reg = recv_register(&mut ws).await;
    assert!(
        reg.to_string().contains("SIP/2.0/WS "),
        "Via transport WS:\n{reg}"
    );
    ws.send(Message::text(answer(
        &reg,
        "200 OK",
        "Contact: <{contact}>;expires=60\r\n",
    )))
    .await
    .unwrap();

    let mut protocol_errors = 0;
    loop {
        match tokio::time::timeout(WITHIN, events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            PhoneEvent::Registered { expires } => {
                assert_eq!(expires, 60);
                break;
            }
            PhoneEvent::ProtocolError(PhoneError::Protocol(msg)) => {
                assert!(
                    !msg.contains('\n') && !msg.contains('\0'),
                    "control characters escaped: {msg}"
                );
                protocol_errors += 1;
            }
            PhoneEvent::Registering => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        protocol_errors, 5,
        "every garbage frame but the bare CRLF keep-alive is reported"
    );

    // The connection still works: OPTIONS is answered 200; an INVITE without Contact (no dialog can come of
    // it) is a 400 and a reported protocol error.
    let options = "OPTIONS sip:bob@x.invalid SIP/2.0\r\nVia: SIP/2.0/WS srv.invalid;branch=z9hG4bKopt1\r\n\
        From: <sip:srv@hostile.test>;tag=f1\r\nTo: <sip:bob@hostile.test>\r\nCall-ID: opt-1\r\nCSeq: 5 OPTIONS\r\n\
        Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    ws.send(Message::text(options)).await.unwrap();
    let resp = recv_response(&mut ws).await;
    assert_eq!(resp.status_code.code(), 200);
    assert_eq!(resp.call_id_header().unwrap().value(), "opt-1");
    assert!(resp.to_string().contains("branch=z9hG4bKopt1"));
    ws.send(Message::text(
        options.replace("OPTIONS", "INVITE").replace("opt-1", "inv-1"),
    ))
    .await
    .unwrap();
    let resp = recv_response(&mut ws).await;
    assert_eq!(resp.status_code.code(), 400);
    assert_eq!(resp.call_id_header().unwrap().value(), "inv-1");
    wait_for(&mut events, WITHIN, "ProtocolError for the INVITE", |e| {
        matches!(e, PhoneEvent::ProtocolError(_))
    })
    .await;
    // A request without Call-ID/CSeq cannot be answered: reported, not answered, no crash.
    ws.send(Message::text(
        "NOTIFY sip:bob@x.invalid SIP/2.0\r\nVia: SIP/2.0/WS s.invalid;branch=z9hG4bKn\r\n\r\n",
    ))
    .await
    .unwrap();
    wait_for(&mut events, WITHIN, "ProtocolError for NOTIFY", |e| {
        matches!(e, PhoneEvent::ProtocolError(_))
    })
    .await;

    // Shutdown still de-registers over the same connection.
    let server = tokio::spawn(async move {
        let unreg = recv_register(&mut ws).await;
        assert_eq!(unreg.expires_header().unwrap().value(), "0");
        assert!(unreg.contact_header().unwrap().value().contains("expires=0"));
        ws.send(Message::text(answer(&unreg, "200 OK", "")))
            .await
            .unwrap();
        ws
    });
    tokio::time::timeout(WITHIN, phone.shutdown())
        .await
        .unwrap()
        .unwrap();
    wait_for(&mut events, WITHIN, "Unregistered", |e| {
        *e == PhoneEvent::Unregistered
    })
    .await;
    drop(server.await.unwrap());
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_responses_fail_the_attempt_cleanly() {
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let (phone, mut events) = UserAgent::start(config(&url)).unwrap();
    let cuts: [fn(&str) -> usize; 3] = [
        |m| m.find("branch=").unwrap() + 10,
        |m| m.find("Call-ID:").unwrap(),
        |m| m.find("CSeq: ").unwrap() + 8,
    ];
    for cut in cuts {
        // Every failed attempt closes the connection; the retry comes on a new one.
        let mut ws = accept(&listener).await;
        let reg = recv_register(&mut ws).await;
        let full = answer(&reg, "200 OK", "Contact: <{contact}>;expires=60\r\n");
        ws.send(Message::text(&full[..cut(&full)])).await.unwrap();
        let err = failure(&mut events).await;
        assert!(
            matches!(err, PhoneError::Timeout | PhoneError::Protocol(_)),
            "{err:?}"
        );
    }
    alive_then_shutdown(&phone).await;
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_responses_are_protocol_errors() {
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let (phone, mut events) = UserAgent::start(config(&url)).unwrap();
    type Craft = fn(&rsip::Request) -> String;
    let cases: Vec<(&str, Craft)> = vec![
        ("huge CSeq", |r| {
            answer(r, "200 OK", "").replace(
                &r.cseq_header().unwrap().value().to_string(),
                "99999999999999999999 REGISTER",
            )
        }),
        ("CSeq of another method", |r| {
            answer(r, "200 OK", "").replace(" REGISTER\r\n", " INVITE\r\n")
        }),
        ("foreign Call-ID", |r| {
            answer(r, "200 OK", "").replace(r.call_id_header().unwrap().value(), "someone-else")
        }),
        ("non-numeric contact expires", |r| {
            answer(r, "200 OK", "Contact: <{contact}>;expires=banana\r\n")
        }),
        ("negative Expires header", |r| {
            answer(r, "200 OK", "Contact: <{contact}>\r\nExpires: -5\r\n")
        }),
        ("zero lifetime granted", |r| {
            answer(r, "200 OK", "Contact: <{contact}>;expires=0\r\n")
        }),
        ("401 without challenge", |r| answer(r, "401 Unauthorized", "")),
        ("401 with broken challenge", |r| {
            answer(
                r,
                "401 Unauthorized",
                "WWW-Authenticate: Digest realm=\"x, nonce=\"abc\r\n",
            )
        }),
        ("423 without Min-Expires", |r| {
            answer(r, "423 Interval Too Brief", "")
        }),
        ("423 with absurd Min-Expires", |r| {
            answer(r, "423 Interval Too Brief", "Min-Expires: 999999999999\r\n")
        }),
    ];
    for (name, craft) in &cases {
        let mut ws = accept(&listener).await;
        let reg = recv_register(&mut ws).await;
        ws.send(Message::text(craft(&reg))).await.unwrap();
        let err = failure(&mut events).await;
        assert!(matches!(err, PhoneError::Protocol(_)), "{name}: {err:?}");
    }
    // Status line nonsense cannot even be matched to the request: dropped, then a time-out.
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(&reg, "2000000 OK", "")))
        .await
        .unwrap();
    let err = failure(&mut events).await;
    assert_eq!(err, PhoneError::Timeout);
    // A final error the agent cannot fix is typed with code and reason.
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(&reg, "503 Service Unavailable", "")))
        .await
        .unwrap();
    assert_eq!(
        failure(&mut events).await,
        PhoneError::Rejected {
            code: 503,
            reason: "Service Unavailable".into()
        }
    );
    alive_then_shutdown(&phone).await;
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_drops_the_connection_and_the_agent_reconnects() {
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let (phone, mut events) = UserAgent::start(config(&url)).unwrap();
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(
        &reg,
        "200 OK",
        "Contact: <{contact}>;expires=60\r\n",
    )))
    .await
    .unwrap();
    wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;

    let huge = format!("SIP/2.0 200 OK\r\nX-Junk: {}\r\n\r\n", "A".repeat(200 * 1024));
    let _ = ws.send(Message::text(huge)).await;
    let event = wait_for(&mut events, WITHIN, "Disconnected", |e| {
        matches!(e, PhoneEvent::Disconnected { .. })
    })
    .await;
    let PhoneEvent::Disconnected { reason } = event else {
        unreachable!()
    };
    assert!(reason.contains("receive failed"), "{reason}");

    // Back-off, reconnect, register again.
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(
        &reg,
        "200 OK",
        "Contact: <{contact}>;expires=60\r\n",
    )))
    .await
    .unwrap();
    wait_for(&mut events, WITHIN, "Registered again", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    alive_then_shutdown(&phone).await;
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_handshakes_are_connect_errors() {
    init_tracing();
    count_panics();

    // 1. TCP accepted, handshake never answered.
    let (listener, url) = bind().await;
    let (phone, mut events) = UserAgent::start(config(&url)).unwrap();
    let (_silent, _) = listener.accept().await.unwrap();
    match failure(&mut events).await {
        PhoneError::Connect { url: u, source } => {
            assert_eq!(u, url);
            assert!(source.message.contains("handshake"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    alive_then_shutdown(&phone).await;

    // 2. WebSocket accepted without the `sip` subprotocol (RFC 7118 requires it).
    let (listener, url) = bind().await;
    let (phone, mut events) = UserAgent::start(config(&url)).unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    let _ws = tokio_tungstenite::accept_async(tcp).await;
    assert!(matches!(failure(&mut events).await, PhoneError::Connect { .. }));
    alive_then_shutdown(&phone).await;

    // 3. Plain HTTP refusal.
    let (listener, url) = bind().await;
    let (phone, mut events) = UserAgent::start(config(&url)).unwrap();
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 2048];
    let _ = tcp.read(&mut buf).await.unwrap();
    tcp.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    match failure(&mut events).await {
        PhoneError::Connect { source, .. } => assert_eq!(source.http_status, Some(403), "{source}"),
        other => panic!("{other:?}"),
    }
    alive_then_shutdown(&phone).await;
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_is_detected_by_the_keepalive() {
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let mut cfg = config(&url);
    cfg.keepalive_interval = Duration::from_millis(200);
    cfg.keepalive_timeout = Duration::from_millis(300);
    let (phone, mut events) = UserAgent::start(cfg).unwrap();
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(
        &reg,
        "200 OK",
        "Contact: <{contact}>;expires=600\r\n",
    )))
    .await
    .unwrap();
    wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;

    // While the server reads (and so answers pings with pongs), the connection stays up.
    let mut pings = 0;
    while pings < 3 {
        match tokio::time::timeout(WITHIN, ws.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("expected only pings while idle, got {other:?}"),
        }
    }
    assert!(matches!(
        phone.state(),
        leadline_phone::RegistrationState::Registered { .. }
    ));

    // Then the server goes silent without closing the TCP connection: no pong, no data.
    let event = wait_for(&mut events, WITHIN, "Disconnected", |e| {
        matches!(e, PhoneEvent::Disconnected { .. })
    })
    .await;
    let PhoneEvent::Disconnected { reason } = event else {
        unreachable!()
    };
    assert!(reason.contains("keep-alive"), "{reason}");
    drop(ws);
    alive_then_shutdown(&phone).await;
    assert_no_panics();
}

/// An INVITE from the scripted server to `bob`, with `extra` header lines and an optional typed body.
fn hostile_invite(call_id: &str, extra: &str, body: Option<(&str, &str)>) -> String {
    let (content_type, body) = match body {
        Some((t, b)) => (format!("Content-Type: {t}\r\n"), b),
        None => (String::new(), ""),
    };
    format!(
        "INVITE sip:bob@x.invalid;transport=ws SIP/2.0\r\nVia: SIP/2.0/WS srv.invalid;branch=z9hG4bK{call_id}\r\n\
         From: \"Hostile\" <sip:9812345678@hostile.test>;tag=h1\r\nTo: <sip:bob@hostile.test>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:far@srv.invalid;transport=ws>\r\nMax-Forwards: 70\r\n\
         {extra}{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A request in the dialog of `ok` (our 200 OK to the server's INVITE).
fn in_dialog(ok: &rsip::Response, method: &str, cseq: u32, extra: &str, body: &str) -> String {
    let contact = ok.contact_header().unwrap().value().to_owned();
    let target = contact
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    format!(
        "{method} {target} SIP/2.0\r\nVia: SIP/2.0/WS srv.invalid;branch=z9hG4bK{method}{cseq}\r\n\
         From: \"Hostile\" <sip:9812345678@hostile.test>;tag=h1\r\nTo: {}\r\nCall-ID: {}\r\n\
         CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        ok.to_header().unwrap().value(),
        ok.call_id_header().unwrap().value(),
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_invites_are_refused_and_a_call_survives_broken_messages_in_its_dialog() {
    use leadline_phone::audio::{self, AudioPath, Meter};
    use leadline_phone::media::{MediaConfig, MediaSession};
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let mut cfg = config(&url);
    cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    cfg.auto_answer = true;
    let (phone, mut events) = UserAgent::start(cfg).unwrap();
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(
        &reg,
        "200 OK",
        "Contact: <{contact}>;expires=600\r\n",
    )))
    .await
    .unwrap();
    wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;

    // INVITEs no call can come of are refused with the fitting error, before anything rings.
    let sdp = ("application/sdp", "v=0\r\nbanana\r\n");
    let cases = [
        ("no-sdp", String::new(), None, 488),
        ("text", String::new(), Some(("text/plain", "hello")), 415),
        ("bad-sdp", String::new(), Some(sdp), 488),
    ];
    for (call_id, extra, body, code) in &cases {
        ws.send(Message::text(hostile_invite(call_id, extra, *body)))
            .await
            .unwrap();
        let resp = recv_response(&mut ws).await;
        assert_eq!(resp.status_code.code(), *code, "{call_id}: {resp}");
    }
    let no_tag = hostile_invite("no-tag", "", Some(sdp)).replace(";tag=h1", "");
    ws.send(Message::text(no_tag)).await.unwrap();
    assert_eq!(recv_response(&mut ws).await.status_code.code(), 400);
    for method in ["BYE", "CANCEL"] {
        let stray = hostile_invite("nobody", "", None)
            .replace("INVITE sip:", &format!("{method} sip:"))
            .replace("1 INVITE", &format!("1 {method}"));
        ws.send(Message::text(stray)).await.unwrap();
        assert_eq!(
            recv_response(&mut ws).await.status_code.code(),
            481,
            "stray {method}"
        );
    }

    // A real call: the server's side has real media (our own engine), offers, and the phone answers by itself.
    let far_meter = Meter::new(None);
    let far = MediaSession::new(
        &MediaConfig {
            bind_addrs: vec!["127.0.0.1:0".into()],
            ..MediaConfig::default()
        },
        AudioPath {
            capture: audio::tone(600.0, 0.3),
            playback: std::sync::Arc::new(far_meter.clone()),
        },
    )
    .await
    .unwrap();
    let offer = far.create_offer().await.unwrap();
    ws.send(Message::text(hostile_invite(
        "real-call",
        "X-Exotel-Callsid: exo-42\r\n",
        Some(("application/sdp", &offer)),
    )))
    .await
    .unwrap();
    let ringing = recv_response(&mut ws).await;
    assert_eq!(ringing.status_code.code(), 180, "{ringing}");
    let ok = recv_response(&mut ws).await;
    assert_eq!(ok.status_code.code(), 200, "{ok}");
    assert_eq!(
        ok.to_header().unwrap().value(),
        ringing.to_header().unwrap().value(),
        "one To tag"
    );
    far.accept_answer(std::str::from_utf8(&ok.body).unwrap())
        .await
        .unwrap();
    ws.send(Message::text(in_dialog(&ok, "ACK", 1, "", "")))
        .await
        .unwrap();
    let call = match wait_for(&mut events, WITHIN, "IncomingCall", |e| {
        matches!(e, PhoneEvent::IncomingCall(_))
    })
    .await
    {
        PhoneEvent::IncomingCall(call) => call,
        _ => unreachable!(),
    };
    assert_eq!(call.info().provider_call_id.as_deref(), Some("exo-42"));
    assert_eq!(call.info().remote_user, "9812345678");
    assert!(call.connected().await);

    // Broken and hostile messages in the dialog: each answered or dropped, the call goes on.
    ws.send(Message::text("\u{0}\u{1} not SIP")).await.unwrap();
    ws.send(Message::text(in_dialog(
        &ok,
        "INVITE",
        2,
        "Content-Type: application/sdp\r\n",
        "v=0\r\nbanana\r\n",
    )))
    .await
    .unwrap();
    assert_eq!(
        recv_response(&mut ws).await.status_code.code(),
        488,
        "broken re-offer"
    );
    ws.send(Message::text(in_dialog(
        &ok,
        "INFO",
        3,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=\u{7f}\r\n",
    )))
    .await
    .unwrap();
    assert_eq!(
        recv_response(&mut ws).await.status_code.code(),
        200,
        "INFO without a digit"
    );
    ws.send(Message::text(in_dialog(&ok, "BYE", 1, "", "")))
        .await
        .unwrap();
    assert_eq!(
        recv_response(&mut ws).await.status_code.code(),
        500,
        "a BYE with an old CSeq"
    );
    ws.send(Message::text(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKnone\r\nFrom: <sip:a@b>;tag=1\r\n\
         To: <sip:b@c>;tag=2\r\nCall-ID: none\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(call.info().call.state, leadline_phone::CallState::Connected);
    let stats = far.stats();
    assert!(
        stats.packets_received > 50,
        "audio flows through it all: {stats:?}"
    );
    let ours = call.info().media.unwrap();
    assert!(ours.packets_received > 50, "{ours:?}");

    // A proper BYE ends it, hung up there.
    ws.send(Message::text(in_dialog(&ok, "BYE", 10, "", "")))
        .await
        .unwrap();
    assert_eq!(recv_response(&mut ws).await.status_code.code(), 200);
    assert_eq!(call.ended().await, leadline_model::CallEnd::HungUpThere);
    far.close().await;
    let server = tokio::spawn(async move {
        if let Some(rsip::SipMessage::Request(unreg)) = recv_sip(&mut ws).await {
            let _ = ws.send(Message::text(answer(&unreg, "200 OK", ""))).await;
        }
        ws
    });
    alive_then_shutdown(&phone).await;
    drop(server.await.unwrap());
    assert_no_panics();
}

/// The next request from the phone (responses and pings skipped).
async fn recv_request(ws: &mut Ws) -> rsip::Request {
    loop {
        match tokio::time::timeout(WITHIN, recv_sip(ws)).await.unwrap() {
            Some(rsip::SipMessage::Request(req)) => return req,
            Some(rsip::SipMessage::Response(_)) => continue,
            None => panic!("the phone went away"),
        }
    }
}

/// A response to the phone's INVITE (To tag `srv1`, our Contact), with an optional SDP body.
fn answer_invite(invite: &rsip::Request, status: &str, extra: &str, sdp: Option<&str>) -> String {
    let body = sdp.unwrap_or("");
    let content_type = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    let vias: String = invite
        .headers
        .iter()
        .filter_map(|h| match h {
            rsip::Header::Via(v) => Some(format!("Via: {}\r\n", v.value())),
            _ => None,
        })
        .collect();
    format!(
        "SIP/2.0 {status}\r\n{vias}From: {}\r\nTo: {};tag=srv1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Contact: <sip:gw@srv.invalid;transport=ws>\r\n{extra}{content_type}Content-Length: {}\r\n\r\n{body}",
        invite.from_header().unwrap().value(),
        invite.to_header().unwrap().value(),
        invite.call_id_header().unwrap().value(),
        invite.cseq_header().unwrap().value(),
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_calls_take_early_media_and_type_busy_auth_failure_and_time_out() {
    use leadline_model::CallEnd;
    use leadline_phone::CallRefusal;
    use leadline_phone::audio::{self, AudioPath, Meter};
    use leadline_phone::media::{MediaConfig, MediaSession};
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let mut cfg = config(&url);
    cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    cfg.invite_timeout = Duration::from_secs(2);
    let (phone, mut events) = UserAgent::start(cfg).unwrap();
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(
        &reg,
        "200 OK",
        "Contact: <{contact}>;expires=600\r\n",
    )))
    .await
    .unwrap();
    wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;

    // Early media: 183 with an SDP answer from a real media engine, audio flows before the 200 (which
    // carries no SDP), then the gateway hangs up.
    let call = phone.dial("+919812345678").await.unwrap();
    let invite = recv_request(&mut ws).await;
    assert_eq!(invite.method, rsip::Method::Invite);
    assert!(
        invite
            .uri
            .to_string()
            .starts_with("sip:+919812345678@hostile.test"),
        "{}",
        invite.uri
    );
    let gateway = MediaSession::new(
        &MediaConfig {
            bind_addrs: vec!["127.0.0.1:0".into()],
            ..MediaConfig::default()
        },
        AudioPath {
            capture: audio::tone(700.0, 0.3),
            playback: std::sync::Arc::new(Meter::new(None)),
        },
    )
    .await
    .unwrap();
    let sdp = gateway
        .answer_offer(std::str::from_utf8(&invite.body).unwrap())
        .await
        .unwrap();
    ws.send(Message::text(answer_invite(&invite, "100 Trying", "", None)))
        .await
        .unwrap();
    ws.send(Message::text(answer_invite(
        &invite,
        "183 Session Progress",
        "",
        Some(&sdp),
    )))
    .await
    .unwrap();
    tokio::time::timeout(WITHIN, gateway.first_rtp())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.info().call.state, leadline_phone::CallState::Ringing);
    ws.send(Message::text(answer_invite(
        &invite,
        "200 OK",
        "X-Exotel-Callsid: out-7\r\n",
        None,
    )))
    .await
    .unwrap();
    let ack = recv_request(&mut ws).await;
    assert_eq!(ack.method, rsip::Method::Ack);
    assert!(
        ack.uri.to_string().contains("gw@srv.invalid"),
        "ACK goes to the Contact: {ack}"
    );
    assert!(call.connected().await);
    assert_eq!(call.info().provider_call_id.as_deref(), Some("out-7"));
    let bye = format!(
        "BYE sip:bob@x.invalid SIP/2.0\r\nVia: SIP/2.0/WS srv.invalid;branch=z9hG4bKbye1\r\nFrom: {};tag=srv1\r\n\
         To: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        invite.to_header().unwrap().value(),
        invite.from_header().unwrap().value(),
        invite.call_id_header().unwrap().value()
    );
    ws.send(Message::text(bye)).await.unwrap();
    assert_eq!(recv_response(&mut ws).await.status_code.code(), 200);
    assert_eq!(call.ended().await, CallEnd::HungUpThere);
    gateway.close().await;

    // Busy: 486, ACKed on the INVITE's branch, typed.
    let call = phone.dial("101").await.unwrap();
    let invite = recv_request(&mut ws).await;
    ws.send(Message::text(answer_invite(&invite, "486 Busy Here", "", None)))
        .await
        .unwrap();
    let ack = recv_request(&mut ws).await;
    assert_eq!(ack.method, rsip::Method::Ack);
    assert_eq!(
        ack.via_header().unwrap().value(),
        invite.via_header().unwrap().value()
    );
    assert_eq!(call.ended().await, CallEnd::Busy);
    assert_eq!(call.info().refusal, Some(CallRefusal::Busy));

    // Credentials refused: a second challenge after the first was answered.
    let call = phone.dial("102").await.unwrap();
    let challenge = "Proxy-Authenticate: Digest realm=\"hostile.test\", nonce=\"n1\", qop=\"auth\"\r\n";
    let invite = recv_request(&mut ws).await;
    ws.send(Message::text(answer_invite(
        &invite,
        "407 Proxy Authentication Required",
        challenge,
        None,
    )))
    .await
    .unwrap();
    assert_eq!(recv_request(&mut ws).await.method, rsip::Method::Ack);
    let again = recv_request(&mut ws).await;
    assert_eq!(again.method, rsip::Method::Invite);
    assert!(
        again.to_string().contains("Proxy-Authorization: Digest"),
        "{again}"
    );
    let challenge2 = challenge.replace("n1", "n2");
    ws.send(Message::text(answer_invite(
        &again,
        "407 Proxy Authentication Required",
        &challenge2,
        None,
    )))
    .await
    .unwrap();
    assert_eq!(recv_request(&mut ws).await.method, rsip::Method::Ack);
    call.ended().await;
    assert_eq!(call.info().refusal, Some(CallRefusal::AuthFailed));

    // Nothing at all comes back: the call fails as timed out (invite_timeout, 2 s here).
    let call = phone.dial("103").await.unwrap();
    let _ignored = recv_request(&mut ws).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), call.ended())
            .await
            .unwrap(),
        CallEnd::NoAnswer
    );
    assert_eq!(call.info().refusal, Some(CallRefusal::Timeout));

    let server = tokio::spawn(async move {
        while let Some(msg) = recv_sip(&mut ws).await {
            if let rsip::SipMessage::Request(req) = msg
                && req.method == rsip::Method::Register
            {
                let _ = ws.send(Message::text(answer(&req, "200 OK", ""))).await;
                break;
            }
        }
        ws
    });
    alive_then_shutdown(&phone).await;
    drop(server.await.unwrap());
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_audio_cannot_get_through_fails_as_blocked_and_advises_click_to_call() {
    use leadline_phone::audio::{self, AudioPath, NullPlayback};
    use leadline_phone::media::{MediaConfig, MediaSession};
    use leadline_phone::{CallFailure, CallState};
    init_tracing();
    count_panics();
    let (listener, url) = bind().await;
    let mut cfg = config(&url);
    cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    cfg.media_connect_timeout = Duration::from_secs(3);
    let (phone, mut events) = UserAgent::start(cfg).unwrap();
    let mut ws = accept(&listener).await;
    let reg = recv_register(&mut ws).await;
    ws.send(Message::text(answer(
        &reg,
        "200 OK",
        "Contact: <{contact}>;expires=600\r\n",
    )))
    .await
    .unwrap();
    wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;

    // The gateway answers with real SDP, then its media goes away before a single packet: like UDP
    // blocked between the desk and the provider, ICE finds no path.
    let call = phone.dial("+919812345678").await.unwrap();
    let invite = recv_request(&mut ws).await;
    let gateway = MediaSession::new(
        &MediaConfig {
            bind_addrs: vec!["127.0.0.1:0".into()],
            ..MediaConfig::default()
        },
        AudioPath {
            capture: audio::silence(),
            playback: std::sync::Arc::new(NullPlayback),
        },
    )
    .await
    .unwrap();
    let sdp = gateway
        .answer_offer(std::str::from_utf8(&invite.body).unwrap())
        .await
        .unwrap();
    gateway.close().await;
    drop(gateway);
    ws.send(Message::text(answer_invite(&invite, "200 OK", "", Some(&sdp))))
        .await
        .unwrap();
    assert_eq!(recv_request(&mut ws).await.method, rsip::Method::Ack);
    // Our BYE when the media fails: answer it.
    let server = tokio::spawn(async move {
        loop {
            match recv_sip(&mut ws).await {
                Some(rsip::SipMessage::Request(req)) if req.method == rsip::Method::Bye => {
                    let ok = answer_invite(&req, "200 OK", "", None);
                    let _ = ws.send(Message::text(ok)).await;
                }
                Some(rsip::SipMessage::Request(req)) if req.method == rsip::Method::Register => {
                    let _ = ws.send(Message::text(answer(&req, "200 OK", ""))).await;
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        ws
    });
    let end = tokio::time::timeout(Duration::from_secs(20), call.ended())
        .await
        .unwrap();
    let info = call.info();
    assert_eq!(end, leadline_model::CallEnd::Failed, "{info:?}");
    assert!(
        info.failure.as_deref().unwrap_or("").contains("no audio path"),
        "{info:?}"
    );
    assert_eq!(info.failure_kind, Some(CallFailure::AudioPath), "{info:?}");
    assert!(info.failure_kind.unwrap().suggests_click_to_call());
    assert!(matches!(info.call.state, CallState::Ended(_)));
    alive_then_shutdown(&phone).await;
    drop(server.await.unwrap());
    assert_no_panics();
}
