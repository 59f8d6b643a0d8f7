//! The orders of the lead list (`GET /api/v1/leads?sort=`): each order's sort key as SQL, its keyset
//! condition, and the opaque cursor that carries the order together with the last row's key and id.
//!
//! Every order is `(key, id)`, both ascending or both descending, so a page continues with one row-value
//! comparison against the previous page's last `(key, id)`: exact (no row skipped or repeated, however
//! many rows share a key) and without OFFSET. The keys are plain text in both databases, compared byte by
//! byte (SQLite's BINARY collation, PostgreSQL's `COLLATE "C"` columns), so the orders agree:
//!
//! - `updated_at`, `created_at`: the RFC 3339 UTC text (text order is time order); never NULL.
//! - `name`: `lower(l.name)`. Both databases lower-case ASCII letters only here (SQLite's built-in
//!   `lower`; PostgreSQL's `lower` under the column's `C` collation), so the key is the name with ASCII
//!   letters folded, compared as UTF-8 bytes: an expression index, no extra column to keep in step with
//!   every writer of `leads.name`.
//! - `follow_up_due`: `COALESCE(l.next_follow_up_at, '~')`. `leads.next_follow_up_at` is the due time of
//!   the lead's next open follow-up (kept by `supervise::refresh_next_follow_up`), NULL when there is
//!   none; `'~'` sorts after every time (which starts with a digit), so leads without an open follow-up
//!   come last ascending and first descending, deterministically, and the expression is indexable.
//!
//! Migration `12-lead-sorts` indexes each key expression with `id` under each scope (`assigned_to`,
//! `team`, none); the `updated_at` order uses the indexes of `03-lead-list-indexes`. Both databases use
//! an expression index only for the identical expression, so the SQL here and the migration must agree.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadline_model::{Id, LeadSort};

use super::{Binder, id_text};
use crate::cursor::CursorError;

/// The follow-up key of a lead without an open follow-up: after every RFC 3339 time in byte order.
pub const NO_FOLLOW_UP: &str = "~";

/// Longest sorted lead-list cursor accepted (a name key of 200 four-byte characters fits easily).
const MAX_CURSOR_LEN: usize = 4096;

/// Where a page of a sorted lead list ends: the last row's sort key (as the database compares it, see
/// [`key_sql`]) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadKeyset {
    pub key: String,
    pub id: Id,
}

/// The SQL expression over `leads l` an order sorts by before the id tie-break. Migration
/// `12-lead-sorts` indexes exactly these expressions.
pub fn key_sql(sort: LeadSort) -> &'static str {
    match sort {
        LeadSort::UpdatedAtDesc | LeadSort::UpdatedAtAsc => "l.updated_at",
        LeadSort::CreatedAtDesc | LeadSort::CreatedAtAsc => "l.created_at",
        LeadSort::NameAsc | LeadSort::NameDesc => "lower(l.name)",
        LeadSort::FollowUpDueAsc | LeadSort::FollowUpDueDesc => "COALESCE(l.next_follow_up_at, '~')",
    }
}

/// The `ORDER BY` list of an order.
pub fn order_sql(sort: LeadSort) -> String {
    let dir = if sort.is_descending() { "DESC" } else { "ASC" };
    format!("{} {dir}, l.id {dir}", key_sql(sort))
}

/// The condition "after `after` in this order". The plain bound on the key gives both databases an
/// index range start (SQLite does not use a row-value comparison on an expression index column); the
/// row-value comparison makes it exact.
pub fn after_sql(sort: LeadSort, after: &LeadKeyset, b: &mut Binder) -> String {
    let key = key_sql(sort);
    let k = b.bind(after.key.as_str());
    let id = b.bind(id_text(&after.id));
    let (bound, strict) = if sort.is_descending() {
        ("<=", "<")
    } else {
        (">=", ">")
    };
    format!("{key} {bound} {k} AND ({key}, l.id) {strict} ({k}, {id})")
}

/// The cursor continuing `sort` after `after`: `base64url("l2:<sort>|<id>|<key>")`.
pub fn encode_cursor(sort: LeadSort, after: &LeadKeyset) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "l2:{}|{}|{}",
        sort.as_str(),
        id_text(&after.id),
        after.key
    ))
}

/// Where a cursor of `sort` continues; `None` for the first page (empty). A cursor of another order
/// answers [`CursorError::WrongSort`]; one that does not parse, or whose key could not have come from
/// this order, [`CursorError::Format`]. Cursors of the list before it had orders
/// (`base64url("l1:<updated_at>|<id>")`) still continue the default order.
pub fn decode_cursor(text: &str, sort: LeadSort) -> Result<Option<LeadKeyset>, CursorError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_CURSOR_LEN {
        return Err(CursorError::TooLong);
    }
    let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Encoding)?;
    let raw = std::str::from_utf8(&raw).map_err(|_| CursorError::Format)?;
    if raw.starts_with("l1:") {
        if sort != LeadSort::UpdatedAtDesc {
            return Err(CursorError::WrongSort);
        }
        return Ok(crate::cursor::decode_lead(text)?.map(|(at, id)| LeadKeyset {
            key: super::ts(&at),
            id,
        }));
    }
    let rest = raw.strip_prefix("l2:").ok_or(CursorError::Format)?;
    let (sort_text, rest) = rest.split_once('|').ok_or(CursorError::Format)?;
    let cursor_sort: LeadSort = sort_text.parse().map_err(|_| CursorError::Format)?;
    let (id_text_part, key) = rest.split_once('|').ok_or(CursorError::Format)?;
    let id = Id::parse_str(id_text_part).map_err(|_| CursorError::Format)?;
    if id_text(&id) != id_text_part || !key_is_valid(cursor_sort, key) {
        return Err(CursorError::Format);
    }
    if cursor_sort != sort {
        return Err(CursorError::WrongSort);
    }
    Ok(Some(LeadKeyset {
        key: key.to_owned(),
        id,
    }))
}

/// Whether `key` could be a key of `sort` (see [`key_sql`]).
fn key_is_valid(sort: LeadSort, key: &str) -> bool {
    let is_time = |k: &str| chrono::DateTime::parse_from_rfc3339(k).is_ok();
    match sort {
        LeadSort::UpdatedAtDesc
        | LeadSort::UpdatedAtAsc
        | LeadSort::CreatedAtDesc
        | LeadSort::CreatedAtAsc => is_time(key),
        LeadSort::NameAsc | LeadSort::NameDesc => !key.bytes().any(|b| b.is_ascii_uppercase()),
        LeadSort::FollowUpDueAsc | LeadSort::FollowUpDueDesc => key == NO_FOLLOW_UP || is_time(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyset(key: &str) -> LeadKeyset {
        LeadKeyset {
            key: key.to_owned(),
            id: leadline_model::new_id(),
        }
    }

    #[test]
    fn cursors_round_trip_within_their_sort_only() {
        let cases = [
            (LeadSort::UpdatedAtDesc, "2026-01-31T09:15:00.123Z"),
            (LeadSort::UpdatedAtAsc, "2026-01-31T09:15:00.123Z"),
            (LeadSort::CreatedAtDesc, "2025-12-01T00:00:00.000Z"),
            (LeadSort::CreatedAtAsc, "2025-12-01T00:00:00.000Z"),
            (LeadSort::NameAsc, "priya | sharma (दिल्ली) élan"),
            (LeadSort::NameDesc, ""),
            (LeadSort::FollowUpDueAsc, NO_FOLLOW_UP),
            (LeadSort::FollowUpDueDesc, "2026-02-01T10:00:00.000Z"),
        ];
        for (sort, key) in cases {
            let after = keyset(key);
            let text = encode_cursor(sort, &after);
            assert_eq!(decode_cursor(&text, sort), Ok(Some(after.clone())), "{sort}");
            for other in LeadSort::ALL.iter().filter(|s| **s != sort) {
                assert_eq!(
                    decode_cursor(&text, *other),
                    Err(CursorError::WrongSort),
                    "{sort} cursor used for {other}"
                );
            }
        }
        assert_eq!(decode_cursor("", LeadSort::NameAsc), Ok(None));
        assert_eq!(decode_cursor("  ", LeadSort::default()), Ok(None));
    }

    #[test]
    fn old_cursors_continue_the_default_order_only() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-31T09:15:00.123Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let id = leadline_model::new_id();
        let old = crate::cursor::encode_lead(&at, &id);
        assert_eq!(
            decode_cursor(&old, LeadSort::UpdatedAtDesc),
            Ok(Some(LeadKeyset {
                key: "2026-01-31T09:15:00.123Z".to_owned(),
                id
            }))
        );
        assert_eq!(
            decode_cursor(&old, LeadSort::UpdatedAtAsc),
            Err(CursorError::WrongSort)
        );
        assert_eq!(
            decode_cursor(&old, LeadSort::NameAsc),
            Err(CursorError::WrongSort)
        );
    }

    #[test]
    fn refuses_tampered_and_junk_cursors() {
        let id = leadline_model::new_id();
        let enc = |s: String| URL_SAFE_NO_PAD.encode(s);
        for (sort, raw) in [
            (LeadSort::NameAsc, format!("l2:name|{id}|Priya")),
            (LeadSort::NameAsc, format!("l2:name|{}|priya", id.simple())),
            (
                LeadSort::NameAsc,
                format!("l2:name|{}|priya", id.hyphenated().to_string().to_uppercase()),
            ),
            (LeadSort::NameAsc, "l2:name|nope|priya".to_owned()),
            (LeadSort::NameAsc, format!("l2:name|{id}")),
            (LeadSort::NameAsc, "l2:name".to_owned()),
            (LeadSort::NameAsc, format!("l2:Name|{id}|priya")),
            (LeadSort::NameAsc, format!("l3:name|{id}|priya")),
            (LeadSort::CreatedAtAsc, format!("l2:created_at|{id}|yesterday")),
            (LeadSort::CreatedAtAsc, format!("l2:created_at|{id}|~")),
            (LeadSort::FollowUpDueAsc, format!("l2:follow_up_due|{id}|~~")),
            (LeadSort::FollowUpDueAsc, format!("l2:follow_up_due|{id}|")),
            (LeadSort::UpdatedAtDesc, "l1:2026-01-31T09:15:00Z|nope".to_owned()),
            (LeadSort::UpdatedAtDesc, "v1:5".to_owned()),
        ] {
            assert_eq!(
                decode_cursor(&enc(raw.clone()), sort),
                Err(CursorError::Format),
                "{raw}"
            );
        }
        assert_eq!(
            decode_cursor("!!!", LeadSort::NameAsc),
            Err(CursorError::Encoding)
        );
        assert_eq!(
            decode_cursor(&"A".repeat(MAX_CURSOR_LEN + 1), LeadSort::NameAsc),
            Err(CursorError::TooLong)
        );
        // Not valid UTF-8 inside.
        assert_eq!(
            decode_cursor(&URL_SAFE_NO_PAD.encode([0xff, 0xfe]), LeadSort::NameAsc),
            Err(CursorError::Format)
        );
    }

    #[test]
    fn keyset_conditions_follow_the_direction() {
        let mut b = Binder::default();
        let after = keyset("anita");
        assert_eq!(
            after_sql(LeadSort::NameAsc, &after, &mut b),
            "lower(l.name) >= $1 AND (lower(l.name), l.id) > ($1, $2)"
        );
        assert_eq!(
            after_sql(LeadSort::CreatedAtDesc, &after, &mut b),
            "l.created_at <= $3 AND (l.created_at, l.id) < ($3, $4)"
        );
        assert_eq!(
            order_sql(LeadSort::FollowUpDueDesc),
            "COALESCE(l.next_follow_up_at, '~') DESC, l.id DESC"
        );
        assert_eq!(order_sql(LeadSort::UpdatedAtAsc), "l.updated_at ASC, l.id ASC");
    }
}
