//! The first-run setup's server check against what an address may really lead to: a Leadline server, a
//! web server that is not Leadline, a Leadline of another protocol, a closed port, an unknown name, a TLS
//! server whose certificate nobody trusts, https to a plain-http port, and plain http to another computer.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use leadline_model::setup::{AddressProblem, CertificateProblem, ServerProblem};
use leadline_model::sync::PROTOCOL_VERSION;
use leadline_server::ServeConfig;
use leadline_sync::check_server;

/// Serves `app` on a free port of 127.0.0.1; answers its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_leadline_server_passes_with_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some("server-check-secret-server-check-secret-0123".into()),
        ..ServeConfig::new(dir.path())
    };
    let server = leadline_server::start(&config).await.unwrap();
    let url = server.base_url();
    // Typed with spaces and a trailing slash.
    let checked = check_server(&format!("  {url}/ "), false).await.unwrap();
    assert_eq!(checked.url, url.trim_end_matches('/'));
    assert_eq!(checked.version, env!("CARGO_PKG_VERSION"));
    assert!(
        checked.plain_http,
        "http to this computer is allowed but said to be plain"
    );

    // The identity route answers without a sign-in.
    let info: leadline_model::setup::ServerInfo = reqwest::get(format!("{url}/api/v1/version"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (info.product.as_str(), info.sync_protocol),
        ("leadline", PROTOCOL_VERSION)
    );
}

#[tokio::test]
async fn a_web_server_that_is_not_leadline_is_told_apart() {
    // A web site: HTML at every path.
    let site =
        serve(Router::new().fallback(|| async { axum::response::Html("<!doctype html><h1>Shop</h1>") }))
            .await;
    match check_server(&site, false).await {
        Err(ServerProblem::NotLeadline { detail }) => assert!(detail.contains("web page"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // Something with a health check of its own, but no Leadline identity.
    let other = serve(
        Router::new()
            .route(
                "/healthz",
                get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
            )
            .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found") }),
    )
    .await;
    match check_server(&other, false).await {
        Err(ServerProblem::NotLeadline { detail }) => assert!(detail.contains("404"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // Another product answering the identity route.
    let imposter = serve(
        Router::new()
            .route(
                "/healthz",
                get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
            )
            .route(
                "/api/v1/version",
                get(|| async {
                    axum::Json(serde_json::json!({"product": "crmx", "version": "9", "sync_protocol": 1}))
                }),
            ),
    )
    .await;
    assert!(matches!(
        check_server(&imposter, false).await,
        Err(ServerProblem::NotLeadline { .. })
    ));
    // A proxy in trouble.
    let broken = serve(Router::new().fallback(|| async { (StatusCode::BAD_GATEWAY, "bad gateway") })).await;
    assert_eq!(
        check_server(&broken, false).await,
        Err(ServerProblem::Unhealthy { status: 502 })
    );
}

#[tokio::test]
async fn a_leadline_of_another_protocol_or_too_old_is_incompatible() {
    let newer = serve(
        Router::new()
            .route(
                "/healthz",
                get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
            )
            .route(
                "/api/v1/version",
                get(|| async {
                    axum::Json(
                        serde_json::json!({"product": "leadline", "version": "9.0.0", "sync_protocol": 99}),
                    )
                }),
            ),
    )
    .await;
    assert_eq!(
        check_server(&newer, false).await,
        Err(ServerProblem::Incompatible {
            server_version: Some("9.0.0".into()),
            server_protocol: Some(99),
            client_protocol: PROTOCOL_VERSION,
        })
    );
    // A Leadline from before the identity route: its own JSON 404.
    let old = serve(
        Router::new()
            .route(
                "/healthz",
                get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
            )
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(serde_json::json!({"code": "not_found", "message": "no such route"})),
                )
            }),
    )
    .await;
    assert!(matches!(
        check_server(&old, false).await,
        Err(ServerProblem::Incompatible {
            server_version: None,
            ..
        })
    ));
}

#[tokio::test]
async fn a_closed_port_an_unknown_name_and_a_bad_address_say_so() {
    // A port that was free a moment ago: nothing listens.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    assert_eq!(
        check_server(&format!("http://127.0.0.1:{port}"), false).await,
        Err(ServerProblem::Refused {
            host: "127.0.0.1".into(),
            port
        })
    );
    // `.invalid` never resolves (RFC 6761).
    assert_eq!(
        check_server("https://leadline.invalid", false).await,
        Err(ServerProblem::Dns {
            host: "leadline.invalid".into()
        })
    );
    // Plain http to another computer is refused before anything is sent, unless accepted.
    assert_eq!(
        check_server("http://192.0.2.10:8080", false).await,
        Err(ServerProblem::BadAddress {
            reason: AddressProblem::PlainHttp
        })
    );
    assert_eq!(
        check_server("crm.example.in", false).await,
        Err(ServerProblem::BadAddress {
            reason: AddressProblem::Malformed
        })
    );
    assert_eq!(
        check_server("   ", false).await,
        Err(ServerProblem::BadAddress {
            reason: AddressProblem::Empty
        })
    );
}

/// A TLS server with a self-signed certificate for `names`, on a free port; answers the port.
async fn tls_server(names: Vec<String>) -> u16 {
    let cert = rcgen::generate_simple_self_signed(names).unwrap();
    tls_server_with(cert.cert.der().clone(), cert.signing_key.serialize_der()).await
}

/// A TLS server that shows `cert` (its key in PKCS#8 DER), on a free port; answers the port.
async fn tls_server_with(cert: rustls::pki_types::CertificateDer<'static>, key_der: Vec<u8>) -> u16 {
    let key = rustls::pki_types::PrivateKeyDer::try_from(key_der).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            // The client gives up in the handshake; nothing to serve.
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn a_certificate_nobody_trusts_is_a_certificate_problem() {
    let port = tls_server(vec!["localhost".into()]).await;
    match check_server(&format!("https://localhost:{port}"), false).await {
        Err(ServerProblem::Certificate { host, reason, detail }) => {
            assert_eq!(host, "localhost");
            assert_eq!(reason, CertificateProblem::Untrusted, "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn https_to_a_plain_http_server_fails_in_the_handshake() {
    let plain = serve(Router::new().fallback(|| async { "hello" })).await;
    let https = plain.replace("http://", "https://");
    match check_server(&https, false).await {
        Err(ServerProblem::Certificate { reason, .. }) => assert_eq!(reason, CertificateProblem::Other),
        other => panic!("{other:?}"),
    }
}

/// Set (to a folder holding the authority's `ca.pem` and the server certificates it signed) in the copy of
/// this test binary that [`a_trusted_authoritys_certificates_are_told_apart_by_their_fault`] starts with
/// that authority as the only trust store.
const TEST_CA_ENV: &str = "LEADLINE_TEST_CA_DIR";

/// The certificates the authority signs for the test: file stem, names, valid from, valid to, and the
/// check's verdict (`None`: passes).
/// A year, month and day.
type Day = (i32, u8, u8);

/// A certificate to sign: file stem, names, valid from, valid to, the check's verdict.
type Leaf = (
    &'static str,
    &'static [&'static str],
    Day,
    Day,
    Option<CertificateProblem>,
);

const LEAVES: [Leaf; 4] = [
    ("good", &["localhost"], (2020, 1, 1), (2090, 1, 1), None),
    (
        "wrong-name",
        &["crm.other-showroom.example"],
        (2020, 1, 1),
        (2090, 1, 1),
        Some(CertificateProblem::WrongName),
    ),
    (
        "expired",
        &["localhost"],
        (2020, 1, 1),
        (2021, 1, 1),
        Some(CertificateProblem::Expired),
    ),
    (
        "not-yet-valid",
        &["localhost"],
        (2090, 1, 1),
        (2091, 1, 1),
        Some(CertificateProblem::NotYetValid),
    ),
];

/// An in-house authority, the way a showroom chain's IT runs its intranet: its root is in the desk's
/// trust store (here `SSL_CERT_FILE`, which the platform verifier reads on Linux), and the server's
/// certificate is signed by it. The check passes when the certificate is right, and otherwise names the
/// fault — another name, expired, not yet valid — instead of "untrusted". The trust store is the
/// process's, so the test runs itself again in a child process with `SSL_CERT_FILE` set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_authoritys_certificates_are_told_apart_by_their_fault() {
    let Some(dir) = std::env::var_os(TEST_CA_ENV) else {
        let dir = tempfile::tempdir().unwrap();
        sign_the_leaves(dir.path());
        let empty = dir.path().join("no-other-roots");
        std::fs::create_dir(&empty).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_trusted_authoritys_certificates_are_told_apart_by_their_fault",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(TEST_CA_ENV, dir.path())
            .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
            .env("SSL_CERT_DIR", &empty)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "the child with the authority failed:\n{text}"
        );
        assert!(text.contains("1 passed"), "the child ran the test:\n{text}");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    for (stem, names, from, to, expected) in LEAVES {
        let case = format!("{stem} ({names:?}, {from:?} to {to:?})");
        let url = match expected {
            // The right certificate on a real Leadline server: the check passes, over https.
            None => {
                let config = ServeConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    jwt_secret: Some("server-check-secret-server-check-secret-0123".into()),
                    tls: Some(leadline_server::tls::TlsSettings {
                        cert: dir.join(format!("{stem}.pem")),
                        key: dir.join(format!("{stem}.key.pem")),
                    }),
                    ..ServeConfig::new(dir.join("data"))
                };
                let server = leadline_server::start(&config).await.unwrap();
                let url = format!("https://localhost:{}", server.addr().port());
                let checked = check_server(&url, false).await;
                server.stop().await.unwrap();
                let checked = checked.unwrap_or_else(|e| panic!("{case}: {e:?}"));
                assert_eq!(checked.url, url);
                assert!(!checked.plain_http);
                continue;
            }
            Some(_) => {
                let cert = std::fs::read(dir.join(format!("{stem}.der"))).unwrap();
                let key = std::fs::read(dir.join(format!("{stem}.key.der"))).unwrap();
                let port = tls_server_with(cert.into(), key).await;
                format!("https://localhost:{port}")
            }
        };
        match check_server(&url, false).await {
            Err(ServerProblem::Certificate { host, reason, detail }) => {
                assert_eq!(host, "localhost");
                assert_eq!(Some(reason), expected, "{case}: {detail}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

/// Makes the authority (`ca.pem`) and signs [`LEAVES`] into `dir` (PEM and DER, with their keys).
fn sign_the_leaves(dir: &std::path::Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Showroom Chain IT Root");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for (stem, names, from, to, _) in LEAVES {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &*ca).unwrap();
        std::fs::write(dir.join(format!("{stem}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{stem}.key.pem")), key.serialize_pem()).unwrap();
        std::fs::write(dir.join(format!("{stem}.der")), cert.der()).unwrap();
        std::fs::write(dir.join(format!("{stem}.key.der")), key.serialize_der()).unwrap();
    }
}
