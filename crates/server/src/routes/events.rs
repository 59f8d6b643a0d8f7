//! Real-time events: the `GET /api/v1/events` WebSocket and `POST /api/v1/announcements`.
//!
//! See `docs/sync-protocol.md` ("Real-time events") for the protocol and [`crate::events`] for how events
//! reach every server process.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::SubsecRound;
use leadline_model::{AnnouncementRequest, EventMessage, Id, Role, ServerEvent, User};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::AppState;
use crate::api::{ApiFailure, AuthUser};
use crate::db::DbError;
use crate::db::events::{EventTarget, StoredEvent, events_for_user_after, last_event_id, record};

/// Longest announcement, in characters.
pub const MAX_ANNOUNCEMENT_CHARS: usize = 2000;
/// Close code sent when the access token expires or its session is revoked: refresh, then reconnect
/// with the last cursor.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// Close code sent to a client that stopped answering heartbeats.
pub const CLOSE_NO_HEARTBEAT: u16 = 4002;
/// A send that takes longer than this drops the connection.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Events read from the table per replay query.
const REPLAY_PAGE: u32 = 200;

/// The event routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", get(events_socket))
        .route("/api/v1/announcements", post(announce))
}

/// Query of `GET /api/v1/events`, read as text so that a bad value gets a typed error.
#[derive(Debug, Deserialize)]
pub struct EventsParams {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// Who is connected: the user, their session, and when their token expires.
struct Caller {
    user: User,
    session_id: Option<Id>,
    expires_at: i64,
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Checks an access token as [`AuthUser`] does (signature, expiry, user, unrevoked session).
async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ApiFailure> {
    let (user_id, claims) = state.keys().verify(token).map_err(|e| {
        tracing::info!(reason = %e, "event socket: access token refused");
        ApiFailure::Unauthorized
    })?;
    let session_id = claims
        .sid
        .as_deref()
        .map(Id::parse_str)
        .transpose()
        .map_err(|_| ApiFailure::Unauthorized)?;
    let user = state
        .repo()
        .authenticate(user_id, session_id)
        .await?
        .ok_or(ApiFailure::Unauthorized)?;
    Ok(Caller {
        user,
        session_id,
        expires_at: claims.exp,
    })
}

/// `GET /api/v1/events?cursor=&token=`: the caller's real-time events over a WebSocket.
///
/// The access token comes in `Authorization: Bearer` or, for clients that cannot set headers on a
/// WebSocket, in `?token=`; a missing, forged or expired one is refused with 401 before the upgrade.
/// `cursor` (optional): the last `cursor` the client saw; the events after it are replayed first. A
/// cursor that is not a whole number ≥ 0 answers 400 `bad_cursor`.
pub async fn events_socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<EventsParams>, QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let caller = match params {
        Ok(Query(params)) => connect_params(&state, &headers, params).await,
        Err(e) => Err(ApiFailure::BadRequest {
            code: "bad_request",
            message: e.body_text(),
        }),
    };
    let (caller, cursor) = match caller {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match ws {
        Ok(ws) => ws
            .on_upgrade(move |socket| async move {
                let user_id = caller.user.id;
                match connection(state, caller, cursor, socket).await {
                    Ok(()) => tracing::debug!(%user_id, "event socket closed"),
                    Err(e) => tracing::info!(%user_id, reason = %e, "event socket ended"),
                }
            })
            .into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn connect_params(
    state: &AppState,
    headers: &HeaderMap,
    params: EventsParams,
) -> Result<(Caller, Option<i64>), ApiFailure> {
    let token = bearer_token(headers)
        .or(params.token.as_deref().map(str::trim))
        .filter(|t| !t.is_empty())
        .ok_or(ApiFailure::Unauthorized)?;
    let caller = authenticate(state, token).await?;
    let cursor = match params.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(ApiFailure::BadRequest {
                    code: "bad_cursor",
                    message: "cursor must be the `cursor` of an event received earlier (a whole number)"
                        .to_owned(),
                });
            }
        },
    };
    Ok((caller, cursor))
}

/// Why a connection ended other than by the client closing it.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("storage: {0}")]
    Db(#[from] DbError),
    #[error("socket: {0}")]
    Socket(#[from] axum::Error),
    #[error("sending timed out")]
    SendTimeout,
    #[error("encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

async fn send(socket: &mut WebSocket, message: Message) -> Result<(), ConnError> {
    tokio::time::timeout(SEND_TIMEOUT, socket.send(message))
        .await
        .map_err(|_| ConnError::SendTimeout)??;
    Ok(())
}

async fn send_event(
    socket: &mut WebSocket,
    cursor: Option<i64>,
    at: Option<leadline_model::Timestamp>,
    event: ServerEvent,
) -> Result<(), ConnError> {
    let text = serde_json::to_string(&EventMessage { cursor, at, event })?;
    send(socket, Message::Text(text.into())).await
}

async fn send_stored(socket: &mut WebSocket, e: &StoredEvent) -> Result<(), ConnError> {
    send_event(socket, Some(e.id), Some(e.created_at), e.event.clone()).await
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

/// Sends the caller's events after `last` from the table, advancing `last`. Past
/// [`crate::events::EventsConfig::max_replay`] events it stops, sends a `sync_poke` and skips to the
/// newest event.
async fn replay(
    state: &AppState,
    user: &User,
    last: &mut i64,
    socket: &mut WebSocket,
) -> Result<(), ConnError> {
    let max = u64::from(state.events().config().max_replay.max(1));
    let page_size = REPLAY_PAGE.min(state.events().config().max_replay.max(1));
    let mut sent: u64 = 0;
    loop {
        let (after, who) = (*last, user.clone());
        let page = state
            .repo()
            .read(move |tx| events_for_user_after(tx, &who, after, page_size))
            .await?;
        let full = page.len() >= page_size as usize;
        for event in &page {
            send_stored(socket, event).await?;
            *last = event.id;
            sent += 1;
        }
        if !full {
            return Ok(());
        }
        if sent >= max {
            let newest = state.repo().read(last_event_id).await?;
            *last = newest.max(*last);
            tracing::info!(user_id = %user.id, sent, "event replay too long; sync_poke instead");
            return send_event(socket, Some(*last), None, ServerEvent::SyncPoke).await;
        }
    }
}

/// One event socket: replay after `cursor`, a heartbeat (carrying the cursor reached), then live events,
/// heartbeats every period, until the client leaves, stops answering, or its token expires.
async fn connection(
    state: AppState,
    caller: Caller,
    cursor: Option<i64>,
    mut socket: WebSocket,
) -> Result<(), ConnError> {
    let hub = state.events().clone();
    let period = hub.config().heartbeat.max(Duration::from_millis(10));
    let mut shutdown = hub.shutdown_signal();
    // Subscribe before reading the table: an event committed meanwhile arrives live (deduplicated by id).
    let mut live = hub.subscribe();
    let user = caller.user;
    let mut last = match cursor {
        Some(c) => {
            let mut last = c;
            replay(&state, &user, &mut last, &mut socket).await?;
            last
        }
        None => state.repo().read(last_event_id).await?,
    };
    send_event(&mut socket, Some(last), None, ServerEvent::Heartbeat).await?;
    tracing::debug!(user_id = %user.id, cursor = last, "event socket open");

    let expires_in = u64::try_from(caller.expires_at - chrono::Utc::now().timestamp()).unwrap_or(0);
    let expiry = tokio::time::sleep(Duration::from_secs(expires_in));
    tokio::pin!(expiry);
    let mut tick = tokio::time::interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) => {
                    if event.id > last {
                        if event.target.reaches(&user) {
                            send_stored(&mut socket, &event).await?;
                        }
                        last = event.id;
                    }
                }
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(user_id = %user.id, skipped, "event socket lagged; re-reading");
                    replay(&state, &user, &mut last, &mut socket).await?;
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            incoming = socket.recv() => match incoming {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Err(e)) => return Err(e.into()),
                // Pongs, heartbeats, anything: the client is alive.
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = tick.tick() => {
                if last_heard.elapsed() > period * 2 {
                    close(&mut socket, CLOSE_NO_HEARTBEAT, "no heartbeat").await;
                    return Ok(());
                }
                let still_valid = state
                    .repo()
                    .authenticate(user.id, caller.session_id)
                    .await?
                    .is_some();
                if !still_valid {
                    close(&mut socket, CLOSE_TOKEN_EXPIRED, "session ended").await;
                    return Ok(());
                }
                send(&mut socket, Message::Ping(Vec::new().into())).await?;
                send_event(&mut socket, Some(last), None, ServerEvent::Heartbeat).await?;
            }
            () = &mut expiry => {
                close(&mut socket, CLOSE_TOKEN_EXPIRED, "access token expired").await;
                return Ok(());
            }
            _ = shutdown.changed() => {
                close(&mut socket, close_code::AWAY, "server shutting down").await;
                return Ok(());
            }
        }
    }
}

/// `POST /api/v1/announcements {message}`: a supervisor's message to their team, or an admin's to
/// everyone, delivered as an `announcement` event. 201 with the event as sent to clients.
///
/// Errors: 403 `forbidden` for telecallers (and supervisors without a team); 400 `bad_message` when the
/// message is blank or longer than [`MAX_ANNOUNCEMENT_CHARS`]; 400 `bad_request` for a malformed body.
pub async fn announce(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Result<Json<AnnouncementRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<EventMessage>), ApiFailure> {
    let target = match (user.role, &user.team) {
        (Role::Admin, _) => EventTarget::All,
        (Role::Supervisor, Some(team)) => EventTarget::Team(team.clone()),
        (Role::Supervisor, None) | (Role::Telecaller, _) => return Err(ApiFailure::Forbidden),
    };
    let Json(req) = body.map_err(|e| ApiFailure::BadRequest {
        code: "bad_request",
        message: e.body_text(),
    })?;
    let message = req.message.trim().to_owned();
    if message.is_empty() || message.chars().count() > MAX_ANNOUNCEMENT_CHARS {
        return Err(ApiFailure::BadRequest {
            code: "bad_message",
            message: format!("message must be 1 to {MAX_ANNOUNCEMENT_CHARS} characters"),
        });
    }
    let event = ServerEvent::Announcement {
        message,
        from: user.id,
        from_name: user.name.clone(),
    };
    let now = chrono::Utc::now().trunc_subsecs(3);
    let stored = event.clone();
    let id = state
        .repo()
        .write(move |tx| record(tx, &target, &stored, &now))
        .await?;
    tracing::info!(user_id = %user.id, cursor = id, "announcement");
    Ok((
        StatusCode::CREATED,
        Json(EventMessage {
            cursor: Some(id),
            at: Some(now),
            event,
        }),
    ))
}
