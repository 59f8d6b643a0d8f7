//! Fuzz target `jwt`: bearer tokens through the server's [`TokenKeys::verify`]. Tokens are built from
//! parts — header (`alg` HS256, HS384, HS512, none, RS256, `hs256`; extra fields), claims (`sub` a UUID or
//! not, roles, expiry past, future, huge or negative, `sid`, nested extras, padding up to hundreds of KiB)
//! and a signature (our key, another key, another algorithm, none) — then mangled. A token verifies only
//! when it is HS256, signed with our key, its claims well formed and unexpired; any other gets a typed
//! error. An accepted mangled token must carry exactly the canonical HS256 signature of its own header and
//! claims.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use serde_json::{Value, json};

use leadline_server::auth::TokenKeys;

use super::mutate::{Case, cases, re};

const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret!";
const OTHER_SECRET: &[u8] = b"another-secret-another-secret-12345";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    Ours,
    OtherKey,
    /// Our key, HS384 (algorithm confusion).
    Hs384,
    Empty,
    Garbage,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub alg: &'static str,
    pub header_extra: Option<(String, Value)>,
    /// `Some(uuid)` or a non-UUID subject.
    pub sub: Result<u128, String>,
    pub role: &'static str,
    /// Expiry, seconds from now.
    pub exp_in: i64,
    pub sid: Option<String>,
    pub extra: Option<Value>,
    pub pad: usize,
    pub signer: Signer,
}

impl Sample {
    /// Whether the server must accept it.
    fn acceptable(&self) -> bool {
        self.alg == "HS256"
            && self.signer == Signer::Ours
            && self.sub.is_ok()
            && self.role != "root"
            && self.exp_in >= 60
    }
}

const TOKENS: &[&[u8]] = &[
    b".",
    b"..",
    b"=",
    b"==",
    b"+",
    b"/",
    b"eyJhbGciOiJub25lIn0",
    b"eyJhbGciOiJIUzI1NiJ9",
    b"e30",
    b"A",
    b"AAAA",
    b"\x00",
    b" ",
    b"\xc3\xa9",
];

fn value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        re(".{0,12}").prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(re("[a-z]{1,6}"), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn sample() -> BoxedStrategy<Sample> {
    (
        (
            prop::sample::select(vec![
                "HS256", "HS256", "HS256", "HS384", "HS512", "none", "RS256", "hs256", "ES256",
            ]),
            prop::option::of((re("kid|typ|cty|jku|x5u|crit|zip|[a-z]{1,5}"), value(2))),
            prop_oneof![6 => any::<u128>().prop_map(Ok), 1 => re(".{0,40}").prop_map(Err)],
            prop::sample::select(vec!["telecaller", "supervisor", "admin", "root"]),
        ),
        (
            prop_oneof![
                6 => 60..100_000i64,
                2 => -100_000..-1i64,
                1 => Just(i64::MAX / 2),
                1 => Just(i64::MIN / 2),
            ],
            prop::option::of(re("[0-9a-f-]{36}|.{0,10}")),
            prop::option::of(value(4)),
            prop_oneof![12 => Just(0usize), 1 => 1..300_000usize],
            prop::sample::select(vec![
                Signer::Ours,
                Signer::Ours,
                Signer::Ours,
                Signer::OtherKey,
                Signer::Hs384,
                Signer::Empty,
                Signer::Garbage,
            ]),
        ),
    )
        .prop_map(
            |((alg, header_extra, sub, role), (exp_in, sid, extra, pad, signer))| Sample {
                alg,
                header_extra,
                sub,
                role,
                exp_in,
                sid,
                extra,
                pad,
                signer,
            },
        )
        .boxed()
}

fn sign(message: &[u8], secret: &[u8], alg: Algorithm) -> String {
    jsonwebtoken::crypto::sign(message, &EncodingKey::from_secret(secret), alg).unwrap_or_default()
}

/// The token as a client (or a forger) sends it.
pub fn render(s: &Sample) -> Vec<u8> {
    let mut header = json!({"alg": s.alg, "typ": "JWT"});
    if let Some((k, v)) = &s.header_extra
        && k != "alg"
        && k != "typ"
        && k != "crit"
    {
        header[k.as_str()] = v.clone();
    }
    let now = chrono::Utc::now().timestamp();
    let sub = match &s.sub {
        Ok(n) => uuid::Uuid::from_u128(*n).hyphenated().to_string(),
        Err(text) => text.clone(),
    };
    let mut claims = json!({"sub": sub, "role": s.role, "iat": now, "exp": now.saturating_add(s.exp_in)});
    if let Some(sid) = &s.sid {
        claims["sid"] = json!(sid);
    }
    if let Some(extra) = &s.extra {
        claims["x"] = extra.clone();
    }
    if s.pad > 0 {
        claims["pad"] = json!("p".repeat(s.pad));
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = match s.signer {
        Signer::Ours => sign(input.as_bytes(), SECRET, Algorithm::HS256),
        Signer::OtherKey => sign(input.as_bytes(), OTHER_SECRET, Algorithm::HS256),
        Signer::Hs384 => sign(input.as_bytes(), SECRET, Algorithm::HS384),
        Signer::Empty => String::new(),
        Signer::Garbage => URL_SAFE_NO_PAD.encode([7u8; 32]),
    };
    format!("{input}.{sig}").into_bytes()
}

pub struct Target {
    keys: TokenKeys,
}

impl Target {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            keys: TokenKeys::new(SECRET, Duration::from_secs(900)).map_err(|e| e.to_string())?,
        })
    }

    pub fn strategy(&self) -> BoxedStrategy<Case<Sample>> {
        cases(sample(), render, TOKENS)
    }

    /// Checks one case.
    pub fn check(&self, case: &Case<Sample>) -> Result<(), String> {
        match case {
            Case::Valid(s) => {
                let token = String::from_utf8(render(s)).map_err(|e| e.to_string())?;
                let verified = self.keys.verify(&token);
                match (&verified, s.acceptable()) {
                    (Ok((id, claims)), true) => {
                        if Ok(id.as_u128()) != s.sub || claims.role.to_string() != s.role {
                            return Err(format!("token read as {id} {:?}", claims.role));
                        }
                        Ok(())
                    }
                    (Err(_), false) => Ok(()),
                    // Well-formed but odd extras (a huge float, deep nesting) may be refused: never wrongly
                    // accepted.
                    (Err(_), true) if s.extra.is_some() || s.header_extra.is_some() || s.sid.is_some() => {
                        Ok(())
                    }
                    (Ok(_), false) => Err(format!("forged or expired token accepted: {token:.200}")),
                    (Err(e), true) => Err(format!("valid token refused: {e}")),
                }
            }
            Case::Bytes(b) => {
                let token = String::from_utf8_lossy(b);
                if self.keys.verify(&token).is_ok() {
                    canonical(&token)?;
                }
                Ok(())
            }
        }
    }
}

/// An accepted token: HS256 in its header and exactly our signature of its first two parts.
fn canonical(token: &str) -> Result<(), String> {
    let mut parts = token.rsplitn(2, '.');
    let (sig, input) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let header = input.split('.').next().unwrap_or("");
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(|| format!("accepted token with an unreadable header: {token:.200}"))?;
    if header["alg"] != "HS256" {
        return Err(format!("accepted a token whose alg is {}", header["alg"]));
    }
    if sig != sign(input.as_bytes(), SECRET, Algorithm::HS256) {
        return Err(format!(
            "accepted a token with a non-canonical signature: {token:.200}"
        ));
    }
    Ok(())
}
