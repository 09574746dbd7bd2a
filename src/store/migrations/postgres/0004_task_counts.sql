-- How many tasks each user has, so the per-user quota is checked with one primary-key lookup
-- instead of counting the user's rows on every create. Statement-level triggers keep it exact on
-- every insert and delete, whatever the statement (a create, the next occurrence of a recurring
-- task, an import of many rows); the backfill counts the rows already there. The same table as
-- in the SQLite schema.
--
-- Writers wait while this runs, so no row is inserted between the backfill and the triggers.
LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE task_counts (
    user_id    TEXT   PRIMARY KEY,
    task_count BIGINT NOT NULL
);

INSERT INTO task_counts (user_id, task_count)
SELECT user_id, COUNT(*) FROM tasks GROUP BY user_id;

-- `SET search_path FROM CURRENT`: the functions find this schema's task_counts whatever the
-- search_path of the session that fires them.
CREATE FUNCTION task_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO task_counts (user_id, task_count)
    SELECT user_id, COUNT(*) FROM inserted_tasks GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET task_count = task_counts.task_count + EXCLUDED.task_count;
    RETURN NULL;
END
$$;

CREATE FUNCTION task_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE task_counts SET task_count = task_counts.task_count - deleted.n
    FROM (SELECT user_id, COUNT(*) AS n FROM deleted_tasks GROUP BY user_id) AS deleted
    WHERE task_counts.user_id = deleted.user_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_counts_after_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS inserted_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_after_insert();

CREATE TRIGGER task_counts_after_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS deleted_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_after_delete();
