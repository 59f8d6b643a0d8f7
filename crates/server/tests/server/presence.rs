//! The team's live status: each desktop's last report, `since` kept while the state holds, a silent
//! desktop offline after the timeout, and who may see whose.

use leadline_model::supervise::{AgentPresence, AgentState, TeamPresence};
use serde_json::json;

use crate::common::{TestDb, client};

fn tok(server: &leadline_server::RunningServer, db: &TestDb, username: &str) -> String {
    server
        .state()
        .keys()
        .issue(&db.user(username), chrono::Utc::now())
        .unwrap()
}

async fn report(base: &str, token: &str, state: &str) -> AgentPresence {
    let res = client()
        .put(format!("{base}/api/v1/presence"))
        .bearer_auth(token)
        .json(&json!({ "state": state }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn team(base: &str, token: &str) -> TeamPresence {
    let res = client()
        .get(format!("{base}/api/v1/presence"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn state_of<'a>(t: &'a TeamPresence, username: &str) -> &'a AgentPresence {
    t.agents.iter().find(|a| a.username == username).unwrap()
}

#[tokio::test]
async fn reports_become_the_teams_live_status() {
    let db = TestDb::copy_of_seeded("presence");
    let server = db.start().await;
    let base = server.base_url();
    let (priya, arjun, meera) = (
        tok(&server, &db, "priya"),
        tok(&server, &db, "arjun"),
        tok(&server, &db, "meera"),
    );

    // Nobody has reported: the five telecallers, all offline, never seen; the supervisor is not listed.
    let t = team(&base, &meera).await;
    assert_eq!(t.agents.len(), 5);
    assert!(
        t.agents
            .iter()
            .all(|a| a.state == AgentState::Offline && a.last_seen.is_none())
    );
    assert!(t.agents.iter().all(|a| a.username != "meera"));
    assert_eq!(
        t.timeout_s,
        leadline_server::routes::presence::PRESENCE_TIMEOUT.as_secs()
    );

    let first = report(&base, &priya, "available").await;
    assert_eq!(first.state, AgentState::Available);
    assert_eq!(first.username, "priya");
    let since = first.since.unwrap();
    // The same state again keeps `since`; a new one starts it anew.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let again = report(&base, &priya, "available").await;
    assert_eq!(again.since, Some(since));
    assert!(again.last_seen.unwrap() > since);
    let on_call = report(&base, &priya, "on_call").await;
    assert!(on_call.since.unwrap() > since);
    report(&base, &arjun, "wrap_up").await;

    let t = team(&base, &meera).await;
    assert_eq!(state_of(&t, "priya").state, AgentState::OnCall);
    assert_eq!(state_of(&t, "arjun").state, AgentState::WrapUp);
    assert_eq!(state_of(&t, "kavya").state, AgentState::Offline);

    // A desktop silent past the timeout is offline since its last report.
    let stale = leadline_server::db::ts(&(chrono::Utc::now() - chrono::Duration::minutes(10)));
    db.execute(
        "UPDATE presence SET reported_at = $1 WHERE user_id = $2",
        vec![
            stale.clone().into(),
            leadline_server::db::id_text(&db.user("arjun").id).into(),
        ],
    );
    let t = team(&base, &meera).await;
    let arjun_now = state_of(&t, "arjun");
    assert_eq!(arjun_now.state, AgentState::Offline);
    assert_eq!(arjun_now.since.map(|s| leadline_server::db::ts(&s)), Some(stale));
    // Signing out says so at once.
    report(&base, &priya, "offline").await;
    assert_eq!(
        state_of(&team(&base, &meera).await, "priya").state,
        AgentState::Offline
    );

    // A bad state is refused; telecallers do not see the team.
    let res = client()
        .put(format!("{base}/api/v1/presence"))
        .bearer_auth(&priya)
        .json(&json!({ "state": "busy" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = client()
        .get(format!("{base}/api/v1/presence"))
        .bearer_auth(&priya)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    server.stop().await.unwrap();
}
