-- Lists by tag in every order. A list filtered by a tag walked the sort order's index over all
-- of the owner's tasks and looked each one up in task_tags: `tag=work&sort=due` over a
-- 100,000-task user probed ~2,000 tasks for a page of 100, and counting the tag read its
-- 10,000 entries (3.2 ms of CPU a request). Here each task_tags row carries its task's sort
-- keys, with an index per order that starts at (user_id, tag_key), so a page of one tag is a
-- range of one index, like a page of all tasks; and tag_counts keeps the number of an owner's
-- tasks carrying each tag, as task_counts keeps the number of all of them.
--
-- The sort keys are copies of the task's columns of the same name. Whoever inserts a
-- task_tags row copies them from the task (the columns are NOT NULL where the task's are, so a
-- writer that forgets fails instead of listing the task in the wrong place); the triggers below
-- copy every later change of them, in the writing transaction.
--
-- task_tags is rebuilt to get NOT NULL columns without defaults. Nothing refers to it, so
-- foreign keys stay on.
CREATE TABLE task_tags_sorted (
    user_id    TEXT    NOT NULL,
    tag_key    TEXT    NOT NULL,
    task_id    INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    priority   INTEGER NOT NULL,
    title_key  TEXT    NOT NULL,
    due_at     INTEGER,
    due_date   TEXT,
    PRIMARY KEY (user_id, tag_key, task_id)
) WITHOUT ROWID;

INSERT INTO task_tags_sorted (user_id, tag_key, task_id, name, created_at, updated_at, priority,
                              title_key, due_at, due_date)
SELECT task_tags.user_id, task_tags.tag_key, task_tags.task_id, task_tags.name,
       tasks.created_at, tasks.updated_at, tasks.priority, tasks.title_key, tasks.due_at,
       tasks.due_date
FROM task_tags
JOIN tasks ON tasks.user_id = task_tags.user_id AND tasks.id = task_tags.task_id
ORDER BY task_tags.user_id, task_tags.tag_key, task_tags.task_id;

DROP TABLE task_tags;
ALTER TABLE task_tags_sorted RENAME TO task_tags;

-- Serves "the tags of these tasks", the cascade on delete and the triggers below.
CREATE INDEX task_tags_task_id ON task_tags (task_id);
-- One index per order, as tasks has (migration 3); the primary key is the id order.
CREATE INDEX task_tags_created ON task_tags (user_id, tag_key, created_at, task_id);
CREATE INDEX task_tags_updated ON task_tags (user_id, tag_key, updated_at, task_id);
CREATE INDEX task_tags_priority ON task_tags (user_id, tag_key, priority, task_id);
CREATE INDEX task_tags_title ON task_tags (user_id, tag_key, title_key, task_id);
CREATE INDEX task_tags_due_at ON task_tags (user_id, tag_key, due_at, task_id)
    WHERE due_at IS NOT NULL;
CREATE INDEX task_tags_due_date ON task_tags (user_id, tag_key, due_date, task_id)
    WHERE due_date IS NOT NULL;

-- Two triggers, each setting only its columns: SQLite rewrites just the indexes holding a
-- column an UPDATE sets, so the change every write makes (updated_at) moves one index entry a
-- tag, and the rest move only when their keys change.
CREATE TRIGGER task_tags_follow_updated AFTER UPDATE OF updated_at ON tasks
WHEN OLD.updated_at IS NOT NEW.updated_at
BEGIN
    UPDATE task_tags SET updated_at = NEW.updated_at WHERE task_id = NEW.id;
END;

CREATE TRIGGER task_tags_follow_keys AFTER UPDATE OF created_at, priority, title_key, due_at,
    due_date ON tasks
WHEN OLD.created_at IS NOT NEW.created_at OR OLD.priority IS NOT NEW.priority
    OR OLD.title_key IS NOT NEW.title_key OR OLD.due_at IS NOT NEW.due_at
    OR OLD.due_date IS NOT NEW.due_date
BEGIN
    UPDATE task_tags
    SET created_at = NEW.created_at, priority = NEW.priority, title_key = NEW.title_key,
        due_at = NEW.due_at, due_date = NEW.due_date
    WHERE task_id = NEW.id;
END;

CREATE TABLE tag_counts (
    user_id   TEXT    NOT NULL,
    tag_key   TEXT    NOT NULL,
    tag_count INTEGER NOT NULL,
    PRIMARY KEY (user_id, tag_key)
) WITHOUT ROWID;

INSERT INTO tag_counts (user_id, tag_key, tag_count)
SELECT user_id, tag_key, COUNT(*) FROM task_tags GROUP BY user_id, tag_key;

CREATE TRIGGER tag_counts_after_insert AFTER INSERT ON task_tags
BEGIN
    INSERT INTO tag_counts (user_id, tag_key, tag_count) VALUES (NEW.user_id, NEW.tag_key, 1)
    ON CONFLICT (user_id, tag_key) DO UPDATE SET tag_count = tag_count + 1;
END;

-- A tag no task carries any more leaves no row behind.
CREATE TRIGGER tag_counts_after_delete AFTER DELETE ON task_tags
BEGIN
    UPDATE tag_counts SET tag_count = tag_count - 1
    WHERE user_id = OLD.user_id AND tag_key = OLD.tag_key;
    DELETE FROM tag_counts
    WHERE user_id = OLD.user_id AND tag_key = OLD.tag_key AND tag_count = 0;
END;

-- The owner's revision: bumped by every insert, change and delete of the owner's tasks, in the
-- writing transaction. A filtered list's total counted at one revision holds while the
-- revision is the same, so the service keeps it instead of counting again (tags and search
-- entries only change with their task's row). The triggers of migration 4 are replaced by ones
-- that also bump it.
ALTER TABLE task_counts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER task_counts_after_insert;
DROP TRIGGER task_counts_after_delete;

CREATE TRIGGER task_counts_after_insert AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_counts (user_id, task_count, revision) VALUES (NEW.user_id, 1, 1)
    ON CONFLICT (user_id) DO UPDATE SET task_count = task_count + 1, revision = revision + 1;
END;

CREATE TRIGGER task_counts_after_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_counts SET task_count = task_count - 1, revision = revision + 1
    WHERE user_id = OLD.user_id;
END;

CREATE TRIGGER task_counts_after_update AFTER UPDATE ON tasks
BEGIN
    UPDATE task_counts SET revision = revision + 1 WHERE user_id = NEW.user_id;
END;
