//! The receive jitter buffer: RTP packets in, one packet (or a gap to conceal) out per playout step.
//!
//! * Packets are keyed by their *extended* sequence number (16-bit RTP numbers unwrapped around the
//!   highest seen), so reordering and wrap-around are plain ordering.
//! * Playout starts once [`JitterConfig::target_packets`] are buffered (3 × 20 ms = 60 ms by default).
//! * Each [`JitterBuffer::pop`] gives the next packet in sequence; when it is missing but later
//!   packets are there, it is declared lost ([`Pop::Lost`], with the following packet if present so
//!   Opus can recover it from that packet's in-band FEC). When the buffer is empty the caller
//!   conceals without moving on ([`Pop::Empty`]): if the packet turns up later, it is played and the
//!   delay has grown by one step — the buffer adapts upwards to the network's jitter. It adapts
//!   downwards by trimming: above `target + slack` packets the oldest are dropped until the depth is
//!   back at the target, which bounds the added latency (≈ 140 ms by default).
//! * A packet older than the next one to play is late and dropped; a second copy is a duplicate.
//! * After `rebuffer_after` empty steps (the far end stopped sending: hold, silence suppression)
//!   the buffer goes back to buffering, so a resumed stream starts cleanly at its own numbers.
//! * A jump of more than [`JitterConfig::reset_gap`] sequence numbers means the stream restarted
//!   (new sender, new SSRC): the buffer is reset.
//! * Bounded: never more than `capacity` packets; beyond that the oldest go.

use std::collections::BTreeMap;

use bytes::Bytes;

/// Tuning of a [`JitterBuffer`], in packets (one packet is normally 20 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Depth at which playout starts and to which trimming returns.
    pub target_packets: usize,
    /// Extra depth tolerated above the target before the oldest packets are dropped.
    pub slack_packets: usize,
    /// Hard bound on buffered packets.
    pub capacity: usize,
    /// Empty playout steps after which the buffer starts buffering again.
    pub rebuffer_after: u32,
    /// A sequence jump larger than this resets the buffer.
    pub reset_gap: u64,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            target_packets: 3,
            slack_packets: 4,
            capacity: 50,
            rebuffer_after: 10,
            reset_gap: 500,
        }
    }
}

/// One received RTP packet, as far as the jitter buffer cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
    pub payload: Bytes,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Accepted,
    /// Already buffered.
    Duplicate,
    /// Its turn has passed (played or concealed already).
    Late,
    /// Accepted after a reset (the stream jumped).
    Reset,
}

/// What to play next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop {
    /// The next packet in sequence.
    Packet(Packet),
    /// The next packet is lost; `next` is the one after it, if already here (for FEC).
    Lost { next: Option<Packet> },
    /// Nothing to play: still buffering, or the buffer ran dry (conceal, do not advance).
    Empty,
}

/// Counters of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterCounters {
    pub accepted: u64,
    pub duplicates: u64,
    pub late: u64,
    /// Packets declared lost at their playout time.
    pub lost: u64,
    /// Playout steps with an empty buffer while playing.
    pub underruns: u64,
    /// Packets dropped to bring the delay back to the target, or because the buffer was full.
    pub trimmed: u64,
    pub resets: u64,
}

/// See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    packets: BTreeMap<u64, Packet>,
    /// Extended sequence number to play next (None while buffering from scratch).
    next: Option<u64>,
    /// Highest extended sequence number seen.
    highest: Option<u64>,
    playing: bool,
    empty_steps: u32,
    counters: JitterCounters,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new(JitterConfig::default())
    }
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        let cfg = JitterConfig {
            target_packets: cfg.target_packets.max(1),
            capacity: cfg
                .capacity
                .max(cfg.target_packets.max(1) + cfg.slack_packets + 1),
            ..cfg
        };
        Self {
            cfg,
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            playing: false,
            empty_steps: 0,
            counters: JitterCounters::default(),
        }
    }

    pub fn counters(&self) -> JitterCounters {
        self.counters
    }

    /// Packets buffered now.
    pub fn depth(&self) -> usize {
        self.packets.len()
    }

    /// Whether playout has started (false while buffering).
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// Forgets everything (new stream); counters are kept.
    pub fn reset(&mut self) {
        self.packets.clear();
        self.next = None;
        self.highest = None;
        self.playing = false;
        self.empty_steps = 0;
    }

    /// The extended form of `seq`: the value congruent to it mod 2^16 nearest the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            // Start well above zero so earlier (reordered) packets still have room below.
            return (1u64 << 32) + u64::from(seq);
        };
        let base = highest & !0xFFFF;
        let candidate = base | u64::from(seq);
        [candidate.wrapping_sub(1 << 16), candidate, candidate + (1 << 16)]
            .into_iter()
            .min_by_key(|c| c.abs_diff(highest))
            .unwrap_or(candidate)
    }

    pub fn push(&mut self, packet: Packet) -> Push {
        let mut ext = self.extend(packet.seq);
        let mut outcome = Push::Accepted;
        let far = self.highest.is_some_and(|h| h.abs_diff(ext) > self.cfg.reset_gap);
        if far {
            self.reset();
            self.counters.resets += 1;
            ext = self.extend(packet.seq);
            outcome = Push::Reset;
        }
        if self.next.is_some_and(|next| ext < next) {
            self.counters.late += 1;
            return Push::Late;
        }
        if self.packets.contains_key(&ext) {
            self.counters.duplicates += 1;
            return Push::Duplicate;
        }
        self.packets.insert(ext, packet);
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.counters.accepted += 1;
        while self.packets.len() > self.cfg.capacity {
            if let Some((dropped, _)) = self.packets.pop_first() {
                self.counters.trimmed += 1;
                if self.next.is_some_and(|next| next <= dropped) {
                    self.next = Some(dropped + 1);
                }
            }
        }
        outcome
    }

    /// The next thing to play; call once per packet duration (20 ms).
    pub fn pop(&mut self) -> Pop {
        if !self.playing {
            if self.packets.len() < self.cfg.target_packets {
                return Pop::Empty;
            }
            self.playing = true;
            self.empty_steps = 0;
            let first = self.packets.first_key_value().map(|(k, _)| *k);
            self.next = match (self.next, first) {
                (Some(next), Some(first)) => Some(next.max(first)),
                (_, first) => first,
            };
        }
        // Trim back to the target when the delay has grown too much.
        if self.packets.len() > self.cfg.target_packets + self.cfg.slack_packets {
            while self.packets.len() > self.cfg.target_packets {
                if let Some((dropped, _)) = self.packets.pop_first() {
                    self.counters.trimmed += 1;
                    self.next = Some(dropped + 1);
                }
            }
        }
        let Some(next) = self.next else {
            return Pop::Empty;
        };
        if let Some(packet) = self.packets.remove(&next) {
            self.next = Some(next + 1);
            self.empty_steps = 0;
            return Pop::Packet(packet);
        }
        if self.packets.is_empty() {
            self.counters.underruns += 1;
            self.empty_steps += 1;
            if self.empty_steps > self.cfg.rebuffer_after {
                self.playing = false;
            }
            return Pop::Empty;
        }
        self.counters.lost += 1;
        self.empty_steps = 0;
        self.next = Some(next + 1);
        Pop::Lost {
            next: self.packets.get(&(next + 1)).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pkt(seq: u16) -> Packet {
        Packet {
            seq,
            timestamp: u32::from(seq) * 960,
            payload_type: 111,
            payload: Bytes::from(vec![seq.to_be_bytes()[0], seq.to_be_bytes()[1]]),
        }
    }

    fn seq_of(pop: &Pop) -> Option<u16> {
        match pop {
            Pop::Packet(p) => Some(p.seq),
            _ => None,
        }
    }

    #[test]
    fn waits_for_the_target_depth_then_plays_in_order() {
        let mut jb = JitterBuffer::default();
        jb.push(pkt(10));
        assert_eq!(jb.pop(), Pop::Empty);
        jb.push(pkt(11));
        assert_eq!(jb.pop(), Pop::Empty);
        jb.push(pkt(12));
        assert_eq!(seq_of(&jb.pop()), Some(10));
        jb.push(pkt(13));
        assert_eq!(seq_of(&jb.pop()), Some(11));
        assert_eq!(seq_of(&jb.pop()), Some(12));
        assert_eq!(seq_of(&jb.pop()), Some(13));
        assert_eq!(jb.pop(), Pop::Empty);
        assert_eq!(jb.counters().underruns, 1);
    }

    #[test]
    fn reorders_by_sequence_number() {
        let mut jb = JitterBuffer::default();
        for seq in [5, 3, 4, 7, 6] {
            assert_eq!(jb.push(pkt(seq)), Push::Accepted);
        }
        let order: Vec<_> = (0..5).map(|_| seq_of(&jb.pop()).unwrap()).collect();
        assert_eq!(order, vec![3, 4, 5, 6, 7]);
    }

    #[test]
    fn drops_duplicates_and_late_packets() {
        let mut jb = JitterBuffer::default();
        for seq in [1, 2, 3] {
            jb.push(pkt(seq));
        }
        assert_eq!(jb.push(pkt(2)), Push::Duplicate);
        assert_eq!(seq_of(&jb.pop()), Some(1));
        assert_eq!(jb.push(pkt(1)), Push::Late);
        assert_eq!(seq_of(&jb.pop()), Some(2));
        let c = jb.counters();
        assert_eq!((c.duplicates, c.late, c.accepted), (1, 1, 3));
    }

    #[test]
    fn a_gap_is_declared_lost_with_the_next_packet_for_fec() {
        let mut jb = JitterBuffer::default();
        for seq in [1, 2, 4, 5] {
            jb.push(pkt(seq));
        }
        assert_eq!(seq_of(&jb.pop()), Some(1));
        assert_eq!(seq_of(&jb.pop()), Some(2));
        assert_eq!(jb.pop(), Pop::Lost { next: Some(pkt(4)) });
        // The lost packet arriving now is late.
        assert_eq!(jb.push(pkt(3)), Push::Late);
        assert_eq!(seq_of(&jb.pop()), Some(4));
        assert_eq!(seq_of(&jb.pop()), Some(5));
        // Two lost in a row: the first has no FEC source yet.
        for seq in [8, 9, 10] {
            jb.push(pkt(seq));
        }
        assert_eq!(jb.pop(), Pop::Lost { next: None });
        assert_eq!(jb.pop(), Pop::Lost { next: Some(pkt(8)) });
        assert_eq!(seq_of(&jb.pop()), Some(8));
        assert_eq!(jb.counters().lost, 3);
    }

    #[test]
    fn an_empty_buffer_waits_for_a_late_packet_instead_of_skipping_it() {
        let mut jb = JitterBuffer::default();
        for seq in [1, 2, 3] {
            jb.push(pkt(seq));
        }
        for want in [1, 2, 3] {
            assert_eq!(seq_of(&jb.pop()), Some(want));
        }
        assert_eq!(jb.pop(), Pop::Empty); // packet 4 is late: conceal, keep waiting
        jb.push(pkt(4));
        assert_eq!(seq_of(&jb.pop()), Some(4));
        assert_eq!(jb.counters().lost, 0);
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut jb = JitterBuffer::default();
        for seq in [65_534, 0, 65_535, 1] {
            jb.push(pkt(seq));
        }
        let order: Vec<_> = (0..4).map(|_| seq_of(&jb.pop()).unwrap()).collect();
        assert_eq!(order, vec![65_534, 65_535, 0, 1]);
    }

    #[test]
    fn stays_bounded_and_trims_excess_delay() {
        let mut jb = JitterBuffer::default();
        for seq in 0..200u16 {
            jb.push(pkt(seq));
            assert!(jb.depth() <= 50);
        }
        // First pop trims to the target depth and plays the oldest survivor.
        let first = seq_of(&jb.pop()).unwrap();
        assert_eq!(first, 197);
        assert!(jb.counters().trimmed > 0);
    }

    #[test]
    fn rebuffers_after_a_long_silence_and_resets_on_a_jump() {
        let mut jb = JitterBuffer::default();
        for seq in [1, 2, 3] {
            jb.push(pkt(seq));
        }
        for _ in 0..3 {
            jb.pop();
        }
        for _ in 0..11 {
            assert_eq!(jb.pop(), Pop::Empty);
        }
        assert!(!jb.is_playing());
        // Stream resumes further on (sender skipped numbers while on hold).
        for seq in [40, 41] {
            jb.push(pkt(seq));
        }
        assert_eq!(jb.pop(), Pop::Empty);
        jb.push(pkt(42));
        assert_eq!(seq_of(&jb.pop()), Some(40));
        // A new stream far away resets.
        assert_eq!(jb.push(pkt(30_000)), Push::Reset);
        assert_eq!(jb.counters().resets, 1);
        assert_eq!(jb.depth(), 1);
    }
}
