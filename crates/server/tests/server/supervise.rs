//! Supervisor resources (`routes::supervise`): bulk assign/transfer with the audit log, the follow-up due
//! filter, call-log lists and CSV export, the follow-up list, and the supervisor list plan. Both backends.

use std::collections::HashSet;

use leadline_model::auth::ApiError;
use leadline_model::sync::{Change, Cursor};
use leadline_model::{CallDirection, CallLog, Id, LeadPage, Role, User};
use leadline_server::db::supervise::BulkOutcome;
use leadline_server::db::{self, LeadFilter, Scope};
use leadline_server::routes::supervise::{AuditPage, CallLogPage, FollowUpPage};
use leadline_server::sql::Value;
use leadline_server::{RunningServer, params};
use serde_json::json;

use super::common::*;

const TEAM: &str = "Bandra Showroom";

/// A filter case: name, query, the SQL condition it equals, and that condition's parameters.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, Vec<Value>);

fn tok(server: &RunningServer, db: &TestDb, username: &str) -> String {
    server
        .state()
        .keys()
        .issue(&db.user(username), chrono::Utc::now())
        .expect("token")
}

fn add_user(db: &TestDb, username: &str, role: Role, team: Option<&str>) -> User {
    let user = User {
        id: leadline_model::new_id(),
        username: username.to_owned(),
        name: username.to_owned(),
        role,
        team: team.map(str::to_owned),
    };
    let hash = leadline_server::auth::hash_password("leadline-demo").unwrap();
    let u = user.clone();
    db.tx(move |tx| db::insert_user(tx, &u, &hash, &chrono::Utc::now()));
    user
}

/// The first column (text) of each row.
fn texts(db: &TestDb, sql: &str, params: Vec<Value>) -> Vec<String> {
    db.query(sql, params)
        .iter()
        .map(|r| r.get::<String>(0).unwrap())
        .collect()
}

fn idt(id: &Id) -> String {
    id.hyphenated().to_string()
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    tok: Option<&str>,
    body: serde_json::Value,
) -> reqwest::Response {
    let mut req = http.post(url).json(&body);
    if let Some(t) = tok {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn get(
    http: &reqwest::Client,
    url: &str,
    tok: Option<&str>,
    query: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http.get(url).query(query);
    if let Some(t) = tok {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn code_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let err: ApiError = res.json().await.expect("ApiError body");
    (status, err.code)
}

async fn login(http: &reqwest::Client, base: &str, username: &str) -> String {
    let res = post(
        http,
        &format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": username, "password": "leadline-demo"}),
    )
    .await;
    assert_eq!(res.status(), 200, "login {username}");
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorisation_matrix_of_every_route() {
    let db = TestDb::copy_of_seeded("sup_matrix");
    add_user(&db, "ada", Role::Admin, None);
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let priya = db.user("priya");
    let arjun = db.user("arjun");
    let lead = texts(
        &db,
        "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
        params![idt(&priya.id)],
    )
    .remove(0);
    let tele = login(&http, &base, "priya").await;
    let sup = login(&http, &base, "meera").await;
    let admin = login(&http, &base, "ada").await;
    let other_tele = login(&http, &base, "arjun").await;
    let who: [(&str, Option<&str>); 4] = [
        ("telecaller", Some(&tele)),
        ("supervisor", Some(&sup)),
        ("admin", Some(&admin)),
        ("no token", None),
    ];
    let assign_body = json!({"lead_ids": [lead], "to": idt(&priya.id), "reason": "matrix"});
    let transfer_body =
        json!({"from": idt(&priya.id), "to": idt(&arjun.id), "status": ["converted"], "reason": "matrix"});
    for (who, token) in who {
        let expect_sup = match who {
            "telecaller" => 403,
            "no token" => 401,
            _ => 200,
        };
        let expect_all = if who == "no token" { 401 } else { 200 };
        let r = post(
            &http,
            &format!("{base}/api/v1/leads/assign"),
            token,
            assign_body.clone(),
        )
        .await;
        assert_eq!(r.status().as_u16(), expect_sup, "{who} assign");
        let r = post(
            &http,
            &format!("{base}/api/v1/leads/transfer"),
            token,
            transfer_body.clone(),
        )
        .await;
        assert_eq!(r.status().as_u16(), expect_sup, "{who} transfer");
        let r = get(&http, &format!("{base}/api/v1/leads/{lead}/audit"), token, &[]).await;
        assert_eq!(r.status().as_u16(), expect_sup, "{who} lead audit");
        let r = get(&http, &format!("{base}/api/v1/audit"), token, &[]).await;
        assert_eq!(r.status().as_u16(), expect_sup, "{who} audit");
        let r = get(
            &http,
            &format!("{base}/api/v1/leads/{lead}/call-logs"),
            token,
            &[],
        )
        .await;
        assert_eq!(r.status().as_u16(), expect_all, "{who} lead call logs");
        let r = get(&http, &format!("{base}/api/v1/call-logs"), token, &[]).await;
        assert_eq!(r.status().as_u16(), expect_all, "{who} call logs");
        let r = get(
            &http,
            &format!("{base}/api/v1/call-logs/export.csv"),
            token,
            &[("limit", "1")],
        )
        .await;
        assert_eq!(r.status().as_u16(), expect_all, "{who} export");
        let r = get(&http, &format!("{base}/api/v1/follow-ups"), token, &[]).await;
        assert_eq!(r.status().as_u16(), expect_all, "{who} follow-ups");
        if expect_all == 401 {
            assert_eq!(code_of(r).await, (401, "unauthorized".to_owned()));
        }
    }
    // Another telecaller does not see priya's lead or its calls.
    let r = get(
        &http,
        &format!("{base}/api/v1/leads/{lead}/call-logs"),
        Some(&other_tele),
        &[],
    )
    .await;
    assert_eq!(code_of(r).await, (404, "not_found".to_owned()));
    let r = post(
        &http,
        &format!("{base}/api/v1/leads/assign"),
        Some(&tele),
        assign_body,
    )
    .await;
    assert_eq!(code_of(r).await, (403, "forbidden".to_owned()));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_assign_by_ids_and_by_filter_is_audited_and_feeds_removals() {
    let db = TestDb::copy_of_seeded("sup_bulk");
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let (priya, arjun, kavya, meera) = (
        db.user("priya"),
        db.user("arjun"),
        db.user("kavya"),
        db.user("meera"),
    );
    let sup = tok(&server, &db, "meera");
    let priya_tok = tok(&server, &db, "priya");
    let (_, priya_cursor) = pull_all(&http, &base, &priya_tok, Cursor::start(), 2000).await;
    let moved = texts(
        &db,
        "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 3",
        params![idt(&priya.id)],
    );
    let url = format!("{base}/api/v1/leads/assign");

    let before = chrono::Utc::now();
    let r = post(
        &http,
        &url,
        Some(&sup),
        json!({"lead_ids": moved, "to": idt(&arjun.id), "reason": "priya on leave"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let out: BulkOutcome = r.json().await.unwrap();
    let after = chrono::Utc::now();
    assert_eq!((out.assigned, out.unchanged), (3, 0));
    let mut got: Vec<String> = out.lead_ids.iter().map(idt).collect();
    got.sort();
    assert_eq!(got, moved);
    for id in &moved {
        let owner = texts(
            &db,
            "SELECT assigned_to FROM leads WHERE id = $1",
            params![id.clone()],
        );
        assert_eq!(owner, vec![idt(&arjun.id)]);
        let rows = db.query(
            "SELECT actor_id, action, from_user, to_user, reason, at FROM lead_audit WHERE lead_id = $1",
            params![id.clone()],
        );
        assert_eq!(rows.len(), 1, "one audit row for {id}");
        let r = &rows[0];
        assert_eq!(r.get::<String>(0).unwrap(), idt(&meera.id));
        assert_eq!(r.get::<String>(1).unwrap(), "assigned");
        assert_eq!(r.get::<String>(2).unwrap(), idt(&priya.id));
        assert_eq!(r.get::<String>(3).unwrap(), idt(&arjun.id));
        assert_eq!(r.get::<String>(4).unwrap(), "priya on leave");
        let at = chrono::DateTime::parse_from_rfc3339(&r.get::<String>(5).unwrap()).unwrap();
        assert!(
            at >= before - chrono::Duration::milliseconds(1) && at <= after,
            "audit time {at}"
        );
    }
    // The lead's audit over HTTP.
    let r = get(
        &http,
        &format!("{base}/api/v1/leads/{}/audit", moved[0]),
        Some(&sup),
        &[],
    )
    .await;
    let page: AuditPage = r.json().await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].reason.as_deref(), Some("priya on leave"));
    assert_eq!(page.entries[0].from_user, Some(priya.id));

    // Priya's next pull removes the three leads.
    let (pages, _) = pull_all(&http, &base, &priya_tok, priya_cursor, 500).await;
    let removed: HashSet<String> = pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::LeadRemoved { lead_id, .. } => Some(idt(lead_id)),
            _ => None,
        })
        .collect();
    assert_eq!(removed, moved.iter().cloned().collect::<HashSet<_>>());

    // Again: nothing changes, nothing is audited.
    let r = post(
        &http,
        &url,
        Some(&sup),
        json!({"lead_ids": moved, "to": idt(&arjun.id), "reason": "again"}),
    )
    .await;
    let out: BulkOutcome = r.json().await.unwrap();
    assert_eq!((out.assigned, out.unchanged, out.lead_ids.len()), (0, 3, 0));
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM lead_audit", vec![]), 3);

    // By filter: the unassigned new leads go to kavya.
    let expected = texts(
        &db,
        "SELECT id FROM leads WHERE assigned_to IS NULL AND status = 'new' ORDER BY id",
        vec![],
    );
    assert!(!expected.is_empty());
    let r = post(
        &http,
        &url,
        Some(&sup),
        json!({"filter": {"status": ["new"], "assigned_to": "none"}, "to": idt(&kavya.id), "reason": "morning batch"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let out: BulkOutcome = r.json().await.unwrap();
    assert_eq!(out.assigned as usize, expected.len());
    assert_eq!(out.lead_ids.iter().map(idt).collect::<Vec<_>>(), expected);
    let audited = texts(
        &db,
        "SELECT lead_id FROM lead_audit WHERE reason = 'morning batch' AND action = 'assigned'
           AND from_user IS NULL AND to_user = $1 AND actor_id = $2 ORDER BY lead_id",
        params![idt(&kavya.id), idt(&meera.id)],
    );
    assert_eq!(audited, expected);

    // Unassigning is audited as such.
    let r = post(
        &http,
        &url,
        Some(&sup),
        json!({"lead_ids": [moved[0]], "to": null, "reason": "back to pool"}),
    )
    .await;
    assert_eq!(r.json::<BulkOutcome>().await.unwrap().assigned, 1);
    assert_eq!(
        texts(
            &db,
            "SELECT action FROM lead_audit WHERE reason = 'back to pool'",
            vec![]
        ),
        vec!["unassigned".to_owned()]
    );
    assert_eq!(
        db.query(
            "SELECT assigned_to, team FROM leads WHERE id = $1",
            params![moved[0].clone()]
        )[0]
        .clone()
        .into_values(),
        vec![Value::Null, Value::Text(TEAM.to_owned())]
    );

    // The audit list: newest first, filters, pages.
    let r = get(
        &http,
        &format!("{base}/api/v1/audit"),
        Some(&sup),
        &[("action", "unassigned")],
    )
    .await;
    let page: AuditPage = r.json().await.unwrap();
    assert_eq!(page.entries.len(), 1);
    let total = db.scalar::<i64>("SELECT count(*) FROM lead_audit", vec![]) as usize;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = get(
            &http,
            &format!("{base}/api/v1/audit"),
            Some(&sup),
            &[("limit", "7"), ("cursor", &cursor)],
        )
        .await;
        let page: AuditPage = r.json().await.unwrap();
        seen.extend(page.entries.iter().map(|e| (e.at, e.id)));
        match page.next_cursor {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, each once");

    // Bad input.
    let long = "x".repeat(501);
    for (body, code) in [
        (
            json!({"lead_ids": [moved[0]], "to": idt(&arjun.id)}),
            "bad_reason",
        ),
        (
            json!({"lead_ids": [moved[0]], "to": idt(&arjun.id), "reason": "  "}),
            "bad_reason",
        ),
        (
            json!({"lead_ids": [moved[0]], "to": idt(&arjun.id), "reason": long}),
            "bad_reason",
        ),
        (json!({"lead_ids": [moved[0]], "reason": "r"}), "bad_to"),
        (
            json!({"lead_ids": [moved[0]], "to": "bob", "reason": "r"}),
            "bad_to",
        ),
        (
            json!({"lead_ids": ["nope"], "to": null, "reason": "r"}),
            "bad_lead_ids",
        ),
        (json!({"lead_ids": [], "to": null, "reason": "r"}), "bad_lead_ids"),
        (
            json!({"lead_ids": [moved[0]], "filter": {}, "to": null, "reason": "r"}),
            "bad_selection",
        ),
        (json!({"to": null, "reason": "r"}), "bad_selection"),
        (
            json!({"filter": {"colour": "red"}, "to": null, "reason": "r"}),
            "bad_filter",
        ),
        (
            json!({"filter": {"status": "bogus"}, "to": null, "reason": "r"}),
            "bad_status",
        ),
        (
            json!({"lead_ids": [moved[0]], "to": idt(&leadline_model::new_id()), "reason": "r"}),
            "unknown_user",
        ),
    ] {
        let r = post(&http, &url, Some(&sup), body.clone()).await;
        assert_eq!(code_of(r).await, (400, code.to_owned()), "{body}");
    }
    let many: Vec<String> = (0..5001).map(|_| idt(&leadline_model::new_id())).collect();
    let r = post(
        &http,
        &url,
        Some(&sup),
        json!({"lead_ids": many, "to": null, "reason": "r"}),
    )
    .await;
    assert_eq!(code_of(r).await, (400, "too_many_leads".to_owned()));
    let r = post(
        &http,
        &url,
        Some(&sup),
        json!({"lead_ids": [idt(&leadline_model::new_id())], "to": null, "reason": "r"}),
    )
    .await;
    assert_eq!(code_of(r).await, (404, "not_found".to_owned()));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_moves_open_leads_and_other_teams_are_out_of_reach() {
    let db = TestDb::copy_of_seeded("sup_transfer");
    let sam = add_user(&db, "sam", Role::Supervisor, Some("Andheri"));
    let tara = add_user(&db, "tara", Role::Telecaller, Some("Andheri"));
    add_user(&db, "ada", Role::Admin, None);
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let (priya, arjun) = (db.user("priya"), db.user("arjun"));
    let sup = tok(&server, &db, "meera");
    let sam_tok = tok(&server, &db, "sam");
    let admin = tok(&server, &db, "ada");
    let open = texts(
        &db,
        "SELECT id FROM leads WHERE assigned_to = $1
           AND status NOT IN ('converted', 'not_interested', 'invalid', 'do_not_call') ORDER BY id",
        params![idt(&priya.id)],
    );
    let closed = texts(
        &db,
        "SELECT id FROM leads WHERE assigned_to = $1
           AND status IN ('converted', 'not_interested', 'invalid', 'do_not_call') ORDER BY id",
        params![idt(&priya.id)],
    );
    assert!(!open.is_empty() && !closed.is_empty());
    let url = format!("{base}/api/v1/leads/transfer");

    // Cross-team: meera cannot hand leads to tara, nor take sam's; sam cannot touch meera's team.
    let body = json!({"from": idt(&priya.id), "to": idt(&tara.id), "reason": "x"});
    assert_eq!(
        code_of(post(&http, &url, Some(&sup), body.clone()).await).await,
        (403, "forbidden".into())
    );
    assert_eq!(
        code_of(post(&http, &url, Some(&sam_tok), body).await).await,
        (403, "forbidden".into())
    );
    let r = post(
        &http,
        &format!("{base}/api/v1/leads/assign"),
        Some(&sam_tok),
        json!({"lead_ids": [open[0]], "to": idt(&tara.id), "reason": "grab"}),
    )
    .await;
    assert_eq!(code_of(r).await, (404, "not_found".into()));
    let r = get(
        &http,
        &format!("{base}/api/v1/leads/{}/audit", open[0]),
        Some(&sam_tok),
        &[],
    )
    .await;
    assert_eq!(code_of(r).await, (404, "not_found".into()));
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM lead_audit", vec![]), 0);
    for (body, code) in [
        (
            json!({"from": idt(&priya.id), "to": idt(&priya.id), "reason": "x"}),
            "bad_to",
        ),
        (json!({"to": idt(&arjun.id), "reason": "x"}), "bad_from"),
        (
            json!({"from": idt(&priya.id), "to": idt(&arjun.id), "status": "nope", "reason": "x"}),
            "bad_status",
        ),
        (
            json!({"from": idt(&priya.id), "to": idt(&arjun.id)}),
            "bad_reason",
        ),
    ] {
        assert_eq!(
            code_of(post(&http, &url, Some(&sup), body.clone()).await).await,
            (400, code.into()),
            "{body}"
        );
    }

    // Meera moves priya's open leads to arjun; the closed ones stay.
    let r = post(
        &http,
        &url,
        Some(&sup),
        json!({"from": idt(&priya.id), "to": idt(&arjun.id), "reason": "rebalance"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let out: BulkOutcome = r.json().await.unwrap();
    assert_eq!(out.lead_ids.iter().map(idt).collect::<Vec<_>>(), open);
    assert_eq!(
        texts(
            &db,
            "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id",
            params![idt(&priya.id)]
        ),
        closed
    );
    assert_eq!(
        texts(
            &db,
            "SELECT lead_id FROM lead_audit WHERE action = 'transferred' AND from_user = $1 AND to_user = $2
               AND reason = 'rebalance' ORDER BY lead_id",
            params![idt(&priya.id), idt(&arjun.id)]
        ),
        open
    );

    // An admin moves a lead across teams: it joins the other team, meera loses it (and is told).
    let meera_tok = tok(&server, &db, "meera");
    let (_, cursor) = pull_all(&http, &base, &meera_tok, Cursor::start(), 2000).await;
    let r = post(
        &http,
        &format!("{base}/api/v1/leads/assign"),
        Some(&admin),
        json!({"lead_ids": [open[0]], "to": idt(&tara.id), "reason": "moved showroom"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        texts(
            &db,
            "SELECT team FROM leads WHERE id = $1",
            params![open[0].clone()]
        ),
        vec!["Andheri"]
    );
    let r = get(
        &http,
        &format!("{base}/api/v1/leads/{}", open[0]),
        Some(&meera_tok),
        &[],
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = get(
        &http,
        &format!("{base}/api/v1/leads/{}/audit", open[0]),
        Some(&sam_tok),
        &[],
    )
    .await;
    let page: AuditPage = r.json().await.unwrap();
    assert_eq!(page.entries.len(), 2, "sam sees the lead's whole history");
    let (pages, _) = pull_all(&http, &base, &meera_tok, cursor, 500).await;
    assert!(
        pages
            .iter()
            .flat_map(|p| &p.changes)
            .any(|c| matches!(c, Change::LeadRemoved { lead_id, .. } if idt(lead_id) == open[0]))
    );
    // Sam's audit list holds the move; meera's does not.
    let r = get(&http, &format!("{base}/api/v1/audit"), Some(&sam_tok), &[]).await;
    let sam_page: AuditPage = r.json().await.unwrap();
    assert_eq!(sam_page.entries.len(), 1);
    assert_eq!(sam_page.entries[0].to_user, Some(tara.id));
    let r = get(
        &http,
        &format!("{base}/api/v1/audit"),
        Some(&meera_tok),
        &[("limit", "500")],
    )
    .await;
    let meera_page: AuditPage = r.json().await.unwrap();
    // Meera keeps the transfer entries of her team (written while the leads were hers).
    assert_eq!(meera_page.entries.len(), open.len());
    let _ = sam;
    server.stop().await.unwrap();
}

/// Pages through a list endpoint; returns each page's items (as JSON) in order.
async fn pages_of(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    query: &[(&str, &str)],
    key: &str,
    limit: u32,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    let limit = limit.to_string();
    loop {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("limit", &limit));
        q.push(("cursor", &cursor));
        let r = get(http, url, Some(token), &q).await;
        assert_eq!(r.status(), 200, "{url} {q:?}");
        let page: serde_json::Value = r.json().await.unwrap();
        let items = page[key].as_array().unwrap().clone();
        assert!(items.len() <= limit.parse().unwrap());
        out.extend(items);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return out,
        }
        assert!(out.len() < 100_000);
    }
}

fn json_ids(items: &[serde_json::Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_due_range_filter_equals_sql() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let sup = tok(&server, db, "meera");
    let dues = texts(
        db,
        "SELECT due_at FROM follow_ups WHERE completed_at IS NULL ORDER BY due_at",
        vec![],
    );
    assert!(dues.len() > 20);
    let (from, to) = (dues[dues.len() / 4].clone(), dues[dues.len() / 2].clone());
    // From the follow-ups themselves, not from the denormalised column.
    let next = "(SELECT min(f.due_at) FROM follow_ups f WHERE f.lead_id = l.id AND f.completed_at IS NULL)";
    let expected = texts(
        db,
        &format!(
            "SELECT l.id FROM leads l WHERE {next} >= $1 AND {next} <= $2 ORDER BY l.updated_at DESC, l.id DESC"
        ),
        params![from.clone(), to.clone()],
    );
    assert!(!expected.is_empty());
    let mut got = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = get(
            &http,
            &format!("{base}/api/v1/leads"),
            Some(&sup),
            &[
                ("follow_up_from", &from),
                ("follow_up_to", &to),
                ("limit", "13"),
                ("cursor", &cursor),
            ],
        )
        .await;
        assert_eq!(r.status(), 200);
        let page: LeadPage = r.json().await.unwrap();
        got.extend(page.leads.iter().map(|l| idt(&l.id)));
        match page.next_cursor {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(got, expected);
    // The denormalised column agrees with the follow-ups for every lead.
    let drift = db.scalar::<i64>(
        &format!(
            "SELECT count(*) FROM leads l WHERE coalesce(l.next_follow_up_at, '') <> coalesce({next}, '')"
        ),
        vec![],
    );
    assert_eq!(drift, 0);
    for (name, code) in [
        ("follow_up_from", "bad_follow_up_from"),
        ("follow_up_to", "bad_follow_up_to"),
    ] {
        let r = get(
            &http,
            &format!("{base}/api/v1/leads"),
            Some(&sup),
            &[(name, "tomorrow")],
        )
        .await;
        assert_eq!(code_of(r).await, (400, code.to_owned()));
    }
    server.stop().await.unwrap();
}

#[test]
fn next_follow_up_follows_new_follow_ups() {
    let db = TestDb::copy_of_seeded("sup_next_fu");
    let priya = db.user("priya");
    let lead: String = texts(
        &db,
        "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
        params![idt(&priya.id)],
    )
    .remove(0);
    let due = chrono::DateTime::parse_from_rfc3339("2001-02-03T04:05:06.000Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let lead_id = Id::parse_str(&lead).unwrap();
    db.tx(move |tx| {
        let seq = db::reserve_seqs(tx, 1)?;
        let f = leadline_model::FollowUp {
            id: leadline_model::new_id(),
            lead_id,
            assigned_to: priya.id,
            due_at: due,
            note: None,
            call_log_id: None,
            completed_at: None,
            created_at: due,
        };
        db::insert_follow_up(tx, &f, &due, seq)
    });
    assert_eq!(
        texts(
            &db,
            "SELECT next_follow_up_at FROM leads WHERE id = $1",
            params![lead]
        ),
        vec!["2001-02-03T04:05:06.000Z"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_log_lists_equal_sql_and_pages_cover_everything_once() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let sup = tok(&server, db, "meera");
    let tele = tok(&server, db, "priya");
    let priya = db.user("priya");
    let pid = idt(&priya.id);
    let url = format!("{base}/api/v1/call-logs");
    let starts = texts(db, "SELECT started_at FROM call_logs ORDER BY started_at", vec![]);
    let (from, to) = (
        starts[starts.len() / 3].clone(),
        starts[starts.len() * 2 / 3].clone(),
    );
    let (name, lead_of_call): (String, String) = {
        let r = &db.query(
            "SELECT l.name, l.id FROM call_logs c JOIN leads l ON l.id = c.lead_id ORDER BY c.id LIMIT 1",
            vec![],
        )[0];
        (r.get(0).unwrap(), r.get(1).unwrap())
    };
    let phone = db
        .tx(move |tx| db::lead_by_id(tx, &Id::parse_str(&lead_of_call).unwrap()))
        .unwrap()
        .phone
        .as_str()
        .to_owned();
    let first = name.split_whitespace().next().unwrap().to_lowercase();
    let order = "ORDER BY c.started_at DESC, c.id DESC";
    let base_sql = "SELECT c.id FROM call_logs c JOIN leads l ON l.id = c.lead_id WHERE l.team = $1";
    let connected = "c.disposition IN (SELECT code FROM dispositions WHERE category = 'connected')";
    let cases: Vec<Case<'_>> = vec![
        ("all", vec![], String::new(), vec![]),
        (
            "telecaller",
            vec![("telecaller", &pid)],
            "AND c.telecaller_id = $2".into(),
            params![pid.clone()],
        ),
        (
            "range",
            vec![("from", &from), ("to", &to)],
            "AND c.started_at >= $2 AND c.started_at <= $3".into(),
            params![from.clone(), to.clone()],
        ),
        (
            "disposition",
            vec![("disposition", "interested,no_answer")],
            "AND c.disposition IN ('interested', 'no_answer')".into(),
            vec![],
        ),
        (
            "direction",
            vec![("direction", "inbound")],
            "AND c.direction = 'inbound'".into(),
            vec![],
        ),
        (
            "connected",
            vec![("connected", "true")],
            format!("AND {connected}"),
            vec![],
        ),
        (
            "not connected",
            vec![("connected", "false")],
            format!("AND NOT {connected}"),
            vec![],
        ),
        (
            "q name",
            vec![("q", &first)],
            "AND lower(l.name) LIKE $2".into(),
            params![format!("%{first}%")],
        ),
        (
            "q phone",
            vec![("q", &phone)],
            "AND (l.phone_bidx = $2 OR l.alternate_phone_bidx = $2)".into(),
            params![pii_keys().blind_index(&phone)],
        ),
    ];
    let total = db.scalar::<i64>("SELECT count(*) FROM call_logs", vec![]) as usize;
    for (what, query, sql, extra) in &cases {
        let mut p = params![TEAM];
        p.extend(extra.iter().cloned());
        let expected = texts(db, &format!("{base_sql} {sql} {order}"), p);
        assert!(!expected.is_empty(), "{what}");
        if *what != "all" {
            assert!(expected.len() < total, "{what} narrows");
        }
        let limit = if *what == "all" { 500 } else { 97 };
        let got = json_ids(&pages_of(&http, &url, &sup, query, "call_logs", limit).await);
        assert_eq!(
            got.len(),
            got.iter().collect::<HashSet<_>>().len(),
            "{what}: each once"
        );
        assert_eq!(got, expected, "{what}");
    }
    // A telecaller sees only her own calls.
    let hers = json_ids(&pages_of(&http, &url, &tele, &[], "call_logs", 500).await);
    assert_eq!(
        hers,
        texts(
            db,
            &format!("SELECT c.id FROM call_logs c WHERE c.telecaller_id = $1 {order}"),
            params![pid.clone()]
        )
    );
    // A lead's calls, whoever made them: one of her leads (a lead she once called may have been
    // reassigned since, and is then out of her scope).
    let lead = texts(
        db,
        "SELECT c.lead_id FROM call_logs c JOIN leads l ON l.id = c.lead_id
         WHERE c.telecaller_id = $1 AND l.assigned_to = $1 ORDER BY c.lead_id LIMIT 1",
        params![pid.clone()],
    )
    .remove(0);
    let page: CallLogPage = get(
        &http,
        &format!("{base}/api/v1/leads/{lead}/call-logs"),
        Some(&tele),
        &[],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        page.call_logs.iter().map(|c| idt(&c.log.id)).collect::<Vec<_>>(),
        texts(
            db,
            &format!("SELECT c.id FROM call_logs c WHERE c.lead_id = $1 {order}"),
            params![lead]
        )
    );
    for (name, value, code) in [
        ("telecaller", "bob", "bad_telecaller"),
        ("from", "yesterday", "bad_from"),
        ("to", "1700000000", "bad_to"),
        ("direction", "sideways", "bad_direction"),
        ("connected", "maybe", "bad_connected"),
        ("q", "98765", "bad_q"),
        ("cursor", "zzz!", "bad_cursor"),
        ("limit", "0", "bad_limit"),
    ] {
        let r = get(&http, &url, Some(&sup), &[(name, value)]).await;
        assert_eq!(code_of(r).await, (400, code.to_owned()), "{name}={value}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_list_equals_sql_and_pages_cover_everything_once() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let sup = tok(&server, db, "meera");
    let tele = tok(&server, db, "priya");
    let pid = idt(&db.user("priya").id);
    let url = format!("{base}/api/v1/follow-ups");
    let now = db::ts(&chrono::Utc::now());
    let dues = texts(db, "SELECT due_at FROM follow_ups ORDER BY due_at", vec![]);
    let (after, before) = (dues[dues.len() / 5].clone(), dues[dues.len() * 4 / 5].clone());
    let order = "ORDER BY f.due_at, f.id";
    let cases: Vec<Case<'_>> = vec![
        ("all", vec![], String::new(), vec![]),
        (
            "open",
            vec![("status", "open")],
            "AND f.completed_at IS NULL".into(),
            vec![],
        ),
        (
            "done",
            vec![("status", "done")],
            "AND f.completed_at IS NOT NULL".into(),
            vec![],
        ),
        (
            "overdue",
            vec![("status", "overdue")],
            "AND f.completed_at IS NULL AND f.due_at < $1".into(),
            params![now.clone()],
        ),
        (
            "range",
            vec![("due_after", &after), ("due_before", &before)],
            "AND f.due_at >= $1 AND f.due_at < $2".into(),
            params![after.clone(), before.clone()],
        ),
        (
            "assigned_to",
            vec![("assigned_to", &pid)],
            "AND f.assigned_to = $1".into(),
            params![pid.clone()],
        ),
    ];
    for (what, query, sql, p) in &cases {
        let expected = texts(
            db,
            &format!("SELECT f.id FROM follow_ups f WHERE 1 = 1 {sql} {order}"),
            p.clone(),
        );
        assert!(!expected.is_empty(), "{what}");
        let got = json_ids(&pages_of(&http, &url, &sup, query, "follow_ups", 41).await);
        assert_eq!(
            got.len(),
            got.iter().collect::<HashSet<_>>().len(),
            "{what}: each once"
        );
        // "overdue" depends on the server's clock: compare what was overdue at both ends.
        if *what == "overdue" {
            assert!(
                got.len() >= expected.len() && got[..expected.len()] == expected[..],
                "{what}"
            );
        } else {
            assert_eq!(got, expected, "{what}");
        }
    }
    let hers = json_ids(&pages_of(&http, &url, &tele, &[], "follow_ups", 500).await);
    assert_eq!(
        hers,
        texts(
            db,
            &format!("SELECT f.id FROM follow_ups f WHERE f.assigned_to = $1 {order}"),
            params![pid]
        )
    );
    let page: FollowUpPage = get(&http, &url, Some(&tele), &[("limit", "1")])
        .await
        .json()
        .await
        .unwrap();
    assert!(!page.follow_ups[0].lead_name.is_empty());
    for (name, value, code) in [
        ("status", "late", "bad_status"),
        ("due_before", "soon", "bad_due_before"),
        ("due_after", "soon", "bad_due_after"),
        ("assigned_to", "me", "bad_assigned_to"),
    ] {
        let r = get(&http, &url, Some(&sup), &[(name, value)]).await;
        assert_eq!(code_of(r).await, (400, code.to_owned()), "{name}={value}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_parses_back_with_quoting_and_formula_defence() {
    let db = TestDb::copy_of_seeded("sup_csv");
    let priya = db.user("priya");
    let lead = texts(
        &db,
        "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
        params![idt(&priya.id)],
    )
    .remove(0);
    let tricky_note = "He said \"call me, later\"\nनमस्ते, धन्यवाद";
    let formula_note = "=HYPERLINK(\"http://evil\",\"x\")";
    db.query(
        "UPDATE leads SET name = $1 WHERE id = $2",
        params!["@SUM(A1:A9) Sharma", lead.clone()],
    );
    let lead_id = Id::parse_str(&lead).unwrap();
    let started = chrono::Utc::now();
    let logs: Vec<CallLog> = [tricky_note, formula_note]
        .iter()
        .enumerate()
        .map(|(i, note)| CallLog {
            id: leadline_model::new_id(),
            lead_id,
            telecaller_id: priya.id,
            direction: CallDirection::Outbound,
            started_at: started + chrono::Duration::seconds(i as i64),
            answered_at: None,
            ended_at: None,
            duration_s: 42,
            disposition: "interested".into(),
            outcome_tags: vec![],
            notes: (*note).to_owned(),
            follow_up: None,
            recording_url: None,
            provider_call_id: Some("-1+1".into()),
            device_id: None,
            quality: None,
        })
        .collect();
    let inserted = logs.clone();
    db.tx(move |tx| {
        for log in &inserted {
            let seq = db::reserve_seqs(tx, 1)?;
            db::insert_call_log(tx, log, &started, seq)?;
        }
        Ok(())
    });
    let server = db.start().await;
    let (base, http) = (server.base_url(), client());
    let sup = tok(&server, &db, "meera");
    let url = format!("{base}/api/v1/call-logs/export.csv");

    for (query, sql, p) in [
        (vec![], "WHERE l.team = $1", params![TEAM]),
        (
            vec![
                ("telecaller", idt(&priya.id)),
                ("direction", "outbound".to_owned()),
            ],
            "WHERE l.team = $1 AND c.telecaller_id = $2 AND c.direction = 'outbound'",
            params![TEAM, idt(&priya.id)],
        ),
    ] {
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = get(&http, &url, Some(&sup), &q).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let cd = r.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(
            cd.starts_with("attachment; filename=\"call-logs-") && cd.ends_with(".csv\""),
            "{cd}"
        );
        let body = r.bytes().await.unwrap();
        let mut reader = csv::Reader::from_reader(body.as_ref());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            leadline_server::routes::supervise::EXPORT_COLUMNS.to_vec()
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        let expected = texts(
            &db,
            &format!(
                "SELECT c.id FROM call_logs c JOIN leads l ON l.id = c.lead_id {sql}
                 ORDER BY c.started_at DESC, c.id DESC"
            ),
            p,
        );
        assert!(
            expected.len() > 1000 || !query.is_empty(),
            "the full export spans several pages"
        );
        assert_eq!(rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(), expected);
        for (i, log) in logs.iter().enumerate() {
            let row = rows
                .iter()
                .find(|r| r[0] == idt(&log.id))
                .expect("inserted call exported");
            assert_eq!(&row[1], db::ts(&log.started_at));
            assert_eq!(&row[2], "'@SUM(A1:A9) Sharma");
            assert!(row[3].starts_with("+91"), "E.164: {}", &row[3]);
            assert_eq!(&row[4], "priya");
            assert_eq!(&row[5], "outbound");
            assert_eq!(&row[7], "42");
            let note = if i == 0 {
                tricky_note.to_owned()
            } else {
                format!("'{formula_note}")
            };
            assert_eq!(&row[8], note);
            assert_eq!(&row[11], "'-1+1");
        }
        // RFC 4180 on the wire: CRLF record ends, the tricky note quoted with doubled quotes.
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with("call_id,started_at,lead_name,"));
        assert!(text.contains("\r\n"));
        assert!(text.contains("\"He said \"\"call me, later\"\"\nनमस्ते, धन्यवाद\""));
    }
    server.stop().await.unwrap();
}

#[test]
fn the_supervisor_list_uses_the_team_index_without_a_sort() {
    let db = TestDb::copy_of_seeded("sup_plan");
    let backend = backend();
    if backend == TestBackend::Postgres {
        db.query("ANALYZE leads", vec![]);
    }
    let scope = Scope::Team(TEAM.to_owned());
    let after = (chrono::Utc::now(), leadline_model::new_id());
    for (what, after) in [("first page", None), ("next page", Some(after))] {
        let scope = scope.clone();
        let plan =
            db.tx(move |tx| db::explain_list_leads(tx, &scope, &LeadFilter::default(), after.as_ref()));
        let text = plan.join("\n");
        match backend {
            TestBackend::Sqlite => {
                assert!(text.contains("USING INDEX leads_team_updated"), "{what}: {text}");
                assert!(!text.contains("TEMP B-TREE"), "{what}: {text}");
            }
            TestBackend::Postgres => {
                assert!(
                    text.contains("Index Scan using leads_team_updated"),
                    "{what}: {text}"
                );
                assert!(!text.contains("Sort"), "{what}: {text}");
            }
        }
    }
}
