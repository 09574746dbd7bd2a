-- The second half of schema version 3, run in the same transaction right after the existing
-- rows got their title_key and search_text: index every row's text, then keep the index in step
-- with every insert, delete and change of the text, in the writing transaction.
INSERT INTO task_search (task_search) VALUES ('rebuild');

CREATE TRIGGER task_search_after_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_search (rowid, search_text) VALUES (new.id, new.search_text);
END;

CREATE TRIGGER task_search_after_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO task_search (task_search, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
END;

CREATE TRIGGER task_search_after_update AFTER UPDATE OF search_text ON tasks
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO task_search (task_search, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
    INSERT INTO task_search (rowid, search_text) VALUES (new.id, new.search_text);
END;
