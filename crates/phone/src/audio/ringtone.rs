//! Ring tones: a cadence of tone bursts, generated at 48 kHz mono, played on an output device by
//! [`AudioDevices::ring`](super::AudioDevices::ring) until the [`RingHandle`](super::RingHandle) is
//! dropped.

use std::f64::consts::TAU;
use std::time::Duration;

use super::SAMPLE_RATE;

/// Fade at the start and end of every burst, so bursts do not click.
const FADE: Duration = Duration::from_millis(5);

/// A ring: tones summed, switched on and off in a repeating cadence.
#[derive(Debug, Clone, PartialEq)]
pub struct Ringtone {
    /// Frequencies sounded together during a burst.
    pub tones_hz: Vec<f64>,
    /// Amplitude modulation of the bursts (India's ring is 400 Hz modulated at 25 Hz), if any.
    pub modulation_hz: Option<f64>,
    /// Alternating on and off times, starting with on; repeats.
    pub cadence: Vec<Duration>,
    /// Peak level, 0.0–1.0 of full scale.
    pub volume: f64,
}

impl Ringtone {
    /// The ring an Indian caller knows: 400 Hz modulated at 25 Hz, 0.4 s on, 0.2 s off, 0.4 s on,
    /// 2 s off.
    pub fn india() -> Self {
        Self {
            tones_hz: vec![400.0],
            modulation_hz: Some(25.0),
            cadence: indian_cadence(),
            volume: 0.4,
        }
    }

    /// A softer double chime (C5 + E5) in the Indian double-ring cadence.
    pub fn chime() -> Self {
        Self {
            tones_hz: vec![523.25, 659.25],
            modulation_hz: None,
            cadence: indian_cadence(),
            volume: 0.35,
        }
    }

    /// Length of one cycle of the cadence.
    pub fn period(&self) -> Duration {
        self.cadence.iter().sum()
    }

    /// Whether the tone sounds at `at` (measured from the start of the ring).
    pub fn is_on(&self, at: Duration) -> bool {
        self.segment(at).is_some_and(|(on, _, _)| on)
    }

    /// (on?, time into the segment, segment length) at `at`; `None` for an empty cadence.
    fn segment(&self, at: Duration) -> Option<(bool, Duration, Duration)> {
        let period = self.period();
        if period.is_zero() {
            return None;
        }
        let mut into = Duration::from_nanos(u64::try_from(at.as_nanos() % period.as_nanos()).unwrap_or(0));
        for (index, &length) in self.cadence.iter().enumerate() {
            if into < length {
                return Some((index % 2 == 0, into, length));
            }
            into -= length;
        }
        None
    }

    /// A source of this ring's samples from its start.
    pub(crate) fn source(&self) -> RingtoneSource {
        RingtoneSource {
            tone: self.clone(),
            sample: 0,
        }
    }
}

fn indian_cadence() -> Vec<Duration> {
    [400, 200, 400, 2000]
        .into_iter()
        .map(Duration::from_millis)
        .collect()
}

/// Generates a [`Ringtone`] at 48 kHz mono.
#[derive(Debug, Clone)]
pub(crate) struct RingtoneSource {
    tone: Ringtone,
    sample: u64,
}

impl RingtoneSource {
    /// Fills `out` with the next samples.
    pub(crate) fn fill(&mut self, out: &mut [i16]) {
        let rate = f64::from(SAMPLE_RATE);
        let voices = self.tone.tones_hz.len().max(1);
        #[allow(clippy::cast_precision_loss)]
        let amplitude = self.tone.volume.clamp(0.0, 1.0) * f64::from(i16::MAX) / voices as f64;
        let fade = FADE.as_secs_f64();
        for slot in out.iter_mut() {
            let at = Duration::from_nanos(self.sample * 1_000_000_000 / u64::from(SAMPLE_RATE));
            #[allow(clippy::cast_precision_loss)]
            let t = self.sample as f64 / rate;
            *slot = match self.tone.segment(at) {
                Some((true, into, length)) => {
                    let into = into.as_secs_f64();
                    let left = length.as_secs_f64() - into;
                    let envelope = (into / fade).min(left / fade).clamp(0.0, 1.0);
                    let modulation = self
                        .tone
                        .modulation_hz
                        .map_or(1.0, |hz| 0.5 + 0.5 * (TAU * hz * t).sin());
                    let sum: f64 = self.tone.tones_hz.iter().map(|hz| (TAU * hz * t).sin()).sum();
                    #[allow(clippy::cast_possible_truncation)]
                    let s = (amplitude * envelope * modulation * sum).round() as i16;
                    s
                }
                _ => 0,
            };
            self.sample += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::audio::synthetic::goertzel_energy;

    /// Renders `seconds` of `tone` and returns the RMS of each 10 ms block.
    fn levels(tone: &Ringtone, seconds: usize) -> (Vec<i16>, Vec<f64>) {
        let mut source = tone.source();
        let mut samples = vec![0i16; seconds * 48_000];
        // In odd-sized pieces, as a device callback would ask.
        for piece in samples.chunks_mut(777) {
            source.fill(piece);
        }
        let rms = samples
            .chunks(480)
            .map(|block| {
                let energy: f64 = block.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum();
                (energy / 480.0).sqrt()
            })
            .collect();
        (samples, rms)
    }

    #[test]
    fn the_indian_ring_follows_its_cadence() {
        let tone = Ringtone::india();
        assert_eq!(tone.period(), Duration::from_millis(3000));
        let (samples, rms) = levels(&tone, 6);
        // Expected on/off for each 10 ms block, from the cadence (skip blocks at the edges of bursts).
        for (block, &level) in rms.iter().enumerate() {
            let ms = (block * 10) as u64 % 3000;
            let on = ms < 400 || (600..1000).contains(&ms);
            let edge = [0u64, 400, 600, 1000]
                .iter()
                .any(|&e| ms.abs_diff(e) < 20 || (ms + 10).abs_diff(e) < 20);
            if edge {
                continue;
            }
            if on {
                assert!(level > 0.01, "block {block} ({ms} ms) should ring: {level}");
            } else {
                assert_eq!(level, 0.0, "block {block} ({ms} ms) should be silent");
            }
        }
        // The bursts are 400 Hz (modulated: its 375/425 Hz sidebands carry the rest).
        let burst = &samples[48 * 100..48 * 300];
        let total: f64 = burst
            .iter()
            .map(|&s| (f64::from(s) / f64::from(i16::MAX)).powi(2))
            .sum();
        let carrier = goertzel_energy(burst, 400.0);
        let sidebands = goertzel_energy(burst, 375.0) + goertzel_energy(burst, 425.0);
        assert!(
            (carrier + sidebands) / total > 0.9 && carrier / total > 0.6,
            "{carrier} {sidebands} {total}"
        );
        assert!(tone.is_on(Duration::from_millis(3700)));
        assert!(!tone.is_on(Duration::from_millis(3500)));
    }

    #[test]
    fn the_chime_is_two_tones_and_never_clips_or_clicks() {
        let tone = Ringtone::chime();
        let (samples, _) = levels(&tone, 3);
        let burst = &samples[48 * 100..48 * 300];
        let total: f64 = burst
            .iter()
            .map(|&s| (f64::from(s) / f64::from(i16::MAX)).powi(2))
            .sum();
        let share = (goertzel_energy(burst, 523.25) + goertzel_energy(burst, 659.25)) / total;
        assert!(share > 0.9, "share {share}");
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(f64::from(peak) <= 0.36 * 32767.0, "peak {peak}");
        // Burst starts fade in: the first sample of a burst is (near) silent.
        assert!(samples[0].unsigned_abs() < 100 && samples[48 * 600].unsigned_abs() < 100);
        let biggest_step = samples
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap();
        assert!(biggest_step < 2000, "no clicks: largest step {biggest_step}");
    }
}
