//! The lead list for the UI: filters, full-text search, sorts and keyset pages; counts per status.
//!
//! Every order walks an index with the lead id as the last key, and a page continues strictly after the
//! previous page's last row `(sort keys…, id)`, so rows with equal sort keys are neither repeated nor skipped
//! and no page ever uses OFFSET. The cursor is opaque to callers and bound to the filters and sort that made
//! it.

use chrono::{Duration, FixedOffset, NaiveTime, TimeZone, Utc};
use leadline_model::{Id, Lead, LeadPriority, LeadSource, LeadStatus, Timestamp};
use rusqlite::types::Value;
use rusqlite::vtab::array::Array;
use serde::{Deserialize, Serialize};

use crate::bulk::{prepare_hinted, runnable};
use crate::codec::{self, LEAD_COLUMNS, ts};
use crate::cursor::{self, PageCursor};
use crate::search::{MATCH_FN, SearchTerms};
use crate::{Store, StoreError};

/// Rows in a page when the caller does not say.
pub const DEFAULT_PAGE: u32 = 50;

/// The most candidates a driving filter may have (see [`Store::plan`]).
const MAX_FEW: i64 = 20_000;

/// Rows of the list a search samples to estimate how many leads it matches (see [`Store::search_plan`]).
const SEARCH_SAMPLE: i64 = 128;

/// Estimated costs in microseconds (measured on the bench cache, `docs/benchmarks.md`) of the steps of the
/// ways to answer a search (see [`Store::search_plan`]):
/// - walking a list index and checking a listed row's index row (a random read of another table);
const CHECK_ROW_US: f64 = 2.5;
/// - gathering one full-text match into the set of matches;
const MATCH_US: f64 = 0.25;
/// - walking one entry of a list index and probing it in that set;
const PROBE_ROW_US: f64 = 0.1;
/// - fetching a match's lead to sort the matches;
const FETCH_ROW_US: f64 = 1.2;
/// - fetching a candidate of a driving filter and checking it.
const FILTER_ROW_US: f64 = 3.5;
/// A walk estimated to cost less than this is taken without counting the full-text matches.
const CHEAP_WALK_US: f64 = 1_000.0;

/// "Now" and the user's UTC offset: what "today", "due today" and "overdue" mean. Passed in by the caller,
/// so results do not depend on the machine's clock or zone (and tests are deterministic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub now: Timestamp,
    /// The local zone's offset from UTC in minutes, east positive (India: 330).
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

impl Clock {
    pub fn new(now: Timestamp, utc_offset_minutes: i32) -> Self {
        Self {
            now,
            utc_offset_minutes,
        }
    }

    /// The system clock and the system zone's current offset.
    pub fn system() -> Self {
        let local = chrono::Local::now();
        Self {
            now: local.with_timezone(&Utc),
            utc_offset_minutes: local.offset().local_minus_utc() / 60,
        }
    }

    /// The local day that contains `now`, as a UTC range `[start, end)`.
    pub fn today(&self) -> Result<(Timestamp, Timestamp), StoreError> {
        let bad = || StoreError::Invalid(format!("UTC offset of {} minutes", self.utc_offset_minutes));
        let offset = self
            .utc_offset_minutes
            .checked_mul(60)
            .and_then(FixedOffset::east_opt)
            .ok_or_else(bad)?;
        let date = self.now.with_timezone(&offset).date_naive();
        let start = offset
            .from_local_datetime(&date.and_time(NaiveTime::MIN))
            .single()
            .ok_or_else(bad)?
            .with_timezone(&Utc);
        Ok((start, start + Duration::days(1)))
    }
}

/// Which follow-ups a lead list keeps (by the lead's earliest open follow-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "FollowUpWhen"))]
#[serde(rename_all = "snake_case")]
pub enum FollowUpDue {
    /// Due before now.
    Overdue,
    /// Due some time today (local day), earlier or later than now.
    Today,
    /// Due before the end of today: overdue or due today.
    OverdueOrToday,
}

/// A time range `[from, until)`; an absent end does not bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    #[serde(default)]
    pub from: Option<Timestamp>,
    #[serde(default)]
    pub until: Option<Timestamp>,
}

/// What a lead list shows. Empty fields do not filter; the fields that are set all apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadFilter {
    /// Free text: name (word prefixes), phone (any digit form: `98765`, `098765`, `+91 98765 43210`) or
    /// words of call notes.
    #[serde(default)]
    pub search: Option<String>,
    /// Any of these statuses.
    #[serde(default)]
    pub statuses: Vec<LeadStatus>,
    /// Any of these priorities.
    #[serde(default)]
    pub priorities: Vec<LeadPriority>,
    /// Any of these sources.
    #[serde(default)]
    pub sources: Vec<LeadSource>,
    #[serde(default)]
    pub follow_up: Option<FollowUpDue>,
    #[serde(default)]
    pub created: Option<TimeRange>,
    #[serde(default)]
    pub updated: Option<TimeRange>,
    /// Every one of these tags (exact).
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub assigned_to: Option<Id>,
}

/// The orders of the lead list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "SortKey"))]
#[serde(rename_all = "snake_case")]
pub enum LeadOrderKey {
    #[default]
    UpdatedAt,
    CreatedAt,
    /// Case-insensitive (ASCII).
    Name,
    /// The earliest open follow-up; leads without one come last in either direction.
    NextFollowUp,
    /// Priority (low < normal < high < hot), then last update in the same direction.
    Priority,
}

/// A lead list order; ties are broken by the lead id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ListSort"))]
pub struct LeadOrder {
    #[serde(default)]
    pub key: LeadOrderKey,
    #[serde(default)]
    pub descending: bool,
}

impl Default for LeadOrder {
    /// Most recently updated first.
    fn default() -> Self {
        Self {
            key: LeadOrderKey::UpdatedAt,
            descending: true,
        }
    }
}

/// One page of the lead list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadPageQuery {
    #[serde(default)]
    pub filter: LeadFilter,
    #[serde(default)]
    pub sort: LeadOrder,
    /// Rows per page (default [`DEFAULT_PAGE`], at most [`crate::MAX_PAGE`]).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page; `None` for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A page of leads and where the next one starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadListPage {
    pub leads: Vec<Lead>,
    /// Pass back in [`LeadPageQuery::cursor`] for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// How one order maps to SQL: key expressions before the id (all in one direction) and the index that
/// yields rows in that order.
struct SortSpec {
    keys: &'static [&'static str],
    index: &'static str,
    /// The first key may be NULL; such rows come after all others (a second phase ordered by id).
    nullable: bool,
}

fn sort_spec(key: LeadOrderKey) -> SortSpec {
    let (keys, index, nullable): (&'static [&'static str], _, _) = match key {
        LeadOrderKey::UpdatedAt => (&["l.updated_at"], "leads_by_updated", false),
        LeadOrderKey::CreatedAt => (&["l.created_at"], "leads_sort_created", false),
        LeadOrderKey::Name => (&["l.name COLLATE NOCASE"], "leads_sort_name", false),
        LeadOrderKey::NextFollowUp => (&["l.next_follow_up_at"], "leads_sort_follow_up", true),
        LeadOrderKey::Priority => (&["l.priority_rank", "l.updated_at"], "leads_sort_priority", false),
    };
    SortSpec {
        keys,
        index,
        nullable,
    }
}

/// SQL text and its positional arguments, built together so they never drift apart.
#[derive(Default)]
pub(crate) struct Sql {
    pub(crate) terms: Vec<String>,
    pub(crate) args: Vec<Value>,
}

impl Sql {
    pub(crate) fn term(&mut self, sql: &str, args: impl IntoIterator<Item = Value>) {
        self.terms.push(sql.to_owned());
        self.args.extend(args);
    }

    fn any_of(&mut self, column: &str, values: &[&str]) {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.term(
            &format!("{column} IN ({marks})"),
            values.iter().map(|v| Value::Text((*v).to_owned())),
        );
    }

    pub(crate) fn where_clause(&self) -> String {
        self.terms.join(" AND ")
    }
}

/// How a statement applies a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchBy {
    /// Gather the full-text matches once.
    Index,
    /// Check each row's index row with `leadline_match`.
    Check,
}

/// The terms of `filter` (every one but the statuses when `with_statuses` is false), the search applied as
/// `search` says (or left out without it).
fn filter_terms(
    filter: &LeadFilter,
    clock: &Clock,
    search: Option<(&SearchTerms, SearchBy)>,
    with_statuses: bool,
) -> Result<Sql, StoreError> {
    let mut sql = Sql::default();
    sql.term("l.removed = 0", []);
    if with_statuses {
        let s: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        sql.any_of("l.status", &s);
    }
    let p: Vec<&str> = filter.priorities.iter().map(|p| p.as_str()).collect();
    sql.any_of("l.priority", &p);
    let s: Vec<&str> = filter.sources.iter().map(|s| s.as_str()).collect();
    sql.any_of("l.source", &s);
    if let Some(due) = filter.follow_up {
        let (lo, hi) = follow_up_bounds(due, clock)?;
        follow_up_range(&mut sql, lo, hi);
    }
    for (column, range) in [
        ("l.created_at", &filter.created),
        ("l.updated_at", &filter.updated),
    ] {
        if let Some(r) = range {
            if let Some(from) = &r.from {
                sql.term(&format!("{column} >= ?"), [Value::Text(ts(from))]);
            }
            if let Some(until) = &r.until {
                sql.term(&format!("{column} < ?"), [Value::Text(ts(until))]);
            }
        }
    }
    for tag in &filter.tags {
        sql.term(
            "EXISTS (SELECT 1 FROM json_each(l.tags) WHERE json_each.value = ?)",
            [Value::Text(tag.clone())],
        );
    }
    if let Some(u) = filter.assigned_to {
        sql.term("l.assigned_to = ?", [Value::Text(u.to_string())]);
    }
    match search {
        None => {}
        // Prefix queries gather their matches once (FTS5 merges a prefix's doclists per query, so a probe per
        // row would repeat that work).
        Some((terms, SearchBy::Index)) => sql.term(
            "l.rowid IN (SELECT rowid FROM lead_search WHERE lead_search MATCH ?)",
            [Value::Text(terms.fts())],
        ),
        Some((terms, SearchBy::Check)) => sql.term(
            &format!(
                "(SELECT {MATCH_FN}(s.c0, s.c1, s.c2, ?) FROM lead_search_content s WHERE s.id = l.rowid)"
            ),
            [Value::Text(terms.spec())],
        ),
    }
    Ok(sql)
}

/// `[lo, hi)` bounds on the earliest open follow-up for `due`.
fn follow_up_bounds(due: FollowUpDue, clock: &Clock) -> Result<(Option<Timestamp>, Timestamp), StoreError> {
    let (start, end) = clock.today()?;
    Ok(match due {
        FollowUpDue::Overdue => (None, clock.now),
        FollowUpDue::Today => (Some(start), end),
        FollowUpDue::OverdueOrToday => (None, end),
    })
}

fn follow_up_range(sql: &mut Sql, lo: Option<Timestamp>, hi: Timestamp) {
    sql.term("l.next_follow_up_at IS NOT NULL", []);
    if let Some(lo) = lo {
        sql.term("l.next_follow_up_at >= ?", [Value::Text(ts(&lo))]);
    }
    sql.term("l.next_follow_up_at < ?", [Value::Text(ts(&hi))]);
}

/// What produces the candidate rows of a list query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// Walk the sort index, checking every filter on each row (many candidates).
    SortIndex,
    /// Fetch the full-text matches by rowid, then sort them (a search with few matches).
    Search,
    /// Fetch the leads with these statuses through `leads_by_status`, then sort them.
    Status,
    /// Fetch the leads with a follow-up in range through `leads_sort_follow_up`, then sort them.
    FollowUp,
}

/// A prepared list statement: everything but the keyset bound and the limit.
struct Plan {
    spec: SortSpec,
    descending: bool,
    driver: Driver,
    base: Sql,
    /// The search's full-text matches (rowids), when the plan gathered them: the statements take them as
    /// their last parameter (`rarray`) instead of running the full-text query again.
    matches: Option<Array>,
}

/// What a statement of a plan selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    /// The lead's columns, then its sort keys.
    Leads,
    /// The rowid alone (a search's sample).
    RowId,
}

impl Store {
    /// One page of the lead list: filtered, searched, sorted, after `q.cursor`.
    pub fn list_lead_page(&self, q: &LeadPageQuery, clock: &Clock) -> Result<LeadListPage, StoreError> {
        let (fingerprint, after) = page_cursor(q)?;
        let limit = page_limit(q.limit);
        let Some(plan) = self.plan(q, after.as_ref(), clock)? else {
            return Ok(LeadListPage {
                leads: Vec::new(),
                next_cursor: None,
            });
        };
        // One row more than the page tells whether another page follows.
        let want = limit as usize + 1;
        let mut rows: Vec<(Lead, Vec<Value>, u32)> = Vec::with_capacity(want);
        let first_phase = after.as_ref().map_or(0, |c| c.phase);
        let phases = if plan.spec.nullable { 2 } else { 1 };
        for phase in first_phase..phases {
            let bound = after.as_ref().filter(|c| c.phase == phase);
            let (sql, args) = page_sql(&plan, phase, bound, want - rows.len(), Select::Leads)?;
            let mut stmt = prepare_hinted(&self.conn, &sql)?;
            bind_page(&mut stmt, &plan, &args)?;
            let mut it = stmt.raw_query();
            while let Some(row) = it.next()? {
                let lead = codec::lead_from_row(row)?;
                let width = if phase == 0 { plan.spec.keys.len() } else { 0 };
                let keys = (0..width)
                    .map(|i| row.get::<_, Value>(LEAD_COLUMN_COUNT + i))
                    .collect::<Result<Vec<_>, _>>()?;
                rows.push((lead, keys, phase));
            }
            if rows.len() >= want {
                break;
            }
        }
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|(lead, keys, phase)| {
                    PageCursor {
                        fingerprint,
                        phase: *phase,
                        keys: keys.clone(),
                        id: lead.id.to_string(),
                    }
                    .encode()
                })
                .transpose()?
        } else {
            None
        };
        Ok(LeadListPage {
            leads: rows.into_iter().map(|(l, _, _)| l).collect(),
            next_cursor,
        })
    }

    /// The query plan (SQLite's `EXPLAIN QUERY PLAN` details) of the first statement
    /// [`Store::list_lead_page`] runs for `q`: for checking that an order is served by an index.
    pub fn explain_lead_page(&self, q: &LeadPageQuery, clock: &Clock) -> Result<Vec<String>, StoreError> {
        let (_, after) = page_cursor(q)?;
        let Some(plan) = self.plan(q, after.as_ref(), clock)? else {
            return Ok(Vec::new());
        };
        let (sql, args) = page_sql(&plan, 0, None, page_limit(q.limit) as usize + 1, Select::Leads)?;
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", runnable(&self.conn, &sql)?))?;
        bind_page(&mut stmt, &plan, &args)?;
        let mut rows = stmt.raw_query();
        let mut details = Vec::new();
        while let Some(r) = rows.next()? {
            details.push(r.get::<_, String>(3)?);
        }
        Ok(details)
    }

    /// Listed leads per status under `filter` (its `statuses` are ignored, so each status shows what
    /// choosing it would list), every status in pipeline order, zeros included.
    pub fn lead_status_counts(
        &self,
        filter: &LeadFilter,
        clock: &Clock,
    ) -> Result<Vec<crate::StatusCount>, StoreError> {
        let search = filter.search.as_deref().and_then(SearchTerms::parse);
        let unfiltered = LeadFilter {
            statuses: filter.statuses.clone(),
            search: filter.search.clone(),
            ..LeadFilter::default()
        };
        if search.is_none() && *filter == unfiltered {
            return self.status_counts_all();
        }
        let terms = filter_terms(
            filter,
            clock,
            search.as_ref().map(|t| (t, SearchBy::Index)),
            false,
        )?;
        let sql = format!(
            "SELECT l.status, count(*) FROM leads l WHERE {} GROUP BY l.status",
            terms.where_clause()
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(terms.args))?;
        let mut counts = std::collections::HashMap::new();
        while let Some(row) = rows.next()? {
            let status: String = row.get(0)?;
            let n: i64 = row.get(1)?;
            let status: LeadStatus = status.parse().map_err(|e| StoreError::Invalid(format!("{e}")))?;
            counts.insert(status, n.unsigned_abs());
        }
        Ok(LeadStatus::ALL
            .iter()
            .map(|s| crate::StatusCount {
                status: *s,
                count: counts.get(s).copied().unwrap_or(0),
            })
            .collect())
    }

    /// Picks how to run `q`; `None` when it cannot match anything (a search with nothing to search for
    /// matches everything instead, like no search).
    fn plan(
        &self,
        q: &LeadPageQuery,
        after: Option<&PageCursor>,
        clock: &Clock,
    ) -> Result<Option<Plan>, StoreError> {
        let search = q.filter.search.as_deref().and_then(SearchTerms::parse);
        let spec = sort_spec(q.sort.key);
        // A filter with fewer candidates than `few` drives: fetching and sorting n candidates costs about n
        // row reads, walking the sort index about page × total / n; they break even near sqrt(page × total).
        let total: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(max(rowid), 0) FROM leads")?
            .query_row([], |r| r.get(0))?;
        let page = i64::from(page_limit(q.limit)) + 1;
        let few = ((2.0 * ((page * total.max(1)) as f64).sqrt()) as i64).clamp(200, MAX_FEW);
        // The candidate count of each selective filter, up to `few`; the smallest under `few` drives.
        let mut best: Option<(i64, Driver)> = None;
        let mut consider = |n: i64, d: Driver| {
            if n < few && best.is_none_or(|(m, _)| n < m) {
                best = Some((n, d));
            }
        };
        if !q.filter.statuses.is_empty() {
            let mut s = Sql::default();
            s.term("l.removed = 0", []);
            let names: Vec<&str> = q.filter.statuses.iter().map(|s| s.as_str()).collect();
            s.any_of("l.status", &names);
            consider(
                self.bounded_count(
                    &format!(
                        "SELECT 1 FROM leads l INDEXED BY leads_by_status WHERE {}",
                        s.where_clause()
                    ),
                    s.args,
                    few,
                )?,
                Driver::Status,
            );
        }
        if let Some(due) = q.filter.follow_up {
            let (lo, hi) = follow_up_bounds(due, clock)?;
            let mut s = Sql::default();
            s.term("l.removed = 0", []);
            follow_up_range(&mut s, lo, hi);
            consider(
                self.bounded_count(
                    &format!(
                        "SELECT 1 FROM leads l INDEXED BY leads_sort_follow_up WHERE {}",
                        s.where_clause()
                    ),
                    s.args,
                    few,
                )?,
                Driver::FollowUp,
            );
        }
        if matches!(best, Some((0, _))) {
            return Ok(None);
        }
        let Some(terms) = search else {
            return Ok(Some(Plan {
                spec,
                descending: q.sort.descending,
                driver: best.map_or(Driver::SortIndex, |(_, d)| d),
                base: filter_terms(&q.filter, clock, None, true)?,
                matches: None,
            }));
        };
        let (driver, matches) = self.search_plan(q, after, clock, &terms, best, total)?;
        // Gathered matches are the search; otherwise each row is checked.
        let by = matches.is_none().then_some((&terms, SearchBy::Check));
        Ok(Some(Plan {
            spec,
            descending: q.sort.descending,
            driver,
            base: filter_terms(&q.filter, clock, by, true)?,
            matches,
        }))
    }

    /// How to answer a search: the cheapest of
    /// - **check**: walk the list index, reading each listed row's index row and checking it with
    ///   `leadline_match` (cost per listed row; best for a word in most leads, which fills a page at once);
    /// - **probe**: gather the full-text matches into a set once, then walk the list index probing each
    ///   entry in it (cost per match, plus a little per entry; best for a word in some leads);
    /// - **gather**: fetch the full-text matches and sort them (cost per match; best for a rare word);
    /// - a selective filter's candidates (`filter`: their count and driver), each checked.
    ///
    /// The plan first checks the next [`SEARCH_SAMPLE`] rows the list would walk (after the other filters
    /// and the cursor): if they fill the page, or a walk at the share of them that matched is cheap, it
    /// walks. Otherwise it gathers the full-text matches (cheap when they are not many), compares, and
    /// hands the gathered rowids to the statement (`rarray`) when it probes or sorts them.
    fn search_plan(
        &self,
        q: &LeadPageQuery,
        after: Option<&PageCursor>,
        clock: &Clock,
        terms: &SearchTerms,
        filter: Option<(i64, Driver)>,
        total: i64,
    ) -> Result<(Driver, Option<Array>), StoreError> {
        let filter_cost = filter.map(|(n, d)| (n as f64 * FILTER_ROW_US, d));
        if let Some((cost, d)) = filter_cost
            && cost <= SEARCH_SAMPLE as f64 * CHECK_ROW_US
        {
            return Ok((d, None));
        }
        let want = i64::from(page_limit(q.limit)) + 1;
        let (seen, hits, ended) = self.sample_search(q, after, clock, terms)?;
        if hits >= want || ended {
            // The walk fills the page (or ends) within the rows just sampled.
            return Ok((Driver::SortIndex, None));
        }
        // Listed rows a walk would still read to fill the page, at the share of the sample that matched.
        let walk_rows = (hits > 0).then(|| (want - hits) as f64 * seen as f64 / hits as f64);
        let check = walk_rows.map_or(f64::INFINITY, |r| r * CHECK_ROW_US);
        if check <= CHEAP_WALK_US {
            return Ok((Driver::SortIndex, None));
        }
        let set = self.match_set(terms)?;
        let matches = set.len() as i64;
        if matches == 0 {
            return Ok((Driver::Search, Some(set)));
        }
        // Without a hit in the sample, assume the matches are spread evenly over the list.
        let entries = walk_rows.unwrap_or(want as f64 * total.max(1) as f64 / matches as f64);
        let probe = matches as f64 * MATCH_US + entries * PROBE_ROW_US;
        let gather = matches as f64 * (MATCH_US + FETCH_ROW_US);
        let mut choice = (check, Driver::SortIndex, false);
        for option in [(probe, Driver::SortIndex, true), (gather, Driver::Search, true)]
            .into_iter()
            .chain(filter_cost.map(|(cost, d)| (cost, d, false)))
        {
            if option.0 < choice.0 {
                choice = option;
            }
        }
        Ok((choice.1, choice.2.then_some(set)))
    }

    /// The full-text matches of `terms` in the whole cache: their rowids.
    fn match_set(&self, terms: &SearchTerms) -> Result<Array, StoreError> {
        let rowids = self
            .conn
            .prepare_cached("SELECT rowid FROM lead_search WHERE lead_search MATCH ?1")?
            .query_map([terms.fts()], |r| r.get::<_, i64>(0).map(Value::Integer))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(std::rc::Rc::new(rowids))
    }

    /// Walks the next [`SEARCH_SAMPLE`] rows of the list `q` (its other filters, order and cursor) and checks
    /// them against the search: rows seen, rows matching, and whether the list ended within them.
    fn sample_search(
        &self,
        q: &LeadPageQuery,
        after: Option<&PageCursor>,
        clock: &Clock,
        terms: &SearchTerms,
    ) -> Result<(i64, i64, bool), StoreError> {
        let plan = Plan {
            spec: sort_spec(q.sort.key),
            descending: q.sort.descending,
            driver: Driver::SortIndex,
            base: filter_terms(&q.filter, clock, None, true)?,
            matches: None,
        };
        let phases = if plan.spec.nullable { 2 } else { 1 };
        let (mut seen, mut hits) = (0_i64, 0_i64);
        for phase in after.map_or(0, |c| c.phase)..phases {
            let bound = after.filter(|c| c.phase == phase);
            let (rows, mut args) = page_sql(
                &plan,
                phase,
                bound,
                (SEARCH_SAMPLE - seen) as usize,
                Select::RowId,
            )?;
            let sql = format!(
                "SELECT count(*), coalesce(sum({MATCH_FN}(s.c0, s.c1, s.c2, ?)), 0)
                 FROM ({rows}) w LEFT JOIN lead_search_content s ON s.id = w.rowid"
            );
            args.insert(0, Value::Text(terms.spec()));
            let (n, h): (i64, i64) = prepare_hinted(&self.conn, &sql)?
                .query_row(rusqlite::params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?;
            seen += n;
            hits += h;
            if seen >= SEARCH_SAMPLE {
                return Ok((seen, hits, false));
            }
        }
        Ok((seen, hits, true))
    }

    fn bounded_count(&self, select: &str, args: Vec<Value>, bound: i64) -> Result<i64, StoreError> {
        let sql = format!("SELECT count(*) FROM ({select} LIMIT {bound})");
        Ok(prepare_hinted(&self.conn, &sql)?.query_row(rusqlite::params_from_iter(args), |r| r.get(0))?)
    }
}

pub(crate) const LEAD_COLUMN_COUNT: usize = 16;

/// The fingerprint of `q`'s list (its filters and order) and `q`'s cursor, decoded: a cursor made for
/// another list is refused.
fn page_cursor(q: &LeadPageQuery) -> Result<(u64, Option<PageCursor>), StoreError> {
    let fingerprint = cursor::fingerprint(&(&q.filter, &q.sort))?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| PageCursor::decode(c, fingerprint))
        .transpose()?;
    Ok((fingerprint, after))
}

pub(crate) fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, crate::MAX_PAGE)
}

/// The statement for one phase of a plan: phase 0 the rows whose first key is set (all rows unless the
/// key is nullable), phase 1 the rows whose first key is NULL, ordered by id alone.
fn page_sql(
    plan: &Plan,
    phase: u32,
    after: Option<&PageCursor>,
    limit: usize,
    columns: Select,
) -> Result<(String, Vec<Value>), StoreError> {
    let dir = if plan.descending { "DESC" } else { "ASC" };
    let cmp = if plan.descending { "<" } else { ">" };
    let from = match plan.driver {
        Driver::SortIndex => format!("leads l INDEXED BY {}", plan.spec.index),
        Driver::Search => "leads l NOT INDEXED".to_owned(),
        Driver::Status => "leads l INDEXED BY leads_by_status".to_owned(),
        Driver::FollowUp => "leads l INDEXED BY leads_sort_follow_up".to_owned(),
    };
    let mut sql = Sql {
        terms: plan.base.terms.clone(),
        args: plan.base.args.clone(),
    };
    let keys: &[&str] = if phase == 0 { plan.spec.keys } else { &[] };
    if plan.spec.nullable {
        let first = plan.spec.keys.first().copied().unwrap_or("NULL");
        let test = if phase == 0 { "IS NOT NULL" } else { "IS NULL" };
        sql.term(&format!("{first} {test}"), []);
    }
    if let Some(c) = after {
        if c.keys.len() != keys.len() {
            return Err(StoreError::BadCursor("it does not fit this list".into()));
        }
        let mut cols: Vec<&str> = keys.to_vec();
        cols.push("l.id");
        let marks = vec!["?"; cols.len()].join(", ");
        let mut args = c.keys.clone();
        args.push(Value::Text(c.id.clone()));
        sql.term(&format!("({}) {cmp} ({marks})", cols.join(", ")), args);
    }
    if plan.matches.is_some() {
        // The last parameter, numbered explicitly: bound by `bind_page`.
        sql.term(&format!("l.rowid IN rarray(?{})", sql.args.len() + 1), []);
    }
    let order: Vec<String> = keys
        .iter()
        .chain(std::iter::once(&"l.id"))
        .map(|k| format!("{k} {dir}"))
        .collect();
    let select = match columns {
        Select::Leads => {
            let mut select = vec![prefixed(LEAD_COLUMNS, "l.")];
            select.extend(keys.iter().map(|k| (*k).to_owned()));
            select
        }
        Select::RowId => vec!["l.rowid AS rowid".to_owned()],
    };
    let text = format!(
        "SELECT {} FROM {from} WHERE {} ORDER BY {} LIMIT {limit}",
        select.join(", "),
        sql.where_clause(),
        order.join(", ")
    );
    Ok((text, sql.args))
}

/// Binds a page statement's parameters: `args` in order, then the plan's match set if it has one.
fn bind_page(stmt: &mut rusqlite::Statement<'_>, plan: &Plan, args: &[Value]) -> Result<(), StoreError> {
    for (i, v) in args.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, v)?;
    }
    if let Some(set) = &plan.matches {
        stmt.raw_bind_parameter(args.len() + 1, set.clone())?;
    }
    Ok(())
}

pub(crate) fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn today_is_the_local_day_in_utc() {
        // 20:00 UTC on the 25th is 01:30 on the 26th in India.
        let c = Clock::new(at("2026-11-25T20:00:00Z"), 330);
        assert_eq!(
            c.today().expect("day"),
            (at("2026-11-25T18:30:00Z"), at("2026-11-26T18:30:00Z"))
        );
        let west = Clock::new(at("2026-11-25T02:00:00Z"), -300);
        assert_eq!(
            west.today().expect("day"),
            (at("2026-11-24T05:00:00Z"), at("2026-11-25T05:00:00Z"))
        );
        assert!(Clock::new(at("2026-11-25T02:00:00Z"), 100_000).today().is_err());
    }

    #[test]
    fn the_column_count_matches_the_column_list() {
        assert_eq!(LEAD_COLUMNS.split(", ").count(), LEAD_COLUMN_COUNT);
    }
}
