//! `GET /api/v1/leads` and `GET /api/v1/leads/{id}` against the seeded demo database (SQLite or
//! PostgreSQL), checked against SQL and against the leads decoded through the storage functions.

use std::collections::HashSet;

use super::common::*;
use leadline_model::auth::ApiError;
use leadline_model::{Id, Lead, LeadListQuery, LeadPage, LeadStatus};
use leadline_server::db::{self, LeadFilter, Scope};
use leadline_server::sql::{Backend, Value};

type Pairs = Vec<(String, String)>;

fn pairs(items: &[(&str, &str)]) -> Pairs {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Lead ids from SQL over `leads l` (`$N` parameters), in the list order.
fn sql_ids(sql_where: &str, params: Vec<Value>) -> Vec<Id> {
    ids_of(
        TestDb::seeded(),
        &format!("SELECT l.id FROM leads l WHERE {sql_where} ORDER BY l.updated_at DESC, l.id DESC"),
        params,
    )
}

fn text(id: &Id) -> Value {
    id.hyphenated().to_string().into()
}

async fn get_page(http: &reqwest::Client, base: &str, tok: &str, query: &Pairs) -> reqwest::Response {
    http.get(format!("{base}/api/v1/leads"))
        .bearer_auth(tok)
        .query(query)
        .send()
        .await
        .expect("list leads")
}

/// Pages through the whole list with `limit`; checks each page's size and returns the leads in order.
async fn list_all(http: &reqwest::Client, base: &str, tok: &str, query: &Pairs, limit: u32) -> Vec<Lead> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = query.clone();
        q.push(("limit".into(), limit.to_string()));
        if let Some(c) = &cursor {
            q.push(("cursor".into(), c.clone()));
        }
        let res = get_page(http, base, tok, &q).await;
        assert_eq!(res.status(), 200, "query {q:?}");
        let page: LeadPage = res.json().await.expect("LeadPage");
        assert!(page.leads.len() <= limit as usize);
        if page.next_cursor.is_some() {
            assert_eq!(page.leads.len(), limit as usize, "a page before the last is full");
        }
        out.extend(page.leads);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
        assert!(out.len() < 10_000, "listing does not end");
    }
}

fn ids(leads: &[Lead]) -> Vec<Id> {
    leads.iter().map(|l| l.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priya_pages_through_exactly_her_leads_newest_first() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let tok = token(&server, db, "priya");
    let priya = db.user("priya");

    let leads = list_all(&http, &base, &tok, &Pairs::new(), 37).await;
    let expected = sql_ids("l.assigned_to = $1", vec![text(&priya.id)]);
    assert!(expected.len() > 200);
    let got = ids(&leads);
    assert_eq!(
        got.iter().collect::<HashSet<_>>().len(),
        got.len(),
        "a lead came twice"
    );
    assert_eq!(got, expected, "her leads, by updated_at desc then id desc");
    for pair in leads.windows(2) {
        assert!((pair[0].updated_at, pair[0].id) > (pair[1].updated_at, pair[1].id));
    }
    assert!(leads.iter().all(|l| l.assigned_to == Some(priya.id)));

    // No limit: the default page size, and the same first leads.
    let page: LeadPage = get_page(&http, &base, &tok, &Pairs::new())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.leads.len(), leadline_server::DEFAULT_LEAD_LIMIT as usize);
    assert_eq!(ids(&page.leads), expected[..50].to_vec());
    assert!(page.next_cursor.is_some());
    // A huge limit is clamped to the maximum (the supervisor sees 2000).
    let meera = token(&server, db, "meera");
    let page: LeadPage = get_page(&http, &base, &meera, &pairs(&[("limit", "100000")]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.leads.len(), leadline_server::MAX_LEAD_LIMIT as usize);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_filter_narrows_like_sql() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let meera = token(&server, db, "meera");
    let priya_tok = token(&server, db, "priya");
    let priya = db.user("priya");
    let pid = priya.id.hyphenated().to_string();
    let team = "(l.team = 'Bandra Showroom' OR l.assigned_to IN (SELECT id FROM users WHERE team = 'Bandra Showroom'))";

    let nth = |column: &str, n: u32| -> String {
        db.scalar(
            &format!("SELECT {column} FROM leads ORDER BY {column} LIMIT 1 OFFSET {n}"),
            vec![],
        )
    };
    let (mid_created, late_created, mid_updated) = (
        nth("created_at", 700),
        nth("created_at", 1500),
        nth("updated_at", 900),
    );
    // A lead of priya's, for the free-text search.
    let name: String = db.scalar(
        "SELECT name FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
        vec![pid.clone().into()],
    );
    let first_name = name.split_whitespace().next().unwrap().to_lowercase();

    let cases: Vec<(&str, Pairs, String, Vec<String>)> = vec![
        ("status", pairs(&[("status", "new")]), "l.status = 'new'".into(), vec![]),
        (
            "status comma",
            pairs(&[("status", "new,contacted")]),
            "l.status IN ('new', 'contacted')".into(),
            vec![],
        ),
        (
            "status repeated",
            pairs(&[("status", "interested"), ("status", "follow_up")]),
            "l.status IN ('interested', 'follow_up')".into(),
            vec![],
        ),
        ("priority", pairs(&[("priority", "hot")]), "l.priority = 'hot'".into(), vec![]),
        ("source", pairs(&[("source", "website")]), "l.source = 'website'".into(), vec![]),
        (
            "assigned_to",
            pairs(&[("assigned_to", &pid)]),
            "l.assigned_to = $1".into(),
            vec![pid.clone()],
        ),
        ("unassigned", pairs(&[("assigned_to", "none")]), "l.assigned_to IS NULL".into(), vec![]),
        (
            "created range",
            pairs(&[("created_from", &mid_created), ("created_to", &late_created)]),
            "l.created_at >= $1 AND l.created_at <= $2".into(),
            vec![mid_created.clone(), late_created.clone()],
        ),
        (
            "updated_from",
            pairs(&[("updated_from", &mid_updated)]),
            "l.updated_at >= $1".into(),
            vec![mid_updated.clone()],
        ),
        (
            "updated_to",
            pairs(&[("updated_to", &mid_updated)]),
            "l.updated_at <= $1".into(),
            vec![mid_updated.clone()],
        ),
        (
            "q name",
            pairs(&[("q", &first_name)]),
            "lower(l.name) LIKE $1".into(),
            vec![format!("%{first_name}%")],
        ),
        (
            "combined",
            pairs(&[("status", "new,contacted,interested"), ("priority", "high,hot"), ("assigned_to", &pid)]),
            "l.status IN ('new', 'contacted', 'interested') AND l.priority IN ('high', 'hot') AND l.assigned_to = $1"
                .into(),
            vec![pid.clone()],
        ),
    ];
    for (what, query, sql, params) in &cases {
        let params: Vec<Value> = params.iter().map(Value::from).collect();
        let expected = sql_ids(&format!("{team} AND {sql}"), params);
        let all = sql_ids(team, vec![]).len();
        assert!(
            !expected.is_empty() && expected.len() < all,
            "{what}: {} of {all} narrows",
            expected.len()
        );
        let got = ids(&list_all(&http, &base, &meera, query, 500).await);
        assert_eq!(got, expected, "{what}");
    }

    // Priya's view of the same filters: only hers.
    let hers = ids(&list_all(&http, &base, &priya_tok, &pairs(&[("status", "new")]), 500).await);
    assert_eq!(
        hers,
        sql_ids(
            "l.assigned_to = $1 AND l.status = 'new'",
            vec![pid.clone().into()]
        )
    );
    let by_name = list_all(
        &http,
        &base,
        &priya_tok,
        &pairs(&[("q", &name.to_uppercase())]),
        500,
    )
    .await;
    assert!(by_name.iter().any(|l| l.name == name), "{name} by name");
    assert!(by_name.iter().all(|l| l.assigned_to == Some(priya.id)));

    // The model's query type produces the same answer.
    let typed = LeadListQuery {
        status: vec![LeadStatus::New],
        assigned_to: Some(leadline_model::AssigneeFilter::Unassigned),
        ..LeadListQuery::default()
    };
    let typed_pairs: Pairs = typed
        .to_query_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(
        ids(&list_all(&http, &base, &meera, &typed_pairs, 500).await),
        sql_ids(
            &format!("{team} AND l.status = 'new' AND l.assigned_to IS NULL"),
            vec![]
        )
    );
    server.stop().await.unwrap();
}

/// The formats a person may type one Indian mobile number in.
fn formats(e164: &str) -> Vec<String> {
    let national = e164.strip_prefix("+91").expect("an Indian number");
    let (a, b) = national.split_at(5);
    vec![
        e164.to_owned(),
        format!("+91 {a} {b}"),
        format!("+91-{a}-{b}"),
        format!("{a} {b}"),
        national.to_owned(),
        format!("0{national}"),
        format!(" ({a}) {b} "),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_search_matches_the_whole_number_in_any_format_and_refuses_partial_digits() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let priya = db.user("priya");
    let (priya_tok, meera_tok) = (token(&server, db, "priya"), token(&server, db, "meera"));
    let all = db.tx(decode_all);
    let matching = |phone: &str, scope: &dyn Fn(&Lead) -> bool| -> Vec<Id> {
        let mut found: Vec<&Lead> = all
            .leads
            .iter()
            .filter(|l| {
                scope(l)
                    && (l.phone.as_str() == phone
                        || l.alternate_phone.as_ref().is_some_and(|a| a.as_str() == phone))
            })
            .collect();
        found.sort_by_key(|l| std::cmp::Reverse((l.updated_at, l.id)));
        found.iter().map(|l| l.id).collect()
    };
    let hers = |l: &Lead| l.assigned_to == Some(priya.id);

    // A lead of priya's by its number, typed every which way.
    let mine = all.leads.iter().find(|l| hers(l)).unwrap();
    let expected = matching(mine.phone.as_str(), &hers);
    assert!(expected.contains(&mine.id));
    for q in formats(mine.phone.as_str()) {
        let got = ids(&list_all(&http, &base, &priya_tok, &pairs(&[("q", &q)]), 50).await);
        assert_eq!(got, expected, "q={q:?}");
    }

    // The alternate number finds its lead too (the supervisor searches the whole team).
    let with_alternate = all
        .leads
        .iter()
        .find(|l| l.alternate_phone.is_some())
        .expect("demo leads with an alternate number");
    let alternate = with_alternate.alternate_phone.as_ref().unwrap().as_str();
    assert_ne!(alternate, with_alternate.phone.as_str());
    let expected = matching(alternate, &|_| true);
    assert!(expected.contains(&with_alternate.id));
    for q in formats(alternate) {
        let got = ids(&list_all(&http, &base, &meera_tok, &pairs(&[("q", &q)]), 50).await);
        assert_eq!(got, expected, "alternate q={q:?}");
    }

    // Other telecallers' leads stay out of priya's search, and an unknown number finds nothing.
    let not_hers = all.leads.iter().find(|l| !hers(l)).unwrap();
    assert!(matching(not_hers.phone.as_str(), &hers).is_empty());
    let got = list_all(
        &http,
        &base,
        &priya_tok,
        &pairs(&[("q", not_hers.phone.as_str())]),
        50,
    )
    .await;
    assert!(got.is_empty(), "{got:?}");
    let unknown = (0..1000)
        .map(|n| format!("+9198{n:08}"))
        .find(|p| matching(p, &|_| true).is_empty())
        .unwrap();
    let got = list_all(&http, &base, &meera_tok, &pairs(&[("q", &unknown)]), 50).await;
    assert!(got.is_empty(), "{got:?}");

    // Partial numbers cannot be searched on the server (they are encrypted): 400 naming q.
    let national = mine.phone.as_str().strip_prefix("+91").unwrap();
    for q in [
        national[..5].to_owned(),
        national[2..].to_owned(),
        format!("+91 {}", &national[..5]),
        national[..9].to_owned(),
        "123".to_owned(),
    ] {
        let res = get_page(&http, &base, &priya_tok, &pairs(&[("q", &q)])).await;
        let status = res.status().as_u16();
        let err: ApiError = res.json().await.expect("ApiError");
        assert_eq!((status, err.code.as_str()), (400, "bad_q"), "q={q:?}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_by_id_is_scoped_and_hides_other_leads() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let priya = db.user("priya");
    let arjun = db.user("arjun");
    let mine = sql_ids("l.assigned_to = $1", vec![text(&priya.id)])[0];
    let his = sql_ids("l.assigned_to = $1", vec![text(&arjun.id)])[0];
    let get = |tok: String, id: String| {
        let http = http.clone();
        let url = format!("{base}/api/v1/leads/{id}");
        async move { http.get(url).bearer_auth(tok).send().await.unwrap() }
    };
    let tok = token(&server, db, "priya");

    let res = get(tok.clone(), mine.to_string()).await;
    assert_eq!(res.status(), 200);
    let lead: Lead = res.json().await.unwrap();
    assert_eq!(Some(lead.clone()), db.tx(move |tx| db::lead_by_id(tx, &mine)));

    for id in [his.to_string(), leadline_model::new_id().to_string()] {
        let res = get(tok.clone(), id).await;
        assert_eq!(res.status(), 404);
        let err: ApiError = res.json().await.unwrap();
        assert_eq!(err.code, "not_found");
    }
    let res = get(tok.clone(), "not-a-uuid".into()).await;
    assert_eq!(res.status(), 400);
    // The supervisor sees both; no token is 401.
    let meera = token(&server, db, "meera");
    assert_eq!(get(meera.clone(), his.to_string()).await.status(), 200);
    assert_eq!(get(meera, mine.to_string()).await.status(), 200);
    let res = http.get(format!("{base}/api/v1/leads")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_filters_are_400_naming_the_parameter() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let tok = token(&server, db, "priya");
    let long_q = "x".repeat(500);
    for (name, value, code) in [
        ("cursor", "zzz!", "bad_cursor"),
        ("cursor", "djE6NQ", "bad_cursor"), // "v1:5", a pull cursor
        ("status", "bogus", "bad_status"),
        ("status", "new,bogus", "bad_status"),
        ("priority", "urgent", "bad_priority"),
        ("source", "tv", "bad_source"),
        ("assigned_to", "bob", "bad_assigned_to"),
        ("created_from", "yesterday", "bad_created_from"),
        ("created_to", "2026-13-01T00:00:00Z", "bad_created_to"),
        ("updated_from", "2026-01-01", "bad_updated_from"),
        ("updated_to", "1700000000", "bad_updated_to"),
        ("limit", "0", "bad_limit"),
        ("limit", "-3", "bad_limit"),
        ("limit", "many", "bad_limit"),
        ("q", long_q.as_str(), "bad_q"),
        ("q", "98765", "bad_q"),
    ] {
        let res = get_page(&http, &base, &tok, &pairs(&[(name, value)])).await;
        let status = res.status().as_u16();
        let err: ApiError = res.json().await.expect("ApiError");
        assert_eq!((status, err.code.as_str()), (400, code), "{name}={value:.40}");
    }
    // Normal use stays far under the rate limit: 60 quick pages in a row all answer.
    for _ in 0..60 {
        assert_eq!(
            get_page(&http, &base, &tok, &pairs(&[("limit", "5")]))
                .await
                .status(),
            200
        );
    }
    server.stop().await.unwrap();
}

#[test]
fn the_telecaller_list_is_an_index_range_without_a_sort() {
    let db = TestDb::seeded();
    let priya = db.user("priya");
    let scope = Scope::Assignee(priya.id);
    let after = (chrono::Utc::now(), leadline_model::new_id());
    let explain = |after: Option<(chrono::DateTime<chrono::Utc>, Id)>, seqscan: bool| {
        let scope = scope.clone();
        db.tx(move |tx| {
            if !seqscan {
                tx.batch("SET LOCAL enable_seqscan = off")?;
            }
            db::explain_list_leads(tx, &scope, &LeadFilter::default(), after.as_ref())
        })
    };
    match db.tx(|tx| Ok(tx.backend())) {
        Backend::Sqlite => {
            for (what, after) in [("first page", None), ("next page", Some(after))] {
                let plan = explain(after, true);
                let text = plan.join("\n");
                assert!(
                    text.contains("USING INDEX leads_assigned_updated"),
                    "{what}: {text}"
                );
                assert!(!text.contains("TEMP B-TREE"), "{what}: {text}");
                assert!(
                    !plan.iter().any(|d| d.starts_with("SCAN") && !d.contains("INDEX")),
                    "{what}: {text}"
                );
            }
        }
        Backend::Postgres => {
            // Fresh statistics, as autovacuum would have them on a live database.
            db.tx(|tx| Ok(tx.batch("ANALYZE leads")?));
            for (what, after) in [("first page", None), ("next page", Some(after))] {
                let index_range = |plan: &[String]| {
                    let text = plan.join("\n");
                    text.contains("Index Scan using leads_assigned_updated on leads")
                        && !text.contains("Sort")
                        && !text.contains("Seq Scan")
                };
                let plan = explain(after, true);
                if index_range(&plan) {
                    continue;
                }
                // A planner may legitimately prefer to read 2000 small rows sequentially; the index
                // must then still be usable for the query as written (no sort) when scans are costly.
                eprintln!(
                    "note: {what}: PostgreSQL prefers another plan on the demo data:\n{}",
                    plan.join("\n")
                );
                let forced = explain(after, false);
                assert!(index_range(&forced), "{what}: {}", forced.join("\n"));
            }
        }
    }
}
