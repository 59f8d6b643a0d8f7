//! `leadline privacy export|erase`: a person's data on request (GDPR, India's DPDP Act), for an admin's
//! scripts. The server does the work and audits it; this desktop's cache drops an erased lead at its next
//! sync like every other desktop's.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use leadline_model::privacy::{ErasureRequest, PersonSelector};
use leadline_model::{Id, PhoneNumber};
use leadline_sync::SyncError;

use crate::sync_cmd::{ended_error, keep_tokens_after, session_client};

#[derive(Subcommand)]
pub enum PrivacyCommand {
    /// Everything the server holds about a lead, or about every lead with a phone number, as JSON
    /// (decrypted, archive included). Admins only.
    Export {
        #[command(flatten)]
        person: Person,
        /// Write it to this file (mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase a lead's (or a number's) personal data on the server. Anonymised call logs stay for
    /// analytics; every desktop drops the lead at its next sync. Admins only.
    Erase {
        #[command(flatten)]
        person: Person,
        /// Why (a ticket number; not the person's name or number): kept in the audit record.
        #[arg(long)]
        reason: String,
    },
}

/// Whose data.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Person {
    /// The lead's id.
    #[arg(long)]
    lead_id: Option<Id>,
    /// A phone number (E.164, e.g. +919876543210; a local number is read as Indian): every lead with it.
    #[arg(long)]
    phone: Option<String>,
}

impl Person {
    fn selector(&self) -> Result<PersonSelector> {
        match (&self.lead_id, &self.phone) {
            (Some(id), _) => Ok(PersonSelector::LeadId(*id)),
            (None, Some(phone)) => Ok(PersonSelector::Phone(
                PhoneNumber::parse(phone).with_context(|| format!("--phone {phone:?}"))?,
            )),
            (None, None) => bail!("give --lead-id or --phone"),
        }
    }
}

fn refusal(e: SyncError) -> anyhow::Error {
    match e {
        SyncError::Server { status: 403, .. } => {
            anyhow::anyhow!("only an admin can export or erase a person's data")
        }
        SyncError::Server { status: 404, .. } => anyhow::anyhow!("the server has no such lead"),
        other => ended_error(other),
    }
}

pub async fn run(dir: &Path, command: PrivacyCommand) -> Result<()> {
    let (mut session, client) = session_client(dir)?;
    match command {
        PrivacyCommand::Export { person, out } => {
            let selector = person.selector()?;
            let export = client.export_person(&selector).await;
            keep_tokens_after(dir, &mut session, &client, &export)?;
            let text = serde_json::to_string_pretty(&export.map_err(refusal)?)?;
            match out {
                Some(path) => {
                    use std::os::unix::fs::OpenOptionsExt;
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    writeln!(file, "{text}").with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "written to {} (it holds personal data: mode 0600)",
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
        }
        PrivacyCommand::Erase { person, reason } => {
            let request = ErasureRequest {
                person: person.selector()?,
                reason,
            };
            let report = client.erase_person(&request).await;
            keep_tokens_after(dir, &mut session, &client, &report)?;
            let report = report.map_err(refusal)?;
            if report.leads.is_empty() {
                println!("no lead with that number is held; nothing erased");
            }
            for lead in &report.leads {
                println!("{}", serde_json::to_string(lead)?);
            }
        }
    }
    Ok(())
}
