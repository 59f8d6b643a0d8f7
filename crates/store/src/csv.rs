//! CSV export and import of the local cache.
//!
//! **Export** ([`Store::export_leads_csv`], [`Store::export_call_logs_csv`]) streams rows from SQLite to a
//! writer (memory does not grow with the table): a header row with stable column names, RFC 4180 quoting
//! (fields with `,`, `"` or line breaks are quoted, quotes doubled, CRLF line ends), UTF-8, optionally with
//! the byte-order mark Excel needs to read UTF-8. The lead columns are the names the import accepts
//! ([`Field::as_str`]) followed by `id`, `created_at` and `updated_at` (ignored by an import), so an
//! exported file imports again.
//!
//! **Formula guard.** A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (CSV
//! injection). Every free-text cell starting with one of those (or with a tab or carriage return) is
//! written with a leading apostrophe (`'=HYPERLINK(...)`), which spreadsheets show as text. Phone numbers
//! are the exception: they are validated E.164 (`+` and digits only), cannot hold a formula, and are
//! written as they are (`+919876543210`) so they stay usable for dialling and matching; a spreadsheet that
//! shows them as numbers should have the column formatted as text. The import removes the apostrophe
//! again (see [`leadline_model::import`]), so a guarded file round-trips unchanged.
//!
//! **Import** ([`Store::import_leads_csv`]) uses the server's rules ([`leadline_model::import`], one
//! implementation), then writes every valid row in ONE transaction: the lead (assigned to the signed-in
//! user), its search index row and its outbox entry (`create_lead`), so an import is either whole or not
//! there at all. Rows whose phone a listed lead of the cache has already are reported as duplicates, or,
//! with [`ImportOptions::merge_duplicates`], fill that lead's empty fields (queued as an ordinary edit).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Write;

use chrono::{SubsecRound, Utc};
use leadline_model::import::{
    Field, ImportOptions, ImportReport, ImportedLead, IssueKind, RowIssue, UTF8_BOM, parse_leads_csv,
};
use leadline_model::sync::{LeadPatch, MutationOp};
use leadline_model::{Id, Lead, LeadSource, LeadStatus, PhoneNumber, Timestamp, new_id};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::codec::{LEAD_COLUMNS, lead_from_row, parse_enum, ts, write};
use crate::history::CallFilter;
use crate::local::{edit_lead, enqueue, lead_in};
use crate::query::{Clock, LeadPageQuery};
use crate::search::index_columns;
use crate::{Store, StoreError};

/// Leads read per page by the lead-list export (memory stays bounded on a 100,000-lead cache).
pub const EXPORT_PAGE: u32 = 1_000;

/// Which leads an export writes, and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadExport {
    /// Start the file with a UTF-8 byte-order mark (Excel reads the file as UTF-8 only with it).
    #[serde(default)]
    pub bom: bool,
    /// Only leads with this status.
    #[serde(default)]
    pub status: Option<LeadStatus>,
    /// Only leads assigned to this user.
    #[serde(default)]
    pub assigned_to: Option<Id>,
}

/// Which call logs an export writes, and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallExport {
    /// Start the file with a UTF-8 byte-order mark.
    #[serde(default)]
    pub bom: bool,
    /// Only the calls of this lead.
    #[serde(default)]
    pub lead_id: Option<Id>,
    /// Only calls started at or after this time.
    #[serde(default)]
    pub since: Option<Timestamp>,
    /// Only calls whose notes or disposition hold these words (as in [`crate::CallHistoryQuery`]).
    #[serde(default)]
    pub search: Option<String>,
    /// Only calls in this direction.
    #[serde(default)]
    pub direction: Option<leadline_model::CallDirection>,
    /// Only calls with one of these disposition codes (all when empty).
    #[serde(default)]
    pub dispositions: Vec<String>,
}

/// The columns of a lead export, in order: the import's field names, then `id`, `created_at`,
/// `updated_at`.
pub const LEAD_EXPORT_COLUMNS: [&str; 15] = [
    "name",
    "phone",
    "alternate_phone",
    "email",
    "city",
    "source",
    "interest",
    "budget_inr",
    "priority",
    "status",
    "tags",
    "assigned_to",
    "id",
    "created_at",
    "updated_at",
];

/// The columns of a call-log export, in order.
pub const CALL_EXPORT_COLUMNS: [&str; 22] = [
    "id",
    "lead_id",
    "lead_name",
    "lead_phone",
    "telecaller",
    "direction",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "disposition",
    "outcome_tags",
    "notes",
    "follow_up_due_at",
    "follow_up_note",
    "recording_url",
    "device_id",
    "mos",
    "rtt_ms",
    "jitter_ms",
    "loss",
    "codec",
];

/// Tags are written joined by this (the import splits on `;` and `|`).
const TAG_SEPARATOR: &str = "; ";

/// What a local import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalImport {
    /// The validation report (the same as the server's for the same file), plus the rows matched against
    /// the cache here (duplicates, merges).
    pub report: ImportReport,
    /// New leads written (and queued as `create_lead`).
    pub created: usize,
    /// Rows merged into a lead the cache had already (with `merge_duplicates`).
    pub merged: usize,
    /// Rows whose phone a lead of the cache has already, reported and not written.
    pub duplicates: usize,
}

/// Prefixes a spreadsheet-formula-looking cell with `'` (see the module docs).
pub fn guard_formula(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

fn csv_writer<W: Write>(mut w: W, bom: bool) -> Result<::csv::Writer<W>, StoreError> {
    if bom {
        w.write_all(UTF8_BOM)?;
    }
    Ok(::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(w))
}

fn tags_cell(json: &str) -> Result<String, StoreError> {
    let tags: Vec<String> = serde_json::from_str(json)?;
    Ok(tags.join(TAG_SEPARATOR))
}

/// One lead as a row of [`LEAD_EXPORT_COLUMNS`]. Free text is guarded against formulas; phones (validated
/// E.164), enum codes, ids, timestamps and numbers never look like one.
fn lead_cells(lead: &Lead, usernames: &HashMap<String, String>) -> [String; 15] {
    let guarded = |t: Option<&str>| guard_formula(t.unwrap_or_default()).into_owned();
    let assignee = lead.assigned_to.map(|id| {
        let id = id.to_string();
        usernames.get(&id).cloned().unwrap_or(id)
    });
    [
        guarded(Some(&lead.name)),
        lead.phone.to_string(),
        lead.alternate_phone
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        guarded(lead.email.as_deref()),
        guarded(lead.city.as_deref()),
        lead.source.as_str().to_owned(),
        guarded(lead.interest.as_deref()),
        lead.budget_inr.map(|b| b.to_string()).unwrap_or_default(),
        lead.priority.as_str().to_owned(),
        lead.status.as_str().to_owned(),
        guard_formula(&lead.tags.join(TAG_SEPARATOR)).into_owned(),
        guarded(assignee.as_deref()),
        lead.id.to_string(),
        ts(&lead.created_at),
        ts(&lead.updated_at),
    ]
}

impl Store {
    /// Writes the listed leads (optionally filtered) as CSV to `w`, newest-updated first, streaming.
    /// Answers how many leads were written. `assigned_to` is the assignee's username when the cache knows
    /// it (as the import reads it), else their id.
    pub fn export_leads_csv<W: Write>(&self, w: W, opts: &LeadExport) -> Result<u64, StoreError> {
        let mut out = csv_writer(w, opts.bom)?;
        out.write_record(LEAD_EXPORT_COLUMNS)?;
        let usernames = self.usernames()?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {LEAD_COLUMNS} FROM leads
             WHERE removed = 0 AND (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR assigned_to = ?2)
             ORDER BY updated_at DESC, id DESC"
        ))?;
        let mut rows = stmt.query(params![
            opts.status.map(|s| s.as_str()),
            opts.assigned_to.map(|i| i.to_string())
        ])?;
        let mut n = 0_u64;
        while let Some(row) = rows.next()? {
            out.write_record(lead_cells(&lead_from_row(row)?, &usernames))?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    }

    /// Writes the lead list as the screen shows it — `query`'s filter and order, every page — as CSV to
    /// `w`; with `only`, just those of its leads (a selection). Answers how many leads were written.
    pub fn export_lead_list_csv<W: Write>(
        &self,
        w: W,
        query: &LeadPageQuery,
        only: Option<&[Id]>,
        bom: bool,
        clock: &Clock,
    ) -> Result<u64, StoreError> {
        let mut out = csv_writer(w, bom)?;
        out.write_record(LEAD_EXPORT_COLUMNS)?;
        let usernames = self.usernames()?;
        let only: Option<HashSet<&Id>> = only.map(|ids| ids.iter().collect());
        let mut page_query = LeadPageQuery {
            limit: Some(EXPORT_PAGE),
            cursor: None,
            ..query.clone()
        };
        let mut n = 0_u64;
        loop {
            let page = self.list_lead_page(&page_query, clock)?;
            for lead in &page.leads {
                if only.as_ref().is_none_or(|ids| ids.contains(&lead.id)) {
                    out.write_record(lead_cells(lead, &usernames))?;
                    n += 1;
                }
            }
            match page.next_cursor {
                Some(next) => page_query.cursor = Some(next),
                None => break,
            }
        }
        out.flush()?;
        Ok(n)
    }

    /// Usernames by user id, for the `assigned_to` column.
    fn usernames(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id, username FROM users")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes the call logs (optionally filtered) as CSV to `w`, newest first, streaming. Answers how many
    /// were written. `telecaller` is a username when the cache knows it, else an id.
    pub fn export_call_logs_csv<W: Write>(&self, w: W, opts: &CallExport) -> Result<u64, StoreError> {
        let mut out = csv_writer(w, opts.bom)?;
        out.write_record(CALL_EXPORT_COLUMNS)?;
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.lead_id, l.name, l.phone, coalesce(u.username, c.telecaller_id), c.direction,
                    c.started_at, c.answered_at, c.ended_at, c.duration_s, c.disposition, c.outcome_tags,
                    c.notes, c.follow_up_due_at, c.follow_up_note, c.recording_url, c.device_id,
                    c.quality_mos, c.quality_rtt_ms, c.quality_jitter_ms, c.quality_loss, c.quality_codec
             FROM call_logs c LEFT JOIN leads l ON l.id = c.lead_id
                  LEFT JOIN users u ON u.id = c.telecaller_id
             WHERE (?1 IS NULL OR c.lead_id = ?1) AND (?2 IS NULL OR c.started_at >= ?2)
             ORDER BY c.started_at DESC, c.id DESC",
        )?;
        let mut rows = stmt.query(params![
            opts.lead_id.map(|i| i.to_string()),
            opts.since.as_ref().map(ts)
        ])?;
        let filter = CallFilter::new(opts.search.as_deref(), opts.direction, &opts.dispositions);
        let mut n = 0_u64;
        while let Some(row) = rows.next()? {
            let text = |i: usize| -> Result<String, StoreError> {
                Ok(row.get::<_, Option<String>>(i)?.unwrap_or_default())
            };
            let direction = parse_enum(&text(5)?)?;
            if !filter.accepts(&text(12)?, &text(10)?, direction) {
                continue;
            }
            let duration: i64 = row.get(9)?;
            let tags = tags_cell(&row.get::<_, String>(11)?)?;
            let mut cells: Vec<String> = Vec::with_capacity(CALL_EXPORT_COLUMNS.len());
            for i in 0..CALL_EXPORT_COLUMNS.len() {
                let cell = match i {
                    // Ids, E.164 phone, enum codes, timestamps, numbers: never formula-like.
                    0 | 1 | 3 | 5 | 6 | 7 | 8 => text(i)?,
                    9 => duration.to_string(),
                    11 => guard_formula(&tags).into_owned(),
                    // Quality figures: numbers, empty without them.
                    17..=20 => row
                        .get::<_, Option<f64>>(i)?
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    _ => guard_formula(&text(i)?).into_owned(),
                };
                cells.push(cell);
            }
            out.write_record(&cells)?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    }

    /// Imports leads from a CSV file's bytes with the server's rules (see the module docs), in one
    /// transaction. A file unusable as a whole is [`StoreError::Import`] and writes nothing.
    pub fn import_leads_csv(
        &mut self,
        bytes: &[u8],
        opts: &ImportOptions,
    ) -> Result<LocalImport, StoreError> {
        self.import_leads_csv_with(bytes, opts, |_, _| {})
    }

    /// [`Store::import_leads_csv`] reporting progress: `progress(done, total)` after each written row
    /// (for a progress bar).
    pub fn import_leads_csv_with(
        &mut self,
        bytes: &[u8],
        opts: &ImportOptions,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<LocalImport, StoreError> {
        let me = self.me()?;
        let parsed = parse_leads_csv(bytes, opts)?;
        let mut report = parsed.report;
        let total = parsed.leads.len();
        // A large import dirties far more pages than the default cache holds; spilling them to the WAL in
        // the middle of the transaction is what makes a bulk write slow. Give this one room, then restore.
        let cache_size: i64 = self.conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        self.conn.execute_batch("PRAGMA cache_size = -65536")?;
        let written = self.write_import(parsed.leads, opts, &me, &mut report, &mut progress, total);
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = {cache_size}"))?;
        let mut out = written?;
        report.issues.sort_by_key(|i| i.row);
        out.report = report;
        Ok(out)
    }

    fn write_import(
        &mut self,
        leads: Vec<ImportedLead>,
        opts: &ImportOptions,
        me: &leadline_model::User,
        report: &mut ImportReport,
        progress: &mut impl FnMut(usize, usize),
        total: usize,
    ) -> Result<LocalImport, StoreError> {
        // The cache keeps microseconds: the queued lead is exactly the cached one.
        let now = Utc::now().trunc_subsecs(6);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut known = phones_in(&tx)?;
        let mut out = LocalImport::default();
        let mut search_rows = Vec::new();
        for (done, row) in leads.into_iter().enumerate() {
            let existing = std::iter::once(&row.phone)
                .chain(row.alternate_phone.as_ref())
                .find_map(|p| known.get(p.as_str()).copied());
            match existing {
                None => {
                    let lead = row.to_lead(new_id(), Some(me.id), now, LeadSource::Other);
                    search_rows.push(insert_new_lead(&tx, &lead)?);
                    for p in std::iter::once(&lead.phone).chain(lead.alternate_phone.as_ref()) {
                        known.entry(p.as_str().to_owned()).or_insert(lead.id);
                    }
                    out.created += 1;
                }
                Some(lead_id) if opts.merge_duplicates => {
                    merge_into(&tx, &row, &lead_id)?;
                    out.merged += 1;
                    add_issue(
                        report,
                        opts.max_issues,
                        cache_issue(&row, IssueKind::Merged, lead_id, "merged into"),
                    );
                }
                Some(lead_id) => {
                    out.duplicates += 1;
                    add_issue(
                        report,
                        opts.max_issues,
                        cache_issue(&row, IssueKind::Duplicate, lead_id, "not imported: same phone as"),
                    );
                }
            }
            progress(done + 1, total);
        }
        index_new_leads(&tx, &search_rows)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Every number of a listed lead, with the lead's id.
fn phones_in(conn: &Connection) -> Result<HashMap<String, Id>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, phone, alternate_phone FROM leads WHERE removed = 0")?;
    let mut rows = stmt.query([])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        let id = crate::codec::parse_id(&row.get::<_, String>(0)?)?;
        out.entry(row.get::<_, String>(1)?).or_insert(id);
        if let Some(alt) = row.get::<_, Option<String>>(2)? {
            out.entry(alt).or_insert(id);
        }
    }
    Ok(out)
}

/// Inserts a lead the cache does not have, its search row and its `create_lead` outbox entry.
fn insert_new_lead(tx: &Connection, l: &Lead) -> Result<SearchRow, StoreError> {
    let rowid = write::insert_new_lead(tx, l)?;
    enqueue(tx, "lead", &l.id, &l.id, MutationOp::CreateLead(l.clone()), None)?;
    // A new lead has no calls: its index row is its name and numbers (the same terms as reindex_lead).
    let numbers: Vec<&PhoneNumber> = std::iter::once(&l.phone).chain(&l.alternate_phone).collect();
    let (name, phones) = index_columns(&l.name, &numbers);
    Ok(SearchRow { rowid, name, phones })
}

/// A new lead's row of the search index, written after every lead of the import.
struct SearchRow {
    rowid: i64,
    name: String,
    phones: String,
}

/// Writes the index rows one after another. Interleaved with the other inserts they cost several times
/// more: FTS5 writes out what it holds in memory whenever another statement of the transaction opens a
/// statement journal (as every insert into `leads`, with its triggers, does), leaving a tiny segment per
/// row to merge later.
fn index_new_leads(tx: &Connection, rows: &[SearchRow]) -> Result<(), StoreError> {
    let mut stmt =
        tx.prepare_cached("INSERT INTO lead_search (rowid, name, phones, notes) VALUES (?1, ?2, ?3, '')")?;
    for r in rows {
        stmt.execute(params![r.rowid, r.name, r.phones])?;
    }
    Ok(())
}

/// Fills the empty fields of the cached lead `lead_id` from `row`, as an ordinary edit (queued with its
/// base values); nothing when the row adds nothing. Assignment is the server's and is not changed.
fn merge_into(tx: &rusqlite::Transaction<'_>, row: &ImportedLead, lead_id: &Id) -> Result<(), StoreError> {
    let Some(before) = lead_in(tx, lead_id)? else {
        return Err(StoreError::NotFound(format!("lead {lead_id}")));
    };
    let mut after = before.clone();
    row.fill_existing(&mut after, before.assigned_to);
    let patch = LeadPatch {
        tags: (after.tags != before.tags).then(|| after.tags.clone()),
        interest: after
            .interest
            .clone()
            .filter(|_| after.interest != before.interest),
        city: after.city.clone().filter(|_| after.city != before.city),
        email: after.email.clone().filter(|_| after.email != before.email),
        alternate_phone: after
            .alternate_phone
            .clone()
            .filter(|_| after.alternate_phone != before.alternate_phone),
        budget_inr: after.budget_inr.filter(|_| after.budget_inr != before.budget_inr),
        ..LeadPatch::default()
    };
    if !patch.is_empty() {
        edit_lead(tx, lead_id, &patch)?;
    }
    Ok(())
}

fn cache_issue(row: &ImportedLead, kind: IssueKind, lead_id: Id, what: &str) -> RowIssue {
    RowIssue {
        row: row.row,
        kind,
        column: Some(Field::Phone.as_str().to_owned()),
        value: Some(row.phone.as_str().to_owned()),
        reason: format!("{what} lead {lead_id}, which has this phone already"),
        duplicate_of: None,
    }
}

fn add_issue(report: &mut ImportReport, max_issues: usize, issue: RowIssue) {
    report.issues_total += 1;
    if report.issues.len() < max_issues {
        report.issues.push(issue);
    } else {
        report.issues_truncated = true;
    }
}
