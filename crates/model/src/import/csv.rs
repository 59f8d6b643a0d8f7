//! CSV uploads: encoding and shape checks, then the shared row pipeline of [`super`].

use super::{Collector, ColumnMap, ImportError, ImportOptions, ImportedLead, ParsedImport, RowIssue};

/// The UTF-8 byte-order mark Excel writes (and wants, to read a CSV file as UTF-8).
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// How much of the start of a file is inspected for binary content.
const SNIFF_BYTES: usize = 8 * 1024;

/// Parses and validates a CSV upload.
///
/// Accepts UTF-8 with or without a byte-order mark, CRLF or LF line ends, RFC 4180 quoting (quoted
/// fields may hold commas, quotes as `""` and line breaks), and `,`, `;` or tab as the delimiter (the
/// one the header row uses most). The first non-empty row is the header. Row numbers in the report are
/// the rows a spreadsheet shows (header = row 1; a record with line breaks inside quotes is one row).
///
/// Errors when the file is unusable as a whole: empty, too large, not UTF-8 (UTF-16 is named as such),
/// a spreadsheet or other binary file, no header or missing `name`/`phone` column, a quote never closed,
/// a truncated last row, too many rows or (with [`ImportOptions::max_error_ratio`]) too many invalid
/// rows. Otherwise every row is either imported or reported.
pub fn parse_leads_csv(bytes: &[u8], opts: &ImportOptions) -> Result<ParsedImport, ImportError> {
    if bytes.len() > opts.max_bytes {
        return Err(ImportError::TooLarge {
            size: bytes.len(),
            max: opts.max_bytes,
        });
    }
    let text = decode(bytes)?;
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let delimiter = sniff_delimiter(text);
    let rows = RowStarts::scan(text.as_bytes(), delimiter)?;

    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut records = reader.records();

    let header = match records.next() {
        None => return Err(ImportError::Empty),
        Some(Err(e)) => return Err(malformed(text, &rows, &e)),
        Some(Ok(record)) => record,
    };
    let header_row = header
        .position()
        .map(|p| rows.row_of(text.as_bytes(), p.byte()))
        .unwrap_or(1);
    let cells: Vec<&str> = header.iter().collect();
    let columns = ColumnMap::from_header(&cells)?;
    let mut collector = Collector::new(opts, &columns);
    let ends_with_newline = text.ends_with('\n') || text.ends_with('\r');

    let mut records = records.peekable();
    let mut data_records = 0;
    // Rows are checked for shape here, in order; the field validation (phone numbers above all) runs after,
    // on every core, and its results are collected in row order again.
    let mut pending: Vec<Pending> = Vec::new();
    while let Some(record) = records.next() {
        let record = record.map_err(|e| malformed(text, &rows, &e))?;
        data_records += 1;
        let row = record
            .position()
            .map(|p| rows.row_of(text.as_bytes(), p.byte()))
            .unwrap_or(0);
        let cells: Vec<&str> = record.iter().collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            collector.blank();
            continue;
        }
        collector.start_row()?;
        let expected = columns.len();
        if cells.len() < expected {
            if records.peek().is_none() && !ends_with_newline {
                return Err(ImportError::Truncated {
                    row,
                    found: cells.len(),
                    expected,
                });
            }
            pending.push(Pending::Issues(vec![RowIssue::invalid(
                row,
                None,
                Some(&cells.join(&*String::from(delimiter as char))),
                format!(
                    "the row has {} fields but the header has {expected}: cells are missing or a \
                     delimiter is lost",
                    cells.len()
                ),
            )]));
            continue;
        }
        if cells[expected..].iter().any(|c| !c.trim().is_empty()) {
            pending.push(Pending::Issues(vec![RowIssue::invalid(
                row,
                None,
                Some(&cells.join(&*String::from(delimiter as char))),
                format!(
                    "the row has {} fields but the header has {expected}: a value holds an unquoted \
                     delimiter or the columns are shifted",
                    cells.len()
                ),
            )]));
            continue;
        }
        pending.push(Pending::Row(row, record));
    }
    let mut validated = validate_all(&columns, &pending).into_iter();
    for p in pending {
        match p {
            Pending::Issues(issues) => collector.add(Err(issues)),
            Pending::Row(..) => {
                if let Some(result) = validated.next() {
                    collector.add(result);
                }
            }
        }
    }
    // The CSV reader skips empty lines; a spreadsheet shows them as blank rows.
    for _ in data_records..rows.len().saturating_sub(header_row) {
        collector.blank();
    }
    collector.finish()
}

/// A data row after the shape checks: refused already, or waiting for its fields to be validated.
enum Pending {
    Issues(Vec<RowIssue>),
    Row(usize, ::csv::StringRecord),
}

/// Below this many rows one thread validates them (starting threads would cost more than it saves).
const PARALLEL_ROWS: usize = 2_000;

/// Validates every [`Pending::Row`] of `pending`, in order, spread over the machine's cores.
fn validate_all(columns: &ColumnMap, pending: &[Pending]) -> Vec<Result<ImportedLead, Vec<RowIssue>>> {
    let rows: Vec<(usize, &::csv::StringRecord)> = pending
        .iter()
        .filter_map(|p| match p {
            Pending::Row(row, record) => Some((*row, record)),
            Pending::Issues(_) => None,
        })
        .collect();
    let check = |chunk: &[(usize, &::csv::StringRecord)]| -> Vec<Result<ImportedLead, Vec<RowIssue>>> {
        chunk
            .iter()
            .map(|(row, record)| {
                let cells: Vec<&str> = record.iter().collect();
                columns.validate_row(*row, &cells)
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || rows.len() < PARALLEL_ROWS {
        return check(&rows);
    }
    let chunk = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = rows
            .chunks(chunk)
            .map(|part| scope.spawn(move || check(part)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(results) => results,
                // Validation does not panic on input; if it ever did, the panic belongs to the caller.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

fn malformed(text: &str, rows: &RowStarts, error: &::csv::Error) -> ImportError {
    let row = error
        .position()
        .map(|p| rows.row_of(text.as_bytes(), p.byte()))
        .unwrap_or(0);
    ImportError::Malformed {
        row,
        reason: error.to_string(),
    }
}

/// Checks the encoding and answers the text without a byte-order mark.
fn decode(bytes: &[u8]) -> Result<&str, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    if bytes.starts_with(b"\xFF\xFE") {
        return Err(ImportError::Utf16 { big_endian: false });
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return Err(ImportError::Utf16 { big_endian: true });
    }
    let (bom, body) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (UTF8_BOM.len(), rest),
        None => (0, bytes),
    };
    detect_binary(body)?;
    match std::str::from_utf8(body) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.valid_up_to();
            let line = 1 + body[..at].iter().filter(|b| **b == b'\n').count();
            Err(ImportError::NotUtf8 {
                line,
                offset: at + bom,
            })
        }
    }
}

/// Refuses well-known binary formats (spreadsheets, PDFs, archives) and data with NUL or many control
/// bytes; recognises UTF-16 without a byte-order mark by its NUL pattern.
fn detect_binary(body: &[u8]) -> Result<(), ImportError> {
    let binary = |what: &str| {
        Err(ImportError::Binary {
            what: what.to_owned(),
        })
    };
    if body.starts_with(b"PK\x03\x04") {
        return binary("it is a ZIP archive, e.g. an Excel .xlsx workbook; save the sheet as \"CSV UTF-8\"");
    }
    if body.starts_with(b"\xD0\xCF\x11\xE0") {
        return binary("it is an old Excel .xls workbook; save the sheet as \"CSV UTF-8\"");
    }
    if body.starts_with(b"%PDF") {
        return binary("it is a PDF document");
    }
    if body.starts_with(b"\x1F\x8B") {
        return binary("it is gzip-compressed");
    }
    let head = &body[..body.len().min(SNIFF_BYTES)];
    let nuls = head.iter().filter(|b| **b == 0).count();
    if nuls > 0 {
        // ASCII text in UTF-16 has a NUL in every other byte.
        let even = head.iter().step_by(2).filter(|b| **b == 0).count();
        let odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        let half = head.len() / 2;
        if half > 0 && odd * 10 >= half * 8 && even == 0 {
            return Err(ImportError::Utf16 { big_endian: false });
        }
        if half > 0 && even * 10 >= half * 8 && odd == 0 {
            return Err(ImportError::Utf16 { big_endian: true });
        }
        return binary("it contains NUL bytes (binary data)");
    }
    let controls = head
        .iter()
        .filter(|b| (**b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r')) || **b == 0x7F)
        .count();
    if controls * 20 > head.len() {
        return binary("it is mostly control characters (binary data)");
    }
    Ok(())
}

/// The delimiter the first line uses most among `,`, `;` and tab (`,` on a tie or when none appears).
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.trim_start().lines().next().unwrap_or("");
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t'] {
        let mut quoted = false;
        let mut count = 0;
        for b in first.bytes() {
            if b == b'"' {
                quoted = !quoted;
            } else if b == d && !quoted {
                count += 1;
            }
        }
        if count > best.1 {
            best = (d, count);
        }
    }
    best.0
}

/// Where each row (as a spreadsheet shows it) starts, by byte offset.
struct RowStarts(Vec<usize>);

impl RowStarts {
    /// Scans the text with the same quoting rules as the CSV reader (a quote opens a quoted field only at
    /// the start of a field; `""` inside is a quote). Fails when a quoted field is still open at the end.
    fn scan(text: &[u8], delimiter: u8) -> Result<Self, ImportError> {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            FieldStart,
            Unquoted,
            Quoted,
            QuoteInQuoted,
        }
        let mut starts = vec![0];
        let mut state = State::FieldStart;
        let mut quote_row = 0;
        let mut i = 0;
        while i < text.len() {
            let b = text[i];
            let newline = b == b'\n' || b == b'\r';
            match state {
                State::Quoted => {
                    if b == b'"' {
                        state = State::QuoteInQuoted;
                    }
                }
                State::FieldStart if b == b'"' => {
                    state = State::Quoted;
                    quote_row = starts.len();
                }
                State::QuoteInQuoted if b == b'"' => state = State::Quoted,
                _ if newline => {
                    if b == b'\r' && text.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    if i + 1 < text.len() {
                        starts.push(i + 1);
                    }
                    state = State::FieldStart;
                }
                _ if b == delimiter => state = State::FieldStart,
                _ => state = State::Unquoted,
            }
            i += 1;
        }
        if state == State::Quoted {
            return Err(ImportError::UnterminatedQuote { row: quote_row });
        }
        Ok(Self(starts))
    }

    /// How many rows the text has.
    fn len(&self) -> usize {
        self.0.len()
    }

    /// The 1-based row of the record the CSV reader says starts at byte `offset` (the reader may point
    /// at the line break or blank lines before it: they are skipped).
    fn row_of(&self, text: &[u8], offset: u64) -> usize {
        let mut offset = usize::try_from(offset).unwrap_or(usize::MAX);
        while text.get(offset).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            offset += 1;
        }
        self.0.partition_point(|start| *start <= offset).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_quoted_line_breaks_as_one_row() {
        let text = b"a,b\r\n\"x\r\ny\",1\n\nz,2";
        let rows = RowStarts::scan(text, b',').expect("balanced quotes");
        assert_eq!(rows.0, vec![0, 5, 14, 15]);
        assert_eq!(rows.row_of(text, 5), 2);
        assert_eq!(rows.row_of(text, 4), 2, "from the \\n of a CRLF");
        assert_eq!(rows.row_of(text, 13), 4, "over a blank line");
        assert_eq!(rows.row_of(text, 9), 2);
    }

    #[test]
    fn unterminated_quote_names_its_row() {
        let err = RowStarts::scan(b"a,b\n1,2\n\"open,3\n4,5\n", b',').err();
        assert_eq!(err, Some(ImportError::UnterminatedQuote { row: 3 }));
    }

    #[test]
    fn a_large_file_is_validated_in_parallel_and_reported_in_row_order() {
        // Enough rows for several threads; bad phones, short rows and a duplicate spread through it.
        let mut text = String::from("name,phone,city\n");
        for i in 0..(3 * PARALLEL_ROWS) {
            match i {
                _ if i % 97 == 5 => text.push_str(&format!("Bad {i},12345,Pune\n")),
                _ if i % 401 == 7 => text.push_str(&format!("Short {i}\n")),
                4_321 => text.push_str("Again,+919800000001,Pune\n"),
                _ => text.push_str(&format!("Lead {i},98{i:08},Pune\n")),
            }
        }
        let parsed = parse_leads_csv(text.as_bytes(), &ImportOptions::default()).expect("usable file");
        let rows: Vec<usize> = parsed.leads.iter().map(|l| l.row).collect();
        assert!(
            rows.windows(2).all(|w| w[0] < w[1]),
            "leads keep the file's order"
        );
        for lead in &parsed.leads {
            let i = lead.row - 2;
            assert_eq!(
                lead.name,
                format!("Lead {i}"),
                "row {} holds its own values",
                lead.row
            );
            assert_eq!(lead.phone.as_str(), format!("+9198{i:08}"));
        }
        let issue_rows: Vec<usize> = parsed.report.issues.iter().map(|i| i.row).collect();
        assert!(issue_rows.windows(2).all(|w| w[0] < w[1]), "{issue_rows:?}");
        let bad = (0..3 * PARALLEL_ROWS).filter(|i| i % 97 == 5).count();
        let short = (0..3 * PARALLEL_ROWS)
            .filter(|i| i % 97 != 5 && i % 401 == 7)
            .count();
        assert_eq!(
            parsed.report.issues_total,
            bad + short + 1,
            "one duplicate of row 3"
        );
        assert_eq!(parsed.leads.len(), 3 * PARALLEL_ROWS - bad - short - 1);
    }

    #[test]
    fn delimiter_is_sniffed_from_the_header() {
        assert_eq!(sniff_delimiter("name;phone;city\n"), b';');
        assert_eq!(sniff_delimiter("name\tphone\n"), b'\t');
        assert_eq!(sniff_delimiter("\"a;b\",phone\n"), b',');
    }
}
