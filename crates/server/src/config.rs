//! The server's configuration: built-in defaults, then a TOML file (`--config`, or `LEADLINE_CONFIG`), then
//! environment variables, then command-line flags — each later source overrides the earlier ones, one
//! setting at a time.
//!
//! [`load`] reads every source, checks every value and reports **all** the problems at once
//! ([`ConfigError`]), each naming the setting, where the value came from (file and line, environment
//! variable, flag) and what is expected. Unknown keys and sections in the file are errors, so a typo is never
//! silently ignored. Secrets ([`Secret`]) print as `***`; [`Settings::render`] shows the effective
//! configuration with every secret redacted.
//!
//! [`SETTINGS`] lists every setting (file key, environment variable, flag, default); docs/operations.md
//! is checked against it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use zeroize::Zeroizing;

use crate::retention::{Age, RetentionPolicy, RetentionSchedule};
use crate::routes::integrations::{DEFAULT_WEBHOOK_USER, ExotelSettings, SheetsSettings};
use crate::{ServeConfig, db, pii, tls};

/// The environment variable naming the configuration file (the `--config` flag wins over it).
pub const CONFIG_ENV: &str = "LEADLINE_CONFIG";

/// Longest accepted access-token lifetime: access tokens are meant to be short (the refresh token keeps
/// the device signed in).
pub const MAX_TOKEN_TTL_SECS: u64 = 24 * 3600;
/// Longest accepted refresh-token (device session) lifetime.
pub const MAX_REFRESH_TTL_SECS: u64 = 365 * 24 * 3600;

/// A value that must never be logged or printed: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret itself, for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The configuration file, at this line (1-based).
    File { path: PathBuf, line: usize },
    /// This environment variable.
    Env(&'static str),
    /// This command-line flag (`--listen`).
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{} line {line}", path.display()),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// How a setting's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string (in the environment and on the command line, the text as is).
    Text,
    /// A list of strings (comma-separated in the environment and on the command line).
    List,
    /// A whole number of seconds.
    Seconds,
}

/// One setting: its file key, environment variable, flag and default.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The file section (`[auth]`).
    pub section: &'static str,
    /// The key in that section.
    pub key: &'static str,
    /// The environment variables, the first preferred (later ones are older names still read).
    pub env: &'static [&'static str],
    /// The command-line flag of `serve`, if any.
    pub flag: Option<&'static str>,
    pub kind: Kind,
    /// Printed as `***` by `serve --check-config` and never logged.
    pub secret: bool,
    /// The default as documented (`None`: unset).
    pub default: Option<&'static str>,
    pub help: &'static str,
}

impl Setting {
    /// `[section] key`.
    pub fn name(&self) -> String {
        format!("[{}] {}", self.section, self.key)
    }
}

#[allow(clippy::too_many_arguments)] // a table row: every field, in order
const fn setting(
    section: &'static str,
    key: &'static str,
    env: &'static [&'static str],
    flag: Option<&'static str>,
    kind: Kind,
    secret: bool,
    default: Option<&'static str>,
    help: &'static str,
) -> Setting {
    Setting {
        section,
        key,
        env,
        flag,
        kind,
        secret,
        default,
        help,
    }
}

use Kind::{List, Seconds, Text};

/// Every setting of `leadline-server serve`.
pub const SETTINGS: &[Setting] = &[
    setting(
        "server",
        "data_dir",
        &["LEADLINE_DATA_DIR"],
        Some("--data-dir"),
        Text,
        false,
        Some("leadline-data"),
        "Directory of the SQLite database, the generated JWT secret and PII keys.",
    ),
    setting(
        "server",
        "listen",
        &["LEADLINE_LISTEN"],
        Some("--listen"),
        Text,
        false,
        Some("127.0.0.1:8080"),
        "Address and port to listen on (port 0 picks a free one, printed on stdout).",
    ),
    setting(
        "server",
        "cors_origins",
        &["LEADLINE_CORS_ORIGINS"],
        Some("--cors-origins"),
        List,
        false,
        None,
        "Origins allowed to call the API from a browser, e.g. https://crm.example.com.",
    ),
    setting(
        "server",
        "trusted_proxies",
        &["LEADLINE_TRUSTED_PROXIES"],
        Some("--trusted-proxies"),
        List,
        false,
        None,
        "Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For names the client.",
    ),
    setting(
        "database",
        "url",
        &["DATABASE_URL"],
        Some("--database-url"),
        Text,
        true,
        None,
        "PostgreSQL URL postgres://user:password@host:port/db; unset: SQLite in the data directory.",
    ),
    setting(
        "auth",
        "jwt_secret",
        &["LEADLINE_JWT_SECRET"],
        Some("--jwt-secret"),
        Text,
        true,
        None,
        "HS256 secret of access tokens, at least 32 bytes; unset: generated into <data_dir>/jwt-secret.",
    ),
    setting(
        "auth",
        "token_ttl_secs",
        &["LEADLINE_TOKEN_TTL_SECS"],
        Some("--token-ttl-secs"),
        Seconds,
        false,
        Some("900"),
        "Access-token lifetime in seconds (1 to 86400).",
    ),
    setting(
        "auth",
        "refresh_ttl_secs",
        &["LEADLINE_REFRESH_TTL_SECS"],
        Some("--refresh-ttl-secs"),
        Seconds,
        false,
        Some("2592000"),
        "Refresh-token (device session) lifetime in seconds, at least the access-token lifetime.",
    ),
    setting(
        "pii",
        "keys",
        &[pii::KEYS_ENV],
        None,
        Text,
        true,
        None,
        "Keys sealing phone numbers, emails and notes: <id>:<base64 32 bytes>, active first; unset: \
         <data_dir>/pii-keys.",
    ),
    setting(
        "pii",
        "blind_key",
        &[pii::BLIND_KEY_ENV],
        None,
        Text,
        true,
        None,
        "Key of the phone-number blind index (base64, 32 bytes); set together with keys.",
    ),
    setting(
        "exotel",
        "api_key",
        &["LEADLINE_EXOTEL_API_KEY"],
        Some("--exotel-api-key"),
        Text,
        true,
        None,
        "Exotel API key; Exotel is on when api_key, api_token, sid and caller_id are set.",
    ),
    setting(
        "exotel",
        "api_token",
        &["LEADLINE_EXOTEL_API_TOKEN"],
        Some("--exotel-api-token"),
        Text,
        true,
        None,
        "Exotel API token.",
    ),
    setting(
        "exotel",
        "sid",
        &["LEADLINE_EXOTEL_SID"],
        Some("--exotel-sid"),
        Text,
        false,
        None,
        "Exotel account SID.",
    ),
    setting(
        "exotel",
        "caller_id",
        &["LEADLINE_EXOTEL_CALLER_ID"],
        Some("--exotel-caller-id"),
        Text,
        false,
        None,
        "The ExoPhone shown to customers.",
    ),
    setting(
        "exotel",
        "base_url",
        &["LEADLINE_EXOTEL_BASE_URL"],
        Some("--exotel-base-url"),
        Text,
        false,
        Some(crate::exotel::DEFAULT_BASE_URL),
        "Exotel API base URL (https://api.in.exotel.com for the Mumbai cluster).",
    ),
    setting(
        "exotel",
        "subdomain",
        &["LEADLINE_EXOTEL_SUBDOMAIN"],
        Some("--exotel-subdomain"),
        Text,
        false,
        None,
        "Or the API subdomain as Exotel's dashboard shows it (@api.in.exotel.com): base_url https://<subdomain>.",
    ),
    setting(
        "exotel",
        "webhook_secret",
        &["LEADLINE_EXOTEL_WEBHOOK_SECRET"],
        Some("--exotel-webhook-secret"),
        Text,
        true,
        None,
        "Secret of the StatusCallback webhook: at least 16 of A-Z a-z 0-9 - _ . ~",
    ),
    setting(
        "exotel",
        "public_url",
        &["LEADLINE_PUBLIC_URL"],
        Some("--public-url"),
        Text,
        false,
        None,
        "This server's public https base URL, as Exotel reaches it.",
    ),
    setting(
        "sheets",
        "credentials",
        &["GOOGLE_APPLICATION_CREDENTIALS"],
        Some("--google-credentials"),
        Text,
        false,
        None,
        "Google service-account JSON key file; Sheets imports are on when set.",
    ),
    setting(
        "sheets",
        "base_url",
        &["LEADLINE_SHEETS_BASE_URL"],
        Some("--sheets-base-url"),
        Text,
        false,
        None,
        "Sheets API base URL; unset: Google's.",
    ),
    setting(
        "sheets",
        "token_uri",
        &["LEADLINE_SHEETS_TOKEN_URI"],
        Some("--sheets-token-uri"),
        Text,
        false,
        None,
        "OAuth token endpoint; unset: the key's token_uri.",
    ),
    setting(
        "log",
        "filter",
        &["LEADLINE_LOG"],
        Some("--log"),
        Text,
        false,
        Some("info"),
        "Log filter (tracing EnvFilter syntax), e.g. info or info,leadline_server=debug.",
    ),
    setting(
        "log",
        "sentry_dsn",
        &["LEADLINE_SENTRY_DSN", "SENTRY_DSN"],
        Some("--sentry-dsn"),
        Text,
        true,
        None,
        "Sentry DSN: error events go to Sentry when set.",
    ),
    setting(
        "tls",
        "cert",
        &["LEADLINE_TLS_CERT"],
        Some("--tls-cert"),
        Text,
        false,
        None,
        "PEM certificate chain; with key, the server speaks HTTPS (reloaded on SIGHUP).",
    ),
    setting(
        "tls",
        "key",
        &["LEADLINE_TLS_KEY"],
        Some("--tls-key"),
        Text,
        false,
        None,
        "PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate.",
    ),
    setting(
        "updates",
        "dir",
        &["LEADLINE_UPDATES_DIR"],
        Some("--updates-dir"),
        Text,
        false,
        None,
        "The desktop app's in-app updates: latest.json, the signed packages and their .sig files \
         (scripts/package writes them); unset: no update is offered.",
    ),
    setting(
        "retention",
        "calls_max_age",
        &["LEADLINE_CALLS_MAX_AGE"],
        Some("--calls-max-age"),
        Text,
        false,
        None,
        "Archived call logs that started longer ago (6months, 180d, 26w, 1y) are purged; unset: kept.",
    ),
    setting(
        "retention",
        "recordings_max_age",
        &["LEADLINE_RECORDINGS_MAX_AGE"],
        Some("--recordings-max-age"),
        Text,
        false,
        None,
        "Calls (live or archived) that started longer ago lose their recording reference; unset: kept.",
    ),
    setting(
        "retention",
        "archived_leads_max_age",
        &["LEADLINE_ARCHIVED_LEADS_MAX_AGE"],
        Some("--archived-leads-max-age"),
        Text,
        false,
        None,
        "Leads archived longer ago are purged with their history; unset: kept.",
    ),
    setting(
        "retention",
        "every_secs",
        &["LEADLINE_RETENTION_EVERY_SECS"],
        Some("--retention-every-secs"),
        Seconds,
        false,
        None,
        "Run the retention policy inside serve this often (60 to 604800; first run one period after \
         start); unset: run `leadline-server retention` from a timer instead.",
    ),
];

/// The flags of `leadline-server serve` (values are checked by [`load`], so every bad one is reported at
/// once).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeFlags {
    /// Configuration file (TOML). Environment variables override it, flags override both.
    #[arg(long, env = CONFIG_ENV, hide_env_values = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the database, the generated JWT secret and PII keys [env: LEADLINE_DATA_DIR]
    /// [default: leadline-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Address to listen on; port 0 picks a free port (printed on stdout) [env: LEADLINE_LISTEN]
    /// [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// HS256 secret for access tokens (at least 32 bytes); prefer the environment or the file, a flag shows
    /// in the process list. Unset: generated into <data-dir>/jwt-secret [env: LEADLINE_JWT_SECRET].
    #[arg(long, value_name = "SECRET")]
    pub jwt_secret: Option<Secret>,
    /// Access-token lifetime in seconds [env: LEADLINE_TOKEN_TTL_SECS] [default: 900].
    #[arg(long, value_name = "SECS")]
    pub token_ttl_secs: Option<String>,
    /// Refresh-token (device session) lifetime in seconds [env: LEADLINE_REFRESH_TTL_SECS]
    /// [default: 2592000].
    #[arg(long, value_name = "SECS")]
    pub refresh_ttl_secs: Option<String>,
    /// PostgreSQL URL (`postgres://user:password@host:port/db`); unset: the SQLite file in the data
    /// directory [env: DATABASE_URL].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<Secret>,
    /// Origins allowed to call the API from a browser (CORS), comma-separated [env: LEADLINE_CORS_ORIGINS].
    #[arg(long, value_name = "ORIGINS")]
    pub cors_origins: Option<String>,
    /// Reverse proxies (addresses or CIDR blocks, comma-separated) whose X-Forwarded-For names the client
    /// [env: LEADLINE_TRUSTED_PROXIES].
    #[arg(long, value_name = "NETS")]
    pub trusted_proxies: Option<String>,
    /// Exotel API key [env: LEADLINE_EXOTEL_API_KEY].
    #[arg(long, value_name = "KEY")]
    pub exotel_api_key: Option<Secret>,
    /// Exotel API token [env: LEADLINE_EXOTEL_API_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub exotel_api_token: Option<Secret>,
    /// Exotel account SID [env: LEADLINE_EXOTEL_SID].
    #[arg(long, value_name = "SID")]
    pub exotel_sid: Option<String>,
    /// The ExoPhone shown to customers [env: LEADLINE_EXOTEL_CALLER_ID].
    #[arg(long, value_name = "NUMBER")]
    pub exotel_caller_id: Option<String>,
    /// Exotel API base URL [env: LEADLINE_EXOTEL_BASE_URL] [default: https://api.exotel.com].
    #[arg(long, value_name = "URL")]
    pub exotel_base_url: Option<String>,
    /// Or Exotel's API subdomain as its dashboard shows it, e.g. @api.in.exotel.com
    /// [env: LEADLINE_EXOTEL_SUBDOMAIN].
    #[arg(long, value_name = "HOST")]
    pub exotel_subdomain: Option<String>,
    /// Secret of the StatusCallback webhook [env: LEADLINE_EXOTEL_WEBHOOK_SECRET].
    #[arg(long, value_name = "SECRET")]
    pub exotel_webhook_secret: Option<Secret>,
    /// This server's public base URL, as Exotel reaches it [env: LEADLINE_PUBLIC_URL].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Google service-account JSON key for Sheets imports [env: GOOGLE_APPLICATION_CREDENTIALS].
    #[arg(long, value_name = "FILE")]
    pub google_credentials: Option<String>,
    /// Sheets API base URL [env: LEADLINE_SHEETS_BASE_URL].
    #[arg(long, value_name = "URL")]
    pub sheets_base_url: Option<String>,
    /// OAuth token endpoint [env: LEADLINE_SHEETS_TOKEN_URI].
    #[arg(long, value_name = "URL")]
    pub sheets_token_uri: Option<String>,
    /// Log filter, e.g. `info,leadline_server=debug` [env: LEADLINE_LOG] [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Sentry DSN [env: LEADLINE_SENTRY_DSN or SENTRY_DSN].
    #[arg(long, value_name = "DSN")]
    pub sentry_dsn: Option<Secret>,
    /// PEM certificate chain: with --tls-key, serve HTTPS [env: LEADLINE_TLS_CERT].
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// PEM private key of the certificate [env: LEADLINE_TLS_KEY].
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
    /// The desktop app's in-app updates: a directory with latest.json, the signed packages and their .sig
    /// files, served at /api/v1/updates/… (public) [env: LEADLINE_UPDATES_DIR].
    #[arg(long, value_name = "DIR")]
    pub updates_dir: Option<String>,
    /// Purge archived call logs older than this: `6months`, `180d`, `26w`, `1y` (with
    /// --retention-every-secs) [env: LEADLINE_CALLS_MAX_AGE].
    #[arg(long, value_name = "AGE")]
    pub calls_max_age: Option<String>,
    /// Drop the recording references of calls older than this [env: LEADLINE_RECORDINGS_MAX_AGE].
    #[arg(long, value_name = "AGE")]
    pub recordings_max_age: Option<String>,
    /// Purge leads archived longer ago than this, with their history
    /// [env: LEADLINE_ARCHIVED_LEADS_MAX_AGE].
    #[arg(long, value_name = "AGE")]
    pub archived_leads_max_age: Option<String>,
    /// Run the retention policy inside `serve` every this many seconds
    /// [env: LEADLINE_RETENTION_EVERY_SECS].
    #[arg(long, value_name = "SECS")]
    pub retention_every_secs: Option<String>,
}

impl ServeFlags {
    /// The flags given, as (flag, text).
    fn given(&self) -> Vec<(&'static str, String)> {
        let text = |v: &Option<String>| v.clone();
        let secret = |v: &Option<Secret>| v.as_ref().map(|s| s.expose().to_owned());
        let all = [
            ("--data-dir", text(&self.data_dir)),
            ("--listen", text(&self.listen)),
            ("--jwt-secret", secret(&self.jwt_secret)),
            ("--token-ttl-secs", text(&self.token_ttl_secs)),
            ("--refresh-ttl-secs", text(&self.refresh_ttl_secs)),
            ("--database-url", secret(&self.database_url)),
            ("--cors-origins", text(&self.cors_origins)),
            ("--trusted-proxies", text(&self.trusted_proxies)),
            ("--exotel-api-key", secret(&self.exotel_api_key)),
            ("--exotel-api-token", secret(&self.exotel_api_token)),
            ("--exotel-sid", text(&self.exotel_sid)),
            ("--exotel-caller-id", text(&self.exotel_caller_id)),
            ("--exotel-base-url", text(&self.exotel_base_url)),
            ("--exotel-subdomain", text(&self.exotel_subdomain)),
            ("--exotel-webhook-secret", secret(&self.exotel_webhook_secret)),
            ("--public-url", text(&self.public_url)),
            ("--google-credentials", text(&self.google_credentials)),
            ("--sheets-base-url", text(&self.sheets_base_url)),
            ("--sheets-token-uri", text(&self.sheets_token_uri)),
            ("--log", text(&self.log)),
            ("--sentry-dsn", secret(&self.sentry_dsn)),
            ("--tls-cert", text(&self.tls_cert)),
            ("--tls-key", text(&self.tls_key)),
            ("--updates-dir", text(&self.updates_dir)),
            ("--calls-max-age", text(&self.calls_max_age)),
            ("--recordings-max-age", text(&self.recordings_max_age)),
            ("--archived-leads-max-age", text(&self.archived_leads_max_age)),
            ("--retention-every-secs", text(&self.retention_every_secs)),
        ];
        all.into_iter()
            .filter_map(|(flag, v)| v.map(|v| (flag, v)))
            .collect()
    }
}

/// What is wrong with one setting (or with the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file could not be read.
    Unreadable,
    /// The file is not valid TOML.
    Syntax,
    /// A key or section the server does not know (`suggestion`: the closest known one).
    UnknownKey { suggestion: Option<String> },
    /// The value has the wrong TOML type.
    WrongType,
    /// The value is not acceptable.
    Invalid,
    /// A setting needed by another one is missing.
    Missing,
}

/// One problem: the setting, where its value came from, and what is expected. Never contains a secret's
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `[auth] jwt_secret`, or the file's name for problems of the file itself.
    pub setting: String,
    /// Where the offending value came from (`None`: a missing value).
    pub source: Option<Source>,
    pub kind: ProblemKind,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(Source::Env(var)) => write!(f, "{var}: {}", self.message),
            Some(Source::Flag(flag)) => write!(f, "{flag}: {}", self.message),
            Some(source @ Source::File { .. }) => {
                write!(f, "{} ({source}): {}", self.setting, self.message)
            }
            Some(Source::Default) | None => write!(f, "{}: {}", self.setting, self.message),
        }
    }
}

/// Why the configuration cannot be used: every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "the configuration has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// A raw value before checking.
#[derive(Clone)]
enum Raw {
    Text(String),
    List(Vec<String>),
    Int(i64),
}

#[derive(Clone)]
struct Given {
    raw: Raw,
    source: Source,
}

/// The checked configuration of `serve`.
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: Option<Secret>,
    pub database: Option<db::DbConfig>,
    pub jwt_secret: Option<Secret>,
    pub token_ttl: Duration,
    pub refresh_ttl: Duration,
    pub pii: Option<Arc<pii::PiiKeys>>,
    pub exotel: Option<ExotelSettings>,
    pub sheets: Option<SheetsSettings>,
    pub cors_origins: Vec<String>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub log_filter: String,
    pub sentry_dsn: Option<Secret>,
    pub tls: Option<tls::TlsSettings>,
    /// Where the desktop's in-app updates are served from.
    pub updates_dir: Option<PathBuf>,
    /// The retention policy, and how often `serve` runs it (`every: None`: not inside `serve`).
    pub retention: RetentionSchedule,
    /// Things worth a warning in the log (e.g. a configuration file other users can read).
    pub warnings: Vec<String>,
    /// The configuration file read, if any.
    pub file: Option<PathBuf>,
    /// Each set setting's shown value (redacted when secret) and source, by `[section] key`.
    shown: BTreeMap<String, (String, Source)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("shown", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The [`ServeConfig`] to run the server with.
    pub fn serve_config(&self) -> ServeConfig {
        ServeConfig {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            jwt_secret: self.jwt_secret.as_ref().map(|s| s.expose().to_owned()),
            token_ttl: self.token_ttl,
            refresh_ttl: self.refresh_ttl,
            database: self.database.clone(),
            pii: self.pii.clone(),
            exotel: self.exotel.clone(),
            sheets: self.sheets.clone(),
            cors_origins: self.cors_origins.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            tls: self.tls.clone(),
            updates_dir: self.updates_dir.clone(),
            retention: self.retention,
            ..ServeConfig::new(&self.data_dir)
        }
    }

    /// Where this setting's value came from (`None`: unset).
    pub fn source_of(&self, section: &str, key: &str) -> Option<&Source> {
        self.shown.get(&format!("[{section}] {key}")).map(|(_, s)| s)
    }

    /// The effective configuration as TOML, each value followed by its source; secrets are `***`.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# leadline-server: effective configuration (secrets shown as ***)\n\
             # precedence: flag > environment > file > default\n",
        );
        if let Some(file) = &self.file {
            out.push_str(&format!("# file: {}\n", file.display()));
        }
        let mut section = "";
        for s in SETTINGS {
            if s.section != section {
                section = s.section;
                out.push_str(&format!("\n[{section}]\n"));
            }
            match self.shown.get(&s.name()) {
                Some((value, source)) => {
                    out.push_str(&format!("{} = {value}  # {source}\n", s.key));
                }
                None => out.push_str(&format!("# {} is not set\n", s.key)),
            }
        }
        out
    }
}

/// Reads the process environment (non-Unicode values are reported as problems by [`load`]).
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Warnings for environment variables that look like a misspelt setting (`LEADLINE_JWT_SECRTE`): a name
/// starting with `LEADLINE_` that is no setting's but is within two edits of one. (Other `LEADLINE_`
/// variables belong to other programs of the project and are left alone.)
pub fn env_typos(names: impl IntoIterator<Item = OsString>) -> Vec<String> {
    let known: Vec<&'static str> = SETTINGS
        .iter()
        .flat_map(|s| s.env.iter().copied())
        .chain([CONFIG_ENV])
        .collect();
    let mut out = Vec::new();
    for name in names {
        let Ok(name) = name.into_string() else { continue };
        if !name.starts_with("LEADLINE_") || known.contains(&name.as_str()) {
            continue;
        }
        if let Some(close) = known
            .iter()
            .map(|k| (edit_distance(&name, k), *k))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
        {
            out.push(format!(
                "environment variable {name} is not a setting and is ignored (did you mean {close}?)"
            ));
        }
    }
    out
}

/// Reads the configuration: the file (from `flags.config`, else `LEADLINE_CONFIG` through the flag's
/// `env`), then `env` (looked up by name; empty values count as unset), then the flags, and checks every
/// value. Reports every problem at once.
pub fn load(flags: &ServeFlags, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Settings, ConfigError> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut given: BTreeMap<(&'static str, &'static str), Given> = BTreeMap::new();

    // 1. The file.
    if let Some(path) = &flags.config {
        read_file(path, &mut given, &mut problems, &mut warnings);
    }
    // 2. The environment.
    for s in SETTINGS {
        for var in s.env {
            match env(var) {
                None => continue,
                Some(value) => match value.into_string() {
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => {
                        given.insert(
                            (s.section, s.key),
                            Given {
                                raw: Raw::Text(text),
                                source: Source::Env(var),
                            },
                        );
                        break;
                    }
                    Err(_) => {
                        problems.push(Problem {
                            setting: s.name(),
                            source: Some(Source::Env(var)),
                            kind: ProblemKind::Invalid,
                            message: "is not valid UTF-8".into(),
                        });
                        break;
                    }
                },
            }
        }
    }
    // 3. The flags.
    for (flag, text) in flags.given() {
        if let Some(s) = SETTINGS.iter().find(|s| s.flag == Some(flag)) {
            given.insert(
                (s.section, s.key),
                Given {
                    raw: Raw::Text(text),
                    source: Source::Flag(flag),
                },
            );
        }
    }

    let mut check = Checker {
        given,
        problems,
        shown: BTreeMap::new(),
    };
    let settings = check.settings(flags.config.clone(), warnings);
    if check.problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError {
            problems: check.problems,
        })
    }
}

/// Reads and walks the TOML file, recording each known key's value and a problem for everything else.
fn read_file(
    path: &Path,
    given: &mut BTreeMap<(&'static str, &'static str), Given>,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) {
    let file_problem = |kind, message: String| Problem {
        setting: path.display().to_string(),
        source: None,
        kind,
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(file_problem(
                ProblemKind::Unreadable,
                format!("cannot read the configuration file: {e}"),
            ));
            return;
        }
    };
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let at = |offset: usize| Source::File {
        path: path.to_owned(),
        line: line_of(offset),
    };
    let root = match DeTable::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            let line = e.span().map_or(0, |s| line_of(s.start));
            // The parser's message quotes at most the offending token, never the rest of the file.
            problems.push(file_problem(
                ProblemKind::Syntax,
                format!("line {line}: not valid TOML: {}", e.message().trim()),
            ));
            return;
        }
    };
    let sections: Vec<&str> = {
        let mut s: Vec<&str> = SETTINGS.iter().map(|s| s.section).collect();
        s.dedup();
        s
    };
    let mut holds_secret = false;
    for (name, value) in root.get_ref() {
        let section_name = name.get_ref().as_ref();
        let Some(&section) = sections.iter().find(|s| **s == section_name) else {
            problems.push(Problem {
                setting: format!("[{section_name}]"),
                source: Some(at(name.span().start)),
                kind: ProblemKind::UnknownKey {
                    suggestion: closest(section_name, sections.iter().copied()).map(|s| format!("[{s}]")),
                },
                message: unknown_message(
                    "section",
                    section_name,
                    closest(section_name, sections.iter().copied()),
                ),
            });
            continue;
        };
        let DeValue::Table(table) = value.get_ref() else {
            problems.push(Problem {
                setting: format!("[{section}]"),
                source: Some(at(name.span().start)),
                kind: ProblemKind::WrongType,
                message: format!(
                    "expected a table ([{section}] on its own line, then key = value lines), got {}",
                    value.get_ref().type_str()
                ),
            });
            continue;
        };
        let keys: Vec<&'static str> = SETTINGS
            .iter()
            .filter(|s| s.section == section)
            .map(|s| s.key)
            .collect();
        for (key, value) in table {
            let key_name = key.get_ref().as_ref();
            let Some(s) = SETTINGS
                .iter()
                .find(|s| s.section == section && s.key == key_name)
            else {
                let suggestion = closest(key_name, keys.iter().copied());
                problems.push(Problem {
                    setting: format!("[{section}] {key_name}"),
                    source: Some(at(key.span().start)),
                    kind: ProblemKind::UnknownKey {
                        suggestion: suggestion.map(str::to_owned),
                    },
                    message: unknown_message("key", key_name, suggestion),
                });
                continue;
            };
            let source = at(key.span().start);
            match to_raw(value) {
                Some(raw) => {
                    holds_secret |= s.secret;
                    given.insert((s.section, s.key), Given { raw, source });
                }
                None => problems.push(Problem {
                    setting: s.name(),
                    source: Some(source),
                    kind: ProblemKind::WrongType,
                    message: format!(
                        "expected {}, got {}",
                        match s.kind {
                            Text => "a string",
                            List => "an array of strings",
                            Seconds => "a whole number of seconds",
                        },
                        value.get_ref().type_str()
                    ),
                }),
            }
        }
    }
    #[cfg(unix)]
    if holds_secret {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o007 != 0
        {
            warnings.push(format!(
                "{} holds secrets and other users can read it (mode {:o}): chmod 0640 and chown root:leadline",
                path.display(),
                meta.permissions().mode() & 0o777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (holds_secret, warnings);
}

fn unknown_message(what: &str, name: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("unknown {what} {name:?} (did you mean {s:?}?)"),
        None => format!("unknown {what} {name:?}"),
    }
}

/// A TOML value as a raw setting value (`None`: not a string, an integer or an array of strings).
fn to_raw(value: &Spanned<DeValue<'_>>) -> Option<Raw> {
    match value.get_ref() {
        DeValue::String(s) => Some(Raw::Text(s.to_string())),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok().map(Raw::Int),
        DeValue::Array(items) => items
            .iter()
            .map(|v| match v.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Raw::List),
        _ => None,
    }
}

/// The known name closest to `name` (edit distance at most 2, or one being a prefix of the other).
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2 || k.starts_with(name) || name.starts_with(k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

struct Checker {
    given: BTreeMap<(&'static str, &'static str), Given>,
    problems: Vec<Problem>,
    shown: BTreeMap<String, (String, Source)>,
}

fn setting_of(section: &str, key: &str) -> &'static Setting {
    // Every caller names a setting of SETTINGS (a test checks each one); a wrong name is a programming
    // error caught by those tests.
    SETTINGS
        .iter()
        .find(|s| s.section == section && s.key == key)
        .unwrap_or(&SETTINGS[0])
}

impl Checker {
    fn problem(
        &mut self,
        section: &str,
        key: &str,
        source: Option<Source>,
        kind: ProblemKind,
        message: String,
    ) {
        self.problems.push(Problem {
            setting: setting_of(section, key).name(),
            source,
            kind,
            message,
        });
    }

    fn source(&self, section: &'static str, key: &'static str) -> Option<Source> {
        self.given.get(&(section, key)).map(|g| g.source.clone())
    }

    /// The value as text (`None`: unset); records it for [`Settings::render`].
    fn text(&mut self, section: &'static str, key: &'static str) -> Option<(String, Source)> {
        let s = setting_of(section, key);
        let g = self.given.get(&(section, key))?.clone();
        let text = match g.raw {
            Raw::Text(t) => t,
            Raw::Int(i) if s.kind == Seconds => i.to_string(),
            Raw::Int(_) | Raw::List(_) => {
                self.problem(
                    section,
                    key,
                    Some(g.source),
                    ProblemKind::WrongType,
                    "expected a string".into(),
                );
                return None;
            }
        };
        let shown = if s.secret {
            "\"***\"".to_owned()
        } else if s.kind == Seconds {
            text.trim().to_owned()
        } else {
            toml_string(&text)
        };
        self.shown.insert(s.name(), (shown, g.source.clone()));
        Some((text, g.source))
    }

    /// A list setting: an array in the file, comma-separated elsewhere; empty entries are dropped.
    fn list(&mut self, section: &'static str, key: &'static str) -> Option<(Vec<String>, Source)> {
        let s = setting_of(section, key);
        let g = self.given.get(&(section, key))?.clone();
        let items: Vec<String> = match g.raw {
            Raw::List(items) => items,
            Raw::Text(t) => t.split(',').map(str::to_owned).collect(),
            Raw::Int(_) => {
                self.problem(
                    section,
                    key,
                    Some(g.source),
                    ProblemKind::WrongType,
                    "expected a list".into(),
                );
                return None;
            }
        };
        let items: Vec<String> = items
            .into_iter()
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty())
            .collect();
        let shown = format!(
            "[{}]",
            items
                .iter()
                .map(|i| toml_string(i))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.shown.insert(s.name(), (shown, g.source.clone()));
        Some((items, g.source))
    }

    fn invalid(&mut self, section: &str, key: &str, source: &Source, message: String) {
        self.problem(section, key, Some(source.clone()), ProblemKind::Invalid, message);
    }

    fn default_shown(&mut self, section: &str, key: &str) {
        let s = setting_of(section, key);
        if let Some(d) = s.default
            && !self.shown.contains_key(&s.name())
        {
            let shown = if s.kind == Seconds {
                d.to_owned()
            } else {
                toml_string(d)
            };
            self.shown.insert(s.name(), (shown, Source::Default));
        }
    }

    fn seconds(&mut self, section: &'static str, key: &'static str, max: u64) -> Option<(u64, Source)> {
        let s = setting_of(section, key);
        let default: u64 = s.default.and_then(|d| d.parse().ok()).unwrap_or(1);
        let Some((text, source)) = self.text(section, key) else {
            self.default_shown(section, key);
            return Some((default, Source::Default));
        };
        match text.trim().parse::<i64>() {
            Ok(n) if n <= 0 => {
                self.invalid(
                    section,
                    key,
                    &source,
                    format!("must be a lifetime of at least 1 second, got {n}"),
                );
                None
            }
            Ok(n) if n.unsigned_abs() > max => {
                self.invalid(
                    section,
                    key,
                    &source,
                    format!("must be at most {max} seconds, got {n}"),
                );
                None
            }
            Ok(n) => Some((n.unsigned_abs(), source)),
            Err(_) => {
                self.invalid(
                    section,
                    key,
                    &source,
                    format!("expected a whole number of seconds, got {:?}", text.trim()),
                );
                None
            }
        }
    }

    fn secret(&mut self, section: &'static str, key: &'static str) -> Option<(Secret, Source)> {
        self.text(section, key).map(|(t, s)| (Secret::new(t), s))
    }

    /// A file that must exist and be readable.
    fn file(&mut self, section: &'static str, key: &'static str) -> Option<(PathBuf, Source)> {
        let (text, source) = self.text(section, key)?;
        let path = PathBuf::from(text.trim());
        match std::fs::File::open(&path) {
            Ok(_) if path.is_dir() => {
                self.invalid(
                    section,
                    key,
                    &source,
                    format!("{} is a directory, not a file", path.display()),
                );
                None
            }
            Ok(_) => Some((path, source)),
            Err(e) => {
                self.invalid(
                    section,
                    key,
                    &source,
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    }

    fn settings(&mut self, file: Option<PathBuf>, mut warnings: Vec<String>) -> Settings {
        // [server]
        let data_dir = match self.text("server", "data_dir") {
            Some((t, source)) => {
                let path = PathBuf::from(t.trim());
                if t.trim().is_empty() {
                    self.invalid("server", "data_dir", &source, "must not be empty".into());
                } else if path.exists() && !path.is_dir() {
                    self.invalid(
                        "server",
                        "data_dir",
                        &source,
                        format!("{} exists and is not a directory", path.display()),
                    );
                }
                path
            }
            None => {
                self.default_shown("server", "data_dir");
                PathBuf::from("leadline-data")
            }
        };
        let listen = match self.text("server", "listen") {
            Some((t, source)) => t.trim().parse().unwrap_or_else(|_| {
                self.invalid(
                    "server",
                    "listen",
                    &source,
                    format!(
                        "expected an address and port such as 0.0.0.0:8080 or [::]:8080, got {:?}",
                        t.trim()
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }),
            None => {
                self.default_shown("server", "listen");
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        let mut cors_origins = Vec::new();
        if let Some((items, source)) = self.list("server", "cors_origins") {
            for item in items {
                match check_origin(&item) {
                    Ok(origin) => cors_origins.push(origin),
                    Err(why) => self.invalid("server", "cors_origins", &source, format!("{item:?}: {why}")),
                }
            }
        }
        let mut trusted_proxies = Vec::new();
        if let Some((items, source)) = self.list("server", "trusted_proxies") {
            for item in items {
                match parse_net(&item) {
                    Ok(net) => trusted_proxies.push(net),
                    Err(why) => self.invalid("server", "trusted_proxies", &source, why),
                }
            }
        }

        // [database]
        let mut database = None;
        let database_url = self.secret("database", "url");
        if let Some((url, source)) = &database_url {
            // Shown without its password.
            self.shown.insert(
                setting_of("database", "url").name(),
                (toml_string(&db::redact_url(url.expose())), source.clone()),
            );
            match parse_database_url(url.expose()) {
                Ok(config) => database = Some(config),
                Err(why) => self.invalid("database", "url", source, why),
            }
        }

        // [auth]
        let jwt_secret = self.secret("auth", "jwt_secret");
        if let Some((secret, source)) = &jwt_secret {
            let len = secret.expose().len();
            if len < crate::auth::MIN_SECRET_LEN {
                self.invalid(
                    "auth",
                    "jwt_secret",
                    source,
                    format!(
                        "must be at least {} bytes, got {len}",
                        crate::auth::MIN_SECRET_LEN
                    ),
                );
            }
        }
        let token_ttl = self.seconds("auth", "token_ttl_secs", MAX_TOKEN_TTL_SECS);
        let refresh_ttl = self.seconds("auth", "refresh_ttl_secs", MAX_REFRESH_TTL_SECS);
        if let (Some((token, _)), Some((refresh, source))) = (&token_ttl, &refresh_ttl)
            && refresh < token
        {
            let source = source.clone();
            self.invalid(
                "auth",
                "refresh_ttl_secs",
                &source,
                format!("must be at least the access-token lifetime ({token} s), got {refresh}"),
            );
        }

        // [pii]
        let keys = self.secret("pii", "keys");
        let blind = self.secret("pii", "blind_key");
        let pii = match (keys, blind) {
            (None, None) => None,
            (Some((keys, source)), Some((blind, _))) => {
                match pii::PiiKeys::from_env_value(keys.expose(), blind.expose()) {
                    Ok(k) => Some(Arc::new(k)),
                    Err(e) => {
                        // The error names the offending key id or entry, never key material.
                        let message = match e {
                            pii::PiiConfigError::In { error, .. } => error.to_string(),
                            other => other.to_string(),
                        };
                        self.invalid("pii", "keys", &source, message);
                        None
                    }
                }
            }
            (Some((_, source)), None) => {
                self.problem(
                    "pii",
                    "blind_key",
                    Some(source),
                    ProblemKind::Missing,
                    format!(
                        "missing: set it (or {}) together with [pii] keys",
                        pii::BLIND_KEY_ENV
                    ),
                );
                None
            }
            (None, Some((_, source))) => {
                self.problem(
                    "pii",
                    "keys",
                    Some(source),
                    ProblemKind::Missing,
                    format!(
                        "missing: set it (or {}) together with [pii] blind_key",
                        pii::KEYS_ENV
                    ),
                );
                None
            }
        };

        let exotel = self.exotel();
        let sheets = self.sheets();

        // [log]
        let log_filter = match self.text("log", "filter") {
            Some((t, source)) => {
                if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(t.trim()) {
                    self.invalid("log", "filter", &source, format!("not a valid log filter: {e}"));
                }
                t.trim().to_owned()
            }
            None => {
                self.default_shown("log", "filter");
                "info".to_owned()
            }
        };
        let sentry_dsn = self.secret("log", "sentry_dsn");
        if let Some((dsn, source)) = &sentry_dsn
            && dsn.expose().trim().parse::<sentry::types::Dsn>().is_err()
        {
            self.invalid(
                "log",
                "sentry_dsn",
                source,
                "not a Sentry DSN (https://<key>@<host>/<project id>)".into(),
            );
        }

        // [tls]
        let cert = self.file("tls", "cert");
        let key = self.file("tls", "key");
        let cert_given = self.source("tls", "cert");
        let key_given = self.source("tls", "key");
        let tls = match (cert, key) {
            (Some((cert, cert_source)), Some((key, _))) => {
                let settings = tls::TlsSettings { cert, key };
                match tls::load_certified_key(&settings) {
                    Ok(_) => Some(settings),
                    Err(e) => {
                        self.invalid("tls", "cert", &cert_source, e.to_string());
                        None
                    }
                }
            }
            _ => {
                if let (Some(source), None) = (&cert_given, &key_given) {
                    self.problem(
                        "tls",
                        "key",
                        Some(source.clone()),
                        ProblemKind::Missing,
                        "missing: a certificate needs its private key (LEADLINE_TLS_KEY, --tls-key)".into(),
                    );
                }
                if let (None, Some(source)) = (&cert_given, &key_given) {
                    self.problem(
                        "tls",
                        "cert",
                        Some(source.clone()),
                        ProblemKind::Missing,
                        "missing: a private key needs its certificate (LEADLINE_TLS_CERT, --tls-cert)".into(),
                    );
                }
                None
            }
        };
        if tls.is_none() && cert_given.is_none() && !listen.ip().is_loopback() {
            warnings.push(format!(
                "serving plain HTTP on {listen}: put a TLS-terminating reverse proxy in front, or set [tls] \
                 cert and key"
            ));
        }

        // [updates]
        let updates_dir = match self.text("updates", "dir") {
            Some((text, source)) => {
                let dir = PathBuf::from(text.trim());
                if dir.is_dir() {
                    Some(dir)
                } else {
                    self.invalid(
                        "updates",
                        "dir",
                        &source,
                        format!("{} is not a directory", dir.display()),
                    );
                    None
                }
            }
            None => None,
        };

        let retention = self.retention(&mut warnings);

        Settings {
            data_dir,
            listen,
            database_url: database_url.map(|(s, _)| s),
            database,
            jwt_secret: jwt_secret.map(|(s, _)| s),
            token_ttl: Duration::from_secs(token_ttl.map_or(900, |(t, _)| t)),
            refresh_ttl: Duration::from_secs(refresh_ttl.map_or(30 * 24 * 3600, |(t, _)| t)),
            pii,
            exotel,
            sheets,
            cors_origins,
            trusted_proxies,
            log_filter,
            sentry_dsn: sentry_dsn.map(|(s, _)| s),
            tls,
            updates_dir,
            retention,
            warnings,
            file,
            shown: std::mem::take(&mut self.shown),
        }
    }

    /// `[retention]`: each age must parse; a period needs at least one age, and ages without a period
    /// are a warning (they only apply to the `retention` subcommand then).
    fn retention(&mut self, warnings: &mut Vec<String>) -> RetentionSchedule {
        let age = |checker: &mut Self, key: &'static str| -> Option<Age> {
            let (text, source) = checker.text("retention", key)?;
            match text.parse::<Age>() {
                Ok(age) => Some(age),
                Err(e) => {
                    checker.invalid("retention", key, &source, e.to_string());
                    None
                }
            }
        };
        let policy = RetentionPolicy {
            calls_max_age: age(self, "calls_max_age"),
            recordings_max_age: age(self, "recordings_max_age"),
            archived_leads_max_age: age(self, "archived_leads_max_age"),
        };
        let period_given = self.source("retention", "every_secs").is_some();
        let every = match period_given {
            false => None,
            true => match self.seconds("retention", "every_secs", 7 * 24 * 3600) {
                Some((secs, source)) if secs < 60 => {
                    self.invalid(
                        "retention",
                        "every_secs",
                        &source,
                        format!("must be at least 60 seconds, got {secs}"),
                    );
                    None
                }
                Some((secs, source)) => {
                    if policy.keeps_everything() {
                        self.problem(
                            "retention",
                            "every_secs",
                            Some(source),
                            ProblemKind::Missing,
                            "missing: a retention period needs at least one of [retention] calls_max_age, \
                             recordings_max_age, archived_leads_max_age"
                                .into(),
                        );
                    }
                    Some(Duration::from_secs(secs))
                }
                None => None,
            },
        };
        if !period_given && !policy.keeps_everything() {
            warnings.push(
                "[retention] ages are set but every_secs is not: serve will not purge anything; run \
                 `leadline-server retention` from a timer, or set every_secs"
                    .into(),
            );
        }
        RetentionSchedule { policy, every }
    }

    fn exotel(&mut self) -> Option<ExotelSettings> {
        let api_key = self.secret("exotel", "api_key");
        let api_token = self.secret("exotel", "api_token");
        let sid = self.text("exotel", "sid");
        let caller_id = self.text("exotel", "caller_id");
        let mut base_url = self.text("exotel", "base_url");
        let subdomain = self.text("exotel", "subdomain");
        match (&base_url, subdomain) {
            (Some(_), Some((_, source))) => self.invalid(
                "exotel",
                "subdomain",
                &source,
                "give base_url or subdomain, not both".into(),
            ),
            (None, Some((sub, source))) => match exotel_host(&sub) {
                Ok(host) => base_url = Some((format!("https://{host}"), source)),
                Err(why) => self.invalid("exotel", "subdomain", &source, why),
            },
            _ => {}
        }
        let webhook_secret = self.secret("exotel", "webhook_secret");
        let public_url = self.text("exotel", "public_url");
        let account = [
            ("api_key", api_key.as_ref().map(|(_, s)| s.clone())),
            ("api_token", api_token.as_ref().map(|(_, s)| s.clone())),
            ("sid", sid.as_ref().map(|(_, s)| s.clone())),
            ("caller_id", caller_id.as_ref().map(|(_, s)| s.clone())),
        ];
        let others = [
            ("base_url", base_url.as_ref().map(|(_, s)| s.clone())),
            ("webhook_secret", webhook_secret.as_ref().map(|(_, s)| s.clone())),
            ("public_url", public_url.as_ref().map(|(_, s)| s.clone())),
        ];
        let Some(first) = account
            .iter()
            .chain(others[1..].iter())
            .find_map(|(k, s)| s.clone().map(|s| (*k, s)))
        else {
            self.default_shown("exotel", "base_url");
            return None;
        };
        // Something of Exotel is set: the whole account and webhook must be.
        let mut complete = true;
        for (key, source) in account.iter().chain(others[1..].iter()) {
            if source.is_none() {
                complete = false;
                let s = setting_of("exotel", key);
                self.problem(
                    "exotel",
                    key,
                    None,
                    ProblemKind::Missing,
                    format!(
                        "missing (set it or {}): Exotel is on because [exotel] {} is set ({})",
                        s.env[0], first.0, first.1
                    ),
                );
            }
        }
        if base_url.is_none() {
            self.default_shown("exotel", "base_url");
        }
        if let Some((sid, source)) = &sid
            && (sid.trim().is_empty()
                || !sid
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            self.invalid(
                "exotel",
                "sid",
                source,
                "must be letters, digits, '_' or '-'".into(),
            );
        }
        for (key, value) in [("api_key", &api_key), ("api_token", &api_token)] {
            if let Some((v, source)) = value
                && v.expose().trim().is_empty()
            {
                let source = source.clone();
                self.invalid("exotel", key, &source, "must not be empty".into());
            }
        }
        if let Some((caller, source)) = &caller_id
            && caller.trim().is_empty()
        {
            self.invalid("exotel", "caller_id", source, "must not be empty".into());
        }
        if let Some((secret, source)) = &webhook_secret {
            let s = secret.expose().trim();
            let url_safe = s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
            if s.len() < 16 || !url_safe {
                self.invalid(
                    "exotel",
                    "webhook_secret",
                    source,
                    format!(
                        "must be at least 16 characters of A-Z a-z 0-9 - _ . ~ (got {} characters{})",
                        s.len(),
                        if url_safe {
                            ""
                        } else {
                            ", some of them not allowed"
                        }
                    ),
                );
            }
        }
        if let Some((url, source)) = &public_url
            && let Err(why) = check_https_url(url)
        {
            self.invalid("exotel", "public_url", source, why);
        }
        if let Some((url, source)) = &base_url
            && let Err(why) = check_https_url(url)
        {
            self.invalid("exotel", "base_url", source, why);
        }
        if !complete {
            return None;
        }
        let (
            Some((key, _)),
            Some((token, _)),
            Some((sid, _)),
            Some((caller, _)),
            Some((secret, _)),
            Some((public, _)),
        ) = (api_key, api_token, sid, caller_id, webhook_secret, public_url)
        else {
            return None;
        };
        let mut exotel = crate::exotel::ExotelConfig::new(
            sid.trim(),
            key.expose().trim(),
            token.expose().trim(),
            caller.trim(),
        );
        if let Some((base, _)) = base_url {
            exotel.base_url = base.trim().trim_end_matches('/').to_owned();
        }
        Some(ExotelSettings {
            exotel,
            webhook_secret: secret.expose().trim().to_owned(),
            webhook_user: DEFAULT_WEBHOOK_USER.to_owned(),
            public_url: public.trim().trim_end_matches('/').to_owned(),
        })
    }

    fn sheets(&mut self) -> Option<SheetsSettings> {
        let credentials = self.file("sheets", "credentials");
        let given = self.source("sheets", "credentials");
        let base_url = self.text("sheets", "base_url");
        let token_uri = self.text("sheets", "token_uri");
        for (key, value) in [("base_url", &base_url), ("token_uri", &token_uri)] {
            if let Some((url, source)) = value {
                let source = source.clone();
                if let Err(why) = check_http_url(url) {
                    self.invalid("sheets", key, &source, why);
                } else if given.is_none() {
                    self.problem(
                        "sheets",
                        "credentials",
                        None,
                        ProblemKind::Missing,
                        format!(
                            "missing (set it or GOOGLE_APPLICATION_CREDENTIALS): [sheets] {key} is set ({source}) \
                             but Sheets imports need the service-account key"
                        ),
                    );
                }
            }
        }
        let (key_path, source) = credentials?;
        if let Err(e) = crate::import::sheets::ServiceAccountKey::from_file(&key_path) {
            self.invalid(
                "sheets",
                "credentials",
                &source,
                format!(
                    "{} is not a Google service-account JSON key: {e}",
                    key_path.display()
                ),
            );
            return None;
        }
        Some(SheetsSettings {
            key_path,
            base_url: base_url.map(|(u, _)| u.trim().to_owned()),
            token_uri: token_uri.map(|(u, _)| u.trim().to_owned()),
        })
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An origin as browsers send it: `scheme://host[:port]`, no path.
fn check_origin(text: &str) -> Result<String, String> {
    if text == "*" {
        return Err("a wildcard is not allowed: list each origin (https://crm.example.com)".into());
    }
    let url =
        reqwest::Url::parse(text).map_err(|_| "not an origin such as https://crm.example.com".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("an origin must start with https:// (or http://)".into());
    }
    let origin = url.origin().ascii_serialization();
    if origin != text.trim_end_matches('/') {
        return Err(format!("an origin has no path, query or user: use {origin:?}"));
    }
    Ok(origin)
}

/// A CIDR block, or one address (a /32 or /128).
pub fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR block (e.g. 10.0.0.0/8)"))
}

fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) => {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// The host of Exotel's API subdomain as its dashboard writes it (`@api.in.exotel.com`; the `@` and
/// blanks are dropped), checked to be a host name.
fn exotel_host(subdomain: &str) -> Result<String, String> {
    let host = subdomain
        .trim()
        .trim_start_matches('@')
        .trim()
        .to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(host)
    } else {
        Err(format!(
            "{subdomain:?} is not a host name (as Exotel shows it, e.g. @api.in.exotel.com)"
        ))
    }
}

/// An https URL (http only for a loopback host, such as a local test double).
fn check_https_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|_| "not an https URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => return Err("not an https URL (plain http is allowed only for localhost)".into()),
        _ => return Err("not an https URL".into()),
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err("not an https URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("a base URL has no query, fragment or user".into());
    }
    Ok(())
}

fn check_http_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|_| "not an http(s) URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("not an http(s) URL".into());
    }
    Ok(())
}

/// A database URL: `postgres://` or `postgresql://` (checked by the PostgreSQL client's parser, without
/// connecting), or `sqlite:PATH`. The message never repeats the URL (it may hold a password).
pub fn parse_database_url(url: &str) -> Result<db::DbConfig, String> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.parse::<postgres::Config>() {
            Ok(_) => Ok(db::DbConfig::Postgres(url.to_owned())),
            Err(_) => Err("not a valid PostgreSQL URL (postgres://user:password@host:port/database)".into()),
        }
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        if path.is_empty() {
            return Err("sqlite: needs a file path (sqlite:/var/lib/leadline/db.sqlite3)".into());
        }
        Ok(db::DbConfig::Sqlite(PathBuf::from(path)))
    } else {
        Err("must start with postgres:// or postgresql:// (or sqlite:PATH)".into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_named_setting_exists() {
        // `setting_of` falls back to the first setting on a typo; make sure no call site has one.
        let src = include_str!("config.rs");
        let re = regex_lite_pairs(src);
        assert!(!re.is_empty());
        for (section, key) in re {
            assert!(
                SETTINGS.iter().any(|s| s.section == section && s.key == key),
                "[{section}] {key} is not in SETTINGS"
            );
        }
    }

    /// The ("section", "key") pairs passed to the checker's helpers in this file.
    fn regex_lite_pairs(src: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for call in [
            "self.text(\"",
            "self.secret(\"",
            "self.seconds(\"",
            "self.list(\"",
            "self.file(\"",
            "self.source(\"",
            "self.invalid(\"",
            "self.problem(\"",
            "self.default_shown(\"",
            "setting_of(\"",
        ] {
            for (i, _) in src.match_indices(call) {
                let rest = &src[i + call.len()..];
                let Some(section_end) = rest.find('"') else {
                    continue;
                };
                let section = &rest[..section_end];
                let rest = &rest[section_end + 1..];
                let Some(rest) = rest.strip_prefix(", \"") else {
                    continue;
                };
                let Some(key_end) = rest.find('"') else { continue };
                out.push((section.to_owned(), rest[..key_end].to_owned()));
            }
        }
        out
    }

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "hunter2-hunter2");
    }

    #[test]
    fn misspelt_environment_variables_are_named() {
        let names = [
            "LEADLINE_JWT_SECRTE",
            "LEADLINE_JWT_SECRET",
            "LEADLINE_TEST_BACKEND",
            "LEADLINE_LISTN",
            "PATH",
        ]
        .map(OsString::from);
        let warnings = env_typos(names);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("LEADLINE_JWT_SECRTE") && warnings[0].contains("LEADLINE_JWT_SECRET"));
        assert!(warnings[1].contains("did you mean LEADLINE_LISTEN?"));
    }

    #[test]
    fn closest_suggests_typos() {
        let keys = ["jwt_secret", "token_ttl_secs", "refresh_ttl_secs"];
        assert_eq!(closest("jwt_secrte", keys.iter().copied()), Some("jwt_secret"));
        assert_eq!(closest("token_ttl", keys.iter().copied()), Some("token_ttl_secs"));
        assert_eq!(closest("colour", keys.iter().copied()), None);
    }

    #[test]
    fn database_url_errors_never_repeat_the_url() {
        let bad = "postgres://leadline:s3cr3t-pw@db:notaport/leadline";
        let e = parse_database_url(bad).unwrap_err();
        assert!(!e.contains("s3cr3t-pw"), "{e}");
        assert!(
            parse_database_url("mysql://u:s3cr3t-pw@db/x")
                .unwrap_err()
                .contains("postgres://")
        );
        assert!(matches!(
            parse_database_url("postgresql://u:p@localhost:5432/db"),
            Ok(db::DbConfig::Postgres(_))
        ));
    }

    #[test]
    fn the_exotel_subdomain_as_the_dashboard_shows_it_sets_the_base_url() {
        const ACCOUNT: [(&str, &str); 6] = [
            ("LEADLINE_EXOTEL_API_KEY", "key-1"),
            ("LEADLINE_EXOTEL_API_TOKEN", "token-1"),
            ("LEADLINE_EXOTEL_SID", "acme1"),
            ("LEADLINE_EXOTEL_CALLER_ID", "+918047091234"),
            ("LEADLINE_EXOTEL_WEBHOOK_SECRET", "0123456789abcdefgh"),
            ("LEADLINE_PUBLIC_URL", "https://crm.example.in"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let vars: Vec<(&str, &str)> = ACCOUNT.iter().chain(extra).copied().collect();
            load(&ServeFlags::default(), &move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(*v))
            })
        };
        let base = |extra: &[(&'static str, &'static str)]| {
            with(extra)
                .expect("valid")
                .exotel
                .expect("exotel on")
                .exotel
                .base_url
        };
        assert_eq!(
            base(&[("LEADLINE_EXOTEL_SUBDOMAIN", " @api.in.exotel.com ")]),
            "https://api.in.exotel.com"
        );
        assert_eq!(
            base(&[("LEADLINE_EXOTEL_SUBDOMAIN", "API.Exotel.com")]),
            "https://api.exotel.com"
        );
        assert_eq!(base(&[]), crate::exotel::DEFAULT_BASE_URL);
        for (extra, expected) in [
            (
                &[
                    ("LEADLINE_EXOTEL_SUBDOMAIN", "@api.in.exotel.com"),
                    ("LEADLINE_EXOTEL_BASE_URL", "https://api.in.exotel.com"),
                ][..],
                "give base_url or subdomain, not both",
            ),
            (
                &[("LEADLINE_EXOTEL_SUBDOMAIN", "https://api.exotel.com/v1")][..],
                "is not a host name",
            ),
            (&[("LEADLINE_EXOTEL_SUBDOMAIN", "@")][..], "is not a host name"),
        ] {
            let err = with(extra).expect_err("refused").to_string();
            assert!(
                err.contains("LEADLINE_EXOTEL_SUBDOMAIN") && err.contains(expected),
                "{extra:?}: {err}"
            );
        }
    }

    #[test]
    fn origins_and_urls() {
        assert_eq!(
            check_origin("https://crm.example.com").unwrap(),
            "https://crm.example.com"
        );
        assert_eq!(
            check_origin("https://crm.example.com/").unwrap(),
            "https://crm.example.com"
        );
        assert!(check_origin("*").is_err());
        assert!(check_origin("https://crm.example.com/app").is_err());
        assert!(check_origin("crm.example.com").is_err());
        assert!(check_https_url("https://crm.example.in").is_ok());
        assert!(check_https_url("http://127.0.0.1:9000").is_ok());
        assert!(check_https_url("http://crm.example.in").is_err());
        assert!(check_https_url("ftp://crm.example.in").is_err());
    }
}
