//! User accounts and teams: the rules and the writes behind `POST /api/v1/users`, `PATCH
//! /api/v1/users/{id}` and `POST /api/v1/teams` (an admin, through the API), and behind `leadline-server
//! user …` / `team …` (the operator on the server's machine: that is how the first admin is made).

use leadline_model::admin::{NewUser, Team, UserAccount};
use leadline_model::{Id, Role, User};

use crate::auth::hash_password_gated;
use crate::db::{self, DbError, Repo, admin};

/// Shortest password an administrator may set.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Why an account or team was not created or changed. The messages are for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a username is 1 to 64 letters, digits, dots, dashes or underscores")]
    BadUsername,
    #[error("{what} must be 1 to {max} printable characters")]
    BadName { what: &'static str, max: usize },
    #[error("a password has at least {MIN_PASSWORD_LEN} characters (and at most 1024 bytes)")]
    BadPassword,
    #[error("a supervisor needs a team")]
    SupervisorNeedsTeam,
    #[error("the username {0:?} is taken")]
    UsernameTaken(String),
    #[error("the team {0:?} exists already")]
    TeamExists(String),
    #[error("no team {0:?}; create it first")]
    UnknownTeam(String),
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("hashing the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A trimmed, printable name of 1 to `max` characters.
pub fn clean_name(text: &str, what: &'static str, max: usize) -> Result<String, AccountError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(AccountError::BadName { what, max });
    }
    Ok(t.to_owned())
}

/// A username, lowercased: 1 to 64 of `a-z 0-9 . _ -`.
pub fn clean_username(text: &str) -> Result<String, AccountError> {
    let username = text.trim().to_lowercase();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(AccountError::BadUsername);
    }
    Ok(username)
}

pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_LEN || password.len() > 1024 {
        return Err(AccountError::BadPassword);
    }
    Ok(())
}

/// The password's hash (argon2, at most one per core at a time).
pub async fn hash(password: String) -> Result<String, AccountError> {
    hash_password_gated(password)
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// A team name without surrounding blanks, `None` when blank.
pub fn clean_team(team: Option<&str>) -> Option<String> {
    team.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// Creates an account after checking every rule: the username's form and that it is free, the name, the
/// password, and the team (a supervisor needs one; it must exist).
pub async fn create_user(repo: &Repo, req: NewUser) -> Result<UserAccount, AccountError> {
    let username = clean_username(&req.username)?;
    let name = clean_name(&req.name, "a name", 120)?;
    check_password(&req.password)?;
    let team = clean_team(req.team.as_deref());
    if req.role == Role::Supervisor && team.is_none() {
        return Err(AccountError::SupervisorNeedsTeam);
    }
    let password_hash = hash(req.password).await?;
    let account = User {
        id: leadline_model::new_id(),
        username,
        name,
        role: req.role,
        team,
    };
    repo.write(move |tx| -> Result<Result<UserAccount, AccountError>, DbError> {
        if admin::username_taken(tx, &account.username)? {
            return Ok(Err(AccountError::UsernameTaken(account.username.clone())));
        }
        if let Some(t) = &account.team
            && !admin::team_exists(tx, t)?
        {
            return Ok(Err(AccountError::UnknownTeam(t.clone())));
        }
        db::insert_user(tx, &account, &password_hash, &chrono::Utc::now())?;
        admin::account(tx, &account.id)?
            .ok_or(DbError::NotFound("user"))
            .map(Ok)
    })
    .await?
}

/// Applies a checked change to the account with this id (`Who::Id`, the API's path) or username
/// (`Who::Username`, the operator's CLI), in one transaction. A new password or a deactivation revokes
/// every session of the user; `revoked_by` names who did it in those sessions (`revoked_by:<user id>`,
/// `revoked_by:cli:…`). `None`: no such user.
pub async fn change_user(
    repo: &Repo,
    who: Who,
    change: admin::AccountChange,
    revoked_by: String,
) -> Result<Option<UserAccount>, AccountError> {
    let who = match who {
        Who::Username(name) => Who::Username(clean_username(&name)?),
        id => id,
    };
    repo.write(
        move |tx| -> Result<Result<Option<UserAccount>, AccountError>, DbError> {
            if let Some(Some(t)) = &change.team
                && !admin::team_exists(tx, t)?
            {
                return Ok(Err(AccountError::UnknownTeam(t.clone())));
            }
            let id = match who {
                Who::Id(id) => id,
                Who::Username(name) => match admin::user_id_by_username(tx, &name)? {
                    Some(id) => id,
                    None => return Ok(Ok(None)),
                },
            };
            Ok(Ok(admin::change_account(
                tx,
                &id,
                &change,
                &revoked_by,
                &chrono::Utc::now(),
            )?))
        },
    )
    .await?
}

/// Whose account: by id or by username.
#[derive(Debug, Clone)]
pub enum Who {
    Id(Id),
    Username(String),
}

/// Creates a team; answers every team.
pub async fn create_team(repo: &Repo, name: &str) -> Result<Vec<Team>, AccountError> {
    let name = clean_name(name, "a team name", 80)?;
    let created = {
        let name = name.clone();
        repo.write(move |tx| admin::create_team(tx, &name, &chrono::Utc::now()))
            .await?
    };
    if !created {
        return Err(AccountError::TeamExists(name));
    }
    Ok(repo.read(admin::teams).await?)
}
