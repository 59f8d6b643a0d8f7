//! The full-text index over leads: name, phone numbers in several digit forms, and call notes.

use std::collections::BTreeSet;

use leadline_model::{Id, PhoneNumber};
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// The digit forms a person may type for a number: full international digits (`919876543210`) and the
/// national number (`9876543210`). FTS prefix queries then match any leading part of either.
pub(crate) fn phone_terms(phone: &PhoneNumber) -> Vec<String> {
    let mut terms = vec![phone.digits().to_owned()];
    let national = phone.national_digits();
    if national != terms[0] {
        terms.push(national.to_owned());
    }
    terms
}

/// Rebuilds the index row of one lead from its current columns and call notes.
pub(crate) fn reindex_lead(conn: &Connection, lead_id: &Id) -> Result<(), StoreError> {
    let id = lead_id.to_string();
    let row: Option<(i64, String, String, Option<String>)> = conn
        .prepare_cached("SELECT rowid, name, phone, alternate_phone FROM leads WHERE id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((rowid, name, phone, alternate)) = row else {
        return Ok(());
    };
    let mut phones = Vec::new();
    for p in std::iter::once(phone).chain(alternate) {
        match PhoneNumber::from_stored(&p) {
            Ok(n) => phones.extend(phone_terms(&n)),
            Err(_) => phones.push(p),
        }
    }
    conn.prepare_cached("DELETE FROM lead_search WHERE rowid = ?1")?
        .execute([rowid])?;
    conn.prepare_cached(
        "INSERT INTO lead_search (rowid, name, phones, notes)
         VALUES (?1, ?2, ?3, (SELECT coalesce(group_concat(notes, ' '), '') FROM call_logs WHERE lead_id = ?4))",
    )?
    .execute(params![rowid, name, phones.join(" "), id])?;
    Ok(())
}

pub(crate) fn unindex_lead(conn: &Connection, lead_id: &Id) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM lead_search WHERE rowid = (SELECT rowid FROM leads WHERE id = ?1)")?
        .execute([lead_id.to_string()])?;
    Ok(())
}

/// Reindexes each lead once, however many of its rows a transaction touched.
pub(crate) fn reindex_all(conn: &Connection, ids: &BTreeSet<Id>) -> Result<(), StoreError> {
    for id in ids {
        reindex_lead(conn, id)?;
    }
    Ok(())
}

/// Turns what a user typed into an FTS5 query, or `None` when there is nothing to search for.
///
/// Input that looks like a phone number (digits with spaces, `+`, `-`, brackets) searches the phone column for
/// its digits, so `98765 43210`, `+91 98765` and `098765` all match `+919876543210`. Anything else matches every
/// word as a prefix, in any column. Every term is quoted, so FTS syntax in the input is inert.
pub fn fts_query(input: &str) -> Option<String> {
    let text = input.trim();
    if text.is_empty() {
        return None;
    }
    let phone_like = text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && text.chars().any(|c| c.is_ascii_digit());
    if phone_like {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        // A leading 0 is India's trunk prefix, not part of the number.
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return None;
        }
        return Some(format!("phones : \"{digits}\"*"));
    }
    words_query(text)
}

/// Every word of `input` as a quoted prefix term (all must match), or `None` without a word.
fn words_query(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{}\"*", t.replace('"', "\"\"")))
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_like_input_searches_digits() {
        assert_eq!(
            fts_query("98765 43210").as_deref(),
            Some("phones : \"9876543210\"*")
        );
        assert_eq!(fts_query("+91-98765").as_deref(), Some("phones : \"9198765\"*"));
        assert_eq!(fts_query("098765").as_deref(), Some("phones : \"98765\"*"));
    }

    #[test]
    fn words_become_quoted_prefixes() {
        assert_eq!(fts_query("  priya  sha ").as_deref(), Some("\"priya\"* \"sha\"*"));
        assert_eq!(
            fts_query("NEAR(\"x\" OR y)*").as_deref(),
            Some("\"NEAR\"* \"x\"* \"OR\"* \"y\"*")
        );
        assert_eq!(fts_query("   "), None);
        assert_eq!(fts_query("---"), None);
    }

    #[test]
    fn national_and_international_forms() {
        let n = PhoneNumber::parse("+919876543210").expect("valid");
        assert_eq!(
            phone_terms(&n),
            vec!["919876543210".to_owned(), "9876543210".to_owned()]
        );
    }
}
