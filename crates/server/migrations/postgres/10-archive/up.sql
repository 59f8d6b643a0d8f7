-- Archive tables: `leadline-server archive` moves call logs older than a cutoff, and closed leads
-- (converted, not interested, invalid, do not call) untouched for longer, out of the hot tables. The
-- archive keeps every column (PII stays sealed under the same contexts) plus when it was archived.
CREATE TABLE call_logs_archive (
    id               TEXT COLLATE "C" PRIMARY KEY,
    lead_id          TEXT COLLATE "C" NOT NULL,
    telecaller_id    TEXT COLLATE "C" NOT NULL,
    direction        TEXT COLLATE "C" NOT NULL,
    started_at       TEXT COLLATE "C" NOT NULL,
    answered_at      TEXT COLLATE "C",
    ended_at         TEXT COLLATE "C",
    duration_s       BIGINT NOT NULL,
    disposition      TEXT COLLATE "C" NOT NULL,
    outcome_tags     TEXT COLLATE "C" NOT NULL,
    notes            TEXT COLLATE "C" NOT NULL,
    follow_up_due_at TEXT COLLATE "C",
    follow_up_note   TEXT COLLATE "C",
    recording_url    TEXT COLLATE "C",
    provider_call_id TEXT COLLATE "C",
    device_id        TEXT COLLATE "C",
    received_at      TEXT COLLATE "C" NOT NULL,
    seq              BIGINT NOT NULL,
    archived_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX call_logs_archive_telecaller ON call_logs_archive (telecaller_id, started_at);
CREATE INDEX call_logs_archive_lead ON call_logs_archive (lead_id, started_at);

CREATE TABLE leads_archive (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    name                 TEXT COLLATE "C" NOT NULL,
    phone                TEXT COLLATE "C" NOT NULL,
    alternate_phone      TEXT COLLATE "C",
    email                TEXT COLLATE "C",
    city                 TEXT COLLATE "C",
    source               TEXT COLLATE "C" NOT NULL,
    interest             TEXT COLLATE "C",
    budget_inr           BIGINT,
    priority             TEXT COLLATE "C" NOT NULL,
    status               TEXT COLLATE "C" NOT NULL,
    tags                 TEXT COLLATE "C" NOT NULL,
    assigned_to          TEXT COLLATE "C",
    team                 TEXT COLLATE "C",
    created_at           TEXT COLLATE "C" NOT NULL,
    updated_at           TEXT COLLATE "C" NOT NULL,
    version              BIGINT NOT NULL,
    seq                  BIGINT NOT NULL,
    phone_bidx           TEXT COLLATE "C",
    alternate_phone_bidx TEXT COLLATE "C",
    archived_at          TEXT COLLATE "C" NOT NULL
);
CREATE INDEX leads_archive_phone_bidx ON leads_archive (phone_bidx);

CREATE TABLE follow_ups_archive (
    id           TEXT COLLATE "C" PRIMARY KEY,
    lead_id      TEXT COLLATE "C" NOT NULL,
    assigned_to  TEXT COLLATE "C" NOT NULL,
    due_at       TEXT COLLATE "C" NOT NULL,
    note         TEXT COLLATE "C",
    call_log_id  TEXT COLLATE "C",
    completed_at TEXT COLLATE "C",
    created_at   TEXT COLLATE "C" NOT NULL,
    updated_at   TEXT COLLATE "C" NOT NULL,
    seq          BIGINT NOT NULL,
    archived_at  TEXT COLLATE "C" NOT NULL
);

-- Archiving hot rows must not trip foreign keys that point at them: a follow-up may name a call log
-- (kept as a plain id), and a lead's removal rows outlive the lead (they tell desktops to drop it).
ALTER TABLE follow_ups DROP CONSTRAINT IF EXISTS follow_ups_call_log_id_fkey;
ALTER TABLE lead_removals DROP CONSTRAINT IF EXISTS lead_removals_lead_id_fkey;

-- The archive picks closed leads by status and age.
CREATE INDEX leads_status_updated_at ON leads (status, updated_at);
CREATE INDEX call_logs_started ON call_logs (started_at);
