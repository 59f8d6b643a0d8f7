//! Everything the user agent reads out of one SIP message from the network, in one pure function: the
//! parser of WebSocket frames and every header and body reader the transport, registrar, dialogs and calls
//! run on what the server sends. The fuzz bench (`leadline-bench fuzz`) and the property tests feed it
//! hostile bytes; the user agent itself calls the same readers one by one.

use rsip::headers::UntypedHeader as _;
use rsip::prelude::HeadersExt as _;

use crate::dialog::{self, Dialog, LocalParty};
use crate::digest::{Algorithm, Qop, pick_challenge};
use crate::error::PhoneError;
use crate::media::sdp;
use crate::{registration, session, sip};

/// What [`read_inbound`] read. Each field is the answer of one reader (`Err` is its typed refusal).
#[derive(Debug, Clone, PartialEq)]
pub struct InboundReport {
    /// The message as `rsip` prints it again (what a copied header would look like on the wire).
    pub printed: String,
    /// `Some(method)` for a request, `None` for a response.
    pub method: Option<String>,
    /// The status code of a response.
    pub status: Option<u16>,
    /// The branch of the top Via (how a response finds its transaction).
    pub branch: Result<String, PhoneError>,
    /// The CSeq number and method.
    pub cseq: Result<(u32, String), PhoneError>,
    /// A 401/407's digest challenge: realm, nonce, algorithm, qop and stale, and the response computed
    /// for it.
    pub challenge: Option<Result<ChallengeSummary, PhoneError>>,
    /// A 2xx's registration grant (lifetime asked: 600 s) and bindings.
    pub registration: Option<Result<(u32, Vec<String>), PhoneError>>,
    /// A 423's Min-Expires.
    pub min_expires: Option<u32>,
    /// The remote tag and target a 1xx/2xx sets up for our outgoing call.
    pub confirmed: Option<Result<(Option<String>, String), PhoneError>>,
    /// The stateless answer to a request (OPTIONS, an unknown dialog's BYE, …), printed.
    pub answer: Option<Result<String, PhoneError>>,
    /// An INVITE's dialog: remote tag, remote target, route set, and our 180 to it, printed.
    pub dialog: Option<Result<DialogSummary, PhoneError>>,
    /// The caller's display name and user part (From).
    pub caller: (Option<String>, String),
    /// `X-Exotel-Callsid`.
    pub provider_call_id: Option<String>,
    /// The SDP body: `Ok(None)` without one, else its audio port and payload types.
    pub sdp: Result<Option<(u16, Vec<u8>)>, PhoneError>,
    /// An INFO's DTMF digit.
    pub dtmf: Option<char>,
    /// A NOTIFY's sipfrag status.
    pub sipfrag: Option<u16>,
}

/// An incoming INVITE's dialog: the remote tag, the remote target, the route set, and our 180 to it, printed.
pub type DialogSummary = (String, String, Vec<String>, String);

/// The parts of a digest challenge the registrar uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeSummary {
    pub realm: String,
    pub nonce: String,
    pub algorithm: String,
    pub qop: Option<String>,
    pub stale: bool,
    /// The `Authorization` value answering it (user `agent`, password `secret`).
    pub authorization: String,
}

/// The Via host the registration reader takes as ours.
pub const OUR_VIA_HOST: &str = "fuzz.invalid";

/// Parses one WebSocket frame as the transport does ([`PhoneError::Protocol`] when it is not SIP) and runs
/// every reader the user agent applies to such a message. Never panics.
pub fn read_inbound(bytes: &[u8]) -> Result<InboundReport, PhoneError> {
    let message = sip::parse_message(bytes)?;
    let printed = message.to_string();
    let (headers, body) = match &message {
        rsip::SipMessage::Request(r) => (&r.headers, &r.body),
        rsip::SipMessage::Response(r) => (&r.headers, &r.body),
    };
    let cseq = dialog::cseq_of(&message).map(|(n, m)| (n, m.to_string()));
    let branch = sip::top_via_branch(&message);
    let from = message
        .from_header()
        .map(|f| f.value().to_owned())
        .unwrap_or_default();
    let sdp = dialog::sdp_body(headers, body).and_then(|offer| match offer {
        None => Ok(None),
        Some(offer) => {
            let info = sdp::inspect(&offer)?;
            let _ = sdp::prepare_remote(&offer, &info);
            Ok(Some((info.audio.port, info.audio.formats)))
        }
    });
    let mut report = InboundReport {
        printed,
        method: None,
        status: None,
        branch,
        cseq,
        challenge: None,
        registration: None,
        min_expires: None,
        confirmed: None,
        answer: None,
        dialog: None,
        caller: dialog::party(&from),
        provider_call_id: dialog::other_header(headers, "X-Exotel-Callsid").map(str::to_owned),
        sdp,
        dtmf: session::info_digit(body),
        sipfrag: session::sipfrag_status(body),
    };
    match &message {
        rsip::SipMessage::Response(resp) => {
            let code = resp.status_code.code();
            report.status = Some(code);
            let _ = sip::reason_phrase(&resp.status_code);
            let _ = crate::call::CallRefusal::from_status(code);
            match code {
                401 | 407 => report.challenge = Some(challenge(resp, code == 407)),
                423 => {
                    report.min_expires = resp.headers.iter().find_map(|h| match h {
                        rsip::Header::MinExpires(m) => m.seconds().ok(),
                        _ => None,
                    })
                }
                _ => {}
            }
            if (200..300).contains(&code) {
                report.registration = Some(registration::granted(resp, OUR_VIA_HOST, 600, "sip:agent@x"));
            }
            if (101..300).contains(&code) {
                let mut dialog =
                    Dialog::outgoing("<sip:agent@example.com>".into(), "sip:far@example.com", None);
                report.confirmed = Some(
                    dialog
                        .confirm(resp)
                        .map(|()| (dialog.remote_tag.clone(), dialog.remote_target.clone())),
                );
            }
        }
        rsip::SipMessage::Request(req) => {
            report.method = Some(req.method.to_string());
            report.answer = Some(sip::response_to(req, 200, "OK", Vec::new()).map(|r| r.to_string()));
            if req.method == rsip::Method::Invite {
                report.dialog = Some(Dialog::incoming(req).and_then(|mut dialog| {
                    let me = LocalParty {
                        via_transport: "WS",
                        via_host: OUR_VIA_HOST.into(),
                        contact: format!("sip:agent@{OUR_VIA_HOST};transport=ws;ob"),
                        user_agent: "Leadline".into(),
                    };
                    let ringing = dialog::answer_invite(req, &dialog, &me, 180, "Ringing", None)?;
                    let _ = dialog.accept_remote_cseq(req);
                    Ok((
                        dialog.remote_tag.clone().unwrap_or_default(),
                        dialog.remote_target.clone(),
                        dialog.route_set.clone(),
                        ringing.to_string(),
                    ))
                }));
            }
        }
    }
    Ok(report)
}

fn challenge(resp: &rsip::Response, proxy: bool) -> Result<ChallengeSummary, PhoneError> {
    let c = pick_challenge(resp, proxy)?;
    let authorization = c.authorization("agent", "secret", "REGISTER", "sip:example.com", 1, "cn0nce", b"");
    Ok(ChallengeSummary {
        realm: c.realm,
        nonce: c.nonce,
        algorithm: match c.algorithm {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
        .to_owned(),
        qop: c.qop.map(|q| match q {
            Qop::Auth => "auth".to_owned(),
            Qop::AuthInt => "auth-int".to_owned(),
        }),
        stale: c.stale,
        authorization,
    })
}
