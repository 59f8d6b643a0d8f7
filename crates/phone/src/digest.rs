//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616 / RFC 8760).
//!
//! `rsip` 0.4 has typed `WWW-Authenticate`/`Authorization` headers, but they cannot parse a
//! `qop="auth,auth-int"` list, do not know the RFC 8760 algorithm names (`SHA-256`) and print the
//! nonce count in decimal, so challenges are parsed here from the header value rsip hands us.

use md5::Md5;
use sha2::{Digest as _, Sha256};

use rsip::headers::UntypedHeader as _;
use tracing::debug;

use crate::error::PhoneError;
use crate::sip;

/// Hash algorithms we can answer, in the spelling of RFC 8760.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    fn parse(token: &str) -> Option<Self> {
        match token.to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "MD5-SESS" => Some(Self::Md5Sess),
            "SHA-256" | "SHA256" => Some(Self::Sha256),
            "SHA-256-SESS" | "SHA256-SESS" => Some(Self::Sha256Sess),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    fn hash(self, data: &str) -> String {
        let bytes = match self {
            Self::Md5 | Self::Md5Sess => Md5::digest(data.as_bytes()).to_vec(),
            Self::Sha256 | Self::Sha256Sess => Sha256::digest(data.as_bytes()).to_vec(),
        };
        hex(&bytes)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Quality of protection chosen for a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    Auth,
    AuthInt,
}

/// One `Digest` challenge from a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// `None` when the server sent no qop (RFC 2069 compatibility mode).
    pub qop: Option<Qop>,
    /// The server says the nonce expired but the credentials were fine.
    pub stale: bool,
    /// From a 407: answer with `Proxy-Authorization`.
    pub proxy: bool,
}

impl Challenge {
    /// Parses one challenge header value. `Ok(None)` for a well-formed challenge we cannot
    /// answer (another scheme or algorithm); `Err` for a malformed one.
    pub fn parse(value: &str, proxy: bool) -> Result<Option<Self>, PhoneError> {
        let value = value.trim_start();
        let (scheme, rest) = value
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Ok(None);
        }
        let params = parse_auth_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let bad = |what: &str| PhoneError::protocol(format!("digest challenge {what}: {value:?}"));
        let realm = get("realm").ok_or_else(|| bad("without realm"))?.to_owned();
        let nonce = get("nonce").ok_or_else(|| bad("without nonce"))?.to_owned();
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(name) => match Algorithm::parse(name) {
                Some(algorithm) => algorithm,
                None => return Ok(None),
            },
        };
        let qop = match get("qop") {
            None => None,
            Some(list) => {
                let offered: Vec<&str> = list.split(',').map(str::trim).collect();
                if offered.iter().any(|q| q.eq_ignore_ascii_case("auth")) {
                    Some(Qop::Auth)
                } else if offered.iter().any(|q| q.eq_ignore_ascii_case("auth-int")) {
                    Some(Qop::AuthInt)
                } else {
                    return Ok(None);
                }
            }
        };
        Ok(Some(Self {
            realm,
            nonce,
            opaque: get("opaque").map(str::to_owned),
            algorithm,
            qop,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            proxy,
        }))
    }

    /// Computes the `Authorization` / `Proxy-Authorization` header value.
    ///
    /// `nc` is the nonce count (1 for the first use of this nonce), `cnonce` a fresh client nonce,
    /// `body` the request body (only used for `auth-int`).
    #[allow(clippy::too_many_arguments)]
    pub fn authorization(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
        body: &[u8],
    ) -> String {
        let alg = self.algorithm;
        let mut ha1 = alg.hash(&format!("{username}:{}:{password}", self.realm));
        if alg.is_sess() {
            ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = match self.qop {
            Some(Qop::AuthInt) => {
                let body_hash = match alg {
                    Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(body)),
                    Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(body)),
                };
                alg.hash(&format!("{method}:{uri}:{body_hash}"))
            }
            _ => alg.hash(&format!("{method}:{uri}")),
        };
        let nc = format!("{nc:08x}");
        let (response, qop) = match self.qop {
            Some(qop) => {
                let token = if qop == Qop::Auth { "auth" } else { "auth-int" };
                (
                    alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:{token}:{ha2}", self.nonce)),
                    Some(token),
                )
            }
            None => (alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce)), None),
        };
        let mut out = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", \
             algorithm={}",
            quote_escape(username),
            quote_escape(&self.realm),
            quote_escape(&self.nonce),
            alg.name(),
        );
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quote_escape(opaque)));
        }
        if let Some(qop) = qop {
            out.push_str(&format!(
                ", qop={qop}, nc={nc}, cnonce=\"{}\"",
                quote_escape(cnonce)
            ));
        }
        out
    }
}

fn quote_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Parses `name=token` / `name="quoted string"` pairs separated by commas (RFC 7235 auth-param).
fn parse_auth_params(input: &str) -> Result<Vec<(String, String)>, PhoneError> {
    let bad = |why: &str| PhoneError::protocol(format!("malformed digest challenge ({why}): {input:?}"));
    let mut params = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',' && !c.is_ascii_whitespace()) {
            name.push(c);
        }
        while chars.next_if(char::is_ascii_whitespace).is_some() {}
        if chars.next() != Some('=') || name.is_empty() {
            return Err(bad("expected name=value"));
        }
        while chars.next_if(char::is_ascii_whitespace).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    None => return Err(bad("unterminated quoted string")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad("unterminated escape")),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_ascii_whitespace()) {
                value.push(c);
            }
        }
        while chars.next_if(char::is_ascii_whitespace).is_some() {}
        match chars.peek() {
            None | Some(',') => {}
            Some(_) => return Err(bad("garbage after value")),
        }
        params.push((name, value));
    }
    Ok(params)
}

/// The first supported digest challenge of a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`).
/// Picks the first challenge we can answer (RFC 8760 §2.4: the topmost supported one).
pub(crate) fn pick_challenge(resp: &rsip::Response, proxy: bool) -> Result<Challenge, PhoneError> {
    let values = sip::header_values(&resp.headers, |h| match h {
        rsip::Header::WwwAuthenticate(v) if !proxy => Some(v.value()),
        rsip::Header::ProxyAuthenticate(v) if proxy => Some(v.value()),
        _ => None,
    });
    if values.is_empty() {
        return Err(PhoneError::protocol(format!(
            "{} without {}-Authenticate",
            resp.status_code.code(),
            if proxy { "Proxy" } else { "WWW" }
        )));
    }
    let mut first_error = None;
    for value in values {
        match Challenge::parse(value, proxy) {
            Ok(Some(challenge)) => return Ok(challenge),
            Ok(None) => debug!(challenge = %sip::truncate(value), "skipping unsupported challenge"),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| PhoneError::Protocol("no supported digest challenge".into())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc2617_md5_qop_auth_example() {
        let c = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.algorithm, Algorithm::Md5);
        let h = c.authorization(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            1,
            "0a4f113b",
            b"",
        );
        assert!(
            h.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{h}"
        );
        assert!(h.contains("nc=00000001"), "{h}");
        assert!(h.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#), "{h}");
    }

    #[test]
    fn rfc7616_sha256_and_md5_examples() {
        let base = r#"realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let sha = Challenge::parse(&format!("Digest algorithm=SHA-256, {base}"), false)
            .unwrap()
            .unwrap();
        let h = sha.authorization(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            1,
            cnonce,
            b"",
        );
        assert!(
            h.contains("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
            "{h}"
        );
        let md5 = Challenge::parse(&format!("Digest algorithm=MD5, {base}"), false)
            .unwrap()
            .unwrap();
        let h = md5.authorization(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            1,
            cnonce,
            b"",
        );
        assert!(h.contains("8ca523f5e9506fed4657c9700eebdbec"), "{h}");
    }

    #[test]
    fn nonce_count_is_hex() {
        let c = Challenge::parse(r#"Digest realm="r", nonce="n", qop="auth""#, false)
            .unwrap()
            .unwrap();
        assert!(
            c.authorization("u", "p", "REGISTER", "sip:r", 10, "c", b"")
                .contains("nc=0000000a")
        );
    }

    #[test]
    fn unsupported_and_malformed_challenges() {
        assert_eq!(Challenge::parse(r#"Basic realm="x""#, false).unwrap(), None);
        assert_eq!(
            Challenge::parse(r#"Digest realm="x", nonce="n", algorithm=SHA-512-256"#, false).unwrap(),
            None
        );
        assert!(Challenge::parse(r#"Digest realm="x"#, false).is_err());
        assert!(Challenge::parse(r#"Digest nonce="n""#, false).is_err());
        assert!(Challenge::parse("Digest ====", false).is_err());
        assert!(Challenge::parse("Digest realm=\"a\" junk, nonce=1", false).is_err());
        let stale = Challenge::parse(r#"Digest realm="x", nonce="n", stale=TRUE"#, true)
            .unwrap()
            .unwrap();
        assert!(stale.stale && stale.proxy && stale.qop.is_none());
    }
}
