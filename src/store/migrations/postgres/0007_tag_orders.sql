-- Lists by tag in every order: each task_tags row carries its task's sort keys, with an index
-- per order that starts at (user_id, tag_key), so a page of one tag is a range of one index
-- instead of a walk over all of the owner's tasks probing task_tags for each; and tag_counts
-- keeps the number of an owner's tasks carrying each tag, as task_counts keeps the number of
-- all of them. The same tables as in the SQLite schema (see 0007_tag_orders.sql there).
--
-- The sort keys are copies of the task's columns of the same name. Whoever inserts a
-- task_tags row copies them from the task (NOT NULL where the task's are, so a writer that
-- forgets fails); the trigger below copies every later change of them, in the writing
-- transaction.
--
-- Writers wait while this runs, so no row changes between the backfill and the triggers. The
-- counter table first: a create locks its owner's row there before it inserts the task.
LOCK TABLE task_counts, tasks, task_tags IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE task_tags
    ADD COLUMN created_at BIGINT,
    ADD COLUMN updated_at BIGINT,
    ADD COLUMN priority   SMALLINT,
    ADD COLUMN title_key  TEXT,
    ADD COLUMN due_at     BIGINT,
    ADD COLUMN due_date   TEXT;

UPDATE task_tags
SET created_at = tasks.created_at, updated_at = tasks.updated_at, priority = tasks.priority,
    title_key = tasks.title_key, due_at = tasks.due_at, due_date = tasks.due_date
FROM tasks
WHERE tasks.id = task_tags.task_id;

ALTER TABLE task_tags
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL,
    ALTER COLUMN priority SET NOT NULL,
    ALTER COLUMN title_key SET NOT NULL;

-- One index per order, as tasks has (migration 3); the primary key is the id order.
CREATE INDEX task_tags_created ON task_tags (user_id, tag_key, created_at, task_id);
CREATE INDEX task_tags_updated ON task_tags (user_id, tag_key, updated_at, task_id);
CREATE INDEX task_tags_priority ON task_tags (user_id, tag_key, priority, task_id);
CREATE INDEX task_tags_title ON task_tags (user_id, tag_key, title_key COLLATE "C", task_id);
CREATE INDEX task_tags_due_at ON task_tags (user_id, tag_key, due_at, task_id)
    WHERE due_at IS NOT NULL;
CREATE INDEX task_tags_due_date ON task_tags (user_id, tag_key, due_date COLLATE "C", task_id)
    WHERE due_date IS NOT NULL;

-- `SET search_path FROM CURRENT`: the functions find this schema's tables whatever the
-- search_path of the session that fires them.
CREATE FUNCTION task_tags_follow_task() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE task_tags
    SET created_at = NEW.created_at, updated_at = NEW.updated_at, priority = NEW.priority,
        title_key = NEW.title_key, due_at = NEW.due_at, due_date = NEW.due_date
    WHERE task_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_tags_follow_task AFTER UPDATE ON tasks
    FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.updated_at IS DISTINCT FROM NEW.updated_at
          OR OLD.priority IS DISTINCT FROM NEW.priority
          OR OLD.title_key IS DISTINCT FROM NEW.title_key
          OR OLD.due_at IS DISTINCT FROM NEW.due_at
          OR OLD.due_date IS DISTINCT FROM NEW.due_date)
    EXECUTE FUNCTION task_tags_follow_task();

CREATE TABLE tag_counts (
    user_id   TEXT   NOT NULL,
    tag_key   TEXT   NOT NULL,
    tag_count BIGINT NOT NULL,
    PRIMARY KEY (user_id, tag_key)
);

INSERT INTO tag_counts (user_id, tag_key, tag_count)
SELECT user_id, tag_key, COUNT(*) FROM task_tags GROUP BY user_id, tag_key;

CREATE FUNCTION tag_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO tag_counts (user_id, tag_key, tag_count)
    SELECT user_id, tag_key, COUNT(*) FROM inserted_tags GROUP BY user_id, tag_key
    ORDER BY user_id, tag_key
    ON CONFLICT (user_id, tag_key) DO UPDATE SET tag_count = tag_counts.tag_count + EXCLUDED.tag_count;
    RETURN NULL;
END
$$;

-- A tag no task carries any more leaves no row behind.
CREATE FUNCTION tag_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE tag_counts SET tag_count = tag_counts.tag_count - deleted.n
    FROM (SELECT user_id, tag_key, COUNT(*) AS n FROM deleted_tags GROUP BY user_id, tag_key)
        AS deleted
    WHERE tag_counts.user_id = deleted.user_id AND tag_counts.tag_key = deleted.tag_key;
    DELETE FROM tag_counts
    WHERE tag_count = 0
      AND (user_id, tag_key) IN (SELECT user_id, tag_key FROM deleted_tags);
    RETURN NULL;
END
$$;

CREATE TRIGGER tag_counts_after_insert AFTER INSERT ON task_tags
    REFERENCING NEW TABLE AS inserted_tags
    FOR EACH STATEMENT EXECUTE FUNCTION tag_counts_after_insert();

CREATE TRIGGER tag_counts_after_delete AFTER DELETE ON task_tags
    REFERENCING OLD TABLE AS deleted_tags
    FOR EACH STATEMENT EXECUTE FUNCTION tag_counts_after_delete();

-- The owner's revision: bumped by every insert, change and delete of the owner's tasks, in the
-- writing transaction. A filtered list's total counted at one revision holds while the
-- revision is the same, so an instance keeps it instead of counting again (tags and search
-- entries only change with their task's row). The functions of migration 4 are replaced by
-- ones that also bump it. A change now also takes the owner's task_counts row lock until it
-- commits, as a create already did: one owner's writes queue there.
ALTER TABLE task_counts ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION task_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO task_counts (user_id, task_count, revision)
    SELECT user_id, COUNT(*), 1 FROM inserted_tasks GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET task_count = task_counts.task_count + EXCLUDED.task_count,
                                        revision = task_counts.revision + 1;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION task_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE task_counts SET task_count = task_counts.task_count - deleted.n,
                           revision = task_counts.revision + 1
    FROM (SELECT user_id, COUNT(*) AS n FROM deleted_tasks GROUP BY user_id) AS deleted
    WHERE task_counts.user_id = deleted.user_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION task_counts_after_update() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE task_counts SET revision = task_counts.revision + 1
    FROM (SELECT DISTINCT user_id FROM updated_tasks) AS updated
    WHERE task_counts.user_id = updated.user_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_counts_after_update AFTER UPDATE ON tasks
    REFERENCING NEW TABLE AS updated_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_after_update();
