//! Search over a large local cache: Leadline's FTS5 index against the obvious peer, a LIKE scan in the same
//! SQLite file.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{Duration as Days, Utc};
use leadline_model::sync::{Change, Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::{Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role, User, new_id};
use leadline_store::{LeadQuery, Store, StoreKey};
use serde_json::json;

use crate::emit;
use crate::stats::{ratio, summarise};

const FIRST: &[&str] = &[
    "Asha",
    "Ravi",
    "Meenakshi",
    "Farhan",
    "Lakshmi",
    "Harpreet",
    "Sunita",
    "Vikram",
];
const LAST: &[&str] = &[
    "Kulkarni", "Pillai", "Sundaram", "Qureshi", "Iyer", "Gill", "Bose", "Rathore",
];

fn lead(i: u32, owner: &User) -> Result<Lead> {
    let now = Utc::now() - Days::minutes(i64::from(i));
    Ok(Lead {
        id: new_id(),
        name: format!(
            "{} {} {i}",
            FIRST[i as usize % FIRST.len()],
            LAST[(i as usize / 8) % LAST.len()]
        ),
        phone: PhoneNumber::parse(&format!("+9198{:08}", (u64::from(i) * 7_919) % 100_000_000))?,
        alternate_phone: None,
        email: None,
        city: Some("Chennai".into()),
        source: LeadSource::ALL[i as usize % LeadSource::ALL.len()],
        interest: Some("temple jewellery".into()),
        budget_inr: Some(50_000),
        priority: LeadPriority::ALL[i as usize % LeadPriority::ALL.len()],
        status: LeadStatus::ALL[i as usize % LeadStatus::ALL.len()],
        tags: vec![],
        assigned_to: Some(owner.id),
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

pub fn run(leads: u32, runs: u32) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite3");
    let mut store = Store::open(&path, &StoreKey::generate()?)?;
    let me = User {
        id: new_id(),
        username: "bench".into(),
        name: "Bench".into(),
        role: Role::Telecaller,
        team: None,
    };
    store.set_account("http://bench", &me)?;
    let started = Instant::now();
    for chunk in (0..leads).collect::<Vec<_>>().chunks(2_000) {
        let changes = chunk
            .iter()
            .map(|&i| lead(i, &me).map(Change::Lead))
            .collect::<Result<Vec<_>>>()?;
        store.apply_pull_page(&PullPage {
            protocol: PROTOCOL_VERSION,
            changes,
            next_cursor: Cursor(format!("{}", chunk[0])),
            has_more: false,
            dispositions: vec![],
            server_time: Utc::now(),
        })?;
    }
    let load_ms = started.elapsed().as_millis();
    emit(&json!({"bench": "lead-search", "step": "load", "leads": leads, "ms": load_ms}));

    let raw = rusqlite::Connection::open(&path).context("peer connection")?;
    let queries = [
        ("name", "sundaram"),
        ("phone_prefix", "98123"),
        ("two_words", "asha kulk"),
    ];
    let mut ratios = Vec::new();
    let mut worst_p50 = 0.0_f64;
    for (label, text) in queries {
        let mut ours = Vec::new();
        let mut hits = 0;
        for _ in 0..runs {
            let t = Instant::now();
            hits = store
                .list_leads(&LeadQuery {
                    search: Some(text.into()),
                    limit: Some(50),
                    ..Default::default()
                })?
                .len();
            ours.push(t.elapsed());
        }
        let like = like_pattern(text);
        let mut peer: Vec<Duration> = Vec::new();
        let mut peer_hits = 0;
        let mut stmt = raw.prepare(
            "SELECT id, name, phone FROM leads WHERE removed = 0 AND (name LIKE ?1 OR phone LIKE ?1)
             ORDER BY updated_at DESC LIMIT 50",
        )?;
        for _ in 0..runs {
            let t = Instant::now();
            peer_hits = stmt.query_map([&like], |r| r.get::<_, String>(0))?.count();
            peer.push(t.elapsed());
        }
        let o = summarise(&mut ours);
        let p = summarise(&mut peer);
        worst_p50 = worst_p50.max(o.p50_us);
        ratios.push(ratio(p.p50_us, o.p50_us));
        emit(&json!({
            "bench": "lead-search", "query": label, "text": text, "hits": hits, "peer_hits": peer_hits,
            "p50_us": o.p50_us, "p95_us": o.p95_us, "like_p50_us": p.p50_us, "like_p95_us": p.p95_us,
            "speedup_vs_like": ratio(p.p50_us, o.p50_us),
        }));
    }
    let min_speedup = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    emit(&json!({
        "bench": "lead-search", "leads": leads, "runs": runs, "load_ms": load_ms,
        "worst_p50_us": worst_p50, "min_speedup_vs_like": min_speedup,
    }));
    Ok(())
}

/// What a plain implementation would do: a substring LIKE on name or phone.
fn like_pattern(text: &str) -> String {
    format!("%{}%", text.split_whitespace().next().unwrap_or(text))
}
