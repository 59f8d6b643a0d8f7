//! The read side for the UI: lead list filters, search, orders and pages; counts; the calling queue; call
//! history; today's figures. Real SQLite files in temporary directories, a fixed clock and zone (IST).
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use chrono::Duration;
use leadline_model::sync::{Change, Cursor, PROTOCOL_VERSION, PullPage};
use leadline_model::*;
use leadline_store::*;

/// 12:00 in India (UTC+05:30) on 25 November 2026; the local day is [18:30Z on the 24th, 18:30Z on the 25th).
const NOW: &str = "2026-11-25T06:30:00Z";
const IST: i32 = 330;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn clock() -> Clock {
    Clock::new(at(NOW), IST)
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    me: User,
    n: u32,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(
        &dir.path().join("cache.sqlite3"),
        &leadline_store::StoreKey::generate().unwrap(),
    )
    .unwrap();
    let me = User {
        id: new_id(),
        username: "priya".into(),
        name: "Priya".into(),
        role: Role::Telecaller,
        team: None,
    };
    store.set_account("http://server", &me).unwrap();
    Fixture {
        _dir: dir,
        store,
        me,
        n: 0,
    }
}

impl Fixture {
    /// A lead with defaults (new, normal, website, updated an hour ago) and a unique phone number.
    fn lead(&mut self, name: &str) -> Lead {
        self.n += 1;
        let t = at(NOW) - Duration::hours(1);
        Lead {
            id: new_id(),
            name: name.into(),
            phone: PhoneNumber::parse(&format!("+91981{:07}", self.n)).unwrap(),
            alternate_phone: None,
            email: None,
            city: None,
            source: LeadSource::Website,
            interest: None,
            budget_inr: None,
            priority: LeadPriority::Normal,
            status: LeadStatus::New,
            tags: vec![],
            assigned_to: Some(self.me.id),
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    fn pull(&mut self, changes: Vec<Change>) {
        self.store
            .apply_pull_page(&PullPage {
                protocol: PROTOCOL_VERSION,
                changes,
                next_cursor: Cursor(format!("c{}", self.n)),
                has_more: false,
                dispositions: default_catalogue(),
                server_time: at(NOW),
            })
            .unwrap();
    }

    fn add(&mut self, leads: &[Lead]) {
        self.pull(leads.iter().cloned().map(Change::Lead).collect());
    }

    fn follow_up(&mut self, lead: &Lead, due: Timestamp, completed: Option<Timestamp>) -> FollowUp {
        let f = FollowUp {
            id: new_id(),
            lead_id: lead.id,
            assigned_to: self.me.id,
            due_at: due,
            note: None,
            call_log_id: None,
            completed_at: completed,
            created_at: at(NOW) - Duration::days(3),
        };
        self.pull(vec![Change::FollowUp(f.clone())]);
        f
    }

    fn call(
        &self,
        lead: &Lead,
        started: Timestamp,
        disposition: &str,
        duration_s: i64,
        notes: &str,
    ) -> CallLog {
        CallLog {
            id: new_id(),
            lead_id: lead.id,
            telecaller_id: self.me.id,
            direction: CallDirection::Outbound,
            started_at: started,
            answered_at: (duration_s > 0).then(|| started + Duration::seconds(5)),
            ended_at: Some(started + Duration::seconds(duration_s + 5)),
            duration_s,
            disposition: disposition.into(),
            outcome_tags: vec![],
            notes: notes.into(),
            follow_up: None,
            recording_url: None,
            provider_call_id: None,
            device_id: None,
            quality: None,
        }
    }

    fn page(&self, q: &LeadPageQuery) -> LeadListPage {
        self.store.list_lead_page(q, &clock()).unwrap()
    }

    fn names(&self, filter: LeadFilter) -> Vec<String> {
        let mut v: Vec<String> = self
            .page(&LeadPageQuery {
                filter,
                limit: Some(100),
                ..Default::default()
            })
            .leads
            .into_iter()
            .map(|l| l.name)
            .collect();
        v.sort();
        v
    }

    /// Every page of `q` with `limit` rows, concatenated; asserts no page is empty before the end.
    fn all_pages(&self, mut q: LeadPageQuery, limit: u32) -> Vec<Lead> {
        q.limit = Some(limit);
        let mut out = Vec::new();
        loop {
            let page = self.page(&q);
            assert!(page.leads.len() <= limit as usize);
            out.extend(page.leads);
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return out,
            }
            assert!(out.len() < 10_000, "paging does not end");
        }
    }
}

fn sorted(mut v: Vec<&str>) -> Vec<String> {
    v.sort();
    v.into_iter().map(String::from).collect()
}

#[test]
fn every_filter_alone_and_together() {
    let mut f = fixture();
    let other = new_id();
    let mut a = f.lead("Asha Kulkarni");
    a.status = LeadStatus::Interested;
    a.priority = LeadPriority::Hot;
    a.source = LeadSource::Instagram;
    a.tags = vec!["wedding".into(), "gold".into()];
    a.created_at = at("2026-11-01T10:00:00Z");
    let mut b = f.lead("Ravi Pillai");
    b.status = LeadStatus::Contacted;
    b.priority = LeadPriority::High;
    b.source = LeadSource::Referral;
    b.tags = vec!["wedding".into()];
    b.created_at = at("2026-11-10T10:00:00Z");
    b.updated_at = at("2026-11-24T10:00:00Z");
    let mut c = f.lead("Meena Iyer");
    c.assigned_to = Some(other);
    c.created_at = at("2026-11-20T10:00:00Z");
    let mut d = f.lead("Farhan Qureshi");
    d.status = LeadStatus::Converted;
    d.priority = LeadPriority::Low;
    d.tags = vec!["gold".into()];
    f.add(&[a.clone(), b.clone(), c.clone(), d.clone()]);
    // Follow-ups: a overdue since yesterday, b due at 15:00 IST today, c due tomorrow, d none.
    f.follow_up(&a, at("2026-11-24T09:00:00Z"), None);
    f.follow_up(&b, at("2026-11-25T09:30:00Z"), None);
    f.follow_up(&c, at("2026-11-26T09:30:00Z"), None);
    // A completed follow-up does not count.
    f.follow_up(&d, at("2026-11-24T09:00:00Z"), Some(at("2026-11-24T10:00:00Z")));

    let all = sorted(vec![
        "Asha Kulkarni",
        "Ravi Pillai",
        "Meena Iyer",
        "Farhan Qureshi",
    ]);
    assert_eq!(f.names(LeadFilter::default()), all);
    let by = |filter: LeadFilter| f.names(filter);
    assert_eq!(
        by(LeadFilter {
            statuses: vec![LeadStatus::Interested, LeadStatus::Converted],
            ..Default::default()
        }),
        sorted(vec!["Asha Kulkarni", "Farhan Qureshi"])
    );
    assert_eq!(
        by(LeadFilter {
            priorities: vec![LeadPriority::Hot, LeadPriority::High],
            ..Default::default()
        }),
        sorted(vec!["Asha Kulkarni", "Ravi Pillai"])
    );
    assert_eq!(
        by(LeadFilter {
            sources: vec![LeadSource::Website, LeadSource::Referral],
            ..Default::default()
        }),
        sorted(vec!["Ravi Pillai", "Meena Iyer", "Farhan Qureshi"])
    );
    assert_eq!(
        by(LeadFilter {
            follow_up: Some(FollowUpDue::Overdue),
            ..Default::default()
        }),
        sorted(vec!["Asha Kulkarni"])
    );
    assert_eq!(
        by(LeadFilter {
            follow_up: Some(FollowUpDue::Today),
            ..Default::default()
        }),
        sorted(vec!["Ravi Pillai"])
    );
    assert_eq!(
        by(LeadFilter {
            follow_up: Some(FollowUpDue::OverdueOrToday),
            ..Default::default()
        }),
        sorted(vec!["Asha Kulkarni", "Ravi Pillai"])
    );
    assert_eq!(
        by(LeadFilter {
            created: Some(TimeRange {
                from: Some(at("2026-11-10T10:00:00Z")),
                until: Some(at("2026-11-20T10:00:00Z")),
            }),
            ..Default::default()
        }),
        sorted(vec!["Ravi Pillai"]),
        "from is inclusive, until exclusive"
    );
    assert_eq!(
        by(LeadFilter {
            updated: Some(TimeRange {
                from: None,
                until: Some(at("2026-11-25T00:00:00Z")),
            }),
            ..Default::default()
        }),
        sorted(vec!["Ravi Pillai"])
    );
    assert_eq!(
        by(LeadFilter {
            tags: vec!["wedding".into()],
            ..Default::default()
        }),
        sorted(vec!["Asha Kulkarni", "Ravi Pillai"])
    );
    assert_eq!(
        by(LeadFilter {
            tags: vec!["wedding".into(), "gold".into()],
            ..Default::default()
        }),
        sorted(vec!["Asha Kulkarni"]),
        "every tag must be present"
    );
    assert_eq!(
        by(LeadFilter {
            assigned_to: Some(other),
            ..Default::default()
        }),
        sorted(vec!["Meena Iyer"])
    );
    // Search combined with filters.
    assert_eq!(
        by(LeadFilter {
            search: Some("ravi".into()),
            tags: vec!["wedding".into()],
            follow_up: Some(FollowUpDue::Today),
            ..Default::default()
        }),
        sorted(vec!["Ravi Pillai"])
    );
    assert!(
        by(LeadFilter {
            search: Some("ravi".into()),
            statuses: vec![LeadStatus::New],
            ..Default::default()
        })
        .is_empty()
    );
    // Several filters at once.
    assert_eq!(
        by(LeadFilter {
            statuses: vec![LeadStatus::Interested, LeadStatus::Contacted, LeadStatus::New],
            priorities: vec![LeadPriority::Hot, LeadPriority::Normal],
            tags: vec!["gold".into()],
            ..Default::default()
        }),
        sorted(vec!["Asha Kulkarni"])
    );

    // Counts per status: every status, zeros included; the statuses of the filter do not apply.
    let counts = f
        .store
        .lead_status_counts(
            &LeadFilter {
                statuses: vec![LeadStatus::New],
                tags: vec!["gold".into()],
                ..Default::default()
            },
            &clock(),
        )
        .unwrap();
    assert_eq!(counts.len(), LeadStatus::ALL.len());
    let count = |s: LeadStatus| counts.iter().find(|c| c.status == s).unwrap().count;
    assert_eq!(count(LeadStatus::Interested), 1);
    assert_eq!(count(LeadStatus::Converted), 1);
    assert_eq!(count(LeadStatus::New), 0);
    let unfiltered = f
        .store
        .lead_status_counts(&LeadFilter::default(), &clock())
        .unwrap();
    assert_eq!(unfiltered.iter().map(|c| c.count).sum::<u64>(), 4);
    let searched = f
        .store
        .lead_status_counts(
            &LeadFilter {
                search: Some("meena".into()),
                ..Default::default()
            },
            &clock(),
        )
        .unwrap();
    assert_eq!(
        searched
            .iter()
            .filter(|c| c.count > 0)
            .map(|c| (c.status, c.count))
            .collect::<Vec<_>>(),
        vec![(LeadStatus::New, 1)]
    );
}

#[test]
fn search_finds_phone_numbers_in_any_form_names_by_word_prefix_and_call_notes() {
    let mut f = fixture();
    let mut asha = f.lead("Asha Kulkarni");
    asha.phone = PhoneNumber::parse("+919876543210").unwrap();
    let mut ravi = f.lead("Ravi Ashok Pillai");
    ravi.phone = PhoneNumber::parse("+919845012345").unwrap();
    ravi.alternate_phone = Some(PhoneNumber::parse("+919876500000").unwrap());
    let meena = f.lead("Meena Iyer");
    f.add(&[asha.clone(), ravi.clone(), meena.clone()]);
    let c = f.call(
        &meena,
        at(NOW) - Duration::hours(2),
        "interested",
        60,
        "Wants a kundan set",
    );
    f.store.log_call(&c).unwrap();

    let find = |s: &str| {
        f.names(LeadFilter {
            search: Some(s.into()),
            ..Default::default()
        })
    };
    let both = sorted(vec!["Asha Kulkarni", "Ravi Ashok Pillai"]);
    for typed in ["98765", "098765", "+91 98765", "+91-98765", "9198765"] {
        assert_eq!(find(typed), both, "{typed}");
    }
    assert_eq!(find("+91 98765 43210"), sorted(vec!["Asha Kulkarni"]));
    assert_eq!(find("09876543210"), sorted(vec!["Asha Kulkarni"]));
    assert_eq!(find("98450"), sorted(vec!["Ravi Ashok Pillai"]));
    assert!(
        find("76543").is_empty(),
        "digits match from the start of a number only"
    );
    assert_eq!(find("kul"), sorted(vec!["Asha Kulkarni"]));
    assert_eq!(find("ash"), both, "any word of the name");
    assert_eq!(find("ASHA kulk"), sorted(vec!["Asha Kulkarni"]));
    assert_eq!(find("kundan"), sorted(vec!["Meena Iyer"]));
    // One-letter words match the start of a word of the name.
    assert_eq!(find("asha k"), sorted(vec!["Asha Kulkarni"]));
    assert_eq!(find("r"), sorted(vec!["Ravi Ashok Pillai"]));
    assert_eq!(find("a K"), sorted(vec!["Asha Kulkarni"]));
    assert!(find("asha p").is_empty());
    assert!(find("sapphire").is_empty());
    assert_eq!(find("   ").len(), 3, "nothing to search for lists everything");
}

/// The expected order of `leads` under `sort`, computed independently of SQL.
fn expected_order(leads: &[Lead], sort: LeadOrder) -> Vec<Id> {
    let mut v: Vec<&Lead> = leads.iter().collect();
    let rank = |p: LeadPriority| LeadPriority::ALL.iter().position(|x| *x == p).unwrap();
    let key = |l: &Lead| -> (String, String) {
        match sort.key {
            LeadOrderKey::UpdatedAt => (l.updated_at.to_rfc3339(), String::new()),
            LeadOrderKey::CreatedAt => (l.created_at.to_rfc3339(), String::new()),
            LeadOrderKey::Name => (l.name.to_ascii_lowercase(), String::new()),
            LeadOrderKey::Priority => (rank(l.priority).to_string(), l.updated_at.to_rfc3339()),
            LeadOrderKey::NextFollowUp => unreachable!(),
        }
    };
    v.sort_by_key(|a| (key(a), a.id.to_string()));
    if sort.descending {
        v.reverse();
    }
    v.into_iter().map(|l| l.id).collect()
}

#[test]
fn every_order_pages_through_ties_without_repeating_or_skipping() {
    let mut f = fixture();
    let mut leads = Vec::new();
    let names = ["asha", "Asha", "ASHA", "Ravi", "meena", "Meena"];
    for i in 0..30_u32 {
        let mut l = f.lead(names[i as usize % names.len()]);
        // Few distinct values: long runs of equal sort keys across page boundaries.
        l.updated_at = at(NOW) - Duration::minutes(i64::from(i % 3));
        l.created_at = at(NOW) - Duration::days(i64::from(i % 2));
        l.priority = LeadPriority::ALL[i as usize % 2 + 2];
        l.status = if i % 4 == 0 {
            LeadStatus::Contacted
        } else {
            LeadStatus::New
        };
        l.tags = if i % 5 == 0 { vec!["vip".into()] } else { vec![] };
        leads.push(l);
    }
    f.add(&leads);
    for key in [
        LeadOrderKey::UpdatedAt,
        LeadOrderKey::CreatedAt,
        LeadOrderKey::Name,
        LeadOrderKey::Priority,
    ] {
        for descending in [false, true] {
            let sort = LeadOrder { key, descending };
            for limit in [1, 4, 7, 30, 31] {
                let got: Vec<Id> = f
                    .all_pages(
                        LeadPageQuery {
                            sort,
                            ..Default::default()
                        },
                        limit,
                    )
                    .into_iter()
                    .map(|l| l.id)
                    .collect();
                assert_eq!(got, expected_order(&leads, sort), "{sort:?} limit {limit}");
            }
            // Through each plan: a status filter small enough to drive, a search, a non-driving filter.
            let filters = [
                LeadFilter {
                    statuses: vec![LeadStatus::New],
                    ..Default::default()
                },
                LeadFilter {
                    search: Some("asha".into()),
                    ..Default::default()
                },
                LeadFilter {
                    priorities: vec![LeadPriority::Hot],
                    tags: vec!["vip".into()],
                    ..Default::default()
                },
            ];
            for filter in filters {
                let subset: Vec<Lead> = leads
                    .iter()
                    .filter(|l| {
                        (filter.statuses.is_empty() || filter.statuses.contains(&l.status))
                            && (filter.search.is_none() || l.name.eq_ignore_ascii_case("asha"))
                            && (filter.priorities.is_empty() || filter.priorities.contains(&l.priority))
                            && filter.tags.iter().all(|t| l.tags.contains(t))
                    })
                    .cloned()
                    .collect();
                assert!(!subset.is_empty());
                let got: Vec<Id> = f
                    .all_pages(
                        LeadPageQuery {
                            filter: filter.clone(),
                            sort,
                            ..Default::default()
                        },
                        3,
                    )
                    .into_iter()
                    .map(|l| l.id)
                    .collect();
                assert_eq!(got, expected_order(&subset, sort), "{sort:?} {filter:?}");
            }
        }
    }
}

#[test]
fn the_follow_up_order_lists_leads_without_one_last_in_both_directions() {
    let mut f = fixture();
    let leads: Vec<Lead> = (0..12).map(|i| f.lead(&format!("Lead {i}"))).collect();
    f.add(&leads);
    // Two leads share each due time; four have none.
    let mut dated = Vec::new();
    for (i, l) in leads.iter().take(8).enumerate() {
        let due = at(NOW) + Duration::hours(i as i64 / 2);
        f.follow_up(l, due, None);
        dated.push((due, l.id.to_string(), l.id));
    }
    let mut undated: Vec<(String, Id)> = leads[8..].iter().map(|l| (l.id.to_string(), l.id)).collect();
    dated.sort();
    undated.sort();
    for descending in [false, true] {
        let mut want: Vec<Id> = dated.iter().map(|d| d.2).collect();
        let mut rest: Vec<Id> = undated.iter().map(|u| u.1).collect();
        if descending {
            want.reverse();
            rest.reverse();
        }
        want.extend(rest);
        for limit in [1, 3, 8, 9, 12, 13] {
            let got: Vec<Id> = f
                .all_pages(
                    LeadPageQuery {
                        sort: LeadOrder {
                            key: LeadOrderKey::NextFollowUp,
                            descending,
                        },
                        ..Default::default()
                    },
                    limit,
                )
                .into_iter()
                .map(|l| l.id)
                .collect();
            assert_eq!(got, want, "descending {descending} limit {limit}");
        }
    }
}

#[test]
fn a_cursor_only_continues_the_list_it_came_from() {
    let mut f = fixture();
    let leads: Vec<Lead> = (0..5).map(|i| f.lead(&format!("Lead {i}"))).collect();
    f.add(&leads);
    let q = LeadPageQuery {
        limit: Some(2),
        ..Default::default()
    };
    let first = f.page(&q);
    assert_eq!(first.leads.len(), 2);
    let cursor = first.next_cursor.unwrap();
    let other_order = LeadPageQuery {
        sort: LeadOrder {
            key: LeadOrderKey::Name,
            descending: false,
        },
        cursor: Some(cursor.clone()),
        limit: Some(2),
        ..Default::default()
    };
    let err = f.store.list_lead_page(&other_order, &clock()).unwrap_err();
    assert!(matches!(err, StoreError::BadCursor(_)), "{err}");
    let other_filter = LeadPageQuery {
        filter: LeadFilter {
            statuses: vec![LeadStatus::New],
            ..Default::default()
        },
        cursor: Some(cursor.clone()),
        limit: Some(2),
        ..Default::default()
    };
    assert!(matches!(
        f.store.list_lead_page(&other_filter, &clock()),
        Err(StoreError::BadCursor(_))
    ));
    let damaged = LeadPageQuery {
        cursor: Some(format!("{cursor}x!")),
        limit: Some(2),
        ..Default::default()
    };
    assert!(matches!(
        f.store.list_lead_page(&damaged, &clock()),
        Err(StoreError::BadCursor(_))
    ));
    // The same query with a different page size continues fine.
    let next = f
        .page(&LeadPageQuery {
            cursor: Some(cursor),
            limit: Some(10),
            ..Default::default()
        })
        .leads;
    assert_eq!(next.len(), 3);
    // The query types cross the IPC boundary as JSON.
    let json = serde_json::to_string(&other_filter).unwrap();
    assert_eq!(
        serde_json::from_str::<LeadPageQuery>(&json).unwrap(),
        other_filter
    );
}

#[test]
fn every_order_walks_an_index_for_its_first_page() {
    let mut f = fixture();
    let leads: Vec<Lead> = (0..20).map(|i| f.lead(&format!("Lead {i}"))).collect();
    f.add(&leads);
    let cases = [
        (LeadOrderKey::UpdatedAt, "leads_by_updated"),
        (LeadOrderKey::CreatedAt, "leads_sort_created"),
        (LeadOrderKey::Name, "leads_sort_name"),
        (LeadOrderKey::NextFollowUp, "leads_sort_follow_up"),
        (LeadOrderKey::Priority, "leads_sort_priority"),
    ];
    // Filters that do not narrow to few rows are checked row by row along the sort index.
    let filters = [
        LeadFilter::default(),
        LeadFilter {
            priorities: vec![LeadPriority::Hot, LeadPriority::Normal],
            sources: vec![LeadSource::Website],
            tags: vec!["vip".into()],
            ..Default::default()
        },
    ];
    for (key, index) in cases {
        for descending in [false, true] {
            for filter in &filters {
                let q = LeadPageQuery {
                    filter: filter.clone(),
                    sort: LeadOrder { key, descending },
                    ..Default::default()
                };
                let plan = f.store.explain_lead_page(&q, &clock()).unwrap().join("\n");
                assert!(plan.contains(&format!("USING INDEX {index}")), "{key:?}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{key:?} sorts: {plan}");
            }
        }
    }
}

#[test]
fn the_queue_offers_overdue_then_today_then_hot_and_new_leads_and_skips_the_rest() {
    let mut f = fixture();
    let mut mk = |name: &str, status: LeadStatus, priority: LeadPriority, created_days_ago: i64| {
        let mut l = f.lead(name);
        l.status = status;
        l.priority = priority;
        l.created_at = at(NOW) - Duration::days(created_days_ago);
        l
    };
    use LeadPriority::*;
    use LeadStatus::*;
    let overdue_old = mk("overdue old", Contacted, Low, 9);
    let overdue_new = mk("overdue recent", Interested, Normal, 9);
    let today_later = mk("due this evening", LeadStatus::FollowUp, Normal, 9);
    let tomorrow = mk("due tomorrow", New, Hot, 1);
    let closed_overdue = mk("converted, overdue", Converted, Hot, 1);
    let hot_new = mk("hot new", New, Hot, 2);
    let hot_new_newer = mk("hot new newer", New, Hot, 1);
    let hot_contacted = mk("hot contacted", Contacted, Hot, 0);
    let high_new = mk("high new", New, High, 3);
    let high_visit = mk("high visit", VisitScheduled, High, 3);
    let normal_new = mk("normal new", New, Normal, 3);
    let low_new = mk("low new", New, Low, 3);
    let normal_contacted = mk("normal contacted", Contacted, Normal, 3);
    let dnc = mk("do not call", DoNotCall, Hot, 1);
    let invalid = mk("invalid", Invalid, Hot, 1);
    let not_interested = mk("not interested", NotInterested, Hot, 1);
    let called = mk("hot new, just called", New, Hot, 0);
    let all = [
        &overdue_old,
        &overdue_new,
        &today_later,
        &tomorrow,
        &closed_overdue,
        &hot_new,
        &hot_new_newer,
        &hot_contacted,
        &high_new,
        &high_visit,
        &normal_new,
        &low_new,
        &normal_contacted,
        &dnc,
        &invalid,
        &not_interested,
        &called,
    ];
    f.add(&all.iter().map(|l| (*l).clone()).collect::<Vec<_>>());
    f.follow_up(&overdue_old, at("2026-11-23T05:00:00Z"), None);
    f.follow_up(&overdue_new, at("2026-11-25T04:00:00Z"), None);
    // Its earliest open follow-up counts; the completed one does not.
    f.follow_up(
        &overdue_new,
        at("2026-11-22T04:00:00Z"),
        Some(at("2026-11-22T05:00:00Z")),
    );
    f.follow_up(&today_later, at("2026-11-25T12:00:00Z"), None);
    f.follow_up(&tomorrow, at("2026-11-26T12:00:00Z"), None);
    f.follow_up(&closed_overdue, at("2026-11-20T12:00:00Z"), None);
    let recent = f.call(&called, at(NOW) - Duration::minutes(10), "busy", 0, "");
    f.store.log_call(&recent).unwrap();

    let want = vec![
        ("overdue old", QueueReason::OverdueFollowUp),
        ("overdue recent", QueueReason::OverdueFollowUp),
        ("due this evening", QueueReason::FollowUpToday),
        ("hot new newer", QueueReason::Hot),
        ("hot new", QueueReason::Hot),
        ("hot contacted", QueueReason::Hot),
        ("high new", QueueReason::HighPriority),
        ("high visit", QueueReason::HighPriority),
        ("normal new", QueueReason::New),
        ("low new", QueueReason::New),
    ];
    let q = QueueQuery {
        assigned_to: Some(f.me.id),
        skip_called_within_minutes: 30,
        limit: Some(50),
        cursor: None,
    };
    let page = f.store.next_leads(&q, &clock()).unwrap();
    let got: Vec<(&str, QueueReason)> = page
        .entries
        .iter()
        .map(|e| (e.lead.name.as_str(), e.reason))
        .collect();
    assert_eq!(got, want);
    assert_eq!(page.next_cursor, None);
    assert_eq!(page.entries[0].follow_up_due_at, Some(at("2026-11-23T05:00:00Z")));
    assert_eq!(page.entries[3].follow_up_due_at, None);

    // Page by page, across tiers, the same order.
    for limit in [1, 2, 3, 4] {
        let mut q = QueueQuery {
            limit: Some(limit),
            ..q.clone()
        };
        let mut names = Vec::new();
        loop {
            let page = f.store.next_leads(&q, &clock()).unwrap();
            names.extend(page.entries.iter().map(|e| e.lead.name.clone()));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(
            names,
            want.iter().map(|w| w.0).collect::<Vec<_>>(),
            "limit {limit}"
        );
    }

    // Called 10 minutes ago: back in the queue with a 5-minute window.
    let short = QueueQuery {
        skip_called_within_minutes: 5,
        ..q.clone()
    };
    let names: HashSet<String> = f
        .store
        .next_leads(&short, &clock())
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.lead.name)
        .collect();
    assert!(names.contains("hot new, just called"));
    // Another user's queue is empty.
    let theirs = QueueQuery {
        assigned_to: Some(new_id()),
        ..q
    };
    assert!(f.store.next_leads(&theirs, &clock()).unwrap().entries.is_empty());
}

#[test]
fn todays_figures_count_the_local_day_of_the_signed_in_user() {
    let mut f = fixture();
    let a = f.lead("Asha");
    let b = f.lead("Ravi");
    f.add(&[a.clone(), b.clone()]);
    // 00:30 IST today is 19:00Z yesterday: today. 23:30 IST yesterday is 18:00Z yesterday: not today.
    let calls = [
        f.call(
            &a,
            at("2026-11-24T19:00:00Z"),
            "interested",
            120,
            "catalogue sent",
        ),
        f.call(&a, at("2026-11-25T05:00:00Z"), "no_answer", 0, ""),
        f.call(
            &b,
            at("2026-11-25T06:00:00Z"),
            "converted",
            300,
            "ordered a chain",
        ),
        f.call(&b, at("2026-11-24T18:00:00Z"), "converted", 90, "yesterday"),
    ];
    for c in &calls {
        f.store.log_call(c).unwrap();
    }
    // Someone else's call today, pulled from the server.
    let mut theirs = f.call(&b, at("2026-11-25T06:10:00Z"), "converted", 50, "");
    theirs.telecaller_id = new_id();
    f.pull(vec![Change::CallLog(theirs)]);
    // Follow-ups: done today (19:00Z yesterday), done yesterday, open due later today, open overdue
    // from yesterday, open due tomorrow.
    f.follow_up(&a, at("2026-11-24T10:00:00Z"), Some(at("2026-11-24T19:00:00Z")));
    f.follow_up(&a, at("2026-11-23T10:00:00Z"), Some(at("2026-11-24T12:00:00Z")));
    f.follow_up(&a, at("2026-11-25T15:00:00Z"), None);
    f.follow_up(&b, at("2026-11-24T10:00:00Z"), None);
    f.follow_up(&b, at("2026-11-26T10:00:00Z"), None);

    let q = FiguresQuery {
        user_id: None,
        follow_up_goal: 20,
        conversion_dispositions: vec![],
    };
    let got = f.store.today_figures(&q, &clock()).unwrap();
    assert_eq!(
        got,
        TodayFigures {
            user_id: f.me.id,
            day_start: at("2026-11-24T18:30:00Z"),
            day_end: at("2026-11-25T18:30:00Z"),
            calls_made: 3,
            connected: 2,
            talk_time_s: 420,
            conversions: 1,
            follow_ups_done: 1,
            follow_up_goal: 20,
            follow_ups_due_today: 1,
            follow_ups_overdue: 1,
        }
    );
    // Other conversion codes, and in UTC the day is another one.
    let utc = f
        .store
        .today_figures(
            &FiguresQuery {
                conversion_dispositions: vec!["interested".into(), "converted".into()],
                ..q.clone()
            },
            &Clock::new(at(NOW), 0),
        )
        .unwrap();
    assert_eq!((utc.calls_made, utc.conversions, utc.talk_time_s), (2, 1, 300));
    // Nobody signed in and no user given: a clear error.
    let fresh = Store::open_in_memory().unwrap();
    assert!(matches!(
        fresh.today_figures(&q, &clock()),
        Err(StoreError::NotFound(_))
    ));

    // The charts: today's three calls of mine by local hour (00:30, 10:30 and 11:30 IST) and disposition.
    let day = f.store.today_breakdown(None, &clock()).unwrap();
    assert_eq!(day.hourly.len(), 24);
    assert_eq!((day.hourly[0], day.hourly[10], day.hourly[11]), (1, 1, 1));
    assert_eq!(
        day.hourly.iter().sum::<u64>(),
        3,
        "yesterday's and someone else's are not counted"
    );
    assert_eq!(
        day.dispositions,
        vec![
            ("converted".to_owned(), 1),
            ("interested".to_owned(), 1),
            ("no_answer".to_owned(), 1)
        ]
    );
    // In UTC the day holds 05:00 and 06:00.
    let utc = f
        .store
        .today_breakdown(Some(f.me.id), &Clock::new(at(NOW), 0))
        .unwrap();
    assert_eq!(
        (utc.hourly[5], utc.hourly[6], utc.hourly.iter().sum::<u64>()),
        (1, 1, 2)
    );
    assert!(matches!(
        fresh.today_breakdown(None, &clock()),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn call_history_pages_newest_first_and_searches_notes_and_dispositions() {
    let mut f = fixture();
    let a = f.lead("Asha");
    let b = f.lead("Ravi");
    f.add(&[a.clone(), b.clone()]);
    let t0 = at(NOW) - Duration::days(1);
    let mut calls = Vec::new();
    // Pairs of calls share a start time.
    for i in 0..9_i64 {
        let (disp, notes) = match i % 3 {
            0 => ("visit_booked", format!("Kundan necklace, visit {i}")),
            1 => ("no_answer", String::new()),
            _ => ("interested", format!("Wants gold coins {i}")),
        };
        calls.push(f.call(&a, t0 + Duration::hours(i / 2), disp, 30, &notes));
    }
    // Some arrive by pull, some are logged here: both are searchable.
    f.pull(calls[..5].iter().cloned().map(Change::CallLog).collect());
    for c in &calls[5..] {
        f.store.log_call(c).unwrap();
    }
    f.store
        .log_call(&f.call(&b, t0, "visit_booked", 10, "kundan earrings"))
        .unwrap();

    let mut want: Vec<&CallLog> = calls.iter().collect();
    want.sort_by_key(|c| (c.started_at, c.id.to_string()));
    want.reverse();
    let history = |search: Option<&str>, limit: u32| -> Vec<Id> {
        let mut q = CallHistoryQuery {
            search: search.map(String::from),
            limit: Some(limit),
            ..CallHistoryQuery::new(a.id)
        };
        let mut out = Vec::new();
        loop {
            let page = f.store.call_history(&q).unwrap();
            assert!(page.calls.iter().all(|c| c.lead_id == a.id));
            out.extend(page.calls.iter().map(|c| c.id));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return out,
            }
        }
    };
    for limit in [1, 2, 4, 9, 10] {
        assert_eq!(
            history(None, limit),
            want.iter().map(|c| c.id).collect::<Vec<_>>(),
            "limit {limit}"
        );
    }
    let matching =
        |p: &dyn Fn(&CallLog) -> bool| -> Vec<Id> { want.iter().filter(|c| p(c)).map(|c| c.id).collect() };
    let kundan = matching(&|c| c.notes.contains("Kundan"));
    assert_eq!(kundan.len(), 3);
    assert_eq!(history(Some("kund"), 2), kundan);
    assert_eq!(history(Some("visit"), 2), kundan, "the disposition code's words");
    assert_eq!(
        history(Some("gold coin"), 1),
        matching(&|c| c.notes.contains("gold coins"))
    );
    assert_eq!(
        history(Some("answer"), 3),
        matching(&|c| c.disposition == "no_answer")
    );
    assert!(history(Some("earrings"), 5).is_empty(), "another lead's call");
    // The old whole-history call still answers the same.
    assert_eq!(
        f.store
            .call_logs_for_lead(&a.id)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        history(None, 50)
    );
    // A cursor of another lead's history is refused.
    let page = f
        .store
        .call_history(&CallHistoryQuery {
            limit: Some(1),
            ..CallHistoryQuery::new(a.id)
        })
        .unwrap();
    let err = f
        .store
        .call_history(&CallHistoryQuery {
            cursor: page.next_cursor,
            ..CallHistoryQuery::new(b.id)
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::BadCursor(_)));
}

#[test]
fn a_leads_history_narrows_by_direction_and_disposition_and_exports_as_shown() {
    let mut f = fixture();
    let a = f.lead("Asha");
    let b = f.lead("Ravi");
    f.add(&[a.clone(), b.clone()]);
    let t0 = at(NOW) - Duration::days(2);
    let mut calls = Vec::new();
    for i in 0..8_i64 {
        let disposition = ["interested", "no_answer", "visit_booked", "no_answer"][(i % 4) as usize];
        let mut c = f.call(
            &a,
            t0 + Duration::hours(i),
            disposition,
            30,
            &format!("call {i} about bangles"),
        );
        if i % 2 == 1 {
            c.direction = CallDirection::Inbound;
        }
        f.store.log_call(&c).unwrap();
        calls.push(c);
    }
    f.store
        .log_call(&f.call(&b, t0, "no_answer", 0, "bangles"))
        .unwrap();
    let newest_first = |p: &dyn Fn(&CallLog) -> bool| -> Vec<Id> {
        let mut want: Vec<&CallLog> = calls.iter().filter(|c| p(c)).collect();
        want.sort_by_key(|c| std::cmp::Reverse(c.started_at));
        want.iter().map(|c| c.id).collect()
    };
    let history = |q: CallHistoryQuery| -> Vec<Id> {
        let mut q = CallHistoryQuery { limit: Some(2), ..q };
        let mut out = Vec::new();
        loop {
            let page = f.store.call_history(&q).unwrap();
            out.extend(page.calls.iter().map(|c| c.id));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return out,
            }
        }
    };
    let inbound = CallHistoryQuery {
        direction: Some(CallDirection::Inbound),
        ..CallHistoryQuery::new(a.id)
    };
    assert_eq!(
        history(inbound.clone()),
        newest_first(&|c| c.direction == CallDirection::Inbound)
    );
    let unanswered_or_visits = CallHistoryQuery {
        dispositions: vec!["no_answer".into(), "visit_booked".into()],
        ..CallHistoryQuery::new(a.id)
    };
    let want = newest_first(&|c| c.disposition != "interested");
    assert_eq!(want.len(), 6);
    assert_eq!(history(unanswered_or_visits.clone()), want);
    let all_three = CallHistoryQuery {
        search: Some("call 5".into()),
        ..CallHistoryQuery {
            direction: Some(CallDirection::Inbound),
            ..unanswered_or_visits
        }
    };
    assert_eq!(history(all_three), vec![calls[5].id]);
    // A cursor read under one filter is refused under another.
    let page = f
        .store
        .call_history(&CallHistoryQuery {
            limit: Some(1),
            ..inbound
        })
        .unwrap();
    let err = f
        .store
        .call_history(&CallHistoryQuery {
            cursor: page.next_cursor,
            ..CallHistoryQuery::new(a.id)
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::BadCursor(_)));

    // The export writes what the screen shows: this lead, the same filter.
    let mut out = Vec::new();
    let n = f
        .store
        .export_call_logs_csv(
            &mut out,
            &CallExport {
                lead_id: Some(a.id),
                direction: Some(CallDirection::Outbound),
                dispositions: vec!["no_answer".into(), "interested".into()],
                search: Some("bangles".into()),
                ..CallExport::default()
            },
        )
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let want = newest_first(&|c| c.direction == CallDirection::Outbound && c.disposition != "visit_booked");
    assert_eq!(n, want.len() as u64);
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, want.iter().map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn removed_leads_leave_the_list_the_queue_and_the_counts() {
    let mut f = fixture();
    let mut a = f.lead("Asha");
    a.priority = LeadPriority::Hot;
    f.add(std::slice::from_ref(&a));
    let c = f.call(&a, at(NOW) - Duration::days(1), "interested", 30, "kundan");
    f.pull(vec![Change::CallLog(c.clone())]);
    let total = |f: &Fixture| {
        f.store
            .lead_status_counts(&LeadFilter::default(), &clock())
            .unwrap()
            .iter()
            .map(|c| (c.status, c.count))
            .filter(|c| c.1 > 0)
            .collect::<Vec<_>>()
    };
    assert_eq!(total(&f), vec![(LeadStatus::New, 1)]);
    f.store
        .update_lead(
            &a.id,
            &leadline_model::sync::LeadPatch {
                status: Some(LeadStatus::Interested),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(total(&f), vec![(LeadStatus::Interested, 1)]);
    f.pull(vec![Change::LeadRemoved {
        lead_id: a.id,
        erased_at: None,
    }]);
    assert!(f.names(LeadFilter::default()).is_empty());
    assert_eq!(
        total(&f),
        vec![],
        "removed (kept hidden for its unsent edit): not counted"
    );
    let q = QueueQuery::default();
    assert!(f.store.next_leads(&q, &clock()).unwrap().entries.is_empty());
    // Pulled back: listed and counted again (with its unsent edit on top of the server's row), its calls
    // (kept for the unsent edit) searchable.
    f.add(std::slice::from_ref(&a));
    assert_eq!(total(&f), vec![(LeadStatus::Interested, 1)]);
    let c2 = f.call(&a, at(NOW) - Duration::hours(1), "interested", 30, "emerald ring");
    f.pull(vec![Change::CallLog(c2.clone())]);
    let search = |s: &str| {
        f.store
            .call_history(&CallHistoryQuery {
                search: Some(s.into()),
                ..CallHistoryQuery::new(a.id)
            })
            .unwrap()
            .calls
    };
    assert_eq!(search("kundan"), vec![c]);
    assert_eq!(search("emerald"), vec![c2]);
}

/// Word starts of `text`, lower case, with the few accents the test data uses taken off: the rule the
/// search follows, written out independently of the store.
fn words_of(text: &str) -> Vec<String> {
    let plain: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'ë' => 'e',
            'ü' => 'u',
            c => c,
        })
        .collect();
    plain
        .split(|c: char| !c.is_alphanumeric() && !"\u{93f}\u{94d}\u{93e}".contains(c))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn a_search_finds_the_same_leads_whether_its_words_are_common_or_rare() {
    let mut f = fixture();
    let names = [
        "José Fernandes",
        "Jose Pinto",
        "ZOË Mathew",
        "प्रिया शर्मा",
        "Asha Kulkarni",
        "Ravi Müller",
    ];
    let mut leads = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for i in 0..1_500_u32 {
        let mut l = f.lead(names[i as usize % names.len()]);
        l.updated_at = at(NOW) - Duration::minutes(i64::from(i * 7 % 1_500));
        l.status = if i % 3 == 0 {
            LeadStatus::Contacted
        } else {
            LeadStatus::New
        };
        leads.push(l);
        // "gold" in most notes, "bangles" in one lead in ten, "ruby" in one in 16, "emerald" in one in 300.
        let mut n = vec!["Wants"];
        if i % 10 != 3 {
            n.push("GOLD");
        }
        if i % 10 == 5 {
            n.push("bangles");
        }
        if i % 300 == 7 {
            n.push("Emerald");
        }
        if i % 16 == 9 {
            n.push("rubies");
        }
        notes.push(n.join(" "));
    }
    f.add(&leads);
    let calls: Vec<Change> = leads
        .iter()
        .zip(&notes)
        .map(|(l, n)| Change::CallLog(f.call(l, at(NOW) - Duration::days(1), "interested", 60, n)))
        .collect();
    f.pull(calls);

    let expected = |typed: &str, statuses: &[LeadStatus]| -> Vec<Id> {
        let want = words_of(typed);
        let subset: Vec<Lead> = leads
            .iter()
            .zip(&notes)
            .filter(|(l, n)| {
                let name = words_of(&l.name);
                let all: Vec<String> = name.iter().cloned().chain(words_of(n)).collect();
                (statuses.is_empty() || statuses.contains(&l.status))
                    && want.iter().all(|w| {
                        let pool = if w.chars().count() == 1 { &name } else { &all };
                        pool.iter().any(|t| t.starts_with(w.as_str()))
                    })
            })
            .map(|(l, _)| l.clone())
            .collect();
        expected_order(&subset, LeadOrder::default())
    };
    let cases = [
        "gold",
        "GOLD wants",
        "bangles",
        "bangles gold",
        "emerald",
        "emer gold",
        "ruby",
        "rub wants",
        "jose",
        "JOSÉ f",
        "zoe",
        "muller",
        "प्रिया",
        "gold z",
        "sapphire",
    ];
    let mut plans = HashSet::new();
    for typed in cases {
        for statuses in [vec![], vec![LeadStatus::Contacted]] {
            let q = LeadPageQuery {
                filter: LeadFilter {
                    search: Some(typed.into()),
                    statuses: statuses.clone(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let plan = f.store.explain_lead_page(&q, &clock()).unwrap().join("\n");
            plans.insert(if !plan.contains("VIRTUAL TABLE") {
                "check each listed row"
            } else if plan.contains("TEMP B-TREE") {
                "gather the matches and sort them"
            } else {
                "probe the matches along the list"
            });
            let got: Vec<Id> = f.all_pages(q, 40).into_iter().map(|l| l.id).collect();
            assert_eq!(got, expected(typed, &statuses), "{typed:?} {statuses:?}\n{plan}");
        }
    }
    assert!(
        !expected("gold", &[]).is_empty() && !expected("प्रिया", &[]).is_empty(),
        "the cases find something"
    );
    // Common words are answered by walking the list, rarer ones from the full-text index.
    assert_eq!(plans.len(), 3, "{plans:?}");
    let plan_of = |typed: &str| {
        let q = LeadPageQuery {
            filter: LeadFilter {
                search: Some(typed.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        f.store.explain_lead_page(&q, &clock()).unwrap().join("\n")
    };
    assert!(!plan_of("gold").contains("VIRTUAL TABLE"), "{}", plan_of("gold"));
    assert!(
        plan_of("emerald").contains("TEMP B-TREE"),
        "{}",
        plan_of("emerald")
    );
    let ruby = plan_of("rubi");
    assert!(
        ruby.contains("VIRTUAL TABLE") && !ruby.contains("TEMP B-TREE"),
        "{ruby}"
    );
}
