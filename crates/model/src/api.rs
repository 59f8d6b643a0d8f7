//! Request and answer types of the REST API beyond sync: `GET /api/v1/leads`.

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{Id, Lead, LeadPriority, LeadSource, LeadStatus, Timestamp};

/// Whose leads a lead list asks for: `assigned_to=<uuid>` or `assigned_to=none` (unassigned).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssigneeFilter {
    Unassigned,
    User(Id),
}

impl AssigneeFilter {
    /// The query-string value: `none` or the hyphenated uuid.
    pub fn to_query_value(&self) -> String {
        match self {
            AssigneeFilter::Unassigned => "none".to_owned(),
            AssigneeFilter::User(id) => id.hyphenated().to_string(),
        }
    }
}

string_enum! {
    /// The order of `GET /api/v1/leads` (`sort=`): a field name for ascending, `-` before it for
    /// descending; absent means `-updated_at` (most recently changed first). Ties on the field are broken
    /// by the lead id in the same direction, so every order is total and each descending order is the
    /// exact reverse of its ascending one.
    ///
    /// - `updated_at` / `created_at`: by time (RFC 3339 UTC text, so text order is time order).
    /// - `name`: by the name with ASCII letters lower-cased, compared byte by byte as UTF-8 (the same on
    ///   SQLite and PostgreSQL): `anita` = `Anita` (then by id), `Zoya` before `Élan` (non-ASCII letters
    ///   are not case-folded and sort after ASCII).
    /// - `follow_up_due`: by the due time of the lead's next open follow-up; ascending puts leads
    ///   without an open follow-up last, descending first.
    #[derive(Default)]
    LeadSort, "lead sort" {
        /// The default.
        #[default]
        UpdatedAtDesc => "-updated_at",
        UpdatedAtAsc => "updated_at",
        CreatedAtDesc => "-created_at",
        CreatedAtAsc => "created_at",
        NameAsc => "name",
        NameDesc => "-name",
        FollowUpDueAsc => "follow_up_due",
        FollowUpDueDesc => "-follow_up_due",
    }
}

impl LeadSort {
    /// True for the descending orders (`-field`).
    pub fn is_descending(self) -> bool {
        self.as_str().starts_with('-')
    }
}

/// Query of `GET /api/v1/leads`. Every filter is optional; filters combine with AND, the values of one
/// list filter with OR. Send it with [`LeadListQuery::to_query_pairs`].
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadListQuery {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<LeadStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<LeadPriority>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<LeadSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub assigned_to: Option<AssigneeFilter>,
    /// Inclusive bounds of `created_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub created_from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub created_to: Option<Timestamp>,
    /// Inclusive bounds of `updated_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub updated_from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub updated_to: Option<Timestamp>,
    /// Free text: a substring of the name, or (when it is phone-like: digits, spaces, `+-()`) a run of
    /// digits of the E.164 number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub q: Option<String>,
    /// Page size: default 50, at most 500 (larger asks are clamped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; absent for the first page. A cursor continues only the
    /// sort it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub cursor: Option<String>,
    /// The order; absent: `-updated_at` (most recently changed first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub sort: Option<LeadSort>,
}

fn join<T: std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl LeadListQuery {
    /// The query string pairs (list filters as comma lists, times as RFC 3339).
    pub fn to_query_pairs(&self) -> Vec<(&'static str, String)> {
        let time = |t: &Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut out = Vec::new();
        if !self.status.is_empty() {
            out.push(("status", join(&self.status)));
        }
        if !self.priority.is_empty() {
            out.push(("priority", join(&self.priority)));
        }
        if !self.source.is_empty() {
            out.push(("source", join(&self.source)));
        }
        if let Some(a) = &self.assigned_to {
            out.push(("assigned_to", a.to_query_value()));
        }
        for (name, value) in [
            ("created_from", &self.created_from),
            ("created_to", &self.created_to),
            ("updated_from", &self.updated_from),
            ("updated_to", &self.updated_to),
        ] {
            if let Some(t) = value {
                out.push((name, time(t)));
            }
        }
        if let Some(q) = &self.q {
            out.push(("q", q.clone()));
        }
        if let Some(limit) = self.limit {
            out.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            out.push(("cursor", cursor.clone()));
        }
        if let Some(sort) = self.sort {
            out.push(("sort", sort.as_str().to_owned()));
        }
        out
    }
}

/// Answer of `GET /api/v1/leads`: leads in the requested [`LeadSort`] (default: by `updated_at` then
/// `id`, newest first).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "TeamLeadPage"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadPage {
    pub leads: Vec<Lead>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
