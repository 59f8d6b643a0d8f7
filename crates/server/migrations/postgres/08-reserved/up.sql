-- Placeholder: migration 08 belongs to another branch; drop this directory when merging it.
SELECT 1;
