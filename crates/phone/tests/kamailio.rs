//! The user agent against a real kamailio registrar (SIP over WebSocket + digest auth).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use leadline_phone::{PhoneError, PhoneEvent, RegistrationState, UserAgent};
use support::{DOMAIN, Kamailio, KamailioOptions, PASSWORD, USER, config, free_port, init_tracing, wait_for};

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_the_right_password_and_unregisters_on_shutdown() {
    init_tracing();
    let kam = Kamailio::start().await;
    let (phone, mut events) = UserAgent::start(config(&kam.ws_url(), PASSWORD)).unwrap();

    let event = wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    assert_eq!(
        event,
        PhoneEvent::Registered { expires: 600 },
        "kamailio grants the requested 600 s"
    );
    assert_eq!(phone.state(), RegistrationState::Registered { expires: 600 });

    // An explicit attempt on the live connection (pre-emptive auth with the cached nonce).
    let reg = phone.register_once().await.unwrap();
    assert_eq!(reg.aor, format!("sip:{USER}@{DOMAIN}"));
    assert!(reg.contact.ends_with(".invalid;transport=ws"), "{}", reg.contact);
    assert!(reg.bindings.iter().any(|b| b.contains(&reg.contact)), "{reg:?}");

    // kamailio itself holds exactly our contact (one binding: Call-ID/Contact are stable).
    let contacts = kam.contacts_of(USER).await;
    assert_eq!(contacts.len(), 1, "{contacts:?}\n{}", kam.log());
    assert!(
        contacts[0].contains(&reg.contact),
        "{contacts:?} vs {}",
        reg.contact
    );

    phone.shutdown().await.unwrap();
    wait_for(&mut events, WITHIN, "Unregistered", |e| {
        *e == PhoneEvent::Unregistered
    })
    .await;
    assert_eq!(phone.state(), RegistrationState::Stopped);
    assert!(
        kam.contacts_of(USER).await.is_empty(),
        "binding removed by Expires: 0"
    );
    assert_eq!(phone.register_once().await, Err(PhoneError::Stopped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_typed_auth_error_without_retry_loop() {
    init_tracing();
    let kam = Kamailio::start().await;
    let (phone, mut events) = UserAgent::start(config(&kam.ws_url(), "not-the-password")).unwrap();

    let event = wait_for(&mut events, WITHIN, "RegistrationFailed", |e| {
        matches!(e, PhoneEvent::RegistrationFailed(_))
    })
    .await;
    assert_eq!(
        event,
        PhoneEvent::RegistrationFailed(PhoneError::AuthFailed { realm: DOMAIN.into() })
    );
    assert_eq!(
        phone.state(),
        RegistrationState::Failed(PhoneError::AuthFailed { realm: DOMAIN.into() })
    );

    // The agent gave up: with retry_min = 100 ms a retry loop would show several attempts here.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut later = Vec::new();
    while let Ok(event) = events.try_recv() {
        later.push(event);
    }
    assert!(
        later.is_empty(),
        "no automatic retries after AuthFailed, got {later:?}"
    );

    // An explicit retry is one attempt with the same clear outcome.
    assert_eq!(
        phone.register_once().await,
        Err(PhoneError::AuthFailed { realm: DOMAIN.into() })
    );
    assert!(kam.contacts_of(USER).await.is_empty());
    phone.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrar_down_at_start_then_up_and_restarted() {
    init_tracing();
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/");
    let (phone, mut events) = UserAgent::start(config(&url, PASSWORD)).unwrap();

    let event = wait_for(&mut events, WITHIN, "RegistrationFailed", |e| {
        matches!(e, PhoneEvent::RegistrationFailed(_))
    })
    .await;
    match &event {
        PhoneEvent::RegistrationFailed(PhoneError::Connect { url: failed, source }) => {
            assert_eq!(failed, &url);
            assert!(!source.message.is_empty());
        }
        other => panic!("expected a Connect error, got {other:?}"),
    }
    assert!(matches!(
        phone.state(),
        RegistrationState::RetryWait {
            error: PhoneError::Connect { .. },
            ..
        } | RegistrationState::Registering
    ));

    // Not registered: calls go as click-to-call.
    assert_eq!(
        phone.call_route(true, false),
        leadline_phone::CallRoute::ClickToCall(leadline_phone::FallbackReason::NotRegistered)
    );

    // The registrar comes up: the agent registers by itself.
    let mut kam = Kamailio::start_with(KamailioOptions {
        port,
        ..Default::default()
    })
    .await;
    wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    assert_eq!(kam.contacts_of(USER).await.len(), 1);
    use leadline_phone::{CallRoute, FallbackReason};
    assert_eq!(phone.call_route(true, false), CallRoute::Softphone);
    assert_eq!(
        phone.call_route(false, false),
        CallRoute::ClickToCall(FallbackReason::NoMicrophone)
    );
    assert_eq!(
        phone.call_route(true, true),
        CallRoute::ClickToCall(FallbackReason::AudioBlocked)
    );

    // The registrar dies: the loss is noticed and reported...
    kam.stop();
    wait_for(&mut events, WITHIN, "Disconnected", |e| {
        matches!(e, PhoneEvent::Disconnected { .. })
    })
    .await;
    // ...and once it is back (empty location table), the agent registers again on its own.
    let kam = Kamailio::start_with(KamailioOptions {
        port,
        ..Default::default()
    })
    .await;
    wait_for(&mut events, WITHIN, "Registered again", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    assert_eq!(kam.contacts_of(USER).await.len(), 1);
    phone.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_refreshed_within_the_granted_lifetime() {
    init_tracing();
    // The registrar caps the lifetime at 2 s although we ask for 3600 s.
    let kam = Kamailio::start_with(KamailioOptions {
        max_expires: 2,
        ..Default::default()
    })
    .await;
    let mut cfg = config(&kam.ws_url(), PASSWORD);
    cfg.register_expires = 3600;
    let (phone, mut events) = UserAgent::start(cfg).unwrap();

    let first = wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    assert_eq!(
        first,
        PhoneEvent::Registered { expires: 2 },
        "the server's lifetime wins"
    );
    for n in 0..2 {
        let refresh = wait_for(&mut events, WITHIN, "refresh", |e| {
            matches!(e, PhoneEvent::Registering | PhoneEvent::Registered { .. })
        })
        .await;
        assert_eq!(
            refresh,
            PhoneEvent::Registering,
            "refresh {n} starts with a new REGISTER"
        );
        let done = wait_for(&mut events, WITHIN, "refreshed", |e| {
            !matches!(e, PhoneEvent::Registering)
        })
        .await;
        assert_eq!(done, PhoneEvent::Registered { expires: 2 }, "refresh {n}");
    }
    // Refreshes update the one binding instead of adding new ones.
    assert_eq!(kam.contacts_of(USER).await.len(), 1);
    phone.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_over_wss() {
    init_tracing();
    let kam = Kamailio::start_with(KamailioOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    let mut cfg = config(&kam.wss_url(), PASSWORD);
    cfg.extra_root_certs = vec![kam.tls.as_ref().unwrap().cert_der.clone()];
    let (phone, mut events) = UserAgent::start(cfg).unwrap();
    wait_for(&mut events, WITHIN, "Registered", |e| {
        matches!(e, PhoneEvent::Registered { .. })
    })
    .await;
    let reg = phone.register_once().await.unwrap();
    assert!(reg.contact.ends_with(";transport=wss"), "{}", reg.contact);
    let contacts = kam.contacts_of(USER).await;
    assert!(
        contacts.len() == 1 && contacts[0].contains(&reg.contact),
        "{contacts:?}"
    );
    phone.shutdown().await.unwrap();
    assert!(kam.contacts_of(USER).await.is_empty());

    // Without trusting the self-signed certificate the TLS handshake fails: a Connect error.
    let (phone, mut events) = UserAgent::start(config(&kam.wss_url(), PASSWORD)).unwrap();
    let event = wait_for(&mut events, WITHIN, "RegistrationFailed", |e| {
        matches!(e, PhoneEvent::RegistrationFailed(_))
    })
    .await;
    match event {
        PhoneEvent::RegistrationFailed(PhoneError::Connect { source, .. }) => {
            assert!(source.message.to_lowercase().contains("certificate"), "{source}")
        }
        other => panic!("expected a TLS Connect error, got {other:?}"),
    }
    phone.shutdown().await.unwrap();
}
