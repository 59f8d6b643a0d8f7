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
