-- Exactly-once push (`POST /api/v1/sync/push`): the client mutation ids the server has applied, written
-- in the same transaction as the mutation's effect. A mutation id found here is answered `duplicate`
-- and not applied again. Rejected and conflicting mutations change nothing and are not recorded.
CREATE TABLE applied_mutations (
    client_mutation_id TEXT COLLATE "C" PRIMARY KEY,
    user_id            TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    device_id          TEXT COLLATE "C",
    applied_at         TEXT COLLATE "C" NOT NULL,
    -- The `MutationStatus` answered when it was applied (JSON).
    status             TEXT COLLATE "C" NOT NULL
);
CREATE INDEX applied_mutations_user ON applied_mutations (user_id, applied_at);
-- The reassignment exception of call logs: a telecaller's removals from a lead, by lead.
CREATE INDEX lead_removals_lead_user ON lead_removals (lead_id, user_id, removed_at);
