//! The pieces the sync fault tests share: a device (a `leadline` data dir signed in through a proxy) driven
//! only through the CLI, and the server's side read from its SQLite file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use leadline_e2e::{DEMO_PASSWORD, DemoServer, built_binary};
use leadline_model::{CallDirection, CallLog, FollowUpSpec, Id, Lead, new_id};

/// Client requests give up after this many seconds in these tests (`LEADLINE_HTTP_TIMEOUT_SECS`): a cut
/// connection must not stall a test for the default 30 s.
pub const HTTP_TIMEOUT_SECS: &str = "5";

/// One installation of the client: its own data dir and session.
pub struct Device {
    pub dir: tempfile::TempDir,
    pub label: &'static str,
}

impl Device {
    /// A fresh device signed in as `user` on `url` (a proxy's, usually), then synced once so it has the
    /// leads and the disposition catalogue and can work offline.
    pub fn login(label: &'static str, url: &str, user: &str) -> Self {
        let device = Self {
            dir: tempfile::tempdir().expect("client data dir"),
            label,
        };
        let out = device.run_with_stdin(
            &["login", "--server", url, "--user", user, "--password-stdin"],
            &format!("{DEMO_PASSWORD}\n"),
        );
        ok(label, &out);
        device.sync_ok();
        device
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `leadline --data-dir DIR <args>`, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(built_binary("leadline", "leadline-cli"));
        cmd.arg("--data-dir")
            .arg(self.path())
            .args(args)
            .env("LEADLINE_HTTP_TIMEOUT_SECS", HTTP_TIMEOUT_SECS)
            .env("LEADLINE_LOG", "warn")
            // The cache key in the data dir, never in the developer's OS keyring.
            .env(leadline_store::key::KEY_STORE_ENV, "file")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run leadline")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("start leadline");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("leadline output")
    }

    /// Runs and expects success; stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        ok(self.label, &self.run(args))
    }

    pub fn sync(&self) -> Output {
        self.run(&["sync"])
    }

    pub fn sync_ok(&self) -> String {
        ok(self.label, &self.sync())
    }

    /// `sync` as a child process (to kill it, or to run beside something else).
    pub fn spawn_sync(&self) -> Child {
        self.command(&["sync"]).spawn().expect("start leadline sync")
    }

    /// Logs a call on `lead` (offline: it only writes the cache); every fourth one schedules a follow-up.
    /// The new call log's id.
    pub fn log_call(&self, lead: &str, n: usize) -> String {
        self.log_call_lasting(lead, n, n % 7 * 30)
    }

    /// [`Device::log_call`] with a talk time: the call started that many seconds before now.
    pub fn log_call_lasting(&self, lead: &str, n: usize, seconds: usize) -> String {
        let notes = format!("{} call {n}", self.label);
        let due = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
        let duration = seconds.to_string();
        let mut args = vec![
            "log-call",
            "--lead",
            lead,
            "--notes",
            &notes,
            "--duration",
            &duration,
        ];
        if n.is_multiple_of(4) {
            args.extend_from_slice(&["--disposition", "callback_requested", "--follow-up", &due]);
        } else {
            args.extend_from_slice(&["--disposition", "not_interested"]);
        }
        let out = self.ok(&args);
        let id = out.trim().to_owned();
        assert!(
            id.len() == 36 && !id.contains('\n'),
            "{}: log-call prints the call log id on one line, got {out:?}",
            self.label
        );
        id
    }

    /// Logs `n` calls on `leads` (round robin, numbered from `from`) through the cache's own API in this
    /// process — the same transaction and outbox row as `leadline log-call`, without paying a process
    /// start and the phone metadata load (about a second per call in a debug build) for each. Every
    /// fourth asks for a follow-up. Their ids, and how many asked for a follow-up.
    pub fn log_calls_in_process(&self, leads: &[String], from: usize, n: usize) -> (Vec<String>, usize) {
        let key = leadline_store::key::load_or_create(self.path(), leadline_store::KeyStorage::File)
            .expect("the cache key in the data dir");
        let mut store =
            leadline_store::Store::open(&self.path().join("leadline.sqlite3"), &key.key).expect("open cache");
        let me = store.me().expect("signed-in user");
        let device_id = store.device_id().expect("device id");
        let mut ids = Vec::with_capacity(n);
        let mut follow_ups = 0;
        for i in from..from + n {
            let lead: Id = leads[i % leads.len()].parse().expect("lead id");
            let seconds = i64::try_from(i % 7 * 30).expect("duration");
            let ended = chrono::Utc::now();
            let started = ended - chrono::Duration::seconds(seconds);
            let follow_up = i.is_multiple_of(4).then(|| FollowUpSpec {
                due_at: ended + chrono::Duration::days(2),
                note: Some(format!("{} follow-up {i}", self.label)),
            });
            follow_ups += usize::from(follow_up.is_some());
            let call = CallLog {
                id: new_id(),
                lead_id: lead,
                telecaller_id: me.id,
                direction: CallDirection::Outbound,
                started_at: started,
                answered_at: (seconds > 0).then_some(started),
                ended_at: Some(ended),
                duration_s: seconds,
                disposition: if follow_up.is_some() {
                    "callback_requested"
                } else {
                    "not_interested"
                }
                .into(),
                outcome_tags: Vec::new(),
                notes: format!("{} call {i}", self.label),
                follow_up,
                recording_url: None,
                provider_call_id: None,
                device_id: Some(device_id.clone()),
                quality: None,
            };
            store.log_call(&call).expect("log a call in the cache");
            ids.push(call.id.to_string());
        }
        (ids, follow_ups)
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status --json is JSON")
    }

    /// (pending, rejected, conflicts) from `status --json`.
    pub fn counts(&self) -> (u64, u64, u64) {
        let s = self.status();
        let n = |k: &str| {
            s[k].as_u64()
                .unwrap_or_else(|| panic!("{}: status --json has no number {k}: {s}", self.label))
        };
        (n("pending"), n("rejected"), n("conflicts"))
    }

    pub fn pending(&self) -> u64 {
        self.counts().0
    }

    pub fn leads(&self) -> Vec<Lead> {
        serde_json::from_str(&self.ok(&["leads", "--json"])).expect("leads --json is a JSON array of leads")
    }

    pub fn lead_ids(&self) -> BTreeSet<String> {
        let leads = self.leads();
        let ids: BTreeSet<String> = leads.iter().map(|l| l.id.to_string()).collect();
        assert_eq!(ids.len(), leads.len(), "{}: no lead is listed twice", self.label);
        ids
    }

    /// Ids of the call logs this device holds for `lead` (`lead show --json`).
    pub fn calls_on(&self, lead: &str) -> BTreeSet<String> {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["lead", "show", lead, "--json"])).expect("lead show --json");
        let calls = v["calls"].as_array().expect("lead show --json has calls");
        let ids: BTreeSet<String> = calls
            .iter()
            .map(|c| c["id"].as_str().expect("call id").to_owned())
            .collect();
        assert_eq!(
            ids.len(),
            calls.len(),
            "{}: a call log is listed twice on {lead}",
            self.label
        );
        ids
    }
}

/// Success, or a failure that shows what the CLI said.
pub fn ok(label: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{label}: leadline failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn strings(server: &DemoServer, sql: &str, param: &str) -> Vec<String> {
    let conn = server.db();
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    stmt.query_map([param], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

pub fn user_id(server: &DemoServer, username: &str) -> String {
    strings(server, "SELECT id FROM users WHERE username = ?1", username)
        .pop()
        .unwrap_or_else(|| panic!("no user {username} on the server"))
}

/// Ids of every call log the server holds by `username`.
pub fn server_calls_by(server: &DemoServer, username: &str) -> BTreeSet<String> {
    let ids = strings(
        server,
        "SELECT id FROM call_logs WHERE telecaller_id = (SELECT id FROM users WHERE username = ?1)",
        username,
    );
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "the server holds a call log id twice");
    set
}

/// Ids of the call logs the server holds on `lead`.
pub fn server_calls_on(server: &DemoServer, lead: &str) -> BTreeSet<String> {
    strings(server, "SELECT id FROM call_logs WHERE lead_id = ?1", lead)
        .into_iter()
        .collect()
}

/// How many follow-ups the server holds that were made by these call logs.
pub fn server_follow_ups_of(server: &DemoServer, calls: &BTreeSet<String>) -> usize {
    let conn = server.db();
    let mut stmt = conn
        .prepare("SELECT call_log_id FROM follow_ups WHERE call_log_id IS NOT NULL")
        .expect("prepare");
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    ids.iter().filter(|id| calls.contains(*id)).count()
}

/// Mutations the server recorded as applied from `device_id`.
pub fn server_applied_from(server: &DemoServer, device_id: &str) -> u64 {
    let n: i64 = server
        .db()
        .query_row(
            "SELECT count(*) FROM applied_mutations WHERE device_id = ?1",
            [device_id],
            |r| r.get(0),
        )
        .expect("count applied mutations");
    u64::try_from(n).expect("count")
}

/// The device id the server recorded for a call log.
pub fn server_device_of_call(server: &DemoServer, call: &str) -> String {
    strings(server, "SELECT device_id FROM call_logs WHERE id = ?1", call)
        .pop()
        .unwrap_or_else(|| panic!("call log {call} is not on the server"))
}

/// The server's lead versions of the leads assigned to `username`.
pub fn server_lead_versions(server: &DemoServer, username: &str) -> BTreeMap<String, i64> {
    let conn = server.db();
    let mut stmt = conn
        .prepare(
            "SELECT id, version FROM leads WHERE assigned_to = (SELECT id FROM users WHERE username = ?1)",
        )
        .expect("prepare");
    stmt.query_map([username], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Asserts that the calls logged on `device` reached the server exactly once: the calls by `user` the
/// server gained since `baseline` are exactly `logged`, each follow-up they asked for exists once, and the
/// device's local history of every lead in `leads` equals the server's.
pub fn assert_exactly_once(
    server: &DemoServer,
    devices: &[&Device],
    user: &str,
    baseline: &BTreeSet<String>,
    logged: &BTreeSet<String>,
    follow_ups: usize,
    leads: &[String],
) {
    let now = server_calls_by(server, user);
    assert!(baseline.is_subset(&now), "call logs vanished from the server");
    let new: BTreeSet<String> = now.difference(baseline).cloned().collect();
    let missing: Vec<_> = logged.difference(&new).collect();
    let extra: Vec<_> = new.difference(logged).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the server's new call logs by {user} are not exactly the {} logged: {} missing (e.g. {:?}), {} \
         extra (e.g. {:?})",
        logged.len(),
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    assert_eq!(
        server_follow_ups_of(server, logged),
        follow_ups,
        "each follow-up asked for by a logged call exists exactly once on the server"
    );
    for d in devices {
        let (pending, rejected, conflicts) = d.counts();
        assert_eq!(
            (pending, rejected),
            (0, 0),
            "{}: nothing pending or refused after the final sync (conflicts: {conflicts})",
            d.label
        );
        for lead in leads {
            assert_eq!(
                d.calls_on(lead),
                server_calls_on(server, lead),
                "{}: the local call history of lead {lead} equals the server's",
                d.label
            );
        }
    }
}

/// A small deterministic generator (splitmix64) for fault offsets and delays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}
