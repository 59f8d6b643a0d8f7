//! The headless client against a real server process on a real SQLite file with the demo data:
//! sign in, sync, list exactly the telecaller's leads; and the bad-input paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use leadline_e2e::{DEMO_PASSWORD, DEMO_USER, DemoServer, built_binary};
use leadline_model::Lead;

fn leadline(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(built_binary("leadline", "leadline-cli"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        // The cache key in the data dir, never in the developer's OS keyring.
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
        .expect("write stdin");
    child.wait_with_output().expect("leadline output")
}

/// `leadline login`, the password on standard input.
fn login(dir: &Path, server: &str, user: &str, stdin: &str) -> Output {
    leadline(
        dir,
        &["login", "--server", server, "--user", user, "--password-stdin"],
        stdin,
    )
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "leadline failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A failure with a message, not a crash (a Rust panic exits with 101).
fn failed(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a clean failure, got {}",
        out.status
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn leads_json(dir: &Path, extra: &[&str]) -> Vec<Lead> {
    let mut args = vec!["leads", "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(leadline(dir, &args, ""))).expect("leads --json is a JSON array of leads")
}

#[test]
fn login_sync_and_list_exactly_the_telecallers_leads() {
    let mut server = DemoServer::start();
    let client = tempfile::tempdir().unwrap();
    let dir = client.path();

    let out = ok(login(dir, &server.url, DEMO_USER, &format!("{DEMO_PASSWORD}\n")));
    assert!(out.contains("Priya Sharma"), "{out}");
    let out = ok(leadline(dir, &["sync"], ""));
    assert!(out.contains("synced"), "{out}");

    let expected: BTreeSet<String> = server.assigned_lead_ids(DEMO_USER).into_iter().collect();
    assert!(
        expected.len() > 100,
        "the demo gives priya a real workload, got {}",
        expected.len()
    );
    let leads = leads_json(dir, &[]);
    let got: BTreeSet<String> = leads.iter().map(|l| l.id.to_string()).collect();
    assert_eq!(got.len(), leads.len(), "no lead is listed twice");
    assert_eq!(got, expected, "the cache holds exactly priya's leads");
    assert!(leads.iter().all(|l| l.phone.as_str().starts_with("+91")));

    // A second sync brings nothing new and duplicates nothing.
    ok(leadline(dir, &["sync"], ""));
    assert_eq!(leads_json(dir, &[]).len(), expected.len());

    // Phone-aware search from the local cache: the first five digits of a national number find it.
    let target = &leads[leads.len() / 2];
    let prefix = &target.phone.as_str()[3..8];
    let found = leads_json(dir, &["--search", prefix]);
    assert!(
        found.iter().any(|l| l.id == target.id),
        "searching {prefix} finds {}",
        target.phone
    );
    assert!(found.iter().all(|l| l.phone.as_str()[3..].starts_with(prefix)));
    let first_name = target.name.split_whitespace().next().unwrap();
    let by_name = leads_json(dir, &["--search", first_name]);
    assert!(by_name.iter().any(|l| l.id == target.id));

    let status: serde_json::Value =
        serde_json::from_str(&ok(leadline(dir, &["status", "--json"], ""))).unwrap();
    assert_eq!(status["leads"], expected.len());
    assert_eq!(status["user"]["username"], DEMO_USER);
    assert!(status["last_sync_at"].is_string());

    // The server goes away: sync says so clearly, and the cache still answers offline.
    server.stop();
    let err = failed(&leadline(dir, &["sync"], ""));
    assert!(err.contains("cannot reach the server"), "{err}");
    assert_eq!(leads_json(dir, &[]).len(), expected.len());
}

#[test]
fn a_wrong_password_is_a_clear_error_and_signs_nobody_in() {
    let server = DemoServer::start();
    let client = tempfile::tempdir().unwrap();
    let dir = client.path();
    let err = failed(&login(dir, &server.url, DEMO_USER, "not-the-password\n"));
    assert!(err.contains("wrong username or password"), "{err}");
    let err = failed(&login(dir, &server.url, "nobody", &format!("{DEMO_PASSWORD}\n")));
    assert!(err.contains("wrong username or password"), "{err}");
    assert!(!dir.join("session.json").exists());
    let err = failed(&leadline(dir, &["sync"], ""));
    assert!(err.contains("not signed in"), "{err}");
}

#[test]
fn a_local_database_this_key_cannot_read_is_reported_and_left_alone() {
    let client = tempfile::tempdir().unwrap();
    let dir = client.path();
    let db = dir.join("leadline.sqlite3");
    let junk = b"this is not an SQLite database, it is a shopping list: gold, silver, pearls\n".repeat(200);
    std::fs::write(&db, &junk).unwrap();
    let err = failed(&leadline(dir, &["leads"], ""));
    // Nothing shows this device's key made the file (it is someone else's, or not ours at all): refused,
    // never moved aside or replaced (crates/store/tests/crypt.rs covers real damage, which is recovered).
    assert!(
        err.contains("cannot be decrypted") && err.contains("leadline.sqlite3"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        junk,
        "the damaged file is kept for recovery"
    );
}
