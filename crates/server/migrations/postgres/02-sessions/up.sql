-- Device sessions with rotating refresh tokens.
-- One row per device session (a sign-in on one device). Its refresh tokens form one family: each refresh
-- hands out the next token and retires the presented one. Only SHA-256 hashes of tokens are stored.
CREATE TABLE sessions (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    device_id     TEXT COLLATE "C",
    -- The token family; one family per session (equal to `id`).
    family_id     TEXT COLLATE "C" NOT NULL,
    -- SHA-256 (hex) of the current, unused refresh token.
    refresh_hash  TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at    TEXT COLLATE "C" NOT NULL,
    last_used_at  TEXT COLLATE "C" NOT NULL,
    expires_at    TEXT COLLATE "C" NOT NULL,
    revoked_at    TEXT COLLATE "C",
    -- `logout`, `refresh_reused`, `revoked_by:<user id>`.
    revoke_reason TEXT COLLATE "C"
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- Refresh tokens already rotated away: presenting one again is reuse and ends its session.
CREATE TABLE used_refresh_tokens (
    hash       TEXT COLLATE "C" PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id),
    used_at    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX used_refresh_tokens_session ON used_refresh_tokens (session_id);
