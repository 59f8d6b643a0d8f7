-- Leadline server schema, version 1 (SQLite).
-- Ids are hyphenated UUID text; timestamps are RFC 3339 UTC text (lexically ordered: always written with
-- millisecond precision and a `Z`). Every synced row carries `seq`, its position in the global change feed
-- that `GET /api/v1/sync/pull` pages through; `change_seq` hands out the next value.

CREATE TABLE change_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('telecaller', 'supervisor', 'admin')),
    team          TEXT,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX users_team ON users (team);

CREATE TABLE dispositions (
    code               TEXT PRIMARY KEY,
    label              TEXT NOT NULL,
    category           TEXT NOT NULL CHECK (category IN ('connected', 'not_connected')),
    requires_follow_up INTEGER NOT NULL CHECK (requires_follow_up IN (0, 1)),
    hotkey             INTEGER CHECK (hotkey BETWEEN 1 AND 9),
    position           INTEGER NOT NULL,
    active             INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE leads (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    phone           TEXT NOT NULL,
    alternate_phone TEXT,
    email           TEXT,
    city            TEXT,
    source          TEXT NOT NULL,
    interest        TEXT,
    budget_inr      INTEGER,
    priority        TEXT NOT NULL,
    status          TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    assigned_to     TEXT REFERENCES users (id),
    -- The showroom team the lead belongs to (server-side only): a supervisor sees the team's leads,
    -- unassigned ones included.
    team            TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    seq             INTEGER NOT NULL
);
CREATE UNIQUE INDEX leads_seq ON leads (seq);
CREATE INDEX leads_assigned_seq ON leads (assigned_to, seq);
CREATE INDEX leads_team_seq ON leads (team, seq);
CREATE INDEX leads_status ON leads (status, assigned_to);
CREATE INDEX leads_assigned_status ON leads (assigned_to, status);
CREATE INDEX leads_updated_at ON leads (updated_at);
CREATE INDEX leads_phone ON leads (phone);

CREATE TABLE call_logs (
    id               TEXT PRIMARY KEY,
    lead_id          TEXT NOT NULL REFERENCES leads (id),
    telecaller_id    TEXT NOT NULL REFERENCES users (id),
    direction        TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    started_at       TEXT NOT NULL,
    answered_at      TEXT,
    ended_at         TEXT,
    duration_s       INTEGER NOT NULL DEFAULT 0,
    disposition      TEXT NOT NULL,
    outcome_tags     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(outcome_tags)),
    notes            TEXT NOT NULL DEFAULT '',
    follow_up_due_at TEXT,
    follow_up_note   TEXT,
    recording_url    TEXT,
    provider_call_id TEXT,
    device_id        TEXT,
    received_at      TEXT NOT NULL,
    seq              INTEGER NOT NULL
);
CREATE UNIQUE INDEX call_logs_seq ON call_logs (seq);
CREATE INDEX call_logs_lead ON call_logs (lead_id, started_at);
CREATE INDEX call_logs_telecaller ON call_logs (telecaller_id, started_at);
CREATE INDEX call_logs_provider ON call_logs (provider_call_id) WHERE provider_call_id IS NOT NULL;

CREATE TABLE follow_ups (
    id           TEXT PRIMARY KEY,
    lead_id      TEXT NOT NULL REFERENCES leads (id),
    assigned_to  TEXT NOT NULL REFERENCES users (id),
    due_at       TEXT NOT NULL,
    note         TEXT,
    call_log_id  TEXT REFERENCES call_logs (id),
    completed_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    seq          INTEGER NOT NULL
);
CREATE UNIQUE INDEX follow_ups_seq ON follow_ups (seq);
CREATE INDEX follow_ups_lead ON follow_ups (lead_id);
CREATE INDEX follow_ups_open ON follow_ups (assigned_to, due_at) WHERE completed_at IS NULL;

-- A lead left someone's list (reassigned): the former assignee (and, when it left the team, the former
-- team's supervisors) get a `lead_removed` change at this seq.
CREATE TABLE lead_removals (
    seq        INTEGER PRIMARY KEY,
    lead_id    TEXT NOT NULL REFERENCES leads (id),
    user_id    TEXT REFERENCES users (id),
    team       TEXT,
    removed_at TEXT NOT NULL
);
CREATE INDEX lead_removals_user ON lead_removals (user_id, seq);
CREATE INDEX lead_removals_team ON lead_removals (team, seq);
