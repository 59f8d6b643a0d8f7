//! The authorisation matrix: ONE table stating, for every route the server serves, what each principal
//! may do, and a test that sends every cell to a running server (one per backend) and checks the answer.
//!
//! Principals (the columns, in this order):
//! - `anon`: no credentials at all;
//! - `forged`: a well-formed access token for the admin, signed with another secret;
//! - `priya`: a telecaller of "Bandra Showroom" — every object the rows name is hers (her lead, her call,
//!   her follow-up, her session, her user);
//! - `arjun`: another telecaller of the same team: the objects are *not* his;
//! - `meera`: the supervisor of "Bandra Showroom": the objects are her team's;
//! - `sunil`: a supervisor of another team ("Andheri Showroom", created here): the objects are not his team's;
//! - `asha`: an admin (created here; the demo seed has none). One more admin, `tara`, is a member of priya's
//!   team: a supervisor must not manage her sessions.
//!
//! Tokens come from real sign-ins (`POST /api/v1/auth/login`). Outcomes:
//! - `A200`, `A201`, `A204`, `A101`: allowed, and the handler did its work (exactly that status; 101 is the
//!   WebSocket upgrade);
//! - `D401`: not signed in; `D403`: signed in but the role (or the user named in the body) is refused
//!   (`forbidden`); `H404`: the object is out of the caller's scope and answered as if it did not exist
//!   (`not_found`);
//! - `Refused(status, code)`: refused for what the body names with a documented 4xx that is not 401/403/404;
//! - `PushApplied` / `PushRejected`: `POST /sync/push` answers 200 per batch; the mutation's own status says
//!   whether it was allowed.
//!
//! Every denied cell of a writing route must leave no trace: a fingerprint of the database (the change
//! sequence and the counts and last-change times of every table a route writes) and of the fake Exotel's
//! call log is the same before and after it. Every writing row must also change that fingerprint in at least
//! one allowed cell, so the check can fail. Within a row, denied cells run before allowed ones, and routes
//! that consume what they act on (logout, revoke, complete) get a fresh sign-in, session or follow-up per
//! cell.
//!
//! Completeness: the test reads `GET /api/v1/openapi.json` and fails on any documented operation without a
//! row (and any row the document does not list), so a new route cannot be added without deciding here who
//! may call it. The Exotel webhooks are authenticated by a shared secret, not by a role: they have their own
//! table and principals (right secret, wrong secret, none, an admin's bearer token instead).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::Utc;
use leadline_model::{CallDirection, CallLog, FollowUp, Id, LoginRequest, LoginResponse, Role, User};
use leadline_server::db::{self, DbError, Tx};
use leadline_server::exotel::basic_authorization_header;
use leadline_server::exotel::fake::{FakeExotel, FakeExotelConfig};
use leadline_server::ratelimit::{Limit, RateLimits};
use leadline_server::sql::Value;
use leadline_server::{ExotelSettings, Repo, RunningServer, ServeConfig, TokenKeys};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{TestDb, client};

const PASSWORD: &str = "leadline-demo";
const TEAM: &str = "Bandra Showroom";
const OTHER_TEAM: &str = "Andheri Showroom";
const WEBHOOK_SECRET: &str = "whsec-authz-0123456789abcdef";
const CALLER_ID: &str = "+918047112233";

// ---- The matrix ---------------------------------------------------------------------------------------

/// Who sends a cell (a column of the matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum P {
    Anon,
    Forged,
    Priya,
    Arjun,
    Meera,
    Sunil,
    Asha,
}

const PRINCIPALS: [P; 7] = [
    P::Anon,
    P::Forged,
    P::Priya,
    P::Arjun,
    P::Meera,
    P::Sunil,
    P::Asha,
];

/// What a cell must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum E {
    /// Allowed: this 2xx (or 101) status, the work done.
    Allow(u16),
    Denied401,
    Denied403,
    Hidden404,
    /// Refused for what the body names, with this documented status and code; nothing changes.
    Refused(u16, &'static str),
    /// `POST /sync/push`: 200 and the mutation `applied`.
    PushApplied,
    /// `POST /sync/push`: 200 but the mutation `rejected`; nothing changes.
    PushRejected,
}

const A101: E = E::Allow(101);
const A200: E = E::Allow(200);
const A201: E = E::Allow(201);
const A204: E = E::Allow(204);
const D401: E = E::Denied401;
const D403: E = E::Denied403;
const H404: E = E::Hidden404;
const APPLIED: E = E::PushApplied;
const REJECTED: E = E::PushRejected;

impl E {
    fn allowed(self) -> bool {
        matches!(self, E::Allow(_) | E::PushApplied)
    }
}

/// Health, readiness, metrics and the OpenAPI document: anyone, whatever token they send.
const PUBLIC: [E; 7] = [A200; 7];
/// Any signed-in user; scoping (not refusal) decides what they see.
const SIGNED_IN: [E; 7] = [D401, D401, A200, A200, A200, A200, A200];
/// Supervisors (any team's) and admins.
const SUPERVISORS: [E; 7] = [D401, D401, D403, D403, A200, A200, A200];
/// Admins only.
const ADMINS: [E; 7] = [D401, D401, D403, D403, D403, D403, A200];
/// An object of priya's that priya, her team's supervisor and admins may use; others don't see it.
const PRIYAS: [E; 7] = [D401, D401, A200, H404, A200, H404, A200];

/// The object a row's path (or body) names; fresh ones are made anew for every cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    None,
    /// A lead assigned to priya.
    PriyaLead,
    /// Priya's user id.
    PriyaUser,
    /// A new device session of priya's (a fresh sign-in).
    FreshPriyaSession,
    /// The user id of tara, an admin who is also a member of priya's team.
    TeamAdminUser,
    /// A new device session of tara's.
    FreshTeamAdminSession,
    /// A new open follow-up on priya's lead, assigned to her.
    FreshFollowUp,
    /// A call log of priya's on her lead, with a recording.
    RecordedCall,
    /// A disposition code not yet in the catalogue.
    FreshCode,
    /// A new lead assigned to priya (erasure consumes it).
    FreshLead,
}

/// A request body.
enum Body {
    None,
    Json(Json),
    Multipart(Vec<u8>),
}

/// What a body is built from.
struct Cell<'a> {
    fx: &'a Fx,
    /// The sender (anon and forged send what priya would).
    me: &'a User,
    /// The sender's password (a wrong one for anon and forged).
    password: &'a str,
    /// The refresh token of the sender's fresh sign-in (a made-up one for anon and forged).
    refresh: &'a str,
    /// The target's id or code (see [`T`]).
    target: &'a str,
    /// The current version of priya's lead.
    version: i64,
    /// Unique per cell.
    n: u32,
}

impl Cell<'_> {
    /// A phone number no lead has.
    fn phone(&self) -> String {
        format!("+9170{:08}", 41_000_000 + self.n)
    }
}

type MakeBody = fn(&Cell<'_>) -> Body;

/// One row: a route (with a case, when one route needs several objects), its object, its body and what
/// each principal gets.
struct Row {
    method: &'static str,
    path: &'static str,
    case: &'static str,
    target: T,
    body: MakeBody,
    /// Each principal signs in anew for this cell (the route ends or rotates the session).
    fresh_login: bool,
    expect: [E; 7],
}

fn no_body(_: &Cell<'_>) -> Body {
    Body::None
}

fn row(method: &'static str, path: &'static str, target: T, body: MakeBody, expect: [E; 7]) -> Row {
    Row {
        method,
        path,
        case: "",
        target,
        body,
        fresh_login: false,
        expect,
    }
}

impl Row {
    fn case(mut self, case: &'static str) -> Self {
        self.case = case;
        self
    }

    fn fresh_login(mut self) -> Self {
        self.fresh_login = true;
        self
    }
}

fn csv(c: &Cell<'_>, fields: &[(&str, &str)]) -> Body {
    let file = format!("name,phone\r\nAuthz import {},{}\r\n", c.n, c.phone());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{file}\r\n--{BOUNDARY}--\r\n"
        )
        .as_bytes(),
    );
    Body::Multipart(body)
}

const BOUNDARY: &str = "authz-matrix-boundary-41f0";

/// The matrix. Columns: anon, forged, priya, arjun, meera, sunil (other team), asha (admin).
#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    vec![
        // ---- public
        row("get", "/healthz", T::None, no_body, PUBLIC),
        row("get", "/readyz", T::None, no_body, PUBLIC),
        row("get", "/metrics", T::None, no_body, PUBLIC),
        row("get", "/api/v1/openapi.json", T::None, no_body, PUBLIC),
        row("get", "/api/v1/version", T::None, no_body, PUBLIC),
        // In-app updates: public (the packages are signed); this server serves none.
        row("get", "/api/v1/updates/{target}/{arch}/{current_version}", T::None, no_body, [A204; 7]),
        row("get", "/api/v1/updates/files/{name}", T::None, no_body, [H404; 7]),

        // ---- auth and sessions (login and refresh: the credential is the body; anon and forged send a
        // wrong password / an unknown refresh token)
        row("post", "/api/v1/auth/login", T::None,
            |c| Body::Json(json!({"username": c.me.username, "password": c.password, "device_id": "authz"})),
            //  anon  forged  priya  arjun  meera  sunil  asha
            [D401, D401, A200, A200, A200, A200, A200]),
        row("post", "/api/v1/auth/refresh", T::None,
            |c| Body::Json(json!({"refresh_token": c.refresh})),
            [D401, D401, A200, A200, A200, A200, A200]).fresh_login(),
        row("post", "/api/v1/auth/logout", T::None, no_body,
            [D401, D401, A204, A204, A204, A204, A204]).fresh_login(),
        row("get", "/api/v1/users/{id}/sessions", T::PriyaUser, no_body,
            [D401, D401, A200, D403, A200, D403, A200]),
        row("post", "/api/v1/sessions/{id}/revoke", T::FreshPriyaSession, no_body,
            [D401, D401, A200, D403, A200, D403, A200]),
        // A supervisor manages the sessions of their team's telecallers, not those of an admin who is in
        // the team (nor a fellow supervisor's).
        row("get", "/api/v1/users/{id}/sessions", T::TeamAdminUser, no_body, ADMINS)
            .case("an admin in priya's team"),
        row("post", "/api/v1/sessions/{id}/revoke", T::FreshTeamAdminSession, no_body, ADMINS)
            .case("an admin in priya's team"),

        // ---- sync
        row("get", "/api/v1/sync/pull?limit=20", T::None, no_body, SIGNED_IN),
        row("post", "/api/v1/sync/push", T::None,
            |c| Body::Json(json!({"protocol": leadline_model::sync::PROTOCOL_VERSION, "device_id": "authz",
                "mutations": [{"client_mutation_id": leadline_model::new_id(), "created_at": Utc::now(),
                    "op": "update_lead", "data": {"lead_id": c.fx.priya_lead, "base_version": c.version,
                    "patch": {"city": format!("Push {}", c.n)}}}]})),
            [D401, D401, APPLIED, REJECTED, APPLIED, REJECTED, APPLIED]),

        // ---- leads
        row("get", "/api/v1/leads", T::None, no_body, SIGNED_IN),
        row("get", "/api/v1/leads/{id}", T::PriyaLead, no_body, PRIYAS),
        row("patch", "/api/v1/leads/{id}", T::PriyaLead,
            |c| Body::Json(json!({"version": c.version, "patch": {"city": format!("Authz {}", c.n)}})),
            PRIYAS),
        row("post", "/api/v1/leads", T::None,
            |c| Body::Json(json!({"name": format!("Authz lead {}", c.n), "phone": c.phone()})),
            [D401, D401, D403, D403, A201, A201, A201]),
        row("post", "/api/v1/leads", T::None,
            |c| Body::Json(json!({"name": format!("Authz lead {}", c.n), "phone": c.phone(),
                "assigned_to": c.fx.priya.id})),
            [D401, D401, D403, D403, A201, E::Refused(400, "bad_assigned_to"), A201])
            .case("assigned to priya"),
        row("post", "/api/v1/leads/assign", T::None,
            |c| Body::Json(json!({"lead_ids": [c.fx.spare_lead], "to": c.fx.kavya, "reason": "authz matrix"})),
            [D401, D401, D403, D403, A200, D403, A200]),
        row("post", "/api/v1/leads/transfer", T::None,
            |c| Body::Json(json!({"from": c.fx.rohit, "to": c.fx.divya, "status": "visit_scheduled",
                "reason": "authz matrix"})),
            [D401, D401, D403, D403, A200, D403, A200]),
        row("get", "/api/v1/leads/{id}/audit", T::PriyaLead, no_body,
            [D401, D401, D403, D403, A200, H404, A200]),
        row("get", "/api/v1/audit", T::None, no_body, SUPERVISORS),
        row("get", "/api/v1/leads/{id}/call-logs", T::PriyaLead, no_body, PRIYAS),

        // ---- calls
        row("get", "/api/v1/call-logs", T::None, no_body, SIGNED_IN),
        row("get", "/api/v1/call-logs/export.csv?from={since}", T::None, no_body, SIGNED_IN),
        row("post", "/api/v1/call-logs", T::None,
            |c| Body::Json(call_log_body(c, c.me.id)),
            [D401, D401, A201, H404, A201, H404, A201])
            .case("on priya's lead, as the sender"),
        row("post", "/api/v1/call-logs", T::None,
            |c| Body::Json(call_log_body(c, c.fx.priya.id)),
            [D401, D401, A201, D403, A201, D403, A201])
            .case("on priya's lead, as priya"),
        row("get", "/api/v1/call-logs/{id}/recording", T::RecordedCall, no_body, PRIYAS),
        row("post", "/api/v1/calls/click-to-call", T::None,
            |c| Body::Json(json!({"lead_id": c.fx.priya_lead})),
            PRIYAS),

        // ---- follow-ups
        row("get", "/api/v1/follow-ups", T::None, no_body, SIGNED_IN),
        row("post", "/api/v1/follow-ups", T::None,
            |c| Body::Json(json!({"id": leadline_model::new_id(), "lead_id": c.fx.priya_lead,
                "assigned_to": c.me.id, "due_at": Utc::now() + chrono::Duration::days(1),
                "created_at": Utc::now() - chrono::Duration::minutes(1)})),
            [D401, D401, A201, H404, A201, H404, A201]),
        row("post", "/api/v1/follow-ups/{id}/complete", T::FreshFollowUp, no_body, PRIYAS),
        row("post", "/api/v1/follow-ups/{id}/reschedule", T::FreshFollowUp,
            |_| Body::Json(json!({"due_at": Utc::now() + chrono::Duration::days(2)})),
            PRIYAS),

        // ---- analytics and goals
        row("get", "/api/v1/analytics/summary", T::None, no_body, SIGNED_IN),
        row("get", "/api/v1/analytics/summary?telecaller={priya}", T::None, no_body,
            [D401, D401, A200, D403, A200, H404, A200]),
        row("get", "/api/v1/analytics/hourly", T::None, no_body, SIGNED_IN),
        row("get", "/api/v1/analytics/hourly?telecaller={priya}", T::None, no_body,
            [D401, D401, A200, D403, A200, H404, A200]),
        row("get", "/api/v1/analytics/leaderboard", T::None, no_body, SUPERVISORS),
        row("get", "/api/v1/analytics/leaderboard?team=Bandra%20Showroom", T::None, no_body,
            [D401, D401, D403, D403, A200, D403, A200]),
        row("get", "/api/v1/goals", T::None, no_body, SIGNED_IN),
        row("get", "/api/v1/goals?team=Bandra%20Showroom", T::None, no_body,
            [D401, D401, A200, A200, A200, D403, A200]),
        row("put", "/api/v1/goals", T::None,
            |_| Body::Json(json!({"team": TEAM, "daily_calls": 40, "daily_conversions": 3})),
            [D401, D401, D403, D403, A200, D403, A200]),

        // ---- administration
        row("get", "/api/v1/users", T::None, no_body, SUPERVISORS),
        row("post", "/api/v1/users", T::None,
            |c| Body::Json(json!({"username": format!("authz-user-{}", c.n), "name": "Authz User",
                "password": "authz-password-1", "role": "telecaller", "team": TEAM})),
            [D401, D401, D403, D403, D403, D403, A201]),
        row("patch", "/api/v1/users/{id}", T::PriyaUser,
            |c| Body::Json(json!({"name": format!("Priya Authz {}", c.n)})),
            ADMINS),
        row("get", "/api/v1/teams", T::None, no_body, SUPERVISORS),
        row("post", "/api/v1/teams", T::None,
            |c| Body::Json(json!({"name": format!("Authz Team {}", c.n)})),
            [D401, D401, D403, D403, D403, D403, A201]),
        row("get", "/api/v1/dispositions", T::None, no_body, SIGNED_IN),
        row("put", "/api/v1/dispositions/{code}", T::FreshCode,
            |c| Body::Json(json!({"code": c.target, "label": "Authz", "category": "connected",
                "requires_follow_up": false, "position": 90, "active": true})),
            ADMINS),

        // ---- events
        row("get", "/api/v1/events", T::None, no_body, [D401, D401, A101, A101, A101, A101, A101]),
        row("post", "/api/v1/announcements", T::None,
            |c| Body::Json(json!({"message": format!("authz matrix {}", c.n)})),
            [D401, D401, D403, D403, A201, A201, A201]),

        // ---- presence
        row("put", "/api/v1/presence", T::None, |_| Body::Json(json!({"state": "on_call"})), SIGNED_IN),
        row("get", "/api/v1/presence", T::None, no_body, [D401, D401, D403, D403, A200, A200, A200]),
        row("get", "/api/v1/presence?team=Bandra%20Showroom", T::None, no_body,
            [D401, D401, D403, D403, A200, D403, A200]),

        // ---- imports
        // ---- data protection
        row("post", "/api/v1/privacy/export", T::PriyaLead,
            |c| Body::Json(json!({"person": {"lead_id": c.target}})), ADMINS),
        row("post", "/api/v1/privacy/erase", T::FreshLead,
            |c| Body::Json(json!({"person": {"lead_id": c.target}, "reason": "authz matrix"})), ADMINS),
        row("post", "/api/v1/import/csv", T::None, |c| csv(c, &[]),
            [D401, D401, D403, D403, A200, A200, A200]),
        row("post", "/api/v1/import/csv", T::None, |c| csv(c, &[("assign_to", "priya")]),
            [D401, D401, D403, D403, A200, E::Refused(400, "bad_assign_to"), A200])
            .case("assigned to priya"),
        row("post", "/api/v1/import/sheets", T::None,
            |_| Body::Json(json!({"spreadsheet_id": "sheet-ok", "range": "Leads!A1:D"})),
            [D401, D401, D403, D403, A200, A200, A200]),
    ]
}

fn call_log_body(c: &Cell<'_>, telecaller: Id) -> Json {
    json!({"id": leadline_model::new_id(), "lead_id": c.fx.priya_lead, "telecaller_id": telecaller,
        "direction": "outbound", "started_at": Utc::now() - chrono::Duration::minutes(5),
        "disposition": c.fx.disposition})
}

/// Who calls a webhook (the webhook matrix's columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum W {
    /// The configured secret.
    Right,
    /// Another secret.
    Wrong,
    /// No secret.
    Missing,
    /// An admin's valid bearer token (and a wrong secret): a role token opens no webhook.
    AdminBearer,
}

const WEBHOOK_CALLERS: [W; 4] = [W::Right, W::Wrong, W::Missing, W::AdminBearer];

/// The Exotel StatusCallback webhooks. Columns: right secret, wrong secret, none, admin bearer token.
#[rustfmt::skip]
fn webhook_matrix() -> Vec<(&'static str, &'static str, [E; 4])> {
    vec![
        // The secret is the last path segment; without one the path names no route.
        ("post", "/api/v1/webhooks/exotel/status/{secret}", [A200, D401, H404, D401]),
        // HTTP Basic `exotel:<secret>`.
        ("post", "/api/v1/webhooks/exotel/status", [A200, D401, D401, D401]),
    ]
}

// ---- The world the matrix runs in ---------------------------------------------------------------------

/// The fixtures: users, objects and tokens.
struct Fx {
    base: String,
    /// One client for every request (building one costs more than a request).
    http: reqwest::Client,
    repo: Repo,
    priya: User,
    arjun: User,
    meera: User,
    sunil: User,
    asha: User,
    /// An admin who is also a member of priya's team.
    tara: User,
    kavya: Id,
    rohit: Id,
    divya: Id,
    /// Priya's lead every row names.
    priya_lead: Id,
    /// Another lead of hers, for the bulk assignment.
    spare_lead: Id,
    /// A call log of hers with a recording.
    recorded_call: Id,
    /// An active disposition that needs no follow-up.
    disposition: String,
    /// The principals' access tokens (none for anon; forged for forged).
    tokens: Vec<(P, Option<String>)>,
}

impl Fx {
    fn user(&self, p: P) -> &User {
        match p {
            P::Anon | P::Forged | P::Priya => &self.priya,
            P::Arjun => &self.arjun,
            P::Meera => &self.meera,
            P::Sunil => &self.sunil,
            P::Asha => &self.asha,
        }
    }

    fn token(&self, p: P) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(q, _)| *q == p)
            .and_then(|(_, t)| t.as_deref())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> LoginResponse {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            device_id: Some("authz-matrix".to_owned()),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "sign-in of {username}");
    res.json().await.unwrap()
}

/// A user created directly in the database (the admin API needs an admin first).
fn add_user(db: &TestDb, username: &str, name: &str, role: Role, team: Option<&str>) -> User {
    let user = User {
        id: leadline_model::new_id(),
        username: username.to_owned(),
        name: name.to_owned(),
        role,
        team: team.map(str::to_owned),
    };
    let hash = leadline_server::auth::hash_password(PASSWORD).unwrap();
    let u = user.clone();
    db.tx(move |tx| db::insert_user(tx, &u, &hash, &Utc::now()));
    user
}

/// A host serving a recording (the call log's `recording_url` points here).
async fn recording_host() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/rec/{file}",
        axum::routing::get(|| async { ([("content-type", "audio/mpeg")], &b"ID3-authz-matrix"[..]) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn first_ids(tx: &mut Tx<'_>, sql: &str, params: &[Value]) -> Result<Vec<Id>, DbError> {
    Ok(tx
        .query(sql, params)?
        .iter()
        .map(|r| Id::parse_str(&r.get::<String>(0).unwrap()).unwrap())
        .collect())
}

/// The database's fingerprint: the change sequence (every synced write), and the counts and last-change
/// times of the tables the routes write that are not synced; plus priya's lead's version.
async fn fingerprint(repo: &Repo, priya_lead: Id) -> (Vec<String>, i64) {
    repo.read(move |tx| -> Result<(Vec<String>, i64), DbError> {
        let mut out = Vec::new();
        for sql in [
            // Not `change_seq`: event ids come from it too, and the follow-up reminder task records events.
            "SELECT CAST(COALESCE(max(seq), 0) AS TEXT) FROM leads",
            "SELECT CAST(COALESCE(max(seq), 0) AS TEXT) FROM call_logs",
            "SELECT CAST(COALESCE(max(seq), 0) AS TEXT) FROM follow_ups",
            "SELECT CAST(count(*) AS TEXT) || ' ' || CAST(COALESCE(sum(active), 0) AS TEXT) || ' ' || \
             COALESCE(max(updated_at), '') || ' ' || CAST(COALESCE(sum(length(name)), 0) AS TEXT) FROM users",
            "SELECT CAST(count(*) AS TEXT) FROM teams",
            "SELECT CAST(count(*) AS TEXT) || ' ' || CAST(COALESCE(sum(length(label)), 0) AS TEXT) \
             FROM dispositions",
            "SELECT CAST(count(*) AS TEXT) || ' ' || COALESCE(max(updated_at), '') FROM goals",
            "SELECT CAST(count(*) AS TEXT) || ' ' || CAST(count(revoked_at) AS TEXT) FROM sessions",
            "SELECT CAST(count(*) AS TEXT) FROM used_refresh_tokens",
            "SELECT CAST(COALESCE(max(id), 0) AS TEXT) FROM events WHERE kind = 'announcement'",
            "SELECT CAST(count(*) AS TEXT) FROM exotel_callbacks",
            "SELECT CAST(count(*) AS TEXT) FROM lead_audit",
            "SELECT CAST(count(*) AS TEXT) || ' ' || COALESCE(max(reported_at), '') FROM presence",
            "SELECT CAST(count(*) AS TEXT) || ' ' || CAST(count(completed_at) AS TEXT) || ' ' || \
             COALESCE(max(updated_at), '') FROM follow_ups",
            "SELECT CAST(count(*) AS TEXT) FROM call_logs",
            "SELECT CAST(count(*) AS TEXT) FROM leads",
            "SELECT CAST(count(*) AS TEXT) FROM privacy_log",
        ] {
            out.push(tx.query_scalar::<String>(sql, &[])?);
        }
        let version = tx.query_scalar::<i64>(
            "SELECT version FROM leads WHERE id = $1",
            &[Value::from(db::id_text(&priya_lead))],
        )?;
        Ok((out, version))
    })
    .await
    .unwrap()
}

/// What a cell got: the status and, for JSON answers, the body.
struct Answer {
    status: u16,
    body: Json,
}

async fn send(
    fx: &Fx,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    extra_header: Option<(&str, String)>,
    body: Body,
) -> Answer {
    let url = format!("{}{path}", fx.base);
    if path.starts_with("/api/v1/events") {
        // The real WebSocket handshake.
        let ws = url.replacen("http://", "ws://", 1);
        let mut request = ws.into_client_request().unwrap();
        if let Some(token) = bearer {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        return match tokio_tungstenite::connect_async(request).await {
            Ok((mut socket, response)) => {
                let _ = socket.close(None).await;
                Answer {
                    status: response.status().as_u16(),
                    body: Json::Null,
                }
            }
            Err(WsError::Http(response)) => Answer {
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Json::Null),
            },
            Err(e) => panic!("websocket handshake failed: {e}"),
        };
    }
    let http = &fx.http;
    let mut req = match method {
        "get" => http.get(&url),
        "post" => http.post(&url),
        "put" => http.put(&url),
        "patch" => http.patch(&url),
        "delete" => http.delete(&url),
        other => panic!("method {other}"),
    };
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if let Some((name, value)) = extra_header {
        req = req.header(name, value);
    }
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(&v),
        Body::Multipart(bytes) => req
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(bytes),
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Json::Null),
    }
}

/// Why an answer does not match `expect`, if it does not.
fn mismatch(expect: E, got: &Answer) -> Option<String> {
    let code = got.body["code"].as_str().unwrap_or_default();
    let ok = match expect {
        E::Allow(s) => got.status == s,
        E::Denied401 => got.status == 401,
        E::Denied403 => got.status == 403 && code == "forbidden",
        E::Hidden404 => got.status == 404 && code == "not_found",
        E::Refused(s, c) => got.status == s && code == c,
        E::PushApplied | E::PushRejected => {
            let want = if expect == E::PushApplied {
                "applied"
            } else {
                "rejected"
            };
            got.status == 200 && got.body["results"][0]["status"] == want
        }
    };
    (!ok).then(|| format!("expected {expect:?}, got {} {}", got.status, got.body))
}

async fn setup() -> (TestDb, RunningServer, FakeExotel, Fx) {
    let db = TestDb::copy_of_seeded("authz-matrix");
    let asha = add_user(&db, "asha.admin", "Asha Admin", Role::Admin, None);
    let sunil = add_user(&db, "sunil", "Sunil Rao", Role::Supervisor, Some(OTHER_TEAM));
    add_user(&db, "ravi", "Ravi Kumar", Role::Telecaller, Some(OTHER_TEAM));
    let tara = add_user(&db, "tara.admin", "Tara Admin", Role::Admin, Some(TEAM));
    let (priya, arjun, meera) = (db.user("priya"), db.user("arjun"), db.user("meera"));
    assert_eq!(meera.role, Role::Supervisor);
    assert_eq!(meera.team.as_deref(), Some(TEAM));
    assert_eq!(
        (arjun.role, arjun.team.as_deref()),
        (Role::Telecaller, Some(TEAM))
    );

    // No StatusCallbacks from the fake: one arriving later would change the fingerprint of some other cell.
    let fake = FakeExotel::start(FakeExotelConfig {
        callback: None,
        ..FakeExotelConfig::default()
    })
    .await
    .unwrap();
    let port = free_port();
    let generous = Limit::per_second(100_000, 100_000);
    let config = ServeConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        exotel: Some(ExotelSettings {
            exotel: fake.exotel_config(CALLER_ID),
            webhook_secret: WEBHOOK_SECRET.to_owned(),
            webhook_user: "exotel".to_owned(),
            public_url: format!("http://127.0.0.1:{port}"),
        }),
        sheets: Some(crate::integrations::fake_google(&db.dir).await),
        rate_limits: RateLimits {
            telecaller: generous,
            supervisor: generous,
            admin: generous,
            anonymous_per_ip: generous,
            login_per_ip: generous,
            login_per_username: generous,
        },
        ..db.config()
    };
    let server = leadline_server::start(&config).await.unwrap();
    let repo = db.repo().await;

    let rec_base = recording_host().await;
    let (pid, agents) = (priya.id, [priya.id, arjun.id, meera.id, sunil.id, asha.id]);
    let (priya_lead, spare_lead, recorded_call, disposition) = repo
        .write(move |tx| -> Result<_, DbError> {
            for (i, id) in agents.iter().enumerate() {
                let number = format!("+9198111000{i:02}");
                db::integrations::set_agent_number(tx, id, Some(number.as_str()))?;
            }
            let leads = first_ids(
                tx,
                "SELECT id FROM leads WHERE assigned_to = $1 ORDER BY id LIMIT 2",
                &[Value::from(db::id_text(&pid))],
            )?;
            let disposition: String = tx.query_scalar(
                "SELECT code FROM dispositions WHERE active = 1 AND requires_follow_up = 0 \
                 ORDER BY position, code LIMIT 1",
                &[],
            )?;
            let log = CallLog {
                id: leadline_model::new_id(),
                lead_id: leads[0],
                telecaller_id: pid,
                direction: CallDirection::Outbound,
                started_at: Utc::now() - chrono::Duration::hours(1),
                answered_at: None,
                ended_at: None,
                duration_s: 0,
                disposition: disposition.clone(),
                outcome_tags: vec![],
                notes: String::new(),
                follow_up: None,
                recording_url: Some(format!("{rec_base}/rec/authz.mp3")),
                provider_call_id: Some("authz-recorded".to_owned()),
                device_id: None,
                quality: None,
            };
            let seq = db::reserve_seqs(tx, 1)?;
            db::insert_call_log(tx, &log, &Utc::now(), seq)?;
            Ok((leads[0], leads[1], log.id, disposition))
        })
        .await
        .unwrap();

    let base = server.base_url();
    let http = client();
    let mut tokens = vec![(P::Anon, None)];
    let forged = TokenKeys::new(
        b"a-different-secret-a-different-secret-0123",
        Duration::from_secs(900),
    )
    .unwrap()
    .issue(&asha, Utc::now())
    .unwrap();
    tokens.push((P::Forged, Some(forged)));
    for (p, user) in [
        (P::Priya, &priya),
        (P::Arjun, &arjun),
        (P::Meera, &meera),
        (P::Sunil, &sunil),
        (P::Asha, &asha),
    ] {
        let signed_in = login(&http, &base, &user.username, PASSWORD).await;
        assert_eq!(signed_in.user.id, user.id);
        tokens.push((p, Some(signed_in.access_token)));
    }
    let fx = Fx {
        base,
        http,
        repo,
        kavya: db.user("kavya").id,
        rohit: db.user("rohit").id,
        divya: db.user("divya").id,
        priya,
        arjun,
        meera,
        sunil,
        asha,
        tara,
        priya_lead,
        spare_lead,
        recorded_call,
        disposition,
        tokens,
    };
    (db, server, fake, fx)
}

/// Makes the object of a cell.
async fn make_target(fx: &Fx, t: T, n: u32) -> String {
    match t {
        T::None => String::new(),
        T::PriyaLead => db::id_text(&fx.priya_lead),
        T::PriyaUser => db::id_text(&fx.priya.id),
        T::TeamAdminUser => db::id_text(&fx.tara.id),
        T::FreshTeamAdminSession => {
            db::id_text(&login(&fx.http, &fx.base, "tara.admin", PASSWORD).await.session_id)
        }
        T::RecordedCall => db::id_text(&fx.recorded_call),
        T::FreshCode => format!("authz_{n}"),
        T::FreshLead => {
            let now = Utc::now();
            let lead = leadline_model::Lead {
                id: leadline_model::new_id(),
                name: format!("Authz erasable {n}"),
                phone: leadline_model::PhoneNumber::parse(&format!("+9170{:08}", 42_000_000 + n)).unwrap(),
                alternate_phone: None,
                email: None,
                city: None,
                source: leadline_model::LeadSource::Referral,
                interest: None,
                budget_inr: None,
                priority: leadline_model::LeadPriority::High,
                status: leadline_model::LeadStatus::New,
                tags: vec![],
                assigned_to: Some(fx.priya.id),
                created_at: now,
                updated_at: now,
                version: 1,
            };
            let id = lead.id;
            fx.repo
                .write(move |tx| -> Result<(), DbError> {
                    let seq = db::reserve_seqs(tx, 1)?;
                    db::insert_lead(tx, &lead, None, seq)
                })
                .await
                .unwrap();
            db::id_text(&id)
        }
        T::FreshPriyaSession => db::id_text(&login(&fx.http, &fx.base, "priya", PASSWORD).await.session_id),
        T::FreshFollowUp => {
            let f = FollowUp {
                id: leadline_model::new_id(),
                lead_id: fx.priya_lead,
                assigned_to: fx.priya.id,
                due_at: Utc::now() + chrono::Duration::days(1),
                note: None,
                call_log_id: None,
                completed_at: None,
                created_at: Utc::now() - chrono::Duration::minutes(1),
            };
            let id = f.id;
            fx.repo
                .write(move |tx| -> Result<(), DbError> {
                    let seq = db::reserve_seqs(tx, 1)?;
                    db::insert_follow_up(tx, &f, &Utc::now(), seq)
                })
                .await
                .unwrap();
            db::id_text(&id)
        }
    }
}

/// The documented operations: (method, path).
fn documented(doc: &Json) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authz_matrix_every_route_and_principal() {
    let (_db, server, fake, fx) = setup().await;
    let rows = matrix();
    let hooks = webhook_matrix();

    // Completeness: every documented operation has a row, and every row a documented operation.
    let doc: Json = fx
        .http
        .get(format!("{}/api/v1/openapi.json", fx.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let in_doc = documented(&doc);
    let in_matrix: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method, r.path.split('?').next().unwrap_or_default()))
        .chain(hooks.iter().map(|(m, p, _)| (*m, *p)))
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    let missing: Vec<_> = in_doc.difference(&in_matrix).collect();
    let extra: Vec<_> = in_matrix.difference(&in_doc).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the authorisation matrix (decide who may call them): {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "matrix rows for routes the server does not document: {extra:?}"
    );

    // Recent enough that lists and exports stay short (the recorded call is an hour old).
    let since = (Utc::now() - chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let counter = AtomicU32::new(1);
    let mut failures: Vec<String> = Vec::new();
    let mut cells = 0usize;
    let mut denied_writes = 0usize;
    for r in &rows {
        let writes = r.method != "get";
        let label = format!(
            "{} {}{}",
            r.method.to_uppercase(),
            r.path,
            if r.case.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.case)
            }
        );
        // Denied cells first, while the object is as the fixtures made it; then the allowed ones.
        let mut order: Vec<usize> = (0..PRINCIPALS.len())
            .filter(|&i| !r.expect[i].allowed())
            .collect();
        order.extend((0..PRINCIPALS.len()).filter(|&i| r.expect[i].allowed()));
        let mut changed_by_allowed = false;
        for i in order {
            let (p, expect) = (PRINCIPALS[i], r.expect[i]);
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let me = fx.user(p);
            let has_credentials = !matches!(p, P::Anon | P::Forged);
            let (password, mut bearer, mut refresh) = if has_credentials {
                (PASSWORD, fx.token(p).map(str::to_owned), String::new())
            } else {
                (
                    "not-the-password",
                    fx.token(p).map(str::to_owned),
                    "not-a-refresh-token".to_owned(),
                )
            };
            if r.fresh_login && has_credentials {
                let signed_in = login(&fx.http, &fx.base, &me.username, PASSWORD).await;
                bearer = Some(signed_in.access_token);
                refresh = signed_in.refresh_token;
            }
            let target = make_target(&fx, r.target, n).await;
            let (before, version) = if writes {
                fingerprint(&fx.repo, fx.priya_lead).await
            } else {
                (Vec::new(), 0)
            };
            let calls_before = fake.requests().len();
            let cell = Cell {
                fx: &fx,
                me,
                password,
                refresh: &refresh,
                target: &target,
                version,
                n,
            };
            let body = (r.body)(&cell);
            let path = r
                .path
                .replace("{id}", &target)
                .replace("{code}", &target)
                .replace("{priya}", &db::id_text(&fx.priya.id))
                .replace("{since}", &since)
                .replace("{target}", "linux")
                .replace("{arch}", "x86_64")
                .replace("{current_version}", "0.1.0")
                .replace("{name}", "Leadline_0.2.0_amd64.deb");
            let got = send(&fx, r.method, &path, bearer.as_deref(), None, body).await;
            cells += 1;
            if let Some(why) = mismatch(expect, &got) {
                failures.push(format!("{label} as {p:?}: {why}"));
            }
            if writes {
                let (after, _) = fingerprint(&fx.repo, fx.priya_lead).await;
                let calls_after = fake.requests().len();
                let changed = before != after || calls_before != calls_after;
                if expect.allowed() {
                    changed_by_allowed |= changed;
                } else {
                    denied_writes += 1;
                    if changed {
                        failures.push(format!(
                            "{label} as {p:?} was denied but left a trace: {before:?} -> {after:?}, \
                             Exotel calls {calls_before} -> {calls_after}"
                        ));
                    }
                }
            }
        }
        if writes && !changed_by_allowed && r.expect.iter().any(|e| e.allowed()) {
            failures.push(format!(
                "{label}: no allowed cell changed the fingerprint (the no-trace check cannot see this route)"
            ));
        }
    }

    // The webhooks: a shared secret, not a role.
    for (method, path, expect) in &hooks {
        let mut changed_by_allowed = false;
        let mut order: Vec<usize> = (0..WEBHOOK_CALLERS.len())
            .filter(|&i| !expect[i].allowed())
            .collect();
        order.extend((0..WEBHOOK_CALLERS.len()).filter(|&i| expect[i].allowed()));
        for i in order {
            let (w, expect) = (WEBHOOK_CALLERS[i], expect[i]);
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let secret = match w {
                W::Right => WEBHOOK_SECRET,
                W::Wrong | W::AdminBearer => "whsec-not-the-secret-0000",
                W::Missing => "",
            };
            let by_path = path.contains("{secret}");
            let url = path.replace("{secret}", secret);
            let bearer = (w == W::AdminBearer).then(|| fx.token(P::Asha).unwrap_or_default().to_owned());
            let basic = (!by_path && w != W::Missing && w != W::AdminBearer)
                .then(|| ("authorization", basic_authorization_header("exotel", secret)));
            let body = Body::Json(json!({"CallSid": format!("authz-call-{n}"), "Status": "completed"}));
            let (before, _) = fingerprint(&fx.repo, fx.priya_lead).await;
            let got = send(&fx, method, &url, bearer.as_deref(), basic, body).await;
            cells += 1;
            let label = format!("{} {path}", method.to_uppercase());
            if let Some(why) = mismatch(expect, &got) {
                failures.push(format!("{label} with {w:?}: {why}"));
            }
            let (after, _) = fingerprint(&fx.repo, fx.priya_lead).await;
            if expect.allowed() {
                changed_by_allowed |= before != after;
            } else {
                denied_writes += 1;
                if before != after {
                    failures.push(format!("{label} with {w:?} was denied but left a trace"));
                }
            }
        }
        assert!(changed_by_allowed, "{path}: the accepted callback was not stored");
    }

    eprintln!(
        "authorisation matrix: {} rows x {} principals + {} webhook rows x {} callers = {cells} cells \
         ({denied_writes} denied writes checked for traces), {} documented operations",
        rows.len(),
        PRINCIPALS.len(),
        hooks.len(),
        WEBHOOK_CALLERS.len(),
        in_doc.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await.unwrap();
    fake.stop().await;
}
