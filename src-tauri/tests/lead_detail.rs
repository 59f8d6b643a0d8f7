//! The lead detail and conflict commands against a real leadline-server (in this process) and a real cache
//! file: checked edits queued and sent, a lead's call history filtered and exported, and a conflict (made
//! by a supervisor's edit of the same field) settled either way.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use leadline_desktop::Shell;
use leadline_desktop::api::{ErrorCode, LeadListArgs, LoginArgs};
use leadline_desktop::conflicts::ConflictChoice;
use leadline_desktop::leaddetail::{CallHistoryArgs, LeadEdit};
use leadline_model::sync::LeadPatch;
use leadline_model::{CallDirection, LeadStatus};
use leadline_server::demo::{self, DEMO_PASSWORD};
use leadline_server::{RunningServer, ServeConfig};
use leadline_store::{KeyStorage, Store};
use leadline_sync::{Client, SharedStore, sync_once};

async fn server(dir: &std::path::Path) -> RunningServer {
    demo::seed(dir, demo::DEFAULT_SEED).unwrap();
    let config = ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        jwt_secret: Some("lead detail test secret, at least 32 bytes long".to_owned()),
        ..ServeConfig::new(dir)
    };
    leadline_server::start(&config).await.unwrap()
}

async fn settled(shell: &Shell) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let status = shell.status().await.unwrap();
        if !status.syncing && status.pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the shell did not settle: {:?}", shell.status().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_is_edited_with_checks_its_calls_filtered_and_exported() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = server(server_dir.path()).await;
    let app_dir = tempfile::tempdir().unwrap();
    let shell = Shell::open(app_dir.path());
    shell
        .login(LoginArgs {
            server_url: server.base_url(),
            username: "priya".into(),
            password: DEMO_PASSWORD.into(),
        })
        .await
        .unwrap();
    settled(&shell).await;

    // A lead of priya's with calls in its history.
    let page = shell.lead_page(LeadListArgs::default()).await.unwrap();
    let mut found = None;
    for lead in &page.leads {
        let history = shell.call_history(args(lead.id)).await.unwrap();
        if history.calls.len() >= 2 {
            found = Some((lead.clone(), history));
            break;
        }
    }
    let (lead, history) = found.expect("a demo lead with two calls or more");
    assert!(
        history
            .calls
            .windows(2)
            .all(|w| w[0].started_at >= w[1].started_at)
    );
    let detail = shell.lead_detail(lead.id).await.unwrap();
    assert_eq!(detail.lead, lead);
    assert!(
        detail
            .follow_ups
            .iter()
            .all(|f| f.lead_id == lead.id && f.completed_at.is_none())
    );

    // Filters: each call shown matches them.
    let outbound = shell
        .call_history(CallHistoryArgs {
            direction: Some(CallDirection::Outbound),
            ..args(lead.id)
        })
        .await
        .unwrap();
    assert!(
        outbound
            .calls
            .iter()
            .all(|c| c.direction == CallDirection::Outbound)
    );
    let disposition = history.calls[0].disposition.clone();
    let same = shell
        .call_history(CallHistoryArgs {
            dispositions: vec![disposition.clone()],
            ..args(lead.id)
        })
        .await
        .unwrap();
    assert!(!same.calls.is_empty() && same.calls.iter().all(|c| c.disposition == disposition));

    // The export writes what the filter shows: a header and one row per call.
    let downloads = tempfile::tempdir().unwrap();
    let (path, n) = shell
        .export_call_history(
            CallHistoryArgs {
                dispositions: vec![disposition.clone()],
                ..args(lead.id)
            },
            downloads.path(),
        )
        .await
        .unwrap();
    assert_eq!(n, same.calls.len() as u64);
    let csv = std::fs::read_to_string(&path).unwrap();
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
    for call in &same.calls {
        assert!(csv.contains(&call.id.to_string()));
    }

    // Edits: a bad number is refused and changes nothing; a good edit is saved and sent.
    let refused = shell
        .edit_lead(
            lead.id,
            LeadEdit {
                alternate_phone: Some("12345".into()),
                city: Some("Nashik".into()),
                ..LeadEdit::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert_eq!(shell.lead_detail(lead.id).await.unwrap().lead, lead);
    let edited = shell
        .edit_lead(
            lead.id,
            LeadEdit {
                alternate_phone: Some("98200 12345".into()),
                city: Some("Nashik".into()),
                tags: Some(vec!["wedding".into(), " Wedding ".into(), "gold".into()]),
                ..LeadEdit::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.city.as_deref(), Some("Nashik"));
    assert_eq!(edited.alternate_phone.as_ref().unwrap().as_str(), "+919820012345");
    assert_eq!(edited.tags, ["wedding", "gold"]);
    settled(&shell).await;
    let status = shell.status().await.unwrap();
    assert_eq!((status.pending, status.rejected, status.conflicts), (0, 0, 0));
    let on_server = server_lead(&server, lead.id).await;
    assert_eq!(on_server["city"], "Nashik");
    assert_eq!(on_server["alternate_phone"], "+919820012345");
    // Nothing to change: nothing queued.
    let again = shell
        .edit_lead(
            lead.id,
            LeadEdit {
                city: Some(" Nashik ".into()),
                ..LeadEdit::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        again.version,
        shell.lead_detail(lead.id).await.unwrap().lead.version
    );
    assert_eq!(shell.status().await.unwrap().pending, 0);
    server.stop().await.unwrap();
}

fn args(lead_id: leadline_model::Id) -> CallHistoryArgs {
    CallHistoryArgs {
        lead_id,
        search: None,
        direction: None,
        dispositions: vec![],
        cursor: None,
    }
}

/// The lead as the server's REST API shows it to meera (the supervisor).
async fn server_lead(server: &RunningServer, id: leadline_model::Id) -> serde_json::Value {
    let token = token(server, "meera").await;
    reqwest::Client::new()
        .get(format!("{}/api/v1/leads/{id}", server.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn token(server: &RunningServer, user: &str) -> String {
    let mut client = Client::new(&server.base_url()).unwrap();
    client
        .login(user, DEMO_PASSWORD, None)
        .await
        .unwrap()
        .access_token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_is_listed_and_settled_either_way() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = server(server_dir.path()).await;
    let app_dir = tempfile::tempdir().unwrap();

    // Priya's desk (the app's own cache file), edited while meera changed the same fields.
    {
        let key =
            leadline_store::key::load_or_create(app_dir.path(), KeyStorage::from_env().unwrap()).unwrap();
        let mut store = Store::open(&app_dir.path().join(leadline_desktop::CACHE_FILE), &key.key).unwrap();
        let mut client = Client::new(&server.base_url()).unwrap();
        let me = client.login("priya", DEMO_PASSWORD, None).await.unwrap().user;
        store.set_account(client.server_url(), &me).unwrap();
        let store = SharedStore::new(store);
        sync_once(&client, &store).await.unwrap();
        let leads = store.run(|s| s.list_leads(&Default::default())).await.unwrap();
        let meera = token(&server, "meera").await;
        for lead in leads
            .iter()
            .filter(|l| l.status != LeadStatus::Interested)
            .take(2)
        {
            let id = lead.id;
            store
                .run(move |s| {
                    s.update_lead(
                        &id,
                        &LeadPatch {
                            status: Some(LeadStatus::Interested),
                            ..LeadPatch::default()
                        },
                    )
                })
                .await
                .unwrap();
            reqwest::Client::new()
                .patch(format!("{}/api/v1/leads/{id}", server.base_url()))
                .bearer_auth(&meera)
                .json(&serde_json::json!({"version": lead.version, "patch": {"status": "invalid"}}))
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        }
        let report = sync_once(&client, &store).await.unwrap();
        assert_eq!(report.push.conflicts.len(), 2);
    }

    let shell = Shell::open(app_dir.path());
    let conflicts = shell.conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 2);
    assert_eq!(shell.status().await.unwrap().conflicts, 2);
    for c in &conflicts {
        assert!(c.lead_name.is_some());
        assert_eq!(c.fields.len(), 1);
        assert_eq!(c.fields[0].field, "status");
        assert_eq!(
            (c.fields[0].mine.as_str(), c.fields[0].theirs.as_str()),
            ("interested", "invalid")
        );
    }
    let (mine, theirs) = (&conflicts[0], &conflicts[1]);
    shell
        .resolve_conflict(mine.id, ConflictChoice::Mine)
        .await
        .unwrap();
    shell
        .resolve_conflict(theirs.id, ConflictChoice::Theirs)
        .await
        .unwrap();
    assert_eq!(
        shell
            .resolve_conflict(theirs.id, ConflictChoice::Mine)
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidInput
    );
    let status = shell.status().await.unwrap();
    assert_eq!(
        (status.conflicts, status.pending),
        (0, 1),
        "mine is queued again; theirs is not"
    );
    assert_eq!(
        shell.lead_detail(mine.lead_id).await.unwrap().lead.status,
        LeadStatus::Interested
    );
    assert_eq!(
        shell.lead_detail(theirs.lead_id).await.unwrap().lead.status,
        LeadStatus::Invalid
    );
    server.stop().await.unwrap();
}
