-- Tasks stored in owner order. Until now the table was kept in id order, so the rows of one
-- user sat wherever they were written among everyone else's: a page of a 100-task user read
-- about a hundred database pages, one per task, and on a large file most of them were not in
-- the page cache. Keyed by (user_id, id), a user's tasks are neighbours: that page reads a few.
--
-- A WITHOUT ROWID table has no AUTOINCREMENT, so task_ids keeps what it did: the highest id
-- ever given (never reused, even after the highest task is deleted). Writers insert
-- `(SELECT last_id + 1 FROM task_ids)` as the id; a trigger moves last_id past every id
-- inserted, including ids given explicitly (an import).
--
-- The rebuild runs with foreign keys off (dropping the old table would otherwise delete every
-- task_tags row by cascade); the migration checks them before it commits. Indexes and triggers
-- go with the old table and are created again; tasks_user_id_id is not, since the primary key
-- is that order now, and tasks_id keeps lookups by id alone (and task_tags' foreign key) fast.
CREATE TABLE task_ids (
    last_id INTEGER NOT NULL
);
INSERT INTO task_ids (last_id)
SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'tasks'), 0),
           coalesce((SELECT max(id) FROM tasks), 0));

CREATE TABLE tasks_by_owner (
    user_id      TEXT    NOT NULL,
    id           INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    description  TEXT,
    complete     INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3),
    tags         TEXT    NOT NULL DEFAULT '[]',
    due_at       INTEGER,
    due_date     TEXT,
    time_zone    TEXT,
    recurrence   TEXT,
    completed_at INTEGER,
    occurrence   INTEGER NOT NULL DEFAULT 1,
    next_task_id INTEGER,
    title_key    TEXT    NOT NULL DEFAULT '',
    search_text  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, id)
) WITHOUT ROWID;

INSERT INTO tasks_by_owner (user_id, id, title, description, complete, created_at, updated_at,
                            priority, tags, due_at, due_date, time_zone, recurrence,
                            completed_at, occurrence, next_task_id, title_key, search_text)
SELECT user_id, id, title, description, complete, created_at, updated_at, priority, tags,
       due_at, due_date, time_zone, recurrence, completed_at, occurrence, next_task_id,
       title_key, search_text
FROM tasks
ORDER BY user_id, id;

DROP TABLE tasks;
ALTER TABLE tasks_by_owner RENAME TO tasks;

CREATE UNIQUE INDEX tasks_id ON tasks (id);
CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_user_title ON tasks (user_id, title_key, id);
CREATE INDEX tasks_user_complete ON tasks (user_id, complete, id);
CREATE INDEX tasks_user_due_at ON tasks (user_id, due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_user_due_date ON tasks (user_id, due_date, id) WHERE due_date IS NOT NULL;

CREATE TRIGGER task_ids_after_insert AFTER INSERT ON tasks
WHEN new.id > (SELECT last_id FROM task_ids) BEGIN
    UPDATE task_ids SET last_id = new.id;
END;

-- As in migration 4.
CREATE TRIGGER task_counts_after_insert AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_counts (user_id, task_count) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET task_count = task_count + 1;
END;

CREATE TRIGGER task_counts_after_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_counts SET task_count = task_count - 1 WHERE user_id = OLD.user_id;
END;

-- As in migration 6.
CREATE TRIGGER task_search_after_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_owners (user_id) VALUES (new.user_id) ON CONFLICT (user_id) DO NOTHING;
    SELECT RAISE(ABORT, 'task id or owner number out of the search index''s range')
    WHERE new.id >= (1 << 36)
       OR (SELECT owner_no FROM task_owners WHERE user_id = new.user_id) >= (1 << 27);
    INSERT INTO task_search (rowid, search_text)
    VALUES (((SELECT owner_no FROM task_owners WHERE user_id = new.user_id) << 36) | new.id,
            new.search_text);
END;

CREATE TRIGGER task_search_after_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO task_search (task_search, rowid, search_text)
    VALUES ('delete',
            ((SELECT owner_no FROM task_owners WHERE user_id = old.user_id) << 36) | old.id,
            old.search_text);
END;

CREATE TRIGGER task_search_after_update AFTER UPDATE OF user_id, search_text ON tasks
WHEN old.search_text IS NOT new.search_text OR old.user_id IS NOT new.user_id BEGIN
    INSERT INTO task_search (task_search, rowid, search_text)
    VALUES ('delete',
            ((SELECT owner_no FROM task_owners WHERE user_id = old.user_id) << 36) | old.id,
            old.search_text);
    INSERT INTO task_owners (user_id) VALUES (new.user_id) ON CONFLICT (user_id) DO NOTHING;
    SELECT RAISE(ABORT, 'task id or owner number out of the search index''s range')
    WHERE (SELECT owner_no FROM task_owners WHERE user_id = new.user_id) >= (1 << 27);
    INSERT INTO task_search (rowid, search_text)
    VALUES (((SELECT owner_no FROM task_owners WHERE user_id = new.user_id) << 36) | new.id,
            new.search_text);
END;
