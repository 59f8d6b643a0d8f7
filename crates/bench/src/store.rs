//! The local cache's read side at a big telecaller's size: 100,000 leads and 1,000,000 call logs in a real
//! SQLite file, then many runs of what the desktop asks while a telecaller works: search, first pages of
//! the lead list under filters and orders, counts per status, a lead's call history, the next-lead queue
//! and today's figures. p50/p99 per kind, then the summary line (see [`StoreSummary`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{Duration as Span, SubsecRound, Utc};
use leadline_model::sync::{Change, Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::{
    CallDirection, CallLog, FollowUp, Id, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role,
    Timestamp, User, default_catalogue, new_id,
};
use leadline_store::{
    CallHistoryQuery, Clock, FiguresQuery, FollowUpDue, LeadFilter, LeadOrder, LeadOrderKey, LeadPageQuery,
    QueueQuery, Store, TimeRange,
};
use serde::Serialize;
use serde_json::json;

use crate::emit;

/// India: the zone the figures' "today" is computed in.
const IST_MINUTES: i32 = 330;

pub struct Options {
    pub leads: u32,
    pub calls: u32,
    pub runs: u32,
    /// Keep the built cache here and reuse it on later runs with the same shape.
    pub seed_cache: Option<PathBuf>,
    /// Rows of the CSV import measurement (see [`crate::import`]).
    pub import_rows: usize,
}

/// The summary line.
#[derive(Debug, Serialize)]
pub struct StoreSummary {
    pub bench: &'static str,
    pub leads: u32,
    pub calls: u32,
    pub runs: u32,
    /// Seconds to build the cache (0 when reused from `--seed-cache`).
    pub build_s: f64,
    pub search_p50_ms: f64,
    pub search_p99_ms: f64,
    pub first_page_p50_ms: f64,
    pub first_page_p99_ms: f64,
    pub status_counts_ms: f64,
    pub call_history_p99_ms: f64,
    pub call_search_p99_ms: f64,
    pub queue_p99_ms: f64,
    pub figures_p99_ms: f64,
    /// Leads per second through `Store::import_leads_csv` (parse, validate, write, index, queue).
    pub import_rows_per_s: f64,
    /// The same rows through a plain prepared insert into the cache's `leads` table.
    pub sqlite_raw_insert_rows_per_s: f64,
    /// `import_rows_per_s / sqlite_raw_insert_rows_per_s` (target: at least 0.5).
    pub import_vs_raw_insert: f64,
    /// The same rows into a table without indexes in the same kind of file.
    pub bare_table_rows_per_s: f64,
}

/// Deterministic pseudo-random numbers (reproducible caches without a dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Asha",
    "Ravi",
    "Meenakshi",
    "Farhan",
    "Lakshmi",
    "Harpreet",
    "Sunita",
    "Vikram",
    "Priya",
    "Arjun",
    "Kavya",
    "Imran",
    "Deepa",
    "Rohit",
    "Ananya",
    "Suresh",
    "Fatima",
    "Gaurav",
    "Nandini",
    "Karthik",
];
const LAST: &[&str] = &[
    "Kulkarni",
    "Pillai",
    "Sundaram",
    "Qureshi",
    "Iyer",
    "Gill",
    "Bose",
    "Rathore",
    "Sharma",
    "Reddy",
    "Nair",
    "Menon",
    "Shaikh",
    "Patel",
    "Das",
    "Chatterjee",
    "Joshi",
    "Verma",
    "Kapoor",
    "Banerjee",
];
const WORDS: &[&str] = &[
    "catalogue",
    "kundan",
    "necklace",
    "bangles",
    "gold",
    "rate",
    "visit",
    "saturday",
    "wedding",
    "budget",
    "earrings",
    "temple",
    "jewellery",
    "diamond",
    "ring",
    "daughter",
    "exchange",
    "old",
    "making",
    "charges",
    "emi",
    "showroom",
    "brother",
    "sangeet",
    "mangalsutra",
    "coins",
    "akshaya",
    "tritiya",
    "platinum",
    "silver",
];
const DISPOSITIONS: &[&str] = &[
    "no_answer",
    "no_answer",
    "busy",
    "interested",
    "callback_requested",
    "price_enquiry",
    "visit_booked",
    "not_interested",
    "switched_off",
    "converted",
];
const TAGS: &[&str] = &["wedding", "gold", "vip", "festive", "repeat"];

/// What the queries need to know about the cache.
struct Shape {
    me: User,
    now: Timestamp,
    lead_ids: Vec<Id>,
}

pub fn run(opts: Options) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (path, cached) = match &opts.seed_cache {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            (
                d.join(format!("store-{}-{}.sqlite3", opts.leads, opts.calls)),
                true,
            )
        }
        None => (dir.path().join("cache.sqlite3"), false),
    };
    let started = Instant::now();
    let reuse = cached && path.exists() && meta_path(&path).exists();
    let shape = if reuse {
        let shape = load_shape(&path)?;
        emit(&json!({"bench": "store", "step": "reuse", "path": path.display().to_string()}));
        shape
    } else {
        if path.exists() {
            std::fs::remove_file(&path)?;
        }
        build(&path, &opts)?
    };
    let build_s = if reuse {
        0.0
    } else {
        started.elapsed().as_secs_f64()
    };
    if !reuse {
        emit(
            &json!({"bench": "store", "step": "build", "leads": opts.leads, "calls": opts.calls,
                     "s": round(build_s)}),
        );
    }
    let store = Store::open(&path, &bench_key()?)?;
    let clock = Clock::new(shape.now, IST_MINUTES);
    let runs = opts.runs.max(1);
    let mut rng = Rng(0x5eed_cafe_f00d_beef);

    // Warm the page cache and the statement caches once, as an open app would have.
    store.lead_status_counts(&LeadFilter::default(), &clock)?;

    // Search: phone prefixes, names, note words, mixed.
    let mut searches: Vec<(&str, String)> = Vec::new();
    for i in 0..20_u32 {
        let n = lead_number(rng.below(u64::from(opts.leads)) as u32);
        let digits = &n[3..3 + 5 + (i as usize % 4)];
        searches.push(("phone_prefix", digits.to_owned()));
    }
    for name in [
        "sundaram",
        "asha kul",
        "meen",
        "farhan qureshi",
        "kart",
        "pate",
        "nandini b",
    ] {
        searches.push(("name", name.to_owned()));
    }
    for words in [
        "kundan",
        "mangalsutra exchange",
        "akshaya",
        "platinum ring",
        "showr",
    ] {
        searches.push(("notes", words.to_owned()));
    }
    // The first page of a search, as the list shows it.
    let search_page = |text: &str| LeadPageQuery {
        filter: LeadFilter {
            search: Some(text.to_owned()),
            ..Default::default()
        },
        limit: Some(50),
        ..Default::default()
    };
    // Each search once before timing: the first run of a query reads its pages from disk and is reported
    // apart (an open app has read them by the second keystroke).
    let mut cold = Vec::new();
    for (_, text) in &searches {
        let q = search_page(text);
        let t = Instant::now();
        store.list_lead_page(&q, &clock)?;
        cold.push(t.elapsed());
    }
    let cold = pct(&mut cold);
    emit(
        &json!({"bench": "store", "query": "search", "kind": "first_run", "runs": searches.len(),
                 "p50_ms": cold.0, "max_ms": cold.2}),
    );
    let mut all_search = Vec::new();
    let mut by_kind: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut hits_by_kind: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in 0..runs as usize {
        let (kind, text) = &searches[r % searches.len()];
        let q = search_page(text);
        let t = Instant::now();
        let page = store.list_lead_page(&q, &clock)?;
        let d = t.elapsed();
        *hits_by_kind.entry(kind).or_default() += page.leads.len();
        all_search.push(d);
        by_kind.entry(kind).or_default().push(d);
    }
    for (kind, mut samples) in by_kind {
        let s = pct(&mut samples);
        emit(
            &json!({"bench": "store", "query": "search", "kind": kind, "runs": samples.len(),
                     "rows": hits_by_kind.get(kind), "p50_ms": s.0, "p99_ms": s.1, "max_ms": s.2}),
        );
    }
    let search = pct(&mut all_search);

    // First pages of the list under several filters and orders.
    let day = Span::days(1);
    let lists: Vec<(&str, LeadFilter, LeadOrder)> = vec![
        ("default", LeadFilter::default(), LeadOrder::default()),
        ("name_asc", LeadFilter::default(), sort(LeadOrderKey::Name, false)),
        (
            "created_desc",
            LeadFilter::default(),
            sort(LeadOrderKey::CreatedAt, true),
        ),
        (
            "priority_desc",
            LeadFilter::default(),
            sort(LeadOrderKey::Priority, true),
        ),
        (
            "follow_up_asc",
            LeadFilter::default(),
            sort(LeadOrderKey::NextFollowUp, false),
        ),
        (
            "status_new_contacted",
            LeadFilter {
                statuses: vec![LeadStatus::New, LeadStatus::Contacted],
                ..Default::default()
            },
            LeadOrder::default(),
        ),
        (
            "hot_instagram",
            LeadFilter {
                priorities: vec![LeadPriority::Hot],
                sources: vec![LeadSource::Instagram],
                ..Default::default()
            },
            sort(LeadOrderKey::CreatedAt, true),
        ),
        (
            "overdue",
            LeadFilter {
                follow_up: Some(FollowUpDue::Overdue),
                ..Default::default()
            },
            sort(LeadOrderKey::NextFollowUp, false),
        ),
        (
            "due_today_by_updated",
            LeadFilter {
                follow_up: Some(FollowUpDue::Today),
                ..Default::default()
            },
            LeadOrder::default(),
        ),
        (
            "tag_wedding",
            LeadFilter {
                tags: vec!["wedding".into()],
                ..Default::default()
            },
            LeadOrder::default(),
        ),
        (
            "updated_last_week_interested",
            LeadFilter {
                statuses: vec![LeadStatus::Interested],
                updated: Some(TimeRange {
                    from: Some(shape.now - day * 7),
                    until: None,
                }),
                ..Default::default()
            },
            LeadOrder::default(),
        ),
        (
            "search_and_status",
            LeadFilter {
                search: Some("sundaram".into()),
                statuses: vec![LeadStatus::New, LeadStatus::Interested],
                ..Default::default()
            },
            sort(LeadOrderKey::Name, false),
        ),
    ];
    let mut all_pages = Vec::new();
    for (label, filter, order) in &lists {
        let q = LeadPageQuery {
            filter: filter.clone(),
            sort: *order,
            limit: Some(50),
            cursor: None,
        };
        let mut samples = Vec::new();
        let mut rows = 0;
        for _ in 0..runs.div_ceil(4).max(20) {
            let t = Instant::now();
            rows = store.list_lead_page(&q, &clock)?.leads.len();
            samples.push(t.elapsed());
        }
        all_pages.extend_from_slice(&samples);
        let s = pct(&mut samples);
        emit(
            &json!({"bench": "store", "query": "first_page", "list": label, "rows": rows,
                     "p50_ms": s.0, "p99_ms": s.1, "max_ms": s.2}),
        );
    }
    let first_page = pct(&mut all_pages);

    // Counts per status (the dashboard), unfiltered and filtered.
    let mut samples = Vec::new();
    for _ in 0..runs.div_ceil(4).max(20) {
        let t = Instant::now();
        store.lead_status_counts(&LeadFilter::default(), &clock)?;
        samples.push(t.elapsed());
    }
    let counts = pct(&mut samples);
    emit(
        &json!({"bench": "store", "query": "status_counts", "p50_ms": counts.0, "p99_ms": counts.1,
                 "max_ms": counts.2}),
    );
    let mut samples = Vec::new();
    let hot = LeadFilter {
        priorities: vec![LeadPriority::Hot],
        ..Default::default()
    };
    for _ in 0..runs.div_ceil(4).max(20) {
        let t = Instant::now();
        store.lead_status_counts(&hot, &clock)?;
        samples.push(t.elapsed());
    }
    let s = pct(&mut samples);
    emit(
        &json!({"bench": "store", "query": "status_counts", "filter": "priority_hot", "p50_ms": s.0,
                 "p99_ms": s.1, "max_ms": s.2}),
    );

    // A lead's call history, first page, and searched.
    let mut plain = Vec::new();
    let mut searched = Vec::new();
    let mut rows = 0;
    for r in 0..runs {
        let lead = *rng.pick(&shape.lead_ids);
        let t = Instant::now();
        rows += store
            .call_history(&CallHistoryQuery {
                limit: Some(50),
                ..CallHistoryQuery::new(lead)
            })?
            .calls
            .len();
        plain.push(t.elapsed());
        let t = Instant::now();
        store.call_history(&CallHistoryQuery {
            search: Some(WORDS[r as usize % WORDS.len()].into()),
            limit: Some(50),
            ..CallHistoryQuery::new(lead)
        })?;
        searched.push(t.elapsed());
    }
    let history = pct(&mut plain);
    let history_search = pct(&mut searched);
    emit(
        &json!({"bench": "store", "query": "call_history", "mean_rows": rows / runs.max(1) as usize,
                 "p50_ms": history.0, "p99_ms": history.1, "max_ms": history.2}),
    );
    emit(
        &json!({"bench": "store", "query": "call_history_search", "p50_ms": history_search.0,
                 "p99_ms": history_search.1, "max_ms": history_search.2}),
    );

    // The next-lead queue and today's figures.
    let queue_q = QueueQuery {
        assigned_to: Some(shape.me.id),
        skip_called_within_minutes: 30,
        limit: Some(20),
        cursor: None,
    };
    let mut samples = Vec::new();
    let mut reasons = Vec::new();
    for _ in 0..runs.div_ceil(2).max(20) {
        let t = Instant::now();
        let page = store.next_leads(&queue_q, &clock)?;
        samples.push(t.elapsed());
        reasons = page.entries.iter().map(|e| e.reason).collect();
    }
    let queue = pct(&mut samples);
    emit(
        &json!({"bench": "store", "query": "next_leads", "first_reasons": reasons.iter().take(3).collect::<Vec<_>>(),
                 "p50_ms": queue.0, "p99_ms": queue.1, "max_ms": queue.2}),
    );
    let fq = FiguresQuery {
        user_id: None,
        follow_up_goal: 40,
        conversion_dispositions: vec![],
    };
    let mut samples = Vec::new();
    let mut figures = None;
    for _ in 0..runs.div_ceil(2).max(20) {
        let t = Instant::now();
        figures = Some(store.today_figures(&fq, &clock)?);
        samples.push(t.elapsed());
    }
    let fig = pct(&mut samples);
    emit(
        &json!({"bench": "store", "query": "today_figures", "figures": figures,
                 "p50_ms": fig.0, "p99_ms": fig.1, "max_ms": fig.2}),
    );

    let import = crate::import::run(opts.import_rows, &bench_key()?, BENCH_KEY_HEX, FIRST, LAST)?;

    let summary = StoreSummary {
        bench: "store",
        leads: opts.leads,
        calls: opts.calls,
        runs,
        build_s: round(build_s),
        search_p50_ms: search.0,
        search_p99_ms: search.1,
        first_page_p50_ms: first_page.0,
        first_page_p99_ms: first_page.1,
        status_counts_ms: counts.1,
        call_history_p99_ms: history.1,
        call_search_p99_ms: history_search.1,
        queue_p99_ms: queue.1,
        figures_p99_ms: fig.1,
        import_rows_per_s: import.import_rows_per_s,
        sqlite_raw_insert_rows_per_s: import.sqlite_raw_insert_rows_per_s,
        import_vs_raw_insert: crate::stats::ratio(
            import.import_rows_per_s,
            import.sqlite_raw_insert_rows_per_s,
        ),
        bare_table_rows_per_s: import.bare_table_rows_per_s,
    };
    emit(&serde_json::to_value(&summary)?);
    Ok(())
}

fn sort(key: LeadOrderKey, descending: bool) -> LeadOrder {
    LeadOrder { key, descending }
}

/// p50, p99 and max in milliseconds, three decimals.
fn pct(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() - 1) as f64 * q).round() as usize;
        (samples[i].as_secs_f64() * 1e6).round() / 1e3
    };
    (at(0.5), at(0.99), at(1.0))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn meta_path(db: &Path) -> PathBuf {
    db.with_extension("json")
}

#[derive(Serialize, serde::Deserialize)]
struct SavedShape {
    me: User,
    now: Timestamp,
}

/// The cache key of the benchmark's caches: fixed, so a kept `--seed-cache` opens on the next run.
const BENCH_KEY_HEX: &str = "6c6561646c696e652d62656e63682d6b65792d6e6f742d612d7365637265742e";

fn bench_key() -> Result<leadline_store::StoreKey> {
    leadline_store::StoreKey::from_hex(BENCH_KEY_HEX).context("the bench key")
}

fn load_shape(path: &Path) -> Result<Shape> {
    let saved: SavedShape = serde_json::from_slice(&std::fs::read(meta_path(path))?)
        .context("reading the seed cache's description")?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", BENCH_KEY_HEX))?;
    let lead_ids = conn
        .prepare("SELECT id FROM leads")?
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|s| Ok(Id::parse_str(&s?)?))
        .collect::<Result<Vec<_>>>()?;
    Ok(Shape {
        me: saved.me,
        now: saved.now,
        lead_ids,
    })
}

/// The `i`th lead's phone number (distinct for every `i` below 10^8).
fn lead_number(i: u32) -> String {
    format!("+9198{:08}", (u64::from(i) * 7_919) % 100_000_000)
}

fn build(path: &Path, opts: &Options) -> Result<Shape> {
    let mut store = Store::open(path, &bench_key()?)?;
    let me = User {
        id: new_id(),
        username: "bench".into(),
        name: "Bench Telecaller".into(),
        role: Role::Telecaller,
        team: None,
    };
    store.set_account("http://bench", &me)?;
    // Loaded as a new device's first sync loads it: list indexes built once at the end.
    store.defer_list_indexes()?;
    let now = Utc::now().trunc_subsecs(6);
    let mut rng = Rng(0x1ead_11e5_2026_0005);
    let page = |changes: Vec<Change>, n: usize| PullPage {
        protocol: PROTOCOL_VERSION,
        changes,
        next_cursor: Cursor(format!("{n}")),
        has_more: true,
        dispositions: if n == 0 { default_catalogue() } else { vec![] },
        server_time: now,
    };
    let minutes = |m: u64| Span::minutes(m as i64);
    let mut lead_ids = Vec::with_capacity(opts.leads as usize);
    let mut pages = 0;
    let mut changes = Vec::new();
    for i in 0..opts.leads {
        let created = now - minutes(rng.below(365 * 24 * 60));
        let updated = created + minutes(rng.below((now - created).num_minutes().max(1) as u64));
        let tags = (0..rng.below(3))
            .map(|_| (*rng.pick(TAGS)).to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let lead = Lead {
            id: new_id(),
            name: format!("{} {}", rng.pick(FIRST), rng.pick(LAST)),
            phone: PhoneNumber::parse(&lead_number(i))?,
            alternate_phone: None,
            email: None,
            city: Some("Chennai".into()),
            source: *rng.pick(LeadSource::ALL),
            interest: Some("temple jewellery".into()),
            budget_inr: Some(50_000),
            priority: *rng.pick(LeadPriority::ALL),
            status: *rng.pick(LeadStatus::ALL),
            tags,
            assigned_to: Some(me.id),
            created_at: created,
            updated_at: updated,
            version: 1,
        };
        lead_ids.push(lead.id);
        let (lead_id, created) = (lead.id, lead.created_at);
        changes.push(Change::Lead(lead));
        // A fifth of the leads have an open follow-up: from a week ago to a week ahead.
        if rng.below(5) == 0 {
            let due = now - Span::days(7) + minutes(rng.below(14 * 24 * 60));
            changes.push(Change::FollowUp(FollowUp {
                id: new_id(),
                lead_id,
                assigned_to: me.id,
                due_at: due,
                note: None,
                call_log_id: None,
                completed_at: None,
                created_at: created,
            }));
        }

        if changes.len() >= 2_000 {
            store.apply_pull_page(&page(std::mem::take(&mut changes), pages))?;
            pages += 1;
        }
    }
    if !changes.is_empty() {
        store.apply_pull_page(&page(std::mem::take(&mut changes), pages))?;
        pages += 1;
    }
    // Call logs grouped by lead (a pull page touches each lead once), 0 to 2x the mean per lead.
    let per_lead = u64::from(opts.calls) / u64::from(opts.leads.max(1));
    let mut made = 0_u64;
    for (n, lead) in lead_ids.iter().enumerate() {
        let last = n + 1 == lead_ids.len();
        let count = if last {
            u64::from(opts.calls).saturating_sub(made)
        } else {
            rng.below(2 * per_lead + 1).min(u64::from(opts.calls) - made)
        };
        for _ in 0..count {
            // The last 90 days; about one call in 500 today.
            let started = if rng.below(500) == 0 {
                now - minutes(rng.below(5 * 60))
            } else {
                now - minutes(rng.below(90 * 24 * 60))
            };
            let disposition = *rng.pick(DISPOSITIONS);
            let talk = if disposition == "no_answer" || disposition == "busy" || disposition == "switched_off"
            {
                0
            } else {
                30 + rng.below(600) as i64
            };
            let notes = (0..rng.below(8))
                .map(|_| *rng.pick(WORDS))
                .collect::<Vec<_>>()
                .join(" ");
            changes.push(Change::CallLog(CallLog {
                id: new_id(),
                lead_id: *lead,
                telecaller_id: me.id,
                direction: CallDirection::Outbound,
                started_at: started,
                answered_at: (talk > 0).then(|| started + Span::seconds(6)),
                ended_at: Some(started + Span::seconds(talk + 6)),
                duration_s: talk,
                disposition: disposition.into(),
                outcome_tags: vec![],
                notes,
                follow_up: None,
                recording_url: None,
                provider_call_id: None,
                device_id: None,
                quality: None,
            }));
        }
        made += count;
        if changes.len() >= 10_000 || last {
            store.apply_pull_page(&page(std::mem::take(&mut changes), pages))?;
            pages += 1;
        }
        if n % 10_000 == 9_999 {
            emit(&json!({"bench": "store", "step": "building", "leads_with_calls": n + 1, "calls": made}));
        }
    }
    store.restore_list_indexes()?;
    drop(store);
    let saved = SavedShape { me: me.clone(), now };
    std::fs::write(meta_path(path), serde_json::to_vec(&saved)?)?;
    Ok(Shape { me, now, lead_ids })
}
