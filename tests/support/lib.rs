//! Shared pieces of the end-to-end tests: where the built binaries are, child processes that are always
//! cleaned up, and a real `leadline-server` seeded with demo data on a free port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod http;
pub mod procs;
pub mod proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use procs::{Guard, desktop_app_env, find_tool, free_port, wait_for_port, xvfb};

/// The demo telecaller the tests sign in as, and the password of every demo user.
pub const DEMO_USER: &str = "priya";
pub const DEMO_PASSWORD: &str = "leadline-demo";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// A binary of the workspace, built beforehand by the test script (tests cannot build it themselves).
pub fn built_binary(name: &str, package: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first with `cargo build -p {package}` (with the same CARGO_TARGET_DIR)",
        path.display()
    );
    path
}

/// A real `leadline-server` on 127.0.0.1, on a temp data dir seeded with the demo data.
pub struct DemoServer {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    guard: Guard,
    /// More `serve` arguments, kept for [`DemoServer::restart`].
    extra: Vec<std::ffi::OsString>,
}

impl DemoServer {
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// The demo server that also hosts the desktop's signed updates from `dir` (`--updates-dir`).
    pub fn start_with_updates(dir: &Path) -> Self {
        Self::start_with(vec!["--updates-dir".into(), dir.as_os_str().to_owned()])
    }

    fn start_with(extra: Vec<std::ffi::OsString>) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let server = built_binary("leadline-server", "leadline-server");
        let seeded = Command::new(&server)
            .args(["demo", "--data-dir"])
            .arg(data_dir.path())
            .env("LEADLINE_LOG", "warn")
            .output()
            .expect("run leadline-server demo");
        assert!(
            seeded.status.success(),
            "demo seeding failed: {}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let (guard, url) = serve(data_dir.path(), "127.0.0.1:0", &extra);
        Self {
            url,
            data_dir,
            guard,
            extra,
        }
    }

    /// `127.0.0.1:<port>` the server listens on (the same after [`DemoServer::restart`]).
    pub fn addr(&self) -> SocketAddr {
        let hostport = self.url.trim_start_matches("http://").trim_end_matches('/');
        hostport
            .parse()
            .unwrap_or_else(|e| panic!("server url {}: {e}", self.url))
    }

    /// Kills the server with SIGKILL at once: no graceful shutdown, whatever it was doing is cut.
    pub fn kill(&mut self) {
        self.guard.kill_now().expect("SIGKILL leadline-server");
    }

    /// Starts the server again on the same data dir and the same port (clients keep their URL), after
    /// [`DemoServer::kill`] or [`DemoServer::stop`].
    pub fn restart(&mut self) {
        self.guard.kill_now().expect("stop leadline-server");
        let listen = self.addr().to_string();
        let (guard, url) = serve(self.data_dir.path(), &listen, &self.extra);
        assert_eq!(url, self.url, "the restarted server listens where it did");
        self.guard = guard;
    }

    /// Stops the server (its data stays until the value drops).
    pub fn stop(&mut self) {
        self.guard.kill().expect("stop leadline-server");
    }

    /// The server's SQLite file, opened read-only: the tests' independent view of what the server holds.
    pub fn db(&self) -> rusqlite::Connection {
        let db = self.data_dir.path().join("leadline-server.sqlite3");
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {} read-only: {e}", db.display()))
    }

    /// Ids of the leads the server assigns to `username`.
    pub fn assigned_lead_ids(&self, username: &str) -> Vec<String> {
        let conn = self.db();
        let mut stmt = conn
            .prepare(
                "SELECT id FROM leads WHERE assigned_to = (SELECT id FROM users WHERE username = ?1) ORDER BY id",
            )
            .expect("prepare");
        stmt.query_map([username], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }
}

/// Starts `leadline-server serve` on `data_dir`, listening on `listen`; waits for its address. The port of
/// a killed server can take a moment to be free again: retries for a few seconds.
fn serve(data_dir: &Path, listen: &str, extra: &[std::ffi::OsString]) -> (Guard, String) {
    let server = built_binary("leadline-server", "leadline-server");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut guard = Guard::spawn(
            "leadline-server",
            Command::new(&server)
                .args(["serve", "--listen", listen, "--data-dir"])
                .arg(data_dir)
                .args(extra)
                .env("LEADLINE_LOG", "warn"),
        );
        match guard.read_stdout_line_matching(Duration::from_secs(60), |line| {
            line.strip_prefix("listening on ").map(|u| u.trim().to_owned())
        }) {
            Ok(url) => return (guard, url),
            Err(e) if std::time::Instant::now() < deadline && !listen.ends_with(":0") => {
                eprintln!("leadline-server did not start on {listen} ({e}); trying again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("leadline-server did not start: {e}"),
        }
    }
}
