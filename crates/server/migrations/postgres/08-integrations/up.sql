-- Exotel telephony: the agent's number or SIP user Exotel rings first on a click-to-call, and the
-- StatusCallbacks Exotel POSTs (one row per distinct callback: replays hit the primary key). A callback
-- that arrives before the desktop's call log stays pending (call_log_id NULL) until that log is written.
-- No phone numbers are kept here (the callback's From/To are PII and the call log has them already).
ALTER TABLE users ADD COLUMN agent_number TEXT COLLATE "C";

CREATE TABLE exotel_callbacks (
    idempotency_key          TEXT COLLATE "C" PRIMARY KEY,
    call_sid                 TEXT COLLATE "C" NOT NULL,
    custom_field             TEXT COLLATE "C",
    status                   TEXT COLLATE "C" NOT NULL,
    event_type               TEXT COLLATE "C",
    terminal                 BIGINT NOT NULL,
    recording_url            TEXT COLLATE "C",
    conversation_duration_s  BIGINT,
    start_time               TEXT COLLATE "C",
    end_time                 TEXT COLLATE "C",
    date_updated             TEXT COLLATE "C",
    received_at              TEXT COLLATE "C" NOT NULL,
    call_log_id              TEXT COLLATE "C",
    applied_at               TEXT COLLATE "C"
);
CREATE INDEX exotel_callbacks_pending_sid ON exotel_callbacks (call_sid) WHERE call_log_id IS NULL;
CREATE INDEX exotel_callbacks_pending_custom ON exotel_callbacks (custom_field)
    WHERE call_log_id IS NULL AND custom_field IS NOT NULL;
CREATE INDEX exotel_callbacks_call_log ON exotel_callbacks (call_log_id) WHERE call_log_id IS NOT NULL;
