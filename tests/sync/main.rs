//! The sync engine under faults, with real processes: the `leadline-server` binary on a real SQLite file
//! (seeded with the demo data), the `leadline` CLI as the client, and a fault-injecting TCP proxy between
//! them. Whatever is cut — the server process, a request, an answer, the client process — every call
//! logged offline reaches the server exactly once and client and server end up agreeing.
//!
//! Every test also checks that its fault really fired (cuts counted by the proxy, a sync that failed, a
//! server that held part of the outbox when it died): a run where nothing was cut fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use harness::{
    Device, Rng, assert_exactly_once, server_applied_from, server_calls_by, server_calls_on,
    server_device_of_call, server_lead_versions, stderr, user_id,
};
use leadline_e2e::http;
use leadline_e2e::proxy::{Fault, Proxy};
use leadline_e2e::{DEMO_PASSWORD, DEMO_USER, DemoServer};

/// Logs `n` calls spread over `leads`, numbering them from `from`: the first `via_cli` with `leadline
/// log-call` (one process each), the rest through the cache's API in this process. Their ids and how many
/// asked for a follow-up.
fn log_calls(
    device: &Device,
    leads: &[String],
    from: usize,
    n: usize,
    via_cli: usize,
) -> (Vec<String>, usize) {
    let mut ids = Vec::with_capacity(n);
    let mut follow_ups = 0;
    let cli = via_cli.min(n);
    for i in from..from + cli {
        ids.push(device.log_call(&leads[i % leads.len()], i));
        follow_ups += usize::from(i.is_multiple_of(4));
    }
    let (rest, f) = device.log_calls_in_process(leads, from + cli, n - cli);
    ids.extend(rest);
    (ids, follow_ups + f)
}

fn first_leads(server: &DemoServer, user: &str, n: usize) -> Vec<String> {
    let leads = server.assigned_lead_ids(user);
    assert!(
        leads.len() >= n,
        "{user} has {} leads, the test needs {n}",
        leads.len()
    );
    leads[..n].to_vec()
}

/// The sync failed the way an unreachable or cut-off server should make it fail: a clean error, no crash.
fn assert_clean_failure(label: &str, out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{label}: sync against a broken connection exits 1 with an error, got {}: {}",
        out.status,
        stderr(out)
    );
    assert!(stderr(out).contains("error"), "{label}: {}", stderr(out));
}

#[test]
fn calls_logged_with_the_server_down_reach_it_exactly_once() {
    const N: usize = 200;
    let mut server = DemoServer::start();
    let proxy = Proxy::start(server.addr());
    let device = Device::login("device", &proxy.url(), DEMO_USER);
    let leads = first_leads(&server, DEMO_USER, 10);
    let baseline = server_calls_by(&server, DEMO_USER);

    server.kill();
    let (ids, follow_ups) = log_calls(&device, &leads, 0, N, 3);
    let logged: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(logged.len(), N, "every log-call minted a new id");
    assert_eq!(device.pending(), N as u64, "every call waits in the outbox");

    let refused_before = proxy.stats().refused;
    let out = device.sync();
    assert_clean_failure("sync with the server down", &out);
    assert!(
        stderr(&out).contains("cannot reach the server"),
        "{}",
        stderr(&out)
    );
    assert!(
        proxy.stats().refused > refused_before,
        "the sync really tried the server"
    );
    assert_eq!(
        device.pending(),
        N as u64,
        "nothing is lost when the server cannot be reached"
    );
    assert_eq!(device.status()["online"], false);

    server.restart();
    device.sync_ok();
    assert_eq!(device.status()["online"], true);
    assert_exactly_once(
        &server,
        &[&device],
        DEMO_USER,
        &baseline,
        &logged,
        follow_ups,
        &leads,
    );
    let device_id = server_device_of_call(&server, &ids[0]);
    assert_eq!(
        server_applied_from(&server, &device_id),
        N as u64,
        "one applied mutation per call"
    );

    // Syncing again sends nothing twice.
    device.sync_ok();
    assert_eq!(server_calls_by(&server, DEMO_USER).len(), baseline.len() + N);
    assert_eq!(server_applied_from(&server, &device_id), N as u64);
}

#[test]
fn the_server_killed_mid_push_loses_and_doubles_nothing() {
    const N: usize = 1_500;
    let mut server = DemoServer::start();
    let proxy = Proxy::start(server.addr());
    let device = Device::login("device", &proxy.url(), DEMO_USER);
    let leads = first_leads(&server, DEMO_USER, 20);
    let baseline = server_calls_by(&server, DEMO_USER);

    let (ids, follow_ups) = log_calls(&device, &leads, 0, N, 3);
    let logged: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(device.pending(), N as u64);
    let on_server = |server: &DemoServer| {
        server_calls_by(server, DEMO_USER)
            .difference(&baseline)
            .filter(|id| logged.contains(*id))
            .count()
    };

    // 1. Killed while the first batch is on the wire: the proxy holds the request half-sent.
    let start = proxy.stats();
    proxy.set_fault(Fault::HoldRequestAfter(start.to_server + 40_000));
    let sync = device.spawn_sync();
    proxy.wait_for(Duration::from_secs(60), "the first push held half-sent", |s| {
        s.holds > start.holds
    });
    server.kill();
    proxy.release();
    let out = sync.wait_with_output().expect("sync");
    assert_clean_failure("server killed mid-request", &out);
    server.restart();
    assert_eq!(on_server(&server), 0, "a request cut short applies nothing");
    assert_eq!(device.pending(), N as u64);

    // 2. Killed right after the server answered the first batch: the next batch is being sent or applied.
    let start = proxy.stats();
    let sync = device.spawn_sync();
    proxy.wait_for(Duration::from_secs(60), "the first push answered", |s| {
        s.to_client > start.to_client
    });
    server.kill();
    let out = sync.wait_with_output().expect("sync");
    assert_clean_failure("server killed after a batch", &out);
    server.restart();
    let applied = on_server(&server);
    assert!(
        applied > 0 && applied < N,
        "the kill landed in the middle of the push ({applied} of {N} on the server): raise N if the push \
         finished first"
    );
    let pending = device.pending();
    assert!(pending > 0, "the kill left part of the outbox unsent");
    assert!(
        N as u64 - pending <= applied as u64,
        "the device dropped {} outbox rows but the server holds only {applied} of its calls",
        N as u64 - pending
    );

    // 3. Killed at a seeded random moment after the push resumed.
    let mut rng = Rng(0x5eed_0001);
    let start = proxy.stats();
    let sync = device.spawn_sync();
    proxy.wait_for(Duration::from_secs(60), "the push resumed", |s| {
        s.to_server > start.to_server
    });
    thread::sleep(Duration::from_millis(rng.range(0, 150)));
    server.kill();
    let out = sync.wait_with_output().expect("sync");
    server.restart();
    let pending = device.pending();
    assert!(
        N as u64 - pending <= on_server(&server) as u64,
        "the device dropped outbox rows the server does not hold"
    );
    if out.status.success() {
        eprintln!("note: the third kill came after the sync had finished");
    }

    device.sync_ok();
    assert_exactly_once(
        &server,
        &[&device],
        DEMO_USER,
        &baseline,
        &logged,
        follow_ups,
        &leads,
    );
    let device_id = server_device_of_call(&server, &ids[0]);
    assert_eq!(server_applied_from(&server, &device_id), N as u64);
}

#[test]
fn connections_cut_mid_request_and_mid_response_lose_and_double_nothing() {
    const ROUNDS: usize = 18;
    const PER_ROUND: usize = 15;
    let server = DemoServer::start();
    let proxy = Proxy::start(server.addr());
    let device = Device::login("device", &proxy.url(), DEMO_USER);
    let leads = first_leads(&server, DEMO_USER, 8);
    let baseline = server_calls_by(&server, DEMO_USER);
    let mut rng = Rng(0xC0FF_EE00);

    let mut ids = Vec::new();
    let mut follow_ups = 0;
    let mut failed_syncs = 0;
    // Rounds that ended with changes applied on the server but still pending on the device: an answer
    // was lost (they go again and must come back `duplicate`).
    let mut answers_lost = 0;
    let mut device_id: Option<String> = None;
    for round in 0..ROUNDS {
        let (new, f) = log_calls(&device, &leads, ids.len(), PER_ROUND, usize::from(round == 0));
        ids.extend(new);
        follow_ups += f;
        // Small offsets cut inside the push (headers or body; the answer to a push of a few dozen calls
        // is a few kB), larger ones inside the pull that follows.
        let offset = match round % 3 {
            0 => rng.range(0, 600),
            1 => rng.range(600, 6_000),
            _ => rng.range(6_000, 60_000),
        };
        let fault = if round.is_multiple_of(2) {
            Fault::CutRequest(offset)
        } else {
            Fault::CutResponse(offset)
        };
        proxy.set_fault(fault);
        let before = proxy.stats();
        let out = device.sync();
        let after = proxy.stats();
        proxy.set_fault(Fault::Pass);
        eprintln!(
            "round {round} {fault:?}: sync {}, {} cut(s)",
            out.status,
            after.cuts() - before.cuts()
        );
        if !out.status.success() {
            assert_clean_failure(&format!("round {round} ({fault:?})"), &out);
            failed_syncs += 1;
        }
        let pending = device.pending();
        if device_id.is_none() {
            device_id = server_calls_by(&server, DEMO_USER)
                .intersection(&ids.iter().cloned().collect())
                .next()
                .map(|c| server_device_of_call(&server, c));
        }
        let applied = device_id.as_ref().map_or(0, |d| server_applied_from(&server, d));
        let confirmed = ids.len() as u64 - pending;
        assert!(
            confirmed <= applied,
            "round {round} ({fault:?}): the device dropped {confirmed} outbox rows but the server applied \
             only {applied}"
        );
        if applied > confirmed {
            answers_lost += 1;
        }
    }
    let stats = proxy.stats();
    eprintln!(
        "proxy: {stats:?}; {failed_syncs} of {ROUNDS} syncs failed; {answers_lost} rounds ended with applied changes still pending"
    );
    assert!(stats.request_cuts >= 4, "mid-request cuts fired: {stats:?}");
    assert!(stats.response_cuts >= 4, "mid-response cuts fired: {stats:?}");
    assert!(
        failed_syncs >= ROUNDS / 3,
        "the cuts broke syncs ({failed_syncs})"
    );
    assert!(
        answers_lost >= 1,
        "no cut fell between the server applying a push and the device reading the answer"
    );

    device.sync_ok();
    let logged: BTreeSet<String> = ids.iter().cloned().collect();
    assert_exactly_once(
        &server,
        &[&device],
        DEMO_USER,
        &baseline,
        &logged,
        follow_ups,
        &leads,
    );
    assert_eq!(
        server_applied_from(&server, device_id.as_ref().expect("some call reached the server")),
        ids.len() as u64
    );

    // Random cuts with a seed, every connection cut somewhere, then a clean sync.
    proxy.set_fault(Fault::Random {
        seed: 42,
        one_in: 1,
        max_offset: 20_000,
    });
    let (new, f) = log_calls(&device, &leads, ids.len(), 40, 0);
    ids.extend(new);
    follow_ups += f;
    let before = proxy.stats();
    for _ in 0..6 {
        let _ = device.sync();
    }
    assert!(proxy.stats().cuts() > before.cuts(), "random cuts fired");
    proxy.set_fault(Fault::Pass);
    device.sync_ok();
    let logged: BTreeSet<String> = ids.iter().cloned().collect();
    assert_exactly_once(
        &server,
        &[&device],
        DEMO_USER,
        &baseline,
        &logged,
        follow_ups,
        &leads,
    );
}

#[test]
fn a_server_that_never_answers_times_out_and_loses_nothing() {
    let server = DemoServer::start();
    let proxy = Proxy::start(server.addr());
    let device = Device::login("device", &proxy.url(), DEMO_USER);
    let leads = first_leads(&server, DEMO_USER, 3);
    let baseline = server_calls_by(&server, DEMO_USER);
    let (ids, follow_ups) = log_calls(&device, &leads, 0, 6, 1);

    proxy.set_fault(Fault::Blackhole);
    let out = device.sync();
    assert_clean_failure("sync into a black hole", &out);
    assert!(
        proxy.stats().blackholed >= 1,
        "the request went into the black hole"
    );
    assert_eq!(device.pending(), 6);
    proxy.cut_all();
    proxy.set_fault(Fault::Pass);
    device.sync_ok();
    let logged: BTreeSet<String> = ids.into_iter().collect();
    assert_exactly_once(
        &server,
        &[&device],
        DEMO_USER,
        &baseline,
        &logged,
        follow_ups,
        &leads,
    );
}

#[test]
fn the_client_killed_during_sync_fifty_times_loses_and_doubles_nothing() {
    const ITERATIONS: usize = 50;
    let server = DemoServer::start();
    let proxy = Proxy::start(server.addr());
    let device = Device::login("device", &proxy.url(), DEMO_USER);
    let leads = first_leads(&server, DEMO_USER, 10);
    let baseline = server_calls_by(&server, DEMO_USER);
    let mut rng = Rng(0xD1E_D1E);

    // How long one sync of a few calls takes here: the kills are spread over that span.
    let (mut ids, mut follow_ups) = log_calls(&device, &leads, 0, 30, 1);
    let began = Instant::now();
    device.sync_ok();
    // Capped: a slow (debug, busy machine) sync spends most of its time after the push, and 50 rounds
    // must stay short.
    let span = u64::try_from(began.elapsed().as_millis())
        .unwrap_or(1_000)
        .clamp(20, 1_500);
    let device_id = server_device_of_call(&server, &ids[0]);

    let mut killed_running = 0;
    let mut killed_talking = 0;
    let mut answers_lost = 0;
    for i in 0..ITERATIONS {
        let (new, f) = log_calls(&device, &leads, ids.len(), 1 + i % 4, 0);
        ids.extend(new);
        follow_ups += f;
        let before = proxy.stats();
        let mut child = device.spawn_sync();
        thread::sleep(Duration::from_millis(rng.range(0, span)));
        if child.try_wait().expect("sync status").is_none() {
            killed_running += 1;
            if proxy.stats().to_server > before.to_server {
                killed_talking += 1;
            }
        }
        child.kill().expect("SIGKILL leadline sync");
        child.wait().expect("reap leadline sync");
        let pending = device.pending();
        let applied = server_applied_from(&server, &device_id);
        let confirmed = ids.len() as u64 - pending;
        assert!(
            confirmed <= applied,
            "iteration {i}: the device dropped {confirmed} outbox rows, the server applied {applied}"
        );
        if applied > confirmed {
            answers_lost += 1;
        }
    }
    eprintln!(
        "sync span {span} ms; {killed_running} of {ITERATIONS} kills hit a running sync, {killed_talking} \
         while it talked to the server; {answers_lost} left applied changes pending on the device"
    );
    assert!(
        killed_running >= ITERATIONS / 3,
        "the kills hit running syncs ({killed_running})"
    );
    assert!(
        killed_talking >= 5,
        "the kills hit syncs talking to the server ({killed_talking})"
    );

    device.sync_ok();
    let logged: BTreeSet<String> = ids.iter().cloned().collect();
    assert_exactly_once(
        &server,
        &[&device],
        DEMO_USER,
        &baseline,
        &logged,
        follow_ups,
        &leads,
    );
    assert_eq!(server_applied_from(&server, &device_id), ids.len() as u64);
}

/// What the supervisor's thread did, in order.
enum Supervisor {
    Reassigned(String),
    Done,
}

fn assign(addr: std::net::SocketAddr, token: &str, lead: &str, to: &str) {
    let r = http::request(
        addr,
        "POST",
        "/api/v1/leads/assign",
        Some(token),
        Some(&serde_json::json!({"lead_ids": [lead], "to": to, "reason": "sync fault test"})),
    )
    .expect("assign");
    assert_eq!(r.status, 200, "assign {lead}: {}", r.raw);
}

#[test]
fn two_devices_of_one_telecaller_and_a_supervisor_reassigning_converge() {
    let server = DemoServer::start();
    let proxy_a = Proxy::start(server.addr());
    let proxy_b = Proxy::start(server.addr());
    let a = Device::login("device A", &proxy_a.url(), DEMO_USER);
    let b = Device::login("device B", &proxy_b.url(), DEMO_USER);
    let baseline = server_calls_by(&server, DEMO_USER);
    // Leads whose status and priority the edits below really change.
    let plain: Vec<String> = {
        let conn = server.db();
        let mut stmt = conn
            .prepare(
                "SELECT id FROM leads WHERE assigned_to = (SELECT id FROM users WHERE username = ?1) \
                 AND status = 'new' AND priority = 'normal' AND coalesce(city, '') <> 'Pune' ORDER BY id",
            )
            .unwrap();
        stmt.query_map([DEMO_USER], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert!(plain.len() >= 12, "priya has {} new, normal leads", plain.len());
    let away: Vec<String> = plain[..6].to_vec();
    let keep: Vec<String> = plain[6..12].to_vec();
    let incoming: Vec<String> = server.assigned_lead_ids("arjun")[..4].to_vec();
    let priya = user_id(&server, DEMO_USER);
    let arjun = user_id(&server, "arjun");
    let meera = http::login(server.addr(), "meera", DEMO_PASSWORD);

    // Both devices go offline and work: calls on every lead, edits on some.
    proxy_a.set_fault(Fault::Refuse);
    proxy_b.set_fault(Fault::Refuse);
    let mut logged = BTreeSet::new();
    let mut follow_ups = 0;
    let both: Vec<String> = away.iter().chain(&keep).cloned().collect();
    for (d, from) in [(&a, 0), (&b, 1000)] {
        let (ids, f) = log_calls(d, &both, from, both.len(), 1);
        logged.extend(ids);
        follow_ups += f;
    }
    // The same field edited differently on both devices: one of them loses and must keep a conflict.
    a.ok(&["lead", "edit", &keep[0], "--status", "contacted"]);
    b.ok(&["lead", "edit", &keep[0], "--status", "interested"]);
    a.ok(&["lead", "edit", &keep[1], "--priority", "hot"]);
    b.ok(&["lead", "edit", &keep[2], "--city", "Pune"]);
    // An edit the supervisor will beat on the server.
    a.ok(&["lead", "edit", &keep[3], "--priority", "high"]);

    // Meanwhile the supervisor moves leads away from priya and edits one of hers.
    let (tx, rx) = mpsc::channel();
    {
        let addr = server.addr();
        let (away, incoming, keep3) = (away.clone(), incoming.clone(), keep[3].clone());
        let (meera, arjun, priya) = (meera.clone(), arjun.clone(), priya.clone());
        let v: i64 = server
            .db()
            .query_row("SELECT version FROM leads WHERE id = ?1", [&keep3], |r| r.get(0))
            .unwrap();
        thread::scope(|s| {
            let handle = s.spawn(move || {
                let r = http::request(
                    addr,
                    "PATCH",
                    &format!("/api/v1/leads/{keep3}"),
                    Some(&meera),
                    Some(&serde_json::json!({"version": v, "patch": {"priority": "low"}})),
                )
                .unwrap();
                assert_eq!(r.status, 200, "supervisor edit: {}", r.raw);
                for lead in &away {
                    assign(addr, &meera, lead, &arjun);
                    tx.send(Supervisor::Reassigned(lead.clone())).unwrap();
                }
                for lead in &incoming {
                    assign(addr, &meera, lead, &priya);
                }
                tx.send(Supervisor::Done).unwrap();
            });
            // Device A keeps working on its remaining leads while the supervisor works.
            let (ids, f) = log_calls(&a, &keep, 2000, 6, 1);
            logged.extend(ids);
            follow_ups += f;
            handle.join().expect("supervisor thread");
        });
    }
    let mut reassigned = Vec::new();
    while let Ok(Supervisor::Reassigned(lead)) = rx.recv() {
        reassigned.push(lead);
    }
    assert_eq!(reassigned, away);

    // A call started after its lead was taken away: the server refuses it, the device keeps it visible.
    let late = b.log_call_lasting(&away[0], 3001, 0);

    // Back online: both sync (B while A syncs), then once more each.
    proxy_a.set_fault(Fault::Pass);
    proxy_b.set_fault(Fault::Pass);
    let sync_a = a.spawn_sync();
    let out_b = b.sync();
    let out_a = sync_a.wait_with_output().expect("sync A");
    harness::ok("device A", &out_a);
    harness::ok("device B", &out_b);
    a.sync_ok();
    b.sync_ok();
    a.sync_ok();

    // Every call logged before the reassignment is on the server once, the late one is not.
    let now = server_calls_by(&server, DEMO_USER);
    let new: BTreeSet<String> = now.difference(&baseline).cloned().collect();
    assert!(
        !new.contains(&late),
        "a call started after its lead was reassigned is refused"
    );
    assert_eq!(
        new.len(),
        logged.len(),
        "exactly the calls logged on both devices reached the server"
    );
    assert_eq!(new, logged);
    assert_eq!(harness::server_follow_ups_of(&server, &logged), follow_ups);
    let (pa, ra, ca) = a.counts();
    let (pb, rb, cb) = b.counts();
    assert_eq!((pa, pb), (0, 0), "nothing pending");
    assert_eq!(
        (ra, rb),
        (0, 1),
        "only B's late call is refused, and kept visible"
    );
    assert_eq!(
        ca + cb,
        2,
        "the lost status edit and the edit the supervisor beat are visible conflicts"
    );
    assert!(ca >= 1, "A's priority edit lost to the supervisor's");

    // Both devices list exactly the server's leads for priya, at the server's versions.
    let expected = server_lead_versions(&server, DEMO_USER);
    let expected_ids: BTreeSet<String> = expected.keys().cloned().collect();
    for d in [&a, &b] {
        assert_eq!(d.lead_ids(), expected_ids, "{} lists priya's leads", d.label);
        for l in d.leads() {
            assert_eq!(
                Some(&l.version),
                expected.get(&l.id.to_string()),
                "{}: lead {} at the server's version",
                d.label,
                l.id
            );
        }
        for lead in &away {
            assert!(
                !d.lead_ids().contains(lead),
                "{}: a reassigned lead left the list",
                d.label
            );
        }
        for lead in &incoming {
            assert!(
                d.lead_ids().contains(lead),
                "{}: a lead given to priya arrived",
                d.label
            );
        }
        for lead in &keep {
            assert_eq!(
                d.calls_on(lead),
                server_calls_on(&server, lead),
                "{}: call history of {lead}",
                d.label
            );
        }
    }
    let leads_a = serde_json::to_value(a.leads()).unwrap();
    let leads_b = serde_json::to_value(b.leads()).unwrap();
    assert_eq!(
        leads_a, leads_b,
        "both devices hold the same leads, field for field"
    );
}

#[test]
fn processes_writing_the_cache_at_once_all_succeed() {
    // The desktop (or `sync --watch`) and a script's `leadline log-call` share one cache file: a write
    // must wait for the other process's transaction, never fail with "database is locked".
    let server = DemoServer::start();
    let device = Device::login("device", &server.url, DEMO_USER);
    let leads = first_leads(&server, DEMO_USER, 4);
    let baseline = server_calls_by(&server, DEMO_USER);
    let results: Vec<(Vec<String>, usize)> = thread::scope(|s| {
        let loggers: Vec<_> = (0..3)
            .map(|t| {
                let (device, leads) = (&device, &leads);
                s.spawn(move || log_calls(device, leads, t * 100, 3, 3))
            })
            .collect();
        let syncer = s.spawn(|| {
            for _ in 0..2 {
                let out = device.sync();
                assert!(
                    out.status.success(),
                    "a sync beside log-call failed: {}",
                    stderr(&out)
                );
            }
        });
        syncer.join().expect("sync thread");
        loggers
            .into_iter()
            .map(|h| h.join().expect("log-call thread"))
            .collect()
    });
    device.sync_ok();
    let logged: BTreeSet<String> = results.iter().flat_map(|(ids, _)| ids.iter().cloned()).collect();
    let follow_ups = results.iter().map(|(_, f)| f).sum();
    assert_exactly_once(
        &server,
        &[&device],
        DEMO_USER,
        &baseline,
        &logged,
        follow_ups,
        &leads,
    );
}

/// A data protection officer's account, made the way an operator makes the first admin
/// (`leadline-server user add` on the server's machine), signed in on a desktop of its own.
fn admin_device(server: &DemoServer) -> Device {
    use std::io::Write;
    let mut child =
        std::process::Command::new(leadline_e2e::built_binary("leadline-server", "leadline-server"))
            .args([
                "user",
                "add",
                "--username",
                "dpo",
                "--name",
                "Data Protection Officer",
            ])
            .args(["--role", "admin", "--password-stdin", "--data-dir"])
            .arg(server.data_dir.path())
            .env("LEADLINE_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{DEMO_PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "user add: {}", stderr(&out));
    Device::login("dpo", &server.url, "dpo")
}

#[test]
fn a_lead_erased_on_request_leaves_every_desktop_at_its_next_sync() {
    let server = DemoServer::start();
    let desk = Device::login("desk", &server.url, DEMO_USER);
    let laptop = Device::login("laptop", &server.url, DEMO_USER);
    let dpo = admin_device(&server);
    let [lead, other]: [String; 2] = first_leads(&server, DEMO_USER, 2).try_into().unwrap();
    let shown: serde_json::Value =
        serde_json::from_str(&desk.ok(&["lead", "show", &lead, "--json"])).unwrap();
    let phone = shown["lead"]["phone"]
        .as_str()
        .or_else(|| shown["phone"].as_str())
        .unwrap_or_else(|| panic!("no phone in {shown}"))
        .to_owned();
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();

    // The export holds the person's data, decrypted; a telecaller may not ask for it.
    let export: serde_json::Value =
        serde_json::from_str(&dpo.ok(&["privacy", "export", "--phone", &phone])).unwrap();
    assert!(
        export.to_string().contains(&digits),
        "the export lacks the phone: {export}"
    );
    let refused = desk.run(&["privacy", "erase", "--lead-id", &lead, "--reason", "TICKET-42"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("only an admin"), "{}", stderr(&refused));

    // The desk logs a call on the lead without syncing; then the erasure happens on the server.
    let unsent = desk.log_call(&lead, 1);
    let kept = desk.log_call(&other, 2);
    assert_eq!(desk.pending(), 2);
    let erased = dpo.ok(&["privacy", "erase", "--lead-id", &lead, "--reason", "TICKET-42"]);
    let outcome: serde_json::Value = serde_json::from_str(erased.lines().next().unwrap()).unwrap();
    assert_eq!(outcome["lead_id"], lead.as_str());
    assert_eq!(outcome["already_erased"], false);

    // Both desktops drop the lead at their next sync, the one with the unsent call too; the other lead's
    // call goes through as usual. The call on the erased lead is refused by the server and stays listed
    // as refused on the desk (its time and disposition count for the caller), without its notes.
    for (device, refused) in [(&laptop, 0), (&desk, 1)] {
        device.sync_ok();
        assert!(
            !device.lead_ids().contains(&lead),
            "{}: the erased lead is still cached",
            device.label
        );
        assert!(
            !device.run(&["lead", "show", &lead]).status.success(),
            "{}",
            device.label
        );
        let csv = device.path().join("leads.csv");
        device.ok(&["export", "leads", "--out", csv.to_str().unwrap()]);
        let csv = std::fs::read_to_string(&csv).unwrap();
        assert!(
            !csv.contains(&digits),
            "{}: the phone is in the exported cache",
            device.label
        );
        assert_eq!(
            device.counts(),
            (0, refused, 0),
            "{}: pending, refused, clashing",
            device.label
        );
    }
    let rejected = desk.ok(&["rejected", "--json"]);
    assert!(
        rejected.contains(&unsent),
        "the refused call is not listed: {rejected}"
    );
    assert!(
        !rejected.contains("desk call 1"),
        "the refused call keeps its notes: {rejected}"
    );
    assert_eq!(
        server_calls_on(&server, &other)
            .into_iter()
            .filter(|c| *c == kept)
            .count(),
        1
    );
    assert!(
        !server_calls_on(&server, &lead).contains(&unsent),
        "a call logged on an erased lead after its erasure reached the server"
    );

    // The server keeps no phone for it; a second erasure changes nothing.
    let again = dpo.ok(&["privacy", "erase", "--lead-id", &lead, "--reason", "TICKET-42"]);
    let outcome: serde_json::Value = serde_json::from_str(again.lines().next().unwrap()).unwrap();
    assert_eq!(outcome["already_erased"], true);
    let export = dpo.ok(&["privacy", "export", "--lead-id", &lead]);
    assert!(
        !export.contains(&digits),
        "the export after erasure holds the phone: {export}"
    );
}
