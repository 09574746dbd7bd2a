-- Lists that scale: an index for every sort order (each ends in id, the tie-breaker, so a page
-- continues from the last task by a range scan). The columns mean the same as in the SQLite
-- schema:
--
-- title_key: the title in Unicode lowercase, what sort=title orders by (in code point order,
--            COLLATE "C", so both backends sort titles identically).
-- search_text: the title and description in Unicode lowercase, joined by a line feed; what q
--              searches. Both are computed by the application on every write, and for existing
--              rows right after this script.
--
-- The trigram index for q needs the pg_trgm extension; the migration creates it before this
-- script (see specs/storage.md).
ALTER TABLE tasks
    ADD COLUMN title_key   TEXT NOT NULL DEFAULT '',
    ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_user_title ON tasks (user_id, title_key COLLATE "C", id);
CREATE INDEX tasks_user_complete ON tasks (user_id, complete, id);
CREATE INDEX tasks_user_due_at ON tasks (user_id, due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_user_due_date ON tasks (user_id, due_date COLLATE "C", id) WHERE due_date IS NOT NULL;
