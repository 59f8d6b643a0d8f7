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

/// A made-up password: 16 letters and digits without 0/O or 1/l/I (it is read aloud and typed by hand).
pub fn generate_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// The most accounts one import file may hold.
pub const IMPORT_MAX_ROWS: usize = 10_000;

/// The columns of an account import file (a header row names them, in any order and case).
pub const IMPORT_COLUMNS: [&str; 5] = ["username", "name", "role", "team", "password"];

/// One account of an import file, checked against every rule that needs no database.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The line of the file it came from (1 is the header).
    pub line: u64,
    pub username: String,
    pub name: String,
    pub role: Role,
    pub team: Option<String>,
    /// `None`: a password is made up (see [`generate_password`]).
    pub password: Option<String>,
}

/// What is wrong with one row of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    /// The row's username as written, when it has one.
    pub username: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.username {
            Some(u) if !u.is_empty() => write!(f, "line {} ({u}): {}", self.line, self.problem),
            _ => write!(f, "line {}: {}", self.line, self.problem),
        }
    }
}

/// Why an import created nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file as a whole: not UTF-8, no header, unknown or missing columns, too many rows.
    #[error("the account file: {0}")]
    File(String),
    /// Rows break the rules; every one is listed.
    #[error("{} row(s) refused, nothing was imported:\n{}", .0.len(), list(.0))]
    Rows(Vec<RowProblem>),
    #[error(transparent)]
    Account(#[from] AccountError),
}

fn list(problems: &[RowProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads an account import file: a CSV (UTF-8, a byte-order mark allowed — what a spreadsheet saves) with
/// a header row of `username`, `name`, `role` and optionally `team` and `password`. Every row is checked
/// by the rules of [`create_user`] that need no database, and a username twice in the file is refused;
/// all the problems are reported at once, with their lines.
pub fn parse_import(bytes: &[u8]) -> Result<Vec<ImportRow>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ImportError::File(format!(
            "not UTF-8 text (at byte {}); save it as \"CSV UTF-8\"",
            e.valid_up_to()
        ))
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| ImportError::File(format!("the header row: {e}")))?
        .clone();
    let mut column = [None; IMPORT_COLUMNS.len()];
    for (i, name) in header.iter().enumerate() {
        let name = name.to_lowercase();
        let Some(known) = IMPORT_COLUMNS.iter().position(|c| *c == name) else {
            return Err(ImportError::File(format!(
                "unknown column {name:?} in the header; the columns are {}",
                IMPORT_COLUMNS.join(", ")
            )));
        };
        if column[known].replace(i).is_some() {
            return Err(ImportError::File(format!("the column {name:?} is there twice")));
        }
    }
    let missing: Vec<&str> = IMPORT_COLUMNS[..3]
        .iter()
        .zip(&column)
        .filter(|(_, c)| c.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::File(format!(
            "no {} column in the header (the first row names the columns: {})",
            missing.join(", "),
            IMPORT_COLUMNS.join(", ")
        )));
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut first_line: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(text, p.byte()));
                problems.push(RowProblem {
                    line,
                    username: None,
                    problem: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() + problems.len() >= IMPORT_MAX_ROWS {
            return Err(ImportError::File(format!(
                "more than {IMPORT_MAX_ROWS} accounts; split the file"
            )));
        }
        let field = |c: usize| column[c].and_then(|i| record.get(i)).unwrap_or("");
        let written = field(0).to_owned();
        let problem = |problem: String| RowProblem {
            line,
            username: Some(written.clone()),
            problem,
        };
        if record.len() != header.len() {
            problems.push(problem(format!(
                "{} fields, the header has {}",
                record.len(),
                header.len()
            )));
            continue;
        }
        let checked = (|| -> Result<ImportRow, String> {
            let username = clean_username(field(0)).map_err(|e| e.to_string())?;
            let name = clean_name(field(1), "a name", 120).map_err(|e| e.to_string())?;
            let role: Role = field(2)
                .to_lowercase()
                .parse()
                .map_err(|_| format!("the role {:?} is not telecaller, supervisor or admin", field(2)))?;
            let team = clean_team(Some(field(3)));
            if let Some(t) = &team {
                clean_name(t, "a team name", 80).map_err(|e| e.to_string())?;
            }
            if role == Role::Supervisor && team.is_none() {
                return Err(AccountError::SupervisorNeedsTeam.to_string());
            }
            let password = Some(field(4)).filter(|p| !p.is_empty()).map(str::to_owned);
            if let Some(p) = &password {
                check_password(p).map_err(|e| e.to_string())?;
            }
            Ok(ImportRow {
                line,
                username,
                name,
                role,
                team,
                password,
            })
        })();
        match checked {
            Ok(row) => {
                if let Some(earlier) = first_line.get(&row.username) {
                    problems.push(problem(format!(
                        "the username {:?} is on line {earlier} already",
                        row.username
                    )));
                } else {
                    first_line.insert(row.username.clone(), line);
                    rows.push(row);
                }
            }
            Err(e) => problems.push(problem(e)),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Rows(problems));
    }
    if rows.is_empty() {
        return Err(ImportError::File("no accounts under the header".into()));
    }
    Ok(rows)
}

/// The line (from 1) a record starting at `byte` is on. The csv reader may give a record's start just
/// before the line break that ends the previous one (`\r|\n`), so the breaks at the start are skipped.
fn line_at(text: &str, byte: u64) -> u64 {
    let at = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
    let before = text.as_bytes()[..at].iter().filter(|b| **b == b'\n').count();
    let skipped = text.as_bytes()[at..]
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    (before + skipped + 1) as u64
}

/// How [`import_accounts`] goes about it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Create the teams the file names that do not exist yet (otherwise such a row is refused).
    pub create_teams: bool,
    /// Check everything against the database and stop before writing (no password is hashed).
    pub dry_run: bool,
}

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// Each account with the password that was made up for it (`None`: the file gave one).
    pub accounts: Vec<(User, Option<String>)>,
    /// The teams created for the file.
    pub teams_created: Vec<String>,
}

/// Creates every account of `rows` in one transaction, or none: a username already taken, or a team that
/// does not exist (without `create_teams`), refuses the whole file with every such row listed. Rows
/// without a password get one made up, returned once in the outcome.
pub async fn import_accounts(
    repo: &Repo,
    rows: Vec<ImportRow>,
    options: ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    // The database's rules, checked before any hashing.
    let checked = {
        let rows = rows.clone();
        repo.read(move |tx| db_problems(tx, &rows, options.create_teams))
            .await
            .map_err(AccountError::from)?
    };
    let (problems, missing_teams) = checked;
    if !problems.is_empty() {
        return Err(ImportError::Rows(problems));
    }
    let recheck: Vec<ImportRow> = rows
        .iter()
        .map(|r| ImportRow {
            password: None,
            ..r.clone()
        })
        .collect();
    let mut accounts = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    let mut hashing = tokio::task::JoinSet::new();
    for (i, row) in rows.into_iter().enumerate() {
        let made_up = row.password.is_none().then(generate_password);
        let password = row
            .password
            .clone()
            .or_else(|| made_up.clone())
            .unwrap_or_default();
        if !options.dry_run {
            hashing.spawn(async move { (i, hash(password).await) });
        }
        accounts.push((
            User {
                id: leadline_model::new_id(),
                username: row.username,
                name: row.name,
                role: row.role,
                team: row.team,
            },
            made_up,
        ));
    }
    let outcome = ImportOutcome {
        accounts,
        teams_created: missing_teams,
    };
    if options.dry_run {
        return Ok(outcome);
    }
    hashes.resize(outcome.accounts.len(), String::new());
    while let Some(done) = hashing.join_next().await {
        let (i, hashed) = done.map_err(|e| AccountError::Hash(e.to_string()))?;
        hashes[i] = hashed?;
    }
    let (users, teams): (Vec<User>, Vec<String>) = (
        outcome.accounts.iter().map(|(u, _)| u.clone()).collect(),
        outcome.teams_created.clone(),
    );
    let create_teams = options.create_teams;
    let written = repo
        .write(move |tx| -> Result<Vec<RowProblem>, DbError> {
            // Again inside the transaction: another admin may have been quicker.
            let (problems, _) = db_problems(tx, &recheck, create_teams)?;
            if !problems.is_empty() {
                return Ok(problems);
            }
            let now = chrono::Utc::now();
            for team in &teams {
                admin::create_team(tx, team, &now)?;
            }
            for (user, hash) in users.iter().zip(&hashes) {
                db::insert_user(tx, user, hash, &now)?;
            }
            Ok(Vec::new())
        })
        .await
        .map_err(AccountError::from)?;
    if !written.is_empty() {
        return Err(ImportError::Rows(written));
    }
    Ok(outcome)
}

/// The rows the database refuses (username taken; team missing unless `create_teams`), and the teams to
/// create.
fn db_problems(
    tx: &mut db::Tx<'_>,
    rows: &[ImportRow],
    create_teams: bool,
) -> Result<(Vec<RowProblem>, Vec<String>), DbError> {
    let mut problems = Vec::new();
    let mut missing = Vec::<String>::new();
    for row in rows {
        let problem = |problem: String| RowProblem {
            line: row.line,
            username: Some(row.username.clone()),
            problem,
        };
        if admin::username_taken(tx, &row.username)? {
            problems.push(problem(
                AccountError::UsernameTaken(row.username.clone()).to_string(),
            ));
        }
        if let Some(team) = &row.team
            && !missing.contains(team)
            && !admin::team_exists(tx, team)?
        {
            if create_teams {
                missing.push(team.clone());
            } else {
                problems.push(problem(format!(
                    "no team {team:?}; create it first (`leadline-server team add`) or import with --create-teams"
                )));
            }
        }
    }
    Ok((problems, missing))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn import_rows_carry_the_line_they_start_on() {
        for eol in ["\n", "\r\n"] {
            let text = [
                "username,name,role",
                "",
                "a,\"Two",
                "lines\",telecaller",
                "b,B,boss",
                "c,C,admin",
            ]
            .join(eol);
            let Err(ImportError::Rows(problems)) = parse_import(text.as_bytes()) else {
                panic!("a name on two lines and a bad role are refused");
            };
            let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
            assert_eq!(lines, [3, 5], "{eol:?}: {problems:?}");
            let rows =
                parse_import(format!("username,name,role{eol}{eol}c,C,admin{eol}").as_bytes()).unwrap();
            assert_eq!(rows[0].line, 3, "{eol:?}");
        }
        let Err(ImportError::Rows(problems)) = parse_import(b"username,name,role\r\nx,X,boss\r\n") else {
            panic!("a bad role is refused");
        };
        assert_eq!(problems[0].line, 2);
    }
}
