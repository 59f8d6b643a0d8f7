//! The far end of a call: a browser softphone (JsSIP in headless Chromium with its fake audio device,
//! `tests/fixtures/farend`) run as a child process and driven by JSON lines.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

fn fixture() -> PathBuf {
    super::fixtures_dir().join("farend")
}

/// One browser softphone. Killed on drop.
pub struct FarEnd {
    child: Child,
    stdin: ChildStdin,
    events: Lines<BufReader<ChildStdout>>,
    /// Events read while waiting for another, in order.
    seen: Vec<Value>,
    tone_hz: f64,
}

impl FarEnd {
    /// Starts Chromium with the far end's page; answers once the page is loaded.
    pub async fn launch() -> Self {
        let dir = fixture();
        assert!(
            dir.join("node_modules/jssip").exists() && dir.join("node_modules/playwright-core").exists(),
            "the far end's npm packages are missing: run `npm ci` in {} (scripts/setup.sh does)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("farend.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node (the far end's driver)");
        let stdin = child.stdin.take().expect("stdin");
        let events = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut far = Self {
            child,
            stdin,
            events,
            seen: Vec::new(),
            tone_hz: 0.0,
        };
        let ready = far.expect("ready", Duration::from_secs(60)).await;
        far.tone_hz = ready["toneHz"].as_f64().expect("the far end says its tone");
        far
    }

    /// Sends one command (`{"cmd": …}` plus fields).
    pub async fn send(&mut self, command: Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the far end");
        self.stdin.flush().await.expect("flush");
    }

    /// Registers `user` with `password` on the proxy at `ws_url`, answering incoming calls when `auto_answer`.
    pub async fn register(&mut self, ws_url: &str, user: &str, password: &str, auto_answer: bool) {
        self.register_with(ws_url, user, password, json!({ "autoAnswer": auto_answer }))
            .await;
    }

    /// [`FarEnd::register`] with more start options (`autoAnswer`, `noTelephoneEvent`: leave RFC 4733
    /// events out of its SDP so the other side sends DTMF by SIP INFO).
    pub async fn register_with(&mut self, ws_url: &str, user: &str, password: &str, options: Value) {
        let mut start = json!({
            "cmd": "start", "wsUrl": ws_url, "uri": format!("sip:{user}@{}", super::DOMAIN),
            "password": password,
        });
        if let (Some(start), Some(options)) = (start.as_object_mut(), options.as_object()) {
            start.extend(options.clone());
        }
        self.send(start).await;
        self.expect("registered", Duration::from_secs(20)).await;
    }

    /// The frequency of the fake microphone's tone (Hz).
    pub fn tone_hz(&self) -> f64 {
        self.tone_hz
    }

    /// The next event named `name` (earlier ones of other names are kept for [`FarEnd::seen`]); panics
    /// after `within`, or on an `error` or `failed` event.
    pub async fn expect(&mut self, name: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let line = tokio::time::timeout_at(deadline, self.events.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no {name:?} from the far end within {within:?}; seen {:?}",
                        self.seen
                    )
                })
                .expect("read the far end")
                .unwrap_or_else(|| panic!("the far end exited waiting for {name:?}; seen {:?}", self.seen));
            let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let kind = event["event"].as_str().unwrap_or_default().to_owned();
            if kind == name {
                return event;
            }
            assert!(
                kind != "error" && (kind != "failed" || name == "failed"),
                "the far end reported {event} waiting for {name:?}"
            );
            self.seen.push(event);
        }
    }

    /// Events received so far that no [`FarEnd::expect`] asked for.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// The far end's WebRTC statistics (`packetsSent`, `packetsReceived`, `totalAudioEnergy`, `codec`),
    /// `peakLevel`, the loudest sample heard from the other side (0 to 1), and `dominantHz`, the strongest
    /// frequency it last heard.
    pub async fn stats(&mut self) -> Value {
        self.send(json!({"cmd": "stats"})).await;
        self.expect("stats", Duration::from_secs(10)).await
    }

    pub async fn quit(mut self) {
        self.send(json!({"cmd": "quit"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}
