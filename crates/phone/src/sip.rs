//! Small helpers around `rsip`: parsing untrusted bytes, random identifiers, header look-ups and
//! building responses to incoming requests.

use rand::Rng as _;
use rand::distr::Alphanumeric;
use rsip::headers::UntypedHeader as _;
use rsip::prelude::{HeadersExt as _, ToTypedHeader as _};

use crate::error::PhoneError;

/// Largest SIP message we accept (a REGISTER 200 OK with many contacts is a few KiB).
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Prefix of every RFC 3261 branch.
pub(crate) const BRANCH_MAGIC: &str = "z9hG4bK";

/// Random alphanumeric token of `len` characters.
pub(crate) fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Lower-case random host name under the reserved `.invalid` TLD (RFC 7118 §5: WS clients have no
/// reachable address of their own).
pub(crate) fn random_invalid_host() -> String {
    format!("{}.invalid", random_token(12).to_ascii_lowercase())
}

pub(crate) fn new_branch() -> String {
    format!("{BRANCH_MAGIC}{}", random_token(16))
}

/// Parses one SIP message from a WebSocket frame. Never panics: rsip is a nom parser fed with
/// hostile input, so a panic inside it is caught and reported as a protocol error too.
pub(crate) fn parse_message(bytes: &[u8]) -> Result<rsip::SipMessage, PhoneError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(PhoneError::protocol(format!(
            "SIP message of {} bytes is too large",
            bytes.len()
        )));
    }
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    if bytes.is_empty() {
        return Err(PhoneError::Protocol("empty SIP message".into()));
    }
    let parsed = std::panic::catch_unwind(|| rsip::SipMessage::try_from(bytes));
    match parsed {
        Ok(Ok(message)) => Ok(message),
        Ok(Err(err)) => Err(PhoneError::protocol(format!(
            "unparsable SIP message: {}",
            truncate(&err.to_string())
        ))),
        Err(_) => Err(PhoneError::Protocol(
            "SIP parser failed on a malformed message".into(),
        )),
    }
}

/// Shortens a string quoted in logs / error messages.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// Branch parameter of the top Via.
pub(crate) fn top_via_branch(msg: &impl rsip::message::HeadersExt) -> Result<String, PhoneError> {
    let via = msg
        .via_header()
        .map_err(|e| PhoneError::protocol(format!("no Via: {e}")))?;
    let typed = via
        .typed()
        .map_err(|e| PhoneError::protocol(format!("bad Via {:?}: {e}", truncate(via.value()))))?;
    typed
        .branch()
        .map(|b| b.to_string())
        .ok_or_else(|| PhoneError::Protocol("Via without branch".into()))
}

/// All values of the headers matching `pick`, in message order.
pub(crate) fn header_values<'a>(
    headers: &'a rsip::Headers,
    pick: impl Fn(&'a rsip::Header) -> Option<&'a str>,
) -> Vec<&'a str> {
    headers.iter().filter_map(pick).collect()
}

/// Reason phrase of a response (`rsip` only keeps it for status codes it does not know).
pub(crate) fn reason_phrase(status: &rsip::StatusCode) -> String {
    let text = status.to_string();
    let phrase = text.split_once(' ').map(|(_, p)| p).unwrap_or("");
    // rsip prints known codes with their CamelCase variant name: add spaces back.
    let mut out = String::with_capacity(phrase.len() + 4);
    for (i, c) in phrase.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Builds a stateless response to `req` (RFC 3261 §8.2.6): copies Via, From, Call-ID and CSeq,
/// adds a To tag when there is none.
pub(crate) fn response_to(
    req: &rsip::Request,
    code: u16,
    reason: &str,
    extra: Vec<rsip::Header>,
) -> Result<rsip::Response, PhoneError> {
    let missing = |name: &str| PhoneError::protocol(format!("request without {name}"));
    let mut headers = rsip::Headers::default();
    for header in req.headers.iter() {
        if let rsip::Header::Via(via) = header {
            headers.push(rsip::Header::Via(via.clone()));
        }
    }
    if headers.is_empty() {
        return Err(missing("Via"));
    }
    headers.push(req.from_header().map_err(|_| missing("From"))?.clone().into());
    let to = req.to_header().map_err(|_| missing("To"))?;
    let has_tag = to
        .tag()
        .map_err(|e| PhoneError::protocol(format!("bad To: {e}")))?
        .is_some();
    let to_value = if has_tag {
        to.value().to_owned()
    } else {
        format!("{};tag={}", to.value(), random_token(10))
    };
    headers.push(rsip::headers::To::new(to_value).into());
    headers.push(
        req.call_id_header()
            .map_err(|_| missing("Call-ID"))?
            .clone()
            .into(),
    );
    headers.push(req.cseq_header().map_err(|_| missing("CSeq"))?.clone().into());
    headers.extend(extra);
    headers.push(rsip::headers::ContentLength::from(0u32).into());
    Ok(rsip::Response {
        status_code: rsip::StatusCode::Other(code, reason.to_owned()),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    })
}

/// `name[=value]` header parameter.
pub(crate) type ContactParam = (String, Option<String>);

/// Splits one Contact value (`"name" <uri>;p=v;q` or `uri;p=v`) into the URI and its header
/// parameters. `None` when the brackets are unbalanced.
pub(crate) fn split_contact(value: &str) -> Option<(&str, Vec<ContactParam>)> {
    let value = value.trim();
    let (uri, rest) = match value.find('<') {
        Some(open) => {
            if value[..open].matches('"').count() % 2 == 1 {
                // '<' inside the quoted display name: find the real one after the closing quote.
                let close_quote = value[..].char_indices().filter(|(_, c)| *c == '"').nth(1)?.0;
                let open = close_quote + value[close_quote..].find('<')?;
                let close = open + value[open..].find('>')?;
                (&value[open + 1..close], &value[close + 1..])
            } else {
                let close = open + value[open..].find('>')?;
                (&value[open + 1..close], &value[close + 1..])
            }
        }
        None => value.split_once(';').unwrap_or((value, "")),
    };
    let mut params = Vec::new();
    let (mut in_quotes, mut start) = (false, 0);
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
    let mut push = |part: &str| {
        let part = part.trim();
        if part.is_empty() {
            return;
        }
        match part.split_once('=') {
            Some((n, v)) => params.push((n.trim().to_owned(), Some(v.trim().trim_matches('"').to_owned()))),
            None => params.push((part.to_owned(), None)),
        }
    };
    for (i, c) in rest.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    push(&rest[start..]);
    if uri.trim().is_empty() {
        None
    } else {
        Some((uri.trim(), params))
    }
}

/// Splits a header value holding a comma-separated list of name-addr values, respecting quoted
/// strings and `<...>`.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_quotes, mut in_angle, mut escaped, mut start) = (false, false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => in_angle = true,
            '>' if !in_quotes => in_angle = false,
            ',' if !in_quotes && !in_angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:alice@abc.invalid;transport=ws SIP/2.0\r\n\
        Via: SIP/2.0/WS 127.0.0.1:5060;branch=z9hG4bK1234\r\n\
        From: <sip:ping@example.com>;tag=xyz\r\n\
        To: <sip:alice@abc.invalid>\r\n\
        Call-ID: abc@1\r\n\
        CSeq: 7 OPTIONS\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn answers_options_with_copied_headers() {
        let msg = parse_message(OPTIONS.as_bytes()).unwrap();
        let rsip::SipMessage::Request(req) = msg else {
            panic!("not a request")
        };
        let resp = response_to(&req, 200, "OK", vec![]).unwrap();
        let text = resp.to_string();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
        assert!(text.contains("branch=z9hG4bK1234"), "{text}");
        assert!(text.contains("CSeq: 7 OPTIONS"), "{text}");
        assert!(text.contains("To: <sip:alice@abc.invalid>;tag="), "{text}");
        assert_eq!(top_via_branch(&resp).unwrap(), "z9hG4bK1234");
    }

    #[test]
    fn reason_phrases_are_readable() {
        assert_eq!(reason_phrase(&rsip::StatusCode::from(401)), "Unauthorized");
        assert_eq!(reason_phrase(&rsip::StatusCode::from(501)), "Not Implemented");
        assert_eq!(
            reason_phrase(&rsip::StatusCode::Other(499, "Custom thing".into())),
            "Custom thing"
        );
    }

    /// Feeds truncated and mangled variants of a valid message to the parser: it must return
    /// (Ok or Err), never panic or hang.
    #[test]
    fn parser_survives_truncation_and_garbage() {
        let bytes = OPTIONS.as_bytes();
        for cut in 0..bytes.len() {
            let _ = parse_message(&bytes[..cut]);
        }
        let mut rng = rand::rng();
        for _ in 0..2000 {
            let mut mangled = bytes.to_vec();
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..mangled.len());
                mangled[i] = rng.random();
            }
            if let Ok(rsip::SipMessage::Request(req)) = parse_message(&mangled) {
                let _ = response_to(&req, 200, "OK", vec![]);
            }
        }
        assert!(parse_message(b"").is_err());
        assert!(parse_message(b"\r\n\r\n").is_err());
        assert!(parse_message(&vec![b'A'; MAX_MESSAGE_BYTES + 1]).is_err());
    }
}
