-- Sync: a version per task, the change feed with its tombstones, and idempotency keys.
--
-- version: 1 on create, +1 on every change; the ETag and If-Match compare it. Tasks written
-- before this step start at 1.
--
-- change_seq: where the task's latest change sits in the feed. The writer thread is the only
-- writer, so a counter it bumps once per write transaction (sync_state.change_seq) orders
-- changes exactly as they commit; (change_seq, id) is the feed position. The index is by
-- change_seq alone, not by owner first: every change then lands on its right edge, one page for
-- a whole batch, where an (owner, change_seq) index moved each changed task's entry to the end
-- of its owner's range and cost a PATCH ~40% of its throughput. A feed read that has little to
-- catch up on walks it from the cursor; one far behind walks the owner's own rows (see
-- `sync::read_changes`). Tasks written before this step are at 0: a feed read from the start
-- gives them first.
ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tasks_changes ON tasks (change_seq);

-- A deleted task's entry in the feed, kept for the tombstone retention and then purged.
CREATE TABLE task_tombstones (
    user_id    TEXT    NOT NULL,
    change_seq INTEGER NOT NULL,
    task_id    INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, change_seq, task_id)
) WITHOUT ROWID;
CREATE INDEX task_tombstones_deleted_at ON task_tombstones (deleted_at);

-- One row: the last change counter given, and the position of the latest tombstone purged (a
-- cursor before it may have missed a deletion: it is expired).
CREATE TABLE sync_state (
    change_seq   INTEGER NOT NULL,
    purged_major INTEGER NOT NULL,
    purged_minor INTEGER NOT NULL
);
INSERT INTO sync_state (change_seq, purged_major, purged_minor) VALUES (0, 0, 0);

-- The response a keyed write answered with, stored in the write's own transaction, replayed
-- to retries until it expires. fingerprint: a hash of the method, path and body.
CREATE TABLE idempotency_keys (
    user_id     TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    headers     TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
