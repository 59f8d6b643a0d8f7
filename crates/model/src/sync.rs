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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PullQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One change in the feed, in the order the server made them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Change {
    /// A lead the caller may see was created or changed (or newly assigned to them).
    Lead(Lead),
    /// A lead left the caller's list (reassigned elsewhere, archived). Its call logs stay on the server.
    LeadRemoved {
        #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
        lead_id: Id,
        /// Set when the lead was erased on request (GDPR / DPDP): the device deletes everything it holds
        /// about it — the lead, its calls' notes, follow-ups, drafts, unsent edits, its search entries —
        /// even what a plain removal would keep. Admins' feeds carry these too. Absent from older servers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
        erased_at: Option<Timestamp>,
    },
    CallLog(CallLog),
    FollowUp(FollowUp),
}

/// One page of the pull feed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub server_time: Timestamp,
}

/// Fields of a lead a telecaller may edit; `None` leaves a field as it is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

fn cleared(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The value of one editable lead field, as JSON (`null` when unset): what conflict detection compares.
pub type FieldValues = std::collections::BTreeMap<String, serde_json::Value>;

impl LeadPatch {
    /// Applies the patch to `lead` exactly as the server does: tags trimmed, an empty `email`, `city` or
    /// `interest` clears the field. Version and `updated_at` are left to the caller.
    pub fn apply_to(&self, lead: &mut Lead) {
        if let Some(s) = self.status {
            lead.status = s;
        }
        if let Some(p) = self.priority {
            lead.priority = p;
        }
        if let Some(t) = &self.tags {
            lead.tags = t.iter().map(|t| t.trim().to_owned()).collect();
        }
        if let Some(i) = &self.interest {
            lead.interest = cleared(i);
        }
        if let Some(c) = &self.city {
            lead.city = cleared(c);
        }
        if let Some(e) = &self.email {
            lead.email = cleared(e);
        }
        if let Some(p) = &self.alternate_phone {
            lead.alternate_phone = Some(p.clone());
        }
        if let Some(b) = self.budget_inr {
            lead.budget_inr = Some(b);
        }
    }

    /// True when the patch sets no field.
    pub fn is_empty(&self) -> bool {
        self == &LeadPatch::default()
    }

    /// The names of the fields this patch sets.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let checks: [(&'static str, bool); 8] = [
            ("status", self.status.is_some()),
            ("priority", self.priority.is_some()),
            ("tags", self.tags.is_some()),
            ("interest", self.interest.is_some()),
            ("city", self.city.is_some()),
            ("email", self.email.is_some()),
            ("alternate_phone", self.alternate_phone.is_some()),
            ("budget_inr", self.budget_inr.is_some()),
        ];
        for (name, set) in checks {
            if set {
                out.push(name);
            }
        }
        out
    }

    /// The values `lead` has in the fields this patch sets.
    pub fn values_in(&self, lead: &Lead) -> FieldValues {
        self.fields()
            .into_iter()
            .map(|f| (f.to_owned(), lead_field(lead, f)))
            .collect()
    }

    /// The values the fields would have after this patch (applied to `lead`).
    pub fn values_after(&self, lead: &Lead) -> FieldValues {
        let mut after = lead.clone();
        self.apply_to(&mut after);
        self.values_in(&after)
    }

    /// The part of this patch that sets only `keep`'s fields.
    pub fn only(&self, keep: &[&str]) -> LeadPatch {
        let has = |f: &str| keep.contains(&f);
        LeadPatch {
            status: self.status.filter(|_| has("status")),
            priority: self.priority.filter(|_| has("priority")),
            tags: self.tags.clone().filter(|_| has("tags")),
            interest: self.interest.clone().filter(|_| has("interest")),
            city: self.city.clone().filter(|_| has("city")),
            email: self.email.clone().filter(|_| has("email")),
            alternate_phone: self.alternate_phone.clone().filter(|_| has("alternate_phone")),
            budget_inr: self.budget_inr.filter(|_| has("budget_inr")),
        }
    }
}

/// One editable field of a lead as JSON (`null` when unset).
pub fn lead_field(lead: &Lead, field: &str) -> serde_json::Value {
    use serde_json::Value;
    let text = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()));
    match field {
        "status" => Value::String(lead.status.as_str().to_owned()),
        "priority" => Value::String(lead.priority.as_str().to_owned()),
        "tags" => Value::Array(lead.tags.iter().cloned().map(Value::String).collect()),
        "interest" => text(&lead.interest),
        "city" => text(&lead.city),
        "email" => text(&lead.email),
        "alternate_phone" => lead
            .alternate_phone
            .as_ref()
            .map_or(Value::Null, |p| Value::String(p.as_str().to_owned())),
        "budget_inr" => lead.budget_inr.map_or(Value::Null, Value::from),
        _ => Value::Null,
    }
}

/// What a local change asks the server to do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "data", rename_all = "snake_case")]
pub enum MutationOp {
    CreateCallLog(CallLog),
    UpdateLead {
        #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
        lead_id: Id,
        base_version: i64,
        patch: LeadPatch,
    },
    CreateFollowUp(FollowUp),
    CompleteFollowUp {
        #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
        follow_up_id: Id,
        #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
        completed_at: Timestamp,
    },
    /// Moves an open follow-up to a new due time.
    RescheduleFollowUp {
        #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
        follow_up_id: Id,
        #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
        due_at: Timestamp,
    },
    /// A lead made on the device (a CSV import into the desktop cache). Its id is the device's, so the
    /// server applies it once however often it is sent (same id again: `duplicate`). A telecaller creates
    /// leads assigned to themselves, a supervisor for their team, an admin any; a phone a lead the caller
    /// may see already has is `rejected` with `duplicate_phone: ...`. The server starts it at version 1.
    CreateLead(Lead),
}

/// A local change in flight. `client_mutation_id` is minted when the change is made and never reused:
/// the server remembers it, so a batch sent twice is applied once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mutation {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub client_mutation_id: Id,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub created_at: Timestamp,
    #[serde(flatten)]
    pub op: MutationOp,
}

/// `POST /api/v1/sync/push` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushBatch {
    pub protocol: u32,
    pub device_id: String,
    pub mutations: Vec<Mutation>,
}

/// What became of one mutation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutationResult {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub client_mutation_id: Id,
    #[serde(flatten)]
    pub status: MutationStatus,
}

/// `POST /api/v1/sync/push` answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    fn create_lead_is_tagged_and_its_phone_validated() {
        let now = chrono::Utc::now();
        let lead = Lead {
            id: crate::new_id(),
            name: "Asha".into(),
            phone: PhoneNumber::parse("+919876543210").expect("valid"),
            alternate_phone: None,
            email: None,
            city: None,
            source: crate::LeadSource::Other,
            interest: None,
            budget_inr: None,
            priority: LeadPriority::Normal,
            status: LeadStatus::New,
            tags: vec![],
            assigned_to: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let m = Mutation {
            client_mutation_id: crate::new_id(),
            created_at: now,
            op: MutationOp::CreateLead(lead),
        };
        let mut v = serde_json::to_value(&m).expect("ser");
        assert_eq!(v["op"], "create_lead");
        assert_eq!(v["data"]["phone"], "+919876543210");
        assert_eq!(serde_json::from_value::<Mutation>(v.clone()).expect("de"), m);
        v["data"]["phone"] = serde_json::json!("12");
        assert!(serde_json::from_value::<Mutation>(v).is_err());
    }

    #[test]
    fn unknown_change_kind_is_an_error_not_a_panic() {
        let err = serde_json::from_str::<Change>(r#"{"kind":"teleport","data":{}}"#).expect_err("unknown");
        assert!(err.to_string().contains("teleport"), "{err}");
    }
}
