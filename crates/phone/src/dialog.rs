//! A SIP dialog (RFC 3261 §12): the identifiers, route set and sequence numbers one call's requests
//! share, and the messages built from them — the INVITE and its ACK and CANCEL, in-dialog requests
//! (BYE, re-INVITE, INFO, REFER), and responses to the far end's requests. Pure message building: the
//! call task ([`crate::session`]) decides when to send what.

use rsip::headers::UntypedHeader as _;
use rsip::prelude::HeadersExt as _;

use crate::error::PhoneError;
use crate::sip::{self, random_token, split_contact, split_list};

/// Our side of a request: the Via, Contact and From we put on it.
#[derive(Debug, Clone)]
pub(crate) struct LocalParty {
    /// `WS` or `WSS`.
    pub via_transport: &'static str,
    /// The random `.invalid` host of our Via and Contact.
    pub via_host: String,
    /// Our Contact URI (`sip:user@host.invalid;transport=ws;ob`).
    pub contact: String,
    pub user_agent: String,
}

/// One dialog's state.
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub call_id: String,
    /// Our name-addr without tag (`"Agent" <sip:agent@domain>`), and our tag.
    pub local: String,
    pub local_tag: String,
    /// The far end's name-addr without tag, and its tag once known.
    pub remote: String,
    pub remote_tag: Option<String>,
    /// Where in-dialog requests go: the far end's Contact (the request target before that).
    pub remote_target: String,
    /// Route headers of in-dialog requests, in the order they are sent.
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    /// Highest CSeq seen from the far end.
    pub remote_cseq: Option<u32>,
}

/// An INVITE as sent, kept to build its ACK (for a non-2xx answer) and CANCEL.
#[derive(Debug, Clone)]
pub(crate) struct SentInvite {
    pub request: rsip::Request,
    pub branch: String,
    pub cseq: u32,
}

impl Dialog {
    /// A dialog we start by calling `target` (a SIP URI) from `local` (our name-addr).
    pub(crate) fn outgoing(local: String, target: &str, preloaded_route: Option<&str>) -> Self {
        Self {
            call_id: format!("{}@leadline.invalid", random_token(20)),
            local,
            local_tag: random_token(10),
            remote: format!("<{target}>"),
            remote_tag: None,
            remote_target: target.to_owned(),
            route_set: preloaded_route
                .map(|r| vec![format!("<{r}>")])
                .unwrap_or_default(),
            local_cseq: rand::random_range(1..10_000),
            remote_cseq: None,
        }
    }

    /// The dialog an incoming INVITE opens (RFC 3261 §12.1.1): route set from its Record-Route in order,
    /// remote target from its Contact.
    pub(crate) fn incoming(invite: &rsip::Request) -> Result<Self, PhoneError> {
        let call_id = invite
            .call_id_header()
            .map_err(|_| PhoneError::Protocol("INVITE without Call-ID".into()))?
            .value()
            .trim()
            .to_owned();
        let from = invite
            .from_header()
            .map_err(|_| PhoneError::Protocol("INVITE without From".into()))?
            .value();
        let (remote, remote_tag) = strip_tag(from);
        let remote_tag = remote_tag.ok_or_else(|| PhoneError::Protocol("INVITE without From tag".into()))?;
        let to = invite
            .to_header()
            .map_err(|_| PhoneError::Protocol("INVITE without To".into()))?
            .value();
        let (local, _) = strip_tag(to);
        let remote_target = contact_uri(&invite.headers)?;
        Ok(Self {
            call_id,
            local,
            local_tag: random_token(10),
            remote,
            remote_tag: Some(remote_tag),
            remote_target,
            route_set: record_routes(&invite.headers),
            local_cseq: rand::random_range(1..10_000),
            remote_cseq: Some(cseq_of(invite)?.0),
        })
    }

    fn tagged_parties(&self) -> (String, String) {
        let local = format!("{};tag={}", self.local, self.local_tag);
        let remote = match &self.remote_tag {
            Some(tag) => format!("{};tag={tag}", self.remote),
            None => self.remote.clone(),
        };
        (local, remote)
    }

    /// A request in this dialog (or the initial INVITE), with a new branch; CSeq taken by the caller.
    fn request(
        &self,
        me: &LocalParty,
        method: rsip::Method,
        cseq: u32,
        branch: &str,
        extra: Vec<rsip::Header>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<rsip::Request, PhoneError> {
        let uri = rsip::Uri::try_from(self.remote_target.as_str()).map_err(|e| {
            PhoneError::protocol(format!(
                "unusable request target {:?}: {e}",
                sip::truncate(&self.remote_target)
            ))
        })?;
        let (from, to) = self.tagged_parties();
        let mut headers = rsip::Headers::default();
        headers.push(
            rsip::headers::Via::new(format!(
                "SIP/2.0/{} {};branch={branch}",
                me.via_transport, me.via_host
            ))
            .into(),
        );
        headers.push(rsip::headers::MaxForwards::new("70").into());
        for route in &self.route_set {
            headers.push(rsip::headers::Route::new(route.clone()).into());
        }
        headers.push(rsip::headers::From::new(from).into());
        headers.push(rsip::headers::To::new(to).into());
        headers.push(rsip::headers::CallId::new(self.call_id.clone()).into());
        headers.push(rsip::headers::CSeq::new(format!("{cseq} {method}")).into());
        if matches!(
            method,
            rsip::Method::Invite | rsip::Method::Refer | rsip::Method::Update
        ) {
            headers.push(rsip::headers::Contact::new(format!("<{}>", me.contact)).into());
        }
        headers.push(rsip::headers::UserAgent::new(me.user_agent.clone()).into());
        headers.extend(extra);
        let body = match body {
            Some((content_type, bytes)) => {
                headers.push(rsip::headers::ContentType::new(content_type).into());
                bytes
            }
            None => Vec::new(),
        };
        headers.push(rsip::headers::ContentLength::new(body.len().to_string()).into());
        Ok(rsip::Request {
            method,
            uri,
            version: rsip::Version::V2,
            headers,
            body,
        })
    }

    /// A new request in the dialog (BYE, INFO, REFER, a re-INVITE...), with the next CSeq.
    pub(crate) fn next_request(
        &mut self,
        me: &LocalParty,
        method: rsip::Method,
        extra: Vec<rsip::Header>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(rsip::Request, String), PhoneError> {
        self.local_cseq = self.local_cseq.wrapping_add(1) % 0x8000_0000;
        let branch = sip::new_branch();
        let req = self.request(me, method, self.local_cseq, &branch, extra, body)?;
        Ok((req, branch))
    }

    /// The INVITE (initial or re-INVITE) with `sdp`, and what its ACK / CANCEL need.
    pub(crate) fn invite(
        &mut self,
        me: &LocalParty,
        sdp: &str,
        extra: Vec<rsip::Header>,
    ) -> Result<SentInvite, PhoneError> {
        let mut extra = extra;
        extra.push(rsip::headers::Allow::new(ALLOW).into());
        extra.push(rsip::headers::Supported::new("outbound, replaces").into());
        let (request, branch) = self.next_request(
            me,
            rsip::Method::Invite,
            extra,
            Some(("application/sdp", sdp.as_bytes().to_vec())),
        )?;
        Ok(SentInvite {
            request,
            branch,
            cseq: self.local_cseq,
        })
    }

    /// The ACK of a 2xx to our INVITE number `cseq`: a new transaction along the route set.
    pub(crate) fn ack(&self, me: &LocalParty, cseq: u32) -> Result<rsip::Request, PhoneError> {
        self.request(me, rsip::Method::Ack, cseq, &sip::new_branch(), Vec::new(), None)
    }

    /// Takes what a 2xx (or an early 1xx with a To tag) sets up: the far end's tag and Contact and, for the
    /// 2xx, the route set (its Record-Route, reversed, RFC 3261 §12.1.2).
    pub(crate) fn confirm(&mut self, resp: &rsip::Response) -> Result<(), PhoneError> {
        let to = resp
            .to_header()
            .map_err(|_| PhoneError::Protocol("response without To".into()))?
            .value();
        if let (_, Some(tag)) = strip_tag(to) {
            self.remote_tag = Some(tag);
        }
        if resp.status_code.code() >= 200 {
            if self.remote_tag.is_none() {
                return Err(PhoneError::Protocol("2xx to INVITE without To tag".into()));
            }
            self.remote_target = contact_uri(&resp.headers)?;
            let mut routes = record_routes(&resp.headers);
            routes.reverse();
            self.route_set = routes;
        }
        Ok(())
    }

    /// Checks an in-dialog request's CSeq is new (RFC 3261 §12.2.2). An ACK or CANCEL repeats its
    /// INVITE's number.
    pub(crate) fn accept_remote_cseq(&mut self, req: &rsip::Request) -> Result<(), PhoneError> {
        let (seq, method) = cseq_of(req)?;
        if matches!(method, rsip::Method::Ack | rsip::Method::Cancel) {
            return Ok(());
        }
        if let Some(last) = self.remote_cseq
            && seq <= last
        {
            return Err(PhoneError::protocol(format!(
                "CSeq {seq} {method} is not above {last}"
            )));
        }
        self.remote_cseq = Some(seq);
        Ok(())
    }
}

/// Methods we answer, advertised in Allow.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE";

/// The ACK of a non-2xx final answer to `invite` (RFC 3261 §17.1.1.3): same branch, To from the answer.
pub(crate) fn ack_failure(invite: &SentInvite, resp: &rsip::Response) -> Result<rsip::Request, PhoneError> {
    hop_request(invite, rsip::Method::Ack, Some(resp))
}

/// The CANCEL of `invite` (RFC 3261 §9.1): same Request-URI, Via branch, Call-ID, From, To and route.
pub(crate) fn cancel(invite: &SentInvite) -> Result<rsip::Request, PhoneError> {
    hop_request(invite, rsip::Method::Cancel, None)
}

fn hop_request(
    invite: &SentInvite,
    method: rsip::Method,
    answer: Option<&rsip::Response>,
) -> Result<rsip::Request, PhoneError> {
    let mut headers = rsip::Headers::default();
    let mut via_done = false;
    for header in invite.request.headers.iter() {
        match header {
            rsip::Header::Via(_) if !via_done => {
                via_done = true;
                headers.push(header.clone());
            }
            rsip::Header::Route(_)
            | rsip::Header::From(_)
            | rsip::Header::CallId(_)
            | rsip::Header::MaxForwards(_)
            | rsip::Header::UserAgent(_) => headers.push(header.clone()),
            rsip::Header::To(to) => match answer {
                Some(resp) => headers.push(
                    resp.to_header()
                        .map_err(|_| PhoneError::Protocol("answer without To".into()))?
                        .clone()
                        .into(),
                ),
                None => headers.push(rsip::Header::To(to.clone())),
            },
            _ => {}
        }
    }
    headers.push(rsip::headers::CSeq::new(format!("{} {method}", invite.cseq)).into());
    headers.push(rsip::headers::ContentLength::new("0").into());
    Ok(rsip::Request {
        method,
        uri: invite.request.uri.clone(),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    })
}

/// A response to the far end's INVITE `req` with our dialog tag (the same on every answer to it): Via,
/// From, Call-ID, CSeq copied, Record-Route copied on 18x/2xx, our Contact on 18x/2xx.
pub(crate) fn answer_invite(
    req: &rsip::Request,
    dialog: &Dialog,
    me: &LocalParty,
    code: u16,
    reason: &str,
    body: Option<(&str, Vec<u8>)>,
) -> Result<rsip::Response, PhoneError> {
    let mut resp = sip::response_to(req, code, reason, Vec::new())?;
    let mut headers = rsip::Headers::default();
    for header in resp.headers.iter() {
        match header {
            rsip::Header::To(_) => headers
                .push(rsip::headers::To::new(format!("{};tag={}", dialog.local, dialog.local_tag)).into()),
            rsip::Header::ContentLength(_) => {}
            other => headers.push(other.clone()),
        }
    }
    if (101..300).contains(&code) {
        for header in req.headers.iter() {
            if let rsip::Header::RecordRoute(rr) = header {
                headers.push(rsip::Header::RecordRoute(rr.clone()));
            }
        }
        headers.push(rsip::headers::Contact::new(format!("<{}>", me.contact)).into());
        headers.push(rsip::headers::Allow::new(ALLOW).into());
    }
    headers.push(rsip::headers::Server::new(me.user_agent.clone()).into());
    resp.body = match body {
        Some((content_type, bytes)) => {
            headers.push(rsip::headers::ContentType::new(content_type).into());
            bytes
        }
        None => Vec::new(),
    };
    headers.push(rsip::headers::ContentLength::new(resp.body.len().to_string()).into());
    resp.headers = headers;
    Ok(resp)
}

/// `(name-addr without tag, tag)` of a From / To value.
pub(crate) fn strip_tag(value: &str) -> (String, Option<String>) {
    let value = value.trim();
    // Parameters start after the closing '>' of a name-addr, or after the URI of a bare addr-spec.
    let params_at = match value.rfind('>') {
        Some(close) => close + 1,
        None => value.find(';').unwrap_or(value.len()),
    };
    let (addr, params) = value.split_at(params_at);
    let mut kept = Vec::new();
    let mut tag = None;
    for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match param.split_once('=') {
            Some((name, v)) if name.trim().eq_ignore_ascii_case("tag") => tag = Some(v.trim().to_owned()),
            _ => kept.push(param),
        }
    }
    let mut out = addr.trim().to_owned();
    if !out.ends_with('>') {
        out = format!("<{out}>");
    }
    for param in kept {
        out.push(';');
        out.push_str(param);
    }
    (out, tag)
}

/// The URI of the first Contact.
fn contact_uri(headers: &rsip::Headers) -> Result<String, PhoneError> {
    let value = headers
        .iter()
        .find_map(|h| match h {
            rsip::Header::Contact(c) => Some(c.value()),
            _ => None,
        })
        .ok_or_else(|| PhoneError::Protocol("no Contact".into()))?;
    let first = split_list(value)
        .into_iter()
        .next()
        .ok_or_else(|| PhoneError::Protocol("empty Contact".into()))?;
    let (uri, _) = split_contact(first)
        .ok_or_else(|| PhoneError::protocol(format!("bad Contact {:?}", sip::truncate(first))))?;
    rsip::Uri::try_from(uri)
        .map_err(|e| PhoneError::protocol(format!("bad Contact URI {:?}: {e}", sip::truncate(uri))))?;
    Ok(uri.to_owned())
}

/// Every Record-Route entry, in message order, as `<uri;params>` values.
fn record_routes(headers: &rsip::Headers) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| match h {
            rsip::Header::RecordRoute(rr) => Some(rr.value()),
            _ => None,
        })
        .flat_map(split_list)
        .map(|entry| entry.trim().to_owned())
        .collect()
}

/// `(number, method)` of a request's or response's CSeq.
pub(crate) fn cseq_of(msg: &impl rsip::message::HeadersExt) -> Result<(u32, rsip::Method), PhoneError> {
    use rsip::prelude::ToTypedHeader as _;
    let header = msg
        .cseq_header()
        .map_err(|_| PhoneError::Protocol("message without CSeq".into()))?;
    let typed = header
        .typed()
        .map_err(|e| PhoneError::protocol(format!("bad CSeq {:?}: {e}", sip::truncate(header.value()))))?;
    Ok((typed.seq, typed.method))
}

/// The value of an extension header (`X-Exotel-Callsid`), by case-insensitive name.
pub(crate) fn other_header<'a>(headers: &'a rsip::Headers, name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| match h {
        rsip::Header::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.trim()),
        _ => None,
    })
}

/// The display name and user part of a From / To value: `"Asha" <sip:+9198...@x>` → (Some("Asha"),
/// "+9198...").
pub(crate) fn party(value: &str) -> (Option<String>, String) {
    let value = value.trim();
    let name = value.find('<').and_then(|open| {
        let name = value[..open].trim().trim_matches('"').trim();
        (!name.is_empty()).then(|| name.to_owned())
    });
    let uri = split_contact(value).map_or(value, |(uri, _)| uri);
    let user = match rsip::Uri::try_from(uri) {
        Ok(parsed) => parsed
            .auth
            .map(|a| a.user)
            .unwrap_or_else(|| parsed.host_with_port.to_string()),
        Err(_) => uri.to_owned(),
    };
    (name, user)
}

/// The SDP body of a message, if it has one.
pub(crate) fn sdp_body(headers: &rsip::Headers, body: &[u8]) -> Result<Option<String>, PhoneError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let content_type = headers
        .iter()
        .find_map(|h| match h {
            rsip::Header::ContentType(c) => Some(c.value()),
            _ => None,
        })
        .unwrap_or("application/sdp");
    if !content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp")
    {
        return Err(PhoneError::protocol(format!(
            "body of type {:?} where SDP was expected",
            sip::truncate(content_type)
        )));
    }
    String::from_utf8(body.to_vec())
        .map(Some)
        .map_err(|_| PhoneError::Protocol("SDP body is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn me() -> LocalParty {
        LocalParty {
            via_transport: "WS",
            via_host: "abc.invalid".into(),
            contact: "sip:agent@abc.invalid;transport=ws;ob".into(),
            user_agent: "Leadline/test".into(),
        }
    }

    const INVITE: &str = "INVITE sip:agent@abc.invalid;transport=ws SIP/2.0\r\n\
        Via: SIP/2.0/WS 127.0.0.1:8080;branch=z9hG4bKproxy\r\n\
        Via: SIP/2.0/WSS far.invalid;branch=z9hG4bKfar\r\n\
        Record-Route: <sip:127.0.0.1:8080;transport=ws;lr>, <sip:10.0.0.1;lr>\r\n\
        From: \"Meena K\" <sip:+919812345678@acme.voip.exotel.com>;tag=ft1\r\n\
        To: <sip:agent@acme.voip.exotel.com>\r\n\
        Call-ID: c1@far\r\n\
        CSeq: 20 INVITE\r\n\
        Contact: <sip:far@far.invalid;transport=ws;alias=127.0.0.1~5~1>\r\n\
        X-Exotel-Callsid: 3f1c9a\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 3\r\n\r\nv=0";

    fn invite() -> rsip::Request {
        match sip::parse_message(INVITE.as_bytes()).unwrap() {
            rsip::SipMessage::Request(r) => r,
            rsip::SipMessage::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn an_incoming_invite_sets_up_the_dialog_and_its_answers_carry_our_tag() {
        let req = invite();
        let mut dialog = Dialog::incoming(&req).unwrap();
        assert_eq!(dialog.call_id, "c1@far");
        assert_eq!(dialog.remote_tag.as_deref(), Some("ft1"));
        assert_eq!(
            dialog.remote_target,
            "sip:far@far.invalid;transport=ws;alias=127.0.0.1~5~1"
        );
        assert_eq!(
            dialog.route_set,
            vec!["<sip:127.0.0.1:8080;transport=ws;lr>", "<sip:10.0.0.1;lr>"]
        );
        assert_eq!(other_header(&req.headers, "x-exotel-callsid"), Some("3f1c9a"));
        assert_eq!(
            party(req.from_header().unwrap().value()),
            (Some("Meena K".into()), "+919812345678".into())
        );

        let ringing = answer_invite(&req, &dialog, &me(), 180, "Ringing", None)
            .unwrap()
            .to_string();
        let ok = answer_invite(
            &req,
            &dialog,
            &me(),
            200,
            "OK",
            Some(("application/sdp", b"v=0\r\n".to_vec())),
        )
        .unwrap()
        .to_string();
        let tag = format!("To: <sip:agent@acme.voip.exotel.com>;tag={}", dialog.local_tag);
        for resp in [&ringing, &ok] {
            assert!(resp.contains(&tag), "{resp}");
            assert!(
                resp.contains("Via: SIP/2.0/WS 127.0.0.1:8080;branch=z9hG4bKproxy\r\n"),
                "{resp}"
            );
            assert!(resp.contains("Record-Route:"), "{resp}");
            assert!(
                resp.contains("Contact: <sip:agent@abc.invalid;transport=ws;ob>"),
                "{resp}"
            );
        }
        assert!(ok.contains("Content-Length: 5\r\n"), "{ok}");

        // Our BYE goes to their Contact along the route set in order, From us, To them.
        let (bye, _) = dialog
            .next_request(&me(), rsip::Method::Bye, vec![], None)
            .unwrap();
        let text = bye.to_string();
        // (rsip prints the transport parameter in upper case; its values are case-insensitive.)
        assert!(
            text.to_ascii_lowercase()
                .starts_with("bye sip:far@far.invalid;transport=ws;alias=127.0.0.1~5~1 sip/2.0"),
            "{text}"
        );
        let first_route = text.find("Route: <sip:127.0.0.1:8080").unwrap();
        assert!(
            first_route < text.find("Route: <sip:10.0.0.1;lr>").unwrap(),
            "{text}"
        );
        assert!(text.contains(&format!(
            "From: <sip:agent@acme.voip.exotel.com>;tag={}",
            dialog.local_tag
        )));
        assert!(
            text.contains("To: \"Meena K\" <sip:+919812345678@acme.voip.exotel.com>;tag=ft1"),
            "{text}"
        );

        // A replayed or old CSeq from the far end is refused; a new one is taken.
        assert!(dialog.accept_remote_cseq(&req).is_err());
    }

    #[test]
    fn our_invite_its_cancel_and_acks_follow_rfc_3261() {
        let mut dialog = Dialog::outgoing(
            "\"Asha\" <sip:agent@acme.voip.exotel.com>".into(),
            "sip:09812345678@acme.voip.exotel.com",
            Some("sip:proxy.example.com;lr"),
        );
        let sent = dialog.invite(&me(), "v=0\r\n", vec![]).unwrap();
        let text = sent.request.to_string();
        assert!(
            text.starts_with("INVITE sip:09812345678@acme.voip.exotel.com SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("Route: <sip:proxy.example.com;lr>"), "{text}");
        assert!(text.contains(&format!("CSeq: {} INVITE", sent.cseq)), "{text}");
        assert!(text.contains("Content-Type: application/sdp"), "{text}");

        let cancel = cancel(&sent).unwrap().to_string();
        assert!(
            cancel.starts_with("CANCEL sip:09812345678@acme.voip.exotel.com SIP/2.0"),
            "{cancel}"
        );
        assert!(cancel.contains(&sent.branch), "{cancel}");
        assert!(
            cancel.contains(&format!("CSeq: {} CANCEL", sent.cseq)),
            "{cancel}"
        );
        assert!(!cancel.contains("Content-Type"), "{cancel}");

        let busy = format!(
            "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/WS abc.invalid;branch={}\r\nFrom: {}\r\n\
             To: <sip:09812345678@acme.voip.exotel.com>;tag=rt9\r\nCall-ID: {}\r\nCSeq: {} INVITE\r\n\
             Content-Length: 0\r\n\r\n",
            sent.branch,
            format_args!(
                "\"Asha\" <sip:agent@acme.voip.exotel.com>;tag={}",
                dialog.local_tag
            ),
            dialog.call_id,
            sent.cseq
        );
        let rsip::SipMessage::Response(busy) = sip::parse_message(busy.as_bytes()).unwrap() else {
            unreachable!()
        };
        let ack = ack_failure(&sent, &busy).unwrap().to_string();
        assert!(ack.contains(&sent.branch) && ack.contains(";tag=rt9"), "{ack}");

        // A 2xx sets the remote target and the route set (reversed Record-Route); its ACK follows them.
        let ok = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS abc.invalid;branch={}\r\n\
             Record-Route: <sip:10.0.0.1;lr>\r\nRecord-Route: <sip:127.0.0.1:8080;transport=ws;lr>\r\n\
             From: <sip:agent@acme.voip.exotel.com>;tag={}\r\nTo: <sip:09812345678@acme.voip.exotel.com>;tag=rt1\r\n\
             Call-ID: {}\r\nCSeq: {} INVITE\r\nContact: <sip:gw@10.0.0.9:5080>\r\nContent-Length: 0\r\n\r\n",
            sent.branch, dialog.local_tag, dialog.call_id, sent.cseq
        );
        let rsip::SipMessage::Response(ok) = sip::parse_message(ok.as_bytes()).unwrap() else {
            unreachable!()
        };
        dialog.confirm(&ok).unwrap();
        let ack = dialog.ack(&me(), sent.cseq).unwrap().to_string();
        assert!(ack.starts_with("ACK sip:gw@10.0.0.9:5080 SIP/2.0"), "{ack}");
        assert!(
            !ack.contains(&sent.branch),
            "a 2xx ACK is a new transaction: {ack}"
        );
        assert!(
            ack.find("<sip:127.0.0.1:8080").unwrap() < ack.find("<sip:10.0.0.1;lr>").unwrap(),
            "{ack}"
        );
        assert!(
            ack.contains("To: <sip:09812345678@acme.voip.exotel.com>;tag=rt1"),
            "{ack}"
        );
    }

    #[test]
    fn tags_names_and_hold_are_read_from_odd_but_valid_values() {
        assert_eq!(
            strip_tag("<sip:a@b;transport=ws>;tag=1;x=y"),
            ("<sip:a@b;transport=ws>;x=y".into(), Some("1".into()))
        );
        assert_eq!(strip_tag("sip:a@b;TAG=7"), ("<sip:a@b>".into(), Some("7".into())));
        assert_eq!(party("sip:1234@x"), (None, "1234".into()));
        let headers = rsip::Headers::from(vec![rsip::Header::from(rsip::headers::ContentType::new(
            "text/plain",
        ))]);
        assert!(sdp_body(&headers, b"hello").is_err());
        assert_eq!(sdp_body(&headers, b"\r\n").unwrap(), None);
    }
}
