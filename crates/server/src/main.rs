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
        #[command(flatten)]
        integrations: Box<IntegrationArgs>,
        /// Origins allowed to call the API from a browser (CORS), comma-separated, e.g.
        /// `https://crm.example.com`; none by default.
        #[arg(long, env = "LEADLINE_CORS_ORIGINS", value_delimiter = ',')]
        cors_origins: Vec<String>,
        /// Reverse proxies (addresses or CIDR blocks, comma-separated) whose `X-Forwarded-For` names the
        /// client, e.g. `127.0.0.1/32`; without it the TCP peer is the client.
        #[arg(long, env = "LEADLINE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
        trusted_proxies: Vec<ipnet::IpNet>,
    },
    /// Move call logs older than a cutoff, and closed leads (converted, not interested, invalid, do not
    /// call) untouched for longer, to archive tables: out of hot queries, still exportable. Idempotent and
    /// safe to interrupt (batches of one transaction each); run it from cron.
    Archive {
        #[arg(long, env = "LEADLINE_DATA_DIR", default_value = "leadline-data")]
        data_dir: PathBuf,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Age of the call logs to archive: `6months`, `180d`, `26w`, `1y`.
        #[arg(long, default_value = "6months", value_parser = parse_age)]
        older_than: Age,
        /// Age (since the last change) of the closed leads to archive.
        #[arg(long, default_value = "1year", value_parser = parse_age)]
        leads_older_than: Age,
        /// Rows per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: u32,
        /// Only count what would move.
        #[arg(long)]
        dry_run: bool,
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

/// Exotel telephony and Google Sheets imports (each off unless its settings are given).
#[derive(Debug, clap::Args)]
struct IntegrationArgs {
    /// Exotel API key (HTTP Basic user). Exotel is on when the key, token, SID and caller id are set.
    #[arg(long, env = "LEADLINE_EXOTEL_API_KEY", hide_env_values = true)]
    exotel_api_key: Option<String>,
    /// Exotel API token (HTTP Basic password).
    #[arg(long, env = "LEADLINE_EXOTEL_API_TOKEN", hide_env_values = true)]
    exotel_api_token: Option<String>,
    /// Exotel account SID.
    #[arg(long, env = "LEADLINE_EXOTEL_SID")]
    exotel_sid: Option<String>,
    /// The ExoPhone shown to customers (CallerId).
    #[arg(long, env = "LEADLINE_EXOTEL_CALLER_ID")]
    exotel_caller_id: Option<String>,
    /// Exotel API base URL (https://api.exotel.com, or https://api.in.exotel.com for Mumbai).
    #[arg(long, env = "LEADLINE_EXOTEL_BASE_URL", default_value = leadline_server::exotel::DEFAULT_BASE_URL)]
    exotel_base_url: String,
    /// Secret of the StatusCallback webhook (at least 16 URL-safe characters).
    #[arg(long, env = "LEADLINE_EXOTEL_WEBHOOK_SECRET", hide_env_values = true)]
    exotel_webhook_secret: Option<String>,
    /// This server's public base URL, as Exotel reaches it (for the StatusCallback URL).
    #[arg(long, env = "LEADLINE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Google service-account JSON key for Sheets imports.
    #[arg(long, env = "GOOGLE_APPLICATION_CREDENTIALS")]
    google_credentials: Option<PathBuf>,
    /// Sheets API base URL (default Google's).
    #[arg(long, env = "LEADLINE_SHEETS_BASE_URL")]
    sheets_base_url: Option<String>,
    /// OAuth token endpoint (default: the key's token_uri).
    #[arg(long, env = "LEADLINE_SHEETS_TOKEN_URI")]
    sheets_token_uri: Option<String>,
}

impl IntegrationArgs {
    fn exotel(&self) -> anyhow::Result<Option<leadline_server::ExotelSettings>> {
        let parts = [
            &self.exotel_api_key,
            &self.exotel_api_token,
            &self.exotel_sid,
            &self.exotel_caller_id,
        ];
        if parts.iter().all(|p| p.is_none()) {
            return Ok(None);
        }
        let (Some(key), Some(token), Some(sid), Some(caller_id)) = (
            &self.exotel_api_key,
            &self.exotel_api_token,
            &self.exotel_sid,
            &self.exotel_caller_id,
        ) else {
            anyhow::bail!(
                "Exotel needs all of LEADLINE_EXOTEL_API_KEY, LEADLINE_EXOTEL_API_TOKEN, LEADLINE_EXOTEL_SID \
                 and LEADLINE_EXOTEL_CALLER_ID"
            );
        };
        let secret = self
            .exotel_webhook_secret
            .clone()
            .context("Exotel needs LEADLINE_EXOTEL_WEBHOOK_SECRET")?;
        let public_url = self
            .public_url
            .clone()
            .context("Exotel needs LEADLINE_PUBLIC_URL (where Exotel posts status callbacks)")?;
        let mut exotel = leadline_server::exotel::ExotelConfig::new(sid, key, token, caller_id);
        exotel.base_url = self.exotel_base_url.clone();
        Ok(Some(leadline_server::ExotelSettings {
            exotel,
            webhook_secret: secret,
            webhook_user: leadline_server::routes::integrations::DEFAULT_WEBHOOK_USER.to_owned(),
            public_url,
        }))
    }

    fn sheets(&self) -> Option<leadline_server::SheetsSettings> {
        self.google_credentials
            .clone()
            .map(|key_path| leadline_server::SheetsSettings {
                key_path,
                base_url: self.sheets_base_url.clone(),
                token_uri: self.sheets_token_uri.clone(),
            })
    }
}

/// JSON logs on stderr (each line with the request's span: request id and user id), plus error events to
/// Sentry when `LEADLINE_SENTRY_DSN` (or `SENTRY_DSN`) is set.
fn init_logging() -> Option<sentry::ClientInitGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let dsn = std::env::var("LEADLINE_SENTRY_DSN")
        .or_else(|_| std::env::var("SENTRY_DSN"))
        .ok()
        .filter(|d| !d.trim().is_empty());
    let guard = dsn.map(|dsn| {
        sentry::init((
            dsn,
            sentry::ClientOptions::new()
                .release(sentry::release_name!().unwrap_or_default())
                // Never send request bodies, headers or user details: they may hold PII.
                .send_default_pii(false),
        ))
    });
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(std::io::stderr)
        .with_current_span(true)
        .with_span_list(false);
    let registry = tracing_subscriber::registry().with(filter).with(fmt);
    match &guard {
        Some(g) if g.is_enabled() => registry
            .with(sentry::integrations::tracing::ErrorLayer::new())
            .with(sentry::integrations::tracing::BreadcrumbLayer::new())
            .init(),
        _ => registry.init(),
    }
    guard
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _sentry = init_logging();
    match cli.command {
        Command::Serve {
            data_dir,
            listen,
            jwt_secret,
            token_ttl_secs,
            refresh_ttl_secs,
            database_url,
            integrations,
            cors_origins,
            trusted_proxies,
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
                exotel: integrations.exotel()?,
                sheets: integrations.sheets(),
                events: leadline_server::events::EventsConfig::default(),
                cors_origins,
                trusted_proxies,
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
        Command::Archive {
            data_dir,
            database_url,
            older_than,
            leads_older_than,
            batch,
            dry_run,
        } => run_archive(
            data_dir,
            database_url,
            older_than,
            leads_older_than,
            batch,
            dry_run,
        ),
    }
}

/// A CIDR block, or one address (a /32 or /128).
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR block (e.g. 10.0.0.0/8)"))
}

/// An age such as `6months`: a count and a unit (days, weeks, calendar months or years).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Age {
    Days(u32),
    Months(u32),
}

impl Age {
    fn before(self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
        let t = match self {
            Age::Days(d) => now.checked_sub_signed(chrono::Duration::days(i64::from(d))),
            Age::Months(m) => now.checked_sub_months(chrono::Months::new(m)),
        };
        t.context("that age reaches before the calendar starts")
    }
}

fn parse_age(text: &str) -> Result<Age, String> {
    let text = text.trim().to_ascii_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (count, unit) = text.split_at(split);
    let count: u32 = count
        .parse()
        .map_err(|_| format!("{text:?}: expected a count and a unit, e.g. 6months, 180d, 1y"))?;
    if count == 0 {
        return Err("the age must be above zero".to_owned());
    }
    let too_big = || format!("{text:?} is too long ago");
    match unit.trim() {
        "d" | "day" | "days" => Ok(Age::Days(count)),
        "w" | "week" | "weeks" => count.checked_mul(7).map(Age::Days).ok_or_else(too_big),
        "m" | "mo" | "month" | "months" => Ok(Age::Months(count)),
        "y" | "year" | "years" => count.checked_mul(12).map(Age::Months).ok_or_else(too_big),
        other => Err(format!(
            "unknown unit {other:?}: use days, weeks, months or years"
        )),
    }
}

fn run_archive(
    data_dir: PathBuf,
    database_url: Option<String>,
    older_than: Age,
    leads_older_than: Age,
    batch: u32,
    dry_run: bool,
) -> anyhow::Result<()> {
    let config = match &database_url {
        Some(url) => parse_database_url(url)?,
        None => db::DbConfig::Sqlite(db::db_path(&data_dir)),
    };
    let now = chrono::Utc::now();
    let calls_cutoff = older_than.before(now)?;
    let leads_cutoff = leads_older_than.before(now)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let pii = std::sync::Arc::new(leadline_server::pii_keys(&data_dir)?);
        let repo = db::Repo::connect(&config, pii).await?;
        if dry_run {
            let (leads, calls) = repo
                .read(move |tx| db::archive::pending(tx, &calls_cutoff, &leads_cutoff))
                .await?;
            println!(
                "would archive {leads} closed leads untouched since {} and {calls} call logs started before {}",
                db::ts(&leads_cutoff),
                db::ts(&calls_cutoff)
            );
            return anyhow::Ok(());
        }
        let started = std::time::Instant::now();
        let out = repo.archive(calls_cutoff, leads_cutoff, batch, None).await?;
        println!(
            "archived {} closed leads (with their history) and {} call logs in {} batches, {:.1} s",
            out.leads,
            out.call_logs,
            out.batches,
            started.elapsed().as_secs_f64()
        );
        anyhow::Ok(())
    })
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
