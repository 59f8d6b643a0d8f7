//! Call quality: RFC 3550 receive statistics, the far end's view from RTCP reception reports (with
//! the round-trip time from LSR/DLSR), and a MOS estimate with a simplified ITU-T G.107 E-model.
//!
//! # The E-model, simplified
//!
//! `R = 93.2 − Id − Ie,eff` (the default basic signal-to-noise ratio `Ro − Is` = 93.2 of G.107,
//! no advantage factor), then `MOS = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶` for `0 < R < 100`
//! (1 below, 4.5 above); the best narrowband score is therefore ≈ 4.41.
//!
//! * Delay impairment `Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)` (the usual Cole–Rosenbluth
//!   simplification), `d` the one-way mouth-to-ear delay in ms, estimated as
//!   `RTT/2 + jitter buffer (60 ms target + 2·jitter) + packetisation (20 ms) + codec look-ahead`.
//! * Equipment impairment with loss `Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl + Bpl)` (random loss,
//!   `BurstR = 1`), `Ppl` the packet loss in percent. G.711 with concealment: `Ie = 0`,
//!   `Bpl = 25.1` (G.113 Appendix I). Opus has no G.113 entry; we take `Ie = 0`, `Bpl = 30`
//!   (in-band FEC and PLC make it at least as loss-robust as G.711 with PLC) — an assumption.
//!
//! The loss and jitter fed in are the worse of the two directions (our receive statistics and the
//! far end's reception report), so the score describes the call, not one direction.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rtc::interceptor::{Interceptor, Packet as InterceptorPacket, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;

use super::Codec;

/// RFC 3550 statistics of the stream we receive (appendix A.3 loss, A.8 jitter).
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    epoch: Instant,
    ssrc: Option<u32>,
    clock_rate: u32,
    pub packets: u64,
    pub bytes: u64,
    base_ext: u64,
    max_ext: u64,
    /// Packets expected by earlier streams (SSRCs) of this session.
    prior_expected: u64,
    /// Interarrival jitter in timestamp units (×1, not the ×16 fixed point).
    jitter: f64,
    last_transit: Option<f64>,
}

impl Default for ReceiveStats {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            ssrc: None,
            clock_rate: 8_000,
            packets: 0,
            bytes: 0,
            base_ext: 0,
            max_ext: 0,
            prior_expected: 0,
            jitter: 0.0,
            last_transit: None,
        }
    }
}

impl ReceiveStats {
    /// Records one RTP packet. A new SSRC restarts the sequence bookkeeping (counts stay).
    pub fn on_packet(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        clock_rate: u32,
        bytes: usize,
        at: Instant,
    ) {
        self.packets += 1;
        self.bytes += bytes as u64;
        if self.ssrc != Some(ssrc) || self.clock_rate != clock_rate {
            // A new stream: what the old one expected stays in the totals.
            self.prior_expected += self.stream_expected();
            self.ssrc = Some(ssrc);
            self.clock_rate = clock_rate.max(1);
            self.max_ext = (1 << 32) + u64::from(seq);
            self.base_ext = self.max_ext;
            self.last_transit = None;
        } else {
            let base = self.max_ext & !0xFFFF;
            let candidate = base | u64::from(seq);
            let ext = [candidate.wrapping_sub(1 << 16), candidate, candidate + (1 << 16)]
                .into_iter()
                .min_by_key(|c| c.abs_diff(self.max_ext))
                .unwrap_or(candidate);
            self.max_ext = self.max_ext.max(ext);
            self.base_ext = self.base_ext.min(ext);
        }
        let arrival = at.saturating_duration_since(self.epoch).as_secs_f64() * f64::from(self.clock_rate);
        let transit = arrival - f64::from(timestamp);
        if let Some(last) = self.last_transit {
            let mut d = (transit - last).abs();
            // A timestamp wrap (or a jump) is not jitter.
            if d > f64::from(self.clock_rate) * 10.0 {
                d = self.jitter;
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Packets expected so far (from the sequence numbers).
    pub fn expected(&self) -> u64 {
        self.prior_expected + self.stream_expected()
    }

    fn stream_expected(&self) -> u64 {
        if self.ssrc.is_none() {
            0
        } else {
            self.max_ext.saturating_sub(self.base_ext) + 1
        }
    }

    /// Packets lost so far (never negative: duplicates do not make up for losses).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.packets)
    }

    /// Lost / expected since the start.
    pub fn loss_fraction(&self) -> f64 {
        let expected = self.expected();
        if expected == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let fraction = self.lost() as f64 / expected as f64;
        fraction.clamp(0.0, 1.0)
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(self.clock_rate.max(1))
    }
}

/// MOS estimate (see the [module documentation](self) for the formula).
pub fn estimate_mos(codec: Option<Codec>, rtt_ms: Option<f64>, jitter_ms: f64, loss_fraction: f64) -> f64 {
    let (ie, bpl, lookahead) = match codec {
        Some(Codec::Opus) => (0.0, 30.0, 6.5),
        Some(Codec::Pcmu | Codec::Pcma) | None => (0.0, 25.1, 0.0),
    };
    let jitter_ms = jitter_ms.max(0.0);
    let d = rtt_ms.unwrap_or(0.0).max(0.0) / 2.0 + 60.0 + 2.0 * jitter_ms + 20.0 + lookahead;
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = (loss_fraction.clamp(0.0, 1.0)) * 100.0;
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl);
    let r = 93.2 - id - ie_eff;
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

/// What the far end reports about the stream we send (RTCP reception report blocks).
#[derive(Debug, Clone, Default)]
pub struct RemoteView {
    pub reports: u64,
    pub fraction_lost: Option<f64>,
    pub total_lost: Option<u64>,
    /// Interarrival jitter in our sending codec's timestamp units.
    pub jitter_units: Option<u32>,
    pub rtt: Option<Duration>,
    /// Middle 32 bits of the NTP time of our recent sender reports, and when they left.
    sent_reports: VecDeque<(u32, Instant)>,
}

impl RemoteView {
    fn on_report(&mut self, report: &ReceptionReport, now: Instant) {
        self.reports += 1;
        self.fraction_lost = Some(f64::from(report.fraction_lost) / 256.0);
        // 24-bit signed on the wire; the crate gives it as u32. Negative (duplicates) counts as 0.
        let total = report.total_lost & 0x00FF_FFFF;
        self.total_lost = Some(if total & 0x0080_0000 != 0 {
            0
        } else {
            u64::from(total)
        });
        self.jitter_units = Some(report.jitter);
        if report.last_sender_report != 0
            && let Some((_, sent)) = self
                .sent_reports
                .iter()
                .find(|(mid, _)| *mid == report.last_sender_report)
        {
            let dlsr = Duration::from_secs_f64(f64::from(report.delay) / 65_536.0);
            if let Some(rtt) = now
                .checked_duration_since(*sent)
                .and_then(|d| d.checked_sub(dlsr))
            {
                self.rtt = Some(rtt);
            }
        }
    }

    fn on_sender_report_sent(&mut self, ntp_time: u64, now: Instant) {
        #[allow(clippy::cast_possible_truncation)]
        let mid = (ntp_time >> 16) as u32;
        if self.sent_reports.len() == 16 {
            self.sent_reports.pop_front();
        }
        self.sent_reports.push_back((mid, now));
    }
}

/// An interceptor at the wire end of the chain that watches RTCP both ways: the sender reports we
/// send (to remember when each left) and the reception reports the far end sends about our SSRC
/// (in its RRs, or in its SRs while it sends too). It never changes or holds a packet.
pub struct RtcpWatch {
    view: Arc<Mutex<RemoteView>>,
    local_ssrc: u32,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl RtcpWatch {
    pub fn new(local_ssrc: u32, view: Arc<Mutex<RemoteView>>) -> Self {
        Self {
            view,
            local_ssrc,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RtcpWatch {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let InterceptorPacket::Rtcp(packets) = &msg.message.packet {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            for packet in packets {
                let any = packet.as_any();
                let reports = if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    &sr.reports
                } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    &rr.reports
                } else {
                    continue;
                };
                for report in reports.iter().filter(|r| r.ssrc == self.local_ssrc) {
                    view.on_report(report, msg.now);
                }
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let InterceptorPacket::Rtcp(packets) = &msg.message.packet {
            for packet in packets {
                if let Some(sr) = packet.as_any().downcast_ref::<SenderReport>()
                    && sr.ssrc == self.local_ssrc
                {
                    self.view
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .on_sender_report_sent(sr.ntp_time, msg.now);
                }
            }
        }
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for RtcpWatch {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_stats_count_loss_and_jitter() {
        let mut stats = ReceiveStats::default();
        let start = Instant::now();
        // 100 packets of 20 ms, every 10th lost, arrival perfectly regular: no jitter.
        for i in 0..100u16 {
            if i % 10 == 5 {
                continue;
            }
            let at = start + Duration::from_millis(u64::from(i) * 20);
            stats.on_packet(7, 65_500u16.wrapping_add(i), u32::from(i) * 160, 8_000, 160, at);
        }
        assert_eq!(stats.expected(), 100);
        assert_eq!(stats.lost(), 10);
        assert!((stats.loss_fraction() - 0.1).abs() < 1e-9);
        assert!(stats.jitter_ms() < 0.01, "{}", stats.jitter_ms());

        // Alternating ±5 ms arrival offsets converge to about 10 ms of jitter.
        let mut jittery = ReceiveStats::default();
        for i in 0..500u32 {
            let wobble = if i % 2 == 0 { 0 } else { 10 };
            let at = start + Duration::from_millis(u64::from(i) * 20 + wobble);
            jittery.on_packet(9, i as u16, i * 960, 48_000, 100, at);
        }
        assert!(
            (jittery.jitter_ms() - 10.0).abs() < 1.0,
            "{}",
            jittery.jitter_ms()
        );
        assert_eq!(jittery.lost(), 0);
    }

    #[test]
    fn mos_falls_with_loss_delay_and_jitter() {
        let perfect = estimate_mos(Some(Codec::Pcmu), Some(0.0), 0.0, 0.0);
        assert!((4.3..=4.41).contains(&perfect), "{perfect}");
        let lossy = estimate_mos(Some(Codec::Pcmu), Some(40.0), 5.0, 0.05);
        assert!((3.5..4.1).contains(&lossy), "{lossy}");
        let bad = estimate_mos(Some(Codec::Pcmu), Some(600.0), 60.0, 0.2);
        assert!(bad < 2.6, "{bad}");
        assert!(estimate_mos(Some(Codec::Opus), Some(40.0), 5.0, 0.05) > lossy - 0.2);
        assert_eq!(estimate_mos(None, Some(1e9), 0.0, 1.0), 1.0);
    }

    #[test]
    fn round_trip_time_comes_from_lsr_and_dlsr() {
        let mut view = RemoteView::default();
        let t0 = Instant::now();
        let ntp: u64 = 0x1234_5678_9ABC_DEF0;
        view.on_sender_report_sent(ntp, t0);
        let report = ReceptionReport {
            ssrc: 1,
            fraction_lost: 64,
            total_lost: 12,
            last_sequence_number: 0,
            jitter: 80,
            last_sender_report: 0x5678_9ABC,
            delay: 65_536 / 10, // 100 ms held at the far end
        };
        view.on_report(&report, t0 + Duration::from_millis(180));
        let rtt = view.rtt.map(|d| d.as_secs_f64() * 1000.0).unwrap_or_default();
        assert!((rtt - 80.0).abs() < 0.1, "{rtt}");
        assert_eq!(view.fraction_lost, Some(0.25));
        assert_eq!(view.total_lost, Some(12));
    }
}
