-- Tasks, owned by a Better Auth user id. AUTOINCREMENT guarantees an id is never reused,
-- even after the highest task is deleted. Timestamps are UTC milliseconds since the epoch.
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT,
    complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Serves "this user's tasks by id" (list, and every owner-scoped lookup).
CREATE INDEX tasks_user_id_id ON tasks (user_id, id);
