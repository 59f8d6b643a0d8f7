-- Real-time events (GET /api/v1/events): each row is one event for one user, one team, or everyone (both
-- targets NULL). `id` comes from `change_seq` inside the writing transaction, so ids grow in commit order
-- and a reader that has seen id N has seen every event before it. Rows older than the retention period are
-- deleted by a periodic task.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    target_user TEXT,
    target_team TEXT,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX events_user ON events (target_user, id) WHERE target_user IS NOT NULL;
CREATE INDEX events_team ON events (target_team, id) WHERE target_team IS NOT NULL;
CREATE INDEX events_everyone ON events (id) WHERE target_user IS NULL AND target_team IS NULL;
CREATE INDEX events_created_at ON events (created_at);

-- Which due_at of a follow-up a follow_up_due event was recorded for. A new due_at (rescheduled) re-arms
-- it; claiming with INSERT … ON CONFLICT … DO UPDATE … WHERE makes exactly one server node announce each.
-- (A table of its own, not a follow_ups column: later migrations rebuild follow_ups on SQLite.)
CREATE TABLE follow_up_due_events (
    follow_up_id TEXT PRIMARY KEY,
    due_at       TEXT NOT NULL
);
CREATE INDEX follow_up_due_events_due_at ON follow_up_due_events (due_at);
