-- Data protection (src/retention.rs, src/erasure.rs).
--
-- `privacy_log`: one row per retention run, PII export and erasure: who or what ran it, when, the cutoffs
-- and counts. Never any PII: the lead's id, the actor's id, a reason and numbers only.
CREATE TABLE privacy_log (
    id       TEXT COLLATE "C" PRIMARY KEY,
    at       TEXT COLLATE "C" NOT NULL,
    action   TEXT COLLATE "C" NOT NULL CHECK (action IN ('retention', 'export', 'erasure')),
    -- `user:<id>` (an API request), `cli:<os user>` (a subcommand), `serve` (the periodic run).
    actor    TEXT COLLATE "C" NOT NULL,
    lead_id  TEXT COLLATE "C",
    reason   TEXT COLLATE "C",
    details  TEXT COLLATE "C" NOT NULL DEFAULT '{}' CHECK (details::jsonb IS NOT NULL)
);
CREATE INDEX privacy_log_at ON privacy_log (at);
CREATE INDEX privacy_log_lead ON privacy_log (lead_id, at) WHERE lead_id IS NOT NULL;

-- Anonymised activity of rows retention purged for good, per UTC half hour (`bucket`: its start, RFC 3339
-- like every timestamp), user and kind: calls (`disposition` set, count and talk time) and completed
-- follow-ups (`disposition` ''). Analytics add them to the live and archived rows, so the figures of a
-- range stay what they were (exactly, for ranges starting and ending on a half hour).
CREATE TABLE activity_stats (
    bucket      TEXT COLLATE "C" NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('call', 'follow_up_done')),
    disposition TEXT COLLATE "C" NOT NULL,
    count       BIGINT NOT NULL,
    talk_time_s BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, bucket, disposition)
);

-- An erased lead's id stays as a tombstone in the archive (every PII column emptied) and in the change feed:
-- its removal rows carry `erased_at`, and the admins' feed gets them too (`user_id` and `team` NULL).
ALTER TABLE leads_archive ADD COLUMN erased_at TEXT COLLATE "C";
ALTER TABLE lead_removals ADD COLUMN erased_at TEXT COLLATE "C";
CREATE INDEX lead_removals_erased ON lead_removals (seq) WHERE erased_at IS NOT NULL;

-- Analytics read archived call logs by start time; retention walks the archive by age.
CREATE INDEX call_logs_archive_started ON call_logs_archive (started_at);
CREATE INDEX leads_archive_archived_at ON leads_archive (archived_at);
CREATE INDEX leads_archive_alternate_phone_bidx ON leads_archive (alternate_phone_bidx)
    WHERE alternate_phone_bidx IS NOT NULL;
CREATE INDEX follow_ups_archive_lead ON follow_ups_archive (lead_id);
CREATE INDEX follow_ups_archive_assigned_completed ON follow_ups_archive (assigned_to, completed_at)
    WHERE completed_at IS NOT NULL;
