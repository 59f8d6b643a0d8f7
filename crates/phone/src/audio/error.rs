//! Typed errors of the sound devices.

use std::fmt;

/// Which way sound flows through a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A microphone (capture).
    Input,
    /// A speaker or headset (playback).
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Input => "input",
            Self::Output => "output",
        })
    }
}

/// Why a sound device could not be listed, opened or kept running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// No device of this direction can be opened (none plugged in, a headless machine, the sound server
    /// is not running). The app falls back to the synthetic devices.
    #[error("no {direction} sound device is available")]
    NoDevice { direction: Direction },
    /// The device went away (unplugged) or stopped answering.
    #[error("sound device {device:?} is gone")]
    DeviceGone { device: String },
    /// Another program holds the device exclusively.
    #[error("sound device {device:?} is busy (another program is using it)")]
    DeviceBusy { device: String },
    /// The operating system refused access (microphone privacy setting, missing `audio` group).
    #[error("permission to use sound device {device:?} was denied")]
    PermissionDenied { device: String },
    /// The device offers no sample format, rate or channel count we can convert from or to.
    #[error("sound device {device:?} offers no usable format: {detail}")]
    UnsupportedFormat { device: String, detail: String },
    /// Anything else the sound system reported.
    #[error("sound system error: {0}")]
    Backend(String),
}

impl AudioError {
    /// Maps a cpal error about `device` to a typed error.
    pub(crate) fn from_cpal(device: &str, direction: Direction, err: &cpal::Error) -> Self {
        use cpal::ErrorKind;
        let device = device.to_owned();
        match err.kind() {
            ErrorKind::DeviceNotAvailable | ErrorKind::HostUnavailable => Self::NoDevice { direction },
            ErrorKind::DeviceBusy => Self::DeviceBusy { device },
            ErrorKind::PermissionDenied => Self::PermissionDenied { device },
            ErrorKind::UnsupportedConfig | ErrorKind::UnsupportedOperation => Self::UnsupportedFormat {
                device,
                detail: err.to_string(),
            },
            _ => Self::Backend(format!("{device}: {err}")),
        }
    }
}
