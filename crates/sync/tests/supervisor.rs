//! The supervisor's client methods against the real server in-process on the seeded demo data: the team
//! dashboard's figures, the live status a telecaller's desktop reports, the team's lead list, bulk
//! assignment and transfer with their reasons in the audit trail, CSV and Google Sheets imports with the
//! row report, goals and the disposition catalogue; refusals and an unreachable server are typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use chrono::{Duration, Utc};
use leadline_model::admin::DispositionEntry;
use leadline_model::analytics::SetGoal;
use leadline_model::import::{IssueKind, SheetsImportRequest};
use leadline_model::supervise::{AgentState, AssignLeads, AssignMatching, AuditAction, TransferLeads};
use leadline_model::{AssigneeFilter, DispositionCategory, Id, LeadListQuery, LeadStatus, Role, User};
use leadline_server::{RunningServer, ServeConfig};
use leadline_sync::supervisor::{CsvUpload, LeaderboardMetric, Range};
use leadline_sync::{Client, SyncError};

const PASSWORD: &str = "leadline-demo";
const SECRET: &str = "supervisor-test-secret-0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../server/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The demo data, an admin, and Google Sheets imports through the server's fake Google (Google's wire
/// format; the throwaway key pair of the server's test fixtures).
async fn start(dir: &Path) -> RunningServer {
    let server = dir.join("server");
    leadline_server::demo::seed(&server, 7).unwrap();
    let sheets = leadline_server::import::fake::start(
        dir,
        &fixture("THROWAWAY-test-only-service-account-key.pem"),
        &fixture("THROWAWAY-test-only-service-account-key.pub.pem"),
    )
    .await
    .unwrap();
    let config = ServeConfig {
        listen: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        jwt_secret: Some(SECRET.into()),
        sheets: Some(sheets),
        ..ServeConfig::new(server)
    };
    let running = leadline_server::start(&config).await.unwrap();
    // The demo has no admin: add one.
    let admin = User {
        id: leadline_model::new_id(),
        username: "asha".into(),
        name: "Asha Admin".into(),
        role: Role::Admin,
        team: None,
    };
    let hash = leadline_server::auth::hash_password(PASSWORD).unwrap();
    running
        .state()
        .repo()
        .write(move |tx| leadline_server::db::insert_user(tx, &admin, &hash, &Utc::now()))
        .await
        .unwrap();
    running
}

async fn signed_in(server: &RunningServer, user: &str) -> Client {
    let mut client = Client::new(&server.base_url()).unwrap();
    client.login(user, PASSWORD, None).await.unwrap();
    client
}

fn last_days(days: i64) -> Range {
    let to = Utc::now();
    Range {
        from: to - Duration::days(days),
        to,
        tz_offset_minutes: 330,
    }
}

fn server_code(e: SyncError) -> (u16, String) {
    match e {
        SyncError::Server { status, code, .. } => (status, code),
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_dashboard_and_live_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let meera = signed_in(&server, "meera").await;
    let priya = signed_in(&server, "priya").await;

    let range = last_days(30);
    let summary = meera.team_summary(&range).await.unwrap();
    assert_eq!(summary.telecallers.len(), 5);
    assert!(summary.team.calls > 0, "the demo has calls in the last 30 days");
    assert_eq!(
        summary.team.calls,
        summary.telecallers.iter().map(|t| t.calls).sum::<i64>()
    );
    let board = meera
        .leaderboard(LeaderboardMetric::Conversions, &range)
        .await
        .unwrap();
    assert_eq!(board.metric, "conversions");
    assert_eq!(board.entries.len(), 5);
    assert!(board.entries.windows(2).all(|w| w[0].value >= w[1].value));
    let hourly = meera.team_hourly(&last_days(1)).await.unwrap();
    assert_eq!(hourly.tz_offset_minutes, 330);

    // Priya's desktop reports a call; the supervisor sees it, the others offline.
    let mine = priya.report_presence(AgentState::OnCall).await.unwrap();
    assert_eq!(mine.state, AgentState::OnCall);
    let team = meera.team_presence().await.unwrap();
    assert_eq!(team.agents.len(), 5);
    for agent in &team.agents {
        let expected = if agent.username == "priya" {
            AgentState::OnCall
        } else {
            AgentState::Offline
        };
        assert_eq!(agent.state, expected, "{}", agent.username);
    }

    // Telecallers see neither the team's status nor its leaderboard.
    let (status, code) = server_code(priya.team_presence().await.unwrap_err());
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(priya.leaderboard(LeaderboardMetric::Calls, &range).await.is_err());

    // Goals: the supervisor sets the team default; everyone's figures carry it.
    let goal = meera
        .set_goal(&SetGoal {
            team: None,
            user_id: None,
            daily_calls: 60,
            daily_conversions: 4,
        })
        .await
        .unwrap();
    assert_eq!(goal.team, "Bandra Showroom");
    let summary = meera.team_summary(&last_days(1)).await.unwrap();
    assert!(summary.telecallers.iter().all(|t| t.goal_calls == 60));
    let users = meera.users().await.unwrap();
    assert!(users.iter().any(|u| u.user.username == "priya"));

    // Offline: a typed error the shell turns into "needs the server".
    server.stop().await.unwrap();
    let e = meera.team_summary(&range).await.unwrap_err();
    assert!(matches!(e, SyncError::Unreachable { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_assign_and_transfer_are_audited_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let meera = signed_in(&server, "meera").await;
    let users = meera.users().await.unwrap();
    let id_of = |name: &str| users.iter().find(|u| u.user.username == name).unwrap().user.id;
    let (priya, arjun, kavya) = (id_of("priya"), id_of("arjun"), id_of("kavya"));

    let page = meera
        .team_leads(&LeadListQuery {
            assigned_to: Some(AssigneeFilter::User(priya)),
            limit: Some(3),
            ..LeadListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.leads.len(), 3);
    assert!(page.next_cursor.is_some());
    assert!(page.leads.iter().all(|l| l.assigned_to == Some(priya)));
    let ids: Vec<Id> = page.leads.iter().map(|l| l.id).collect();

    let outcome = meera
        .assign_leads(&AssignLeads {
            lead_ids: ids.clone(),
            to: Some(arjun),
            reason: "Priya is on leave this week".into(),
        })
        .await
        .unwrap();
    assert_eq!(outcome.assigned, 3);
    let audit = meera.lead_audit(ids[0], None).await.unwrap();
    let last = &audit.entries[0];
    assert_eq!(last.action, AuditAction::Assigned);
    assert_eq!((last.from_user, last.to_user), (Some(priya), Some(arjun)));
    assert_eq!(last.reason.as_deref(), Some("Priya is on leave this week"));

    // A reason is required; the server's refusal is typed and nothing moved.
    let (status, code) = server_code(
        meera
            .assign_leads(&AssignLeads {
                lead_ids: ids.clone(),
                to: Some(kavya),
                reason: "  ".into(),
            })
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (400, "bad_reason"));

    let moved = meera
        .transfer_leads(&TransferLeads {
            from: arjun,
            to: kavya,
            status: None,
            reason: "Arjun moved to the Andheri showroom".into(),
        })
        .await
        .unwrap();
    assert!(moved.assigned > 0);
    let audit = meera.lead_audit(moved.lead_ids[0], None).await.unwrap();
    assert_eq!(audit.entries[0].action, AuditAction::Transferred);
    assert_eq!(
        (audit.entries[0].from_user, audit.entries[0].to_user),
        (Some(arjun), Some(kavya))
    );
    assert_eq!(
        audit.entries[0].reason.as_deref(),
        Some("Arjun moved to the Andheri showroom")
    );

    // By filter: every lead it lists, over however many pages, and only those.
    let all = |query: LeadListQuery| {
        let meera = &meera;
        async move {
            let mut ids = Vec::new();
            let mut query = LeadListQuery {
                limit: Some(500),
                cursor: None,
                ..query
            };
            loop {
                let page = meera.team_leads(&query).await.unwrap();
                ids.extend(page.leads.iter().map(|l| l.id));
                match page.next_cursor {
                    Some(c) => query.cursor = Some(c),
                    None => break ids,
                }
            }
        }
    };
    let priyas_new = LeadListQuery {
        assigned_to: Some(AssigneeFilter::User(priya)),
        status: vec![LeadStatus::New],
        // Page size, cursor and order are the list's, not the selection's: they are not sent.
        limit: Some(2),
        cursor: Some("from-another-page".into()),
        ..LeadListQuery::default()
    };
    let chosen = all(priyas_new.clone()).await;
    assert!(chosen.len() > 2, "{} of Priya's leads are new", chosen.len());
    let kavyas_before = all(LeadListQuery {
        assigned_to: Some(AssigneeFilter::User(kavya)),
        ..LeadListQuery::default()
    })
    .await
    .len();
    let priyas_other = all(LeadListQuery {
        assigned_to: Some(AssigneeFilter::User(priya)),
        ..LeadListQuery::default()
    })
    .await
    .len()
        - chosen.len();
    let outcome = meera
        .assign_matching(&AssignMatching {
            filter: priyas_new.clone(),
            to: Some(kavya),
            reason: "New leads go to Kavya while Priya trains".into(),
        })
        .await
        .unwrap();
    assert_eq!(outcome.assigned as usize, chosen.len());
    assert!(
        all(LeadListQuery {
            cursor: None,
            ..priyas_new
        })
        .await
        .is_empty()
    );
    let priyas_left = all(LeadListQuery {
        assigned_to: Some(AssigneeFilter::User(priya)),
        ..LeadListQuery::default()
    })
    .await;
    assert_eq!(priyas_left.len(), priyas_other);
    let kavyas = all(LeadListQuery {
        assigned_to: Some(AssigneeFilter::User(kavya)),
        ..LeadListQuery::default()
    })
    .await;
    assert_eq!(kavyas.len(), kavyas_before + chosen.len());
    let audit = meera.lead_audit(chosen[0], None).await.unwrap();
    assert_eq!(
        audit.entries[0].reason.as_deref(),
        Some("New leads go to Kavya while Priya trains")
    );

    // A telecaller cannot assign.
    let priya_client = signed_in(&server, "priya").await;
    let (status, _) = server_code(
        priya_client
            .assign_leads(&AssignLeads {
                lead_ids: ids,
                to: Some(priya),
                reason: "mine".into(),
            })
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_report_each_row_and_the_catalogue_is_the_admins() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let meera = signed_in(&server, "meera").await;

    let csv = "Name,Phone,City\nAnita Rao,98765 11111,Pune\nNo Phone,,Mumbai\nBad Phone,12345,Delhi\n\
               Anita Again,+91 98765 11111,Pune\n";
    let outcome = meera
        .import_csv(&CsvUpload {
            file_name: "leads \"march\".csv".into(),
            bytes: csv.as_bytes().to_vec(),
            merge_duplicates: false,
            assign_to: Some("kavya".into()),
        })
        .await
        .unwrap();
    assert_eq!(outcome.created, 1);
    assert_eq!(outcome.report.rows, 4);
    assert_eq!(outcome.report.invalid, 2);
    let rows: Vec<(usize, IssueKind)> = outcome.report.issues.iter().map(|i| (i.row, i.kind)).collect();
    assert_eq!(
        rows,
        vec![
            (3, IssueKind::Invalid),
            (4, IssueKind::Invalid),
            (5, IssueKind::Duplicate)
        ]
    );
    assert_eq!(outcome.report.issues[1].column.as_deref(), Some("Phone"));
    // The whole file unusable: the server's code.
    let (status, code) = server_code(
        meera
            .import_csv(&CsvUpload {
                file_name: "x.csv".into(),
                bytes: b"Colour,Size\nred,9\n".to_vec(),
                merge_duplicates: false,
                assign_to: None,
            })
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 422, "{code}");

    // A Google Sheet shared with the server's service account: three leads, the blank row counted.
    let sheet = |id: &str| SheetsImportRequest {
        spreadsheet_id: id.into(),
        range: "Leads!A1:D".into(),
        merge_duplicates: false,
        assign_to: None,
    };
    let outcome = meera.import_sheet(&sheet("sheet-ok")).await.unwrap();
    assert_eq!((outcome.created, outcome.report.blank_rows), (3, 1));
    // Again: every row is a lead already, reported as such.
    let again = meera.import_sheet(&sheet("sheet-ok")).await.unwrap();
    assert_eq!((again.created, again.duplicates), (0, 3));
    // A sheet the service account may not read: Google's refusal, as the server's code.
    let (status, code) = server_code(meera.import_sheet(&sheet("forbidden")).await.unwrap_err());
    assert_eq!((status, code.as_str()), (422, "sheets_permission_denied"));

    // The catalogue: everyone reads it, only an admin edits it.
    let catalogue = meera.disposition_catalogue().await.unwrap();
    assert!(catalogue.iter().any(|d| d.code == "converted"));
    let entry = DispositionEntry {
        code: "store_visit_done".into(),
        label: "Visited the store".into(),
        category: DispositionCategory::Connected,
        requires_follow_up: true,
        hotkey: None,
        position: 20,
        active: true,
    };
    let (status, _) = server_code(meera.put_disposition(&entry).await.unwrap_err());
    assert_eq!(status, 403);
    let asha = signed_in(&server, "asha").await;
    let all = asha.put_disposition(&entry).await.unwrap();
    assert!(all.iter().any(|d| d == &entry));
    server.stop().await.unwrap();
}
