-- The change feed (`GET /api/v1/sync/pull`) asks, per scope, for the call logs and follow-ups of the
-- scope's leads with `seq` above the cursor. The planner walks the scope's leads and, per lead, needs the
-- rows above the cursor: with these indexes that is one range probe per lead, where before it read every
-- call log of the lead (2,000 per telecaller in the server bench: 13 ms per pull instead of 0.25 ms).
CREATE INDEX call_logs_lead_seq ON call_logs (lead_id, seq);
CREATE INDEX follow_ups_lead_seq ON follow_ups (lead_id, seq);
