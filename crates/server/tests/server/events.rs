//! Real-time events (`GET /api/v1/events`, `POST /api/v1/announcements`): token checks before the
//! upgrade, lead assignment reaching exactly the old and new assignee, resuming from a cursor, announcement
//! permissions, heartbeats, follow-up due events (once, across nodes), and — on PostgreSQL — two server
//! nodes on one database delivering each other's events.

use std::time::Duration;

use chrono::SubsecRound;

use futures_util::{SinkExt, StreamExt};
use leadline_model::auth::ApiError;
use leadline_model::{EventMessage, FollowUp, Id, LoginRequest, LoginResponse, Role, ServerEvent, User};
use leadline_server::db::events::EventTarget;
use leadline_server::events::{EventsConfig, announce_due_follow_ups};
use leadline_server::sql::Value;
use leadline_server::{RunningServer, TokenKeys, db};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::common::*;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a message that must come.
const WAIT: Duration = Duration::from_secs(20);

/// Events config for tests: nothing periodic fires on its own unless a test asks for it.
fn quiet() -> EventsConfig {
    EventsConfig {
        heartbeat: Duration::from_secs(3600),
        follow_up_check: Duration::from_secs(3600),
        retention_check: Duration::from_secs(3600),
        poll: Duration::from_secs(3600),
        ..EventsConfig::default()
    }
}

async fn start_with(db: &TestDb, events: EventsConfig) -> RunningServer {
    let config = leadline_server::ServeConfig {
        events,
        ..db.config()
    };
    leadline_server::start(&config).await.expect("start server")
}

fn mint(server: &RunningServer, user: &User) -> String {
    server
        .state()
        .keys()
        .issue(user, chrono::Utc::now())
        .expect("token")
}

fn ws_url(server: &RunningServer, query: &str) -> String {
    format!("ws://{}/api/v1/events{query}", server.addr())
}

/// Opens an event socket: `token` in the Authorization header (or none), extra `query`.
async fn connect(server: &RunningServer, token: Option<&str>, query: &str) -> Result<Socket, u16> {
    let mut request = ws_url(server, query).into_client_request().unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => {
            assert_eq!(response.status(), 101);
            Ok(socket)
        }
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("websocket connect failed: {e}"),
    }
}

/// Connects (header token, optional cursor) and reads the heartbeat that ends the replay; returns the
/// socket, the replayed events and the heartbeat's cursor.
async fn open(server: &RunningServer, token: &str, cursor: Option<i64>) -> (Socket, Vec<EventMessage>, i64) {
    let query = cursor.map_or(String::new(), |c| format!("?cursor={c}"));
    let mut socket = connect(server, Some(token), &query).await.expect("connect");
    let mut replayed = Vec::new();
    loop {
        let m = next_message(&mut socket).await;
        if m.event == ServerEvent::Heartbeat {
            return (socket, replayed, m.cursor.expect("heartbeat cursor"));
        }
        replayed.push(m);
    }
}

/// The next event message (pings and pongs skipped; tungstenite answers pings as it reads).
async fn next_message(socket: &mut Socket) -> EventMessage {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("no message in time")
            .expect("socket ended")
            .expect("socket error");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).expect("event json"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next message that is not a heartbeat.
async fn next_event(socket: &mut Socket) -> EventMessage {
    loop {
        let m = next_message(socket).await;
        if m.event != ServerEvent::Heartbeat {
            return m;
        }
    }
}

async fn lead_of(server: &RunningServer, user: &User) -> Id {
    let uid = db::id_text(&user.id);
    server
        .state()
        .repo()
        .read(move |tx| {
            let id: String = tx.query_scalar(
                "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
                &leadline_server::params![uid],
            )?;
            Ok::<_, leadline_server::DbError>(Id::parse_str(&id).unwrap())
        })
        .await
        .unwrap()
}

async fn assign(server: &RunningServer, lead: Id, to: &User, by: Option<Id>) {
    let to = to.id;
    server
        .state()
        .repo()
        .write(move |tx| db::assign_lead_by(tx, &lead, Some(&to), by.as_ref(), &chrono::Utc::now()))
        .await
        .unwrap();
}

async fn announce(
    http: &reqwest::Client,
    server: &RunningServer,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let res = http
        .post(format!("{}/api/v1/announcements", server.base_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// A user added to the database (no password: tokens are minted).
async fn add_user(server: &RunningServer, username: &str, role: Role, team: Option<&str>) -> User {
    let user = User {
        id: leadline_model::new_id(),
        username: username.into(),
        name: username.to_uppercase(),
        role,
        team: team.map(str::to_owned),
    };
    let u = user.clone();
    server
        .state()
        .repo()
        .write(move |tx| db::insert_user(tx, &u, leadline_server::auth::DUMMY_HASH, &chrono::Utc::now()))
        .await
        .unwrap();
    user
}

#[tokio::test]
async fn the_token_is_checked_before_the_upgrade() {
    let db = TestDb::copy_of_seeded("events-auth");
    let server = start_with(&db, quiet()).await;
    let priya = db.user("priya");

    assert_eq!(connect(&server, None, "").await.err(), Some(401), "no token");
    let forged = TokenKeys::new(
        b"another-secret-another-secret-0123456789",
        Duration::from_secs(900),
    )
    .unwrap()
    .issue(&priya, chrono::Utc::now())
    .unwrap();
    assert_eq!(
        connect(&server, Some(&forged), "").await.err(),
        Some(401),
        "forged"
    );
    assert_eq!(
        connect(&server, None, &format!("?token={forged}")).await.err(),
        Some(401),
        "forged in the query"
    );
    let expired = server
        .state()
        .keys()
        .issue(&priya, chrono::Utc::now() - chrono::Duration::hours(1))
        .unwrap();
    assert_eq!(
        connect(&server, Some(&expired), "").await.err(),
        Some(401),
        "expired"
    );
    assert_eq!(
        connect(&server, None, "?token=garbage").await.err(),
        Some(401),
        "garbage"
    );

    // A plain GET (no upgrade) with no token is refused as unauthorised too, with the JSON error.
    let res = client()
        .get(format!("{}/api/v1/events", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<ApiError>().await.unwrap().code, "unauthorized");

    // A real sign-in's token works in the header and in the query.
    let login: LoginResponse = client()
        .post(format!("{}/api/v1/auth/login", server.base_url()))
        .json(&LoginRequest {
            username: "priya".into(),
            password: leadline_server::demo::DEMO_PASSWORD.into(),
            device_id: Some("events-test".into()),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut s = connect(&server, Some(&login.access_token), "")
        .await
        .expect("header token");
    assert_eq!(next_message(&mut s).await.event, ServerEvent::Heartbeat);
    let mut s = connect(&server, None, &format!("?token={}", login.access_token))
        .await
        .expect("query token");
    assert_eq!(next_message(&mut s).await.event, ServerEvent::Heartbeat);

    // A bad cursor is a 400 with its code.
    let res = client()
        .get(format!("{}/api/v1/events?cursor=abc", server.base_url()))
        .bearer_auth(&login.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<ApiError>().await.unwrap().code, "bad_cursor");

    // A revoked session's token is refused.
    client()
        .post(format!("{}/api/v1/auth/logout", server.base_url()))
        .bearer_auth(&login.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        connect(&server, Some(&login.access_token), "").await.err(),
        Some(401),
        "revoked session"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn assignment_reaches_the_new_and_the_old_assignee_only() {
    let db = TestDb::copy_of_seeded("events-assign");
    let server = start_with(&db, quiet()).await;
    let (meera, priya, arjun, kavya) = (
        db.user("meera"),
        db.user("priya"),
        db.user("arjun"),
        db.user("kavya"),
    );
    let (mut ps, _, _) = open(&server, &mint(&server, &priya), None).await;
    let (mut as_, _, _) = open(&server, &mint(&server, &arjun), None).await;
    let (mut ks, _, _) = open(&server, &mint(&server, &kavya), None).await;

    let lead = lead_of(&server, &priya).await;
    assign(&server, lead, &arjun, Some(meera.id)).await;

    let removed = next_event(&mut ps).await;
    assert_eq!(removed.event, ServerEvent::LeadRemoved { lead_id: lead });
    let assigned = next_event(&mut as_).await;
    assert_eq!(
        assigned.event,
        ServerEvent::LeadAssigned {
            lead_id: lead,
            by: Some(meera.id)
        }
    );
    assert!(
        assigned.cursor > removed.cursor,
        "ids grow: {assigned:?} after {removed:?}"
    );
    assert!(assigned.at.is_some());

    // Kavya got nothing: the next event she sees is a later team announcement.
    let (status, _) = announce(
        &client(),
        &server,
        &mint(&server, &meera),
        serde_json::json!({"message": "marker"}),
    )
    .await;
    assert_eq!(status, 201);
    let next = next_event(&mut ks).await;
    assert!(
        matches!(&next.event, ServerEvent::Announcement { message, .. } if message == "marker"),
        "kavya saw {next:?}"
    );

    // The events are rows, written with the assignment.
    let kinds: Vec<String> = db
        .query(
            "SELECT kind FROM events WHERE payload LIKE $1 ORDER BY id",
            vec![Value::from(format!("%{lead}%"))],
        )
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    assert_eq!(kinds, ["lead_removed", "lead_assigned"]);

    // Assigning to the current assignee changes nothing and records nothing.
    assign(&server, lead, &arjun, Some(meera.id)).await;
    let count: i64 = db.scalar(
        "SELECT count(*) FROM events WHERE payload LIKE $1",
        vec![Value::from(format!("%{lead}%"))],
    );
    assert_eq!(count, 2);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_reconnecting_client_gets_exactly_the_events_it_missed() {
    let db = TestDb::copy_of_seeded("events-resume");
    let server = start_with(&db, quiet()).await;
    let (priya, arjun, kavya) = (db.user("priya"), db.user("arjun"), db.user("kavya"));
    let token = mint(&server, &priya);
    let (x, y, z) = (
        lead_of(&server, &arjun).await,
        lead_of(&server, &kavya).await,
        lead_of(&server, &db.user("rohit")).await,
    );

    let (mut socket, replayed, _) = open(&server, &token, None).await;
    assert!(replayed.is_empty());
    assign(&server, x, &priya, None).await;
    let first = next_event(&mut socket).await;
    assert_eq!(first.event, ServerEvent::LeadAssigned { lead_id: x, by: None });
    let seen = first.cursor.unwrap();
    socket.close(None).await.unwrap();
    drop(socket);

    // While away: Y comes, X goes, and someone else's lead moves (not for priya).
    assign(&server, y, &priya, None).await;
    assign(&server, x, &arjun, None).await;
    assign(&server, z, &kavya, None).await;

    // Resume with the query-string token, as a browser would.
    let mut socket = connect(&server, None, &format!("?token={token}&cursor={seen}"))
        .await
        .unwrap();
    let a = next_message(&mut socket).await;
    let b = next_message(&mut socket).await;
    let hb = next_message(&mut socket).await;
    assert_eq!(a.event, ServerEvent::LeadAssigned { lead_id: y, by: None });
    assert_eq!(b.event, ServerEvent::LeadRemoved { lead_id: x });
    assert!(seen < a.cursor.unwrap() && a.cursor < b.cursor, "{a:?} {b:?}");
    assert_eq!(hb.event, ServerEvent::Heartbeat, "replay ends with a heartbeat");
    assert!(hb.cursor >= b.cursor);

    // Live after the replay, no duplicates.
    let lead = lead_of(&server, &db.user("divya")).await;
    assign(&server, lead, &priya, None).await;
    let live = next_event(&mut socket).await;
    assert_eq!(
        live.event,
        ServerEvent::LeadAssigned {
            lead_id: lead,
            by: None
        }
    );
    assert!(live.cursor > b.cursor);

    // Reconnecting from the last cursor replays nothing.
    let (_s, replayed, cursor) = open(&server, &token, live.cursor).await;
    assert!(replayed.is_empty(), "{replayed:?}");
    assert!(cursor >= live.cursor.unwrap());

    // A cursor from before everything replays all of priya's events, in order.
    let (_s, replayed, _) = open(&server, &token, Some(0)).await;
    let kinds: Vec<_> = replayed.iter().map(|m| m.event.kind()).collect();
    assert_eq!(
        kinds,
        ["lead_assigned", "lead_assigned", "lead_removed", "lead_assigned"]
    );
    assert!(replayed.windows(2).all(|w| w[0].cursor < w[1].cursor));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_too_far_behind_gets_a_sync_poke_instead_of_a_long_replay() {
    let db = TestDb::copy_of_seeded("events-long-replay");
    let server = start_with(
        &db,
        EventsConfig {
            max_replay: 3,
            ..quiet()
        },
    )
    .await;
    let priya = db.user("priya");
    let token = mint(&server, &priya);
    let (_s, _, start) = open(&server, &token, None).await;
    let now = chrono::Utc::now();
    let ids = server
        .state()
        .repo()
        .write(move |tx| {
            (0..5)
                .map(|_| db::events::record(tx, &EventTarget::User(priya.id), &ServerEvent::SyncPoke, &now))
                .collect::<Result<Vec<i64>, _>>()
        })
        .await
        .unwrap();
    let (_s, replayed, cursor) = open(&server, &token, Some(start)).await;
    let cursors: Vec<_> = replayed.iter().map(|m| m.cursor.unwrap()).collect();
    // Three events, then a sync_poke positioned at the newest event; the heartbeat continues from there.
    assert_eq!(cursors, [ids[0], ids[1], ids[2], ids[4]]);
    assert!(replayed.iter().all(|m| m.event == ServerEvent::SyncPoke));
    assert_eq!(cursor, ids[4]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn announcements_go_to_the_team_or_everyone_and_telecallers_cannot_send_them() {
    let db = TestDb::copy_of_seeded("events-announce");
    let server = start_with(&db, quiet()).await;
    let http = client();
    let (meera, priya) = (db.user("meera"), db.user("priya"));
    let admin = add_user(&server, "boss", Role::Admin, None).await;
    let outsider = add_user(&server, "sana", Role::Telecaller, Some("Andheri Showroom")).await;
    let lone = add_user(&server, "lone", Role::Supervisor, None).await;
    let (mut ps, _, _) = open(&server, &mint(&server, &priya), None).await;
    let (mut os, _, _) = open(&server, &mint(&server, &outsider), None).await;

    let (status, body) = announce(
        &http,
        &server,
        &mint(&server, &priya),
        serde_json::json!({"message": "hi"}),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = announce(
        &http,
        &server,
        &mint(&server, &lone),
        serde_json::json!({"message": "hi"}),
    )
    .await;
    assert_eq!(status, 403, "a supervisor without a team");
    let meera_token = mint(&server, &meera);
    for bad in [
        serde_json::json!({"message": "   "}),
        serde_json::json!({"message": "x".repeat(2001)}),
    ] {
        let (status, body) = announce(&http, &server, &meera_token, bad).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("bad_message")));
    }
    let (status, body) = announce(&http, &server, &meera_token, serde_json::json!({"msg": 1})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let res = http
        .post(format!("{}/api/v1/announcements", server.base_url()))
        .json(&serde_json::json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let (status, body) = announce(
        &http,
        &server,
        &meera_token,
        serde_json::json!({"message": " Team meeting at 5 "}),
    )
    .await;
    assert_eq!(status, 201);
    let sent: EventMessage = serde_json::from_value(body).unwrap();
    let expected = ServerEvent::Announcement {
        message: "Team meeting at 5".into(),
        from: meera.id,
        from_name: meera.name.clone(),
    };
    assert_eq!(sent.event, expected);
    let got = next_event(&mut ps).await;
    assert_eq!((got.event, got.cursor), (expected, sent.cursor));

    let (status, body) = announce(
        &http,
        &server,
        &mint(&server, &admin),
        serde_json::json!({"message": "Diwali hours"}),
    )
    .await;
    assert_eq!(status, 201);
    let sent: EventMessage = serde_json::from_value(body).unwrap();
    // The other team's telecaller missed the team announcement and gets the admin's.
    let got = next_event(&mut os).await;
    assert_eq!(got.cursor, sent.cursor);
    assert!(
        matches!(got.event, ServerEvent::Announcement { ref message, from, .. }
        if message == "Diwali hours" && from == admin.id)
    );
    assert_eq!(next_event(&mut ps).await.cursor, sent.cursor);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn heartbeats_arrive_and_silent_clients_are_dropped() {
    let db = TestDb::copy_of_seeded("events-heartbeat");
    let server = start_with(
        &db,
        EventsConfig {
            heartbeat: Duration::from_millis(300),
            ..quiet()
        },
    )
    .await;
    let token = mint(&server, &db.user("priya"));
    let (mut socket, _, cursor) = open(&server, &token, None).await;

    // A ping frame and a heartbeat message every period; the client answers by reading (auto-pong) and
    // with its own app-level heartbeat.
    let mut pings = 0;
    let mut heartbeats = 0;
    while pings < 2 || heartbeats < 2 {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match frame {
            Message::Ping(_) => pings += 1,
            Message::Text(text) => {
                let m: EventMessage = serde_json::from_str(&text).unwrap();
                assert_eq!(m.event, ServerEvent::Heartbeat);
                assert_eq!(m.cursor, Some(cursor));
                heartbeats += 1;
                socket
                    .send(Message::Text(r#"{"type":"heartbeat"}"#.into()))
                    .await
                    .unwrap();
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    // A client that stops reading (no pongs, nothing) is dropped: a close frame with 4002, or — when the
    // pongs the client sends while catching up hit the closed socket and reset it — the connection ends.
    // A live connection would keep sending frames (and reading answers its pings), so a bound on the
    // frames read tells the two apart.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut outcome = "still open";
    for _ in 0..40 {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("silence, not a drop")
        {
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame.map(|f| f.code), Some(CloseCode::Library(4002)));
                outcome = "closed";
                break;
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => {
                outcome = "ended";
                break;
            }
        }
    }
    assert_ne!(outcome, "still open");
    server.stop().await.unwrap();
}

/// Inserts an open follow-up for `user` on `lead`, due at `due_at`.
async fn add_follow_up(
    server: &RunningServer,
    lead: Id,
    user: &User,
    due_at: chrono::DateTime<chrono::Utc>,
) -> Id {
    let f = FollowUp {
        id: leadline_model::new_id(),
        lead_id: lead,
        assigned_to: user.id,
        due_at,
        note: Some("call back".into()),
        call_log_id: None,
        completed_at: None,
        created_at: chrono::Utc::now(),
    };
    let id = f.id;
    server
        .state()
        .repo()
        .write(move |tx| {
            let seq = db::reserve_seqs(tx, 1)?;
            db::insert_follow_up(tx, &f, &chrono::Utc::now(), seq)
        })
        .await
        .unwrap();
    id
}

fn due_events(db: &TestDb, follow_up: Id) -> i64 {
    db.scalar(
        "SELECT count(*) FROM events WHERE kind = 'follow_up_due' AND payload LIKE $1",
        vec![Value::from(format!("%{follow_up}%"))],
    )
}

#[tokio::test]
async fn follow_ups_that_come_due_are_announced_once() {
    let db = TestDb::copy_of_seeded("events-follow-up");
    let server = start_with(
        &db,
        EventsConfig {
            follow_up_check: Duration::from_millis(200),
            ..quiet()
        },
    )
    .await;
    let priya = db.user("priya");
    let (mut socket, _, _) = open(&server, &mint(&server, &priya), None).await;
    let lead = lead_of(&server, &priya).await;
    // Stored with millisecond precision: compare like with like.
    let due_at = (chrono::Utc::now() - chrono::Duration::minutes(1)).trunc_subsecs(3);
    let f = add_follow_up(&server, lead, &priya, due_at).await;
    // Not yet due, and long overdue (outside the window): never announced.
    let later = add_follow_up(
        &server,
        lead,
        &priya,
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .await;
    let stale = add_follow_up(
        &server,
        lead,
        &priya,
        chrono::Utc::now() - chrono::Duration::days(3),
    )
    .await;

    // The server's periodic check announces it (other seeded follow-ups may come due too: skip those).
    let got = loop {
        let m = next_event(&mut socket).await;
        if matches!(m.event, ServerEvent::FollowUpDue { follow_up_id, .. } if follow_up_id == f) {
            break m;
        }
    };
    assert_eq!(
        got.event,
        ServerEvent::FollowUpDue {
            follow_up_id: f,
            lead_id: lead,
            due_at
        }
    );

    // Checking again — from two "nodes" at once — announces nothing more.
    let (a, b) = (db.repo().await, db.repo().await);
    let window = EventsConfig::default().follow_up_window;
    let now = chrono::Utc::now();
    let (ra, rb) = tokio::join!(
        announce_due_follow_ups(&a, now, window),
        announce_due_follow_ups(&b, now, window)
    );
    let _ = (ra, rb); // either may have lost a race to the server's own check; the count below decides
    assert_eq!(due_events(&db, f), 1);
    assert_eq!(due_events(&db, later), 0);
    assert_eq!(due_events(&db, stale), 0);

    // A fresh follow-up checked from two repos at once is announced exactly once.
    let g = add_follow_up(
        &server,
        lead,
        &priya,
        chrono::Utc::now() - chrono::Duration::seconds(5),
    )
    .await;
    let now = chrono::Utc::now();
    let (ra, rb) = tokio::join!(
        announce_due_follow_ups(&a, now, window),
        announce_due_follow_ups(&b, now, window)
    );
    let _ = (ra, rb);
    assert_eq!(due_events(&db, g), 1);

    // Rescheduled (a new due_at) re-arms it; completed ones are never announced.
    server
        .state()
        .repo()
        .write(move |tx| {
            tx.execute(
                "UPDATE follow_ups SET due_at = $1 WHERE id = $2",
                &leadline_server::params![
                    db::ts(&(chrono::Utc::now() - chrono::Duration::seconds(1))),
                    db::id_text(&f)
                ],
            )?;
            Ok::<_, leadline_server::DbError>(())
        })
        .await
        .unwrap();
    // Created not yet due, then completed and made due in one statement: the server's own check (every
    // 200 ms) never sees it due and open, so any announcement of it would be a bug.
    let done = add_follow_up(
        &server,
        lead,
        &priya,
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .await;
    server
        .state()
        .repo()
        .write(move |tx| {
            tx.execute(
                "UPDATE follow_ups SET completed_at = $1, due_at = $2 WHERE id = $3",
                &leadline_server::params![
                    db::ts(&chrono::Utc::now()),
                    db::ts(&(chrono::Utc::now() - chrono::Duration::seconds(5))),
                    db::id_text(&done)
                ],
            )?;
            Ok::<_, leadline_server::DbError>(())
        })
        .await
        .unwrap();
    announce_due_follow_ups(server.state().repo(), chrono::Utc::now(), window)
        .await
        .ok();
    assert_eq!(due_events(&db, f), 2);
    assert_eq!(due_events(&db, done), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn old_events_are_deleted() {
    let db = TestDb::copy_of_seeded("events-retention");
    let server = start_with(&db, quiet()).await;
    let priya = db.user("priya");
    let repo = server.state().repo().clone();
    let old = chrono::Utc::now() - chrono::Duration::days(8);
    repo.write(move |tx| {
        db::events::record(tx, &EventTarget::User(priya.id), &ServerEvent::SyncPoke, &old)?;
        db::events::record(tx, &EventTarget::All, &ServerEvent::SyncPoke, &chrono::Utc::now())
    })
    .await
    .unwrap();
    let deleted =
        leadline_server::events::delete_old_events(&repo, chrono::Utc::now(), Duration::from_secs(7 * 86400))
            .await
            .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM events", vec![]), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn two_nodes_on_one_postgres_deliver_each_others_events() {
    if backend() != TestBackend::Postgres {
        eprintln!("skipped: two server nodes need PostgreSQL (LEADLINE_TEST_BACKEND=postgres)");
        return;
    }
    let db = TestDb::copy_of_seeded("events-two-nodes");
    // No polling: node B learns of node A's writes only through LISTEN/NOTIFY.
    let a = start_with(&db, quiet()).await;
    let b = start_with(&db, quiet()).await;
    let (meera, priya, arjun) = (db.user("meera"), db.user("priya"), db.user("arjun"));
    let (mut on_b, _, _) = open(&b, &mint(&b, &arjun), None).await;

    let lead = lead_of(&a, &priya).await;
    assign(&a, lead, &arjun, Some(meera.id)).await;
    assert_eq!(
        next_event(&mut on_b).await.event,
        ServerEvent::LeadAssigned {
            lead_id: lead,
            by: Some(meera.id)
        }
    );
    let (status, body) = announce(
        &client(),
        &a,
        &mint(&a, &meera),
        serde_json::json!({"message": "from A"}),
    )
    .await;
    assert_eq!(status, 201);
    let sent: EventMessage = serde_json::from_value(body).unwrap();
    assert_eq!(next_event(&mut on_b).await.cursor, sent.cursor);

    // Node B's listener connection dies: it reconnects and catches up from the last id it saw.
    let killed: i64 = db.scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE query = 'LISTEN leadline_events' AND datname = current_database()) t",
        vec![],
    );
    assert!(killed >= 1, "node B's listener is connected");
    let lead2 = lead_of(&a, &priya).await;
    assign(&a, lead2, &arjun, None).await;
    assert_eq!(
        next_event(&mut on_b).await.event,
        ServerEvent::LeadAssigned {
            lead_id: lead2,
            by: None
        }
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_change_wakes_the_devices_that_pull_the_lead_and_no_other() {
    let db = TestDb::copy_of_seeded("events-pokes");
    let (meera, priya) = (db.user("meera"), db.user("priya"));
    let repo = db.repo().await;
    let uid = db::id_text(&priya.id);
    let (mine, unassigned): (Id, Id) = repo
        .read(move |tx| {
            let mine: String = tx.query_scalar(
                "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 1",
                &leadline_server::params![uid],
            )?;
            let free: String = tx.query_scalar(
                "SELECT id FROM leads WHERE assigned_to IS NULL AND team IS NOT NULL ORDER BY id LIMIT 1",
                &[],
            )?;
            Ok::<_, leadline_server::DbError>((Id::parse_str(&mine).unwrap(), Id::parse_str(&free).unwrap()))
        })
        .await
        .unwrap();
    let pokes = |db: &TestDb| -> Vec<(Option<String>, Option<String>)> {
        db.query(
            "SELECT target_user, target_team FROM events WHERE kind = 'sync_poke' ORDER BY id",
            vec![],
        )
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect()
    };
    db.execute("DELETE FROM events", vec![]);
    // Priya's lead: priya (her feed) and meera (the team's supervisor), not the other telecallers.
    let n = repo
        .write(move |tx| db::events::poke_leads(tx, [mine, mine], &chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(n, 2);
    let mut got = pokes(&db);
    got.sort();
    let mut want = vec![
        (Some(db::id_text(&priya.id)), None),
        (Some(db::id_text(&meera.id)), None),
    ];
    want.sort();
    assert_eq!(got, want);
    // A deactivated supervisor is not woken; an unassigned lead wakes only the team's supervisors.
    db.execute("DELETE FROM events", vec![]);
    let sup = add_supervisor(&db, "sunita", meera.team.as_deref().unwrap());
    db.execute("UPDATE users SET active = 0 WHERE username = 'meera'", vec![]);
    repo.write(move |tx| db::events::poke_leads(tx, [unassigned], &chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(pokes(&db), [(Some(db::id_text(&sup)), None)]);
}

fn add_supervisor(db: &TestDb, username: &str, team: &str) -> Id {
    let user = User {
        id: leadline_model::new_id(),
        username: username.into(),
        name: username.to_uppercase(),
        role: Role::Supervisor,
        team: Some(team.to_owned()),
    };
    let id = user.id;
    db.tx(move |tx| {
        db::insert_user(tx, &user, leadline_server::auth::DUMMY_HASH, &chrono::Utc::now())?;
        Ok(())
    });
    id
}
