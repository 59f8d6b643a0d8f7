//! The follow-ups screen's commands: this user's open follow-ups with their leads, done, moved, and
//! exported to the calendar (`Store::open_follow_ups`, `complete_follow_up`, `reschedule_follow_up`;
//! `leadline_model::calendar`). Changes go through the outbox like every other, offline too.

use std::path::{Path, PathBuf};

use leadline_model::{Id, Timestamp, calendar};
use leadline_store::StoreError;

use crate::api::{CommandError, ErrorCode, FollowUpItem};
use crate::shell::{Shell, storage};

impl Shell {
    /// This user's open follow-ups, soonest first (overdue ones lead).
    pub async fn follow_ups(&self) -> Result<Vec<FollowUpItem>, CommandError> {
        let store = self.shared_store()?.lock();
        let me = store.me().map_err(signed_out)?;
        let mut out = Vec::new();
        for f in store.open_follow_ups().map_err(storage)? {
            if f.assigned_to != me.id {
                continue;
            }
            let lead = match store.get_lead(&f.lead_id) {
                Ok(lead) => lead,
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(storage(e)),
            };
            out.push(FollowUpItem {
                id: f.id,
                due_at: f.due_at,
                note: f.note,
                lead,
            });
        }
        Ok(out)
    }

    pub async fn complete_follow_up(&self, id: Id) -> Result<(), CommandError> {
        self.shared_store()?
            .lock()
            .complete_follow_up(&id, chrono::Utc::now())
            .map_err(follow_up_failure)?;
        self.local_change();
        Ok(())
    }

    /// Moves a follow-up; a time already past is refused (it would be overdue at once).
    pub async fn reschedule_follow_up(&self, id: Id, due_at: Timestamp) -> Result<(), CommandError> {
        if due_at <= chrono::Utc::now() {
            return Err(CommandError::new(
                ErrorCode::InvalidInput,
                "Pick a time in the future for the call-back.",
            ));
        }
        self.shared_store()?
            .lock()
            .reschedule_follow_up(&id, due_at)
            .map_err(follow_up_failure)?;
        self.local_change();
        Ok(())
    }

    /// Writes the follow-up as a calendar file (.ics) into `dir`; answers the file's path.
    pub async fn export_follow_up(&self, id: Id, dir: &Path) -> Result<PathBuf, CommandError> {
        let (follow_up, lead) = {
            let store = self.shared_store()?.lock();
            let follow_up = store.open_follow_up(&id).map_err(follow_up_failure)?;
            let lead = store.get_lead(&follow_up.lead_id).map_err(follow_up_failure)?;
            (follow_up, lead)
        };
        let ics = calendar::follow_up_ics(&follow_up, &lead, chrono::Utc::now());
        let name: String = lead
            .name
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        let path = dir.join(format!(
            "call-back-{}-{}.ics",
            name.trim_matches('-'),
            follow_up.due_at.format("%Y%m%d-%H%M")
        ));
        let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, ics));
        written.map_err(|e| {
            CommandError::new(
                ErrorCode::Storage,
                format!("The calendar file could not be saved in {}: {e}", dir.display()),
            )
        })?;
        Ok(path)
    }
}

fn signed_out(e: StoreError) -> CommandError {
    match e {
        StoreError::NotSignedIn => {
            CommandError::new(ErrorCode::NotSignedIn, "Sign in to see your follow-ups.")
        }
        e => storage(e),
    }
}

fn gone() -> CommandError {
    CommandError::new(
        ErrorCode::InvalidInput,
        "That follow-up is done or no longer yours.",
    )
}

fn follow_up_failure(e: StoreError) -> CommandError {
    match e {
        StoreError::NotFound(_) => gone(),
        StoreError::Invalid(why) => CommandError::new(ErrorCode::InvalidInput, why),
        e => storage(e),
    }
}
