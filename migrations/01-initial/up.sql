-- Leadline desktop cache, schema 1.
-- Ids are hyphenated UUID text; timestamps are RFC 3339 UTC text with microseconds and a `Z`
-- (`2026-11-25T09:30:00.000000Z`), so they sort as text.

-- Key/value facts about this device: server URL, signed-in user, device id, pull cursor, last sync.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id       TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    name     TEXT NOT NULL,
    role     TEXT NOT NULL,
    team     TEXT
) STRICT;

CREATE TABLE dispositions (
    code               TEXT PRIMARY KEY NOT NULL,
    label              TEXT NOT NULL,
    category           TEXT NOT NULL,
    requires_follow_up INTEGER NOT NULL,
    hotkey             INTEGER,
    position           INTEGER NOT NULL
) STRICT;

CREATE TABLE leads (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    phone             TEXT NOT NULL,
    alternate_phone   TEXT,
    email             TEXT,
    city              TEXT,
    source            TEXT NOT NULL,
    interest          TEXT,
    budget_inr        INTEGER,
    priority          TEXT NOT NULL,
    status            TEXT NOT NULL,
    tags              TEXT NOT NULL DEFAULT '[]',
    assigned_to       TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    version           INTEGER NOT NULL,
    -- Earliest open follow-up, kept by the store so the list can sort and filter on it.
    next_follow_up_at TEXT,
    -- Set when the server took the lead away while this device still had unsent call logs on it:
    -- the row stays for those logs but leaves every list.
    removed           INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX leads_by_status ON leads (status, updated_at DESC) WHERE removed = 0;
CREATE INDEX leads_by_assignee ON leads (assigned_to, updated_at DESC) WHERE removed = 0;
CREATE INDEX leads_by_updated ON leads (updated_at DESC, id DESC) WHERE removed = 0;
CREATE INDEX leads_by_follow_up ON leads (next_follow_up_at) WHERE next_follow_up_at IS NOT NULL AND removed = 0;
CREATE INDEX leads_by_phone ON leads (phone);

CREATE TABLE call_logs (
    id               TEXT PRIMARY KEY NOT NULL,
    lead_id          TEXT NOT NULL REFERENCES leads (id),
    telecaller_id    TEXT NOT NULL,
    direction        TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    answered_at      TEXT,
    ended_at         TEXT,
    duration_s       INTEGER NOT NULL DEFAULT 0,
    disposition      TEXT NOT NULL,
    outcome_tags     TEXT NOT NULL DEFAULT '[]',
    notes            TEXT NOT NULL DEFAULT '',
    follow_up_due_at TEXT,
    follow_up_note   TEXT,
    recording_url    TEXT,
    provider_call_id TEXT,
    device_id        TEXT
) STRICT;

CREATE INDEX call_logs_by_lead ON call_logs (lead_id, started_at DESC);
CREATE INDEX call_logs_by_started ON call_logs (started_at DESC);

CREATE TABLE follow_ups (
    id           TEXT PRIMARY KEY NOT NULL,
    lead_id      TEXT NOT NULL REFERENCES leads (id),
    assigned_to  TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    note         TEXT,
    call_log_id  TEXT,
    completed_at TEXT,
    created_at   TEXT NOT NULL
) STRICT;

CREATE INDEX follow_ups_open_by_due ON follow_ups (due_at) WHERE completed_at IS NULL;
CREATE INDEX follow_ups_by_lead ON follow_ups (lead_id);

-- Local changes waiting for the server, written in the same transaction as the change itself.
CREATE TABLE outbox (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    client_mutation_id TEXT NOT NULL UNIQUE,
    entity             TEXT NOT NULL,
    entity_id          TEXT NOT NULL,
    -- The leadline_model::sync::Mutation as JSON, exactly as it will be sent.
    mutation           TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    -- 'pending' until the server answers; 'rejected' when it refused for good (kept, shown to the user).
    state              TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'rejected'))
) STRICT;

CREATE INDEX outbox_by_entity ON outbox (entity, entity_id);

-- Full-text search over a lead's name, phone numbers (several digit forms, so `98765` finds
-- `+919876543210`) and the notes of its calls. rowid = leads.rowid; kept by the store, not by triggers,
-- because the phone forms are computed in Rust.
CREATE VIRTUAL TABLE lead_search USING fts5 (
    name,
    phones,
    notes,
    tokenize = 'unicode61 remove_diacritics 2'
);
