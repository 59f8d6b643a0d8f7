//! The shell's commands against a real leadline-server (in this process) and a real cache file: sign-in,
//! pull, listing, and every failure arriving as the error code the UI acts on.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use leadline_desktop::api::{
    AppStatus, Connection, ErrorCode, ExportLeadsArgs, LeadListArgs, ListLeadsArgs, LoginArgs, QueueWhy,
};
use leadline_desktop::{CACHE_FILE, Shell};
use leadline_model::LeadStatus;
use leadline_server::demo::{self, DEMO_PASSWORD, SeedOutcome};
use leadline_server::{RunningServer, ServeConfig};

const USER: &str = "priya";

/// Seeds the demo data set into `dir` and returns how many leads it assigns to priya.
fn seed(dir: &std::path::Path) -> u64 {
    let summary = match demo::seed(dir, demo::DEFAULT_SEED).expect("seed demo data") {
        SeedOutcome::Seeded(s) | SeedOutcome::AlreadySeeded(s) => s,
    };
    let priya = summary
        .users
        .iter()
        .find(|u| u.user.username == USER)
        .expect("priya is a demo user");
    u64::try_from(priya.leads).expect("a count")
}

async fn start(dir: &std::path::Path, listen: SocketAddr, secret: &str) -> RunningServer {
    let config = ServeConfig {
        listen,
        jwt_secret: Some(secret.to_owned()),
        ..ServeConfig::new(dir)
    };
    leadline_server::start(&config)
        .await
        .expect("start leadline-server")
}

/// The status once no sync runs (the engine's rounds after sign-in are done).
async fn settled(shell: &Shell) -> AppStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = shell.status().await.expect("status");
        if !status.syncing || std::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn login(url: &str, password: &str) -> LoginArgs {
    LoginArgs {
        server_url: url.to_owned(),
        username: USER.to_owned(),
        password: password.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_pulls_lists_and_reports_each_failure_by_code() {
    let server_dir = tempfile::tempdir().expect("temp dir");
    let expected = seed(server_dir.path());
    let server = start(
        server_dir.path(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        "the first signing secret, at least 32 bytes long",
    )
    .await;
    let url = server.base_url();
    let app_dir = tempfile::tempdir().expect("temp dir");
    let shell = Shell::open(app_dir.path());
    let reported = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let reported = reported.clone();
        shell.on_status(move |s| reported.lock().unwrap().push(s));
    }

    let status = shell.status().await.expect("status");
    assert!(
        !status.signed_in && status.user.is_none() && status.lead_count == 0,
        "{status:?}"
    );
    assert_eq!(
        shell.dashboard().await.expect_err("nobody signed in").code,
        ErrorCode::NotSignedIn
    );
    assert_eq!(
        shell.sync_now().await.expect_err("no session").code,
        ErrorCode::NotSignedIn
    );

    // Failures of sign-in, each with the code the login form words its message by.
    let code = |r: Result<_, leadline_desktop::api::CommandError>| r.expect_err("must fail").code;
    assert_eq!(
        code(shell.login(login("not a url", DEMO_PASSWORD)).await),
        ErrorCode::InvalidInput
    );
    assert_eq!(code(shell.login(login(&url, "")).await), ErrorCode::InvalidInput);
    assert_eq!(
        code(shell.login(login(&url, "wrong-password")).await),
        ErrorCode::InvalidCredentials
    );
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("http://127.0.0.1:{closed_port}");
    assert_eq!(
        code(shell.login(login(&unreachable, DEMO_PASSWORD)).await),
        ErrorCode::Network
    );
    assert!(!shell.status().await.expect("status").signed_in);

    // Sign-in pulls everything assigned to priya into the cache file.
    let status = shell
        .login(login(&format!("{url}/"), DEMO_PASSWORD))
        .await
        .expect("sign in");
    assert!(status.signed_in, "{status:?}");
    assert_eq!(status.user.as_ref().map(|u| u.username.as_str()), Some(USER));
    assert_eq!(status.lead_count, expected);
    assert!(
        status.last_sync_at.is_some() && status.last_error.is_none(),
        "{status:?}"
    );
    assert!(app_dir.path().join(CACHE_FILE).is_file());
    // The background engine syncs again as its event socket connects; then all is quiet and online.
    let status = settled(&shell).await;
    assert_eq!(status.connection, Connection::Online, "{status:?}");
    assert_eq!(
        (status.pending, status.conflicts, status.last_error),
        (0, 0, None)
    );
    // The UI heard of it: signed in and syncing (so it can show the list filling), then done.
    {
        let reported = reported.lock().unwrap();
        let syncing = reported
            .iter()
            .position(|s| s.signed_in && s.syncing)
            .expect("a signed-in, syncing status");
        assert!(
            reported[syncing..]
                .iter()
                .any(|s| !s.syncing && s.lead_count == expected && s.connection == Connection::Online),
            "{reported:?}"
        );
    }

    // The home screen, from the cache: the demo's overdue follow-ups head the queue; the charts add up.
    let home = shell.dashboard().await.expect("dashboard");
    assert!(
        !home.queue.is_empty() && home.queue.len() <= 8,
        "{:?}",
        home.queue.len()
    );
    assert_eq!(home.queue[0].why, QueueWhy::OverdueFollowUp);
    assert!(home.queue[0].follow_up_due_at.is_some());
    assert!(home.follow_ups_overdue > 0);
    assert_eq!(home.hourly.len(), 24);
    assert_eq!(home.hourly.iter().sum::<u64>(), home.calls_made);
    assert_eq!(
        home.dispositions.iter().map(|d| d.count).sum::<u64>(),
        home.calls_made
    );
    assert!(home.dispositions.iter().all(|d| !d.label.is_empty()));
    assert_eq!(home.goal, None, "the demo sets no goal");

    // Follow-ups: priya's open ones, soonest first; one done, one moved, one saved to the calendar — each
    // a change for the server, which the engine sends by itself.
    let follow_ups = shell.follow_ups().await.expect("follow-ups");
    assert!(follow_ups.len() >= 3, "{}", follow_ups.len());
    assert!(follow_ups.windows(2).all(|w| w[0].due_at <= w[1].due_at));
    let (done, moved, saved) = (&follow_ups[0], &follow_ups[1], &follow_ups[2]);
    shell.complete_follow_up(done.id).await.expect("done");
    assert_eq!(
        shell
            .complete_follow_up(done.id)
            .await
            .expect_err("done twice")
            .code,
        ErrorCode::InvalidInput
    );
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(
        shell
            .reschedule_follow_up(moved.id, past)
            .await
            .expect_err("a past time")
            .code,
        ErrorCode::InvalidInput
    );
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    shell
        .reschedule_follow_up(moved.id, tomorrow)
        .await
        .expect("moved");
    let after = shell.follow_ups().await.expect("follow-ups");
    assert_eq!(after.len(), follow_ups.len() - 1);
    assert!(!after.iter().any(|f| f.id == done.id));
    let moved_now = after.iter().find(|f| f.id == moved.id).expect("still open");
    assert_eq!(moved_now.due_at.timestamp(), tomorrow.timestamp());
    let downloads = tempfile::tempdir().expect("temp dir");
    let ics = shell
        .export_follow_up(saved.id, downloads.path())
        .await
        .expect("calendar file");
    let text = std::fs::read_to_string(&ics).expect("read the .ics");
    assert!(
        text.starts_with("BEGIN:VCALENDAR\r\n") && text.contains(&saved.lead.name),
        "{text}"
    );
    assert_eq!(
        shell
            .export_follow_up(done.id, downloads.path())
            .await
            .expect_err("done")
            .code,
        ErrorCode::InvalidInput
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while shell.status().await.expect("status").pending > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the follow-up changes were never sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The lead list's pages: the first counts every match, the next continues where it stopped.
    let first = shell
        .lead_page(LeadListArgs {
            limit: Some(50),
            ..LeadListArgs::default()
        })
        .await
        .expect("first page");
    assert_eq!((first.leads.len(), first.matched), (50, Some(expected)));
    assert_eq!(first.by_status.iter().map(|t| t.count).sum::<u64>(), expected);
    let second = shell
        .lead_page(LeadListArgs {
            limit: Some(50),
            cursor: first.next_cursor.clone(),
            ..LeadListArgs::default()
        })
        .await
        .expect("second page");
    assert_eq!((second.leads.len(), second.matched), (50, None));
    assert!(
        second
            .leads
            .iter()
            .all(|l| !first.leads.iter().any(|f| f.id == l.id))
    );
    assert!(
        first.leads[49].updated_at >= second.leads[0].updated_at,
        "most recently updated first"
    );
    let follow_ups = shell
        .lead_page(LeadListArgs {
            statuses: vec![LeadStatus::FollowUp],
            sort: leadline_store::LeadOrder {
                key: leadline_store::LeadOrderKey::Name,
                descending: false,
            },
            ..LeadListArgs::default()
        })
        .await
        .expect("filtered");
    let tally = follow_ups
        .by_status
        .iter()
        .find(|t| t.status == LeadStatus::FollowUp)
        .map(|t| t.count);
    assert_eq!(follow_ups.matched, tally);
    assert!(follow_ups.leads.iter().all(|l| l.status == LeadStatus::FollowUp));
    assert!(
        follow_ups
            .leads
            .windows(2)
            .all(|w| w[0].name.to_lowercase() <= w[1].name.to_lowercase())
    );
    assert_eq!(
        shell
            .lead_page(LeadListArgs {
                cursor: Some("not a cursor".into()),
                ..LeadListArgs::default()
            })
            .await
            .expect_err("a forged cursor")
            .code,
        ErrorCode::InvalidInput
    );
    // Exported: the filter's leads, or a selection of them, to a CSV file.
    let downloads = tempfile::tempdir().expect("temp dir");
    let (path, n) = shell
        .export_leads(
            ExportLeadsArgs {
                list: LeadListArgs {
                    statuses: vec![LeadStatus::FollowUp],
                    ..LeadListArgs::default()
                },
                only: None,
            },
            downloads.path(),
        )
        .await
        .expect("export");
    assert_eq!(Some(n), follow_ups.matched);
    let text = std::fs::read_to_string(&path).expect("read the export");
    assert_eq!(text.lines().count() as u64, n + 1);
    let picked = vec![first.leads[0].id, first.leads[1].id];
    let (_, n) = shell
        .export_leads(
            ExportLeadsArgs {
                list: LeadListArgs::default(),
                only: Some(picked),
            },
            downloads.path(),
        )
        .await
        .expect("export the selection");
    assert_eq!(n, 2);

    let all = shell.list_leads(ListLeadsArgs::default()).await.expect("list");
    assert_eq!(
        (all.leads.len() as u64, all.total, all.truncated),
        (expected, expected, false)
    );
    let page = shell
        .list_leads(ListLeadsArgs {
            limit: Some(10),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!((page.leads.len(), page.truncated), (10, true));
    let target = &all.leads[all.leads.len() / 2];
    let found = shell
        .list_leads(ListLeadsArgs {
            search: Some(target.name.clone()),
            ..Default::default()
        })
        .await
        .expect("search");
    assert!(
        found.leads.iter().any(|l| l.id == target.id),
        "{} not found by name",
        target.name
    );
    assert!((found.leads.len() as u64) < expected);
    let follow_ups = shell
        .list_leads(ListLeadsArgs {
            status: Some(LeadStatus::FollowUp),
            ..Default::default()
        })
        .await
        .expect("filter");
    assert!(!follow_ups.leads.is_empty());
    assert!(follow_ups.leads.iter().all(|l| l.status == LeadStatus::FollowUp));

    let status = shell.sync_now().await.expect("sync again");
    assert_eq!((status.lead_count, status.last_error), (expected, None));

    // Server down: the sync fails as "network", the session and the cached leads stay.
    let addr = server.addr();
    server.stop().await.expect("stop server");
    let status = shell
        .sync_now()
        .await
        .expect("a failed pull is reported in the status");
    assert_eq!(
        status.last_error.as_ref().map(|e| e.code),
        Some(ErrorCode::Network),
        "{status:?}"
    );
    assert_eq!(status.connection, Connection::Offline);
    assert!(
        status.next_retry_at.is_some(),
        "the engine retries on its own: {status:?}"
    );
    assert!(status.signed_in && status.lead_count == expected);

    // Back with another signing key: the old access token is refused, but the device session lives in the
    // server's database, so the shell refreshes and the sync goes on.
    let server = start(
        server_dir.path(),
        addr,
        "a second signing secret, also 32 bytes or more",
    )
    .await;
    let status = shell.sync_now().await.expect("refreshed and synced");
    assert_eq!((status.lead_count, status.last_error), (expected, None));
    assert!(status.signed_in);
    assert_eq!(status.connection, Connection::Online);

    // A supervisor revokes the session: the next sync ends it, the user must sign in.
    let priya = status.user.as_ref().expect("user").id;
    let repo = server.state().repo();
    for session in repo.sessions_of_user(priya).await.expect("sessions") {
        repo.revoke_session(session.id, "test".into(), chrono::Utc::now())
            .await
            .expect("revoke");
    }
    assert_eq!(
        shell.sync_now().await.expect_err("token refused").code,
        ErrorCode::SessionExpired
    );
    let status = shell.status().await.expect("status");
    assert!(!status.signed_in && status.lead_count == expected, "{status:?}");
    assert_eq!(status.last_error.map(|e| e.code), Some(ErrorCode::SessionExpired));

    // A new run on the same folder opens the cache as it was left (offline-first).
    drop(shell);
    let again = Shell::open(app_dir.path());
    again.restore_session().await.expect("restore");
    let status = again.status().await.expect("status");
    assert_eq!(status.user.map(|u| u.username), Some(USER.to_owned()));
    assert_eq!(status.lead_count, expected);

    // Signed in again and out: the session ends and is not restored (its tokens are forgotten; this
    // machine has no keyring, so they were in this shell's memory); the cache stays for offline reading.
    again
        .login(login(&url, DEMO_PASSWORD))
        .await
        .expect("sign in again");
    again.restore_session().await.expect("restore");
    assert!(again.status().await.expect("status").signed_in);
    let status = again.logout().await.expect("sign out");
    assert!(!status.signed_in && status.lead_count == expected, "{status:?}");
    assert_eq!(
        again.sync_now().await.expect_err("signed out").code,
        ErrorCode::NotSignedIn
    );
    again.restore_session().await.expect("restore");
    assert!(
        !again.status().await.expect("status").signed_in,
        "signed out for good"
    );
    server.stop().await.expect("stop server");
}

#[tokio::test]
async fn a_damaged_cache_is_reported_not_replaced() {
    let app_dir = tempfile::tempdir().expect("temp dir");
    let cache = app_dir.path().join(CACHE_FILE);
    let junk = b"this is not a database, it is a shopping list: gold coins, silver anklets".repeat(100);
    std::fs::write(&cache, &junk).expect("write junk");
    let shell = Shell::open(app_dir.path());
    let err = shell.status().await.expect_err("a damaged cache");
    assert_eq!(err.code, ErrorCode::Storage);
    assert!(
        err.message.contains("damaged") || err.message.contains("not a Leadline"),
        "{}",
        err.message
    );
    let err = shell
        .list_leads(ListLeadsArgs::default())
        .await
        .expect_err("a damaged cache");
    assert_eq!(err.code, ErrorCode::Storage);
    assert_eq!(
        std::fs::read(&cache).expect("read"),
        junk,
        "the file must be left untouched"
    );
}
