-- A lead erased on the person's request (or any deleted row) must not linger in the file. The connection
-- turns on `PRAGMA secure_delete` (deleted cells and freed pages are overwritten with zeros); this turns on
-- FTS5's own secure-delete for the search index, which otherwise keeps a deleted row's words in its segment
-- b-trees until a merge happens to rewrite them. The option is stored in the index's config table, so it
-- holds on every connection from now on.
INSERT INTO lead_search (lead_search, rank) VALUES ('secure-delete', 1);
