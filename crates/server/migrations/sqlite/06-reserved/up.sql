-- Placeholder: migration 06 belongs to another branch; drop this directory when merging it.
SELECT 1;
