//! Fuzz target `provisioning`: the provisioning file an admin drops on a desk
//! (`/etc/leadline/provisioning.json`, read by [`Provisioning::parse`] at every start): files as an admin
//! writes them — every field, blanks around values, capitals in the host — and the same damaged. A valid
//! file is read as written (normalised); whatever is accepted obeys every rule the setup relies on and
//! reads back the same when saved again; anything else is a typed error naming the field; never a panic.

use leadline_model::setup::{PROVISIONING_VERSION, Provisioning, check_server_url};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::mutate::{Case, awkward_text, cases, re};

#[derive(Debug, Clone)]
pub struct Sample {
    /// Host labels (lower case), written with these letters in capitals.
    host: Vec<String>,
    shout: bool,
    port: Option<u16>,
    path: Option<String>,
    /// `http://` with `allow_http`, else `https://`.
    http: bool,
    managed_by: Option<String>,
    language: Option<&'static str>,
    team: Option<String>,
    sip_domain: Option<String>,
    websocket_url: Option<String>,
    /// Blanks around the free-text values.
    padded: bool,
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"\"version\":",
    b"\"version\":2",
    b"4294967296",
    b"\"server_url\":",
    b"\"https://",
    b"http://",
    b"ftp://",
    b"https://user:pw@",
    b"?x=1",
    b"#frag",
    b"\"allow_http\":true",
    b"\"phone\":{}",
    b"\"phone\":null",
    b"\"sip_domain\":\"..\"",
    b"\"websocket_url\":\"wss://\"",
    b"\"team\":\"\"",
    b"\"managed_by\":\"\\u0007\"",
    b"\"language\":\"fr\"",
    b"\"extra\":1",
    b"[::1]",
    b"%2F",
    b"xn--",
    b"\\ud800",
];

fn label() -> BoxedStrategy<String> {
    // Not `xn--…` (punycode, which these random letters are not).
    re("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?")
        .prop_filter("punycode prefix", |l| !l.starts_with("xn--"))
        .boxed()
}

/// A host name: a few labels and a top-level label that starts with a letter (all digits would make
/// `1.2` an IPv4 address).
fn host_labels() -> BoxedStrategy<Vec<String>> {
    (prop::collection::vec(label(), 1..3), re("[a-z][a-z0-9]{1,6}"))
        .prop_map(|(mut labels, top)| {
            labels.push(top);
            labels
        })
        .boxed()
}

fn text() -> BoxedStrategy<String> {
    re("[A-Za-z0-9][A-Za-z0-9 .,()+@-]{0,40}[A-Za-z0-9)]")
}

fn sample() -> BoxedStrategy<Sample> {
    (
        (
            host_labels(),
            any::<bool>(),
            prop::option::of(1..65535u16),
            prop::option::of(re("(/[a-z0-9]{1,8}){1,3}")),
            any::<bool>(),
        ),
        (
            prop::option::of(text()),
            prop::option::of(prop::sample::select(vec!["en", "hi"])),
            prop::option::of(text()),
            prop::option::of(host_labels().prop_map(|l| l.join("."))),
            prop::option::of((host_labels(), prop::option::of(1..65535u16)).prop_map(|(h, p)| {
                format!(
                    "wss://{}{}/wss",
                    h.join("."),
                    p.map(|p| format!(":{p}")).unwrap_or_default()
                )
            })),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (host, shout, port, path, http),
                (managed_by, language, team, sip_domain, websocket_url, padded),
            )| {
                Sample {
                    host,
                    shout,
                    port,
                    path,
                    http,
                    managed_by,
                    language,
                    team,
                    sip_domain,
                    websocket_url,
                    padded,
                }
            },
        )
        .boxed()
}

fn host(s: &Sample) -> String {
    let h = s.host.join(".");
    if s.shout { h.to_uppercase() } else { h }
}

fn url(s: &Sample) -> String {
    format!(
        "{}://{}{}{}",
        if s.http { "http" } else { "https" },
        host(s),
        s.port.map(|p| format!(":{p}")).unwrap_or_default(),
        s.path.as_deref().unwrap_or("/")
    )
}

pub fn render(s: &Sample) -> Vec<u8> {
    let pad = |t: &str| {
        if s.padded {
            format!("  {t}\t")
        } else {
            t.to_owned()
        }
    };
    let mut v = json!({"version": PROVISIONING_VERSION, "server_url": pad(&url(s))});
    if s.http {
        v["allow_http"] = json!(true);
    }
    if let Some(m) = &s.managed_by {
        v["managed_by"] = json!(pad(m));
    }
    if let Some(l) = s.language {
        v["language"] = json!(l);
    }
    if let Some(t) = &s.team {
        v["team"] = json!(pad(t));
    }
    if s.sip_domain.is_some() || s.websocket_url.is_some() {
        let mut phone = json!({});
        if let Some(d) = &s.sip_domain {
            phone["sip_domain"] = json!(pad(&d.to_uppercase()));
        }
        if let Some(w) = &s.websocket_url {
            phone["websocket_url"] = json!(pad(w));
        }
        v["phone"] = phone;
    }
    serde_json::to_vec_pretty(&v).unwrap_or_default()
}

pub fn strategy() -> BoxedStrategy<Case<Sample>> {
    let awkward = awkward_text()
        .prop_map(|t| {
            Case::Bytes(
                json!({"version": 1, "server_url": "https://crm.example.in", "team": t})
                    .to_string()
                    .into_bytes(),
            )
        })
        .boxed();
    prop_oneof![8 => cases(sample(), render, TOKENS), 1 => awkward].boxed()
}

/// The rules the setup relies on for an accepted file.
fn obeys_the_rules(p: &Provisioning) -> Result<(), String> {
    if p.version != PROVISIONING_VERSION {
        return Err(format!("version {} accepted", p.version));
    }
    match check_server_url(&p.server_url, p.allow_http) {
        Ok(again) if again == p.server_url => {}
        other => {
            return Err(format!(
                "server_url {:?} is not a normalised address: {other:?}",
                p.server_url
            ));
        }
    }
    for (field, value) in [("managed_by", &p.managed_by), ("team", &p.team)] {
        if let Some(v) = value
            && (v.is_empty() || v.trim() != v || v.chars().count() > 200 || v.chars().any(char::is_control))
        {
            return Err(format!("{field} {v:?} accepted"));
        }
    }
    if let Some(phone) = &p.phone {
        if let Some(d) = &phone.sip_domain
            && (d.to_ascii_lowercase() != *d
                || d.split('.')
                    .any(|l| l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')))
        {
            return Err(format!("sip_domain {d:?} accepted"));
        }
        if let Some(w) = &phone.websocket_url {
            let ok = url::Url::parse(w)
                .ok()
                .is_some_and(|u| matches!(u.scheme(), "ws" | "wss") && u.host().is_some());
            if !ok || w.trim() != w {
                return Err(format!("websocket_url {w:?} accepted"));
            }
        }
    }
    // Saved again (the desk keeps what it read) and read back: the same settings.
    let saved = serde_json::to_string(p).map_err(|e| e.to_string())?;
    match Provisioning::parse(&saved) {
        Ok(again) if again == *p => Ok(()),
        other => Err(format!("{saved} read back as {other:?}")),
    }
}

pub fn check(case: &Case<Sample>) -> Result<(), String> {
    let s = match case {
        Case::Bytes(b) => {
            let text = String::from_utf8_lossy(b);
            if let Ok(p) = Provisioning::parse(&text) {
                obeys_the_rules(&p)?;
            }
            return Ok(());
        }
        Case::Valid(s) => s,
    };
    let body = render(s);
    let text = String::from_utf8(body).map_err(|e| e.to_string())?;
    let p = Provisioning::parse(&text).map_err(|e| format!("refused: {e}\n{text}"))?;
    obeys_the_rules(&p)?;
    let mut want_url = url(s).to_lowercase();
    if s.port == Some(if s.http { 80 } else { 443 }) {
        want_url = want_url.replace(&format!(":{}", s.port.unwrap_or_default()), "");
    }
    let want_url = want_url.trim_end_matches('/').to_owned();
    let language = p.language.map(|l| serde_json::to_value(l).unwrap_or(Value::Null));
    if p.server_url != want_url
        || p.allow_http != s.http
        || p.managed_by != s.managed_by
        || p.team != s.team
        || language != s.language.map(|l| json!(l))
        || p.phone.as_ref().and_then(|ph| ph.sip_domain.clone()) != s.sip_domain
        || p.phone.as_ref().and_then(|ph| ph.websocket_url.clone()) != s.websocket_url
    {
        return Err(format!("{text}\nread as {p:?}"));
    }
    Ok(())
}
