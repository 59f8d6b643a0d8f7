//! CSV lead imports: real files from `tests/fixtures/import/` through `parse_leads_csv`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use leadline_model::{LeadPriority, LeadSource, LeadStatus};
use leadline_server::import::{
    ImportError, ImportOptions, ImportedLead, IssueKind, ParsedImport, RowIssue, parse_leads_csv,
};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> ParsedImport {
    parse_leads_csv(&fixture(name), &ImportOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse_err(name: &str) -> ImportError {
    match parse_leads_csv(&fixture(name), &ImportOptions::default()) {
        Ok(p) => panic!("{name}: expected an error, got {:?}", p.report),
        Err(e) => e,
    }
}

fn lead_at(parsed: &ParsedImport, row: usize) -> &ImportedLead {
    parsed
        .leads
        .iter()
        .find(|l| l.row == row)
        .unwrap_or_else(|| panic!("no lead from row {row}: {:?}", parsed.leads))
}

fn phones(parsed: &ParsedImport) -> Vec<&str> {
    parsed.leads.iter().map(|l| l.phone.as_str()).collect()
}

#[test]
fn bom_and_crlf_with_aliased_headers() {
    let parsed = parse("bom_crlf.csv");
    assert_eq!(parsed.report.rows, 3);
    assert_eq!(parsed.report.valid, 3);
    assert_eq!(parsed.report.invalid, 0);
    assert!(parsed.report.issues.is_empty(), "{:?}", parsed.report.issues);

    let asha = lead_at(&parsed, 2);
    assert_eq!(
        asha.name, "Asha Rao",
        "the BOM must not stick to the first header or value"
    );
    assert_eq!(asha.phone.as_str(), "+919876543210");
    assert_eq!(asha.email.as_deref(), Some("Asha.Rao@example.com"));
    assert_eq!(asha.city.as_deref(), Some("Pune"), "no trailing \\r");
    assert_eq!(asha.source, Some(LeadSource::WalkIn));
    assert_eq!(asha.budget_inr, Some(150_000));
    assert_eq!(asha.priority, Some(LeadPriority::High));
    assert_eq!(asha.status, Some(LeadStatus::New));
    assert_eq!(asha.tags, vec!["gold", "bridal"]);
    assert_eq!(asha.assigned_to.as_deref(), Some("priya"));

    let vikram = lead_at(&parsed, 3);
    assert_eq!(vikram.phone.as_str(), "+919820012345");
    assert_eq!(vikram.email, None);
    assert_eq!(vikram.budget_inr, Some(200_000));
    assert_eq!(vikram.priority, None, "empty priority stays unset");
    assert_eq!(vikram.status, Some(LeadStatus::Contacted));
    assert_eq!(vikram.assigned_to, None);

    let neha = lead_at(&parsed, 4);
    assert_eq!(neha.status, Some(LeadStatus::FollowUp));
    assert_eq!(neha.priority, Some(LeadPriority::Hot));
    assert_eq!(
        neha.tags,
        vec!["coins", "wedding"],
        "tags split on | and deduplicated"
    );
}

#[test]
fn quoted_fields_with_line_breaks_and_commas_keep_spreadsheet_row_numbers() {
    let parsed = parse("quoted_newlines.csv");
    assert_eq!(parsed.report.rows, 3);
    let rao = lead_at(&parsed, 2);
    assert_eq!(rao.name, "Rao, Asha");
    assert_eq!(
        rao.interest.as_deref(),
        Some("bridal necklace, matching earrings")
    );
    assert_eq!(rao.city.as_deref(), Some("Pune"));
    let khan = lead_at(&parsed, 3);
    assert_eq!(khan.name, "Khan \"Sam\" Imran");
    assert_eq!(khan.interest.as_deref(), Some("line one line two line three"));
    // The fourth record starts on line 7 of the file but is row 4 in a spreadsheet.
    assert_eq!(parsed.report.issues.len(), 1);
    let issue = &parsed.report.issues[0];
    assert_eq!(issue.row, 4);
    assert_eq!(issue.column.as_deref(), Some("phone"));
    assert_eq!(issue.value.as_deref(), Some("notaphone"));
}

#[test]
fn non_ascii_names_and_ignored_columns() {
    let parsed = parse("devanagari.csv");
    assert_eq!(parsed.report.valid, 3);
    assert_eq!(lead_at(&parsed, 2).name, "आशा राव");
    assert_eq!(lead_at(&parsed, 2).city.as_deref(), Some("पुणे"));
    assert_eq!(lead_at(&parsed, 3).name, "राजेश कुमार");
    assert_eq!(lead_at(&parsed, 4).name, "முருகன் செல்வம்");
    assert_eq!(parsed.report.ignored_columns, vec!["नाम (ignored)"]);
}

#[test]
fn mixed_phone_formats_normalise_to_e164() {
    let parsed = parse("mixed_phones.csv");
    assert_eq!(
        phones(&parsed),
        vec![
            "+919876543211",
            "+919876543212",
            "+919876543213",
            "+919876543214",
            "+442079460958"
        ]
    );
    assert_eq!(
        lead_at(&parsed, 3).alternate_phone.as_ref().map(|p| p.as_str()),
        Some("+912223456789")
    );
    assert_eq!(parsed.report.invalid, 1);
    let issue = &parsed.report.issues[0];
    assert_eq!((issue.row, issue.column.as_deref()), (7, Some("Phone Number")));
    assert!(issue.reason.contains("scientific notation"), "{}", issue.reason);
}

#[test]
fn in_file_duplicates_are_reported_by_default() {
    let parsed = parse("duplicates.csv");
    assert_eq!(parsed.report.rows, 5);
    assert_eq!(parsed.report.valid, 5);
    assert_eq!(parsed.report.duplicates, 3);
    assert_eq!(parsed.report.merged, 0);
    assert_eq!(parsed.report.leads, 2);
    assert_eq!(phones(&parsed), vec!["+919876543210", "+919820012345"]);
    let asha = lead_at(&parsed, 2);
    assert_eq!(asha.email, None, "a reported duplicate changes nothing");
    let dups: Vec<(usize, Option<usize>, IssueKind)> = parsed
        .report
        .issues
        .iter()
        .map(|i| (i.row, i.duplicate_of, i.kind))
        .collect();
    assert_eq!(
        dups,
        vec![
            (4, Some(2), IssueKind::Duplicate),
            (5, Some(2), IssueKind::Duplicate),
            (6, Some(2), IssueKind::Duplicate)
        ]
    );
    assert!(
        parsed.report.issues[0].reason.contains("duplicate of row 2"),
        "{:?}",
        parsed.report.issues[0]
    );
}

#[test]
fn in_file_duplicates_merge_when_asked() {
    let opts = ImportOptions {
        merge_duplicates: true,
        ..ImportOptions::default()
    };
    let parsed = parse_leads_csv(&fixture("duplicates.csv"), &opts).unwrap();
    assert_eq!(parsed.report.duplicates, 3);
    assert_eq!(parsed.report.merged, 3);
    assert_eq!(parsed.leads.len(), 2);
    let asha = lead_at(&parsed, 2);
    assert_eq!(asha.name, "Asha Rao", "the first row's values win");
    assert_eq!(asha.city.as_deref(), Some("Pune"));
    assert_eq!(
        asha.email.as_deref(),
        Some("asha@example.com"),
        "first non-empty later value fills"
    );
    assert_eq!(asha.interest.as_deref(), Some("necklace"));
    assert_eq!(asha.tags, vec!["gold", "bridal"]);
    assert_eq!(asha.merged_rows, vec![4, 5, 6]);
    let row4 = parsed.report.issues.iter().find(|i| i.row == 4).unwrap();
    assert_eq!(row4.kind, IssueKind::Merged);
    assert!(
        row4.reason.contains("name") && row4.reason.contains("city"),
        "{}",
        row4.reason
    );
    let row6 = parsed.report.issues.iter().find(|i| i.row == 6).unwrap();
    assert!(
        row6.reason.contains("email"),
        "conflicting email kept from the first: {}",
        row6.reason
    );
}

fn issue(row: usize, column: &str, value: &str) -> impl Fn(&RowIssue) -> bool {
    let column = column.to_owned();
    let value = value.to_owned();
    move |i: &RowIssue| {
        i.row == row && i.column.as_deref() == Some(&*column) && i.value.as_deref() == Some(&*value)
    }
}

#[test]
fn bad_rows_are_reported_with_row_column_and_reason() {
    let parsed = parse("bad_rows.csv");
    assert_eq!(parsed.report.rows, 10);
    assert_eq!(parsed.report.valid, 2);
    assert_eq!(parsed.report.invalid, 8);
    assert_eq!(
        parsed.leads.iter().map(|l| l.row).collect::<Vec<_>>(),
        vec![2, 12]
    );
    assert_eq!(parsed.report.blank_rows, 1, "the empty line is a blank row");

    let issues = &parsed.report.issues;
    let find = |row, column, value| {
        issues
            .iter()
            .find(|i| issue(row, column, value)(i))
            .unwrap_or_else(|| panic!("no issue {row}/{column}/{value:?} in {issues:#?}"))
            .reason
            .clone()
    };
    assert_eq!(find(3, "name", ""), "name is empty");
    assert_eq!(find(4, "phone", ""), "phone is empty");
    assert!(find(5, "phone", "12345").contains("\"12345\""));
    assert_eq!(
        find(6, "email", "not-an-email"),
        "\"not-an-email\" is not an email address"
    );
    assert!(find(7, "budget", "lots").starts_with("budget \"lots\" is not an amount"));
    assert_eq!(
        find(8, "priority", "urgentish"),
        "unknown priority \"urgentish\"; expected one of: low, normal, high, hot"
    );
    assert!(find(8, "status", "won").starts_with("unknown status \"won\"; expected one of: new, contacted"));
    assert!(find(8, "source", "newspaper").contains("walk_in, website"));
    assert!(find(9, "alternate phone", "abc").starts_with("alternate phone: "));
    // Every problem of a row is reported, not only the first.
    assert_eq!(issues.iter().filter(|i| i.row == 10).count(), 2);
    assert!(issues.iter().all(|i| i.kind == IssueKind::Invalid));
    assert_eq!(parsed.report.issues_total, issues.len());
}

#[test]
fn issue_list_is_capped_but_counted() {
    let opts = ImportOptions {
        max_issues: 3,
        ..ImportOptions::default()
    };
    let parsed = parse_leads_csv(&fixture("bad_rows.csv"), &opts).unwrap();
    assert_eq!(parsed.report.issues.len(), 3);
    assert_eq!(parsed.report.issues_total, 11);
    assert!(parsed.report.issues_truncated);
    let json = serde_json::to_value(&parsed.report).unwrap();
    assert_eq!(json["issues_total"], 11);
    assert_eq!(json["issues"][0]["row"], 3);
    assert_eq!(json["issues"][0]["kind"], "invalid");
}

#[test]
fn too_many_invalid_rows_refuse_the_whole_file() {
    let opts = ImportOptions {
        max_error_ratio: Some(0.5),
        ..ImportOptions::default()
    };
    match parse_leads_csv(&fixture("bad_rows.csv"), &opts) {
        Err(ImportError::TooManyInvalid {
            invalid: 8,
            rows: 10,
            report,
            ..
        }) => assert_eq!(report.issues_total, 11),
        other => panic!("{other:?}"),
    }
    let lenient = ImportOptions {
        max_error_ratio: Some(0.9),
        ..ImportOptions::default()
    };
    assert!(parse_leads_csv(&fixture("bad_rows.csv"), &lenient).is_ok());
}

#[test]
fn an_unterminated_quote_is_a_clear_error() {
    let err = parse_err("unterminated_quote.csv");
    assert_eq!(err, ImportError::UnterminatedQuote { row: 3 });
    assert!(err.to_string().contains("row 3"), "{err}");
    assert_eq!(err.code(), "import_malformed");
}

#[test]
fn a_truncated_last_row_refuses_the_file() {
    assert_eq!(
        parse_err("truncated_row.csv"),
        ImportError::Truncated {
            row: 3,
            found: 2,
            expected: 4
        }
    );
}

#[test]
fn ragged_rows_are_reported_not_imported() {
    let parsed = parse("ragged.csv");
    assert_eq!(parsed.leads.iter().map(|l| l.row).collect::<Vec<_>>(), vec![2, 5]);
    let rows: Vec<(usize, Option<&str>)> = parsed
        .report
        .issues
        .iter()
        .map(|i| (i.row, i.column.as_deref()))
        .collect();
    assert_eq!(rows, vec![(3, None), (4, None)]);
    assert!(
        parsed.report.issues[0]
            .reason
            .contains("2 fields but the header has 3")
    );
    assert!(
        parsed.report.issues[1]
            .reason
            .contains("4 fields but the header has 3")
    );
}

#[test]
fn whole_file_errors() {
    assert_eq!(parse_err("utf16.csv"), ImportError::Utf16 { big_endian: false });
    assert!(parse_err("utf16.csv").to_string().contains("UTF-16"));
    assert_eq!(parse_err("empty.csv"), ImportError::Empty);
    assert_eq!(
        parse_err("windows1252.csv"),
        ImportError::NotUtf8 { line: 2, offset: 14 }
    );
    match parse_err("missing_phone.csv") {
        ImportError::MissingColumns { missing, found } => {
            assert_eq!(missing, vec!["phone"]);
            assert_eq!(found, vec!["\"Name\"", "\"City\"", "\"Email\""]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn inline_whole_file_errors() {
    let opts = ImportOptions::default();
    let err = |bytes: &[u8]| parse_leads_csv(bytes, &opts).unwrap_err();
    assert_eq!(err(b" \r\n\n "), ImportError::Empty);
    assert_eq!(err(b"\xEF\xBB\xBF"), ImportError::Empty);
    assert_eq!(err(b"name,phone\n"), ImportError::NoRows);
    assert!(matches!(
        err(b"Asha,9876543210\nRavi,9811111111\n"),
        ImportError::NoHeader { .. }
    ));
    assert!(matches!(err(b"PK\x03\x04\x14\x00rest"), ImportError::Binary { what } if what.contains("xlsx")));
    assert!(matches!(
        err(b"name,phone\n\x00\x01\x02\x03"),
        ImportError::Binary { .. }
    ));
    assert_eq!(
        err("\u{feff}name,phone"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<_>>()
            .as_slice()),
        ImportError::Utf16 { big_endian: true }
    );
    assert!(matches!(
        err(b"name,Mobile,phone\n"),
        ImportError::DuplicateColumn { first, second, .. } if first == "Mobile" && second == "phone"
    ));

    let small = ImportOptions {
        max_bytes: 10,
        ..ImportOptions::default()
    };
    assert_eq!(
        parse_leads_csv(b"name,phone\nAsha,9876543210\n", &small).unwrap_err(),
        ImportError::TooLarge { size: 27, max: 10 }
    );
    let few = ImportOptions {
        max_rows: 1,
        ..ImportOptions::default()
    };
    assert_eq!(
        parse_leads_csv(b"name,phone\nAsha,9876543210\nRavi,9811111111\n", &few).unwrap_err(),
        ImportError::TooManyRows { max: 1 }
    );
}

#[test]
fn semicolon_separated_files_are_read() {
    let parsed = parse_leads_csv(
        "Name;Phone;Budget\nAsha;9876543210;\"1,50,000\"\n".as_bytes(),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(parsed.leads[0].budget_inr, Some(150_000));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_leads_csv(&bytes, &ImportOptions::default());
    }

    #[test]
    fn never_panics_on_csv_like_text(
        header in prop::sample::select(vec!["name,phone", "Name,Phone,City,Tags,Budget", "phone;name"]),
        body in "[a-zA-Z0-9 ,;|\"\r\n\u{0905}-\u{0915}₹+.-]{0,400}",
    ) {
        let text = format!("{header}\n{body}");
        if let Ok(parsed) = parse_leads_csv(text.as_bytes(), &ImportOptions::default()) {
            let r = parsed.report;
            prop_assert_eq!(r.valid + r.invalid, r.rows);
            prop_assert_eq!(r.leads + r.duplicates, r.valid);
            prop_assert!(parsed.leads.iter().all(|l| l.row >= 2));
        }
    }
}
