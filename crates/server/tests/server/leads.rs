//! `GET /api/v1/leads` and `GET /api/v1/leads/{id}` against the seeded demo database, checked against SQL.

use std::collections::HashSet;

use super::common::*;
use leadline_model::auth::ApiError;
use leadline_model::{Id, Lead, LeadListQuery, LeadPage, LeadStatus};
use leadline_server::db::{self, LeadFilter, Scope};

type Pairs = Vec<(String, String)>;

fn pairs(items: &[(&str, &str)]) -> Pairs {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Lead ids from SQL over `leads l`, in the list order.
fn sql_ids(sql_where: &str, params: &[&dyn rusqlite::ToSql]) -> Vec<Id> {
    let conn = read_only(seeded_dir());
    let mut stmt = conn
        .prepare(&format!(
            "SELECT l.id FROM leads l WHERE {sql_where} ORDER BY l.updated_at DESC, l.id DESC"
        ))
        .unwrap();
    stmt.query_map(params, |r| r.get::<_, String>(0))
        .unwrap()
        .map(|s| Id::parse_str(&s.unwrap()).unwrap())
        .collect()
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
    let dir = seeded_dir();
    let server = start(dir).await;
    let (base, http) = (server.base_url(), client());
    let tok = token(&server, dir, "priya");
    let priya = user(dir, "priya");

    let leads = list_all(&http, &base, &tok, &Pairs::new(), 37).await;
    let expected = sql_ids("l.assigned_to = ?1", &[&priya.id.hyphenated().to_string()]);
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
    let meera = token(&server, dir, "meera");
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
    let dir = seeded_dir();
    let server = start(dir).await;
    let (base, http) = (server.base_url(), client());
    let meera = token(&server, dir, "meera");
    let priya_tok = token(&server, dir, "priya");
    let priya = user(dir, "priya");
    let pid = priya.id.hyphenated().to_string();
    let team = "(l.team = 'Bandra Showroom' OR l.assigned_to IN (SELECT id FROM users WHERE team = 'Bandra Showroom'))";

    let conn = read_only(dir);
    let mid_created: String = conn
        .query_row(
            "SELECT created_at FROM leads ORDER BY created_at LIMIT 1 OFFSET 700",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let late_created: String = conn
        .query_row(
            "SELECT created_at FROM leads ORDER BY created_at LIMIT 1 OFFSET 1500",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mid_updated: String = conn
        .query_row(
            "SELECT updated_at FROM leads ORDER BY updated_at LIMIT 1 OFFSET 900",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // A lead of priya's, for the free-text search.
    let (name, phone): (String, String) = conn
        .query_row(
            "SELECT name, phone FROM leads WHERE assigned_to = ?1 ORDER BY id LIMIT 1",
            [&pid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let first_name = name.split_whitespace().next().unwrap().to_lowercase();
    // "+919876543210" → "98765": digits 3..8 of the E.164 number.
    let digits: String = phone
        .chars()
        .filter(char::is_ascii_digit)
        .skip(2)
        .take(5)
        .collect();
    let spaced = format!("+91 {} {}", &phone[3..8], &phone[8..]);

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
            "l.assigned_to = ?1".into(),
            vec![pid.clone()],
        ),
        ("unassigned", pairs(&[("assigned_to", "none")]), "l.assigned_to IS NULL".into(), vec![]),
        (
            "created range",
            pairs(&[("created_from", &mid_created), ("created_to", &late_created)]),
            "l.created_at >= ?1 AND l.created_at <= ?2".into(),
            vec![mid_created.clone(), late_created.clone()],
        ),
        (
            "updated_from",
            pairs(&[("updated_from", &mid_updated)]),
            "l.updated_at >= ?1".into(),
            vec![mid_updated.clone()],
        ),
        (
            "updated_to",
            pairs(&[("updated_to", &mid_updated)]),
            "l.updated_at <= ?1".into(),
            vec![mid_updated.clone()],
        ),
        (
            "q name",
            pairs(&[("q", &first_name)]),
            "l.name LIKE ?1".into(),
            vec![format!("%{first_name}%")],
        ),
        (
            "q phone digits",
            pairs(&[("q", &digits)]),
            "(instr(l.phone, ?1) > 0 OR instr(coalesce(l.alternate_phone, ''), ?1) > 0)".into(),
            vec![digits.clone()],
        ),
        (
            "combined",
            pairs(&[("status", "new,contacted,interested"), ("priority", "high,hot"), ("assigned_to", &pid)]),
            "l.status IN ('new', 'contacted', 'interested') AND l.priority IN ('high', 'hot') AND l.assigned_to = ?1"
                .into(),
            vec![pid.clone()],
        ),
    ];
    for (what, query, sql, params) in &cases {
        let params: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p as &dyn rusqlite::ToSql).collect();
        let expected = sql_ids(&format!("{team} AND {sql}"), &params);
        let all = sql_ids(team, &[]).len();
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
    assert_eq!(hers, sql_ids("l.assigned_to = ?1 AND l.status = 'new'", &[&pid]));
    let by_phone = list_all(&http, &base, &priya_tok, &pairs(&[("q", &spaced)]), 500).await;
    assert!(
        by_phone.iter().any(|l| l.phone.as_str() == phone),
        "{spaced} finds {phone}"
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
            &[]
        )
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_by_id_is_scoped_and_hides_other_leads() {
    let dir = seeded_dir();
    let server = start(dir).await;
    let (base, http) = (server.base_url(), client());
    let priya = user(dir, "priya");
    let arjun = user(dir, "arjun");
    let mine = sql_ids("l.assigned_to = ?1", &[&priya.id.hyphenated().to_string()])[0];
    let his = sql_ids("l.assigned_to = ?1", &[&arjun.id.hyphenated().to_string()])[0];
    let get = |tok: String, id: String| {
        let http = http.clone();
        let url = format!("{base}/api/v1/leads/{id}");
        async move { http.get(url).bearer_auth(tok).send().await.unwrap() }
    };
    let tok = token(&server, dir, "priya");

    let res = get(tok.clone(), mine.to_string()).await;
    assert_eq!(res.status(), 200);
    let lead: Lead = res.json().await.unwrap();
    let conn = read_only(dir);
    assert_eq!(
        Some(lead.clone()),
        db::with_sqlite_conn(&conn, &pii_keys(), |tx| db::lead_by_id(tx, &mine)).unwrap()
    );

    for id in [his.to_string(), leadline_model::new_id().to_string()] {
        let res = get(tok.clone(), id).await;
        assert_eq!(res.status(), 404);
        let err: ApiError = res.json().await.unwrap();
        assert_eq!(err.code, "not_found");
    }
    let res = get(tok.clone(), "not-a-uuid".into()).await;
    assert_eq!(res.status(), 400);
    // The supervisor sees both; no token is 401.
    let meera = token(&server, dir, "meera");
    assert_eq!(get(meera.clone(), his.to_string()).await.status(), 200);
    assert_eq!(get(meera, mine.to_string()).await.status(), 200);
    let res = http.get(format!("{base}/api/v1/leads")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_filters_are_400_naming_the_parameter() {
    let dir = seeded_dir();
    let server = start(dir).await;
    let (base, http) = (server.base_url(), client());
    let tok = token(&server, dir, "priya");
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
    let dir = seeded_dir();
    let conn = read_only(dir);
    let priya = user(dir, "priya");
    let scope = Scope::Assignee(priya.id);
    let after = (chrono::Utc::now(), leadline_model::new_id());
    for (what, after) in [("first page", None), ("next page", Some(&after))] {
        let plan = db::with_sqlite_conn(&conn, &pii_keys(), |tx| {
            db::explain_list_leads(tx, &scope, &LeadFilter::default(), after)
        })
        .unwrap();
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
