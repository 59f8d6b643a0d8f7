use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{Id, Timestamp};

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
