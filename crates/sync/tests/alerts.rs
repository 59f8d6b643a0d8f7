//! What the desktop notifies, decided by `Alerts` over a real cache: assignments (one, or a burst as one),
//! follow-ups falling due (once each, only the user's own, again when rescheduled), missed calls, and
//! nothing during a call until it ends.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, SubsecRound, Utc};
use leadline_model::sync::{Change, Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::*;
use leadline_store::Store;
use leadline_sync::{AlertKind, Alerts, BURST, SyncEvent};

fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

fn user(name: &str) -> User {
    User {
        id: new_id(),
        username: name.into(),
        name: name.into(),
        role: Role::Telecaller,
        team: None,
    }
}

fn lead(name: &str, phone: &str, owner: &User) -> Lead {
    let now = now();
    Lead {
        id: new_id(),
        name: name.into(),
        phone: PhoneNumber::parse(phone).unwrap(),
        alternate_phone: None,
        email: None,
        city: Some("Jaipur".into()),
        source: LeadSource::Instagram,
        interest: Some("bridal necklace".into()),
        budget_inr: None,
        priority: LeadPriority::Hot,
        status: LeadStatus::New,
        tags: vec![],
        assigned_to: Some(owner.id),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// A cache with priya signed in and `n` of her leads.
fn cache(n: usize) -> (Store, User, Vec<Lead>) {
    let mut store = Store::open_in_memory().unwrap();
    let me = user("priya");
    store.set_account("http://server", &me).unwrap();
    let leads: Vec<Lead> = (0..n)
        .map(|i| lead(&format!("Lead {i}"), &format!("+9198765432{i:02}"), &me))
        .collect();
    store
        .apply_pull_page(&PullPage {
            protocol: PROTOCOL_VERSION,
            changes: leads.iter().cloned().map(Change::Lead).collect(),
            next_cursor: Cursor("c1".into()),
            has_more: false,
            dispositions: default_catalogue(),
            server_time: now(),
        })
        .unwrap();
    (store, me, leads)
}

#[test]
fn one_assignment_names_the_lead_and_a_burst_is_one_notification() {
    let (store, me, leads) = cache(8);
    let mut alerts = Alerts::new(Some(me.id));
    let one = alerts.on_sync_event(
        &SyncEvent::LeadsAssigned {
            leads: vec![leads[0].clone()],
        },
        &store,
    );
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].kind, AlertKind::LeadsAssigned);
    assert_eq!(one[0].lead_id, Some(leads[0].id));
    assert!(
        one[0].body.contains("Lead 0") && one[0].body.contains("Jaipur"),
        "{:?}",
        one[0]
    );

    let many = alerts.on_sync_event(&SyncEvent::LeadsAssigned { leads: leads.clone() }, &store);
    assert_eq!(many.len(), 1, "{many:?}");
    assert_eq!(many[0].title, "8 new leads assigned to you");
    assert!(many[0].body.ends_with(", …"), "{}", many[0].body);
    assert_eq!(many[0].lead_id, Some(leads[0].id));

    assert!(
        alerts
            .on_sync_event(&SyncEvent::LeadsAssigned { leads: vec![] }, &store)
            .is_empty()
    );
    assert!(alerts.on_sync_event(&SyncEvent::TokensChanged, &store).is_empty());
}

#[test]
fn a_follow_up_is_told_once_when_due_and_again_when_rescheduled() {
    let (mut store, me, leads) = cache(2);
    let t = now();
    let soon = store
        .schedule_follow_up(
            &leads[0].id,
            t + Duration::minutes(10),
            Some("bring the catalogue".into()),
        )
        .unwrap();
    store
        .schedule_follow_up(&leads[1].id, t + Duration::hours(3), None)
        .unwrap();
    let mut alerts = Alerts::new(Some(me.id));

    assert!(
        alerts.follow_ups_due(&store, t).unwrap().is_empty(),
        "nothing is due yet"
    );
    let due = alerts.follow_ups_due(&store, t + Duration::minutes(11)).unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].kind, AlertKind::FollowUpDue);
    assert_eq!(due[0].title, "Call back Lead 0");
    assert!(due[0].body.contains("bring the catalogue"), "{}", due[0].body);
    assert_eq!(due[0].lead_id, Some(leads[0].id));
    assert!(due[0].urgent);
    assert!(
        alerts
            .follow_ups_due(&store, t + Duration::minutes(12))
            .unwrap()
            .is_empty(),
        "told once"
    );

    // The server's event for the same follow-up says nothing new.
    let from_server = SyncEvent::FollowUpDue {
        follow_up_id: soon.id,
        lead_id: leads[0].id,
        due_at: soon.due_at,
    };
    assert!(alerts.on_sync_event(&from_server, &store).is_empty());

    // Pushed back by an hour, it is due again then.
    store
        .reschedule_follow_up(&soon.id, t + Duration::minutes(70))
        .unwrap();
    assert!(
        alerts
            .follow_ups_due(&store, t + Duration::minutes(30))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        alerts
            .follow_ups_due(&store, t + Duration::minutes(71))
            .unwrap()
            .len(),
        1
    );

    // Done follow-ups are never told.
    let later = store.open_follow_ups().unwrap();
    for f in &later {
        store.complete_follow_up(&f.id, t).unwrap();
    }
    assert!(
        alerts
            .follow_ups_due(&store, t + Duration::days(1))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_backlog_of_follow_ups_is_one_summary_and_others_follow_ups_are_not_told() {
    let (mut store, me, leads) = cache(6);
    let t = now();
    for (i, l) in leads.iter().enumerate() {
        store
            .schedule_follow_up(&l.id, t - Duration::minutes(60 - i as i64), None)
            .unwrap();
    }
    // Someone else's alerts: nothing of priya's.
    let mut theirs = Alerts::new(Some(new_id()));
    assert!(theirs.follow_ups_due(&store, t).unwrap().is_empty());
    // Nobody signed in: nothing.
    assert!(Alerts::new(None).follow_ups_due(&store, t).unwrap().is_empty());

    let mut alerts = Alerts::new(Some(me.id));
    let due = alerts.follow_ups_due(&store, t).unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].title, "6 follow-ups are due");
    assert_eq!(due[0].lead_id, Some(leads[0].id), "the most overdue opens first");
    assert!(due[0].body.starts_with("Lead 0, Lead 1"), "{}", due[0].body);
}

#[test]
fn missed_calls_name_the_lead_or_the_number() {
    let (_store, me, leads) = cache(1);
    let mut alerts = Alerts::new(Some(me.id));
    let known = alerts.missed_call("call-1", "+919876543200", None, Some(&leads[0]));
    assert_eq!(known[0].kind, AlertKind::MissedCall);
    assert_eq!(known[0].lead_id, Some(leads[0].id));
    assert!(
        known[0].body.starts_with("Lead 0 (+919876543200) called"),
        "{}",
        known[0].body
    );
    let stranger = alerts.missed_call("call-2", "+912240001234", Some("Kiran"), None);
    assert_eq!(stranger[0].lead_id, None);
    assert_eq!(
        stranger[0].body,
        "Kiran (+912240001234) called; not one of your leads."
    );
    assert!(
        alerts
            .missed_call("call-2", "+912240001234", Some("Kiran"), None)
            .is_empty(),
        "told once per call"
    );
}

#[test]
fn nothing_pops_up_during_a_call_and_what_came_is_shown_after() {
    let (mut store, me, leads) = cache(6);
    let mut alerts = Alerts::new(Some(me.id));
    assert!(alerts.set_on_call(true).is_empty());
    assert!(
        alerts
            .missed_call("call-3", "+912240001234", None, None)
            .is_empty()
    );
    assert!(
        alerts
            .on_sync_event(
                &SyncEvent::LeadsAssigned {
                    leads: vec![leads[1].clone()]
                },
                &store
            )
            .is_empty()
    );
    let after = alerts.set_on_call(false);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0].kind, AlertKind::MissedCall);
    assert_eq!(after[1].kind, AlertKind::LeadsAssigned);
    assert!(alerts.set_on_call(false).is_empty(), "shown once");

    // More than a burst held: one summary, urgent when any was.
    alerts.set_on_call(true);
    let t = now();
    store
        .schedule_follow_up(&leads[0].id, t - Duration::minutes(1), None)
        .unwrap();
    assert!(alerts.follow_ups_due(&store, t).unwrap().is_empty());
    for l in &leads[1..=BURST] {
        alerts.on_sync_event(
            &SyncEvent::LeadsAssigned {
                leads: vec![l.clone()],
            },
            &store,
        );
    }
    let after = alerts.set_on_call(false);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].kind, AlertKind::Summary);
    assert_eq!(
        after[0].title,
        format!("{} notifications while you were on a call", BURST + 1)
    );
    assert!(after[0].urgent);
    assert_eq!(after[0].lead_id, Some(leads[0].id));
}

#[test]
fn another_user_starts_afresh() {
    let (mut store, me, leads) = cache(1);
    let t = now();
    store
        .schedule_follow_up(&leads[0].id, t - Duration::minutes(1), None)
        .unwrap();
    let mut alerts = Alerts::new(Some(me.id));
    assert_eq!(alerts.follow_ups_due(&store, t).unwrap().len(), 1);
    alerts.set_user(Some(me.id));
    assert!(
        alerts.follow_ups_due(&store, t).unwrap().is_empty(),
        "same user: told already"
    );
    alerts.set_user(None);
    alerts.set_user(Some(me.id));
    assert_eq!(
        alerts.follow_ups_due(&store, t).unwrap().len(),
        1,
        "a new sign-in hears it again"
    );
}

#[test]
fn do_not_disturb_lasts_while_any_call_is_live() {
    let (_store, me, _leads) = cache(1);
    let mut alerts = Alerts::new(Some(me.id));
    assert!(alerts.call_changed("a", true).is_empty());
    assert!(
        alerts.call_changed("b", true).is_empty(),
        "a second call (a transfer, a call waiting)"
    );
    assert!(
        alerts
            .missed_call("call-4", "+912240001234", None, None)
            .is_empty()
    );
    assert!(alerts.call_changed("a", false).is_empty(), "b is still on");
    assert!(
        alerts.call_changed("a", false).is_empty(),
        "a repeated end changes nothing"
    );
    let after = alerts.call_changed("b", false);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].kind, AlertKind::MissedCall);
    assert_eq!(
        alerts.missed_call("call-5", "+912240001234", None, None).len(),
        1,
        "free again"
    );
}
