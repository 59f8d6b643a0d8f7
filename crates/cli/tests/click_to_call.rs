//! `leadline call <lead> --click-to-call`, `leadline unlogged` and `leadline wrap-up` as a telecaller runs
//! them: the built binary against the server in-process on a real SQLite file (the demo data) with Exotel
//! played by `FakeExotel` (its real wire format, StatusCallback included). Errors are sentences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use leadline_server::exotel::fake::{FakeCallback, FakeExotel, FakeExotelConfig};
use leadline_server::{ExotelSettings, RunningServer, ServeConfig};

const CALLER_ID: &str = "+918047112233";

async fn leadline(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let (dir, args, stdin): (PathBuf, Vec<String>, String) = (
        dir.to_owned(),
        args.iter().map(|a| (*a).to_owned()).collect(),
        stdin.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadline"))
            .arg("--data-dir")
            .arg(&dir)
            .args(&args)
            .env("LEADLINE_STORE_KEY", "file")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start leadline");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin");
        child.wait_with_output().expect("output")
    })
    .await
    .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "leadline failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A clean failure (exit 1, not a panic) and its message.
fn failed(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a clean failure, got {}",
        out.status
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lead_of(server_dir: &Path, username: &str) -> String {
    rusqlite::Connection::open(server_dir.join("leadline-server.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT l.id FROM leads l JOIN users u ON u.id = l.assigned_to
             WHERE u.username = ?1 ORDER BY l.id LIMIT 1",
            [username],
            |r| r.get(0),
        )
        .unwrap()
}

async fn start(server_dir: &Path, fake: &FakeExotel) -> RunningServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ServeConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        jwt_secret: Some("cli-click-to-call-secret-0123456789abcdef".into()),
        exotel: Some(ExotelSettings {
            exotel: fake.exotel_config(CALLER_ID),
            webhook_secret: "whsec-cli-0123456789abcdef".into(),
            webhook_user: "exotel".into(),
            public_url: format!("http://127.0.0.1:{port}"),
        }),
        ..ServeConfig::new(server_dir)
    };
    leadline_server::start(&config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_click_to_call_then_wrap_up_logs_one_call_with_exotels_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let server_dir = tmp.path().join("server");
    leadline_server::demo::seed(&server_dir, 7).unwrap();
    rusqlite::Connection::open(server_dir.join("leadline-server.sqlite3"))
        .unwrap()
        .execute(
            "UPDATE users SET agent_number = '+919811100001' WHERE username = 'priya'",
            [],
        )
        .unwrap();
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: Some(FakeCallback {
            delay: Duration::from_millis(50),
            conversation_duration_s: 37,
            ..FakeCallback::default()
        }),
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let server = start(&server_dir, &fake).await;
    let url = server.base_url();
    let priya = tmp.path().join("priya");
    let arjun = tmp.path().join("arjun");
    for (dir, user) in [(&priya, "priya"), (&arjun, "arjun")] {
        ok(&leadline(
            dir,
            &["login", "--server", &url, "--user", user, "--password-stdin"],
            "leadline-demo\n",
        )
        .await);
        ok(&leadline(dir, &["sync"], "").await);
    }
    let lead = lead_of(&server_dir, "priya");

    // Without --click-to-call the headless client has no way to call.
    let err = failed(&leadline(&priya, &["call", &lead], "").await);
    assert!(err.contains("--click-to-call"), "{err}");
    // A lead the cache does not have: said so, and the server is not asked.
    let err = failed(
        &leadline(
            &priya,
            &["call", &lead_of(&server_dir, "arjun"), "--click-to-call"],
            "",
        )
        .await,
    );
    assert!(err.contains("not in the local cache"), "{err}");
    // Arjun has no agent number.
    let arjuns = lead_of(&server_dir, "arjun");
    let err = failed(&leadline(&arjun, &["call", &arjuns, "--click-to-call"], "").await);
    assert!(err.contains("ask an admin to set your agent number"), "{err}");
    assert!(ok(&leadline(&arjun, &["unlogged"], "").await).contains("0 call(s)"));
    assert!(fake.requests().is_empty());

    // Priya calls: her phone rings first; the call waits for its wrap-up.
    let out = ok(&leadline(&priya, &["call", &lead, "--click-to-call"], "").await);
    assert!(out.contains("your phone rings first"), "{out}");
    let request = fake.requests().pop().unwrap();
    let call_log_id = request.field("CustomField").unwrap().to_owned();
    assert!(
        out.contains(&format!("call {call_log_id} (provider call {}", request.call_sid)),
        "{out}"
    );
    assert!(out.contains(&format!("leadline wrap-up {call_log_id}")), "{out}");
    let drafts: serde_json::Value =
        serde_json::from_str(&ok(&leadline(&priya, &["unlogged", "--json"], "").await)).unwrap();
    assert_eq!(drafts.as_array().unwrap().len(), 1);
    assert_eq!(drafts[0]["id"], call_log_id.as_str());
    assert_eq!(drafts[0]["via"], "click_to_call");
    assert_eq!(drafts[0]["provider_call_id"], request.call_sid.as_str());
    assert_eq!(drafts[0]["lead_id"], lead.as_str());

    // Exotel reports the call; the telecaller wraps up and syncs: one log with both.
    let deliveries = fake.wait_for_deliveries(1, Duration::from_secs(10)).await;
    assert_eq!(deliveries[0].result, Ok(200));
    let err = failed(&leadline(&priya, &["wrap-up", &call_log_id, "--disposition", "no-such"], "").await);
    assert!(err.contains("unknown disposition"), "{err}");
    let follow_up = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let out = ok(&leadline(
        &priya,
        &[
            "wrap-up",
            &call_log_id,
            "--disposition",
            "interested",
            "--notes",
            "visiting Saturday",
            "--follow-up",
            &follow_up,
        ],
        "",
    )
    .await);
    assert_eq!(out.trim(), call_log_id);
    ok(&leadline(&priya, &["sync"], "").await);
    let (count, duration, recording, sid): (i64, i64, Option<String>, Option<String>) =
        rusqlite::Connection::open(server_dir.join("leadline-server.sqlite3"))
            .unwrap()
            .query_row(
                "SELECT count(*), max(duration_s), max(recording_url), max(provider_call_id)
                 FROM call_logs WHERE id = ?1",
                [&call_log_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
    assert_eq!(count, 1);
    assert_eq!(duration, 37);
    assert_eq!(recording, Some(fake.recording_url(&request.call_sid)));
    assert_eq!(sid, Some(request.call_sid.clone()));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(
            &leadline(&priya, &["lead", "show", &lead, "--json"], "").await
        ))
        .unwrap();
    let call = shown["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == call_log_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(call["notes"], "visiting Saturday");
    assert_eq!(call["duration_s"], 37);
    assert!(ok(&leadline(&priya, &["unlogged"], "").await).contains("0 call(s)"));

    // The server goes away: a clear offline message, nothing drafted.
    server.stop().await.unwrap();
    let err = failed(&leadline(&priya, &["call", &lead, "--click-to-call"], "").await);
    assert!(
        err.contains("cannot reach the server") && err.contains("click-to-call needs the server"),
        "{err}"
    );
    assert!(ok(&leadline(&priya, &["unlogged"], "").await).contains("0 call(s)"));
    fake.stop().await;
}
