-- Substring search scoped to one owner. The trigram index of migration 3 covered search_text
-- alone, so `q` found the matches of every user and then kept the owner's: its cost followed
-- the word's frequency across the whole table. Right after this script the migration builds
-- tasks_user_search, a GIN index over (user_id, search_text gin_trgm_ops): user_id through the
-- btree_gin extension (created like pg_trgm, see specs/storage.md), so one index scan
-- intersects the owner's entries with the trigrams' instead of reading every owner's matches.
-- It serves every query the old index served (each one names the owner), so that one goes.
DROP INDEX tasks_search_text;
