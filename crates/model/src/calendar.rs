//! Follow-ups as calendar events: an iCalendar file (RFC 5545) with one event and a reminder, so a
//! telecaller can put a promised call-back into the calendar on their phone or computer.

use std::fmt::Write as _;

use crate::{FollowUp, Lead, Timestamp};

/// How long the event lasts in the calendar.
pub const CALL_BACK_MINUTES: u32 = 15;
/// The reminder, before the call-back.
pub const REMIND_MINUTES_BEFORE: u32 = 10;

/// One follow-up of `lead` as an iCalendar file: CRLF lines, folded at 75 octets, text escaped. `now` is
/// the file's time stamp.
pub fn follow_up_ics(follow_up: &FollowUp, lead: &Lead, now: Timestamp) -> String {
    let summary = format!("Call back {}", lead.name);
    let mut description = format!("{} — {}", lead.name, lead.phone);
    if let Some(interest) = lead.interest.as_deref().filter(|s| !s.trim().is_empty()) {
        description.push_str(&format!("\nInterest: {interest}"));
    }
    if let Some(note) = follow_up.note.as_deref().filter(|s| !s.trim().is_empty()) {
        description.push_str(&format!("\n{note}"));
    }
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Leadline//Leadline desktop//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:follow-up-{}@leadline", follow_up.id),
        format!("DTSTAMP:{}", utc(now)),
        format!("DTSTART:{}", utc(follow_up.due_at)),
        format!("DURATION:PT{CALL_BACK_MINUTES}M"),
        format!("SUMMARY:{}", escape(&summary)),
        format!("DESCRIPTION:{}", escape(&description)),
        format!("URL:tel:{}", lead.phone),
        "BEGIN:VALARM".to_owned(),
        "ACTION:DISPLAY".to_owned(),
        format!("TRIGGER:-PT{REMIND_MINUTES_BEFORE}M"),
        format!("DESCRIPTION:{}", escape(&summary)),
        "END:VALARM".to_owned(),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    let mut out = String::new();
    for line in &lines {
        fold(&mut out, line);
    }
    out
}

fn utc(t: Timestamp) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT escaping: backslash, semicolon, comma, newline.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded into lines of at most 75 octets (continuations start with a space), never
/// splitting a UTF-8 character, each ended by CRLF.
fn fold(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    let _ = write!(out, "\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LeadPriority, LeadSource, LeadStatus, PhoneNumber, new_id};
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        chrono::Utc
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap_or_else(|| panic!("a time"))
    }

    #[test]
    fn a_follow_up_is_one_event_with_a_reminder_escaped_and_folded() {
        let now = at(2026, 11, 26, 9, 0);
        let lead = Lead {
            id: new_id(),
            name: "Asha Rao".into(),
            phone: PhoneNumber::parse("+919876543210").unwrap_or_else(|e| panic!("{e}")),
            alternate_phone: None,
            email: None,
            city: None,
            source: LeadSource::Instagram,
            interest: Some("Kundan bridal set; 22k, with matching earrings".into()),
            budget_inr: None,
            priority: LeadPriority::Hot,
            status: LeadStatus::FollowUp,
            tags: vec![],
            assigned_to: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let f = FollowUp {
            id: new_id(),
            lead_id: lead.id,
            assigned_to: new_id(),
            due_at: at(2026, 11, 27, 5, 30),
            note: Some("Bring the catalogue\\price list. ".repeat(4) + "सोना"),
            call_log_id: None,
            completed_at: None,
            created_at: now,
        };
        let ics = follow_up_ics(&f, &lead, now);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), "{ics}");
        assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(ics.contains("\r\nDTSTART:20261127T053000Z\r\n"));
        assert!(ics.contains("\r\nDTSTAMP:20261126T090000Z\r\n"));
        assert!(ics.contains(&format!("\r\nUID:follow-up-{}@leadline\r\n", f.id)));
        assert!(ics.contains("\r\nSUMMARY:Call back Asha Rao\r\n"));
        assert!(ics.contains("\r\nTRIGGER:-PT10M\r\n") && ics.contains("\r\nURL:tel:+919876543210\r\n"));
        // Unfolded, the description is escaped text with the note.
        let unfolded = ics.replace("\r\n ", "");
        assert!(
            unfolded.contains("\\nInterest: Kundan bridal set\\; 22k\\, with matching earrings\\nBring the catalogue\\\\price"),
            "{unfolded}"
        );
        assert!(unfolded.contains("सोना"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        assert!(!ics.replace("\r\n", "").contains('\n'), "bare newlines");
    }
}
