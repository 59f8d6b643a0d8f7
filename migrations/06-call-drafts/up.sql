-- A call the softphone placed or took, from its first moment until the telecaller logs it: the wrap-up form
-- completes the draft into a call log (same id) in one transaction. A call cut short by a crash or power cut
-- is still here on the next start and is ended at its last sign of life (`last_seen_at`), so no call goes
-- unlogged. Local only: nothing here is synced until it is a call log.
CREATE TABLE call_drafts (
    id TEXT PRIMARY KEY,
    -- The lead called, when known (an incoming call from an unknown number has none until the user picks one).
    lead_id TEXT,
    direction TEXT NOT NULL,
    -- The other party: an E.164 number or a SIP URI.
    remote TEXT NOT NULL,
    provider_call_id TEXT,
    started_at TEXT NOT NULL,
    answered_at TEXT,
    ended_at TEXT,
    end_reason TEXT,
    last_seen_at TEXT NOT NULL,
    device_id TEXT,
    CHECK (ended_at IS NULL OR end_reason IS NOT NULL)
);
CREATE INDEX call_drafts_by_start ON call_drafts (started_at);
