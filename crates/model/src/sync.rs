//! The sync wire protocol: what the desktop and the server exchange. See docs/sync-protocol.md.
//!
//! Pull: `GET /api/v1/sync/pull?cursor=<opaque>&limit=<n>` answers a [`PullPage`]; the client applies the
//! page in one transaction, stores `next_cursor`, and pulls again while `has_more`.
//! Push: `POST /api/v1/sync/push` with a [`PushBatch`] answers a [`PushResponse`] with one result per
//! mutation, keyed by its client mutation id, so a retried batch is applied at most once.

use serde::{Deserialize, Serialize};

use crate::{CallLog, Disposition, FollowUp, Id, Lead, LeadPriority, LeadStatus, PhoneNumber, Timestamp};

/// Bumped on any incompatible change of these types. The server refuses versions it does not speak.
pub const PROTOCOL_VERSION: u32 = 1;

/// A position in the server's change feed. Opaque to clients: they store it and send it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(pub String);

impl Cursor {
    /// The cursor of a client that has pulled nothing yet.
    pub fn start() -> Self {
        Self::default()
    }

    pub fn is_start(&self) -> bool {
        self.0.is_empty()
    }
}

/// Query of `GET /api/v1/sync/pull`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PullQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One change in the feed, in the order the server made them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Change {
    /// A lead the caller may see was created or changed (or newly assigned to them).
    Lead(Lead),
    /// A lead left the caller's list (reassigned elsewhere, archived). Its call logs stay on the server.
    LeadRemoved {
        lead_id: Id,
    },
    CallLog(CallLog),
    FollowUp(FollowUp),
}

/// One page of the pull feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullPage {
    pub protocol: u32,
    pub changes: Vec<Change>,
    /// Where to continue from; store it only after the page is applied.
    pub next_cursor: Cursor,
    pub has_more: bool,
    /// The disposition catalogue, sent on the first page (empty cursor) so a new device can log calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dispositions: Vec<Disposition>,
    pub server_time: Timestamp,
}

/// Fields of a lead a telecaller may edit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LeadStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<LeadPriority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A second number for the lead (E.164 on the wire; stored encrypted, with its blind index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_phone: Option<PhoneNumber>,
    /// Budget in whole rupees (not negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_inr: Option<i64>,
}

/// What a local change asks the server to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "data", rename_all = "snake_case")]
pub enum MutationOp {
    CreateCallLog(CallLog),
    UpdateLead {
        lead_id: Id,
        base_version: i64,
        patch: LeadPatch,
    },
    CreateFollowUp(FollowUp),
    CompleteFollowUp {
        follow_up_id: Id,
        completed_at: Timestamp,
    },
    /// Moves an open follow-up to a new due time.
    RescheduleFollowUp {
        follow_up_id: Id,
        due_at: Timestamp,
    },
}

/// A local change in flight. `client_mutation_id` is minted when the change is made and never reused:
/// the server remembers it, so a batch sent twice is applied once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mutation {
    pub client_mutation_id: Id,
    pub created_at: Timestamp,
    #[serde(flatten)]
    pub op: MutationOp,
}

/// `POST /api/v1/sync/push` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushBatch {
    pub protocol: u32,
    pub device_id: String,
    pub mutations: Vec<Mutation>,
}

/// What became of one mutation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MutationStatus {
    Applied,
    /// Seen before (same client mutation id): nothing done again.
    Duplicate,
    /// The lead changed since `base_version`; the server's current row is attached.
    Conflict {
        current: Box<Lead>,
    },
    /// Refused for good (not allowed, invalid); the client keeps it visible, never retries it blindly.
    Rejected {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutationResult {
    pub client_mutation_id: Id,
    #[serde(flatten)]
    pub status: MutationStatus,
}

/// `POST /api/v1/sync/push` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    pub protocol: u32,
    pub results: Vec<MutationResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_wire_shape_is_flat_and_tagged() {
        let m = Mutation {
            client_mutation_id: crate::new_id(),
            created_at: chrono::Utc::now(),
            op: MutationOp::CompleteFollowUp {
                follow_up_id: crate::new_id(),
                completed_at: chrono::Utc::now(),
            },
        };
        let v = serde_json::to_value(&m).expect("ser");
        assert_eq!(v["op"], "complete_follow_up");
        assert!(v["data"]["follow_up_id"].is_string());
        let back: Mutation = serde_json::from_value(v).expect("de");
        assert_eq!(back, m);
    }

    #[test]
    fn reschedule_and_the_added_patch_fields_are_additive() {
        let m = Mutation {
            client_mutation_id: crate::new_id(),
            created_at: chrono::Utc::now(),
            op: MutationOp::RescheduleFollowUp {
                follow_up_id: crate::new_id(),
                due_at: chrono::Utc::now(),
            },
        };
        let v = serde_json::to_value(&m).expect("ser");
        assert_eq!(v["op"], "reschedule_follow_up");
        assert_eq!(serde_json::from_value::<Mutation>(v).expect("de"), m);
        // A patch of an older client (no alternate_phone / budget_inr) still reads, and an unset field is
        // not sent.
        let old: LeadPatch = serde_json::from_str(r#"{"status":"contacted"}"#).expect("old patch");
        assert_eq!(old.alternate_phone, None);
        assert_eq!(old.budget_inr, None);
        assert_eq!(
            serde_json::to_string(&old).expect("ser"),
            r#"{"status":"contacted"}"#
        );
        let bad = serde_json::from_str::<LeadPatch>(r#"{"alternate_phone":"12"}"#);
        assert!(bad.is_err(), "a patch's phone is validated");
    }

    #[test]
    fn unknown_change_kind_is_an_error_not_a_panic() {
        let err = serde_json::from_str::<Change>(r#"{"kind":"teleport","data":{}}"#).expect_err("unknown");
        assert!(err.to_string().contains("teleport"), "{err}");
    }
}
