//! The operating system's sound devices through cpal (ALSA on Linux, which reaches PulseAudio and
//! PipeWire through their ALSA plugins; CoreAudio on macOS; WASAPI on Windows).
//!
//! Every sample format cpal knows (`i8`–`i32`, 24-bit, unsigned, `f32`, `f64`) is converted to and from
//! interleaved `f32` here; rate and channels are converted by [`super::convert`]. A stream config is
//! chosen to avoid work: 48 kHz if the device has it (else 44.1 kHz, else the nearest), `f32` or `i16`,
//! mono for capture and stereo for playback when offered, and a 10 ms device buffer when allowed.

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, FromSample, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize,
    SupportedStreamConfigRange,
};

use super::backend::{
    AudioBackend, DeviceInfo, DeviceLabel, FaultCallback, InputCallback, OpenedStream, OutputCallback,
    StreamFault,
};
use super::convert::StreamFormat;
use super::error::{AudioError, Direction};

/// Rates listed for the user when a device offers a continuous range.
const COMMON_RATES: [u32; 9] = [
    8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 88_200, 96_000,
];

/// ALSA devices not worth offering to a telecaller: raw hardware without conversion (its `plughw` twin
/// is listed), the null sink, and the plumbing plugins behind `default`.
const ALSA_HIDDEN_PREFIXES: [&str; 16] = [
    "alsa:null",
    "alsa:hw:",
    "alsa:dmix",
    "alsa:dsnoop",
    "alsa:front:",
    "alsa:rear:",
    "alsa:center_lfe:",
    "alsa:side:",
    "alsa:surround",
    "alsa:iec958:",
    "alsa:spdif",
    "alsa:lavrate",
    "alsa:samplerate",
    "alsa:speexrate",
    "alsa:upmix",
    "alsa:vdownmix",
];

/// Overrides of the stream format [`CpalBackend`] picks (a device quirk, or a test that wants a format).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamPreferences {
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
    pub sample_format: Option<SampleFormat>,
}

/// Sound devices of a cpal host.
#[derive(Debug, Clone)]
pub struct CpalBackend {
    host: cpal::HostId,
    preferences: StreamPreferences,
}

impl Default for CpalBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpalBackend {
    /// The platform's default host (ALSA on Linux).
    pub fn new() -> Self {
        Self {
            host: cpal::default_host().id(),
            preferences: StreamPreferences::default(),
        }
    }

    /// Streams opened from now on use these formats where the device allows.
    #[must_use]
    pub fn with_preferences(mut self, preferences: StreamPreferences) -> Self {
        self.preferences = preferences;
        self
    }

    fn host(&self) -> Result<cpal::Host, AudioError> {
        cpal::host_from_id(self.host)
            .map_err(|e| AudioError::Backend(format!("sound system unavailable: {e}")))
    }

    fn default_of(host: &cpal::Host, direction: Direction) -> Option<cpal::Device> {
        match direction {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        }
    }

    /// The device `id` (or the default device, when `id` names it).
    fn find(&self, host: &cpal::Host, direction: Direction, id: &str) -> Result<cpal::Device, AudioError> {
        let default = Self::default_of(host, direction);
        if let Some(device) = default.filter(|d| d.id().is_ok_and(|d| d.to_string() == id)) {
            return Ok(device);
        }
        let devices = quiet(|| host.devices()).map_err(|e| AudioError::from_cpal(id, direction, &e))?;
        for device in devices {
            if device.id().is_ok_and(|d| d.to_string() == id) {
                return Ok(device);
            }
        }
        Err(AudioError::DeviceGone {
            device: id.to_owned(),
        })
    }

    fn ranges(
        device: &cpal::Device,
        direction: Direction,
    ) -> Result<Vec<SupportedStreamConfigRange>, cpal::Error> {
        quiet(|| match direction {
            Direction::Input => device.supported_input_configs().map(Iterator::collect),
            Direction::Output => device.supported_output_configs().map(Iterator::collect),
        })
    }

    fn label(device: &cpal::Device, id: &str) -> DeviceLabel {
        let name = device
            .description()
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|_| id.to_owned());
        DeviceLabel {
            id: id.to_owned(),
            name,
        }
    }

    /// Finds `id`, picks a config, and hands back the device and what to build.
    fn prepare(
        &self,
        direction: Direction,
        id: &str,
    ) -> Result<(cpal::Device, DeviceLabel, StreamConfig, SampleFormat), AudioError> {
        let host = self.host()?;
        let device = self.find(&host, direction, id)?;
        let ranges =
            Self::ranges(&device, direction).map_err(|e| AudioError::from_cpal(id, direction, &e))?;
        let (config, format) = choose_config(&ranges, direction, &self.preferences).ok_or_else(|| {
            AudioError::UnsupportedFormat {
                device: id.to_owned(),
                detail: format!("offered {ranges:?}"),
            }
        })?;
        let label = Self::label(&device, id);
        Ok((device, label, config, format))
    }
}

/// `$build::<T>(args…)` for the sample type `T` that `$format` names; an error for a format cpal has and
/// this crate does not convert.
macro_rules! by_sample_format {
    ($format:expr, $build:ident, $($arg:expr),* $(,)?) => {
        match $format {
            SampleFormat::F32 => $build::<f32>($($arg),*),
            SampleFormat::I16 => $build::<i16>($($arg),*),
            SampleFormat::I32 => $build::<i32>($($arg),*),
            SampleFormat::F64 => $build::<f64>($($arg),*),
            SampleFormat::U16 => $build::<u16>($($arg),*),
            SampleFormat::I24 => $build::<cpal::I24>($($arg),*),
            SampleFormat::U8 => $build::<u8>($($arg),*),
            SampleFormat::I8 => $build::<i8>($($arg),*),
            SampleFormat::U32 => $build::<u32>($($arg),*),
            other => Err(cpal::Error::with_message(
                cpal::ErrorKind::UnsupportedConfig,
                format!("sample format {other}"),
            )),
        }
    };
}

impl AudioBackend for CpalBackend {
    fn devices(&self, direction: Direction, probe: bool) -> Result<Vec<DeviceInfo>, AudioError> {
        let host = self.host()?;
        let default = Self::default_of(&host, direction);
        let default_id = default
            .as_ref()
            .and_then(|d| d.id().ok())
            .map(|id| id.to_string());
        let devices = quiet(|| host.devices()).map_err(|e| AudioError::Backend(e.to_string()))?;
        let mut listed = Vec::new();
        for device in devices {
            let usable = match direction {
                Direction::Input => device.supports_input(),
                Direction::Output => device.supports_output(),
            };
            let Ok(id) = device.id().map(|id| id.to_string()) else {
                continue;
            };
            if !usable || ALSA_HIDDEN_PREFIXES.iter().any(|p| id.starts_with(p)) {
                continue;
            }
            let label = Self::label(&device, &id);
            let mut info = DeviceInfo {
                is_default: default_id.as_deref() == Some(id.as_str()),
                id,
                name: label.name,
                channels: Vec::new(),
                sample_rates: Vec::new(),
            };
            if probe && let Ok(ranges) = Self::ranges(&device, direction) {
                describe(&ranges, &mut info);
            }
            listed.push(info);
        }
        // A default that is not listed (ALSA's `default`) is shown if it opens.
        if probe
            && !listed.iter().any(|d| d.is_default)
            && let (Some(device), Some(id)) = (default, default_id)
            && let Ok(ranges) = Self::ranges(&device, direction)
            && !ranges.is_empty()
        {
            let mut info = DeviceInfo {
                name: "System default".to_owned(),
                id,
                is_default: true,
                channels: Vec::new(),
                sample_rates: Vec::new(),
            };
            describe(&ranges, &mut info);
            listed.insert(0, info);
        }
        Ok(listed)
    }

    fn default_device(&self, direction: Direction) -> Option<String> {
        let host = self.host().ok()?;
        Self::default_of(&host, direction)
            .and_then(|d| d.id().ok())
            .map(|id| id.to_string())
    }

    fn open_input(
        &self,
        id: &str,
        data: &mut dyn FnMut(StreamFormat) -> InputCallback,
        fault: FaultCallback,
    ) -> Result<OpenedStream, AudioError> {
        self.start(Direction::Input, id, data, |device, config, format, callback| {
            by_sample_format!(format, build_input, device, config, callback, fault)
        })
    }

    fn open_output(
        &self,
        id: &str,
        data: &mut dyn FnMut(StreamFormat) -> OutputCallback,
        fault: FaultCallback,
    ) -> Result<OpenedStream, AudioError> {
        self.start(Direction::Output, id, data, |device, config, format, callback| {
            by_sample_format!(format, build_output, device, config, callback, fault)
        })
    }
}

impl CpalBackend {
    /// Opens and starts a stream on the device `id` in `direction`: `data` makes the callback for the
    /// format the device runs at, `build` builds the stream for its sample format.
    fn start<C>(
        &self,
        direction: Direction,
        id: &str,
        data: &mut dyn FnMut(StreamFormat) -> C,
        build: impl FnOnce(&cpal::Device, &StreamConfig, SampleFormat, C) -> Result<cpal::Stream, cpal::Error>,
    ) -> Result<OpenedStream, AudioError> {
        let (device, label, config, format) = self.prepare(direction, id)?;
        let stream_format = StreamFormat {
            sample_rate: config.sample_rate,
            channels: config.channels,
        };
        let callback = data(stream_format);
        let built = quiet(|| build(&device, &config, format, callback));
        let stream = built.map_err(|e| AudioError::from_cpal(id, direction, &e))?;
        stream
            .play()
            .map_err(|e| AudioError::from_cpal(id, direction, &e))?;
        tracing::debug!(device = %label.id, ?direction, ?config, %format, "stream started");
        Ok(OpenedStream {
            device: label,
            format: stream_format,
            keep_alive: Box::new(stream),
        })
    }
}

/// Fills the channel counts and common rates of `info` from a device's config ranges.
fn describe(ranges: &[SupportedStreamConfigRange], info: &mut DeviceInfo) {
    let mut channels: Vec<u16> = ranges.iter().map(SupportedStreamConfigRange::channels).collect();
    channels.sort_unstable();
    channels.dedup();
    channels.retain(|&c| c <= 8);
    let mut rates: Vec<u32> = COMMON_RATES
        .into_iter()
        .filter(|&r| {
            ranges
                .iter()
                .any(|c| (c.min_sample_rate()..=c.max_sample_rate()).contains(&r))
        })
        .collect();
    rates.extend(
        ranges
            .iter()
            .filter(|c| c.min_sample_rate() == c.max_sample_rate())
            .map(SupportedStreamConfigRange::min_sample_rate),
    );
    rates.sort_unstable();
    rates.dedup();
    info.channels = channels;
    info.sample_rates = rates;
}

/// Lower is better; `None` for formats we do not convert.
fn format_rank(format: SampleFormat) -> Option<u8> {
    Some(match format {
        SampleFormat::F32 => 0,
        SampleFormat::I16 => 1,
        SampleFormat::I32 => 2,
        SampleFormat::F64 => 3,
        SampleFormat::I24 => 4,
        SampleFormat::U16 => 5,
        SampleFormat::U8 => 6,
        SampleFormat::I8 => 7,
        SampleFormat::U32 => 8,
        _ => return None,
    })
}

/// Picks the stream config that needs the least conversion, honouring `preferences`.
pub(crate) fn choose_config(
    ranges: &[SupportedStreamConfigRange],
    direction: Direction,
    preferences: &StreamPreferences,
) -> Option<(StreamConfig, SampleFormat)> {
    let wanted_rate = preferences.sample_rate.unwrap_or(crate::audio::SAMPLE_RATE);
    let has = |r: &SupportedStreamConfigRange, rate: u32| {
        (r.min_sample_rate()..=r.max_sample_rate()).contains(&rate)
    };
    let channel_rank = |channels: u16| match (direction, channels) {
        (Direction::Input, 1) | (Direction::Output, 2) => 0,
        (Direction::Input, 2) | (Direction::Output, 1) => 1,
        (_, n) => u32::from(n),
    };
    let best = ranges
        .iter()
        .filter(|r| r.channels() > 0 && format_rank(r.sample_format()).is_some())
        .filter(|r| preferences.channels.is_none_or(|c| c == r.channels()))
        .filter(|r| preferences.sample_format.is_none_or(|f| f == r.sample_format()))
        .min_by_key(|r| {
            let rate_rank = if has(r, wanted_rate) {
                0
            } else if has(r, 44_100) {
                1
            } else {
                2
            };
            (
                rate_rank,
                format_rank(r.sample_format()),
                channel_rank(r.channels()),
            )
        })?;
    let rate = if has(best, wanted_rate) {
        wanted_rate
    } else if has(best, 44_100) {
        44_100
    } else {
        wanted_rate.clamp(best.min_sample_rate(), best.max_sample_rate())
    };
    let ten_ms = (rate / 100).max(1);
    let buffer_size = match best.buffer_size() {
        SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&ten_ms) => {
            BufferSize::Fixed(ten_ms)
        }
        _ => BufferSize::Default,
    };
    Some((
        StreamConfig {
            channels: best.channels(),
            sample_rate: rate,
            buffer_size,
        },
        best.sample_format(),
    ))
}

fn fault_adapter(mut fault: FaultCallback) -> impl FnMut(cpal::Error) + Send + 'static {
    move |err: cpal::Error| {
        use cpal::ErrorKind;
        let lost = matches!(
            err.kind(),
            ErrorKind::DeviceNotAvailable
                | ErrorKind::StreamInvalidated
                | ErrorKind::HostUnavailable
                | ErrorKind::PermissionDenied
        );
        fault(if lost {
            StreamFault::Lost(err.to_string())
        } else {
            StreamFault::Glitch(err.to_string())
        });
    }
}

fn build_input<T>(
    device: &cpal::Device,
    config: &StreamConfig,
    mut callback: InputCallback,
    fault: FaultCallback,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let mut scratch: Vec<f32> = Vec::with_capacity(8192);
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            scratch.clear();
            scratch.extend(data.iter().map(|&s| f32::from_sample_(s)));
            callback(&scratch);
        },
        fault_adapter(fault),
        None,
    )
}

fn build_output<T>(
    device: &cpal::Device,
    config: &StreamConfig,
    mut callback: OutputCallback,
    fault: FaultCallback,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let mut scratch: Vec<f32> = Vec::with_capacity(8192);
    device.build_output_stream::<T, _, _>(
        *config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            scratch.clear();
            scratch.resize(data.len(), 0.0);
            callback(&mut scratch);
            for (slot, &sample) in data.iter_mut().zip(&scratch) {
                *slot = T::from_sample_(sample);
            }
        },
        fault_adapter(fault),
        None,
    )
}

/// Runs `f` with alsa-lib's messages to stderr caught (it prints every failed open of `default` on a
/// machine without a sound card); they go to the debug log instead.
#[cfg(target_os = "linux")]
fn quiet<R>(f: impl FnOnce() -> R) -> R {
    let Ok(buffer) = alsa::Output::local_error_handler() else {
        return f();
    };
    let result = f();
    let text = buffer.borrow().to_string();
    if !text.trim().is_empty() {
        tracing::debug!(alsa = %text.trim(), "alsa-lib messages");
    }
    // A fresh (empty) buffer stays installed, so the next call does not re-read old messages.
    let _ = alsa::Output::local_error_handler();
    result
}

#[cfg(not(target_os = "linux"))]
fn quiet<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn range(channels: u16, min: u32, max: u32, format: SampleFormat) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(
            channels,
            min,
            max,
            SupportedBufferSize::Range { min: 64, max: 8192 },
            format,
        )
    }

    #[test]
    fn the_config_needing_least_conversion_wins() {
        let none = StreamPreferences::default();
        // A USB headset: 44.1k and 48k, i16 stereo only.
        let usb = [
            range(2, 44_100, 44_100, SampleFormat::I16),
            range(2, 48_000, 48_000, SampleFormat::I16),
        ];
        let (config, format) = choose_config(&usb, Direction::Input, &none).unwrap();
        assert_eq!(
            (config.sample_rate, config.channels, format),
            (48_000, 2, SampleFormat::I16)
        );
        assert_eq!(config.buffer_size, BufferSize::Fixed(480));
        // A continuous-range plugin offering everything: 48k f32, mono in and stereo out.
        let plug = [
            range(1, 4_000, 192_000, SampleFormat::U8),
            range(1, 4_000, 192_000, SampleFormat::F32),
            range(2, 4_000, 192_000, SampleFormat::F32),
            range(2, 4_000, 192_000, SampleFormat::I16),
        ];
        let (config, format) = choose_config(&plug, Direction::Input, &none).unwrap();
        assert_eq!(
            (config.sample_rate, config.channels, format),
            (48_000, 1, SampleFormat::F32)
        );
        let (config, _) = choose_config(&plug, Direction::Output, &none).unwrap();
        assert_eq!(config.channels, 2);
        // A 44.1k-only card, and a 16k-only Bluetooth headset.
        let cd = [range(2, 44_100, 44_100, SampleFormat::F32)];
        assert_eq!(
            choose_config(&cd, Direction::Output, &none)
                .unwrap()
                .0
                .sample_rate,
            44_100
        );
        let bt = [range(1, 16_000, 16_000, SampleFormat::I16)];
        assert_eq!(
            choose_config(&bt, Direction::Input, &none).unwrap().0.sample_rate,
            16_000
        );
        // Preferences pin what the device allows; formats we cannot convert are refused.
        let pinned = StreamPreferences {
            sample_rate: Some(44_100),
            channels: Some(2),
            sample_format: Some(SampleFormat::I16),
        };
        let (config, format) = choose_config(&plug, Direction::Input, &pinned).unwrap();
        assert_eq!(
            (config.sample_rate, config.channels, format),
            (44_100, 2, SampleFormat::I16)
        );
        let dsd = [range(2, 48_000, 48_000, SampleFormat::DsdU8)];
        assert!(choose_config(&dsd, Direction::Output, &none).is_none());
    }

    /// Opens real ALSA devices through cpal: two `null` PCMs defined in an ALSA configuration of our own,
    /// so the test runs (and means the same) on a machine with or without a sound card. alsa-lib reads
    /// `ALSA_CONFIG_PATH` from the environment, which a test cannot set for itself (edition 2024 makes
    /// that `unsafe`), so the test runs itself again as a child process with the variable set.
    #[cfg(target_os = "linux")]
    #[test]
    fn real_alsa_devices_open_through_cpal() {
        const CHILD: &str = "LEADLINE_ALSA_TEST_CHILD";
        const DONE: &str = "real ALSA devices: all checks passed";
        if std::env::var_os(CHILD).is_some() {
            real_alsa_checks();
            println!("{DONE}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("asound.conf");
        let pcm = |name: &str, description: &str| {
            format!(
                "pcm.{name} {{\n  type null\n  hint {{\n    show on\n    description \"{description}\"\n  }}\n}}\n"
            )
        };
        let text = pcm("leadline_mic", "Leadline test microphone")
            + &pcm("leadline_speaker", "Leadline test speaker");
        std::fs::write(&config, text).unwrap();
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "audio::cpal_backend::tests::real_alsa_devices_open_through_cpal",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("ALSA_CONFIG_PATH", &config)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains(DONE),
            "the checks did not run:\n{stdout}\n{stderr}"
        );
    }

    #[cfg(target_os = "linux")]
    fn real_alsa_checks() {
        use std::sync::Arc;
        use std::time::{Duration, Instant};

        use crate::audio::{AudioDevices, AudioError, Playback, Ringtone};

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        // Capture pinned to 44.1 kHz stereo i16, so conversion to 48 kHz mono runs on what ALSA delivers.
        let backend = CpalBackend::new().with_preferences(StreamPreferences {
            sample_rate: Some(44_100),
            channels: Some(2),
            sample_format: Some(SampleFormat::I16),
        });
        let devices = AudioDevices::with_backend(Arc::new(backend));

        // Listing: both test PCMs, with what they offer; `default` does not exist here, so it is not listed.
        let inputs = devices.inputs().unwrap();
        let ids: Vec<&str> = inputs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["alsa:leadline_mic", "alsa:leadline_speaker"]);
        assert_eq!(inputs[0].name, "Leadline test microphone");
        assert!(
            inputs[0].channels.contains(&1) && inputs[0].sample_rates.contains(&48_000),
            "{inputs:?}"
        );
        assert!(!inputs.iter().any(|d| d.is_default));

        // The default device cannot be opened: a clear NoDevice.
        let none = devices.open_capture(None, None).unwrap_err();
        assert_eq!(
            none,
            AudioError::NoDevice {
                direction: Direction::Input
            }
        );
        let none = devices.open_playback(None, None).unwrap_err();
        assert_eq!(
            none,
            AudioError::NoDevice {
                direction: Direction::Output
            }
        );

        // A microphone by name: frames of 48 kHz mono arrive (the null PCM records silence).
        let (mut capture, control) = devices
            .open_capture(Some("Leadline test microphone"), None)
            .unwrap();
        assert_eq!(control.device().unwrap().id, "alsa:leadline_mic");
        assert_eq!(
            control.format(),
            Some(StreamFormat {
                sample_rate: 44_100,
                channels: 2
            })
        );
        for _ in 0..3 {
            let frame = runtime
                .block_on(tokio::time::timeout(Duration::from_secs(5), capture.next_frame()))
                .unwrap()
                .unwrap();
            assert_eq!(frame, vec![0; crate::audio::FRAME_SAMPLES]);
        }
        drop(capture);

        // A speaker at 22.05 kHz mono u16: the device callback drains what the media engine plays.
        let backend = CpalBackend::new().with_preferences(StreamPreferences {
            sample_rate: Some(22_050),
            channels: Some(1),
            sample_format: Some(SampleFormat::U16),
        });
        let speakers = AudioDevices::with_backend(Arc::new(backend));
        let playback = speakers
            .open_playback(Some("alsa:leadline_speaker"), None)
            .unwrap();
        assert_eq!(
            playback.control().format(),
            Some(StreamFormat {
                sample_rate: 22_050,
                channels: 1
            })
        );
        let start = Instant::now();
        while playback.stats().samples_played < 10 * crate::audio::FRAME_SAMPLES as u64 {
            assert!(start.elapsed() < Duration::from_secs(5), "{:?}", playback.stats());
            playback.play(&[1000; crate::audio::FRAME_SAMPLES]);
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(playback);

        // And a ring on it, stopped by dropping the handle.
        let ring = speakers
            .ring(Some("Leadline test speaker"), &Ringtone::india())
            .unwrap();
        assert_eq!(ring.control().device().unwrap().id, "alsa:leadline_speaker");
        drop(ring);
    }
}
