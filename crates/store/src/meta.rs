//! What this device knows about its sync: server, user, device id, cursor, last success.

use leadline_model::sync::Cursor;
use leadline_model::{Timestamp, User};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::codec::{parse_ts, ts};
use crate::{Store, StoreError};

/// The sync facts the status line shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    pub server_url: Option<String>,
    pub user: Option<User>,
    pub cursor: Cursor,
    pub last_sync_at: Option<Timestamp>,
    /// When the last sync round was tried, whether it reached the server, and its error.
    #[serde(default)]
    pub last_attempt_at: Option<Timestamp>,
    #[serde(default)]
    pub online: Option<bool>,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Store {
    pub(crate) fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn meta_set(conn: &rusqlite::Connection, key: &str, value: &str) -> Result<(), StoreError> {
        conn.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute([key, value])?;
        Ok(())
    }

    /// This desk's softphone settings (see [`PhoneSettings`](leadline_model::PhoneSettings)); the defaults
    /// until some were saved. They belong to the desk, not to the account: signing in again keeps them.
    pub fn phone_settings(&self) -> Result<leadline_model::PhoneSettings, StoreError> {
        match self.meta_get("phone_settings")? {
            Some(json) => Ok(serde_json::from_str(&json)?),
            None => Ok(leadline_model::PhoneSettings::default()),
        }
    }

    /// Keeps `settings` as this desk's softphone settings, after [`check`](leadline_model::PhoneSettings::check)
    /// (an unusable value is [`StoreError::Invalid`] and nothing is written).
    pub fn set_phone_settings(&mut self, settings: &leadline_model::PhoneSettings) -> Result<(), StoreError> {
        settings.check().map_err(StoreError::Invalid)?;
        Self::meta_set(&self.conn, "phone_settings", &serde_json::to_string(settings)?)
    }

    /// This desk's preferences (theme, start minimised); the defaults until some were saved.
    pub fn preferences(&self) -> Result<leadline_model::DeskPreferences, StoreError> {
        match self.meta_get("preferences")? {
            Some(json) => Ok(serde_json::from_str(&json)?),
            None => Ok(leadline_model::DeskPreferences::default()),
        }
    }

    pub fn set_preferences(
        &mut self,
        preferences: &leadline_model::DeskPreferences,
    ) -> Result<(), StoreError> {
        Self::meta_set(&self.conn, "preferences", &serde_json::to_string(preferences)?)
    }

    /// What this desk's first-run setup found (server, microphone, notifications); `None` until it ran.
    pub fn desk_setup(&self) -> Result<Option<leadline_model::setup::DeskSetup>, StoreError> {
        Ok(self
            .meta_get("desk_setup")?
            .map(|json| serde_json::from_str(&json))
            .transpose()?)
    }

    /// Keeps the setup's result, after checking its server address against the rule of
    /// [`check_server_url`](leadline_model::setup::check_server_url) (a bad one is [`StoreError::Invalid`]
    /// and nothing is written). The address is kept normalised.
    pub fn set_desk_setup(&mut self, setup: &leadline_model::setup::DeskSetup) -> Result<(), StoreError> {
        let url = leadline_model::setup::check_server_url(&setup.server_url, setup.allow_http)
            .map_err(|e| StoreError::Invalid(format!("the server address: {e}")))?;
        let setup = leadline_model::setup::DeskSetup {
            server_url: url,
            ..setup.clone()
        };
        Self::meta_set(&self.conn, "desk_setup", &serde_json::to_string(&setup)?)
    }

    /// Forgets the setup's result: the next start runs the setup again.
    pub fn clear_desk_setup(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM meta WHERE key = 'desk_setup'", [])?;
        Ok(())
    }

    /// This installation's id, minted on first use and kept for good.
    pub fn device_id(&mut self) -> Result<String, StoreError> {
        if let Some(id) = self.meta_get("device_id")? {
            return Ok(id);
        }
        let id = leadline_model::new_id().to_string();
        Self::meta_set(&self.conn, "device_id", &id)?;
        Ok(id)
    }

    /// Records who signed in where. Signing in as someone else (or to another server) empties the cache
    /// first, so one user's leads are never shown to another; pending local changes block that switch.
    pub fn set_account(&mut self, server_url: &str, user: &User) -> Result<(), StoreError> {
        let state = self.sync_state()?;
        let same = state.server_url.as_deref() == Some(server_url)
            && state.user.as_ref().map(|u| u.id) == Some(user.id);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !same && (state.server_url.is_some() || state.user.is_some()) {
            let pending: i64 = tx.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
            if pending > 0 {
                return Err(StoreError::Invalid(format!(
                    "{pending} local change(s) of the previous account are not synced yet; \
                     sync them before signing in as someone else"
                )));
            }
            tx.execute_batch(
                "DELETE FROM lead_search; DELETE FROM follow_ups; DELETE FROM call_logs; DELETE FROM leads;
                 DELETE FROM users; DELETE FROM meta WHERE key IN ('cursor', 'last_sync_at', 'caught_up_at', 'goals');",
            )?;
        }
        Self::meta_set(&tx, "server_url", server_url)?;
        Self::meta_set(&tx, "user", &serde_json::to_string(user)?)?;
        tx.prepare_cached(
            "INSERT INTO users (id, username, name, role, team) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET username = excluded.username, name = excluded.name,
                role = excluded.role, team = excluded.team",
        )?
        .execute(rusqlite::params![
            user.id.to_string(),
            user.username,
            user.name,
            user.role.as_str(),
            user.team
        ])?;
        tx.commit()?;
        Ok(())
    }

    pub fn sync_state(&self) -> Result<SyncState, StoreError> {
        Ok(SyncState {
            server_url: self.meta_get("server_url")?,
            user: self
                .meta_get("user")?
                .map(|u| serde_json::from_str(&u))
                .transpose()?,
            cursor: Cursor(self.meta_get("cursor")?.unwrap_or_default()),
            last_sync_at: self
                .meta_get("last_sync_at")?
                .as_deref()
                .map(parse_ts)
                .transpose()?,
            last_attempt_at: self
                .meta_get("last_attempt_at")?
                .as_deref()
                .map(parse_ts)
                .transpose()?,
            online: self.meta_get("online")?.map(|v| v == "1"),
            last_error: self.meta_get("last_error")?.filter(|e| !e.is_empty()),
        })
    }

    /// Records how a sync round ended, for `status` between runs (the CLI) and after a restart.
    pub fn record_sync_attempt(&mut self, online: bool, error: Option<&str>) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Self::meta_set(&tx, "last_attempt_at", &ts(&chrono::Utc::now()))?;
        Self::meta_set(&tx, "online", if online { "1" } else { "0" })?;
        Self::meta_set(&tx, "last_error", error.unwrap_or(""))?;
        tx.commit()?;
        Ok(())
    }

    /// The daily goals of the user's team as the server last gave them (the dashboard works offline).
    pub fn goals(&self) -> Result<Vec<leadline_model::analytics::Goal>, StoreError> {
        match self.meta_get("goals")? {
            Some(json) => Ok(serde_json::from_str(&json)?),
            None => Ok(Vec::new()),
        }
    }

    /// Keeps the goals the server gave.
    pub fn set_goals(&mut self, goals: &[leadline_model::analytics::Goal]) -> Result<(), StoreError> {
        Self::meta_set(&self.conn, "goals", &serde_json::to_string(goals)?)
    }

    /// The goal that applies to `user_id`: their own, else their team's default.
    pub fn goal_for(
        &self,
        user_id: &leadline_model::Id,
    ) -> Result<Option<leadline_model::analytics::Goal>, StoreError> {
        let goals = self.goals()?;
        let own = goals.iter().find(|g| g.user_id.as_ref() == Some(user_id));
        Ok(own
            .or_else(|| goals.iter().find(|g| g.user_id.is_none()))
            .cloned())
    }

    /// Replaces the disposition catalogue (the server's, fetched again after an admin's edit); an empty
    /// list is refused: the wrap-up form needs one.
    pub fn set_dispositions(&mut self, list: &[leadline_model::Disposition]) -> Result<(), StoreError> {
        if list.is_empty() {
            return Err(StoreError::Invalid("an empty disposition catalogue".into()));
        }
        let tx = self.conn.transaction()?;
        crate::pull::replace_dispositions(&tx, list)?;
        tx.commit()?;
        Ok(())
    }

    /// The disposition catalogue as the server last sent it, in its order.
    pub fn dispositions(&self) -> Result<Vec<leadline_model::Disposition>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, label, category, requires_follow_up, hotkey FROM dispositions ORDER BY position",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let category: String = r.get(2)?;
            out.push(leadline_model::Disposition {
                code: r.get(0)?,
                label: r.get(1)?,
                category: category
                    .parse()
                    .map_err(|e| StoreError::Invalid(format!("disposition category: {e}")))?,
                requires_follow_up: r.get(3)?,
                hotkey: r.get(4)?,
            });
        }
        Ok(out)
    }

    pub(crate) fn set_cursor(
        conn: &rusqlite::Connection,
        cursor: &Cursor,
        at: &Timestamp,
    ) -> Result<(), StoreError> {
        Self::meta_set(conn, "cursor", &cursor.0)?;
        Self::meta_set(conn, "last_sync_at", &ts(at))
    }
}
