use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{Id, LeadStatus, Timestamp};

string_enum! {
    /// Who placed the call.
    CallDirection, "call direction" {
        Outbound => "outbound",
        Inbound => "inbound",
    }
}

string_enum! {
    /// How a call ended, as the softphone saw it.
    CallEnd, "call end" {
        /// The telecaller hung up.
        HungUpHere => "hung_up_here",
        /// The other party hung up.
        HungUpThere => "hung_up_there",
        Busy => "busy",
        NoAnswer => "no_answer",
        /// Declined: the telecaller rejected an incoming call, or the callee an outgoing one.
        Rejected => "rejected",
        /// Given up before it was answered.
        Cancelled => "cancelled",
        /// The network, the provider or the media failed.
        Failed => "failed",
        /// The app stopped mid-call (crash, power cut); the call ends at its last sign of life.
        Interrupted => "interrupted",
    }
}

/// Talk time in whole seconds: answer to end, zero for a call never answered (or not ended), never negative.
pub fn talk_seconds(answered_at: Option<Timestamp>, ended_at: Option<Timestamp>) -> i64 {
    match (answered_at, ended_at) {
        (Some(a), Some(e)) => (e - a).num_seconds().max(0),
        _ => 0,
    }
}

/// A follow-up promised at the end of a call, as written in the call log.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpSpec {
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub due_at: Timestamp,
    #[serde(default)]
    pub note: Option<String>,
}

/// The wrap-up form: what the telecaller adds to a drafted call to log it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapUp {
    /// The lead the call was with; required when the draft has none (an unknown incoming number).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub lead_id: Option<Id>,
    /// A code of the disposition catalogue.
    pub disposition: String,
    #[serde(default)]
    pub outcome_tags: Vec<String>,
    /// Markdown.
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub follow_up: Option<FollowUpSpec>,
    /// The lead's new status, when the call moved it along (logged with the call, as one edit of the lead).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub lead_status: Option<LeadStatus>,
}

/// One call with a lead. Append-only: once written it is never edited, so it never conflicts in sync.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLog {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub telecaller_id: Id,
    pub direction: CallDirection,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub started_at: Timestamp,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
    pub answered_at: Option<Timestamp>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
    pub ended_at: Option<Timestamp>,
    /// Talk time in seconds (zero when not answered).
    #[serde(default)]
    pub duration_s: i64,
    /// A code from the disposition catalogue, e.g. `interested`.
    pub disposition: String,
    #[serde(default)]
    pub outcome_tags: Vec<String>,
    /// Markdown.
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub follow_up: Option<FollowUpSpec>,
    #[serde(default)]
    pub recording_url: Option<String>,
    /// The telephony provider's id for the call (Exotel's CallSid).
    #[serde(default)]
    pub provider_call_id: Option<String>,
    /// The device the call was logged on.
    #[serde(default)]
    pub device_id: Option<String>,
    /// How the call sounded, as the softphone measured it; absent for a call it did not carry (a
    /// click-to-call, a log typed in by hand) and in logs of older clients, so older servers and clients
    /// keep working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<CallQuality>,
}

/// The highest MOS accepted (the ITU-T P.800 scale tops out at 5; the E-model estimate at about 4.5).
pub const MAX_MOS: f64 = 5.0;
/// The lowest MOS (the bottom of the P.800 scale).
pub const MIN_MOS: f64 = 1.0;
/// The longest codec name accepted, in characters.
pub const MAX_CODEC_CHARS: usize = 64;
/// The largest round-trip time or jitter accepted, in milliseconds (a minute: anything more is a broken
/// measurement, not a call).
pub const MAX_QUALITY_MS: f64 = 60_000.0;

/// A call's quality figures, measured by the softphone over the call (RTCP and the receive path) and kept
/// with its log: what a supervisor looks at when a call "sounded bad".
///
/// Every number must be finite: MOS from 1 to 5, loss fractions from 0 to 1, times from 0 to 60,000 ms; a
/// codec name has 1 to 64 characters. The server refuses a log with other figures (`bad_quality`), and so
/// does the desktop cache (`CallQuality::check` says what is wrong).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQuality {
    /// Estimated mean opinion score, 1.0 (bad) to 5.0 (the softphone's ITU-T G.107 E-model estimate tops
    /// out near 4.5).
    #[cfg_attr(feature = "openapi", schema(minimum = 1.0, maximum = 5.0))]
    pub mos: f64,
    /// Round-trip time in milliseconds (from RTCP); absent when never measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 60_000.0))]
    pub rtt_ms: Option<f64>,
    /// Interarrival jitter of the audio we received (RFC 3550), milliseconds.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 60_000.0))]
    pub jitter_ms: f64,
    /// The fraction of the far end's packets lost on the way to us, 0 to 1.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub loss: f64,
    /// The audio codec used, e.g. `opus`, `PCMU` (1 to 64 characters, no surrounding spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub codec: Option<String>,
    /// The far end's view of our audio (its RTCP reception reports): the fraction lost, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub remote_loss: Option<f64>,
    /// The far end's view of our audio: its interarrival jitter, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 60_000.0))]
    pub remote_jitter_ms: Option<f64>,
}

/// Figures checked by [`CallQuality::check`] are finite numbers, so equality is an equivalence on them
/// (JSON cannot carry NaN either).
impl Eq for CallQuality {}

/// Why call quality figures were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("call quality: {0}")]
pub struct BadCallQuality(pub String);

impl CallQuality {
    /// Figures with no round-trip time, codec or far-end view.
    pub fn new(mos: f64, jitter_ms: f64, loss: f64) -> Self {
        Self {
            mos,
            rtt_ms: None,
            jitter_ms,
            loss,
            codec: None,
            remote_loss: None,
            remote_jitter_ms: None,
        }
    }

    /// Whether the figures are plausible: finite numbers in their ranges (see the type's documentation)
    /// and a codec name of 1 to 64 printable characters.
    pub fn check(&self) -> Result<(), BadCallQuality> {
        let bad = |m: String| Err(BadCallQuality(m));
        let finite = |name: &str, v: f64| -> Result<(), BadCallQuality> {
            if v.is_finite() {
                Ok(())
            } else {
                bad(format!("{name} must be a finite number"))
            }
        };
        finite("mos", self.mos)?;
        if !(MIN_MOS..=MAX_MOS).contains(&self.mos) {
            return bad(format!("mos {} is outside {MIN_MOS}..={MAX_MOS}", self.mos));
        }
        let fraction = |name: &str, v: f64| -> Result<(), BadCallQuality> {
            finite(name, v)?;
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                bad(format!("{name} {v} is outside 0..=1 (a fraction of packets)"))
            }
        };
        let millis = |name: &str, v: f64| -> Result<(), BadCallQuality> {
            finite(name, v)?;
            if (0.0..=MAX_QUALITY_MS).contains(&v) {
                Ok(())
            } else {
                bad(format!("{name} {v} is outside 0..={MAX_QUALITY_MS} ms"))
            }
        };
        fraction("loss", self.loss)?;
        millis("jitter_ms", self.jitter_ms)?;
        if let Some(rtt) = self.rtt_ms {
            millis("rtt_ms", rtt)?;
        }
        if let Some(loss) = self.remote_loss {
            fraction("remote_loss", loss)?;
        }
        if let Some(jitter) = self.remote_jitter_ms {
            millis("remote_jitter_ms", jitter)?;
        }
        if let Some(codec) = &self.codec {
            let n = codec.chars().count();
            if n == 0 || n > MAX_CODEC_CHARS || codec.chars().any(char::is_control) || codec.trim() != codec {
                return bad(format!(
                    "codec must be 1 to {MAX_CODEC_CHARS} characters without control characters or \
                     surrounding spaces"
                ));
            }
        }
        Ok(())
    }
}

/// The id of the follow-up a call log's [`FollowUpSpec`] creates: derived from the call log's id (UUIDv5), so
/// the device that logged the call offline and the server that stores it name the same follow-up, and a
/// pull never brings a second copy of one the device already shows.
pub fn follow_up_id_for_call(call_log_id: &Id) -> Id {
    /// Namespace of follow-ups made by call logs (a fixed random UUID).
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6c0f_3b1e_8f5d_4c2a_9e71_2d4b_a8c3_f015);
    uuid::Uuid::new_v5(&NAMESPACE, call_log_id.as_bytes())
}

impl CallLog {
    /// The follow-up this call log schedules, as both sides store it (`None` without a follow-up).
    pub fn scheduled_follow_up(&self, assigned_to: Id) -> Option<FollowUp> {
        self.follow_up.as_ref().map(|spec| FollowUp {
            id: follow_up_id_for_call(&self.id),
            lead_id: self.lead_id,
            assigned_to,
            due_at: spec.due_at,
            note: spec.note.clone(),
            call_log_id: Some(self.id),
            completed_at: None,
            created_at: self.ended_at.unwrap_or(self.started_at),
        })
    }
}

/// A scheduled callback on a lead.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
    /// Who must make the call back.
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub assigned_to: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub due_at: Timestamp,
    #[serde(default)]
    pub note: Option<String>,
    /// The call log that scheduled it, if any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub call_log_id: Option<Id>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
    pub completed_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn log_json() -> serde_json::Value {
        serde_json::json!({
            "id": "01890000-0000-7000-8000-000000000001",
            "lead_id": "01890000-0000-7000-8000-000000000002",
            "telecaller_id": "01890000-0000-7000-8000-000000000003",
            "direction": "outbound",
            "started_at": "2026-11-25T09:30:00Z",
            "disposition": "interested",
        })
    }

    #[test]
    fn a_log_without_quality_reads_and_writes_as_before() {
        let log: CallLog = serde_json::from_value(log_json()).unwrap();
        assert_eq!(log.quality, None);
        let back = serde_json::to_value(&log).unwrap();
        assert!(
            back.get("quality").is_none(),
            "no quality key on the wire: {back}"
        );
    }

    #[test]
    fn quality_round_trips_and_leaves_unknowns_off_the_wire() {
        let mut json = log_json();
        json["quality"] = serde_json::json!({"mos": 4.1, "jitter_ms": 3.5, "loss": 0.01, "codec": "opus"});
        let log: CallLog = serde_json::from_value(json).unwrap();
        let q = log.quality.clone().unwrap();
        assert_eq!(
            q,
            CallQuality {
                codec: Some("opus".into()),
                ..CallQuality::new(4.1, 3.5, 0.01)
            }
        );
        assert_eq!(q.check(), Ok(()));
        let back = serde_json::to_value(&log).unwrap();
        assert_eq!(
            back["quality"],
            serde_json::json!({"mos": 4.1, "jitter_ms": 3.5, "loss": 0.01, "codec": "opus"})
        );
        // A figure missing that is not optional is a malformed body.
        let mut json = log_json();
        json["quality"] = serde_json::json!({"mos": 4.1, "loss": 0.01});
        assert!(serde_json::from_value::<CallLog>(json).is_err());
    }

    #[test]
    fn out_of_range_figures_are_refused_with_the_reason() {
        let good = CallQuality {
            rtt_ms: Some(120.0),
            remote_loss: Some(0.0),
            remote_jitter_ms: Some(0.0),
            codec: Some("PCMU".into()),
            ..CallQuality::new(1.0, 0.0, 1.0)
        };
        assert_eq!(good.check(), Ok(()));
        assert_eq!(CallQuality::new(5.0, 0.0, 0.0).check(), Ok(()));
        let cases: Vec<(CallQuality, &str)> = vec![
            (CallQuality::new(0.9, 1.0, 0.0), "mos"),
            (CallQuality::new(5.01, 1.0, 0.0), "mos"),
            (CallQuality::new(f64::NAN, 1.0, 0.0), "mos must be a finite"),
            (CallQuality::new(4.0, -1.0, 0.0), "jitter_ms"),
            (
                CallQuality::new(4.0, f64::INFINITY, 0.0),
                "jitter_ms must be a finite",
            ),
            (CallQuality::new(4.0, 1.0, 1.5), "loss"),
            (CallQuality::new(4.0, 1.0, -0.1), "loss"),
            (
                CallQuality {
                    rtt_ms: Some(-5.0),
                    ..good.clone()
                },
                "rtt_ms",
            ),
            (
                CallQuality {
                    rtt_ms: Some(f64::NAN),
                    ..good.clone()
                },
                "rtt_ms",
            ),
            (
                CallQuality {
                    remote_loss: Some(2.0),
                    ..good.clone()
                },
                "remote_loss",
            ),
            (
                CallQuality {
                    remote_jitter_ms: Some(1e9),
                    ..good.clone()
                },
                "remote_jitter_ms",
            ),
            (
                CallQuality {
                    codec: Some(String::new()),
                    ..good.clone()
                },
                "codec",
            ),
            (
                CallQuality {
                    codec: Some("x".repeat(65)),
                    ..good.clone()
                },
                "codec",
            ),
            (
                CallQuality {
                    codec: Some("op\nus".into()),
                    ..good.clone()
                },
                "codec",
            ),
        ];
        for (q, what) in cases {
            let err = q.check().unwrap_err();
            assert!(err.to_string().contains(what), "{q:?}: {err}");
        }
    }
}
