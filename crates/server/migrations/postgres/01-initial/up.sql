-- Leadline server schema, version 1 (PostgreSQL).
-- Text columns use the "C" collation: ids and RFC 3339 timestamps must compare byte by byte, as in SQLite.
-- Ids are hyphenated UUID text; timestamps are RFC 3339 UTC text (lexically ordered: always written with
-- millisecond precision and a `Z`). Every synced row carries `seq`, its position in the global change feed
-- that `GET /api/v1/sync/pull` pages through; `change_seq` hands out the next value.

CREATE TABLE change_seq (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    name          TEXT COLLATE "C" NOT NULL,
    role          TEXT COLLATE "C" NOT NULL CHECK (role IN ('telecaller', 'supervisor', 'admin')),
    team          TEXT COLLATE "C",
    password_hash TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    updated_at    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX users_team ON users (team);

CREATE TABLE dispositions (
    code               TEXT COLLATE "C" PRIMARY KEY,
    label              TEXT COLLATE "C" NOT NULL,
    category           TEXT COLLATE "C" NOT NULL CHECK (category IN ('connected', 'not_connected')),
    requires_follow_up BIGINT NOT NULL CHECK (requires_follow_up IN (0, 1)),
    hotkey             BIGINT CHECK (hotkey BETWEEN 1 AND 9),
    position           BIGINT NOT NULL,
    active             BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE leads (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    phone           TEXT COLLATE "C" NOT NULL,
    alternate_phone TEXT COLLATE "C",
    email           TEXT COLLATE "C",
    city            TEXT COLLATE "C",
    source          TEXT COLLATE "C" NOT NULL,
    interest        TEXT COLLATE "C",
    budget_inr      BIGINT,
    priority        TEXT COLLATE "C" NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
    tags            TEXT COLLATE "C" NOT NULL DEFAULT '[]' CHECK (tags::jsonb IS NOT NULL),
    assigned_to     TEXT COLLATE "C" REFERENCES users (id),
    -- The showroom team the lead belongs to (server-side only): a supervisor sees the team's leads,
    -- unassigned ones included.
    team            TEXT COLLATE "C",
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1,
    seq             BIGINT NOT NULL
);
CREATE UNIQUE INDEX leads_seq ON leads (seq);
CREATE INDEX leads_assigned_seq ON leads (assigned_to, seq);
CREATE INDEX leads_team_seq ON leads (team, seq);
CREATE INDEX leads_status ON leads (status, assigned_to);
CREATE INDEX leads_assigned_status ON leads (assigned_to, status);
CREATE INDEX leads_updated_at ON leads (updated_at);
CREATE INDEX leads_phone ON leads (phone);

CREATE TABLE call_logs (
    id               TEXT COLLATE "C" PRIMARY KEY,
    lead_id          TEXT COLLATE "C" NOT NULL REFERENCES leads (id),
    telecaller_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    direction        TEXT COLLATE "C" NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    started_at       TEXT COLLATE "C" NOT NULL,
    answered_at      TEXT COLLATE "C",
    ended_at         TEXT COLLATE "C",
    duration_s       BIGINT NOT NULL DEFAULT 0,
    disposition      TEXT COLLATE "C" NOT NULL,
    outcome_tags     TEXT COLLATE "C" NOT NULL DEFAULT '[]' CHECK (outcome_tags::jsonb IS NOT NULL),
    notes            TEXT COLLATE "C" NOT NULL DEFAULT '',
    follow_up_due_at TEXT COLLATE "C",
    follow_up_note   TEXT COLLATE "C",
    recording_url    TEXT COLLATE "C",
    provider_call_id TEXT COLLATE "C",
    device_id        TEXT COLLATE "C",
    received_at      TEXT COLLATE "C" NOT NULL,
    seq              BIGINT NOT NULL
);
CREATE UNIQUE INDEX call_logs_seq ON call_logs (seq);
CREATE INDEX call_logs_lead ON call_logs (lead_id, started_at);
CREATE INDEX call_logs_telecaller ON call_logs (telecaller_id, started_at);
CREATE INDEX call_logs_provider ON call_logs (provider_call_id) WHERE provider_call_id IS NOT NULL;

CREATE TABLE follow_ups (
    id           TEXT COLLATE "C" PRIMARY KEY,
    lead_id      TEXT COLLATE "C" NOT NULL REFERENCES leads (id),
    assigned_to  TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    due_at       TEXT COLLATE "C" NOT NULL,
    note         TEXT COLLATE "C",
    call_log_id  TEXT COLLATE "C" REFERENCES call_logs (id),
    completed_at TEXT COLLATE "C",
    created_at   TEXT COLLATE "C" NOT NULL,
    updated_at   TEXT COLLATE "C" NOT NULL,
    seq          BIGINT NOT NULL
);
CREATE UNIQUE INDEX follow_ups_seq ON follow_ups (seq);
CREATE INDEX follow_ups_lead ON follow_ups (lead_id);
CREATE INDEX follow_ups_open ON follow_ups (assigned_to, due_at) WHERE completed_at IS NULL;

-- A lead left someone's list (reassigned): the former assignee (and, when it left the team, the former
-- team's supervisors) get a `lead_removed` change at this seq.
CREATE TABLE lead_removals (
    seq        BIGINT PRIMARY KEY,
    lead_id    TEXT COLLATE "C" NOT NULL REFERENCES leads (id),
    user_id    TEXT COLLATE "C" REFERENCES users (id),
    team       TEXT COLLATE "C",
    removed_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX lead_removals_user ON lead_removals (user_id, seq);
CREATE INDEX lead_removals_team ON lead_removals (team, seq);
