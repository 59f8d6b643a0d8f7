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
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
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
