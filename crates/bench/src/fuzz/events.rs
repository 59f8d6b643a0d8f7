//! Fuzz target `events`: the text frames of the server's event socket as the desktop reads them
//! ([`read_frame`]): every kind of event with its cursor, kinds from a newer server, and the same
//! damaged. A frame is read into exactly what the server meant, or refused (the socket skips it); a kind
//! this version does not know does nothing; never a panic.

use chrono::{TimeZone, Utc};
use leadline_model::{EventMessage, Id, ServerEvent};
use leadline_sync::{FrameEffect, SyncEvent, read_frame};
use proptest::prelude::*;
use serde_json::json;

use super::mutate::{Case, awkward_text, cases, re};

#[derive(Debug, Clone)]
pub enum Sample {
    /// A frame the server sends, as it serialises it.
    Known(EventMessage),
    /// A frame of a kind from a newer server, with fields of its own.
    Newer {
        kind: String,
        cursor: Option<i64>,
        field: String,
    },
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"\"type\":",
    b"\"type\":\"lead_assigned\"",
    b"\"type\":\"announcement\"",
    b"\"type\":\"follow_up_due\"",
    b"\"type\":null",
    b"\"cursor\":",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"1e999",
    b"\"at\":\"2026-02-30T25:61:61Z\"",
    b"\"due_at\":\"+275760-09-13T00:00:00Z\"",
    b"\"lead_id\":\"not-a-uuid\"",
    b"\"message\":\"\\ud800\"",
    b"\"from\":",
    b"[",
    b"]",
    b",",
    b"\\u0000",
];

fn id() -> impl Strategy<Value = Id> {
    any::<u128>().prop_map(Id::from_u128)
}

fn time() -> impl Strategy<Value = leadline_model::Timestamp> {
    // Microsecond precision, as the server stores it; 1970 to 2200.
    (0..7_258_118_400_000_000i64).prop_map(|us| Utc.timestamp_micros(us).single().unwrap_or_default())
}

fn event() -> impl Strategy<Value = ServerEvent> {
    prop_oneof![
        (id(), prop::option::of(id())).prop_map(|(lead_id, by)| ServerEvent::LeadAssigned { lead_id, by }),
        id().prop_map(|lead_id| ServerEvent::LeadRemoved { lead_id }),
        (id(), id(), time()).prop_map(|(follow_up_id, lead_id, due_at)| ServerEvent::FollowUpDue {
            follow_up_id,
            lead_id,
            due_at
        }),
        Just(ServerEvent::SyncPoke),
        (awkward_text(), id(), awkward_text()).prop_map(|(message, from, from_name)| {
            ServerEvent::Announcement {
                message,
                from,
                from_name,
            }
        }),
        Just(ServerEvent::Heartbeat),
    ]
}

fn sample() -> BoxedStrategy<Sample> {
    prop_oneof![
        6 => (prop::option::of(any::<i64>()), prop::option::of(time()), event())
            .prop_map(|(cursor, at, event)| Sample::Known(EventMessage { cursor, at, event })),
        // Never one of this version's kinds.
        1 => (re("[a-z]{1,12}_v[2-9]"), prop::option::of(any::<i64>()), awkward_text())
            .prop_map(|(kind, cursor, field)| Sample::Newer { kind, cursor, field }),
    ]
    .boxed()
}

pub fn render(s: &Sample) -> Vec<u8> {
    match s {
        Sample::Known(m) => serde_json::to_vec(m).unwrap_or_default(),
        Sample::Newer { kind, cursor, field } => {
            let mut v = json!({"type": kind, "detail": field, "nested": {"a": [1, 2, {"b": null}]}});
            if let Some(c) = cursor {
                v["cursor"] = json!(c);
            }
            v.to_string().into_bytes()
        }
    }
}

pub fn strategy() -> BoxedStrategy<Case<Sample>> {
    cases(sample(), render, TOKENS)
}

/// What the desktop must do with `event`.
fn expected(event: &ServerEvent) -> FrameEffect {
    match event.clone() {
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
    }
}

pub fn check(case: &Case<Sample>) -> Result<(), String> {
    let s = match case {
        Case::Bytes(b) => {
            // The socket hands over text frames only (tungstenite checks the UTF-8).
            if let Ok(text) = std::str::from_utf8(b)
                && let Ok(frame) = read_frame(text)
            {
                // Whatever it was read as, the frame says it again when printed and read back.
                let again = serde_json::from_str::<EventMessage>(text)
                    .map_err(|e| format!("read_frame took what EventMessage refuses: {e}"))?;
                if frame.cursor != again.cursor || frame.effect != expected(&again.event) {
                    return Err(format!("{frame:?} from {again:?}"));
                }
            }
            return Ok(());
        }
        Case::Valid(s) => s,
    };
    let text = String::from_utf8(render(s)).map_err(|e| e.to_string())?;
    let frame =
        read_frame(&text).map_err(|e| format!("a frame the server sends was refused: {e}: {text}"))?;
    match s {
        Sample::Known(m) => {
            if frame.cursor != m.cursor || frame.effect != expected(&m.event) {
                return Err(format!("{text} read as {frame:?}"));
            }
        }
        Sample::Newer { cursor, .. } => {
            if frame.cursor != *cursor || frame.effect != FrameEffect::Nothing {
                return Err(format!("{text} read as {frame:?}"));
            }
        }
    }
    Ok(())
}
