-- Leadline desktop cache, schema 4: a new device's first pull loads its leads without the list indexes.
--
-- Keeping a dozen list indexes ordered row by row costs a random page write per index per lead; the first
-- pull of a large book drops them, loads the rows, and builds each index once at the end with a sort
-- (crates/store/src/bulk.rs). The definitions wait here meanwhile, so a crash mid-load still ends with every
-- index back: opening the cache rebuilds whatever is listed before anything else runs.
CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY NOT NULL,
    sql  TEXT NOT NULL
) STRICT;

-- Nothing reads this one: the list filters by assignee on the order indexes of schema 3 (each carries
-- assigned_to). It only cost writes.
DROP INDEX leads_by_assignee;
