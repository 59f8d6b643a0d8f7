use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{Id, PhoneNumber, Timestamp};

string_enum! {
    /// Where a lead came from.
    LeadSource, "lead source" {
        WalkIn => "walk_in",
        Website => "website",
        Instagram => "instagram",
        Facebook => "facebook",
        GoogleSheet => "google_sheet",
        Referral => "referral",
        Other => "other",
    }
}

string_enum! {
    /// How urgently a lead should be called.
    LeadPriority, "lead priority" {
        Low => "low",
        Normal => "normal",
        High => "high",
        Hot => "hot",
    }
}

string_enum! {
    /// Where a lead stands in the sales pipeline.
    LeadStatus, "lead status" {
        New => "new",
        Contacted => "contacted",
        Interested => "interested",
        FollowUp => "follow_up",
        VisitScheduled => "visit_scheduled",
        Converted => "converted",
        NotInterested => "not_interested",
        Invalid => "invalid",
        DoNotCall => "do_not_call",
    }
}

impl LeadStatus {
    /// A closed lead is out of the calling queue.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Self::Converted | Self::NotInterested | Self::Invalid | Self::DoNotCall
        )
    }

    /// The dialer must never call these.
    pub fn may_call(self) -> bool {
        !matches!(self, Self::DoNotCall | Self::Invalid)
    }
}

/// A prospective customer a telecaller calls.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: Id,
    pub name: String,
    pub phone: PhoneNumber,
    #[serde(default)]
    pub alternate_phone: Option<PhoneNumber>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    pub source: LeadSource,
    /// What they asked about, in their words: "bridal necklace", "gold coins".
    #[serde(default)]
    pub interest: Option<String>,
    /// Budget in whole rupees.
    #[serde(default)]
    pub budget_inr: Option<i64>,
    pub priority: LeadPriority,
    pub status: LeadStatus,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The telecaller who owns the lead; `None` while unassigned.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub assigned_to: Option<Id>,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = chrono::DateTime<chrono::Utc>))]
    pub updated_at: Timestamp,
    /// Optimistic-concurrency version, bumped by the server on every change.
    pub version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn enums_round_trip_as_snake_case() {
        for s in LeadStatus::ALL {
            assert_eq!(LeadStatus::from_str(s.as_str()), Ok(*s));
            assert_eq!(
                serde_json::to_string(s).expect("ser"),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(LeadSource::from_str("google_sheet"), Ok(LeadSource::GoogleSheet));
        let err = LeadPriority::from_str("urgent").expect_err("unknown");
        assert!(
            err.to_string().contains("urgent") && err.to_string().contains("hot"),
            "{err}"
        );
    }

    #[test]
    fn lead_json_rejects_a_bad_phone() {
        let json = serde_json::json!({
            "id": "01936f4e-8c2a-7000-8000-000000000001", "name": "Asha Rao", "phone": "12",
            "source": "website", "priority": "hot", "status": "new",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "version": 1
        });
        let err = serde_json::from_value::<Lead>(json).expect_err("bad phone");
        assert!(err.to_string().contains("\"12\""), "{err}");
    }
}
