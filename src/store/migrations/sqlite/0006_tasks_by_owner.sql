-- Lists by owner: the search index and the tasks table both keyed so that one owner's entries
-- are neighbours.
--
-- 1. Substring search scoped to one owner. The index of migration 3 held every owner's text
-- under the task's id, so `q` first found the matches of every user and then kept the owner's:
-- its cost followed the word's frequency across the whole table (48-94 ms for a word in 2% of
-- 1.1 million tasks). Here each owner gets a number, and the index keys a task's text by
-- (owner number << 36) | task id, so one owner's entries are one contiguous range of rowids:
-- a search with `rowid BETWEEN` that range reads only that owner's part of each trigram's list,
-- in task id order. Limits of the key: task ids below 2^36 (68.7 billion) and owner numbers
-- below 2^27 (134 million); the insert trigger refuses a row past either instead of mixing
-- owners.
--
-- 2. Tasks stored in owner order. The table was kept in id order, so the rows of one user sat
-- wherever they were written among everyone else's: a page of a 100-task user read about a
-- hundred database pages, one per task, and on a large file most of them were not in the page
-- cache. Keyed by (user_id, id), a user's tasks are neighbours: that page reads a few.
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

-- owner_no: assigned on a user's first task and kept (never reused, like task ids).
CREATE TABLE task_owners (
    owner_no INTEGER PRIMARY KEY,
    user_id  TEXT    NOT NULL UNIQUE
);

INSERT INTO task_owners (user_id)
SELECT user_id FROM tasks GROUP BY user_id ORDER BY min(id);

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

-- The old table's triggers go with it; its search index goes too, rebuilt below.
DROP TABLE tasks;
DROP TABLE task_search;
ALTER TABLE tasks_by_owner RENAME TO tasks;

CREATE UNIQUE INDEX tasks_id ON tasks (id);
CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_priority ON tasks (user_id, priority, id);
CREATE INDEX tasks_user_title ON tasks (user_id, title_key, id);
CREATE INDEX tasks_user_complete ON tasks (user_id, complete, id);
CREATE INDEX tasks_user_due_at ON tasks (user_id, due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_user_due_date ON tasks (user_id, due_date, id) WHERE due_date IS NOT NULL;

-- Contentless: the text lives in tasks.search_text (already folded, so the tokenizer compares
-- exactly); the index only answers which rowids match. columnsize=0 and automerge 16 as in
-- migration 3.
CREATE VIRTUAL TABLE task_search USING fts5 (
    search_text,
    content = '',
    tokenize = 'trigram case_sensitive 1',
    columnsize = 0
);
INSERT INTO task_search (task_search, rank) VALUES ('automerge', 16);

INSERT INTO task_search (rowid, search_text)
SELECT (task_owners.owner_no << 36) | tasks.id, tasks.search_text
FROM tasks JOIN task_owners USING (user_id)
ORDER BY 1;

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

-- The search index is kept in step with every insert, delete and change of the text or the
-- owner, in the writing transaction. A contentless index deletes an entry given the exact
-- values it was indexed with.
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
