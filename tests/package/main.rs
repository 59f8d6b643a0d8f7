//! End-to-end: the .deb the Tauri bundler built (`scripts/package --debug --bundles deb`) installs with
//! `dpkg -i` (its Depends met by this machine), puts the binary, a valid desktop entry and the icons where
//! a desktop looks for them, the INSTALLED app starts under Xvfb against a real demo server and shows its
//! first screen, and `dpkg -r` takes it all away again.
//!
//! Installing needs root: the test runs `dpkg` directly as root (CI), otherwise through `sudo -n`. When no
//! .deb was built it says so and passes without checking anything (scripts/test always builds one first).
//! A Leadline package installed before the test is replaced and then removed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use leadline_e2e::{DemoServer, Guard, desktop_app_env, target_dir, xvfb};

const PACKAGE: &str = "leadline";
const BINARY: &str = "/usr/bin/leadline-desktop";

/// The newest .deb under `<target>/debug/bundle/deb` (or `LEADLINE_DEB`).
fn built_deb() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LEADLINE_DEB") {
        return Some(PathBuf::from(path));
    }
    let dir = target_dir().join("debug/bundle/deb");
    std::fs::read_dir(&dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// `args` as root: directly when we are root, else through `sudo -n` (no password prompt in a test).
fn as_root(args: &[&str]) -> Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut cmd = if root {
        Command::new(args[0])
    } else {
        let mut c = Command::new("sudo");
        c.arg("-n").arg(args[0]);
        c
    };
    cmd.args(&args[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

fn ok(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Removes the package when dropped, so a failing check never leaves it installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if installed() {
            let _ = as_root(&["dpkg", "-r", PACKAGE]);
        }
    }
}

/// `Key=value` of the desktop entry's `[Desktop Entry]` group.
fn entry_value(entry: &str, key: &str) -> Option<String> {
    entry
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_owned)
}

#[test]
fn the_deb_installs_starts_and_removes_cleanly() {
    let Some(deb) = built_deb() else {
        eprintln!(
            "SKIPPED: no .deb under {} — build one with `scripts/package --debug --bundles deb` \
             (scripts/test does)",
            target_dir().join("debug/bundle/deb").display()
        );
        return;
    };
    eprintln!("installing {}", deb.display());
    let control = ok(
        "dpkg-deb --field",
        &Command::new("dpkg-deb")
            .arg("--field")
            .arg(&deb)
            .output()
            .unwrap(),
    );
    for needed in [
        "libwebkit2gtk-4.1-0",
        "libgtk-3-0",
        "libayatana-appindicator3-1",
        "libssl3",
    ] {
        assert!(control.contains(needed), "Depends lacks {needed}:\n{control}");
    }

    // dpkg (not apt) so that a Depends this machine cannot meet fails here instead of being fetched.
    let guard = Installed;
    ok("dpkg -i", &as_root(&["dpkg", "-i", deb.to_str().unwrap()]));
    assert!(installed(), "dpkg -i succeeded but the package is not installed");

    let files = ok(
        "dpkg -L",
        &Command::new("dpkg").args(["-L", PACKAGE]).output().unwrap(),
    );
    let files: Vec<&str> = files.lines().collect();
    assert!(files.contains(&BINARY), "{BINARY} not in the package: {files:?}");
    let entry_path = files
        .iter()
        .find(|f| f.starts_with("/usr/share/applications/") && f.ends_with(".desktop"))
        .unwrap_or_else(|| panic!("no desktop entry in {files:?}"));
    let entry = std::fs::read_to_string(entry_path).unwrap();
    if let Ok(validate) = which("desktop-file-validate") {
        let out = Command::new(validate).arg(entry_path).output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !said.contains("error:"),
            "desktop-file-validate {entry_path}: {said}"
        );
    } else {
        eprintln!(
            "desktop-file-validate not installed (desktop-file-utils): the entry's keys are checked by hand"
        );
    }
    assert_eq!(
        entry_value(&entry, "Type").as_deref(),
        Some("Application"),
        "{entry}"
    );
    assert_eq!(
        entry_value(&entry, "Name").as_deref(),
        Some("Leadline"),
        "{entry}"
    );
    let exec = entry_value(&entry, "Exec").unwrap_or_else(|| panic!("no Exec in {entry}"));
    let program = exec.split_whitespace().next().unwrap_or_default();
    let program = if program.starts_with('/') {
        PathBuf::from(program)
    } else {
        Path::new("/usr/bin").join(program)
    };
    assert_eq!(
        program,
        Path::new(BINARY),
        "Exec={exec} does not start the installed binary"
    );
    let icon = entry_value(&entry, "Icon").unwrap_or_else(|| panic!("no Icon in {entry}"));
    let icons: Vec<&&str> = files
        .iter()
        .filter(|f| f.starts_with("/usr/share/icons/hicolor/") && f.ends_with(&format!("/apps/{icon}.png")))
        .collect();
    assert!(
        icons.iter().any(|f| f.contains("/128x128/")) && icons.iter().any(|f| f.contains("/32x32/")),
        "Icon={icon}: the hicolor theme lacks its 32x32 and 128x128 sizes: {files:?}"
    );
    for f in files
        .iter()
        .filter(|f| f.ends_with(".png") || f.ends_with(".desktop"))
        .chain([&BINARY])
    {
        assert!(Path::new(f).is_file(), "{f} is listed but not on disk");
    }

    starts_and_shows_its_first_screen();

    ok("dpkg -r", &as_root(&["dpkg", "-r", PACKAGE]));
    assert!(!installed(), "dpkg -r left the package installed");
    for f in [BINARY, entry_path] {
        assert!(!Path::new(f).exists(), "{f} is still there after dpkg -r");
    }
    drop(guard);
}

/// The installed binary, under Xvfb and a D-Bus session of its own, signed in to a demo server: it
/// reports the lead list shown (`screen ready screen=Leads`, logged once the rows are painted).
fn starts_and_shows_its_first_screen() {
    let server = DemoServer::start();
    let home = tempfile::tempdir().unwrap();
    let (mut screen, display) = xvfb();
    let h = home.path();
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", BINARY, "--screen=leads"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    desktop_app_env(&mut cmd, &display, h, &server.url);
    cmd.env("LEADLINE_STORE_KEY", "file")
        .env("LEADLINE_AUDIO", "silent")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let mut app = Guard::spawn("leadline-desktop (installed)", &mut cmd);
    let mut version = None;
    app.read_stdout_line_matching(Duration::from_secs(90), |line| {
        if line.contains("starting") && line.contains("version=") {
            version = line.split("version=").nth(1).map(|v| {
                v.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_owned()
            });
        }
        (line.contains("screen ready") && line.contains("screen=Leads")).then_some(())
    })
    .unwrap_or_else(|e| panic!("the installed app never showed the lead list: {e}"));
    assert_eq!(
        version.as_deref(),
        Some(env!("CARGO_PKG_VERSION")),
        "the installed app logged another version"
    );
    app.kill().unwrap();
    screen.kill().unwrap();
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
