//! `leadline-server`: the Leadline API server and its demo-data seeder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use leadline_model::privacy::PersonSelector;
use leadline_server::demo::{self, SeedOptions, SeedOutcome};
use leadline_server::retention::{Age, RetentionPolicy};
use leadline_server::{config, db};

#[derive(Debug, Parser)]
#[command(name = "leadline-server", version, about = "Leadline's central API server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API. Settings come from the configuration file (--config or LEADLINE_CONFIG), then the
    /// environment, then these flags, each overriding the one before (docs/operations.md lists them all).
    Serve {
        #[command(flatten)]
        flags: Box<config::ServeFlags>,
        /// Check the configuration, print the effective one (secrets as ***) and exit: 0 when valid, 2 when
        /// not (every problem listed on stderr).
        #[arg(long)]
        check_config: bool,
    },
    /// Ask a running server's health endpoint (for Docker's HEALTHCHECK; no curl needed): exit 0 when it
    /// answers 2xx, 1 otherwise.
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout_secs: u64,
        /// Accept any certificate (a self-signed one on 127.0.0.1).
        #[arg(long)]
        insecure: bool,
    },
    /// Move call logs older than a cutoff, and closed leads (converted, not interested, invalid, do not
    /// call) untouched for longer, to archive tables: out of hot queries, still exportable. Idempotent and
    /// safe to interrupt (batches of one transaction each); run it from cron.
    Archive {
        #[command(flatten)]
        target: Target,
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
    /// Back up the database (a consistent snapshot, safe while servers run) and the data directory's keys
    /// into one file (`.tar.gz`, mode 0600). With the keys it is a secret: anyone holding it can read
    /// every customer's phone number and notes. See docs/backup.md.
    Backup {
        #[command(flatten)]
        target: Target,
        /// The backup file to write, or a directory to write `leadline-backup-<UTC time>.tar.gz` in.
        #[arg(long, short)]
        output: PathBuf,
        /// Leave the JWT secret and the PII keys out (keep them safe elsewhere: without the PII keys the
        /// backup's phone numbers, emails and notes cannot be read).
        #[arg(long)]
        no_keys: bool,
    },
    /// Restore a backup: verify it (checksums, integrity, schema, keys), refuse while a server runs on the
    /// data directory or the database, then replace the database atomically, keeping the replaced one
    /// (`<file>.pre-restore-<time>`, PostgreSQL: database `<name>_pre_restore_<time>`).
    Restore {
        /// The backup file.
        backup: PathBuf,
        #[command(flatten)]
        target: Target,
        /// Only verify the backup; change nothing.
        #[arg(long)]
        check: bool,
        /// Delete the replaced database instead of keeping it.
        #[arg(long)]
        discard_replaced: bool,
    },
    /// Purge, for good, archived call logs, archived leads and call recording references older than the
    /// retention policy's ages (absent: kept forever). Their anonymised activity stays for analytics.
    /// Idempotent and batched; writes an audit record. Run it from cron or a systemd timer (after
    /// `archive`).
    Retention {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        policy: RetentionArgs,
        /// Rows per transaction.
        #[arg(long, default_value_t = leadline_server::retention::DEFAULT_BATCH)]
        batch: u32,
        /// Only count what would go.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print everything the server holds about a person (a lead, or every lead with a number) as JSON,
    /// decrypted: the answer to a data-access request (GDPR Art. 15, DPDP Act s.11). Audited.
    LeadExport {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        person: PersonArgs,
        /// Write the JSON to this file (mode 0600) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase a person's data (a lead, or every lead with a number) on request (GDPR Art. 17, DPDP Act
    /// s.12): PII goes from live and archive tables, recordings references and events; anonymised call
    /// logs stay for analytics; desktops delete their copy at their next sync. Audited.
    LeadErase {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        person: PersonArgs,
        /// Why (a ticket number, not the person's name or number): kept in the audit record.
        #[arg(long)]
        reason: String,
    },
    /// User accounts, on the server's database directly: how the first admin is made, and the way back in
    /// when no admin can sign in. Afterwards admins manage accounts through the API
    /// (`/api/v1/users`); these commands work the same while the server runs.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Teams (a supervisor leads one; telecallers belong to one).
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// Seed demo data: 6 users (password `leadline-demo`), 2,000 leads, 5,000 call logs, follow-ups.
    Demo {
        #[command(flatten)]
        target: Target,
        /// Seed of the random generator; the same seed gives the same data.
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
        /// Wipe users, leads, call logs and follow-ups first, even when they are not demo data.
        #[arg(long)]
        force: bool,
    },
}

/// How a new password is given: one line on standard input, or made up and printed once.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct PasswordArgs {
    /// Read the password from standard input (one line; at least 10 characters).
    #[arg(long)]
    password_stdin: bool,
    /// Make up a password (16 letters and digits) and print it once, to hand to the person.
    #[arg(long)]
    generate_password: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account.
    Add {
        #[command(flatten)]
        target: Target,
        /// 1 to 64 letters, digits, dots, dashes or underscores (stored lowercased).
        #[arg(long)]
        username: String,
        /// The name shown in the app.
        #[arg(long)]
        name: String,
        /// telecaller, supervisor or admin.
        #[arg(long)]
        role: leadline_model::Role,
        /// The team (it must exist: `leadline-server team add`); a supervisor needs one.
        #[arg(long)]
        team: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Set a new password; every device of the user is signed out.
    SetPassword {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Deactivate an account (it cannot sign in; every device is signed out), or activate it again.
    Deactivate {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        username: String,
        /// Activate it again instead.
        #[arg(long)]
        undo: bool,
    },
    /// Create many accounts from a CSV file (a spreadsheet saved as CSV): a header row naming the columns
    /// `username`, `name`, `role` and optionally `team` and `password`. All or nothing: any bad row refuses
    /// the whole file, with every problem listed by line. Rows without a password get one made up; those
    /// are written to --passwords-out, never to the terminal.
    Import {
        #[command(flatten)]
        target: Target,
        /// The CSV file (`-`: standard input).
        file: PathBuf,
        /// Where the made-up passwords go (a new CSV file of username,name,password, mode 0600).
        /// Required when a row has no password.
        #[arg(long, value_name = "FILE")]
        passwords_out: Option<PathBuf>,
        /// Create the teams the file names that do not exist yet.
        #[arg(long)]
        create_teams: bool,
        /// Check the file against the database and stop before writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Every account.
    List {
        #[command(flatten)]
        target: Target,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Create a team.
    Add {
        #[command(flatten)]
        target: Target,
        name: String,
    },
    /// Every team with its number of active members.
    List {
        #[command(flatten)]
        target: Target,
    },
}

/// Which server's data a maintenance subcommand works on. It reads the server's own configuration (the
/// file given to `serve`, then the environment, then these flags), so it opens the same database with the
/// same PII keys as the running server.
#[derive(Debug, clap::Args)]
struct Target {
    /// The server's configuration file (TOML), the one `serve` reads.
    #[arg(long, env = config::CONFIG_ENV, hide_env_values = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the database and the key files [env: LEADLINE_DATA_DIR] [default: leadline-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// PostgreSQL URL; unset: the SQLite file in the data directory [env: DATABASE_URL].
    #[arg(long, value_name = "URL")]
    database_url: Option<config::Secret>,
}

/// A [`Target`] resolved through the server's configuration.
struct Place {
    data_dir: PathBuf,
    database: db::DbConfig,
    /// The redacted database URL, or the SQLite file, for messages.
    shown: String,
    /// The configured PII keys (`[pii] keys`); `None`: the data directory's key file.
    pii: Option<std::sync::Arc<leadline_server::pii::PiiKeys>>,
    /// `[retention]` of the configuration.
    retention: RetentionPolicy,
}

impl Target {
    /// Reads the configuration like `serve` does; every problem is printed and the process exits with 2.
    fn resolve(&self) -> Place {
        let flags = config::ServeFlags {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..config::ServeFlags::default()
        };
        let settings = match config::load(&flags, &config::process_env) {
            Ok(settings) => settings,
            Err(e) => {
                eprint!("leadline-server: {e}");
                std::process::exit(2);
            }
        };
        let database = settings
            .database
            .clone()
            .unwrap_or_else(|| db::DbConfig::Sqlite(db::db_path(&settings.data_dir)));
        let shown = match &settings.database_url {
            Some(url) => db::redact_url(url.expose()),
            None => db::db_path(&settings.data_dir).display().to_string(),
        };
        Place {
            data_dir: settings.data_dir.clone(),
            database,
            shown,
            pii: settings.pii.clone(),
            retention: settings.retention.policy,
        }
    }
}

impl Place {
    /// The PII keys the server would use: the configured ones, else the data directory's file.
    fn pii_keys(&self) -> anyhow::Result<std::sync::Arc<leadline_server::pii::PiiKeys>> {
        match &self.pii {
            Some(keys) => Ok(keys.clone()),
            None => Ok(std::sync::Arc::new(
                leadline_server::pii::PiiKeys::load_or_create(&self.data_dir)?,
            )),
        }
    }

    /// The data directory's lock, shared (like a serving server's): a restore, which takes it exclusively,
    /// then waits for this command, and this command for a restore.
    fn lock(&self) -> anyhow::Result<std::fs::File> {
        Ok(leadline_server::backup::lock_shared(&self.data_dir)?)
    }

    /// Runs `work` on the repo in a fresh runtime, holding the data directory's lock shared. The repo is
    /// dropped inside the runtime (its pool closes connections on it).
    fn with_repo<T, Fut>(&self, work: impl FnOnce(db::Repo) -> Fut) -> anyhow::Result<T>
    where
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let _lock = self.lock()?;
        runtime()?.block_on(async {
            let pii = self.pii_keys()?;
            let repo = db::Repo::connect(&self.database, pii).await?;
            work(repo).await
        })
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The retention policy: how long each kind of data is kept (absent: forever).
#[derive(Debug, clap::Args)]
struct RetentionArgs {
    /// Age of the archived call logs to purge (by start time): `6months`, `180d`, `26w`, `1y`.
    #[arg(long, value_parser = parse_age)]
    calls_max_age: Option<Age>,
    /// Age of the calls whose recording references to drop (live and archived).
    #[arg(long, value_parser = parse_age)]
    recordings_max_age: Option<Age>,
    /// How long archived leads are kept (since archiving) before they are purged with their history.
    #[arg(long, value_parser = parse_age)]
    archived_leads_max_age: Option<Age>,
}

impl RetentionArgs {
    /// These flags over the configuration's `[retention]` (file, then environment).
    fn over(&self, configured: RetentionPolicy) -> RetentionPolicy {
        RetentionPolicy {
            calls_max_age: self.calls_max_age.or(configured.calls_max_age),
            recordings_max_age: self.recordings_max_age.or(configured.recordings_max_age),
            archived_leads_max_age: self.archived_leads_max_age.or(configured.archived_leads_max_age),
        }
    }
}

/// Whose data: a lead id or a phone number.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct PersonArgs {
    /// The lead's id.
    #[arg(long)]
    lead_id: Option<leadline_model::Id>,
    /// A phone number (E.164, e.g. +919876543210; a local number is read as Indian): every lead with it.
    #[arg(long)]
    phone: Option<String>,
}

impl PersonArgs {
    fn selector(&self) -> anyhow::Result<PersonSelector> {
        match (&self.lead_id, &self.phone) {
            (Some(id), _) => Ok(PersonSelector::LeadId(*id)),
            (None, Some(phone)) => Ok(PersonSelector::Phone(
                leadline_model::PhoneNumber::parse(phone).with_context(|| format!("--phone {phone:?}"))?,
            )),
            (None, None) => anyhow::bail!("give --lead-id or --phone"),
        }
    }
}

/// JSON logs on stderr (each line with the request's span: request id and user id), plus error events to
/// Sentry when a DSN is given. `serve` passes its configured filter and DSN; the other commands read
/// `LEADLINE_LOG` and `LEADLINE_SENTRY_DSN` (or `SENTRY_DSN`).
fn init_logging(filter: Option<&str>, dsn: Option<&str>) -> Option<sentry::ClientInitGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = match filter {
        Some(f) => tracing_subscriber::EnvFilter::new(f),
        None => tracing_subscriber::EnvFilter::try_from_env("LEADLINE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    let dsn = match dsn {
        Some(d) => Some(d.to_owned()),
        None => std::env::var("LEADLINE_SENTRY_DSN")
            .or_else(|_| std::env::var("SENTRY_DSN"))
            .ok(),
    }
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
    let _sentry = match &cli.command {
        // `serve` starts logging once its configuration is read; `healthcheck` only prints its answer.
        Command::Serve { .. } | Command::Healthcheck { .. } => None,
        _ => init_logging(None, None),
    };
    match cli.command {
        Command::Serve { flags, check_config } => serve(&flags, check_config),
        Command::Healthcheck {
            url,
            timeout_secs,
            insecure,
        } => healthcheck(&url, Duration::from_secs(timeout_secs), insecure),
        Command::Demo { target, seed, force } => run_demo(&target.resolve(), seed, force),
        Command::Backup {
            target,
            output,
            no_keys,
        } => run_backup(&target.resolve(), output, no_keys),
        Command::Restore {
            backup,
            target,
            check,
            discard_replaced,
        } => run_restore(&target.resolve(), backup, check, discard_replaced),
        Command::Archive {
            target,
            older_than,
            leads_older_than,
            batch,
            dry_run,
        } => run_archive(&target.resolve(), older_than, leads_older_than, batch, dry_run),
        Command::Retention {
            target,
            policy,
            batch,
            dry_run,
        } => {
            let place = target.resolve();
            let policy = policy.over(place.retention);
            run_retention(&place, policy, batch, dry_run)
        }
        Command::User { command } => run_user(command),
        Command::Team { command } => run_team(command),
        Command::LeadExport { target, person, out } => run_lead_export(&target.resolve(), &person, out),
        Command::LeadErase {
            target,
            person,
            reason,
        } => run_lead_erase(&target.resolve(), &person, &reason),
    }
}

/// `serve`: read and check the configuration (every problem at once, exit 2), then run until SIGTERM.
fn serve(flags: &config::ServeFlags, check_only: bool) -> anyhow::Result<()> {
    let settings = match config::load(flags, &config::process_env) {
        Ok(mut settings) => {
            let names = std::env::vars_os().map(|(name, _)| name);
            settings.warnings.extend(config::env_typos(names));
            settings
        }
        Err(e) => {
            eprint!("leadline-server: {e}");
            std::process::exit(2);
        }
    };
    if check_only {
        print!("{}", settings.render());
        for w in &settings.warnings {
            eprintln!("warning: {w}");
        }
        return Ok(());
    }
    let _sentry = init_logging(
        Some(&settings.log_filter),
        Some(settings.sentry_dsn.as_ref().map_or("", |d| d.expose())),
    );
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    let config = settings.serve_config();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(leadline_server::run(&config))?;
    Ok(())
}

/// `healthcheck`: GET the URL; exit 0 on a 2xx answer, 1 on anything else (the reason on stderr).
fn healthcheck(url: &str, timeout: Duration, insecure: bool) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .danger_accept_invalid_certs(insecure)
        .build()
        .context("building the HTTP client")?;
    match client.get(url).send() {
        Ok(res) if res.status().is_success() => {
            println!("healthy: {url} answered {}", res.status());
            Ok(())
        }
        Ok(res) => {
            eprintln!("unhealthy: {url} answered {}", res.status());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            std::process::exit(1);
        }
    }
}

fn parse_age(text: &str) -> Result<Age, String> {
    text.parse()
        .map_err(|e: leadline_server::retention::AgeError| e.to_string())
}

fn cutoff(age: Age, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    age.before(now)
        .context("that age reaches before the calendar starts")
}

fn run_retention(place: &Place, policy: RetentionPolicy, batch: u32, dry_run: bool) -> anyhow::Result<()> {
    if policy.keeps_everything() {
        println!(
            "nothing to do: no [retention] ages in the configuration and no --calls-max-age, \
             --recordings-max-age or --archived-leads-max-age given (everything is kept)"
        );
        return Ok(());
    }
    let now = chrono::Utc::now();
    let show =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or_else(|| "never".to_owned(), |t| db::ts(&t));
    place.with_repo(|repo| async move {
        if dry_run {
            let (cutoffs, due) = leadline_server::retention::due(&repo, &policy, now).await?;
            println!(
                "would purge {} archived call logs started before {}, {} archived leads archived before {}, \
                 and {} recording references of calls started before {}",
                due.call_logs,
                show(cutoffs.calls),
                due.leads,
                show(cutoffs.archived_leads),
                due.recordings,
                show(cutoffs.recordings)
            );
            return anyhow::Ok(());
        }
        let started = std::time::Instant::now();
        let actor = leadline_server::erasure::cli_actor();
        let (_, out) = leadline_server::retention::run(&repo, &policy, now, batch, &actor).await?;
        println!(
            "purged {} archived call logs, {} archived leads (with {} call logs and {} follow-ups) and {} \
             recording references in {} batches, {:.1} s",
            out.call_logs,
            out.leads,
            out.lead_call_logs,
            out.lead_follow_ups,
            out.recordings,
            out.batches,
            started.elapsed().as_secs_f64()
        );
        anyhow::Ok(())
    })
}

fn run_lead_export(place: &Place, person: &PersonArgs, out: Option<PathBuf>) -> anyhow::Result<()> {
    let selector = person.selector()?;
    let actor = leadline_server::erasure::cli_actor();
    let export = place.with_repo(|repo| async move {
        Ok(leadline_server::erasure::export(&repo, &selector, &actor, chrono::Utc::now()).await?)
    })?;
    let json = serde_json::to_string_pretty(&export)?;
    match out {
        None => println!("{json}"),
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options
                .open(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            std::io::Write::write_all(&mut file, json.as_bytes())?;
            std::io::Write::write_all(&mut file, b"\n")?;
            file.sync_all()?;
            eprintln!("exported {} lead(s) to {}", export.leads.len(), path.display());
        }
    }
    Ok(())
}

fn run_lead_erase(place: &Place, person: &PersonArgs, reason: &str) -> anyhow::Result<()> {
    let selector = person.selector()?;
    let actor = leadline_server::erasure::cli_actor();
    let report = place.with_repo(|repo| async move {
        Ok(leadline_server::erasure::erase(&repo, &selector, &actor, reason, chrono::Utc::now()).await?)
    })?;
    if report.leads.is_empty() {
        println!("no lead holds that number; nothing erased");
    }
    for lead in &report.leads {
        if lead.already_erased {
            println!(
                "lead {} was erased already, at {}",
                lead.lead_id,
                db::ts(&lead.erased_at)
            );
            continue;
        }
        println!(
            "erased lead {}: {} call logs and {} follow-ups kept anonymised, {} recording references dropped",
            lead.lead_id, lead.call_logs, lead.follow_ups, lead.recordings
        );
        if !lead.provider_call_ids.is_empty() {
            println!(
                "  Exotel still holds its own records of these calls (CallSids): {}\n  \
                 delete them (and their recordings) in Exotel's dashboard or through its API; see docs/security.md",
                lead.provider_call_ids.join(", ")
            );
        }
    }
    Ok(())
}

fn run_archive(
    place: &Place,
    older_than: Age,
    leads_older_than: Age,
    batch: u32,
    dry_run: bool,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let calls_cutoff = cutoff(older_than, now)?;
    let leads_cutoff = cutoff(leads_older_than, now)?;
    place.with_repo(|repo| async move {
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

fn run_backup(place: &Place, output: PathBuf, no_keys: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = leadline_server::backup::backup(&leadline_server::backup::BackupOptions {
        data_dir: place.data_dir.clone(),
        database: place.database.clone(),
        output,
        include_keys: !no_keys,
        configured_keys: place.pii.clone(),
    })?;
    let m = &report.manifest;
    println!(
        "backed up {} (schema {}, {} bytes of database) to {} in {:.1} s",
        m.backend,
        m.schema_version,
        m.database.bytes,
        report.path.display(),
        started.elapsed().as_secs_f64()
    );
    if !m.keys.is_empty() {
        eprintln!(
            "NOTE: this backup contains secrets ({}): anyone holding it can read every customer's phone \
             numbers, emails and notes. It was written with mode 0600; store and ship it encrypted.",
            m.keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for w in &report.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(())
}

fn run_restore(place: &Place, backup: PathBuf, check: bool, discard_replaced: bool) -> anyhow::Result<()> {
    let report = leadline_server::backup::restore(&leadline_server::backup::RestoreOptions {
        data_dir: place.data_dir.clone(),
        database: place.database.clone(),
        configured_keys: place.pii.clone(),
        input: backup.clone(),
        keep_replaced: !discard_replaced,
        check_only: check,
    })?;
    let m = &report.manifest;
    for w in &report.warnings {
        eprintln!("WARNING: {w}");
    }
    if check {
        println!(
            "{} is sound: {} schema {}, written {} by leadline-server {}, keys: {}",
            backup.display(),
            m.backend,
            m.schema_version,
            m.created_at,
            m.server_version,
            if m.keys.is_empty() {
                "not included"
            } else {
                "included"
            }
        );
        return Ok(());
    }
    println!(
        "restored {} (schema {}, written {}) from {}",
        m.backend,
        m.schema_version,
        m.created_at,
        backup.display()
    );
    if let Some(kept) = &report.kept {
        println!("the replaced database was kept as {kept}");
    }
    for k in &report.keys {
        println!("key file: {k}");
    }
    Ok(())
}

fn run_demo(place: &Place, seed: u64, force: bool) -> anyhow::Result<()> {
    let opts = SeedOptions {
        force,
        ..SeedOptions::new(seed)
    };
    let started = std::time::Instant::now();
    let outcome = match &place.database {
        db::DbConfig::Sqlite(path) if *path == db::db_path(&place.data_dir) && place.pii.is_none() => {
            let _lock = place.lock()?;
            demo::seed_data_dir(&place.data_dir, &opts).with_context(|| format!("seeding {}", place.shown))?
        }
        _ => {
            let opts = opts.clone();
            place.with_repo(|repo| async move { Ok(repo.seed_demo(opts).await?) })?
        }
    };
    let path = &place.shown;
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

impl PasswordArgs {
    /// The password, and whether it was made up here (then it is printed).
    fn read(&self) -> anyhow::Result<(String, bool)> {
        if self.generate_password {
            return Ok((leadline_server::accounts::generate_password(), true));
        }
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        Ok((password, false))
    }
}

fn print_account(what: &str, a: &leadline_model::admin::UserAccount) {
    println!(
        "{what} {} ({}, {}{}{})",
        a.user.username,
        a.user.name,
        a.user.role,
        a.user
            .team
            .as_deref()
            .map(|t| format!(", team {t}"))
            .unwrap_or_default(),
        if a.active { "" } else { ", deactivated" }
    );
}

/// Changes the account with this username; "no user" when there is none.
async fn change_named(
    repo: &db::Repo,
    username: String,
    change: db::admin::AccountChange,
    revoked_by: String,
) -> anyhow::Result<leadline_model::admin::UserAccount> {
    use leadline_server::accounts::{self, AccountError, Who};
    accounts::change_user(repo, Who::Username(username.clone()), change, revoked_by)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username).into())
}

fn run_user(command: UserCommand) -> anyhow::Result<()> {
    use leadline_server::accounts;
    let actor = format!("revoked_by:{}", leadline_server::erasure::cli_actor());
    match command {
        UserCommand::Add {
            target,
            username,
            name,
            role,
            team,
            password,
        } => {
            let (password, made_up) = password.read()?;
            let shown = made_up.then(|| password.clone());
            let request = leadline_model::admin::NewUser {
                username,
                name,
                role,
                team,
                password,
            };
            let account = target
                .resolve()
                .with_repo(|repo| async move { Ok(accounts::create_user(&repo, request).await?) })?;
            print_account("created", &account);
            if let Some(p) = shown {
                println!("password: {p}");
            }
        }
        UserCommand::SetPassword {
            target,
            username,
            password,
        } => {
            let (password, made_up) = password.read()?;
            accounts::check_password(&password)?;
            let shown = made_up.then(|| password.clone());
            let account = target.resolve().with_repo(|repo| async move {
                let change = leadline_server::db::admin::AccountChange {
                    password_hash: Some(accounts::hash(password).await?),
                    ..Default::default()
                };
                change_named(&repo, username, change, actor).await
            })?;
            print_account("new password for", &account);
            println!("every device of {} is signed out", account.user.username);
            if let Some(p) = shown {
                println!("password: {p}");
            }
        }
        UserCommand::Deactivate {
            target,
            username,
            undo,
        } => {
            let change = leadline_server::db::admin::AccountChange {
                active: Some(undo),
                ..Default::default()
            };
            let account = target
                .resolve()
                .with_repo(|repo| async move { change_named(&repo, username, change, actor).await })?;
            print_account(if undo { "activated" } else { "deactivated" }, &account);
        }
        UserCommand::Import {
            target,
            file,
            passwords_out,
            create_teams,
            dry_run,
        } => import_users(target, &file, passwords_out.as_deref(), create_teams, dry_run)?,
        UserCommand::List { target, json } => {
            let accounts = target.resolve().with_repo(|repo| async move {
                Ok(repo
                    .read(|tx| leadline_server::db::admin::accounts(tx, None))
                    .await?)
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&accounts)?);
            } else {
                println!(
                    "{:<20} {:<24} {:<11} {:<16} ACTIVE",
                    "USERNAME", "NAME", "ROLE", "TEAM"
                );
                for a in &accounts {
                    println!(
                        "{:<20} {:<24} {:<11} {:<16} {}",
                        a.user.username,
                        a.user.name,
                        a.user.role,
                        a.user.team.as_deref().unwrap_or("-"),
                        if a.active { "yes" } else { "no" }
                    );
                }
            }
        }
    }
    Ok(())
}

/// `leadline-server user import`.
fn import_users(
    target: Target,
    file: &Path,
    passwords_out: Option<&Path>,
    create_teams: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    use leadline_server::accounts::{self, ImportOptions};
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    const MAX_BYTES: u64 = 16 * 1024 * 1024;
    let mut bytes = Vec::new();
    if file == Path::new("-") {
        std::io::stdin()
            .take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .context("reading the accounts from standard input")?;
    } else {
        std::fs::File::open(file)
            .and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut bytes))
            .with_context(|| format!("reading {}", file.display()))?;
    }
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_BYTES,
        "{} is larger than {} MiB; that is no account list",
        file.display(),
        MAX_BYTES / 1024 / 1024
    );
    let rows = accounts::parse_import(&bytes)?;
    let made_up = rows.iter().filter(|r| r.password.is_none()).count();
    // The passwords' file is made before anything is written to the database, so a bad path loses nothing.
    let mut out = match (passwords_out, made_up, dry_run) {
        (_, 0, _) | (_, _, true) => None,
        (None, n, false) => anyhow::bail!(
            "{n} row(s) have no password: give --passwords-out FILE for the ones made up (or a password column)"
        ),
        (Some(path), _, false) => Some((
            path,
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?,
        )),
    };
    let options = ImportOptions {
        create_teams,
        dry_run,
    };
    let result = target
        .resolve()
        .with_repo(|repo| async move { Ok(accounts::import_accounts(&repo, rows, options).await?) });
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            if let Some((path, file)) = out.take() {
                drop(file);
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    if let Some((path, file)) = &mut out {
        let mut w = csv::Writer::from_writer(file);
        w.write_record(["username", "name", "password"])?;
        for (user, password) in &outcome.accounts {
            if let Some(p) = password {
                w.write_record([user.username.as_str(), user.name.as_str(), p.as_str()])?;
            }
        }
        w.flush()
            .with_context(|| format!("writing the passwords to {}", path.display()))?;
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("writing the passwords to {}: {e}", path.display()))?
            .sync_all()?;
    }
    let verb = if dry_run { "would create" } else { "created" };
    for team in &outcome.teams_created {
        println!("{verb} team {team}");
    }
    let mut stdout = std::io::stdout().lock();
    for (user, _) in &outcome.accounts {
        writeln!(
            stdout,
            "{verb} {} ({}, {}{})",
            user.username,
            user.name,
            user.role,
            user.team
                .as_deref()
                .map(|t| format!(", team {t}"))
                .unwrap_or_default()
        )?;
    }
    writeln!(
        stdout,
        "{} account(s) {}{}",
        outcome.accounts.len(),
        if dry_run {
            "checked, nothing written"
        } else {
            "created"
        },
        match (&out, made_up) {
            (Some((path, _)), n) if n > 0 => format!("; {n} made-up password(s) in {}", path.display()),
            _ => String::new(),
        }
    )?;
    Ok(())
}

fn run_team(command: TeamCommand) -> anyhow::Result<()> {
    use leadline_server::accounts;
    match command {
        TeamCommand::Add { target, name } => {
            let shown = name.trim().to_owned();
            target
                .resolve()
                .with_repo(|repo| async move { Ok(accounts::create_team(&repo, &name).await?) })?;
            println!("created team {shown}");
        }
        TeamCommand::List { target } => {
            let teams = target
                .resolve()
                .with_repo(|repo| async move { Ok(repo.read(leadline_server::db::admin::teams).await?) })?;
            println!("{:<24} MEMBERS", "TEAM");
            for t in teams {
                println!("{:<24} {}", t.name, t.members);
            }
        }
    }
    Ok(())
}
