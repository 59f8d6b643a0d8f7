//! Administration: admins manage users, teams and the disposition catalogue; supervisors see their team;
//! telecallers nothing. Deactivation and password resets end a user's sessions at once.

use leadline_model::admin::{DispositionEntry, Team, UserAccount};
use leadline_model::{LoginRequest, LoginResponse, Role, User};
use serde_json::json;

use crate::common::{TestDb, client};

/// Adds an admin to a private database and returns them.
fn add_admin(db: &TestDb) -> User {
    let admin = User {
        id: leadline_model::new_id(),
        username: "asha.admin".into(),
        name: "Asha Admin".into(),
        role: Role::Admin,
        team: None,
    };
    let hash = leadline_server::auth::hash_password("admin-password-1").unwrap();
    let a = admin.clone();
    db.tx(move |tx| leadline_server::db::insert_user(tx, &a, &hash, &chrono::Utc::now()));
    admin
}

async fn login(base: &str, username: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: username.into(),
            password: password.into(),
            device_id: Some("test".into()),
        })
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn admins_manage_users_and_deactivation_ends_sessions() {
    let db = TestDb::copy_of_seeded("admin-users");
    let admin = add_admin(&db);
    let server = db.start().await;
    let base = server.base_url();
    let keys = server.state().keys();
    let admin_tok = keys.issue(&admin, chrono::Utc::now()).unwrap();
    let meera_tok = keys.issue(&db.user("meera"), chrono::Utc::now()).unwrap();
    let priya_tok = keys.issue(&db.user("priya"), chrono::Utc::now()).unwrap();
    let http = client();

    // Who may list.
    let all: Vec<UserAccount> = http
        .get(format!("{base}/api/v1/users"))
        .bearer_auth(&admin_tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    let team: Vec<UserAccount> = http
        .get(format!("{base}/api/v1/users"))
        .bearer_auth(&meera_tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(team.len(), 6);
    assert!(
        team.iter()
            .all(|u| u.user.team.as_deref() == Some("Bandra Showroom"))
    );
    let res = http
        .get(format!("{base}/api/v1/users"))
        .bearer_auth(&priya_tok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Create: only admins; validation; unique usernames; known teams.
    let new_user = |username: &str, team: &str| {
        json!({"username": username, "name": "Neha Joshi", "role": "telecaller", "team": team,
               "password": "a-long-password"})
    };
    let post = |tok: String, body: serde_json::Value| {
        let url = format!("{base}/api/v1/users");
        async move {
            client()
                .post(url)
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        post(meera_tok.clone(), new_user("neha", "Bandra Showroom"))
            .await
            .status(),
        403
    );
    let res = post(admin_tok.clone(), new_user("neha", "Bandra Showroom")).await;
    assert_eq!(res.status(), 201);
    let neha: UserAccount = res.json().await.unwrap();
    assert!(neha.active);
    let res = post(admin_tok.clone(), new_user("NEHA", "Bandra Showroom")).await;
    assert_eq!(res.status(), 409);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "username_taken");
    let res = post(admin_tok.clone(), new_user("neha2", "Nowhere")).await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unknown_team");
    for (body, code) in [
        (
            json!({"username": "x y", "name": "N", "role": "telecaller", "password": "a-long-password"}),
            "bad_username",
        ),
        (
            json!({"username": "ok", "name": " ", "role": "telecaller", "password": "a-long-password"}),
            "bad_name",
        ),
        (
            json!({"username": "ok", "name": "N", "role": "telecaller", "password": "short"}),
            "bad_password",
        ),
        (
            json!({"username": "ok", "name": "N", "role": "supervisor", "password": "a-long-password"}),
            "bad_team",
        ),
        (
            json!({"username": "ok", "name": "N", "role": "emperor", "password": "a-long-password"}),
            "bad_request",
        ),
    ] {
        let res = post(admin_tok.clone(), body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let answer: serde_json::Value = res.json().await.unwrap();
        assert_eq!(answer["code"], code, "{body}");
    }

    // The new user signs in; deactivation ends the session and refuses sign-in; reactivation restores.
    let res = login(&base, "neha", "a-long-password").await;
    assert_eq!(res.status(), 200);
    let session: LoginResponse = res.json().await.unwrap();
    let pull = |tok: String| {
        let url = format!("{base}/api/v1/sync/pull");
        async move { client().get(url).bearer_auth(tok).send().await.unwrap().status() }
    };
    assert_eq!(pull(session.access_token.clone()).await, 200);
    let patch = |tok: String, id: leadline_model::Id, body: serde_json::Value| {
        let url = format!("{base}/api/v1/users/{id}");
        async move {
            client()
                .patch(url)
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        patch(meera_tok.clone(), neha.user.id, json!({"active": false}))
            .await
            .status(),
        403
    );
    let res = patch(admin_tok.clone(), neha.user.id, json!({"active": false})).await;
    assert_eq!(res.status(), 200);
    assert!(!res.json::<UserAccount>().await.unwrap().active);
    assert_eq!(pull(session.access_token.clone()).await, 401);
    assert_eq!(login(&base, "neha", "a-long-password").await.status(), 401);
    let res = patch(
        admin_tok.clone(),
        neha.user.id,
        json!({"active": true, "password": "another-password"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(login(&base, "neha", "a-long-password").await.status(), 401);
    assert_eq!(login(&base, "neha", "another-password").await.status(), 200);

    // Role and team changes; clearing the team with null; unknown ids; self-demotion refused.
    let res = patch(
        admin_tok.clone(),
        neha.user.id,
        json!({"role": "supervisor", "name": "Neha J."}),
    )
    .await;
    let changed: UserAccount = res.json().await.unwrap();
    assert_eq!(
        (changed.user.role, changed.user.name.as_str()),
        (Role::Supervisor, "Neha J.")
    );
    let res = patch(admin_tok.clone(), neha.user.id, json!({"team": null})).await;
    assert_eq!(res.json::<UserAccount>().await.unwrap().user.team, None);
    let res = patch(
        admin_tok.clone(),
        leadline_model::new_id(),
        json!({"name": "Ghost"}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = patch(admin_tok.clone(), admin.id, json!({"active": false})).await;
    assert_eq!(res.status(), 400);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn teams_and_the_disposition_catalogue() {
    let db = TestDb::copy_of_seeded("admin-catalogue");
    let admin = add_admin(&db);
    let server = db.start().await;
    let base = server.base_url();
    let keys = server.state().keys();
    let admin_tok = keys.issue(&admin, chrono::Utc::now()).unwrap();
    let meera_tok = keys.issue(&db.user("meera"), chrono::Utc::now()).unwrap();
    let priya_tok = keys.issue(&db.user("priya"), chrono::Utc::now()).unwrap();
    let http = client();

    let teams: Vec<Team> = http
        .get(format!("{base}/api/v1/teams"))
        .bearer_auth(&meera_tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!((teams[0].name.as_str(), teams[0].members), ("Bandra Showroom", 6));
    let post_team = |tok: &str, name: &str| {
        http.post(format!("{base}/api/v1/teams"))
            .bearer_auth(tok)
            .json(&json!({"name": name}))
            .send()
    };
    assert_eq!(
        post_team(&meera_tok, "Andheri Showroom").await.unwrap().status(),
        403
    );
    assert_eq!(
        post_team(&admin_tok, "Andheri Showroom").await.unwrap().status(),
        201
    );
    assert_eq!(
        post_team(&admin_tok, "Andheri Showroom").await.unwrap().status(),
        409
    );
    assert_eq!(post_team(&admin_tok, "   ").await.unwrap().status(), 400);
    let res = http
        .get(format!("{base}/api/v1/teams"))
        .bearer_auth(&priya_tok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The catalogue: everyone reads active entries; admins edit, deactivate, keep hotkeys unique.
    let catalogue = |tok: String| {
        let url = format!("{base}/api/v1/dispositions");
        async move {
            client()
                .get(url)
                .bearer_auth(tok)
                .send()
                .await
                .unwrap()
                .json::<Vec<DispositionEntry>>()
                .await
                .unwrap()
        }
    };
    let before = catalogue(priya_tok.clone()).await;
    assert_eq!(before.len(), leadline_model::default_catalogue().len());
    let put = |tok: String, code: &str, body: serde_json::Value| {
        let url = format!("{base}/api/v1/dispositions/{code}");
        async move {
            client()
                .put(url)
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let entry = |code: &str, hotkey: Option<u8>, active: bool| {
        json!({"code": code, "label": "Asked for video call", "category": "connected",
               "requires_follow_up": true, "hotkey": hotkey, "position": 99, "active": active})
    };
    assert_eq!(
        put(meera_tok.clone(), "video_call", entry("video_call", None, true))
            .await
            .status(),
        403
    );
    let taken = before.iter().find_map(|d| d.hotkey).unwrap();
    let res = put(
        admin_tok.clone(),
        "video_call",
        entry("video_call", Some(taken), true),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        put(admin_tok.clone(), "video_call", entry("other", None, true))
            .await
            .status(),
        400
    );
    assert_eq!(
        put(admin_tok.clone(), "Video Call", entry("Video Call", None, true))
            .await
            .status(),
        400
    );
    assert_eq!(
        put(
            admin_tok.clone(),
            "video_call",
            entry("video_call", Some(12), true)
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        put(admin_tok.clone(), "video_call", entry("video_call", None, true))
            .await
            .status(),
        200
    );
    assert_eq!(catalogue(priya_tok.clone()).await.len(), before.len() + 1);
    // Deactivated: gone for telecallers, still listed for admins (old call logs name it).
    assert_eq!(
        put(admin_tok.clone(), "video_call", entry("video_call", None, false))
            .await
            .status(),
        200
    );
    assert_eq!(catalogue(priya_tok.clone()).await.len(), before.len());
    let all = catalogue(admin_tok.clone()).await;
    assert!(all.iter().any(|d| d.code == "video_call" && !d.active));
    server.stop().await.unwrap();
}
