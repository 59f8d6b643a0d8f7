-- PII at rest: leads.phone, alternate_phone and email, call_logs.notes and follow_up_note, and
-- follow_ups.note hold `v1.<key id>.<ciphertext>` values (see src/pii.rs); the server seals rows written
-- before this migration at start-up. Phone lookups go through blind indexes (keyed hashes of the E.164
-- number): an index over ciphertext would be useless.
DROP INDEX leads_phone;
ALTER TABLE leads ADD COLUMN phone_bidx TEXT COLLATE "C";
ALTER TABLE leads ADD COLUMN alternate_phone_bidx TEXT COLLATE "C";
CREATE INDEX leads_phone_bidx ON leads (phone_bidx);
CREATE INDEX leads_alternate_phone_bidx ON leads (alternate_phone_bidx) WHERE alternate_phone_bidx IS NOT NULL;
