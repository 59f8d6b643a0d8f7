-- Indexes of `GET /api/v1/leads`: its keyset order is (updated_at DESC, id DESC), so each common filter
-- gets a composite index ending in that order, and a page is an index range scan without a sort.
CREATE INDEX leads_assigned_updated ON leads (assigned_to, updated_at DESC, id DESC);
CREATE INDEX leads_team_updated ON leads (team, updated_at DESC, id DESC);
CREATE INDEX leads_status_updated ON leads (status, updated_at DESC, id DESC);
CREATE INDEX leads_updated_id ON leads (updated_at DESC, id DESC);
