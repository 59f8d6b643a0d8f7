//! Analytics and goals: figures equal to independent SQL over the seeded data, hourly buckets in the
//! requested time zone, the leaderboard's order, goals and who may see what.

use leadline_model::analytics::{AnalyticsSummary, Goal, HourlySeries, Leaderboard};
use serde_json::json;

use crate::common::{TestDb, client, seeded_now};

fn tok(server: &leadline_server::RunningServer, db: &TestDb, username: &str) -> String {
    server
        .state()
        .keys()
        .issue(&db.user(username), chrono::Utc::now())
        .unwrap()
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    leadline_server::db::ts(&t)
}

#[tokio::test]
async fn summary_matches_sql_for_each_telecaller() {
    let db = TestDb::seeded();
    let server = db.start().await;
    let base = server.base_url();
    let from = seeded_now() - chrono::Duration::days(30);
    let to = seeded_now();
    let res = client()
        .get(format!("{base}/api/v1/analytics/summary"))
        .bearer_auth(tok(&server, db, "meera"))
        .query(&[("from", ts(from)), ("to", ts(to))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let summary: AnalyticsSummary = res.json().await.unwrap();
    assert_eq!(summary.telecallers.len(), 5, "the team's five telecallers");
    assert_eq!(summary.days, 30);
    let mut total_calls = 0;
    for f in &summary.telecallers {
        let id = leadline_server::db::id_text(&f.user_id);
        let calls: i64 = db.scalar(
            "SELECT count(*) FROM call_logs WHERE telecaller_id = $1 AND started_at >= $2 AND started_at < $3",
            vec![id.clone().into(), ts(from).into(), ts(to).into()],
        );
        let talk: i64 = db.scalar(
            "SELECT CAST(coalesce(sum(duration_s), 0) AS BIGINT) FROM call_logs
             WHERE telecaller_id = $1 AND started_at >= $2 AND started_at < $3",
            vec![id.clone().into(), ts(from).into(), ts(to).into()],
        );
        let connected: i64 = db.scalar(
            "SELECT count(*) FROM call_logs c JOIN dispositions d ON d.code = c.disposition
             WHERE c.telecaller_id = $1 AND c.started_at >= $2 AND c.started_at < $3
               AND d.category = 'connected'",
            vec![id.clone().into(), ts(from).into(), ts(to).into()],
        );
        let conversions: i64 = db.scalar(
            "SELECT count(*) FROM call_logs WHERE telecaller_id = $1 AND started_at >= $2 AND started_at < $3
               AND disposition = 'converted'",
            vec![id.clone().into(), ts(from).into(), ts(to).into()],
        );
        let overdue: i64 = db.scalar(
            "SELECT count(*) FROM follow_ups WHERE assigned_to = $1 AND completed_at IS NULL AND due_at < $2",
            vec![id.clone().into(), ts(chrono::Utc::now()).into()],
        );
        assert!(calls > 0, "{} made calls in the last 30 days", f.username);
        assert_eq!(f.calls, calls, "{}", f.username);
        assert_eq!(f.talk_time_s, talk, "{}", f.username);
        assert_eq!(f.connected, connected, "{}", f.username);
        assert_eq!(f.conversions, conversions, "{}", f.username);
        assert_eq!(f.follow_ups_overdue, overdue, "{}", f.username);
        assert_eq!(f.dispositions.values().sum::<i64>(), calls);
        total_calls += calls;
    }
    assert_eq!(summary.team.calls, total_calls);

    // A telecaller sees only their own figures, and may not ask for someone else's or the team's.
    let priya = tok(&server, db, "priya");
    let res = client()
        .get(format!("{base}/api/v1/analytics/summary"))
        .bearer_auth(&priya)
        .query(&[("from", ts(from)), ("to", ts(to))])
        .send()
        .await
        .unwrap();
    let own: AnalyticsSummary = res.json().await.unwrap();
    assert_eq!(own.telecallers.len(), 1);
    assert_eq!(own.telecallers[0].username, "priya");
    let arjun = db.user("arjun").id.to_string();
    for query in [
        vec![("telecaller", arjun.as_str())],
        vec![("team", "Bandra Showroom")],
    ] {
        let res = client()
            .get(format!("{base}/api/v1/analytics/summary"))
            .bearer_auth(&priya)
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{query:?}");
    }
    // Bad parameters name themselves.
    for (query, code) in [
        (vec![("from", "yesterday")], "bad_from"),
        (vec![("tz_offset_minutes", "17")], "bad_tz_offset_minutes"),
        (
            vec![("from", "2026-01-02T00:00:00Z"), ("to", "2026-01-01T00:00:00Z")],
            "bad_range",
        ),
        (
            vec![("from", "2020-01-01T00:00:00Z"), ("to", "2026-01-01T00:00:00Z")],
            "bad_range",
        ),
    ] {
        let res = client()
            .get(format!("{base}/api/v1/analytics/summary"))
            .bearer_auth(&priya)
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], code, "{query:?}");
    }
    let res = client()
        .get(format!("{base}/api/v1/analytics/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn hourly_buckets_follow_the_time_zone_and_add_up() {
    let db = TestDb::copy_of_seeded("analytics-hourly");
    let server = db.start().await;
    let base = server.base_url();
    let priya = db.user("priya");
    // A call at 04:45 UTC is 10:15 in India (+05:30) and 05:45 in London summer time (+01:00).
    let lead: String = db.scalar(
        "SELECT id FROM leads WHERE assigned_to = $1 LIMIT 1",
        vec![leadline_server::db::id_text(&priya.id).into()],
    );
    let day = chrono::NaiveDate::from_ymd_opt(2030, 3, 4).unwrap();
    let started = day.and_hms_opt(4, 45, 0).unwrap().and_utc();
    let log = leadline_model::CallLog {
        id: leadline_model::new_id(),
        lead_id: lead.parse().unwrap(),
        telecaller_id: priya.id,
        direction: leadline_model::CallDirection::Outbound,
        started_at: started,
        answered_at: Some(started),
        ended_at: Some(started + chrono::Duration::seconds(90)),
        duration_s: 90,
        disposition: "interested".to_owned(),
        outcome_tags: vec![],
        notes: "asked about bangles".to_owned(),
        follow_up: None,
        recording_url: None,
        provider_call_id: None,
        device_id: None,
        quality: None,
    };
    db.tx(move |tx| {
        let seq = leadline_server::db::reserve_seqs(tx, 1)?;
        leadline_server::db::insert_call_log(tx, &log, &started, seq)
    });
    let tok = tok(&server, &db, "priya");
    let from = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let to = from + chrono::Duration::days(1);
    for (tz, hour) in [
        ("330", "2030-03-04T10:00"),
        ("60", "2030-03-04T05:00"),
        ("0", "2030-03-04T04:00"),
    ] {
        let res = client()
            .get(format!("{base}/api/v1/analytics/hourly"))
            .bearer_auth(&tok)
            .query(&[
                ("from", ts(from)),
                ("to", ts(to)),
                ("tz_offset_minutes", tz.to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let series: HourlySeries = res.json().await.unwrap();
        assert_eq!(series.hours.len(), 1, "{tz}: {series:?}");
        assert_eq!(series.hours[0].hour, hour, "{tz}");
        assert_eq!(series.hours[0].calls, 1);
        assert_eq!(series.hours[0].connected, 1);
        assert_eq!(series.hours[0].talk_time_s, 90);
    }
    // Over the seeded range the hours add up to the summary.
    let from = seeded_now() - chrono::Duration::days(7);
    let meera = tok_for(&server, &db, "meera");
    let series: HourlySeries = client()
        .get(format!("{base}/api/v1/analytics/hourly"))
        .bearer_auth(&meera)
        .query(&[("from", ts(from)), ("to", ts(seeded_now()))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary: AnalyticsSummary = client()
        .get(format!("{base}/api/v1/analytics/summary"))
        .bearer_auth(&meera)
        .query(&[("from", ts(from)), ("to", ts(seeded_now()))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(summary.team.calls > 0);
    assert_eq!(
        series.hours.iter().map(|h| h.calls).sum::<i64>(),
        summary.team.calls
    );
    assert_eq!(
        series.hours.iter().map(|h| h.connected).sum::<i64>(),
        summary.team.connected
    );
    server.stop().await.unwrap();
}

fn tok_for(server: &leadline_server::RunningServer, db: &TestDb, username: &str) -> String {
    tok(server, db, username)
}

#[tokio::test]
async fn goals_leaderboard_and_permissions() {
    let db = TestDb::copy_of_seeded("analytics-goals");
    let server = db.start().await;
    let base = server.base_url();
    let meera = tok(&server, &db, "meera");
    let priya = tok(&server, &db, "priya");
    let put = |token: String, body: serde_json::Value| {
        let url = format!("{base}/api/v1/goals");
        async move {
            client()
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = put(meera.clone(), json!({"daily_calls": 60, "daily_conversions": 2})).await;
    assert_eq!(res.status(), 200);
    let priya_id = db.user("priya").id;
    let res = put(
        meera.clone(),
        json!({"user_id": priya_id, "daily_calls": 80, "daily_conversions": 3}),
    )
    .await;
    assert_eq!(res.status(), 200);
    // Setting again replaces.
    let res = put(meera.clone(), json!({"daily_calls": 50, "daily_conversions": 2})).await;
    let goal: Goal = res.json().await.unwrap();
    assert_eq!((goal.daily_calls, goal.user_id), (50, None));
    assert_eq!(
        put(priya.clone(), json!({"daily_calls": 1, "daily_conversions": 0}))
            .await
            .status(),
        403
    );
    let res = put(meera.clone(), json!({"daily_calls": -1, "daily_conversions": 0})).await;
    assert_eq!(res.status(), 400);
    let res = put(
        meera.clone(),
        json!({"team": "Other Showroom", "daily_calls": 1, "daily_conversions": 0}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = put(
        meera.clone(),
        json!({"user_id": leadline_model::new_id(), "daily_calls": 1, "daily_conversions": 0}),
    )
    .await;
    assert_eq!(res.status(), 404);

    let goals: Vec<Goal> = client()
        .get(format!("{base}/api/v1/goals"))
        .bearer_auth(&priya)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(goals.len(), 2);

    // Goal progress over three days: priya's own goal, the others the team default.
    let from = seeded_now() - chrono::Duration::days(3);
    let summary: AnalyticsSummary = client()
        .get(format!("{base}/api/v1/analytics/summary"))
        .bearer_auth(&meera)
        .query(&[("from", ts(from)), ("to", ts(seeded_now()))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for f in &summary.telecallers {
        let expected = if f.username == "priya" { (240, 9) } else { (150, 6) };
        assert_eq!((f.goal_calls, f.goal_conversions), expected, "{}", f.username);
    }

    // The leaderboard ranks by the metric, ties share a rank; telecallers may not see it.
    let board: Leaderboard = client()
        .get(format!("{base}/api/v1/analytics/leaderboard"))
        .bearer_auth(&meera)
        .query(&[
            ("metric", "calls".to_owned()),
            ("from", ts(from)),
            ("to", ts(seeded_now())),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(board.entries.len(), 5);
    for pair in board.entries.windows(2) {
        assert!(pair[0].value >= pair[1].value);
        assert!(pair[0].rank <= pair[1].rank);
        assert_eq!(pair[0].rank == pair[1].rank, pair[0].value == pair[1].value);
    }
    for f in &summary.telecallers {
        let e = board.entries.iter().find(|e| e.user_id == f.user_id).unwrap();
        assert_eq!(e.value, f.calls);
    }
    let res = client()
        .get(format!("{base}/api/v1/analytics/leaderboard"))
        .bearer_auth(&priya)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client()
        .get(format!("{base}/api/v1/analytics/leaderboard?metric=happiness"))
        .bearer_auth(&meera)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    server.stop().await.unwrap();
}
