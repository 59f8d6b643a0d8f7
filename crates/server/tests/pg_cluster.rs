//! The throwaway PostgreSQL cluster: real `initdb` + `postgres` (Debian's postgresql package).
#![allow(clippy::unwrap_used)]

use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use leadline_server::pg_cluster::{PgCluster, PgClusterError};

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Waits up to `limit` for the port to refuse connections and the directory to be gone.
fn gone_within(port: u16, dir: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !accepts(port) && !dir.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn start_create_database_and_drop() {
    // Startup phases are logged at debug level (shown with --nocapture).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("leadline_server::pg_cluster=debug")
        .with_test_writer()
        .try_init();
    let started = Instant::now();
    let cluster = PgCluster::start().unwrap();
    eprintln!("PgCluster::start took {:?}", started.elapsed());
    let port = cluster.port();
    let dir = cluster.dir().to_path_buf();
    assert_eq!(
        cluster.url(),
        format!("postgres://leadline@127.0.0.1:{port}/leadline")
    );
    assert!(dir.join("data").join("PG_VERSION").is_file());

    let mut client = connect(cluster.url());
    let row = client
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "leadline");
    assert_eq!(row.get::<_, String>(1), "leadline");
    client
        .batch_execute("CREATE TABLE lead (id int PRIMARY KEY, name text NOT NULL)")
        .unwrap();
    client
        .execute(
            "INSERT INTO lead VALUES ($1, $2), ($3, $4)",
            &[&1i32, &"Priya", &2i32, &"Arjun"],
        )
        .unwrap();
    let names: Vec<String> = client
        .query("SELECT name FROM lead ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Priya", "Arjun"]);

    // An extra database is independent of the default one.
    let started = Instant::now();
    let other_url = cluster.create_database("test_one").unwrap();
    eprintln!("create_database took {:?}", started.elapsed());
    assert_eq!(
        other_url,
        format!("postgres://leadline@127.0.0.1:{port}/test_one")
    );
    let mut other = connect(&other_url);
    let row = other
        .query_one(
            "SELECT current_database()::text, to_regclass('lead') IS NULL",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "test_one");
    assert!(
        row.get::<_, bool>(1),
        "the default database's table leaked into test_one"
    );
    other.batch_execute("CREATE TABLE lead (note text)").unwrap();
    assert_eq!(
        client
            .query_one("SELECT count(*) FROM lead", &[])
            .unwrap()
            .get::<_, i64>(0),
        2
    );

    assert!(matches!(
        cluster.create_database("test_one"),
        Err(PgClusterError::Sql { .. })
    ));
    for bad in ["", "Bad", "x; DROP DATABASE leadline", "1st"] {
        assert!(
            matches!(
                cluster.create_database(bad),
                Err(PgClusterError::InvalidDatabaseName { .. })
            ),
            "{bad:?}"
        );
    }

    drop(client);
    drop(other);
    let started = Instant::now();
    drop(cluster);
    eprintln!("drop took {:?}", started.elapsed());
    assert!(!accepts(port), "port {port} still accepts connections after drop");
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
}

#[test]
fn two_clusters_at_once_and_drop_on_panic() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(PgCluster::start);
        let b = s.spawn(PgCluster::start);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    let mut ca = connect(a.url());
    let mut cb = connect(b.url());
    ca.batch_execute("CREATE TABLE only_in_a (x int)").unwrap();
    let row = cb
        .query_one("SELECT to_regclass('only_in_a') IS NULL", &[])
        .unwrap();
    assert!(row.get::<_, bool>(0));
    drop(ca);

    // A test that panics while holding a cluster still stops it (Drop runs on unwind).
    let (port_a, dir_a) = (a.port(), a.dir().to_path_buf());
    let panicked = std::thread::spawn(move || {
        let _cluster = a;
        panic!("a test failing while it holds a cluster");
    })
    .join();
    assert!(panicked.is_err());
    assert!(!accepts(port_a));
    assert!(!dir_a.exists());

    // The other cluster is unaffected.
    let one: i32 = cb.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn usable_from_async_code() {
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .unwrap()
        .unwrap();
    // Called directly on a runtime thread it must not panic (the sync client runs its own runtime).
    let url = cluster.create_database("from_async").unwrap();
    let one = tokio::task::spawn_blocking(move || {
        connect(&url).query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0)
    })
    .await
    .unwrap();
    assert_eq!(one, 1);
    let port = cluster.port();
    drop(cluster);
    assert!(!accepts(port));
}

#[test]
fn shared_cluster_is_started_once() {
    let a = PgCluster::shared().unwrap();
    let b = std::thread::spawn(|| PgCluster::shared().unwrap().port())
        .join()
        .unwrap();
    assert_eq!(a.port(), b);
    let url = a.create_database("shared_one").unwrap();
    let one: i32 = connect(&url).query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}

const CHILD_ENV: &str = "LEADLINE_PG_CLUSTER_CHILD";

/// Run by `killed_owner_leaves_nothing_behind` in a child process: starts a cluster, prints
/// `PORT DIR`, then waits to be killed.
#[test]
#[ignore = "helper process for killed_owner_leaves_nothing_behind"]
fn child_holding_a_cluster() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let cluster = PgCluster::start().unwrap();
    println!("CLUSTER {} {}", cluster.port(), cluster.dir().display());
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn killed_owner_leaves_nothing_behind() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_holding_a_cluster",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    // The harness prints `test child_holding_a_cluster ... ` before the test's own output.
    let line = stdout
        .lines()
        .map(Result::unwrap)
        .find_map(|l| l.split_once("CLUSTER ").map(|(_, rest)| rest.to_owned()))
        .unwrap();
    let (port, dir) = line.split_once(' ').unwrap();
    let port: u16 = port.parse().unwrap();
    let dir = PathBuf::from(dir);
    assert!(accepts(port));
    assert!(dir.exists());

    child.kill().unwrap(); // SIGKILL: no unwinding, no Drop.
    child.wait().unwrap();
    assert!(
        gone_within(port, &dir, Duration::from_secs(15)),
        "the watchdog did not stop the server on port {port} or remove {}",
        dir.display()
    );
}

const BINDIR_CHILD_ENV: &str = "LEADLINE_PG_CLUSTER_BINDIR_CHILD";

/// Run by `bindir_override_errors` in a child process with `LEADLINE_PG_BINDIR` set (tests cannot change
/// their own environment safely): prints the error `PgCluster::start` returns.
#[test]
#[ignore = "helper process for bindir_override_errors"]
fn child_starting_with_bindir_override() {
    if std::env::var_os(BINDIR_CHILD_ENV).is_none() {
        return;
    }
    let err = PgCluster::start().unwrap_err();
    let kind = match err {
        PgClusterError::BinariesNotFound { .. } => "BinariesNotFound",
        PgClusterError::Initdb { .. } => "Initdb",
        _ => "other",
    };
    println!("ERROR {kind}: {}", err.to_string().replace('\n', " "));
}

fn start_error_with_bindir(bindir: &Path) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_starting_with_bindir_override",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BINDIR_CHILD_ENV, "1")
        .env("LEADLINE_PG_BINDIR", bindir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.split_once("ERROR ").map(|(_, rest)| rest.to_owned()))
        .unwrap()
}

#[test]
fn bindir_override_errors() {
    use std::os::unix::fs::PermissionsExt;

    let empty = tempfile::tempdir().unwrap();
    let err = start_error_with_bindir(empty.path());
    assert!(err.starts_with("BinariesNotFound: "), "{err}");
    assert!(err.contains("install Debian's postgresql package"), "{err}");
    assert!(err.contains(&empty.path().display().to_string()), "{err}");

    // A directory whose initdb fails: the error carries initdb's stderr.
    let broken = tempfile::tempdir().unwrap();
    let initdb = broken.path().join("initdb");
    std::fs::write(
        &initdb,
        "#!/bin/sh\necho 'initdb: error: no space left on the test device' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&initdb, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(broken.path().join("postgres"), "").unwrap();
    // Under root the cluster runs as another user, who must be able to reach the script.
    std::fs::set_permissions(broken.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = start_error_with_bindir(broken.path());
    assert!(err.starts_with("Initdb: initdb failed"), "{err}");
    assert!(err.contains("no space left on the test device"), "{err}");
}
