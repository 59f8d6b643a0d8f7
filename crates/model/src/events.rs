//! Real-time events: what the server pushes over the `GET /api/v1/events` WebSocket.
//!
//! Every text frame the server sends is one [`EventMessage`]: a [`ServerEvent`] (tagged by `type`) plus
//! its `cursor` and time. Events are hints: the sync feed (`GET /api/v1/sync/pull`) stays the source of
//! truth, and a client that misses events only pulls later than it could have.
//!
//! ```json
//! {"type":"lead_assigned","cursor":1042,"at":"2026-01-31T09:15:00.000Z","lead_id":"…","by":"…"}
//! {"type":"heartbeat","cursor":1042}
//! ```
//!
//! Resuming: a client remembers the highest `cursor` it has seen (heartbeats carry one too) and reconnects
//! with `?cursor=<it>`; the server first replays the events after it, then streams live ones.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// One event, as sent to clients. `type` names the kind; unknown kinds (from a newer server) deserialize
/// as [`ServerEvent::Unknown`] and should be ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// A lead was assigned or transferred to you: pull to get it.
    LeadAssigned {
        lead_id: Id,
        /// Who assigned it, when known.
        #[serde(default)]
        by: Option<Id>,
    },
    /// A lead was taken away from you (reassigned to someone else or unassigned).
    LeadRemoved { lead_id: Id },
    /// One of your follow-ups is due now.
    FollowUpDue {
        follow_up_id: Id,
        lead_id: Id,
        due_at: Timestamp,
    },
    /// Something in your scope changed (e.g. a call log pushed from another device): pull.
    SyncPoke,
    /// A message from a supervisor (to their team) or an admin (to everyone).
    Announcement {
        message: String,
        /// The sender's user id.
        from: Id,
        /// The sender's display name.
        #[serde(default)]
        from_name: String,
    },
    /// Keep-alive, sent every few seconds and right after the replay on connect. Clients may send
    /// `{"type":"heartbeat"}` too; the server treats any message (or pong) as a sign of life.
    Heartbeat,
    /// A kind this client does not know.
    #[serde(other)]
    Unknown,
}

impl ServerEvent {
    /// The `type` tag of this event, e.g. `"lead_assigned"`.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerEvent::LeadAssigned { .. } => "lead_assigned",
            ServerEvent::LeadRemoved { .. } => "lead_removed",
            ServerEvent::FollowUpDue { .. } => "follow_up_due",
            ServerEvent::SyncPoke => "sync_poke",
            ServerEvent::Announcement { .. } => "announcement",
            ServerEvent::Heartbeat => "heartbeat",
            ServerEvent::Unknown => "unknown",
        }
    }
}

/// One WebSocket text frame from the server: the event's fields flattened beside `cursor` and `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    /// The position of this event in the event stream: reconnect with `?cursor=` the highest one seen.
    /// On a heartbeat: everything up to it has been delivered. Absent only when the server has none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<i64>,
    /// When the event was recorded (absent on heartbeats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    #[serde(flatten)]
    pub event: ServerEvent,
}

/// Body of `POST /api/v1/announcements`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementRequest {
    pub message: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_flat_and_tagged() {
        let id = crate::new_id();
        let m = EventMessage {
            cursor: Some(7),
            at: None,
            event: ServerEvent::LeadRemoved { lead_id: id },
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "lead_removed", "cursor": 7, "lead_id": id})
        );
        assert_eq!(serde_json::from_value::<EventMessage>(json).unwrap(), m);
        let hb: EventMessage = serde_json::from_str(r#"{"type":"heartbeat"}"#).unwrap();
        assert_eq!(hb.event, ServerEvent::Heartbeat);
        assert_eq!(hb.cursor, None);
        let poke = serde_json::to_string(&ServerEvent::SyncPoke).unwrap();
        assert_eq!(poke, r#"{"type":"sync_poke"}"#);
        let future: EventMessage = serde_json::from_str(r#"{"type":"brand_new","cursor":9,"x":1}"#).unwrap();
        assert_eq!(future.event, ServerEvent::Unknown);
        assert_eq!(future.cursor, Some(9));
    }
}
