//! Encoders and decoders between 48 kHz frames and RTP payloads, with loss concealment.

use crate::audio::FRAME_SAMPLES;
use crate::error::PhoneError;

use super::Codec;
use super::g711::Law;
use super::resample::{Decimator, Interpolator};

/// Largest Opus packet we produce.
const MAX_OPUS_PACKET: usize = 1_500;
/// Longest Opus frame (120 ms at 48 kHz).
const MAX_OPUS_FRAME: usize = 5_760;
/// Concealed frames in a row after which concealment goes silent.
const MAX_CONCEALED: u32 = 5;

fn codec_error(what: &str, err: impl std::fmt::Display) -> PhoneError {
    PhoneError::Media(format!("{what}: {err}"))
}

/// Opus encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Target bitrate in bit/s.
    pub bitrate: i32,
    /// Packet loss the encoder prepares its in-band FEC for, in percent.
    pub expected_loss_percent: i32,
}

impl Default for OpusSettings {
    fn default() -> Self {
        Self {
            bitrate: 32_000,
            expected_loss_percent: 10,
        }
    }
}

/// 48 kHz mono frames → payloads of one codec.
pub enum Encoder {
    Opus(Box<opus::Encoder>),
    G711 {
        law: Law,
        decimator: Decimator,
        narrow: Vec<i16>,
    },
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Opus(_) => f.write_str("Encoder::Opus"),
            Self::G711 { law, .. } => write!(f, "Encoder::G711({law:?})"),
        }
    }
}

impl Encoder {
    pub fn new(codec: Codec, opus: OpusSettings) -> Result<Self, PhoneError> {
        Ok(match codec {
            Codec::Opus => {
                let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
                    .map_err(|e| codec_error("opus encoder", e))?;
                enc.set_inband_fec(true).map_err(|e| codec_error("opus fec", e))?;
                enc.set_packet_loss_perc(opus.expected_loss_percent.clamp(0, 100))
                    .map_err(|e| codec_error("opus loss", e))?;
                enc.set_bitrate(opus::Bitrate::Bits(opus.bitrate.clamp(6_000, 510_000)))
                    .map_err(|e| codec_error("opus bitrate", e))?;
                Self::Opus(Box::new(enc))
            }
            Codec::Pcmu | Codec::Pcma => Self::G711 {
                law: if codec == Codec::Pcmu { Law::Mu } else { Law::A },
                decimator: Decimator::new(),
                narrow: Vec::with_capacity(FRAME_SAMPLES / 6),
            },
        })
    }

    /// Encodes one 20 ms frame (960 samples at 48 kHz).
    pub fn encode(&mut self, frame: &[i16]) -> Result<Vec<u8>, PhoneError> {
        match self {
            Self::Opus(enc) => enc
                .encode_vec(frame, MAX_OPUS_PACKET)
                .map_err(|e| codec_error("opus encode", e)),
            Self::G711 {
                law,
                decimator,
                narrow,
            } => {
                narrow.clear();
                decimator.process(frame, narrow);
                Ok(narrow.iter().map(|&s| law.encode(s)).collect())
            }
        }
    }
}

enum Inner {
    Opus(Box<opus::Decoder>),
    G711 { law: Law, interpolator: Interpolator },
}

/// Payloads of one codec → 48 kHz mono samples, and concealment of lost packets.
pub struct Decoder {
    codec: Codec,
    inner: Inner,
    /// Samples of the last decoded packet (the size a concealed packet gets).
    last_len: usize,
    /// The last decoded 48 kHz output, for G.711 concealment.
    last: Vec<i16>,
    concealed_in_row: u32,
    scratch: Vec<i16>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

/// How a concealed stretch was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concealment {
    /// Rebuilt from the next packet's in-band FEC (Opus).
    Fec,
    /// Packet loss concealment (Opus PLC, or G.711 repeat-and-fade).
    Plc,
    /// Silence (too many frames concealed in a row).
    Silence,
}

impl Decoder {
    pub fn new(codec: Codec) -> Result<Self, PhoneError> {
        let inner = match codec {
            Codec::Opus => Inner::Opus(Box::new(
                opus::Decoder::new(48_000, opus::Channels::Mono)
                    .map_err(|e| codec_error("opus decoder", e))?,
            )),
            Codec::Pcmu => Inner::G711 {
                law: Law::Mu,
                interpolator: Interpolator::new(),
            },
            Codec::Pcma => Inner::G711 {
                law: Law::A,
                interpolator: Interpolator::new(),
            },
        };
        Ok(Self {
            codec,
            inner,
            last_len: FRAME_SAMPLES,
            last: vec![0; FRAME_SAMPLES],
            concealed_in_row: 0,
            scratch: vec![0; MAX_OPUS_FRAME],
        })
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Decodes one payload, appending 48 kHz samples to `out`. A payload that does not decode is
    /// concealed instead (and `false` returned).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> bool {
        let start = out.len();
        let ok = match &mut self.inner {
            Inner::Opus(dec) => match dec.decode(payload, &mut self.scratch, false) {
                Ok(n) if n > 0 && n <= self.scratch.len() => {
                    out.extend_from_slice(&self.scratch[..n]);
                    true
                }
                _ => false,
            },
            Inner::G711 { law, interpolator } => {
                // Bound what one packet may expand to (120 ms).
                let narrow: Vec<i16> = payload.iter().take(960).map(|&c| law.decode(c)).collect();
                interpolator.process(&narrow, out);
                !payload.is_empty()
            }
        };
        if !ok {
            out.truncate(start);
            self.conceal(None, out);
            return false;
        }
        self.last_len = out.len() - start;
        self.last.clear();
        self.last.extend_from_slice(&out[start..]);
        self.concealed_in_row = 0;
        true
    }

    /// Conceals one lost packet, appending its samples to `out`; `next` is the packet after the
    /// lost one when it is already here (Opus recovers the lost one from its in-band FEC).
    pub fn conceal(&mut self, next: Option<&[u8]>, out: &mut Vec<i16>) -> Concealment {
        let len = self.last_len.clamp(120, MAX_OPUS_FRAME);
        self.concealed_in_row += 1;
        match &mut self.inner {
            Inner::Opus(dec) => {
                if let Some(next) = next
                    && let Ok(n) = dec.decode(next, &mut self.scratch[..len], true)
                    && n > 0
                {
                    out.extend_from_slice(&self.scratch[..n]);
                    self.concealed_in_row = 0;
                    return Concealment::Fec;
                }
                if self.concealed_in_row > MAX_CONCEALED {
                    out.extend(std::iter::repeat_n(0, len));
                    return Concealment::Silence;
                }
                match dec.decode(&[], &mut self.scratch[..len], false) {
                    Ok(n) if n > 0 => {
                        out.extend_from_slice(&self.scratch[..n]);
                        Concealment::Plc
                    }
                    _ => {
                        out.extend(std::iter::repeat_n(0, len));
                        Concealment::Silence
                    }
                }
            }
            Inner::G711 { .. } => {
                if self.concealed_in_row > MAX_CONCEALED || self.last.is_empty() {
                    out.extend(std::iter::repeat_n(0, len));
                    return Concealment::Silence;
                }
                // Repeat the last good stretch, fading by half each time.
                let gain = 0.5f32.powi(i32::try_from(self.concealed_in_row).unwrap_or(i32::MAX));
                let last = &self.last;
                out.extend((0..len).map(|i| {
                    #[allow(clippy::cast_possible_truncation)]
                    let s = (f32::from(last[i % last.len()]) * gain) as i16;
                    s
                }));
                Concealment::Plc
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn goertzel_energy(frame: &[i16], hz: f64) -> f64 {
        let coeff = 2.0 * (std::f64::consts::TAU * hz / 48_000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &sample in frame {
            let s0 = f64::from(sample) / f64::from(i16::MAX) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        #[allow(clippy::cast_precision_loss)]
        let n = frame.len().max(1) as f64;
        2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2) / n
    }

    fn tone_frames(hz: f64, count: usize) -> Vec<Vec<i16>> {
        let all: Vec<i16> = (0..count * FRAME_SAMPLES)
            .map(|i| {
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let s = (10_000.0 * (std::f64::consts::TAU * hz * i as f64 / 48_000.0).sin()) as i16;
                s
            })
            .collect();
        all.chunks(FRAME_SAMPLES).map(<[i16]>::to_vec).collect()
    }

    fn share(samples: &[i16], hz: f64) -> f64 {
        let full = f64::from(i16::MAX);
        let total: f64 = samples.iter().map(|&s| (f64::from(s) / full).powi(2)).sum();
        goertzel_energy(samples, hz) / total.max(1e-12)
    }

    #[test]
    fn every_codec_carries_a_tone_and_conceals_a_gap() {
        for codec in [Codec::Opus, Codec::Pcmu, Codec::Pcma] {
            let mut enc = Encoder::new(codec, OpusSettings::default()).unwrap();
            let mut dec = Decoder::new(codec).unwrap();
            let mut out = Vec::new();
            let mut next_payload = None;
            let frames = tone_frames(1_000.0, 30);
            let payloads: Vec<Vec<u8>> = frames.iter().map(|f| enc.encode(f).unwrap()).collect();
            if codec != Codec::Opus {
                assert_eq!(payloads[0].len(), 160);
            }
            for (i, payload) in payloads.iter().enumerate() {
                if i == 20 {
                    // Lose packet 20; 21 is there for FEC.
                    next_payload = Some(payloads[21].clone());
                    let how = dec.conceal(next_payload.as_deref(), &mut out);
                    let want = if codec == Codec::Opus {
                        Concealment::Fec
                    } else {
                        Concealment::Plc
                    };
                    assert_eq!(how, want, "{codec:?}");
                    continue;
                }
                assert!(dec.decode(payload, &mut out));
            }
            let _ = next_payload;
            assert_eq!(out.len(), 30 * FRAME_SAMPLES, "{codec:?}");
            let steady = &out[10 * FRAME_SAMPLES..19 * FRAME_SAMPLES];
            assert!(
                share(steady, 1_000.0) > 0.9,
                "{codec:?} share {}",
                share(steady, 1_000.0)
            );
            // Garbage does not panic; it is concealed.
            assert!(!dec.decode(&[0xFF; 3], &mut out) || codec != Codec::Opus);
        }
    }
}
