//! `leadline`: the headless Leadline client. Same libraries as the desktop app, for scripts and tests.

mod session;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use leadline_model::LeadStatus;
use leadline_store::{LeadQuery, Store};
use leadline_sync::{Client, SyncError};

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
    /// Pull the latest leads and call logs from the server into the local cache.
    Sync,
    /// Who is signed in, where, and when the last sync was.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List leads from the local cache (works offline).
    Leads {
        /// Name, phone (any form: 98765, +91 98765 43210) or words from call notes.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        status: Option<LeadStatus>,
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON (an array of leads) instead of a table.
        #[arg(long)]
        json: bool,
    },
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
fn open_store(dir: &std::path::Path) -> Result<Store> {
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
        Command::Sync => {
            let mut session = Session::load(&dir)?;
            let mut store = open_store(&dir)?;
            let client = Client::new(&session.server_url)?.with_tokens(session.tokens());
            let outcome = leadline_sync::pull_all(&client, &mut store).await;
            // A refresh during the pull used up the kept refresh token: keep the new pair, even when the
            // pull then failed.
            if matches!(outcome, Err(SyncError::SessionEnded)) {
                Session::remove(&dir)?;
            } else if session.update(client.tokens()) {
                session.save(&dir)?;
            }
            let report = outcome.map_err(|e| match e {
                SyncError::Unauthorized | SyncError::SessionEnded => {
                    anyhow::anyhow!("the session has ended; run `leadline login` again")
                }
                other => other.into(),
            })?;
            println!(
                "synced: {} page(s), {} lead(s), {} call log(s), {} follow-up(s), {} removed; {} leads cached",
                report.pages,
                report.leads_upserted,
                report.call_logs_added,
                report.follow_ups_upserted,
                report.leads_removed,
                store.count_leads()?
            );
        }
        Command::Status { json } => {
            let store = open_store(&dir)?;
            let state = store.sync_state()?;
            let pending = store.pending_count()?;
            let signed_in = Session::load(&dir).is_ok();
            if json {
                let v = serde_json::json!({
                    "signed_in": signed_in,
                    "server_url": state.server_url,
                    "user": state.user,
                    "last_sync_at": state.last_sync_at,
                    "leads": store.count_leads()?,
                    "pending": pending.pending,
                    "rejected": pending.rejected,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                match (&state.user, &state.server_url) {
                    (Some(u), Some(s)) => println!("user: {} ({}) on {s}", u.name, u.username),
                    _ => println!("user: not signed in"),
                }
                println!("session: {}", if signed_in { "active" } else { "none" });
                println!(
                    "last sync: {}",
                    state
                        .last_sync_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "never".into())
                );
                println!(
                    "leads: {}; pending changes: {}",
                    store.count_leads()?,
                    pending.pending
                );
            }
        }
        Command::Leads {
            search,
            status,
            limit,
            json,
        } => {
            let store = open_store(&dir)?;
            let leads = store.list_leads(&LeadQuery {
                search,
                status,
                assigned_to: None,
                limit,
            })?;
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

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}
