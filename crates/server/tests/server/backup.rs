//! `leadline-server backup` and `restore`: a backup taken while a writer is busy is one consistent
//! state; backup → wipe → restore through the real binary gives identical data (every table, every
//! row) and the same sync pull; bad backups (truncated, corrupt, foreign, newer, keys missing or wrong)
//! are refused with a clear error and change nothing; a running server blocks a restore; the replaced
//! database is kept. The round trip runs on SQLite, or on PostgreSQL (`pg_dump`/`pg_restore`) with
//! `LEADLINE_TEST_BACKEND=postgres`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use leadline_model::sync::{Change, Cursor};
use leadline_model::{LoginRequest, LoginResponse};
use leadline_server::backup::{self, BackupError, BackupOptions, RestoreOptions};
use leadline_server::db::{self, DbConfig};
use leadline_server::pii::PiiKeys;

use super::common::*;
use super::schema::raw_dump;

const BIN: &str = env!("CARGO_BIN_EXE_leadline-server");

fn command(database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("LEADLINE_PII_KEYS")
        .env_remove("LEADLINE_PII_BLIND_KEY")
        .env_remove("LEADLINE_JWT_SECRET")
        .env("LEADLINE_LOG", "warn");
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run leadline-server");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr)
}

fn serve(dir: &Path, database_url: Option<&str>) -> (Child, String) {
    let mut child = command(database_url)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    (child, base)
}

fn terminate(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("wait").success());
}

/// Signs in as a demo telecaller and pulls the whole feed: what a desktop would receive.
async fn sign_in_and_pull(base: &str) -> Vec<Change> {
    let client = client();
    let login: LoginResponse = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: "priya".into(),
            password: leadline_server::demo::DEMO_PASSWORD.into(),
            device_id: Some("backup-test".into()),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (pages, _) = pull_all(&client, base, &login.access_token, Cursor::start(), 500).await;
    pages.into_iter().flat_map(|p| p.changes).collect()
}

fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fut)
}

fn pg_admin() -> postgres::Client {
    let url = leadline_server::pg_cluster::PgCluster::shared()
        .unwrap()
        .url()
        .to_owned();
    postgres::Client::connect(&url, postgres::NoTls).unwrap()
}

#[test]
fn backup_wipe_restore_gives_identical_data() {
    let dir = fresh_dir("roundtrip");
    let data = dir.join("data");
    let (url, database) = match backend() {
        TestBackend::Sqlite => (None, DbConfig::Sqlite(db::db_path(&data))),
        TestBackend::Postgres => {
            let name = format!("roundtrip_{}", std::process::id());
            let url = std::thread::spawn(move || {
                leadline_server::pg_cluster::PgCluster::shared()
                    .unwrap()
                    .create_database(&name)
                    .unwrap()
            })
            .join()
            .unwrap();
            (Some(url.clone()), DbConfig::Postgres(url))
        }
    };
    let url = url.as_deref();
    run_ok(
        command(url)
            .args(["demo", "--seed", "11", "--data-dir"])
            .arg(&data),
    );
    // API writes: a sign-in (a device session) and the pull a desktop makes.
    let (child, base) = serve(&data, url);
    let pulled = block_on(sign_in_and_pull(&base));
    assert!(pulled.len() > 100, "the demo telecaller sees data");
    // A restore is refused while the server runs, and changes nothing.
    let file = dir.join("leadline.tar.gz");
    run_ok(
        command(url)
            .args(["backup", "--data-dir"])
            .arg(&data)
            .arg("--output")
            .arg(&file),
    );
    let refused = command(url)
        .arg("restore")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("a Leadline server is using"), "{stderr}");
    terminate(child);
    let (_, before) = std::thread::spawn({
        let database = database.clone();
        move || raw_dump(&database, false)
    })
    .join()
    .unwrap();
    assert!(before["leads"].len() >= 2000 && before["call_logs"].len() >= 5000);
    assert!(
        !before["sessions"].is_empty(),
        "the sign-in's session is in the data"
    );

    // Back up again (the server is stopped: nothing can change between the dump and the copy).
    let out = run_ok(
        command(url)
            .args(["backup", "--data-dir"])
            .arg(&data)
            .arg("--output")
            .arg(&file),
    );
    assert!(out.contains("this backup contains secrets"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "backup file mode {mode:o}");
    }
    // Wipe: the data directory with its keys, and the PostgreSQL database.
    std::fs::remove_dir_all(&data).unwrap();
    if let DbConfig::Postgres(url) = &database {
        let name = url.rsplit('/').next().unwrap().to_owned();
        std::thread::spawn(move || {
            pg_admin()
                .batch_execute(&format!("DROP DATABASE \"{name}\""))
                .unwrap()
        })
        .join()
        .unwrap();
    }
    let out = run_ok(
        command(url)
            .arg("restore")
            .arg(&file)
            .arg("--data-dir")
            .arg(&data),
    );
    assert!(out.contains("restored"), "{out}");
    let (_, after) = std::thread::spawn({
        let database = database.clone();
        move || raw_dump(&database, false)
    })
    .join()
    .unwrap();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &before {
        assert!(after[table] == *rows, "table {table} differs after the restore");
    }
    // The restored server serves the same data (the keys came back with it: notes decrypt).
    let (child, base) = serve(&data, url);
    let pulled_again = block_on(sign_in_and_pull(&base));
    terminate(child);
    assert!(pulled_again == pulled, "the pull after the restore differs");
}

/// A data directory with demo data, its own keys (a pii-keys file), on SQLite, written by the binary.
fn demo_dir(name: &str) -> PathBuf {
    let dir = fresh_dir(name).join("data");
    run_ok(
        command(None)
            .args(["demo", "--seed", "5", "--data-dir"])
            .arg(&dir),
    );
    // As after a first `serve`: the generated JWT secret.
    leadline_server::load_or_create_secret(&dir).unwrap();
    dir
}

fn opts(data: &Path, input: &Path) -> RestoreOptions {
    RestoreOptions {
        data_dir: data.to_owned(),
        database: DbConfig::Sqlite(db::db_path(data)),
        input: input.to_owned(),
        keep_replaced: true,
        check_only: false,
        configured_keys: None,
    }
}

fn make_backup(data: &Path, output: &Path, include_keys: bool) -> backup::BackupReport {
    backup::backup(&BackupOptions {
        data_dir: data.to_owned(),
        database: DbConfig::Sqlite(db::db_path(data)),
        output: output.to_owned(),
        include_keys,
        configured_keys: None,
    })
    .unwrap()
}

/// Every file of a directory with its contents' hash: to show a failed restore changed nothing.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap_or_default();
            let sum = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
            (path.file_name().unwrap().to_string_lossy().into_owned(), sum)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn bad_backups_are_refused_and_change_nothing() {
    if backend() == TestBackend::Postgres {
        return; // File handling: the same on both backends; run once, on SQLite.
    }
    let data = demo_dir("bad-backups");
    let root = data.parent().unwrap().to_owned();
    let good = root.join("good.tar.gz");
    let report = make_backup(&data, &good, true);
    assert_eq!(report.manifest.keys.len(), 2, "{:?}", report.manifest);
    assert_eq!(report.manifest.schema_version, db::schema_version());
    let unchanged = snapshot(&data);
    let refuse = |file: &Path| -> BackupError {
        let err = backup::restore(&opts(&data, file)).unwrap_err();
        assert_eq!(
            snapshot(&data),
            unchanged,
            "a refused restore changed the data directory ({err})"
        );
        err
    };
    let bytes = std::fs::read(&good).unwrap();

    let truncated = root.join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = refuse(&truncated);
    assert!(matches!(err, BackupError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("damaged or truncated"), "{err}");

    let corrupt = root.join("corrupt.tar.gz");
    let mut flipped = bytes.clone();
    let at = flipped.len() * 2 / 3;
    for b in &mut flipped[at..at + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&corrupt, &flipped).unwrap();
    let err = refuse(&corrupt);
    assert!(matches!(err, BackupError::Damaged { .. }), "{err}");

    let text = root.join("notes.txt");
    std::fs::write(&text, "not a backup at all\n").unwrap();
    let err = refuse(&text);
    assert!(matches!(err, BackupError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("is not a Leadline backup"), "{err}");

    let other_tar = root.join("other.tar");
    {
        let mut tar = tar::Builder::new(std::fs::File::create(&other_tar).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_cksum();
        tar.append_data(&mut header, "hello.txt", &b"hello"[..]).unwrap();
        tar.finish().unwrap();
    }
    let err = refuse(&other_tar);
    assert!(err.to_string().contains("first entry is \"hello.txt\""), "{err}");

    // A database from a newer Leadline.
    let newer_dir = root.join("newer");
    std::fs::create_dir_all(&newer_dir).unwrap();
    for name in ["jwt-secret", "pii-keys"] {
        std::fs::copy(data.join(name), newer_dir.join(name)).unwrap();
    }
    rusqlite::Connection::open(db::db_path(&data))
        .unwrap()
        .execute(
            "VACUUM INTO ?1",
            [db::db_path(&newer_dir).to_string_lossy().as_ref()],
        )
        .unwrap();
    rusqlite::Connection::open(db::db_path(&newer_dir))
        .unwrap()
        .execute_batch("PRAGMA user_version = 19")
        .unwrap();
    let newer = root.join("newer.tar.gz");
    make_backup(&newer_dir, &newer, true);
    let err = refuse(&newer);
    assert_eq!(
        err.to_string(),
        format!(
            "this backup holds a database written by a newer Leadline (schema 19); this binary knows up \
             to {} — upgrade the binary",
            db::schema_version()
        )
    );

    // Keys: a backup without them restores only where the right keys are.
    let no_keys = root.join("no-keys.tar.gz");
    let report = make_backup(&data, &no_keys, false);
    assert!(report.manifest.keys.is_empty());
    assert!(
        report.warnings.iter().any(|w| w.contains("keys left out")),
        "{:?}",
        report.warnings
    );
    let empty = root.join("empty");
    let err = backup::restore(&opts(&empty, &no_keys)).unwrap_err();
    assert!(err.to_string().contains("no PII keys"), "{err}");
    assert!(!db::db_path(&empty).exists());
    let other_keys = root.join("other-keys");
    PiiKeys::load_or_create(&other_keys).unwrap();
    let err = backup::restore(&opts(&other_keys, &no_keys)).unwrap_err();
    assert!(
        err.to_string().contains("cannot read this backup's data"),
        "{err}"
    );
    assert!(!db::db_path(&other_keys).exists());

    // Verify only.
    let check = backup::restore(&RestoreOptions {
        check_only: true,
        ..opts(&data, &good)
    })
    .unwrap();
    assert_eq!(check.manifest, backup::verify(&good).unwrap());
    assert_eq!(snapshot(&data), unchanged);

    // A running server (in process: it holds the data directory's lock) blocks the restore.
    let (_, old_dump) = raw_dump(&DbConfig::Sqlite(db::db_path(&data)), false);
    let server = TestDb {
        dir: data.clone(),
        database: DbConfig::Sqlite(db::db_path(&data)),
    };
    let err = server.block_on(async {
        let running = leadline_server::start(&serve_config(&data)).await.unwrap();
        // Fails at once, on the lock: fine to call from async code.
        let err = backup::restore(&opts(&data, &good)).unwrap_err();
        running.stop().await.unwrap();
        err
    });
    assert!(matches!(err, BackupError::ServerRunning { .. }), "{err}");
    assert!(err.to_string().contains("stop it"), "{err}");

    // Now it runs; the replaced database is kept, whole.
    let done = backup::restore(&opts(&data, &good)).unwrap();
    let kept = PathBuf::from(done.kept.expect("the replaced database is kept"));
    assert!(kept.to_string_lossy().contains(".pre-restore-"), "{kept:?}");
    let (_, kept_dump) = raw_dump(&DbConfig::Sqlite(kept.clone()), false);
    assert!(kept_dump == old_dump, "the kept database is the replaced one");
    let (_, restored) = raw_dump(&DbConfig::Sqlite(db::db_path(&data)), false);
    let (_, in_backup) = raw_dump(&DbConfig::Sqlite(db::db_path(&newer_dir)), false);
    assert_eq!(restored["leads"], in_backup["leads"]);
}

fn serve_config(data: &Path) -> leadline_server::ServeConfig {
    leadline_server::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..leadline_server::ServeConfig::new(data)
    }
}

#[test]
fn a_backup_taken_while_a_writer_is_busy_is_one_consistent_state() {
    if backend() == TestBackend::Postgres {
        return; // SQLite's online backup; pg_dump takes one snapshot by design.
    }
    let data = fresh_dir("busy-writer").join("data");
    let path = db::db_path(&data);
    {
        let conn = db::open_connection(&path).unwrap();
        // Two tables that every transaction of the writer below grows together, with bulk to copy.
        conn.execute_batch(
            "CREATE TABLE pairs_a (n INTEGER PRIMARY KEY, pad BLOB);
             CREATE TABLE pairs_b (n INTEGER PRIMARY KEY, pad BLOB);
             WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000)
             INSERT INTO pairs_a SELECT n, randomblob(2000) FROM c;
             INSERT INTO pairs_b SELECT n, randomblob(2000) FROM pairs_a;",
        )
        .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicI64::new(0));
    let writer = std::thread::spawn({
        let (stop, written, path) = (stop.clone(), written.clone(), path.clone());
        move || {
            let mut conn = db::open_connection(&path).unwrap();
            let mut n = 3000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .unwrap();
                tx.execute("INSERT INTO pairs_a VALUES (?1, randomblob(2000))", [n])
                    .unwrap();
                tx.execute("INSERT INTO pairs_b VALUES (?1, randomblob(2000))", [n])
                    .unwrap();
                tx.commit().unwrap();
                written.store(n, Ordering::Relaxed);
            }
            n
        }
    });
    while written.load(Ordering::Relaxed) < 3050 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let file = data.parent().unwrap().join("busy.tar.gz");
    let report = make_backup(&data, &file, true);
    let during = written.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let last = writer.join().unwrap();
    assert!(last > during, "the writer kept writing after the backup");
    // Restore it elsewhere and look.
    let elsewhere = data.parent().unwrap().join("restored");
    backup::restore(&opts(&elsewhere, &report.path)).unwrap();
    let conn = rusqlite::Connection::open(db::db_path(&elsewhere)).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let (a, b, max_a, max_b): (i64, i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM pairs_a), (SELECT count(*) FROM pairs_b),
                    (SELECT max(n) FROM pairs_a), (SELECT max(n) FROM pairs_b)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(a, b, "both halves of every transaction, or neither");
    assert_eq!(max_a, max_b);
    assert!(
        a > 3000,
        "the snapshot holds writes made while the writer ran ({a})"
    );
    assert!(
        max_a < last,
        "the snapshot is not the final state ({max_a} of {last})"
    );
}
