//! Property test of the outbox and apply logic: random interleavings of local edits and call logs,
//! supervisor edits on the server, pulls of some pages, pushes whose request or answer is lost, and
//! crashes (the cache reopened from its file), against a simple model of the server. After a final clean
//! sync: every call logged is on the server exactly once; every edited field was applied by the server
//! or is an open conflict carrying the user's value (never dropped silently); no edit was applied twice;
//! and the cache holds exactly the server's leads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::map_entry,
    clippy::type_complexity
)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use leadline_model::sync::{
    Change, Cursor, LeadPatch, MutationOp, MutationResult, MutationStatus, PROTOCOL_VERSION, PullPage,
};
use leadline_model::{
    CallDirection, CallLog, Id, Lead, LeadPriority, LeadSource, LeadStatus, PhoneNumber, Role, User, new_id,
};
use leadline_store::{PUSH_MAX_BYTES, Store, StoreKey};
use proptest::prelude::*;

const LEADS: usize = 3;
const PAGE: usize = 3;

/// The server, reduced to what the protocol promises.
struct Server {
    leads: BTreeMap<Id, Lead>,
    calls: BTreeMap<Id, CallLog>,
    /// Client mutation ids applied, with the fields each edit set.
    applied: BTreeMap<Id, Vec<&'static str>>,
    feed: Vec<Change>,
}

impl Server {
    fn new(me: Id) -> Self {
        let mut s = Self {
            leads: BTreeMap::new(),
            calls: BTreeMap::new(),
            applied: BTreeMap::new(),
            feed: Vec::new(),
        };
        for i in 0..LEADS {
            let now = Utc::now();
            let lead = Lead {
                id: new_id(),
                name: format!("Lead {i}"),
                phone: PhoneNumber::parse(&format!("+9198765432{i:02}")).unwrap(),
                alternate_phone: None,
                email: None,
                city: None,
                source: LeadSource::Website,
                interest: None,
                budget_inr: None,
                priority: LeadPriority::Normal,
                status: LeadStatus::New,
                tags: vec![],
                assigned_to: Some(me),
                created_at: now,
                updated_at: now,
                version: 1,
            };
            s.feed.push(Change::Lead(lead.clone()));
            s.leads.insert(lead.id, lead);
        }
        s
    }

    fn edit(&mut self, lead: &Id, patch: &LeadPatch) {
        let l = self.leads.get_mut(lead).unwrap();
        patch.apply_to(l);
        l.version += 1;
        self.feed.push(Change::Lead(l.clone()));
    }

    fn push(&mut self, muts: &[leadline_model::sync::Mutation]) -> Vec<MutationResult> {
        muts.iter()
            .map(|m| {
                let status = if self.applied.contains_key(&m.client_mutation_id) {
                    MutationStatus::Duplicate
                } else {
                    match &m.op {
                        MutationOp::CreateCallLog(c) => {
                            if self.calls.contains_key(&c.id) {
                                MutationStatus::Duplicate
                            } else {
                                self.calls.insert(c.id, c.clone());
                                self.feed.push(Change::CallLog(c.clone()));
                                self.applied.insert(m.client_mutation_id, vec![]);
                                MutationStatus::Applied
                            }
                        }
                        MutationOp::UpdateLead {
                            lead_id,
                            base_version,
                            patch,
                        } => {
                            let current = self.leads[lead_id].clone();
                            if current.version == *base_version {
                                self.edit(lead_id, patch);
                                self.applied.insert(m.client_mutation_id, patch.fields());
                                MutationStatus::Applied
                            } else {
                                MutationStatus::Conflict {
                                    current: Box::new(current),
                                }
                            }
                        }
                        other => panic!("the model does not expect {other:?}"),
                    }
                };
                MutationResult {
                    client_mutation_id: m.client_mutation_id,
                    status,
                }
            })
            .collect()
    }

    fn pull(&self, cursor: &Cursor) -> PullPage {
        let from: usize = if cursor.is_start() {
            0
        } else {
            cursor.0.parse().unwrap()
        };
        let to = (from + PAGE).min(self.feed.len());
        PullPage {
            protocol: PROTOCOL_VERSION,
            changes: self.feed[from..to].to_vec(),
            next_cursor: Cursor(to.to_string()),
            has_more: to < self.feed.len(),
            dispositions: vec![],
            server_time: Utc::now(),
        }
    }
}

#[derive(Debug, Clone)]
enum Lose {
    Nothing,
    /// The request never reached the server.
    Request,
    /// The server applied it; the answer never came back.
    Answer,
}

#[derive(Debug, Clone)]
enum Step {
    LogCall(usize),
    /// A local edit of `city` (true) or `interest` (false) of a lead.
    Edit(usize, bool),
    /// Two fields at once.
    EditBoth(usize),
    /// The supervisor edits a field on the server.
    ServerEdit(usize, bool),
    Push(Lose, usize),
    Pull(usize),
    Crash,
}

fn step() -> impl Strategy<Value = Step> {
    let lead = 0..LEADS;
    prop_oneof![
        3 => lead.clone().prop_map(Step::LogCall),
        3 => (lead.clone(), any::<bool>()).prop_map(|(l, f)| Step::Edit(l, f)),
        1 => lead.clone().prop_map(Step::EditBoth),
        2 => (lead, any::<bool>()).prop_map(|(l, f)| Step::ServerEdit(l, f)),
        3 => (prop_oneof![Just(Lose::Nothing), Just(Lose::Request), Just(Lose::Answer)], 1_usize..4)
            .prop_map(|(l, n)| Step::Push(l, n)),
        2 => (1_usize..4).prop_map(Step::Pull),
        1 => Just(Step::Crash),
    ]
}

fn patch(city: bool, value: &str) -> LeadPatch {
    if city {
        LeadPatch {
            city: Some(value.into()),
            ..LeadPatch::default()
        }
    } else {
        LeadPatch {
            interest: Some(value.into()),
            ..LeadPatch::default()
        }
    }
}

fn push_once(store: &mut Store, server: &mut Server, max: usize, lose: &Lose) {
    let batch = store.next_push_batch(max, PUSH_MAX_BYTES).unwrap();
    if batch.is_empty() {
        return;
    }
    let muts: Vec<_> = batch.iter().map(|e| e.mutation.clone()).collect();
    match lose {
        Lose::Request => {}
        Lose::Answer => {
            server.push(&muts);
        }
        Lose::Nothing => {
            let results = server.push(&muts);
            store.apply_push_results(&batch, &results).unwrap();
        }
    }
}

fn pull_pages(store: &mut Store, server: &Server, pages: usize) {
    for _ in 0..pages {
        let cursor = store.sync_state().unwrap().cursor;
        let page = server.pull(&cursor);
        store.apply_pull_page(&page).unwrap();
        if !page.has_more {
            break;
        }
    }
}

fn run(steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let me = User {
        id: new_id(),
        username: "priya".into(),
        name: "Priya".into(),
        role: Role::Telecaller,
        team: None,
    };
    let mut server = Server::new(me.id);
    let key = StoreKey::generate().unwrap();
    let mut store = Store::open(&path, &key).unwrap();
    store.set_account("http://model", &me).unwrap();
    pull_pages(&mut store, &server, 100);
    let ids: Vec<Id> = server.leads.keys().copied().collect();

    let mut logged = BTreeSet::new();
    // Every local edit: its client mutation id, lead, and the unique value per field.
    let mut edits: Vec<(Id, Id, Vec<(&'static str, String)>)> = Vec::new();
    let mut n = 0;
    let mut unique = |tag: &str| {
        n += 1;
        format!("{tag}{n}")
    };
    for s in steps {
        match s {
            Step::LogCall(i) => {
                let now = Utc::now();
                let c = CallLog {
                    id: new_id(),
                    lead_id: ids[i],
                    telecaller_id: me.id,
                    direction: CallDirection::Outbound,
                    started_at: now,
                    answered_at: None,
                    ended_at: Some(now),
                    duration_s: 0,
                    disposition: "no_answer".into(),
                    outcome_tags: vec![],
                    notes: String::new(),
                    follow_up: None,
                    recording_url: None,
                    provider_call_id: None,
                    device_id: None,
                    quality: None,
                };
                // A lead the server took away is not offered; here every lead stays assigned.
                store.log_call(&c).unwrap();
                logged.insert(c.id);
            }
            Step::Edit(i, city) => {
                let v = unique(if city { "city-" } else { "interest-" });
                let m = store.update_lead(&ids[i], &patch(city, &v)).unwrap();
                edits.push((
                    m.client_mutation_id,
                    ids[i],
                    vec![(if city { "city" } else { "interest" }, v)],
                ));
            }
            Step::EditBoth(i) => {
                let c = unique("city-");
                let t = unique("interest-");
                let p = LeadPatch {
                    city: Some(c.clone()),
                    interest: Some(t.clone()),
                    ..LeadPatch::default()
                };
                let m = store.update_lead(&ids[i], &p).unwrap();
                edits.push((m.client_mutation_id, ids[i], vec![("city", c), ("interest", t)]));
            }
            Step::ServerEdit(i, city) => {
                let v = unique("server-");
                server.edit(&ids[i], &patch(city, &v));
            }
            Step::Push(lose, max) => push_once(&mut store, &mut server, max, &lose),
            Step::Pull(pages) => pull_pages(&mut store, &server, pages),
            Step::Crash => {
                drop(store);
                store = Store::open(&path, &key).unwrap();
            }
        }
    }

    // A clean sync until nothing moves.
    for _ in 0..200 {
        push_once(&mut store, &mut server, 500, &Lose::Nothing);
        pull_pages(&mut store, &server, 1_000);
        if store.pending_count().unwrap().pending == 0 {
            break;
        }
    }
    let counts = store.pending_count().unwrap();
    assert_eq!(counts.pending, 0, "the outbox drains");
    assert_eq!(counts.rejected, 0);

    // Calls: exactly the logged ones, once each (the model keys them by id; a second application under
    // another mutation id would have shown as a missing `duplicate`, so count applications too).
    let on_server: BTreeSet<Id> = server.calls.keys().copied().collect();
    assert_eq!(on_server, logged);
    let call_applications = server.applied.values().filter(|f| f.is_empty()).count();
    assert_eq!(call_applications, logged.len(), "each call applied once");

    // Edits: each field applied by the server under the edit's id, or an open conflict with the user's value.
    let conflicts = store.open_conflicts().unwrap();
    for (cmid, lead, fields) in &edits {
        for (field, value) in fields {
            let applied = server.applied.get(cmid).is_some_and(|f| f.contains(field));
            let kept = conflicts.iter().any(|c| {
                c.lead_id == *lead
                    && c.fields
                        .iter()
                        .any(|f| f.field == *field && f.mine == serde_json::json!(value))
            });
            assert!(
                applied ^ kept,
                "edit {cmid} of {field}={value}: applied {applied}, conflict {kept}"
            );
        }
    }

    // The cache holds the server's leads exactly.
    for id in &ids {
        let local = store.get_lead(id).unwrap();
        let remote = &server.leads[id];
        assert_eq!(
            (&local.city, &local.interest, local.version),
            (&remote.city, &remote.interest, remote.version),
            "lead {id}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn outbox_and_apply_match_the_model(steps in proptest::collection::vec(step(), 1..40)) {
        run(steps);
    }
}
