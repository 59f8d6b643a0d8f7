//! Configuration of a [`UserAgent`](crate::UserAgent).

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::PhoneError;

/// A SIP password. Its `Debug` output is redacted and it is zeroised on drop, so it can sit in
/// configs that get logged.
pub struct Password(SecretString);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Self(SecretString::from(password.into()))
    }

    /// The password itself, for the digest answers and the keyring. Never log or display it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl Clone for Password {
    fn clone(&self) -> Self {
        Self::new(self.expose())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl From<String> for Password {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// Transport of the WebSocket URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsScheme {
    /// `ws://` — plain WebSocket (tests, LAN).
    Ws,
    /// `wss://` — WebSocket over TLS.
    Wss,
}

impl WsScheme {
    /// The Via transport token (RFC 7118 §5.2).
    pub fn via_transport(self) -> &'static str {
        match self {
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// The `transport=` URI parameter value.
    pub fn uri_transport(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }
}

/// Everything a [`UserAgent`](crate::UserAgent) needs. Build one with [`PhoneConfig::new`] and
/// adjust the public fields.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// `ws://host:port/path` or `wss://host:port/path` of the SIP WebSocket server.
    pub ws_url: String,
    /// SIP domain of the account (host part of the AOR, Request-URI of REGISTER), e.g.
    /// `<account_sid>.voip.exotel.com`.
    pub domain: String,
    /// SIP user (user part of the AOR).
    pub username: String,
    /// User name for digest authentication when it differs from `username`.
    pub auth_username: Option<String>,
    pub password: Password,
    /// Display name put in the From header.
    pub display_name: Option<String>,
    /// Requested registration lifetime in seconds (the registrar may grant less).
    pub register_expires: u32,
    /// SIP URI of an outbound proxy (`sip:proxy.example.com;lr`), sent as a pre-loaded Route.
    pub outbound_proxy: Option<String>,
    /// Value of the User-Agent header.
    pub user_agent: String,
    /// Stable identifier of this installation, sent as `+sip.instance` (RFC 5626). A random one is
    /// used when absent; pass a persisted value so the registrar recognises the device.
    pub instance_id: Option<uuid::Uuid>,
    /// Time to wait for a final response to a request.
    pub request_timeout: Duration,
    /// Time to wait for TCP + TLS + WebSocket handshake.
    pub connect_timeout: Duration,
    /// Interval of WebSocket pings while connected.
    pub keepalive_interval: Duration,
    /// Without any frame from the server for `keepalive_interval + keepalive_timeout`, the
    /// connection is considered dead.
    pub keepalive_timeout: Duration,
    /// First retry delay after a failure; doubled per failure up to `retry_max` (with jitter).
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Extra trusted root certificates (DER) for `wss://`, on top of the system store.
    pub extra_root_certs: Vec<Vec<u8>>,
    /// Answer incoming calls at once (Exotel's agent flow: the server has Exotel ring the telecaller's SIP
    /// user first and bridges the customer once answered).
    pub auto_answer: bool,
    /// How long our INVITE may go without any answer at all (not even 100 Trying) before the call fails as
    /// timed out (RFC 3261 timer B: 32 s).
    pub invite_timeout: Duration,
    /// How long a call may ring (either way) before it is given up.
    pub ring_timeout: Duration,
    /// A connected call with no RTP at all from the far end for this long (and nobody holding) is over: the
    /// far end vanished without a BYE.
    pub media_timeout: Duration,
    /// A call answered whose media has not connected (ICE and DTLS) this long after the answer has no audio
    /// path (UDP blocked, a firewall): it ends as [`CallFailure::AudioPath`](crate::CallFailure::AudioPath).
    pub media_connect_timeout: Duration,
    /// ICE servers, codecs and sockets of the calls' media.
    pub media: crate::media::MediaConfig,
}

impl PhoneConfig {
    pub fn new(
        ws_url: impl Into<String>,
        domain: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> Self {
        Self {
            ws_url: ws_url.into(),
            domain: domain.into(),
            username: username.into(),
            auth_username: None,
            password: password.into(),
            display_name: None,
            register_expires: 600,
            outbound_proxy: None,
            user_agent: concat!("Leadline/", env!("CARGO_PKG_VERSION")).to_owned(),
            instance_id: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(25),
            keepalive_timeout: Duration::from_secs(10),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            extra_root_certs: Vec::new(),
            auto_answer: false,
            invite_timeout: Duration::from_secs(32),
            ring_timeout: Duration::from_secs(90),
            media_timeout: Duration::from_secs(30),
            media_connect_timeout: Duration::from_secs(10),
            media: crate::media::MediaConfig::default(),
        }
    }

    /// The user name used for digest authentication.
    pub fn auth_user(&self) -> &str {
        self.auth_username.as_deref().unwrap_or(&self.username)
    }

    /// Checks the configuration and returns the WebSocket scheme.
    pub fn validate(&self) -> Result<WsScheme, PhoneError> {
        let bad = |what: &str| Err(PhoneError::InvalidConfig(what.to_owned()));
        let scheme = match self.ws_url.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("ws") && !rest.is_empty() => WsScheme::Ws,
            Some((s, rest)) if s.eq_ignore_ascii_case("wss") && !rest.is_empty() => WsScheme::Wss,
            _ => return bad("ws_url must start with ws:// or wss://"),
        };
        let token_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/%".contains(c))
        };
        if !token_ok(&self.username) {
            return bad("username is empty or has characters not allowed in a SIP URI");
        }
        if !token_ok(self.auth_user()) || self.auth_user().contains('"') {
            return bad("auth_username is empty or invalid");
        }
        if self.domain.is_empty()
            || !self
                .domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        {
            return bad("domain must be a host name or IP address (optionally with :port)");
        }
        if let Some(name) = &self.display_name
            && name.chars().any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return bad("display_name must not contain quotes, backslashes or control characters");
        }
        if self.user_agent.chars().any(char::is_control) {
            return bad("user_agent must not contain control characters");
        }
        if let Some(proxy) = &self.outbound_proxy
            && (!(proxy.starts_with("sip:") || proxy.starts_with("sips:"))
                || proxy.chars().any(|c| c.is_whitespace() || c == '<' || c == '>'))
        {
            return bad("outbound_proxy must be a sip: or sips: URI");
        }
        if self.register_expires == 0 {
            return bad("register_expires must be at least 1 second");
        }
        if self.retry_min.is_zero() || self.retry_max < self.retry_min {
            return bad("retry_min must be > 0 and <= retry_max");
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("timeouts must be > 0");
        }
        Ok(scheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_password() {
        let cfg = PhoneConfig::new(
            "wss://voip.example.com/ws",
            "example.com",
            "agent7",
            "hunter2-secret",
        );
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert_eq!(cfg.password.clone().expose(), "hunter2-secret");
    }

    #[test]
    fn validation() {
        let ok = PhoneConfig::new("wss://voip.example.com/ws", "example.com", "agent7", "pw");
        assert_eq!(ok.validate(), Ok(WsScheme::Wss));
        assert_eq!(
            PhoneConfig {
                ws_url: "ws://127.0.0.1:5066".into(),
                ..ok.clone()
            }
            .validate(),
            Ok(WsScheme::Ws)
        );
        for bad in [
            PhoneConfig {
                ws_url: "https://x".into(),
                ..ok.clone()
            },
            PhoneConfig {
                ws_url: "wss://".into(),
                ..ok.clone()
            },
            PhoneConfig {
                username: "a b".into(),
                ..ok.clone()
            },
            PhoneConfig {
                username: String::new(),
                ..ok.clone()
            },
            PhoneConfig {
                domain: "exa mple.com".into(),
                ..ok.clone()
            },
            PhoneConfig {
                display_name: Some("evil\"\r\nVia: x".into()),
                ..ok.clone()
            },
            PhoneConfig {
                outbound_proxy: Some("proxy.example.com".into()),
                ..ok.clone()
            },
            PhoneConfig {
                register_expires: 0,
                ..ok.clone()
            },
            PhoneConfig {
                retry_max: Duration::ZERO,
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(PhoneError::InvalidConfig(_))),
                "{bad:?}"
            );
        }
    }
}
