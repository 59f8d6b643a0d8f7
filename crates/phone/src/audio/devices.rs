//! The operating system's microphones and speakers as the media engine's [`CaptureStream`] and
//! [`Playback`], kept running across hot-plugs.
//!
//! Each open stream has an **owner thread** that opens the device (cpal streams are not `Send` on every
//! platform, so a stream lives and dies on the thread that made it), watches it, and replaces it:
//!
//! * when the stream reports the device lost, or a re-enumeration every [`WATCH_INTERVAL`] no longer
//!   lists it, the owner drops it, emits [`AudioEvent::DeviceLost`], opens the current default device and
//!   emits [`AudioEvent::Switched`]. The media engine's `CaptureStream` / `Playback` object stays the same.
//! * when nothing can be opened it emits [`AudioEvent::NoDevice`], keeps the call's capture going with
//!   silence (20 ms frames, so RTP keeps flowing), and retries at every watch.
//! * when the device the user chose comes back, the stream moves back to it.
//!
//! Between a device and the frames sit the format conversion ([`super::convert`]), the queues
//! ([`super::queue`]) and, for calls, the voice processing ([`VoiceProcessing`]): the capture path
//! processes every microphone frame; the playback path hands what it plays to the echo canceller.

use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use super::backend::{
    AudioBackend, DeviceInfo, DeviceLabel, FaultCallback, InputCallback, OpenedStream, OutputCallback,
    StreamFault,
};
use super::convert::{CaptureConverter, PlaybackConverter, StreamFormat};
use super::error::{AudioError, Direction};
use super::processing::{ProcessingSettings, VoiceProcessing};
use super::queue::{FrameQueue, PlaybackQueue, PlaybackStats, Popped};
use super::ringtone::{Ringtone, RingtoneSource};
use super::synthetic::CAPTURE_QUEUE;
use super::{AudioPath, CaptureStream, FRAME_DURATION, FRAME_SAMPLES, Playback};

/// How often an open stream re-enumerates devices to notice its own being unplugged (and its preferred
/// one coming back).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// What happened to the devices of open streams; for the app to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioEvent {
    /// The device a stream was using stopped working (unplugged, or the sound server went away).
    DeviceLost {
        direction: Direction,
        device: DeviceLabel,
        reason: String,
    },
    /// A stream now uses `to`: after a loss, on request, or because the chosen device came back.
    Switched {
        direction: Direction,
        from: Option<DeviceLabel>,
        to: DeviceLabel,
    },
    /// No device could be opened; the stream keeps going (capture sends silence) and retries.
    NoDevice { direction: Direction },
}

/// The sound devices of this machine (or of a test's backend), and the streams opened on them.
#[derive(Clone)]
pub struct AudioDevices {
    backend: Arc<dyn AudioBackend>,
    events: broadcast::Sender<AudioEvent>,
    watch_interval: Duration,
}

impl std::fmt::Debug for AudioDevices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDevices")
            .field("watch_interval", &self.watch_interval)
            .finish_non_exhaustive()
    }
}

impl AudioDevices {
    /// The operating system's devices through cpal.
    pub fn system() -> Self {
        Self::with_backend(Arc::new(super::CpalBackend::new()))
    }

    /// Devices of another sound system (a test's scripted one, or cpal with preferences).
    pub fn with_backend(backend: Arc<dyn AudioBackend>) -> Self {
        let (events, _) = broadcast::channel(64);
        Self {
            backend,
            events,
            watch_interval: WATCH_INTERVAL,
        }
    }

    /// Streams opened from now on re-enumerate this often (default [`WATCH_INTERVAL`]).
    #[must_use]
    pub fn with_watch_interval(mut self, interval: Duration) -> Self {
        self.watch_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Microphones, with their channel counts and rates. Empty on a machine without sound.
    pub fn inputs(&self) -> Result<Vec<DeviceInfo>, AudioError> {
        self.backend.devices(Direction::Input, true)
    }

    /// Speakers and headsets, with their channel counts and rates. Empty on a machine without sound.
    pub fn outputs(&self) -> Result<Vec<DeviceInfo>, AudioError> {
        self.backend.devices(Direction::Output, true)
    }

    /// Device losses and switches of every stream opened from these devices (or their clones).
    pub fn events(&self) -> broadcast::Receiver<AudioEvent> {
        self.events.subscribe()
    }

    /// Opens a microphone: `device` by id or name, `None` for the system default. A chosen device that
    /// is not plugged in is stood in for by the default until it appears. Frames go through
    /// `processing` when given. The stream runs until the returned `CaptureStream` is dropped.
    ///
    /// # Errors
    /// [`AudioError::NoDevice`] when no microphone can be opened at all; other errors when the only
    /// candidates failed otherwise (busy, permission, format).
    pub fn open_capture(
        &self,
        device: Option<&str>,
        processing: Option<VoiceProcessing>,
    ) -> Result<(CaptureStream, DeviceStream), AudioError> {
        let queue = Arc::new(FrameQueue::new(CAPTURE_QUEUE.saturating_sub(2).max(1)));
        let feed = Feed::Capture {
            queue: queue.clone(),
            processing,
        };
        let (control, lifetime) = self.spawn_owner(Direction::Input, device, feed)?;
        // Capacity 1: the frame queue above does the dropping of old frames.
        let (tx, rx) = mpsc::channel(1);
        let forward = move || {
            let _lifetime = lifetime;
            loop {
                match queue.pop_timeout(Duration::from_millis(100)) {
                    Popped::Frame(frame) => {
                        if tx.blocking_send(frame).is_err() {
                            break;
                        }
                    }
                    Popped::Empty if tx.is_closed() => break,
                    Popped::Empty => {}
                    Popped::Closed => break,
                }
            }
            queue.close();
            tracing::debug!(dropped = queue.dropped(), "capture stream ended");
        };
        std::thread::Builder::new()
            .name("leadline-capture-forward".into())
            .spawn(forward)
            .map_err(|e| AudioError::Backend(format!("cannot start the capture thread: {e}")))?;
        Ok((CaptureStream::from_channel(rx), control))
    }

    /// Opens a speaker: `device` by id or name, `None` for the system default. When `processing` is
    /// given, what is played is its echo canceller's far-end reference. Plays until the last clone of
    /// the returned `Arc` is dropped.
    ///
    /// # Errors
    /// As [`open_capture`](Self::open_capture).
    pub fn open_playback(
        &self,
        device: Option<&str>,
        processing: Option<VoiceProcessing>,
    ) -> Result<Arc<DevicePlayback>, AudioError> {
        let queue = Arc::new(PlaybackQueue::for_calls());
        let source: Arc<dyn Source> = Arc::new(QueueSource {
            queue: queue.clone(),
            processing,
        });
        let (control, lifetime) = self.spawn_owner(Direction::Output, device, Feed::Playback { source })?;
        Ok(Arc::new(DevicePlayback {
            queue,
            control,
            _lifetime: lifetime,
        }))
    }

    /// Opens both directions of a call with shared voice processing (the capture side cancels the echo
    /// of what the playback side plays).
    ///
    /// # Errors
    /// As [`open_capture`](Self::open_capture), for either device.
    pub fn open_call(
        &self,
        input: Option<&str>,
        output: Option<&str>,
        settings: ProcessingSettings,
    ) -> Result<CallAudio, AudioError> {
        let processing = VoiceProcessing::new(settings);
        let playback = self.open_playback(output, Some(processing.clone()))?;
        let (capture, input) = self.open_capture(input, Some(processing.clone()))?;
        let output = playback.control().clone();
        Ok(CallAudio {
            path: AudioPath { capture, playback },
            processing,
            input,
            output,
        })
    }

    /// Rings `tone` on a speaker (`None`: the system default) until the handle is dropped.
    ///
    /// # Errors
    /// As [`open_playback`](Self::open_playback).
    pub fn ring(&self, device: Option<&str>, tone: &Ringtone) -> Result<RingHandle, AudioError> {
        let source: Arc<dyn Source> = Arc::new(RingSource(Mutex::new(tone.source())));
        let (control, lifetime) = self.spawn_owner(Direction::Output, device, Feed::Playback { source })?;
        Ok(RingHandle {
            control,
            _lifetime: lifetime,
        })
    }

    fn spawn_owner(
        &self,
        direction: Direction,
        device: Option<&str>,
        feed: Feed,
    ) -> Result<(DeviceStream, Lifetime), AudioError> {
        let (control_tx, control_rx) = std_mpsc::channel();
        let status = Arc::new(Mutex::new(Status::default()));
        let (started_tx, started_rx) = std_mpsc::sync_channel(1);
        let parts = (
            self.backend.clone(),
            self.events.clone(),
            status.clone(),
            control_tx.clone(),
        );
        let (wanted, watch_interval) = (device.map(str::to_owned), self.watch_interval);
        let name = match direction {
            Direction::Input => "leadline-audio-in",
            Direction::Output => "leadline-audio-out",
        };
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let (backend, events, status, control_tx) = parts;
                // Built here: the streams it will hold need not be `Send`.
                let mut owner = Owner {
                    backend,
                    direction,
                    feed,
                    wanted,
                    events,
                    status,
                    control_tx,
                    control_rx,
                    current: None,
                    generation: 0,
                    watch_interval,
                    reported_none: false,
                };
                let first = owner.open_first();
                let ok = first.is_ok();
                let _ = started_tx.send(first);
                if ok {
                    owner.run();
                }
                owner.finish();
            })
            .map_err(|e| AudioError::Backend(format!("cannot start the audio thread: {e}")))?;
        let started = started_rx
            .recv()
            .unwrap_or_else(|_| Err(AudioError::Backend("the audio thread died while opening".into())));
        if let Err(err) = started {
            let _ = thread.join();
            return Err(err);
        }
        let control = DeviceStream {
            direction,
            control: control_tx.clone(),
            status,
        };
        let lifetime = Lifetime {
            control: control_tx,
            thread: Some(thread),
        };
        Ok((control, lifetime))
    }
}

/// Both directions of a call on OS devices.
#[derive(Debug)]
pub struct CallAudio {
    /// What the media engine takes.
    pub path: AudioPath,
    /// The call's echo cancellation and noise suppression, switchable while the call runs.
    pub processing: VoiceProcessing,
    /// The microphone's handle (which device, switch device).
    pub input: DeviceStream,
    /// The speaker's handle.
    pub output: DeviceStream,
}

/// A handle on an open stream: which device it uses, and moving it to another.
#[derive(Debug, Clone)]
pub struct DeviceStream {
    direction: Direction,
    control: std_mpsc::Sender<Control>,
    status: Arc<Mutex<Status>>,
}

#[derive(Debug, Default)]
struct Status {
    device: Option<DeviceLabel>,
    format: Option<StreamFormat>,
}

impl DeviceStream {
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The device in use; `None` while none can be opened.
    pub fn device(&self) -> Option<DeviceLabel> {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .device
            .clone()
    }

    /// The device's stream format (before conversion to 48 kHz mono).
    pub fn format(&self) -> Option<StreamFormat> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).format
    }

    /// Moves the stream to `device` (id or name; `None`: the system default). If it cannot be opened
    /// the stream stays where it is, and moves when the device appears.
    pub fn switch_to(&self, device: Option<&str>) {
        let _ = self.control.send(Control::Switch(device.map(str::to_owned)));
    }
}

/// A speaker for the media engine; frames go to the device through an 80 ms queue.
#[derive(Debug)]
pub struct DevicePlayback {
    queue: Arc<PlaybackQueue>,
    control: DeviceStream,
    _lifetime: Lifetime,
}

impl DevicePlayback {
    /// The stream's handle (device in use, switching).
    pub fn control(&self) -> &DeviceStream {
        &self.control
    }

    /// Queue counters: frames played, dropped, underruns.
    pub fn stats(&self) -> PlaybackStats {
        self.queue.stats()
    }
}

impl Playback for DevicePlayback {
    fn play(&self, frame: &[i16]) {
        self.queue.push(frame);
    }
}

/// A ringing speaker; dropping it (or [`stop`](Self::stop)) stops the ring.
#[derive(Debug)]
pub struct RingHandle {
    control: DeviceStream,
    _lifetime: Lifetime,
}

impl RingHandle {
    /// The ring's stream handle (device in use).
    pub fn control(&self) -> &DeviceStream {
        &self.control
    }

    /// Stops the ring (the same as dropping the handle).
    pub fn stop(self) {}
}

/// Keeps an owner thread running; dropping it stops the thread and waits for it.
#[derive(Debug)]
struct Lifetime {
    control: std_mpsc::Sender<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Lifetime {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

enum Control {
    Fault { generation: u64, fault: StreamFault },
    Switch(Option<String>),
    Stop,
}

/// Where a playback stream's 48 kHz mono sound comes from.
trait Source: Send + Sync + 'static {
    fn fill(&self, out: &mut [i16]);
}

/// A call's far end: the playback queue, echoed to the echo canceller.
struct QueueSource {
    queue: Arc<PlaybackQueue>,
    processing: Option<VoiceProcessing>,
}

impl Source for QueueSource {
    fn fill(&self, out: &mut [i16]) {
        self.queue.pop(out);
        if let Some(processing) = &self.processing {
            // From here the sound is queued, then in the device buffer (~20 ms), then in the air.
            processing.set_delay_hint(self.queue.queued() + Duration::from_millis(20));
            processing.process_render(out);
        }
    }
}

struct RingSource(Mutex<RingtoneSource>);

impl Source for RingSource {
    fn fill(&self, out: &mut [i16]) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).fill(out);
    }
}

enum Feed {
    Capture {
        queue: Arc<FrameQueue>,
        processing: Option<VoiceProcessing>,
    },
    Playback {
        source: Arc<dyn Source>,
    },
}

struct Current {
    device: DeviceLabel,
    _stream: OpenedStream,
}

/// Runs on the owner thread: opens, watches and replaces one stream's device.
struct Owner {
    backend: Arc<dyn AudioBackend>,
    direction: Direction,
    feed: Feed,
    /// The device the user chose (id or name); `None` for the default.
    wanted: Option<String>,
    events: broadcast::Sender<AudioEvent>,
    status: Arc<Mutex<Status>>,
    control_tx: std_mpsc::Sender<Control>,
    control_rx: std_mpsc::Receiver<Control>,
    current: Option<Current>,
    /// Bumped at every open so faults of replaced streams are ignored.
    generation: u64,
    watch_interval: Duration,
    /// NoDevice was reported and nothing opened since.
    reported_none: bool,
}

impl Owner {
    fn emit(&self, event: AudioEvent) {
        tracing::info!(?event, "audio device event");
        let _ = self.events.send(event);
    }

    fn is_capture(&self) -> bool {
        matches!(self.feed, Feed::Capture { .. })
    }

    /// Devices to try, best first: the chosen one (if listed), then the default.
    fn candidates(&self, listed: &[DeviceInfo], skip: Option<&str>) -> Vec<String> {
        let mut ids = Vec::new();
        let default = self.backend.default_device(self.direction);
        if let Some(wanted) = &self.wanted {
            if let Some(device) = listed.iter().find(|d| d.id == *wanted || d.name == *wanted) {
                ids.push(device.id.clone());
            } else if default.as_deref() == Some(wanted.as_str()) {
                ids.push(wanted.clone());
            }
        }
        if let Some(device) = listed.iter().find(|d| d.is_default) {
            ids.push(device.id.clone());
        }
        ids.extend(default);
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()) && Some(id.as_str()) != skip);
        ids
    }

    fn open(&mut self, id: &str) -> Result<OpenedStream, AudioError> {
        self.generation += 1;
        let generation = self.generation;
        let tx = self.control_tx.clone();
        let fault: FaultCallback = Box::new(move |fault| {
            let _ = tx.send(Control::Fault { generation, fault });
        });
        match &self.feed {
            Feed::Capture { queue, processing } => {
                let (queue, processing) = (queue.clone(), processing.clone());
                let mut make = move |format: StreamFormat| -> InputCallback {
                    let mut converter = CaptureConverter::new(format);
                    let (queue, processing) = (queue.clone(), processing.clone());
                    Box::new(move |data: &[f32]| {
                        converter.push(data, |mut frame| {
                            if let Some(processing) = &processing {
                                processing.process_capture(&mut frame);
                            }
                            queue.push(frame);
                        });
                    })
                };
                self.backend.open_input(id, &mut make, fault)
            }
            Feed::Playback { source } => {
                let source = source.clone();
                let mut make = move |format: StreamFormat| -> OutputCallback {
                    let mut converter = PlaybackConverter::new(format);
                    let source = source.clone();
                    Box::new(move |out: &mut [f32]| converter.fill(out, |chunk| source.fill(chunk)))
                };
                self.backend.open_output(id, &mut make, fault)
            }
        }
    }

    /// Tries the candidates in turn; the first that opens becomes current.
    fn open_candidates(&mut self, candidates: Vec<String>) -> Result<DeviceLabel, AudioError> {
        let mut last = AudioError::NoDevice {
            direction: self.direction,
        };
        for id in candidates {
            match self.open(&id) {
                Ok(stream) => {
                    let device = stream.device.clone();
                    let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
                    status.device = Some(device.clone());
                    status.format = Some(stream.format);
                    drop(status);
                    self.current = Some(Current {
                        device: device.clone(),
                        _stream: stream,
                    });
                    self.reported_none = false;
                    return Ok(device);
                }
                Err(err) => {
                    tracing::debug!(device = %id, %err, "cannot open audio device");
                    last = err;
                }
            }
        }
        Err(match last {
            AudioError::DeviceGone { .. } => AudioError::NoDevice {
                direction: self.direction,
            },
            other => other,
        })
    }

    fn listed(&self) -> Option<Vec<DeviceInfo>> {
        match self.backend.devices(self.direction, false) {
            Ok(listed) => Some(listed),
            Err(err) => {
                tracing::debug!(%err, "cannot list audio devices");
                None
            }
        }
    }

    fn open_first(&mut self) -> Result<(), AudioError> {
        let listed = self.listed().unwrap_or_default();
        let candidates = self.candidates(&listed, None);
        self.open_candidates(candidates).map(|device| {
            if self.wanted.as_ref().is_some_and(|w| *w != device.id && *w != device.name) {
                tracing::info!(wanted = ?self.wanted, using = %device.id, "chosen audio device absent: using the default");
            }
        })
    }

    fn run(&mut self) {
        let mut next_watch = Instant::now() + self.watch_interval;
        let mut next_silence = Instant::now() + FRAME_DURATION;
        loop {
            let silent = self.current.is_none() && self.is_capture();
            let deadline = if silent {
                next_watch.min(next_silence)
            } else {
                next_watch
            };
            match self
                .control_rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Control::Switch(wanted)) => {
                    self.wanted = wanted;
                    self.move_to_wanted(true);
                }
                Ok(Control::Fault { generation, fault }) if generation == self.generation => match fault {
                    StreamFault::Lost(reason) => self.lose(reason),
                    StreamFault::Glitch(reason) => tracing::debug!(%reason, "audio stream glitch"),
                },
                Ok(Control::Fault { .. }) | Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if self.current.is_none() && self.is_capture() {
                if let Feed::Capture { queue, .. } = &self.feed {
                    while next_silence <= now {
                        queue.push(vec![0; FRAME_SAMPLES]);
                        next_silence += FRAME_DURATION;
                    }
                }
            } else {
                next_silence = now + FRAME_DURATION;
            }
            if now >= next_watch {
                self.watch();
                next_watch = Instant::now() + self.watch_interval;
            }
            if let Feed::Capture { queue, .. } = &self.feed
                && queue.is_closed()
            {
                return;
            }
        }
    }

    /// The periodic check: is the device still there, has the chosen one come back, can a stream
    /// without a device get one now?
    fn watch(&mut self) {
        let Some(listed) = self.listed() else {
            return;
        };
        let Some(current) = &self.current else {
            let candidates = self.candidates(&listed, None);
            if let Ok(to) = self.open_candidates(candidates) {
                self.emit(AudioEvent::Switched {
                    direction: self.direction,
                    from: None,
                    to,
                });
            }
            return;
        };
        let id = current.device.id.clone();
        let is_default = self.backend.default_device(self.direction).as_deref() == Some(id.as_str());
        if !is_default && !listed.iter().any(|d| d.id == id) {
            self.lose("the device was removed".into());
            return;
        }
        self.move_to_wanted(false);
    }

    /// Moves to the chosen device (or, with none chosen, the system default) if it is listed and not in use
    /// already. `requested`: the user asked
    /// (so a failure is worth a log line even if it is the default).
    fn move_to_wanted(&mut self, requested: bool) {
        let Some(listed) = self.listed() else {
            return;
        };
        let target = match &self.wanted {
            Some(wanted) => match listed.iter().find(|d| d.id == *wanted || d.name == *wanted) {
                Some(device) => device.id.clone(),
                None if requested => {
                    tracing::info!(%wanted, "chosen audio device is not plugged in; switching when it is");
                    return;
                }
                None => return,
            },
            None if requested => match self.candidates(&listed, None).into_iter().next() {
                Some(default) => default,
                None => return,
            },
            // Following the default: move when the system makes another listed device the default (an
            // OS that makes a newly plugged headset the default, or the user's choice in its settings).
            None => match self.backend.default_device(self.direction) {
                Some(default) if listed.iter().any(|d| d.id == default) => default,
                _ => return,
            },
        };
        let from = self.current.as_ref().map(|c| c.device.clone());
        if from.as_ref().is_some_and(|f| f.id == target) {
            return;
        }
        // Open the new device before letting the old one go, so a failure changes nothing.
        let old = self.current.take();
        let old_generation = self.generation;
        match self.open_candidates(vec![target.clone()]) {
            Ok(to) => {
                drop(old);
                self.emit(AudioEvent::Switched {
                    direction: self.direction,
                    from,
                    to,
                });
            }
            Err(err) => {
                if requested {
                    tracing::warn!(device = %target, %err, "cannot switch audio device");
                } else {
                    tracing::debug!(device = %target, %err, "cannot switch audio device");
                }
                self.current = old;
                self.generation = old_generation;
            }
        }
    }

    /// The current device failed: drop it, say so, and fall back to the default.
    fn lose(&mut self, reason: String) {
        let Some(lost) = self.current.take() else {
            return;
        };
        let device = lost.device.clone();
        drop(lost);
        self.generation += 1;
        {
            let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            status.device = None;
            status.format = None;
        }
        self.emit(AudioEvent::DeviceLost {
            direction: self.direction,
            device: device.clone(),
            reason,
        });
        let listed = self.listed().unwrap_or_default();
        // The lost device is tried again only if it is still listed (a glitch rather than an unplug).
        let still_listed = listed.iter().any(|d| d.id == device.id);
        let candidates = self.candidates(&listed, (!still_listed).then_some(device.id.as_str()));
        match self.open_candidates(candidates) {
            Ok(to) => self.emit(AudioEvent::Switched {
                direction: self.direction,
                from: Some(device),
                to,
            }),
            Err(err) => {
                tracing::warn!(%err, direction = %self.direction, "no audio device to fall back to");
                if !self.reported_none {
                    self.reported_none = true;
                    self.emit(AudioEvent::NoDevice {
                        direction: self.direction,
                    });
                }
            }
        }
    }

    fn finish(&mut self) {
        self.current = None;
        if let Feed::Capture { queue, .. } = &self.feed {
            queue.close();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;
    use std::f64::consts::TAU;

    use tokio::time::timeout;

    use super::*;
    use crate::audio::synthetic::goertzel_energy;

    type Slot = Arc<Mutex<Option<(Callback, FaultCallback)>>>;

    enum Callback {
        In(InputCallback),
        Out(OutputCallback),
    }

    /// A scripted sound system: devices are plugged and unplugged by the test, which also plays the part
    /// of the hardware (feeds microphones, drains speakers).
    #[derive(Default)]
    struct Fake {
        state: Mutex<FakeState>,
    }

    #[derive(Default)]
    struct FakeState {
        devices: Vec<(Direction, DeviceInfo, StreamFormat)>,
        open: HashMap<String, Slot>,
    }

    struct FakeStream(Slot);

    impl Drop for FakeStream {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = None;
        }
    }

    fn format(sample_rate: u32, channels: u16) -> StreamFormat {
        StreamFormat {
            sample_rate,
            channels,
        }
    }

    impl Fake {
        fn new() -> Arc<Self> {
            Arc::new(Self::default())
        }

        fn plug(&self, direction: Direction, id: &str, name: &str, is_default: bool, format: StreamFormat) {
            let info = DeviceInfo {
                id: id.into(),
                name: name.into(),
                is_default,
                channels: vec![format.channels],
                sample_rates: vec![format.sample_rate],
            };
            self.state.lock().unwrap().devices.push((direction, info, format));
        }

        /// Takes the device off the list without telling its stream (only the watch can notice).
        fn remove(&self, id: &str) {
            self.state.lock().unwrap().devices.retain(|(_, d, _)| d.id != id);
        }

        /// Takes the device off the list and fails its stream, as an unplug does.
        fn unplug(&self, id: &str) {
            self.remove(id);
            let slot = self.state.lock().unwrap().open.get(id).cloned();
            if let Some(slot) = slot
                && let Some((_, fault)) = slot.lock().unwrap().as_mut()
            {
                fault(StreamFault::Lost("device unplugged".into()));
            }
        }

        /// The system makes `id` the default device of its direction.
        fn set_default(&self, id: &str) {
            let mut state = self.state.lock().unwrap();
            let direction = state.devices.iter().find(|(_, d, _)| d.id == id).unwrap().0;
            for (dir, info, _) in &mut state.devices {
                if *dir == direction {
                    info.is_default = info.id == id;
                }
            }
        }

        fn slot(&self, id: &str) -> Option<Slot> {
            self.state.lock().unwrap().open.get(id).cloned()
        }

        fn is_open(&self, id: &str) -> bool {
            self.slot(id).is_some_and(|s| s.lock().unwrap().is_some())
        }

        /// The microphone `id` hears `samples` (interleaved, its format). False if it is not open.
        fn feed(&self, id: &str, samples: &[f32]) -> bool {
            let Some(slot) = self.slot(id) else { return false };
            let mut slot = slot.lock().unwrap();
            match slot.as_mut() {
                Some((Callback::In(callback), _)) => {
                    callback(samples);
                    true
                }
                _ => false,
            }
        }

        /// The speaker `id` plays `n` samples (interleaved, its format); `None` if it is not open.
        fn pull(&self, id: &str, n: usize) -> Option<Vec<f32>> {
            let slot = self.slot(id)?;
            let mut slot = slot.lock().unwrap();
            match slot.as_mut() {
                Some((Callback::Out(callback), _)) => {
                    let mut out = vec![0f32; n];
                    callback(&mut out);
                    Some(out)
                }
                _ => None,
            }
        }

        fn open(
            &self,
            direction: Direction,
            id: &str,
            make: impl FnOnce(StreamFormat) -> Callback,
            fault: FaultCallback,
        ) -> Result<OpenedStream, AudioError> {
            let mut state = self.state.lock().unwrap();
            let Some((_, info, format)) = state
                .devices
                .iter()
                .find(|(d, i, _)| *d == direction && i.id == id)
                .cloned()
            else {
                return Err(AudioError::DeviceGone { device: id.into() });
            };
            let slot: Slot = Arc::new(Mutex::new(Some((make(format), fault))));
            state.open.insert(id.into(), slot.clone());
            Ok(OpenedStream {
                device: DeviceLabel {
                    id: info.id,
                    name: info.name,
                },
                format,
                keep_alive: Box::new(FakeStream(slot)),
            })
        }
    }

    impl AudioBackend for Fake {
        fn devices(&self, direction: Direction, _probe: bool) -> Result<Vec<DeviceInfo>, AudioError> {
            let state = self.state.lock().unwrap();
            Ok(state
                .devices
                .iter()
                .filter(|(d, _, _)| *d == direction)
                .map(|(_, i, _)| i.clone())
                .collect())
        }

        fn default_device(&self, direction: Direction) -> Option<String> {
            let state = self.state.lock().unwrap();
            state
                .devices
                .iter()
                .find(|(d, i, _)| *d == direction && i.is_default)
                .map(|(_, i, _)| i.id.clone())
        }

        fn open_input(
            &self,
            id: &str,
            data: &mut dyn FnMut(StreamFormat) -> InputCallback,
            fault: FaultCallback,
        ) -> Result<OpenedStream, AudioError> {
            self.open(Direction::Input, id, |f| Callback::In(data(f)), fault)
        }

        fn open_output(
            &self,
            id: &str,
            data: &mut dyn FnMut(StreamFormat) -> OutputCallback,
            fault: FaultCallback,
        ) -> Result<OpenedStream, AudioError> {
            self.open(Direction::Output, id, |f| Callback::Out(data(f)), fault)
        }
    }

    fn devices(fake: &Arc<Fake>) -> AudioDevices {
        AudioDevices::with_backend(fake.clone()).with_watch_interval(Duration::from_millis(50))
    }

    /// `seconds` of a sine at `hz` in `format` (all channels alike), starting at sample `from`.
    fn sine(format: StreamFormat, hz: f64, from: usize, frames: usize) -> Vec<f32> {
        (from..from + frames)
            .flat_map(|i| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                let s = (0.5 * (TAU * hz * i as f64 / f64::from(format.sample_rate)).sin()) as f32;
                std::iter::repeat_n(s, usize::from(format.channels))
            })
            .collect()
    }

    fn share(frame: &[i16], hz: f64) -> f64 {
        let total: f64 = frame
            .iter()
            .map(|&s| (f64::from(s) / f64::from(i16::MAX)).powi(2))
            .sum();
        goertzel_energy(frame, hz) / total.max(1e-12)
    }

    async fn next_event(events: &mut broadcast::Receiver<AudioEvent>) -> AudioEvent {
        timeout(Duration::from_secs(3), events.recv())
            .await
            .expect("an audio event in time")
            .unwrap()
    }

    async fn next_frame(capture: &mut CaptureStream) -> Frame {
        timeout(Duration::from_secs(3), capture.next_frame())
            .await
            .expect("a frame in time")
            .expect("stream open")
    }

    /// Feeds the microphone `id` 200 ms of a tone and checks the capture stream delivers it.
    async fn hears(
        fake: &Fake,
        id: &str,
        format: StreamFormat,
        hz: f64,
        capture: &mut CaptureStream,
    ) -> bool {
        let per_frame = format.sample_rate as usize / 50;
        for index in 0..10 {
            assert!(
                fake.feed(id, &sine(format, hz, index * per_frame, per_frame)),
                "{id} is open"
            );
        }
        for _ in 0..10 {
            if share(&next_frame(capture).await, hz) > 0.9 {
                return true;
            }
        }
        false
    }

    use super::super::Frame;

    #[tokio::test]
    async fn with_no_device_opening_fails_with_no_device() {
        let fake = Fake::new();
        let devices = devices(&fake);
        assert!(devices.inputs().unwrap().is_empty());
        assert_eq!(
            devices.open_capture(None, None).unwrap_err(),
            AudioError::NoDevice {
                direction: Direction::Input
            }
        );
        assert_eq!(
            devices.open_playback(Some("USB Headset"), None).unwrap_err(),
            AudioError::NoDevice {
                direction: Direction::Output
            }
        );
        assert!(matches!(
            devices.ring(None, &Ringtone::india()),
            Err(AudioError::NoDevice { .. })
        ));
    }

    #[tokio::test]
    async fn capture_falls_back_to_the_default_when_its_device_is_unplugged_and_returns_to_it() {
        let fake = Fake::new();
        let (usb, builtin) = (format(44_100, 2), format(48_000, 1));
        fake.plug(Direction::Input, "usb", "USB Headset", false, usb);
        fake.plug(Direction::Input, "builtin", "Built-in Microphone", true, builtin);
        let devices = devices(&fake);
        let mut events = devices.events();
        let (mut capture, control) = devices.open_capture(Some("USB Headset"), None).unwrap();
        assert_eq!(control.device().unwrap().id, "usb");
        assert_eq!(control.format(), Some(usb));
        assert!(hears(&fake, "usb", usb, 1000.0, &mut capture).await);

        fake.unplug("usb");
        let lost = next_event(&mut events).await;
        assert!(
            matches!(&lost, AudioEvent::DeviceLost { direction: Direction::Input, device, .. } if device.id == "usb"),
            "{lost:?}"
        );
        let switched = next_event(&mut events).await;
        assert!(
            matches!(&switched, AudioEvent::Switched { from: Some(from), to, .. } if from.id == "usb" && to.id == "builtin"),
            "{switched:?}"
        );
        assert!(!fake.is_open("usb"));
        assert_eq!(control.device().unwrap().name, "Built-in Microphone");
        // The same capture stream goes on, now from the built-in microphone.
        assert!(hears(&fake, "builtin", builtin, 500.0, &mut capture).await);

        // The headset is plugged back in: the watch moves the stream back to the chosen device.
        fake.plug(Direction::Input, "usb", "USB Headset", false, usb);
        let back = next_event(&mut events).await;
        assert!(
            matches!(&back, AudioEvent::Switched { from: Some(from), to, .. } if from.id == "builtin" && to.id == "usb"),
            "{back:?}"
        );
        assert!(!fake.is_open("builtin"));
        assert!(hears(&fake, "usb", usb, 1000.0, &mut capture).await);

        drop(capture);
        for _ in 0..100 {
            if !fake.is_open("usb") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            !fake.is_open("usb"),
            "dropping the capture stream closes the device"
        );
    }

    #[tokio::test]
    async fn the_watch_notices_a_device_that_vanished_silently() {
        let fake = Fake::new();
        fake.plug(Direction::Input, "usb", "USB Headset", false, format(48_000, 1));
        fake.plug(
            Direction::Input,
            "builtin",
            "Built-in Microphone",
            true,
            format(48_000, 1),
        );
        let devices = devices(&fake);
        let mut events = devices.events();
        let (_capture, control) = devices.open_capture(Some("usb"), None).unwrap();
        fake.remove("usb");
        let lost = next_event(&mut events).await;
        assert!(
            matches!(&lost, AudioEvent::DeviceLost { reason, .. } if reason.contains("removed")),
            "{lost:?}"
        );
        assert!(matches!(
            next_event(&mut events).await,
            AudioEvent::Switched { .. }
        ));
        assert_eq!(control.device().unwrap().id, "builtin");
    }

    #[tokio::test]
    async fn a_stream_on_the_default_follows_a_new_default() {
        let fake = Fake::new();
        fake.plug(Direction::Output, "speaker", "Speakers", true, format(48_000, 2));
        let devices = devices(&fake);
        let mut events = devices.events();
        let playback = devices.open_playback(None, None).unwrap();
        assert_eq!(playback.control().device().unwrap().id, "speaker");
        // A headset is plugged in and the system makes it the default.
        fake.plug(Direction::Output, "headset", "Headset", false, format(48_000, 1));
        fake.set_default("headset");
        let switched = next_event(&mut events).await;
        assert!(
            matches!(&switched, AudioEvent::Switched { to, .. } if to.id == "headset"),
            "{switched:?}"
        );
        assert!(!fake.is_open("speaker"));
        // A stream on a chosen device stays on it whatever the default.
        let chosen = devices.open_playback(Some("Speakers"), None).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(chosen.control().device().unwrap().id, "speaker");
    }

    #[tokio::test]
    async fn without_any_device_capture_sends_silence_until_one_is_plugged() {
        let fake = Fake::new();
        let mic = format(16_000, 1);
        fake.plug(Direction::Input, "usb", "USB Headset", true, mic);
        let devices = devices(&fake);
        let mut events = devices.events();
        let (mut capture, control) = devices.open_capture(None, None).unwrap();
        fake.unplug("usb");
        assert!(matches!(
            next_event(&mut events).await,
            AudioEvent::DeviceLost { .. }
        ));
        assert_eq!(
            next_event(&mut events).await,
            AudioEvent::NoDevice {
                direction: Direction::Input
            }
        );
        assert_eq!(control.device(), None);
        // Silence at the frame pace: about 10 frames in 200 ms.
        let start = Instant::now();
        let mut silent = 0;
        while start.elapsed() < Duration::from_millis(200) {
            let frame = next_frame(&mut capture).await;
            assert_eq!(frame, vec![0; FRAME_SAMPLES]);
            silent += 1;
        }
        assert!((5..=20).contains(&silent), "{silent} silent frames in 200 ms");

        fake.plug(Direction::Input, "usb2", "Another Headset", true, mic);
        let switched = next_event(&mut events).await;
        assert!(
            matches!(&switched, AudioEvent::Switched { from: None, to, .. } if to.id == "usb2"),
            "{switched:?}"
        );
        assert!(hears(&fake, "usb2", mic, 700.0, &mut capture).await);
    }

    /// Plays `frames` frames of a tone into `playback` while the speaker `id` drains 20 ms per frame;
    /// returns what the speaker played.
    fn play_tone(
        fake: &Fake,
        id: &str,
        device: StreamFormat,
        playback: &DevicePlayback,
        hz: f64,
        frames: usize,
    ) -> Vec<f32> {
        let per_frame = device.sample_rate as usize / 50 * usize::from(device.channels);
        let tone = sine(format(48_000, 1), hz, 0, frames * FRAME_SAMPLES);
        let mut played = Vec::new();
        for frame in tone.chunks_exact(FRAME_SAMPLES) {
            let frame: Vec<i16> = frame
                .iter()
                .map(|&s| crate::audio::convert::f32_to_i16(s))
                .collect();
            playback.play(&frame);
            played.extend(fake.pull(id, per_frame).unwrap());
        }
        played
    }

    fn heard(played: &[f32], format: StreamFormat, hz: f64) -> bool {
        let mut converter = CaptureConverter::new(format);
        let mut frames = Vec::new();
        converter.push(played, |f| frames.push(f));
        frames.len() > 10 && frames[5..frames.len() - 1].iter().all(|f| share(f, hz) > 0.9)
    }

    #[tokio::test]
    async fn playback_reaches_the_speaker_and_follows_a_replacement() {
        let fake = Fake::new();
        let (speaker, headset) = (format(44_100, 2), format(48_000, 1));
        fake.plug(Direction::Output, "speaker", "Speakers", true, speaker);
        fake.plug(Direction::Output, "headset", "Headset", false, headset);
        let devices = devices(&fake);
        let mut events = devices.events();
        let playback = devices.open_playback(Some("headset"), None).unwrap();
        let played = play_tone(&fake, "headset", headset, &playback, 1000.0, 25);
        assert!(heard(&played, headset, 1000.0));

        fake.unplug("headset");
        assert!(matches!(
            next_event(&mut events).await,
            AudioEvent::DeviceLost { .. }
        ));
        assert!(
            matches!(next_event(&mut events).await, AudioEvent::Switched { to, .. } if to.id == "speaker")
        );
        let played = play_tone(&fake, "speaker", speaker, &playback, 600.0, 25);
        assert!(heard(&played, speaker, 600.0));
        let stats = playback.stats();
        assert_eq!(stats.frames_queued, 50);
        assert!(stats.samples_played > 40 * FRAME_SAMPLES as u64, "{stats:?}");

        // Switching on request.
        fake.plug(Direction::Output, "headset", "Headset", false, headset);
        playback.control().switch_to(Some("Headset"));
        assert!(
            matches!(next_event(&mut events).await, AudioEvent::Switched { to, .. } if to.id == "headset")
        );
        drop(playback);
        assert!(
            !fake.is_open("headset"),
            "dropping the playback closes the device"
        );
    }

    #[tokio::test]
    async fn the_ring_plays_its_cadence_until_the_handle_is_dropped() {
        let fake = Fake::new();
        let speaker = format(48_000, 1);
        fake.plug(Direction::Output, "speaker", "Speakers", true, speaker);
        let devices = devices(&fake);
        let ring = devices.ring(None, &Ringtone::india()).unwrap();
        assert_eq!(ring.control().device().unwrap().id, "speaker");
        let level = |samples: &[f32]| samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
        let first_burst = fake.pull("speaker", 48 * 400).unwrap();
        let gap = fake.pull("speaker", 48 * 200).unwrap();
        let second_burst = fake.pull("speaker", 48 * 400).unwrap();
        let pause = fake.pull("speaker", 48 * 2000).unwrap();
        assert!(level(&first_burst[48 * 20..48 * 380]) > 0.005);
        assert!(level(&second_burst[48 * 20..48 * 380]) > 0.005);
        assert!(level(&gap[48 * 20..48 * 180]) < 1e-6 && level(&pause[48 * 20..48 * 1980]) < 1e-6);
        ring.stop();
        assert!(!fake.is_open("speaker"));
    }

    #[tokio::test]
    async fn a_call_cancels_the_echo_of_its_own_speaker() {
        let fake = Fake::new();
        let mono = format(48_000, 1);
        fake.plug(Direction::Output, "speaker", "Laptop speakers", true, mono);
        fake.plug(Direction::Input, "mic", "Laptop microphone", true, mono);
        let devices = devices(&fake);
        let settings = ProcessingSettings {
            echo_cancellation: true,
            noise_suppression: false,
            auto_gain: false,
        };
        let mut call = devices.open_call(None, None, settings).unwrap();
        assert_eq!(call.input.device().unwrap().id, "mic");
        assert_eq!(call.output.device().unwrap().id, "speaker");

        // The far end talks (speech-like noise); the room carries the speaker to the mic 40 ms later.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut lowpassed = 0f32;
        let mut air: std::collections::VecDeque<f32> = std::iter::repeat_n(0.0, 48 * 40).collect();
        let (mut mic_energy, mut sent_energy) = (0f64, 0f64);
        for index in 0..250 {
            let far: Vec<i16> = (0..FRAME_SAMPLES)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    #[allow(clippy::cast_precision_loss)]
                    let white = (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                    lowpassed = 0.7 * lowpassed + 0.3 * white;
                    #[allow(clippy::cast_precision_loss)]
                    let syllable = (TAU * 3.0 * (index * FRAME_SAMPLES + i) as f64 / 48_000.0)
                        .sin()
                        .max(0.0) as f32;
                    crate::audio::convert::f32_to_i16(lowpassed * syllable * 0.5)
                })
                .collect();
            call.path.playback.play(&far);
            let speaker_out = fake.pull("speaker", FRAME_SAMPLES).unwrap();
            air.extend(speaker_out.iter().map(|s| s * 0.4));
            let mic: Vec<f32> = air.drain(..FRAME_SAMPLES).collect();
            assert!(fake.feed("mic", &mic));
            let sent = next_frame(&mut call.path.capture).await;
            if index >= 200 {
                mic_energy += mic.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
                sent_energy += sent
                    .iter()
                    .map(|&s| (f64::from(s) / 32768.0).powi(2))
                    .sum::<f64>();
            }
        }
        let erle = 10.0 * (mic_energy / sent_energy.max(1e-12)).log10();
        assert!(
            erle > 15.0,
            "the far end's echo is {erle:.1} dB lower in what the call sends"
        );
        call.processing.set_echo_cancellation(false);
        assert_eq!(call.processing.settings(), ProcessingSettings::OFF);
    }
}
