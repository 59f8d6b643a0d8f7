//! Fuzz target `csv`: lead CSV uploads through [`leadline_model::import::parse_leads_csv`], the parser the
//! server's `POST /api/v1/import/csv` and the desktop cache's import (leadline-store) both run. A valid
//! file imports every row as written; any input gets leads and a consistent report, or a typed refusal.

use proptest::prelude::*;

use leadline_model::import::{ImportOptions, ParsedImport, parse_leads_csv};

use super::mutate::{Case, cases, re};

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// The 8 digits after `98` of an Indian mobile number.
    pub number: u32,
    /// How the number is written: `98…`, `+91 98…`, `098…`, `91-98…`, Excel's guarded `'+91…`.
    pub style: u8,
    pub city: String,
    pub budget: Option<u32>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Sample {
    /// Header spellings of name, phone, city, budget, tags (in this order), and the column order.
    pub headers: [&'static str; 5],
    pub order: Vec<usize>,
    pub delimiter: u8,
    pub bom: bool,
    pub crlf: bool,
    pub merge: bool,
    pub rows: Vec<Row>,
}

const TOKENS: &[&[u8]] = &[
    b",",
    b";",
    b"\t",
    b"\"",
    b"\"\"",
    b"\r\n",
    b"\n",
    b"\r",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xFE\xFF",
    b"PK\x03\x04",
    b"\x00",
    b"'=",
    b"=HYPERLINK(\"x\")",
    b"+91",
    b"9.87654E+09",
    b"name",
    b"phone",
    b"Mobile",
    b"Full Name",
    b"budget_inr",
    b"tags",
    b"status",
    b"assigned_to",
    b"alternate_phone",
    b"1,50,000",
    b"2Cr",
    b"1.5 lakh",
    b"\xe0\xa4\xa8\xe0\xa4\xbe\xe0\xa4\xae",
    b"\xc3",
];

fn row() -> impl Strategy<Value = Row> {
    (
        prop_oneof![
            4 => re("[A-Za-z][A-Za-z .'-]{0,30}[A-Za-z]"),
            1 => re("[\u{0900}-\u{0963}]{1,10}"),
            1 => re("[A-Za-z]{1,8}, [A-Za-z]{1,8}"),
            1 => re("[A-Za-z]{1,8} \"[A-Za-z]{1,5}\""),
        ],
        0..100_000_000u32,
        0..5u8,
        prop_oneof![2 => Just(String::new()), 3 => re("[A-Za-z][A-Za-z ]{0,15}[A-Za-z]"), 1 => re("[\u{0900}-\u{0963}]{1,8}")],
        prop::option::of(1..2_000_000_000u32),
        prop::collection::vec(re("[a-z]{1,10}"), 0..4),
    )
        .prop_map(|(name, number, style, city, budget, tags)| Row {
            name,
            number,
            style,
            city,
            budget,
            tags,
        })
}

fn sample() -> BoxedStrategy<Sample> {
    (
        (
            prop::sample::select(vec!["name", "Full Name", " CUSTOMER_NAME "]),
            prop::sample::select(vec!["phone", "Mobile", "Phone Number"]),
            prop::sample::select(vec!["city", "City"]),
            prop::sample::select(vec!["budget_inr", "Budget (INR)"]),
            prop::sample::select(vec!["tags", "Tags"]),
        ),
        Just((0..5usize).collect::<Vec<_>>()).prop_shuffle(),
        prop::sample::select(vec![b',', b';', b'\t']),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(row(), 1..12),
    )
        .prop_map(
            |((h0, h1, h2, h3, h4), order, delimiter, bom, crlf, merge, rows)| Sample {
                headers: [h0, h1, h2, h3, h4],
                order,
                delimiter,
                bom,
                crlf,
                merge,
                rows,
            },
        )
        .boxed()
}

fn phone_text(r: &Row) -> String {
    let digits = format!("98{:08}", r.number);
    match r.style {
        0 => digits,
        1 => format!("+91 {} {}", &digits[..5], &digits[5..]),
        2 => format!("0{digits}"),
        3 => format!("91-{digits}"),
        _ => format!("'+91{digits}"),
    }
}

fn quote(cell: &str, delimiter: u8) -> String {
    if cell.contains([delimiter as char, '"', '\n', '\r']) || cell.starts_with(' ') || cell.ends_with(' ') {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// The file as a spreadsheet would save it.
pub fn render(s: &Sample) -> Vec<u8> {
    let eol = if s.crlf { "\r\n" } else { "\n" };
    let d = (s.delimiter as char).to_string();
    let mut out = String::new();
    if s.bom {
        out.push('\u{feff}');
    }
    let header: Vec<String> = s
        .order
        .iter()
        .map(|&i| quote(s.headers[i], s.delimiter))
        .collect();
    out.push_str(&header.join(&d));
    out.push_str(eol);
    for r in &s.rows {
        let cells = [
            r.name.clone(),
            phone_text(r),
            r.city.clone(),
            r.budget.map(|b| b.to_string()).unwrap_or_default(),
            r.tags.join(";"),
        ];
        let line: Vec<String> = s.order.iter().map(|&i| quote(&cells[i], s.delimiter)).collect();
        out.push_str(&line.join(&d));
        out.push_str(eol);
    }
    out.into_bytes()
}

/// The strategy of this target.
pub fn strategy() -> BoxedStrategy<Case<Sample>> {
    cases(sample(), render, TOKENS)
}

/// The report adds up and matches the leads.
fn consistent(p: &ParsedImport) -> Result<(), String> {
    let r = &p.report;
    if r.rows != r.valid + r.invalid {
        return Err(format!(
            "rows {} != valid {} + invalid {}",
            r.rows, r.valid, r.invalid
        ));
    }
    if r.leads != p.leads.len() || r.leads + r.duplicates != r.valid || r.merged > r.duplicates {
        return Err(format!("leads/duplicates do not add up: {r:?}"));
    }
    if r.issues_total < r.invalid + r.duplicates || r.issues.len() > r.issues_total {
        return Err(format!("issues do not add up: {r:?}"));
    }
    Ok(())
}

/// Checks one case.
pub fn check(case: &Case<Sample>) -> Result<(), String> {
    let s = match case {
        Case::Bytes(b) => {
            let opts = ImportOptions {
                merge_duplicates: b.len() % 2 == 0,
                max_issues: 20,
                ..ImportOptions::default()
            };
            return match parse_leads_csv(b, &opts) {
                Ok(p) => consistent(&p),
                Err(e) => {
                    // A typed refusal with a stable code and a message.
                    if e.code().is_empty() || e.to_string().is_empty() {
                        return Err(format!("error without code or message: {e:?}"));
                    }
                    Ok(())
                }
            };
        }
        Case::Valid(s) => s,
    };
    let opts = ImportOptions {
        merge_duplicates: s.merge,
        ..ImportOptions::default()
    };
    let parsed = parse_leads_csv(&render(s), &opts).map_err(|e| format!("valid file refused: {e}"))?;
    consistent(&parsed)?;
    let mut seen = std::collections::HashSet::new();
    let expected: Vec<&Row> = s.rows.iter().filter(|r| seen.insert(r.number)).collect();
    if parsed.report.invalid != 0 {
        return Err(format!("valid rows reported invalid: {:?}", parsed.report.issues));
    }
    if parsed.leads.len() != expected.len() {
        return Err(format!(
            "{} leads from {} distinct rows",
            parsed.leads.len(),
            expected.len()
        ));
    }
    for (lead, r) in parsed.leads.iter().zip(expected) {
        let name = r.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if lead.name != name || lead.phone.as_str() != format!("+9198{:08}", r.number) {
            return Err(format!("row {:?} read as {} {}", r, lead.name, lead.phone));
        }
        if lead.budget_inr.map(|b| b as u64) != r.budget.map(u64::from) && !s.merge {
            return Err(format!("budget of {r:?} read as {:?}", lead.budget_inr));
        }
    }
    Ok(())
}
