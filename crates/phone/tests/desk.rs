//! The softphone as the desktop app runs it ([`DeskPhone`]): settings checked and kept in a real cache file,
//! the agent started and restarted from them, the route chosen (softphone or click-to-call, with the
//! reason), and real calls through kamailio with a browser softphone at the far end: one placed for a lead
//! and one coming in from a lead's number, each followed by events with live quality and journalled.
//! The real OS keyring is tested in credentials.rs; here the password vault is a map, which lets the test
//! see what was kept.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadline_model::sync::{Change, Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::{
    CallDirection, CallEnd, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, PhoneSettings, Role,
    User, default_catalogue, new_id,
};
use leadline_phone::audio::{self, AudioPath, Meter};
use leadline_phone::{
    CallRoute, CallState, DeskAudio, DeskError, DeskEvent, DeskPhone, DeskState, DialOutcome, FallbackReason,
    MemoryVault, OffReason, Password, PasswordVault, RegistrationState,
};
use leadline_store::{Store, StoreKey};
use serde_json::json;
use support::farend::FarEnd;
use support::{DOMAIN, FAR_PASSWORD, Kamailio, KamailioOptions, PASSWORD, USER};
use tokio::sync::broadcast;

/// A lead's number as the provider presents it on a call from the PSTN (national form with the trunk 0).
const LEAD_NUMBER_AS_DIALLED: &str = "09876543210";
const LEAD_NUMBER: &str = "+919876543210";

fn open(path: &Path) -> Arc<Mutex<Store>> {
    let key = StoreKey::from_hex(&"6b".repeat(32)).unwrap();
    Arc::new(Mutex::new(Store::open(path, &key).unwrap()))
}

fn desk(
    store: &Arc<Mutex<Store>>,
    vault: &Arc<MemoryVault>,
    meter: Option<&Meter>,
    microphone: bool,
) -> DeskPhone {
    support::init_tracing();
    let speaker = meter.cloned();
    let provider = move || {
        Ok(AudioPath {
            capture: audio::tone(440.0, 0.3),
            playback: match &speaker {
                Some(m) => Arc::new(m.clone()),
                None => Arc::new(audio::NullPlayback),
            },
        })
    };
    let phone = DeskPhone::new(
        store.clone(),
        DeskAudio::Provided {
            provider: Arc::new(provider),
            microphone,
        },
        vault.clone(),
    );
    phone.set_tuning(Box::new(|cfg| {
        cfg.request_timeout = Duration::from_secs(3);
        cfg.connect_timeout = Duration::from_secs(3);
        cfg.retry_min = Duration::from_millis(100);
        cfg.retry_max = Duration::from_millis(500);
        cfg.media.bind_addrs = vec!["127.0.0.1:0".into()];
    }));
    phone
}

fn settings(kam: &Kamailio) -> PhoneSettings {
    PhoneSettings {
        enabled: true,
        ws_url: kam.ws_url(),
        domain: DOMAIN.into(),
        username: USER.into(),
        display_name: Some("Priya (desk 4)".into()),
        stun_servers: Vec::new(),
        ..PhoneSettings::default()
    }
}

async fn until_state(desk: &DeskPhone, what: &str, pred: impl Fn(&DeskState) -> bool) -> DeskState {
    let mut watch = desk.watch_state();
    let got = tokio::time::timeout(Duration::from_secs(20), watch.wait_for(|(_, s)| pred(s)))
        .await
        .unwrap_or_else(|_| panic!("no state {what}; now {:?}", desk.state()));
    got.unwrap().1.clone()
}

fn registered(s: &DeskState) -> bool {
    matches!(s, DeskState::On(RegistrationState::Registered { .. }))
}

/// The next event `pred` accepts, failing with what came meanwhile.
async fn next_event(
    rx: &mut broadcast::Receiver<DeskEvent>,
    what: &str,
    pred: impl Fn(&DeskEvent) -> bool,
) -> DeskEvent {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => panic!("no event {what}; saw {seen:#?}"),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("events closed waiting for {what}: {e}"),
            Ok(Ok(e)) if pred(&e) => return e,
            Ok(Ok(e)) => seen.push(format!("{e:?}").chars().take(200).collect::<String>()),
        }
    }
}

fn call_in_state(e: &DeskEvent, pred: impl Fn(&CallState) -> bool) -> bool {
    matches!(e, DeskEvent::Call(info) if pred(&info.call.state))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_kept_and_followed_and_the_route_says_why_it_falls_back() {
    let kam = Kamailio::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("cache.sqlite3"));
    let vault = Arc::new(MemoryVault::default());
    let phone = desk(&store, &vault, None, true);

    // A new desk: the phone is off, and a call goes as a click-to-call.
    assert_eq!(phone.start().await.unwrap(), DeskState::Off(OffReason::Disabled));
    assert_eq!(
        phone.route().await,
        CallRoute::ClickToCall(FallbackReason::NotRegistered)
    );
    assert!(matches!(
        phone.dial("+919876543210", None).await.unwrap(),
        DialOutcome::ClickToCall(FallbackReason::NotRegistered)
    ));

    // Bad values are refused with the reason, and nothing is kept.
    let good = settings(&kam);
    for (bad, says) in [
        (
            PhoneSettings {
                ws_url: "https://voip.exotel.in".into(),
                ..good.clone()
            },
            "wss://",
        ),
        (
            PhoneSettings {
                username: "".into(),
                ..good.clone()
            },
            "user name",
        ),
    ] {
        match phone.save_settings(bad, Some(Password::new(PASSWORD))).await {
            Err(DeskError::Settings(why)) => assert!(why.contains(says), "{why}"),
            other => panic!("expected a settings error, got {other:?}"),
        }
    }
    match phone.save_settings(good.clone(), Some(Password::new(""))).await {
        Err(DeskError::Settings(why)) => assert!(why.contains("password"), "{why}"),
        other => panic!("expected a settings error, got {other:?}"),
    }
    assert_eq!(
        store.lock().unwrap().phone_settings().unwrap(),
        PhoneSettings::default()
    );
    assert!(vault.is_empty());

    // Saved without a password: on, but nothing to register with.
    assert_eq!(
        phone.save_settings(good.clone(), None).await.unwrap(),
        DeskState::Off(OffReason::NoPassword)
    );
    // A wrong password: the registrar refuses, the agent stops retrying, calls fall back.
    phone
        .save_settings(good.clone(), Some(Password::new("wrong")))
        .await
        .unwrap();
    until_state(&phone, "auth failed", |s| {
        matches!(s, DeskState::On(RegistrationState::Failed(_)))
    })
    .await;
    assert_eq!(
        phone.route().await,
        CallRoute::ClickToCall(FallbackReason::NotRegistered)
    );
    // The right one (spaces around the fields are trimmed): registered, softphone calls.
    let padded = PhoneSettings {
        domain: format!("  {DOMAIN} "),
        ..good.clone()
    };
    phone
        .save_settings(padded, Some(Password::new(PASSWORD)))
        .await
        .unwrap();
    until_state(&phone, "registered", registered).await;
    assert_eq!(phone.route().await, CallRoute::Softphone);
    assert_eq!(phone.settings().await.unwrap(), (good.clone(), true));
    assert_eq!(
        vault
            .load(DOMAIN, USER)
            .unwrap()
            .map(|p| p.expose().to_owned())
            .as_deref(),
        Some(PASSWORD)
    );
    assert!(!kam.contacts_of(USER).await.is_empty());
    phone.stop().await;
    assert!(kam.contacts_of(USER).await.is_empty(), "stopping de-registers");

    // The next start of the app (a new cache handle on the same file) comes up registered by itself.
    drop(phone);
    drop(store);
    let store = open(&dir.path().join("cache.sqlite3"));
    let again = desk(&store, &vault, None, true);
    again.start().await.unwrap();
    until_state(&again, "registered after a restart", registered).await;

    // Without a microphone the call goes to the telecaller's mobile.
    let mute_desk = desk(&store, &vault, None, false);
    mute_desk.start().await.unwrap();
    until_state(&mute_desk, "registered", registered).await;
    assert_eq!(
        mute_desk.route().await,
        CallRoute::ClickToCall(FallbackReason::NoMicrophone)
    );
    mute_desk.stop().await;

    // Switching it off stops it.
    let off = PhoneSettings {
        enabled: false,
        ..good
    };
    assert_eq!(
        again.save_settings(off, None).await.unwrap(),
        DeskState::Off(OffReason::Disabled)
    );
    assert!(kam.contacts_of(USER).await.is_empty());
    assert_eq!(
        vault.len(),
        1,
        "the password stays for when it is switched on again"
    );
}

fn lead_with_number(owner: &User) -> Lead {
    let now = chrono::Utc::now();
    Lead {
        id: new_id(),
        name: "Asha Kulkarni".into(),
        phone: PhoneNumber::parse(LEAD_NUMBER).unwrap(),
        alternate_phone: None,
        email: None,
        city: Some("Pune".into()),
        source: LeadSource::Instagram,
        interest: Some("bridal necklace".into()),
        budget_inr: Some(250_000),
        priority: LeadPriority::Hot,
        status: LeadStatus::Contacted,
        tags: Vec::new(),
        assigned_to: Some(owner.id),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_is_called_and_calls_back_each_call_followed_live_and_journalled() {
    let kam = Kamailio::start_with(KamailioOptions {
        far_user: LEAD_NUMBER_AS_DIALLED.into(),
        ..KamailioOptions::default()
    })
    .await;
    let mut far = FarEnd::launch().await;
    far.register(&kam.ws_url(), LEAD_NUMBER_AS_DIALLED, FAR_PASSWORD, true)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("cache.sqlite3"));
    let me = User {
        id: new_id(),
        username: "priya".into(),
        name: "Priya".into(),
        role: Role::Telecaller,
        team: None,
    };
    let lead = lead_with_number(&me);
    {
        let mut s = store.lock().unwrap();
        s.set_account("http://server", &me).unwrap();
        s.apply_pull_page(&PullPage {
            protocol: PROTOCOL_VERSION,
            changes: vec![Change::Lead(lead.clone())],
            next_cursor: Cursor("c1".into()),
            has_more: false,
            dispositions: default_catalogue(),
            server_time: chrono::Utc::now(),
        })
        .unwrap();
    }
    let vault = Arc::new(MemoryVault::default());
    let meter = Meter::new(Some(far.tone_hz()));
    let phone = desk(&store, &vault, Some(&meter), true);
    let mut events = phone.subscribe();
    phone
        .save_settings(settings(&kam), Some(Password::new(PASSWORD)))
        .await
        .unwrap();
    until_state(&phone, "registered", registered).await;

    // Out: the lead's number, through the softphone; the far end answers by itself.
    let DialOutcome::Softphone(call) = phone.dial(LEAD_NUMBER_AS_DIALLED, Some(lead.id)).await.unwrap()
    else {
        panic!("a registered desk with a microphone calls through the softphone");
    };
    next_event(&mut events, "connected", |e| {
        call_in_state(e, |s| *s == CallState::Connected)
    })
    .await;
    assert_eq!(phone.calls().len(), 1);
    assert_eq!(phone.calls()[0].lead_id, Some(lead.id));
    // Live quality reaches the window while the call goes on.
    let DeskEvent::Call(live) = next_event(
        &mut events,
        "live quality",
        |e| matches!(e, DeskEvent::Call(info) if info.quality().is_some_and(|q| q.mos > 3.0)),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(live.quality().unwrap().codec.as_deref(), Some("opus"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        meter.reading().tone_share.unwrap_or(0.0) > 0.5,
        "{:?}",
        meter.reading()
    );
    // Controls go through the call's id, as the window's buttons do.
    let id = call.call_id().to_owned();
    phone.call(&id).unwrap().set_muted(true).await;
    next_event(
        &mut events,
        "muted",
        |e| matches!(e, DeskEvent::Call(i) if i.muted),
    )
    .await;
    phone.call(&id).unwrap().hang_up().await;
    next_event(&mut events, "ended", |e| {
        call_in_state(e, |s| *s == CallState::Ended(CallEnd::HungUpHere))
    })
    .await;
    far.expect("ended", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(phone.calls().is_empty());
    assert!(matches!(phone.call(&id), Err(DeskError::NoSuchCall(_))));
    let out_log = call.info().log_id;
    let draft = store.lock().unwrap().call_draft(&out_log).unwrap().unwrap();
    assert_eq!(draft.lead_id, Some(lead.id));
    assert_eq!(draft.direction, CallDirection::Outbound);
    assert!(draft.answered_at.is_some());

    // In: the lead calls back; the window learns who it is before anyone answers.
    far.send(json!({"cmd": "call", "target": format!("sip:{USER}@{DOMAIN}")}))
        .await;
    let DeskEvent::Incoming {
        call: incoming,
        lead: caller,
    } = next_event(&mut events, "incoming", |e| {
        matches!(e, DeskEvent::Incoming { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(incoming.direction, CallDirection::Inbound);
    assert_eq!(incoming.lead_id, Some(lead.id));
    assert_eq!(
        caller.map(|l| (l.id, l.name)),
        Some((lead.id, "Asha Kulkarni".to_owned())),
        "the caller's number found the lead"
    );
    phone.call(&incoming.call_id).unwrap().answer().await.unwrap();
    next_event(&mut events, "answered", |e| {
        call_in_state(e, |s| *s == CallState::Connected)
    })
    .await;
    far.expect("confirmed", Duration::from_secs(10)).await;
    // Some audio first, so the call has quality figures to keep.
    next_event(&mut events, "live quality of the incoming call", |e| {
        matches!(e, DeskEvent::Call(info) if info.call_id == incoming.call_id && info.quality().is_some())
    })
    .await;
    far.send(json!({"cmd": "hangup"})).await;
    next_event(&mut events, "hung up there", |e| {
        call_in_state(e, |s| *s == CallState::Ended(CallEnd::HungUpThere))
    })
    .await;
    let draft = (0..50)
        .find_map(|_| {
            let d = store.lock().unwrap().call_draft(&incoming.log_id).unwrap();
            if d.as_ref().is_some_and(|d| d.ended_at.is_some()) {
                d
            } else {
                std::thread::sleep(Duration::from_millis(100));
                None
            }
        })
        .expect("the incoming call is journalled and ended");
    assert_eq!(draft.direction, CallDirection::Inbound);
    assert_eq!(
        draft.lead_id,
        Some(lead.id),
        "drafted on the caller's lead from its first moment"
    );
    assert!(draft.quality.is_some(), "{draft:?}");

    phone.stop().await;
    far.quit().await;
}
