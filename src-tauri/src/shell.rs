//! The shell's state and the few steps it strings together: open the cache, sign in, pull, report status.
//! Everything real happens in leadline-store (SQL) and leadline-sync (HTTP); this only holds them and turns
//! their errors into [`CommandError`]s.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use leadline_phone::{DeskAudio, DeskPhone, PasswordVault};
use leadline_store::{KeyStorage, LeadQuery, OpenCheck, Store, StoreError};
use leadline_sync::{
    Alert, Client, Connectivity, Engine, EngineConfig, Notices, SharedStore, SyncError, SyncEvent, SyncStatus,
};
use tokio::task::JoinHandle;

use crate::api::{AppStatus, CommandError, Connection, ErrorCode, LeadPage, ListLeadsArgs, LoginArgs};
use crate::token::{self, TokenVault};

/// The cache file inside the data directory.
pub const CACHE_FILE: &str = "leadline.sqlite3";

/// The most leads one `list_leads` answers (below the store's own cap, so "one more" tells truncation).
pub const MAX_LIST_LIMIT: u32 = 2_000;

/// How long "Sync now" waits for its round before answering with the status so far.
const SYNC_NOW_WAIT: Duration = Duration::from_secs(90);

/// A signed-in connection to the server, and the engine that keeps the cache in step with it.
struct Session {
    client: Arc<Client>,
    account: String,
    engine: Option<Arc<Engine>>,
    /// The tasks that follow the engine (status to the UI, tokens to the keyring, notifications).
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[derive(Default)]
struct Activity {
    session: Option<Session>,
    /// A sign-in (and its first pull) is running.
    syncing: bool,
    /// Why the last sign-in or its first pull failed; the engine's own errors come from its status.
    last_error: Option<CommandError>,
}

/// What the shell's background tasks share with the commands.
struct Core {
    /// `Err` when the cache could not be opened; every command then reports why.
    store: Result<SharedStore, CommandError>,
    activity: Mutex<Activity>,
    tokens: Arc<TokenVault>,
    /// Told every status change (the app emits it to the UI as an event).
    notifier: OnceLock<Notifier>,
}

pub struct Shell {
    core: Arc<Core>,
    /// Held for the length of a sign-in, so two never run at once.
    sync_gate: tokio::sync::Mutex<()>,
    /// The softphone (none when the cache could not be opened: it keeps its settings and calls there).
    phone: Option<DeskPhone>,
    /// The desktop notifications (none without a cache).
    notices: Option<Notices>,
    /// Where the notifications go (the app shows them with the OS).
    alert_sink: Arc<OnceLock<AlertSink>>,
    /// Held while this desktop reports its presence, so reports reach the server in order; `true` once the
    /// app is quitting (its last report said offline, and nothing may follow it). See `crate::team`.
    pub(crate) presence: tokio::sync::Mutex<bool>,
}

type Notifier = Box<dyn Fn(AppStatus) + Send + Sync>;
type AlertSink = Box<dyn Fn(Alert) + Send + Sync>;

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
        let alert_sink: Arc<OnceLock<AlertSink>> = Arc::default();
        let notices = store.as_ref().ok().map(|s| {
            let sink = alert_sink.clone();
            Notices::new(s.clone(), move |alert| match sink.get() {
                Some(show) => show(alert),
                None => tracing::debug!(title = %alert.title, "no notification sink; not shown"),
            })
        });
        if let (Some(notices), Ok(store)) = (&notices, &store) {
            notices.set_user(store.lock().me().ok().map(|u| u.id));
        }
        Self {
            core: Arc::new(Core {
                store,
                activity: Mutex::new(Activity::default()),
                tokens: Arc::default(),
                notifier: OnceLock::new(),
            }),
            sync_gate: tokio::sync::Mutex::new(()),
            phone,
            notices,
            alert_sink,
            presence: tokio::sync::Mutex::new(false),
        }
    }

    /// Calls `f` with every desktop notification to show. Set once; later calls are ignored.
    pub fn on_alert(&self, f: impl Fn(Alert) + Send + Sync + 'static) {
        if self.alert_sink.set(Box::new(f)).is_err() {
            tracing::warn!("a notification sink is already set");
        }
    }

    pub(crate) fn notices(&self) -> Option<&Notices> {
        self.notices.as_ref()
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
        if self.core.notifier.set(Box::new(f)).is_err() {
            tracing::warn!("a status listener is already set");
        }
    }

    /// Tells the UI (and the tray) the status changed.
    pub(crate) async fn notify(&self) {
        self.core.notify().await;
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        self.core.activity()
    }

    fn store(&self) -> Result<&SharedStore, CommandError> {
        self.core.store()
    }

    /// Picks up the session of an earlier run when the account's token is still in the keyring, and starts
    /// syncing. Call inside the async runtime.
    pub async fn restore_session(&self) -> Result<(), CommandError> {
        let state = self.store()?.lock().sync_state().map_err(storage)?;
        let (Some(server_url), Some(user)) = (state.server_url, state.user) else {
            return Ok(());
        };
        let account = token::account(&server_url, &user.username);
        let lookup = account.clone();
        let asked = std::time::Instant::now();
        let Some(tokens) = self
            .core
            .blocking_vault(move |v| v.load_tokens(&lookup))
            .await
            .flatten()
        else {
            return Ok(());
        };
        let client = Client::new(&server_url)
            .map_err(sync_failure)?
            .with_tokens(tokens);
        self.begin_session(Arc::new(client), account, user.id)?;
        tracing::info!(
            user = %user.username,
            keyring_ms = asked.elapsed().as_secs_f64() * 1e3,
            since_start_ms = crate::runlog::since_start().as_secs_f64() * 1e3,
            "restored the session from the keyring"
        );
        self.notify().await;
        Ok(())
    }

    /// Keeps the session and starts its engine: background sync (local changes pushed at once, the
    /// server's events heard, retries with backoff), its status to the UI, refreshed tokens to the keyring,
    /// and the notifications.
    fn begin_session(
        &self,
        client: Arc<Client>,
        account: String,
        me: leadline_model::Id,
    ) -> Result<(), CommandError> {
        let store = self.store()?.clone();
        let engine = Arc::new(Engine::start((*client).clone(), store, EngineConfig::default()));
        let mut tasks = Vec::new();
        let mut status = engine.status();
        let core = self.core.clone();
        tasks.push(tokio::spawn(async move {
            while status.changed().await.is_ok() {
                core.notify().await;
            }
        }));
        let mut events = engine.subscribe();
        let core = self.core.clone();
        let (watched, owner) = (client.clone(), account.clone());
        tasks.push(tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match events.recv().await {
                    Ok(SyncEvent::TokensChanged) => {
                        if let Some(tokens) = watched.tokens() {
                            let owner = owner.clone();
                            core.blocking_vault(move |v| v.store_tokens(&owner, &tokens))
                                .await;
                        }
                    }
                    Ok(SyncEvent::SessionEnded) => {
                        core.end_session(CommandError::new(
                            ErrorCode::SessionExpired,
                            "Your session has ended; sign in again to sync.",
                        ))
                        .await;
                        break;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        }));
        if let Some(notices) = &self.notices {
            notices.set_user(Some(me));
            tasks.push(notices.watch(&engine));
        }
        let previous = self.activity().session.replace(Session {
            client,
            account,
            engine: Some(engine),
            tasks,
        });
        drop(previous);
        Ok(())
    }

    /// A local change was written (a call logged): the engine pushes it soon.
    pub(crate) fn local_change(&self) {
        if let Some(engine) = self.engine() {
            engine.local_change();
        }
    }

    fn engine(&self) -> Option<Arc<Engine>> {
        self.activity().session.as_ref().and_then(|s| s.engine.clone())
    }

    pub async fn status(&self) -> Result<AppStatus, CommandError> {
        self.core.status().await
    }

    /// Signs in, pulls, and starts syncing in the background. A failed sign-in is an `Err`; a sign-in whose
    /// first pull failed is `Ok`, with the pull's error in [`AppStatus::last_error`].
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
            .map_err(|e| match e {
                StoreError::Invalid(why) => CommandError::new(ErrorCode::InvalidInput, why),
                e => storage(e),
            })?;
        let account = token::account(&server_url, &login.user.username);
        if let Some(tokens) = client.tokens() {
            let account = account.clone();
            self.core
                .blocking_vault(move |v| v.store_tokens(&account, &tokens))
                .await;
        }
        let client = Arc::new(client);
        // The previous session (another account, another server) ends here; the engine starts after the
        // first pull.
        let previous = {
            let mut activity = self.activity();
            activity.last_error = None;
            activity.session.replace(Session {
                client: client.clone(),
                account: account.clone(),
                engine: None,
                tasks: Vec::new(),
            })
        };
        drop(previous);
        tracing::info!(user = %login.user.username, server = %server_url, "signed in");
        self.first_pull(&client, &account).await;
        self.begin_session(client, account, login.user.id)?;
        self.status().await
    }

    /// Ends the session: the engine stops, the server forgets the tokens (when it can be reached), the
    /// keyring forgets them too. The cache stays, with any change not sent yet (the next sign-in of the
    /// same account sends it).
    pub async fn logout(&self) -> Result<AppStatus, CommandError> {
        let session = self.activity().session.take();
        if let Some(session) = session {
            if let Err(e) = session.client.logout().await {
                tracing::info!(error = %e, "the server was not told of the sign-out; the token expires on its own");
            }
            let account = session.account.clone();
            self.core.blocking_vault(move |v| v.forget(&account)).await;
            tracing::info!("signed out");
        }
        if let Some(notices) = &self.notices {
            notices.set_user(None);
        }
        self.activity().last_error = None;
        self.notify().await;
        self.status().await
    }

    /// Syncs now and answers when that round is over. `Err` only when there is no session or it has ended;
    /// other failures (offline) land in `last_error`.
    pub async fn sync_now(&self) -> Result<AppStatus, CommandError> {
        let engine = self
            .engine()
            .ok_or_else(|| CommandError::new(ErrorCode::NotSignedIn, "Sign in to sync your leads."))?;
        let after = engine.sync_now_and_wait(SYNC_NOW_WAIT).await;
        if after.session_ended {
            let why = CommandError::new(
                ErrorCode::SessionExpired,
                "Your session has ended; sign in again to sync.",
            );
            // The engine's own report of it may come later; the answer must already say signed out.
            self.core.end_session(why.clone()).await;
            return Err(why);
        }
        self.status().await
    }

    /// The sign-in's first round, before the engine starts: its outcome is the sign-in's. When the client
    /// refreshed its tokens meanwhile, keeps the new pair in the keyring (the old refresh token is used up).
    async fn first_pull(&self, client: &Client, account: &str) -> Option<CommandError> {
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
            self.core
                .blocking_vault(move |v| v.store_tokens(&account, &tokens))
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
        {
            let mut activity = self.activity();
            activity.syncing = false;
            activity.last_error = error.clone();
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

    /// One lead of the cache (a notification's click, the incoming-call card).
    pub async fn get_lead(&self, id: leadline_model::Id) -> Result<leadline_model::Lead, CommandError> {
        self.store()?.lock().get_lead(&id).map_err(|e| match e {
            StoreError::NotFound(_) => CommandError::new(
                ErrorCode::InvalidInput,
                "That lead is no longer on this computer (it may have been reassigned).",
            ),
            e => storage(e),
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
}

impl Core {
    fn activity(&self) -> MutexGuard<'_, Activity> {
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn store(&self) -> Result<&SharedStore, CommandError> {
        self.store.as_ref().map_err(Clone::clone)
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

    async fn status(&self) -> Result<AppStatus, CommandError> {
        let (sync, lead_count, pending, unlogged) = {
            let store = self.store()?.lock();
            (
                store.sync_state().map_err(storage)?,
                store.count_leads().map_err(storage)?,
                store.pending_count().map_err(storage)?,
                store.count_unlogged_calls().map_err(storage)?,
            )
        };
        let activity = self.activity();
        let engine: Option<SyncStatus> = activity
            .session
            .as_ref()
            .and_then(|s| s.engine.as_ref())
            .map(|e| e.status().borrow().clone());
        let engine_tried = engine.as_ref().filter(|e| e.last_attempt_at.is_some());
        let last_error = match engine_tried {
            Some(e) => e.last_error.as_ref().map(|message| engine_error(e, message)),
            None => activity.last_error.clone(),
        };
        let connection = match (&engine_tried, &last_error) {
            (Some(e), _) => match e.connectivity {
                Connectivity::Online => Connection::Online,
                Connectivity::Offline => Connection::Offline,
                Connectivity::Unknown => Connection::Unknown,
            },
            (None, Some(e)) if e.code == ErrorCode::Network => Connection::Offline,
            (None, _) if sync.last_sync_at.is_some() && activity.session.is_some() => Connection::Online,
            (None, _) => Connection::Unknown,
        };
        Ok(AppStatus {
            signed_in: activity.session.is_some(),
            user: sync.user,
            server_url: sync.server_url,
            lead_count,
            last_sync_at: sync.last_sync_at,
            syncing: activity.syncing || engine.as_ref().is_some_and(|e| e.syncing),
            connection,
            next_retry_at: engine.as_ref().and_then(|e| e.next_retry_at),
            last_error,
            pending: pending.pending,
            rejected: pending.rejected,
            conflicts: pending.conflicts,
            unlogged,
        })
    }

    /// The engine says the session is over: forget the tokens, keep the reason for the sign-in screen.
    async fn end_session(&self, why: CommandError) {
        let session = self.activity().session.take();
        if let Some(session) = &session {
            let account = session.account.clone();
            self.blocking_vault(move |v| v.forget(&account)).await;
        }
        self.activity().last_error = Some(why);
        self.notify().await;
        // Dropping the session aborts its tasks, maybe the caller's own: nothing may follow.
        drop(session);
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

/// The engine's last failure as the UI knows failures.
fn engine_error(status: &SyncStatus, message: &str) -> CommandError {
    if status.session_ended {
        CommandError::new(
            ErrorCode::SessionExpired,
            "Your session has ended; sign in again to sync.",
        )
    } else if status.connectivity == Connectivity::Offline {
        CommandError::new(
            ErrorCode::Network,
            "Leadline could not connect to the server. Your work is saved on this computer and is sent \
             when the connection is back.",
        )
    } else {
        CommandError::new(ErrorCode::Server, message.to_owned())
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
    // Reading every page to check the file costs about a second per 100,000 leads: done before use only
    // when asked (after an unclean exit, or when the last check found damage); otherwise aside, later.
    let check_request = data_dir.join(CHECK_CACHE);
    let full = check_request.exists() || !path.exists();
    let check = if full { OpenCheck::Full } else { OpenCheck::Light };
    let store = Store::open_with(&path, &key.key, check).map_err(storage)?;
    if full {
        if let Err(e) = std::fs::remove_file(&check_request)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "cannot clear the cache check request");
        }
    } else {
        check_aside(path.clone(), key.key.clone(), check_request);
    }
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

/// In the data folder: the next start reads the whole cache before using it (and repairs it if damaged).
pub const CHECK_CACHE: &str = "check-cache";

/// Asks the next open of the cache in `data_dir` for the full check (an unclean exit may have left damage).
pub fn request_cache_check(data_dir: &Path) {
    if let Err(e) = std::fs::write(data_dir.join(CHECK_CACHE), b"") {
        tracing::warn!(error = %e, "cannot ask for a check of the local cache");
    }
}

/// How long after the start the cache is checked aside: the start's own reads come first.
const CHECK_ASIDE_AFTER: std::time::Duration = std::time::Duration::from_secs(20);

/// Checks the whole cache file on a thread of its own, later; damage found asks the next start to repair it.
fn check_aside(path: PathBuf, key: leadline_store::StoreKey, request: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("cache-check".into())
        .spawn(move || {
            std::thread::sleep(CHECK_ASIDE_AFTER);
            let started = std::time::Instant::now();
            match Store::check_integrity(&path, &key) {
                Ok(None) => tracing::info!(ms = started.elapsed().as_millis() as u64, "the local cache is sound"),
                Ok(Some(damage)) => {
                    tracing::error!(%damage, "the local cache is damaged; the next start repairs it, keeping unsent changes");
                    if let Err(e) = std::fs::write(&request, damage.as_bytes()) {
                        tracing::error!(error = %e, "cannot ask the next start to repair the cache");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot check the local cache"),
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the cache check");
    }
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
