-- Administration: teams as rows of their own (a user's `team` names one), and deactivated users (they
-- cannot sign in, their tokens stop working, they cannot be assigned leads; their history stays).
CREATE TABLE teams (
    name       TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
INSERT INTO teams (name, created_at)
    SELECT team, min(created_at) FROM users WHERE team IS NOT NULL GROUP BY team;
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
