//! A throwaway PostgreSQL server for tests.
//!
//! [`PgCluster::start`] runs `initdb` into a fresh temporary directory and starts `postgres` on a free
//! loopback port, tuned for speed over durability (`fsync`, `synchronous_commit` and `full_page_writes`
//! off). Authentication is `trust` on loopback: URLs carry no password. Dropping the [`PgCluster`] stops
//! the server (fast shutdown, then harder signals after a bounded wait) and deletes the directory; this
//! also happens when a test panics, since `Drop` runs on unwind. If the owning process dies without
//! unwinding (killed, or the cluster lives in a `static` that is never dropped), a small watchdog shell
//! notices its stdin pipe closing and stops the server and deletes the directory.
//!
//! Binaries: Debian's server binaries under `/usr/lib/postgresql/<version>/bin` (the highest version that
//! has both `initdb` and `postgres`), or the directory in `LEADLINE_PG_BINDIR`. `pg_config --bindir` is not
//! used: on Debian it names `/usr/bin`, which holds only client wrappers.
//!
//! PostgreSQL refuses to run as root. When this process's effective user is root, `initdb` and
//! `postgres` run as the `postgres` system user (created by Debian's package), or `nobody` when that does
//! not exist; the cluster directory is then created under `/tmp` and handed to that user (mode 0700).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};

/// The environment variable naming a directory holding `initdb` and `postgres`, overriding the search.
pub const BINDIR_ENV: &str = "LEADLINE_PG_BINDIR";
/// Where Debian installs the server binaries, one directory per major version.
pub const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
/// The superuser `initdb` creates; every URL connects as it.
pub const SUPERUSER: &str = "leadline";
/// The database [`PgCluster::url`] points at, created by [`PgCluster::start`].
pub const DEFAULT_DATABASE: &str = "leadline";

/// How long [`PgCluster::start`] waits for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many ports are tried when the server cannot bind the one picked.
const PORT_ATTEMPTS: u32 = 5;
/// How long a fast shutdown (SIGINT) may take before SIGQUIT, then SIGKILL.
const FAST_STOP_WAIT: Duration = Duration::from_secs(5);
const QUIT_STOP_WAIT: Duration = Duration::from_secs(2);
/// How much of the server log an error carries.
const LOG_TAIL_BYTES: u64 = 4096;

/// Stops the postmaster (argument 1) and removes the cluster directory (argument 2) once its stdin reaches
/// end of file, which happens when the owning process exits however it exits. `PgCluster`'s `Drop` kills
/// this shell before stopping the server itself.
const WATCHDOG_SCRIPT: &str = r#"trap '' INT TERM HUP
read -r _ignored
kill -INT "$1" 2>/dev/null
i=0
while kill -0 "$1" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL "$1" 2>/dev/null
rm -rf "$2"
"#;

/// Why a cluster could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum PgClusterError {
    /// No directory with both `initdb` and `postgres` was found.
    #[error(
        "PostgreSQL server binaries (initdb and postgres) not found in {searched}: install Debian's \
         postgresql package, or set {BINDIR_ENV} to the directory holding them"
    )]
    BinariesNotFound { searched: String },
    /// Running as root, with no unprivileged user to run the server as.
    #[error("running as root, and neither the `postgres` nor the `nobody` user exists to run PostgreSQL as")]
    NoUnprivilegedUser,
    /// A file-system or process operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// `initdb` exited unsuccessfully.
    #[error("initdb failed ({status}): {stderr}")]
    Initdb { status: ExitStatus, stderr: String },
    /// The server exited before accepting connections, for another reason than a taken port.
    #[error("the PostgreSQL server exited during startup ({status}); log tail:\n{log_tail}")]
    ServerExited { status: ExitStatus, log_tail: String },
    /// Every port tried was taken by the time the server bound it.
    #[error("the PostgreSQL server could not bind a free port in {attempts} attempts; log tail:\n{log_tail}")]
    NoFreePort { attempts: u32, log_tail: String },
    /// The server kept running but did not answer `SELECT 1` in time.
    #[error(
        "the PostgreSQL server did not become ready within {waited:?} (last error: {last_error}); \
         log tail:\n{log_tail}"
    )]
    NotReady {
        waited: Duration,
        last_error: String,
        log_tail: String,
    },
    /// A database name [`PgCluster::create_database`] does not accept.
    #[error(
        "invalid database name {name:?}: use 1 to 63 characters from a-z, 0-9 and _, not starting with a digit"
    )]
    InvalidDatabaseName { name: String },
    /// A statement against the running server failed.
    #[error("{what}: {source}")]
    Sql {
        what: String,
        #[source]
        source: postgres::Error,
    },
    /// The helper thread that keeps the blocking client off an async runtime panicked.
    #[error("the thread running {what} panicked")]
    ThreadPanicked { what: &'static str },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> PgClusterError {
    let what = what.into();
    move |source| PgClusterError::Io { what, source }
}

fn sql_err(what: impl Into<String>) -> impl FnOnce(postgres::Error) -> PgClusterError {
    let what = what.into();
    move |source| PgClusterError::Sql { what, source }
}

/// A running throwaway PostgreSQL server; dropping it stops the server and deletes its files.
#[derive(Debug)]
pub struct PgCluster {
    port: u16,
    url: String,
    server: Option<Server>,
    /// Declared after `server`: the directory goes only once the server is stopped.
    dir: Option<tempfile::TempDir>,
}

/// A started postmaster and the watchdog that stops it if this process dies.
#[derive(Debug)]
struct Server {
    postmaster: Child,
    watchdog: Option<Watchdog>,
}

#[derive(Debug)]
struct Watchdog {
    child: Child,
    /// Held open for the watchdog's lifetime; its end of file is the watchdog's cue.
    _stdin: Option<ChildStdin>,
}

/// Who runs `initdb` and `postgres`: this process's user, or an unprivileged one when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl PgCluster {
    /// Creates and starts a cluster, with superuser [`SUPERUSER`] and an empty database
    /// [`DEFAULT_DATABASE`], and waits until it answers `SELECT 1` (at most about 30 s).
    ///
    /// This blocks (typically for about a second, mostly `initdb`) and uses the synchronous `postgres`
    /// client, which runs its own small Tokio runtime. From async code call it through
    /// `tokio::task::spawn_blocking`, or before entering the runtime; called directly on a runtime thread
    /// it still works (the client part runs on a scoped helper thread) but blocks that thread meanwhile.
    pub fn start() -> Result<PgCluster, PgClusterError> {
        let bindir = find_bindir()?;
        let run_as = unprivileged_user()?;
        // The postgres user must be able to reach the directory: /tmp is world-traversable, $TMPDIR may
        // not be.
        let parent = if run_as.is_some() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        sweep_abandoned(&parent, ABANDONED_AFTER);
        let dir = tempfile::Builder::new()
            .prefix("leadline-pg-")
            .tempdir_in(&parent)
            .map_err(io_err(format!(
                "creating a temporary directory in {}",
                parent.display()
            )))?;
        let mut cluster = PgCluster {
            port: 0,
            url: String::new(),
            server: None,
            dir: Some(dir),
        };
        let root = cluster.dir().to_path_buf();
        let socket_dir = root.join("socket");
        fs::create_dir(&socket_dir).map_err(io_err(format!("creating {}", socket_dir.display())))?;
        if let Some(user) = run_as {
            for path in [&root, &socket_dir] {
                std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(io_err(format!(
                    "handing {} to uid {}",
                    path.display(),
                    user.uid
                )))?;
                fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                    .map_err(io_err(format!("setting the mode of {}", path.display())))?;
            }
        }
        let data_dir = root.join("data");
        let begun = Instant::now();
        initdb(&bindir, &data_dir, &root, run_as)?;
        tracing::debug!(elapsed = ?begun.elapsed(), dir = %root.display(), "pg_cluster: initdb done");

        // On failure, `cluster`'s Drop stops whatever was started and removes the directory.
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let server = spawn_postgres(&bindir, &root, &data_dir, &socket_dir, port, run_as)?;
            cluster.server = Some(server);
            cluster.port = port;
            cluster.url = database_url(port, DEFAULT_DATABASE);
            match cluster.wait_ready(&data_dir)? {
                Ready::Yes => {
                    tracing::debug!(elapsed = ?begun.elapsed(), port, "pg_cluster: server ready");
                    cluster.admin("creating the default database", |client| {
                        client
                            .batch_execute(&format!("CREATE DATABASE {DEFAULT_DATABASE}"))
                            .map_err(sql_err(format!("CREATE DATABASE {DEFAULT_DATABASE}")))
                    })?;
                    tracing::debug!(elapsed = ?begun.elapsed(), url = %cluster.url, "pg_cluster: started");
                    return Ok(cluster);
                }
                Ready::PortTaken => {
                    last_log = cluster.log_tail();
                    cluster.stop_server();
                }
            }
        }
        Err(PgClusterError::NoFreePort {
            attempts: PORT_ATTEMPTS,
            log_tail: last_log,
        })
    }

    /// One cluster for the whole process, started on first use (a failed start is not cached: the next
    /// call tries again). `initdb` dominates [`PgCluster::start`]'s time, so test suites that share this
    /// cluster and take a database each ([`PgCluster::create_database`]) run much faster than with a
    /// cluster per test. A `static` is never dropped: the watchdog stops the server and deletes its
    /// directory when the process exits. Blocking, like [`PgCluster::start`].
    pub fn shared() -> Result<&'static PgCluster, PgClusterError> {
        static SHARED: Mutex<Option<&'static PgCluster>> = Mutex::new(None);
        let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cluster) = *slot {
            return Ok(cluster);
        }
        let cluster: &'static PgCluster = Box::leak(Box::new(PgCluster::start()?));
        *slot = Some(cluster);
        Ok(cluster)
    }

    /// `postgres://leadline@127.0.0.1:PORT/leadline`: the default database, no password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the cluster (`data/`, `socket/`, `postgres.log`); deleted on drop.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// The server's log file (its stdout and stderr).
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("postgres.log")
    }

    /// Creates an empty database `name` (1 to 63 characters from `a-z`, `0-9`, `_`, not starting with a
    /// digit) and returns its URL. Tests wanting isolation take one database each. A name that already
    /// exists is an error. Blocking, like [`PgCluster::start`].
    pub fn create_database(&self, name: &str) -> Result<String, PgClusterError> {
        if !valid_database_name(name) {
            return Err(PgClusterError::InvalidDatabaseName {
                name: name.to_owned(),
            });
        }
        self.admin("creating a database", |client| {
            // The name is checked above to be a plain lower-case identifier: no quoting issues.
            client
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .map_err(sql_err(format!("CREATE DATABASE {name}")))
        })?;
        Ok(database_url(self.port, name))
    }

    /// Runs `f` with a client connected to the `postgres` maintenance database, off any async runtime.
    fn admin<T: Send>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, PgClusterError> + Send,
    ) -> Result<T, PgClusterError> {
        let url = admin_url(self.port);
        off_runtime(what, move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)
                .map_err(sql_err(format!("connecting to {url}")))?;
            f(&mut client)
        })
    }

    /// Polls until the server answers `SELECT 1` as this cluster (not another server that holds the
    /// port), exits, or the timeout passes.
    fn wait_ready(&mut self, data_dir: &Path) -> Result<Ready, PgClusterError> {
        let started = Instant::now();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let url = admin_url(self.port);
        let expected_dir = data_dir.to_string_lossy().into_owned();
        let mut last_error = String::from("no connection attempted yet");
        loop {
            if let Some(status) = self.postmaster_exit()? {
                let log_tail = self.log_tail();
                if log_tail.contains("could not bind") || log_tail.contains("could not create any TCP/IP") {
                    return Ok(Ready::PortTaken);
                }
                return Err(PgClusterError::ServerExited { status, log_tail });
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(PgClusterError::NotReady {
                    waited: started.elapsed(),
                    last_error,
                    log_tail: self.log_tail(),
                });
            }
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Err(e) => last_error = format!("TCP connect to {addr}: {e}"),
                Ok(_) => {
                    let url = url.clone();
                    let answer = off_runtime("the readiness check", move || {
                        let mut client = postgres::Client::connect(&url, postgres::NoTls)
                            .map_err(sql_err(format!("connecting to {url}")))?;
                        let row = client
                            .query_one("SELECT 1::int4, current_setting('data_directory')", &[])
                            .map_err(sql_err("SELECT 1"))?;
                        Ok((row.get::<_, i32>(0), row.get::<_, String>(1)))
                    });
                    match answer {
                        Ok((1, dir)) if Path::new(&dir) == Path::new(&expected_dir) => return Ok(Ready::Yes),
                        // Another server holds this port; ours will fail to bind and exit.
                        Ok((_, dir)) => last_error = format!("port {} is served from {dir}", self.port),
                        Err(e) => last_error = e.to_string(),
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn postmaster_exit(&mut self) -> Result<Option<ExitStatus>, PgClusterError> {
        match &mut self.server {
            Some(server) => server
                .postmaster
                .try_wait()
                .map_err(io_err("checking on the postmaster")),
            None => Ok(None),
        }
    }

    /// The last few KiB of the server log.
    fn log_tail(&self) -> String {
        read_tail(&self.log_path()).unwrap_or_else(|e| format!("(could not read the server log: {e})"))
    }

    /// Stops the watchdog, then the server: SIGINT (fast shutdown), SIGQUIT, SIGKILL, each after a
    /// bounded wait.
    fn stop_server(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        if let Some(mut watchdog) = server.watchdog.take() {
            let _ = watchdog.child.kill();
            let _ = watchdog.child.wait();
        }
        let child = &mut server.postmaster;
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = i32::try_from(child.id()).ok().map(Pid::from_raw);
        for (signal, wait) in [
            (Signal::SIGINT, FAST_STOP_WAIT),
            (Signal::SIGQUIT, QUIT_STOP_WAIT),
        ] {
            if let Some(pid) = pid {
                let _ = kill(pid, signal);
            }
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    _ => return,
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop_server();
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

enum Ready {
    Yes,
    PortTaken,
}

/// How old a cluster directory with no live server must be before [`sweep_abandoned`] deletes it: older
/// than any `initdb` still setting one up.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);

/// Deletes the `leadline-pg-*` directories in `parent` that a process killed outright (SIGKILL, a power
/// cut: neither `Drop` nor the watchdog ran) left behind: older than `min_age`, and whose server, if it
/// ever wrote `data/postmaster.pid`, is not running. Each holds a whole cluster (a benchmark's can be
/// gigabytes), and a disk that fills makes every later test fail. Best effort: errors are ignored.
pub fn sweep_abandoned(parent: &Path, min_age: Duration) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let named = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("leadline-pg-") && !n.ends_with("watchdog"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if !named || !old || !path.is_dir() {
            continue;
        }
        let server_alive = fs::read_to_string(path.join("data").join("postmaster.pid"))
            .ok()
            .and_then(|pid| pid.lines().next().and_then(|l| l.trim().parse::<i32>().ok()))
            .is_some_and(|pid| kill(Pid::from_raw(pid), None).is_ok());
        if !server_alive && fs::remove_dir_all(&path).is_ok() {
            tracing::info!(dir = %path.display(), "removed an abandoned PostgreSQL test cluster");
            removed += 1;
        }
    }
    removed
}

fn database_url(port: u16, database: &str) -> String {
    format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{database}")
}

/// The maintenance database, for the readiness check and `CREATE DATABASE`; a stalled server cannot hang
/// a connection attempt for long.
fn admin_url(port: u16) -> String {
    format!("{}?connect_timeout=5", database_url(port, "postgres"))
}

fn valid_database_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && !bytes[0].is_ascii_digit()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// Runs `f` directly, or on a scoped helper thread when the caller is inside a Tokio runtime (where the
/// synchronous `postgres` client would panic trying to start its own).
fn off_runtime<T: Send>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, PgClusterError> + Send,
) -> Result<T, PgClusterError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("pg-cluster".into())
            .spawn_scoped(scope, f)
            .map_err(io_err(format!("starting a thread for {what}")))?;
        handle
            .join()
            .map_err(|_| PgClusterError::ThreadPanicked { what })?
    })
}

/// `$LEADLINE_PG_BINDIR`, else the highest `/usr/lib/postgresql/<version>/bin` with `initdb` and `postgres`.
fn find_bindir() -> Result<PathBuf, PgClusterError> {
    let has_binaries = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_binaries(&dir) {
            Ok(dir)
        } else {
            Err(PgClusterError::BinariesNotFound {
                searched: format!("{} (from {BINDIR_ENV})", dir.display()),
            })
        };
    }
    let not_found = || PgClusterError::BinariesNotFound {
        searched: format!("{DEBIAN_PG_ROOT}/*/bin"),
    };
    let entries = fs::read_dir(DEBIAN_PG_ROOT).map_err(|_| not_found())?;
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(parse_version) else {
            continue;
        };
        let bin = entry.path().join("bin");
        if has_binaries(&bin) && best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, bin));
        }
    }
    best.map(|(_, dir)| dir).ok_or_else(not_found)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// `None` unless we are root; then the `postgres` user, else `nobody`.
fn unprivileged_user() -> Result<Option<RunAs>, PgClusterError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some(RunAs {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            }));
        }
    }
    Err(PgClusterError::NoUnprivilegedUser)
}

/// A command for one of the server binaries, run as `run_as` with a C locale in `cwd`.
fn server_command(program: &Path, cwd: &Path, run_as: Option<RunAs>) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .env_remove("PGDATA")
        .stdin(Stdio::null());
    if let Some(user) = run_as {
        command.uid(user.uid).gid(user.gid);
    }
    command
}

fn initdb(bindir: &Path, data_dir: &Path, cwd: &Path, run_as: Option<RunAs>) -> Result<(), PgClusterError> {
    let program = bindir.join("initdb");
    let output = server_command(&program, cwd, run_as)
        .arg("-D")
        .arg(data_dir)
        .args([
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ])
        .output()
        .map_err(io_err(format!("running {}", program.display())))?;
    if output.status.success() {
        Ok(())
    } else {
        let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if stderr.is_empty() {
            stderr = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        Err(PgClusterError::Initdb {
            status: output.status,
            stderr,
        })
    }
}

/// A port that was free a moment ago (the server may still lose it to someone else: the caller retries).
fn free_port() -> Result<u16, PgClusterError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("binding 127.0.0.1:0"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("reading the port of 127.0.0.1:0"))?
        .port();
    Ok(port)
}

fn spawn_postgres(
    bindir: &Path,
    root: &Path,
    data_dir: &Path,
    socket_dir: &Path,
    port: u16,
    run_as: Option<RunAs>,
) -> Result<Server, PgClusterError> {
    let log_path = root.join("postgres.log");
    let log = File::create(&log_path).map_err(io_err(format!("creating {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(io_err("duplicating the log file handle"))?;
    let program = bindir.join("postgres");
    let postmaster = server_command(&program, root, run_as)
        .arg("-D")
        .arg(data_dir)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(socket_dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(io_err(format!("starting {}", program.display())))?;
    let mut server = Server {
        postmaster,
        watchdog: None,
    };
    let watchdog = Command::new("/bin/sh")
        .args(["-c", WATCHDOG_SCRIPT, "leadline-pg-watchdog"])
        .arg(server.postmaster.id().to_string())
        .arg(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match watchdog {
        Ok(mut child) => {
            let stdin = child.stdin.take();
            server.watchdog = Some(Watchdog { child, _stdin: stdin });
            Ok(server)
        }
        Err(source) => {
            let _ = server.postmaster.kill();
            let _ = server.postmaster.wait();
            Err(PgClusterError::Io {
                what: "starting the watchdog shell /bin/sh".into(),
                source,
            })
        }
    }
}

fn read_tail(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_cluster_directories_are_swept_and_live_or_young_ones_kept() {
        let parent = tempfile::tempdir().expect("temp dir");
        let make = |name: &str, pid: Option<u32>| {
            let dir = parent.path().join(name);
            fs::create_dir_all(dir.join("data")).expect("dir");
            if let Some(pid) = pid {
                fs::write(dir.join("data/postmaster.pid"), format!("{pid}\n/data\n")).expect("pid file");
            }
            dir
        };
        // A pid no process has (above the kernel's maximum).
        let dead = make("leadline-pg-dead", Some(4_194_304 + 7));
        let never_started = make("leadline-pg-initdb-killed", None);
        let alive = make("leadline-pg-alive", Some(std::process::id()));
        let other = make("someone-elses", None);
        // Everything is "old" with a minimum age of zero; a young directory is kept whatever its state.
        assert_eq!(
            sweep_abandoned(parent.path(), Duration::from_secs(3600)),
            0,
            "all are young"
        );
        assert_eq!(sweep_abandoned(parent.path(), Duration::ZERO), 2);
        assert!(!dead.exists() && !never_started.exists());
        assert!(alive.exists() && other.exists());
    }

    #[test]
    fn database_names() {
        for ok in ["a", "t_1", "_x", "leadline_test_42", &"a".repeat(63)] {
            assert!(valid_database_name(ok), "{ok}");
        }
        for bad in ["", "1a", "A", "a-b", "a b", "a\"b", "é", &"a".repeat(64)] {
            assert!(!valid_database_name(bad), "{bad}");
        }
    }

    #[test]
    fn versions_order_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("x"), None);
        assert!(parse_version("10") > parse_version("9.6"));
    }
}
