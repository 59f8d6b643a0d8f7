//! The shell's state and the few steps it strings together: open the cache, sign in, pull, report status.
//! Everything real happens in leadline-store (SQL) and leadline-sync (HTTP); this only holds them and turns
//! their errors into [`CommandError`]s.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use leadline_phone::{DeskAudio, DeskPhone, PasswordVault};
use leadline_store::{KeyStorage, LeadQuery, Store, StoreError};
use leadline_sync::{Client, SharedStore, SyncError};

use crate::api::{AppStatus, CommandError, ErrorCode, LeadPage, ListLeadsArgs, LoginArgs};
use crate::token::{self, TokenVault};

/// The cache file inside the data directory.
pub const CACHE_FILE: &str = "leadline.sqlite3";

/// The most leads one `list_leads` answers (below the store's own cap, so "one more" tells truncation).
pub const MAX_LIST_LIMIT: u32 = 2_000;

/// A signed-in connection to the server.
struct Session {
    client: Arc<Client>,
    account: String,
}

#[derive(Default)]
struct Activity {
    session: Option<Session>,
    syncing: bool,
    last_error: Option<CommandError>,
}

pub struct Shell {
    /// `Err` when the cache could not be opened; every command then reports why.
    store: Result<SharedStore, CommandError>,
    activity: Mutex<Activity>,
    /// Held for the length of a sign-in or sync, so two never run at once.
    sync_gate: tokio::sync::Mutex<()>,
    tokens: Arc<TokenVault>,
    /// Told every status change (the app emits it to the UI as an event).
    notifier: OnceLock<Notifier>,
    /// The softphone (none when the cache could not be opened: it keeps its settings and calls there).
    phone: Option<DeskPhone>,
}

type Notifier = Box<dyn Fn(AppStatus) + Send + Sync>;

impl Shell {
    /// Opens (or creates) the cache in `data_dir`. Never fails: a broken cache is reported by the commands.
    /// The softphone uses the sound devices `LEADLINE_AUDIO` names and the OS keyring.
    pub fn open(data_dir: &Path) -> Self {
        Self::open_with(data_dir, crate::phone::audio_from_env(), crate::phone::keyring())
    }

    /// [`Shell::open`], with the softphone's sound and password vault given.
    pub fn open_with(data_dir: &Path, audio: DeskAudio, vault: Arc<dyn PasswordVault>) -> Self {
        let store = open_store(data_dir).map(SharedStore::new);
        if let Err(e) = &store {
            tracing::error!(error = %e.message, "cannot open the local cache");
        }
        let phone = store
            .as_ref()
            .ok()
            .map(|s| DeskPhone::new(s.shared(), audio, vault));
        Self {
            store,
            activity: Mutex::new(Activity::default()),
            sync_gate: tokio::sync::Mutex::new(()),
            tokens: Arc::default(),
            notifier: OnceLock::new(),
            phone,
        }
    }

    pub(crate) fn desk_phone(&self) -> Option<&DeskPhone> {
        self.phone.as_ref()
    }

    pub(crate) fn shared_store(&self) -> Result<&SharedStore, CommandError> {
        self.store()
    }

    /// The signed-in session's client, if any.
    pub(crate) fn client(&self) -> Option<Arc<Client>> {
        self.activity().session.as_ref().map(|s| s.client.clone())
    }

    /// Calls `f` with the new status whenever a sign-in or sync starts or ends. Set once; later calls are
    /// ignored.
    pub fn on_status(&self, f: impl Fn(AppStatus) + Send + Sync + 'static) {
        if self.notifier.set(Box::new(f)).is_err() {
            tracing::warn!("a status listener is already set");
        }
    }

    /// Tells the listener the current status. Must not be called while holding the store lock.
    async fn notify(&self) {
        let Some(notifier) = self.notifier.get() else {
            return;
        };
        match self.status().await {
            Ok(status) => notifier(status),
            Err(e) => tracing::warn!(error = %e.message, "cannot read the status to report it"),
        }
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn store(&self) -> Result<&SharedStore, CommandError> {
        self.store.as_ref().map_err(Clone::clone)
    }

    /// Picks up the session of an earlier run when the account's token is still in the keyring.
    pub async fn restore_session(&self) -> Result<(), CommandError> {
        let state = self.store()?.lock().sync_state().map_err(storage)?;
        let (Some(server_url), Some(user)) = (state.server_url, state.user) else {
            return Ok(());
        };
        let account = token::account(&server_url, &user.username);
        let Some(tokens) = self
            .blocking_vault(move |v| v.load_tokens(&account))
            .await
            .flatten()
        else {
            return Ok(());
        };
        let client = Client::new(&server_url)
            .map_err(sync_failure)?
            .with_tokens(tokens);
        self.activity().session = Some(Session {
            client: Arc::new(client),
            account: token::account(&server_url, &user.username),
        });
        tracing::info!(user = %user.username, "restored the session from the keyring");
        Ok(())
    }

    pub async fn status(&self) -> Result<AppStatus, CommandError> {
        let (sync, lead_count, pending, unlogged) = {
            let store = self.store()?.lock();
            (
                store.sync_state().map_err(storage)?,
                store.count_leads().map_err(storage)?,
                store.pending_count().map_err(storage)?,
                store.unlogged_calls().map_err(storage)?.len() as u64,
            )
        };
        let activity = self.activity();
        Ok(AppStatus {
            signed_in: activity.session.is_some(),
            user: sync.user,
            server_url: sync.server_url,
            lead_count,
            last_sync_at: sync.last_sync_at,
            syncing: activity.syncing,
            last_error: activity.last_error.clone(),
            pending: pending.pending,
            rejected: pending.rejected,
            unlogged,
        })
    }

    /// Signs in and pulls. A failed sign-in is an `Err`; a sign-in whose first pull failed is `Ok`, with the
    /// pull's error in [`AppStatus::last_error`].
    pub async fn login(&self, args: LoginArgs) -> Result<AppStatus, CommandError> {
        let server_url = args.server_url.trim().trim_end_matches('/').to_owned();
        let username = args.username.trim().to_owned();
        if server_url.is_empty() || username.is_empty() || args.password.is_empty() {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "Enter the server address, your username and your password.",
            ));
        }
        let _gate = self.sync_gate.lock().await;
        let mut client = Client::new(&server_url).map_err(sync_failure)?;
        let device_id = self.store()?.lock().device_id().map_err(storage)?;
        let login = client
            .login(&username, &args.password, Some(&device_id))
            .await
            .map_err(sync_failure)?;
        self.store()?
            .lock()
            .set_account(&server_url, &login.user)
            .map_err(storage)?;
        let account = token::account(&server_url, &login.user.username);
        if let Some(tokens) = client.tokens() {
            let account = account.clone();
            self.blocking_vault(move |v| v.store_tokens(&account, &tokens))
                .await;
        }
        let client = Arc::new(client);
        {
            let mut activity = self.activity();
            activity.session = Some(Session {
                client: client.clone(),
                account: account.clone(),
            });
            activity.last_error = None;
        }
        tracing::info!(user = %login.user.username, server = %server_url, "signed in");
        self.pull(&client, &account).await;
        self.status().await
    }

    /// Pulls now. `Err` only when there is no session or it has ended; other failures land in `last_error`.
    pub async fn sync_now(&self) -> Result<AppStatus, CommandError> {
        let _gate = self.sync_gate.lock().await;
        let (client, account) = self
            .activity()
            .session
            .as_ref()
            .map(|s| (s.client.clone(), s.account.clone()))
            .ok_or_else(|| CommandError::new(ErrorCode::NotSignedIn, "Sign in to sync your leads."))?;
        if let Some(e) = self.pull(&client, &account).await
            && e.code == ErrorCode::SessionExpired
        {
            return Err(e);
        }
        self.status().await
    }

    /// Runs one pull; records its outcome in the activity and returns its error, if any. When the client
    /// refreshed its tokens meanwhile, keeps the new pair in the keyring (the old refresh token is used up).
    async fn pull(&self, client: &Client, account: &str) -> Option<CommandError> {
        self.activity().syncing = true;
        self.notify().await;
        let before = client.tokens();
        let outcome = match self.store() {
            // A full round: this device's changes (calls logged offline) go up, then the server's come down.
            Ok(store) => leadline_sync::sync_once(client, store)
                .await
                .map_err(sync_failure),
            Err(e) => Err(e),
        };
        if let Some(tokens) = client.tokens()
            && Some(&tokens) != before.as_ref()
        {
            let account = account.to_owned();
            self.blocking_vault(move |v| v.store_tokens(&account, &tokens))
                .await;
        }
        let error = match outcome {
            Ok(report) => {
                tracing::info!(
                    pushed = report.push.confirmed,
                    pages = report.pull.pages,
                    leads = report.pull.leads_upserted,
                    removed = report.pull.leads_removed,
                    newly_assigned = report.pull.leads_assigned.len(),
                    "synced"
                );
                None
            }
            Err(e) => {
                tracing::warn!(code = ?e.code, error = %e.message, "sync failed");
                Some(e)
            }
        };
        let ended = {
            let mut activity = self.activity();
            activity.syncing = false;
            activity.last_error = error.clone();
            if error
                .as_ref()
                .is_some_and(|e| e.code == ErrorCode::SessionExpired)
            {
                activity.session.take()
            } else {
                None
            }
        };
        if let Some(session) = ended {
            self.blocking_vault(move |v| v.forget(&session.account)).await;
        }
        self.notify().await;
        error
    }

    pub async fn list_leads(&self, args: ListLeadsArgs) -> Result<LeadPage, CommandError> {
        let limit = args.limit.unwrap_or(MAX_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT);
        let query = LeadQuery {
            search: args.search.filter(|s| !s.trim().is_empty()),
            status: args.status,
            // One more than asked tells whether the list was cut.
            limit: Some(limit.saturating_add(1)),
            ..LeadQuery::default()
        };
        let store = self.store()?.lock();
        let mut leads = store.list_leads(&query).map_err(storage)?;
        let total = store.count_leads().map_err(storage)?;
        let truncated = leads.len() > limit as usize;
        leads.truncate(limit as usize);
        Ok(LeadPage {
            leads,
            total,
            truncated,
        })
    }

    /// The sign-in the app does at startup when the environment names an account: like [`Shell::login`],
    /// but a failure is kept in the status (for the sign-in screen) since no caller waits for it.
    pub async fn auto_login(&self, args: LoginArgs) {
        tracing::info!(user = %args.username, server = %args.server_url, "signing in from the environment");
        self.activity().syncing = true;
        self.notify().await;
        if let Err(e) = self.login(args).await {
            tracing::warn!(error = %e.message, "automatic sign-in failed");
            {
                let mut activity = self.activity();
                activity.syncing = false;
                activity.last_error = Some(e);
            }
            self.notify().await;
        }
    }

    /// Keyring calls may block on D-Bus; keep them off the async workers. `None` if the call panicked.
    async fn blocking_vault<T: Send + 'static>(
        &self,
        f: impl FnOnce(&TokenVault) -> T + Send + 'static,
    ) -> Option<T> {
        let vault = self.tokens.clone();
        match tokio::task::spawn_blocking(move || f(&vault)).await {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::error!(error = %e, "keyring access failed");
                None
            }
        }
    }
}

fn open_store(data_dir: &Path) -> Result<Store, CommandError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        CommandError::new(
            ErrorCode::Storage,
            format!("Cannot create the data folder {}: {e}", data_dir.display()),
        )
    })?;
    let path: PathBuf = data_dir.join(CACHE_FILE);
    // The cache key: OS keyring, or a 0600 file in the data folder where no keyring works.
    let storage_mode = KeyStorage::from_env().map_err(storage)?;
    let key = leadline_store::key::load_or_create(data_dir, storage_mode).map_err(storage)?;
    let store = Store::open(&path, &key.key).map_err(storage)?;
    let report = store.open_report();
    if let Some(aside) = &report.recovered_from {
        tracing::error!(
            moved_to = %aside.display(),
            damage = report.damage.as_deref().unwrap_or_default(),
            requeued = report.requeued,
            export = ?report.export_file,
            "the local cache was damaged and has been rebuilt; the next sync fills it again"
        );
    }
    Ok(store)
}

pub(crate) fn storage(e: StoreError) -> CommandError {
    CommandError::new(ErrorCode::Storage, e.to_string())
}

/// Sorts a sync failure into the codes the UI knows, with a sentence for people; the technical detail goes
/// to the log.
pub(crate) fn sync_failure(e: SyncError) -> CommandError {
    tracing::debug!(error = %e, "sync failure");
    match &e {
        SyncError::BadUrl(_) => CommandError::new(ErrorCode::InvalidInput, e.to_string()),
        SyncError::Unreachable { reason, .. } => {
            tracing::warn!(%reason, "server unreachable");
            CommandError::new(
                ErrorCode::Network,
                "Leadline could not connect to the server. Check the server address and this computer's \
                 internet connection, then try again.",
            )
        }
        SyncError::InvalidCredentials => CommandError::new(
            ErrorCode::InvalidCredentials,
            "The username or password is wrong.",
        ),
        SyncError::Unauthorized | SyncError::SessionEnded => CommandError::new(
            ErrorCode::SessionExpired,
            "Your session has ended; sign in again to sync.",
        ),
        SyncError::Server { .. } | SyncError::Call(_) => CommandError::new(ErrorCode::Server, e.to_string()),
        SyncError::Protocol(detail) => CommandError::new(
            ErrorCode::Server,
            format!("The server's answer was not understood ({detail}); this Leadline may need an update."),
        ),
        SyncError::Store(_) | SyncError::Internal(_) => CommandError::new(ErrorCode::Storage, e.to_string()),
    }
}
