//! `leadline-bench soak`: the real server under many clients, a hostile network and crashing clients, for
//! a bounded time; then every call log must be on the server exactly once and the server's memory flat.
//!
//! - **Server**: the `leadline-server` binary as its own process (SQLite file, or a throwaway PostgreSQL
//!   cluster with `--postgres`), seeded through the server library with telecallers (one team each, ten
//!   devices per telecaller by default) and their leads. Its RSS is sampled every second from /proc.
//! - **Clients**: most are *desks*: the desktop's data path in this process — an encrypted cache file
//!   (`leadline_store`), a signed-in `leadline_sync::Client` and the background `Engine` (debounce,
//!   backoff, event socket) — each on its own thread and single-threaded runtime, logging calls at random
//!   (disposition, notes, sometimes a follow-up) into the cache's outbox. The others are `leadline` CLI
//!   processes (login, log-call, sync) on their own data folders.
//! - **Network**: every client reaches the server through its own port of a TCP proxy in this process
//!   (connecting upstream from its own loopback address, as each desk has its own IP). While the chaos
//!   runs, the proxy cuts connections after a random number of bytes, cuts the answer of one push in four
//!   as it starts (the server applied the push, the client never hears it: the classic duplicate maker),
//!   cuts every live connection of some clients at once, stalls some clients (bytes held for seconds,
//!   a black hole), and takes some offline (connections refused and cut).
//! - **Crashes**: desks are killed at random — their runtime dropped at whatever await point they are, the
//!   engine mid-round, nothing shut down — and restarted later from the same cache file and the tokens
//!   last saved (the desktop's keyring). CLI `sync` processes are killed with SIGKILL mid-run (a real crash:
//!   no destructor runs).
//!
//! At the end the network is healed, every client syncs until its outbox is empty, the server stops and
//! its database is read: `lost` = calls a client logged (recorded by the bench when the cache committed
//! them, and, for a desk killed mid-log, found in its cache) that the server lacks; `duplicated` = extra
//! server rows for one call, by id and by content (device, lead, start time). One JSON line per interval,
//! then the summary `{"bench":"soak","calls_logged":…,"lost":0,"duplicated":0,"server_rss_growth_mib":…}`.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use leadline_model::{
    CallDirection, CallLog, FollowUpSpec, Id, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role,
    User, new_id,
};
use leadline_server::db::{self, DbConfig, Repo};
use leadline_store::{KeyStorage, LeadQuery, Store};
use leadline_sync::{Client, Engine, EngineConfig, SharedStore, SyncError, SyncEvent, SyncStatus, Tokens};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

use crate::emit;

/// The password of every soak telecaller.
const PASSWORD: &str = "soak-password-2026";
/// Dispositions that ask for a follow-up, and some that do not (the default catalogue).
const WITH_FOLLOW_UP: &[&str] = &[
    "interested",
    "callback_requested",
    "price_enquiry",
    "no_answer",
    "busy",
];
const WITHOUT_FOLLOW_UP: &[&str] = &["not_interested", "converted"];
const ITEMS: &[&str] = &[
    "the bridal necklace",
    "gold rate today",
    "making charges on bangles",
    "a diamond solitaire",
    "the Akshaya Tritiya offer",
    "old gold exchange",
    "मंगलसूत्र designs",
    "silver pooja items",
];
/// Per-connection random cuts while the chaos runs: one connection in this many.
const CUT_ONE_IN: u64 = 25;
/// The answer of one push in this many is cut as it starts, while the chaos runs.
const PUSH_ANSWER_CUT_ONE_IN: u64 = 4;
/// Share of CLI syncs killed with SIGKILL (in percent).
const CLI_KILL_PERCENT: u64 = 30;

/// The run's shape.
#[derive(Debug, Clone)]
pub struct Options {
    pub clients: u32,
    /// Of `clients`, how many are `leadline` CLI processes.
    pub cli_clients: u32,
    /// Telecallers the clients sign in as (each its own team; clients spread over them).
    pub users: u32,
    pub secs: u64,
    /// Mean pause between one client's calls.
    pub call_gap_ms: u64,
    pub interval_secs: u64,
    pub postgres: bool,
    pub token_ttl_secs: u64,
    pub leads_per_user: u32,
    pub seed: u64,
}

pub fn run(opts: Options) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(opts))
}

/// splitmix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    /// A pause around `mean_ms` (uniform in 0.2..1.8 × mean).
    fn gap(&mut self, mean_ms: u64) -> Duration {
        Duration::from_millis(self.range(mean_ms / 5, mean_ms * 9 / 5 + 1))
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------------------
// The network: one proxy port per client.

#[derive(Default)]
struct NetStats {
    connections: AtomicU64,
    request_cuts: AtomicU64,
    response_cuts: AtomicU64,
    push_answer_cuts: AtomicU64,
    /// Connections cut by a cut-everything event.
    live_cuts: AtomicU64,
    cut_events: AtomicU64,
    stalls: AtomicU64,
    offline_windows: AtomicU64,
    refused: AtomicU64,
}

struct Net {
    upstream: SocketAddr,
    /// No faults at all (before the chaos starts and after it ends).
    healthy: AtomicBool,
    stall_all_until: Mutex<Option<Instant>>,
    rng: Mutex<Rng>,
    stats: NetStats,
}

/// One client's way to the server.
struct Link {
    net: Arc<Net>,
    addr: SocketAddr,
    source: IpAddr,
    stall_until: Mutex<Option<Instant>>,
    offline_until: Mutex<Option<Instant>>,
    cut: watch::Sender<u64>,
}

enum Pumped {
    Eof,
    Cut,
}

impl Link {
    async fn start(net: Arc<Net>, source: IpAddr) -> Result<Arc<Link>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0);
        let link = Arc::new(Link {
            net,
            addr,
            source,
            stall_until: Mutex::new(None),
            offline_until: Mutex::new(None),
            cut,
        });
        let accepting = link.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((sock, _)) => {
                        tokio::spawn(accepting.clone().handle(sock));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Ok(link)
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn healthy(&self) -> bool {
        self.net.healthy.load(Ordering::SeqCst)
    }

    fn stall_left(&self) -> Option<Duration> {
        if self.healthy() {
            return None;
        }
        let now = Instant::now();
        let mine = *lock(&self.stall_until);
        let all = *lock(&self.net.stall_all_until);
        mine.into_iter()
            .chain(all)
            .filter(|t| *t > now)
            .max()
            .map(|t| t - now)
    }

    fn offline(&self) -> bool {
        !self.healthy() && lock(&self.offline_until).is_some_and(|t| t > Instant::now())
    }

    fn cut_now(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    async fn wait_stall(&self) {
        while let Some(left) = self.stall_left() {
            tokio::time::sleep(left.min(Duration::from_millis(200))).await;
        }
    }

    async fn handle(self: Arc<Self>, client: TcpStream) {
        let stats = &self.net.stats;
        stats.connections.fetch_add(1, Ordering::Relaxed);
        if self.offline() {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut cut_rx = self.cut.subscribe();
        self.wait_stall().await;
        let server = match tokio::time::timeout(
            Duration::from_secs(5),
            connect_from(self.source, self.net.upstream),
        )
        .await
        {
            Ok(Ok(s)) => s,
            _ => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (mut up_limit, mut down_limit) = (None, None);
        if !self.healthy() {
            let mut rng = lock(&self.net.rng);
            if rng.below(CUT_ONE_IN) == 0 {
                let at = rng.below(4000);
                if rng.percent(50) {
                    up_limit = Some(at);
                } else {
                    down_limit = Some(at);
                }
            }
        }
        // Set by the request side when it forwards a push chosen to lose its answer.
        let cut_answer = Arc::new(AtomicBool::new(false));
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let up = self.pump(cr, sw, up_limit, Some(cut_answer.clone()), None);
        let down = self.pump(sr, cw, down_limit, None, Some(cut_answer));
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        while !(up_done && down_done) {
            tokio::select! {
                _ = cut_rx.changed() => {
                    stats.live_cuts.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                r = &mut up, if !up_done => match r {
                    Pumped::Cut => {
                        stats.request_cuts.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Pumped::Eof => up_done = true,
                },
                r = &mut down, if !down_done => match r {
                    Pumped::Cut => return,
                    Pumped::Eof => down_done = true,
                },
            }
        }
    }

    /// Copies `r` to `w` until EOF; `limit`: cut after that many bytes. `mark_push`: on the request side,
    /// flag the connection when it forwards a push picked to lose its answer; `cut_on_flag`: on the answer
    /// side, cut before forwarding anything once the flag is up.
    async fn pump(
        &self,
        mut r: OwnedReadHalf,
        mut w: OwnedWriteHalf,
        limit: Option<u64>,
        mark_push: Option<Arc<AtomicBool>>,
        cut_on_flag: Option<Arc<AtomicBool>>,
    ) -> Pumped {
        let stats = &self.net.stats;
        let mut buf = vec![0_u8; 16 * 1024];
        let mut passed = 0_u64;
        loop {
            if let Some(limit) = limit
                && passed >= limit
            {
                if cut_on_flag.is_some() {
                    stats.response_cuts.fetch_add(1, Ordering::Relaxed);
                }
                return Pumped::Cut;
            }
            let want = limit.map_or(buf.len(), |l| (l - passed).min(buf.len() as u64) as usize);
            let n = match r.read(&mut buf[..want]).await {
                Ok(0) | Err(_) => {
                    let _ = w.shutdown().await;
                    return Pumped::Eof;
                }
                Ok(n) => n,
            };
            if let Some(flag) = &cut_on_flag
                && flag.swap(false, Ordering::SeqCst)
            {
                stats.push_answer_cuts.fetch_add(1, Ordering::Relaxed);
                return Pumped::Cut;
            }
            if let Some(flag) = &mark_push
                && !self.healthy()
                && contains(&buf[..n], b"POST /api/v1/sync/push ")
                && lock(&self.net.rng).below(PUSH_ANSWER_CUT_ONE_IN) == 0
            {
                flag.store(true, Ordering::SeqCst);
            }
            self.wait_stall().await;
            if w.write_all(&buf[..n]).await.is_err() {
                return Pumped::Eof;
            }
            passed += n as u64;
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn connect_from(source: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(source, 0))?;
    sock.connect(to).await
}

/// Client `i`'s own loopback address (127.1.x.y): the server's per-address limits see separate desks.
fn source_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

// ---------------------------------------------------------------------------------------------------------
// Bookkeeping shared by every client.

#[derive(Clone, Copy)]
struct Logged {
    id: Id,
    lead: Id,
    follow_up: bool,
}

#[derive(Default)]
struct ClientLog {
    /// Committed in the client's cache (seen by the bench).
    created: Vec<Logged>,
    /// Being logged when the client was killed: in its cache or not (checked at the end).
    attempted: Vec<Logged>,
}

#[derive(Default)]
struct Counters {
    calls_logged: AtomicU64,
    desk_kills: AtomicU64,
    desk_kills_mid_sync: AtomicU64,
    cli_kills: AtomicU64,
    restarts: AtomicU64,
    sessions_ended: AtomicU64,
    relogins: AtomicU64,
    rounds_ok: AtomicU64,
    rounds_failed: AtomicU64,
    cli_syncs_ok: AtomicU64,
    cli_syncs_failed: AtomicU64,
    client_errors: AtomicU64,
}

struct Ctx {
    opts: Options,
    dir: PathBuf,
    cli_bin: PathBuf,
    /// No new calls.
    stop_logging: AtomicBool,
    /// The run is over: drain (sync until the outbox is empty) and stop.
    draining: AtomicBool,
    counters: Counters,
    round_ms: Mutex<Vec<f64>>,
    cli_sync_ms: Mutex<Vec<f64>>,
    logs: Vec<Mutex<ClientLog>>,
    pending: Vec<AtomicU64>,
    syncing: Vec<AtomicBool>,
    errors: Mutex<Vec<String>>,
}

impl Ctx {
    fn error(&self, who: &str, e: impl std::fmt::Display) {
        self.counters.client_errors.fetch_add(1, Ordering::Relaxed);
        let mut errors = lock(&self.errors);
        if errors.len() < 20 {
            errors.push(format!("{who}: {e}"));
        }
    }
}

struct Seat {
    idx: usize,
    user: User,
    leads: Vec<Id>,
    link: Arc<Link>,
}

// ---------------------------------------------------------------------------------------------------------
// Desks: the desktop's data path in this process.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Run,
    Kill,
    Drain,
}

enum DeskEnd {
    Killed,
    Drained,
}

struct Desk {
    seat: Seat,
    dir: PathBuf,
    /// The desktop's keyring: the tokens last saved.
    tokens: Mutex<Option<Tokens>>,
    cmd: Mutex<Option<watch::Sender<Cmd>>>,
}

fn open_cache(dir: &Path) -> Result<Store> {
    let key = leadline_store::key::load_or_create(dir, KeyStorage::File)?;
    Ok(Store::open(&dir.join("leadline.sqlite3"), &key.key)?)
}

async fn sign_in(seat: &Seat, store: &SharedStore) -> Result<Client> {
    let device_id = store.run(|s| s.device_id()).await?;
    let mut tries = 0_u32;
    loop {
        let mut client = Client::new(&seat.link.url())?;
        match client
            .login(&seat.user.username, PASSWORD, Some(&device_id))
            .await
        {
            Ok(login) => {
                let url = client.server_url().to_owned();
                store.run(move |s| s.set_account(&url, &login.user)).await?;
                return Ok(client);
            }
            Err(SyncError::Server {
                status: 429,
                retry_after,
                ..
            }) => tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(5).max(1))).await,
            Err(e) if tries < 200 && !matches!(e, SyncError::InvalidCredentials) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500 + u64::from(tries.min(10)) * 200)).await;
            }
            Err(e) => return Err(e).context("signing in"),
        }
    }
}

/// Keeps the round figures of an engine's status.
fn observe(ctx: &Ctx, idx: usize, s: &SyncStatus, seen: &mut Option<chrono::DateTime<Utc>>) {
    ctx.pending[idx].store(s.pending, Ordering::Relaxed);
    ctx.syncing[idx].store(s.syncing, Ordering::Relaxed);
    if s.syncing || s.last_attempt_at.is_none() || s.last_attempt_at == *seen {
        return;
    }
    *seen = s.last_attempt_at;
    match (s.last_attempt_at, s.last_success_at, &s.last_error) {
        (Some(at), Some(ok), None) if ok >= at => {
            ctx.counters.rounds_ok.fetch_add(1, Ordering::Relaxed);
            lock(&ctx.round_ms).push((ok - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
        _ => {
            ctx.counters.rounds_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn call_log(rng: &mut Rng, idx: usize, n: u64, lead: Id, me: Id, device: &str) -> CallLog {
    let ended = Utc::now();
    let talk = rng.range(0, 600) as i64;
    let started = ended - chrono::Duration::seconds(talk + 5);
    let follow_up = rng.percent(40);
    let item = rng.pick(ITEMS);
    CallLog {
        id: new_id(),
        lead_id: lead,
        telecaller_id: me,
        direction: if rng.percent(10) {
            CallDirection::Inbound
        } else {
            CallDirection::Outbound
        },
        started_at: started,
        answered_at: (talk > 0).then(|| started + chrono::Duration::seconds(5)),
        ended_at: Some(ended),
        duration_s: talk,
        disposition: (*rng.pick(if follow_up {
            WITH_FOLLOW_UP
        } else {
            WITHOUT_FOLLOW_UP
        }))
        .to_owned(),
        outcome_tags: Vec::new(),
        notes: format!("soak desk {idx} call {n}: asked about {item}; ₹ budget discussed"),
        follow_up: follow_up.then(|| FollowUpSpec {
            due_at: ended + chrono::Duration::hours(rng.range(2, 96) as i64),
            note: Some(format!("call back about {item}")),
        }),
        recording_url: None,
        provider_call_id: None,
        device_id: Some(device.to_owned()),
        quality: None,
    }
}

impl Desk {
    fn send(&self, cmd: Cmd) -> bool {
        match lock(&self.cmd).as_ref() {
            Some(tx) if *tx.borrow() == Cmd::Run || cmd == Cmd::Drain => {
                tx.send_replace(cmd);
                true
            }
            _ => false,
        }
    }

    /// Runs incarnations until one drains: a killed one is restarted after a pause.
    async fn supervise(self: Arc<Self>, ctx: Arc<Ctx>) {
        let mut incarnation = 0_u64;
        loop {
            let first = if ctx.draining.load(Ordering::SeqCst) {
                Cmd::Drain
            } else {
                Cmd::Run
            };
            let (tx, rx) = watch::channel(first);
            *lock(&self.cmd) = Some(tx);
            let (desk, c) = (self.clone(), ctx.clone());
            let seed = ctx.opts.seed ^ ((self.seat.idx as u64) << 20) ^ incarnation;
            let thread = std::thread::Builder::new()
                .name(format!("desk-{}", self.seat.idx))
                .spawn(move || desk.incarnation(&c, rx, seed));
            let end = match thread {
                Ok(handle) => tokio::task::spawn_blocking(move || handle.join())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .and_then(|r| r.map_err(|_| anyhow::anyhow!("the desk thread panicked")))
                    .and_then(|r| r),
                Err(e) => Err(e.into()),
            };
            *lock(&self.cmd) = None;
            incarnation += 1;
            match end {
                Ok(DeskEnd::Drained) => return,
                Ok(DeskEnd::Killed) => {
                    ctx.counters.restarts.fetch_add(1, Ordering::Relaxed);
                    if !ctx.draining.load(Ordering::SeqCst) {
                        let pause = Rng(seed).range(1000, 8000);
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                }
                Err(e) => {
                    ctx.error(&format!("desk {}", self.seat.idx), format!("{e:#}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One life of the desk on its own thread and runtime; a kill drops the runtime wherever it is.
    fn incarnation(&self, ctx: &Ctx, cmd: watch::Receiver<Cmd>, seed: u64) -> Result<DeskEnd> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut killed = cmd.clone();
        let out = rt.block_on(async {
            tokio::select! {
                _ = killed.wait_for(|c| *c == Cmd::Kill) => Ok(DeskEnd::Killed),
                r = self.life(ctx, cmd, Rng(seed)) => r,
            }
        });
        // Every task of this desk (the engine mid-round, its event socket, HTTP connections) is dropped
        // where it stands; only a cache call already running on the blocking pool finishes.
        rt.shutdown_background();
        out
    }

    async fn life(&self, ctx: &Ctx, mut cmd: watch::Receiver<Cmd>, mut rng: Rng) -> Result<DeskEnd> {
        let idx = self.seat.idx;
        let dir = self.dir.clone();
        let store = SharedStore::new(
            tokio::task::spawn_blocking(move || open_cache(&dir))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))??,
        );
        let saved = lock(&self.tokens).clone();
        let mut client = match saved {
            Some(t) => Client::new(&self.seat.link.url())?.with_tokens(t),
            None => {
                let c = sign_in(&self.seat, &store).await?;
                *lock(&self.tokens) = c.tokens();
                c
            }
        };
        let device = store.run(|s| s.device_id()).await?;
        let me = self.seat.user.id;
        let mut engine = Engine::start(client.clone(), store.clone(), EngineConfig::default());
        let mut events = engine.subscribe();
        let mut status = engine.status();
        let mut seen = None;
        let mut leads: Vec<Id> = Vec::new();
        let mut next_call = tokio::time::Instant::now() + rng.gap(ctx.opts.call_gap_ms);
        let mut n = 0_u64;
        loop {
            if *cmd.borrow_and_update() == Cmd::Drain {
                return self.drain(ctx, engine, store).await;
            }
            let mut session_ended = false;
            tokio::select! {
                _ = cmd.changed() => {}
                ev = events.recv() => match ev {
                    Ok(SyncEvent::TokensChanged) => *lock(&self.tokens) = client.tokens(),
                    Ok(SyncEvent::SessionEnded) => session_ended = true,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                changed = status.changed() => {
                    if changed.is_ok() {
                        let s = status.borrow_and_update().clone();
                        session_ended |= s.session_ended;
                        observe(ctx, idx, &s, &mut seen);
                    }
                }
                () = tokio::time::sleep_until(next_call) => {
                    next_call = tokio::time::Instant::now() + rng.gap(ctx.opts.call_gap_ms);
                    if ctx.stop_logging.load(Ordering::SeqCst) {
                        continue;
                    }
                    if leads.is_empty() {
                        let q = LeadQuery { limit: Some(200), ..LeadQuery::default() };
                        leads = store.run(move |s| s.list_leads(&q)).await?.iter().map(|l| l.id).collect();
                        if leads.is_empty() {
                            continue;
                        }
                    }
                    n += 1;
                    let lead = *rng.pick(&leads);
                    let call = call_log(&mut rng, idx, n, lead, me, &device);
                    let logged = Logged { id: call.id, lead, follow_up: call.follow_up.is_some() };
                    lock(&ctx.logs[idx]).attempted.push(logged);
                    store.run(move |s| s.log_call(&call)).await?;
                    {
                        let mut log = lock(&ctx.logs[idx]);
                        log.attempted.retain(|l| l.id != logged.id);
                        log.created.push(logged);
                    }
                    ctx.counters.calls_logged.fetch_add(1, Ordering::Relaxed);
                    engine.local_change();
                }
            }
            if session_ended {
                // The desktop shows the sign-in screen; the telecaller signs in again.
                ctx.counters.sessions_ended.fetch_add(1, Ordering::Relaxed);
                engine.shutdown().await;
                client = sign_in(&self.seat, &store).await?;
                ctx.counters.relogins.fetch_add(1, Ordering::Relaxed);
                *lock(&self.tokens) = client.tokens();
                engine = Engine::start(client.clone(), store.clone(), EngineConfig::default());
                events = engine.subscribe();
                status = engine.status();
            }
        }
    }

    /// Syncs until the outbox is empty (the network is healthy again), then stops the engine cleanly.
    async fn drain(&self, ctx: &Ctx, mut engine: Engine, store: SharedStore) -> Result<DeskEnd> {
        let idx = self.seat.idx;
        for _ in 0..30 {
            let s = engine.sync_now_and_wait(Duration::from_secs(60)).await;
            ctx.pending[idx].store(s.pending, Ordering::Relaxed);
            if s.session_ended {
                ctx.counters.sessions_ended.fetch_add(1, Ordering::Relaxed);
                engine.shutdown().await;
                let client = sign_in(&self.seat, &store).await?;
                ctx.counters.relogins.fetch_add(1, Ordering::Relaxed);
                *lock(&self.tokens) = client.tokens();
                engine = Engine::start(client, store.clone(), EngineConfig::default());
                continue;
            }
            if !s.syncing && s.last_error.is_none() && s.pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        engine.shutdown().await;
        Ok(DeskEnd::Drained)
    }
}

// ---------------------------------------------------------------------------------------------------------
// CLI clients: `leadline` processes.

struct CliOut {
    ok: bool,
    killed: bool,
    stdout: String,
    stderr: String,
}

async fn run_cli(
    ctx: &Ctx,
    dir: &Path,
    args: &[&str],
    stdin: Option<&str>,
    kill_after: Option<Duration>,
) -> Result<CliOut> {
    let mut cmd = tokio::process::Command::new(&ctx.cli_bin);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env(leadline_store::key::KEY_STORE_ENV, "file")
        .env("LEADLINE_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", ctx.cli_bin.display()))?;
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        input.write_all(text.as_bytes()).await?;
    }
    let mut out = child.stdout.take().context("stdout")?;
    let mut err = child.stderr.take().context("stderr")?;
    let read_out = tokio::spawn(async move {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s).await;
        s
    });
    let read_err = tokio::spawn(async move {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s).await;
        s
    });
    let (status, killed) = match kill_after {
        Some(after) => tokio::select! {
            s = child.wait() => (s?, false),
            () = tokio::time::sleep(after) => {
                // SIGKILL: the process gets no chance to clean up.
                child.start_kill()?;
                (child.wait().await?, true)
            }
        },
        None => (child.wait().await?, false),
    };
    Ok(CliOut {
        ok: status.success(),
        killed,
        stdout: read_out.await.unwrap_or_default(),
        stderr: read_err.await.unwrap_or_default(),
    })
}

async fn cli_login(ctx: &Ctx, seat: &Seat, dir: &Path) -> Result<()> {
    for _ in 0..200 {
        let out = run_cli(
            ctx,
            dir,
            &[
                "login",
                "--server",
                &seat.link.url(),
                "--user",
                &seat.user.username,
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
            None,
        )
        .await?;
        if out.ok {
            return Ok(());
        }
        let wait = if out.stderr.contains("429") { 5000 } else { 700 };
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    bail!("cli {}: cannot sign in", seat.idx)
}

/// How one `leadline sync` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CliSync {
    Done,
    /// SIGKILLed before it finished.
    Killed,
    Failed,
}

/// One `leadline sync`, killed with SIGKILL after `kill_after` when given (a sync that finishes sooner is
/// not killed).
async fn cli_sync(ctx: &Ctx, seat: &Seat, dir: &Path, kill_after: Option<Duration>) -> Result<CliSync> {
    let t = Instant::now();
    let out = run_cli(ctx, dir, &["sync"], None, kill_after).await?;
    if out.killed {
        ctx.counters.cli_kills.fetch_add(1, Ordering::Relaxed);
        return Ok(CliSync::Killed);
    }
    if out.ok {
        ctx.counters.cli_syncs_ok.fetch_add(1, Ordering::Relaxed);
        lock(&ctx.cli_sync_ms).push(t.elapsed().as_secs_f64() * 1000.0);
        return Ok(CliSync::Done);
    }
    ctx.counters.cli_syncs_failed.fetch_add(1, Ordering::Relaxed);
    if out.stderr.contains("session has ended") || out.stderr.contains("not signed in") {
        ctx.counters.sessions_ended.fetch_add(1, Ordering::Relaxed);
        cli_login(ctx, seat, dir).await?;
        ctx.counters.relogins.fetch_add(1, Ordering::Relaxed);
    }
    Ok(CliSync::Failed)
}

async fn cli_client(ctx: Arc<Ctx>, seat: Seat) -> Result<()> {
    let idx = seat.idx;
    let dir = ctx.dir.join(format!("cli-{idx:03}"));
    let mut rng = Rng(ctx.opts.seed ^ ((idx as u64) << 24) ^ 0xC11);
    cli_login(&ctx, &seat, &dir).await?;
    // The cache needs its leads before it can log calls on them.
    while cli_sync(&ctx, &seat, &dir, None).await? != CliSync::Done {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut n = 0_u64;
    let mut killed_once = false;
    while !ctx.stop_logging.load(Ordering::SeqCst) {
        tokio::time::sleep(rng.gap(ctx.opts.call_gap_ms)).await;
        if ctx.stop_logging.load(Ordering::SeqCst) {
            break;
        }
        n += 1;
        let lead = *rng.pick(&seat.leads);
        let follow_up = rng.percent(40);
        let lead_text = lead.to_string();
        let notes = format!("soak cli {idx} call {n}: asked about {}", rng.pick(ITEMS));
        let talk = rng.range(0, 600).to_string();
        let due = (Utc::now() + chrono::Duration::hours(rng.range(2, 96) as i64)).to_rfc3339();
        let disposition = *rng.pick(if follow_up {
            WITH_FOLLOW_UP
        } else {
            WITHOUT_FOLLOW_UP
        });
        let mut args = vec![
            "log-call",
            "--lead",
            &lead_text,
            "--disposition",
            disposition,
            "--notes",
            &notes,
            "--duration",
            &talk,
        ];
        if follow_up {
            args.extend(["--follow-up", &due]);
        }
        let out = run_cli(&ctx, &dir, &args, None, None).await?;
        if !out.ok {
            ctx.error(&format!("cli {idx} log-call"), out.stderr.trim());
            continue;
        }
        let id: Id = out
            .stdout
            .trim()
            .parse()
            .context("log-call prints the call log id")?;
        lock(&ctx.logs[idx]).created.push(Logged { id, lead, follow_up });
        ctx.counters.calls_logged.fetch_add(1, Ordering::Relaxed);
        // While the chaos runs: syncs are killed until one really was (a sync may finish before its kill
        // time), then one in three or so.
        let chaos = !seat.link.healthy();
        let kill = (chaos && (!killed_once || rng.percent(CLI_KILL_PERCENT)))
            .then(|| Duration::from_millis(rng.range(5, 900)));
        killed_once |= cli_sync(&ctx, &seat, &dir, kill).await? == CliSync::Killed;
    }
    while !ctx.draining.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..30 {
        if cli_sync(&ctx, &seat, &dir, None).await? == CliSync::Done {
            let status = run_cli(&ctx, &dir, &["status", "--json"], None, None).await?;
            let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap_or_default();
            if v["pending"].as_u64() == Some(0) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    bail!("cli {idx}: the outbox did not empty after 30 syncs")
}

// ---------------------------------------------------------------------------------------------------------
// The server process.

struct ServerProc {
    child: tokio::process::Child,
    pid: u32,
    addr: SocketAddr,
}

/// A workspace binary next to this one; under `cargo run` it is built first (an up-to-date build costs a
/// second).
fn sibling_binary(name: &str, package: &str) -> Result<PathBuf> {
    let dir = std::env::current_exe()?
        .parent()
        .context("the bench binary has no folder")?
        .to_owned();
    if let Some(cargo) = std::env::var_os("CARGO") {
        let release = dir.file_name().and_then(|n| n.to_str()) == Some("release");
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-p", package, "--bin", name]);
        if release {
            build.arg("--release");
        }
        let status = build.stdout(Stdio::null()).status()?;
        if !status.success() {
            bail!("building {package} failed ({status})");
        }
    }
    let bin = dir.join(name);
    if !bin.exists() {
        bail!(
            "{} is missing: run `cargo build -p {package}` first (same profile)",
            bin.display()
        );
    }
    Ok(bin)
}

async fn start_server(bin: &Path, data: &Path, database_url: Option<&str>, ttl: u64) -> Result<ServerProc> {
    let log = std::fs::File::create(data.join("server.log"))?;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--token-ttl-secs",
        &ttl.to_string(),
        "--data-dir",
    ])
    .arg(data)
    .env("LEADLINE_LOG", "warn")
    .env_remove("DATABASE_URL")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(log)
    .kill_on_drop(true);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id().context("server pid")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let url = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("listening on ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .with_context(|| {
        format!(
            "the server did not start; see {}",
            data.join("server.log").display()
        )
    })?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .with_context(|| format!("server address {url}"))?;
    Ok(ServerProc { child, pid, addr })
}

impl ServerProc {
    /// SIGTERM (graceful), SIGKILL after 15 s.
    async fn stop(mut self) -> Result<()> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid)?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            self.child.start_kill()?;
            self.child.wait().await?;
        }
        Ok(())
    }
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// A KiB figure of /proc/<pid>/status (`VmRSS:`, `RssAnon:`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// Sums `leadline_http_requests_total` for a route: (all, 5xx).
fn requests(metrics: &str, route: &str) -> (u64, u64) {
    let mut all = 0;
    let mut failed = 0;
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("leadline_http_requests_total{"))
    {
        if !line.contains(&format!("route=\"{route}\"")) {
            continue;
        }
        let n = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
        all += n;
        if line.contains("status=\"5") {
            failed += n;
        }
    }
    (all, failed)
}

// ---------------------------------------------------------------------------------------------------------
// Seeding: telecallers (one team each) and their leads, written through the server library.

async fn seed(repo: &Repo, users: u32, leads_per_user: u32) -> Result<Vec<(User, Vec<Id>)>> {
    let hash = tokio::task::spawn_blocking(|| leadline_server::auth::hash_password(PASSWORD)).await??;
    let mut out = Vec::new();
    for u in 0..users {
        let user = User {
            id: new_id(),
            username: format!("soak{u:03}"),
            name: format!("Soak Telecaller {u:03}"),
            role: Role::Telecaller,
            team: Some(format!("Soak Showroom {u:03}")),
        };
        let leads: Vec<Lead> = (0..leads_per_user)
            .map(|k| {
                let n = u * leads_per_user + k;
                let now = Utc::now();
                Ok(Lead {
                    id: new_id(),
                    name: format!("Soak Lead {n}"),
                    phone: PhoneNumber::from_stored(&format!("+9197{n:08}"))?,
                    alternate_phone: None,
                    email: None,
                    city: Some("Pune".to_owned()),
                    source: LeadSource::Website,
                    interest: Some("Gold bangles".to_owned()),
                    budget_inr: Some(80_000),
                    priority: LeadPriority::Normal,
                    status: LeadStatus::Contacted,
                    tags: vec![],
                    assigned_to: Some(user.id),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                })
            })
            .collect::<Result<_>>()?;
        let ids = leads.iter().map(|l| l.id).collect();
        let (u2, hash2) = (user.clone(), hash.clone());
        repo.write(move |tx| -> Result<(), db::DbError> {
            db::insert_user(tx, &u2, &hash2, &Utc::now())?;
            let first = db::reserve_seqs(tx, leads.len() as i64)?;
            for (seq, lead) in (first..).zip(&leads) {
                db::insert_lead(tx, lead, u2.team.as_deref(), seq)?;
            }
            Ok(())
        })
        .await?;
        out.push((user, ids));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------
// The run.

async fn run_async(opts: Options) -> Result<()> {
    let server_bin = sibling_binary("leadline-server", "leadline-server")?;
    let cli_bin = sibling_binary("leadline", "leadline-cli")?;
    let work = tempfile::tempdir()?;
    let data = work.path().join("server");
    std::fs::create_dir_all(&data)?;
    let clients = opts.clients.max(1) as usize;
    let cli_clients = (opts.cli_clients as usize).min(clients);
    let users = opts.users.max(1);
    let backend = if opts.postgres { "postgres" } else { "sqlite" };

    // The database and its seed.
    let cluster = if opts.postgres {
        Some(
            tokio::task::spawn_blocking(leadline_server::pg_cluster::PgCluster::start)
                .await?
                .context("starting a throwaway PostgreSQL cluster")?,
        )
    } else {
        None
    };
    let database_url = match &cluster {
        Some(c) => Some(c.create_database("soak")?),
        None => None,
    };
    let db_config = match &database_url {
        Some(url) => DbConfig::Postgres(url.clone()),
        None => DbConfig::Sqlite(db::db_path(&data)),
    };
    let pii = Arc::new(leadline_server::pii_keys(&data)?);
    let t = Instant::now();
    let seeded = {
        let repo = Repo::connect(&db_config, pii.clone()).await?;
        seed(&repo, users, opts.leads_per_user.max(1)).await?
    };
    emit(
        &json!({"bench": "soak", "phase": "seed", "backend": backend, "users": users,
        "leads": users * opts.leads_per_user, "seconds": (t.elapsed().as_secs_f64() * 10.0).round() / 10.0}),
    );

    let server = start_server(&server_bin, &data, database_url.as_deref(), opts.token_ttl_secs).await?;
    let server_pid = server.pid;
    let server_url = format!("http://{}", server.addr);

    let net = Arc::new(Net {
        upstream: server.addr,
        healthy: AtomicBool::new(true),
        stall_all_until: Mutex::new(None),
        rng: Mutex::new(Rng(opts.seed ^ 0x5EED)),
        stats: NetStats::default(),
    });
    let ctx = Arc::new(Ctx {
        opts: opts.clone(),
        dir: work.path().join("clients"),
        cli_bin,
        stop_logging: AtomicBool::new(false),
        draining: AtomicBool::new(false),
        counters: Counters::default(),
        round_ms: Mutex::new(Vec::new()),
        cli_sync_ms: Mutex::new(Vec::new()),
        logs: (0..clients).map(|_| Mutex::new(ClientLog::default())).collect(),
        pending: (0..clients).map(|_| AtomicU64::new(0)).collect(),
        syncing: (0..clients).map(|_| AtomicBool::new(false)).collect(),
        errors: Mutex::new(Vec::new()),
    });

    // RSS, every second.
    let started = Instant::now();
    let rss: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
    let sampler = {
        let rss = rss.clone();
        tokio::spawn(async move {
            loop {
                if let Some(kib) = rss_kib(server_pid) {
                    lock(&rss).push((started.elapsed().as_secs_f64(), kib));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    // Seats: client i signs in as user i % users; the CLI clients are spread over the users too.
    let mut desks: Vec<Arc<Desk>> = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let cli_every = clients.checked_div(cli_clients).unwrap_or(usize::MAX);
    let mut cli_made = 0;
    for i in 0..clients {
        let (user, leads) = seeded[i % seeded.len()].clone();
        let link = Link::start(net.clone(), source_ip(i)).await?;
        let seat = Seat {
            idx: i,
            user,
            leads,
            link,
        };
        if cli_made < cli_clients && i % cli_every == 0 {
            cli_made += 1;
            let c = ctx.clone();
            tasks.spawn(async move {
                let idx = seat.idx;
                if let Err(e) = cli_client(c.clone(), seat).await {
                    c.error(&format!("cli {idx}"), format!("{e:#}"));
                }
            });
        } else {
            let dir = ctx.dir.join(format!("desk-{i:03}"));
            desks.push(Arc::new(Desk {
                seat,
                dir,
                tokens: Mutex::new(None),
                cmd: Mutex::new(None),
            }));
        }
    }
    // Desks start over the first seconds, not all at once.
    let stagger = Duration::from_millis((opts.secs * 1000 / 20).min(10_000) / desks.len().max(1) as u64);
    for d in &desks {
        tasks.spawn(d.clone().supervise(ctx.clone()));
        tokio::time::sleep(stagger).await;
    }

    // Chaos: network faults and kills, from a tenth of the run to its end.
    let chaos_from = Duration::from_secs(opts.secs / 10);
    let run_for = Duration::from_secs(opts.secs);
    let chaos = {
        let (net, desks, ctx) = (net.clone(), desks.clone(), ctx.clone());
        tokio::spawn(chaos_loop(net, desks, ctx, started + chaos_from))
    };

    // Interval lines until the end of the run.
    let interval = Duration::from_secs(opts.interval_secs.max(1));
    let mut next = started + interval;
    let sqlite_file = (!opts.postgres).then(|| db::db_path(&data));
    let mut warm_kib = None;
    let mut warm_anon = None;
    let warm_at = run_for.mul_f64(0.2);
    while started.elapsed() < run_for {
        let now = Instant::now();
        let wake = next.min(started + run_for);
        if wake > now {
            tokio::time::sleep(wake - now).await;
        }
        if warm_kib.is_none() && started.elapsed() >= warm_at {
            warm_kib = rss_kib(server_pid);
            warm_anon = status_kib(server_pid, "RssAnon:");
        }
        if Instant::now() >= next {
            next += interval;
            let on_server = sqlite_file.as_deref().and_then(|f| soak_calls_on_server(f).ok());
            emit(&json!({
                "bench": "soak",
                "t_s": started.elapsed().as_secs(),
                "calls_logged": ctx.counters.calls_logged.load(Ordering::Relaxed),
                "calls_on_server": on_server,
                "pending_on_desks": ctx.pending.iter().map(|p| p.load(Ordering::Relaxed)).sum::<u64>(),
                "server_rss_mib": rss_kib(server_pid).map(mib),
                "server_rss_anon_mib": status_kib(server_pid, "RssAnon:").map(mib),
                "desk_kills": ctx.counters.desk_kills.load(Ordering::Relaxed),
                "cli_kills": ctx.counters.cli_kills.load(Ordering::Relaxed),
                "connections": net.stats.connections.load(Ordering::Relaxed),
                "cuts": net.stats.request_cuts.load(Ordering::Relaxed)
                    + net.stats.response_cuts.load(Ordering::Relaxed)
                    + net.stats.push_answer_cuts.load(Ordering::Relaxed)
                    + net.stats.live_cuts.load(Ordering::Relaxed),
                "sync_rounds": ctx.counters.rounds_ok.load(Ordering::Relaxed),
                "sync_rounds_failed": ctx.counters.rounds_failed.load(Ordering::Relaxed),
            }));
        }
    }
    let load_end_kib = rss_kib(server_pid);
    let load_end_anon = status_kib(server_pid, "RssAnon:");

    // The end: no new calls, the network heals, every client syncs until its outbox is empty.
    ctx.stop_logging.store(true, Ordering::SeqCst);
    chaos.abort();
    net.healthy.store(true, Ordering::SeqCst);
    ctx.draining.store(true, Ordering::SeqCst);
    let t_drain = Instant::now();
    for d in &desks {
        d.send(Cmd::Drain);
    }
    let drain_deadline = Duration::from_secs(300);
    let drained = tokio::time::timeout(drain_deadline, async {
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                ctx.error("client task", e);
            }
        }
    })
    .await;
    if drained.is_err() {
        ctx.error("drain", format!("clients still syncing after {drain_deadline:?}"));
        tasks.abort_all();
    }
    let drain_s = t_drain.elapsed().as_secs_f64();
    let end_kib = rss_kib(server_pid);
    let metrics = reqwest::get(format!("{server_url}/metrics"))
        .await?
        .text()
        .await
        .unwrap_or_default();
    sampler.abort();
    server.stop().await?;

    // What every client holds: its outbox, and the calls killed mid-log that its cache kept.
    let mut outbox_not_empty = 0_u64;
    let mut rejected = 0_u64;
    let mut expected: HashMap<Id, Logged> = HashMap::new();
    let mut killed_mid_log_kept = 0_u64;
    for i in 0..clients {
        let dir = match desks.iter().find(|d| d.seat.idx == i) {
            Some(d) => d.dir.clone(),
            None => ctx.dir.join(format!("cli-{i:03}")),
        };
        let (created, attempted) = {
            let log = lock(&ctx.logs[i]);
            (log.created.clone(), log.attempted.clone())
        };
        let store = tokio::task::spawn_blocking(move || open_cache(&dir)).await??;
        let counts = store.pending_count()?;
        outbox_not_empty += u64::from(counts.pending > 0);
        rejected += counts.rejected;
        for l in created {
            expected.insert(l.id, l);
        }
        for l in attempted {
            if store.call_logs_for_lead(&l.lead)?.iter().any(|c| c.id == l.id) {
                killed_mid_log_kept += 1;
                expected.insert(l.id, l);
            }
        }
    }

    // What the server holds.
    let repo = Repo::connect(&db_config, pii).await?;
    let (rows, follow_ups) = repo
        .read(|tx| -> Result<_, db::DbError> {
            let rows = tx.query(
                "SELECT c.id, c.lead_id, c.started_at, COALESCE(c.device_id, '')
                 FROM call_logs c JOIN users u ON u.id = c.telecaller_id
                 WHERE u.username LIKE 'soak%'",
                &[],
            )?;
            let rows = rows
                .iter()
                .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?, r.get::<String>(3)?)))
                .collect::<Result<Vec<_>, db::DbError>>()?;
            let fu = tx.query(
                "SELECT call_log_id, count(*) FROM follow_ups WHERE call_log_id IS NOT NULL GROUP BY call_log_id",
                &[],
            )?;
            let fu = fu
                .iter()
                .map(|r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))
                .collect::<Result<HashMap<_, _>, db::DbError>>()?;
            Ok((rows, fu))
        })
        .await?;
    drop(repo);
    let mut per_id: HashMap<Id, u64> = HashMap::new();
    let mut per_content: HashMap<(String, String, String), u64> = HashMap::new();
    for (id, lead, started_at, device) in &rows {
        *per_id.entry(Id::parse_str(id)?).or_default() += 1;
        *per_content
            .entry((device.clone(), lead.clone(), started_at.clone()))
            .or_default() += 1;
    }
    let lost = expected.keys().filter(|id| !per_id.contains_key(id)).count() as u64;
    let dup_by_id: u64 = per_id.values().map(|n| n.saturating_sub(1)).sum();
    let dup_by_content: u64 = per_content.values().map(|n| n.saturating_sub(1)).sum();
    let unexpected = per_id.keys().filter(|id| !expected.contains_key(id)).count() as u64;
    let with_follow_up: Vec<&Logged> = expected.values().filter(|l| l.follow_up).collect();
    let follow_ups_lost = with_follow_up
        .iter()
        .filter(|l| !follow_ups.contains_key(&db::id_text(&l.id)))
        .count() as u64;
    let follow_ups_duplicated: u64 = follow_ups
        .iter()
        .filter(|(id, _)| Id::parse_str(id).is_ok_and(|id| expected.contains_key(&id)))
        .map(|(_, n)| n.saturating_sub(1) as u64)
        .sum();
    let seen: HashSet<&Id> = per_id.keys().collect();
    let calls_on_server = expected.keys().filter(|id| seen.contains(id)).count();

    let samples = lock(&rss).clone();
    let start_kib = samples.first().map(|s| s.1).unwrap_or(0);
    let peak_kib = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let warm_kib = warm_kib.unwrap_or(start_kib);
    let load_end_kib = load_end_kib.unwrap_or(0);
    let mut rounds = lock(&ctx.round_ms).clone();
    rounds.sort_by(f64::total_cmp);
    let mut cli_ms = lock(&ctx.cli_sync_ms).clone();
    cli_ms.sort_by(f64::total_cmp);
    let pct = |v: &[f64], q: f64| {
        if v.is_empty() {
            0.0
        } else {
            (v[((v.len() - 1) as f64 * q).round() as usize] * 10.0).round() / 10.0
        }
    };
    let (pushes, push_5xx) = requests(&metrics, "/api/v1/sync/push");
    let (pulls, pull_5xx) = requests(&metrics, "/api/v1/sync/pull");
    let server_log = std::fs::read_to_string(data.join("server.log")).unwrap_or_default();
    let server_errors = server_log
        .lines()
        .filter(|l| l.contains("\"ERROR\"") || l.contains("panicked"))
        .count();
    let errors = lock(&ctx.errors).clone();
    let c = &ctx.counters;
    let s = &net.stats;
    let duplicated = dup_by_id + dup_by_content;
    let mut summary = json!({
        "bench": "soak",
        "calls_logged": expected.len(),
        "lost": lost,
        "duplicated": duplicated,
        "server_rss_growth_mib": ((load_end_kib as f64 - warm_kib as f64) / 1024.0 * 10.0).round() / 10.0,
        "backend": backend,
        "secs": opts.secs,
        "clients": clients,
        "desk_clients": desks.len(),
        "cli_clients": cli_clients,
        "users": users,
        "calls_on_server": calls_on_server,
        "duplicated_by_id": dup_by_id,
        "duplicated_by_content": dup_by_content,
        "unexpected_on_server": unexpected,
        "killed_mid_log_kept": killed_mid_log_kept,
        "follow_ups": with_follow_up.len(),
        "follow_ups_lost": follow_ups_lost,
        "follow_ups_duplicated": follow_ups_duplicated,
        "outbox_not_empty": outbox_not_empty,
        "rejected": rejected,
    });
    let more = json!({
        "desk_kills": c.desk_kills.load(Ordering::Relaxed),
        "desk_kills_mid_sync": c.desk_kills_mid_sync.load(Ordering::Relaxed),
        "cli_kills": c.cli_kills.load(Ordering::Relaxed),
        "restarts": c.restarts.load(Ordering::Relaxed),
        "sessions_ended": c.sessions_ended.load(Ordering::Relaxed),
        "relogins": c.relogins.load(Ordering::Relaxed),
        "connections": s.connections.load(Ordering::Relaxed),
        "request_cuts": s.request_cuts.load(Ordering::Relaxed),
        "response_cuts": s.response_cuts.load(Ordering::Relaxed),
        "push_answer_cuts": s.push_answer_cuts.load(Ordering::Relaxed),
        "cut_everything_events": s.cut_events.load(Ordering::Relaxed),
        "live_connections_cut": s.live_cuts.load(Ordering::Relaxed),
        "stalls": s.stalls.load(Ordering::Relaxed),
        "offline_windows": s.offline_windows.load(Ordering::Relaxed),
        "refused": s.refused.load(Ordering::Relaxed),
        "pushes": pushes,
        "pulls": pulls,
        "server_5xx": push_5xx + pull_5xx,
        "server_errors_logged": server_errors,
        "sync_rounds": c.rounds_ok.load(Ordering::Relaxed),
        "sync_rounds_failed": c.rounds_failed.load(Ordering::Relaxed),
        "sync_p50_ms": pct(&rounds, 0.5),
        "sync_p99_ms": pct(&rounds, 0.99),
        "cli_syncs": c.cli_syncs_ok.load(Ordering::Relaxed),
        "cli_syncs_failed": c.cli_syncs_failed.load(Ordering::Relaxed),
        "cli_sync_p50_ms": pct(&cli_ms, 0.5),
        "drain_s": (drain_s * 10.0).round() / 10.0,
        "server_rss_start_mib": mib(start_kib),
        "server_rss_warm_mib": mib(warm_kib),
        "server_rss_end_mib": mib(load_end_kib),
        "server_rss_after_drain_mib": end_kib.map(mib),
        "server_rss_anon_warm_mib": warm_anon.map(mib),
        "server_rss_anon_end_mib": load_end_anon.map(mib),
        "server_rss_anon_growth_mib": warm_anon
            .zip(load_end_anon)
            .map(|(w, e)| ((e as f64 - w as f64) / 1024.0 * 10.0).round() / 10.0),
        "server_rss_peak_mib": mib(peak_kib),
        "client_errors": c.client_errors.load(Ordering::Relaxed),
        "first_errors": errors,
    });
    if let (Some(all), serde_json::Value::Object(more)) = (summary.as_object_mut(), more) {
        all.extend(more);
    }
    emit(&summary);
    drop(cluster);
    if lost > 0 || duplicated > 0 || outbox_not_empty > 0 || follow_ups_lost > 0 || follow_ups_duplicated > 0
    {
        bail!(
            "soak failed: {lost} lost, {duplicated} duplicated, {outbox_not_empty} outboxes not empty, \
             {follow_ups_lost} follow-ups lost, {follow_ups_duplicated} follow-ups duplicated"
        );
    }
    Ok(())
}

/// Call logs of the soak telecallers on the server's SQLite file (read-only, beside the running server).
fn soak_calls_on_server(file: &Path) -> Result<i64> {
    let conn = rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row(
        "SELECT count(*) FROM call_logs WHERE telecaller_id IN (SELECT id FROM users WHERE username LIKE 'soak%')",
        [],
        |r| r.get(0),
    )?)
}

/// Until aborted: every 1 to 4 s a network event on some clients, and a desk kill every 0.5 to 3 s.
async fn chaos_loop(net: Arc<Net>, desks: Vec<Arc<Desk>>, ctx: Arc<Ctx>, from: Instant) {
    tokio::time::sleep_until(from.into()).await;
    net.healthy.store(false, Ordering::SeqCst);
    let links: Vec<Arc<Link>> = desks.iter().map(|d| d.seat.link.clone()).collect();
    let mut rng = Rng(ctx.opts.seed ^ 0xC4A05);
    let mut next_net = Instant::now();
    let mut next_kill = Instant::now() + Duration::from_millis(rng.range(500, 3000));
    loop {
        let wake = next_net.min(next_kill);
        tokio::time::sleep_until(wake.into()).await;
        let now = Instant::now();
        if now >= next_net {
            next_net = now + Duration::from_millis(rng.range(1000, 4000));
            let k = 1 + rng.below((links.len() as u64 / 10).max(1)) as usize;
            let chosen: Vec<&Arc<Link>> = (0..k)
                .filter_map(|_| links.get(rng.below(links.len() as u64) as usize))
                .collect();
            let s = &net.stats;
            match rng.below(10) {
                0..=3 => {
                    s.cut_events.fetch_add(1, Ordering::Relaxed);
                    for l in chosen {
                        l.cut_now();
                    }
                }
                4..=6 => {
                    let until = now + Duration::from_millis(rng.range(2000, 8000));
                    for l in chosen {
                        s.stalls.fetch_add(1, Ordering::Relaxed);
                        *lock(&l.stall_until) = Some(until);
                    }
                }
                7..=8 => {
                    let until = now + Duration::from_millis(rng.range(3000, 12_000));
                    for l in chosen {
                        s.offline_windows.fetch_add(1, Ordering::Relaxed);
                        *lock(&l.offline_until) = Some(until);
                        l.cut_now();
                    }
                }
                _ => {
                    s.stalls.fetch_add(1, Ordering::Relaxed);
                    *lock(&net.stall_all_until) = Some(now + Duration::from_millis(rng.range(2000, 5000)));
                }
            }
        }
        if now >= next_kill {
            next_kill = now + Duration::from_millis(rng.range(500, 3000));
            if let Some(d) = desks.get(rng.below(desks.len() as u64) as usize) {
                let mid_sync = ctx.syncing[d.seat.idx].load(Ordering::Relaxed);
                if d.send(Cmd::Kill) {
                    ctx.counters.desk_kills.fetch_add(1, Ordering::Relaxed);
                    if mid_sync {
                        ctx.counters.desk_kills_mid_sync.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}
