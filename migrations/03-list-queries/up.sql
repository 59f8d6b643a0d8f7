-- Leadline desktop cache, schema 3: what the lead list, the calling queue, call history and today's figures
-- need (see crates/store/src/query.rs, queue.rs, history.rs, figures.rs).

-- Ranks SQLite computes from the text columns (virtual: nothing stored, but indexable), so the list can
-- sort by priority and the calling queue by priority then pipeline stage through an index.
-- priority_rank: low 0, normal 1, high 2, hot 3.
ALTER TABLE leads ADD COLUMN priority_rank INTEGER GENERATED ALWAYS AS (
    CASE priority WHEN 'hot' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END
) VIRTUAL;
-- status_rank: the order of leadline_model::LeadStatus::ALL (new 0 ... do_not_call 8).
ALTER TABLE leads ADD COLUMN status_rank INTEGER GENERATED ALWAYS AS (
    CASE status
        WHEN 'new' THEN 0 WHEN 'contacted' THEN 1 WHEN 'interested' THEN 2 WHEN 'follow_up' THEN 3
        WHEN 'visit_scheduled' THEN 4 WHEN 'converted' THEN 5 WHEN 'not_interested' THEN 6
        WHEN 'invalid' THEN 7 ELSE 8
    END
) VIRTUAL;
-- The calling queue's order after follow-ups: higher priority first, then earlier pipeline stage first.
ALTER TABLE leads ADD COLUMN queue_rank INTEGER GENERATED ALWAYS AS (
    priority_rank * 16 + 15 - status_rank
) VIRTUAL;

-- One index per list order, with the id as tie-break (so keyset pages are exact), then the columns the
-- filters test: a walk along the order checks status, priority, source, assignee, follow-up and dates on
-- the index entry and reads the row only for a match.
DROP INDEX leads_by_updated;
CREATE INDEX leads_by_updated ON leads (updated_at DESC, id DESC, status, priority, source, assigned_to,
    next_follow_up_at, created_at) WHERE removed = 0;
CREATE INDEX leads_sort_created ON leads (created_at, id, status, priority, source, assigned_to,
    next_follow_up_at, updated_at) WHERE removed = 0;
CREATE INDEX leads_sort_name ON leads (name COLLATE NOCASE, id, status, priority, source, assigned_to,
    next_follow_up_at, created_at, updated_at) WHERE removed = 0;
-- Also holds the leads without a follow-up (NULL), listed after the others in either direction.
CREATE INDEX leads_sort_follow_up ON leads (next_follow_up_at, id, status, priority, source, assigned_to,
    created_at, updated_at) WHERE removed = 0;
CREATE INDEX leads_sort_priority ON leads (priority_rank, updated_at, id, status, priority, source, assigned_to,
    next_follow_up_at, created_at) WHERE removed = 0;
DROP INDEX leads_by_follow_up;
-- A few statuses: their leads are fetched through this and sorted; also the filtered counts per status.
DROP INDEX leads_by_status;
CREATE INDEX leads_by_status ON leads (status, updated_at DESC, priority, source, assigned_to,
    next_follow_up_at, created_at) WHERE removed = 0;
-- The queue's tiers after follow-ups (leads with no follow-up scheduled).
CREATE INDEX leads_queue ON leads (queue_rank, created_at, id, status, assigned_to)
    WHERE removed = 0 AND next_follow_up_at IS NULL;

-- Listed leads per status for the dashboard, kept by the triggers below in the same transaction as every
-- write of a lead (pull, local edit, removal).
CREATE TABLE lead_status_counts (
    status TEXT PRIMARY KEY NOT NULL,
    n      INTEGER NOT NULL
) STRICT;
INSERT INTO lead_status_counts (status, n) SELECT status, count(*) FROM leads WHERE removed = 0 GROUP BY status;

CREATE TRIGGER leads_count_insert AFTER INSERT ON leads WHEN new.removed = 0 BEGIN
    INSERT INTO lead_status_counts (status, n) VALUES (new.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER leads_count_delete AFTER DELETE ON leads WHEN old.removed = 0 BEGIN
    UPDATE lead_status_counts SET n = n - 1 WHERE status = old.status;
END;
CREATE TRIGGER leads_count_update AFTER UPDATE OF status, removed ON leads
    WHEN old.status IS NOT new.status OR old.removed IS NOT new.removed BEGIN
    UPDATE lead_status_counts SET n = n - 1 WHERE old.removed = 0 AND status = old.status;
    INSERT INTO lead_status_counts (status, n) SELECT new.status, 1 WHERE new.removed = 0
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

-- A lead's call history, newest first, with the id as tie-break.
DROP INDEX call_logs_by_lead;
CREATE INDEX call_logs_history ON call_logs (lead_id, started_at, id);
-- Today's figures of one telecaller, from the index alone.
CREATE INDEX call_logs_by_caller ON call_logs (telecaller_id, started_at, duration_s, answered_at, disposition);
CREATE INDEX follow_ups_done ON follow_ups (assigned_to, completed_at) WHERE completed_at IS NOT NULL;
-- The few leads kept hidden (removed = 1), which today's figures leave out.
CREATE INDEX leads_removed ON leads (id) WHERE removed = 1;
CREATE INDEX follow_ups_open_by_assignee ON follow_ups (assigned_to, due_at, lead_id) WHERE completed_at IS NULL;
