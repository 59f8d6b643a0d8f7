//! The app's own records of its runs: rolling log files, and a marker that tells an unclean exit.
//!
//! - Logs go to `<data dir>/logs/leadline.log.<date>`, one file a day, the last [`KEEP_LOG_FILES`] kept, as
//!   well as to stderr. Panics are logged with their location before the process goes.
//! - `<data dir>/running` exists while the app runs; a clean exit removes it. Found at start, it means the
//!   last run crashed or was killed: the UI offers to save a report (the end of the log) for support.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::MakeWriter;
use ts_rs::TS;

/// Daily log files kept.
pub const KEEP_LOG_FILES: usize = 14;
/// Log lines a crash report carries.
pub const REPORT_LINES: usize = 400;
const MARKER: &str = "running";
const LOG_PREFIX: &str = "leadline.log";

static LOG_FILE: OnceLock<RollingFileAppender> = OnceLock::new();
static STARTED: OnceLock<std::time::Instant> = OnceLock::new();

/// Notes the start of the run (first thing in `run`); later calls do nothing.
pub fn mark_start() {
    STARTED.get_or_init(std::time::Instant::now);
}

/// Time since [`mark_start`].
pub fn since_start() -> std::time::Duration {
    STARTED.get_or_init(std::time::Instant::now).elapsed()
}

/// The log file writer for tracing: the rolling file once [`start_file_log`] ran, nothing before.
#[derive(Clone, Copy, Default)]
pub struct LateFile;

impl<'a> MakeWriter<'a> for LateFile {
    type Writer = Box<dyn Write + 'a>;

    fn make_writer(&'a self) -> Self::Writer {
        match LOG_FILE.get() {
            Some(appender) => Box::new(appender.make_writer()),
            None => Box::new(std::io::sink()),
        }
    }
}

pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Starts writing the log under `data_dir` (once; later calls do nothing).
pub fn start_file_log(data_dir: &Path) {
    if LOG_FILE.get().is_some() {
        return;
    }
    let dir = log_dir(data_dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(error = %e, dir = %dir.display(), "no log folder; logging to stderr only");
        return;
    }
    let built = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(LOG_PREFIX)
        .max_log_files(KEEP_LOG_FILES)
        .build(&dir);
    match built {
        Ok(appender) => {
            let _ = LOG_FILE.set(appender);
        }
        Err(e) => tracing::warn!(error = %e, "no log file; logging to stderr only"),
    }
}

/// Logs a panic (message and place) before the default hook prints it.
pub fn log_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(%place, %message, "panic");
        default(info);
    }));
}

/// How the previous run ended, as found at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UncleanExit {
    /// When the run that did not end cleanly started.
    pub started_at: Option<DateTime<Utc>>,
}

/// The marker of a running app: [`Marker::arm`] at start, [`Marker::disarm`] on a clean exit.
pub struct Marker {
    path: PathBuf,
}

impl Marker {
    /// Records this run; answers whether the previous one ended uncleanly.
    pub fn arm(data_dir: &Path) -> (Self, Option<UncleanExit>) {
        let path = data_dir.join(MARKER);
        let previous = std::fs::read_to_string(&path).ok().map(|text| UncleanExit {
            started_at: text
                .lines()
                .find_map(|l| l.strip_prefix("started_at="))
                .and_then(|t| t.parse().ok()),
        });
        let record = format!(
            "pid={}\nstarted_at={}\n",
            std::process::id(),
            Utc::now().to_rfc3339()
        );
        if let Err(e) = std::fs::write(&path, record) {
            tracing::warn!(error = %e, path = %path.display(), "cannot write the run marker");
        }
        (Self { path }, previous)
    }

    pub fn disarm(&self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "cannot remove the run marker"),
        }
    }
}

/// Writes a report for support: the app's version and platform, the unclean exit, and the last
/// [`REPORT_LINES`] lines of the logs. Answers the file's path.
pub fn save_report(data_dir: &Path, exit: &UncleanExit) -> std::io::Result<PathBuf> {
    let dir = data_dir.join("crash-reports");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!(
        "leadline-report-{}.txt",
        Utc::now().format("%Y%m%d-%H%M%S")
    ));
    let mut out = std::fs::File::create(&path)?;
    writeln!(
        out,
        "Leadline {} on {} ({})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )?;
    writeln!(
        out,
        "The run started at {} did not end cleanly.",
        exit.started_at
            .map_or_else(|| "an unknown time".to_owned(), |t| t.to_rfc3339())
    )?;
    writeln!(out, "\n--- the last {REPORT_LINES} log lines ---")?;
    for line in last_log_lines(&log_dir(data_dir), REPORT_LINES) {
        writeln!(out, "{line}")?;
    }
    Ok(path)
}

/// The last `n` lines over the log files, oldest first.
pub fn last_log_lines(dir: &Path, n: usize) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|f| f.to_str())
                        .is_some_and(|f| f.starts_with(LOG_PREFIX))
                })
                .collect()
        })
        .unwrap_or_default();
    // Dated names sort by day.
    files.sort();
    let mut lines: Vec<String> = Vec::new();
    for file in files.iter().rev() {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let mut these: Vec<String> = text.lines().map(str::to_owned).collect();
        these.append(&mut lines);
        lines = these;
        if lines.len() >= n {
            break;
        }
    }
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclean_exit_is_found_once_and_a_clean_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (first, previous) = Marker::arm(dir.path());
        assert_eq!(previous, None, "a first run");
        // Killed: the marker stays. The next run hears of it, with when that run started.
        let (second, previous) = Marker::arm(dir.path());
        let previous = previous.unwrap_or_else(|| panic!("the unclean exit"));
        assert!(
            previous
                .started_at
                .is_some_and(|t| (Utc::now() - t).num_seconds() < 60)
        );
        drop(first);
        second.disarm();
        let (third, previous) = Marker::arm(dir.path());
        assert_eq!(previous, None, "the clean exit left no marker");
        third.disarm();
        third.disarm();
    }

    #[test]
    fn a_report_carries_the_end_of_the_logs_across_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let logs = log_dir(dir.path());
        std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
        let day = |d: &str, from: usize, to: usize| {
            let text: String = (from..to).map(|i| format!("line {i}\n")).collect();
            std::fs::write(logs.join(format!("{LOG_PREFIX}.{d}")), text).unwrap_or_else(|e| panic!("{e}"));
        };
        day("2026-11-24", 0, 300);
        day("2026-11-25", 300, 500);
        std::fs::write(logs.join("unrelated.txt"), "not a log").unwrap_or_else(|e| panic!("{e}"));
        let lines = last_log_lines(&logs, REPORT_LINES);
        assert_eq!(lines.len(), REPORT_LINES);
        assert_eq!(lines.first().map(String::as_str), Some("line 100"));
        assert_eq!(lines.last().map(String::as_str), Some("line 499"));

        let path =
            save_report(dir.path(), &UncleanExit { started_at: None }).unwrap_or_else(|e| panic!("{e}"));
        let report = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(report.starts_with("Leadline "), "{report}");
        assert!(report.contains("did not end cleanly") && report.ends_with("line 499\n"));
        assert!(last_log_lines(&dir.path().join("none"), 10).is_empty());
    }
}
