-- How many tasks each user has, so the per-user quota is checked with one primary-key lookup
-- instead of counting the user's rows on every create. Triggers keep it exact on every insert
-- and delete, whatever the statement (a create, the next occurrence of a recurring task, an
-- import); the backfill counts the rows already there.
CREATE TABLE task_counts (
    user_id    TEXT    PRIMARY KEY,
    task_count INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO task_counts (user_id, task_count)
SELECT user_id, COUNT(*) FROM tasks GROUP BY user_id;

CREATE TRIGGER task_counts_after_insert AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_counts (user_id, task_count) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET task_count = task_count + 1;
END;

CREATE TRIGGER task_counts_after_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_counts SET task_count = task_count - 1 WHERE user_id = OLD.user_id;
END;
