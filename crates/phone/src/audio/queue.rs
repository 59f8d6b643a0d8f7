//! The two buffers between the media engine and a device callback: far-end sound waiting to be played
//! ([`PlaybackQueue`]: a bounded sample ring, silence on underrun) and captured frames waiting for the
//! media engine ([`FrameQueue`]: bounded, the oldest frame dropped when the consumer lags).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::{FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// Counters of a playback queue since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaybackStats {
    /// Frames handed to [`Playback::play`](super::Playback::play).
    pub frames_queued: u64,
    /// Samples (48 kHz) the device has played from the queue.
    pub samples_played: u64,
    /// Samples thrown away because the queue was full (the media engine ran ahead of the device).
    pub samples_dropped: u64,
    /// Times the device found the queue empty mid-stream and played silence.
    pub underruns: u64,
}

/// Far-end sound (48 kHz mono) between [`Playback::play`](super::Playback::play) and the device callback.
///
/// Holds at most `capacity` samples: a push that would overflow first drops the oldest samples, so the
/// delay through the queue never exceeds the cap. The callback takes what it needs and plays silence for
/// what is missing; after such an underrun it waits until `prime` samples are queued before it plays again,
/// so that jittery pushes do not chop the sound into 10 ms bits.
#[derive(Debug)]
pub(crate) struct PlaybackQueue {
    inner: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    samples: VecDeque<i16>,
    capacity: usize,
    prime: usize,
    primed: bool,
    stats: PlaybackStats,
}

impl PlaybackQueue {
    /// A queue capped at `capacity` samples that starts (and restarts after an underrun) once `prime`
    /// samples are waiting.
    pub(crate) fn new(capacity: usize, prime: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            inner: Mutex::new(Ring {
                samples: VecDeque::with_capacity(capacity),
                capacity,
                prime: prime.min(capacity),
                primed: false,
                stats: PlaybackStats::default(),
            }),
        }
    }

    /// The queue the device playback uses: capped at 80 ms, primed with one frame (20 ms).
    pub(crate) fn for_calls() -> Self {
        Self::new(4 * FRAME_SAMPLES, FRAME_SAMPLES)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `samples`, dropping the oldest queued samples if they would not fit.
    pub(crate) fn push(&self, samples: &[i16]) {
        let mut ring = self.lock();
        ring.stats.frames_queued += 1;
        let capacity = ring.capacity;
        let samples = if samples.len() > capacity {
            ring.stats.samples_dropped += (samples.len() - capacity) as u64;
            &samples[samples.len() - capacity..]
        } else {
            samples
        };
        let overflow = (ring.samples.len() + samples.len()).saturating_sub(capacity);
        if overflow > 0 {
            ring.samples.drain(..overflow);
            ring.stats.samples_dropped += overflow as u64;
        }
        ring.samples.extend(samples);
    }

    /// Fills `out` from the queue; silence for whatever is missing.
    pub(crate) fn pop(&self, out: &mut [i16]) {
        let mut ring = self.lock();
        if !ring.primed {
            if ring.samples.len() < ring.prime.max(1) {
                out.fill(0);
                return;
            }
            ring.primed = true;
        }
        let n = ring.samples.len().min(out.len());
        for (slot, sample) in out.iter_mut().zip(ring.samples.drain(..n)) {
            *slot = sample;
        }
        out[n..].fill(0);
        ring.stats.samples_played += n as u64;
        if n < out.len() {
            ring.stats.underruns += 1;
            ring.primed = false;
        }
    }

    /// Sound waiting in the queue.
    pub(crate) fn queued(&self) -> Duration {
        let samples = self.lock().samples.len() as u64;
        Duration::from_micros(samples * 1_000_000 / u64::from(SAMPLE_RATE))
    }

    pub(crate) fn stats(&self) -> PlaybackStats {
        self.lock().stats
    }
}

/// What [`FrameQueue::pop_timeout`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Popped {
    Frame(Frame),
    /// Nothing came in time.
    Empty,
    /// Closed and drained: nothing will come.
    Closed,
}

/// Captured frames waiting for the media engine; bounded, dropping the oldest frame when full.
#[derive(Debug)]
pub(crate) struct FrameQueue {
    state: Mutex<FrameQueueState>,
    ready: Condvar,
    capacity: usize,
}

#[derive(Debug, Default)]
struct FrameQueueState {
    frames: VecDeque<Frame>,
    closed: bool,
    dropped: u64,
}

impl FrameQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(FrameQueueState::default()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FrameQueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame, dropping the oldest when full. Returns false once the queue is closed.
    pub(crate) fn push(&self, frame: Frame) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        if state.frames.len() >= self.capacity {
            state.frames.pop_front();
            state.dropped += 1;
        }
        state.frames.push_back(frame);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// The oldest frame, waiting up to `timeout` for one.
    pub(crate) fn pop_timeout(&self, timeout: Duration) -> Popped {
        let state = self.lock();
        let (mut state, _) = self
            .ready
            .wait_timeout_while(state, timeout, |s| s.frames.is_empty() && !s.closed)
            .unwrap_or_else(PoisonError::into_inner);
        match state.frames.pop_front() {
            Some(frame) => Popped::Frame(frame),
            None if state.closed => Popped::Closed,
            None => Popped::Empty,
        }
    }

    /// No more frames will come; a waiting consumer wakes up.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Frames dropped because the consumer lagged.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ramp(start: i16, n: usize) -> Vec<i16> {
        (0..n).map(|i| start + i16::try_from(i).unwrap()).collect()
    }

    #[test]
    fn overflow_drops_the_oldest_samples() {
        let queue = PlaybackQueue::new(10, 1);
        queue.push(&ramp(0, 6));
        queue.push(&ramp(100, 6)); // 12 > 10: samples 0 and 1 go
        let mut out = [0i16; 10];
        queue.pop(&mut out);
        assert_eq!(out, [2, 3, 4, 5, 100, 101, 102, 103, 104, 105]);
        let stats = queue.stats();
        assert_eq!(
            (stats.frames_queued, stats.samples_dropped, stats.samples_played),
            (2, 2, 10)
        );
        // A push larger than the whole queue keeps its newest part.
        queue.push(&ramp(1000, 15));
        queue.pop(&mut out);
        assert_eq!(out[0], 1005);
        assert_eq!(queue.stats().samples_dropped, 7);
    }

    #[test]
    fn underrun_plays_silence_then_waits_for_the_prime() {
        let queue = PlaybackQueue::new(100, 4);
        let mut out = [9i16; 6];
        queue.pop(&mut out);
        assert_eq!(out, [0; 6], "nothing queued: silence");
        assert_eq!(queue.stats().underruns, 0, "not started yet: not an underrun");
        queue.push(&[1, 2, 3]);
        queue.pop(&mut out);
        assert_eq!(out, [0; 6], "below the prime: still silence");
        queue.push(&[4, 5, 6]);
        queue.pop(&mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
        queue.push(&[7, 8, 9, 10]);
        queue.pop(&mut out);
        assert_eq!(out, [7, 8, 9, 10, 0, 0], "short: the rest is silence");
        assert_eq!(queue.stats().underruns, 1);
        queue.push(&[11]);
        queue.pop(&mut out);
        assert_eq!(out, [0; 6], "after an underrun it primes again");
        assert_eq!(queue.stats().underruns, 1);
    }

    #[test]
    fn the_call_queue_caps_latency_at_80ms() {
        let queue = PlaybackQueue::for_calls();
        for _ in 0..20 {
            queue.push(&[1; FRAME_SAMPLES]);
        }
        assert_eq!(queue.queued(), Duration::from_millis(80));
    }

    #[test]
    fn the_frame_queue_drops_the_oldest_frame_when_the_consumer_lags() {
        let queue = FrameQueue::new(3);
        for i in 0..5i16 {
            assert!(queue.push(vec![i; 4]));
        }
        assert_eq!(queue.dropped(), 2);
        assert_eq!(queue.pop_timeout(Duration::ZERO), Popped::Frame(vec![2; 4]));
        queue.close();
        assert!(!queue.push(vec![9; 4]));
        assert_eq!(queue.pop_timeout(Duration::ZERO), Popped::Frame(vec![3; 4]));
        assert_eq!(queue.pop_timeout(Duration::ZERO), Popped::Frame(vec![4; 4]));
        let start = std::time::Instant::now();
        assert_eq!(queue.pop_timeout(Duration::from_secs(5)), Popped::Closed);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "closed and empty: no wait"
        );
    }
}
