//! Structure-aware mutations of valid samples, shared by `leadline-bench fuzz` and the crates' property
//! tests (which include this file with `#[path]`): a case is a valid sample (checked for round trips), a
//! valid sample damaged by a few mutations (byte flips, truncation, splicing with another sample, huge
//! numbers, unicode, CRLF games, repeated and dropped lines, the target's own tokens), or raw bytes.
//! proptest shrinks the mutation list, so a failing input is reported minimised.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;

/// Longest input a mutation may build (a few repeats of a big chunk stop here).
pub const MAX_LEN: usize = 256 * 1024;

/// One fuzz case of a target whose valid samples are `T`.
#[derive(Clone)]
pub enum Case<T> {
    /// A valid sample, unchanged: it must parse, and round-trip where the parser has a printer.
    Valid(T),
    /// Bytes that may or may not be valid: they must get an answer (a value or a typed error), never a
    /// panic.
    Bytes(Vec<u8>),
}

impl<T: fmt::Debug> fmt::Debug for Case<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Case::Valid(t) => f.debug_tuple("Valid").field(t).finish(),
            Case::Bytes(b) => write!(f, "Bytes(b\"{}\")", b.escape_ascii()),
        }
    }
}

/// One change to a sample. Positions are [`Index`]es (fractions of the current length), so they shrink
/// and stay valid whatever the length.
#[derive(Debug, Clone)]
pub enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    /// Inserts the target's token number `.1` (its dictionary is given to [`apply`]).
    Token(Index, Index),
    /// Replaces the token at its first occurrence after the position with another token.
    ReplaceToken(Index, Index, Index),
    Insert(Index, Vec<u8>),
    Unicode(Index, char),
    Delete(Index, u16),
    /// Repeats a chunk (start, length) this many times in place.
    Repeat(Index, u16, u16),
    Truncate(Index),
    /// Puts the tail of the other sample (from its position) after this one's head.
    Splice(Index, Index),
    /// Replaces the next run of digits with a huge or negative number.
    Number(Index, Index),
    /// `\r\n` → `\n`, `\n` → `\r\n`, `\r\n` → `\r`, or a bare `\r` / `\0` inserted.
    LineEnds(u8, Index),
    DupLine(Index),
    DropLine(Index),
    SwapLines(Index, Index),
}

/// Numbers that trip parsers.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "1e308",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "0x10",
    "1.5",
    "00000000000000000001",
    "१२३",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Token(i, t)),
        3 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(i, a, b)| Mutation::ReplaceToken(i, a, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Mutation::Unicode(i, c)),
        2 => (any::<Index>(), 1..64u16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1..64u16, 1..300u16).prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::Splice(i, j)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, n)| Mutation::Number(i, n)),
        2 => (0..5u8, any::<Index>()).prop_map(|(m, i)| Mutation::LineEnds(m, i)),
        2 => any::<Index>().prop_map(Mutation::DupLine),
        1 => any::<Index>().prop_map(Mutation::DropLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::SwapLines(i, j)),
    ]
}

fn at(i: &Index, len: usize) -> usize {
    // An index into 0..=len (an insertion point).
    i.index(len + 1)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The line spans (start, end including its line break) of `b`.
fn lines(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in b.iter().enumerate() {
        if *c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

/// Applies `ops` to `base` in order; `other` is the second sample for splices, `tokens` the target's
/// dictionary.
pub fn apply(base: &[u8], other: &[u8], ops: &[Mutation], tokens: &[&[u8]]) -> Vec<u8> {
    let mut b = base.to_vec();
    for op in ops {
        let len = b.len();
        match op {
            Mutation::Flip(i, x) if len > 0 => {
                let i = i.index(len);
                b[i] ^= x;
            }
            Mutation::Set(i, x) if len > 0 => {
                let i = i.index(len);
                b[i] = *x;
            }
            Mutation::Token(i, t) if !tokens.is_empty() => {
                let p = at(i, len);
                let tok = t.get(tokens);
                b.splice(p..p, tok.iter().copied());
            }
            Mutation::ReplaceToken(i, a, c) if !tokens.is_empty() => {
                let (from, to) = (a.get(tokens), c.get(tokens));
                let start = at(i, len);
                if let Some(p) = find(&b, from, start).or_else(|| find(&b, from, 0)) {
                    b.splice(p..p + from.len(), to.iter().copied());
                }
            }
            Mutation::Insert(i, bytes) => {
                let p = at(i, len);
                b.splice(p..p, bytes.iter().copied());
            }
            Mutation::Unicode(i, c) => {
                let p = at(i, len);
                let mut buf = [0u8; 4];
                b.splice(p..p, c.encode_utf8(&mut buf).bytes());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let p = i.index(len);
                let end = (p + usize::from(*n)).min(len);
                b.drain(p..end);
            }
            Mutation::Repeat(i, n, k) if len > 0 => {
                let p = i.index(len);
                let end = (p + usize::from(*n)).min(len);
                let chunk = b[p..end].to_vec();
                let times = usize::from(*k).min(MAX_LEN / chunk.len().max(1));
                let extra: Vec<u8> = chunk.iter().copied().cycle().take(chunk.len() * times).collect();
                b.splice(end..end, extra);
            }
            Mutation::Truncate(i) => b.truncate(at(i, len)),
            Mutation::Splice(i, j) => {
                b.truncate(at(i, len));
                b.extend_from_slice(&other[at(j, other.len())..]);
            }
            Mutation::Number(i, n) => {
                let start = at(i, len);
                let digit = b[start.min(len)..]
                    .iter()
                    .position(u8::is_ascii_digit)
                    .map(|p| p + start)
                    .or_else(|| b.iter().position(u8::is_ascii_digit));
                let number = n.get(NUMBERS).as_bytes();
                match digit {
                    Some(p) => {
                        let end = b[p..]
                            .iter()
                            .position(|c| !c.is_ascii_digit())
                            .map_or(len, |e| e + p);
                        b.splice(p..end, number.iter().copied());
                    }
                    None => {
                        b.splice(start..start, number.iter().copied());
                    }
                }
            }
            Mutation::LineEnds(mode, i) => {
                b = match mode {
                    0 => replace_all(&b, b"\r\n", b"\n"),
                    1 => replace_all(&replace_all(&b, b"\r\n", b"\n"), b"\n", b"\r\n"),
                    2 => replace_all(&b, b"\r\n", b"\r"),
                    3 => {
                        let p = at(i, len);
                        b.insert(p, b'\r');
                        b
                    }
                    _ => {
                        let p = at(i, len);
                        b.insert(p, 0);
                        b
                    }
                };
            }
            Mutation::DupLine(i) => {
                let ls = lines(&b);
                if !ls.is_empty() {
                    let (s, e) = *i.get(&ls);
                    let line = b[s..e].to_vec();
                    b.splice(e..e, line);
                }
            }
            Mutation::DropLine(i) => {
                let ls = lines(&b);
                if !ls.is_empty() {
                    let (s, e) = *i.get(&ls);
                    b.drain(s..e);
                }
            }
            Mutation::SwapLines(i, j) => {
                let ls = lines(&b);
                if ls.len() >= 2 {
                    let (mut x, mut y) = (*i.get(&ls), *j.get(&ls));
                    if x.0 > y.0 {
                        std::mem::swap(&mut x, &mut y);
                    }
                    if x != y {
                        let mut out = b[..x.0].to_vec();
                        out.extend_from_slice(&b[y.0..y.1]);
                        out.extend_from_slice(&b[x.1..y.0]);
                        out.extend_from_slice(&b[x.0..x.1]);
                        out.extend_from_slice(&b[y.1..]);
                        b = out;
                    }
                }
            }
            _ => {}
        }
        b.truncate(MAX_LEN);
    }
    b
}

fn replace_all(b: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The cases of a target: valid samples from `valid` (rendered to bytes by `render`), mutated ones (up to
/// eight mutations, splices with a second sample, `tokens` as the dictionary), raw bytes and raw text.
pub fn cases<T: fmt::Debug + Clone + 'static>(
    valid: BoxedStrategy<T>,
    render: fn(&T) -> Vec<u8>,
    tokens: &'static [&'static [u8]],
) -> BoxedStrategy<Case<T>> {
    let ops = prop::collection::vec(mutation(), 1..8);
    let mutated = (valid.clone(), valid.clone(), ops)
        .prop_map(move |(a, b, ops)| Case::Bytes(apply(&render(&a), &render(&b), &ops, tokens)));
    prop_oneof![
        2 => valid.prop_map(Case::Valid),
        12 => mutated,
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Case::Bytes),
        1 => re(".{0,200}").prop_map(|s: String| Case::Bytes(s.into_bytes())),
    ]
    .boxed()
}

/// The strings of a regular expression, compiled once (a `&str` used as a strategy compiles its pattern
/// again for every case).
pub fn re(pattern: &str) -> BoxedStrategy<String> {
    proptest::string::string_regex(pattern)
        .unwrap_or_else(|e| panic!("bad pattern {pattern:?}: {e}"))
        .boxed()
}

/// Text that is awkward to parse: empty, blanks, quotes, separators, control characters, right-to-left
/// marks, emoji, Devanagari, very long runs.
pub fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => re("[A-Za-z0-9 ._-]{0,12}"),
        1 => Just(String::new()),
        1 => Just(" \t ".to_owned()),
        1 => re("[\"';,:<>=\\\\/@!#%&*()\\[\\]{}|?+-]{1,6}"),
        1 => re("[\u{0}-\u{1f}\u{7f}]{1,4}"),
        1 => Just("\u{202e}\u{200b}\u{feff}".to_owned()),
        1 => re("[\u{0900}-\u{097f}]{1,8}"),
        1 => Just("😀👨‍👩‍👧".to_owned()),
        1 => (1..2000usize).prop_map(|n| "x".repeat(n)),
        2 => re(".{0,16}"),
    ]
}
