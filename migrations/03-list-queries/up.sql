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

-- One index per list order (with the id as tie-break, so keyset pages are exact). leads_by_updated
-- (updated_at DESC, id DESC) from schema 1 serves the default order.
CREATE INDEX leads_sort_created ON leads (created_at, id) WHERE removed = 0;
CREATE INDEX leads_sort_name ON leads (name COLLATE NOCASE, id) WHERE removed = 0;
-- Also holds the leads without a follow-up (NULL), listed after the others in either direction.
CREATE INDEX leads_sort_follow_up ON leads (next_follow_up_at, id) WHERE removed = 0;
CREATE INDEX leads_sort_priority ON leads (priority_rank, updated_at, id) WHERE removed = 0;
DROP INDEX leads_by_follow_up;
-- The queue's tiers after follow-ups (leads with no follow-up scheduled).
CREATE INDEX leads_queue ON leads (queue_rank, created_at, id) WHERE removed = 0 AND next_follow_up_at IS NULL;

-- A lead's call history, newest first, with the id as tie-break.
DROP INDEX call_logs_by_lead;
CREATE INDEX call_logs_history ON call_logs (lead_id, started_at, id);
-- Today's figures of one telecaller.
CREATE INDEX call_logs_by_caller ON call_logs (telecaller_id, started_at);
CREATE INDEX follow_ups_done ON follow_ups (assigned_to, completed_at) WHERE completed_at IS NOT NULL;

-- Full-text search in call notes and disposition codes (`visit_booked` is the words `visit` `booked`).
-- rowid = call_logs.rowid. Contentless (the text stays in call_logs only); kept by the triggers below, so
-- every insert or delete of a call log, from a pull or a local change, updates it in the same transaction.
CREATE VIRTUAL TABLE call_search USING fts5 (
    notes,
    disposition,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO call_search (rowid, notes, disposition) SELECT rowid, notes, disposition FROM call_logs;

CREATE TRIGGER call_logs_search_insert AFTER INSERT ON call_logs BEGIN
    INSERT INTO call_search (rowid, notes, disposition) VALUES (new.rowid, new.notes, new.disposition);
END;
CREATE TRIGGER call_logs_search_delete AFTER DELETE ON call_logs BEGIN
    DELETE FROM call_search WHERE rowid = old.rowid;
END;
