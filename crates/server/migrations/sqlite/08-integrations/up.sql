-- Exotel telephony: the agent's number or SIP user Exotel rings first on a click-to-call, and the
-- StatusCallbacks Exotel POSTs (one row per distinct callback: replays hit the primary key). A callback
-- that arrives before the desktop's call log stays pending (call_log_id NULL) until that log is written.
-- No phone numbers are kept here (the callback's From/To are PII and the call log has them already).
ALTER TABLE users ADD COLUMN agent_number TEXT;

CREATE TABLE exotel_callbacks (
    idempotency_key          TEXT PRIMARY KEY,
    call_sid                 TEXT NOT NULL,
    custom_field             TEXT,
    status                   TEXT NOT NULL,
    event_type               TEXT,
    terminal                 INTEGER NOT NULL,
    recording_url            TEXT,
    conversation_duration_s  INTEGER,
    start_time               TEXT,
    end_time                 TEXT,
    date_updated             TEXT,
    received_at              TEXT NOT NULL,
    call_log_id              TEXT,
    applied_at               TEXT
);
CREATE INDEX exotel_callbacks_pending_sid ON exotel_callbacks (call_sid) WHERE call_log_id IS NULL;
CREATE INDEX exotel_callbacks_pending_custom ON exotel_callbacks (custom_field)
    WHERE call_log_id IS NULL AND custom_field IS NOT NULL;
CREATE INDEX exotel_callbacks_call_log ON exotel_callbacks (call_log_id) WHERE call_log_id IS NOT NULL;
