//! Devices without hardware: silence, a test tone, a null speaker and a meter that measures what it is
//! given. Used headless (CI, a machine without a sound card) and by the tests and benchmarks.

use std::f64::consts::TAU;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use super::{CaptureStream, FRAME_DURATION, FRAME_SAMPLES, Frame, Playback, SAMPLE_RATE};

/// Frames queued between a source and the media engine before the oldest are dropped (100 ms).
pub(crate) const CAPTURE_QUEUE: usize = 5;

/// A capture stream of `make(frame_index)` frames, paced by a timer at one frame per 20 ms. Runs until
/// the stream is dropped.
fn paced(mut make: impl FnMut(u64) -> Frame + Send + 'static) -> CaptureStream {
    let (tx, rx) = mpsc::channel(CAPTURE_QUEUE);
    tokio::spawn(async move {
        let mut tick = interval_at(Instant::now(), FRAME_DURATION);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut index = 0u64;
        loop {
            tick.tick().await;
            match tx.try_send(make(index)) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
            index += 1;
        }
    });
    CaptureStream::from_channel(rx)
}

/// A microphone that hears nothing.
pub fn silence() -> CaptureStream {
    paced(|_| vec![0; FRAME_SAMPLES])
}

/// A microphone that hears a steady sine tone of `hz` at `amplitude` (0.0–1.0 of full scale).
pub fn tone(hz: f64, amplitude: f64) -> CaptureStream {
    let amplitude = amplitude.clamp(0.0, 1.0) * f64::from(i16::MAX);
    let step = TAU * hz / f64::from(SAMPLE_RATE);
    paced(move |index| {
        let first = index * FRAME_SAMPLES as u64;
        (0..FRAME_SAMPLES as u64)
            .map(|i| {
                // Phase from the absolute sample index keeps the tone continuous across frames.
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let sample = (amplitude * (step * (first + i) as f64).sin()).round() as i16;
                sample
            })
            .collect()
    })
}

/// A speaker that discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullPlayback;

impl Playback for NullPlayback {
    fn play(&self, _frame: &[i16]) {}
}

/// What a [`Meter`] has heard so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeterReading {
    /// Frames played.
    pub frames: u64,
    /// Frames whose peak was above 1 % of full scale.
    pub loud_frames: u64,
    /// Largest absolute sample, 0.0–1.0 of full scale.
    pub peak: f64,
    /// RMS level of the last frame, 0.0–1.0 of full scale.
    pub last_rms: f64,
    /// Share (0.0–1.0) of the last second's energy at the watched frequency (Goertzel), if one is watched.
    pub tone_share: Option<f64>,
}

/// A speaker that measures what it plays: frame count, peak and RMS level and, when asked, how much of
/// the sound is one frequency (to prove a far end's test tone came through the codec intact).
#[derive(Debug, Clone)]
pub struct Meter {
    inner: Arc<Mutex<MeterState>>,
}

#[derive(Debug)]
struct MeterState {
    reading: MeterReading,
    watch_hz: Option<f64>,
    /// Recent (tone energy, total energy) per frame, last 50 frames (1 s).
    window: std::collections::VecDeque<(f64, f64)>,
}

impl Meter {
    /// A meter; `watch_hz` is a frequency to measure the share of (e.g. the far end's test tone).
    pub fn new(watch_hz: Option<f64>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(MeterState {
                reading: MeterReading::default(),
                watch_hz,
                window: std::collections::VecDeque::with_capacity(50),
            })),
        }
    }

    pub fn reading(&self) -> MeterReading {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reading
            .clone()
    }
}

impl Playback for Meter {
    fn play(&self, frame: &[i16]) {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let full = f64::from(i16::MAX);
        let peak = frame
            .iter()
            .map(|s| f64::from(s.unsigned_abs()))
            .fold(0.0, f64::max)
            / full;
        let energy: f64 = frame.iter().map(|&s| (f64::from(s) / full).powi(2)).sum();
        #[allow(clippy::cast_precision_loss)]
        let len = frame.len().max(1) as f64;
        let reading = &mut state.reading;
        reading.frames += 1;
        if peak > 0.01 {
            reading.loud_frames += 1;
        }
        reading.peak = reading.peak.max(peak);
        reading.last_rms = (energy / len).sqrt();
        if let Some(hz) = state.watch_hz {
            let tone = goertzel_energy(frame, hz);
            if state.window.len() == 50 {
                state.window.pop_front();
            }
            state.window.push_back((tone, energy));
            let (tone_sum, total) = state
                .window
                .iter()
                .fold((0.0, 0.0), |(a, b), (t, e)| (a + t, b + e));
            state.reading.tone_share = Some(if total > 0.0 {
                (tone_sum / total).min(1.0)
            } else {
                0.0
            });
        }
    }
}

/// Energy of `frame` at `hz` (Goertzel), scaled so that a pure sine at `hz` gives about the frame's
/// total energy.
pub(crate) fn goertzel_energy(frame: &[i16], hz: f64) -> f64 {
    let coeff = 2.0 * (TAU * hz / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let full = f64::from(i16::MAX);
    for &sample in frame {
        let s0 = f64::from(sample) / full + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    #[allow(clippy::cast_precision_loss)]
    let n = frame.len().max(1) as f64;
    2.0 * power / n
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_tone_is_measured_as_that_tone_and_silence_as_nothing() {
        let mut source = tone(440.0, 0.5);
        let meter = Meter::new(Some(440.0));
        for _ in 0..60 {
            meter.play(&source.next_frame().await.unwrap());
        }
        let heard = meter.reading();
        assert_eq!(heard.frames, 60);
        assert!((heard.peak - 0.5).abs() < 0.01, "{heard:?}");
        assert!(heard.tone_share.unwrap() > 0.9, "{heard:?}");

        let other = Meter::new(Some(1000.0));
        let mut source = tone(440.0, 0.5);
        for _ in 0..60 {
            other.play(&source.next_frame().await.unwrap());
        }
        assert!(
            other.reading().tone_share.unwrap() < 0.05,
            "{:?}",
            other.reading()
        );

        let quiet = Meter::new(Some(440.0));
        let mut source = silence();
        for _ in 0..10 {
            quiet.play(&source.next_frame().await.unwrap());
        }
        let heard = quiet.reading();
        assert_eq!(
            (heard.loud_frames, heard.peak, heard.tone_share),
            (0, 0.0, Some(0.0))
        );
    }
}
