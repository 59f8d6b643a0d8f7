//! In-app updates end to end, minus the install: a real leadline-server serves a manifest and a package
//! signed with a throwaway minisign key (made by the Tauri CLI, `tauri signer`, as releases are); the
//! updater plugin, on a mock app trusting that key, finds the update, downloads it and verifies it. A
//! tampered package, a signature by another key, or a signature made for another version is refused; a
//! release that is not newer is not offered.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use leadline_desktop::updater::{self, CheckError};
use leadline_server::{RunningServer, ServeConfig};
use serde_json::json;

const PACKAGE: &str = "Leadline_99.0.0_amd64.deb";

/// The Tauri CLI of the UI's devDependencies.
fn tauri_cli() -> PathBuf {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/.bin/tauri");
    assert!(
        cli.exists(),
        "{} is missing: run `npm ci` in ui/ (scripts/setup.sh does)",
        cli.display()
    );
    cli
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A throwaway key pair without a password: (private key file, public key as tauri.conf.json takes it).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.key"));
    run(Command::new(tauri_cli())
        .args(["signer", "generate", "--ci", "-p", "", "-w"])
        .arg(&key));
    let public = std::fs::read_to_string(dir.join(format!("{name}.key.pub"))).unwrap();
    (key, public.trim().to_owned())
}

/// Signs `file` with `key` for `version`; writes and answers `<file>.sig`.
fn sign(key: &Path, file: &Path, version: &str) -> String {
    run(Command::new(tauri_cli())
        .args(["signer", "sign", "-p", "", "--app-version", version, "-f"])
        .arg(key)
        .arg(file)
        .env_remove("TAURI_SIGNING_PRIVATE_KEY"));
    std::fs::read_to_string(format!("{}.sig", file.display()))
        .unwrap()
        .trim()
        .to_owned()
}

fn publish(dir: &Path, version: &str) {
    std::fs::write(
        dir.join("latest.json"),
        json!({
            "version": version,
            "notes": "Faster search",
            "pub_date": "2026-11-26T10:00:00Z",
            "platforms": {"linux-x86_64": {"url": PACKAGE}}
        })
        .to_string(),
    )
    .unwrap();
}

async fn server(data: &Path, updates: &Path) -> RunningServer {
    leadline_server::start(&ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some("updater-test-secret-0123456789abcdef".into()),
        updates_dir: Some(updates.to_owned()),
        ..ServeConfig::new(data)
    })
    .await
    .unwrap()
}

/// A mock app (no window system) with the updater plugin trusting `pubkey` and requiring the signed
/// version, as tauri.conf.json configures the real one.
fn app(pubkey: &str) -> tauri::App<tauri::test::MockRuntime> {
    let mut context = tauri::test::mock_context(tauri::test::noop_assets());
    context.config_mut().plugins.0.insert(
        "updater".into(),
        json!({"pubkey": pubkey, "requireSignedVersion": true}),
    );
    tauri::test::mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(context)
        .unwrap()
}

fn refused(result: Result<Option<updater::Downloaded>, CheckError>, what: &str) {
    match result {
        Err(e) => assert!(
            e.is_bad_signature(),
            "{what}: refused, but not for its signature: {e}"
        ),
        Ok(found) => panic!("{what}: not refused: {found:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_update_is_found_and_verified_and_a_forged_one_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let updates = tmp.path().join("updates");
    std::fs::create_dir_all(&updates).unwrap();
    let (release_key, release_pub) = key_pair(tmp.path(), "release");
    let (other_key, _) = key_pair(tmp.path(), "other");
    let package = updates.join(PACKAGE);
    let bytes: Vec<u8> = (0..256 * 1024u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(&package, &bytes).unwrap();
    sign(&release_key, &package, "99.0.0");
    publish(&updates, "99.0.0");
    let server = server(&tmp.path().join("data"), &updates).await;
    let base = server.base_url();
    let app = app(&release_pub);
    let handle = app.handle();

    // Found, downloaded, verified.
    let found = updater::fetch(handle, &base).await.unwrap().expect("an update");
    assert_eq!(found.update.version, "99.0.0");
    assert_eq!(found.update.body.as_deref(), Some("Faster search"));
    assert_eq!(found.bytes, bytes);

    // The package changed after it was signed (one byte).
    let mut tampered = bytes.clone();
    tampered[1000] ^= 0x01;
    std::fs::write(&package, &tampered).unwrap();
    refused(updater::fetch(handle, &base).await, "a tampered package");

    // Signed by a key the app does not trust.
    std::fs::write(&package, &bytes).unwrap();
    sign(&other_key, &package, "99.0.0");
    refused(updater::fetch(handle, &base).await, "another key's signature");

    // The release key's signature of an older release, offered as 99.0.0 (a replayed package).
    sign(&release_key, &package, "98.0.0");
    refused(
        updater::fetch(handle, &base).await,
        "a signature for another version",
    );

    // Not newer than the app (0.1.0): nothing offered, nothing downloaded.
    sign(&release_key, &package, "0.1.0");
    publish(&updates, "0.1.0");
    assert!(updater::fetch(handle, &base).await.unwrap().is_none());

    // Signed again properly: found again.
    sign(&release_key, &package, "99.0.0");
    publish(&updates, "99.0.0");
    assert!(updater::fetch(handle, &base).await.unwrap().is_some());
    server.stop().await.unwrap();
}
