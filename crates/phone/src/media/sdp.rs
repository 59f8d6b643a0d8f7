//! The SDP work the media engine does itself, around the `webrtc` crate: inspect a far end's SDP
//! before the crate sees it (clear errors instead of crate errors or panics), pick codecs and
//! payload types, and own the media direction (hold) — see [`super`] for why.

use std::collections::HashMap;

use crate::error::PhoneError;

use super::Codec;

/// Largest SDP body we accept.
const MAX_SDP: usize = 64 * 1024;

/// An SDP media direction (RFC 3264).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn has_send(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    pub fn has_recv(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    pub fn attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn parse(attr: &str) -> Option<Self> {
        match attr {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// Our answer's direction to an offer of `offered`, when we `hold` (want to send only) or not.
    pub fn answer_to(offered: Self, hold: bool) -> Self {
        Self::from_flags(offered.has_recv(), offered.has_send() && !hold)
    }

    /// What we may do after our offer of `self` was answered with `answered`.
    pub fn agreed_with_answer(self, answered: Self) -> Self {
        Self::from_flags(
            self.has_send() && answered.has_recv(),
            self.has_recv() && answered.has_send(),
        )
    }
}

/// What a payload type of the audio section carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Audio(Codec),
    /// RFC 4733 telephone-event at this clock rate.
    TelephoneEvent(u32),
    Other,
}

/// One `a=rtpmap` (or a static payload type without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    /// Encoding name, lower case.
    pub name: String,
    pub clock_rate: u32,
    pub fmtp: Option<String>,
}

impl RtpMap {
    pub fn format(&self) -> Format {
        match (self.name.as_str(), self.clock_rate) {
            ("opus", 48_000) => Format::Audio(Codec::Opus),
            ("pcmu", 8_000) => Format::Audio(Codec::Pcmu),
            ("pcma", 8_000) => Format::Audio(Codec::Pcma),
            ("telephone-event", rate) => Format::TelephoneEvent(rate),
            _ => Format::Other,
        }
    }
}

/// The audio section of an SDP, as far as the media engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSection {
    pub port: u16,
    /// Payload types of the `m=` line, in order of preference.
    pub formats: Vec<u8>,
    /// The formats' mappings, in the same order (formats without one are left out).
    pub maps: Vec<RtpMap>,
    pub direction: Direction,
}

impl AudioSection {
    /// Payload type → what it carries.
    pub fn payload_map(&self) -> HashMap<u8, Format> {
        self.maps.iter().map(|m| (m.payload_type, m.format())).collect()
    }

    /// The first format we can send, among `allowed`.
    pub fn send_codec(&self, allowed: &[Codec]) -> Option<(Codec, u8)> {
        self.maps.iter().find_map(|m| match m.format() {
            Format::Audio(codec) if allowed.contains(&codec) => Some((codec, m.payload_type)),
            _ => None,
        })
    }

    /// The telephone-event payload type to use with `codec`: the one at the codec's clock rate if
    /// there is one, else any.
    pub fn telephone_event(&self, codec: Codec) -> Option<(u8, u32)> {
        let events: Vec<(u8, u32)> = self
            .maps
            .iter()
            .filter_map(|m| match m.format() {
                Format::TelephoneEvent(rate) => Some((m.payload_type, rate)),
                _ => None,
            })
            .collect();
        events
            .iter()
            .find(|(_, rate)| *rate == codec.clock_rate())
            .or_else(|| events.first())
            .copied()
    }
}

/// The parts of a far end's SDP the media engine checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpInfo {
    pub audio: AudioSection,
}

fn bad(message: impl AsRef<str>) -> PhoneError {
    let message = message.as_ref();
    let mut text: String = message
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if message.chars().count() > 300 {
        text.push('…');
    }
    PhoneError::Media(format!("invalid SDP: {text}"))
}

fn lines(sdp: &str) -> impl Iterator<Item = &str> {
    sdp.split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
}

/// Checks a far end's SDP and extracts its audio section. Errors are [`PhoneError::Media`] with a
/// reason a person can act on (and that a SIP layer can map to 488 Not Acceptable Here).
pub fn inspect(sdp: &str) -> Result<SdpInfo, PhoneError> {
    if sdp.len() > MAX_SDP {
        return Err(bad(format!("{} bytes is too large", sdp.len())));
    }
    let mut all = lines(sdp);
    if all.next().map(str::trim) != Some("v=0") {
        return Err(bad("does not start with v=0"));
    }
    let mut session_direction = None;
    let mut session_fingerprint = false;
    let mut session_ufrag = false;
    let mut audio: Option<AudioSection> = None;
    let mut in_audio = false;
    let mut seen_audio = false;
    let mut seen_media = false;
    let mut media_fingerprint = false;
    let mut media_ufrag = false;
    let mut media_direction = None;
    let mut maps: HashMap<u8, RtpMap> = HashMap::new();
    let mut fmtps: HashMap<u8, String> = HashMap::new();
    for line in lines(sdp) {
        let Some((kind, value)) = line.split_once('=') else {
            return Err(bad(format!("line without '=': {line}")));
        };
        if kind.len() != 1 {
            return Err(bad(format!("bad line: {line}")));
        }
        if kind == "m" {
            in_audio = false;
            seen_media = true;
            let mut parts = value.split_whitespace();
            let media = parts.next().unwrap_or_default();
            if media == "audio" && !seen_audio {
                seen_audio = true;
                in_audio = true;
                let port = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| bad(format!("bad audio port in {line}")))?;
                let proto = parts.next().unwrap_or_default();
                if !proto.contains("RTP") {
                    return Err(bad(format!("audio transport {proto:?} is not RTP")));
                }
                let formats = parts
                    .map(|f| f.parse::<u8>().ok().filter(|pt| *pt < 128))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| bad(format!("bad payload type in {line}")))?;
                if formats.is_empty() {
                    return Err(bad("audio line without formats"));
                }
                audio = Some(AudioSection {
                    port,
                    formats,
                    maps: vec![],
                    direction: Direction::SendRecv,
                });
            }
            continue;
        }
        if kind != "a" {
            continue;
        }
        let (name, arg) = value.split_once(':').unwrap_or((value, ""));
        if !seen_media {
            // Session level (before any m= line).
            match name {
                "fingerprint" => session_fingerprint = true,
                "ice-ufrag" => session_ufrag = true,
                _ => {
                    if let Some(d) = Direction::parse(name) {
                        session_direction = Some(d);
                    }
                }
            }
            continue;
        }
        if !in_audio {
            continue;
        }
        match name {
            "fingerprint" => media_fingerprint = true,
            "ice-ufrag" => media_ufrag = true,
            "rtpmap" => {
                let (pt, encoding) = arg
                    .split_once(' ')
                    .ok_or_else(|| bad(format!("bad rtpmap: {line}")))?;
                let pt = pt
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| bad(format!("bad rtpmap: {line}")))?;
                let mut enc = encoding.trim().split('/');
                let codec_name = enc.next().unwrap_or_default().to_ascii_lowercase();
                let clock_rate = enc
                    .next()
                    .and_then(|r| r.parse::<u32>().ok())
                    .ok_or_else(|| bad(format!("bad rtpmap clock rate: {line}")))?;
                maps.insert(
                    pt,
                    RtpMap {
                        payload_type: pt,
                        name: codec_name,
                        clock_rate,
                        fmtp: None,
                    },
                );
            }
            "fmtp" => {
                if let Some((pt, params)) = arg.split_once(' ')
                    && let Ok(pt) = pt.trim().parse::<u8>()
                {
                    fmtps.insert(pt, params.trim().to_owned());
                }
            }
            _ => {
                if let Some(d) = Direction::parse(name) {
                    media_direction = Some(d);
                }
            }
        }
    }
    let mut audio = audio.ok_or_else(|| bad("no audio stream (m=audio)"))?;
    if !(session_fingerprint || media_fingerprint) {
        return Err(bad("no a=fingerprint: only DTLS-SRTP media is supported"));
    }
    if !(session_ufrag || media_ufrag) {
        return Err(bad("no a=ice-ufrag: only ICE media is supported"));
    }
    audio.direction = media_direction
        .or(session_direction)
        .unwrap_or(Direction::SendRecv);
    audio.maps = audio
        .formats
        .iter()
        .filter_map(|pt| {
            let mut map = maps.get(pt).cloned().or_else(|| static_map(*pt))?;
            map.fmtp = fmtps.get(pt).cloned();
            Some(map)
        })
        .collect();
    Ok(SdpInfo { audio })
}

/// The RFC 3551 static payload types we know, for SDPs that omit their `a=rtpmap`.
fn static_map(pt: u8) -> Option<RtpMap> {
    let name = match pt {
        0 => "pcmu",
        8 => "pcma",
        _ => return None,
    };
    Some(RtpMap {
        payload_type: pt,
        name: name.to_owned(),
        clock_rate: 8_000,
        fmtp: None,
    })
}

/// Index range of the first audio section's lines (after its `m=` line) in `lines`.
fn audio_range(lines: &[String]) -> Option<(usize, usize)> {
    let start = lines.iter().position(|l| l.starts_with("m=audio"))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("m="))
        .map_or(lines.len(), |i| start + 1 + i);
    Some((start, end))
}

fn is_direction_line(line: &str) -> bool {
    line.strip_prefix("a=").and_then(Direction::parse).is_some()
}

/// A far end's SDP as the `webrtc` crate gets it: every direction attribute replaced by one
/// `a=sendrecv` in the audio section (the media engine applies the real direction itself), the
/// missing `a=rtpmap`s of static payload types 0 and 8 added, CRLF line ends.
pub fn prepare_remote(sdp: &str, info: &SdpInfo) -> String {
    let mut out: Vec<String> = lines(sdp)
        .filter(|l| !is_direction_line(l))
        .map(str::to_owned)
        .collect();
    if let Some((start, _)) = audio_range(&out) {
        let mut insert = vec!["a=sendrecv".to_owned()];
        for pt in &info.audio.formats {
            let has_map = out.iter().any(|l| l.starts_with(&format!("a=rtpmap:{pt} ")));
            if !has_map && let Some(map) = static_map(*pt) {
                insert.push(format!(
                    "a=rtpmap:{pt} {}/{}",
                    map.name.to_ascii_uppercase(),
                    map.clock_rate
                ));
            }
        }
        // After the c= line of the section if there is one, else right after m=.
        let at = out
            .get(start + 1)
            .filter(|l| l.starts_with("c="))
            .map_or(start + 1, |_| start + 2);
        for (i, line) in insert.into_iter().enumerate() {
            out.insert(at + i, line);
        }
    }
    let mut text = out.join("\r\n");
    text.push_str("\r\n");
    text
}

/// Our SDP as the far end gets it: the audio section's direction set to `direction`, the
/// RTCP-component candidates dropped (we always multiplex RTCP), and the `m=` port and `c=` address
/// set to a default candidate (server-reflexive if there is one, else the first host one) the way
/// browsers do, for gateways that look at them.
pub fn finalize_local(sdp: &str, direction: Direction) -> String {
    let mut out: Vec<String> = lines(sdp).map(str::to_owned).collect();
    if let Some((start, end)) = audio_range(&out) {
        let section: Vec<String> = out.drain(start..end).collect();
        let mux = section.iter().any(|l| l == "a=rtcp-mux");
        let candidates: Vec<(String, String, String)> = section
            .iter()
            .filter_map(|l| l.strip_prefix("a=candidate:"))
            .filter_map(|c| {
                let f: Vec<&str> = c.split_whitespace().collect();
                // foundation component transport priority address port typ type ...
                (f.len() >= 8 && f[1] == "1" && f[6] == "typ")
                    .then(|| (f[4].to_owned(), f[5].to_owned(), f[7].to_owned()))
            })
            .collect();
        let default = candidates
            .iter()
            .find(|(_, _, t)| t == "srflx")
            .or_else(|| candidates.iter().find(|(_, _, t)| t == "host"))
            .cloned();
        let mut new_section: Vec<String> = Vec::with_capacity(section.len() + 1);
        for line in section {
            if is_direction_line(&line) {
                continue;
            }
            // A payload type's attributes once only (a safety net: the crate has been seen
            // answering one format twice).
            if (line.starts_with("a=rtpmap:")
                || line.starts_with("a=fmtp:")
                || line.starts_with("a=rtcp-fb:"))
                && new_section.contains(&line)
            {
                continue;
            }
            if mux
                && let Some(c) = line.strip_prefix("a=candidate:")
                && c.split_whitespace().nth(1) == Some("2")
            {
                continue;
            }
            let line = match (&default, line.split_once(' ')) {
                (default, Some(("m=audio", rest))) => {
                    let mut fields = rest.split_whitespace();
                    let old_port = fields.next().unwrap_or("9");
                    let proto = fields.next().unwrap_or_default();
                    let mut formats: Vec<&str> = Vec::new();
                    for f in fields {
                        if !formats.contains(&f) {
                            formats.push(f);
                        }
                    }
                    let port = default.as_ref().map_or(old_port, |(_, p, _)| p.as_str());
                    format!("m=audio {port} {proto} {}", formats.join(" "))
                }
                (Some((addr, _, _)), _) if line.starts_with("c=IN ") => {
                    let family = if addr.contains(':') { "IP6" } else { "IP4" };
                    format!("c=IN {family} {addr}")
                }
                _ => line,
            };
            new_section.push(line);
        }
        // Direction goes before the candidates, next to the other media attributes.
        let at = new_section
            .iter()
            .position(|l| l.starts_with("a=candidate:"))
            .unwrap_or(new_section.len());
        new_section.insert(at, format!("a={}", direction.attribute()));
        for (i, line) in new_section.into_iter().enumerate() {
            out.insert(start + i, line);
        }
    }
    let mut text = out.join("\r\n");
    text.push_str("\r\n");
    text
}

/// Number of ICE candidates (`a=candidate`) in an SDP.
pub fn candidate_count(sdp: &str) -> usize {
    lines(sdp).filter(|l| l.starts_with("a=candidate:")).count()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A JsSIP/Chromium-style offer (trimmed), with PCMU first and a session-level sendonly.
    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
a=fingerprint:sha-256 AA:BB\r\na=sendonly\r\n\
m=audio 50000 UDP/TLS/RTP/SAVPF 0 111 8 126\r\nc=IN IP4 192.0.2.1\r\na=mid:0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:126 telephone-event/8000\r\na=candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host\r\n";

    #[test]
    fn inspects_codecs_direction_and_static_types() {
        let info = inspect(OFFER).unwrap();
        let a = &info.audio;
        assert_eq!(a.port, 50_000);
        assert_eq!(a.formats, vec![0, 111, 8, 126]);
        assert_eq!(a.direction, Direction::SendOnly);
        assert_eq!(
            a.send_codec(&[Codec::Opus, Codec::Pcmu, Codec::Pcma]),
            Some((Codec::Pcmu, 0))
        );
        assert_eq!(a.send_codec(&[Codec::Opus]), Some((Codec::Opus, 111)));
        assert_eq!(a.send_codec(&[Codec::Pcma]), Some((Codec::Pcma, 8)));
        assert_eq!(a.telephone_event(Codec::Opus), Some((126, 8_000)));
        assert_eq!(a.maps[1].fmtp.as_deref(), Some("minptime=10;useinbandfec=1"));
        assert_eq!(a.payload_map().get(&8), Some(&Format::Audio(Codec::Pcma)));
    }

    #[test]
    fn malformed_sdp_is_an_error_never_a_panic() {
        for bad in [
            "",
            "hello",
            "v=0\r\nm=audio x RTP/SAVPF 0\r\n",
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
            "v=0\r\na=fingerprint:sha-256 AA\r\na=ice-ufrag:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF\r\n",
            "v=0\r\na=fingerprint:sha-256 AA\r\na=ice-ufrag:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF 300\r\n",
            "v=0\r\nm=audio 9 RTP/AVP 0\r\n",
            "v=0\r\na=fingerprint:sha-256 AA\r\na=ice-ufrag:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 opus\r\n",
            "v=0\r\nthis is not sdp\r\n",
        ] {
            let err = inspect(bad).unwrap_err();
            assert!(matches!(err, PhoneError::Media(_)), "{bad:?} → {err:?}");
        }
        let huge = format!("v=0\r\n{}", "a=x\r\n".repeat(20_000));
        assert!(inspect(&huge).is_err());
    }

    #[test]
    fn directions_follow_rfc_3264() {
        use Direction::*;
        assert_eq!(Direction::answer_to(SendRecv, false), SendRecv);
        assert_eq!(Direction::answer_to(SendOnly, false), RecvOnly);
        assert_eq!(Direction::answer_to(RecvOnly, false), SendOnly);
        assert_eq!(Direction::answer_to(Inactive, false), Inactive);
        assert_eq!(Direction::answer_to(SendRecv, true), SendOnly);
        assert_eq!(Direction::answer_to(SendOnly, true), Inactive);
        assert_eq!(SendOnly.agreed_with_answer(RecvOnly), SendOnly);
        assert_eq!(SendRecv.agreed_with_answer(Inactive), Inactive);
    }

    #[test]
    fn prepares_remote_and_finalizes_local() {
        let info = inspect(OFFER).unwrap();
        let prepared = prepare_remote(OFFER, &info);
        assert!(!prepared.contains("sendonly"));
        assert_eq!(prepared.matches("a=sendrecv").count(), 1);
        assert!(prepared.contains("a=rtpmap:0 PCMU/8000\r\n"));
        assert!(prepared.contains("a=rtpmap:8 PCMA/8000\r\n"));
        assert!(inspect(&prepared).is_ok());

        let local = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AA\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:x\r\na=rtcp-mux\r\na=sendrecv\r\n\
a=candidate:1 1 udp 2130706431 10.0.0.2 4000 typ host\r\na=candidate:1 2 udp 2130706431 10.0.0.2 4000 typ host\r\n\
a=candidate:2 1 udp 1694498815 203.0.113.9 5000 typ srflx raddr 10.0.0.2 rport 4000\r\na=end-of-candidates\r\n";
        let fin = finalize_local(local, Direction::SendOnly);
        assert!(fin.contains("m=audio 5000 UDP/TLS/RTP/SAVPF 111 0\r\n"), "{fin}");
        assert!(fin.contains("c=IN IP4 203.0.113.9\r\n"));
        assert!(fin.contains("a=sendonly\r\na=candidate:1 1 "));
        assert!(!fin.contains("a=sendrecv"));
        assert_eq!(candidate_count(&fin), 2);
        assert_eq!(inspect(&fin).unwrap().audio.direction, Direction::SendOnly);

        let doubled = "v=0\r\na=fingerprint:sha-256 AA\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 110 110\r\n\
c=IN IP4 0.0.0.0\r\na=ice-ufrag:x\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:110 telephone-event/48000\r\n\
a=fmtp:110 0-16\r\na=rtpmap:110 telephone-event/48000\r\na=fmtp:110 0-16\r\na=sendrecv\r\n";
        let fin = finalize_local(doubled, Direction::SendRecv);
        assert!(fin.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111 110\r\n"), "{fin}");
        assert_eq!(fin.matches("a=rtpmap:110 ").count(), 1);
        assert_eq!(fin.matches("a=fmtp:110 ").count(), 1);
    }
}
