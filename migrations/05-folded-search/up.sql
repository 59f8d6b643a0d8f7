-- The search index holds folded text (lower case, Latin accents removed, words separated by single spaces;
-- see leadline_store::search) and splits it with the `ascii` tokenizer, exactly at those spaces. Its words are
-- then the same as those of the store's own matcher (leadline_match), so a search may be answered by the
-- index or by checking each lead's row of it while walking a list index, with the same result.
--
-- The name column also holds each name word's initial as a term of its own ('·b'), so a one-letter word of a
-- search is one exact term of the index.
--
-- leadline_fold and leadline_index_name are the store's Rust functions, registered on every connection before
-- migrating. The number column already holds digits only, which fold to themselves.
CREATE VIRTUAL TABLE lead_search_folded USING fts5 (
    name,
    phones,
    notes,
    tokenize = 'ascii'
);
INSERT INTO lead_search_folded (rowid, name, phones, notes)
    SELECT rowid, leadline_index_name(name), leadline_fold(phones), leadline_fold(notes) FROM lead_search;
DROP TABLE lead_search;
ALTER TABLE lead_search_folded RENAME TO lead_search;
