//! `leadline-server`: the Leadline API server and its demo-data seeder.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use leadline_server::demo::{self, SeedOptions, SeedOutcome};
use leadline_server::{ServeConfig, db};

#[derive(Debug, Parser)]
#[command(name = "leadline-server", version, about = "Leadline's central API server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Where the database and the generated JWT secret live.
        #[arg(long, env = "LEADLINE_DATA_DIR", default_value = "leadline-data")]
        data_dir: PathBuf,
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// HS256 secret for access tokens (at least 32 bytes). When absent, one is generated and kept in
        /// <data-dir>/jwt-secret (mode 0600).
        #[arg(long, env = "LEADLINE_JWT_SECRET", hide_env_values = true)]
        jwt_secret: Option<String>,
        /// Access-token lifetime in seconds.
        #[arg(long, default_value_t = 900)]
        token_ttl_secs: u64,
        /// Refresh-token (device session) lifetime in seconds; each refresh starts a new period.
        #[arg(long, default_value_t = 30 * 24 * 3600)]
        refresh_ttl_secs: u64,
        /// PostgreSQL URL (`postgres://user:password@host:port/db`); when absent, the SQLite file in the
        /// data directory. Several servers on one PostgreSQL act as one service.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Seed demo data: 6 users (password `leadline-demo`), 2,000 leads, 5,000 call logs, follow-ups.
    Demo {
        #[arg(long, env = "LEADLINE_DATA_DIR", default_value = "leadline-data")]
        data_dir: PathBuf,
        /// Seed of the random generator; the same seed gives the same data.
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
        /// Wipe users, leads, call logs and follow-ups first, even when they are not demo data.
        #[arg(long)]
        force: bool,
        /// Seed this PostgreSQL database instead of the SQLite file in the data directory.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve {
            data_dir,
            listen,
            jwt_secret,
            token_ttl_secs,
            refresh_ttl_secs,
            database_url,
        } => {
            let config = ServeConfig {
                data_dir,
                listen,
                jwt_secret,
                token_ttl: Duration::from_secs(token_ttl_secs.max(1)),
                refresh_ttl: Duration::from_secs(refresh_ttl_secs.max(1)),
                rate_limits: leadline_server::ratelimit::RateLimits::default(),
                database: database_url.map(|url| parse_database_url(&url)).transpose()?,
                pii: None,
                events: leadline_server::events::EventsConfig::default(),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(leadline_server::run(&config))?;
            Ok(())
        }
        Command::Demo {
            data_dir,
            seed,
            force,
            database_url,
        } => run_demo(data_dir, seed, force, database_url),
    }
}

/// Accepts `postgres://` and `postgresql://` URLs (and `sqlite:PATH` for completeness).
fn parse_database_url(url: &str) -> anyhow::Result<db::DbConfig> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(db::DbConfig::Postgres(url.to_owned()))
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        Ok(db::DbConfig::Sqlite(PathBuf::from(path.trim_start_matches("//"))))
    } else {
        anyhow::bail!(
            "DATABASE_URL must start with postgres:// or postgresql:// (or sqlite:PATH); got {}",
            db::redact_url(url)
        )
    }
}

fn run_demo(data_dir: PathBuf, seed: u64, force: bool, database_url: Option<String>) -> anyhow::Result<()> {
    let opts = SeedOptions {
        force,
        ..SeedOptions::new(seed)
    };
    let started = std::time::Instant::now();
    let (place, outcome) = match database_url {
        None => {
            let path = db::db_path(&data_dir);
            let outcome = demo::seed_data_dir(&data_dir, &opts)
                .with_context(|| format!("seeding {}", path.display()))?;
            (path.display().to_string(), outcome)
        }
        Some(url) => {
            let config = parse_database_url(&url)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let outcome = runtime.block_on(async {
                let pii = std::sync::Arc::new(leadline_server::pii_keys(&data_dir)?);
                let repo = db::Repo::connect(&config, pii).await?;
                anyhow::Ok(repo.seed_demo(opts.clone()).await?)
            })?;
            (db::redact_url(&url), outcome)
        }
    };
    let path = place;
    let summary = match outcome {
        SeedOutcome::Seeded(s) => {
            println!(
                "seeded demo data (seed {seed}) into {} in {:.1} s",
                path,
                started.elapsed().as_secs_f64()
            );
            s
        }
        SeedOutcome::AlreadySeeded(s) => {
            let seed_text = s.seed.map_or_else(|| "?".to_owned(), |s| s.to_string());
            println!(
                "demo data already present in {} (seed {seed_text}); nothing changed (use --force to reseed)",
                path
            );
            s
        }
    };
    println!();
    println!("{:<10} {:<16} {:<12} {:>6}", "USERNAME", "NAME", "ROLE", "LEADS");
    for u in &summary.users {
        println!(
            "{:<10} {:<16} {:<12} {:>6}",
            u.user.username, u.user.name, u.user.role, u.leads
        );
    }
    println!();
    println!(
        "{} leads ({} unassigned), {} call logs, {} open follow-ups",
        summary.leads, summary.unassigned_leads, summary.call_logs, summary.open_follow_ups
    );
    println!(
        "team: {}; password for every demo user: {}",
        demo::DEMO_TEAM,
        demo::DEMO_PASSWORD
    );
    Ok(())
}
