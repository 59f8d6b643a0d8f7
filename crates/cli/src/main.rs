//! `leadline`: the headless Leadline client. Same libraries as the desktop app, for scripts and tests.

mod call_cmd;
mod csv_cmd;
mod privacy_cmd;
mod session;
mod sync_cmd;
mod work;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use leadline_model::{LeadPriority, LeadSource, LeadStatus};
use leadline_store::{
    Clock, FollowUpDue, LeadFilter, LeadOrder, LeadOrderKey, LeadPageQuery, MAX_PAGE, Store,
};
use leadline_sync::Client;

use crate::session::Session;

#[derive(Parser)]
#[command(
    name = "leadline",
    version,
    about = "Leadline headless client: sign in, sync, and read the local cache"
)]
struct Cli {
    /// Where the local cache and session live.
    #[arg(long, env = "LEADLINE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to a Leadline server (the password is read from standard input).
    Login {
        /// e.g. http://127.0.0.1:8080
        #[arg(long)]
        server: String,
        #[arg(long)]
        user: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// End the session on the server (best effort when offline) and forget it on this device (the local
    /// cache stays).
    Logout,
    /// Send the local changes (call logs, edits, follow-ups) to the server, then pull its changes. Exits
    /// non-zero when the server cannot be reached; nothing is lost, the changes wait for the next sync.
    Sync {
        /// Keep running: sync on every change, poke from the server and minute; print status and events
        /// as JSON lines until interrupted.
        #[arg(long)]
        watch: bool,
    },
    /// Who is signed in, where, whether the server was reachable, pending changes and the last sync.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List leads from the local cache (works offline).
    Leads {
        /// Name, phone (any form: 98765, +91 98765 43210) or words from call notes.
        #[arg(long)]
        search: Option<String>,
        /// Any of these statuses (repeat the option).
        #[arg(long)]
        status: Vec<LeadStatus>,
        /// Any of these priorities (repeat the option).
        #[arg(long)]
        priority: Vec<LeadPriority>,
        /// Any of these sources (repeat the option).
        #[arg(long)]
        source: Vec<LeadSource>,
        /// Every one of these tags (repeat the option).
        #[arg(long)]
        tag: Vec<String>,
        /// Follow-up due: `overdue`, `today`, or `due` (overdue or today), in this computer's time zone.
        #[arg(long)]
        due: Option<String>,
        /// Order: `updated`, `created`, `name`, `follow-up` or `priority`; a leading `-` reverses it
        /// (default `-updated`, most recently updated first).
        #[arg(long, allow_hyphen_values = true)]
        sort: Option<String>,
        /// At most this many leads (the rest: pass the printed cursor with --cursor).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue a list after its previous page (the cursor printed on standard error).
        #[arg(long)]
        cursor: Option<String>,
        /// Print JSON (an array of leads) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One lead.
    Lead {
        #[command(subcommand)]
        action: work::LeadAction,
    },
    /// Log a finished call on a lead (works offline; the next sync sends it). Prints the call log's id.
    LogCall(work::LogCallArgs),
    /// Call a lead with `--click-to-call`: the server's telephony provider rings your own phone first,
    /// then the lead. The call waits for its wrap-up (`leadline wrap-up`).
    Call(call_cmd::CallArgs),
    /// Log a call waiting for its wrap-up with its disposition, notes and follow-up (works offline; the
    /// next sync sends it). Prints the call log's id.
    WrapUp(call_cmd::WrapUpArgs),
    /// Calls waiting for their wrap-up.
    Unlogged {
        #[arg(long)]
        json: bool,
    },
    /// Open follow-ups of your leads, soonest first.
    FollowUps {
        /// Only those due now or overdue.
        #[arg(long)]
        due: bool,
        #[arg(long)]
        json: bool,
    },
    /// Edits of yours that clashed with someone else's: list, reapply or dismiss them.
    Conflicts {
        #[command(subcommand)]
        action: Option<work::ConflictAction>,
    },
    /// Changes the server refused for good (kept here, never dropped): list them, or retry one.
    Rejected {
        /// Send this refused change again (its number from the list).
        #[arg(long)]
        retry: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// A person's data on request (admins): `privacy export|erase --lead-id ID | --phone NUMBER`.
    Privacy {
        #[command(subcommand)]
        command: privacy_cmd::PrivacyCommand,
    },
    /// `export leads|calls --out FILE`, `import FILE` (see csv_cmd.rs).
    #[command(flatten)]
    Csv(csv_cmd::CsvCommand),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADLINE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn data_dir(cli: &Cli) -> Result<PathBuf> {
    let dir = match &cli.data_dir {
        Some(d) => d.clone(),
        None => {
            let home = std::env::var_os("HOME").context("set --data-dir or HOME")?;
            PathBuf::from(home).join(".local/share/leadline")
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data dir {}", dir.display()))?;
    Ok(dir)
}

/// Opens the encrypted cache in `dir` with this data dir's key (OS keyring, or `store.key` where there is
/// none; `LEADLINE_STORE_KEY=file` forces the file). Recovery from a damaged file is told on stderr.
pub(crate) fn open_store(dir: &std::path::Path) -> Result<Store> {
    let path = dir.join("leadline.sqlite3");
    let storage = leadline_store::KeyStorage::from_env()?;
    let key = leadline_store::key::load_or_create(dir, storage)?;
    let store = Store::open(&path, &key.key).with_context(|| format!("local cache {}", path.display()))?;
    let report = store.open_report();
    if let Some(aside) = &report.recovered_from {
        eprintln!(
            "warning: the local cache was damaged ({}); it was moved to {} and a fresh one will be filled by \
             the next sync; {} unsent change(s) were kept{}",
            report.damage.as_deref().unwrap_or("unknown damage"),
            aside.display(),
            report.requeued,
            report
                .export_file
                .as_ref()
                .map(|f| format!(" (also saved in {})", f.display()))
                .unwrap_or_default()
        );
    }
    Ok(store)
}

async fn run(cli: Cli) -> Result<()> {
    let dir = data_dir(&cli)?;
    match cli.command {
        Command::Login {
            server,
            user,
            password_stdin: _,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                bail!("no password on standard input");
            }
            let mut store = open_store(&dir)?;
            let device_id = store.device_id()?;
            let mut client = Client::new(&server)?;
            let login = client.login(&user, password, Some(&device_id)).await?;
            store.set_account(client.server_url(), &login.user)?;
            Session {
                server_url: client.server_url().to_owned(),
                access_token: login.access_token.clone(),
                refresh_token: Some(login.refresh_token.clone()),
            }
            .save(&dir)?;
            println!(
                "signed in as {} ({}) on {}",
                login.user.name,
                login.user.role,
                client.server_url()
            );
        }
        Command::Logout => {
            let ended_on_server = match Session::load(&dir) {
                Ok(session) => {
                    let client = Client::new(&session.server_url)?.with_tokens(session.tokens());
                    match client.logout().await {
                        Ok(()) => true,
                        Err(e) => {
                            eprintln!(
                                "warning: could not end the session on the server ({e}); it ends when \
                                 it expires or a supervisor revokes it"
                            );
                            false
                        }
                    }
                }
                Err(_) => false,
            };
            Session::remove(&dir)?;
            if ended_on_server {
                println!("signed out");
            } else {
                println!("signed out on this device");
            }
        }
        Command::Sync { watch } => {
            if watch {
                sync_cmd::watch(&dir).await?;
            } else {
                sync_cmd::sync(&dir).await?;
            }
        }
        Command::Status { json } => sync_cmd::status(&dir, json)?,
        Command::Lead { action } => work::lead(&mut open_store(&dir)?, action)?,
        Command::LogCall(args) => work::log_call(&mut open_store(&dir)?, args)?,
        Command::Call(args) => call_cmd::call(&dir, args).await?,
        Command::Privacy { command } => privacy_cmd::run(&dir, command).await?,
        Command::WrapUp(args) => call_cmd::wrap_up(&mut open_store(&dir)?, args)?,
        Command::Unlogged { json } => call_cmd::unlogged(&open_store(&dir)?, json)?,
        Command::FollowUps { due, json } => work::follow_ups(&open_store(&dir)?, due, json)?,
        Command::Conflicts { action } => work::conflicts(&mut open_store(&dir)?, action)?,
        Command::Rejected { retry, json } => work::rejected(&mut open_store(&dir)?, retry, json)?,
        Command::Csv(cmd) => csv_cmd::run(&dir, cmd)?,
        Command::Leads {
            search,
            status,
            priority,
            source,
            tag,
            due,
            sort,
            limit,
            cursor,
            json,
        } => {
            let store = open_store(&dir)?;
            let follow_up = match due.as_deref() {
                None => None,
                Some("overdue") => Some(FollowUpDue::Overdue),
                Some("today") => Some(FollowUpDue::Today),
                Some("due") => Some(FollowUpDue::OverdueOrToday),
                Some(other) => bail!("--due {other:?}: expected overdue, today or due"),
            };
            let order = match sort.as_deref() {
                None => LeadOrder::default(),
                Some(text) => {
                    let (descending, key) = match text.strip_prefix('-') {
                        Some(k) => (true, k),
                        None => (false, text),
                    };
                    let key = match key {
                        "updated" => LeadOrderKey::UpdatedAt,
                        "created" => LeadOrderKey::CreatedAt,
                        "name" => LeadOrderKey::Name,
                        "follow-up" | "follow_up" => LeadOrderKey::NextFollowUp,
                        "priority" => LeadOrderKey::Priority,
                        other => {
                            bail!("--sort {other:?}: expected updated, created, name, follow-up or priority")
                        }
                    };
                    LeadOrder { key, descending }
                }
            };
            let page = store.list_lead_page(
                &LeadPageQuery {
                    filter: LeadFilter {
                        search,
                        statuses: status,
                        priorities: priority,
                        sources: source,
                        follow_up,
                        tags: tag,
                        ..LeadFilter::default()
                    },
                    sort: order,
                    limit: Some(limit.unwrap_or(MAX_PAGE)),
                    cursor,
                },
                &Clock::system(),
            )?;
            if let Some(next) = &page.next_cursor {
                eprintln!("more: add --cursor {next}");
            }
            let leads = page.leads;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &leads)?;
                writeln!(out)?;
            } else {
                for l in &leads {
                    writeln!(
                        out,
                        "{:<28} {:<15} {:<16} {:<7} {}",
                        truncate(&l.name, 28),
                        l.phone,
                        l.status,
                        l.priority,
                        l.city.as_deref().unwrap_or("")
                    )?;
                }
                writeln!(out, "{} lead(s)", leads.len())?;
            }
        }
    }
    Ok(())
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}
