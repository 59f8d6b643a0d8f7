//! `leadline-bench app`: the desktop app's cold start to an interactive lead list, with 100,000 leads in its
//! cache, and its memory once the list is up.
//!
//! The real app binary (release build) on a private X server (Xvfb), a private D-Bus session with an
//! unlocked GNOME keyring (where the app keeps its cache key and session tokens), against a server in this
//! process holding one telecaller's 100,000 leads:
//!
//! 1. First start: the app signs in from the environment and syncs every lead into its cache (the time is
//!    printed, not a target). It is then stopped.
//! 2. Cold starts, alternating with the peer: `leadline-desktop --screen=leads` with the session restored
//!    from the keyring. Timed from the process's spawn to the log line the UI causes once the lead list has
//!    shown its first rows (`screen ready screen=Leads`, after the browser painted them; see
//!    `useReadyMark`). The app's own figure (since `main`) is printed too. Memory: the resident set of the
//!    app and every process under it (WebKit's web and network processes), 2 s after the list showed.
//! 3. The peer: the same binary on an empty data folder, no session: to its sign-in screen. The ratio is
//!    what 100,000 cached leads and a signed-in start add to the bare start of a Tauri + WebKitGTK window.
//!
//! Both starts find the files in the OS page cache (as a second start of the day does); a first start after
//! boot also reads them from disk.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::emit;
use crate::stats::{median, ratio};
use crate::sync::{SeededServer, seeded_server};

/// The run's shape.
#[derive(Debug, Clone)]
pub struct Options {
    pub leads: u32,
    pub runs: u32,
    pub seed_cache: Option<PathBuf>,
}

/// The keyring's password (a throwaway keyring in the run's own home).
const KEYRING_UNLOCK: &str = "leadline-bench-unlock";
/// The log message the shell writes when the UI reports a screen shown (`home::SCREEN_READY`).
const SCREEN_READY: &str = "screen ready";
const START_WITHIN: Duration = Duration::from_secs(120);
const FIRST_SYNC_WITHIN: Duration = Duration::from_secs(900);

pub fn run(opts: Options) -> Result<()> {
    let app_bin = desktop_binary()?;
    for tool in ["Xvfb", "dbus-daemon", "gnome-keyring-daemon"] {
        which(tool).with_context(|| {
            format!("{tool} is needed (Debian: xvfb, dbus, gnome-keyring; scripts/setup.sh installs them)")
        })?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let SeededServer {
        server,
        user,
        _dir: _keep,
    } = rt.block_on(seeded_server("app", opts.leads, opts.seed_cache.as_deref()))?;
    let url = server.base_url();

    let home = tempfile::tempdir()?;
    let display = Xvfb::start()?;
    let bus = Bus::start(home.path())?;
    let desk = Desk {
        app_bin,
        home: home.path().to_owned(),
        display: display.name.clone(),
        bus: bus.address.clone(),
    };
    let data = home.path().join("app");
    let empty = home.path().join("empty");

    // 1. Sign in and sync everything, as on the first morning.
    let t = Instant::now();
    let mut first = desk.spawn(
        &data,
        &[],
        &[
            ("LEADLINE_SERVER_URL", url.as_str()),
            ("LEADLINE_USER", user.as_str()),
            ("LEADLINE_PASSWORD", "bench-password"),
        ],
    )?;
    let mut pulled = 0_u64;
    while pulled < u64::from(opts.leads) {
        let line = first.next_line(FIRST_SYNC_WITHIN.saturating_sub(t.elapsed()))?;
        if line.contains(" pulled ") {
            pulled += field(&line, "leads").unwrap_or(0.0) as u64;
        }
    }
    let first_sync_s = t.elapsed().as_secs_f64();
    // Let the round finish its bookkeeping before the app is stopped.
    std::thread::sleep(Duration::from_secs(2));
    first.stop()?;
    emit(
        &json!({"bench": "app", "phase": "first-start", "leads": pulled, "sign_in_and_sync_s": first_sync_s}),
    );

    // 2 and 3, alternating.
    let mut ours = Vec::new();
    let mut ours_in_app = Vec::new();
    let mut peer = Vec::new();
    let mut rss = Vec::new();
    let mut app_rss = Vec::new();
    for run in 0..=opts.runs {
        let _ = std::fs::remove_dir_all(&empty);
        let base = desk.cold_start(&empty, "SignIn", None)?;
        let start = desk.cold_start(&data, "Leads", Some(Duration::from_secs(2)))?;
        let warm_up = run == 0;
        emit(&json!({
            "bench": "app", "run": run, "warm_up": warm_up,
            "cold_start_ms": start.wall_ms, "in_app_ms": start.in_app_ms,
            "rss_mib": start.rss_mib, "app_rss_mib": start.app_rss_mib, "processes": start.processes,
            "peer_sign_in_ms": base.wall_ms, "ui_marks": start.ui,
        }));
        if !warm_up {
            ours.push(start.wall_ms);
            ours_in_app.push(start.in_app_ms);
            peer.push(base.wall_ms);
            rss.push(start.rss_mib);
            app_rss.push(start.app_rss_mib);
        }
    }
    drop(bus);
    drop(display);
    rt.block_on(server.stop())?;

    let cold = median(&mut ours);
    let base = median(&mut peer);
    emit(&json!({
        "bench": "app",
        "cold_start_ms": cold.round(),
        "rss_mib": median(&mut rss).round(),
        "leads": pulled,
        "runs": ours.len(),
        "in_app_ms": median(&mut ours_in_app).round(),
        "app_rss_mib": median(&mut app_rss).round(),
        "peer_sign_in_ms": base.round(),
        "vs_peer_sign_in": ratio(cold, base),
        "sign_in_and_sync_s": (first_sync_s * 10.0).round() / 10.0,
    }));
    Ok(())
}

/// The desktop binary next to this one, built first when this runs under `cargo run` (an up-to-date build
/// costs a second).
fn desktop_binary() -> Result<PathBuf> {
    let dir = std::env::current_exe()?
        .parent()
        .context("the bench binary has no folder")?
        .to_owned();
    if let Some(cargo) = std::env::var_os("CARGO") {
        let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("release");
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "leadline-desktop", "--bin", "leadline-desktop"]);
        if profile == "release" {
            build.arg("--release");
        }
        let status = build.stdout(Stdio::null()).status()?;
        if !status.success() {
            bail!("building leadline-desktop failed ({status})");
        }
    }
    let bin = dir.join("leadline-desktop");
    if !bin.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p leadline-desktop` first",
            bin.display()
        );
    }
    Ok(bin)
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// A child process killed when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private X server; `-displayfd` makes it pick a free display and say which.
struct Xvfb {
    name: String,
    _child: Reaped,
}

impl Xvfb {
    fn start() -> Result<Self> {
        let mut child = Reaped(
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("starting Xvfb")?,
        );
        let stdout = child.0.stdout.take().context("Xvfb's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let n = line.trim();
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
            bail!("Xvfb did not say its display (got {line:?})");
        }
        Ok(Self {
            name: format!(":{n}"),
            _child: child,
        })
    }
}

/// A private D-Bus session bus with an unlocked GNOME keyring on it (its Secret Service), as on a desktop.
struct Bus {
    address: String,
    _daemon: Reaped,
}

impl Bus {
    fn start(home: &Path) -> Result<Self> {
        let mut daemon = Reaped(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .spawn()
                .context("starting dbus-daemon")?,
        );
        let stdout = daemon.0.stdout.take().context("dbus-daemon's stdout")?;
        let mut address = String::new();
        BufReader::new(stdout).read_line(&mut address)?;
        let address = address.trim().to_owned();
        if address.is_empty() {
            bail!("dbus-daemon did not say its address");
        }
        // The keyring daemon forks and stays on the bus; it leaves when the bus goes.
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .envs(home_env(home))
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting gnome-keyring-daemon")?;
        if let Some(mut stdin) = keyring.stdin.take() {
            use std::io::Write as _;
            stdin.write_all(KEYRING_UNLOCK.as_bytes())?;
        }
        keyring.wait()?;
        Ok(Self {
            address,
            _daemon: daemon,
        })
    }
}

/// HOME and the XDG folders, all under `home`.
fn home_env(home: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("HOME", home.to_owned()),
        ("XDG_DATA_HOME", home.join(".local/share")),
        ("XDG_CONFIG_HOME", home.join(".config")),
        ("XDG_CACHE_HOME", home.join(".cache")),
        ("XDG_RUNTIME_DIR", home.to_owned()),
    ]
}

/// Where and how the app is started.
struct Desk {
    app_bin: PathBuf,
    home: PathBuf,
    display: String,
    bus: String,
}

/// One cold start, measured.
struct Start {
    wall_ms: f64,
    in_app_ms: f64,
    rss_mib: f64,
    app_rss_mib: f64,
    processes: usize,
    /// The UI's start-up marks (`name=ms …` since the page began to load), as the app logged them.
    ui: Option<String>,
}

impl Desk {
    fn spawn(&self, data: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<RunningApp> {
        let mut command = Command::new(&self.app_bin);
        command
            .args(args)
            .envs(home_env(&self.home))
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("LEADLINE_DATA_DIR", data)
            .env("LEADLINE_AUDIO", "silent")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            // No accessibility bus or GPU under Xvfb; keep WebKitGTK from looking for them.
            .env("NO_AT_BRIDGE", "1")
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env_remove("LEADLINE_SERVER_URL")
            .env_remove("LEADLINE_USER")
            .env_remove("LEADLINE_PASSWORD")
            // The log's console copy goes to stdout (tracing's default); stderr keeps GTK's and WebKit's
            // own messages.
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let started = Instant::now();
        let mut child = command.spawn().context("starting leadline-desktop")?;
        let log = child.stdout.take().context("the app's stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(log).lines() {
                let Ok(line) = line else { break };
                if tx.send(strip_ansi(&line)).is_err() {
                    break;
                }
            }
        });
        Ok(RunningApp {
            child: Some(child),
            lines,
            started,
            data: data.to_owned(),
            tail: Vec::new(),
        })
    }

    /// Starts the app on `data` and waits for `screen` to be shown; `settle` later, measures its memory.
    fn cold_start(&self, data: &Path, screen: &str, settle: Option<Duration>) -> Result<Start> {
        let mut app = self.spawn(data, &["--screen=leads"], &[])?;
        let wanted = format!("screen={screen}");
        let (wall_ms, in_app_ms, ui) = loop {
            let line = app.next_line(START_WITHIN.saturating_sub(app.started.elapsed()))?;
            // The app's own start-up milestones, for reading where the time goes (stderr).
            if line.contains("since_start_ms") {
                eprintln!("app {}: {}", data.display(), line);
            }
            if line.contains(SCREEN_READY) && line.contains(&wanted) {
                break (
                    app.started.elapsed().as_secs_f64() * 1e3,
                    field(&line, "since_start_ms").unwrap_or(f64::NAN),
                    quoted_field(&line, "ui"),
                );
            }
        };
        if let Some(settle) = settle {
            std::thread::sleep(settle);
        }
        let pid = app.pid()?;
        let tree = process_tree(pid);
        let rss_mib = tree.iter().filter_map(|p| rss_kib(*p)).sum::<u64>() as f64 / 1024.0;
        let app_rss_mib = rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
        app.stop()?;
        Ok(Start {
            wall_ms,
            in_app_ms,
            rss_mib,
            app_rss_mib,
            processes: tree.len(),
            ui,
        })
    }
}

/// The app while it runs: its log lines as they come.
struct RunningApp {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    started: Instant,
    data: PathBuf,
    /// The last lines read, for the error when the wanted one never comes.
    tail: Vec<String>,
}

impl RunningApp {
    fn pid(&self) -> Result<u32> {
        Ok(self.child.as_ref().context("the app has stopped")?.id())
    }

    fn next_line(&mut self, within: Duration) -> Result<String> {
        match self.lines.recv_timeout(within) {
            Ok(line) => {
                if self.tail.len() >= 20 {
                    self.tail.remove(0);
                }
                self.tail.push(line.clone());
                Ok(line)
            }
            Err(e) => bail!(
                "the app said nothing more ({e}) after {:?}; its last lines:\n{}",
                self.started.elapsed(),
                self.tail.join("\n")
            ),
        }
    }

    /// SIGTERM, then SIGKILL after 5 s. A signal skips the app's clean exit, so its run marker is removed
    /// here: the next start is not offered a crash report.
    fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match std::fs::remove_file(self.data.join("running")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The line without terminal colour codes (`ESC [ … letter`), which the log's console copy may carry.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip `[`, the parameters, and the final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `name=<number>` in a log line.
fn field(line: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse().ok())
}

/// The text of a quoted `name="…"` field of a log line.
fn quoted_field(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_owned())
}

/// `pid` and every process under it.
fn process_tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for task in tasks.flatten() {
                if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                    all.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
                }
            }
        }
        i += 1;
    }
    all.sort_unstable();
    all.dedup();
    all
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_read_from_a_log_line() {
        let line = "2026-11-26T17:20:00.1Z  INFO leadline_desktop::home: screen ready screen=Leads since_start_ms=812.5";
        assert_eq!(field(line, "since_start_ms"), Some(812.5));
        assert_eq!(field(line, "start_ms"), None);
        assert_eq!(field("pulled pages=3 leads=1000 calls=0", "leads"), Some(1000.0));
        let coloured = "\u{1b}[32m INFO\u{1b}[0m pulled \u{1b}[3mleads\u{1b}[0m\u{1b}[2m=\u{1b}[0m100000";
        assert_eq!(field(&strip_ansi(coloured), "leads"), Some(100_000.0));
        let ready = r#"home: screen ready screen=Leads since_start_ms=650 ui="html=20 painted=251""#;
        assert_eq!(quoted_field(ready, "ui").as_deref(), Some("html=20 painted=251"));
        assert_eq!(quoted_field(ready, "screen"), None);
    }
}
