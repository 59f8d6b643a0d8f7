//! A new device's first sync against a demo server running in this process: sign in, pull every page into
//! a fresh cache file. The peer is the same pages fetched and decoded without being applied, so the ratio is
//! what the local store adds to the network and JSON work.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, Result};
use leadline_model::sync::{Cursor, PullPage};
use leadline_server::{ServeConfig, demo};
use leadline_store::{Store, StoreKey};
use leadline_sync::Client;
use serde_json::json;

use crate::emit;
use crate::stats::ratio;

const USER: &str = "priya";

pub fn run(runs: u32) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(runs.max(1)))
}

async fn run_async(runs: u32) -> Result<()> {
    let server_dir = tempfile::tempdir()?;
    demo::seed(server_dir.path(), demo::DEFAULT_SEED)?;
    let mut config = ServeConfig::new(server_dir.path());
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.jwt_secret = Some("bench-secret-bench-secret-bench-secret!".into());
    let server = leadline_server::start(&config).await?;
    let url = server.base_url();

    let mut ours = Vec::new();
    let mut peer = Vec::new();
    let mut leads = 0;
    let mut calls = 0;
    let mut pages = 0;
    for run in 0..runs {
        let mut client = Client::new(&url)?;
        client.login(USER, demo::DEMO_PASSWORD, None).await?;
        let login = client.clone();

        // Peer: fetch and decode every page, apply nothing.
        let t = Instant::now();
        let mut cursor = Cursor::start();
        loop {
            let page: PullPage = login.pull(&cursor, None).await?;
            cursor = page.next_cursor;
            if !page.has_more {
                break;
            }
        }
        let fetch_ms = t.elapsed().as_secs_f64() * 1e3;

        // Ours: the same into a fresh cache file.
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(&dir.path().join("leadline.sqlite3"), &StoreKey::generate()?)?;
        let me = client.login(USER, demo::DEMO_PASSWORD, None).await?.user;
        store.set_account(client.server_url(), &me)?;
        let t = Instant::now();
        let store = leadline_sync::SharedStore::new(store);
        let report = leadline_sync::pull_all(&client, &store).await.context("pull")?;
        let sync_ms = t.elapsed().as_secs_f64() * 1e3;
        leads = report.leads_upserted;
        calls = report.call_logs_added;
        pages = report.pages;
        emit(&json!({
            "bench": "initial-sync", "run": run, "leads": leads, "call_logs": calls, "pages": pages,
            "sync_ms": sync_ms, "fetch_only_ms": fetch_ms,
        }));
        ours.push(sync_ms);
        peer.push(fetch_ms);
    }
    server.stop().await?;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let sync_ms = median(&mut ours);
    let fetch_ms = median(&mut peer);
    emit(&json!({
        "bench": "initial-sync", "user": USER, "runs": runs, "leads": leads, "call_logs": calls, "pages": pages,
        "sync_ms_p50": sync_ms, "fetch_only_ms_p50": fetch_ms, "sync_vs_fetch_only": ratio(sync_ms, fetch_ms),
        "leads_per_s": if sync_ms > 0.0 { (leads as f64 / sync_ms * 1e3).round() } else { 0.0 },
    }));
    Ok(())
}
