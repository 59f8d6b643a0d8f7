//! `leadline-bench server`: the central API under a showroom chain's load. An in-process server on a
//! SQLite file with 100,000 leads and 1,000,000 call logs (PII sealed, as in production) serves 500
//! simulated telecallers for a bounded time. Each telecaller loops: pull changes since its cursor, list
//! a page of its leads, open one lead, and push a call log through `sync/push`, with a think time
//! between rounds. One JSON line per operation kind, then the summary
//! `{"bench":"server","p50_ms":…,"p99_ms":…,"requests_per_s":…,"errors":…}`.
//!
//! Peer: the same lead-list page as a raw SQL query on the same file (no HTTP, no auth, no decryption),
//! measured in the same run, so the ratio shows what the API layers cost on this machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use leadline_model::sync::{Cursor, Mutation, MutationOp, PROTOCOL_VERSION, PushBatch};
use leadline_model::{
    CallDirection, CallLog, Id, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role, User,
};
use leadline_server::db::{self, Tx};
use leadline_server::pii::PiiKeys;
use leadline_server::{ServeConfig, auth, cursor};
use serde_json::json;

use crate::emit;

/// The run's shape.
#[derive(Debug, Clone)]
pub struct Options {
    pub leads: u32,
    pub calls: u32,
    pub telecallers: u32,
    pub seconds: u64,
    /// Mean pause between one telecaller's rounds.
    pub think_ms: u64,
    /// Where to keep (and find) a seeded database of this shape.
    pub seed_cache: Option<std::path::PathBuf>,
}

const TEAM_SIZE: u32 = 50;
const DISPOSITIONS: &[&str] = &[
    "no_answer",
    "busy",
    "callback_requested",
    "interested",
    "price_enquiry",
];

pub fn run(opts: Options) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(opts))
}

pub(crate) struct Seeded {
    pub(crate) telecallers: Vec<User>,
    /// Each telecaller's lead ids.
    leads: Vec<Vec<Id>>,
    last_seq: i64,
}

/// Deterministic pseudo-random numbers (no dependency, reproducible runs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub(crate) fn seed(path: &std::path::Path, pii: &PiiKeys, opts: &Options) -> Result<Seeded> {
    let mut conn = db::open_connection(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let hash = auth::hash_password("bench-password")?;
    let now = Utc::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let teams = opts.telecallers.div_ceil(TEAM_SIZE);
    let mut telecallers = Vec::new();
    db::with_sqlite_tx(&mut conn, pii, |tx: &mut Tx<'_>| -> Result<(), db::DbError> {
        for t in 0..teams {
            let team = format!("Showroom {t:02}");
            let sup = User {
                id: leadline_model::new_id(),
                username: format!("sup{t:02}"),
                name: format!("Supervisor {t:02}"),
                role: Role::Supervisor,
                team: Some(team.clone()),
            };
            db::insert_user(tx, &sup, &hash, &now)?;
            for i in 0..TEAM_SIZE {
                let n = t * TEAM_SIZE + i;
                if n >= opts.telecallers {
                    break;
                }
                let user = User {
                    id: leadline_model::new_id(),
                    username: format!("tc{n:04}"),
                    name: format!("Telecaller {n:04}"),
                    role: Role::Telecaller,
                    team: Some(team.clone()),
                };
                db::insert_user(tx, &user, &hash, &now)?;
                telecallers.push(user);
            }
        }
        Ok(())
    })?;
    let mut leads: Vec<Vec<Id>> = vec![Vec::new(); telecallers.len()];
    let chunk = 20_000u32;
    let mut written = 0u32;
    while written < opts.leads {
        let n = chunk.min(opts.leads - written);
        db::with_sqlite_tx(&mut conn, pii, |tx| -> Result<(), db::DbError> {
            let first = db::reserve_seqs(tx, i64::from(n))?;
            for (seq, k) in (first..).zip(written..written + n) {
                let owner = (k as usize) % telecallers.len();
                let user = &telecallers[owner];
                let created = now - chrono::Duration::minutes(rng.below(180 * 24 * 60) as i64);
                let phone = PhoneNumber::from_stored(&format!("+9198{:08}", k))
                    .map_err(|e| db::DbError::Interact(e.to_string()))?;
                let lead = Lead {
                    id: leadline_model::new_id(),
                    name: format!("Lead {k}"),
                    phone,
                    alternate_phone: None,
                    email: (k % 3 == 0).then(|| format!("lead{k}@example.in")),
                    city: Some("Mumbai".to_owned()),
                    source: LeadSource::Website,
                    interest: Some("Gold necklace".to_owned()),
                    budget_inr: Some(150_000),
                    priority: LeadPriority::Normal,
                    status: LeadStatus::Contacted,
                    tags: vec![],
                    assigned_to: Some(user.id),
                    created_at: created,
                    updated_at: created,
                    version: 1,
                };
                db::insert_lead(tx, &lead, user.team.as_deref(), seq)?;
                leads[owner].push(lead.id);
            }
            Ok(())
        })?;
        written += n;
    }
    let mut written = 0u32;
    while written < opts.calls {
        let n = chunk.min(opts.calls - written);
        db::with_sqlite_tx(&mut conn, pii, |tx| -> Result<(), db::DbError> {
            let first = db::reserve_seqs(tx, i64::from(n))?;
            for (seq, k) in (first..).zip(written..written + n) {
                let owner = (k as usize) % telecallers.len();
                let mine = &leads[owner];
                let lead = mine[rng.below(mine.len() as u64) as usize];
                let started = now - chrono::Duration::seconds(rng.below(180 * 24 * 3600) as i64);
                let log = call_log(lead, telecallers[owner].id, started, k as usize);
                db::insert_call_log(tx, &log, &started, seq)?;
            }
            Ok(())
        })?;
        written += n;
    }
    let last_seq = db::with_sqlite_tx(&mut conn, pii, |tx| -> Result<i64, db::DbError> {
        Ok(tx.query_scalar("SELECT value FROM change_seq", &[])?)
    })?;
    conn.execute_batch("PRAGMA synchronous = FULL; ANALYZE;")?;
    Ok(Seeded {
        telecallers,
        leads,
        last_seq,
    })
}

/// Reads back what [`seed`] made from a cached copy of its database.
fn load_seeded(path: &std::path::Path) -> Result<Seeded> {
    let conn = rusqlite::Connection::open(path)?;
    let mut telecallers = Vec::new();
    let mut stmt = conn
        .prepare("SELECT id, username, name, team FROM users WHERE role = 'telecaller' ORDER BY username")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        telecallers.push(User {
            id: Id::parse_str(&id)?,
            username: row.get(1)?,
            name: row.get(2)?,
            role: Role::Telecaller,
            team: row.get(3)?,
        });
    }
    let index: std::collections::HashMap<String, usize> = telecallers
        .iter()
        .enumerate()
        .map(|(i, u)| (db::id_text(&u.id), i))
        .collect();
    let mut leads = vec![Vec::new(); telecallers.len()];
    let mut stmt = conn.prepare("SELECT id, assigned_to FROM leads ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (id, owner): (String, String) = (row.get(0)?, row.get(1)?);
        if let Some(&i) = index.get(&owner) {
            leads[i].push(Id::parse_str(&id)?);
        }
    }
    let last_seq: i64 = conn.query_row("SELECT value FROM change_seq", [], |r| r.get(0))?;
    anyhow::ensure!(!telecallers.is_empty(), "cached database has no telecallers");
    Ok(Seeded {
        telecallers,
        leads,
        last_seq,
    })
}

fn call_log(lead: Id, telecaller: Id, started: leadline_model::Timestamp, k: usize) -> CallLog {
    let disposition = DISPOSITIONS[k % DISPOSITIONS.len()];
    let connected = !matches!(disposition, "no_answer" | "busy");
    CallLog {
        id: leadline_model::new_id(),
        lead_id: lead,
        telecaller_id: telecaller,
        direction: CallDirection::Outbound,
        started_at: started,
        answered_at: connected.then_some(started + chrono::Duration::seconds(8)),
        ended_at: Some(started + chrono::Duration::seconds(if connected { 180 } else { 30 })),
        duration_s: if connected { 172 } else { 0 },
        disposition: disposition.to_owned(),
        outcome_tags: vec![],
        notes: "Asked about the new bridal collection; will visit with family on Sunday.".to_owned(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: Some("bench".to_owned()),
        quality: None,
    }
}

// The simulated clients share the two cores with the server, so they check each answer's shape without
// building the full domain types (a desktop's phone-number validation alone cost more CPU than some
// requests). The e2e tests check the full types.

/// A pull page, as far as the client needs it.
#[derive(serde::Deserialize)]
struct PullCursor {
    next_cursor: Cursor,
    #[allow(dead_code)]
    changes: Vec<serde::de::IgnoredAny>,
}

/// A lead page's shape.
#[derive(serde::Deserialize)]
struct LeadPageShape {
    #[allow(dead_code)]
    leads: Vec<serde::de::IgnoredAny>,
}

/// A lead's shape.
#[derive(serde::Deserialize)]
struct LeadShape {
    #[allow(dead_code)]
    id: Id,
    #[allow(dead_code)]
    phone: String,
}

#[derive(Default)]
struct Samples {
    pull: Vec<Duration>,
    list: Vec<Duration>,
    get: Vec<Duration>,
    push: Vec<Duration>,
}

/// One simulated telecaller.
struct Sim {
    http: reqwest::Client,
    base: String,
    token: String,
    user: User,
    leads: Vec<Id>,
    start_seq: i64,
    until: Instant,
    think_ms: u64,
    errors: Arc<AtomicU64>,
    seed: u64,
}

async fn telecaller(sim: Sim) -> Samples {
    let Sim {
        http,
        base,
        token,
        user,
        leads,
        start_seq,
        until,
        think_ms,
        errors,
        seed,
    } = sim;
    let mut samples = Samples::default();
    let mut rng = Rng(seed | 1);
    let mut cursor: Cursor = cursor::encode(start_seq);
    // Spread the first rounds over one think time.
    tokio::time::sleep(Duration::from_millis(rng.below(think_ms.max(1)))).await;
    while Instant::now() < until {
        let t = Instant::now();
        match http
            .get(format!("{base}/api/v1/sync/pull"))
            .bearer_auth(&token)
            .query(&[("cursor", cursor.0.as_str()), ("limit", "500")])
            .send()
            .await
        {
            Ok(res) if res.status().is_success() => match res.json::<PullCursor>().await {
                Ok(page) => {
                    cursor = page.next_cursor;
                    samples.pull.push(t.elapsed());
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            },
            _ => {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }

        let t = Instant::now();
        match http
            .get(format!("{base}/api/v1/leads"))
            .bearer_auth(&token)
            .query(&[("limit", "50")])
            .send()
            .await
        {
            Ok(res) if res.status().is_success() => match res.json::<LeadPageShape>().await {
                Ok(_) => samples.list.push(t.elapsed()),
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            },
            _ => {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }

        let lead = leads[rng.below(leads.len() as u64) as usize];
        let t = Instant::now();
        match http
            .get(format!("{base}/api/v1/leads/{lead}"))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(res) if res.status().is_success() => match res.json::<LeadShape>().await {
                Ok(_) => samples.get.push(t.elapsed()),
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            },
            _ => {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }

        let now = Utc::now();
        let batch = PushBatch {
            protocol: PROTOCOL_VERSION,
            device_id: format!("bench-{}", user.username),
            mutations: vec![Mutation {
                client_mutation_id: leadline_model::new_id(),
                created_at: now,
                op: MutationOp::CreateCallLog(call_log(lead, user.id, now, rng.below(5) as usize)),
            }],
        };
        let t = Instant::now();
        match http
            .post(format!("{base}/api/v1/sync/push"))
            .bearer_auth(&token)
            .json(&batch)
            .send()
            .await
        {
            Ok(res) if res.status().is_success() => samples.push.push(t.elapsed()),
            _ => {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }

        let pause = think_ms / 2 + rng.below(think_ms.max(1));
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    samples
}

pub(crate) fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    (sorted[i].as_secs_f64() * 1e3 * 100.0).round() / 100.0
}

async fn run_async(opts: Options) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let pii = Arc::new(PiiKeys::new(vec![("b1".to_owned(), [3u8; 32])], "b1", [5u8; 32])?);
    let path = db::db_path(dir.path());
    let t = Instant::now();
    let cached = opts.seed_cache.as_ref().map(|dir| {
        dir.join(format!(
            "server-{}-{}-{}.sqlite3",
            opts.leads, opts.calls, opts.telecallers
        ))
    });
    let seeded = match &cached {
        Some(file) if file.exists() => {
            std::fs::copy(file, &path).with_context(|| format!("copying {}", file.display()))?;
            load_seeded(&path)?
        }
        _ => {
            let seeded = {
                let (path, pii, opts) = (path.clone(), pii.clone(), opts.clone());
                tokio::task::spawn_blocking(move || seed(&path, &pii, &opts)).await??
            };
            if let Some(file) = &cached {
                let conn = rusqlite::Connection::open(&path)?;
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
                drop(conn);
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::copy(&path, file).with_context(|| format!("caching {}", file.display()))?;
            }
            seeded
        }
    };
    let db_mib = std::fs::metadata(&path)
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0);
    emit(&json!({
        "bench": "server", "phase": "seed", "leads": opts.leads, "call_logs": opts.calls,
        "telecallers": seeded.telecallers.len(), "seconds": t.elapsed().as_secs_f64().round(),
        "db_mib": db_mib.round(),
    }));

    // Peer: the telecaller's first lead page as raw SQL on the same file.
    let peer_p50_ms = {
        let conn = rusqlite::Connection::open(&path)?;
        let who = db::id_text(&seeded.telecallers[0].id);
        let mut times = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, phone, email, status, updated_at FROM leads WHERE assigned_to = ?1
                 ORDER BY updated_at DESC, id DESC LIMIT 51",
            )?;
            let n = stmt.query_map([&who], |r| r.get::<_, String>(0))?.count();
            anyhow::ensure!(n > 0, "peer query found no leads");
            times.push(t.elapsed());
        }
        times.sort();
        percentile(&times, 0.5)
    };

    let mut config = ServeConfig::new(dir.path());
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.jwt_secret = Some("bench-secret-bench-secret-bench-secret!".into());
    config.pii = Some(pii.clone());
    // Default rate limits: they key on the user, so 500 telecallers from one address are 500 quotas.
    let server = leadline_server::start(&config)
        .await
        .context("starting the server")?;
    let base = server.base_url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()?;
    let errors = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, user) in seeded.telecallers.iter().enumerate() {
        let token = server.state().keys().issue(user, Utc::now())?;
        tasks.push(tokio::spawn(telecaller(Sim {
            http: http.clone(),
            base: base.clone(),
            token,
            user: user.clone(),
            leads: seeded.leads[i].clone(),
            start_seq: seeded.last_seq,
            until,
            think_ms: opts.think_ms,
            errors: errors.clone(),
            seed: 0x5eed + i as u64,
        })));
    }
    let mut all = Samples::default();
    for task in tasks {
        let s = task.await?;
        all.pull.extend(s.pull);
        all.list.extend(s.list);
        all.get.extend(s.get);
        all.push.extend(s.push);
    }
    let elapsed = started.elapsed().as_secs_f64();
    server.stop().await?;

    let mut every = Vec::new();
    let mut list_p50 = 0.0;
    for (name, samples) in [
        ("pull", &mut all.pull),
        ("list_leads", &mut all.list),
        ("get_lead", &mut all.get),
        ("push_call_log", &mut all.push),
    ] {
        samples.sort();
        if name == "list_leads" {
            list_p50 = percentile(samples, 0.5);
        }
        emit(&json!({
            "bench": "server", "op": name, "requests": samples.len(),
            "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99),
            "max_ms": percentile(samples, 1.0),
        }));
        every.extend(samples.iter().copied());
    }
    every.sort();
    let errors = errors.load(Ordering::Relaxed);
    emit(&json!({
        "bench": "server", "op": "peer_raw_sql_lead_page", "p50_ms": peer_p50_ms,
        "list_over_peer": crate::stats::ratio(list_p50, peer_p50_ms),
    }));
    emit(&json!({
        "bench": "server",
        "leads": opts.leads, "call_logs": opts.calls, "telecallers": seeded.telecallers.len(),
        "seconds": opts.seconds, "think_ms": opts.think_ms,
        "requests": every.len(),
        "p50_ms": percentile(&every, 0.5),
        "p99_ms": percentile(&every, 0.99),
        "requests_per_s": ((every.len() as f64 / elapsed) * 10.0).round() / 10.0,
        "errors": errors,
    }));
    Ok(())
}
