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
}
