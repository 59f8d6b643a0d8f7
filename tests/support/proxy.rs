//! A fault-injecting TCP proxy for end-to-end tests: clients talk to [`Proxy::url`], the proxy forwards to
//! the upstream address (settable, so the server behind it may restart elsewhere) and, depending on the
//! current [`Fault`], cuts connections after a number of bytes in either direction, refuses them, or
//! swallows them without answering.
//!
//! Every connection, byte and fault that actually fired is counted ([`Proxy::stats`]), so a test can
//! assert that a cut happened instead of passing without one. A connection takes the fault in force when
//! it is accepted. Plain threads and blocking sockets: no runtime needed in the tests.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// What the proxy does to the connections it accepts from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything both ways.
    Pass,
    /// Accept and close at once, without connecting upstream (the server looks down).
    Refuse,
    /// Forward the first N bytes the client sends (over the connection's life), then close both sides:
    /// the server sees a request cut short, the client a dropped connection.
    CutRequest(u64),
    /// Forward the first N bytes the server sends back, then close both sides: the server did the work,
    /// the client never reads the whole answer.
    CutResponse(u64),
    /// Each connection draws, from a generator seeded with `seed`, whether it is cut (one in
    /// `one_in`), in which direction, and after how many bytes (below `max_offset`).
    Random { seed: u64, one_in: u64, max_offset: u64 },
    /// Accept, read and drop whatever the client sends, never answer (client timeouts).
    Blackhole,
    /// Forward, but stop forwarding client bytes once the proxy has passed `after` client bytes in total
    /// (all connections): the request stays half-sent until [`Proxy::release`] or the upstream dies.
    /// For killing the server at a chosen point of a request.
    HoldRequestAfter(u64),
}

/// Counters since the proxy started (or since [`Proxy::reset_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes forwarded client → server.
    pub to_server: u64,
    /// Bytes forwarded server → client.
    pub to_client: u64,
    /// Connections cut after N client bytes (the fault fired; the byte count was reached).
    pub request_cuts: u64,
    /// Connections cut after N server bytes.
    pub response_cuts: u64,
    /// Connections refused (fault `Refuse`, or the upstream did not accept).
    pub refused: u64,
    /// Connections swallowed by `Blackhole`.
    pub blackholed: u64,
    /// Times a `HoldRequestAfter` stopped forwarding.
    pub holds: u64,
}

impl Stats {
    /// Cuts that actually happened, both directions.
    pub fn cuts(&self) -> u64 {
        self.request_cuts + self.response_cuts
    }
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    to_server: AtomicU64,
    to_client: AtomicU64,
    request_cuts: AtomicU64,
    response_cuts: AtomicU64,
    refused: AtomicU64,
    blackholed: AtomicU64,
    holds: AtomicU64,
}

struct State {
    fault: Fault,
    upstream: SocketAddr,
    /// splitmix64 state for `Fault::Random` (reseeded when the fault is set).
    rng: u64,
    /// Sockets of live connections (both ends), for [`Proxy::cut_all`].
    live: Vec<(u64, TcpStream)>,
    next_id: u64,
    /// While true, `HoldRequestAfter` pumps wait.
    holding: bool,
}

struct Shared {
    state: Mutex<State>,
    released: Condvar,
    counters: Counters,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running proxy on 127.0.0.1; it stops (and drops its connections) when the value drops.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How one accepted connection is treated.
#[derive(Debug, Clone, Copy)]
enum Plan {
    Pass,
    Refuse,
    Blackhole,
    CutRequest(u64),
    CutResponse(u64),
    HoldAfter(u64),
}

impl Proxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to `upstream`, passing everything through.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                fault: Fault::Pass,
                upstream,
                rng: 0,
                live: Vec::new(),
                next_id: 0,
                holding: false,
            }),
            released: Condvar::new(),
            counters: Counters::default(),
            stop: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let shared = Arc::clone(&accept_shared);
                thread::spawn(move || handle(&shared, client));
            }
        });
        Self { addr, shared }
    }

    /// `http://127.0.0.1:<port>`: the URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault for connections accepted from now on (live ones keep theirs). Setting `Random` reseeds.
    pub fn set_fault(&self, fault: Fault) {
        let mut st = self.shared.lock();
        if let Fault::Random { seed, .. } = fault {
            st.rng = seed;
        }
        st.holding = matches!(fault, Fault::HoldRequestAfter(_));
        st.fault = fault;
        drop(st);
        self.shared.released.notify_all();
    }

    /// Where new connections go.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.shared.lock().upstream = upstream;
    }

    /// Lets held requests go on (after a `HoldRequestAfter`); the fault becomes `Pass`.
    pub fn release(&self) {
        self.set_fault(Fault::Pass);
    }

    /// Closes every live connection now (both ends).
    pub fn cut_all(&self) {
        let live = std::mem::take(&mut self.shared.lock().live);
        for (_, s) in live {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            connections: c.connections.load(Ordering::SeqCst),
            to_server: c.to_server.load(Ordering::SeqCst),
            to_client: c.to_client.load(Ordering::SeqCst),
            request_cuts: c.request_cuts.load(Ordering::SeqCst),
            response_cuts: c.response_cuts.load(Ordering::SeqCst),
            refused: c.refused.load(Ordering::SeqCst),
            blackholed: c.blackholed.load(Ordering::SeqCst),
            holds: c.holds.load(Ordering::SeqCst),
        }
    }

    /// Polls the counters until `done` holds, or fails after `within`.
    pub fn wait_for(&self, within: Duration, what: &str, mut done: impl FnMut(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + within;
        loop {
            let s = self.stats();
            if done(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "proxy: {what} did not happen within {within:?}: {s:?}"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Like [`Proxy::wait_for`] but gives up quietly: `None` after `within`.
    pub fn poll_for(&self, within: Duration, mut done: impl FnMut(&Stats) -> bool) -> Option<Stats> {
        let deadline = Instant::now() + within;
        loop {
            let s = self.stats();
            if done(&s) {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.release();
        self.cut_all();
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn plan(st: &mut State) -> Plan {
    match st.fault {
        Fault::Pass => Plan::Pass,
        Fault::Refuse => Plan::Refuse,
        Fault::Blackhole => Plan::Blackhole,
        Fault::CutRequest(n) => Plan::CutRequest(n),
        Fault::CutResponse(n) => Plan::CutResponse(n),
        Fault::HoldRequestAfter(n) => Plan::HoldAfter(n),
        Fault::Random {
            one_in, max_offset, ..
        } => {
            let r = splitmix(&mut st.rng);
            if one_in == 0 || !r.is_multiple_of(one_in) {
                return Plan::Pass;
            }
            let offset = splitmix(&mut st.rng) % max_offset.max(1);
            if splitmix(&mut st.rng).is_multiple_of(2) {
                Plan::CutRequest(offset)
            } else {
                Plan::CutResponse(offset)
            }
        }
    }
}

fn register(shared: &Shared, streams: &[&TcpStream]) -> u64 {
    let mut st = shared.lock();
    st.next_id += 1;
    let id = st.next_id;
    for s in streams {
        if let Ok(c) = s.try_clone() {
            st.live.push((id, c));
        }
    }
    id
}

fn unregister(shared: &Shared, id: u64) {
    shared.lock().live.retain(|(i, _)| *i != id);
}

fn handle(shared: &Arc<Shared>, client: TcpStream) {
    let _ = client.set_nodelay(true);
    shared.counters.connections.fetch_add(1, Ordering::SeqCst);
    let (plan, upstream) = {
        let mut st = shared.lock();
        (plan(&mut st), st.upstream)
    };
    match plan {
        Plan::Refuse => {
            shared.counters.refused.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        Plan::Blackhole => {
            shared.counters.blackholed.fetch_add(1, Ordering::SeqCst);
            let id = register(shared, &[&client]);
            let mut sink = [0_u8; 16 * 1024];
            let mut c = &client;
            while matches!(c.read(&mut sink), Ok(n) if n > 0) {}
            unregister(shared, id);
            return;
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
        shared.counters.refused.fetch_add(1, Ordering::SeqCst);
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = server.set_nodelay(true);
    let id = register(shared, &[&client, &server]);
    let (up_limit, down_limit, hold) = match plan {
        Plan::CutRequest(n) => (Some(n), None, None),
        Plan::CutResponse(n) => (None, Some(n), None),
        Plan::HoldAfter(n) => (None, None, Some(n)),
        _ => (None, None, None),
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        unregister(shared, id);
        return;
    };
    let up_shared = Arc::clone(shared);
    let up = thread::spawn(move || pump(&up_shared, &client, &server, Direction::ToServer, up_limit, hold));
    pump(shared, &s2, &c2, Direction::ToClient, down_limit, None);
    let _ = up.join();
    unregister(shared, id);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    ToClient,
}

/// Copies `from` → `to` until EOF or error; with `limit`, forwards exactly that many bytes and then closes
/// both connections (counting the cut); with `hold`, waits once the proxy's total client bytes reach it.
fn pump(
    shared: &Shared,
    from: &TcpStream,
    to: &TcpStream,
    dir: Direction,
    limit: Option<u64>,
    hold: Option<u64>,
) {
    let total = match dir {
        Direction::ToServer => &shared.counters.to_server,
        Direction::ToClient => &shared.counters.to_client,
    };
    let mut buf = vec![0_u8; 16 * 1024];
    let mut passed: u64 = 0;
    let mut r = from;
    let mut w = to;
    loop {
        if let Some(limit) = limit
            && passed >= limit
        {
            let cuts = match dir {
                Direction::ToServer => &shared.counters.request_cuts,
                Direction::ToClient => &shared.counters.response_cuts,
            };
            cuts.fetch_add(1, Ordering::SeqCst);
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        let mut want = buf.len();
        if let Some(limit) = limit {
            want = want.min(usize::try_from(limit - passed).unwrap_or(usize::MAX));
        }
        if let Some(at) = hold {
            let sent = total.load(Ordering::SeqCst);
            if sent >= at {
                wait_release(shared);
            } else {
                want = want.min(usize::try_from(at - sent).unwrap_or(usize::MAX));
            }
        }
        let n = match r.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if w.write_all(&buf[..n]).is_err() {
            break;
        }
        passed += n as u64;
        total.fetch_add(n as u64, Ordering::SeqCst);
    }
    // Half-close: pass the EOF on; the other direction finishes by itself.
    let _ = to.shutdown(Shutdown::Write);
    if dir == Direction::ToClient {
        let _ = from.shutdown(Shutdown::Both);
    }
}

/// Blocks while a `HoldRequestAfter` fault is in force.
fn wait_release(shared: &Shared) {
    let mut st = shared.lock();
    if st.holding {
        shared.counters.holds.fetch_add(1, Ordering::SeqCst);
    }
    while st.holding && !shared.stop.load(Ordering::SeqCst) {
        st = shared
            .released
            .wait_timeout(st, Duration::from_millis(100))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// An upstream that records how many bytes each connection sent before EOF, then answers `reply` bytes
    /// (also on EOF, so a half-closed request still gets its answer).
    fn upstream(reply: usize) -> (SocketAddr, std::sync::mpsc::Receiver<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let tx = tx.clone();
                thread::spawn(move || {
                    let mut got = 0;
                    let mut buf = [0_u8; 4096];
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got += n,
                        }
                    }
                    let _ = conn.write_all(&vec![b'x'; reply]);
                    let _ = tx.send(got);
                });
            }
        });
        (addr, rx)
    }

    /// Sends `n` bytes, half-closes, reads the answer to the end (or the first error).
    fn exchange(proxy: &Proxy, n: usize) -> usize {
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(&vec![b'y'; n]);
        let _ = c.shutdown(Shutdown::Write);
        let mut got = 0;
        let mut buf = [0_u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => got += k,
            }
        }
        got
    }

    #[test]
    fn passes_everything_through_and_counts_it() {
        let (addr, seen) = upstream(70_000);
        let proxy = Proxy::start(addr);
        assert_eq!(exchange(&proxy, 50_000), 70_000);
        assert_eq!(seen.recv_timeout(Duration::from_secs(5)).unwrap(), 50_000);
        let s = proxy.stats();
        assert_eq!(
            (s.connections, s.to_server, s.to_client, s.cuts()),
            (1, 50_000, 70_000, 0)
        );
    }

    #[test]
    fn cuts_a_request_after_exactly_n_bytes() {
        let (addr, seen) = upstream(10);
        let proxy = Proxy::start(addr);
        proxy.set_fault(Fault::CutRequest(12_345));
        assert_eq!(exchange(&proxy, 100_000), 0, "the client gets no answer");
        assert_eq!(seen.recv_timeout(Duration::from_secs(5)).unwrap(), 12_345);
        let s = proxy.stats();
        assert_eq!((s.request_cuts, s.response_cuts, s.to_server), (1, 0, 12_345));
    }

    #[test]
    fn cuts_an_answer_after_exactly_n_bytes() {
        let (addr, seen) = upstream(100_000);
        let proxy = Proxy::start(addr);
        proxy.set_fault(Fault::CutResponse(777));
        assert_eq!(exchange(&proxy, 500), 777);
        assert_eq!(
            seen.recv_timeout(Duration::from_secs(5)).unwrap(),
            500,
            "the server got it all"
        );
        let s = proxy.stats();
        assert_eq!((s.request_cuts, s.response_cuts), (0, 1));
    }

    #[test]
    fn a_cut_that_is_never_reached_does_not_count() {
        let (addr, _seen) = upstream(100);
        let proxy = Proxy::start(addr);
        proxy.set_fault(Fault::CutResponse(5_000));
        assert_eq!(exchange(&proxy, 10), 100);
        assert_eq!(proxy.stats().cuts(), 0);
    }

    #[test]
    fn refuses_and_swallows() {
        let (addr, seen) = upstream(100);
        let proxy = Proxy::start(addr);
        proxy.set_fault(Fault::Refuse);
        assert_eq!(exchange(&proxy, 10), 0);
        assert_eq!(proxy.stats().refused, 1);

        proxy.set_fault(Fault::Blackhole);
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let mut buf = [0_u8; 16];
        let err = c.read(&mut buf).expect_err("a black hole never answers");
        assert!(matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
        proxy.cut_all();
        assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "cut_all closes it");
        assert_eq!(proxy.stats().blackholed, 1);
        assert!(seen.try_recv().is_err(), "nothing reached the upstream");
    }

    #[test]
    fn random_cuts_follow_the_seed() {
        let (addr, _seen) = upstream(4_000);
        let run = |seed| {
            let proxy = Proxy::start(addr);
            proxy.set_fault(Fault::Random {
                seed,
                one_in: 2,
                max_offset: 3_000,
            });
            let got: Vec<usize> = (0..20).map(|_| exchange(&proxy, 2_000)).collect();
            (got, proxy.stats())
        };
        let (first, s1) = run(7);
        let (again, s2) = run(7);
        assert_eq!(
            first, again,
            "the same seed cuts the same connections at the same bytes"
        );
        assert_eq!(
            (s1.request_cuts, s1.response_cuts),
            (s2.request_cuts, s2.response_cuts)
        );
        assert!(s1.cuts() > 0 && s1.cuts() < 20, "{s1:?}");
        let (other, _) = run(8);
        assert_ne!(first, other);
    }

    #[test]
    fn holds_a_request_until_released() {
        let (addr, seen) = upstream(5);
        let proxy = Proxy::start(addr);
        proxy.set_fault(Fault::HoldRequestAfter(3_000));
        let p = &proxy;
        thread::scope(|s| {
            let client = s.spawn(move || exchange(p, 10_000));
            p.wait_for(Duration::from_secs(5), "the hold", |st| st.holds == 1);
            assert_eq!(
                p.stats().to_server,
                3_000,
                "exactly the bytes before the hold went through"
            );
            p.release();
            assert_eq!(client.join().unwrap(), 5);
        });
        assert_eq!(seen.recv_timeout(Duration::from_secs(5)).unwrap(), 10_000);
    }
}
