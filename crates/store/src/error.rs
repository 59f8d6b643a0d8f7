use std::path::{Path, PathBuf};

/// Everything that can go wrong in the local cache.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the local database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the local database{} is damaged or is not a Leadline database ({detail}); it was left untouched", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Corrupt { path: Option<PathBuf>, detail: String },
    #[error("the local database schema could not be migrated: {0}")]
    Migration(String),
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
