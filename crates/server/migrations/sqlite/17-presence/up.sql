-- Live status of each user's desktop (PUT /api/v1/presence): the state it last reported (available,
-- on_call, wrap_up, offline), since when that state holds, and when it last reported anything. A desktop
-- silent for longer than the server's presence timeout counts as offline. One row per user.
CREATE TABLE presence (
    user_id     TEXT PRIMARY KEY REFERENCES users (id),
    state       TEXT NOT NULL,
    since       TEXT NOT NULL,
    reported_at TEXT NOT NULL
);
