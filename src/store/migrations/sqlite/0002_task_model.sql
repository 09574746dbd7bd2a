-- The richer task model: priority, tags, a due instant or all-day date, the time zone a
-- recurrence is expanded in, the recurrence rule itself, and completion bookkeeping. Existing
-- rows keep every value and read as priority none, no tags, no due, not recurring.
--
-- priority: 0 none, 1 low, 2 medium, 3 high (so ordering by it is ordering by importance).
-- tags: the task's tags as a JSON array, in the order given, for reading a task in one row;
--       task_tags below is the same set, one row per tag, for filtering and counting by index.
-- due_at: UTC milliseconds; due_date: 'YYYY-MM-DD'; at most one of them is set.
-- occurrence: 1-based index of this task in its recurrence series (COUNT is honoured with it).
-- next_task_id: the next occurrence created when this one was completed; set at most once,
--               which is what makes "complete creates the next occurrence" happen exactly once.
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3);
ALTER TABLE tasks ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN due_at INTEGER;
ALTER TABLE tasks ADD COLUMN due_date TEXT;
ALTER TABLE tasks ADD COLUMN time_zone TEXT;
ALTER TABLE tasks ADD COLUMN recurrence TEXT;
ALTER TABLE tasks ADD COLUMN completed_at INTEGER;
ALTER TABLE tasks ADD COLUMN occurrence INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN next_task_id INTEGER;

-- One row per (task, tag). tag_key is the lowercase form used for case-insensitive matching;
-- name is the spelling the task carries.
CREATE TABLE task_tags (
    user_id  TEXT    NOT NULL,
    tag_key  TEXT    NOT NULL,
    task_id  INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    PRIMARY KEY (user_id, tag_key, task_id)
) WITHOUT ROWID;

-- Serves "the tags of these tasks" and the cascade on delete.
CREATE INDEX task_tags_task_id ON task_tags (task_id);
