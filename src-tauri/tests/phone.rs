//! The shell's softphone commands with real parts: leadline-server in this process on the demo data, Exotel
//! played by the server's `FakeExotel` (its wire format), a real cache file. A call the softphone cannot
//! carry (switched off, no microphone) goes as a click-to-call through the server — the telecaller's own
//! phone rings first — and every refusal arrives as the error code the window acts on. (The softphone's own
//! calls through kamailio are tested in crates/phone/tests/desk.rs.)
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use leadline_desktop::Shell;
use leadline_desktop::api::{
    CallAction, DialArgs, DialResult, ErrorCode, FallbackWhy, ListLeadsArgs, LoginArgs, PhoneState,
    SavePhoneSettingsArgs,
};
use leadline_model::PhoneSettings;
use leadline_phone::audio::{self, AudioPath, NullPlayback};
use leadline_phone::{DeskAudio, OsKeyring};
use leadline_server::demo::{self, DEMO_PASSWORD};
use leadline_server::exotel::fake::{FakeExotel, FakeExotelConfig};
use leadline_server::{ExotelSettings, ServeConfig};

const PRIYAS_PHONE: &str = "+919811100001";

/// A desk with no microphone at all.
fn no_microphone() -> DeskAudio {
    let provider = || {
        Ok(AudioPath {
            capture: audio::silence(),
            playback: Arc::new(NullPlayback),
        })
    };
    DeskAudio::Provided {
        provider: Arc::new(provider),
        microphone: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_softphone_cannot_carry_goes_to_the_telecallers_mobile_through_the_server() {
    let server_dir = tempfile::tempdir().unwrap();
    demo::seed(server_dir.path(), demo::DEFAULT_SEED).unwrap();
    rusqlite::Connection::open(server_dir.path().join("leadline-server.sqlite3"))
        .unwrap()
        .execute(
            "UPDATE users SET agent_number = ?1 WHERE username = 'priya'",
            [PRIYAS_PHONE],
        )
        .unwrap();
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: None,
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        jwt_secret: Some("the phone test's signing secret, 32 bytes or more".into()),
        exotel: Some(ExotelSettings {
            exotel: fake.exotel_config("+918047112233"),
            webhook_secret: "whsec-desktop-phone-0123456789".into(),
            webhook_user: "exotel".into(),
            public_url: format!("http://127.0.0.1:{port}"),
        }),
        ..ServeConfig::new(server_dir.path())
    };
    let server = leadline_server::start(&config).await.unwrap();

    let app_dir = tempfile::tempdir().unwrap();
    let shell = Shell::open_with(app_dir.path(), no_microphone(), Arc::new(OsKeyring));
    let code = |r: Result<DialResult, leadline_desktop::api::CommandError>| r.expect_err("must fail").code;

    // A new desk: the phone is off and there is no call.
    let status = shell.phone_status().await.unwrap();
    assert_eq!((status.state, status.calls.len()), (PhoneState::Off, 0));
    let view = shell.phone_settings().await.unwrap();
    assert_eq!(
        (view.settings, view.has_password),
        (PhoneSettings::default(), false)
    );

    // A bad setting is refused with the form's code, before anything touches the keyring.
    let bad = shell
        .save_phone_settings(SavePhoneSettingsArgs {
            settings: PhoneSettings {
                enabled: true,
                ws_url: "voip.exotel.in".into(),
                domain: "acme.voip.exotel.com".into(),
                username: "agent7".into(),
                ..PhoneSettings::default()
            },
            password: Some("pw".into()),
        })
        .await
        .expect_err("a server address without wss://");
    assert_eq!(bad.code, ErrorCode::InvalidInput);
    assert!(bad.message.contains("wss://"), "{}", bad.message);

    // Not signed in: the fallback needs the server, and says so.
    let leads_before = shell.list_leads(ListLeadsArgs::default()).await.unwrap();
    assert!(leads_before.leads.is_empty());
    assert_eq!(
        code(
            shell
                .dial(DialArgs {
                    number: "+919876543210".into(),
                    lead_id: Some(leadline_model::new_id()),
                })
                .await
        ),
        ErrorCode::NotSignedIn
    );

    shell
        .login(LoginArgs {
            server_url: server.base_url(),
            username: "priya".into(),
            password: DEMO_PASSWORD.into(),
        })
        .await
        .unwrap();
    let lead = shell
        .list_leads(ListLeadsArgs {
            limit: Some(1),
            ..ListLeadsArgs::default()
        })
        .await
        .unwrap()
        .leads
        .remove(0);

    // Calling the lead: the softphone is off, so the server has Exotel ring priya's phone, then the lead.
    let result = shell
        .dial(DialArgs {
            number: lead.phone.as_str().to_owned(),
            lead_id: Some(lead.id),
        })
        .await
        .unwrap();
    let DialResult::ClickToCall { why, call_log_id } = result else {
        panic!("expected a click-to-call, got {result:?}");
    };
    assert_eq!(why, FallbackWhy::NotRegistered);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].field("From"), Some(PRIYAS_PHONE));
    assert_eq!(requests[0].field("To"), Some(lead.phone.as_str()));
    assert_eq!(
        requests[0].field("CustomField"),
        Some(call_log_id.to_string().as_str()),
        "the call is logged under the id the server gave it"
    );

    // The call waits for its wrap-up, listed with its lead; the status counts it.
    let waiting = shell.unlogged_calls().await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].log_id, call_log_id);
    assert_eq!(waiting[0].lead.as_ref().map(|l| l.id), Some(lead.id));
    assert!(waiting[0].click_to_call && !waiting[0].ongoing);
    assert_eq!(shell.status().await.unwrap().unlogged, 1);
    let catalogue = shell.dispositions().await.unwrap();
    let needs_follow_up = catalogue.iter().find(|d| d.requires_follow_up).unwrap();
    let refused = shell
        .wrap_up(
            call_log_id,
            leadline_model::WrapUp {
                lead_id: None,
                disposition: needs_follow_up.code.clone(),
                outcome_tags: Vec::new(),
                notes: "wants the catalogue".into(),
                follow_up: None,
                lead_status: None,
            },
        )
        .await
        .expect_err("a follow-up is needed");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert!(refused.message.contains("follow-up"), "{}", refused.message);
    let due = chrono::Utc::now() + chrono::Duration::days(1);
    // A status the lead does not have yet (the demo data is random).
    let new_status = if lead.status == leadline_model::LeadStatus::VisitScheduled {
        leadline_model::LeadStatus::Interested
    } else {
        leadline_model::LeadStatus::VisitScheduled
    };
    shell
        .wrap_up(
            call_log_id,
            leadline_model::WrapUp {
                lead_id: None,
                disposition: needs_follow_up.code.clone(),
                outcome_tags: vec![" bridal ".into(), "".into()],
                notes: "Wants the **kundan** set".into(),
                follow_up: Some(leadline_model::FollowUpSpec {
                    due_at: due,
                    note: Some("send the catalogue".into()),
                }),
                lead_status: Some(new_status),
            },
        )
        .await
        .unwrap();
    let status = shell.status().await.unwrap();
    // Logged here with the lead's new status (two changes; the background sync may already be sending).
    assert_eq!(status.unlogged, 0);
    assert!(status.pending <= 2, "{status:?}");
    assert_eq!(shell.get_lead(lead.id).await.unwrap().status, new_status);
    // A sync sends it: the server has the log under the id it gave the call.
    let status = shell.sync_now().await.unwrap();
    assert_eq!((status.pending, status.last_error), (0, None));
    let on_server: (String, String) =
        rusqlite::Connection::open(server_dir.path().join("leadline-server.sqlite3"))
            .unwrap()
            .query_row(
                "SELECT disposition, outcome_tags FROM call_logs WHERE id = ?1",
                [call_log_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
    assert_eq!(on_server.0, needs_follow_up.code);
    let server_status: String = rusqlite::Connection::open(server_dir.path().join("leadline-server.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT status FROM leads WHERE id = ?1",
            [lead.id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(server_status, new_status.as_str());
    assert!(
        on_server.1.contains("bridal") && !on_server.1.contains(' '),
        "{}",
        on_server.1
    );

    // Asked for outright, too.
    let asked = shell.click_to_call(lead.id).await.unwrap();
    assert!(
        matches!(
            asked,
            DialResult::ClickToCall {
                why: FallbackWhy::Asked,
                ..
            }
        ),
        "{asked:?}"
    );
    assert_eq!(fake.requests().len(), 2);

    // A number that is no lead's cannot go through the server; a lead the server does not know is refused.
    let no_lead = shell
        .dial(DialArgs {
            number: "+919999999999".into(),
            lead_id: None,
        })
        .await
        .expect_err("no lead to call through the server");
    assert_eq!(no_lead.code, ErrorCode::Phone);
    assert!(no_lead.message.contains("not connected"), "{}", no_lead.message);
    assert_ne!(
        code(shell.click_to_call(leadline_model::new_id()).await),
        ErrorCode::Internal
    );
    assert_eq!(fake.requests().len(), 2, "nothing more was placed");

    // Buttons of a call that is over answer so, and an empty number is the form's error.
    let over = shell
        .call_action("no-such-call", CallAction::HangUp)
        .await
        .expect_err("no such call");
    assert_eq!(over.code, ErrorCode::Phone);
    assert_eq!(
        code(
            shell
                .dial(DialArgs {
                    number: "  ".into(),
                    lead_id: Some(lead.id),
                })
                .await
        ),
        ErrorCode::InvalidInput
    );
    fake.stop().await;
}
