//! `leadline-bench <name>`: every Leadline benchmark, one subcommand each. Each prints one JSON object per
//! measurement and ends with a summary line `{"bench":"<name>",...}`. Where a peer exists (raw SQLite, a bare
//! HTTP fetch) it is measured in the same run and the ratio printed, because these machines are noisy.

mod app;
mod fuzz;
mod import;
mod initial_sync;
mod lead_search;
mod phone;
mod server;
mod soak;
mod stats;
mod store;
mod sync;

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
    /// Property-based fuzzing of every parser of outside input (SIP, CSV imports, Google Sheets answers,
    /// Exotel callbacks, JWTs, sync pushes): valid samples round-trip, mutated and random input never
    /// panics. Exit status 1 when a case panicked or broke a property.
    Fuzz {
        /// Cases per target.
        #[arg(long, default_value_t = 1_000_000)]
        cases: u64,
        /// Seed of the case generator (printed with every line; the same seed replays the same cases).
        #[arg(long, default_value_t = 0x1ead_11e5)]
        seed: u64,
        /// Run only this target (sip, csv, sheets, exotel, jwt, sync_push).
        #[arg(long)]
        target: Option<String>,
    },
    /// The desktop app: cold start to an interactive lead list with 100,000 cached leads (the real binary
    /// under Xvfb, session restored from a private GNOME keyring), its memory, against the same binary's
    /// start to the sign-in screen on an empty data folder.
    App {
        #[arg(long, default_value_t = 100_000)]
        leads: u32,
        /// Measured cold starts (after one warm-up start).
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// Keep the seeded server database here and reuse it on later runs (shared with `sync`).
        #[arg(long)]
        seed_cache: Option<std::path::PathBuf>,
    },
    /// The softphone: call set-up (dial → first RTP) for Leadline and for a browser softphone (JsSIP in
    /// headless Chromium) calling the same far end through the same kamailio, then Leadline's CPU and
    /// memory during one long call.
    Phone {
        /// Measured calls of each softphone (after one warm-up call each).
        #[arg(long, default_value_t = 10)]
        calls: u32,
        /// Length of the long call, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Lead-list search in the local cache (FTS5, phone-aware) against a raw SQLite LIKE scan.
    LeadSearch {
        /// Leads in the cache.
        #[arg(long, default_value_t = 100_000)]
        leads: u32,
        /// Runs of each query.
        #[arg(long, default_value_t = 50)]
        runs: u32,
    },
    /// The local cache's read side at scale: 100,000 leads and 1,000,000 call logs in a SQLite file; p50/p99
    /// of search, first pages under filters and orders, counts per status, call history, the next-lead queue
    /// and today's figures.
    Store {
        #[arg(long, default_value_t = 100_000)]
        leads: u32,
        #[arg(long, default_value_t = 1_000_000)]
        calls: u32,
        /// Runs of each query kind (searches and call histories; the others a fraction).
        #[arg(long, default_value_t = 400)]
        runs: u32,
        /// Keep the built cache here and reuse it on later runs with the same shape (building takes
        /// minutes).
        #[arg(long)]
        seed_cache: Option<std::path::PathBuf>,
        /// Rows of the CSV import, measured against a plain prepared insert of the same rows.
        #[arg(long, default_value_t = 20_000)]
        import_rows: usize,
    },
    /// A new device's first sync: demo server in-process, login, pull every page into a fresh cache file,
    /// against fetching the same pages without applying them.
    InitialSync {
        #[arg(long, default_value_t = 5)]
        runs: u32,
    },
    /// The central API under load: 100,000 leads, 1,000,000 call logs, 500 simulated telecallers pulling,
    /// listing, opening leads and pushing call logs for a bounded time.
    Server {
        #[arg(long, default_value_t = 100_000)]
        leads: u32,
        #[arg(long, default_value_t = 1_000_000)]
        calls: u32,
        #[arg(long, default_value_t = 500)]
        telecallers: u32,
        /// Length of the measured phase.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Mean pause between one telecaller's rounds (pull, list, open, push). The default, a round
        /// every 4 s, is about 20 times a real telecaller's pace (a logged call every one to two
        /// minutes); lower it to find where the server saturates (see docs/benchmarks.md).
        #[arg(long, default_value_t = 4000)]
        think_ms: u64,
        /// Keep the seeded database here and reuse it on later runs with the same shape (seeding takes
        /// minutes). The run itself always works on a copy.
        #[arg(long)]
        seed_cache: Option<std::path::PathBuf>,
    },
    /// The desktop's sync engine against a local server: a new device's initial sync of 100,000 leads, an
    /// idle sync round trip, and pushing 10,000 call logs written offline.
    Sync {
        #[arg(long, default_value_t = 100_000)]
        leads: u32,
        #[arg(long, default_value_t = 10_000)]
        calls: u32,
        /// Idle round trips measured.
        #[arg(long, default_value_t = 200)]
        idle_runs: u32,
        /// Keep the seeded server database here and reuse it on later runs.
        #[arg(long)]
        seed_cache: Option<std::path::PathBuf>,
    },
    /// The real server process under clients that sync and log calls for a bounded time through a proxy
    /// that cuts, stalls and refuses their connections, while desks are killed mid-sync and CLI syncs
    /// SIGKILLed; then every call log must be on the server exactly once and the server's memory flat.
    Soak {
        /// Length of the run (the chaos runs from its first tenth to its end; then every client drains).
        #[arg(long, default_value_t = 300)]
        secs: u64,
        #[arg(long, default_value_t = 200)]
        clients: u32,
        /// Of the clients, how many are `leadline` CLI processes (default: a tenth).
        #[arg(long)]
        cli_clients: Option<u32>,
        /// Telecallers the clients sign in as, each in a team of its own (default: a tenth of the clients,
        /// so ten devices each).
        #[arg(long)]
        users: Option<u32>,
        /// Mean pause between one client's calls.
        #[arg(long, default_value_t = 20_000)]
        call_gap_ms: u64,
        /// Seconds between progress lines.
        #[arg(long, default_value_t = 10)]
        interval_secs: u64,
        /// Run the server on a throwaway PostgreSQL cluster instead of a SQLite file.
        #[arg(long)]
        postgres: bool,
        /// The server's access-token lifetime (short ones make the clients refresh under the chaos).
        #[arg(long, default_value_t = 900)]
        token_ttl_secs: u64,
        #[arg(long, default_value_t = 40)]
        leads_per_user: u32,
        /// Seed of the chaos and the clients' choices.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().bench {
        Bench::Fuzz { cases, seed, target } => fuzz::run(fuzz::Options { cases, seed, target }),
        Bench::App {
            leads,
            runs,
            seed_cache,
        } => app::run(app::Options {
            leads,
            runs: runs.max(1),
            seed_cache,
        }),
        Bench::LeadSearch { leads, runs } => lead_search::run(leads, runs),
        Bench::Phone { calls, seconds } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(phone::run(calls, seconds)),
        Bench::InitialSync { runs } => initial_sync::run(runs),
        Bench::Sync {
            leads,
            calls,
            idle_runs,
            seed_cache,
        } => sync::run(sync::Options {
            leads,
            calls,
            idle_runs,
            seed_cache,
        }),
        Bench::Store {
            leads,
            calls,
            runs,
            seed_cache,
            import_rows,
        } => store::run(store::Options {
            leads,
            calls,
            runs,
            seed_cache,
            import_rows,
        }),
        Bench::Server {
            leads,
            calls,
            telecallers,
            seconds,
            think_ms,
            seed_cache,
        } => server::run(server::Options {
            leads,
            calls,
            telecallers: telecallers.max(1),
            seconds,
            think_ms,
            seed_cache,
        }),
        Bench::Soak {
            secs,
            clients,
            cli_clients,
            users,
            call_gap_ms,
            interval_secs,
            postgres,
            token_ttl_secs,
            leads_per_user,
            seed,
        } => soak::run(soak::Options {
            clients,
            cli_clients: cli_clients.unwrap_or(clients / 10),
            users: users.unwrap_or(clients.div_ceil(10)),
            secs,
            call_gap_ms: call_gap_ms.max(1),
            interval_secs,
            postgres,
            token_ttl_secs,
            leads_per_user,
            seed,
        }),
    }
}

/// Prints one JSON line.
pub fn emit(v: &serde_json::Value) {
    println!("{v}");
}
