//! The store shared between the sync engine and its owner (the desktop's commands, the CLI).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use leadline_store::{Store, StoreError};

use crate::SyncError;

/// The local cache behind a mutex, used from async code: every call runs on tokio's blocking pool and
/// holds the lock only for that call, so a sync never holds the cache across a network round trip.
#[derive(Clone)]
pub struct SharedStore(Arc<Mutex<Store>>);

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedStore").finish()
    }
}

impl SharedStore {
    pub fn new(store: Store) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// The store behind the handle, for another library that shares it (the softphone's call journal).
    pub fn shared(&self) -> Arc<Mutex<Store>> {
        self.0.clone()
    }

    /// Runs `f` with the store on the blocking pool.
    pub async fn run<R, F>(&self, f: F) -> Result<R, SyncError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = inner.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut store)
        })
        .await
        .map_err(|e| SyncError::Internal(format!("a store task failed: {e}")))?
        .map_err(SyncError::from)
    }

    /// The store itself, for synchronous callers (not from async code: it blocks while a sync step runs).
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
