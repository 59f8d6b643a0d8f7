#![allow(clippy::unwrap_used)]

use chrono::{Duration, SubsecRound, Utc};

/// The cache keeps microseconds.
fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6).trunc_subsecs(6)
}
use leadline_model::sync::{Change, Cursor, LeadPatch, MutationOp, PROTOCOL_VERSION, PullPage};
use leadline_model::*;
use leadline_store::{
    CallDraft, CallVia, Clock, FiguresQuery, LeadFilter, LeadOrder, LeadOrderKey, LeadPageQuery, LeadQuery,
    QueueQuery, Store, StoreError, StoreKey, WrapUp,
};

fn user(name: &str) -> User {
    User {
        id: new_id(),
        username: name.into(),
        name: name.into(),
        role: Role::Telecaller,
        team: None,
    }
}

fn lead(name: &str, phone: &str, owner: &User, status: LeadStatus) -> Lead {
    let now = now();
    Lead {
        id: new_id(),
        name: name.into(),
        phone: PhoneNumber::parse(phone).unwrap(),
        alternate_phone: None,
        email: None,
        city: Some("Mumbai".into()),
        source: LeadSource::Instagram,
        interest: Some("bridal necklace".into()),
        budget_inr: Some(250_000),
        priority: LeadPriority::Hot,
        status,
        tags: vec!["wedding".into()],
        assigned_to: Some(owner.id),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn call(lead: &Lead, notes: &str) -> CallLog {
    let start = now() - Duration::minutes(5);
    CallLog {
        id: new_id(),
        lead_id: lead.id,
        telecaller_id: lead.assigned_to.unwrap(),
        direction: CallDirection::Outbound,
        started_at: start,
        answered_at: Some(start + Duration::seconds(8)),
        ended_at: Some(start + Duration::seconds(128)),
        duration_s: 120,
        disposition: "interested".into(),
        outcome_tags: vec![],
        notes: notes.into(),
        follow_up: None,
        recording_url: None,
        provider_call_id: Some("exo-123".into()),
        device_id: None,
        quality: None,
    }
}

/// `store` with priya signed in and her lead Asha pulled.
fn with_priya_and_asha(mut store: Store) -> (Store, User, Lead) {
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let asha = lead("Asha Kulkarni", "+919876543210", &me, LeadStatus::New);
    store
        .apply_pull_page(&page(vec![Change::Lead(asha.clone())], "c1"))
        .unwrap();
    (store, me, asha)
}

fn page(changes: Vec<Change>, cursor: &str) -> PullPage {
    PullPage {
        protocol: PROTOCOL_VERSION,
        changes,
        next_cursor: Cursor(cursor.into()),
        has_more: false,
        dispositions: default_catalogue(),
        server_time: now(),
    }
}

/// One fixed key for every file of these tests (tests/crypt.rs covers keys).
fn key() -> StoreKey {
    StoreKey::from_hex(&"5a".repeat(32)).unwrap()
}

fn outbox_rows(store: &Store) -> usize {
    store.outbox_pending(10_000).unwrap().len()
}

#[test]
fn opens_a_new_file_with_wal_and_current_schema_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let store = Store::open(&path, &key()).unwrap();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .count();
    assert_eq!(store.schema_version().unwrap() as usize, migrations);
    drop(store);
    assert!(dir.path().join("cache.sqlite3").exists());
    let store = Store::open(&path, &key()).unwrap();
    assert_eq!(store.count_leads().unwrap(), 0);
}

#[test]
fn pulled_leads_are_listed_filtered_and_searchable_by_name_phone_and_notes() {
    let mut store = Store::open_in_memory().unwrap();
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let asha = lead("Asha Kulkarni", "+91 98765 43210", &me, LeadStatus::Interested);
    let ravi = lead("Ravi Pillai", "98450 12345", &me, LeadStatus::New);
    let asha_call = call(&asha, "Wants a **kundan set** for her daughter's sangeet");
    let follow = FollowUp {
        id: new_id(),
        lead_id: ravi.id,
        assigned_to: me.id,
        due_at: now() + Duration::hours(2),
        note: Some("call after 6pm".into()),
        call_log_id: None,
        completed_at: None,
        created_at: now(),
    };
    // The call log arrives before its lead within the page: allowed.
    let p = page(
        vec![
            Change::CallLog(asha_call.clone()),
            Change::Lead(asha.clone()),
            Change::Lead(ravi.clone()),
            Change::FollowUp(follow.clone()),
        ],
        "cursor-1",
    );
    let report = store.apply_pull_page(&p).unwrap();
    assert_eq!(report.leads_upserted, 2);
    assert_eq!(report.call_logs_added, 1);
    assert!(
        report.leads_assigned.is_empty(),
        "a first sync is the book, not news"
    );
    assert_eq!(store.sync_state().unwrap().cursor, Cursor("cursor-1".into()));

    // Applying the same page again changes nothing.
    let again = store.apply_pull_page(&p).unwrap();
    assert_eq!(again.call_logs_added, 0);
    assert!(again.leads_assigned.is_empty());
    assert_eq!(store.count_leads().unwrap(), 2);
    assert_eq!(store.count_call_logs().unwrap(), 1);

    let names = |q: LeadQuery| -> Vec<String> {
        store
            .list_leads(&q)
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect()
    };
    let search = |s: &str| LeadQuery {
        search: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(names(search("asha")), ["Asha Kulkarni"]);
    assert_eq!(names(search("kulk")), ["Asha Kulkarni"]);
    assert_eq!(names(search("98765")), ["Asha Kulkarni"]);
    assert_eq!(names(search("+91 98765 43210")), ["Asha Kulkarni"]);
    assert_eq!(names(search("098765")), ["Asha Kulkarni"]);
    assert_eq!(names(search("98450")), ["Ravi Pillai"]);
    assert_eq!(names(search("kundan")), ["Asha Kulkarni"]);
    assert!(names(search("emerald")).is_empty());
    assert!(
        names(search("\"unbalanced OR (")).is_empty(),
        "FTS syntax in input is inert"
    );
    assert_eq!(
        names(LeadQuery {
            status: Some(LeadStatus::New),
            ..Default::default()
        }),
        ["Ravi Pillai"]
    );
    assert_eq!(
        store
            .list_leads(&LeadQuery {
                limit: Some(1),
                ..Default::default()
            })
            .unwrap()
            .len(),
        1
    );

    let open = store.open_follow_ups().unwrap();
    assert_eq!(open, vec![follow]);
    assert_eq!(store.call_logs_for_lead(&asha.id).unwrap(), vec![asha_call]);
    let dispositions = store.status_counts().unwrap();
    assert_eq!(dispositions.len(), 2);
}

#[test]
fn logging_a_call_writes_the_call_and_its_outbox_row_together() {
    let (mut store, me, asha) = with_priya_and_asha(Store::open_in_memory().unwrap());

    let c = call(&asha, "asked for gold coin rates");
    let m = store.log_call(&c).unwrap();
    assert_eq!(m.op, MutationOp::CreateCallLog(c.clone()));
    let pending = store.outbox_pending(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].mutation, m);
    assert_eq!(store.pending_count().unwrap().pending, 1);
    assert_eq!(store.call_logs_for_lead(&asha.id).unwrap(), vec![c.clone()]);
    // Notes are searchable at once.
    let found = store
        .list_leads(&LeadQuery {
            search: Some("coin".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);

    // The same call twice: refused, nothing queued again.
    assert!(matches!(store.log_call(&c), Err(StoreError::Invalid(_))));
    assert_eq!(outbox_rows(&store), 1);

    // A call on a lead the cache does not have: refused, and neither row is written.
    let stranger = lead("Unknown", "+919845099999", &me, LeadStatus::New);
    let orphan = call(&stranger, "");
    assert!(matches!(store.log_call(&orphan), Err(StoreError::NotFound(_))));
    assert_eq!(outbox_rows(&store), 1);
    assert_eq!(store.count_call_logs().unwrap(), 1);
}

#[test]
fn editing_a_lead_queues_the_patch_with_its_base_version() {
    let mut store = Store::open_in_memory().unwrap();
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let mut asha = lead("Asha Kulkarni", "+919876543210", &me, LeadStatus::New);
    asha.version = 7;
    store
        .apply_pull_page(&page(vec![Change::Lead(asha.clone())], "c1"))
        .unwrap();
    let patch = LeadPatch {
        status: Some(LeadStatus::VisitScheduled),
        ..Default::default()
    };
    let m = store.update_lead(&asha.id, &patch).unwrap();
    assert_eq!(
        m.op,
        MutationOp::UpdateLead {
            lead_id: asha.id,
            base_version: 7,
            patch
        }
    );
    let stored = store.get_lead(&asha.id).unwrap();
    assert_eq!(stored.status, LeadStatus::VisitScheduled);
    assert_eq!(
        stored.version, 7,
        "the version only moves when the server says so"
    );
    assert_eq!(outbox_rows(&store), 1);
    let missing = store.update_lead(&new_id(), &LeadPatch::default());
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
    assert_eq!(outbox_rows(&store), 1);
}

#[test]
fn a_lead_taken_away_keeps_unsent_call_logs_but_leaves_the_list() {
    let mut store = Store::open_in_memory().unwrap();
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let kept = lead("Asha Kulkarni", "+919876543210", &me, LeadStatus::New);
    let gone = lead("Ravi Pillai", "+919845012345", &me, LeadStatus::New);
    let synced_call = call(&gone, "synced");
    store
        .apply_pull_page(&page(
            vec![
                Change::Lead(kept.clone()),
                Change::Lead(gone.clone()),
                Change::CallLog(synced_call),
            ],
            "c1",
        ))
        .unwrap();
    let unsent = call(&kept, "logged offline");
    store.log_call(&unsent).unwrap();

    store
        .apply_pull_page(&page(
            vec![
                Change::LeadRemoved {
                    lead_id: kept.id,
                    erased_at: None,
                },
                Change::LeadRemoved {
                    lead_id: gone.id,
                    erased_at: None,
                },
            ],
            "c2",
        ))
        .unwrap();
    assert_eq!(store.count_leads().unwrap(), 0);
    assert!(
        store
            .list_leads(&LeadQuery {
                search: Some("asha".into()),
                ..Default::default()
            })
            .unwrap()
            .is_empty()
    );
    // The unsent call log and its lead row survive for the push; the synced lead is gone entirely.
    assert_eq!(store.call_logs_for_lead(&kept.id).unwrap(), vec![unsent]);
    assert!(matches!(store.get_lead(&gone.id), Err(StoreError::NotFound(_))));
    assert_eq!(outbox_rows(&store), 1);
}

#[test]
fn an_erased_lead_leaves_no_personal_data_in_the_cache_even_unsent() {
    let mut store = Store::open_in_memory().unwrap();
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let asha = lead("Asha Kulkarni", "+919876543210", &me, LeadStatus::New);
    let other = lead("Ravi Pillai", "+919845012345", &me, LeadStatus::New);
    store
        .apply_pull_page(&page(
            vec![
                Change::Lead(asha.clone()),
                Change::Lead(other.clone()),
                Change::CallLog(call(&asha, "asked about the gold necklace")),
            ],
            "c1",
        ))
        .unwrap();
    // Offline work on her: a call logged with notes and an edit, neither sent yet.
    store.log_call(&call(&asha, "wants a visit on Sunday")).unwrap();
    store
        .update_lead(
            &asha.id,
            &LeadPatch {
                status: Some(LeadStatus::VisitScheduled),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(outbox_rows(&store), 2);

    let erased = Change::LeadRemoved {
        lead_id: asha.id,
        erased_at: Some(now()),
    };
    store.apply_pull_page(&page(vec![erased.clone()], "c2")).unwrap();

    assert!(matches!(store.get_lead(&asha.id), Err(StoreError::NotFound(_))));
    assert!(store.call_logs_for_lead(&asha.id).unwrap().is_empty());
    for search in ["asha", "kulkarni", "9876543210", "necklace", "sunday"] {
        let found = store
            .list_leads(&LeadQuery {
                search: Some(search.into()),
                ..Default::default()
            })
            .unwrap();
        assert!(found.is_empty(), "{search:?} still finds {found:?}");
    }
    // Only the unsent call log stays queued (its time and outcome), without its notes; the edit is gone.
    let left = store.outbox_pending(100).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    let text = serde_json::to_string(&left[0].mutation).unwrap();
    for pii in ["Sunday", "Asha", "9876543210", "necklace"] {
        assert!(!text.contains(pii), "{pii:?} left in the outbox: {text}");
    }
    // The other lead is untouched, and a second erasure of the same lead changes nothing.
    assert_eq!(store.get_lead(&other.id).unwrap().name, "Ravi Pillai");
    store.apply_pull_page(&page(vec![erased], "c3")).unwrap();
    assert_eq!(store.count_leads().unwrap(), 1);
    assert_eq!(outbox_rows(&store), 1);
}

#[test]
fn signing_in_as_someone_else_empties_the_cache_unless_changes_are_unsent() {
    let mut store = Store::open_in_memory().unwrap();
    let priya = user("priya");
    let arjun = user("arjun");
    store.set_account("http://server", &priya).unwrap();
    let asha = lead("Asha Kulkarni", "+919876543210", &priya, LeadStatus::New);
    store
        .apply_pull_page(&page(vec![Change::Lead(asha.clone())], "c1"))
        .unwrap();
    store.log_call(&call(&asha, "")).unwrap();

    let err = store.set_account("http://server", &arjun).unwrap_err();
    assert!(err.to_string().contains("not synced"), "{err}");
    assert_eq!(store.sync_state().unwrap().user.unwrap().id, priya.id);

    // Same account again: nothing is lost.
    store.set_account("http://server", &priya).unwrap();
    assert_eq!(store.count_leads().unwrap(), 1);
    assert_eq!(store.sync_state().unwrap().cursor, Cursor("c1".into()));

    let mut fresh = Store::open_in_memory().unwrap();
    fresh.set_account("http://server", &priya).unwrap();
    fresh
        .apply_pull_page(&page(vec![Change::Lead(asha)], "c1"))
        .unwrap();
    fresh.set_account("http://server", &arjun).unwrap();
    assert_eq!(fresh.count_leads().unwrap(), 0);
    assert!(fresh.sync_state().unwrap().cursor.is_start());
}

#[test]
fn the_device_id_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite3");
    let id = Store::open(&path, &key()).unwrap().device_id().unwrap();
    assert_eq!(Store::open(&path, &key()).unwrap().device_id().unwrap(), id);
}

/// Pages of a first sync: `n` leads of `me`, one call each, and a follow-up on the first.
/// A time after now on the same Indian calendar day, whatever the hour the test runs at: halfway
/// between now and the coming midnight in IST (UTC+5:30).
fn later_today_in_india() -> Timestamp {
    let now = now();
    let ist = chrono::FixedOffset::east_opt(330 * 60).unwrap();
    let midnight = (now.with_timezone(&ist).date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(ist)
        .unwrap()
        .with_timezone(&Utc);
    now + (midnight - now) / 2
}

fn first_sync_pages(me: &User, n: usize) -> (Vec<Lead>, PullPage) {
    let leads: Vec<Lead> = (0..n)
        .map(|i| lead(&format!("Lead {i}"), &format!("98200{i:05}"), me, LeadStatus::New))
        .collect();
    let mut changes: Vec<Change> = leads.iter().cloned().map(Change::Lead).collect();
    changes.extend(
        leads
            .iter()
            .map(|l| Change::CallLog(call(l, "asked about earrings"))),
    );
    changes.push(Change::FollowUp(FollowUp {
        id: new_id(),
        lead_id: leads[0].id,
        assigned_to: me.id,
        due_at: later_today_in_india(),
        note: Some("call back".into()),
        call_log_id: None,
        completed_at: None,
        created_at: now(),
    }));
    (leads, page(changes, "c1"))
}

fn uses_an_index(store: &Store) -> String {
    let plan = store
        .explain_lead_page(&LeadPageQuery::default(), &Clock::new(now(), 330))
        .unwrap()
        .join("\n");
    assert!(plan.contains("USING INDEX leads_by_updated"), "{plan}");
    plan
}

#[test]
fn a_first_sync_loads_without_list_indexes_and_every_list_works_meanwhile() {
    let me = user("priya");
    let mut store = Store::open_in_memory().unwrap();
    store.set_account("http://server", &me).unwrap();
    uses_an_index(&store);
    assert!(store.defer_list_indexes().unwrap());
    let deferred = store.deferred_indexes().unwrap();
    assert!(deferred.contains(&"leads_sort_name".to_owned()), "{deferred:?}");
    assert!(
        deferred.contains(&"call_logs_by_caller".to_owned()),
        "{deferred:?}"
    );
    // The lookups a pull makes keep their indexes.
    assert!(
        !deferred.contains(&"call_logs_history".to_owned()),
        "{deferred:?}"
    );

    let (leads, first) = first_sync_pages(&me, 30);
    store.apply_pull_page(&first).unwrap();
    // Every query that names an index in the normal case still answers, by scanning.
    let clock = Clock::new(now(), 330);
    let listed = store.list_lead_page(&LeadPageQuery::default(), &clock).unwrap();
    assert_eq!(listed.leads.len(), leads.len());
    let by_name = store
        .list_lead_page(
            &LeadPageQuery {
                sort: LeadOrder {
                    key: LeadOrderKey::Name,
                    descending: false,
                },
                filter: LeadFilter {
                    statuses: vec![LeadStatus::New],
                    ..LeadFilter::default()
                },
                ..LeadPageQuery::default()
            },
            &clock,
        )
        .unwrap();
    assert_eq!(by_name.leads[0].name, "Lead 0");
    let queue = store.next_leads(&QueueQuery::default(), &clock).unwrap();
    assert_eq!(queue.entries[0].lead.id, leads[0].id, "the follow-up comes first");
    let figures = store.today_figures(&FiguresQuery::default(), &clock).unwrap();
    assert_eq!(figures.follow_ups_due_today, 1);
    let counts = store
        .lead_status_counts(
            &LeadFilter {
                priorities: vec![LeadPriority::Hot],
                ..LeadFilter::default()
            },
            &clock,
        )
        .unwrap();
    let new = counts.iter().find(|c| c.status == LeadStatus::New).unwrap();
    assert_eq!(new.count, leads.len() as u64);

    // The end of the load builds exactly what it dropped; a second load into a full cache drops nothing.
    assert_eq!(store.restore_list_indexes().unwrap(), deferred.len());
    assert!(store.deferred_indexes().unwrap().is_empty());
    uses_an_index(&store);
    assert!(!store.defer_list_indexes().unwrap());
    assert_eq!(store.restore_list_indexes().unwrap(), 0);
}

#[test]
fn a_first_sync_cut_short_gets_its_indexes_back_when_the_cache_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let me = user("priya");
    let (leads, first) = {
        let mut store = Store::open(&path, &key()).unwrap();
        store.set_account("http://server", &me).unwrap();
        assert!(store.defer_list_indexes().unwrap());
        let (leads, first) = first_sync_pages(&me, 10);
        store.apply_pull_page(&first).unwrap();
        (leads, first)
        // Dropped without `restore_list_indexes`: the process died mid-sync.
    };
    let store = Store::open(&path, &key()).unwrap();
    assert!(store.deferred_indexes().unwrap().is_empty());
    uses_an_index(&store);
    assert_eq!(store.count_leads().unwrap(), leads.len() as u64);
    assert_eq!(store.sync_state().unwrap().cursor, first.next_cursor);
}

#[test]
fn a_push_attempt_is_counted_with_its_outcome_and_picking_a_batch_changes_nothing() {
    let (mut store, _, asha) = with_priya_and_asha(Store::open_in_memory().unwrap());
    let m = store.log_call(&call(&asha, "wants a quote")).unwrap();
    let attempts = |store: &Store| store.outbox_pending(10).unwrap()[0].attempts;

    let batch = store.next_push_batch(500, 1 << 20).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(attempts(&store), 0, "picking is not an attempt");
    store.note_push_failure(&batch, "connection reset").unwrap();
    let row = &store.outbox_pending(10).unwrap()[0];
    assert_eq!(
        (row.attempts, row.last_error.as_deref()),
        (1, Some("connection reset"))
    );

    // An answer that leaves the change out: still pending, one more attempt.
    let batch = store.next_push_batch(500, 1 << 20).unwrap();
    let outcome = store.apply_push_results(&batch, &[]).unwrap();
    assert_eq!(outcome.unanswered, 1);
    assert_eq!(attempts(&store), 2);

    let batch = store.next_push_batch(500, 1 << 20).unwrap();
    let answer = leadline_model::sync::MutationResult {
        client_mutation_id: m.client_mutation_id,
        status: leadline_model::sync::MutationStatus::Applied,
    };
    assert_eq!(store.apply_push_results(&batch, &[answer]).unwrap().confirmed, 1);
    assert_eq!(outbox_rows(&store), 0);
}

#[test]
fn a_first_sync_is_not_news_but_a_lead_assigned_after_it_is() {
    let mut store = Store::open_in_memory().unwrap();
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let book: Vec<Lead> = (0..4)
        .map(|i| {
            lead(
                &format!("Lead {i}"),
                &format!("98200{i:05}"),
                &me,
                LeadStatus::New,
            )
        })
        .collect();
    let mut first = page(book[..2].iter().cloned().map(Change::Lead).collect(), "c1");
    first.has_more = true;
    let rest = page(book[2..].iter().cloned().map(Change::Lead).collect(), "c2");
    assert!(store.apply_pull_page(&first).unwrap().leads_assigned.is_empty());
    assert!(store.apply_pull_page(&rest).unwrap().leads_assigned.is_empty());

    let fresh = lead("Meena Iyer", "+919820055555", &me, LeadStatus::New);
    let theirs = lead("Someone Else's", "+919820066666", &user("ravi"), LeadStatus::New);
    let report = store
        .apply_pull_page(&page(
            vec![Change::Lead(fresh.clone()), Change::Lead(theirs)],
            "c3",
        ))
        .unwrap();
    assert_eq!(report.leads_assigned, vec![fresh.id]);
    // Seen before: an update is not a new assignment.
    let mut again = fresh.clone();
    again.version += 1;
    let report = store
        .apply_pull_page(&page(vec![Change::Lead(again)], "c4"))
        .unwrap();
    assert!(report.leads_assigned.is_empty());
}

#[test]
fn a_drafted_call_is_logged_with_its_times_and_provider_id_and_queued_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, me, asha) =
        with_priya_and_asha(Store::open(&dir.path().join("cache.sqlite3"), &key()).unwrap());

    let t0 = now() - Duration::minutes(3);
    let mut draft = CallDraft::new(CallDirection::Outbound, asha.phone.as_str(), t0);
    draft.lead_id = Some(asha.id);
    store.begin_call(&draft).unwrap();
    store.call_provider_id(&draft.id, "exo-sid-1").unwrap();
    store.call_answered(&draft.id, t0 + Duration::seconds(7)).unwrap();
    store.call_alive(&draft.id, t0 + Duration::seconds(60)).unwrap();
    // Logging a call that is still going is refused, and the draft stays.
    let wrap = WrapUp {
        disposition: "interested".into(),
        notes: "Wants the kundan set".into(),
        follow_up: Some(FollowUpSpec {
            due_at: t0 + Duration::days(1),
            note: None,
        }),
        ..Default::default()
    };
    assert!(matches!(
        store.log_drafted_call(&draft.id, &wrap),
        Err(StoreError::Invalid(_))
    ));
    store
        .end_call(&draft.id, t0 + Duration::seconds(97), CallEnd::HungUpThere)
        .unwrap();
    // A second end (both sides hanging up at once) keeps the first.
    store
        .end_call(&draft.id, t0 + Duration::seconds(99), CallEnd::HungUpHere)
        .unwrap();
    let ended = store.call_draft(&draft.id).unwrap().unwrap();
    assert_eq!(ended.end_reason, Some(CallEnd::HungUpThere));
    assert_eq!(ended.talk_seconds(), 90);
    assert!(store.call_alive(&draft.id, t0 + Duration::seconds(120)).is_err());
    assert_eq!(store.unlogged_calls().unwrap(), vec![ended]);
    assert_eq!(store.count_unlogged_calls().unwrap(), 1);

    let before = outbox_rows(&store);
    let logged = store.log_drafted_call(&draft.id, &wrap).unwrap();
    assert_eq!(logged.id, draft.id);
    assert_eq!(logged.lead_id, asha.id);
    assert_eq!(logged.telecaller_id, me.id);
    assert_eq!(logged.started_at, t0);
    assert_eq!(logged.answered_at, Some(t0 + Duration::seconds(7)));
    assert_eq!(logged.ended_at, Some(t0 + Duration::seconds(97)));
    assert_eq!(logged.duration_s, 90);
    assert_eq!(logged.provider_call_id.as_deref(), Some("exo-sid-1"));
    assert_eq!(outbox_rows(&store), before + 1, "queued once");
    assert!(store.unlogged_calls().unwrap().is_empty());
    assert_eq!(store.count_unlogged_calls().unwrap(), 0);
    // The draft is gone: logging it again is refused, nothing doubles.
    assert!(matches!(
        store.log_drafted_call(&draft.id, &wrap),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(outbox_rows(&store), before + 1);
}

#[test]
fn a_call_cut_short_by_a_crash_is_ended_at_its_last_heartbeat_and_still_logged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let (store, _, asha) = with_priya_and_asha(Store::open(&path, &key()).unwrap());
    let t0 = now() - Duration::minutes(10);
    let (answered, unanswered) = {
        let mut store = store;
        let mut a = CallDraft::new(CallDirection::Outbound, asha.phone.as_str(), t0);
        a.lead_id = Some(asha.id);
        store.begin_call(&a).unwrap();
        store.call_answered(&a.id, t0 + Duration::seconds(5)).unwrap();
        store.call_alive(&a.id, t0 + Duration::seconds(45)).unwrap();
        // An incoming call from an unknown number, ringing when the power went.
        let b = CallDraft::new(
            CallDirection::Inbound,
            "+919800000001",
            t0 + Duration::seconds(50),
        );
        store.begin_call(&b).unwrap();
        (a, b)
        // Dropped without ending either: the process died mid-call.
    };
    let mut store = Store::open(&path, &key()).unwrap();
    let recovered = store.recover_interrupted_calls().unwrap();
    assert_eq!(
        recovered.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![answered.id, unanswered.id]
    );
    for d in &recovered {
        assert_eq!(d.end_reason, Some(CallEnd::Interrupted));
        assert_eq!(d.ended_at, Some(d.last_seen_at));
    }
    assert_eq!(recovered[0].talk_seconds(), 40);
    assert_eq!(recovered[1].talk_seconds(), 0);
    assert!(store.recover_interrupted_calls().unwrap().is_empty(), "once");

    // The unknown caller needs a lead before it can be logged; then both log.
    let wrap = WrapUp {
        disposition: "call_back".into(),
        ..Default::default()
    };
    assert!(matches!(
        store.log_drafted_call(&unanswered.id, &wrap),
        Err(StoreError::Invalid(_))
    ));
    let first = store.log_drafted_call(&answered.id, &wrap).unwrap();
    assert_eq!(first.duration_s, 40);
    let second = store
        .log_drafted_call(
            &unanswered.id,
            &WrapUp {
                lead_id: Some(asha.id),
                ..wrap.clone()
            },
        )
        .unwrap();
    assert_eq!((second.answered_at, second.duration_s), (None, 0));
    assert!(store.unlogged_calls().unwrap().is_empty());
}

#[test]
fn a_click_to_call_is_drafted_under_the_servers_ids_and_logged_without_the_times_the_provider_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, me, asha) =
        with_priya_and_asha(Store::open(&dir.path().join("cache.sqlite3"), &key()).unwrap());
    let device = store.device_id().unwrap();
    let t0 = now() - Duration::minutes(2);
    let call_log_id = new_id();

    // A lead the cache does not have cannot be drafted (check before asking the server to call).
    assert!(matches!(
        store.begin_click_to_call(new_id(), new_id(), "sid-x", t0),
        Err(StoreError::NotFound(_))
    ));
    // A click-to-call draft needs its lead and provider call id.
    let mut bare = CallDraft::click_to_call(new_id(), asha.id, asha.phone.as_str(), "", t0);
    assert!(matches!(store.begin_call(&bare), Err(StoreError::Invalid(_))));
    bare.provider_call_id = Some("sid-y".into());
    bare.lead_id = None;
    assert!(matches!(store.begin_call(&bare), Err(StoreError::Invalid(_))));

    let draft = store
        .begin_click_to_call(call_log_id, asha.id, "exo-c2c-1", t0)
        .unwrap();
    assert_eq!(draft.id, call_log_id);
    assert_eq!(draft.lead_id, Some(asha.id));
    assert_eq!(draft.direction, CallDirection::Outbound);
    assert_eq!(draft.remote, asha.phone.as_str());
    assert_eq!(draft.provider_call_id.as_deref(), Some("exo-c2c-1"));
    assert_eq!(draft.via, CallVia::ClickToCall);
    assert_eq!(draft.device_id.as_deref(), Some(device.as_str()));
    assert_eq!(store.call_draft(&call_log_id).unwrap(), Some(draft.clone()));
    // The same call again is the same draft; the id under another call is refused.
    assert_eq!(
        store
            .begin_click_to_call(call_log_id, asha.id, "exo-c2c-1", t0)
            .unwrap(),
        draft
    );
    assert!(matches!(
        store.begin_click_to_call(call_log_id, asha.id, "exo-c2c-2", t0),
        Err(StoreError::Invalid(_))
    ));
    let mut same_id = CallDraft::new(CallDirection::Outbound, "+919800000001", t0);
    same_id.id = call_log_id;
    assert!(matches!(store.begin_call(&same_id), Err(StoreError::Invalid(_))));
    // A restart does not end it: the provider carries the call, not this process.
    assert!(store.recover_interrupted_calls().unwrap().is_empty());
    assert_eq!(store.unlogged_calls().unwrap(), vec![draft.clone()]);

    // The wrap-up logs it on its own lead only, open or ended here.
    let wrap = WrapUp {
        disposition: "interested".into(),
        notes: "Will visit the Bandra showroom".into(),
        follow_up: Some(FollowUpSpec {
            due_at: t0 + Duration::days(2),
            note: Some("bring the catalogue".into()),
        }),
        ..Default::default()
    };
    assert!(matches!(
        store.log_drafted_call(
            &call_log_id,
            &WrapUp {
                lead_id: Some(new_id()),
                ..wrap.clone()
            }
        ),
        Err(StoreError::Invalid(_))
    ));
    store
        .end_call(&call_log_id, t0 + Duration::seconds(80), CallEnd::HungUpHere)
        .unwrap();
    let before = outbox_rows(&store);
    let logged = store.log_drafted_call(&call_log_id, &wrap).unwrap();
    assert_eq!(logged.id, call_log_id);
    assert_eq!(logged.lead_id, asha.id);
    assert_eq!(logged.telecaller_id, me.id);
    assert_eq!(logged.direction, CallDirection::Outbound);
    assert_eq!(logged.started_at, t0);
    assert_eq!(
        (logged.answered_at, logged.ended_at, logged.duration_s),
        (None, None, 0)
    );
    assert_eq!(logged.provider_call_id.as_deref(), Some("exo-c2c-1"));
    assert_eq!(logged.device_id.as_deref(), Some(device.as_str()));
    assert_eq!(logged.notes, wrap.notes);
    assert_eq!(outbox_rows(&store), before + 1, "queued once");
    let queued = store.outbox_pending(10_000).unwrap();
    assert!(
        queued
            .iter()
            .any(|e| e.mutation.op == MutationOp::CreateCallLog(logged.clone()))
    );
    assert!(store.unlogged_calls().unwrap().is_empty());

    // The server's copy, with the provider's report merged, fills what the cached log lacks; the
    // wrap-up stays, and a second copy is not a new call.
    let end = t0 + Duration::seconds(70);
    let merged = CallLog {
        answered_at: Some(end - Duration::seconds(42)),
        ended_at: Some(end),
        duration_s: 42,
        recording_url: Some("https://rec.example/exo-c2c-1.mp3".into()),
        notes: "(the server's copy of the notes)".into(),
        ..logged.clone()
    };
    let report = store
        .apply_pull_page(&page(vec![Change::CallLog(merged.clone())], "c2"))
        .unwrap();
    assert_eq!(report.call_logs_added, 0);
    let cached = store.call_logs_for_lead(&asha.id).unwrap();
    assert_eq!(cached.len(), 1);
    assert_eq!(
        cached[0],
        CallLog {
            notes: wrap.notes.clone(),
            ..merged.clone()
        }
    );
    // Filling never overwrites: a later copy with other facts changes nothing.
    let other = CallLog {
        duration_s: 7,
        recording_url: Some("https://elsewhere/x.mp3".into()),
        ..merged
    };
    store
        .apply_pull_page(&page(vec![Change::CallLog(other.clone())], "c3"))
        .unwrap();
    assert_eq!(store.call_logs_for_lead(&asha.id).unwrap(), cached);
    // Retention purged the recording on the server: its next copy has none, and the cache drops the
    // reference (the other facts stay).
    let purged = CallLog {
        recording_url: None,
        ..other
    };
    store
        .apply_pull_page(&page(vec![Change::CallLog(purged)], "c4"))
        .unwrap();
    assert_eq!(
        store.call_logs_for_lead(&asha.id).unwrap(),
        vec![CallLog {
            recording_url: None,
            ..cached[0].clone()
        }]
    );
}

fn quality(mos: f64) -> CallQuality {
    CallQuality {
        rtt_ms: Some(142.5),
        codec: Some("opus".into()),
        remote_loss: Some(0.02),
        remote_jitter_ms: Some(6.0),
        ..CallQuality::new(mos, 4.75, 0.0125)
    }
}

#[test]
fn a_drafted_calls_quality_figures_go_into_its_log_and_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let (mut store, _, asha) = with_priya_and_asha(Store::open(&path, &key()).unwrap());
    let t0 = now() - Duration::minutes(3);
    let mut draft = CallDraft::new(CallDirection::Outbound, asha.phone.as_str(), t0);
    draft.lead_id = Some(asha.id);
    store.begin_call(&draft).unwrap();
    assert_eq!(store.call_draft(&draft.id).unwrap().unwrap().quality, None);
    store.call_answered(&draft.id, t0 + Duration::seconds(5)).unwrap();

    // During the call, figures so far; at its end, the final ones replace them (even after the end).
    store
        .call_quality(&draft.id, &CallQuality::new(3.1, 20.0, 0.05))
        .unwrap();
    assert_eq!(
        store.call_draft(&draft.id).unwrap().unwrap().quality,
        Some(CallQuality::new(3.1, 20.0, 0.05))
    );
    store
        .end_call(&draft.id, t0 + Duration::seconds(65), CallEnd::HungUpHere)
        .unwrap();
    store.call_quality(&draft.id, &quality(4.31)).unwrap();
    // Implausible figures are refused and the draft keeps what it had; an unknown call is not found.
    for bad in [
        CallQuality::new(0.5, 1.0, 0.0),
        CallQuality::new(4.0, 1.0, 1.5),
        CallQuality::new(4.0, -3.0, 0.0),
        CallQuality::new(f64::NAN, 1.0, 0.0),
        CallQuality {
            rtt_ms: Some(f64::INFINITY),
            ..quality(4.0)
        },
    ] {
        assert!(
            matches!(store.call_quality(&draft.id, &bad), Err(StoreError::Invalid(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        store.call_quality(&new_id(), &quality(4.0)),
        Err(StoreError::NotFound(_))
    ));
    // A draft begun with bad figures is refused too.
    let mut bad_draft = CallDraft::new(CallDirection::Inbound, "+919800000001", t0);
    bad_draft.quality = Some(CallQuality::new(9.0, 0.0, 0.0));
    assert!(matches!(
        store.begin_call(&bad_draft),
        Err(StoreError::Invalid(_))
    ));
    drop(store);

    // The figures are in the file.
    let mut store = Store::open(&path, &key()).unwrap();
    assert_eq!(
        store.call_draft(&draft.id).unwrap().unwrap().quality,
        Some(quality(4.31))
    );
    let wrap = WrapUp {
        disposition: "interested".into(),
        ..Default::default()
    };
    let logged = store.log_drafted_call(&draft.id, &wrap).unwrap();
    assert_eq!(logged.quality, Some(quality(4.31)));
    assert_eq!(store.call_logs_for_lead(&asha.id).unwrap(), vec![logged.clone()]);
    let history = store
        .call_history(&leadline_store::CallHistoryQuery::new(asha.id))
        .unwrap();
    assert_eq!(history.calls, vec![logged.clone()]);
    let queued = store.outbox_pending(10_000).unwrap();
    let op = queued
        .iter()
        .find_map(|e| match &e.mutation.op {
            MutationOp::CreateCallLog(c) if c.id == logged.id => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(op.quality, Some(quality(4.31)));
    // Also on the wire, as JSON the server reads.
    let json = serde_json::to_value(&queued[queued.len() - 1].mutation).unwrap();
    assert_eq!(json["data"]["quality"]["mos"], 4.31);
    assert_eq!(json["data"]["quality"]["codec"], "opus");

    // A log with bad figures is refused whole: nothing recorded, nothing queued.
    let before = outbox_rows(&store);
    let mut bad = call(&asha, "bad figures");
    bad.quality = Some(CallQuality::new(4.0, 1.0, -0.5));
    assert!(matches!(store.log_call(&bad), Err(StoreError::Invalid(_))));
    assert_eq!(outbox_rows(&store), before);
    assert_eq!(store.call_logs_for_lead(&asha.id).unwrap().len(), 1);
}

#[test]
fn pulled_call_logs_bring_their_quality_and_fill_a_copy_without_it() {
    let (mut store, _, asha) = with_priya_and_asha(Store::open_in_memory().unwrap());
    // Another device's call, with figures, and an old-style one without.
    let mut theirs = call(&asha, "from the other desk");
    theirs.quality = Some(quality(3.9));
    let old_style = call(&asha, "an older client's log");
    // A log of this device without figures (logged before they were known).
    let mine = call(&asha, "mine");
    store.log_call(&mine).unwrap();
    let report = store
        .apply_pull_page(&page(
            vec![
                Change::CallLog(theirs.clone()),
                Change::CallLog(old_style.clone()),
                Change::CallLog(CallLog {
                    quality: Some(quality(4.2)),
                    ..mine.clone()
                }),
            ],
            "c2",
        ))
        .unwrap();
    assert_eq!(report.call_logs_added, 2);
    let cached = store.call_logs_for_lead(&asha.id).unwrap();
    let by_id = |id: Id| cached.iter().find(|c| c.id == id).unwrap().clone();
    assert_eq!(by_id(theirs.id), theirs);
    assert_eq!(by_id(old_style.id).quality, None);
    assert_eq!(
        by_id(mine.id).quality,
        Some(quality(4.2)),
        "filled: the copy lacked them"
    );
    // Fill-only: figures the cache has are never replaced.
    store
        .apply_pull_page(&page(
            vec![Change::CallLog(CallLog {
                quality: Some(quality(1.5)),
                ..theirs.clone()
            })],
            "c3",
        ))
        .unwrap();
    assert_eq!(
        store
            .call_logs_for_lead(&asha.id)
            .unwrap()
            .into_iter()
            .find(|c| c.id == theirs.id)
            .unwrap()
            .quality,
        Some(quality(3.9))
    );
}

#[test]
fn a_callers_number_finds_the_lead_by_main_or_alternate_number_but_not_a_removed_one() {
    let mut store = Store::open_in_memory().unwrap();
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let asha = lead("Asha Kulkarni", "+919876543210", &me, LeadStatus::New);
    let mut ravi = lead("Ravi Pillai", "+919845012345", &me, LeadStatus::Contacted);
    ravi.alternate_phone = Some(PhoneNumber::parse("+918022334455").unwrap());
    let gone = lead("Gone Away", "+919900011122", &me, LeadStatus::New);
    store
        .apply_pull_page(&page(
            vec![
                Change::Lead(asha.clone()),
                Change::Lead(ravi.clone()),
                Change::Lead(gone.clone()),
            ],
            "c1",
        ))
        .unwrap();
    store
        .apply_pull_page(&page(
            vec![Change::LeadRemoved {
                lead_id: gone.id,
                erased_at: None,
            }],
            "c2",
        ))
        .unwrap();
    let find = |n: &str| {
        store
            .lead_by_phone(&PhoneNumber::parse(n).unwrap())
            .unwrap()
            .map(|l| l.name)
    };
    assert_eq!(find("098765 43210").as_deref(), Some("Asha Kulkarni"));
    assert_eq!(
        find("+91 80 2233 4455").as_deref(),
        Some("Ravi Pillai"),
        "by the alternate number"
    );
    assert_eq!(find("+919900011122"), None, "a lead that left the list");
    assert_eq!(find("+919811100001"), None);
}

#[test]
fn phone_settings_are_kept_after_a_check_and_survive_a_new_sign_in() {
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.phone_settings().unwrap(), PhoneSettings::default());
    let settings = PhoneSettings {
        enabled: true,
        domain: "acme.voip.exotel.com".into(),
        username: "agent7".into(),
        input_device: Some("alsa:plughw:CARD=Headset,DEV=0".into()),
        ..PhoneSettings::default()
    };
    store.set_phone_settings(&settings).unwrap();
    let bad = PhoneSettings {
        ws_url: "http://nope".into(),
        ..settings.clone()
    };
    assert!(matches!(
        store.set_phone_settings(&bad),
        Err(leadline_store::StoreError::Invalid(_))
    ));
    assert_eq!(
        store.phone_settings().unwrap(),
        settings,
        "a refused value changes nothing"
    );
    assert_eq!(store.preferences().unwrap(), DeskPreferences::default());
    let prefs = DeskPreferences {
        theme: Theme::Dark,
        start_minimised: true,
        language: Language::Hi,
        screen: DeskScreen::Leads,
        wrap_up_limit_s: 300,
    };
    store.set_preferences(&prefs).unwrap();
    store.set_account("http://server", &user("priya")).unwrap();
    store.set_account("http://server", &user("arjun")).unwrap();
    assert_eq!(
        store.phone_settings().unwrap(),
        settings,
        "the desk's, not the account's"
    );
    assert_eq!(store.preferences().unwrap(), prefs, "the desk's too");
}

#[test]
fn the_wrap_up_form_is_checked_against_the_catalogue_before_the_call_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _me, asha) =
        with_priya_and_asha(Store::open(&dir.path().join("cache.sqlite3"), &key()).unwrap());
    let t0 = now() - Duration::minutes(3);
    let mut draft = CallDraft::new(CallDirection::Outbound, asha.phone.as_str(), t0);
    draft.lead_id = Some(asha.id);
    store.begin_call(&draft).unwrap();
    store.call_answered(&draft.id, t0 + Duration::seconds(5)).unwrap();
    store
        .end_call(&draft.id, t0 + Duration::seconds(40), CallEnd::HungUpHere)
        .unwrap();
    let refused = |store: &mut Store, wrap: WrapUp| match store.wrap_up_call(&draft.id, &wrap) {
        Err(StoreError::Invalid(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let before = outbox_rows(&store);
    let why = refused(
        &mut store,
        WrapUp {
            disposition: "teleported".into(),
            ..Default::default()
        },
    );
    assert!(
        why.contains("unknown disposition") && why.contains("interested"),
        "{why}"
    );
    // "Interested" needs a follow-up (the catalogue says so).
    let why = refused(
        &mut store,
        WrapUp {
            disposition: "interested".into(),
            ..Default::default()
        },
    );
    assert!(why.contains("needs a follow-up"), "{why}");
    let why = refused(
        &mut store,
        WrapUp {
            disposition: "interested".into(),
            follow_up: Some(FollowUpSpec {
                due_at: t0 - Duration::hours(1),
                note: None,
            }),
            ..Default::default()
        },
    );
    assert!(why.contains("after the call"), "{why}");
    assert_eq!(outbox_rows(&store), before, "nothing written");
    assert!(
        store.call_draft(&draft.id).unwrap().is_some(),
        "the call still waits"
    );

    // "Not interested" needs none: logged and queued with the lead's new status, the draft gone.
    let logged = store
        .wrap_up_call(
            &draft.id,
            &WrapUp {
                disposition: "not_interested".into(),
                notes: "Bought elsewhere".into(),
                lead_status: Some(LeadStatus::NotInterested),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((logged.lead_id, logged.duration_s), (asha.id, 35));
    assert_eq!(
        outbox_rows(&store),
        before + 2,
        "the call log and the lead's edit"
    );
    assert_eq!(
        store.get_lead(&asha.id).unwrap().status,
        LeadStatus::NotInterested
    );
    assert!(store.unlogged_calls().unwrap().is_empty());
}

#[test]
fn the_desks_setup_is_kept_across_reopening_and_checked() {
    use leadline_model::setup::{DeskSetup, StepOutcome};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let mut store = Store::open(&path, &key()).unwrap();
    assert_eq!(
        store.desk_setup().unwrap(),
        None,
        "a new desk has not been set up"
    );
    let setup = DeskSetup {
        server_url: "https://CRM.example.in/".into(),
        allow_http: false,
        server_version: Some("0.1.0".into()),
        microphone: StepOutcome::Passed,
        input_device: Some("alsa:plughw:CARD=Headset,DEV=0".into()),
        notifications: StepOutcome::Failed,
        completed_at: now().trunc_subsecs(3),
    };
    store.set_desk_setup(&setup).unwrap();
    drop(store);
    let mut store = Store::open(&path, &key()).unwrap();
    let kept = store.desk_setup().unwrap().unwrap();
    assert_eq!(kept.server_url, "https://crm.example.in", "kept normalised");
    assert_eq!(
        kept,
        DeskSetup {
            server_url: "https://crm.example.in".into(),
            ..setup.clone()
        }
    );
    // Plain http to another computer is refused unless accepted; a refusal writes nothing.
    let lan = DeskSetup {
        server_url: "http://192.168.1.10:8080".into(),
        ..setup.clone()
    };
    assert!(matches!(store.set_desk_setup(&lan), Err(StoreError::Invalid(_))));
    assert_eq!(
        store.desk_setup().unwrap().unwrap().server_url,
        "https://crm.example.in"
    );
    store
        .set_desk_setup(&DeskSetup {
            allow_http: true,
            ..lan
        })
        .unwrap();
    assert_eq!(
        store.desk_setup().unwrap().unwrap().server_url,
        "http://192.168.1.10:8080"
    );
    store.clear_desk_setup().unwrap();
    assert_eq!(store.desk_setup().unwrap(), None);
}
