//! The first-run setup's check of a server address: is it a Leadline server this app can talk to, and if
//! not, why not — in terms a user can act on (a typo in the name, a server that is stopped, a certificate
//! this computer does not trust, another web site, a server of another version).
//!
//! The check asks `GET /healthz` then `GET /api/v1/version` (leadline-server's identity). Only when a
//! request fails does it look closer: the name is resolved (DNS), then a plain TCP connection is tried,
//! and the TLS error (rustls's, found in the error's causes) is read for the certificate's fault.

use std::time::Duration;

use leadline_model::auth::ApiError;
use leadline_model::setup::{
    CertificateProblem, SERVER_PRODUCT, ServerCheck, ServerInfo, ServerProblem, check_server_url,
    is_plain_http,
};
use leadline_model::sync::PROTOCOL_VERSION;
use reqwest::Url;

use crate::Client;

/// How long each step of the check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that `raw` (as typed) is a Leadline server this app can use. `allow_http` says the user accepted
/// a plain-http server on another computer (http to this computer is always allowed).
pub async fn check_server(raw: &str, allow_http: bool) -> Result<ServerCheck, ServerProblem> {
    let url =
        check_server_url(raw, allow_http).map_err(|e| ServerProblem::BadAddress { reason: e.problem() })?;
    let bad = || ServerProblem::BadAddress {
        reason: leadline_model::setup::AddressProblem::Malformed,
    };
    let client = Client::new(&url).map_err(|_| bad())?;
    let parsed = Url::parse(&url).map_err(|_| bad())?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);

    // 1. The health check: anything at all that answers like Leadline's.
    let health_url = client.url("healthz").map_err(|_| bad())?;
    let resp = match client.http.get(health_url).timeout(CHECK_TIMEOUT).send().await {
        Ok(resp) => resp,
        Err(e) => return Err(diagnose(&e, &host, port).await),
    };
    let status = resp.status();
    if status.is_server_error() {
        return Err(ServerProblem::Unhealthy {
            status: status.as_u16(),
        });
    }
    let body = resp.bytes().await.map_err(|e| unreachable(&host, &e))?;
    let healthy = status.is_success()
        && serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .is_some_and(|v| v.get("status").and_then(|s| s.as_str()) == Some("ok"));
    if !healthy {
        return Err(ServerProblem::NotLeadline {
            detail: format!(
                "GET /healthz answered HTTP {} {}",
                status.as_u16(),
                describe_body(&body)
            ),
        });
    }

    // 2. Who it is, and whether we speak the same protocol.
    let version_url = client.url("api/v1/version").map_err(|_| bad())?;
    let resp = match client.http.get(version_url).timeout(CHECK_TIMEOUT).send().await {
        Ok(resp) => resp,
        Err(e) => return Err(diagnose(&e, &host, port).await),
    };
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| unreachable(&host, &e))?;
    if status == reqwest::StatusCode::NOT_FOUND {
        // A Leadline server from before the identity route answers its own JSON error: too old.
        return Err(match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) if e.code == "not_found" => ServerProblem::Incompatible {
                server_version: None,
                server_protocol: None,
                client_protocol: PROTOCOL_VERSION,
            },
            _ => ServerProblem::NotLeadline {
                detail: format!("GET /api/v1/version answered HTTP 404 {}", describe_body(&body)),
            },
        });
    }
    if status.is_server_error() {
        return Err(ServerProblem::Unhealthy {
            status: status.as_u16(),
        });
    }
    let info = match serde_json::from_slice::<ServerInfo>(&body) {
        Ok(info) if status.is_success() && info.product == SERVER_PRODUCT => info,
        _ => {
            return Err(ServerProblem::NotLeadline {
                detail: format!(
                    "GET /api/v1/version answered HTTP {} {}",
                    status.as_u16(),
                    describe_body(&body)
                ),
            });
        }
    };
    if info.sync_protocol != PROTOCOL_VERSION {
        return Err(ServerProblem::Incompatible {
            server_version: Some(info.version),
            server_protocol: Some(info.sync_protocol),
            client_protocol: PROTOCOL_VERSION,
        });
    }
    Ok(ServerCheck {
        plain_http: is_plain_http(&url),
        url,
        version: info.version,
    })
}

/// A few words on what a body was (for the "not Leadline" detail).
fn describe_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let start = text.trim_start();
    if start.starts_with('<') {
        "(a web page)".to_owned()
    } else if start.is_empty() {
        "(empty)".to_owned()
    } else {
        let mut short: String = start.chars().take(80).collect();
        if start.chars().count() > 80 {
            short.push('…');
        }
        format!("({short:?})")
    }
}

fn unreachable(host: &str, e: &reqwest::Error) -> ServerProblem {
    ServerProblem::Unreachable {
        host: host.to_owned(),
        detail: chain(e),
    }
}

/// The error and its causes, as one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// rustls's error among the causes, if the request failed in the TLS handshake. `io::Error` hides the
/// error it wraps from `source()`, so it is looked into with `get_ref`.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            if let Some(found) = tls_error(inner) {
                return Some(found);
            }
        }
        current = err.source();
    }
    None
}

fn certificate_problem(e: &rustls::Error) -> CertificateProblem {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => CertificateProblem::Untrusted,
            C::NotValidForName | C::NotValidForNameContext { .. } => CertificateProblem::WrongName,
            C::Expired | C::ExpiredContext { .. } => CertificateProblem::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => CertificateProblem::NotYetValid,
            _ => CertificateProblem::Other,
        },
        _ => CertificateProblem::Other,
    }
}

/// Why a request could not be made: a TLS fault, a timeout, or — looked at again step by step — an unknown
/// name, a refused port, no route.
async fn diagnose(e: &reqwest::Error, host: &str, port: u16) -> ServerProblem {
    if let Some(tls) = tls_error(e) {
        return ServerProblem::Certificate {
            host: host.to_owned(),
            reason: certificate_problem(tls),
            detail: tls.to_string(),
        };
    }
    if e.is_timeout() && !e.is_connect() {
        return ServerProblem::Timeout {
            host: host.to_owned(),
        };
    }
    // Step by step: the name, then the port.
    let addrs = match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Err(_) => {
            return ServerProblem::Timeout {
                host: host.to_owned(),
            };
        }
        Ok(Err(_)) => {
            return ServerProblem::Dns {
                host: host.to_owned(),
            };
        }
        Ok(Ok(addrs)) => addrs.collect::<Vec<_>>(),
    };
    if addrs.is_empty() {
        return ServerProblem::Dns {
            host: host.to_owned(),
        };
    }
    let mut refused = false;
    let mut timed_out = false;
    let mut other = None;
    for addr in addrs {
        match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            // The port answers; the request failed later (the connection cut, garbage answered).
            Ok(Ok(_)) => return unreachable(host, e),
            Ok(Err(io)) if io.kind() == std::io::ErrorKind::ConnectionRefused => refused = true,
            Ok(Err(io)) => other = Some(io.to_string()),
            Err(_) => timed_out = true,
        }
    }
    if refused {
        ServerProblem::Refused {
            host: host.to_owned(),
            port,
        }
    } else if timed_out || e.is_timeout() {
        ServerProblem::Timeout {
            host: host.to_owned(),
        }
    } else {
        ServerProblem::Unreachable {
            host: host.to_owned(),
            detail: other.unwrap_or_else(|| chain(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_body_is_described_in_a_few_words() {
        assert_eq!(describe_body(b"  <!doctype html><html>"), "(a web page)");
        assert_eq!(describe_body(b""), "(empty)");
        assert_eq!(describe_body(b"{\"ok\":true}"), "(\"{\\\"ok\\\":true}\")");
        assert!(describe_body("x".repeat(200).as_bytes()).ends_with("…\")"));
    }

    #[test]
    fn certificate_faults_are_told_apart() {
        use rustls::CertificateError as C;
        let kind = |c| certificate_problem(&rustls::Error::InvalidCertificate(c));
        assert_eq!(kind(C::UnknownIssuer), CertificateProblem::Untrusted);
        assert_eq!(kind(C::NotValidForName), CertificateProblem::WrongName);
        assert_eq!(kind(C::Expired), CertificateProblem::Expired);
        assert_eq!(kind(C::NotValidYet), CertificateProblem::NotYetValid);
        assert_eq!(kind(C::Revoked), CertificateProblem::Other);
        assert_eq!(
            certificate_problem(&rustls::Error::General("x".into())),
            CertificateProblem::Other
        );
        // Found behind an io::Error, as the connector wraps it.
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(C::UnknownIssuer),
        );
        assert!(tls_error(&io).is_some());
    }
}
