//! Fuzz target `sync_push`: `POST /api/v1/sync/push` bodies. The bytes are read as the route reads them
//! (serde_json into [`PushBatch`]), checked by the route's own [`check_push`], and applied by
//! [`writes::push`] to a real SQLite database (the server's schema, a telecaller with leads and
//! follow-ups), each case in a transaction rolled back afterwards. Every mutation of a batch gets exactly
//! one result, in order; a storage error on input is a failure (input must be refused, not crash the
//! transaction).

use chrono::{Duration, SubsecRound, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use leadline_model::sync::{LeadPatch, Mutation, MutationOp, MutationStatus, PROTOCOL_VERSION, PushBatch};
use leadline_model::{
    CallDirection, CallLog, CallQuality, FollowUp, FollowUpSpec, Id, Lead, LeadPriority, LeadSource,
    LeadStatus, PhoneNumber, Role, Timestamp, User,
};
use leadline_server::db::{self, DbError, writes};
use leadline_server::pii::PiiKeys;
use leadline_server::routes::writes::check_push;

use super::mutate::{Case, awkward_text, cases};

/// Fixed ids of the seeded rows: the actor (a telecaller), another telecaller, their leads and follow-ups.
const ACTOR: u128 = 0xa1;
const OTHER: u128 = 0xa2;
const LEADS: [u128; 3] = [0x1ead_0001, 0x1ead_0002, 0x1ead_0003]; // the actor's two, the other's one
const FOLLOW_UPS: [u128; 2] = [0xf0_0001, 0xf0_0002];

fn id(n: u128) -> Id {
    Uuid::from_u128(n)
}

/// A pooled id: mostly the seeded ones, so mutations reach the rows they name.
fn pooled(pool: &'static [u128]) -> impl Strategy<Value = Id> {
    prop_oneof![4 => prop::sample::select(pool).prop_map(id), 1 => any::<u128>().prop_map(id)]
}

fn minutes_ago() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 1..100_000i64, 1 => -100_000..0i64, 1 => Just(-10_000_000i64)]
}

fn at(now: Timestamp, minutes_ago: i64) -> Timestamp {
    now.checked_sub_signed(Duration::minutes(minutes_ago))
        .unwrap_or(now)
}

fn text() -> impl Strategy<Value = String> {
    awkward_text()
}

fn op(now: Timestamp) -> impl Strategy<Value = MutationOp> {
    let log = (
        (
            any::<u8>(),
            pooled(&LEADS),
            prop::sample::select(vec![id(ACTOR), id(OTHER)]),
            minutes_ago(),
        ),
        (
            0..5000i64,
            prop::sample::select(vec![
                "interested",
                "callback",
                "not_interested",
                "no_answer",
                "bogus",
                "",
            ]),
        ),
        (prop::collection::vec(text(), 0..3), text()),
        prop::option::of((minutes_ago(), prop::option::of(text()))),
        prop::option::of((1.0..5.0f64, 0.0..1.0f64, 0.0..500.0f64)),
    )
        .prop_map(
            move |(
                (n, lead_id, telecaller_id, ago),
                (duration_s, disposition),
                (tags, notes),
                follow,
                quality,
            )| {
                let started_at = at(now, ago);
                MutationOp::CreateCallLog(CallLog {
                    id: id(0xca11_0000 + u128::from(n % 8)),
                    lead_id,
                    telecaller_id,
                    direction: CallDirection::Outbound,
                    started_at,
                    answered_at: None,
                    ended_at: started_at.checked_add_signed(Duration::seconds(duration_s)),
                    duration_s,
                    disposition: disposition.to_owned(),
                    outcome_tags: tags,
                    notes,
                    follow_up: follow.map(|(ago, note)| FollowUpSpec {
                        due_at: at(now, ago),
                        note,
                    }),
                    recording_url: None,
                    provider_call_id: None,
                    device_id: Some("fuzz-device".into()),
                    quality: quality.map(|(mos, loss, jitter_ms)| CallQuality {
                        mos,
                        rtt_ms: None,
                        jitter_ms,
                        loss,
                        codec: Some("opus".into()),
                        remote_loss: None,
                        remote_jitter_ms: None,
                    }),
                })
            },
        );
    let patch = (
        pooled(&LEADS),
        prop_oneof![Just(1i64), Just(0), Just(2), Just(i64::MAX), Just(-1)],
        (
            prop::option::of(prop::sample::select(LeadStatus::ALL.to_vec())),
            prop::option::of(prop::collection::vec(text(), 0..4)),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(prop_oneof![Just(-1i64), 0..1_000_000_000i64, Just(i64::MAX)]),
            prop::option::of((0..100_000_000u32).prop_map(|n| format!("+9197{n:08}"))),
        ),
    )
        .prop_map(
            |(lead_id, base_version, (status, tags, city, email, budget_inr, alt))| MutationOp::UpdateLead {
                lead_id,
                base_version,
                patch: LeadPatch {
                    status,
                    tags,
                    city,
                    email,
                    budget_inr,
                    alternate_phone: alt.and_then(|a| PhoneNumber::from_stored(&a).ok()),
                    ..LeadPatch::default()
                },
            },
        );
    let follow_up = (
        any::<u8>(),
        pooled(&LEADS),
        prop::sample::select(vec![id(ACTOR), id(OTHER)]),
        minutes_ago(),
        prop::option::of(text()),
    )
        .prop_map(move |(n, lead_id, assigned_to, ago, note)| {
            MutationOp::CreateFollowUp(FollowUp {
                id: id(0xf0_1000 + u128::from(n % 8)),
                lead_id,
                assigned_to,
                due_at: at(now, ago),
                note,
                call_log_id: None,
                completed_at: None,
                created_at: now,
            })
        });
    let complete = (pooled(&FOLLOW_UPS), minutes_ago()).prop_map(move |(follow_up_id, ago)| {
        MutationOp::CompleteFollowUp {
            follow_up_id,
            completed_at: at(now, ago),
        }
    });
    let reschedule = (pooled(&FOLLOW_UPS), minutes_ago()).prop_map(move |(follow_up_id, ago)| {
        MutationOp::RescheduleFollowUp {
            follow_up_id,
            due_at: at(now, -ago),
        }
    });
    let lead = (
        any::<u8>(),
        text(),
        0..100u32,
        prop::option::of(text()),
        prop::collection::vec(text(), 0..3),
    )
        .prop_filter_map("phone", move |(n, name, number, city, tags)| {
            Some(MutationOp::CreateLead(Lead {
                id: id(0x1ead_1000 + u128::from(n % 8)),
                name,
                phone: PhoneNumber::from_stored(&format!("+9196000000{number:02}")).ok()?,
                alternate_phone: None,
                email: None,
                city,
                source: LeadSource::Other,
                interest: None,
                budget_inr: None,
                priority: LeadPriority::Normal,
                status: LeadStatus::New,
                tags,
                assigned_to: Some(id(ACTOR)),
                created_at: now,
                updated_at: now,
                version: 1,
            }))
        });
    prop_oneof![4 => log, 3 => patch, 2 => follow_up, 1 => complete, 1 => reschedule, 1 => lead]
}

fn batch(now: Timestamp) -> BoxedStrategy<PushBatch> {
    (
        prop_oneof![8 => Just("desk-7".to_owned()), 1 => text()],
        prop::collection::vec((0..6u128, op(now)), 0..6),
    )
        .prop_map(move |(device_id, ops)| PushBatch {
            protocol: PROTOCOL_VERSION,
            device_id,
            mutations: ops
                .into_iter()
                .map(|(n, op)| Mutation {
                    client_mutation_id: id(0xc1_0000 + n),
                    created_at: now,
                    op,
                })
                .collect(),
        })
        .boxed()
}

/// The body as the desktop sends it.
pub fn render(b: &PushBatch) -> Vec<u8> {
    serde_json::to_vec(b).unwrap_or_default()
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"",
    b"null",
    b"\"op\":\"create_call_log\"",
    b"\"op\":\"update_lead\"",
    b"\"op\":\"create_lead\"",
    b"\"op\":\"nope\"",
    b"\"data\":",
    b"\"protocol\":1",
    b"\"device_id\":\"\"",
    b"\"base_version\":",
    b"\"budget_inr\":",
    b"\"duration_s\":",
    b"\"mos\":",
    b"+262143-12-31T23:59:59Z",
    b"-262143-01-01T00:00:00Z",
    b"1970-01-01T00:00:00Z",
    b"00000000-0000-0000-0000-000000000000",
    b"\\u0000",
    b"\\ud83d",
    b"1e308",
    b"-9223372036854775808",
];

/// The database and the actor the cases run against.
pub struct Target {
    conn: rusqlite::Connection,
    pii: PiiKeys,
    actor: User,
    now: Timestamp,
    _dir: tempfile::TempDir,
}

/// Ends a case's transaction without committing: what [`db::with_sqlite_tx`] does with an error.
enum Abort {
    Db(DbError),
    Done(Result<Vec<(Id, MutationStatus)>, String>),
}

impl From<DbError> for Abort {
    fn from(e: DbError) -> Self {
        Abort::Db(e)
    }
}

impl Target {
    /// A database in a temporary directory (on /dev/shm when there is one) with the seeded rows.
    pub fn new() -> Result<Self, String> {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .map_err(|e| e.to_string())?;
        let mut conn = db::open_connection(&dir.path().join("fuzz.sqlite3")).map_err(|e| e.to_string())?;
        conn.pragma_update(None, "synchronous", "OFF")
            .map_err(|e| e.to_string())?;
        let pii =
            PiiKeys::new(vec![("f1".to_owned(), [3u8; 32])], "f1", [5u8; 32]).map_err(|e| e.to_string())?;
        let now = Utc::now().trunc_subsecs(3);
        let user = |n: u128, name: &str| User {
            id: id(n),
            username: name.to_owned(),
            name: name.to_owned(),
            role: Role::Telecaller,
            team: Some("Showroom 1".into()),
        };
        let actor = user(ACTOR, "actor");
        let other = user(OTHER, "other");
        db::with_sqlite_tx(&mut conn, &pii, |tx| -> Result<(), DbError> {
            db::insert_user(tx, &actor, "x", &now)?;
            db::insert_user(tx, &other, "x", &now)?;
            let first = db::reserve_seqs(tx, 5)?;
            for (i, n) in LEADS.iter().enumerate() {
                let lead = Lead {
                    id: id(*n),
                    name: format!("Lead {i}"),
                    phone: PhoneNumber::from_stored(&format!("+91980000000{i}"))
                        .map_err(|e| DbError::Interact(e.to_string()))?,
                    alternate_phone: None,
                    email: None,
                    city: None,
                    source: LeadSource::Website,
                    interest: None,
                    budget_inr: None,
                    priority: LeadPriority::Normal,
                    status: LeadStatus::New,
                    tags: vec![],
                    assigned_to: Some(if i < 2 { actor.id } else { other.id }),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                };
                db::insert_lead(tx, &lead, Some("Showroom 1"), first + i as i64)?;
            }
            for (i, n) in FOLLOW_UPS.iter().enumerate() {
                let f = FollowUp {
                    id: id(*n),
                    lead_id: id(LEADS[i]),
                    assigned_to: actor.id,
                    due_at: now,
                    note: None,
                    call_log_id: None,
                    completed_at: None,
                    created_at: now,
                };
                db::insert_follow_up(tx, &f, &now, first + 3 + i as i64)?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(Self {
            conn,
            pii,
            actor,
            now,
            _dir: dir,
        })
    }

    pub fn strategy(&self) -> BoxedStrategy<Case<PushBatch>> {
        cases(batch(self.now), render, TOKENS)
    }

    /// Applies a batch in a transaction that is rolled back: each mutation's id and status.
    fn apply(&mut self, batch: &PushBatch, device_id: &str) -> Result<Vec<(Id, MutationStatus)>, String> {
        let (actor, now) = (&self.actor, self.now);
        let outcome = db::with_sqlite_tx(&mut self.conn, &self.pii, |tx| -> Result<(), Abort> {
            let result = writes::push(tx, actor, device_id, &batch.mutations, &now)
                .map(|o| {
                    o.results
                        .into_iter()
                        .map(|r| (r.client_mutation_id, r.status))
                        .collect()
                })
                .map_err(|e| format!("storage error on a push: {e}"));
            Err(Abort::Done(result))
        });
        match outcome {
            Err(Abort::Done(result)) => result,
            Err(Abort::Db(e)) => Err(format!("transaction: {e}")),
            Ok(()) => Err("the push committed".into()),
        }
    }

    /// The statuses a push body gets (for the regression tests in crates/server/tests/fuzz.rs).
    #[allow(dead_code)]
    pub fn statuses(&mut self, body: &[u8]) -> Result<Vec<MutationStatus>, String> {
        let batch: PushBatch = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let device_id = check_push(&batch).map_err(|e| e.to_string())?;
        Ok(self
            .apply(&batch, &device_id)?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// Checks one case.
    pub fn check(&mut self, case: &Case<PushBatch>) -> Result<(), String> {
        let (batch, valid) = match case {
            Case::Bytes(b) => match serde_json::from_slice::<PushBatch>(b) {
                Ok(batch) => (batch, false),
                Err(_) => return Ok(()),
            },
            Case::Valid(batch) => {
                let again: PushBatch = serde_json::from_slice(&render(batch))
                    .map_err(|e| format!("the desktop's own body is refused: {e}"))?;
                if again != *batch {
                    return Err("the body does not round-trip".into());
                }
                (again, true)
            }
        };
        let device_id = match check_push(&batch) {
            Ok(d) => d,
            Err(e) if valid && batch.device_id == "desk-7" => {
                return Err(format!("valid batch refused: {e}"));
            }
            Err(_) => return Ok(()),
        };
        let results = self.apply(&batch, &device_id)?;
        if results.len() != batch.mutations.len()
            || results
                .iter()
                .zip(&batch.mutations)
                .any(|((rid, _), m)| *rid != m.client_mutation_id)
        {
            return Err(format!(
                "{} results for {} mutations",
                results.len(),
                batch.mutations.len()
            ));
        }
        // Once a client mutation id is applied (or found done), the same id again is a duplicate, never
        // applied twice. (A rejected one is rolled back with its id: the id may come again.)
        let mut done = std::collections::HashSet::new();
        for ((rid, status), m) in results.iter().zip(&batch.mutations) {
            if done.contains(rid) && *status != MutationStatus::Duplicate {
                return Err(format!(
                    "mutation {rid} done twice in one batch: {:?} then {status:?}",
                    m.op
                ));
            }
            if matches!(status, MutationStatus::Applied | MutationStatus::Duplicate) {
                done.insert(*rid);
            }
            if let MutationStatus::Rejected { reason } = status
                && reason.trim().is_empty()
            {
                return Err("a rejection without a reason".into());
            }
        }
        Ok(())
    }
}
