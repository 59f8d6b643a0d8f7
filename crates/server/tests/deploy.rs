//! The real `leadline-server` binary as an operator runs it: configuration from a file, the environment and
//! flags (every bad value reported at once, with where it came from), secrets never printed or logged,
//! HTTPS with a certificate (reloaded on SIGHUP), and the `healthcheck` command.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_leadline-server");

/// The binary with none of the server's settings inherited from the test's environment.
fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for s in leadline_server::config::SETTINGS {
        for var in s.env {
            cmd.env_remove(var);
        }
    }
    cmd.env_remove(leadline_server::config::CONFIG_ENV);
    cmd
}

/// A server process, killed when dropped (a failing test leaves nothing running).
struct Server {
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
    stderr: PathBuf,
    /// `http://127.0.0.1:PORT` or `https://…`.
    base: String,
}

impl Server {
    /// Starts `cmd` (stdout piped, stderr to `stderr`) and waits for its `listening on` line.
    fn start(mut cmd: Command, stderr: &Path) -> Server {
        let log = std::fs::File::create(stderr).unwrap();
        let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server did not start: {line:?}\n{}",
                std::fs::read_to_string(stderr).unwrap()
            );
        };
        Server {
            base: base.to_owned(),
            child: Some(child),
            stdout,
            stderr: stderr.to_owned(),
        }
    }

    fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.as_ref().unwrap().id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// SIGTERM, wait for a clean exit; answers everything it printed (stdout after the first line, and
    /// stderr).
    fn stop(mut self) -> String {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let status = self.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "exit after SIGTERM: {status}");
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        rest + &std::fs::read_to_string(&self.stderr).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_bad_value_is_reported_at_once_with_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("server.toml");
    write(
        &file,
        r#"# a configuration with a mistake on most lines
[server]
data_dir = "DATA"
colour = "blue"
cors_origins = ["https://crm.example.com", "*"]

[auth]
jwt_secrte = "a typo must not be ignored"
token_ttl_secs = 0
refresh_ttl_secs = "a month"

[exotel]
api_key = "key"
api_token = "token"
sid = "leadline1"
caller_id = "08047112233"
webhook_secret = "webhook-secret-0123456789"
public_url = "http://crm.example.in"

[sheets]
credentials = "/nonexistent/service-account.json"

[tls]
cert = "/nonexistent/cert.pem"

[exotell]
api_key = "x"
"#
        .replace("DATA", &tmp.path().join("data").display().to_string())
        .as_str(),
    );
    let out = command()
        .args(["serve", "--config"])
        .arg(&file)
        .args([
            "--listen",
            "localhost:http",
            "--trusted-proxies",
            "10.0.0.0/8,not-a-net",
        ])
        .env("LEADLINE_JWT_SECRET", "twelve bytes")
        .env("LEADLINE_LOG", "info,leadline_server=loud")
        .env("DATABASE_URL", "mysql://leadline:pw@db/leadline")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
    let f = file.display().to_string();
    for expected in [
        format!("[server] colour ({f} line 4): unknown key \"colour\""),
        format!("[server] cors_origins ({f} line 5): \"*\": a wildcard is not allowed"),
        format!("[auth] jwt_secrte ({f} line 8): unknown key \"jwt_secrte\" (did you mean \"jwt_secret\"?)"),
        format!("[auth] token_ttl_secs ({f} line 9): must be a lifetime of at least 1 second, got 0"),
        format!("[auth] refresh_ttl_secs ({f} line 10): expected a whole number of seconds, got \"a month\""),
        format!("[exotel] public_url ({f} line 18): not an https URL"),
        format!("[sheets] credentials ({f} line 21): cannot read /nonexistent/service-account.json"),
        format!("[tls] cert ({f} line 24): cannot read /nonexistent/cert.pem"),
        format!("[tls] key ({f} line 24): missing"),
        format!("[exotell] ({f} line 26): unknown section \"exotell\" (did you mean \"exotel\"?)"),
        "LEADLINE_JWT_SECRET: must be at least 32 bytes, got 12".to_owned(),
        "LEADLINE_LOG: not a valid log filter".to_owned(),
        "DATABASE_URL: must start with postgres://".to_owned(),
        "--listen: expected an address and port".to_owned(),
        "--trusted-proxies: \"not-a-net\" is not an IP address or CIDR block".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(stderr.contains("the configuration has 15 problems"), "{stderr}");
    // The data directory is not even created: nothing starts on a bad configuration.
    assert!(!tmp.path().join("data").exists());

    // A syntax error names its line.
    write(&file, "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = /var/lib\n");
    let out = command().args(["serve", "--config"]).arg(&file).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 3: not valid TOML"), "{stderr}");

    // A missing file is an error, not an empty configuration; LEADLINE_CONFIG names it too.
    let out = command()
        .arg("serve")
        .env("LEADLINE_CONFIG", tmp.path().join("nope.toml"))
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("nope.toml: cannot read the configuration file"),
        "{stderr}"
    );
}

#[test]
fn flags_override_the_environment_which_overrides_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("server.toml");
    write(
        &file,
        "[server]\nlisten = \"127.0.0.1:7001\"\ndata_dir = \"/srv/file\"\n\n[auth]\ntoken_ttl_secs = 600\n\
         refresh_ttl_secs = 86400\n",
    );
    let out = command()
        .args(["serve", "--check-config", "--config"])
        .arg(&file)
        .args(["--listen", "127.0.0.1:7003"])
        .env("LEADLINE_LISTEN", "127.0.0.1:7002")
        .env("LEADLINE_TOKEN_TTL_SECS", "300")
        .env("LEADLINE_REFRESH_TTL_SEC", "60")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // A misspelt variable is named, not silently ignored.
    assert!(
        stderr.contains(
            "warning: environment variable LEADLINE_REFRESH_TTL_SEC is not a setting and is ignored \
             (did you mean LEADLINE_REFRESH_TTL_SECS?)"
        ),
        "{stderr}"
    );
    let f = file.display();
    for line in [
        "listen = \"127.0.0.1:7003\"  # flag --listen".to_owned(),
        format!("data_dir = \"/srv/file\"  # {f} line 3"),
        "token_ttl_secs = 300  # environment LEADLINE_TOKEN_TTL_SECS".to_owned(),
        format!("refresh_ttl_secs = 86400  # {f} line 7"),
        "filter = \"info\"  # default".to_owned(),
        "# jwt_secret is not set".to_owned(),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing {line:?} in:\n{stdout}"
        );
    }
}

/// A random, recognisable secret.
fn secret(label: &str) -> String {
    let mut raw = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    format!(
        "{label}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn pii_key() -> String {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_output_logs_or_config_check() {
    let tmp = tempfile::tempdir().unwrap();
    let jwt = secret("envjwt");
    let exotel_token = secret("envtoken");
    let exotel_key = secret("filekey");
    let webhook = secret("filehook");
    let flag_exotel_key = secret("flagkey");
    let sentry_key = secret("sentry").to_lowercase().replace(['-', '_'], "");
    let db_password = secret("dbpw");
    let (pii, blind) = (pii_key(), pii_key());
    let file = tmp.path().join("server.toml");
    write(
        &file,
        &format!(
            r#"[server]
listen = "127.0.0.1:0"
data_dir = "{data}"

[exotel]
api_key = "{exotel_key}"
sid = "leadline1"
caller_id = "08047112233"
base_url = "http://127.0.0.1:9"
webhook_secret = "{webhook}"
public_url = "https://crm.example.in"

[log]
filter = "debug"
"#,
            data = tmp.path().join("data").display()
        ),
    );
    let secrets = [
        jwt.as_str(),
        exotel_token.as_str(),
        exotel_key.as_str(),
        webhook.as_str(),
        sentry_key.as_str(),
        pii.as_str(),
        blind.as_str(),
    ];
    let with_secrets = |cmd: &mut Command| {
        cmd.arg("--config")
            .arg(&file)
            .env("LEADLINE_JWT_SECRET", &jwt)
            .env("LEADLINE_EXOTEL_API_TOKEN", &exotel_token)
            .env(
                "LEADLINE_SENTRY_DSN",
                format!("http://{sentry_key}@127.0.0.1:9/42"),
            )
            .env("LEADLINE_PII_KEYS", format!("k1:{pii}"))
            .env("LEADLINE_PII_BLIND_KEY", &blind);
    };

    // The check prints every setting, secrets as ***, the database URL without its password.
    let mut cmd = command();
    cmd.args(["serve", "--check-config"]);
    with_secrets(&mut cmd);
    cmd.args(["--exotel-api-key", &flag_exotel_key]).args([
        "--database-url",
        &format!("postgres://leadline:{db_password}@db:5432/leadline"),
    ]);
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for s in secrets
        .iter()
        .chain([&flag_exotel_key.as_str(), &db_password.as_str()])
    {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "{s} printed:\n{stdout}\n{stderr}"
        );
    }
    for line in [
        "jwt_secret = \"***\"  # environment LEADLINE_JWT_SECRET",
        "api_key = \"***\"  # flag --exotel-api-key",
        "api_token = \"***\"  # environment LEADLINE_EXOTEL_API_TOKEN",
        "keys = \"***\"  # environment LEADLINE_PII_KEYS",
        "sentry_dsn = \"***\"  # environment LEADLINE_SENTRY_DSN",
        "url = \"postgres://leadline:***@db:5432/leadline\"  # flag --database-url",
        "sid = \"leadline1\"",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "missing {line:?} in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("webhook_secret = \"***\"  # {} line 10", file.display())),
        "{stdout}"
    );

    // A bad value that is a secret is reported without the value.
    let out = command()
        .args(["serve", "--config"])
        .arg(&file)
        .env("LEADLINE_JWT_SECRET", "short-secret-abc")
        .env("LEADLINE_EXOTEL_API_TOKEN", &exotel_token)
        .env("LEADLINE_EXOTEL_WEBHOOK_SECRET", "bad secret with spaces!")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("LEADLINE_JWT_SECRET: must be at least 32 bytes, got 16"),
        "{stderr}"
    );
    assert!(
        stderr.contains("LEADLINE_EXOTEL_WEBHOOK_SECRET: must be at least 16 characters"),
        "{stderr}"
    );
    for s in ["short-secret-abc", "bad secret with spaces!"] {
        assert!(
            !stderr.contains(s) && !stdout.contains(s),
            "{s} printed:\n{stderr}"
        );
    }

    // The server at debug level, asked things that touch every secret: sign-in (JWT), the webhook (its
    // secret is in the path), metrics and health.
    let mut cmd = command();
    cmd.arg("serve");
    with_secrets(&mut cmd);
    let server = Server::start(cmd, &tmp.path().join("serve.log"));
    let http = reqwest::Client::new();
    let base = server.base.clone();
    for path in ["/healthz", "/readyz", "/metrics"] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "nobody", "password": jwt}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = http
        .post(format!("{base}/api/v1/webhooks/exotel/status/{webhook}"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let printed = server.stop();
    assert!(
        printed.contains("\"level\":\"DEBUG\""),
        "the log ran at debug level:\n{printed}"
    );
    assert!(printed.contains("/api/v1/auth/login"), "{printed}");
    for s in secrets {
        assert!(!printed.contains(s), "{s} in the server's output:\n{printed}");
    }
}

/// A self-signed certificate for localhost and 127.0.0.1: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn https_client(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_reloaded_on_sighup() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let seeded = command()
        .args(["demo", "--seed", "3", "--data-dir"])
        .arg(&data)
        .env("LEADLINE_LOG", "warn")
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{:?}", text(&seeded));

    let (cert_pem, key_pem) = self_signed();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    write(&cert, &cert_pem);
    write(&key, &key_pem);
    let file = tmp.path().join("server.toml");
    write(
        &file,
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            data.display(),
            cert.display(),
            key.display()
        ),
    );
    let mut cmd = command();
    cmd.args(["serve", "--config"])
        .arg(&file)
        .env("LEADLINE_LOG", "info");
    let server = Server::start(cmd, &tmp.path().join("serve.log"));
    let port = server.port();
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);
    let base = format!("https://localhost:{port}");

    // HTTPS, trusting only the self-signed certificate.
    let client = https_client(&cert_pem);
    let res = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let login: leadline_model::LoginResponse = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "priya", "password": "leadline-demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The event socket over TLS (wss).
    let tls = tokio_rustls::TlsConnector::from(client_tls_config(&cert_pem));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let stream = tls
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("wss://localhost:{port}/api/v1/events"),
    )
    .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", login.access_token).parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::client_async(request, stream).await.unwrap();
    assert_eq!(response.status(), 101);
    socket.close(None).await.unwrap();

    // An untrusting client, and plain HTTP on the TLS port, fail; the server goes on.
    let strict = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let err = strict.get(format!("{base}/healthz")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let answer = plain.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    assert!(answer.is_err(), "plain HTTP was answered: {answer:?}");
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The healthcheck command speaks HTTPS too (with --insecure for a self-signed certificate).
    let ok = command()
        .args(["healthcheck", "--insecure", "--url", &format!("{base}/healthz")])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{:?}", text(&ok));
    let refused = command()
        .args(["healthcheck", "--url", &format!("{base}/healthz")])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{:?}", text(&refused));

    // SIGHUP with a broken new key keeps the old certificate; with a new pair, new handshakes use it.
    write(&key, "not a key\n");
    server.signal(nix::sys::signal::Signal::SIGHUP);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        https_client(&cert_pem)
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (new_cert, new_key) = self_signed();
    write(&cert, &new_cert);
    write(&key, &new_key);
    server.signal(nix::sys::signal::Signal::SIGHUP);
    let started = Instant::now();
    loop {
        let res = https_client(&new_cert)
            .get(format!("{base}/healthz"))
            .send()
            .await;
        if res.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        https_client(&cert_pem)
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
    let printed = server.stop();
    assert!(
        printed.contains("TLS certificate not reloaded; the old one stays"),
        "{printed}"
    );
    assert!(printed.contains("reloaded the TLS certificate"), "{printed}");
}

fn client_tls_config(cert_pem: &str) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
        .unwrap();
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

#[test]
fn bad_certificates_are_start_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert_pem, key_pem) = self_signed();
    let (_, other_key) = self_signed();
    let cert = tmp.path().join("cert.pem");
    let key = tmp.path().join("key.pem");
    let other = tmp.path().join("other-key.pem");
    let garbage = tmp.path().join("garbage.pem");
    write(&cert, &cert_pem);
    write(&key, &key_pem);
    write(&other, &other_key);
    write(&garbage, "hello\n");
    let run = |cert: &Path, key: &Path| {
        let out = command()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(tmp.path().join("data"))
            .arg("--tls-cert")
            .arg(cert)
            .env("LEADLINE_TLS_KEY", key)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
        stderr
    };
    let e = run(&cert, &other);
    assert!(
        e.contains(&format!(
            "--tls-cert: the private key {} does not belong to the certificate {}",
            other.display(),
            cert.display()
        )),
        "{e}"
    );
    let e = run(&garbage, &key);
    assert!(
        e.contains(&format!("{} holds no PEM certificate", garbage.display())),
        "{e}"
    );
    let e = run(&cert, &garbage);
    assert!(
        e.contains(&format!(
            "cannot read the private key {}: no PEM private key",
            garbage.display()
        )),
        "{e}"
    );
    let e = run(&tmp.path().join("missing.pem"), &key);
    assert!(
        e.contains("--tls-cert: cannot read") && e.contains("missing.pem"),
        "{e}"
    );
    let e = run(&cert, tmp.path());
    assert!(
        e.contains("LEADLINE_TLS_KEY:") && e.contains("is a directory"),
        "{e}"
    );
}

#[test]
fn healthcheck_exits_0_only_for_a_healthy_server() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .env("LEADLINE_LOG", "warn");
    let server = Server::start(cmd, &tmp.path().join("serve.log"));
    let check = |url: &str| {
        let out = command()
            .args(["healthcheck", "--timeout-secs", "5", "--url", url])
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };
    let (code, (stdout, _)) = check(&format!("{}/healthz", server.base));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("200"), "{stdout}");
    let (code, (_, stderr)) = check(&format!("{}/no-such-page", server.base));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("404"), "{stderr}");
    let port = server.port();
    server.stop();
    let (code, (_, stderr)) = check(&format!("http://127.0.0.1:{port}/healthz"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unhealthy"), "{stderr}");
    let (code, _) = check("not a url");
    assert_eq!(code, Some(1));
}

/// `--updates-dir` (or `LEADLINE_UPDATES_DIR`, or `[updates] dir`): a directory, or a clear refusal.
#[test]
fn the_updates_directory_must_be_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let missing = tmp.path().join("no-such-dir");
    let out = command()
        .args(["serve", "--check-config", "--data-dir"])
        .arg(&data)
        .arg("--updates-dir")
        .arg(&missing)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("--updates-dir") && stderr.contains("no-such-dir is not a directory"),
        "{stderr}"
    );

    let out = command()
        .args(["serve", "--check-config", "--data-dir"])
        .arg(&data)
        .env("LEADLINE_UPDATES_DIR", tmp.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = format!(
        "dir = \"{}\"  # environment LEADLINE_UPDATES_DIR",
        tmp.path().display()
    );
    assert!(
        stdout.lines().any(|l| l.starts_with(&line)),
        "missing {line:?} in:\n{stdout}"
    );
}

#[test]
fn retention_settings_are_checked_and_serve_runs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("server.toml");
    write(
        &file,
        "[retention]\ncalls_max_age = \"six months\"\nevery_secs = 30\narchived_leads_max_age = \"2y\"\n",
    );
    let out = command()
        .args(["serve", "--check-config", "--config"])
        .arg(&file)
        .env("LEADLINE_RECORDINGS_MAX_AGE", "0d")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let f = file.display();
    for expected in [
        format!("[retention] calls_max_age ({f} line 2): \"six months\": expected a count and a unit"),
        format!("[retention] every_secs ({f} line 3): must be at least 60 seconds, got 30"),
        "LEADLINE_RECORDINGS_MAX_AGE: an age must be above zero".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(stderr.contains("the configuration has 3 problems"), "{stderr}");

    // A period with nothing to purge is a mistake, not a silent no-op.
    let out = command()
        .args(["serve", "--check-config", "--data-dir"])
        .arg(&data)
        .args(["--retention-every-secs", "3600"])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--retention-every-secs: missing: a retention period needs at least one of"),
        "{stderr}"
    );

    // Ages without a period: valid (the `retention` subcommand reads them), with a warning.
    write(&file, "[retention]\ncalls_max_age = \"1y\"\n");
    let out = command()
        .args(["serve", "--check-config", "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ages are set but every_secs is not: serve will not purge anything"),
        "{stderr}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("calls_max_age = \"1y\"  # {f} line 2")),
        "{stdout}"
    );

    // The whole policy with its period: serve starts the schedule and says so.
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .args(["--retention-every-secs", "21600", "--log", "info"])
        .env("LEADLINE_RECORDINGS_MAX_AGE", "90d");
    let server = Server::start(cmd, &tmp.path().join("stderr"));
    let output = server.stop();
    let line = output
        .lines()
        .find(|l| l.contains("retention runs inside serve"))
        .unwrap_or_else(|| panic!("no retention line in:\n{output}"));
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(entry["fields"]["every_s"], 21600, "{line}");
    let policy: serde_json::Value =
        serde_json::from_str(entry["fields"]["policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        policy,
        serde_json::json!({"calls_max_age": "12months", "recordings_max_age": "90d",
            "archived_leads_max_age": null})
    );
}

#[test]
fn maintenance_commands_read_the_servers_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("server.toml");
    write(
        &file,
        &format!(
            "[server]\ndata_dir = \"{}\"\n\n[pii]\nkeys = \"k1:{}\"\nblind_key = \"{}\"\n\n\
             [retention]\ncalls_max_age = \"30d\"\n",
            data.display(),
            pii_key(),
            pii_key()
        ),
    );
    let run = |args: &[&str]| {
        let out = command().args(args).arg("--config").arg(&file).output().unwrap();
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout, stderr)
    };
    // Seeded with the configured keys: no key file appears in the data directory.
    let (code, stdout, stderr) = run(&["demo"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(!data.join("pii-keys").exists(), "demo made its own keys");
    let db = rusqlite::Connection::open(leadline_server::db::db_path(&data)).unwrap();
    let (lead, sealed): (String, String) = db
        .query_row("SELECT id, phone FROM leads ORDER BY id LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(sealed.starts_with("v1."), "phone stored sealed: {sealed}");

    // The export decrypts with the configured keys.
    let (code, stdout, stderr) = run(&["lead-export", "--lead-id", &lead]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let export: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let phone = export.to_string();
    assert!(
        phone.contains("\"+91"),
        "no plain phone number in the export:\n{stdout}"
    );
    assert!(!phone.contains("v1."), "sealed values in the export:\n{stdout}");
    assert!(!data.join("pii-keys").exists());

    // The retention ages come from the file (a flag overrides one of them).
    let (code, stdout, stderr) = run(&["retention", "--dry-run"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let cutoff = (chrono::Utc::now() - chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        stdout.contains("would purge 0 archived call logs started before ") && stdout.contains(&cutoff),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["retention", "--dry-run", "--recordings-max-age", "7d"]);
    assert_eq!(code, Some(0));
    let week = (chrono::Utc::now() - chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    assert!(stdout.contains(&cutoff) && stdout.contains(&week), "{stdout}");

    // The backup says the configured keys are not in it; the restore check reads the data with them.
    let backups = tmp.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let (code, stdout, stderr) = run(&["backup", "--output", backups.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the PII keys in use come from the configuration"),
        "{stderr}"
    );
    let backup = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (code, stdout, stderr) = run(&["restore", "--check", backup.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("is sound"), "{stdout}");
    // Without the configuration there are no keys that can read it: refused, nothing changed.
    let out = command()
        .args(["restore", "--check", "--data-dir"])
        .arg(&data)
        .arg(&backup)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("no PII keys"), "{stderr}");

    // A bad configuration stops a maintenance command like it stops serve.
    write(&file, "[retention]\ncalls_max_age = \"soon\"\n");
    let (code, _, stderr) = run(&["retention"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("[retention] calls_max_age") && stderr.contains("expected a count and a unit"),
        "{stderr}"
    );
}

/// `leadline-server user …` / `team …` with `input` on standard input: (exit code, stdout, stderr).
fn account_command(data: &Path, args: &[&str], input: &str) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = command()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_and_the_first_accounts_are_made_on_the_servers_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = |args: &[&str], input: &str| account_command(&data, args, input);

    let (code, stdout, stderr) = run(&["team", "add", " Mumbai "], "");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("created team Mumbai"), "{stdout}");
    let (code, _, stderr) = run(&["team", "add", "Mumbai"], "");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("the team \"Mumbai\" exists already"), "{stderr}");

    let (code, stdout, stderr) = run(
        &[
            "user",
            "add",
            "--username",
            "IT.Admin",
            "--name",
            "IT Admin",
            "--role",
            "admin",
            "--generate-password",
        ],
        "",
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("created it.admin (IT Admin, admin)"), "{stdout}");
    let admin_password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_owned();
    assert_eq!(admin_password.len(), 16);
    assert!(
        admin_password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c))
    );

    // Every rule of the API holds here too, with its message.
    let supervisor = [
        "user",
        "add",
        "--username",
        "meera",
        "--name",
        "Meera Iyer",
        "--role",
        "supervisor",
    ];
    for (extra, input, expected) in [
        (&[][..], "a-good-password\n", "a supervisor needs a team"),
        (
            &["--team", "Pune"][..],
            "a-good-password\n",
            "no team \"Pune\"; create it first",
        ),
        (
            &["--team", "Mumbai"][..],
            "short\n",
            "a password has at least 10 characters",
        ),
        (&["--team", "Mumbai"][..], "\n", "no password on standard input"),
    ] {
        let mut args = supervisor.to_vec();
        args.extend_from_slice(extra);
        args.push("--password-stdin");
        let (code, stdout, stderr) = run(&args, input);
        assert_eq!(code, Some(1), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let mut args = supervisor.to_vec();
    args.extend_from_slice(&["--team", "Mumbai", "--password-stdin"]);
    let (code, stdout, stderr) = run(&args, "meera-password-1\n");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let (code, _, stderr) = run(&args, "meera-password-1\n");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("the username \"meera\" is taken"), "{stderr}");
    // Neither a password nor a way to get one: clap refuses before anything is opened.
    let (code, _, stderr) = run(
        &["user", "add", "--username", "x", "--name", "X", "--role", "admin"],
        "",
    );
    assert_eq!(code, Some(2), "{stderr}");

    // The server signs them in; the admin can then manage accounts through the API.
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data);
    let server = Server::start(cmd, &tmp.path().join("stderr"));
    let http = reqwest::Client::new();
    let login = |user: &'static str, password: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/auth/login", server.base);
        async move {
            http.post(url)
                .json(&serde_json::json!({"username": user, "password": password, "device_name": "test"}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = login("it.admin", admin_password.clone()).await;
    assert_eq!(res.status(), 200);
    let tokens: serde_json::Value = res.json().await.unwrap();
    let res = http
        .post(format!("{}/api/v1/users", server.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(
            &serde_json::json!({"username": "priya", "name": "Priya Sharma", "role": "telecaller",
            "team": "Mumbai", "password": "priya-password-1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(login("meera", "meera-password-1".into()).await.status(), 200);

    // A new password (while the server runs) signs every device of the user out.
    let (code, stdout, stderr) = run(
        &[
            "user",
            "set-password",
            "--username",
            "IT.ADMIN",
            "--password-stdin",
        ],
        "the-new-admin-password\n",
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("every device of it.admin is signed out"),
        "{stdout}"
    );
    let res = http
        .post(format!("{}/api/v1/auth/refresh", server.base))
        .json(&serde_json::json!({"refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the old session still refreshes");
    assert_eq!(login("it.admin", admin_password).await.status(), 401);
    assert_eq!(
        login("it.admin", "the-new-admin-password".into()).await.status(),
        200
    );

    // Deactivated: no sign-in; activated again: sign-in.
    let (code, stdout, _) = run(&["user", "deactivate", "--username", "meera"], "");
    assert_eq!(code, Some(0));
    assert!(stdout.contains("deactivated meera"), "{stdout}");
    assert_ne!(login("meera", "meera-password-1".into()).await.status(), 200);
    let (code, _, _) = run(&["user", "deactivate", "--username", "meera", "--undo"], "");
    assert_eq!(code, Some(0));
    assert_eq!(login("meera", "meera-password-1".into()).await.status(), 200);
    let (code, _, stderr) = run(&["user", "deactivate", "--username", "nobody"], "");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no user \"nobody\""), "{stderr}");

    let (code, stdout, _) = run(&["user", "list", "--json"], "");
    assert_eq!(code, Some(0));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let mut names: Vec<&str> = list.iter().map(|a| a["username"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["it.admin", "meera", "priya"]);
    let (_, stdout, _) = run(&["team", "list"], "");
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Mumbai", "2"]),
        "{stdout}"
    );
    server.stop();
}

/// The IT person has the showroom's staff in a spreadsheet: one `user import` makes every account, or —
/// when any row is wrong — none, with every problem named by its line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_accounts_come_from_one_spreadsheet_all_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = |args: &[&str], input: &str| account_command(&data, args, input);
    let usernames = |data: &Path| -> Vec<String> {
        let (code, stdout, stderr) = account_command(data, &["user", "list", "--json"], "");
        assert_eq!(code, Some(0), "{stderr}");
        let list: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
        let mut names: Vec<String> = list
            .iter()
            .map(|a| a["username"].as_str().unwrap().to_owned())
            .collect();
        names.sort_unstable();
        names
    };
    assert_eq!(run(&["team", "add", "Mumbai"], "").0, Some(0));
    let (code, _, stderr) = run(
        &[
            "user",
            "add",
            "--username",
            "meera",
            "--name",
            "Meera Iyer",
            "--role",
            "supervisor",
            "--team",
            "Mumbai",
            "--password-stdin",
        ],
        "meera-password-1\n",
    );
    assert_eq!(code, Some(0), "{stderr}");

    // As a spreadsheet saves it: a byte-order mark, capitalised headers in another order, CRLF.
    let mut sheet = String::from("\u{feff}Name,Username,Role,Team,Password\r\n");
    for i in 1..=48 {
        let team = if i % 2 == 0 { "Mumbai" } else { "Pune" };
        let password = if i <= 10 {
            format!("caller-{i:02}-password")
        } else {
            String::new()
        };
        sheet.push_str(&format!(
            "\"Caller {i}, Sales\",caller{i:02},Telecaller,{team},{password}\r\n"
        ));
    }
    sheet.push_str("Anil Kumar,anil,supervisor,Pune,\r\n");
    sheet.push_str("IT Desk,it.desk,admin,,it-desk-password-1\r\n");
    let file = tmp.path().join("staff.csv");
    write(&file, &sheet);
    let passwords = tmp.path().join("passwords.csv");
    let passwords_arg = passwords.to_str().unwrap();
    let file_arg = file.to_str().unwrap();

    // Wrong rows: each is named with its line, and nothing is written.
    let mut bad = sheet.clone();
    bad.push_str("Bad Name,bad name,telecaller,Mumbai,\r\n"); // line 52
    bad.push_str("Twice,caller07,telecaller,Mumbai,\r\n"); // line 53
    bad.push_str("Manager,boss,manager,Mumbai,\r\n"); // line 54
    bad.push_str("Short,shorty,telecaller,Mumbai,short\r\n"); // line 55
    bad.push_str("Lonely,lonely,supervisor,,\r\n"); // line 56
    bad.push_str("Too,many,telecaller,Mumbai,,extra\r\n"); // line 57
    let bad_file = tmp.path().join("bad.csv");
    write(&bad_file, &bad);
    let (code, stdout, stderr) = run(
        &[
            "user",
            "import",
            bad_file.to_str().unwrap(),
            "--create-teams",
            "--passwords-out",
            passwords_arg,
        ],
        "",
    );
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    for expected in [
        "6 row(s) refused, nothing was imported",
        "line 52 (bad name): a username is 1 to 64 letters",
        "line 53 (caller07): the username \"caller07\" is on line 8 already",
        "line 54 (boss): the role \"manager\" is not telecaller, supervisor or admin",
        "line 55 (shorty): a password has at least 10 characters",
        "line 56 (lonely): a supervisor needs a team",
        "line 57 (many): 6 fields, the header has 5",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
    assert!(
        !passwords.exists(),
        "no passwords file for an import that did nothing"
    );
    assert_eq!(usernames(&data), ["meera"]);

    // A file that is no account list at all.
    let odd = tmp.path().join("odd.csv");
    write(&odd, "login,name,role\nx,X,admin\n");
    let (code, _, stderr) = run(&["user", "import", odd.to_str().unwrap()], "");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("unknown column \"login\"")
            && stderr.contains("username, name, role, team, password"),
        "{stderr}"
    );

    // Pune does not exist: refused row by row unless the import may create it.
    let (code, _, stderr) = run(
        &["user", "import", file_arg, "--passwords-out", passwords_arg],
        "",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("25 row(s) refused"), "{stderr}");
    assert!(
        stderr.contains("line 2 (caller01): no team \"Pune\"; create it first"),
        "{stderr}"
    );
    // Made-up passwords need somewhere to go that is not the terminal.
    let (code, _, stderr) = run(&["user", "import", file_arg, "--create-teams"], "");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("39 row(s) have no password: give --passwords-out"),
        "{stderr}"
    );
    // A dry run checks against the database and writes nothing.
    let (code, stdout, stderr) = run(&["user", "import", file_arg, "--create-teams", "--dry-run"], "");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("would create team Pune"), "{stdout}");
    assert!(
        stdout.contains("would create caller01 (Caller 1, Sales, telecaller, team Pune)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("50 account(s) checked, nothing written"),
        "{stdout}"
    );
    assert_eq!(usernames(&data), ["meera"]);
    assert!(!passwords.exists());

    let (code, stdout, stderr) = run(
        &[
            "user",
            "import",
            file_arg,
            "--create-teams",
            "--passwords-out",
            passwords_arg,
        ],
        "",
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("created team Pune"), "{stdout}");
    assert!(
        stdout.contains("50 account(s) created; 39 made-up password(s) in"),
        "{stdout}"
    );
    let names = usernames(&data);
    assert_eq!(names.len(), 51, "{names:?}");
    assert!(names.contains(&"caller48".to_owned()) && names.contains(&"it.desk".to_owned()));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&passwords).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let made_up: Vec<(String, String)> = std::fs::read_to_string(&passwords)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.rsplitn(2, ',');
            let password = f.next().unwrap().to_owned();
            let username = f.next().unwrap().split(',').next().unwrap().to_owned();
            (username, password)
        })
        .collect();
    assert_eq!(made_up.len(), 39);
    assert!(
        made_up
            .iter()
            .all(|(u, p)| (u.starts_with("caller") || u == "anil") && p.len() == 16),
        "{made_up:?}"
    );
    let (_, team_list, _) = run(&["team", "list"], "");
    assert!(
        team_list
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Pune", "25"]),
        "{team_list}"
    );

    // The same file again: every username is taken, nothing changes, and the passwords file is kept.
    let again = tmp.path().join("again.csv");
    let (code, _, stderr) = run(
        &[
            "user",
            "import",
            file_arg,
            "--passwords-out",
            again.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("50 row(s) refused"), "{stderr}");
    assert!(
        stderr.contains("line 51 (it.desk): the username \"it.desk\" is taken"),
        "{stderr}"
    );
    assert!(!again.exists());
    let (code, _, stderr) = run(
        &["user", "import", file_arg, "--passwords-out", passwords_arg],
        "",
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("it must not exist yet"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&passwords).unwrap().lines().count(), 40);

    // They sign in: one with the password from the file, one with a made-up one.
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data);
    let server = Server::start(cmd, &tmp.path().join("stderr"));
    let http = reqwest::Client::new();
    for (user, password) in [
        ("caller03".to_owned(), "caller-03-password".to_owned()),
        made_up[5].clone(),
        made_up.iter().find(|(u, _)| u == "anil").unwrap().clone(),
    ] {
        let res = http
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&serde_json::json!({"username": user, "password": password, "device_name": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{user}");
    }
    server.stop();
}

#[test]
fn maintenance_commands_wait_for_a_restore_in_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A restore holds the data directory's lock exclusively while it swaps the database.
    let lock = std::fs::File::create(data.join(leadline_server::backup::LOCK_FILE)).unwrap();
    lock.lock().unwrap();
    let mut archive = command()
        .args(["archive", "--dry-run", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        archive.try_wait().unwrap().is_none(),
        "archive ran while a restore held the data directory"
    );
    assert!(
        !leadline_server::db::db_path(&data).exists(),
        "it opened the database meanwhile"
    );
    lock.unlock().unwrap();
    let out = archive.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("would archive 0 closed leads"), "{stdout}");
}
