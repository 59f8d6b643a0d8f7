-- Archive tables: `leadline-server archive` moves call logs older than a cutoff, and closed leads
-- (converted, not interested, invalid, do not call) untouched for longer, out of the hot tables. The
-- archive keeps every column (PII stays sealed under the same contexts) plus when it was archived.
CREATE TABLE call_logs_archive (
    id               TEXT PRIMARY KEY,
    lead_id          TEXT NOT NULL,
    telecaller_id    TEXT NOT NULL,
    direction        TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    answered_at      TEXT,
    ended_at         TEXT,
    duration_s       INTEGER NOT NULL,
    disposition      TEXT NOT NULL,
    outcome_tags     TEXT NOT NULL,
    notes            TEXT NOT NULL,
    follow_up_due_at TEXT,
    follow_up_note   TEXT,
    recording_url    TEXT,
    provider_call_id TEXT,
    device_id        TEXT,
    received_at      TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    archived_at      TEXT NOT NULL
);
CREATE INDEX call_logs_archive_telecaller ON call_logs_archive (telecaller_id, started_at);
CREATE INDEX call_logs_archive_lead ON call_logs_archive (lead_id, started_at);

CREATE TABLE leads_archive (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    phone                TEXT NOT NULL,
    alternate_phone      TEXT,
    email                TEXT,
    city                 TEXT,
    source               TEXT NOT NULL,
    interest             TEXT,
    budget_inr           INTEGER,
    priority             TEXT NOT NULL,
    status               TEXT NOT NULL,
    tags                 TEXT NOT NULL,
    assigned_to          TEXT,
    team                 TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    version              INTEGER NOT NULL,
    seq                  INTEGER NOT NULL,
    phone_bidx           TEXT,
    alternate_phone_bidx TEXT,
    archived_at          TEXT NOT NULL
);
CREATE INDEX leads_archive_phone_bidx ON leads_archive (phone_bidx);

CREATE TABLE follow_ups_archive (
    id           TEXT PRIMARY KEY,
    lead_id      TEXT NOT NULL,
    assigned_to  TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    note         TEXT,
    call_log_id  TEXT,
    completed_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    archived_at  TEXT NOT NULL
);

-- Archiving hot rows must not trip foreign keys that point at them: a follow-up may name a call log
-- (kept as a plain id), and a lead's removal rows outlive the lead (they tell desktops to drop it).
-- SQLite cannot drop a constraint, so those two tables are rebuilt without it, with every index the
-- earlier migrations gave them (01, 06, 07).
CREATE TABLE follow_ups_new (
    id           TEXT PRIMARY KEY,
    lead_id      TEXT NOT NULL REFERENCES leads (id),
    assigned_to  TEXT NOT NULL REFERENCES users (id),
    due_at       TEXT NOT NULL,
    note         TEXT,
    call_log_id  TEXT,
    completed_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    seq          INTEGER NOT NULL
);
INSERT INTO follow_ups_new SELECT id, lead_id, assigned_to, due_at, note, call_log_id, completed_at,
    created_at, updated_at, seq FROM follow_ups;
DROP TABLE follow_ups;
ALTER TABLE follow_ups_new RENAME TO follow_ups;
CREATE UNIQUE INDEX follow_ups_seq ON follow_ups (seq);
CREATE INDEX follow_ups_lead ON follow_ups (lead_id);
CREATE INDEX follow_ups_open ON follow_ups (assigned_to, due_at) WHERE completed_at IS NULL;
CREATE INDEX follow_ups_due_id ON follow_ups (due_at, id);
CREATE INDEX follow_ups_assigned_due_id ON follow_ups (assigned_to, due_at, id);

CREATE TABLE lead_removals_new (
    seq        INTEGER PRIMARY KEY,
    lead_id    TEXT NOT NULL,
    user_id    TEXT REFERENCES users (id),
    team       TEXT,
    removed_at TEXT NOT NULL
);
INSERT INTO lead_removals_new SELECT seq, lead_id, user_id, team, removed_at FROM lead_removals;
DROP TABLE lead_removals;
ALTER TABLE lead_removals_new RENAME TO lead_removals;
CREATE INDEX lead_removals_user ON lead_removals (user_id, seq);
CREATE INDEX lead_removals_team ON lead_removals (team, seq);
CREATE INDEX lead_removals_lead_user ON lead_removals (lead_id, user_id, removed_at);

-- The archive picks closed leads by status and age.
CREATE INDEX leads_status_updated_at ON leads (status, updated_at);
CREATE INDEX call_logs_started ON call_logs (started_at);
