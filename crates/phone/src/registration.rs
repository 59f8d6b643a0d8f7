//! REGISTER client (RFC 3261 §10) with digest authentication.
//!
//! One [`Registrar`] lives as long as the user agent: Call-ID, From tag and Contact stay the same
//! across refreshes and reconnections (so the registrar updates one binding instead of piling up
//! new ones), the CSeq grows with every request, and the last digest challenge is kept so
//! refreshes can answer it pre-emptively (nonce count + 1) without an extra 401 round trip.

use rsip::headers::UntypedHeader as _;
use rsip::prelude::{HeadersExt as _, ToTypedHeader as _};
use tracing::{debug, warn};

use crate::config::PhoneConfig;
use crate::dialog::ALLOW;
use crate::digest::{Challenge, pick_challenge};
use crate::error::PhoneError;
use crate::sip::{self, random_token, split_contact, split_list};
use crate::transport::Connection;

/// A successful registration (or de-registration when `expires == 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Address of record, `sip:user@domain`.
    pub aor: String,
    /// Our Contact URI as sent.
    pub contact: String,
    /// Lifetime granted by the registrar, in seconds.
    pub expires: u32,
    /// Every contact URI the registrar listed for the AOR (ours included).
    pub bindings: Vec<String>,
}

pub(crate) struct Registrar {
    aor: String,
    request_uri: String,
    uri: rsip::Uri,
    call_id: String,
    from_tag: String,
    cseq: u32,
    instance: String,
    /// Last challenge and how often its nonce was used.
    auth: Option<(Challenge, u32)>,
    realm: Option<String>,
}

const MAX_ROUNDS: usize = 4;

impl Registrar {
    pub(crate) fn new(cfg: &PhoneConfig) -> Result<Self, PhoneError> {
        let instance = cfg.instance_id.unwrap_or_else(uuid::Uuid::new_v4);
        let request_uri = format!("sip:{}", cfg.domain);
        let uri = rsip::Uri::try_from(request_uri.as_str())
            .map_err(|e| PhoneError::InvalidConfig(format!("domain {:?}: {e}", cfg.domain)))?;
        Ok(Self {
            aor: format!("sip:{}@{}", cfg.username, cfg.domain),
            request_uri,
            uri,
            call_id: format!("{}@leadline.invalid", random_token(20)),
            from_tag: random_token(10),
            cseq: rand::random_range(1..10_000),
            instance: format!("<urn:uuid:{instance}>"),
            auth: None,
            realm: None,
        })
    }

    pub(crate) fn aor(&self) -> &str {
        &self.aor
    }

    pub(crate) fn contact_uri(&self, cfg: &PhoneConfig, conn: &Connection) -> String {
        format!(
            "sip:{}@{};transport={}",
            cfg.username,
            conn.local.via_host,
            conn.local.scheme.uri_transport()
        )
    }

    fn realm_for_error(&self, cfg: &PhoneConfig) -> String {
        self.realm.clone().unwrap_or_else(|| cfg.domain.clone())
    }

    /// Sends REGISTER (answering digest challenges) until a final outcome.
    pub(crate) async fn register(
        &mut self,
        cfg: &PhoneConfig,
        conn: &Connection,
        expires: u32,
    ) -> Result<Registration, PhoneError> {
        let mut expires = expires;
        // True once the credentials we send answer a challenge received in this very attempt:
        // a new challenge after that means the password is wrong (unless the nonce was stale).
        let mut fresh = false;
        let mut stale_retries = 0;
        let mut interval_retried = false;
        for _ in 0..MAX_ROUNDS {
            let branch = sip::new_branch();
            self.cseq = self.cseq.wrapping_add(1) % 0x8000_0000;
            let cseq = self.cseq;
            let req = self.build(cfg, conn, &branch, cseq, expires);
            let resp = conn.transaction(req, &branch, cfg.request_timeout).await?;
            self.check_response(&resp, cseq)?;
            let code = resp.status_code.code();
            debug!(code, cseq, expires, "REGISTER answered");
            match code {
                200..=299 => {
                    self.realm = self
                        .auth
                        .as_ref()
                        .map(|(c, _)| c.realm.clone())
                        .or(self.realm.take());
                    return self.registration(cfg, conn, &resp, expires);
                }
                401 | 407 => {
                    let challenge = pick_challenge(&resp, code == 407)?;
                    self.realm = Some(challenge.realm.clone());
                    if fresh && !challenge.stale {
                        self.auth = None;
                        return Err(PhoneError::AuthFailed {
                            realm: challenge.realm,
                        });
                    }
                    if challenge.stale {
                        stale_retries += 1;
                        if stale_retries > 1 {
                            self.auth = None;
                            return Err(PhoneError::AuthFailed {
                                realm: challenge.realm,
                            });
                        }
                    }
                    self.auth = Some((challenge, 0));
                    fresh = true;
                }
                403 => {
                    self.auth = None;
                    return Err(PhoneError::AuthFailed {
                        realm: self.realm_for_error(cfg),
                    });
                }
                423 if !interval_retried => {
                    let min = resp
                        .headers
                        .iter()
                        .find_map(|h| match h {
                            rsip::Header::MinExpires(m) => m.seconds().ok(),
                            _ => None,
                        })
                        .ok_or_else(|| PhoneError::Protocol("423 without a valid Min-Expires".into()))?;
                    if min <= expires || min > 7 * 24 * 3600 {
                        return Err(PhoneError::protocol(format!(
                            "423 with unusable Min-Expires {min}"
                        )));
                    }
                    expires = min;
                    interval_retried = true;
                }
                _ => {
                    return Err(PhoneError::Rejected {
                        code,
                        reason: sip::reason_phrase(&resp.status_code),
                    });
                }
            }
        }
        Err(PhoneError::Protocol(
            "too many REGISTER rounds without a final answer".into(),
        ))
    }

    fn build(
        &mut self,
        cfg: &PhoneConfig,
        conn: &Connection,
        branch: &str,
        cseq: u32,
        expires: u32,
    ) -> rsip::Request {
        let local = &conn.local;
        let from = match &cfg.display_name {
            Some(name) => format!("\"{name}\" <{}>;tag={}", self.aor, self.from_tag),
            None => format!("<{}>;tag={}", self.aor, self.from_tag),
        };
        let contact = format!(
            "<{}>;expires={expires};+sip.instance=\"{}\";reg-id=1",
            self.contact_uri(cfg, conn),
            self.instance
        );
        let mut headers = rsip::Headers::default();
        headers.push(
            rsip::headers::Via::new(format!(
                "SIP/2.0/{} {};branch={branch}",
                local.scheme.via_transport(),
                local.via_host
            ))
            .into(),
        );
        headers.push(rsip::headers::MaxForwards::new("70").into());
        if let Some(proxy) = &cfg.outbound_proxy {
            headers.push(rsip::headers::Route::new(format!("<{proxy}>")).into());
        }
        headers.push(rsip::headers::To::new(format!("<{}>", self.aor)).into());
        headers.push(rsip::headers::From::new(from).into());
        headers.push(rsip::headers::CallId::new(self.call_id.clone()).into());
        headers.push(rsip::headers::CSeq::new(format!("{cseq} REGISTER")).into());
        headers.push(rsip::headers::Contact::new(contact).into());
        headers.push(rsip::headers::Expires::new(expires.to_string()).into());
        if let Some((challenge, nc)) = &mut self.auth {
            *nc += 1;
            let value = challenge.authorization(
                cfg.auth_user(),
                cfg.password.expose(),
                "REGISTER",
                &self.request_uri,
                *nc,
                &random_token(16),
                b"",
            );
            headers.push(if challenge.proxy {
                rsip::headers::ProxyAuthorization::new(value).into()
            } else {
                rsip::headers::Authorization::new(value).into()
            });
        }
        headers.push(rsip::headers::Allow::new(ALLOW).into());
        headers.push(rsip::headers::Supported::new("path, outbound").into());
        headers.push(rsip::headers::UserAgent::new(cfg.user_agent.clone()).into());
        headers.push(rsip::headers::ContentLength::new("0").into());
        rsip::Request {
            method: rsip::Method::Register,
            uri: self.uri.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }

    /// The response must belong to our dialog-less REGISTER "session".
    fn check_response(&self, resp: &rsip::Response, cseq: u32) -> Result<(), PhoneError> {
        let call_id = resp
            .call_id_header()
            .map_err(|_| PhoneError::Protocol("response without Call-ID".into()))?;
        if call_id.value().trim() != self.call_id {
            return Err(PhoneError::protocol(format!(
                "response Call-ID {:?} does not match ours",
                sip::truncate(call_id.value())
            )));
        }
        let header = resp
            .cseq_header()
            .map_err(|_| PhoneError::Protocol("response without CSeq".into()))?;
        let typed = header.typed().map_err(|e| {
            PhoneError::protocol(format!("bad CSeq {:?}: {e}", sip::truncate(header.value())))
        })?;
        if typed.seq != cseq || typed.method != rsip::Method::Register {
            return Err(PhoneError::protocol(format!(
                "response CSeq {typed} does not match {cseq} REGISTER"
            )));
        }
        Ok(())
    }

    fn registration(
        &self,
        cfg: &PhoneConfig,
        conn: &Connection,
        resp: &rsip::Response,
        requested: u32,
    ) -> Result<Registration, PhoneError> {
        let ours = self.contact_uri(cfg, conn);
        let (expires, bindings) = granted(resp, &conn.local.via_host, requested, &ours)?;
        Ok(Registration {
            aor: self.aor.clone(),
            contact: ours,
            expires,
            bindings,
        })
    }
}

/// What a registrar's 200 OK to our REGISTER grants: the lifetime (from our Contact's `expires`, else the
/// Expires header, never more than `requested`; 0 for a de-registration) and every binding it lists.
/// `via_host` is the random host of our Contact (`ours` is only named in a warning).
pub(crate) fn granted(
    resp: &rsip::Response,
    via_host: &str,
    requested: u32,
    ours: &str,
) -> Result<(u32, Vec<String>), PhoneError> {
    let mut bindings = Vec::new();
    let mut our_expires = None;
    let values = sip::header_values(&resp.headers, |h| match h {
        rsip::Header::Contact(c) => Some(c.value()),
        _ => None,
    });
    for value in values.iter().flat_map(|v| split_list(v)) {
        // rsip 0.4's typed Contact cannot parse quoted parameter values holding `;` or `:`
        // (kamailio's `received="sip:1.2.3.4:5;transport=ws"`), so split name-addr and
        // parameters here and only hand the URI to rsip.
        let Some((uri, params)) = split_contact(value) else {
            warn!(contact = %sip::truncate(value), "ignoring unparsable Contact in 200 OK");
            continue;
        };
        let is_ours = match rsip::Uri::try_from(uri) {
            Ok(parsed) => match &parsed.host_with_port.host {
                rsip::Host::Domain(d) => d.to_string().eq_ignore_ascii_case(via_host),
                rsip::Host::IpAddr(_) => false,
            },
            Err(_) => {
                warn!(contact = %sip::truncate(value), "ignoring Contact with unparsable URI in 200 OK");
                continue;
            }
        };
        if is_ours {
            let expires = params
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("expires"))
                .map(|(_, v)| {
                    v.as_deref()
                        .and_then(|v| v.trim().parse::<u32>().ok())
                        .ok_or_else(|| {
                            PhoneError::protocol(format!(
                                "bad expires parameter in Contact {:?}",
                                sip::truncate(value)
                            ))
                        })
                })
                .transpose()?;
            our_expires = Some(expires);
        }
        bindings.push(uri.to_owned());
    }
    let header_expires = match resp.expires_header() {
        Some(e) => Some(e.seconds().map_err(|_| {
            PhoneError::protocol(format!("bad Expires header {:?}", sip::truncate(e.value())))
        })?),
        None => None,
    };
    let expires = if requested == 0 {
        0
    } else {
        let granted = match our_expires {
            Some(Some(e)) => e,
            Some(None) => header_expires.unwrap_or(requested),
            None => {
                warn!(contact = %ours, "registrar's 200 OK does not list our contact");
                header_expires.unwrap_or(requested)
            }
        };
        if granted == 0 {
            return Err(PhoneError::Protocol(
                "registrar accepted the REGISTER but granted 0 seconds".into(),
            ));
        }
        granted.min(requested)
    };
    Ok((expires, bindings))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::sip::{split_contact, split_list};

    #[test]
    fn splits_contacts_with_quoted_params() {
        let (uri, params) = split_contact(
            r#"<sip:alice@x.invalid;transport=ws>;expires=600;received="sip:127.0.0.1:1;transport=ws";+sip.instance="<urn:uuid:1>";reg-id=1"#,
        )
        .unwrap();
        assert_eq!(uri, "sip:alice@x.invalid;transport=ws");
        assert_eq!(params[0], ("expires".into(), Some("600".into())));
        assert_eq!(
            params[1],
            ("received".into(), Some("sip:127.0.0.1:1;transport=ws".into()))
        );
        assert_eq!(params[3], ("reg-id".into(), Some("1".into())));
        let (uri, params) = split_contact(r#""A <b>" <sip:a@b>;q=1"#).unwrap();
        assert_eq!((uri, params.len()), ("sip:a@b", 1));
        assert_eq!(split_contact("sip:a@b;expires=5").unwrap().1[0].0, "expires");
        assert!(split_contact("<sip:a@b").is_none());
        assert!(split_contact("<>").is_none());
    }

    #[test]
    fn splits_contact_lists() {
        assert_eq!(
            split_list(r#"<sip:a@x;transport=ws>;expires=5, "B, c" <sip:b@y>;q=0.5,<sip:c@z?h=1,2>"#),
            vec![
                r#"<sip:a@x;transport=ws>;expires=5"#,
                r#" "B, c" <sip:b@y>;q=0.5"#,
                "<sip:c@z?h=1,2>"
            ]
        );
        assert!(split_list(" , ").is_empty());
    }
}
