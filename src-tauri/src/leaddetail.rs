//! The lead detail screen's commands: the lead with its open follow-ups; edits, checked here and queued
//! for the server like every local change (offline too); the call history with its search, filters, pages
//! and CSV export (`Store::call_history`, `export_call_logs_csv`); and a call's recording, which needs the
//! server (it relays the telephony provider's file).

use std::path::{Path, PathBuf};

use leadline_model::sync::LeadPatch;
use leadline_model::{CallDirection, CallLog, FollowUp, Id, Lead, LeadPriority, LeadStatus, PhoneNumber};
use leadline_store::{CallExport, CallHistoryQuery, StoreError};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::{CommandError, ErrorCode};
use crate::shell::{Shell, storage, sync_failure};

/// At most this many tags on a lead, each at most [`TAG_CHARS`] characters.
pub const MAX_TAGS: usize = 20;
pub const TAG_CHARS: usize = 40;
/// Budgets above this (₹1,000 crore) are typing mistakes.
pub const MAX_BUDGET_INR: i64 = 10_000_000_000;

/// A lead as its detail screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LeadDetail {
    pub lead: Lead,
    /// Its open follow-ups, soonest first.
    pub follow_ups: Vec<FollowUp>,
}

/// The detail form's fields as typed: `None` leaves a field as it is; an empty text clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct LeadEdit {
    pub status: Option<LeadStatus>,
    pub priority: Option<LeadPriority>,
    pub tags: Option<Vec<String>>,
    pub interest: Option<String>,
    pub city: Option<String>,
    pub email: Option<String>,
    /// A second number as typed (`98765 43210`, `+44 20 7946 0958`); stored in E.164.
    pub alternate_phone: Option<String>,
    pub budget_inr: Option<i64>,
}

/// Which page of a lead's calls to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallHistoryArgs {
    pub lead_id: Id,
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub direction: Option<CallDirection>,
    /// Disposition codes; all when empty.
    #[serde(default)]
    pub dispositions: Vec<String>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A page of a lead's calls, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallHistoryView {
    pub calls: Vec<CallLog>,
    pub next_cursor: Option<String>,
}

/// Rows per page of the history.
pub const HISTORY_PAGE: u32 = 50;

impl Shell {
    pub async fn lead_detail(&self, lead_id: Id) -> Result<LeadDetail, CommandError> {
        let store = self.shared_store()?.lock();
        let lead = store.get_lead(&lead_id).map_err(lead_failure)?;
        let follow_ups = store.open_follow_ups_of(&lead_id).map_err(storage)?;
        Ok(LeadDetail { lead, follow_ups })
    }

    /// Checks the edit, applies what it changes and queues that for the server; answers the lead as it
    /// now is. An edit that changes nothing queues nothing.
    pub async fn edit_lead(&self, lead_id: Id, edit: LeadEdit) -> Result<Lead, CommandError> {
        let lead = {
            let mut store = self.shared_store()?.lock();
            let lead = store.get_lead(&lead_id).map_err(lead_failure)?;
            let patch = patch_for(&lead, &edit)?;
            if patch == LeadPatch::default() {
                return Ok(lead);
            }
            store.update_lead(&lead_id, &patch).map_err(lead_failure)?;
            store.get_lead(&lead_id).map_err(lead_failure)?
        };
        self.local_change();
        Ok(lead)
    }

    pub async fn call_history(&self, args: CallHistoryArgs) -> Result<CallHistoryView, CommandError> {
        let query = CallHistoryQuery {
            search: args.search.filter(|s| !s.trim().is_empty()),
            direction: args.direction,
            dispositions: args.dispositions,
            limit: Some(HISTORY_PAGE),
            cursor: args.cursor,
            ..CallHistoryQuery::new(args.lead_id)
        };
        let page = self
            .shared_store()?
            .lock()
            .call_history(&query)
            .map_err(|e| match e {
                e @ StoreError::BadCursor(_) => CommandError::new(ErrorCode::InvalidInput, e.to_string()),
                e => storage(e),
            })?;
        Ok(CallHistoryView {
            calls: page.calls,
            next_cursor: page.next_cursor,
        })
    }

    /// Writes the lead's calls, as filtered on screen, as CSV into `dir`; answers the path and the count.
    pub async fn export_call_history(
        &self,
        args: CallHistoryArgs,
        dir: &Path,
    ) -> Result<(PathBuf, u64), CommandError> {
        let name: String = {
            let store = self.shared_store()?.lock();
            let lead = store.get_lead(&args.lead_id).map_err(lead_failure)?;
            lead.name
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { '-' })
                .collect()
        };
        let path = dir.join(format!(
            "calls-{}-{}.csv",
            name.trim_matches('-'),
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        ));
        let failed = |e: std::io::Error, at: &Path| {
            CommandError::new(
                ErrorCode::Storage,
                format!("The file {} could not be written: {e}", at.display()),
            )
        };
        std::fs::create_dir_all(dir).map_err(|e| failed(e, dir))?;
        let file = std::fs::File::create(&path).map_err(|e| failed(e, &path))?;
        let written = self
            .shared_store()?
            .lock()
            .export_call_logs_csv(
                std::io::BufWriter::new(file),
                &CallExport {
                    bom: true,
                    lead_id: Some(args.lead_id),
                    search: args.search.filter(|s| !s.trim().is_empty()),
                    direction: args.direction,
                    dispositions: args.dispositions,
                    ..CallExport::default()
                },
            )
            .map_err(storage)?;
        Ok((path, written))
    }

    /// A call's recording, fetched through the server (online only): its bytes (the media type is
    /// logged; Exotel's are MP3).
    pub async fn recording(&self, call_log_id: Id) -> Result<Vec<u8>, CommandError> {
        let client = self
            .client()
            .ok_or_else(|| CommandError::new(ErrorCode::NotSignedIn, "Sign in to play recordings."))?;
        match client.recording(call_log_id).await {
            Ok(r) => {
                tracing::info!(call = %call_log_id, content_type = %r.content_type, bytes = r.bytes.len(), "recording fetched");
                Ok(r.bytes)
            }
            Err(leadline_sync::SyncError::Server { status: 404, .. }) => Err(CommandError::new(
                ErrorCode::InvalidInput,
                "This call has no recording, or the telephony provider no longer keeps it.",
            )),
            Err(e) => Err(sync_failure(e)),
        }
    }
}

/// The patch that turns `lead` into what `edit` asks for: only the fields that change, each checked.
pub fn patch_for(lead: &Lead, edit: &LeadEdit) -> Result<LeadPatch, CommandError> {
    let invalid = |why: String| CommandError::new(ErrorCode::InvalidInput, why);
    let mut patch = LeadPatch::default();
    if let Some(status) = edit.status.filter(|s| *s != lead.status) {
        patch.status = Some(status);
    }
    if let Some(priority) = edit.priority.filter(|p| *p != lead.priority) {
        patch.priority = Some(priority);
    }
    if let Some(tags) = &edit.tags {
        let tags = clean_tags(tags).map_err(invalid)?;
        if tags != lead.tags {
            patch.tags = Some(tags);
        }
    }
    let text = |typed: &Option<String>, now: &Option<String>| -> Option<String> {
        let typed = typed.as_deref()?.trim();
        (typed != now.as_deref().unwrap_or("")).then(|| typed.to_owned())
    };
    patch.interest = text(&edit.interest, &lead.interest);
    patch.city = text(&edit.city, &lead.city);
    if let Some(email) = text(&edit.email, &lead.email) {
        if !email.is_empty() && !plausible_email(&email) {
            return Err(invalid(format!(
                "“{email}” is not an email address (name@example.com)."
            )));
        }
        patch.email = Some(email);
    }
    if let Some(typed) = edit.alternate_phone.as_deref().map(str::trim) {
        if typed.is_empty() {
            if lead.alternate_phone.is_some() {
                return Err(invalid(
                    "The second number cannot be removed here; type the right one over it, or ask your \
                     supervisor to remove it."
                        .to_owned(),
                ));
            }
        } else {
            let number = PhoneNumber::parse(typed).map_err(|_| {
                invalid(format!(
                    "“{typed}” is not a phone number. Type 10 digits for an Indian mobile, or + and the \
                     country code for another country (+44 20 7946 0958)."
                ))
            })?;
            if number == lead.phone {
                return Err(invalid("The second number is the lead's main number.".to_owned()));
            }
            if lead.alternate_phone.as_ref() != Some(&number) {
                patch.alternate_phone = Some(number);
            }
        }
    }
    if let Some(budget) = edit.budget_inr {
        if !(0..=MAX_BUDGET_INR).contains(&budget) {
            return Err(invalid(
                "The budget must be between ₹0 and ₹1,000 crore.".to_owned(),
            ));
        }
        if lead.budget_inr != Some(budget) {
            patch.budget_inr = Some(budget);
        }
    }
    Ok(patch)
}

/// Tags trimmed, empty ones dropped, repeats (ignoring case) dropped, order kept; too many or too long
/// is refused.
fn clean_tags(tags: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            continue;
        }
        if tag.chars().count() > TAG_CHARS {
            return Err(format!("A tag can be at most {TAG_CHARS} characters: “{tag}”."));
        }
        out.push(tag.to_owned());
    }
    if out.len() > MAX_TAGS {
        return Err(format!("A lead can have at most {MAX_TAGS} tags."));
    }
    Ok(out)
}

/// One `@` with text before it and a dotted domain after it, no spaces: what a form can check; the mail
/// server checks the rest.
fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|part| !part.is_empty())
}

fn lead_failure(e: StoreError) -> CommandError {
    match e {
        StoreError::NotFound(_) => CommandError::new(
            ErrorCode::InvalidInput,
            "That lead is no longer on this computer (it may have been reassigned).",
        ),
        StoreError::Invalid(why) => CommandError::new(ErrorCode::InvalidInput, why),
        e => storage(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lead() -> Lead {
        let now = chrono::Utc::now();
        Lead {
            id: leadline_model::new_id(),
            name: "Asha Rao".into(),
            phone: PhoneNumber::parse("98765 43210").unwrap(),
            alternate_phone: None,
            email: None,
            city: Some("Pune".into()),
            source: leadline_model::LeadSource::WalkIn,
            interest: Some("bridal set".into()),
            budget_inr: Some(250_000),
            priority: LeadPriority::Normal,
            status: LeadStatus::New,
            tags: vec!["wedding".into()],
            assigned_to: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    fn err(edit: LeadEdit) -> String {
        patch_for(&lead(), &edit).unwrap_err().message
    }

    #[test]
    fn an_edit_becomes_a_patch_of_only_what_changed() {
        let l = lead();
        let same = LeadEdit {
            status: Some(LeadStatus::New),
            city: Some(" Pune ".into()),
            tags: Some(vec!["wedding".into(), " Wedding".into(), "".into()]),
            budget_inr: Some(250_000),
            alternate_phone: Some("  ".into()),
            ..LeadEdit::default()
        };
        assert_eq!(patch_for(&l, &same).unwrap(), LeadPatch::default());
        let changed = LeadEdit {
            status: Some(LeadStatus::Interested),
            city: Some(String::new()),
            email: Some("asha@example.in".into()),
            alternate_phone: Some("+44 20 7946 0958".into()),
            tags: Some(vec!["wedding".into(), "gold coins".into()]),
            ..LeadEdit::default()
        };
        let patch = patch_for(&l, &changed).unwrap();
        assert_eq!(patch.status, Some(LeadStatus::Interested));
        assert_eq!(patch.city.as_deref(), Some(""), "an emptied field is cleared");
        assert_eq!(patch.email.as_deref(), Some("asha@example.in"));
        assert_eq!(patch.alternate_phone.unwrap().as_str(), "+442079460958");
        assert_eq!(patch.tags.unwrap(), ["wedding", "gold coins"]);
        assert_eq!(
            (patch.priority, patch.interest, patch.budget_inr),
            (None, None, None)
        );
    }

    #[test]
    fn bad_fields_are_refused_with_what_to_type() {
        let phone = err(LeadEdit {
            alternate_phone: Some("12345".into()),
            ..LeadEdit::default()
        });
        assert!(
            phone.contains("not a phone number") && phone.contains("+44"),
            "{phone}"
        );
        let main = err(LeadEdit {
            alternate_phone: Some("+91 98765 43210".into()),
            ..LeadEdit::default()
        });
        assert!(main.contains("main number"), "{main}");
        for bad in [
            "asha",
            "asha@",
            "@example.in",
            "asha@example",
            "a sha@example.in",
            "a@b@c.in",
        ] {
            let msg = err(LeadEdit {
                email: Some(bad.into()),
                ..LeadEdit::default()
            });
            assert!(msg.contains("not an email address"), "{bad}: {msg}");
        }
        assert!(
            err(LeadEdit {
                budget_inr: Some(-1),
                ..LeadEdit::default()
            })
            .contains("budget")
        );
        let long = "x".repeat(TAG_CHARS + 1);
        assert!(
            err(LeadEdit {
                tags: Some(vec![long]),
                ..LeadEdit::default()
            })
            .contains("at most")
        );
        let many = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(
            err(LeadEdit {
                tags: Some(many),
                ..LeadEdit::default()
            })
            .contains("at most 20 tags")
        );
        let mut with_second = lead();
        with_second.alternate_phone = Some(PhoneNumber::parse("98200 12345").unwrap());
        let removed = patch_for(
            &with_second,
            &LeadEdit {
                alternate_phone: Some(String::new()),
                ..LeadEdit::default()
            },
        )
        .unwrap_err();
        assert!(
            removed.message.contains("cannot be removed"),
            "{}",
            removed.message
        );
    }
}
