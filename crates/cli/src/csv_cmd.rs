//! `leadline export leads|calls --out FILE` and `leadline import FILE`: CSV files of the local cache.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use leadline_model::LeadStatus;
use leadline_model::import::ImportOptions;
use leadline_store::{CallExport, LeadExport};

use crate::open_store;

/// Imports with at least this many rows show a progress bar.
const BAR_FROM_ROWS: usize = 2_000;

/// The CSV commands (flattened into the CLI's commands).
#[derive(Subcommand)]
pub enum CsvCommand {
    /// Write the cached leads or call logs to a CSV file (a spreadsheet-safe file: cells that would run as
    /// formulas are prefixed with an apostrophe).
    Export {
        what: ExportWhat,
        /// The file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
        /// Start the file with a UTF-8 byte-order mark, so Excel reads accented and Indic names right.
        #[arg(long)]
        bom: bool,
        /// Leads only: only this status.
        #[arg(long)]
        status: Option<LeadStatus>,
    },
    /// Import leads from a CSV file into the local cache (works offline; the next sync sends them). Uses
    /// the server's rules; invalid rows are listed and not imported; nothing is written if the file is
    /// unusable as a whole.
    Import {
        file: PathBuf,
        /// Merge rows whose phone a cached lead has into it (fill its empty fields) instead of skipping them.
        #[arg(long)]
        merge_duplicates: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportWhat {
    Leads,
    Calls,
}

pub fn run(dir: &Path, cmd: CsvCommand) -> Result<()> {
    match cmd {
        CsvCommand::Export {
            what,
            out,
            bom,
            status,
        } => export(dir, what, &out, bom, status),
        CsvCommand::Import {
            file,
            merge_duplicates,
            json,
        } => import(dir, &file, merge_duplicates, json),
    }
}

fn export(dir: &Path, what: ExportWhat, out: &Path, bom: bool, status: Option<LeadStatus>) -> Result<()> {
    let store = open_store(dir)?;
    // Written next to the target and renamed over it at the end: a failed export leaves no half file.
    let tmp = out.with_extension("csv.partial");
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let n = match what {
        ExportWhat::Leads => store.export_leads_csv(
            &mut w,
            &LeadExport {
                bom,
                status,
                assigned_to: None,
            },
        ),
        ExportWhat::Calls => store.export_call_logs_csv(
            &mut w,
            &CallExport {
                bom,
                ..CallExport::default()
            },
        ),
    };
    let n = match n.map_err(anyhow::Error::from).and_then(|n| {
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(n)
    }) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.context(format!("writing {}", out.display())));
        }
    };
    std::fs::rename(&tmp, out).with_context(|| format!("moving the export to {}", out.display()))?;
    let kind = match what {
        ExportWhat::Leads => "lead(s)",
        ExportWhat::Calls => "call log(s)",
    };
    println!("{n} {kind} written to {}", out.display());
    Ok(())
}

fn import(dir: &Path, file: &Path, merge_duplicates: bool, json: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut store = open_store(dir)?;
    let opts = ImportOptions {
        merge_duplicates,
        ..ImportOptions::default()
    };
    let mut bar: Option<ProgressBar> = None;
    let outcome = store.import_leads_csv_with(&bytes, &opts, |done, total| {
        if total < BAR_FROM_ROWS || !std::io::stderr().is_terminal() {
            return;
        }
        let b = bar.get_or_insert_with(|| {
            let b = ProgressBar::new(total as u64).with_style(
                ProgressStyle::with_template("importing [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        if done % 500 == 0 || done == total {
            b.set_position(done as u64);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let outcome = outcome.with_context(|| format!("importing {}", file.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &outcome)?;
        writeln!(out)?;
        return Ok(());
    }
    let r = &outcome.report;
    writeln!(
        out,
        "{} row(s): {} imported, {} merged into existing leads, {} duplicate(s) skipped, {} invalid",
        r.rows,
        outcome.created,
        outcome.merged + r.merged,
        outcome.duplicates + r.duplicates - r.merged,
        r.invalid
    )?;
    if !r.ignored_columns.is_empty() {
        writeln!(out, "ignored columns: {}", r.ignored_columns.join(", "))?;
    }
    for i in &r.issues {
        let column = i.column.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
        writeln!(out, "row {}{column}: {}", i.row, i.reason)?;
    }
    if r.issues_truncated {
        writeln!(out, "… {} issue(s) in all", r.issues_total)?;
    }
    Ok(())
}
