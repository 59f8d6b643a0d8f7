use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Numbers without a country code are read as Indian numbers: Leadline's first market.
pub const DEFAULT_REGION: phonenumber::country::Id = phonenumber::country::Id::IN;

thread_local! {
    /// Set while [`with_stored_numbers`] runs on this thread.
    static SHAPE_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, a decoding of what Leadline's own server sent, with every [`PhoneNumber`] checked for its E.164
/// shape only, as [`PhoneNumber::from_stored`] does. The server validated each number it holds when it took
/// it in; validating 100,000 of them again cost a new device's first sync more than writing them to its
/// cache. Numbers a server reads from clients, and numbers people type or import, are always parsed.
pub fn with_stored_numbers<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SHAPE_ONLY.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(SHAPE_ONLY.with(|c| c.replace(true)));
    f()
}

/// Why a phone number was refused. Always names the input, so a bad CSV row or form field can be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("{input:?} is not a phone number: {reason}")]
    Unparseable { input: String, reason: String },
    #[error("{input:?} is not a valid phone number for its region")]
    Invalid { input: String },
}

/// A phone number in E.164 form (`+919876543210`). The only way to build one is to parse and validate,
/// so every number stored or sent is comparable by plain string equality.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number as people type it (`98765 43210`, `+91-98765-43210`, `098765 43210`),
    /// reading numbers without a country code in [`DEFAULT_REGION`].
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        Self::parse_in(input, DEFAULT_REGION)
    }

    /// As [`PhoneNumber::parse`], with another default region.
    pub fn parse_in(input: &str, region: phonenumber::country::Id) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        // A phone number never needs more than a few dozen characters; refuse novels before parsing.
        if trimmed.len() > 64 {
            return Err(PhoneError::Unparseable {
                input: trimmed.chars().take(64).collect(),
                reason: "too long".into(),
            });
        }
        let parsed = phonenumber::parse(Some(region), trimmed).map_err(|e| PhoneError::Unparseable {
            input: trimmed.to_owned(),
            reason: e.to_string(),
        })?;
        if !validity::is_valid(&parsed) {
            return Err(PhoneError::Invalid {
                input: trimmed.to_owned(),
            });
        }
        // E.164: `+`, the calling code, the national significant number (with any leading zeros it keeps).
        Ok(Self(format!("+{}{}", parsed.code().value(), parsed.national())))
    }

    /// Takes back a number this program stored after [`PhoneNumber::parse`] validated it: checks only the
    /// E.164 shape (`+`, then 7 to 15 digits, no leading zero), which is far cheaper than parsing.
    /// Numbers from people or from the network go through [`PhoneNumber::parse`].
    pub fn from_stored(text: &str) -> Result<Self, PhoneError> {
        let digits = text.strip_prefix('+').unwrap_or("");
        let shaped = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if shaped {
            Ok(Self(text.to_owned()))
        } else {
            Err(PhoneError::Invalid {
                input: text.chars().take(64).collect(),
            })
        }
    }

    /// The E.164 text, e.g. `+919876543210`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits alone, e.g. `919876543210`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The digits after the country calling code, e.g. `9876543210` for `+919876543210` (what people dial
    /// within the country, without a trunk prefix). Calling codes are prefix-free, so the first one to three
    /// digits that name a code in the numbering plan's metadata are it; this needs no parsing.
    pub fn national_digits(&self) -> &str {
        let digits = self.digits();
        for len in 1..=3.min(digits.len()) {
            let known = digits[..len]
                .parse::<u16>()
                .is_ok_and(|code| phonenumber::metadata::DATABASE.by_code(&code).is_some());
            if known {
                return &digits[len..];
            }
        }
        digits
    }
}

/// `phonenumber::is_valid`, decided by the same metadata patterns and rule, faster and on every core.
///
/// The crate matches each pattern through one pattern cache behind a global lock, held for the whole match
/// (so threads validating an import in parallel wait for each other), and tries the rare kinds of number
/// (premium rate, pager, UAN…) before mobile and fixed-line ones. Here each region's patterns are compiled
/// once, anchored, shared without a lock, and tried mobile first. A number is valid when the region's
/// general pattern matches its national number and so does the pattern of some kind of number, which is
/// `phonenumber::is_valid`'s rule (its `number_type(…) != Unknown`); the order of the kinds does not change
/// it. Calling codes shared by several regions (`+1`, `+7`…) are left to the crate, which first picks the
/// region from the number.
mod validity {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, RwLock};

    use phonenumber::metadata::{DATABASE, Descriptor, Metadata};

    /// A pattern with the lengths it allows, as `Descriptor::is_match` uses them.
    struct Pattern {
        regex: regex::Regex,
        lengths: Vec<u16>,
    }

    impl Pattern {
        fn new(d: &Descriptor) -> Option<Self> {
            // The crate compiles these with `ignore_whitespace` and accepts a match that starts at the
            // number's first digit: the same as matching the pattern anchored at the start.
            let regex = regex::RegexBuilder::new(&format!("^(?:{}\n)", d.national_number().as_str()))
                .ignore_whitespace(true)
                .build()
                .ok()?;
            Some(Self {
                regex,
                lengths: d.possible_length().to_vec(),
            })
        }

        fn matches(&self, national: &str) -> bool {
            (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
                && self.regex.is_match(national)
        }
    }

    struct Region {
        general: Pattern,
        kinds: Vec<Pattern>,
    }

    impl Region {
        fn new(meta: &Metadata) -> Option<Self> {
            let d = meta.descriptors();
            let kinds = [
                d.mobile(),
                d.fixed_line(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            Some(Self {
                general: Pattern::new(d.general())?,
                kinds: kinds
                    .into_iter()
                    .flatten()
                    .map(Pattern::new)
                    .collect::<Option<_>>()?,
            })
        }
    }

    /// Compiled regions by calling code; `None` where the crate decides.
    static REGIONS: LazyLock<RwLock<HashMap<u16, Option<Arc<Region>>>>> = LazyLock::new(Default::default);

    fn region(code: u16) -> Option<Arc<Region>> {
        if let Some(known) = REGIONS.read().ok()?.get(&code) {
            return known.clone();
        }
        let regions = DATABASE.region(&code)?;
        let meta = match regions.as_slice() {
            ["001"] => DATABASE.by_code(&code)?.into_iter().next(),
            [one] => DATABASE.by_id(*one),
            _ => None,
        };
        let compiled = meta.and_then(Region::new).map(Arc::new);
        if let Ok(mut map) = REGIONS.write() {
            map.insert(code, compiled.clone());
        }
        compiled
    }

    pub(super) fn is_valid(number: &phonenumber::PhoneNumber) -> bool {
        let Some(region) = region(number.code().value()) else {
            return phonenumber::is_valid(number);
        };
        let national = number.national().to_string();
        region.general.matches(&national) && region.kinds.iter().any(|k| k.matches(&national))
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if SHAPE_ONLY.with(Cell::get) {
            Self::from_stored(&text).map_err(serde::de::Error::custom)
        } else {
            Self::parse(&text).map_err(serde::de::Error::custom)
        }
    }
}

/// The OpenAPI schema of a [`PhoneNumber`]: the E.164 string it serializes to (reading accepts what
/// [`PhoneNumber::parse`] accepts; answers always carry E.164).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for PhoneNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("e164".to_owned())))
            .pattern(Some(E164_PATTERN))
            .description(Some(
                "A phone number in E.164 form (`+919876543210`). Requests may send it as people type it \
                 (`98765 43210`, read as an Indian number); answers are always E.164.",
            ))
            .examples([serde_json::json!("+919876543210")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for PhoneNumber {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("PhoneNumber")
    }
}

/// The shape of an E.164 number as answered: `+`, then 7 to 15 digits, no leading zero.
#[cfg(feature = "openapi")]
pub const E164_PATTERN: &str = r"^\+[1-9][0-9]{6,14}$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indian_forms_normalise_to_e164() {
        for input in [
            "98765 43210",
            "+91-98765-43210",
            "098765 43210",
            "+91 98765 43210",
            "9876543210",
        ] {
            let n = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.as_str(), "+919876543210", "input {input}");
            assert_eq!(n.digits(), "919876543210");
        }
    }

    #[test]
    fn foreign_numbers_keep_their_country() {
        let n = PhoneNumber::parse("+44 20 7946 0958").expect("uk number");
        assert_eq!(n.as_str(), "+442079460958");
    }

    #[test]
    fn invalid_numbers_are_typed_errors_naming_the_input() {
        assert_eq!(PhoneNumber::parse("  "), Err(PhoneError::Empty));
        match PhoneNumber::parse("12345") {
            Err(PhoneError::Invalid { input }) | Err(PhoneError::Unparseable { input, .. }) => {
                assert_eq!(input, "12345")
            }
            other => panic!("expected an error, got {other:?}"),
        }
        let err = PhoneNumber::parse("call me maybe").expect_err("letters");
        assert!(err.to_string().contains("call me maybe"), "{err}");
        let long = "9".repeat(10_000);
        assert!(PhoneNumber::parse(&long).is_err());
    }

    #[test]
    fn stored_numbers_are_checked_for_shape_only() {
        assert_eq!(
            PhoneNumber::from_stored("+919876543210").map(|n| n.digits().to_owned()),
            Ok("919876543210".into())
        );
        for bad in [
            "919876543210",
            "+",
            "+0123456789",
            "+91 98765 43210",
            "+1234",
            "+1234567890123456",
            "",
        ] {
            assert!(PhoneNumber::from_stored(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_validates_on_the_way_in() {
        let n: PhoneNumber = serde_json::from_str("\"98765 43210\"").expect("valid");
        assert_eq!(serde_json::to_string(&n).expect("ser"), "\"+919876543210\"");
        let err = serde_json::from_str::<PhoneNumber>("\"0000\"").expect_err("invalid");
        assert!(err.to_string().contains("0000"), "{err}");
    }

    #[test]
    fn national_digits_follow_the_calling_code() {
        for (e164, national) in [
            ("+919876543210", "9876543210"),
            ("+14155550123", "4155550123"),
            ("+442079460958", "2079460958"),
            ("+971501234567", "501234567"),
            ("+8613812345678", "13812345678"),
        ] {
            let n = PhoneNumber::parse(e164).expect("valid");
            assert_eq!(n.national_digits(), national, "{e164}");
            // The same as a full parse says.
            let parsed = phonenumber::parse(None, e164).expect("parses");
            assert_eq!(parsed.national().value().to_string(), national, "{e164}");
        }
    }

    #[test]
    fn validation_and_e164_agree_with_the_phonenumber_crate() {
        // Numbers as people type them, valid and not, in regions with one calling code and in shared ones.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let prefixes = [
            "", "0", "+91 ", "+91-", "091", "+1 ", "+44 ", "+971 ", "+65 ", "+7 ", "+39 0", "+800 ", "+86 ",
        ];
        let mut valid = 0;
        for i in 0..12_000_u64 {
            let prefix = prefixes[(i % prefixes.len() as u64) as usize];
            let len = 5 + next(9);
            let digits: String = (0..len).map(|_| char::from(b'0' + next(10) as u8)).collect();
            // Half the numbers start like Indian mobiles, so plenty are valid.
            let digits = if i % 2 == 0 {
                format!("9{}", &digits[1..])
            } else {
                digits
            };
            let input = format!("{prefix}{digits}");
            let Ok(parsed) = phonenumber::parse(Some(DEFAULT_REGION), &input) else {
                continue;
            };
            let theirs = phonenumber::is_valid(&parsed);
            assert_eq!(validity::is_valid(&parsed), theirs, "{input}");
            if theirs {
                valid += 1;
                let ours = PhoneNumber::parse(&input).expect("valid");
                assert_eq!(
                    ours.as_str(),
                    parsed.format().mode(phonenumber::Mode::E164).to_string(),
                    "{input}"
                );
            }
        }
        assert!(valid > 800, "only {valid} valid numbers were compared");
    }

    #[test]
    fn answers_of_our_server_are_checked_for_shape_only() {
        // Shape-valid but not a number any region issues: refused from people, taken from the server.
        let unissued = "\"+10000000000\"";
        assert!(serde_json::from_str::<PhoneNumber>(unissued).is_err());
        let n: PhoneNumber = with_stored_numbers(|| serde_json::from_str(unissued)).expect("shape is E.164");
        assert_eq!(n.as_str(), "+10000000000");
        // Not E.164 at all: refused either way, naming the input.
        let err = with_stored_numbers(|| serde_json::from_str::<PhoneNumber>("\"98765 43210\""))
            .expect_err("not E.164");
        assert!(err.to_string().contains("98765 43210"), "{err}");
        // The mode ends with the call, even when the call panics.
        let _ = std::panic::catch_unwind(|| with_stored_numbers(|| panic!("boom")));
        assert!(serde_json::from_str::<PhoneNumber>(unissued).is_err());
    }
}
