-- PLACEHOLDER so that 06-writes loads on this branch alone (rusqlite_migration needs consecutive ids).
-- Delete this directory when merging: the real 05 comes from another branch.
DROP TABLE IF EXISTS placeholder_05;
