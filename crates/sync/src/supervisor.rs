//! The supervisor's side of the API: the team dashboard (analytics, leaderboard, hourly series, goals,
//! live status), the team's lead list, bulk assignment and transfer, a lead's audit trail, lead imports
//! (CSV, Google Sheets), the disposition catalogue, and the desktop's own presence report. Every method
//! sends the session's access token and, when the server refuses it as expired, refreshes once and
//! retries, like [`Client::pull`]. These need the server: offline they fail with
//! [`SyncError::Unreachable`].

use leadline_model::admin::{DispositionEntry, UserAccount};
use leadline_model::analytics::{AnalyticsSummary, Goal, HourlySeries, Leaderboard, SetGoal};
use leadline_model::import::{ImportOutcome, SheetsImportRequest};
use leadline_model::privacy::{ErasureReport, ErasureRequest, ExportRequest, PersonExport, PersonSelector};
use leadline_model::supervise::{
    AgentPresence, AgentState, AssignLeads, AssignMatching, AuditPage, BulkOutcome, PresenceReport,
    TeamPresence, TransferLeads,
};
use leadline_model::{Id, LeadListQuery, LeadPage, Timestamp};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::SyncError;
use crate::client::{Client, expect_json, unreachable};

/// A date range of the analytics endpoints (`from`/`to`, RFC 3339) and the time zone of its days and
/// hours (minutes east of UTC; India is 330).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: Timestamp,
    pub to: Timestamp,
    pub tz_offset_minutes: i32,
}

/// The wire body of an assignment by filter, `{filter, to, reason}`: the filter is the lead list's query as
/// a JSON object of strings (`{"status": "new,contacted"}`), without its page size, cursor and order,
/// which the server refuses there.
fn assign_matching_body(assign: &AssignMatching) -> serde_json::Value {
    let filter: serde_json::Map<String, serde_json::Value> = assign
        .filter
        .to_query_pairs()
        .into_iter()
        .filter(|(key, _)| !matches!(*key, "limit" | "cursor" | "sort"))
        .map(|(key, value)| (key.to_owned(), serde_json::Value::String(value)))
        .collect();
    serde_json::json!({ "filter": filter, "to": assign.to, "reason": assign.reason })
}

impl Range {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let time = |t: &Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        vec![
            ("from", time(&self.from)),
            ("to", time(&self.to)),
            ("tz_offset_minutes", self.tz_offset_minutes.to_string()),
        ]
    }
}

/// What the leaderboard ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderboardMetric {
    Calls,
    Connected,
    Conversions,
    TalkTime,
}

impl LeaderboardMetric {
    /// The `metric=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaderboardMetric::Calls => "calls",
            LeaderboardMetric::Connected => "connected",
            LeaderboardMetric::Conversions => "conversions",
            LeaderboardMetric::TalkTime => "talk_time_s",
        }
    }
}

/// A CSV file to import (`POST /api/v1/import/csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvUpload {
    /// The file's name, as the report may mention it.
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// Merge rows whose phone matches an existing lead into it (else they are reported as duplicates).
    pub merge_duplicates: bool,
    /// A username of the team to assign rows that name no assignee to.
    pub assign_to: Option<String>,
}

/// What a request carries.
enum Body<'a> {
    None,
    Json(serde_json::Value),
    Multipart(&'a CsvUpload),
}

/// The multipart boundary of CSV uploads: no CSV cell is likely to hold it, and the encoder checks.
const BOUNDARY: &str = "leadline-csv-upload-7c1e9a40b35d4f0e";

fn multipart(upload: &CsvUpload) -> Result<Vec<u8>, SyncError> {
    if upload
        .bytes
        .windows(BOUNDARY.len())
        .any(|w| w == BOUNDARY.as_bytes())
    {
        return Err(SyncError::Internal(
            "the file holds the upload boundary".to_owned(),
        ));
    }
    let name: String = upload
        .file_name
        .chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
        .collect();
    let mut out = Vec::with_capacity(upload.bytes.len() + 512);
    let field = |out: &mut Vec<u8>, key: &str, value: &str| {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    };
    field(
        &mut out,
        "merge_duplicates",
        if upload.merge_duplicates { "true" } else { "false" },
    );
    if let Some(user) = upload
        .assign_to
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        field(&mut out, "assign_to", user);
    }
    out.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(&upload.bytes);
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Ok(out)
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, SyncError> {
    serde_json::to_value(value).map_err(|e| SyncError::Internal(format!("encoding a request: {e}")))
}

impl Client {
    /// Sends one authenticated request; an expired access token is refreshed once and the request sent
    /// again.
    async fn supervise<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<T, SyncError> {
        self.authorized(|token: String| {
            let method = method.clone();
            async move { self.supervise_with(&token, method, path, query, body).await }
        })
        .await
    }

    async fn supervise_with<T: DeserializeOwned>(
        &self,
        token: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<T, SyncError> {
        let url = self.url(path)?;
        let mut request = self.http.request(method, url.clone()).bearer_auth(token);
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Multipart(upload) => request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(multipart(upload)?),
        };
        let resp = request.send().await.map_err(|e| unreachable(&url, &e))?;
        expect_json(resp, &url).await
    }

    /// Per-telecaller figures of the caller's team over `range` (`GET /api/v1/analytics/summary`).
    pub async fn team_summary(&self, range: &Range) -> Result<AnalyticsSummary, SyncError> {
        self.supervise(
            Method::GET,
            "api/v1/analytics/summary",
            &range.pairs(),
            &Body::None,
        )
        .await
    }

    /// The team's telecallers ranked by `metric` over `range` (`GET /api/v1/analytics/leaderboard`).
    pub async fn leaderboard(
        &self,
        metric: LeaderboardMetric,
        range: &Range,
    ) -> Result<Leaderboard, SyncError> {
        let mut query = range.pairs();
        query.push(("metric", metric.as_str().to_owned()));
        self.supervise(Method::GET, "api/v1/analytics/leaderboard", &query, &Body::None)
            .await
    }

    /// The team's calls hour by hour over `range` (`GET /api/v1/analytics/hourly`).
    pub async fn team_hourly(&self, range: &Range) -> Result<HourlySeries, SyncError> {
        self.supervise(
            Method::GET,
            "api/v1/analytics/hourly",
            &range.pairs(),
            &Body::None,
        )
        .await
    }

    /// The live status of the team's telecallers (`GET /api/v1/presence`).
    pub async fn team_presence(&self) -> Result<TeamPresence, SyncError> {
        self.supervise(Method::GET, "api/v1/presence", &[], &Body::None)
            .await
    }

    /// Reports what this desktop's user is doing (`PUT /api/v1/presence`); repeat it at least every
    /// 30 s to stay online for the supervisor.
    pub async fn report_presence(&self, state: AgentState) -> Result<AgentPresence, SyncError> {
        let body = Body::Json(json(&PresenceReport { state })?);
        self.supervise(Method::PUT, "api/v1/presence", &[], &body).await
    }

    /// Sets a daily goal: the team default, or one telecaller's (`PUT /api/v1/goals`).
    pub async fn set_goal(&self, goal: &SetGoal) -> Result<Goal, SyncError> {
        self.supervise(Method::PUT, "api/v1/goals", &[], &Body::Json(json(goal)?))
            .await
    }

    /// Everything the server holds about a person — a lead by id, or every lead with a number — decrypted,
    /// archive included: the answer to a data-access request (`POST /api/v1/privacy/export`; admins only,
    /// audited on the server).
    pub async fn export_person(&self, person: &PersonSelector) -> Result<PersonExport, SyncError> {
        let request = ExportRequest {
            person: person.clone(),
        };
        self.supervise(
            Method::POST,
            "api/v1/privacy/export",
            &[],
            &Body::Json(json(&request)?),
        )
        .await
    }

    /// Erases a person's data on request (`POST /api/v1/privacy/erase`; admins only): the PII goes from
    /// the server, anonymised call logs stay for analytics, and every desktop drops its copy of the lead at
    /// its next pull.
    pub async fn erase_person(&self, request: &ErasureRequest) -> Result<ErasureReport, SyncError> {
        self.supervise(
            Method::POST,
            "api/v1/privacy/erase",
            &[],
            &Body::Json(json(request)?),
        )
        .await
    }

    /// The users the caller manages: a supervisor's team, an admin's everyone (`GET /api/v1/users`).
    pub async fn users(&self) -> Result<Vec<UserAccount>, SyncError> {
        self.supervise(Method::GET, "api/v1/users", &[], &Body::None)
            .await
    }

    /// One page of the leads in the caller's scope (a supervisor's: the whole team's), filtered and
    /// ordered by `query` (`GET /api/v1/leads`).
    pub async fn team_leads(&self, query: &LeadListQuery) -> Result<LeadPage, SyncError> {
        self.supervise(Method::GET, "api/v1/leads", &query.to_query_pairs(), &Body::None)
            .await
    }

    /// Assigns leads to a telecaller, or unassigns them (`to: None`), with the reason kept in each lead's
    /// audit trail (`POST /api/v1/leads/assign`). All or nothing.
    pub async fn assign_leads(&self, assign: &AssignLeads) -> Result<BulkOutcome, SyncError> {
        self.supervise(
            Method::POST,
            "api/v1/leads/assign",
            &[],
            &Body::Json(json(assign)?),
        )
        .await
    }

    /// Assigns every lead of the team that `assign.filter` lists (`POST /api/v1/leads/assign` with a
    /// filter), with the reason; all or nothing.
    pub async fn assign_matching(&self, assign: &AssignMatching) -> Result<BulkOutcome, SyncError> {
        self.supervise(
            Method::POST,
            "api/v1/leads/assign",
            &[],
            &Body::Json(assign_matching_body(assign)),
        )
        .await
    }

    /// Moves one telecaller's leads (by default the open ones) to another, with the reason
    /// (`POST /api/v1/leads/transfer`).
    pub async fn transfer_leads(&self, transfer: &TransferLeads) -> Result<BulkOutcome, SyncError> {
        self.supervise(
            Method::POST,
            "api/v1/leads/transfer",
            &[],
            &Body::Json(json(transfer)?),
        )
        .await
    }

    /// A page of one lead's audit trail, newest first (`GET /api/v1/leads/{id}/audit`).
    pub async fn lead_audit(&self, lead_id: Id, cursor: Option<&str>) -> Result<AuditPage, SyncError> {
        let query: Vec<(&str, String)> = cursor.map(|c| ("cursor", c.to_owned())).into_iter().collect();
        self.supervise(
            Method::GET,
            &format!("api/v1/leads/{}/audit", lead_id.hyphenated()),
            &query,
            &Body::None,
        )
        .await
    }

    /// Imports leads from a CSV file (`POST /api/v1/import/csv`): all valid rows or nothing, with the
    /// row-by-row report.
    pub async fn import_csv(&self, upload: &CsvUpload) -> Result<ImportOutcome, SyncError> {
        self.supervise(Method::POST, "api/v1/import/csv", &[], &Body::Multipart(upload))
            .await
    }

    /// Imports leads from a Google Sheet the server's service account can read
    /// (`POST /api/v1/import/sheets`), with the row-by-row report.
    pub async fn import_sheet(&self, request: &SheetsImportRequest) -> Result<ImportOutcome, SyncError> {
        self.supervise(
            Method::POST,
            "api/v1/import/sheets",
            &[],
            &Body::Json(json(request)?),
        )
        .await
    }

    /// The disposition catalogue as the server keeps it (admins: inactive entries too)
    /// (`GET /api/v1/dispositions`).
    pub async fn disposition_catalogue(&self) -> Result<Vec<DispositionEntry>, SyncError> {
        self.supervise(Method::GET, "api/v1/dispositions", &[], &Body::None)
            .await
    }

    /// Creates or replaces a catalogue entry (admins; `PUT /api/v1/dispositions/{code}`); answers the
    /// whole catalogue.
    pub async fn put_disposition(
        &self,
        entry: &DispositionEntry,
    ) -> Result<Vec<DispositionEntry>, SyncError> {
        self.supervise(
            Method::PUT,
            &format!("api/v1/dispositions/{}", entry.code),
            &[],
            &Body::Json(json(entry)?),
        )
        .await
    }
}
