//! `leadline-bench sync`: the desktop's sync engine against a local server in this process.
//!
//! - initial sync: a new device of a telecaller holding 100,000 leads pulls everything into a fresh cache
//!   file (peer: the same pages fetched and decoded without being applied);
//! - idle round trip: one [`leadline_sync::sync_once`] with nothing to push or pull (peer: `GET /healthz`);
//! - offline push: 10,000 call logs written while offline, then pushed (peer: the same mutations sent as
//!   raw HTTP batches straight from memory to a second copy of the server's database state is not
//!   possible without doubling the seed, so the figure is reported with calls/s).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;
use leadline_model::sync::{Cursor, PullPage};
use leadline_model::{CallDirection, CallLog, new_id};
use leadline_server::ServeConfig;
use leadline_server::pii::PiiKeys;
use leadline_store::{LeadQuery, Store, StoreKey};
use leadline_sync::{Client, SharedStore};
use serde_json::json;

use crate::emit;
use crate::server::percentile;
use crate::stats::ratio;

/// The run's shape.
#[derive(Debug, Clone)]
pub struct Options {
    pub leads: u32,
    pub calls: u32,
    pub idle_runs: u32,
    pub seed_cache: Option<std::path::PathBuf>,
}

pub fn run(opts: Options) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(opts))
}

/// A server in this process with one telecaller holding `leads` leads (SQLite, its usual PII sealing); the
/// seeded database is kept in `seed_cache` and reused when it is there. Also used by `leadline-bench app`.
pub(crate) struct SeededServer {
    pub server: leadline_server::RunningServer,
    /// The telecaller's user name (password `bench-password`).
    pub user: String,
    pub _dir: tempfile::TempDir,
}

pub(crate) async fn seeded_server(
    bench: &str,
    leads: u32,
    seed_cache: Option<&std::path::Path>,
) -> Result<SeededServer> {
    let dir = tempfile::tempdir()?;
    let pii = Arc::new(PiiKeys::new(vec![("b1".to_owned(), [3u8; 32])], "b1", [5u8; 32])?);
    let path = leadline_server::db::db_path(dir.path());
    let shape = crate::server::Options {
        leads,
        calls: 0,
        telecallers: 1,
        seconds: 0,
        think_ms: 0,
        seed_cache: None,
    };
    let t = Instant::now();
    let cached = seed_cache.map(|d| d.join(format!("sync-{leads}-1.sqlite3")));
    let user = match &cached {
        Some(file) if file.exists() => {
            std::fs::copy(file, &path).with_context(|| format!("copying {}", file.display()))?;
            "tc0000".to_owned()
        }
        _ => {
            let seeded = {
                let (path, pii, shape) = (path.clone(), pii.clone(), shape.clone());
                tokio::task::spawn_blocking(move || crate::server::seed(&path, &pii, &shape)).await??
            };
            if let Some(file) = &cached {
                let conn = rusqlite::Connection::open(&path)?;
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
                drop(conn);
                if let Some(d) = file.parent() {
                    std::fs::create_dir_all(d)?;
                }
                std::fs::copy(&path, file).with_context(|| format!("caching {}", file.display()))?;
            }
            seeded.telecallers[0].username.clone()
        }
    };
    emit(
        &json!({"bench": bench, "phase": "seed", "leads": leads, "seconds": t.elapsed().as_secs_f64().round()}),
    );

    let mut config = ServeConfig::new(dir.path());
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.jwt_secret = Some("bench-secret-bench-secret-bench-secret!".into());
    config.pii = Some(pii);
    let server = leadline_server::start(&config)
        .await
        .context("starting the server")?;
    Ok(SeededServer {
        server,
        user,
        _dir: dir,
    })
}

async fn run_async(opts: Options) -> Result<()> {
    let SeededServer {
        server,
        user,
        _dir: _keep,
    } = seeded_server("sync", opts.leads, opts.seed_cache.as_deref()).await?;
    let url = server.base_url();
    let mut client = Client::new(&url)?;
    let login = client
        .login(&user, "bench-password", Some("bench-device"))
        .await?;

    // Peer: every page fetched and decoded, nothing applied.
    let t = Instant::now();
    let mut cursor = Cursor::start();
    let mut fetched = 0_usize;
    loop {
        let page: PullPage = client.pull(&cursor, Some(leadline_sync::PULL_PAGE)).await?;
        fetched += page.changes.len();
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    let fetch_s = t.elapsed().as_secs_f64();

    // Ours: a new device's first sync into a fresh cache file.
    let cache_dir = tempfile::tempdir()?;
    let mut store = Store::open(&cache_dir.path().join("leadline.sqlite3"), &StoreKey::generate()?)?;
    store.set_account(client.server_url(), &login.user)?;
    let store = SharedStore::new(store);
    let t = Instant::now();
    let report = leadline_sync::pull_all(&client, &store)
        .await
        .context("initial sync")?;
    let initial_s = t.elapsed().as_secs_f64();
    let cached_leads = store.run(|s| s.count_leads()).await?;
    anyhow::ensure!(
        cached_leads == u64::from(opts.leads),
        "the cache holds {cached_leads} leads, expected {}",
        opts.leads
    );
    emit(&json!({
        "bench": "sync", "phase": "initial", "leads": cached_leads, "pages": report.pages,
        "seconds": initial_s, "fetch_only_seconds": fetch_s, "changes_fetched": fetched,
        "sync_vs_fetch_only": ratio(initial_s, fetch_s),
        "leads_per_s": (cached_leads as f64 / initial_s).round(),
    }));

    // Idle round trips, against a bare health check.
    let http = reqwest::Client::new();
    let mut ours = Vec::new();
    let mut peer = Vec::new();
    for _ in 0..opts.idle_runs.max(1) {
        let t = Instant::now();
        let r = leadline_sync::sync_once(&client, &store).await?;
        anyhow::ensure!(
            r.push.batches == 0 && r.pull.leads_upserted == 0,
            "the idle round moved data"
        );
        ours.push(t.elapsed());
        let t = Instant::now();
        http.get(format!("{url}/healthz"))
            .send()
            .await?
            .error_for_status()?;
        peer.push(t.elapsed());
    }
    ours.sort();
    peer.sort();
    let idle_p50 = percentile(&ours, 0.5);
    let idle_p99 = percentile(&ours, 0.99);
    let health_p50 = percentile(&peer, 0.5);
    emit(&json!({
        "bench": "sync", "phase": "idle", "runs": ours.len(), "p50_ms": idle_p50, "p99_ms": idle_p99,
        "healthz_p50_ms": health_p50, "vs_healthz": ratio(idle_p50, health_p50),
    }));

    // 10,000 call logs written offline, then pushed.
    let me = login.user.id;
    let leads = store
        .run(|s| {
            s.list_leads(&LeadQuery {
                limit: Some(1000),
                ..LeadQuery::default()
            })
        })
        .await?;
    anyhow::ensure!(!leads.is_empty(), "no leads to call");
    let calls = opts.calls;
    let t = Instant::now();
    let lead_ids: Vec<_> = leads.iter().map(|l| l.id).collect();
    store
        .run(move |s| {
            for k in 0..calls as usize {
                let now = Utc::now();
                let call = CallLog {
                    id: new_id(),
                    lead_id: lead_ids[k % lead_ids.len()],
                    telecaller_id: me,
                    direction: CallDirection::Outbound,
                    started_at: now - chrono::Duration::seconds(120),
                    answered_at: Some(now - chrono::Duration::seconds(110)),
                    ended_at: Some(now),
                    duration_s: 110,
                    disposition: "interested".into(),
                    outcome_tags: vec![],
                    notes: format!("Asked about the bridal set, call {k}; will visit on Sunday."),
                    follow_up: None,
                    recording_url: None,
                    provider_call_id: None,
                    device_id: Some("bench-device".into()),
                    quality: None,
                };
                s.log_call(&call)?;
            }
            Ok(())
        })
        .await?;
    let log_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pushed = leadline_sync::push_all(&client, &store).await.context("push")?;
    let push_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        pushed.confirmed == u64::from(calls),
        "pushed {} of {calls}",
        pushed.confirmed
    );
    emit(&json!({
        "bench": "sync", "phase": "push", "calls": calls, "batches": pushed.batches, "seconds": push_s,
        "calls_per_s": (f64::from(calls) / push_s).round(), "log_locally_seconds": log_s,
    }));
    server.stop().await?;
    emit(&json!({
        "bench": "sync",
        "initial_100k_s": (initial_s * 100.0).round() / 100.0,
        "idle_round_trip_ms": idle_p50,
        "idle_round_trip_p99_ms": idle_p99,
        "push_10k_s": (push_s * 100.0).round() / 100.0,
        "leads": opts.leads,
        "calls": calls,
        "initial_vs_fetch_only": ratio(initial_s, fetch_s),
        "idle_vs_healthz": ratio(idle_p50, health_p50),
    }));
    Ok(())
}
