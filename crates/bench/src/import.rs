//! The CSV import half of `leadline-bench store`: [`leadline_store::Store::import_leads_csv`] against a
//! plain prepared-statement insert of the same rows, in the same run.
//!
//! Ours: a file of `rows` leads as people type them (phones with spaces, dashes, a trunk `0` or `+91`),
//! imported into a fresh cache: decoding, header matching, validation and normalisation of every field
//! (the server's rules), duplicate checks, then the lead, its search-index row and its outbox entry, in one
//! transaction.
//!
//! Peer (`sqlite_raw_insert_rows_per_s`): the same rows, already split into fields, written with one
//! prepared `INSERT INTO leads` each, in one transaction, into a fresh cache file of the same kind
//! (SQLCipher, the same schema, indexes and triggers): what writing the rows costs before Leadline does
//! anything of its own. Also printed (`bare_table`): the same insert into a table with the same columns and
//! no index, the lower bound of any import into this file.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use leadline_model::import::ImportOptions;
use leadline_model::{Role, User, new_id};
use leadline_store::Store;
use serde_json::json;

use crate::emit;

/// One generated row, in the import's column order ([`HEADER`]).
type Row = [String; 11];

const HEADER: &str =
    "Full Name,Mobile,Alternate Phone,Email,City,Source,Interest,Budget,Priority,Status,Tags";

const CITIES: &[&str] = &[
    "Chennai",
    "Coimbatore",
    "Madurai",
    "Bengaluru",
    "Hyderabad",
    "Mumbai",
];
const SOURCES: &[&str] = &["walk_in", "website", "instagram", "facebook", "referral", "other"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "hot"];
const STATUSES: &[&str] = &["new", "contacted", "interested", "follow_up"];
const INTERESTS: &[&str] = &[
    "bridal set",
    "gold coins",
    "temple jewellery",
    "diamond studs",
    "",
];
const TAG_SETS: &[&str] = &["", "wedding", "wedding;vip", "festive", "gold;repeat"];

/// The figures of one run.
pub struct ImportFigures {
    pub import_rows_per_s: f64,
    pub sqlite_raw_insert_rows_per_s: f64,
    pub bare_table_rows_per_s: f64,
}

/// The `i`th row: distinct numbers in several hand-typed forms.
fn row(i: usize, first: &[&str], last: &[&str]) -> Row {
    let national = format!("98{:08}", (i as u64 * 7_919) % 100_000_000);
    let phone = match i % 4 {
        0 => format!("{} {}", &national[..5], &national[5..]),
        1 => format!("+91-{}-{}", &national[..5], &national[5..]),
        2 => format!("0{national}"),
        _ => format!("+91{national}"),
    };
    let alternate = if i.is_multiple_of(10) {
        format!("044 2{:07}", i % 10_000_000)
    } else {
        String::new()
    };
    let name = format!(
        "{} {}",
        first[i % first.len()],
        last[(i / first.len()) % last.len()]
    );
    let email = if i.is_multiple_of(3) {
        format!("lead{i}@example.in")
    } else {
        String::new()
    };
    [
        name,
        phone,
        alternate,
        email,
        CITIES[i % CITIES.len()].to_owned(),
        SOURCES[i % SOURCES.len()].to_owned(),
        INTERESTS[i % INTERESTS.len()].to_owned(),
        if i.is_multiple_of(2) {
            format!("{}", 25_000 + (i % 40) * 5_000)
        } else {
            String::new()
        },
        PRIORITIES[i % PRIORITIES.len()].to_owned(),
        STATUSES[i % STATUSES.len()].to_owned(),
        TAG_SETS[i % TAG_SETS.len()].to_owned(),
    ]
}

fn csv_text(rows: &[Row]) -> String {
    let mut text = String::with_capacity(rows.len() * 120);
    text.push_str(HEADER);
    text.push_str("\r\n");
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .map(|c| {
                if c.contains([',', '"', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    text
}

fn fresh_store(path: &Path, key: &leadline_store::StoreKey, me: &User) -> Result<Store> {
    let mut store = Store::open(path, key)?;
    store.set_account("http://bench", me)?;
    Ok(store)
}

/// Writes `rows` with one prepared insert each into `table` of the cache at `path`, in one transaction.
fn raw_insert(path: &Path, key_hex: &str, table: &str, rows: &[Row], me: &User) -> Result<f64> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{key_hex}'\"; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;"
    ))?;
    if table != "leads" {
        conn.execute_batch(&format!(
            "CREATE TABLE {table} (id TEXT, name TEXT, phone TEXT, alternate_phone TEXT, email TEXT, city TEXT,
               source TEXT, interest TEXT, budget_inr INTEGER, priority TEXT, status TEXT, tags TEXT,
               assigned_to TEXT, created_at TEXT, updated_at TEXT, version INTEGER)"
        ))?;
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let me = me.id.to_string();
    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(&format!(
            "INSERT INTO {table} (id, name, phone, alternate_phone, email, city, source, interest, budget_inr,
               priority, status, tags, assigned_to, created_at, updated_at, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, 1)"
        ))?;
        for r in rows {
            let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
            stmt.execute(rusqlite::params![
                new_id().to_string(),
                r[0],
                r[1],
                opt(&r[2]),
                opt(&r[3]),
                opt(&r[4]),
                r[5],
                opt(&r[6]),
                r[7].parse::<i64>().ok(),
                r[8],
                r[9],
                r[10],
                me,
                now,
            ])?;
        }
    }
    tx.commit()?;
    Ok(rows.len() as f64 / t.elapsed().as_secs_f64())
}

/// Three alternating rounds of each; the median of each is reported.
pub fn run(
    rows: usize,
    key: &leadline_store::StoreKey,
    key_hex: &str,
    first: &[&str],
    last: &[&str],
) -> Result<ImportFigures> {
    let data: Vec<Row> = (0..rows).map(|i| row(i, first, last)).collect();
    let text = csv_text(&data);
    let me = User {
        id: new_id(),
        username: "importer".into(),
        name: "Import Bench".into(),
        role: Role::Telecaller,
        team: None,
    };
    let mut ours = Vec::new();
    let mut raw = Vec::new();
    let mut bare = Vec::new();
    for round in 0..3 {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("import.sqlite3");
        let mut store = fresh_store(&path, key, &me)?;
        let t = Instant::now();
        let done = store
            .import_leads_csv(text.as_bytes(), &ImportOptions::default())
            .context("the import")?;
        let s = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            done.created == rows && done.report.issues_total == 0,
            "imported {} of {rows} ({} issues: {:?})",
            done.created,
            done.report.issues_total,
            done.report.issues.first()
        );
        ours.push(rows as f64 / s);
        drop(store);

        let dir = tempfile::tempdir()?;
        let path = dir.path().join("raw.sqlite3");
        drop(fresh_store(&path, key, &me)?);
        raw.push(raw_insert(&path, key_hex, "leads", &data, &me)?);
        bare.push(raw_insert(&path, key_hex, "bare_leads", &data, &me)?);
        emit(&json!({
            "bench": "store", "step": "import", "round": round, "rows": rows,
            "import_rows_per_s": ours[round].round(), "sqlite_raw_insert_rows_per_s": raw[round].round(),
            "bare_table_rows_per_s": bare[round].round(),
        }));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2].round()
    };
    Ok(ImportFigures {
        import_rows_per_s: median(&mut ours),
        sqlite_raw_insert_rows_per_s: median(&mut raw),
        bare_table_rows_per_s: median(&mut bare),
    })
}
