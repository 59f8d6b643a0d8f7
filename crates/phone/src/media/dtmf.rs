//! RFC 4733 telephone-event packets for DTMF.
//!
//! Each digit is sent as 5 packets of 20 ms (a 100 ms tone; the first with the marker bit, the
//! duration growing by 20 ms each time), then 3 copies of the end packet (E bit, final duration),
//! then 60 ms of normal audio before the next digit. All packets of a digit carry the RTP timestamp
//! of its start; sequence numbers continue the audio stream's.

use crate::error::PhoneError;

/// Tone packets per digit (5 × 20 ms = 100 ms).
const TONE_PACKETS: u32 = 5;
/// Copies of the end packet.
const END_PACKETS: u32 = 3;
/// Audio frames between digits (60 ms).
const GAP_FRAMES: u32 = 3;
/// Volume field: -10 dBm0.
const VOLUME: u8 = 10;
/// Longest digit string accepted in one call.
pub const MAX_DIGITS: usize = 32;

/// The RFC 4733 event code of a DTMF digit.
pub fn event_code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => u8::try_from(u32::from(d) - u32::from('0')).ok(),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => u8::try_from(u32::from(d) - u32::from('A') + 12).ok(),
        _ => None,
    }
}

/// The digit of an event code.
pub fn digit_of(code: u8) -> Option<char> {
    match code {
        0..=9 => Some(char::from(b'0' + code)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + code - 12)),
        _ => None,
    }
}

/// Parses a digit string into event codes.
pub fn parse_digits(digits: &str) -> Result<Vec<u8>, PhoneError> {
    if digits.chars().count() > MAX_DIGITS {
        return Err(PhoneError::Media(format!(
            "at most {MAX_DIGITS} DTMF digits at a time"
        )));
    }
    digits
        .chars()
        .map(|c| event_code(c).ok_or_else(|| PhoneError::Media(format!("{c:?} is not a DTMF digit"))))
        .collect()
}

/// The 4-byte RFC 4733 payload.
pub fn payload(code: u8, end: bool, duration: u16) -> [u8; 4] {
    let d = duration.to_be_bytes();
    [code, if end { 0x80 } else { 0 } | (VOLUME & 0x3F), d[0], d[1]]
}

/// A received RFC 4733 payload: (event code, end bit).
pub fn parse_payload(payload: &[u8]) -> Option<(u8, bool)> {
    let [code, flags, ..] = payload else { return None };
    Some((*code, flags & 0x80 != 0))
}

/// What the sender does in one 20 ms step of a DTMF job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send a telephone-event packet: payload, marker bit, and whether it starts a new event (its
    /// timestamp is the current audio timestamp; later packets of the event reuse it).
    Event {
        payload: [u8; 4],
        marker: bool,
        starts_event: bool,
    },
    /// Send normal audio (the gap between digits).
    Audio,
}

/// Steps through a digit string, one 20 ms step at a time.
#[derive(Debug, Clone)]
pub struct Player {
    codes: Vec<u8>,
    index: usize,
    step: u32,
    /// Duration units per 20 ms at the telephone-event clock rate.
    units_per_step: u32,
}

impl Player {
    pub fn new(codes: Vec<u8>, clock_rate: u32) -> Self {
        Self {
            codes,
            index: 0,
            step: 0,
            units_per_step: clock_rate / 50,
        }
    }

    pub fn is_done(&self) -> bool {
        self.index >= self.codes.len()
    }

    /// The next step, or `None` when every digit has been sent.
    pub fn next_step(&mut self) -> Option<Step> {
        let code = *self.codes.get(self.index)?;
        let step = self.step;
        self.step += 1;
        let duration =
            |n: u32| u16::try_from((n * self.units_per_step).min(u32::from(u16::MAX))).unwrap_or(u16::MAX);
        let out = if step < TONE_PACKETS {
            Step::Event {
                payload: payload(code, false, duration(step + 1)),
                marker: step == 0,
                starts_event: step == 0,
            }
        } else if step < TONE_PACKETS + END_PACKETS {
            Step::Event {
                payload: payload(code, true, duration(TONE_PACKETS)),
                marker: false,
                starts_event: false,
            }
        } else {
            Step::Audio
        };
        if self.step >= TONE_PACKETS + END_PACKETS + GAP_FRAMES {
            self.index += 1;
            self.step = 0;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn digits_map_to_rfc_4733_events() {
        assert_eq!(
            parse_digits("0123456789*#ABCDabcd").unwrap(),
            vec![
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15
            ]
        );
        assert!(parse_digits("12x").is_err());
        assert!(parse_digits(&"1".repeat(33)).is_err());
        for code in 0..16 {
            assert_eq!(event_code(digit_of(code).unwrap()), Some(code));
        }
    }

    #[test]
    fn a_digit_is_five_tone_packets_three_ends_and_a_gap() {
        let mut player = Player::new(vec![5], 8_000);
        let steps: Vec<Step> = std::iter::from_fn(|| player.next_step()).collect();
        assert_eq!(steps.len(), 11);
        assert_eq!(
            steps[0],
            Step::Event {
                payload: [5, 10, 0, 160],
                marker: true,
                starts_event: true
            }
        );
        assert_eq!(
            steps[4],
            Step::Event {
                payload: [5, 10, 3, 32],
                marker: false,
                starts_event: false
            }
        );
        assert_eq!(
            steps[5],
            Step::Event {
                payload: [5, 0x80 | 10, 3, 32],
                marker: false,
                starts_event: false
            }
        );
        assert_eq!(steps[7], steps[5]);
        assert_eq!(steps[8], Step::Audio);
        assert!(player.is_done());
        assert_eq!(parse_payload(&[5, 0x8A, 3, 32]), Some((5, true)));
        assert_eq!(parse_payload(&[5]), None);
    }
}
