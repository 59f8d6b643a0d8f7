-- Orders of `GET /api/v1/leads?sort=` (see src/db/lead_sort.rs): each order is (key, id), ascending or
-- descending, under one of three scopes (a telecaller: assigned_to = ?; a supervisor: team = ?; an
-- admin: none), so each key gets one index per scope and a page is an index range without a sort.
-- `updated_at` uses the indexes of 03-lead-list-indexes. The name and follow-up keys are expressions:
-- SQLite and PostgreSQL use an expression index only for the identical expression, so these must match
-- the expressions of `lead_sort::key_sql` (`lower(name)`, `COALESCE(next_follow_up_at, '~')`).
-- The columns are COLLATE "C", so these keys are C-collated too: byte order, and `lower` folds ASCII
-- letters only, exactly like SQLite's built-in `lower` and BINARY collation.
CREATE INDEX leads_assigned_created ON leads (assigned_to, created_at DESC, id DESC);
CREATE INDEX leads_team_created ON leads (team, created_at DESC, id DESC);
CREATE INDEX leads_created_id ON leads (created_at DESC, id DESC);
CREATE INDEX leads_assigned_name ON leads (assigned_to, lower(name), id);
CREATE INDEX leads_team_name ON leads (team, lower(name), id);
CREATE INDEX leads_name_id ON leads (lower(name), id);
CREATE INDEX leads_assigned_follow_up_due ON leads (assigned_to, COALESCE(next_follow_up_at, '~'), id);
CREATE INDEX leads_team_follow_up_due ON leads (team, COALESCE(next_follow_up_at, '~'), id);
CREATE INDEX leads_follow_up_due_id ON leads (COALESCE(next_follow_up_at, '~'), id);
-- `leads_updated_at (updated_at)` (01-initial) is a prefix of `leads_updated_id (updated_at DESC, id
-- DESC)`, which serves every query it served; PostgreSQL preferred the smaller one plus an incremental
-- sort on id for the admin's default list, so it goes.
DROP INDEX IF EXISTS leads_updated_at;
