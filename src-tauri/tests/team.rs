//! The supervisor's commands against a real leadline-server (in this process): a telecaller's desktop
//! reports its state and the supervisor's dashboard shows it with the team's figures; bulk assignment
//! with a reason lands in the lead's audit trail; a CSV import answers its row report; refusals and an
//! unreachable server come back as the codes the UI words; a desk that quits shows offline at once.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use chrono::{Duration, Utc};
use leadline_desktop::Shell;
use leadline_desktop::api::{ErrorCode, LoginArgs};
use leadline_desktop::team::{BoardMetric, CsvImportArgs, MAX_CSV_BYTES, QUIT_REPORT_WAIT, TeamRangeArgs};
use leadline_model::supervise::{AgentState, AssignLeads, AssignMatching, AuditAction};
use leadline_model::{AssigneeFilter, LeadListQuery};
use leadline_server::demo::{self, DEMO_PASSWORD};
use leadline_server::{RunningServer, ServeConfig};
use tauri::ipc::InvokeBody;

async fn server(dir: &std::path::Path) -> RunningServer {
    demo::seed(dir, demo::DEFAULT_SEED).unwrap();
    let config = ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        jwt_secret: Some("team test secret, at least 32 bytes long!".to_owned()),
        ..ServeConfig::new(dir)
    };
    leadline_server::start(&config).await.unwrap()
}

async fn signed_in(server: &RunningServer, dir: &std::path::Path, user: &str) -> Shell {
    let shell = Shell::open(dir);
    shell
        .login(LoginArgs {
            server_url: server.base_url(),
            username: user.into(),
            password: DEMO_PASSWORD.into(),
        })
        .await
        .unwrap();
    shell
}

fn last_week() -> TeamRangeArgs {
    TeamRangeArgs {
        from: Utc::now() - Duration::days(7),
        to: Utc::now(),
        tz_offset_minutes: 330,
        metric: BoardMetric::Calls,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_sees_the_team_assigns_with_a_reason_and_imports() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = server(server_dir.path()).await;
    let (priya_dir, meera_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let priya = signed_in(&server, priya_dir.path(), "priya").await;
    let meera = signed_in(&server, meera_dir.path(), "meera").await;

    // Priya's desktop: no call going on, nothing to wrap up: available, and the supervisor sees it.
    let state = priya.agent_state().await;
    assert_eq!(state, AgentState::Available);
    priya.report_presence(state).await.unwrap();
    let dashboard = meera.team_dashboard(last_week()).await.unwrap();
    let agent = |name: &str| {
        dashboard
            .presence
            .agents
            .iter()
            .find(|a| a.username == name)
            .unwrap()
            .state
    };
    assert_eq!(agent("priya"), AgentState::Available);
    assert_eq!(agent("arjun"), AgentState::Offline);
    assert_eq!(dashboard.summary.telecallers.len(), 5);
    assert_eq!(dashboard.leaderboard.entries.len(), 5);
    assert!(dashboard.summary.team.calls > 0);

    // A telecaller is refused the team, in words for people.
    let refused = priya.team_dashboard(last_week()).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Server);
    assert!(
        refused.message.contains("your role may not"),
        "{}",
        refused.message
    );

    // Bulk assignment: the reason is required, and kept in the lead's audit trail.
    let members = meera.team_members().await.unwrap();
    let id_of = |name: &str| members.iter().find(|m| m.user.username == name).unwrap().user.id;
    let page = meera
        .team_leads(LeadListQuery {
            assigned_to: Some(AssigneeFilter::User(id_of("priya"))),
            limit: Some(2),
            ..LeadListQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = page.leads.iter().map(|l| l.id).collect();
    let no_reason = meera
        .assign_leads(AssignLeads {
            lead_ids: ids.clone(),
            to: Some(id_of("arjun")),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(no_reason.code, ErrorCode::InvalidInput);
    let outcome = meera
        .assign_leads(AssignLeads {
            lead_ids: ids.clone(),
            to: Some(id_of("arjun")),
            reason: "Priya is on leave".into(),
        })
        .await
        .unwrap();
    assert_eq!(outcome.assigned, 2);
    let audit = meera.lead_audit(ids[0], None).await.unwrap();
    assert_eq!(audit.entries[0].action, AuditAction::Assigned);
    assert_eq!(audit.entries[0].reason.as_deref(), Some("Priya is on leave"));

    // By filter: every lead it lists moves, not only a loaded page; the reason is required too.
    let arjuns = LeadListQuery {
        assigned_to: Some(AssigneeFilter::User(id_of("arjun"))),
        limit: Some(1),
        ..LeadListQuery::default()
    };
    let mut arjun_count = 0;
    let mut query = LeadListQuery {
        limit: Some(500),
        ..arjuns.clone()
    };
    loop {
        let page = meera.team_leads(query.clone()).await.unwrap();
        arjun_count += page.leads.len() as u64;
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    assert!(arjun_count > 2, "{arjun_count}");
    let matching = |reason: &str| AssignMatching {
        filter: arjuns.clone(),
        to: Some(id_of("kavya")),
        reason: reason.into(),
    };
    let no_reason = meera.assign_matching(matching("")).await.unwrap_err();
    assert_eq!(no_reason.code, ErrorCode::InvalidInput);
    let outcome = meera
        .assign_matching(matching("Arjun moved to Andheri"))
        .await
        .unwrap();
    assert_eq!(outcome.assigned, arjun_count);
    assert!(meera.team_leads(arjuns).await.unwrap().leads.is_empty());

    // A CSV import, its file sent raw over the IPC as the UI sends it: the report names the bad row and
    // its column.
    let file = "Name,Phone,City\nअनीता राव,98765 44444,पुणे\nNo Number,,\n".as_bytes();
    let body = ipc_body(
        serde_json::json!({"file_name": "वॉक-इन.csv", "merge_duplicates": false}),
        file,
    );
    let args = CsvImportArgs::from_invoke_body(&InvokeBody::Raw(body)).unwrap();
    assert_eq!(args.file_name, "वॉक-इन.csv");
    assert_eq!(args.bytes, file);
    let outcome = meera.import_csv(args).await.unwrap();
    assert_eq!(outcome.created, 1);
    assert_eq!(outcome.report.issues.len(), 1);
    assert_eq!(outcome.report.issues[0].row, 3);
    assert_eq!(outcome.report.issues[0].column.as_deref(), Some("Phone"));

    // Goals and the catalogue: the supervisor's goal is the team's; the catalogue is the admins'.
    let goals = meera.team_goals().await.unwrap();
    assert!(goals.iter().all(|g| g.team == "Bandra Showroom"));
    let catalogue = meera.disposition_catalogue().await.unwrap();
    let mut entry = catalogue[0].clone();
    entry.label = "Renamed".into();
    assert_eq!(
        meera.save_disposition(entry).await.unwrap_err().code,
        ErrorCode::Server
    );

    // Signing out says so: the supervisor sees priya offline at once.
    priya.report_signing_out().await;
    priya.logout().await.unwrap();
    let dashboard = meera.team_dashboard(last_week()).await.unwrap();
    let priya_now = dashboard
        .presence
        .agents
        .iter()
        .find(|a| a.username == "priya")
        .unwrap();
    assert_eq!(priya_now.state, AgentState::Offline);

    // The server gone: the team's screens say the network, the UI words it as offline.
    server.stop().await.unwrap();
    let offline = meera.team_dashboard(last_week()).await.unwrap_err();
    assert_eq!(offline.code, ErrorCode::Network);
}

#[tokio::test]
async fn signed_out_the_team_asks_for_a_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let shell = Shell::open(dir.path());
    let e = shell.team_dashboard(last_week()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotSignedIn);
    let bad = shell
        .team_dashboard(TeamRangeArgs {
            to: Utc::now() - Duration::days(8),
            ..last_week()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidInput);
}

/// The state meera's dashboard shows for `username`.
async fn seen_by(supervisor: &Shell, username: &str) -> AgentState {
    let dashboard = supervisor.team_dashboard(last_week()).await.unwrap();
    dashboard
        .presence
        .agents
        .iter()
        .find(|a| a.username == username)
        .unwrap()
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_shows_the_desk_offline_at_once_and_never_waits_long_for_the_server() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = server(server_dir.path()).await;
    let (priya_dir, meera_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let priya = signed_in(&server, priya_dir.path(), "priya").await;
    let meera = signed_in(&server, meera_dir.path(), "meera").await;
    priya.report_presence(AgentState::Available).await.unwrap();
    assert_eq!(seen_by(&meera, "priya").await, AgentState::Available);

    // The app quits (what its exit path runs): the supervisor sees the desk offline right away, not
    // after the server's 90-s presence timeout.
    let started = std::time::Instant::now();
    priya.report_quitting().await;
    assert!(started.elapsed() < QUIT_REPORT_WAIT, "{:?}", started.elapsed());
    assert_eq!(seen_by(&meera, "priya").await, AgentState::Offline);
    // The presence reporter may still look once before the process ends: it sends nothing any more.
    priya.report_presence(AgentState::Available).await.unwrap();
    assert_eq!(seen_by(&meera, "priya").await, AgentState::Offline);

    // A desk whose server stopped answering (a black-holed network): quitting waits at most
    // QUIT_REPORT_WAIT, then goes.
    let proxy = BlackHoleProxy::start(server.addr()).await;
    let arjun_dir = tempfile::tempdir().unwrap();
    let arjun = Shell::open(arjun_dir.path());
    arjun
        .login(LoginArgs {
            server_url: format!("http://{}", proxy.addr),
            username: "arjun".into(),
            password: DEMO_PASSWORD.into(),
        })
        .await
        .unwrap();
    arjun.report_presence(AgentState::Available).await.unwrap();
    assert_eq!(seen_by(&meera, "arjun").await, AgentState::Available);
    proxy.hold();
    let started = std::time::Instant::now();
    arjun.report_quitting().await;
    let waited = started.elapsed();
    assert!(
        waited >= QUIT_REPORT_WAIT && waited < QUIT_REPORT_WAIT + std::time::Duration::from_millis(400),
        "quitting waited {waited:?} for a server that does not answer"
    );
    assert_eq!(seen_by(&meera, "arjun").await, AgentState::Available);
}

/// A TCP proxy to the server that, once told to [`BlackHoleProxy::hold`], takes every byte and answers
/// none (a network that drops everything): requests then hang rather than fail.
struct BlackHoleProxy {
    addr: SocketAddr,
    holding: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BlackHoleProxy {
    async fn start(to: SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let holding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hold = holding.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = tokio::net::TcpStream::connect(to).await else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut up_read, mut up_write) = upstream.into_split();
                let hold_up = hold.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 16 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                        if hold_up.load(Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        if up_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let hold_down = hold.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 16 * 1024];
                    while let Ok(n @ 1..) = up_read.read(&mut buf).await {
                        if hold_down.load(Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { addr, holding }
    }

    fn hold(&self) {
        self.holding.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// An `import_csv` body as the UI's `importCsv` builds it: the other arguments as a line of JSON, then the
/// file's bytes.
fn ipc_body(head: serde_json::Value, file: &[u8]) -> Vec<u8> {
    let mut body = serde_json::to_vec(&head).unwrap();
    body.push(b'\n');
    body.extend_from_slice(file);
    body
}

#[tokio::test]
async fn a_raw_import_body_is_taken_apart_and_checked_before_the_server() {
    let head = serde_json::json!({"file_name": "leads.csv", "merge_duplicates": true, "assign_to": "priya"});
    // The file's own newlines and any bytes at all stay as they are.
    let file = b"Name,Phone\r\nA,1\n\xff\x00\n";
    let args = CsvImportArgs::from_invoke_body(&InvokeBody::Raw(ipc_body(head.clone(), file))).unwrap();
    assert_eq!(
        (
            args.file_name.as_str(),
            args.bytes.as_slice(),
            args.merge_duplicates
        ),
        ("leads.csv", &file[..], true)
    );
    assert_eq!(args.assign_to.as_deref(), Some("priya"));

    // Where Tauri falls back to posting the message, the same bytes come as a JSON array.
    let numbers = serde_json::Value::from(ipc_body(head.clone(), file));
    let posted = CsvImportArgs::from_invoke_body(&InvokeBody::Json(numbers)).unwrap();
    assert_eq!(posted, args);

    // The size limit holds, with its words.
    let big = vec![b'a'; MAX_CSV_BYTES + 1];
    let e = CsvImportArgs::from_invoke_body(&InvokeBody::Raw(ipc_body(head.clone(), &big))).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert_eq!(
        e.message,
        "The file is larger than 20 MB; split it into smaller files."
    );
    let at_limit = vec![b'a'; MAX_CSV_BYTES];
    assert!(CsvImportArgs::from_invoke_body(&InvokeBody::Raw(ipc_body(head.clone(), &at_limit))).is_ok());

    // An empty file is refused before the server is asked (here without even a session).
    let dir = tempfile::tempdir().unwrap();
    let shell = Shell::open(dir.path());
    let empty = CsvImportArgs::from_invoke_body(&InvokeBody::Raw(ipc_body(head, b""))).unwrap();
    let e = shell.import_csv(empty).await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InvalidInput, "The file is empty.")
    );

    // What an older UI sent (JSON arguments), or junk, is refused as the shell's own failure.
    for junk in [
        InvokeBody::Json(serde_json::json!({"args": {"file_name": "a.csv", "bytes": [65]}})),
        InvokeBody::Json(serde_json::json!([1, 300])),
        InvokeBody::Raw(b"no arguments line".to_vec()),
        InvokeBody::Raw(b"{\"file\": 1}\nName\n".to_vec()),
    ] {
        let e = CsvImportArgs::from_invoke_body(&junk).unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal, "{junk:?}");
    }
}
