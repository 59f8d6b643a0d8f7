//! Storage side of administration: user accounts (create, change, deactivate), teams, and the
//! disposition catalogue.

use leadline_model::admin::{DispositionEntry, Team, UserAccount};
use leadline_model::{Id, Role, Timestamp, User};

use super::{DbError, Tx, get_enum, get_id, get_ts, id_text, ts};
use crate::params;

const ACCOUNT_COLS: &str = "id, username, name, role, team, active, created_at, updated_at";

fn account_from_row(row: &crate::sql::Row) -> Result<UserAccount, DbError> {
    Ok(UserAccount {
        user: User {
            id: get_id(row, 0, "user id")?,
            username: row.get(1)?,
            name: row.get(2)?,
            role: get_enum(row, 3, "user role")?,
            team: row.get(4)?,
        },
        active: row.get(5)?,
        created_at: get_ts(row, 6, "user created_at")?,
        updated_at: get_ts(row, 7, "user updated_at")?,
    })
}

/// Accounts, by username: every one (`team: None`) or one team's; deactivated ones included.
pub fn accounts(tx: &mut Tx<'_>, team: Option<&str>) -> Result<Vec<UserAccount>, DbError> {
    let rows = match team {
        Some(t) => tx.query(
            &format!("SELECT {ACCOUNT_COLS} FROM users WHERE team = $1 ORDER BY username"),
            &params![t],
        )?,
        None => tx.query(
            &format!("SELECT {ACCOUNT_COLS} FROM users ORDER BY username"),
            &[],
        )?,
    };
    rows.iter().map(account_from_row).collect()
}

/// One account, active or not.
pub fn account(tx: &mut Tx<'_>, id: &Id) -> Result<Option<UserAccount>, DbError> {
    tx.query_opt(
        &format!("SELECT {ACCOUNT_COLS} FROM users WHERE id = $1"),
        &params![id_text(id)],
    )?
    .as_ref()
    .map(account_from_row)
    .transpose()
}

/// True when the team exists.
pub fn team_exists(tx: &mut Tx<'_>, name: &str) -> Result<bool, DbError> {
    Ok(tx
        .query_opt("SELECT name FROM teams WHERE name = $1", &params![name])?
        .is_some())
}

/// The id of the user (active or not) with this username.
pub fn user_id_by_username(tx: &mut Tx<'_>, username: &str) -> Result<Option<Id>, DbError> {
    tx.query_opt("SELECT id FROM users WHERE username = $1", &params![username])?
        .as_ref()
        .map(|row| get_id(row, 0, "user id"))
        .transpose()
}

/// True when a user (active or not) has this username.
pub fn username_taken(tx: &mut Tx<'_>, username: &str) -> Result<bool, DbError> {
    Ok(user_id_by_username(tx, username)?.is_some())
}

/// The changes to an account, validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub team: Option<Option<String>>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

/// Applies `change` to account `id`; deactivating (or a new password) revokes every session of the user,
/// with `revoke_reason` (`revoked_by:<who>`). Returns the account after the change, or `None` when there
/// is no such user.
pub fn change_account(
    tx: &mut Tx<'_>,
    id: &Id,
    change: &AccountChange,
    revoke_reason: &str,
    now: &Timestamp,
) -> Result<Option<UserAccount>, DbError> {
    let lock = tx.for_update();
    if tx
        .query_opt(
            &format!("SELECT id FROM users WHERE id = $1{lock}"),
            &params![id_text(id)],
        )?
        .is_none()
    {
        return Ok(None);
    }
    let key = id_text(id);
    if let Some(name) = &change.name {
        tx.execute(
            "UPDATE users SET name = $1 WHERE id = $2",
            &params![name.as_str(), key.as_str()],
        )?;
    }
    if let Some(role) = change.role {
        tx.execute(
            "UPDATE users SET role = $1 WHERE id = $2",
            &params![role.as_str(), key.as_str()],
        )?;
    }
    if let Some(team) = &change.team {
        tx.execute(
            "UPDATE users SET team = $1 WHERE id = $2",
            &params![team.clone(), key.as_str()],
        )?;
    }
    if let Some(active) = change.active {
        tx.execute(
            "UPDATE users SET active = $1 WHERE id = $2",
            &params![active, key.as_str()],
        )?;
    }
    if let Some(hash) = &change.password_hash {
        tx.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2",
            &params![hash.as_str(), key.as_str()],
        )?;
    }
    if change.active == Some(false) || change.password_hash.is_some() {
        tx.execute(
            "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
            &params![ts(now), revoke_reason, key.as_str()],
        )?;
    }
    tx.execute(
        "UPDATE users SET updated_at = $1 WHERE id = $2",
        &params![ts(now), key.as_str()],
    )?;
    account(tx, id)
}

/// Every team with its number of active members.
pub fn teams(tx: &mut Tx<'_>) -> Result<Vec<Team>, DbError> {
    tx.query(
        "SELECT t.name, (SELECT count(*) FROM users u WHERE u.team = t.name AND u.active = 1), t.created_at
         FROM teams t ORDER BY t.name",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Team {
            name: r.get(0)?,
            members: r.get(1)?,
            created_at: get_ts(r, 2, "team created_at")?,
        })
    })
    .collect()
}

/// Creates a team; false when it exists already.
pub fn create_team(tx: &mut Tx<'_>, name: &str, now: &Timestamp) -> Result<bool, DbError> {
    let n = tx.execute(
        "INSERT INTO teams (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &params![name, ts(now)],
    )?;
    Ok(n > 0)
}

/// The whole catalogue, inactive entries included, in display order.
pub fn catalogue(tx: &mut Tx<'_>) -> Result<Vec<DispositionEntry>, DbError> {
    tx.query(
        "SELECT code, label, category, requires_follow_up, hotkey, position, active FROM dispositions
         ORDER BY position, code",
        &[],
    )?
    .iter()
    .map(|r| {
        let hotkey: Option<i64> = r.get(4)?;
        Ok(DispositionEntry {
            code: r.get(0)?,
            label: r.get(1)?,
            category: get_enum(r, 2, "disposition category")?,
            requires_follow_up: r.get(3)?,
            hotkey: hotkey
                .map(|k| u8::try_from(k).map_err(|e| super::corrupt("disposition hotkey", e)))
                .transpose()?,
            position: r.get(5)?,
            active: r.get(6)?,
        })
    })
    .collect()
}

/// Inserts or replaces a catalogue entry. Entries are never deleted (call logs name them); deactivate.
pub fn put_disposition(tx: &mut Tx<'_>, d: &DispositionEntry) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO dispositions (code, label, category, requires_follow_up, hotkey, position, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (code) DO UPDATE SET label = excluded.label, category = excluded.category,
             requires_follow_up = excluded.requires_follow_up, hotkey = excluded.hotkey,
             position = excluded.position, active = excluded.active",
        &params![
            d.code.as_str(),
            d.label.as_str(),
            d.category.as_str(),
            d.requires_follow_up,
            d.hotkey,
            d.position,
            d.active
        ],
    )?;
    Ok(())
}
