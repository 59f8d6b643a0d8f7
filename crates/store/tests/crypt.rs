//! Encryption at rest, keys, and surviving damage: real files on disk.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use chrono::{Duration, SubsecRound, Utc};
use leadline_model::sync::{Change, Cursor, Mutation, PROTOCOL_VERSION, PullPage};
use leadline_model::*;
use leadline_store::key::{KEY_FILE_NAME, load_or_create};
use leadline_store::{KeySource, KeyStorage, OpenCheck, Store, StoreError, StoreKey, keycheck_path};

const PAGE: usize = 4096;

fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

fn user(name: &str) -> User {
    User {
        id: new_id(),
        username: name.into(),
        name: name.into(),
        role: Role::Telecaller,
        team: None,
    }
}

fn lead(i: usize, owner: &User) -> Lead {
    let now = now();
    Lead {
        id: new_id(),
        name: format!("Customer Kavitha {i}"),
        phone: PhoneNumber::parse(&format!("+9198765{:05}", i % 100_000)).unwrap(),
        alternate_phone: None,
        email: None,
        city: Some("Jaipur".into()),
        source: LeadSource::Instagram,
        interest: Some("temple jewellery".into()),
        budget_inr: Some(150_000),
        priority: LeadPriority::Hot,
        status: LeadStatus::New,
        tags: vec![],
        assigned_to: Some(owner.id),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn call(lead: &Lead, notes: &str) -> CallLog {
    let start = now() - Duration::minutes(5);
    CallLog {
        id: new_id(),
        lead_id: lead.id,
        telecaller_id: lead.assigned_to.unwrap(),
        direction: CallDirection::Outbound,
        started_at: start,
        answered_at: Some(start + Duration::seconds(8)),
        ended_at: Some(start + Duration::seconds(128)),
        duration_s: 120,
        disposition: "interested".into(),
        outcome_tags: vec![],
        notes: notes.into(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: None,
        quality: None,
    }
}

fn page(changes: Vec<Change>, cursor: &str) -> PullPage {
    PullPage {
        protocol: PROTOCOL_VERSION,
        changes,
        next_cursor: Cursor(cursor.into()),
        has_more: false,
        dispositions: default_catalogue(),
        server_time: now(),
    }
}

struct Filled {
    user: User,
    device_id: String,
    /// The pending outbox mutations, as stored.
    pending: Vec<Mutation>,
}

/// A cache with an account, `leads` pulled leads and `calls` logged (pending) calls, closed cleanly.
fn fill(path: &Path, key: &StoreKey, leads: usize, calls: usize) -> Filled {
    let mut store = Store::open(path, key).unwrap();
    let me = user("kavitha");
    store.set_account("http://server.test", &me).unwrap();
    let device_id = store.device_id().unwrap();
    let leads: Vec<Lead> = (0..leads).map(|i| lead(i, &me)).collect();
    store
        .apply_pull_page(&page(leads.iter().cloned().map(Change::Lead).collect(), "c1"))
        .unwrap();
    for (i, l) in leads.iter().take(calls).enumerate() {
        store
            .log_call(&call(l, &format!("wants a quote, call {i}")))
            .unwrap();
    }
    let pending = store
        .outbox_pending(1000)
        .unwrap()
        .into_iter()
        .map(|e| e.mutation)
        .collect();
    drop(store);
    assert!(!sibling(path, "-wal").exists(), "a clean close leaves no log");
    Filled {
        user: me,
        device_id,
        pending,
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Files in `dir` whose name contains `part`.
fn files_with(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(part))
        .collect();
    out.sort();
    out
}

/// The page numbers (1-based) of a table's or index's b-tree, read through SQLCipher's `dbstat`.
fn pages_of(path: &Path, key: &StoreKey, btree: &str) -> Vec<usize> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex().as_str()))
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = ?1 ORDER BY pageno")
        .unwrap();
    stmt.query_map([btree], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|p| usize::try_from(p.unwrap()).unwrap())
        .collect()
}

fn garble_page(path: &Path, pageno: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let start = (pageno - 1) * PAGE;
    for (i, b) in bytes[start..start + PAGE].iter_mut().enumerate() {
        *b ^= 0x5A ^ (i as u8);
    }
    std::fs::write(path, &bytes).unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_file_is_encrypted_and_reopens_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    let filled = fill(&path, &key, 50, 2);

    let bytes = std::fs::read(&path).unwrap();
    assert!(
        !bytes.starts_with(b"SQLite format 3\0"),
        "the header is encrypted too"
    );
    assert!(
        !contains(&bytes, b"Customer Kavitha"),
        "lead names must not be on disk in the clear"
    );
    assert!(
        !contains(&bytes, b"wants a quote"),
        "call notes must not be on disk in the clear"
    );
    assert!(keycheck_path(&path).exists());

    let store = Store::open(&path, &key).unwrap();
    assert_eq!(store.count_leads().unwrap(), 50);
    assert_eq!(store.outbox_pending(100).unwrap().len(), 2);
    assert_eq!(*store.open_report(), Default::default());
    assert_eq!(store.sync_state().unwrap().user.unwrap().id, filled.user.id);
}

#[test]
fn a_wrong_key_is_a_clear_error_and_leaves_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    fill(&path, &key, 20, 1);
    let before = std::fs::read(&path).unwrap();
    let check_before = std::fs::read(keycheck_path(&path)).unwrap();

    let other = StoreKey::generate().unwrap();
    let err = Store::open(&path, &other).unwrap_err();
    assert!(
        matches!(&err, StoreError::WrongKey { path: p } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("cache.sqlite3"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file must not change");
    assert_eq!(std::fs::read(keycheck_path(&path)).unwrap(), check_before);
    assert!(
        files_with(dir.path(), "corrupt").is_empty(),
        "a wrong key is not damage"
    );

    // Without its key check the file is still never taken for damage.
    std::fs::remove_file(keycheck_path(&path)).unwrap();
    let err = Store::open(&path, &other).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // The right key still opens it, and writes the key check again.
    let store = Store::open(&path, &key).unwrap();
    assert_eq!(store.count_leads().unwrap(), 20);
    assert!(keycheck_path(&path).exists());
}

#[test]
fn random_bytes_are_not_taken_for_damage_unless_the_key_is_known_to_be_right() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    let junk: Vec<u8> = (0..8 * PAGE as u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &junk).unwrap();

    // Nothing says this key made the file: it may be someone else's; leave it.
    let err = Store::open(&path, &key).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), junk);

    // This key made the cache here (its key check says so): the bytes are damage; move them aside.
    let real = dir.path().join("real.sqlite3");
    fill(&real, &key, 1, 0);
    std::fs::copy(keycheck_path(&real), keycheck_path(&path)).unwrap();
    let store = Store::open(&path, &key).unwrap();
    let report = store.open_report().clone();
    let aside = report.recovered_from.expect("moved aside");
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        junk,
        "the damaged file is kept as it was"
    );
    assert_eq!(report.requeued, 0);
    assert_eq!(report.export_file, None);
    assert_eq!(store.count_leads().unwrap(), 0);
}

#[test]
fn a_garbled_page_is_moved_aside_and_the_pending_changes_survive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    let filled = fill(&path, &key, 400, 6);
    assert_eq!(filled.pending.len(), 6);

    // Damage a leaf of the leads table (a torn write in the middle of the file).
    let lead_pages = pages_of(&path, &key, "leads");
    assert!(lead_pages.len() > 3, "the test needs a multi-page leads table");
    let outbox_pages = pages_of(&path, &key, "outbox");
    let victim = lead_pages[lead_pages.len() / 2];
    assert!(!outbox_pages.contains(&victim));
    garble_page(&path, victim);
    let damaged = std::fs::read(&path).unwrap();

    let mut store = Store::open(&path, &key).unwrap();
    let report = store.open_report().clone();

    // The damaged file is kept aside, byte for byte.
    let aside = report.recovered_from.clone().expect("recovered");
    assert!(
        aside
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cache.sqlite3.corrupt-")
    );
    assert_eq!(std::fs::read(&aside).unwrap(), damaged);
    assert!(report.damage.is_some());

    // The export holds the pending mutations, exactly as stored, in order.
    let export = report.export_file.clone().expect("exported");
    let lines: Vec<Mutation> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, filled.pending);

    // The fresh cache has them queued again, and knows the account and device; everything else comes
    // from the next pull.
    assert_eq!(report.requeued, 6);
    assert_eq!(report.unreadable, 0);
    let queued: Vec<Mutation> = store
        .outbox_pending(100)
        .unwrap()
        .into_iter()
        .map(|e| e.mutation)
        .collect();
    assert_eq!(queued, filled.pending);
    let state = store.sync_state().unwrap();
    assert_eq!(state.user.unwrap().id, filled.user.id);
    assert_eq!(state.server_url.as_deref(), Some("http://server.test"));
    assert!(state.cursor.is_start(), "everything is pulled again");
    assert_eq!(store.device_id().unwrap(), filled.device_id);
    assert_eq!(store.count_leads().unwrap(), 0);
    drop(store);

    // The next open is a plain one.
    let store = Store::open(&path, &key).unwrap();
    assert_eq!(*store.open_report(), Default::default());
    assert_eq!(store.outbox_pending(100).unwrap().len(), 6);
}

#[test]
fn a_truncated_file_is_recovered_with_what_it_still_yields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    let filled = fill(&path, &key, 400, 4);
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 2 / PAGE as u64 * PAGE as u64).unwrap();
    drop(file);

    let store = Store::open(&path, &key).unwrap();
    let report = store.open_report().clone();
    let aside = report.recovered_from.clone().expect("recovered");
    assert!(aside.exists());
    // Whatever was salvaged is exactly what is queued again, and all of it was pending before.
    let queued: Vec<Mutation> = store
        .outbox_pending(100)
        .unwrap()
        .into_iter()
        .map(|e| e.mutation)
        .collect();
    assert_eq!(queued.len(), report.requeued);
    assert!(queued.iter().all(|m| filled.pending.contains(m)));
    let exported = report
        .export_file
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .unwrap_or(0);
    assert_eq!(exported, report.requeued);
}

#[test]
fn a_damaged_first_page_is_damage_only_when_the_key_check_vouches_for_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    fill(&path, &key, 100, 1);
    garble_page(&path, 1);
    let damaged = std::fs::read(&path).unwrap();

    let check = std::fs::read(keycheck_path(&path)).unwrap();
    std::fs::remove_file(keycheck_path(&path)).unwrap();
    let err = Store::open(&path, &key).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), damaged);

    std::fs::write(keycheck_path(&path), check).unwrap();
    let store = Store::open(&path, &key).unwrap();
    let aside = store.open_report().recovered_from.clone().expect("recovered");
    assert_eq!(std::fs::read(aside).unwrap(), damaged);
}

#[test]
fn an_unencrypted_cache_of_an_earlier_version_is_converted_with_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    // Make an unencrypted copy of a real cache the way SQLCipher documents it.
    let source = dir.path().join("source.sqlite3");
    let filled = fill(&source, &key, 30, 3);
    {
        let conn = rusqlite::Connection::open(&source).unwrap();
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex().as_str()))
            .unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        conn.execute("ATTACH DATABASE ?1 AS plaintext KEY ''", [path.to_str().unwrap()])
            .unwrap();
        conn.query_row("SELECT sqlcipher_export('plaintext')", [], |_| Ok(()))
            .unwrap();
        conn.execute_batch(&format!(
            "PRAGMA plaintext.user_version = {version}; DETACH DATABASE plaintext;"
        ))
        .unwrap();
    }
    // An earlier version ran in WAL mode: leave a committed change in the log only.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('only_in_the_log', 'yes')",
            [],
        )
        .unwrap();
    }
    assert!(std::fs::metadata(sibling(&path, "-wal")).unwrap().len() > 0);
    assert!(std::fs::read(&path).unwrap().starts_with(b"SQLite format 3\0"));

    let mut store = Store::open(&path, &key).unwrap();
    assert!(store.open_report().converted_from_plaintext);
    assert_eq!(store.open_report().recovered_from, None);
    assert_eq!(store.count_leads().unwrap(), 30);
    let queued: Vec<Mutation> = store
        .outbox_pending(100)
        .unwrap()
        .into_iter()
        .map(|e| e.mutation)
        .collect();
    assert_eq!(queued, filled.pending);
    assert_eq!(store.device_id().unwrap(), filled.device_id);
    drop(store);

    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.starts_with(b"SQLite format 3\0"));
    assert!(!contains(&bytes, b"Customer Kavitha"));
    assert!(!sibling(&path, ".encrypting").exists());
    assert!(files_with(dir.path(), "corrupt").is_empty());
    // The change that was only in the old log made it across.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex().as_str()))
        .unwrap();
    let v: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'only_in_the_log'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, "yes");
    drop(conn);
    let store = Store::open(&path, &key).unwrap();
    assert!(!store.open_report().converted_from_plaintext);
}

#[test]
fn the_key_file_is_created_once_with_mode_0600_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = load_or_create(&data, KeyStorage::File).unwrap();
    assert!(first.created);
    let file = data.join(KEY_FILE_NAME);
    assert_eq!(first.source, KeySource::File(file.clone()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.trim(), first.key.to_hex().as_str());

    let again = load_or_create(&data, KeyStorage::File).unwrap();
    assert!(!again.created);
    assert_eq!(again.key, first.key);

    // The key opens the cache made with it.
    let cache = data.join("leadline.sqlite3");
    fill(&cache, &first.key, 3, 0);
    assert_eq!(Store::open(&cache, &again.key).unwrap().count_leads().unwrap(), 3);
}

#[test]
fn racing_processes_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let keys: Vec<StoreKey> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| load_or_create(&data, KeyStorage::File).unwrap().key))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(keys.iter().all(|k| k == &keys[0]));
    assert_eq!(
        files_with(&data, "store.key").len(),
        1,
        "no temporary file left behind"
    );
}

#[cfg(unix)]
#[test]
fn a_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let made = load_or_create(dir.path(), KeyStorage::File).unwrap();
    let file = dir.path().join(KEY_FILE_NAME);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = load_or_create(dir.path(), KeyStorage::File).unwrap_err();
    assert!(
        matches!(&err, StoreError::KeyFile { path, .. } if path == &file),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    // Not replaced by a new key.
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        made.key.to_hex().as_str()
    );
}

#[test]
fn a_key_file_without_a_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(KEY_FILE_NAME);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&file).unwrap(), b"not a key at all\n").unwrap();
    let err = load_or_create(dir.path(), KeyStorage::File).unwrap_err();
    assert!(
        matches!(&err, StoreError::KeyFile { path, .. } if path == &file),
        "{err:?}"
    );
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a key at all\n");
}

#[test]
fn a_light_open_skips_the_full_read_and_the_check_aside_finds_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    fill(&path, &key, 400, 2);
    assert_eq!(Store::check_integrity(&path, &key).unwrap(), None, "a sound file");

    let lead_pages = pages_of(&path, &key, "leads");
    let outbox_pages = pages_of(&path, &key, "outbox");
    let victim = lead_pages[lead_pages.len() / 2];
    assert!(!outbox_pages.contains(&victim));
    garble_page(&path, victim);

    // A light open reads the schema, not every page: the file opens as it is, untouched.
    let light = Store::open_with(&path, &key, OpenCheck::Light).unwrap();
    assert!(light.open_report().recovered_from.is_none());
    // The check run aside (while the cache is open) finds the damage...
    let found = Store::check_integrity(&path, &key).unwrap();
    assert!(found.is_some(), "the garbled page is found");
    drop(light);
    // ...and the full open, the next start's, moves the file aside and keeps the pending changes.
    let store = Store::open_with(&path, &key, OpenCheck::Full).unwrap();
    assert!(store.open_report().recovered_from.is_some());
    assert_eq!(store.pending_count().unwrap().pending, 2);
    // A wrong key is an error, not damage.
    let other = StoreKey::generate().unwrap();
    assert!(Store::check_integrity(&path, &other).is_err());
}

/// The file's pages as SQLCipher wrote them, decrypted with the raw key: SQLCipher 4's format — 4096-byte
/// pages, each ending in 80 reserved bytes (a 16-byte IV, then the HMAC), the rest AES-256-CBC; page 1
/// starts with the 16-byte salt, outside the ciphertext. The free pages and free space inside pages are
/// there too, which no SQL query shows.
fn plaintext_pages(path: &Path, key: &StoreKey) -> Vec<u8> {
    use aes::cipher::{BlockDecrypt, KeyInit, generic_array::GenericArray};
    const RESERVE: usize = 80;
    let hex = key.to_hex();
    let raw: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let cipher = aes::Aes256::new(GenericArray::from_slice(&raw));
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len() % PAGE, 0, "whole pages");
    let mut plain = Vec::with_capacity(bytes.len());
    for (n, page) in bytes.chunks(PAGE).enumerate() {
        let start = if n == 0 { 16 } else { 0 };
        let mut previous: [u8; 16] = page[PAGE - RESERVE..PAGE - RESERVE + 16].try_into().unwrap();
        for block in page[start..PAGE - RESERVE].chunks(16) {
            let mut b = GenericArray::clone_from_slice(block);
            cipher.decrypt_block(&mut b);
            plain.extend(b.iter().zip(previous).map(|(x, p)| x ^ p));
            previous = block.try_into().unwrap();
        }
    }
    plain
}

/// A lead erased on the person's request leaves nothing of it in the cache file: not in the freed pages,
/// not in free space inside pages, not in the search index's segments, not in the write-ahead log —
/// read by decrypting every page with the key, as someone holding the laptop and its keyring could.
#[test]
fn an_erased_lead_leaves_no_trace_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let key = StoreKey::generate().unwrap();
    let filled = fill(&path, &key, 300, 0);
    let mut person = lead(90_001, &filled.user);
    person.name = "Zebulon Quixote".into();
    person.phone = PhoneNumber::parse("+919811122233").unwrap();
    person.email = Some("zebulon.quixote@example.in".into());
    person.interest = Some("emerald choker for Zanzibar wedding".into());
    // Its neighbours share its pages: the erasure must not simply free whole pages.
    let neighbours: Vec<Lead> = (0..20).map(|i| lead(80_000 + i, &filled.user)).collect();
    let mut changes: Vec<Change> = neighbours.iter().cloned().map(Change::Lead).collect();
    changes.insert(10, Change::Lead(person.clone()));
    let mut store = Store::open(&path, &key).unwrap();
    store.apply_pull_page(&page(changes, "c2")).unwrap();
    store
        .log_call(&call(&person, "Zebulon wants the peacock necklace"))
        .unwrap();
    for (i, n) in neighbours.iter().enumerate() {
        store.log_call(&call(n, &format!("ordinary note {i}"))).unwrap();
    }
    drop(store);
    let traces: [&[u8]; 6] = [
        b"Zebulon",
        b"zebulon",
        b"Quixote",
        b"9811122233",
        b"Zanzibar",
        b"peacock",
    ];
    let before = plaintext_pages(&path, &key);
    for t in traces {
        assert!(
            contains(&before, t),
            "the decryption reads the file: {} is there before the erasure",
            String::from_utf8_lossy(t)
        );
    }

    let mut store = Store::open(&path, &key).unwrap();
    let report = store
        .apply_pull_page(&page(
            vec![Change::LeadRemoved {
                lead_id: person.id,
                erased_at: Some(now()),
            }],
            "c3",
        ))
        .unwrap();
    assert_eq!(report.leads_removed, 1);
    // Still open: the log was emptied by the checkpoint after the erasure.
    let wal = sibling(&path, "-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the write-ahead log still holds {} bytes",
        std::fs::metadata(&wal).unwrap().len()
    );
    let after = plaintext_pages(&path, &key);
    for t in traces {
        assert!(
            !contains(&after, t),
            "{} is still in the file after the erasure",
            String::from_utf8_lossy(t)
        );
    }
    // The rest is intact and searchable.
    assert!(contains(&after, b"ordinary note 7"));
    assert_eq!(store.count_leads().unwrap(), 320);
    assert_eq!(store.outbox_pending(100).unwrap().len(), 21);
    drop(store);
    let after_close = plaintext_pages(&path, &key);
    assert!(traces.iter().all(|t| !contains(&after_close, t)));
}
