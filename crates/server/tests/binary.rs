//! The real `leadline-server` binary: `demo` seeds and reports, `serve` prints its address, answers
//! /healthz and sign-in, keeps its generated JWT secret private, and stops cleanly on SIGTERM.
//! On SQLite (the data directory's file), or on PostgreSQL (`DATABASE_URL`, a database of a throwaway
//! cluster) with `LEADLINE_TEST_BACKEND=postgres`.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use leadline_model::{LoginRequest, LoginResponse, Role};

const BIN: &str = env!("CARGO_BIN_EXE_leadline-server");

/// The `DATABASE_URL` of a new empty database when the suite runs on PostgreSQL; `None` on SQLite.
fn database_url() -> Option<String> {
    match std::env::var("LEADLINE_TEST_BACKEND").as_deref() {
        Ok("postgres") | Ok("postgresql") | Ok("pg") => {
            // The cluster's client is synchronous: keep it off the test's async runtime.
            let url = std::thread::spawn(|| {
                let cluster = leadline_server::pg_cluster::PgCluster::shared().expect("PostgreSQL cluster");
                cluster.create_database(&format!("binary_{}", std::process::id()))
            })
            .join()
            .unwrap()
            .expect("create database");
            Some(url)
        }
        _ => None,
    }
}

/// The binary with the test's database (and no PII keys from the environment: they live in the data
/// directory).
fn command(database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("LEADLINE_PII_KEYS")
        .env_remove("LEADLINE_PII_BLIND_KEY");
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd
}

fn demo(dir: &Path, database_url: Option<&str>) -> String {
    let out = command(database_url)
        .args(["demo", "--seed", "11", "--data-dir"])
        .arg(dir)
        .env("LEADLINE_LOG", "warn")
        .output()
        .expect("run demo");
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `serve` on a free port, logging to `log`; returns the child and its base URL from the stdout
/// line.
fn serve(dir: &Path, log: &Path, database_url: Option<&str>) -> (Child, String) {
    let log = std::fs::File::create(log).expect("log file");
    let mut child = command(database_url)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("LEADLINE_JWT_SECRET")
        .env("LEADLINE_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read stdout");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(!base.ends_with(":0"), "the real port is printed: {base}");
    (child, base)
}

fn terminate(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "server exit after SIGTERM: {status}");
}

async fn login(base: &str, username: &str) -> LoginResponse {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: username.into(),
            password: "leadline-demo".into(),
            device_id: None,
        })
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);
    res.json().await.expect("login json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_then_serve_then_sign_in() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let url = database_url();
    let url = url.as_deref();

    let first = demo(&dir, url);
    assert!(first.contains("seeded demo data"), "{first}");
    for (user, role) in [
        ("meera", "supervisor"),
        ("priya", "telecaller"),
        ("arjun", "telecaller"),
        ("kavya", "telecaller"),
        ("rohit", "telecaller"),
        ("divya", "telecaller"),
    ] {
        assert!(
            first.lines().any(|l| l.starts_with(user) && l.contains(role)),
            "{user} {role} missing from:\n{first}"
        );
    }
    assert!(
        first.contains("2000 leads") && first.contains("5000 call logs"),
        "{first}"
    );
    let second = demo(&dir, url);
    assert!(second.contains("already present"), "{second}");
    assert!(second.contains("2000 leads"), "{second}");

    let log = tmp.path().join("serve.log");
    let (child, base) = serve(&dir, &log, url);
    let secret = dir.join("jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "secret file mode {mode:o}");
    }
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let meera = login(&base, "meera").await;
    assert_eq!(meera.user.role, Role::Supervisor);
    assert_eq!(meera.user.team.as_deref(), Some("Bandra Showroom"));
    let refused = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: "meera".into(),
            password: "a-wrong-password".into(),
            device_id: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    terminate(child);

    // The log is JSON lines on stderr, and holds neither passwords nor tokens.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("signed in"), "{text}");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    for secret_text in ["leadline-demo", "a-wrong-password", meera.access_token.as_str()] {
        assert!(!text.contains(secret_text), "the log shows {secret_text:?}");
    }

    // A restart keeps the generated secret: the token still works.
    let secret_text = std::fs::read_to_string(&secret).unwrap();
    let (child, base) = serve(&dir, &log, url);
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), secret_text);
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/sync/pull?limit=1"))
        .bearer_auth(&meera.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    terminate(child);
}

fn run(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("LEADLINE_LOG", "warn")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leadline-server")
}

#[test]
fn archive_counts_moves_and_refuses_bad_ages() {
    let dir = tempfile::tempdir().unwrap();
    // The command on a SQLite data directory (the library test `archive` covers PostgreSQL).
    demo(dir.path(), None);
    let out = run(
        &[
            "archive",
            "--older-than",
            "30d",
            "--leads-older-than",
            "2w",
            "--dry-run",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let calls: u64 = text
        .split(" and ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(calls > 0, "{text}");

    let out = run(
        &["archive", "--older-than", "30d", "--leads-older-than", "2w"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(" and {calls} call logs")) || text.contains("archived"),
        "{text}"
    );
    let conn = rusqlite::Connection::open(leadline_server::db::db_path(dir.path())).unwrap();
    let archived: i64 = conn
        .query_row("SELECT count(*) FROM call_logs_archive", [], |r| r.get(0))
        .unwrap();
    assert!(archived as u64 >= calls, "{archived} < {calls}");
    // Nothing left to do the second time.
    let out = run(
        &["archive", "--older-than", "30d", "--leads-older-than", "2w"],
        dir.path(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("archived 0 closed leads (with their history) and 0 call logs"),
        "{text}"
    );

    for bad in ["soon", "0d", "6fortnights", "3"] {
        let out = run(&["archive", "--older-than", bad], dir.path());
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--older-than"), "{bad}: {err}");
    }
}
