-- Device sessions with rotating refresh tokens.
-- One row per device session (a sign-in on one device). Its refresh tokens form one family: each refresh
-- hands out the next token and retires the presented one. Only SHA-256 hashes of tokens are stored.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    device_id     TEXT,
    -- The token family; one family per session (equal to `id`).
    family_id     TEXT NOT NULL,
    -- SHA-256 (hex) of the current, unused refresh token.
    refresh_hash  TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    -- `logout`, `refresh_reused`, `revoked_by:<user id>`.
    revoke_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- Refresh tokens already rotated away: presenting one again is reuse and ends its session.
CREATE TABLE used_refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    used_at    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_refresh_tokens_session ON used_refresh_tokens (session_id);
