//! Lead imports. The rules (header mapping, row validation, CSV parsing, the report) are shared with the
//! desktop cache and live in [`leadline_model::import`], re-exported here; the server adds the Google
//! Sheets client ([`sheets`]) and writes the parsed leads (`db::integrations`).

pub mod fake;
pub mod sheets;

pub use leadline_model::import::*;

pub use self::sheets::parse_sheet_values;
