//! Realistic demo data for a jewellery showroom's telecalling team: 6 users, 2,000 leads, 5,000 call logs
//! over the last 90 days, and open follow-ups. Deterministic for a given seed and "now".

mod data;

use std::collections::HashSet;

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use leadline_model::{
    CallDirection, CallLog, DispositionCategory, FollowUp, FollowUpSpec, Id, Lead, LeadPriority, LeadSource,
    LeadStatus, PhoneNumber, Role, Timestamp, User, default_catalogue,
};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

use rusqlite::Connection;

use crate::auth::{AuthError, hash_password_with_salt};
use crate::db::{self, DbError, Tx, id_text, ts};
use crate::params;
use crate::pii::PiiKeys;

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "leadline-demo";
/// The team of every demo user and lead.
pub const DEMO_TEAM: &str = "Bandra Showroom";
/// The seed `leadline-server demo` uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 2026;
/// How many leads and call logs a demo database has.
pub const DEMO_LEADS: usize = 2000;
pub const DEMO_CALL_LOGS: usize = 5000;

/// The demo users: username, display name, role. The first is the supervisor.
pub const DEMO_USERS: &[(&str, &str, Role)] = &[
    ("meera", "Meera Iyer", Role::Supervisor),
    ("priya", "Priya Sharma", Role::Telecaller),
    ("arjun", "Arjun Nair", Role::Telecaller),
    ("kavya", "Kavya Reddy", Role::Telecaller),
    ("rohit", "Rohit Verma", Role::Telecaller),
    ("divya", "Divya Menon", Role::Telecaller),
];

/// Share of the assigned leads each telecaller gets, in `DEMO_USERS` order after the supervisor.
const TELECALLER_WEIGHTS: &[u32] = &[24, 21, 20, 19, 16];
/// Share of leads nobody has been given yet (all of them `new`).
const UNASSIGNED_SHARE: f64 = 0.08;

const META_KEY: &str = "demo_seed";

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("PII keys: {0}")]
    Keys(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(
        "the database already holds {users} users and {leads} leads that are not demo data; \
         use --force to wipe them and seed demo data"
    )]
    NotEmpty { users: i64, leads: i64 },
    #[error("a password hashing thread panicked")]
    HashThread,
    #[error("could not generate a unique valid phone number")]
    Phone,
    #[error("encoding tags: {0}")]
    Json(#[from] serde_json::Error),
}

/// How to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub seed: u64,
    /// Wipe users, leads, call logs and follow-ups first (also when they are not demo data).
    pub force: bool,
    /// "Now" for the data: calls lie in the 90 days before it, follow-ups around it.
    pub now: Timestamp,
}

impl SeedOptions {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            force: false,
            now: Utc::now(),
        }
    }
}

/// A user and how many leads are assigned to them.
#[derive(Debug, Clone, PartialEq)]
pub struct UserLeads {
    pub user: User,
    pub leads: i64,
}

/// What a database holds, as `demo` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSummary {
    /// The demo seed, when the data is demo data.
    pub seed: Option<u64>,
    pub users: Vec<UserLeads>,
    pub leads: i64,
    pub unassigned_leads: i64,
    pub call_logs: i64,
    pub open_follow_ups: i64,
}

/// What [`seed`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SeedOutcome {
    Seeded(DemoSummary),
    /// Demo data was there already; nothing was written.
    AlreadySeeded(DemoSummary),
}

/// Seeds demo data with `seed` and the current time into the SQLite database of a server data directory
/// (creating it), unless demo data is already there. PII is sealed with the directory's keys (see
/// [`crate::pii_keys`]).
pub fn seed(data_dir: &Path, seed: u64) -> Result<SeedOutcome, DemoError> {
    seed_data_dir(data_dir, &SeedOptions::new(seed))
}

/// [`seed`] with options.
pub fn seed_data_dir(data_dir: &Path, opts: &SeedOptions) -> Result<SeedOutcome, DemoError> {
    let pii = crate::pii_keys(data_dir).map_err(|e| DemoError::Keys(e.to_string()))?;
    let mut conn = db::open_connection(&db::db_path(data_dir))?;
    seed_with(&mut conn, &pii, opts)
}

/// Seeds demo data into a SQLite database in one transaction (see [`seed_tx`]).
pub fn seed_with(conn: &mut Connection, pii: &PiiKeys, opts: &SeedOptions) -> Result<SeedOutcome, DemoError> {
    db::with_sqlite_tx(conn, pii, |tx| seed_tx(tx, opts))
}

/// Seeds demo data in the transaction `tx`. Without `force`: a no-op when demo data is there already, an
/// error when other data is. The caller commits (a failure leaves nothing behind when it does not).
pub fn seed_tx(tx: &mut Tx<'_>, opts: &SeedOptions) -> Result<SeedOutcome, DemoError> {
    let existing: Option<String> = tx
        .query_opt("SELECT value FROM meta WHERE key = $1", &params![META_KEY])
        .map_err(DbError::from)?
        .map(|r| r.get(0))
        .transpose()
        .map_err(DbError::from)?;
    if !opts.force {
        if existing.is_some() {
            return Ok(SeedOutcome::AlreadySeeded(summary(tx)?));
        }
        let users: i64 = tx
            .query_scalar("SELECT count(*) FROM users", &[])
            .map_err(DbError::from)?;
        let leads: i64 = tx
            .query_scalar("SELECT count(*) FROM leads", &[])
            .map_err(DbError::from)?;
        if users > 0 || leads > 0 {
            return Err(DemoError::NotEmpty { users, leads });
        }
    } else {
        for table in [
            "follow_ups",
            "call_logs",
            "lead_removals",
            "leads",
            "used_refresh_tokens",
            "sessions",
            "users",
        ] {
            tx.execute(&format!("DELETE FROM {table}"), &[])
                .map_err(DbError::from)?;
        }
    }
    Generator::new(opts).write(tx)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &params![META_KEY, opts.seed.to_string()],
    )
    .map_err(DbError::from)?;
    Ok(SeedOutcome::Seeded(summary(tx)?))
}

impl db::Repo {
    /// Seeds demo data in one transaction (see [`seed_tx`]).
    pub async fn seed_demo(&self, opts: SeedOptions) -> Result<SeedOutcome, DemoError> {
        self.write(move |tx| seed_tx(tx, &opts)).await
    }
}

/// Counts what a SQLite database holds.
pub fn summary_of(conn: &mut Connection, pii: &PiiKeys) -> Result<DemoSummary, DemoError> {
    db::with_sqlite_tx(conn, pii, summary)
}

/// Counts what the database holds.
pub fn summary(tx: &mut Tx<'_>) -> Result<DemoSummary, DemoError> {
    let seed: Option<String> = tx
        .query_opt("SELECT value FROM meta WHERE key = $1", &params![META_KEY])
        .map_err(DbError::from)?
        .map(|r| r.get(0))
        .transpose()
        .map_err(DbError::from)?;
    let mut users = Vec::new();
    for user in db::list_users(tx)? {
        let leads: i64 = tx
            .query_scalar(
                "SELECT count(*) FROM leads WHERE assigned_to = $1",
                &params![id_text(&user.id)],
            )
            .map_err(DbError::from)?;
        users.push(UserLeads { user, leads });
    }
    // Supervisor first, then telecallers, each by username.
    users.sort_by(|a, b| {
        let rank = |r: Role| match r {
            Role::Admin => 0,
            Role::Supervisor => 1,
            Role::Telecaller => 2,
        };
        (rank(a.user.role), &a.user.username).cmp(&(rank(b.user.role), &b.user.username))
    });
    let mut count = |sql: &str| -> Result<i64, DemoError> {
        Ok(tx.query_scalar::<i64>(sql, &[]).map_err(DbError::from)?)
    };
    Ok(DemoSummary {
        seed: seed.and_then(|s| s.parse().ok()),
        users,
        leads: count("SELECT count(*) FROM leads")?,
        unassigned_leads: count("SELECT count(*) FROM leads WHERE assigned_to IS NULL")?,
        call_logs: count("SELECT count(*) FROM call_logs")?,
        open_follow_ups: count("SELECT count(*) FROM follow_ups WHERE completed_at IS NULL")?,
    })
}

struct GenLead {
    id: Id,
    name: String,
    phone: PhoneNumber,
    alternate_phone: Option<PhoneNumber>,
    email: Option<String>,
    city: Option<String>,
    source: LeadSource,
    interest: Option<&'static str>,
    budget_inr: Option<i64>,
    priority: LeadPriority,
    status: LeadStatus,
    tags: Vec<&'static str>,
    /// Index into the telecallers.
    assignee: Option<usize>,
    created_at: Timestamp,
    updated_at: Timestamp,
    version: i64,
}

struct GenCall {
    id: Id,
    lead: usize,
    telecaller: usize,
    direction: CallDirection,
    started_at: Timestamp,
    answered_at: Option<Timestamp>,
    ended_at: Timestamp,
    duration_s: i64,
    disposition: &'static str,
    outcome_tags: Vec<&'static str>,
    notes: String,
    follow_up: Option<GenFollowUp>,
    provider_call_id: String,
}

struct GenFollowUp {
    id: Id,
    spec: FollowUpSpec,
    completed_at: Option<Timestamp>,
}

struct Generator {
    rng: ChaCha8Rng,
    now: Timestamp,
}

const SOURCES: &[(LeadSource, u32)] = &[
    (LeadSource::WalkIn, 14),
    (LeadSource::Website, 20),
    (LeadSource::Instagram, 26),
    (LeadSource::Facebook, 14),
    (LeadSource::GoogleSheet, 10),
    (LeadSource::Referral, 11),
    (LeadSource::Other, 5),
];

const STATUSES: &[(LeadStatus, u32)] = &[
    (LeadStatus::New, 24),
    (LeadStatus::Contacted, 22),
    (LeadStatus::Interested, 13),
    (LeadStatus::FollowUp, 16),
    (LeadStatus::VisitScheduled, 6),
    (LeadStatus::Converted, 6),
    (LeadStatus::NotInterested, 8),
    (LeadStatus::Invalid, 2),
    (LeadStatus::DoNotCall, 3),
];

const PRIORITIES: &[(LeadPriority, u32)] = &[
    (LeadPriority::Low, 20),
    (LeadPriority::Normal, 50),
    (LeadPriority::High, 20),
    (LeadPriority::Hot, 10),
];

/// Dispositions of calls before the last one of a lead.
const EARLIER_DISPOSITIONS: &[(&str, u32)] = &[
    ("no_answer", 30),
    ("busy", 14),
    ("switched_off", 8),
    ("callback_requested", 20),
    ("price_enquiry", 12),
    ("interested", 16),
];

/// The disposition of a lead's last call, given where the lead stands now.
fn last_dispositions(status: LeadStatus) -> &'static [(&'static str, u32)] {
    match status {
        LeadStatus::New | LeadStatus::Contacted => &[
            ("no_answer", 35),
            ("busy", 20),
            ("switched_off", 10),
            ("callback_requested", 35),
        ],
        LeadStatus::Interested => &[("interested", 70), ("price_enquiry", 30)],
        LeadStatus::FollowUp => &[
            ("callback_requested", 40),
            ("price_enquiry", 25),
            ("interested", 15),
            ("no_answer", 20),
        ],
        LeadStatus::VisitScheduled => &[("visit_booked", 1)],
        LeadStatus::Converted => &[("converted", 1)],
        LeadStatus::NotInterested => &[("not_interested", 1)],
        LeadStatus::Invalid => &[("invalid_number", 70), ("wrong_number", 30)],
        LeadStatus::DoNotCall => &[("do_not_call", 1)],
    }
}

/// India Standard Time, fixed UTC+05:30.
fn ist_offset() -> Duration {
    Duration::minutes(5 * 60 + 30)
}

impl Generator {
    fn new(opts: &SeedOptions) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            // Whole milliseconds, as stored.
            now: Utc
                .timestamp_millis_opt(opts.now.timestamp_millis())
                .single()
                .unwrap_or(opts.now),
        }
    }

    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        match WeightedIndex::new(items.iter().map(|(_, w)| *w)) {
            Ok(dist) => items[dist.sample(&mut self.rng)].0,
            Err(_) => items[0].0,
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items.choose(&mut self.rng).unwrap_or(&items[0])
    }

    /// A UUIDv7 for a row created at `at`, with seeded random bits.
    fn id_at(&mut self, at: Timestamp) -> Id {
        let mut bytes = [0u8; 10];
        self.rng.fill(&mut bytes);
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }

    /// A uniformly random instant in `[from, to]`, to the millisecond.
    fn between(&mut self, from: Timestamp, to: Timestamp) -> Timestamp {
        let span = (to - from).num_milliseconds();
        if span <= 0 {
            return from;
        }
        from + Duration::milliseconds(self.rng.random_range(0..=span))
    }

    /// A random instant in `[from, to]` during showroom calling hours (10:00–19:45 IST) when there is one.
    fn business_time(&mut self, from: Timestamp, to: Timestamp) -> Timestamp {
        for _ in 0..12 {
            let day = (self.between(from, to) + ist_offset()).date_naive();
            let minute = self.rng.random_range(10 * 60..19 * 60 + 45);
            let second = self.rng.random_range(0..60);
            let Some(time) = NaiveTime::from_hms_opt(minute / 60, minute % 60, second) else {
                continue;
            };
            let at = Utc.from_utc_datetime(&day.and_time(time)) - ist_offset();
            if at >= from && at <= to {
                return at;
            }
        }
        self.between(from, to)
    }

    fn mobile(&mut self, used: &mut HashSet<String>) -> Result<PhoneNumber, DemoError> {
        for _ in 0..10_000 {
            let first = self.weighted(&[(9u32, 40), (8, 25), (7, 25), (6, 10)]);
            let rest: u32 = self.rng.random_range(0..1_000_000_000);
            if let Ok(phone) = PhoneNumber::parse(&format!("+91{first}{rest:09}"))
                && used.insert(phone.as_str().to_owned())
            {
                return Ok(phone);
            }
        }
        Err(DemoError::Phone)
    }

    /// The demo users with their creation times, and a password salt for each.
    #[allow(clippy::type_complexity)]
    fn users(&mut self) -> Result<(Vec<(User, Timestamp)>, Vec<[u8; 16]>), DemoError> {
        let created = self.now - Duration::days(180);
        let mut out = Vec::with_capacity(DEMO_USERS.len());
        let mut salts = Vec::with_capacity(DEMO_USERS.len());
        for (i, (username, name, role)) in DEMO_USERS.iter().enumerate() {
            let at = created + Duration::minutes(i as i64 * 7);
            let user = User {
                id: self.id_at(at),
                username: (*username).to_owned(),
                name: (*name).to_owned(),
                role: *role,
                team: Some(DEMO_TEAM.to_owned()),
            };
            let mut salt = [0u8; 16];
            self.rng.fill(&mut salt);
            salts.push(salt);
            out.push((user, at));
        }
        Ok((out, salts))
    }

    fn lead(&mut self, used_phones: &mut HashSet<String>) -> Result<GenLead, DemoError> {
        let region_dist = WeightedIndex::new(data::REGIONS.iter().map(|r| r.weight)).ok();
        let region = match region_dist {
            Some(d) => &data::REGIONS[d.sample(&mut self.rng)],
            None => &data::REGIONS[0],
        };
        let first = if self.rng.random_bool(0.66) {
            self.pick(region.female)
        } else {
            self.pick(region.male)
        };
        let last = self.pick(region.surnames);
        let city = if self.rng.random_bool(0.9) {
            Some(if self.rng.random_bool(0.5) {
                region.cities[0]
            } else {
                self.pick(region.cities)
            })
        } else {
            None
        };
        let phone = self.mobile(used_phones)?;
        let alternate_phone = if self.rng.random_bool(0.08) {
            Some(self.mobile(used_phones)?)
        } else {
            None
        };
        let email = if self.rng.random_bool(0.4) {
            let domain = self.weighted(data::EMAIL_DOMAINS);
            let local = format!("{first}.{last}").to_lowercase().replace(' ', "");
            Some(if self.rng.random_bool(0.5) {
                format!("{local}{}@{domain}", self.rng.random_range(1..100))
            } else {
                format!("{local}@{domain}")
            })
        } else {
            None
        };
        let source = self.weighted(SOURCES);
        let (interest, budget_inr) = if self.rng.random_bool(0.9) {
            let dist = WeightedIndex::new(data::INTERESTS.iter().map(|i| i.weight)).ok();
            let interest = match dist {
                Some(d) => &data::INTERESTS[d.sample(&mut self.rng)],
                None => &data::INTERESTS[0],
            };
            let budget = if self.rng.random_bool(0.85) {
                // Log-uniform in the range, rounded like people round budgets.
                let (lo, hi) = interest.budget;
                let x = (lo as f64).ln() + self.rng.random::<f64>() * ((hi as f64).ln() - (lo as f64).ln());
                let raw = x.exp();
                let step = if raw >= 500_000.0 {
                    50_000.0
                } else if raw >= 100_000.0 {
                    10_000.0
                } else if raw >= 20_000.0 {
                    5_000.0
                } else {
                    500.0
                };
                Some(((raw / step).round() * step) as i64)
            } else {
                None
            };
            (Some(interest.text), budget)
        } else {
            (None, None)
        };
        let assignee = if self.rng.random_bool(UNASSIGNED_SHARE) {
            None
        } else {
            let weights: Vec<(usize, u32)> = TELECALLER_WEIGHTS.iter().copied().enumerate().collect();
            Some(self.weighted(&weights))
        };
        let status = if assignee.is_none() {
            LeadStatus::New
        } else {
            self.weighted(STATUSES)
        };
        let mut priority = self.weighted(PRIORITIES);
        if matches!(
            status,
            LeadStatus::Interested | LeadStatus::VisitScheduled | LeadStatus::FollowUp
        ) && self.rng.random_bool(0.4)
        {
            priority = match priority {
                LeadPriority::Low => LeadPriority::Normal,
                LeadPriority::Normal => LeadPriority::High,
                LeadPriority::High | LeadPriority::Hot => LeadPriority::Hot,
            };
        }
        let mut tags = Vec::new();
        let n_tags = self.weighted(&[(0usize, 45), (1, 35), (2, 15), (3, 5)]);
        while tags.len() < n_tags {
            let tag = self.pick(data::TAGS);
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let created_at = if status == LeadStatus::New {
            self.between(self.now - Duration::days(21), self.now - Duration::minutes(30))
        } else {
            self.between(self.now - Duration::days(89), self.now - Duration::days(2))
        };
        Ok(GenLead {
            id: self.id_at(created_at),
            name: format!("{first} {last}"),
            phone,
            alternate_phone,
            email,
            city: city.map(str::to_owned),
            source,
            interest,
            budget_inr,
            priority,
            status,
            tags,
            assignee,
            created_at,
            updated_at: created_at,
            version: 1,
        })
    }

    fn fill(&mut self, template: &str, lead: &GenLead, at: Timestamp) -> String {
        let day =
            data::WEEKDAYS[(at + ist_offset() + Duration::days(self.rng.random_range(1..5))).weekday_index()];
        template
            .replace("{interest}", lead.interest.unwrap_or("jewellery"))
            .replace("{budget}", &format_inr(lead.budget_inr.unwrap_or(100_000)))
            .replace("{day}", day)
    }

    /// The due time of a lead's open follow-up: overdue, later today, or upcoming; never before the call.
    fn open_due(&mut self, call_end: Timestamp) -> Timestamp {
        let now = self.now;
        let due = match self.weighted(&[(0u8, 30), (1, 20), (2, 50)]) {
            0 => self.between(now - Duration::days(5), now - Duration::hours(1)),
            1 => {
                let today = (now + ist_offset()).date_naive();
                let end_of_day = NaiveTime::from_hms_opt(19, 45, 0)
                    .map(|t| Utc.from_utc_datetime(&today.and_time(t)) - ist_offset())
                    .unwrap_or(now);
                if end_of_day - now > Duration::minutes(30) {
                    self.between(now + Duration::minutes(10), end_of_day)
                } else {
                    self.between(now + Duration::minutes(10), now + Duration::hours(2))
                }
            }
            _ => self.business_time(now + Duration::days(1), now + Duration::days(14)),
        };
        if due <= call_end + Duration::minutes(30) {
            self.between(call_end + Duration::hours(2), call_end + Duration::days(2))
        } else {
            due
        }
    }

    fn calls_for(&mut self, lead_idx: usize, lead: &mut GenLead, n: usize, out: &mut Vec<GenCall>) {
        let Some(owner) = lead.assignee else { return };
        let latest = self.now - Duration::minutes(20);
        let first = self.business_time(
            lead.created_at + Duration::minutes(10),
            (lead.created_at + Duration::days(3)).min(latest),
        );
        let mut times = vec![first];
        for _ in 1..n {
            let t = self.business_time(first, latest);
            times.push(t);
        }
        times.sort();
        let catalogue = default_catalogue();
        let start = out.len();
        for (i, started_at) in times.iter().copied().enumerate() {
            let last = i + 1 == n;
            let disposition = if last {
                self.weighted(last_dispositions(lead.status))
            } else {
                self.weighted(EARLIER_DISPOSITIONS)
            };
            let spec = catalogue.iter().find(|d| d.code == disposition);
            let connected = spec.is_none_or(|d| d.category == DispositionCategory::Connected);
            let requires_follow_up = spec.is_some_and(|d| d.requires_follow_up);
            let (answered_at, duration_s, ended_at) = if connected {
                let answered = started_at + Duration::seconds(self.rng.random_range(4..25));
                let base: f64 = match disposition {
                    "interested" | "price_enquiry" | "visit_booked" | "converted" => 240.0,
                    "wrong_number" | "do_not_call" | "callback_requested" => 25.0,
                    _ => 90.0,
                };
                let duration = (base * (0.3 + 2.2 * self.rng.random::<f64>().powi(2))).round() as i64 + 8;
                (Some(answered), duration, answered + Duration::seconds(duration))
            } else {
                (
                    None,
                    0,
                    started_at + Duration::seconds(self.rng.random_range(15..45)),
                )
            };
            let telecaller = if self.rng.random_bool(0.85) {
                owner
            } else {
                self.rng.random_range(0..TELECALLER_WEIGHTS.len())
            };
            let template = self.pick(data::note_templates(disposition));
            let notes = self.fill(template, lead, started_at);
            let tag_choices = data::outcome_tags(disposition);
            let mut outcome_tags = Vec::new();
            if !tag_choices.is_empty() && self.rng.random_bool(0.6) {
                outcome_tags.push(self.pick(tag_choices));
            }
            let mut sid_bytes = [0u8; 16];
            self.rng.fill(&mut sid_bytes);
            let provider_call_id = sid_bytes.iter().map(|b| format!("{b:02x}")).collect();
            let follow_up = if requires_follow_up {
                let (due_at, completed_at) = if last {
                    (self.open_due(ended_at), None)
                } else {
                    let next = times[i + 1];
                    (
                        self.business_time(ended_at + Duration::hours(2), ended_at + Duration::days(4)),
                        Some(next),
                    )
                };
                Some(GenFollowUp {
                    id: self.id_at(ended_at),
                    spec: FollowUpSpec {
                        due_at,
                        note: Some(data::follow_up_note(disposition).to_owned()),
                    },
                    completed_at,
                })
            } else {
                None
            };
            let direction = if self.rng.random_bool(0.9) {
                CallDirection::Outbound
            } else {
                CallDirection::Inbound
            };
            out.push(GenCall {
                id: self.id_at(started_at),
                lead: lead_idx,
                telecaller,
                direction,
                started_at,
                answered_at,
                ended_at,
                duration_s,
                disposition,
                outcome_tags,
                notes,
                follow_up,
                provider_call_id,
            });
        }
        if let Some(last) = out[start..].last() {
            lead.updated_at = last.ended_at.max(lead.created_at);
        }
        lead.version = 1 + n as i64;
    }

    fn write(mut self, tx: &mut Tx<'_>) -> Result<(), DemoError> {
        let (users, salts) = self.users()?;
        // The six argon2 hashes are the slow part: compute them on other threads while the leads are made.
        let (hashes, leads) = std::thread::scope(|s| {
            let workers: Vec<_> = salts
                .iter()
                .map(|salt| s.spawn(move || hash_password_with_salt(DEMO_PASSWORD, salt)))
                .collect();
            let mut used_phones = HashSet::new();
            let leads: Result<Vec<GenLead>, DemoError> =
                (0..DEMO_LEADS).map(|_| self.lead(&mut used_phones)).collect();
            let hashes: Result<Vec<String>, DemoError> = workers
                .into_iter()
                .map(|w| match w.join() {
                    Ok(hash) => hash.map_err(DemoError::from),
                    Err(_) => Err(DemoError::HashThread),
                })
                .collect();
            (hashes, leads)
        });
        let (hashes, mut leads) = (hashes?, leads?);
        for ((user, at), hash) in users.iter().zip(&hashes) {
            db::insert_user(tx, user, hash, at)?;
        }
        let telecallers: Vec<Id> = users
            .iter()
            .filter(|(u, _)| u.role == Role::Telecaller)
            .map(|(u, _)| u.id)
            .collect();

        leads.sort_by_key(|l| l.created_at);

        // Every lead past `new` has been called at least once; the rest of the calls go to the busier
        // (higher-priority) leads.
        let called: Vec<usize> = (0..leads.len())
            .filter(|&i| leads[i].status != LeadStatus::New && leads[i].assignee.is_some())
            .collect();
        let mut counts = vec![0usize; leads.len()];
        for &i in &called {
            counts[i] = 1;
        }
        let extra = DEMO_CALL_LOGS.saturating_sub(called.len());
        if let Ok(dist) = WeightedIndex::new(called.iter().map(|&i| match leads[i].priority {
            LeadPriority::Low => 1u32,
            LeadPriority::Normal => 2,
            LeadPriority::High => 3,
            LeadPriority::Hot => 4,
        })) {
            for _ in 0..extra {
                counts[called[dist.sample(&mut self.rng)]] += 1;
            }
        }
        let mut calls = Vec::with_capacity(DEMO_CALL_LOGS);
        for (i, lead) in leads.iter_mut().enumerate() {
            if counts[i] > 0 {
                self.calls_for(i, lead, counts[i], &mut calls);
            }
        }
        calls.sort_by_key(|c| c.started_at);

        // Leads first, then calls (each followed by its follow-up) in time order: every call log's seq is
        // above its lead's.
        let follow_up_count = calls.iter().filter(|c| c.follow_up.is_some()).count();
        let mut seq = db::reserve_seqs(tx, (leads.len() + calls.len() + follow_up_count) as i64)?;
        let now_text = ts(&self.now);
        for l in &leads {
            let lead = Lead {
                id: l.id,
                name: l.name.clone(),
                phone: l.phone.clone(),
                alternate_phone: l.alternate_phone.clone(),
                email: l.email.clone(),
                city: l.city.clone(),
                source: l.source,
                interest: l.interest.map(str::to_owned),
                budget_inr: l.budget_inr,
                priority: l.priority,
                status: l.status,
                tags: l.tags.iter().map(|t| (*t).to_owned()).collect(),
                assigned_to: l.assignee.map(|i| telecallers[i]),
                created_at: l.created_at,
                updated_at: l.updated_at,
                version: l.version,
            };
            db::insert_lead(tx, &lead, Some(DEMO_TEAM), seq)?;
            seq += 1;
        }
        for c in &calls {
            let lead = &leads[c.lead];
            let log = CallLog {
                id: c.id,
                lead_id: lead.id,
                telecaller_id: telecallers[c.telecaller],
                direction: c.direction,
                started_at: c.started_at,
                answered_at: c.answered_at,
                ended_at: Some(c.ended_at),
                duration_s: c.duration_s,
                disposition: c.disposition.to_owned(),
                outcome_tags: c.outcome_tags.iter().map(|t| (*t).to_owned()).collect(),
                notes: c.notes.clone(),
                follow_up: c.follow_up.as_ref().map(|f| f.spec.clone()),
                recording_url: None,
                provider_call_id: Some(c.provider_call_id.clone()),
                device_id: Some("demo-seed".to_owned()),
                quality: None,
            };
            db::insert_call_log(tx, &log, &c.ended_at, seq)?;
            seq += 1;
            if let Some(f) = &c.follow_up {
                let owner = lead.assignee.unwrap_or(c.telecaller);
                let follow_up = FollowUp {
                    id: f.id,
                    lead_id: lead.id,
                    assigned_to: telecallers[owner],
                    due_at: f.spec.due_at,
                    note: f.spec.note.clone(),
                    call_log_id: Some(c.id),
                    completed_at: f.completed_at,
                    created_at: c.ended_at,
                };
                db::insert_follow_up(tx, &follow_up, &f.completed_at.unwrap_or(c.ended_at), seq)?;
                seq += 1;
            }
        }
        tracing::debug!(now = %now_text, leads = leads.len(), calls = calls.len(), "demo data written");
        Ok(())
    }
}

/// Rupees with Indian digit grouping: 1250000 → "12,50,000".
pub fn format_inr(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    let len = digits.len();
    for (i, ch) in digits.chars().enumerate() {
        let left = len - i;
        if i > 0 && (left == 3 || (left > 3 && (left - 3).is_multiple_of(2))) {
            out.push(',');
        }
        out.push(ch);
    }
    if amount < 0 { format!("-{out}") } else { out }
}

trait WeekdayIndex {
    fn weekday_index(&self) -> usize;
}

impl WeekdayIndex for Timestamp {
    fn weekday_index(&self) -> usize {
        use chrono::Datelike;
        self.weekday().num_days_from_monday() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupees_use_indian_grouping() {
        assert_eq!(format_inr(0), "0");
        assert_eq!(format_inr(999), "999");
        assert_eq!(format_inr(1000), "1,000");
        assert_eq!(format_inr(100_000), "1,00,000");
        assert_eq!(format_inr(1_250_000), "12,50,000");
        assert_eq!(format_inr(12_345_678), "1,23,45,678");
    }
}
