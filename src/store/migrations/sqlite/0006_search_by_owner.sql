-- Substring search scoped to one owner. The index of migration 3 held every owner's text under
-- the task's id, so `q` first found the matches of every user and then kept the owner's: its
-- cost followed the word's frequency across the whole table (48-94 ms for a word in 2% of
-- 1.1 million tasks). Here each owner gets a number, and the index keys a task's text by
-- (owner number << 36) | task id, so one owner's entries are one contiguous range of rowids:
-- a search with `rowid BETWEEN` that range reads only that owner's part of each trigram's list,
-- in task id order.
--
-- Limits of the key: task ids below 2^36 (68.7 billion) and owner numbers below 2^27
-- (134 million); the insert trigger refuses a row past either instead of mixing owners.
--
-- owner_no: assigned on a user's first task and kept (never reused, like task ids).
CREATE TABLE task_owners (
    owner_no INTEGER PRIMARY KEY,
    user_id  TEXT    NOT NULL UNIQUE
);

INSERT INTO task_owners (user_id)
SELECT user_id FROM tasks GROUP BY user_id ORDER BY min(id);

DROP TRIGGER task_search_after_insert;
DROP TRIGGER task_search_after_delete;
DROP TRIGGER task_search_after_update;
DROP TABLE task_search;

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

-- Kept in step with every insert, delete and change of the text or the owner, in the writing
-- transaction. A contentless index deletes an entry given the exact values it was indexed with.
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
