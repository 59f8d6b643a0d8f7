//! The full-text index over leads (name, phone numbers in several digit forms, call notes) and the one
//! matching rule that every way of searching it follows.
//!
//! Text goes into the index *folded* by [`fold`]: lower case, Latin accents removed, compatibility forms
//! (full-width letters, ligatures) replaced, and cut into words of letters, digits and combining marks
//! separated by single spaces. The FTS5 table uses the `ascii` tokenizer, which splits folded text exactly
//! at those spaces and nowhere else, so FTS5's words and [`matches`]' words are the same words by
//! construction. A search may then be answered either by the FTS5 index (few matches) or by walking a list
//! index and checking each lead's folded text with [`matches`] (many matches) and give the same leads.
//!
//! A one-letter word (`nandini b`) means the start of a word of the name. A full-text prefix query on one
//! letter would gather the matches of every word with that letter in any column, most of the index, so the
//! name column also holds each word's initial as a term of its own, [`INITIAL`] and the letter (`·b`): one
//! exact term, read like any other. Folding never produces `·`, so no typed word can match an initial.

use std::collections::BTreeSet;

use leadline_model::{Id, PhoneNumber};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::StoreError;

/// The SQL name of [`fold`].
pub(crate) const FOLD_FN: &str = "leadline_fold";
/// The SQL name of [`matches`]: `leadline_match(name, phones, notes, spec)`.
pub(crate) const MATCH_FN: &str = "leadline_match";
/// The SQL name of [`index_name`].
pub(crate) const NAME_FN: &str = "leadline_index_name";

/// Marks a name word's initial in the index (see the module docs): not a letter, digit or mark, so [`fold`]
/// never produces it, and not ASCII, so the `ascii` tokenizer keeps it inside its word.
pub(crate) const INITIAL: char = '\u{B7}';

/// Folds `text` for the search index and for search input (see the module docs).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // A separator seen since the last word character: the next word character starts a new word.
    let mut gap = false;
    let push = |c: char, out: &mut String, gap: &mut bool| {
        if *gap && !out.is_empty() {
            out.push(' ');
        }
        *gap = false;
        out.push(c);
    };
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                push(c.to_ascii_lowercase(), &mut out, &mut gap);
            } else {
                gap = true;
            }
            continue;
        }
        for d in std::iter::once(c).nfkd() {
            if is_latin_accent(d) {
                continue;
            }
            if d.is_alphanumeric() || is_combining_mark(d) {
                for l in d.to_lowercase() {
                    if !is_latin_accent(l) {
                        push(l, &mut out, &mut gap);
                    }
                }
            } else {
                gap = true;
            }
        }
    }
    out
}

/// The name column of a lead's index row: the folded name, then each word's initial (see the module docs).
pub(crate) fn index_name(name: &str) -> String {
    let folded = fold(name);
    let initials: Vec<String> = folded
        .split(' ')
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{INITIAL}{c}"))
        .collect();
    if initials.is_empty() {
        folded
    } else {
        format!("{folded} {}", initials.join(" "))
    }
}

/// Combining marks that only put an accent on a Latin letter: dropped, so `José` is found by `jose`. The
/// marks of Indic scripts (vowel signs, virama, nukta) are part of their words and kept.
fn is_latin_accent(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}')
}

/// Where a search word must be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Any column: name, numbers or notes.
    Any,
    /// A word of the name.
    Name,
    /// A number's digits.
    Phones,
}

impl Scope {
    fn tag(self) -> char {
        match self {
            Scope::Any => '*',
            Scope::Name => 'n',
            Scope::Phones => 'p',
        }
    }
}

/// What a user typed in the search box, as terms that all must match a word's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchTerms {
    /// Words of two characters or more (or a number's digits): the start of a word.
    words: Vec<(Scope, String)>,
    /// One-character words: the start of a word of the name (its initial, in the index).
    letters: Vec<String>,
}

impl SearchTerms {
    /// The terms of `input`; `None` when there is nothing to search for.
    ///
    /// Input that looks like a phone number (digits with spaces, `+`, `-`, brackets) is one term, its digits,
    /// for the numbers only, so `98765 43210`, `+91 98765` and `098765` all match `+919876543210`.
    pub(crate) fn parse(input: &str) -> Option<SearchTerms> {
        let text = input.trim();
        if is_phone_like(text) {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            // A leading 0 is India's trunk prefix, not part of the number.
            let digits = digits.trim_start_matches('0');
            if digits.is_empty() {
                return None;
            }
            return Some(SearchTerms {
                words: vec![(Scope::Phones, digits.to_owned())],
                letters: Vec::new(),
            });
        }
        let folded = fold(text);
        let mut words = Vec::new();
        let mut letters = Vec::new();
        for word in folded.split(' ').filter(|w| !w.is_empty()) {
            if word.chars().count() == 1 {
                letters.push(word.to_owned());
            } else {
                words.push((Scope::Any, word.to_owned()));
            }
        }
        (!words.is_empty() || !letters.is_empty()).then_some(SearchTerms { words, letters })
    }

    /// The FTS5 query: each word a quoted prefix, each letter its initial's exact term in the name column,
    /// all required.
    pub(crate) fn fts(&self) -> String {
        let quote = |w: &str| format!("\"{}\"", w.replace('"', "\"\""));
        let words = self.words.iter().map(|(scope, w)| match scope {
            Scope::Phones => format!("phones : {}*", quote(w)),
            Scope::Name => format!("name : {}*", quote(w)),
            Scope::Any => format!("{}*", quote(w)),
        });
        let letters = self
            .letters
            .iter()
            .map(|l| format!("name : {}", quote(&format!("{INITIAL}{l}"))));
        words.chain(letters).collect::<Vec<_>>().join(" ")
    }

    /// The argument of `leadline_match` for these terms.
    pub(crate) fn spec(&self) -> String {
        let letters = self.letters.iter().map(|l| (Scope::Name, l.clone()));
        self.words
            .iter()
            .cloned()
            .chain(letters)
            .map(|(scope, w)| format!("{}{w}", scope.tag()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn is_phone_like(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && text.chars().any(|c| c.is_ascii_digit())
}

/// Whether every term of `spec` (as made by [`SearchTerms::spec`]) starts a word of the folded columns it
/// names: the same rule as the FTS5 query of [`SearchTerms::fts`].
pub(crate) fn matches(name: &str, phones: &str, notes: &str, spec: &str) -> bool {
    spec.split(' ').filter(|t| !t.is_empty()).all(|term| {
        let mut chars = term.chars();
        let tag = chars.next();
        let word = chars.as_str().as_bytes();
        // An occurrence at the text's start or after a space. (A match of valid UTF-8 in valid UTF-8 always
        // starts on a character boundary.)
        let starts = |text: &str| {
            let t = text.as_bytes();
            memchr::memmem::find_iter(t, word).any(|at| at == 0 || t[at - 1] == b' ')
        };
        match tag {
            Some('n') => starts(name),
            Some('p') => starts(phones),
            _ => starts(name) || starts(phones) || starts(notes),
        }
    })
}

/// Registers [`fold`] and [`matches`] on `conn` (every connection of the store: migrations, indexing and
/// list queries call them).
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function(FOLD_FN, 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => Some(fold(&String::from_utf8_lossy(t))),
            ValueRef::Integer(i) => Some(i.to_string()),
            ValueRef::Real(f) => Some(fold(&f.to_string())),
            ValueRef::Null | ValueRef::Blob(_) => None,
        })
    })?;
    conn.create_scalar_function(NAME_FN, 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => Some(index_name(&String::from_utf8_lossy(t))),
            _ => None,
        })
    })?;
    conn.create_scalar_function(MATCH_FN, 4, flags, |ctx| {
        let text = |i: usize| match ctx.get_raw(i) {
            ValueRef::Text(t) => std::str::from_utf8(t).unwrap_or(""),
            _ => "",
        };
        Ok(matches(text(0), text(1), text(2), text(3)))
    })?;
    Ok(())
}

/// The digit forms a person may type for a number: full international digits (`919876543210`) and the
/// national number (`9876543210`). FTS prefix queries then match any leading part of either.
fn phone_terms(phone: &PhoneNumber) -> Vec<String> {
    let mut terms = vec![phone.digits().to_owned()];
    let national = phone.national_digits();
    if national != terms[0] {
        terms.push(national.to_owned());
    }
    terms
}

/// The name and number columns of a lead's index row.
pub(crate) fn index_columns(name: &str, phones: &[&PhoneNumber]) -> (String, String) {
    let digits: Vec<String> = phones.iter().flat_map(|p| phone_terms(p)).collect();
    (index_name(name), digits.join(" "))
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
    let mut numbers = Vec::new();
    let mut unparsed = Vec::new();
    for p in std::iter::once(phone).chain(alternate) {
        match PhoneNumber::from_stored(&p) {
            Ok(n) => numbers.push(n),
            Err(_) => unparsed.push(fold(&p)),
        }
    }
    let (name, mut phones) = index_columns(&name, &numbers.iter().collect::<Vec<_>>());
    for u in unparsed {
        if !phones.is_empty() {
            phones.push(' ');
        }
        phones.push_str(&u);
    }
    conn.prepare_cached("DELETE FROM lead_search WHERE rowid = ?1")?
        .execute([rowid])?;
    conn.prepare_cached(&format!(
        "INSERT INTO lead_search (rowid, name, phones, notes)
         VALUES (?1, ?2, ?3, (SELECT coalesce({FOLD_FN}(group_concat(notes, ' ')), '')
                              FROM call_logs WHERE lead_id = ?4))"
    ))?
    .execute(params![rowid, name, phones, id])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fts(input: &str) -> Option<String> {
        SearchTerms::parse(input).map(|t| t.fts())
    }

    #[test]
    fn phone_like_input_searches_digits() {
        assert_eq!(fts("98765 43210").as_deref(), Some("phones : \"9876543210\"*"));
        assert_eq!(fts("+91-98765").as_deref(), Some("phones : \"9198765\"*"));
        assert_eq!(fts("098765").as_deref(), Some("phones : \"98765\"*"));
        assert_eq!(SearchTerms::parse("000"), None);
    }

    #[test]
    fn words_become_quoted_prefixes() {
        assert_eq!(fts("  Priya  SHA ").as_deref(), Some("\"priya\"* \"sha\"*"));
        assert_eq!(
            fts("NEAR(\"x\" OR y)*").as_deref(),
            Some("\"near\"* \"or\"* name : \"\u{B7}x\" name : \"\u{B7}y\"")
        );
        assert_eq!(SearchTerms::parse("   "), None);
        assert_eq!(SearchTerms::parse("---"), None);
        let t = SearchTerms::parse("nandini b").expect("terms");
        assert_eq!(t.fts(), "\"nandini\"* name : \"\u{B7}b\"");
        assert_eq!(t.spec(), "*nandini nb");
        let only = SearchTerms::parse("b K").expect("terms");
        assert_eq!(only.fts(), "name : \"\u{B7}b\" name : \"\u{B7}k\"");
        assert_eq!(only.spec(), "nb nk");
    }

    #[test]
    fn folding_removes_case_and_accents_and_keeps_indic_words_whole() {
        assert_eq!(fold("  José  MÜLLER-Ålund "), "jose muller alund");
        assert_eq!(fold("Ｒａｖｉ ﬁne²"), "ravi fine2");
        // Devanagari vowel signs, virama and nukta are inside the word.
        assert_eq!(fold("प्रिया शर्मा, क़िला"), "प्रिया शर्मा क\u{93c}िला");
        // Decomposed and precomposed input fold alike.
        assert_eq!(fold("Re\u{301}sume\u{301}"), fold("Résumé"));
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("!!"), "");
        assert_eq!(
            fold("a\u{B7}b"),
            "a b",
            "the initials' mark is never folded into a word"
        );
        assert_eq!(index_name("Asha  Kulkarni"), "asha kulkarni \u{B7}a \u{B7}k");
        assert_eq!(index_name("प्रिया"), "प्रिया \u{B7}प");
        assert_eq!(index_name("--"), "");
        // Folding is idempotent: folded text read back folds to itself.
        for s in ["José MÜLLER", "प्रिया", "a-b_c.d", "Ｒａｖｉ"] {
            assert_eq!(fold(&fold(s)), fold(s));
        }
    }

    #[test]
    fn matching_follows_word_starts_and_scopes() {
        let (name, phones) = index_columns(
            "Asha Kulkarni",
            &[&PhoneNumber::parse("+919876543210").expect("valid")],
        );
        let notes = fold("Wants the Kundan set; visit Saturday");
        let m = |input: &str| {
            matches(
                &name,
                &phones,
                &notes,
                &SearchTerms::parse(input).expect("terms").spec(),
            )
        };
        assert!(m("asha kul"));
        assert!(m("KUNDAN sat"));
        assert!(m("98765"));
        assert!(m("+91 98765 43210"));
        assert!(m("a k"));
        assert!(!m("undan"), "a word's middle does not match");
        assert!(!m("asha w"), "a one-letter word must start a word of the name");
        assert!(!m("asha kundan xyz"));
        assert!(!m("43210"));
        assert_eq!(
            SearchTerms::parse("\u{B7}a").expect("terms").spec(),
            "na",
            "no typed word is an initial"
        );
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
