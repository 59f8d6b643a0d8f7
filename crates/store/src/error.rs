use std::path::{Path, PathBuf};

/// Everything that can go wrong in the local cache.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the local database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The file is damaged. [`crate::Store::open`] recovers from this itself (moves the file aside and
    /// starts afresh); it reaches callers only from an in-memory cache or when recovery failed.
    #[error("the local database{} is damaged or is not a Leadline database ({detail})", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Corrupt { path: Option<PathBuf>, detail: String },
    /// The file cannot be read with the key given: it was encrypted with another key (or it is not a
    /// Leadline database and nothing shows it was ever made with this key). The file is left untouched.
    #[error(
        "the local database {path} cannot be decrypted with this device's key: it was encrypted with \
         another key, the key kept for it is not available (a locked or missing OS keyring?), or it is \
         not a Leadline database; the file was left untouched"
    )]
    WrongKey { path: PathBuf },
    /// The cache key's file is unusable (permissions, content).
    #[error("the local cache key file {path} {detail}")]
    KeyFile { path: PathBuf, detail: String },
    /// The cache key could not be read or kept.
    #[error("the local cache key: {0}")]
    Key(String),
    /// Moving a damaged file aside, converting or exporting failed at the file-system level.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the local database schema could not be migrated: {0}")]
    Migration(String),
    /// The cache was written by a newer Leadline: its schema is past this binary's migrations. The file
    /// is left untouched (migrations only go forward).
    #[error(
        "this database was written by a newer Leadline (schema {found}); this binary knows up to {known} \
         — upgrade the binary"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("not signed in on this device; sign in first")]
    NotSignedIn,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid data in the local database: {0}")]
    Invalid(String),
    /// A page cursor that is damaged or belongs to another list (filters or order changed): start again
    /// from the first page.
    #[error("this page cursor cannot be used ({0}); start again from the first page")]
    BadCursor(String),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("JSON in the local database: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing an export (or reading a file) failed.
    #[error("I/O: {0}")]
    Stream(#[from] std::io::Error),
    /// A CSV file could not be written.
    #[error("CSV: {0}")]
    Csv(String),
    /// A file that cannot be imported at all (nothing of it was written).
    #[error("the file cannot be imported: {0}")]
    Import(#[from] leadline_model::import::ImportError),
}

impl From<::csv::Error> for StoreError {
    fn from(e: ::csv::Error) -> Self {
        if !e.is_io_error() {
            return StoreError::Csv(e.to_string());
        }
        match e.into_kind() {
            ::csv::ErrorKind::Io(io) => StoreError::Stream(io),
            other => StoreError::Csv(format!("{other:?}")),
        }
    }
}

impl StoreError {
    pub(crate) fn open(path: &Path, source: rusqlite::Error) -> Self {
        match Self::classify(Some(path), source) {
            StoreError::Sqlite(source) => StoreError::Open {
                path: path.to_owned(),
                source,
            },
            other => other,
        }
    }

    /// Turns SQLite's "not a database" and "malformed" codes into [`StoreError::Corrupt`].
    pub(crate) fn classify(path: Option<&Path>, e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path: path.map(Path::to_owned),
                detail: e.to_string(),
            },
            _ => StoreError::Sqlite(e),
        }
    }
}
