//! The wrap-up commands: the calls waiting to be logged, the disposition catalogue, and the form's save
//! (`Store::wrap_up_call`, which checks it and logs the call with its outbox row; offline too).

use leadline_model::{Disposition, Id};
use leadline_store::{CallVia, StoreError, WrapUp};

use crate::api::{CommandError, ErrorCode, UnloggedCall};
use crate::shell::{Shell, storage};

impl Shell {
    /// Calls waiting for their wrap-up, oldest first, each with its lead when the cache has it.
    pub async fn unlogged_calls(&self) -> Result<Vec<UnloggedCall>, CommandError> {
        let store = self.shared_store()?.lock();
        let drafts = store.unlogged_calls().map_err(storage)?;
        let mut out = Vec::with_capacity(drafts.len());
        for d in drafts {
            let lead = match d.lead_id {
                Some(id) => match store.get_lead(&id) {
                    Ok(lead) => Some(lead),
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => return Err(storage(e)),
                },
                None => None,
            };
            let click_to_call = d.via == CallVia::ClickToCall;
            out.push(UnloggedCall {
                log_id: d.id,
                lead,
                direction: d.direction,
                remote: d.remote.clone(),
                click_to_call,
                started_at: d.started_at,
                answered_at: d.answered_at,
                ended_at: d.ended_at,
                end: d.end_reason,
                talk_seconds: d.talk_seconds(),
                ongoing: !click_to_call && d.ended_at.is_none(),
            });
        }
        Ok(out)
    }

    /// The disposition catalogue, in the order the form lists it.
    pub async fn dispositions(&self) -> Result<Vec<Disposition>, CommandError> {
        self.shared_store()?.lock().dispositions().map_err(storage)
    }

    /// Logs the call `log_id` as the form says. Works offline: the next sync sends it.
    pub async fn wrap_up(&self, log_id: Id, args: WrapUp) -> Result<(), CommandError> {
        let wrap = WrapUp {
            lead_id: args.lead_id,
            disposition: args.disposition.trim().to_owned(),
            outcome_tags: args
                .outcome_tags
                .into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
            notes: args.notes.trim().to_owned(),
            follow_up: args.follow_up,
            lead_status: args.lead_status,
        };
        let logged = self
            .shared_store()?
            .lock()
            .wrap_up_call(&log_id, &wrap)
            .map_err(|e| match e {
                StoreError::Invalid(why) => CommandError::new(ErrorCode::InvalidInput, capitalise(&why)),
                StoreError::NotFound(_) => CommandError::new(
                    ErrorCode::InvalidInput,
                    "That call is already logged, or the lead is no longer on this computer.",
                ),
                e => storage(e),
            })?;
        tracing::info!(call = %logged.id, lead = %logged.lead_id, disposition = %logged.disposition, "call logged");
        self.local_change();
        Ok(())
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}
