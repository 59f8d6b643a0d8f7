//! Fuzz target `sip`: SIP messages from the network (WebSocket frames) through the softphone's parser and
//! every reader it applies (Via branch, CSeq, digest challenges, registration grants, dialogs, SDP offers,
//! DTMF INFO, sipfrag NOTIFY): [`leadline_phone::inbound::read_inbound`].

use proptest::prelude::*;

use leadline_phone::inbound::{OUR_VIA_HOST, read_inbound};

use super::mutate::{Case, cases, re};

/// What the valid message is.
#[derive(Debug, Clone)]
pub enum Kind {
    Invite {
        caller_name: String,
        caller_user: String,
        from_tag: String,
        callsid: Option<String>,
        port: u16,
        formats: Vec<u8>,
        record_routes: Vec<String>,
    },
    Challenge {
        proxy: bool,
        realm: String,
        nonce: String,
        algorithm: Option<&'static str>,
        qop: Option<&'static str>,
        stale: bool,
        opaque: Option<String>,
    },
    RegisterOk {
        header_expires: Option<u32>,
        contact_expires: Option<u32>,
        others: Vec<String>,
    },
    Options,
    Bye,
    Info(char),
    Notify(u16),
    Ringing(String),
    Busy,
    IntervalTooBrief(u32),
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: Kind,
    pub cseq: u32,
    pub call_id: String,
    pub branch: String,
    /// Extra headers a server may add (names and values from a safe alphabet).
    pub extra: Vec<(String, String)>,
}

impl Sample {
    fn method(&self) -> &'static str {
        match &self.kind {
            Kind::Invite { .. } => "INVITE",
            Kind::Options => "OPTIONS",
            Kind::Bye => "BYE",
            Kind::Info(_) => "INFO",
            Kind::Notify(_) => "NOTIFY",
            Kind::Challenge { .. } | Kind::RegisterOk { .. } | Kind::IntervalTooBrief(_) => "REGISTER",
            Kind::Ringing(_) | Kind::Busy => "INVITE",
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b"\"",
    b"\\",
    b"=",
    b" ",
    b"\t",
    b"@",
    b"SIP/2.0",
    b"SIP/2.0 ",
    b"sip:",
    b"sips:",
    b"tag=",
    b";tag=x",
    b"branch=",
    b";branch=z9hG4bK",
    b"expires=",
    b"Content-Length: ",
    b"Content-Length: 99999999999\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Via: SIP/2.0/WS h.invalid;branch=z9hG4bKdup\r\n",
    b"Contact: <sip:agent@fuzz.invalid;transport=ws>;expires=0\r\n",
    b"CSeq: 4294967296 INVITE\r\n",
    b"WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"\r\n",
    b"Digest ",
    b"qop=",
    b"algorithm=",
    b"m=audio ",
    b"a=rtpmap:",
    b"a=fmtp:",
    b"v=0\r\n",
    b"RTP/SAVPF",
    b"[::1]",
    b"%00",
    b"\xff\xfe",
    b"\xc3\xa9",
];

fn token() -> impl Strategy<Value = String> {
    re("[A-Za-z0-9]{1,16}")
}

fn quoted_safe() -> impl Strategy<Value = String> {
    re("[A-Za-z0-9+/=._@:-][A-Za-z0-9+/=._@: -]{0,30}[A-Za-z0-9+/=._@:-]|[A-Za-z0-9]")
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => (
            re("[A-Za-z][A-Za-z .]{0,20}[A-Za-z]"),
            prop_oneof![re("\\+91[6-9][0-9]{9}"), re("[a-z][a-z0-9]{0,10}")],
            token(),
            proptest::option::of(re("[0-9a-f]{32}")),
            1..65535u16,
            prop::collection::vec(prop::sample::select(vec![0u8, 8, 101, 111, 9, 18, 96]), 1..5),
            prop::collection::vec("[a-z0-9.]{1,12}".prop_map(|h| format!("<sip:{h};lr>")), 0..3),
        )
            .prop_map(|(caller_name, caller_user, from_tag, callsid, port, formats, record_routes)| {
                Kind::Invite { caller_name, caller_user, from_tag, callsid, port, formats, record_routes }
            }),
        3 => (
            any::<bool>(),
            quoted_safe(),
            quoted_safe(),
            prop::option::of(prop::sample::select(vec!["MD5", "md5", "MD5-sess", "SHA-256", "SHA-256-sess"])),
            prop::option::of(prop::sample::select(vec!["auth", "auth-int", "auth,auth-int", "auth-int, auth"])),
            any::<bool>(),
            prop::option::of(quoted_safe()),
        )
            .prop_map(|(proxy, realm, nonce, algorithm, qop, stale, opaque)| Kind::Challenge {
                proxy, realm, nonce, algorithm, qop, stale, opaque,
            }),
        3 => (
            prop::option::of(1..100_000u32),
            prop::option::of(1..100_000u32),
            prop::collection::vec(re("[a-z0-9]{1,10}"), 0..3),
        )
            .prop_map(|(header_expires, contact_expires, others)| Kind::RegisterOk {
                header_expires, contact_expires, others,
            }),
        1 => Just(Kind::Options),
        1 => Just(Kind::Bye),
        1 => prop::sample::select("0123456789*#ABCD".chars().collect::<Vec<_>>()).prop_map(Kind::Info),
        1 => (100..700u16).prop_map(Kind::Notify),
        1 => token().prop_map(Kind::Ringing),
        1 => Just(Kind::Busy),
        1 => (1..1_000_000u32).prop_map(Kind::IntervalTooBrief),
    ]
}

fn sample() -> BoxedStrategy<Sample> {
    (
        kind(),
        1..2_000_000_000u32,
        re("[A-Za-z0-9]{4,20}@[a-z0-9.]{1,12}"),
        re("[A-Za-z0-9]{4,20}"),
        prop::collection::vec(
            (re("X-[A-Za-z]{1,10}"), re("[A-Za-z0-9 ;=,]{0,20}[A-Za-z0-9]")),
            0..3,
        ),
    )
        .prop_map(|(kind, cseq, call_id, branch, extra)| Sample {
            kind,
            cseq,
            call_id,
            branch: format!("z9hG4bK{branch}"),
            extra,
        })
        .boxed()
}

fn sdp(port: u16, formats: &[u8]) -> String {
    let list: Vec<String> = formats.iter().map(u8::to_string).collect();
    let mut s = format!(
        "v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n\
         a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n\
         a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\n\
         m=audio {port} UDP/TLS/RTP/SAVPF {}\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n",
        list.join(" ")
    );
    for f in formats {
        match f {
            0 => s.push_str("a=rtpmap:0 PCMU/8000\r\n"),
            8 => s.push_str("a=rtpmap:8 PCMA/8000\r\n"),
            111 => s.push_str("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"),
            101 => s.push_str("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"),
            _ => {}
        }
    }
    s
}

/// The message as a server would send it.
pub fn render(s: &Sample) -> Vec<u8> {
    let method = s.method();
    let via = format!("Via: SIP/2.0/WS 198.51.100.7:8080;branch={};rport\r\n", s.branch);
    let ours = format!("<sip:agent@{OUR_VIA_HOST};transport=ws>");
    let (start, from, to, mut headers, body) = match &s.kind {
        Kind::Invite {
            caller_name,
            caller_user,
            from_tag,
            callsid,
            port,
            formats,
            record_routes,
        } => {
            let mut h = String::new();
            for rr in record_routes {
                h.push_str(&format!("Record-Route: {rr}\r\n"));
            }
            h.push_str("Contact: <sip:far@far.invalid;transport=ws>\r\n");
            if let Some(id) = callsid {
                h.push_str(&format!("X-Exotel-Callsid: {id}\r\n"));
            }
            h.push_str("Content-Type: application/sdp\r\n");
            (
                format!("INVITE sip:agent@{OUR_VIA_HOST};transport=ws SIP/2.0\r\n"),
                format!("\"{caller_name}\" <sip:{caller_user}@acme.voip.exotel.com>;tag={from_tag}"),
                ours.clone(),
                h,
                sdp(*port, formats),
            )
        }
        Kind::Challenge {
            proxy,
            realm,
            nonce,
            algorithm,
            qop,
            stale,
            opaque,
        } => {
            let mut c = format!("Digest realm=\"{realm}\", nonce=\"{nonce}\"");
            if let Some(a) = algorithm {
                c.push_str(&format!(", algorithm={a}"));
            }
            if let Some(q) = qop {
                c.push_str(&format!(", qop=\"{q}\""));
            }
            if *stale {
                c.push_str(", stale=TRUE");
            }
            if let Some(o) = opaque {
                c.push_str(&format!(", opaque=\"{o}\""));
            }
            let (code, name) = if *proxy {
                ("407 Proxy Authentication Required", "Proxy-Authenticate")
            } else {
                ("401 Unauthorized", "WWW-Authenticate")
            };
            (
                format!("SIP/2.0 {code}\r\n"),
                format!("{ours};tag=reg1"),
                format!("{ours};tag=srv"),
                format!("{name}: Basic realm=\"other\"\r\n{name}: {c}\r\n"),
                String::new(),
            )
        }
        Kind::RegisterOk {
            header_expires,
            contact_expires,
            others,
        } => {
            let mut contacts = vec![match contact_expires {
                Some(e) => format!("{ours};expires={e};received=\"sip:198.51.100.9:4321;transport=ws\""),
                None => ours.clone(),
            }];
            for o in others {
                contacts.push(format!("<sip:agent@{o}.invalid;transport=ws>;expires=300"));
            }
            let mut h = format!("Contact: {}\r\n", contacts.join(", "));
            if let Some(e) = header_expires {
                h.push_str(&format!("Expires: {e}\r\n"));
            }
            (
                "SIP/2.0 200 OK\r\n".to_owned(),
                format!("{ours};tag=reg1"),
                format!("{ours};tag=srv"),
                h,
                String::new(),
            )
        }
        Kind::Options | Kind::Bye => (
            format!("{method} sip:agent@{OUR_VIA_HOST};transport=ws SIP/2.0\r\n"),
            "<sip:ping@example.com>;tag=p1".to_owned(),
            format!("{ours};tag=t1"),
            String::new(),
            String::new(),
        ),
        Kind::Info(d) => (
            format!("INFO sip:agent@{OUR_VIA_HOST};transport=ws SIP/2.0\r\n"),
            "<sip:far@example.com>;tag=f1".to_owned(),
            format!("{ours};tag=t1"),
            "Content-Type: application/dtmf-relay\r\n".to_owned(),
            format!("Signal={d}\r\nDuration=160\r\n"),
        ),
        Kind::Notify(code) => (
            format!("NOTIFY sip:agent@{OUR_VIA_HOST};transport=ws SIP/2.0\r\n"),
            "<sip:far@example.com>;tag=f1".to_owned(),
            format!("{ours};tag=t1"),
            "Event: refer\r\nSubscription-State: active;expires=60\r\nContent-Type: message/sipfrag;version=2.0\r\n"
                .to_owned(),
            format!("SIP/2.0 {code} Whatever\r\n"),
        ),
        Kind::Ringing(tag) => (
            "SIP/2.0 180 Ringing\r\n".to_owned(),
            format!("{ours};tag=me1"),
            format!("<sip:far@example.com>;tag={tag}"),
            "Contact: <sip:far@far.invalid;transport=ws>\r\n".to_owned(),
            String::new(),
        ),
        Kind::Busy => (
            "SIP/2.0 486 Busy Here\r\n".to_owned(),
            format!("{ours};tag=me1"),
            "<sip:far@example.com>;tag=b1".to_owned(),
            String::new(),
            String::new(),
        ),
        Kind::IntervalTooBrief(min) => (
            "SIP/2.0 423 Interval Too Brief\r\n".to_owned(),
            format!("{ours};tag=reg1"),
            format!("{ours};tag=srv"),
            format!("Min-Expires: {min}\r\n"),
            String::new(),
        ),
    };
    for (name, value) in &s.extra {
        headers.push_str(&format!("{name}: {value}\r\n"));
    }
    format!(
        "{start}{via}Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n\
         {headers}Content-Length: {}\r\n\r\n{body}",
        s.call_id,
        s.cseq,
        body.len()
    )
    .into_bytes()
}

/// The cases of this target.
pub fn strategy() -> BoxedStrategy<Case<Sample>> {
    cases(sample(), render, TOKENS)
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Checks one case: mutated bytes get an answer; a valid message is read as sent, and printing it and
/// parsing that again gives the same message.
pub fn check(case: &Case<Sample>) -> Result<(), String> {
    let s = match case {
        Case::Bytes(b) => {
            let _ = read_inbound(b);
            return Ok(());
        }
        Case::Valid(s) => s,
    };
    let bytes = render(s);
    let r = read_inbound(&bytes).map_err(|e| format!("valid message refused: {e}"))?;
    let again = read_inbound(r.printed.as_bytes()).map_err(|e| format!("printed message refused: {e}"))?;
    eq("printed twice", &again.printed, &r.printed)?;
    eq("branch", r.branch.clone().ok(), Some(s.branch.clone()))?;
    eq("cseq", r.cseq.clone().ok(), Some((s.cseq, s.method().to_owned())))?;
    match &s.kind {
        Kind::Invite {
            caller_name,
            caller_user,
            from_tag,
            callsid,
            port,
            formats,
            record_routes,
        } => {
            let (tag, target, routes, ringing) = r
                .dialog
                .clone()
                .ok_or("no dialog")?
                .map_err(|e| format!("dialog refused: {e}"))?;
            eq("remote tag", &tag, from_tag)?;
            eq(
                "remote target",
                target.as_str(),
                "sip:far@far.invalid;transport=ws",
            )?;
            eq("route set", &routes, record_routes)?;
            if !ringing.starts_with("SIP/2.0 180 Ringing\r\n") || !ringing.contains(&s.branch) {
                return Err(format!("bad 180: {ringing}"));
            }
            eq(
                "caller",
                &r.caller,
                &(Some(caller_name.clone()), caller_user.clone()),
            )?;
            eq("provider call id", &r.provider_call_id, callsid)?;
            eq("sdp", r.sdp.clone().ok(), Some(Some((*port, formats.clone()))))?;
        }
        Kind::Challenge {
            realm,
            nonce,
            algorithm,
            qop,
            stale,
            ..
        } => {
            let c = r
                .challenge
                .clone()
                .ok_or("no challenge read")?
                .map_err(|e| format!("challenge refused: {e}"))?;
            eq("realm", &c.realm, realm)?;
            eq("nonce", &c.nonce, nonce)?;
            let want_alg = match algorithm.map(str::to_ascii_uppercase).as_deref() {
                None | Some("MD5") => "MD5",
                Some("MD5-SESS") => "MD5-sess",
                Some("SHA-256") => "SHA-256",
                _ => "SHA-256-sess",
            };
            eq("algorithm", c.algorithm.as_str(), want_alg)?;
            let want_qop = qop.map(|q| if q == "auth-int" { "auth-int" } else { "auth" });
            eq("qop", c.qop.as_deref(), want_qop)?;
            eq("stale", c.stale, *stale)?;
        }
        Kind::RegisterOk {
            header_expires,
            contact_expires,
            others,
        } => {
            let (expires, bindings) = r
                .registration
                .clone()
                .ok_or("no registration read")?
                .map_err(|e| format!("grant refused: {e}"))?;
            let want = contact_expires.or(*header_expires).unwrap_or(600).min(600);
            eq("granted", expires, want)?;
            eq("bindings", bindings.len(), others.len() + 1)?;
        }
        Kind::Info(d) => eq("dtmf", r.dtmf, Some(*d))?,
        Kind::Notify(code) => eq("sipfrag", r.sipfrag, Some(*code))?,
        Kind::Ringing(tag) => {
            let (remote_tag, _) = r
                .confirmed
                .clone()
                .ok_or("not confirmed")?
                .map_err(|e| format!("180 refused: {e}"))?;
            eq("remote tag", remote_tag, Some(tag.clone()))?;
        }
        Kind::IntervalTooBrief(min) => eq("min expires", r.min_expires, Some(*min))?,
        Kind::Options | Kind::Bye => {
            let answer = r
                .answer
                .clone()
                .ok_or("no answer")?
                .map_err(|e| format!("answer refused: {e}"))?;
            if !answer.contains(&s.branch) || !answer.contains(&format!("CSeq: {} ", s.cseq)) {
                return Err(format!("answer does not copy Via/CSeq: {answer}"));
            }
        }
        Kind::Busy => eq("status", r.status, Some(486))?,
    }
    Ok(())
}
