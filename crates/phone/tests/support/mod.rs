//! Test support: a real kamailio registrar on a free 127.0.0.1 port, and event helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use leadline_phone::{PhoneConfig, PhoneEvent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

pub const KAMAILIO: &str = "/usr/sbin/kamailio";
pub const KAMAILIO_MODULES: &str = "/usr/lib/x86_64-linux-gnu/kamailio/modules";
pub const DOMAIN: &str = "leadline.test";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cr3t-pw";
/// The far end's account on the test proxy (a browser softphone, see [`farend`]).
pub const FAR_USER: &str = "farend";
pub const FAR_PASSWORD: &str = "far-s3cr3t";
/// A third account, the target of transfers.
pub const THIRD_USER: &str = "carol";
pub const THIRD_PASSWORD: &str = "th1rd-s3cr3t";

pub mod farend;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "leadline_phone=debug".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// The workspace's `tests/fixtures`, found upwards from the crate that includes this module (the phone's
/// tests, the bench, the end-to-end tests).
pub fn fixtures_dir() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    loop {
        let candidate = dir.join("tests/fixtures");
        if candidate.join("kamailio").is_dir() {
            return candidate;
        }
        assert!(
            dir.pop(),
            "no tests/fixtures/kamailio above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

fn fixture() -> PathBuf {
    fixtures_dir().join("kamailio/kamailio.cfg")
}

pub struct KamailioOptions {
    pub port: u16,
    pub max_expires: u32,
    /// Also serve wss:// on a second port, with a fresh self-signed certificate for 127.0.0.1.
    pub tls: bool,
    /// The far end's SIP user ([`FAR_USER`] unless a test needs a phone number there, as a customer's call
    /// from the PSTN carries).
    pub far_user: String,
}

impl Default for KamailioOptions {
    fn default() -> Self {
        Self {
            port: free_port(),
            max_expires: 3600,
            tls: false,
            far_user: FAR_USER.to_owned(),
        }
    }
}

/// TLS side of a kamailio started with `tls: true`.
pub struct KamailioTls {
    pub port: u16,
    /// DER of the self-signed server certificate, to trust in the client.
    pub cert_der: Vec<u8>,
}

/// A kamailio process in the foreground with a private runtime dir; SIGTERM'd on drop.
pub struct Kamailio {
    child: Option<Child>,
    pub port: u16,
    pub tls: Option<KamailioTls>,
    dir: tempfile::TempDir,
}

impl Kamailio {
    pub async fn start() -> Self {
        Self::start_with(KamailioOptions::default()).await
    }

    pub async fn start_with(opts: KamailioOptions) -> Self {
        assert!(
            Path::new(KAMAILIO).exists() && Path::new(KAMAILIO_MODULES).join("websocket.so").exists(),
            "kamailio is required for these tests: install the Debian packages `kamailio` and \
             `kamailio-websocket-modules` ({KAMAILIO}, {KAMAILIO_MODULES}/websocket.so)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(dir.path().join("kamailio.log")).expect("log file");
        let mut command = Command::new(KAMAILIO);
        let tls = opts.tls.then(|| {
            let certified =
                rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&cert, certified.cert.pem()).expect("write cert");
            std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
            let port = free_port();
            command
                .args(["-A", "WITH_TLS", "-l", &format!("tls:127.0.0.1:{port}")])
                .args(["-A", &format!("TLS_CERT=\"{}\"", cert.display())])
                .args(["-A", &format!("TLS_KEY=\"{}\"", key.display())]);
            KamailioTls {
                port,
                cert_der: certified.cert.der().to_vec(),
            }
        });
        let child = command
            .arg("-f")
            .arg(fixture())
            .args(["-DD", "-E", "-m", "32", "-M", "4", "-L", KAMAILIO_MODULES])
            .arg("-Y")
            .arg(dir.path())
            .arg("-P")
            .arg(dir.path().join("kamailio.pid"))
            .arg("-w")
            .arg(dir.path())
            .args(["-l", &format!("tcp:127.0.0.1:{}", opts.port)])
            .args(["-A", &format!("SIP_USER=\"{USER}\"")])
            .args(["-A", &format!("SIP_PASSWORD=\"{PASSWORD}\"")])
            .args(["-A", &format!("FAR_USER=\"{}\"", opts.far_user)])
            .args(["-A", &format!("FAR_PASSWORD=\"{FAR_PASSWORD}\"")])
            .args(["-A", &format!("THIRD_USER=\"{THIRD_USER}\"")])
            .args(["-A", &format!("THIRD_PASSWORD=\"{THIRD_PASSWORD}\"")])
            .args(["-A", &format!("MAX_EXPIRES={}", opts.max_expires)])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn kamailio");
        let mut kam = Self {
            child: Some(child),
            port: opts.port,
            tls,
            dir,
        };
        kam.wait_ready().await;
        kam
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("kamailio exited during start-up ({status}):\n{}", self.log());
            }
            if self.rpc_raw("core.version").await.is_ok() {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "kamailio did not answer JSON-RPC on port {} in 15 s:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    pub fn wss_url(&self) -> String {
        format!(
            "wss://127.0.0.1:{}/",
            self.tls.as_ref().expect("started with tls").port
        )
    }

    async fn rpc_raw(&self, method: &str) -> std::io::Result<String> {
        let body = format!(r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#);
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let request = format!(
            "POST /RPC HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
            .await
            .map_err(|_| std::io::Error::other("RPC timed out"))??;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no HTTP body"))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(std::io::Error::other(format!("RPC failed: {head}")));
        }
        Ok(body.to_owned())
    }

    /// JSON-RPC call over kamailio's xhttp (jsonrpcs module); returns `result`.
    pub async fn rpc(&self, method: &str) -> serde_json::Value {
        let body = self
            .rpc_raw(method)
            .await
            .unwrap_or_else(|e| panic!("RPC {method}: {e}\n{}", self.log()));
        let json: serde_json::Value = serde_json::from_str(&body).expect("RPC answer is JSON");
        json["result"].clone()
    }

    /// Contact URIs kamailio's usrloc holds for `user` (from `ul.dump`).
    pub async fn contacts_of(&self, user: &str) -> Vec<String> {
        let dump = self.rpc("ul.dump").await;
        let mut out = Vec::new();
        for domain in dump["Domains"].as_array().into_iter().flatten() {
            for aor in domain["Domain"]["AoRs"].as_array().into_iter().flatten() {
                if aor["Info"]["AoR"].as_str() != Some(user) {
                    continue;
                }
                for contact in aor["Info"]["Contacts"].as_array().into_iter().flatten() {
                    if let Some(address) = contact["Contact"]["Address"].as_str() {
                        out.push(address.to_owned());
                    }
                }
            }
        }
        out
    }

    /// SIGTERM and wait (kamailio's children follow the main process), SIGKILL after 5 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..100 {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Config for the kamailio account with fast timers for tests.
pub fn config(ws_url: &str, password: &str) -> PhoneConfig {
    let mut cfg = PhoneConfig::new(ws_url, DOMAIN, USER, password);
    cfg.display_name = Some("Test Agent".into());
    cfg.request_timeout = Duration::from_secs(3);
    cfg.connect_timeout = Duration::from_secs(3);
    cfg.retry_min = Duration::from_millis(100);
    cfg.retry_max = Duration::from_millis(500);
    cfg
}

/// Waits for the first event matching `pred`, failing with the events seen meanwhile.
pub async fn wait_for(
    rx: &mut broadcast::Receiver<PhoneEvent>,
    within: Duration,
    what: &str,
    pred: impl Fn(&PhoneEvent) -> bool,
) -> PhoneEvent {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => panic!("no event {what} within {within:?}; saw {seen:#?}"),
            Ok(Err(RecvError::Lagged(n))) => seen.push(PhoneEvent::ProtocolError(
                leadline_phone::PhoneError::Protocol(format!("(test: lagged {n} events)")),
            )),
            Ok(Err(RecvError::Closed)) => panic!("event channel closed waiting for {what}; saw {seen:#?}"),
            Ok(Ok(event)) if pred(&event) => return event,
            Ok(Ok(event)) => seen.push(event),
        }
    }
}
