-- Leadline desktop cache, schema 2: what the sync engine needs to push the outbox and keep conflicts.

-- The lead a queued change belongs to (a call log's, a follow-up's, an edited lead's): the engine keeps
-- one lead's changes in order, and a lead taken away from this user stays (hidden) while any remains.
ALTER TABLE outbox ADD COLUMN lead_id TEXT;
-- For `update_lead`: the values the edit replaced, as the user saw them (JSON object field → value). When
-- the server answers `conflict`, fields whose server value still equals these are not in conflict: the
-- edit is rebased on the server's version and sent again.
ALTER TABLE outbox ADD COLUMN base TEXT;
-- When the change was last sent (a push cut off before its answer leaves this set; sending again is safe,
-- the server remembers client mutation ids).
ALTER TABLE outbox ADD COLUMN sent_at TEXT;

-- The lead as the server last sent it, kept while this device has unsent edits of it (the visible row is
-- this plus those edits); NULL when the visible row is the server's.
ALTER TABLE leads ADD COLUMN server_row TEXT;

UPDATE outbox SET lead_id = json_extract(mutation, '$.data.lead_id') WHERE lead_id IS NULL;
CREATE INDEX outbox_by_lead ON outbox (lead_id, seq);
CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending';

-- A user's edit of a lead the server refused because someone changed the same fields first. Never
-- dropped: the user sees it and reapplies or dismisses it.
CREATE TABLE conflicts (
    id                 TEXT PRIMARY KEY NOT NULL,
    lead_id            TEXT NOT NULL,
    client_mutation_id TEXT NOT NULL,
    -- The user's edit (LeadPatch JSON).
    patch              TEXT NOT NULL,
    -- The values the edit replaced, as the user saw them (JSON object field → value).
    base               TEXT NOT NULL,
    -- The server's values of the same fields when it refused (JSON object field → value).
    theirs             TEXT NOT NULL,
    server_version     INTEGER NOT NULL,
    edited_at          TEXT NOT NULL,
    detected_at        TEXT NOT NULL,
    resolved_at        TEXT,
    resolution         TEXT CHECK (resolution IN ('reapplied', 'dismissed'))
) STRICT;

CREATE INDEX conflicts_open ON conflicts (detected_at) WHERE resolved_at IS NULL;
CREATE INDEX conflicts_by_lead ON conflicts (lead_id);
