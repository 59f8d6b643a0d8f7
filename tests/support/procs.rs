//! Child processes for end-to-end tests: each in its own process group, killed with all its descendants
//! when its [`Guard`] drops (tauri-driver starts WebKitWebDriver, which starts the app).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

pub struct Guard {
    name: &'static str,
    child: Child,
    /// Lines of the child's stdout, read on a thread so a chatty child never blocks on a full pipe.
    stdout: mpsc::Receiver<String>,
}

impl Guard {
    /// Starts `cmd` in a new process group, stdout piped to the guard, stderr inherited (shown on failure).
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{name}] {line}");
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining so the child never blocks.
                    continue;
                }
            }
        });
        Self {
            name,
            child,
            stdout: rx,
        }
    }

    /// The first stdout line for which `pick` returns `Some`, within `within`.
    pub fn read_stdout_line_matching<T>(
        &mut self,
        within: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = pick(&line) {
                        return Ok(found);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{} printed nothing expected within {within:?}",
                        self.name
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self
                        .child
                        .wait()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|e| e.to_string());
                    return Err(format!("{} closed its output (exit: {status})", self.name));
                }
            }
        }
    }

    /// SIGKILLs the whole process group at once (no chance to clean up) and reaps the child.
    pub fn kill_now(&mut self) -> std::io::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let pgid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = killpg(pgid, Signal::SIGKILL);
        self.child.wait().map(|_| ())
    }

    /// Stops the whole process group and reaps the child.
    pub fn kill(&mut self) -> std::io::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let pgid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = killpg(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                // Descendants that ignored SIGTERM go now.
                let _ = killpg(pgid, Signal::SIGKILL);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        self.child.wait().map(|_| ())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            eprintln!("cannot stop {}: {e}", self.name);
        }
    }
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on port {port} after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `name` on PATH or in ~/.cargo/bin, or a failure that says how to install it.
pub fn find_tool(name: &str, install: &str) -> PathBuf {
    let home_bin = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(home_bin)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed (not on PATH nor in ~/.cargo/bin): {install}"))
}

/// A private X server (Xvfb, 1280x800, 24 bits) on a free display it picks itself (`-displayfd`); stopped
/// when the guard drops. Answers the guard and the display (`:N`).
pub fn xvfb() -> (Guard, String) {
    let xvfb = find_tool("Xvfb", "apt-get install xvfb");
    let mut display = Guard::spawn(
        "Xvfb",
        Command::new(&xvfb).args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ]),
    );
    let number = display
        .read_stdout_line_matching(Duration::from_secs(30), |line| {
            let n = line.trim();
            (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then(|| n.to_owned())
        })
        .expect("Xvfb printed its display number");
    (display, format!(":{number}"))
}

/// The environment the desktop app runs in under test: `display`, a home of its own (`HOME`, the XDG
/// folders, the app's data in `home/app`), signed in to `server_url` as the demo user, and WebKitGTK told
/// there is no accessibility bus and no GPU.
pub fn desktop_app_env(cmd: &mut Command, display: &str, home: &Path, server_url: &str) {
    cmd.env("DISPLAY", display)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_RUNTIME_DIR", home)
        .env("LEADLINE_DATA_DIR", home.join("app"))
        .env("LEADLINE_SERVER_URL", server_url)
        .env("LEADLINE_USER", crate::DEMO_USER)
        .env("LEADLINE_PASSWORD", crate::DEMO_PASSWORD)
        .env("NO_AT_BRIDGE", "1")
        .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
}
