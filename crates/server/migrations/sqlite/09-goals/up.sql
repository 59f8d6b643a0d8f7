-- Daily goals a supervisor sets: the team default (user_key = '') or one telecaller's (user_key = their
-- id). Analytics report progress against them.
CREATE TABLE goals (
    team              TEXT NOT NULL,
    user_key          TEXT NOT NULL DEFAULT '',
    daily_calls       INTEGER NOT NULL CHECK (daily_calls >= 0),
    daily_conversions INTEGER NOT NULL CHECK (daily_conversions >= 0),
    updated_at        TEXT NOT NULL,
    updated_by        TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (team, user_key)
);
-- Analytics scope by team: the telecallers of a team.
CREATE INDEX users_team_role ON users (team, role);
