//! The server's real-time event socket (`GET /api/v1/events`, see docs/sync-protocol.md): pokes and
//! assignments wake the engine; follow-up reminders and announcements become [`SyncEvent`]s.
//!
//! Resumes from the last cursor it saw, reconnects with backoff, refreshes an expired token (close 4001
//! or a 401 before the upgrade), and drops a socket that stayed silent for two heartbeat periods.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use leadline_model::{EventMessage, ServerEvent};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::Client;
use crate::engine::{SyncEvent, Trigger, backoff};

/// The server sends a heartbeat every 20 s; a socket silent for this long is dead.
const SILENCE: Duration = Duration::from_secs(50);
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What one text frame of the event socket asks of the desktop.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameEffect {
    /// Something in the user's scope changed (an assignment, a removal, a poke): sync now.
    Pull,
    /// Show the user this (a follow-up reminder, an announcement).
    Show(SyncEvent),
    /// A heartbeat, or a kind this version does not know (from a newer server): nothing.
    Nothing,
}

/// One text frame of the event socket, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The event's position in the stream, to resume from.
    pub cursor: Option<i64>,
    pub effect: FrameEffect,
}

/// Reads one text frame from the server. Anything but an [`EventMessage`] is an error, which the socket
/// ignores (the frame is skipped, the socket stays up); a kind this version does not know is
/// [`FrameEffect::Nothing`].
pub fn read_frame(text: &str) -> Result<Frame, serde_json::Error> {
    let msg = serde_json::from_str::<EventMessage>(text)?;
    let effect = match msg.event {
        ServerEvent::LeadAssigned { .. } | ServerEvent::LeadRemoved { .. } | ServerEvent::SyncPoke => {
            FrameEffect::Pull
        }
        ServerEvent::FollowUpDue {
            follow_up_id,
            lead_id,
            due_at,
        } => FrameEffect::Show(SyncEvent::FollowUpDue {
            follow_up_id,
            lead_id,
            due_at,
        }),
        ServerEvent::Announcement {
            message, from_name, ..
        } => FrameEffect::Show(SyncEvent::Announcement { message, from_name }),
        ServerEvent::Heartbeat | ServerEvent::Unknown => FrameEffect::Nothing,
    };
    Ok(Frame {
        cursor: msg.cursor,
        effect,
    })
}

enum Ended {
    /// The socket closed or failed: reconnect after a pause.
    Retry,
    /// The token expired (4001 or 401): refresh, then reconnect at once.
    TokenExpired(String),
    /// The engine is gone.
    Stop,
}

pub(crate) async fn run_socket(client: Client, tx: mpsc::UnboundedSender<Trigger>) {
    let mut cursor: Option<i64> = None;
    let mut failures = 0_u32;
    loop {
        let ended = connect_once(&client, &tx, &mut cursor, &mut failures).await;
        if tx.send(Trigger::SocketState(false)).is_err() {
            return;
        }
        match ended {
            Ended::Stop => return,
            Ended::TokenExpired(token) => match client.refresh_if_possible(&token).await {
                Ok(true) => {
                    let _ = tx.send(Trigger::Emit(SyncEvent::TokensChanged));
                    continue;
                }
                Ok(false) | Err(_) => {
                    // The sync round will meet the same refusal and report the ended session.
                    failures = failures.saturating_add(1);
                }
            },
            Ended::Retry => failures = failures.saturating_add(1),
        }
        tokio::time::sleep(backoff(failures, RETRY_MIN, RETRY_MAX)).await;
    }
}

async fn connect_once(
    client: &Client,
    tx: &mpsc::UnboundedSender<Trigger>,
    cursor: &mut Option<i64>,
    failures: &mut u32,
) -> Ended {
    let Some(token) = client.token() else {
        return Ended::Retry;
    };
    let Ok(url) = client.events_url(*cursor) else {
        return Ended::Stop;
    };
    let Ok(mut request) = url.as_str().into_client_request() else {
        return Ended::Stop;
    };
    let Ok(auth) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return Ended::Retry;
    };
    request.headers_mut().insert("Authorization", auth);
    let connect = tokio::time::timeout(
        crate::request_timeout(),
        tokio_tungstenite::connect_async(request),
    );
    let mut socket = match connect.await {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(WsError::Http(resp))) if resp.status().as_u16() == 401 => return Ended::TokenExpired(token),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "event socket: cannot connect");
            return Ended::Retry;
        }
        Err(_) => return Ended::Retry,
    };
    *failures = 0;
    if tx.send(Trigger::SocketState(true)).is_err() {
        return Ended::Stop;
    }
    tracing::debug!("event socket connected");
    loop {
        let next = match tokio::time::timeout(SILENCE, socket.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => {
                tracing::debug!(error = %e, "event socket failed");
                return Ended::Retry;
            }
            Ok(None) => return Ended::Retry,
            Err(_) => {
                tracing::debug!("event socket silent; reconnecting");
                return Ended::Retry;
            }
        };
        match next {
            Message::Text(text) => {
                let Ok(frame) = read_frame(&text) else {
                    tracing::debug!("event socket: unreadable message ignored");
                    continue;
                };
                if let Some(c) = frame.cursor {
                    *cursor = Some(cursor.map_or(c, |old| old.max(c)));
                }
                let trigger = match frame.effect {
                    FrameEffect::Pull => Some(Trigger::Server),
                    FrameEffect::Show(event) => Some(Trigger::Emit(event)),
                    FrameEffect::Nothing => None,
                };
                if let Some(t) = trigger
                    && tx.send(t).is_err()
                {
                    let _ = socket.close(None).await;
                    return Ended::Stop;
                }
            }
            Message::Ping(p) => {
                let _ = socket.send(Message::Pong(p)).await;
            }
            Message::Close(frame) => {
                let expired = frame.as_ref().is_some_and(|f| f.code == CloseCode::Library(4001));
                return if expired {
                    Ended::TokenExpired(token)
                } else {
                    Ended::Retry
                };
            }
            Message::Binary(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        if tx.is_closed() {
            return Ended::Stop;
        }
    }
}
