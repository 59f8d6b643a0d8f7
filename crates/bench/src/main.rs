//! `leadline-bench <name>`: every Leadline benchmark, one subcommand each. Each prints one JSON object per
//! measurement and ends with a summary line `{"bench":"<name>",...}`. Where a peer exists (raw SQLite, a bare
//! HTTP fetch) it is measured in the same run and the ratio printed, because these machines are noisy.

mod initial_sync;
mod lead_search;
mod stats;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "leadline-bench", about = "Leadline benchmarks (JSON lines out)")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Lead-list search in the local cache (FTS5, phone-aware) against a raw SQLite LIKE scan.
    LeadSearch {
        /// Leads in the cache.
        #[arg(long, default_value_t = 100_000)]
        leads: u32,
        /// Runs of each query.
        #[arg(long, default_value_t = 50)]
        runs: u32,
    },
    /// A new device's first sync: demo server in-process, login, pull every page into a fresh cache file,
    /// against fetching the same pages without applying them.
    InitialSync {
        #[arg(long, default_value_t = 5)]
        runs: u32,
    },
}

fn main() -> Result<()> {
    match Cli::parse().bench {
        Bench::LeadSearch { leads, runs } => lead_search::run(leads, runs),
        Bench::InitialSync { runs } => initial_sync::run(runs),
    }
}

/// Prints one JSON line.
pub fn emit(v: &serde_json::Value) {
    println!("{v}");
}
