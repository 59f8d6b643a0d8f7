//! Lead imports: parsing and validating a CSV file ([`parse_leads_csv`]) or any grid of cells (the
//! server's Google Sheets import) into [`ImportedLead`]s plus an [`ImportReport`].
//!
//! One implementation of the rules for every place that imports leads: the server (`POST
//! /api/v1/imports/csv`, Google Sheets) and the desktop cache (`leadline-store`'s CSV import). Nothing here
//! does I/O; the caller inserts [`ParsedImport::leads`] (checking each [`ImportedLead::phone`], already
//! E.164, against existing leads) and shows or returns the report.
//!
//! Every source shares one pipeline: the first row is the header (names matched case- and
//! space-insensitively, with aliases, see [`Field::from_header`]), every later row is validated on its own
//! ([`ColumnMap::validate_row`]) and collected with in-file duplicate detection (by phone, [`Collector`]).
//! A row with errors is reported ([`RowIssue`]) and not imported; an input that is unusable as a whole is
//! an [`ImportError`].

mod csv;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Id, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, Timestamp};

pub use self::csv::{UTF8_BOM, parse_leads_csv};

/// Default [`ImportOptions::max_bytes`]: 20 MiB.
pub const DEFAULT_MAX_BYTES: usize = 20 * 1024 * 1024;
/// Default [`ImportOptions::max_rows`].
pub const DEFAULT_MAX_ROWS: usize = 100_000;
/// Default [`ImportOptions::max_issues`].
pub const DEFAULT_MAX_ISSUES: usize = 1_000;
/// A reported cell value is cut to this many characters (plus `…`).
pub const MAX_VALUE_CHARS: usize = 100;

const MAX_NAME_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_TEXT_CHARS: usize = 500;
const MAX_TAG_CHARS: usize = 50;
const MAX_TAGS: usize = 50;
const MAX_USERNAME_CHARS: usize = 64;
/// Budgets above ₹10,000 crore are typos.
const MAX_BUDGET_INR: i64 = 100_000_000_000;

/// Limits and behaviour of one import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Larger input is refused whole ([`ImportError::TooLarge`]).
    pub max_bytes: usize,
    /// More data rows than this are refused whole ([`ImportError::TooManyRows`]).
    pub max_rows: usize,
    /// When set (0.0..=1.0), an import whose share of invalid rows exceeds it is refused whole
    /// ([`ImportError::TooManyInvalid`]). `None`: no limit, valid rows are imported however many fail.
    pub max_error_ratio: Option<f64>,
    /// `false`: a second row with the same phone is reported as a duplicate and dropped.
    /// `true`: it is merged into the first (see [`ImportedLead::merge_from`]) and reported as merged.
    pub merge_duplicates: bool,
    /// At most this many issues are listed in the report ([`ImportReport::issues_total`] counts all).
    pub max_issues: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            max_rows: DEFAULT_MAX_ROWS,
            max_error_ratio: None,
            merge_duplicates: false,
            max_issues: DEFAULT_MAX_ISSUES,
        }
    }
}

/// A column Leadline understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    Phone,
    AlternatePhone,
    Email,
    City,
    Source,
    Interest,
    Budget,
    Priority,
    Status,
    Tags,
    AssignedTo,
}

impl Field {
    /// Every field, in the canonical column order.
    pub const ALL: [Field; 12] = [
        Field::Name,
        Field::Phone,
        Field::AlternatePhone,
        Field::Email,
        Field::City,
        Field::Source,
        Field::Interest,
        Field::Budget,
        Field::Priority,
        Field::Status,
        Field::Tags,
        Field::AssignedTo,
    ];

    /// The fields an import cannot do without.
    pub const REQUIRED: [Field; 2] = [Field::Name, Field::Phone];

    /// The canonical column name (`alternate_phone`, `budget_inr`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Phone => "phone",
            Field::AlternatePhone => "alternate_phone",
            Field::Email => "email",
            Field::City => "city",
            Field::Source => "source",
            Field::Interest => "interest",
            Field::Budget => "budget_inr",
            Field::Priority => "priority",
            Field::Status => "status",
            Field::Tags => "tags",
            Field::AssignedTo => "assigned_to",
        }
    }

    /// The field a header cell names, if any. Case, surrounding space and punctuation do not matter
    /// (`Full Name`, `full_name`, ` FULL-NAME ` are the same), and common aliases are accepted
    /// (`mobile`, `contact`, `phone number` → phone; `customer name` → name; `budget (₹)` → budget).
    pub fn from_header(header: &str) -> Option<Field> {
        let key = normalise_key(header);
        let field = match key.as_str() {
            "name" | "full name" | "customer name" | "lead name" | "client name" | "customer"
            | "contact name" => Field::Name,
            "phone" | "mobile" | "phone number" | "contact" | "mobile number" | "contact number"
            | "phone no" | "mobile no" | "cell" | "primary phone" | "whatsapp" | "whatsapp number" => {
                Field::Phone
            }
            "alternate phone" | "alt phone" | "alternate number" | "alternate mobile"
            | "alternate contact" | "secondary phone" | "phone 2" | "other phone" | "landline" => {
                Field::AlternatePhone
            }
            "email" | "e mail" | "email address" | "email id" | "mail" => Field::Email,
            "city" | "town" | "location" => Field::City,
            "source" | "lead source" | "channel" => Field::Source,
            "interest" | "interested in" | "product" | "requirement" | "enquiry" | "inquiry" => {
                Field::Interest
            }
            "budget" | "budget inr" | "budget rs" | "budget in inr" | "budget in rs" => Field::Budget,
            "priority" => Field::Priority,
            "status" | "lead status" | "stage" => Field::Status,
            "tags" | "tag" | "labels" => Field::Tags,
            "assigned to" | "assignee" | "assigned" | "telecaller" | "owner" | "agent" => Field::AssignedTo,
            _ => return None,
        };
        Some(field)
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lower-cases, turns every run of non-alphanumeric characters into one space, trims.
fn normalise_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// A validated lead row, ready to insert (or to merge into an existing lead with the same phone).
///
/// `source`, `priority` and `status` are `None` when the row left them empty, so a merge into an existing
/// lead does not overwrite them; [`ImportedLead::to_lead`] applies the defaults for a new lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedLead {
    /// The row it came from (header = row 1).
    pub row: usize,
    /// Rows merged into this one (only with [`ImportOptions::merge_duplicates`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_rows: Vec<usize>,
    pub name: String,
    /// E.164: compare with existing leads' phones by plain equality.
    pub phone: PhoneNumber,
    pub alternate_phone: Option<PhoneNumber>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub source: Option<LeadSource>,
    pub interest: Option<String>,
    pub budget_inr: Option<i64>,
    pub priority: Option<LeadPriority>,
    pub status: Option<LeadStatus>,
    pub tags: Vec<String>,
    /// A username, as written in the file; the caller resolves it to a user id (and reports unknown
    /// names).
    pub assigned_to: Option<String>,
}

impl ImportedLead {
    /// Fills this lead's empty fields from `later` (a later row with the same phone) and appends its new
    /// tags. Non-empty fields are kept. Answers the fields where both rows had different values (the
    /// first row's value was kept).
    pub fn merge_from(&mut self, later: &ImportedLead) -> Vec<Field> {
        let mut conflicts = Vec::new();
        fn fill<T: Clone + PartialEq>(
            mine: &mut Option<T>,
            theirs: &Option<T>,
            field: Field,
            conflicts: &mut Vec<Field>,
        ) {
            match (mine.as_ref(), theirs) {
                (None, Some(v)) => *mine = Some(v.clone()),
                (Some(a), Some(b)) if a != b => conflicts.push(field),
                _ => {}
            }
        }
        if self.name != later.name {
            conflicts.push(Field::Name);
        }
        let alternate = later.alternate_phone.clone().filter(|p| *p != self.phone);
        fill(
            &mut self.alternate_phone,
            &alternate,
            Field::AlternatePhone,
            &mut conflicts,
        );
        fill(&mut self.email, &later.email, Field::Email, &mut conflicts);
        fill(&mut self.city, &later.city, Field::City, &mut conflicts);
        fill(&mut self.source, &later.source, Field::Source, &mut conflicts);
        fill(
            &mut self.interest,
            &later.interest,
            Field::Interest,
            &mut conflicts,
        );
        fill(
            &mut self.budget_inr,
            &later.budget_inr,
            Field::Budget,
            &mut conflicts,
        );
        fill(
            &mut self.priority,
            &later.priority,
            Field::Priority,
            &mut conflicts,
        );
        fill(&mut self.status, &later.status, Field::Status, &mut conflicts);
        fill(
            &mut self.assigned_to,
            &later.assigned_to,
            Field::AssignedTo,
            &mut conflicts,
        );
        push_tags(&mut self.tags, later.tags.iter().cloned());
        self.merged_rows.push(later.row);
        self.merged_rows.extend(later.merged_rows.iter().copied());
        conflicts
    }

    /// A new [`Lead`] from this row: `default_source` when the row named none (e.g. `google_sheet` for a
    /// sheet sync), priority `normal` and status `new` when empty, version 1.
    pub fn to_lead(
        &self,
        id: Id,
        assigned_to: Option<Id>,
        now: Timestamp,
        default_source: LeadSource,
    ) -> Lead {
        Lead {
            id,
            name: self.name.clone(),
            phone: self.phone.clone(),
            alternate_phone: self.alternate_phone.clone(),
            email: self.email.clone(),
            city: self.city.clone(),
            source: self.source.unwrap_or(default_source),
            interest: self.interest.clone(),
            budget_inr: self.budget_inr,
            priority: self.priority.unwrap_or(LeadPriority::Normal),
            status: self.status.unwrap_or(LeadStatus::New),
            tags: self.tags.clone(),
            assigned_to,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Fills the empty optional fields of an existing lead (same phone) from this row and adds its new
    /// tags; name, source, priority and status of the existing lead are kept. `assigned_to` is the
    /// resolved id of [`ImportedLead::assigned_to`] and only fills an unassigned lead. Answers whether
    /// anything changed (the caller then bumps `version`/`updated_at`).
    pub fn fill_existing(&self, lead: &mut Lead, assigned_to: Option<Id>) -> bool {
        let before = lead.clone();
        if lead.alternate_phone.is_none() && self.alternate_phone.as_ref() != Some(&lead.phone) {
            lead.alternate_phone = self.alternate_phone.clone();
        }
        if lead.email.is_none() {
            lead.email = self.email.clone();
        }
        if lead.city.is_none() {
            lead.city = self.city.clone();
        }
        if lead.interest.is_none() {
            lead.interest = self.interest.clone();
        }
        if lead.budget_inr.is_none() {
            lead.budget_inr = self.budget_inr;
        }
        if lead.assigned_to.is_none() {
            lead.assigned_to = assigned_to;
        }
        push_tags(&mut lead.tags, self.tags.iter().cloned());
        *lead != before
    }
}

/// Appends tags not already present (case-insensitively).
fn push_tags(tags: &mut Vec<String>, new: impl IntoIterator<Item = String>) {
    for tag in new {
        if !tags.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            tags.push(tag);
        }
    }
}

/// What kind of problem a [`RowIssue`] is.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The row is invalid and was not imported.
    Invalid,
    /// The row repeats an earlier row's phone and was dropped.
    Duplicate,
    /// The row repeats an earlier row's phone and was merged into it.
    Merged,
}

/// One problem with one row, for the person who prepared the file.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    /// The row as a spreadsheet shows it: the header is row 1.
    pub row: usize,
    pub kind: IssueKind,
    /// The column's header as written in the file, when the issue is about one cell.
    pub column: Option<String>,
    /// The offending value, cut to [`MAX_VALUE_CHARS`] characters.
    pub value: Option<String>,
    pub reason: String,
    /// For duplicates and merges: the row it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<usize>,
}

impl RowIssue {
    /// An [`IssueKind::Invalid`] issue; `value` is cut to [`MAX_VALUE_CHARS`] characters.
    pub fn invalid(row: usize, column: Option<&str>, value: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            row,
            kind: IssueKind::Invalid,
            column: column.map(str::to_owned),
            value: value.map(truncate_value),
            reason: reason.into(),
            duplicate_of: None,
        }
    }
}

/// Cuts a value to [`MAX_VALUE_CHARS`] characters, marking the cut with `…`.
pub fn truncate_value(value: &str) -> String {
    let mut chars = value.char_indices();
    match chars.nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// The outcome of an import, returned to the uploader as JSON.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Data rows read (blank rows not counted).
    pub rows: usize,
    /// Rows that passed validation (including duplicates of other valid rows).
    pub valid: usize,
    /// Rows with errors, not imported.
    pub invalid: usize,
    /// Valid rows repeating an earlier row's phone (dropped or merged).
    pub duplicates: usize,
    /// Of those, how many were merged.
    pub merged: usize,
    /// Leads to import: `valid - duplicates`.
    pub leads: usize,
    /// Blank rows, skipped.
    pub blank_rows: usize,
    /// Header cells that name no known column (ignored), as written.
    pub ignored_columns: Vec<String>,
    /// The first [`ImportOptions::max_issues`] issues, in row order.
    pub issues: Vec<RowIssue>,
    /// All issues, listed or not.
    pub issues_total: usize,
    /// Whether `issues` was cut short.
    pub issues_truncated: bool,
}

/// What an import wrote: the answer of `POST /api/v1/import/csv` and `POST /api/v1/import/sheets`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportOutcome {
    /// The parser's report, plus the rows refused or matched by the server (unknown assignee, existing
    /// lead).
    pub report: ImportReport,
    /// New leads inserted.
    pub created: usize,
    /// Existing leads that rows were merged into (each counted once per row).
    pub merged: usize,
    /// Rows whose phone matches an existing lead, reported and not written.
    pub duplicates: usize,
}

/// The body of `POST /api/v1/import/sheets`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetsImportRequest {
    pub spreadsheet_id: String,
    /// A1 notation, e.g. `Leads!A1:L`.
    pub range: String,
    #[serde(default)]
    pub merge_duplicates: bool,
    /// A username of the importer's team to assign rows that name no assignee to.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub assign_to: Option<String>,
}

/// A parsed import: the leads to write and the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedImport {
    pub leads: Vec<ImportedLead>,
    pub report: ImportReport,
}

/// Why an input cannot be imported at all (nothing of it is to be imported).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("the file has more than {max} data rows; split it into smaller files")]
    TooManyRows { max: usize },
    #[error(
        "the file is UTF-16 ({}); save it as \"CSV UTF-8\" instead",
        if *big_endian { "big-endian" } else { "little-endian" }
    )]
    Utf16 { big_endian: bool },
    #[error(
        "the file is not UTF-8 text (first bad byte on line {line}, byte offset {offset}); \
         save it as \"CSV UTF-8\""
    )]
    NotUtf8 { line: usize, offset: usize },
    #[error("the file is not a CSV file: {what}")]
    Binary { what: String },
    #[error("no header row: the first row ({first_row}) names none of the columns {expected}")]
    NoHeader { first_row: String, expected: String },
    #[error("missing required column(s) {}; found {}", missing.join(", "), found.join(", "))]
    MissingColumns {
        missing: Vec<String>,
        found: Vec<String>,
    },
    #[error("columns {first:?} and {second:?} both mean {field}; keep one of them")]
    DuplicateColumn {
        field: Field,
        first: String,
        second: String,
    },
    #[error("the header has no data rows under it")]
    NoRows,
    #[error("row {row}: a quoted field is never closed (a missing \"); the file is truncated or damaged")]
    UnterminatedQuote { row: usize },
    #[error(
        "row {row}: the last row has {found} of {expected} fields and the file does not end with a line \
         break; the file looks truncated"
    )]
    Truncated {
        row: usize,
        found: usize,
        expected: usize,
    },
    #[error("the file could not be read as CSV at row {row}: {reason}")]
    Malformed { row: usize, reason: String },
    #[error(
        "{invalid} of {rows} rows are invalid, more than the allowed {:.0} %; nothing was imported",
        max_ratio * 100.0
    )]
    TooManyInvalid {
        invalid: usize,
        rows: usize,
        max_ratio: f64,
        /// The full report, so the uploader can see what is wrong.
        report: Box<ImportReport>,
    },
}

impl ImportError {
    /// A stable snake_case code for API error bodies (`{"code": ..., "message": ...}`).
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Empty => "import_empty",
            ImportError::TooLarge { .. } => "import_too_large",
            ImportError::TooManyRows { .. } => "import_too_many_rows",
            ImportError::Utf16 { .. } | ImportError::NotUtf8 { .. } => "import_bad_encoding",
            ImportError::Binary { .. } => "import_not_csv",
            ImportError::NoHeader { .. } => "import_no_header",
            ImportError::MissingColumns { .. } => "import_missing_columns",
            ImportError::DuplicateColumn { .. } => "import_duplicate_column",
            ImportError::NoRows => "import_no_rows",
            ImportError::UnterminatedQuote { .. }
            | ImportError::Truncated { .. }
            | ImportError::Malformed { .. } => "import_malformed",
            ImportError::TooManyInvalid { .. } => "import_too_many_invalid",
        }
    }
}

/// The header of an import: which column holds which field.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// Per column: its header text (trimmed) and the field it holds.
    columns: Vec<(String, Option<Field>)>,
}

impl ColumnMap {
    /// Reads a header row. Fails when no cell names a known field, when name or phone is missing, or
    /// when two columns mean the same field.
    pub fn from_header<S: AsRef<str>>(cells: &[S]) -> Result<Self, ImportError> {
        let mut columns: Vec<(String, Option<Field>)> = Vec::with_capacity(cells.len());
        for cell in cells {
            let text = cell.as_ref().trim().to_owned();
            let field = Field::from_header(&text);
            if let Some(f) = field
                && let Some((first, _)) = columns.iter().find(|(_, g)| *g == Some(f))
            {
                return Err(ImportError::DuplicateColumn {
                    field: f,
                    first: first.clone(),
                    second: text,
                });
            }
            columns.push((text, field));
        }
        if columns.iter().all(|(_, f)| f.is_none()) {
            let first_row = cells
                .iter()
                .take(8)
                .map(|c| format!("{:?}", truncate_value(c.as_ref())))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ImportError::NoHeader {
                first_row,
                expected: Field::ALL.map(Field::as_str).join(", "),
            });
        }
        let missing: Vec<String> = Field::REQUIRED
            .iter()
            .filter(|f| !columns.iter().any(|(_, g)| *g == Some(**f)))
            .map(|f| f.as_str().to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns {
                missing,
                found: columns.iter().map(|(h, _)| format!("{h:?}")).collect(),
            });
        }
        Ok(Self { columns })
    }

    /// How many columns the header has.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the header has no columns (never true for a map built by [`ColumnMap::from_header`]).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Header cells naming no known field.
    pub fn ignored(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|(h, f)| f.is_none() && !h.is_empty())
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// Validates one data row. Missing trailing cells count as empty; cells beyond the header are not
    /// looked at. Every problem of the row is reported, not just the first.
    pub fn validate_row<S: AsRef<str>>(
        &self,
        row: usize,
        cells: &[S],
    ) -> Result<ImportedLead, Vec<RowIssue>> {
        let mut issues = Vec::new();
        let mut name = None;
        let mut phone = None;
        let mut lead_cells: HashMap<Field, (&str, &str)> = HashMap::new();
        for (i, (header, field)) in self.columns.iter().enumerate() {
            if let Some(f) = field {
                let value = cells.get(i).map(|c| unguard(c.as_ref().trim())).unwrap_or("");
                lead_cells.insert(*f, (header.as_str(), value));
            }
        }
        let cell = |f: Field| lead_cells.get(&f).copied().filter(|(_, v)| !v.is_empty());
        let mut bad = |header: &str, value: &str, reason: String| {
            issues.push(RowIssue::invalid(row, Some(header), Some(value), reason));
        };

        match lead_cells.get(&Field::Name).copied() {
            Some((h, v)) if v.is_empty() => bad(h, v, "name is empty".into()),
            Some((h, v)) => match clean_text(v, MAX_NAME_CHARS) {
                Ok(n) => name = Some(n),
                Err(reason) => bad(h, v, format!("name {reason}")),
            },
            None => {}
        }
        match lead_cells.get(&Field::Phone).copied() {
            Some((h, v)) if v.is_empty() => bad(h, v, "phone is empty".into()),
            Some((h, v)) => match parse_phone(v) {
                Ok(p) => phone = Some(p),
                Err(reason) => bad(h, v, reason),
            },
            None => {}
        }
        let mut lead = Optional::default();
        if let Some((h, v)) = cell(Field::AlternatePhone) {
            match parse_phone(v) {
                Ok(p) => lead.alternate_phone = Some(p),
                Err(reason) => bad(h, v, format!("alternate phone: {reason}")),
            }
        }
        if let Some((h, v)) = cell(Field::Email) {
            match parse_email(v) {
                Ok(e) => lead.email = Some(e),
                Err(reason) => bad(h, v, reason),
            }
        }
        for (field, slot, max) in [
            (Field::City, &mut lead.city, MAX_NAME_CHARS),
            (Field::Interest, &mut lead.interest, MAX_TEXT_CHARS),
        ] {
            if let Some((h, v)) = cell(field) {
                match clean_text(v, max) {
                    Ok(t) => *slot = Some(t),
                    Err(reason) => bad(h, v, format!("{field} {reason}")),
                }
            }
        }
        if let Some((h, v)) = cell(Field::Source) {
            match parse_source(v) {
                Ok(s) => lead.source = Some(s),
                Err(reason) => bad(h, v, reason),
            }
        }
        if let Some((h, v)) = cell(Field::Budget) {
            match parse_budget(v) {
                Ok(b) => lead.budget_inr = Some(b),
                Err(reason) => bad(h, v, reason),
            }
        }
        if let Some((h, v)) = cell(Field::Priority) {
            match parse_priority(v) {
                Ok(p) => lead.priority = Some(p),
                Err(reason) => bad(h, v, reason),
            }
        }
        if let Some((h, v)) = cell(Field::Status) {
            match parse_status(v) {
                Ok(s) => lead.status = Some(s),
                Err(reason) => bad(h, v, reason),
            }
        }
        if let Some((h, v)) = cell(Field::Tags) {
            match parse_tags(v) {
                Ok(t) => lead.tags = t,
                Err(reason) => bad(h, v, reason),
            }
        }
        if let Some((h, v)) = cell(Field::AssignedTo) {
            if v.chars().count() > MAX_USERNAME_CHARS
                || v.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                bad(
                    h,
                    v,
                    "assigned_to must be a username (no spaces, at most 64 characters)".into(),
                );
            } else {
                lead.assigned_to = Some(v.to_owned());
            }
        }
        match (name, phone) {
            (Some(name), Some(phone)) if issues.is_empty() => Ok(ImportedLead {
                row,
                merged_rows: Vec::new(),
                name,
                alternate_phone: lead.alternate_phone.filter(|p| *p != phone),
                phone,
                email: lead.email,
                city: lead.city,
                source: lead.source,
                interest: lead.interest,
                budget_inr: lead.budget_inr,
                priority: lead.priority,
                status: lead.status,
                tags: lead.tags,
                assigned_to: lead.assigned_to,
            }),
            _ => Err(issues),
        }
    }
}

/// Removes the apostrophe a spreadsheet export puts before a cell that would otherwise run as a formula
/// (`'=SUM(A1)`, `'+91...`, `'-`, `'@x`; see leadline-store's CSV export), so a guarded file imports
/// the values it was made from. Any other leading apostrophe is data and stays.
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// The optional fields of a row being validated.
#[derive(Default)]
struct Optional {
    alternate_phone: Option<PhoneNumber>,
    email: Option<String>,
    city: Option<String>,
    source: Option<LeadSource>,
    interest: Option<String>,
    budget_inr: Option<i64>,
    priority: Option<LeadPriority>,
    status: Option<LeadStatus>,
    tags: Vec<String>,
    assigned_to: Option<String>,
}

/// Trims, collapses internal whitespace (including line breaks) to single spaces, refuses control
/// characters and over-long text.
fn clean_text(value: &str, max_chars: usize) -> Result<String, String> {
    if value.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err("contains control characters".into());
    }
    let text = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let len = text.chars().count();
    if len > max_chars {
        return Err(format!(
            "is {len} characters long; at most {max_chars} are allowed"
        ));
    }
    Ok(text)
}

/// Parses a phone number (default region India) to E.164.
fn parse_phone(value: &str) -> Result<PhoneNumber, String> {
    // Excel shows long numbers in scientific notation and may save them that way ("9.87654E+09").
    let upper = value.to_ascii_uppercase();
    if upper.contains("E+") && upper.chars().all(|c| c.is_ascii_digit() || ".E+".contains(c)) {
        return Err(format!(
            "{value:?} is a number in scientific notation (Excel): format the column as text and export again"
        ));
    }
    PhoneNumber::parse(value).map_err(|e| e.to_string())
}

fn parse_email(value: &str) -> Result<String, String> {
    let bad = || format!("{value:?} is not an email address");
    if value.chars().count() > MAX_EMAIL_CHARS || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    if local.is_empty() || local.contains('@') || !domain_ok {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// `Walk-in`, `walk in`, `WALK_IN` → `walk_in`.
fn enum_key(value: &str) -> String {
    normalise_key(value).replace(' ', "_")
}

fn parse_source(value: &str) -> Result<LeadSource, String> {
    let key = enum_key(value);
    let source = match key.as_str() {
        "walkin" | "walk_in" | "store" | "showroom" => LeadSource::WalkIn,
        "web" | "website" | "site" | "online" => LeadSource::Website,
        "ig" | "insta" | "instagram" => LeadSource::Instagram,
        "fb" | "facebook" | "meta" => LeadSource::Facebook,
        "google_sheet" | "google_sheets" | "sheet" | "sheets" => LeadSource::GoogleSheet,
        "referral" | "reference" | "referred" => LeadSource::Referral,
        "other" | "others" => LeadSource::Other,
        _ => {
            return Err(unknown(
                "source",
                value,
                LeadSource::ALL.iter().map(|s| s.as_str()),
            ));
        }
    };
    Ok(source)
}

fn parse_priority(value: &str) -> Result<LeadPriority, String> {
    let key = enum_key(value);
    let priority = match key.as_str() {
        "low" => LeadPriority::Low,
        "normal" | "medium" | "mid" => LeadPriority::Normal,
        "high" => LeadPriority::High,
        "hot" | "urgent" => LeadPriority::Hot,
        _ => {
            return Err(unknown(
                "priority",
                value,
                LeadPriority::ALL.iter().map(|s| s.as_str()),
            ));
        }
    };
    Ok(priority)
}

fn parse_status(value: &str) -> Result<LeadStatus, String> {
    let key = enum_key(value);
    let status = match key.as_str() {
        "followup" => LeadStatus::FollowUp,
        "dnc" => LeadStatus::DoNotCall,
        "visit" => LeadStatus::VisitScheduled,
        other => match other.parse::<LeadStatus>() {
            Ok(s) => s,
            Err(_) => {
                return Err(unknown(
                    "status",
                    value,
                    LeadStatus::ALL.iter().map(|s| s.as_str()),
                ));
            }
        },
    };
    Ok(status)
}

fn unknown<'a>(kind: &str, value: &str, expected: impl Iterator<Item = &'a str>) -> String {
    format!(
        "unknown {kind} {:?}; expected one of: {}",
        truncate_value(value),
        expected.collect::<Vec<_>>().join(", ")
    )
}

/// Tags separated by `;` or `|`; trimmed, empty ones dropped, repeats (case-insensitive) dropped.
fn parse_tags(value: &str) -> Result<Vec<String>, String> {
    let mut tags = Vec::new();
    for tag in value.split([';', '|']) {
        let tag = clean_text(tag, MAX_TAG_CHARS).map_err(|r| format!("tag {r}"))?;
        if !tag.is_empty() {
            push_tags(&mut tags, [tag]);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("{} tags; at most {MAX_TAGS} are allowed", tags.len()));
    }
    Ok(tags)
}

/// Whole rupees from what people type: `150000`, `1,50,000`, `₹ 1,50,000`, `Rs. 150000`, `INR 150000`,
/// `150000.00`, `1.5 lakh`, `1.5L`, `2 cr`, `50k`.
fn parse_budget(value: &str) -> Result<i64, String> {
    let bad = |why: &str| format!("budget {value:?} {why}");
    let mut text = value.trim().to_lowercase();
    for prefix in ["₹", "rs.", "rs", "inr"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.trim_start().to_owned();
            break;
        }
    }
    if let Some(rest) = text.strip_suffix("/-") {
        text = rest.trim_end().to_owned();
    }
    let text: String = text.chars().filter(|c| *c != ',' && *c != '_').collect();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: i64 = match unit.trim() {
        "" => 1,
        "k" | "thousand" => 1_000,
        "l" | "lac" | "lacs" | "lakh" | "lakhs" => 100_000,
        "cr" | "crore" | "crores" => 10_000_000,
        _ => {
            return Err(bad(
                "is not an amount in rupees (e.g. 150000, 1,50,000, 1.5 lakh)",
            ));
        }
    };
    if number.is_empty() || number.matches('.').count() > 1 {
        return Err(bad(
            "is not an amount in rupees (e.g. 150000, 1,50,000, 1.5 lakh)",
        ));
    }
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.len() > 15 || frac.len() > 7 {
        return Err(bad("is too large"));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad("is not a number"))?
    };
    let mut amount = whole.checked_mul(multiplier).ok_or_else(|| bad("is too large"))?;
    if !frac.is_empty() {
        // Fractions are exact in paise-free rupees only for the unit's precision; round to whole rupees.
        let frac_value: i64 = frac.parse().map_err(|_| bad("is not a number"))?;
        let scale = 10_i64.pow(frac.len() as u32);
        amount += (frac_value * multiplier + scale / 2) / scale;
    }
    if amount > MAX_BUDGET_INR {
        return Err(bad("is too large"));
    }
    Ok(amount)
}

/// Gathers validated rows into leads and a report: in-file duplicates by phone, issue cap, limits.
pub struct Collector<'a> {
    opts: &'a ImportOptions,
    leads: Vec<ImportedLead>,
    by_phone: HashMap<PhoneNumber, usize>,
    report: ImportReport,
}

impl<'a> Collector<'a> {
    /// An empty collection for an import whose header is `columns`.
    pub fn new(opts: &'a ImportOptions, columns: &ColumnMap) -> Self {
        Self {
            opts,
            leads: Vec::new(),
            by_phone: HashMap::new(),
            report: ImportReport {
                ignored_columns: columns.ignored(),
                ..ImportReport::default()
            },
        }
    }

    /// Counts a blank row.
    pub fn blank(&mut self) {
        self.report.blank_rows += 1;
    }

    /// Counts a data row and fails once there are more than [`ImportOptions::max_rows`].
    pub fn start_row(&mut self) -> Result<(), ImportError> {
        self.report.rows += 1;
        if self.report.rows > self.opts.max_rows {
            return Err(ImportError::TooManyRows {
                max: self.opts.max_rows,
            });
        }
        Ok(())
    }

    /// Records an issue (listed while under the cap, always counted).
    pub fn issue(&mut self, issue: RowIssue) {
        self.report.issues_total += 1;
        if self.report.issues.len() < self.opts.max_issues {
            self.report.issues.push(issue);
        } else {
            self.report.issues_truncated = true;
        }
    }

    /// Takes the outcome of [`ColumnMap::validate_row`] for a row counted with [`Collector::start_row`].
    pub fn add(&mut self, result: Result<ImportedLead, Vec<RowIssue>>) {
        let lead = match result {
            Ok(lead) => lead,
            Err(issues) => {
                self.report.invalid += 1;
                for issue in issues {
                    self.issue(issue);
                }
                return;
            }
        };
        self.report.valid += 1;
        let Some(&index) = self.by_phone.get(&lead.phone) else {
            self.by_phone.insert(lead.phone.clone(), self.leads.len());
            self.leads.push(lead);
            return;
        };
        self.report.duplicates += 1;
        let Some(first) = self.leads.get_mut(index) else {
            return;
        };
        let first_row = first.row;
        let issue = if self.opts.merge_duplicates {
            self.report.merged += 1;
            let conflicts = first.merge_from(&lead);
            let mut reason = format!("same phone {} as row {first_row}: merged into it", lead.phone);
            if !conflicts.is_empty() {
                let names: Vec<&str> = conflicts.iter().map(|f| f.as_str()).collect();
                reason.push_str(&format!(
                    "; kept row {first_row}'s differing {}",
                    names.join(", ")
                ));
            }
            RowIssue {
                row: lead.row,
                kind: IssueKind::Merged,
                column: None,
                value: Some(lead.phone.to_string()),
                reason,
                duplicate_of: Some(first_row),
            }
        } else {
            RowIssue {
                row: lead.row,
                kind: IssueKind::Duplicate,
                column: None,
                value: Some(lead.phone.to_string()),
                reason: format!(
                    "duplicate of row {first_row} (same phone {}); not imported",
                    lead.phone
                ),
                duplicate_of: Some(first_row),
            }
        };
        self.issue(issue);
    }

    /// Ends the import: fails on no rows or too many invalid ones, else the leads and report.
    pub fn finish(mut self) -> Result<ParsedImport, ImportError> {
        if self.report.rows == 0 {
            return Err(ImportError::NoRows);
        }
        self.report.leads = self.leads.len();
        if let Some(max_ratio) = self.opts.max_error_ratio {
            let ratio = self.report.invalid as f64 / self.report.rows as f64;
            if ratio > max_ratio {
                return Err(ImportError::TooManyInvalid {
                    invalid: self.report.invalid,
                    rows: self.report.rows,
                    max_ratio,
                    report: Box::new(self.report),
                });
            }
        }
        // Issues arrive in row order except merges, which are reported at the later row: already ordered.
        Ok(ParsedImport {
            leads: self.leads,
            report: self.report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_with_aliases() {
        for (h, f) in [
            ("Full Name", Field::Name),
            (" CUSTOMER_NAME ", Field::Name),
            ("Mobile", Field::Phone),
            ("Phone Number", Field::Phone),
            ("alternate_phone", Field::AlternatePhone),
            ("Budget (INR)", Field::Budget),
            ("budget_inr", Field::Budget),
            ("Assigned To", Field::AssignedTo),
        ] {
            assert_eq!(Field::from_header(h), Some(f), "{h}");
        }
        assert_eq!(Field::from_header("नाम"), None);
    }

    #[test]
    fn budgets_in_indian_notation() {
        for (input, want) in [
            ("150000", 150_000),
            ("1,50,000", 150_000),
            ("₹ 1,50,000", 150_000),
            ("Rs. 150000/-", 150_000),
            ("1.5 lakh", 150_000),
            ("2Cr", 20_000_000),
            ("50k", 50_000),
            ("150000.00", 150_000),
        ] {
            assert_eq!(parse_budget(input), Ok(want), "{input}");
        }
        for bad in ["-5", "lots", "1.2.3", "99999999999999999999", "₹"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }

    fn row(cells: &[&str]) -> ImportedLead {
        let columns =
            ColumnMap::from_header(&["name", "phone", "city", "email", "status", "tags", "alt phone"])
                .expect("header");
        columns.validate_row(2, cells).expect("valid row")
    }

    #[test]
    fn a_new_lead_gets_defaults_and_an_existing_one_only_fills_gaps() {
        let imported = row(&[
            "Asha",
            "98765 43210",
            "Pune",
            "a@example.com",
            "",
            "gold;bridal",
            "98765 43210",
        ]);
        assert_eq!(imported.alternate_phone, None, "same as the phone: dropped");
        let now = chrono::Utc::now();
        let id = crate::new_id();
        let lead = imported.to_lead(id, None, now, LeadSource::GoogleSheet);
        assert_eq!(
            (lead.source, lead.priority, lead.status, lead.version),
            (LeadSource::GoogleSheet, LeadPriority::Normal, LeadStatus::New, 1)
        );
        assert_eq!(lead.phone.as_str(), "+919876543210");

        let mut existing = lead.clone();
        existing.city = Some("Mumbai".into());
        existing.email = None;
        existing.status = LeadStatus::Contacted;
        existing.tags = vec!["Gold".into()];
        let later = row(&[
            "Asha R",
            "9876543210",
            "Thane",
            "b@example.com",
            "converted",
            "gold;coins",
            "",
        ]);
        let owner = crate::new_id();
        assert!(later.fill_existing(&mut existing, Some(owner)));
        assert_eq!(existing.city.as_deref(), Some("Mumbai"), "kept");
        assert_eq!(existing.email.as_deref(), Some("b@example.com"), "filled");
        assert_eq!(
            existing.status,
            LeadStatus::Contacted,
            "status is never overwritten"
        );
        assert_eq!(existing.name, "Asha");
        assert_eq!(existing.tags, vec!["Gold", "coins"]);
        assert_eq!(existing.assigned_to, Some(owner));
        assert!(!later.fill_existing(&mut existing, None), "nothing left to fill");
    }

    #[test]
    fn long_values_are_cut_in_issues() {
        let columns = ColumnMap::from_header(&["name", "phone"]).expect("header");
        let long = "x".repeat(5_000);
        let issues = columns
            .validate_row(9, &["Asha", long.as_str()])
            .expect_err("bad phone");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].row, 9);
        assert_eq!(
            issues[0].value.as_deref().map(|v| v.chars().count()),
            Some(MAX_VALUE_CHARS + 1)
        );
    }

    #[test]
    fn a_formula_guard_apostrophe_is_removed_and_other_apostrophes_kept() {
        assert_eq!(unguard("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unguard("'+919876543210"), "+919876543210");
        assert_eq!(unguard("'-2"), "-2");
        assert_eq!(unguard("'@x"), "@x");
        assert_eq!(unguard("'Neha"), "'Neha");
        assert_eq!(unguard("O'Brien"), "O'Brien");
        assert_eq!(unguard("'"), "'");
        let columns = ColumnMap::from_header(&["name", "phone", "city"]).expect("header");
        let lead = columns
            .validate_row(2, &["'=HYPERLINK(\"x\")", "'+919876543210", "'-Pune"])
            .expect("valid");
        assert_eq!(lead.name, "=HYPERLINK(\"x\")");
        assert_eq!(lead.phone.as_str(), "+919876543210");
        assert_eq!(lead.city.as_deref(), Some("-Pune"));
    }

    #[test]
    fn truncation_respects_characters() {
        let long = "अ".repeat(150);
        let cut = truncate_value(&long);
        assert_eq!(cut.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_value("short"), "short");
    }
}
