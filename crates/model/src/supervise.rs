//! Wire types of the supervisor's API: audited bulk assignment and transfer (`/api/v1/leads/assign`,
//! `/api/v1/leads/transfer`), the audit log (`/api/v1/leads/{id}/audit`, `/api/v1/audit`) and the team's
//! live status (`/api/v1/presence`: what each telecaller's desktop last reported).

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{Id, LeadStatus, Timestamp};

string_enum! {
    /// What an audit entry records.
    AuditAction, "audit action" {
        /// The lead was given to a user (from nobody or from someone else), one lead at a time or in bulk.
        Assigned => "assigned",
        /// The lead moved from one user to another in a transfer of that user's leads.
        Transferred => "transferred",
        /// The lead lost its assignee.
        Unassigned => "unassigned",
        /// The lead was created.
        Created => "created",
        /// The lead's fields were edited.
        Updated => "updated",
    }
}

/// One entry of the lead audit log.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub lead_id: Id,
    /// Who made the change; `None` for the system (imports, callbacks).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub actor_id: Option<Id>,
    pub action: AuditAction,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub from_user: Option<Id>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub to_user: Option<Id>,
    /// The lead's team after the change.
    pub team: Option<String>,
    pub reason: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub at: Timestamp,
    /// More about the change (e.g. the lead's new version, the teams before and after).
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub details: serde_json::Value,
}

/// A page of audit entries, newest first.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// What a bulk assignment or transfer did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOutcome {
    /// Leads that changed hands.
    pub assigned: u64,
    /// Leads that already had the target assignee (no change, no audit entry).
    pub unchanged: u64,
    /// The leads that changed hands, in id order.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub lead_ids: Vec<Id>,
}

/// `POST /api/v1/leads/assign` body with an explicit selection (the server also takes a `filter` object
/// instead of `lead_ids`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignLeads {
    pub lead_ids: Vec<Id>,
    /// The new assignee; `None` (JSON null) unassigns.
    pub to: Option<Id>,
    /// Why (1 to 500 characters).
    pub reason: String,
}

/// A bulk assignment of every lead of the team that a lead-list filter lists, however many pages it has
/// (its page size, cursor and order do not matter). Sent as `POST /api/v1/leads/assign {filter, to,
/// reason}` by `leadline_sync`'s `Client::assign_matching`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignMatching {
    pub filter: crate::LeadListQuery,
    /// The new assignee; `None` (JSON null) unassigns.
    pub to: Option<Id>,
    /// Why (1 to 500 characters).
    pub reason: String,
}

/// `POST /api/v1/leads/transfer` body.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLeads {
    /// Whose leads move.
    pub from: Id,
    /// Who gets them.
    pub to: Id,
    /// The statuses that move; absent: the open ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub status: Option<Vec<LeadStatus>>,
    /// Why (1 to 500 characters).
    pub reason: String,
}

string_enum! {
    /// What a desktop reports its user is doing (`PUT /api/v1/presence`).
    AgentState, "agent state" {
        /// Signed in, not on a call: ready for the next one.
        Available => "available",
        /// A call is ringing or connected.
        OnCall => "on_call",
        /// A call ended and waits for its wrap-up.
        WrapUp => "wrap_up",
        /// Signing out or quitting.
        Offline => "offline",
    }
}

/// `PUT /api/v1/presence` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceReport {
    pub state: AgentState,
}

/// One telecaller's live status as the server knows it: the last report of their desktop, or
/// [`AgentState::Offline`] when it said so, never reported, or has been silent longer than the server's
/// presence timeout.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPresence {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub user_id: Id,
    pub username: String,
    pub name: String,
    pub state: AgentState,
    /// Since when the state holds (the first report of it); `None` when never reported.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
    pub since: Option<Timestamp>,
    /// The desktop's last report, whatever it said.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
    pub last_seen: Option<Timestamp>,
}

/// `GET /api/v1/presence` answer: the telecallers of the supervisor's team (an admin's: of `team=`, or
/// everyone), by name.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPresence {
    /// A desktop silent for longer than this is offline.
    pub timeout_s: u64,
    pub agents: Vec<AgentPresence>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_states_are_snake_case() {
        assert_eq!(
            serde_json::to_string(&AuditAction::Transferred).unwrap(),
            "\"transferred\""
        );
        assert_eq!("on_call".parse::<AgentState>().unwrap(), AgentState::OnCall);
        assert!("busy".parse::<AgentState>().is_err());
        let body = serde_json::to_value(AssignLeads {
            lead_ids: vec![],
            to: None,
            reason: "r".into(),
        })
        .unwrap();
        assert_eq!(body["to"], serde_json::Value::Null);
    }
}
