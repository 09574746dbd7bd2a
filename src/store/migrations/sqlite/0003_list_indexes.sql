-- Lists that scale: an index for every sort order (each ends in id, the tie-breaker, so a page
-- continues from the last task by a range scan) and full-text search.
--
-- title_key: the title in Unicode lowercase, what sort=title orders by.
-- search_text: the title and description in Unicode lowercase, joined by a line feed; what q
--              searches. Both are computed by the application (SQLite's lower() folds ASCII only)
--              on every write, and for existing rows right after this script.
ALTER TABLE tasks ADD COLUMN title_key TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_user_title ON tasks (user_id, title_key, id);
CREATE INDEX tasks_user_complete ON tasks (user_id, complete, id);
CREATE INDEX tasks_user_due_at ON tasks (user_id, due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_user_due_date ON tasks (user_id, due_date, id) WHERE due_date IS NOT NULL;

-- Substring search: an FTS5 index of trigrams over search_text (already folded, so the
-- tokenizer compares exactly). The tasks table holds the text. Once existing rows have their
-- folded columns, 0003_list_indexes_search.sql fills the index and adds the triggers that keep it
-- in step with every write (same transaction as this script).
-- columnsize=0: no per-row size table (only ranking needs it, and lists never rank). Merging
-- segments 16 at a time instead of 4 halves the index's cost per insert (about 250 -> 120 µs
-- measured on this schema) for a few more segments to read per search.
CREATE VIRTUAL TABLE task_search USING fts5 (
    search_text,
    content = 'tasks',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    columnsize = 0
);
INSERT INTO task_search (task_search, rank) VALUES ('automerge', 16);
