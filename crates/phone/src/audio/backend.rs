//! What [`AudioDevices`](super::AudioDevices) needs from a sound system: list devices, name the default,
//! open a stream. [`CpalBackend`](super::CpalBackend) is the real one; tests use a scripted one to plug
//! and unplug devices without hardware.

use super::convert::StreamFormat;
use super::error::{AudioError, Direction};

/// Receives captured sound: interleaved `f32` in the stream's format. Runs on the device's callback
/// thread: must not block.
pub type InputCallback = Box<dyn FnMut(&[f32]) + Send + 'static>;
/// Fills the device buffer with interleaved `f32` in the stream's format. Runs on the device's callback
/// thread: must not block.
pub type OutputCallback = Box<dyn FnMut(&mut [f32]) + Send + 'static>;
/// Told when a stream fails; may run on any thread.
pub type FaultCallback = Box<dyn FnMut(StreamFault) + Send + 'static>;

/// Something went wrong with a running stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFault {
    /// The stream cannot go on (device unplugged, sound server gone): it must be reopened.
    Lost(String),
    /// A glitch (buffer over- or underrun); the stream goes on.
    Glitch(String),
}

/// A sound device as listed for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable identifier to open it by (for cpal, the `DeviceId` string such as `alsa:plughw:CARD=Headset,DEV=0`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Whether this is the system's default device for the direction.
    pub is_default: bool,
    /// Channel counts it offers (empty when not probed or busy).
    pub channels: Vec<u16>,
    /// Common sample rates it offers (empty when not probed or busy).
    pub sample_rates: Vec<u32>,
}

/// A device as events and handles name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceLabel {
    pub id: String,
    pub name: String,
}

impl std::fmt::Display for DeviceLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// A running stream as a backend hands it over. The stream runs until `keep_alive` is dropped, which
/// happens on the thread that opened it (so it need not be `Send`).
pub struct OpenedStream {
    pub device: DeviceLabel,
    pub format: StreamFormat,
    pub keep_alive: Box<dyn std::any::Any>,
}

impl std::fmt::Debug for OpenedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedStream")
            .field("device", &self.device)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// A sound system.
pub trait AudioBackend: Send + Sync + 'static {
    /// Devices of `direction`. With `probe`, also their channel counts and rates (this may open each
    /// device briefly); without, a cheap listing for presence checks every few seconds.
    fn devices(&self, direction: Direction, probe: bool) -> Result<Vec<DeviceInfo>, AudioError>;

    /// Identifier of the system default device for `direction` (it may be a virtual device that is not
    /// listed, like ALSA's `default`, and it may fail to open).
    fn default_device(&self, direction: Direction) -> Option<String>;

    /// Opens device `id` for capture and starts it. `data` is called once with the chosen format and
    /// returns the callback that receives the sound.
    fn open_input(
        &self,
        id: &str,
        data: &mut dyn FnMut(StreamFormat) -> InputCallback,
        fault: FaultCallback,
    ) -> Result<OpenedStream, AudioError>;

    /// Opens device `id` for playback and starts it. `data` is called once with the chosen format and
    /// returns the callback that fills the device buffer.
    fn open_output(
        &self,
        id: &str,
        data: &mut dyn FnMut(StreamFormat) -> OutputCallback,
        fault: FaultCallback,
    ) -> Result<OpenedStream, AudioError>;
}
