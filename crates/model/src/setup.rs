//! A desk's first-run setup: the server's identity answer (`GET /api/v1/version`), the server address
//! rule (https, or http to this computer only unless accepted), the provisioning file an admin drops on a
//! desk, and what the setup found (kept in the desk's cache).
//!
//! The provisioning file (`provisioning.json`, see docs/provisioning.md) is JSON:
//!
//! ```json
//! {
//!   "version": 1,
//!   "server_url": "https://crm.example.in",
//!   "managed_by": "Bandra showroom IT, 022 5555 0101",
//!   "language": "hi",
//!   "team": "Bandra Showroom",
//!   "phone": { "sip_domain": "acme1.voip.exotel.com", "websocket_url": "wss://voip.exotel.in:443/wss" }
//! }
//! ```
//!
//! Only `version` and `server_url` are required. Unknown fields are refused (a misspelt field must not be
//! ignored silently). [`Provisioning::parse`] checks every field and names the one that is wrong.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::telephony::Language;

/// What `GET /api/v1/version` answers `product` with: the mark of a Leadline server.
pub const SERVER_PRODUCT: &str = "leadline";

/// `GET /api/v1/version`: who answers, in which version, speaking which sync protocol. No sign-in needed.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Always [`SERVER_PRODUCT`].
    pub product: String,
    /// The server's release (`0.1.0`).
    pub version: String,
    /// The sync protocol it speaks ([`crate::sync::PROTOCOL_VERSION`] of its build).
    pub sync_protocol: u32,
}

impl ServerInfo {
    /// This build's answer.
    pub fn current(version: &str) -> Self {
        Self {
            product: SERVER_PRODUCT.to_owned(),
            version: version.to_owned(),
            sync_protocol: crate::sync::PROTOCOL_VERSION,
        }
    }
}

/// What is wrong with a server address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerUrlError {
    #[error("no server address was given")]
    Empty,
    #[error("{0:?} is not a web address (expected e.g. https://crm.example.in)")]
    Malformed(String),
    #[error("{0:?} must start with https:// (or http://)")]
    Scheme(String),
    /// `http://` to another computer: passwords and leads would cross the network unencrypted.
    #[error("{0:?} is not encrypted (http://); use https://, or accept plain http explicitly")]
    PlainHttp(String),
    #[error("{0:?} must not carry a user name, password, query or fragment")]
    Extra(String),
}

/// A server address checked against the rule: `https://`, or `http://` to this computer (loopback) or
/// when `allow_http` says the user (or the admin's file) accepted plain http. Answers the address
/// normalised (no trailing `/`, lower-case host).
pub fn check_server_url(raw: &str, allow_http: bool) -> Result<String, ServerUrlError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ServerUrlError::Empty);
    }
    let url = url::Url::parse(raw).map_err(|_| ServerUrlError::Malformed(raw.to_owned()))?;
    let host = match url.host() {
        Some(h) => h,
        None => return Err(ServerUrlError::Malformed(raw.to_owned())),
    };
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(ServerUrlError::Extra(raw.to_owned()));
    }
    match url.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&host) => {}
        "http" => return Err(ServerUrlError::PlainHttp(raw.to_owned())),
        _ => return Err(ServerUrlError::Scheme(raw.to_owned())),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl ServerUrlError {
    /// The kind of mistake, for a UI to say in its language.
    pub fn problem(&self) -> AddressProblem {
        match self {
            Self::Empty => AddressProblem::Empty,
            Self::Malformed(_) => AddressProblem::Malformed,
            Self::Scheme(_) => AddressProblem::Scheme,
            Self::PlainHttp(_) => AddressProblem::PlainHttp,
            Self::Extra(_) => AddressProblem::Extra,
        }
    }
}

/// [`ServerUrlError`]'s kinds.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressProblem {
    Empty,
    Malformed,
    Scheme,
    PlainHttp,
    Extra,
}

/// Why a server's certificate was refused.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateProblem {
    /// Signed by nobody this computer trusts (self-signed, a private authority not installed).
    Untrusted,
    /// Made out for another name than the address's.
    WrongName,
    Expired,
    NotYetValid,
    /// The TLS handshake failed otherwise (not a TLS server, an old protocol, a revoked certificate).
    Other,
}

/// Why the address typed in the setup is not a usable Leadline server: each kind tells the user what to
/// check. The English sentence is for logs; the UI says each kind in its language.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerProblem {
    #[error("the address is not usable ({reason:?})")]
    BadAddress { reason: AddressProblem },
    /// The host name is not known (a typo, or no internet/DNS).
    #[error("the name {host} is not known (DNS)")]
    Dns { host: String },
    /// The computer answers, but nothing listens on the port (the server is stopped, a wrong port).
    #[error("{host} refused the connection on port {port}")]
    Refused { host: String, port: u16 },
    /// No answer in time (a firewall, a computer that is off).
    #[error("{host} did not answer in time")]
    Timeout { host: String },
    #[error("cannot reach {host}: {detail}")]
    Unreachable { host: String, detail: String },
    #[error("the certificate of {host} is refused ({reason:?}): {detail}")]
    Certificate {
        host: String,
        reason: CertificateProblem,
        detail: String,
    },
    /// Something answers there, but not Leadline (another web site, a proxy's page).
    #[error("the server there is not a Leadline server ({detail})")]
    NotLeadline { detail: String },
    /// Leadline's health check failed (HTTP `status`: the server or its proxy is in trouble).
    #[error("the server answered its health check with HTTP {status}")]
    Unhealthy { status: u16 },
    /// A Leadline server speaking another sync protocol (or too old to say).
    #[error(
        "the server (version {server_version:?}) speaks sync protocol {server_protocol:?}; this app speaks {client_protocol}"
    )]
    Incompatible {
        server_version: Option<String>,
        server_protocol: Option<u32>,
        client_protocol: u32,
    },
}

/// A server that passed the setup's check.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCheck {
    /// The address, normalised.
    pub url: String,
    pub version: String,
    /// `http://`: not encrypted (to this computer, or accepted).
    pub plain_http: bool,
}

/// True when the address is `http://` (not encrypted).
pub fn is_plain_http(url: &str) -> bool {
    url.trim().to_ascii_lowercase().starts_with("http://")
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// The version of the provisioning format this build reads.
pub const PROVISIONING_VERSION: u32 = 1;

/// The file's name in the places it is looked for.
pub const PROVISIONING_FILE: &str = "provisioning.json";

/// The file every user of a desk gets.
pub const SYSTEM_PROVISIONING: &str = "/etc/leadline/provisioning.json";

/// The settings an admin gives a desk in a provisioning file. See the module docs for the format.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    /// The format's version: [`PROVISIONING_VERSION`].
    pub version: u32,
    /// The Leadline server (`https://…`; `http://` only to this computer, or with `allow_http`).
    pub server_url: String,
    /// The admin accepts a plain `http://` server on another computer (a closed network).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
    /// Who set this desk up, shown next to the locked server (a name, a phone number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// The language the app starts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// The team this desk works for, shown on the setup and sign-in screens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Defaults of the softphone's account (each telecaller still enters their own SIP user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<ProvisionedPhone>,
}

/// The phone account's defaults of a provisioning file.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionedPhone {
    /// The SIP domain (Exotel: `<account_sid>.voip.exotel.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_domain: Option<String>,
    /// The SIP WebSocket server (`wss://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket_url: Option<String>,
}

/// Why a provisioning file cannot be used; each names the field (or the line and column) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisioningError {
    /// Not JSON, a missing or unknown field, or a field of the wrong type (serde's sentence says which,
    /// with the line and column).
    #[error("{0}")]
    Syntax(String),
    #[error("version {0} is not supported: this Leadline reads version {PROVISIONING_VERSION}")]
    Version(u32),
    #[error("server_url: {0}")]
    ServerUrl(ServerUrlError),
    #[error("{field}: {why}")]
    Field { field: &'static str, why: String },
}

/// The longest free-text field (`managed_by`, `team`), in characters.
const MAX_TEXT: usize = 200;

impl Provisioning {
    /// Reads a provisioning file's text and checks every field.
    pub fn parse(text: &str) -> Result<Self, ProvisioningError> {
        let mut p: Provisioning =
            serde_json::from_str(text).map_err(|e| ProvisioningError::Syntax(e.to_string()))?;
        if p.version != PROVISIONING_VERSION {
            return Err(ProvisioningError::Version(p.version));
        }
        p.server_url = check_server_url(&p.server_url, p.allow_http).map_err(ProvisioningError::ServerUrl)?;
        for (field, value) in [("managed_by", &mut p.managed_by), ("team", &mut p.team)] {
            if let Some(v) = value {
                let trimmed = v.trim();
                if trimmed.is_empty() {
                    return Err(ProvisioningError::Field {
                        field,
                        why: "is empty (leave the field out instead)".into(),
                    });
                }
                if trimmed.chars().count() > MAX_TEXT || trimmed.chars().any(char::is_control) {
                    return Err(ProvisioningError::Field {
                        field,
                        why: format!("must be one line of at most {MAX_TEXT} characters"),
                    });
                }
                *v = trimmed.to_owned();
            }
        }
        if let Some(phone) = &mut p.phone {
            if let Some(domain) = &mut phone.sip_domain {
                let d = domain.trim();
                let valid = !d.is_empty()
                    && d.len() <= 253
                    && d.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                if !valid {
                    return Err(ProvisioningError::Field {
                        field: "phone.sip_domain",
                        why: format!("{d:?} is not a domain name (e.g. acme1.voip.exotel.com)"),
                    });
                }
                *domain = d.to_ascii_lowercase();
            }
            if let Some(ws) = &mut phone.websocket_url {
                let w = ws.trim();
                let ok = url::Url::parse(w)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "wss" | "ws") && u.host().is_some());
                if ok.is_none() {
                    return Err(ProvisioningError::Field {
                        field: "phone.websocket_url",
                        why: format!("{w:?} is not a wss:// address (e.g. wss://voip.exotel.in:443/wss)"),
                    });
                }
                *ws = w.to_owned();
            }
        }
        Ok(p)
    }
}

/// Where a provisioning file is looked for, first found wins: the file given with `--provision`, the
/// user's own (`$XDG_CONFIG_HOME/leadline/provisioning.json`, else `~/.config/leadline/…`), then the
/// desk's (`/etc/leadline/provisioning.json`).
pub fn provisioning_candidates(
    explicit: Option<&Path>,
    xdg_config_home: Option<&Path>,
    home: Option<&Path>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_owned());
    }
    // XDG: a relative $XDG_CONFIG_HOME is invalid and ignored.
    let config = xdg_config_home
        .filter(|p| p.is_absolute())
        .map(Path::to_owned)
        .or_else(|| home.map(|h| h.join(".config")));
    if let Some(dir) = config {
        out.push(dir.join("leadline").join(PROVISIONING_FILE));
    }
    out.push(PathBuf::from(SYSTEM_PROVISIONING));
    out
}

/// How a setup step ended.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Checked and working.
    Passed,
    /// Checked, not working; the user went on (no microphone: calls go through click-to-call).
    Failed,
    /// Not checked.
    #[default]
    Skipped,
}

/// What this desk's first-run setup found, kept in the cache: with it the app starts on the sign-in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskSetup {
    /// The server the desk signs in to (checked when set).
    pub server_url: String,
    /// The user accepted a plain-http server on another computer.
    #[serde(default)]
    pub allow_http: bool,
    /// The server's version when it was checked.
    #[serde(default)]
    pub server_version: Option<String>,
    /// The microphone test, and the device it passed with (`None`: the system default).
    #[serde(default)]
    pub microphone: StepOutcome,
    #[serde(default)]
    pub input_device: Option<String>,
    /// The notification check.
    #[serde(default)]
    pub notifications: StepOutcome,
    pub completed_at: crate::Timestamp,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_server_address_rule() {
        assert_eq!(
            check_server_url(" https://CRM.example.in/ ", false).unwrap(),
            "https://crm.example.in"
        );
        assert_eq!(
            check_server_url("https://x.in/leadline/", false).unwrap(),
            "https://x.in/leadline"
        );
        assert_eq!(
            check_server_url("http://127.0.0.1:8080", false).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            check_server_url("http://localhost:8080", false).unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            check_server_url("http://[::1]:8080", false).unwrap(),
            "http://[::1]:8080"
        );
        assert_eq!(
            check_server_url("http://192.168.1.10:8080", false),
            Err(ServerUrlError::PlainHttp("http://192.168.1.10:8080".into()))
        );
        assert_eq!(
            check_server_url("http://192.168.1.10:8080", true).unwrap(),
            "http://192.168.1.10:8080"
        );
        assert_eq!(check_server_url("", false), Err(ServerUrlError::Empty));
        assert!(matches!(
            check_server_url("crm.example.in", false),
            Err(ServerUrlError::Malformed(_))
        ));
        assert!(matches!(
            check_server_url("ftp://crm.example.in", false),
            Err(ServerUrlError::Scheme(_))
        ));
        assert!(matches!(
            check_server_url("https://a:b@crm.example.in", false),
            Err(ServerUrlError::Extra(_))
        ));
        assert!(matches!(
            check_server_url("https://crm.example.in/?x=1", false),
            Err(ServerUrlError::Extra(_))
        ));
        assert!(is_plain_http("HTTP://x") && !is_plain_http("https://x"));
    }

    #[test]
    fn a_full_provisioning_file_is_read_and_normalised() {
        let p = Provisioning::parse(
            r#"{
                "version": 1,
                "server_url": "https://CRM.example.in/",
                "managed_by": "  Bandra IT, 022 5555 0101 ",
                "language": "hi",
                "team": "Bandra Showroom",
                "phone": {"sip_domain": "Acme1.voip.exotel.com", "websocket_url": "wss://voip.exotel.in:443/wss"}
            }"#,
        )
        .unwrap();
        assert_eq!(p.server_url, "https://crm.example.in");
        assert_eq!(p.managed_by.as_deref(), Some("Bandra IT, 022 5555 0101"));
        assert_eq!(p.language, Some(Language::Hi));
        assert_eq!(p.team.as_deref(), Some("Bandra Showroom"));
        let phone = p.phone.unwrap();
        assert_eq!(phone.sip_domain.as_deref(), Some("acme1.voip.exotel.com"));
        assert_eq!(
            phone.websocket_url.as_deref(),
            Some("wss://voip.exotel.in:443/wss")
        );

        let minimal = Provisioning::parse(r#"{"version":1,"server_url":"https://crm.example.in"}"#).unwrap();
        assert_eq!(
            (minimal.managed_by, minimal.phone, minimal.allow_http),
            (None, None, false)
        );
        let lan =
            Provisioning::parse(r#"{"version":1,"server_url":"http://10.0.0.5:8080","allow_http":true}"#)
                .unwrap();
        assert_eq!(lan.server_url, "http://10.0.0.5:8080");
    }

    /// Each bad file is refused with a sentence naming what is wrong.
    #[test]
    fn a_bad_provisioning_file_says_which_field_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "EOF"),
            ("not json", "expected"),
            (r#"{"server_url":"https://x.in"}"#, "missing field `version`"),
            (r#"{"version":1}"#, "missing field `server_url`"),
            (
                r#"{"version":2,"server_url":"https://x.in"}"#,
                "version 2 is not supported",
            ),
            (
                r#"{"version":1,"server_url":"https://x.in","sever":"y"}"#,
                "unknown field `sever`",
            ),
            (
                r#"{"version":1,"server_url":"https://x.in","phone":{"domain":"x"}}"#,
                "unknown field `domain`",
            ),
            (r#"{"version":1,"server_url":"x.in"}"#, "server_url:"),
            (r#"{"version":1,"server_url":"http://10.0.0.5"}"#, "not encrypted"),
            (
                r#"{"version":1,"server_url":"https://x.in","language":"fr"}"#,
                "unknown variant `fr`",
            ),
            (r#"{"version":"1","server_url":"https://x.in"}"#, "invalid type"),
            (
                r#"{"version":1,"server_url":"https://x.in","managed_by":"  "}"#,
                "managed_by: is empty",
            ),
            (
                r#"{"version":1,"server_url":"https://x.in","team":"a\nb"}"#,
                "team: must be one line",
            ),
            (
                r#"{"version":1,"server_url":"https://x.in","phone":{"sip_domain":"a b.in"}}"#,
                "phone.sip_domain:",
            ),
            (
                r#"{"version":1,"server_url":"https://x.in","phone":{"websocket_url":"https://v.in"}}"#,
                "phone.websocket_url:",
            ),
        ];
        for (text, needle) in cases {
            let err = Provisioning::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err:?} lacks {needle:?}");
        }
        // Serde's sentence carries the place of the mistake.
        let err = Provisioning::parse("{\n\"version\": 1,\n\"server_url\": \"https://x.in\",\n\"tem\": 1}")
            .unwrap_err();
        assert!(err.to_string().contains("line 4"), "{err}");
    }

    #[test]
    fn provisioning_is_looked_for_in_order() {
        let found = provisioning_candidates(
            Some(Path::new("/tmp/p.json")),
            Some(Path::new("/home/a/.cfg")),
            Some(Path::new("/home/a")),
        );
        assert_eq!(
            found,
            vec![
                PathBuf::from("/tmp/p.json"),
                PathBuf::from("/home/a/.cfg/leadline/provisioning.json"),
                PathBuf::from("/etc/leadline/provisioning.json"),
            ]
        );
        let found = provisioning_candidates(None, Some(Path::new("relative")), Some(Path::new("/home/a")));
        assert_eq!(
            found,
            vec![
                PathBuf::from("/home/a/.config/leadline/provisioning.json"),
                PathBuf::from("/etc/leadline/provisioning.json"),
            ]
        );
    }

    #[test]
    fn a_desk_setup_round_trips() {
        let s = DeskSetup {
            server_url: "https://x.in".into(),
            allow_http: false,
            server_version: Some("0.1.0".into()),
            microphone: StepOutcome::Passed,
            input_device: None,
            notifications: StepOutcome::Failed,
            completed_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""microphone":"passed""#), "{json}");
        assert_eq!(serde_json::from_str::<DeskSetup>(&json).unwrap(), s);
    }
}
