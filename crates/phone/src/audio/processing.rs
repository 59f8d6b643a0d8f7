//! Voice processing between the devices and the frames: acoustic echo cancellation (the far end's voice
//! coming back from the agent's speakers into the microphone), noise suppression (fans, traffic, a busy
//! call floor), and optionally automatic gain. Each is switchable at run time.
//!
//! The engine is `sonora`, a pure-Rust port of WebRTC's audio processing module (AEC3, NS, AGC2): no
//! system library, builds wherever Rust does. It works on 10 ms blocks of 48 kHz mono. The capture path
//! calls [`VoiceProcessing::process_capture`] on every microphone frame; the playback path calls
//! [`VoiceProcessing::process_render`] with the far-end sound as it goes to the speaker, which is the
//! reference the echo canceller subtracts. AEC3 estimates the echo delay itself; the playback path's
//! queue depth is passed along as a hint.

use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sonora::config::{AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter, NoiseSuppression};
use sonora::{AudioProcessing, Config, StreamConfig};

use super::SAMPLE_RATE;
use super::convert::CHUNK_SAMPLES;

/// Which voice processing is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingSettings {
    /// Remove the far end's voice that the microphone picks up from the speakers.
    pub echo_cancellation: bool,
    /// Suppress steady background noise.
    pub noise_suppression: bool,
    /// Bring a quiet or loud microphone to a steady level.
    pub auto_gain: bool,
}

impl Default for ProcessingSettings {
    /// Echo cancellation and noise suppression on, automatic gain off.
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: false,
        }
    }
}

impl ProcessingSettings {
    /// Everything off: frames pass untouched.
    pub const OFF: Self = Self {
        echo_cancellation: false,
        noise_suppression: false,
        auto_gain: false,
    };

    fn bits(self) -> u8 {
        u8::from(self.echo_cancellation)
            | u8::from(self.noise_suppression) << 1
            | u8::from(self.auto_gain) << 2
    }

    fn from_bits(bits: u8) -> Self {
        Self {
            echo_cancellation: bits & 1 != 0,
            noise_suppression: bits & 2 != 0,
            auto_gain: bits & 4 != 0,
        }
    }

    fn any(self) -> bool {
        self.bits() != 0
    }
}

/// Echo cancellation, noise suppression and gain for one call. Cheap to clone: clones share the engine,
/// so the capture path, the playback path and the app's settings switch all hold the same one.
#[derive(Clone)]
pub struct VoiceProcessing {
    shared: Arc<Shared>,
}

struct Shared {
    wanted: AtomicU8,
    delay_hint_ms: AtomicI32,
    engine: Mutex<Engine>,
}

struct Engine {
    apm: Option<AudioProcessing>,
    applied: ProcessingSettings,
    /// Far-end samples waiting to make a whole 10 ms block.
    render: Vec<i16>,
    render_out: Vec<i16>,
    capture_in: Vec<i16>,
}

impl std::fmt::Debug for VoiceProcessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceProcessing")
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

impl VoiceProcessing {
    /// Processing with `settings`; the engine is built on the first frame that needs it.
    pub fn new(settings: ProcessingSettings) -> Self {
        Self {
            shared: Arc::new(Shared {
                wanted: AtomicU8::new(settings.bits()),
                delay_hint_ms: AtomicI32::new(60),
                engine: Mutex::new(Engine {
                    apm: None,
                    applied: ProcessingSettings::OFF,
                    render: Vec::with_capacity(4 * CHUNK_SAMPLES),
                    render_out: vec![0; CHUNK_SAMPLES],
                    capture_in: vec![0; CHUNK_SAMPLES],
                }),
            }),
        }
    }

    /// What is switched on now.
    pub fn settings(&self) -> ProcessingSettings {
        ProcessingSettings::from_bits(self.shared.wanted.load(Ordering::Relaxed))
    }

    /// Switches processing; takes effect from the next 10 ms block.
    pub fn set_settings(&self, settings: ProcessingSettings) {
        self.shared.wanted.store(settings.bits(), Ordering::Relaxed);
    }

    pub fn set_echo_cancellation(&self, on: bool) {
        self.update(|s| s.echo_cancellation = on);
    }

    pub fn set_noise_suppression(&self, on: bool) {
        self.update(|s| s.noise_suppression = on);
    }

    pub fn set_auto_gain(&self, on: bool) {
        self.update(|s| s.auto_gain = on);
    }

    fn update(&self, change: impl Fn(&mut ProcessingSettings)) {
        let _ = self
            .shared
            .wanted
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let mut settings = ProcessingSettings::from_bits(bits);
                change(&mut settings);
                Some(settings.bits())
            });
    }

    /// How long far-end sound takes from [`process_render`](Self::process_render) to the capture that
    /// hears its echo (a hint: the echo canceller finds the real delay itself).
    pub fn set_delay_hint(&self, delay: std::time::Duration) {
        let ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX).min(500);
        self.shared.delay_hint_ms.store(ms, Ordering::Relaxed);
    }

    /// Processes microphone sound (48 kHz mono) in place, in 10 ms blocks; a tail shorter than a block
    /// (never the case for whole frames) passes untouched.
    pub fn process_capture(&self, samples: &mut [i16]) {
        let wanted = self.settings();
        if !wanted.any() {
            return;
        }
        let mut engine = self.shared.engine.lock().unwrap_or_else(PoisonError::into_inner);
        let Engine {
            apm,
            applied,
            capture_in,
            ..
        } = &mut *engine;
        let apm = configure(apm, applied, wanted);
        let _ = apm.set_stream_delay_ms(self.shared.delay_hint_ms.load(Ordering::Relaxed));
        for block in samples.chunks_exact_mut(CHUNK_SAMPLES) {
            capture_in.copy_from_slice(block);
            if let Err(err) = apm.process_capture_i16(capture_in, block) {
                tracing::debug!(%err, "voice processing skipped a capture block");
                block.copy_from_slice(capture_in);
            }
        }
    }

    /// Hands the echo canceller the far-end sound (48 kHz mono) as it goes to the speaker.
    pub fn process_render(&self, samples: &[i16]) {
        let wanted = self.settings();
        let mut engine = self.shared.engine.lock().unwrap_or_else(PoisonError::into_inner);
        let Engine {
            apm,
            applied,
            render,
            render_out,
            ..
        } = &mut *engine;
        if !wanted.echo_cancellation {
            render.clear();
            return;
        }
        render.extend_from_slice(samples);
        if render.len() < CHUNK_SAMPLES {
            return;
        }
        let apm = configure(apm, applied, wanted);
        let blocks = render.len() / CHUNK_SAMPLES;
        for block in render.chunks_exact(CHUNK_SAMPLES) {
            if let Err(err) = apm.process_render_i16(block, render_out) {
                tracing::debug!(%err, "voice processing skipped a render block");
            }
        }
        render.drain(..blocks * CHUNK_SAMPLES);
    }
}

/// The engine configured for `wanted`, built or reconfigured if the settings changed.
fn configure<'a>(
    apm: &'a mut Option<AudioProcessing>,
    applied: &mut ProcessingSettings,
    wanted: ProcessingSettings,
) -> &'a mut AudioProcessing {
    let config = || Config {
        high_pass_filter: Some(HighPassFilter::default()),
        echo_canceller: wanted.echo_cancellation.then(EchoCanceller::default),
        noise_suppression: wanted.noise_suppression.then(NoiseSuppression::default),
        gain_controller2: wanted.auto_gain.then(|| GainController2 {
            adaptive_digital: Some(AdaptiveDigital::default()),
            ..GainController2::default()
        }),
        ..Config::default()
    };
    if *applied != wanted
        && let Some(apm) = apm.as_mut()
    {
        apm.apply_config(config());
    }
    *applied = wanted;
    apm.get_or_insert_with(|| {
        AudioProcessing::builder()
            .config(config())
            .capture_config(StreamConfig::new(SAMPLE_RATE, 1))
            .render_config(StreamConfig::new(SAMPLE_RATE, 1))
            .build()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::f64::consts::TAU;

    use super::*;
    use crate::audio::FRAME_SAMPLES;
    use crate::audio::synthetic::goertzel_energy;

    /// Speech-like far-end sound: low-passed noise in 3 Hz "syllables".
    fn far_end(seconds: usize) -> Vec<i16> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut lowpassed = 0f64;
        (0..seconds * 48_000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                #[allow(clippy::cast_precision_loss)]
                let white = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                lowpassed = 0.7 * lowpassed + 0.3 * white;
                #[allow(clippy::cast_precision_loss)]
                let syllable = (TAU * 3.0 * i as f64 / 48_000.0).sin().max(0.0);
                #[allow(clippy::cast_possible_truncation)]
                let s = (lowpassed * syllable * 0.5 * 32767.0) as i16;
                s
            })
            .collect()
    }

    fn energy(samples: &[i16]) -> f64 {
        samples.iter().map(|&s| f64::from(s).powi(2)).sum()
    }

    /// Runs `seconds` of a call where the microphone hears the far end's echo (60 ms later, -8 dB)
    /// plus `near(i)`; returns (microphone, processed) for the last second.
    fn call(
        processing: &VoiceProcessing,
        seconds: usize,
        near: impl Fn(usize) -> i16,
    ) -> (Vec<i16>, Vec<i16>) {
        let far = far_end(seconds);
        let delay = 48 * 60;
        let (mut mic_tail, mut out_tail) = (Vec::new(), Vec::new());
        for (index, speaker) in far.chunks_exact(FRAME_SAMPLES).enumerate() {
            processing.process_render(speaker);
            let start = index * FRAME_SAMPLES;
            let mut frame: Vec<i16> = (start..start + FRAME_SAMPLES)
                .map(|i| {
                    let echo = if i >= delay {
                        f64::from(far[i - delay]) * 0.4
                    } else {
                        0.0
                    };
                    #[allow(clippy::cast_possible_truncation)]
                    let s = (echo + f64::from(near(i))).clamp(-32768.0, 32767.0) as i16;
                    s
                })
                .collect();
            let mic = frame.clone();
            processing.process_capture(&mut frame);
            if start >= (seconds - 1) * 48_000 {
                mic_tail.extend(mic);
                out_tail.extend(frame);
            }
        }
        (mic_tail, out_tail)
    }

    #[test]
    fn echo_cancellation_removes_the_far_end_and_can_be_switched_off() {
        let processing = VoiceProcessing::new(ProcessingSettings {
            echo_cancellation: true,
            noise_suppression: false,
            auto_gain: false,
        });
        let (mic, out) = call(&processing, 6, |_| 0);
        let erle = 10.0 * (energy(&mic) / energy(&out).max(1.0)).log10();
        assert!(erle > 20.0, "echo return loss enhancement {erle:.1} dB");

        processing.set_echo_cancellation(false);
        assert_eq!(processing.settings(), ProcessingSettings::OFF);
        let (mic, out) = call(&processing, 2, |_| 0);
        assert_eq!(mic, out, "all off: frames pass untouched");
    }

    #[test]
    fn echo_cancellation_keeps_the_agents_own_voice() {
        let processing = VoiceProcessing::new(ProcessingSettings {
            echo_cancellation: true,
            noise_suppression: false,
            auto_gain: false,
        });
        // The far end is silent; the agent says a steady 440 Hz "aah".
        let near = |i: usize| {
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let s = (8000.0 * (TAU * 440.0 * i as f64 / 48_000.0).sin()) as i16;
            s
        };
        let far = vec![0i16; FRAME_SAMPLES];
        let mut kept = 0.0;
        for index in 0..150 {
            processing.process_render(&far);
            let mut frame: Vec<i16> = (index * FRAME_SAMPLES..(index + 1) * FRAME_SAMPLES)
                .map(near)
                .collect();
            let before = goertzel_energy(&frame, 440.0);
            processing.process_capture(&mut frame);
            kept = goertzel_energy(&frame, 440.0) / before;
        }
        assert!(kept > 0.5, "the agent's voice is kept: {kept:.2} of its energy");
    }

    #[test]
    fn noise_suppression_lowers_steady_noise() {
        let processing = VoiceProcessing::new(ProcessingSettings {
            echo_cancellation: false,
            noise_suppression: true,
            auto_gain: false,
        });
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            let s = ((state >> 48) as i16) / 16; // white noise around -30 dBFS
            s
        };
        let (mut before, mut after) = (0.0, 0.0);
        for index in 0..200 {
            let mut frame: Vec<i16> = (0..FRAME_SAMPLES).map(|_| noise()).collect();
            let original = energy(&frame);
            processing.process_capture(&mut frame);
            if index >= 150 {
                before += original;
                after += energy(&frame);
            }
        }
        let reduction = 10.0 * (before / after.max(1.0)).log10();
        assert!(reduction > 6.0, "noise lowered by {reduction:.1} dB");

        processing.set_noise_suppression(false);
        let mut frame: Vec<i16> = (0..FRAME_SAMPLES).map(|_| noise()).collect();
        let original = frame.clone();
        processing.process_capture(&mut frame);
        assert_eq!(frame, original, "switched off at run time");
    }
}
