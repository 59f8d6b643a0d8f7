-- Supervisor resources: the lead audit log, the follow-up due filter, call-log and follow-up lists.

-- A lead's team is always set when it has an assignee with a team (the assignee's team), so a supervisor's
-- scope is `leads.team = ?` and the list uses `leads_team_updated` instead of sorting.
UPDATE leads SET team = (SELECT u.team FROM users u WHERE u.id = leads.assigned_to)
 WHERE assigned_to IN (SELECT id FROM users WHERE team IS NOT NULL);

-- The due time of the lead's earliest open follow-up, kept by the server whenever follow-ups change
-- (server-side only, not part of the synced lead).
ALTER TABLE leads ADD COLUMN next_follow_up_at TEXT COLLATE "C";
UPDATE leads SET next_follow_up_at =
    (SELECT min(f.due_at) FROM follow_ups f WHERE f.lead_id = leads.id AND f.completed_at IS NULL);
CREATE INDEX leads_assigned_follow_up ON leads (assigned_to, next_follow_up_at);
CREATE INDEX leads_team_follow_up ON leads (team, next_follow_up_at);

-- Who changed a lead's owner (or the lead), when and why. Written in the transaction of the change.
CREATE TABLE lead_audit (
    id        TEXT COLLATE "C" PRIMARY KEY,
    lead_id   TEXT COLLATE "C" NOT NULL,  -- no foreign key: entries outlive archived leads
    actor_id  TEXT COLLATE "C" REFERENCES users (id),
    action    TEXT COLLATE "C" NOT NULL
              CHECK (action IN ('assigned', 'transferred', 'unassigned', 'created', 'updated')),
    from_user TEXT COLLATE "C" REFERENCES users (id),
    to_user   TEXT COLLATE "C" REFERENCES users (id),
    -- The lead's team after the change: a supervisor reads their team's entries.
    team      TEXT COLLATE "C",
    reason    TEXT COLLATE "C",
    at        TEXT COLLATE "C" NOT NULL,
    details   TEXT COLLATE "C" NOT NULL DEFAULT '{}'
);
CREATE INDEX lead_audit_lead ON lead_audit (lead_id, at DESC, id DESC);
CREATE INDEX lead_audit_at ON lead_audit (at DESC, id DESC);
CREATE INDEX lead_audit_team ON lead_audit (team, at DESC, id DESC);
CREATE INDEX lead_audit_actor ON lead_audit (actor_id, at DESC, id DESC);

-- Call-log lists: keyset (started_at DESC, id DESC), by telecaller or over everything.
CREATE INDEX call_logs_started_id ON call_logs (started_at DESC, id DESC);
CREATE INDEX call_logs_telecaller_started_id ON call_logs (telecaller_id, started_at DESC, id DESC);
CREATE INDEX call_logs_lead_started_id ON call_logs (lead_id, started_at DESC, id DESC);

-- Follow-up lists: keyset (due_at, id).
CREATE INDEX follow_ups_due_id ON follow_ups (due_at, id);
CREATE INDEX follow_ups_assigned_due_id ON follow_ups (assigned_to, due_at, id);
