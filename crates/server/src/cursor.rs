//! The pull cursor: opaque to clients, `base64url("v1:<seq>")` inside.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadline_model::sync::Cursor;

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is not base64url")]
    Encoding,
    #[error("cursor has an unknown format")]
    Format,
    #[error("cursor is too long")]
    TooLong,
    /// A lead-list cursor of another `sort` than the request's.
    #[error("cursor belongs to another sort order; start again without a cursor")]
    WrongSort,
}

/// Longest cursor text accepted; real ones are about 30 characters.
const MAX_LEN: usize = 128;

/// The cursor continuing after change `seq`.
pub fn encode(seq: i64) -> Cursor {
    Cursor(URL_SAFE_NO_PAD.encode(format!("v1:{seq}")))
}

/// The seq a cursor continues after: 0 for the start cursor (empty).
pub fn decode(cursor: &Cursor) -> Result<i64, CursorError> {
    let text = cursor.0.trim();
    if text.is_empty() {
        return Ok(0);
    }
    if text.len() > MAX_LEN {
        return Err(CursorError::TooLong);
    }
    let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Encoding)?;
    let raw = std::str::from_utf8(&raw).map_err(|_| CursorError::Format)?;
    let digits = raw.strip_prefix("v1:").ok_or(CursorError::Format)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CursorError::Format);
    }
    digits.parse::<i64>().map_err(|_| CursorError::Format)
}

/// The lead-list cursor continuing after the lead with this `(updated_at, id)`:
/// `base64url("l1:<updated_at RFC 3339>|<id>")`.
pub fn encode_lead(updated_at: &leadline_model::Timestamp, id: &leadline_model::Id) -> String {
    URL_SAFE_NO_PAD.encode(format!("l1:{}|{}", crate::db::ts(updated_at), id.hyphenated()))
}

/// The `(updated_at, id)` a lead-list cursor continues after; `None` for the first page (empty).
pub fn decode_lead(
    text: &str,
) -> Result<Option<(leadline_model::Timestamp, leadline_model::Id)>, CursorError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_LEN {
        return Err(CursorError::TooLong);
    }
    let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Encoding)?;
    let raw = std::str::from_utf8(&raw).map_err(|_| CursorError::Format)?;
    let rest = raw.strip_prefix("l1:").ok_or(CursorError::Format)?;
    let (at, id) = rest.split_once('|').ok_or(CursorError::Format)?;
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .map_err(|_| CursorError::Format)?
        .with_timezone(&chrono::Utc);
    let id = leadline_model::Id::parse_str(id).map_err(|_| CursorError::Format)?;
    Ok(Some((at, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        for seq in [0, 1, 500, i64::MAX] {
            assert_eq!(decode(&encode(seq)), Ok(seq));
        }
        assert_eq!(decode(&Cursor::start()), Ok(0));
        assert_eq!(decode(&Cursor("!!!".into())), Err(CursorError::Encoding));
        let bad = |s: &str| Cursor(URL_SAFE_NO_PAD.encode(s));
        for junk in [
            "v2:5",
            "v1:",
            "v1:-3",
            "v1:+3",
            "v1:99999999999999999999",
            "5",
            "v1:1 ",
        ] {
            assert_eq!(decode(&bad(junk)), Err(CursorError::Format), "{junk}");
        }
        assert_eq!(decode(&Cursor("A".repeat(1000))), Err(CursorError::TooLong));
    }

    #[test]
    fn lead_cursors_round_trip_and_refuse_junk() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-31T09:15:00.123Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let id = leadline_model::new_id();
        assert_eq!(decode_lead(&encode_lead(&at, &id)), Ok(Some((at, id))));
        assert_eq!(decode_lead(""), Ok(None));
        assert_eq!(decode_lead("!!!"), Err(CursorError::Encoding));
        for junk in [
            "v1:5",
            "l1:",
            "l1:2026-01-31T09:15:00Z",
            "l1:yesterday|x",
            "l1:2026-01-31T09:15:00Z|nope",
        ] {
            assert_eq!(
                decode_lead(&URL_SAFE_NO_PAD.encode(junk)),
                Err(CursorError::Format),
                "{junk}"
            );
        }
    }
}
