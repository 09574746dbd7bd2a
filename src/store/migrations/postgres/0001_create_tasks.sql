-- Tasks, owned by a Better Auth user id. An identity column draws ids from a sequence, which
-- never hands out the same value twice (even after the highest task is deleted, or across
-- instances). Timestamps are UTC milliseconds since the epoch, as in the SQLite schema, so both
-- backends store and return exactly the same values.
CREATE TABLE tasks (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT,
    complete    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- Serves "this user's tasks by id" (list, and every owner-scoped lookup).
CREATE INDEX tasks_user_id_id ON tasks (user_id, id);
