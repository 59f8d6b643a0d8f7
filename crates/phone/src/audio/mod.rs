//! Sound in and out of a call: the interface between the media engine ([`crate::media`]) and whatever
//! makes and plays the sound (OS devices through cpal, a null device, a test tone).
//!
//! The media engine sees audio as **frames**: 20 ms of mono 16-bit PCM at 48 kHz
//! ([`FRAME_SAMPLES`] samples). Codecs at other rates (G.711 at 8 kHz) resample inside the media engine.
//!
//! * Capture is a stream of frames ([`CaptureStream`]): the source produces them at its own clock (a
//!   device callback, or a timer for synthetic sources) into a bounded queue; when the consumer falls
//!   behind, the oldest frames are dropped so latency never builds up.
//! * Playback is a sink ([`Playback`]): the media engine hands it one decoded frame every 20 ms (after
//!   its jitter buffer and loss concealment); a device sink buffers a little and feeds the OS callback.

use std::sync::Arc;

use tokio::sync::mpsc;

/// Sample rate of every frame the media engine exchanges with audio devices.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one frame: 20 ms of mono audio at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 960;
/// Duration of one frame.
pub const FRAME_DURATION: std::time::Duration = std::time::Duration::from_millis(20);

/// 20 ms of mono PCM at 48 kHz; always [`FRAME_SAMPLES`] long.
pub type Frame = Vec<i16>;

/// Outgoing sound of a call: frames as the source produces them. Ends (`None`) when the source stops
/// for good; a device that disappears is replaced by the default device instead of ending the stream.
#[derive(Debug)]
pub struct CaptureStream {
    pub(crate) frames: mpsc::Receiver<Frame>,
}

impl CaptureStream {
    /// A stream fed by `frames` (each [`FRAME_SAMPLES`] long).
    pub fn from_channel(frames: mpsc::Receiver<Frame>) -> Self {
        Self { frames }
    }

    /// The next frame, waiting for the source; `None` once the source has ended.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        self.frames.recv().await
    }
}

/// Where the decoded sound of the far end goes. Called by the media engine once per 20 ms with
/// [`FRAME_SAMPLES`] samples; must not block (a device sink queues the frame for its OS callback).
pub trait Playback: Send + Sync + 'static {
    fn play(&self, frame: &[i16]);
}

/// The two directions of a call's sound.
pub struct AudioPath {
    pub capture: CaptureStream,
    pub playback: Arc<dyn Playback>,
}

impl std::fmt::Debug for AudioPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioPath").finish_non_exhaustive()
    }
}

mod synthetic;

pub use synthetic::{Meter, MeterReading, NullPlayback, silence, tone};

mod backend;
mod convert;
mod cpal_backend;
mod devices;
mod error;
mod level;
mod processing;
mod queue;
mod ringtone;

pub use backend::{
    AudioBackend, DeviceInfo, DeviceLabel, FaultCallback, InputCallback, OpenedStream, OutputCallback,
    StreamFault,
};
pub use convert::StreamFormat;
pub use cpal_backend::{CpalBackend, StreamPreferences};
pub use devices::{
    AudioDevices, AudioEvent, CallAudio, DevicePlayback, DeviceStream, RingHandle, WATCH_INTERVAL,
};
pub use error::{AudioError, Direction};
pub use level::{FLOOR_DBFS, HEARD_FRAMES, Level, LevelMeter, MicTest, SPEECH_DBFS};
pub use processing::{ProcessingSettings, VoiceProcessing};
pub use queue::PlaybackStats;
pub use ringtone::Ringtone;
