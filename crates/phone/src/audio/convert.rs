//! Conversion between a device's native stream (any rate, any channel count, interleaved `f32`) and the
//! media engine's frames (48 kHz mono `i16`).
//!
//! Sample formats (`i16`, `u16`, `f32`, ...) are turned into `f32` by the device backend; this module
//! down- or up-mixes channels and resamples with a windowed-sinc interpolator: a Blackman-windowed sinc
//! of 2 × 24 taps (more when decimating), tabulated at 256 fractional phases with linear interpolation
//! between phases. Its pass band reaches 95 % of the lower Nyquist frequency; images and aliases are
//! attenuated by 60 dB and more away from the band edge — plenty for speech.

use std::f64::consts::PI;

use super::{FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// Samples in 10 ms at [`SAMPLE_RATE`]: the block the voice processing and the playback path work in.
pub(crate) const CHUNK_SAMPLES: usize = FRAME_SAMPLES / 2;

/// Half the filter length in output-rate samples.
const HALF_TAPS: usize = 24;
/// Fractional positions the filter is tabulated at.
const PHASES: usize = 256;
/// Pass band as a share of the lower of the two Nyquist frequencies.
const PASS_BAND: f64 = 0.95;

/// Converts an `f32` sample (full scale ±1.0) to `i16`, saturating.
pub(crate) fn f32_to_i16(sample: f32) -> i16 {
    #[allow(clippy::cast_possible_truncation)]
    let value = (sample * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
    value
}

/// Converts an `i16` sample to `f32` (full scale ±1.0).
pub(crate) fn i16_to_f32(sample: i16) -> f32 {
    f32::from(sample) / 32768.0
}

/// A streaming sample-rate converter for one channel of `f32` samples.
#[derive(Debug, Clone)]
pub(crate) struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample, in input samples from `history[0]`.
    pos: f64,
    /// Input samples not yet fully used (starts with `half - 1` zeros of padding).
    history: Vec<f32>,
    /// Taps on each side of the output position, in input samples.
    half: usize,
    /// `(PHASES + 1) × 2·half` filter coefficients; row `p` is the filter for fraction `p / PHASES`.
    table: Vec<f32>,
    passthrough: bool,
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz (both non-zero).
    pub(crate) fn new(from: u32, to: u32) -> Self {
        let (from, to) = (from.max(1), to.max(1));
        let passthrough = from == to;
        let ratio = f64::from(to) / f64::from(from);
        // Cutoff relative to the input rate (1.0 = input Nyquist).
        let cutoff = ratio.min(1.0) * PASS_BAND;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let half = if passthrough {
            1
        } else {
            (HALF_TAPS as f64 / ratio.min(1.0)).ceil() as usize
        };
        let width = 2 * half;
        let mut table = vec![0f32; if passthrough { 0 } else { (PHASES + 1) * width }];
        if !passthrough {
            for (p, row) in table.chunks_exact_mut(width).enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let frac = p as f64 / PHASES as f64;
                let mut sum = 0.0;
                let mut taps = vec![0f64; width];
                for (j, tap) in taps.iter_mut().enumerate() {
                    #[allow(clippy::cast_precision_loss)]
                    let x = frac + (half as f64 - 1.0) - j as f64;
                    *tap = kernel(x, cutoff, half);
                    sum += *tap;
                }
                for (out, tap) in row.iter_mut().zip(taps) {
                    #[allow(clippy::cast_possible_truncation)]
                    let normalised = (tap / sum) as f32;
                    *out = normalised;
                }
            }
        }
        Self {
            step: f64::from(from) / f64::from(to),
            #[allow(clippy::cast_precision_loss)]
            pos: (half - 1) as f64,
            history: vec![0.0; half - 1],
            half,
            table,
            passthrough,
        }
    }

    /// Resamples `input`, appending the output samples it completes to `out`.
    pub(crate) fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        self.history.extend_from_slice(input);
        let width = 2 * self.half;
        loop {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let whole = self.pos.floor() as usize;
            if whole + self.half >= self.history.len() {
                break;
            }
            #[allow(clippy::cast_precision_loss)]
            let phase = (self.pos - whole as f64) * PHASES as f64;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let row = (phase.floor() as usize).min(PHASES - 1);
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let weight = (phase - row as f64) as f32;
            let low = &self.table[row * width..(row + 1) * width];
            let high = &self.table[(row + 1) * width..(row + 2) * width];
            let window = &self.history[whole + 1 - self.half..whole + 1 + self.half];
            let mut acc = 0f32;
            for ((&x, &a), &b) in window.iter().zip(low).zip(high) {
                acc += x * (a + weight * (b - a));
            }
            out.push(acc);
            self.pos += self.step;
        }
        // Drop the input no future output sample reaches back to.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let keep_from = (self.pos.floor() as usize + 1).saturating_sub(self.half);
        let keep_from = keep_from.min(self.history.len());
        if keep_from > 0 {
            self.history.drain(..keep_from);
            #[allow(clippy::cast_precision_loss)]
            let shift = keep_from as f64;
            self.pos -= shift;
        }
    }
}

/// Blackman-windowed sinc low-pass with `cutoff` (1.0 = input Nyquist), `half` samples each side.
fn kernel(x: f64, cutoff: f64, half: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let half = half as f64;
    if x.abs() >= half {
        return 0.0;
    }
    let sinc = if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * cutoff * x).sin() / (PI * cutoff * x)
    };
    let w = x / half; // -1..1
    let window = 0.42 + 0.5 * (PI * w).cos() + 0.08 * (2.0 * PI * w).cos();
    cutoff * sinc * window
}

/// Format of a device stream as the conversion sees it: interleaved `f32` at this rate and channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    pub sample_rate: u32,
    pub channels: u16,
}

/// Device samples (interleaved `f32`, any rate and channel count) in, 48 kHz mono frames out.
#[derive(Debug)]
pub(crate) struct CaptureConverter {
    channels: usize,
    resampler: Resampler,
    mono: Vec<f32>,
    resampled: Vec<f32>,
    frame: Frame,
}

impl CaptureConverter {
    pub(crate) fn new(format: StreamFormat) -> Self {
        Self {
            channels: usize::from(format.channels.max(1)),
            resampler: Resampler::new(format.sample_rate, SAMPLE_RATE),
            mono: Vec::with_capacity(4096),
            resampled: Vec::with_capacity(4096),
            frame: Vec::with_capacity(FRAME_SAMPLES),
        }
    }

    /// Feeds interleaved device samples; calls `emit` with every frame of [`FRAME_SAMPLES`] completed.
    pub(crate) fn push(&mut self, interleaved: &[f32], mut emit: impl FnMut(Frame)) {
        self.mono.clear();
        if self.channels == 1 {
            self.mono.extend_from_slice(interleaved);
        } else {
            #[allow(clippy::cast_precision_loss)]
            let scale = 1.0 / self.channels as f32;
            self.mono.extend(
                interleaved
                    .chunks_exact(self.channels)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
        self.resampled.clear();
        self.resampler.process(&self.mono, &mut self.resampled);
        for &sample in &self.resampled {
            self.frame.push(f32_to_i16(sample));
            if self.frame.len() == FRAME_SAMPLES {
                emit(std::mem::replace(
                    &mut self.frame,
                    Vec::with_capacity(FRAME_SAMPLES),
                ));
            }
        }
    }
}

/// 48 kHz mono `i16` in (pulled 10 ms at a time from a source), device samples out (interleaved `f32`).
pub(crate) struct PlaybackConverter {
    channels: usize,
    resampler: Resampler,
    chunk: Vec<i16>,
    chunk_f32: Vec<f32>,
    /// Mono device-rate samples converted but not yet written.
    staged: Vec<f32>,
    staged_read: usize,
}

impl std::fmt::Debug for PlaybackConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaybackConverter")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl PlaybackConverter {
    pub(crate) fn new(format: StreamFormat) -> Self {
        Self {
            channels: usize::from(format.channels.max(1)),
            resampler: Resampler::new(SAMPLE_RATE, format.sample_rate),
            chunk: vec![0; CHUNK_SAMPLES],
            chunk_f32: Vec::with_capacity(CHUNK_SAMPLES),
            staged: Vec::with_capacity(4096),
            staged_read: 0,
        }
    }

    /// Fills `out` (interleaved device samples), pulling 10 ms chunks of 48 kHz mono from `source` as
    /// needed. Mono goes to the first two channels (both ears); further channels stay silent.
    pub(crate) fn fill(&mut self, out: &mut [f32], mut source: impl FnMut(&mut [i16])) {
        for frame in out.chunks_mut(self.channels) {
            while self.staged_read >= self.staged.len() {
                self.staged.clear();
                self.staged_read = 0;
                source(&mut self.chunk);
                self.chunk_f32.clear();
                self.chunk_f32.extend(self.chunk.iter().map(|&s| i16_to_f32(s)));
                self.resampler.process(&self.chunk_f32, &mut self.staged);
            }
            let sample = self.staged[self.staged_read];
            self.staged_read += 1;
            for (channel, slot) in frame.iter_mut().enumerate() {
                *slot = if channel < 2 { sample } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::f64::consts::TAU;

    use super::*;
    use crate::audio::synthetic::goertzel_energy;

    fn sine(rate: u32, hz: f64, amplitude: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                let s = (amplitude * (TAU * hz * i as f64 / f64::from(rate)).sin()) as f32;
                s
            })
            .collect()
    }

    fn energy(frame: &[i16]) -> f64 {
        frame
            .iter()
            .map(|&s| (f64::from(s) / f64::from(i16::MAX)).powi(2))
            .sum()
    }

    /// Share of the frame's energy at `hz`.
    fn share(frame: &[i16], hz: f64) -> f64 {
        goertzel_energy(frame, hz) / energy(frame).max(1e-12)
    }

    fn capture(format: StreamFormat, interleaved: &[f32], block: usize) -> Vec<Frame> {
        let mut conv = CaptureConverter::new(format);
        let mut frames = Vec::new();
        for chunk in interleaved.chunks(block) {
            conv.push(chunk, |f| frames.push(f));
        }
        frames
    }

    #[test]
    fn a_1khz_tone_at_44k1_stereo_f32_arrives_as_1khz_at_48k_mono() {
        // 1 s of stereo: 1 kHz in both channels at 0.5 of full scale, fed in odd-sized device buffers.
        let mono = sine(44_100, 1000.0, 0.5, 44_100);
        let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
        let frames = capture(
            StreamFormat {
                sample_rate: 44_100,
                channels: 2,
            },
            &stereo,
            2 * 441,
        );
        // 44 100 input samples make 48 000 output samples, less the filter's look-ahead.
        assert!((48..=50).contains(&frames.len()), "{} frames", frames.len());
        assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
        for frame in &frames[2..frames.len() - 1] {
            assert!(share(frame, 1000.0) > 0.98, "share {}", share(frame, 1000.0));
            let peak = frame.iter().map(|s| s.unsigned_abs()).max().unwrap();
            let expected = 0.5 * 32768.0;
            assert!(
                (f64::from(peak) - expected).abs() < expected * 0.02,
                "peak {peak}"
            );
        }
    }

    #[test]
    fn stereo_is_downmixed_as_the_mean_of_the_channels() {
        let left = sine(48_000, 500.0, 0.4, 4800);
        let stereo: Vec<f32> = left.iter().flat_map(|&s| [s, 0.0]).collect();
        let frames = capture(
            StreamFormat {
                sample_rate: 48_000,
                channels: 2,
            },
            &stereo,
            512,
        );
        assert_eq!(frames.len(), 5);
        let peak = frames[2].iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((f64::from(peak) - 0.2 * 32768.0).abs() < 100.0, "peak {peak}");
        assert!(share(&frames[2], 500.0) > 0.98);
    }

    #[test]
    fn narrowband_and_high_rate_devices_resample_to_48k() {
        for rate in [8_000u32, 16_000, 22_050, 32_000, 96_000] {
            let tone = sine(rate, 700.0, 0.3, rate as usize);
            let frames = capture(
                StreamFormat {
                    sample_rate: rate,
                    channels: 1,
                },
                &tone,
                333,
            );
            assert!(frames.len() >= 48, "{rate}: {} frames", frames.len());
            for frame in &frames[2..frames.len() - 1] {
                assert!(
                    share(frame, 700.0) > 0.97,
                    "{rate}: share {}",
                    share(frame, 700.0)
                );
            }
        }
    }

    #[test]
    fn decimation_removes_what_48k_cannot_carry() {
        // 30 kHz at 96 kHz would alias to 18 kHz; the anti-alias filter must remove it.
        let tone = sine(96_000, 30_000.0, 0.5, 96_000);
        let frames = capture(
            StreamFormat {
                sample_rate: 96_000,
                channels: 1,
            },
            &tone,
            960,
        );
        let frame = &frames[10];
        let rms = (energy(frame) / FRAME_SAMPLES as f64).sqrt();
        assert!(
            rms < 0.5 / 2f64.sqrt() * 0.01,
            "alias at -40 dB or lower, rms {rms}"
        );
    }

    #[test]
    fn playback_converts_48k_mono_to_44k1_stereo() {
        let tone: Vec<i16> = sine(48_000, 1000.0, 0.5, 48_000)
            .into_iter()
            .map(f32_to_i16)
            .collect();
        let mut read = 0;
        let mut conv = PlaybackConverter::new(StreamFormat {
            sample_rate: 44_100,
            channels: 2,
        });
        let mut out = vec![0f32; 2 * 44_100 / 2];
        let mut device = Vec::new();
        for _ in 0..2 {
            conv.fill(&mut out, |chunk| {
                let n = chunk.len().min(tone.len() - read);
                chunk[..n].copy_from_slice(&tone[read..read + n]);
                chunk[n..].fill(0);
                read += n;
            });
            device.extend_from_slice(&out);
        }
        assert!(
            device.chunks_exact(2).all(|lr| lr[0] == lr[1]),
            "both ears hear the same"
        );
        // Back to 48 kHz mono through the capture converter: still a 1 kHz tone.
        let frames = capture(
            StreamFormat {
                sample_rate: 44_100,
                channels: 2,
            },
            &device,
            1000,
        );
        for frame in &frames[2..frames.len() - 2] {
            assert!(share(frame, 1000.0) > 0.97, "share {}", share(frame, 1000.0));
        }
    }

    #[test]
    fn sample_conversion_saturates_and_round_trips() {
        assert_eq!(f32_to_i16(1.5), i16::MAX);
        assert_eq!(f32_to_i16(-1.5), i16::MIN);
        for s in [i16::MIN, -12345, -1, 0, 1, 777, i16::MAX] {
            assert_eq!(f32_to_i16(i16_to_f32(s)), s);
        }
    }
}
