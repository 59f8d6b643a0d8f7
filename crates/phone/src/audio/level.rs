//! The microphone test of the first-run setup: a level meter over a capture stream. Each 20 ms frame gives
//! its RMS level in dBFS; the meter's position (0–1 over [`FLOOR_DBFS`]..0 dBFS) rises at once and falls
//! slowly, like a VU meter, and the test passes once the level stays above the speech threshold for
//! [`HEARD_FRAMES`] frames in a row (a voice, not a click).

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::CaptureStream;

/// The bottom of the meter's scale.
pub const FLOOR_DBFS: f64 = -60.0;
/// A voice at a normal distance from a headset or laptop microphone is well above this; room noise is
/// below it.
pub const SPEECH_DBFS: f64 = -42.0;
/// Frames in a row above the threshold that count as heard (100 ms).
pub const HEARD_FRAMES: u32 = 5;
/// How fast the meter falls, in dB per 20 ms frame (20 dB in about a quarter of a second).
const FALL_DB_PER_FRAME: f64 = 1.5;

/// One reading of the meter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// The last frame's RMS level, dB relative to full scale (`FLOOR_DBFS` or above; silence reads as the
    /// floor).
    pub dbfs: f64,
    /// The meter's position, 0.0–1.0 (fast up, slow down).
    pub meter: f64,
    /// The loudest sample so far, 0.0–1.0 of full scale.
    pub peak: f64,
    /// The level has been above the threshold for [`HEARD_FRAMES`] frames in a row at least once.
    pub heard: bool,
    /// Frames measured.
    pub frames: u64,
}

impl Default for Level {
    fn default() -> Self {
        Self {
            dbfs: FLOOR_DBFS,
            meter: 0.0,
            peak: 0.0,
            heard: false,
            frames: 0,
        }
    }
}

/// The level meter's arithmetic, frame by frame.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    threshold_dbfs: f64,
    above: u32,
    level: Level,
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new(SPEECH_DBFS)
    }
}

impl LevelMeter {
    /// A meter that counts as heard a level above `threshold_dbfs` (see [`SPEECH_DBFS`]).
    pub fn new(threshold_dbfs: f64) -> Self {
        Self {
            threshold_dbfs,
            above: 0,
            level: Level::default(),
        }
    }

    /// Measures one frame; answers the reading after it.
    pub fn push(&mut self, frame: &[i16]) -> Level {
        let full = f64::from(i16::MAX);
        let (mut sum, mut peak) = (0.0f64, 0.0f64);
        for &s in frame {
            let x = f64::from(s) / full;
            sum += x * x;
            peak = peak.max(x.abs());
        }
        #[allow(clippy::cast_precision_loss)]
        let rms = if frame.is_empty() {
            0.0
        } else {
            (sum / frame.len() as f64).sqrt()
        };
        let dbfs = if rms > 0.0 {
            (20.0 * rms.log10()).clamp(FLOOR_DBFS, 0.0)
        } else {
            FLOOR_DBFS
        };
        let target = (dbfs - FLOOR_DBFS) / -FLOOR_DBFS;
        let fallen = self.level.meter - FALL_DB_PER_FRAME / -FLOOR_DBFS;
        let level = &mut self.level;
        level.meter = target.max(fallen).clamp(0.0, 1.0);
        level.dbfs = dbfs;
        level.peak = level.peak.max(peak.min(1.0));
        level.frames += 1;
        if dbfs >= self.threshold_dbfs {
            self.above += 1;
            if self.above >= HEARD_FRAMES {
                level.heard = true;
            }
        } else {
            self.above = 0;
        }
        *level
    }

    pub fn level(&self) -> Level {
        self.level
    }
}

/// A running microphone test: the meter over a capture stream, its readings in a watch channel. The
/// stream (and the device) closes when this is dropped.
#[derive(Debug)]
pub struct MicTest {
    levels: watch::Receiver<Level>,
    task: JoinHandle<()>,
}

impl MicTest {
    /// Starts measuring `capture`. Call inside a tokio runtime.
    pub fn start(mut capture: CaptureStream) -> Self {
        let (tx, levels) = watch::channel(Level::default());
        let task = tokio::spawn(async move {
            let mut meter = LevelMeter::default();
            while let Some(frame) = capture.next_frame().await {
                let level = meter.push(&frame);
                if tx.send(level).is_err() {
                    break;
                }
            }
        });
        Self { levels, task }
    }

    /// The readings: the latest, and a change with every frame.
    pub fn levels(&self) -> watch::Receiver<Level> {
        self.levels.clone()
    }

    /// The latest reading.
    pub fn level(&self) -> Level {
        *self.levels.borrow()
    }

    /// True once the source has ended (the device could not be kept open).
    pub fn ended(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for MicTest {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::audio::{FRAME_SAMPLES, silence, tone};

    fn sine(amplitude: f64) -> Vec<i16> {
        (0..FRAME_SAMPLES)
            .map(|i| {
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let s = (amplitude
                    * f64::from(i16::MAX)
                    * (std::f64::consts::TAU * 440.0 * i as f64 / 48_000.0).sin())
                .round() as i16;
                s
            })
            .collect()
    }

    #[test]
    fn a_sine_reads_at_its_rms_level() {
        let mut meter = LevelMeter::default();
        // A full-scale sine's RMS is 1/√2: -3 dBFS; half of it -9 dBFS.
        let l = meter.push(&sine(1.0));
        assert!((l.dbfs + 3.01).abs() < 0.1, "{l:?}");
        let l = meter.push(&sine(0.5));
        assert!((l.dbfs + 9.03).abs() < 0.1, "{l:?}");
        assert!((l.peak - 1.0).abs() < 0.001);
        // Silence reads as the floor; an empty frame too.
        assert_eq!(meter.push(&[0; FRAME_SAMPLES]).dbfs, FLOOR_DBFS);
        assert_eq!(meter.push(&[]).dbfs, FLOOR_DBFS);
    }

    #[test]
    fn the_meter_rises_at_once_and_falls_slowly() {
        let mut meter = LevelMeter::default();
        let loud = meter.push(&sine(1.0)).meter;
        assert!(loud > 0.9, "{loud}");
        let after_one = meter.push(&[0; FRAME_SAMPLES]).meter;
        assert!(
            (loud - after_one - 1.5 / 60.0).abs() < 1e-9,
            "{loud} → {after_one}"
        );
        for _ in 0..100 {
            meter.push(&[0; FRAME_SAMPLES]);
        }
        assert_eq!(meter.level().meter, 0.0);
    }

    #[test]
    fn heard_needs_the_level_held_above_the_threshold() {
        let mut meter = LevelMeter::default();
        // Clicks (one loud frame among quiet ones) are not a voice.
        for _ in 0..20 {
            meter.push(&sine(0.5));
            meter.push(&[0; FRAME_SAMPLES]);
        }
        assert!(!meter.level().heard);
        // Below the threshold (-50 dBFS) for ever: not heard.
        for _ in 0..50 {
            meter.push(&sine(0.0045));
        }
        assert!(
            meter.level().dbfs < SPEECH_DBFS && !meter.level().heard,
            "{:?}",
            meter.level()
        );
        for _ in 0..HEARD_FRAMES - 1 {
            meter.push(&sine(0.1));
        }
        assert!(!meter.level().heard);
        meter.push(&sine(0.1));
        assert!(meter.level().heard);
        // Once heard, it stays heard.
        meter.push(&[0; FRAME_SAMPLES]);
        assert!(meter.level().heard);
    }

    #[tokio::test]
    async fn the_test_tone_passes_the_microphone_test_and_silence_does_not() {
        // The app's tone microphone (LEADLINE_AUDIO=tone): 440 Hz at 0.2 of full scale.
        let test = MicTest::start(tone(440.0, 0.2));
        let mut levels = test.levels();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                levels.changed().await.unwrap();
                let l = *levels.borrow_and_update();
                if l.heard {
                    return l;
                }
            }
        })
        .await
        .unwrap();
        // 0.2/√2 RMS: -17 dBFS.
        assert!((heard.dbfs + 16.99).abs() < 0.1, "{heard:?}");
        assert!(heard.frames >= u64::from(HEARD_FRAMES));

        let quiet = MicTest::start(silence());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let l = quiet.level();
        assert!(l.frames >= 5 && !l.heard && l.dbfs == FLOOR_DBFS, "{l:?}");
        assert!(!quiet.ended());
    }
}
