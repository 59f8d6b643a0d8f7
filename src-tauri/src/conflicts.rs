//! The conflict list: edits of a lead that lost to someone else's edit of the same field, kept by the
//! store until the user keeps theirs (sent again) or the server's (`Store::open_conflicts`,
//! `reapply_conflict`, `dismiss_conflict`). Works offline; a kept edit goes out with the next sync.

use leadline_model::{Id, Timestamp};
use leadline_store::StoreError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::{CommandError, ErrorCode};
use crate::shell::{Shell, storage};

/// One clashing field, its values as text ("" for none; a list joined by ", ").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConflictFieldView {
    /// The field's name in the sync protocol (`status`, `city`, `tags`, …).
    pub field: String,
    /// What it was when the user edited it.
    pub base: String,
    /// What the user made it (the edit that lost).
    pub mine: String,
    /// What the server holds.
    pub theirs: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConflictView {
    pub id: Id,
    pub lead_id: Id,
    pub lead_name: Option<String>,
    pub fields: Vec<ConflictFieldView>,
    pub edited_at: Timestamp,
    pub detected_at: Timestamp,
}

/// Whose values a conflict keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConflictChoice {
    /// The user's edit, made again on top of the server's lead and sent.
    Mine,
    /// The server's values; the user's edit is dropped.
    Theirs,
}

impl Shell {
    /// The conflicts waiting for the user, oldest first.
    pub async fn conflicts(&self) -> Result<Vec<ConflictView>, CommandError> {
        let conflicts = self.shared_store()?.lock().open_conflicts().map_err(storage)?;
        Ok(conflicts
            .into_iter()
            .map(|c| ConflictView {
                id: c.id,
                lead_id: c.lead_id,
                lead_name: c.lead_name,
                fields: c
                    .fields
                    .into_iter()
                    .map(|f| ConflictFieldView {
                        field: f.field,
                        base: text(&f.base),
                        mine: text(&f.mine),
                        theirs: text(&f.theirs),
                    })
                    .collect(),
                edited_at: c.edited_at,
                detected_at: c.detected_at,
            })
            .collect())
    }

    pub async fn resolve_conflict(&self, id: Id, keep: ConflictChoice) -> Result<(), CommandError> {
        let resolved = {
            let mut store = self.shared_store()?.lock();
            match keep {
                ConflictChoice::Mine => store.reapply_conflict(&id).map(|m| m.is_some()),
                ConflictChoice::Theirs => store.dismiss_conflict(&id).map(|()| false),
            }
        };
        let queued = resolved.map_err(|e| match e {
            StoreError::NotFound(_) | StoreError::Invalid(_) => CommandError::new(
                ErrorCode::InvalidInput,
                "That conflict is already settled (on this computer or by a sync).",
            ),
            e => storage(e),
        })?;
        if queued {
            self.local_change();
        }
        self.notify().await;
        Ok(())
    }
}

/// A field's value for people: text as is, a list joined, a number written out, nothing as "".
fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(text(&serde_json::json!(null)), "");
        assert_eq!(text(&serde_json::json!("interested")), "interested");
        assert_eq!(text(&serde_json::json!(["wedding", "gold"])), "wedding, gold");
        assert_eq!(text(&serde_json::json!(250000)), "250000");
    }
}
