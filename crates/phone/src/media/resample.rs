//! 48 kHz ⇄ 8 kHz for G.711: polyphase FIR decimation and interpolation by 6.
//!
//! One low-pass filter serves both directions: a 192-tap windowed sinc (Blackman window) at 48 kHz,
//! cut-off 3.5 kHz, unity DC gain. Its transition band runs from about 2.8 to 4.2 kHz and its stop
//! band is below -70 dB, so decimation folds almost nothing back under 4 kHz and interpolation
//! removes the images above it. The filter delay is 95.5 samples at 48 kHz (2 ms) each way.

use std::f64::consts::PI;
use std::sync::OnceLock;

/// Decimation / interpolation factor (48 000 / 8 000).
pub const FACTOR: usize = 6;
/// Filter length (a multiple of [`FACTOR`], so every polyphase branch has the same length).
const TAPS: usize = 192;
/// Cut-off frequency in Hz.
const CUTOFF_HZ: f64 = 3_500.0;
const RATE_HZ: f64 = 48_000.0;

fn taps() -> &'static [f32] {
    static TAPS_CELL: OnceLock<Vec<f32>> = OnceLock::new();
    TAPS_CELL.get_or_init(|| {
        #[allow(clippy::cast_precision_loss)]
        let n_max = (TAPS - 1) as f64;
        let fc = CUTOFF_HZ / RATE_HZ;
        let raw: Vec<f64> = (0..TAPS)
            .map(|n| {
                #[allow(clippy::cast_precision_loss)]
                let n = n as f64;
                let x = n - n_max / 2.0;
                let sinc = if x.abs() < 1e-12 {
                    2.0 * fc
                } else {
                    (2.0 * PI * fc * x).sin() / (PI * x)
                };
                let window = 0.42 - 0.5 * (2.0 * PI * n / n_max).cos() + 0.08 * (4.0 * PI * n / n_max).cos();
                sinc * window
            })
            .collect();
        let sum: f64 = raw.iter().sum();
        #[allow(clippy::cast_possible_truncation)]
        raw.iter().map(|h| (h / sum) as f32).collect()
    })
}

fn to_i16(value: f32) -> i16 {
    #[allow(clippy::cast_possible_truncation)]
    let sample = value.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
    sample
}

/// 48 kHz → 8 kHz. Keeps its filter state across calls, so frames join seamlessly.
#[derive(Debug, Clone)]
pub struct Decimator {
    history: Vec<f32>,
    pos: usize,
    phase: usize,
}

impl Default for Decimator {
    fn default() -> Self {
        Self::new()
    }
}

impl Decimator {
    pub fn new() -> Self {
        Self {
            history: vec![0.0; TAPS],
            pos: 0,
            phase: 0,
        }
    }

    /// Filters `input` (48 kHz) and appends every sixth output sample (8 kHz) to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let taps = taps();
        for &sample in input {
            self.history[self.pos] = f32::from(sample);
            self.pos = (self.pos + 1) % TAPS;
            if self.phase == 0 {
                // history[pos - 1] is the newest sample.
                let mut acc = 0.0f32;
                for (k, h) in taps.iter().enumerate() {
                    acc += h * self.history[(self.pos + TAPS - 1 - k) % TAPS];
                }
                out.push(to_i16(acc));
            }
            self.phase = (self.phase + 1) % FACTOR;
        }
    }
}

/// 8 kHz → 48 kHz. Keeps its filter state across calls.
#[derive(Debug, Clone)]
pub struct Interpolator {
    history: Vec<f32>,
    pos: usize,
}

impl Default for Interpolator {
    fn default() -> Self {
        Self::new()
    }
}

impl Interpolator {
    const BRANCH: usize = TAPS / FACTOR;

    pub fn new() -> Self {
        Self {
            history: vec![0.0; Self::BRANCH],
            pos: 0,
        }
    }

    /// Appends six 48 kHz samples to `out` for every 8 kHz sample of `input`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let taps = taps();
        #[allow(clippy::cast_precision_loss)]
        let gain = FACTOR as f32;
        for &sample in input {
            self.history[self.pos] = f32::from(sample);
            self.pos = (self.pos + 1) % Self::BRANCH;
            for phase in 0..FACTOR {
                let mut acc = 0.0f32;
                for q in 0..Self::BRANCH {
                    let x = self.history[(self.pos + Self::BRANCH - 1 - q) % Self::BRANCH];
                    acc += taps[phase + FACTOR * q] * x;
                }
                out.push(to_i16(acc * gain));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, rate: f64, len: usize, amp: f64) -> Vec<i16> {
        (0..len)
            .map(|i| {
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let s = (amp * (2.0 * PI * hz * i as f64 / rate).sin()) as i16;
                s
            })
            .collect()
    }

    fn rms(samples: &[i16]) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = samples.len().max(1) as f64;
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / n).sqrt()
    }

    #[test]
    fn decimation_keeps_speech_band_and_rejects_aliases() {
        for (hz, expect_pass) in [
            (440.0, true),
            (1_000.0, true),
            (2_500.0, true),
            (5_000.0, false),
            (7_000.0, false),
        ] {
            let input = sine(hz, 48_000.0, 48_000, 10_000.0);
            let mut dec = Decimator::new();
            let mut out = Vec::new();
            for frame in input.chunks(960) {
                dec.process(frame, &mut out);
            }
            assert_eq!(out.len(), 8_000);
            let level = rms(&out[400..]) / (10_000.0 / 2f64.sqrt());
            if expect_pass {
                assert!((level - 1.0).abs() < 0.02, "{hz} Hz passes at {level}");
            } else {
                assert!(level < 0.001, "{hz} Hz must be rejected, got {level}");
            }
        }
    }

    #[test]
    fn interpolation_restores_level_and_removes_images() {
        let input = sine(1_000.0, 8_000.0, 8_000, 10_000.0);
        let mut int = Interpolator::new();
        let mut out = Vec::new();
        for frame in input.chunks(160) {
            int.process(frame, &mut out);
        }
        assert_eq!(out.len(), 48_000);
        let level = rms(&out[2_400..]) / (10_000.0 / 2f64.sqrt());
        assert!((level - 1.0).abs() < 0.02, "level {level}");
        // Compare with the ideal 48 kHz sine (delay 95.5 samples): the residue (images) is tiny.
        let delay = 95.5;
        let mut err = 0.0;
        for (i, &y) in out.iter().enumerate().skip(2_400) {
            #[allow(clippy::cast_precision_loss)]
            let t = i as f64 - delay;
            let want = 10_000.0 * (2.0 * PI * 1_000.0 * t / 48_000.0).sin();
            err += (f64::from(y) - want).powi(2);
        }
        #[allow(clippy::cast_precision_loss)]
        let err_rms = (err / (48_000 - 2_400) as f64).sqrt();
        assert!(err_rms < 100.0, "residue rms {err_rms}");
    }
}
