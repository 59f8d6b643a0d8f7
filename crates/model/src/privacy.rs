//! Wire types of data-protection requests (admins only): a person's data exported
//! (`POST /api/v1/privacy/export`, GDPR Art. 15, DPDP Act s.11) and erased (`POST /api/v1/privacy/erase`,
//! GDPR Art. 17, DPDP Act s.12). A person is found by a lead id or by a phone number (every lead, live or
//! archived, with that number as its phone or second number).

use serde::{Deserialize, Serialize};

use crate::supervise::AuditEntry;
use crate::{CallLog, FollowUp, Id, Lead, PhoneNumber, Timestamp};

/// Whose data: one lead, or every lead with this number.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonSelector {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    LeadId(Id),
    /// E.164, e.g. `+919876543210` (a local form is read with India's rules).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    Phone(PhoneNumber),
}

/// `POST /api/v1/privacy/export` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub person: PersonSelector,
}

/// `POST /api/v1/privacy/erase` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRequest {
    pub person: PersonSelector,
    /// Why (e.g. the request's ticket number): kept in the erasure's audit record, so it must not hold
    /// the person's name or number. 1 to 500 characters.
    pub reason: String,
}

/// That a lead was erased, and when.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub erased_at: Timestamp,
    /// Who erased it: `user:<id>` or `cli:<os user>`.
    pub erased_by: String,
    pub reason: Option<String>,
}

/// A call log in an export, live or archived.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedCallLog {
    #[serde(flatten)]
    pub log: CallLog,
    pub archived: bool,
}

/// A follow-up in an export, live or archived.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedFollowUp {
    #[serde(flatten)]
    pub follow_up: FollowUp,
    pub archived: bool,
}

/// A call recording the server knows of: the provider keeps the audio (Exotel), the server keeps where.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingReference {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub call_log_id: Id,
    pub url: String,
    /// The provider's call id (Exotel's CallSid): what to quote when asking the provider to delete it.
    pub provider_call_id: Option<String>,
}

/// A status report the telephony provider sent about one of the lead's calls (no numbers are kept).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderReport {
    pub call_sid: String,
    pub status: String,
    pub recording_url: Option<String>,
    pub conversation_duration_s: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub received_at: Timestamp,
}

/// Everything the server holds about one lead, decrypted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadExport {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
    /// Set when the lead was erased: then nothing else is held but the anonymised rows (no lead, notes or
    /// recordings).
    pub erased: Option<ErasureRecord>,
    /// The lead moved to the archive (`leadline-server archive`).
    pub archived: bool,
    pub lead: Option<Lead>,
    /// The showroom team the lead belongs to.
    pub team: Option<String>,
    pub call_logs: Vec<ExportedCallLog>,
    pub follow_ups: Vec<ExportedFollowUp>,
    pub recordings: Vec<RecordingReference>,
    pub provider_reports: Vec<ProviderReport>,
    /// Who assigned, transferred or changed the lead, when and why.
    pub audit: Vec<AuditEntry>,
}

/// `POST /api/v1/privacy/export` answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonExport {
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub exported_at: Timestamp,
    /// Every lead found (a number may belong to several leads); empty when none is held.
    pub leads: Vec<LeadExport>,
}

/// What erasing one lead did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureOutcome {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub erased_at: Timestamp,
    /// Erased before (this request changed nothing).
    pub already_erased: bool,
    /// Call logs kept anonymised (time, length, disposition, who called).
    pub call_logs: u64,
    pub follow_ups: u64,
    /// Recording references dropped.
    pub recordings: u64,
    /// The provider's ids of the lead's calls (Exotel CallSids): the provider keeps its own copy of call
    /// records and recordings, which only the provider's account can delete (see docs/security.md). The
    /// server forgets them with this erasure; this answer is the last place they appear.
    pub provider_call_ids: Vec<String>,
}

/// `POST /api/v1/privacy/erase` answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReport {
    /// One per lead found; empty when none is held.
    pub leads: Vec<ErasureOutcome>,
}
