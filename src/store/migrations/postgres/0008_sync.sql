-- Sync: a version per task, the change feed with its tombstones, and idempotency keys. The same
-- tables as in the SQLite schema (see 0008_sync.sql there), with one difference: the position.
--
-- Many instances write at once, so no counter taken inside a transaction orders the feed: a
-- transaction that commits later can hold a smaller value. Each change records instead the id
-- of the transaction that wrote it (change_xid, pg_current_xact_id() as a number), and a read
-- serves only changes of transactions below its snapshot's xmin, all of which have finished:
-- any transaction still to commit has an id at or above that xmin, so it sorts after everything
-- served. (change_xid, id) is the position. Tasks written before this step are at 0.
ALTER TABLE tasks ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN change_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ALTER COLUMN change_xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX tasks_changes ON tasks (user_id, change_xid, id);

CREATE TABLE task_tombstones (
    user_id    TEXT   NOT NULL,
    change_xid BIGINT NOT NULL,
    task_id    BIGINT NOT NULL,
    deleted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, change_xid, task_id)
);
CREATE INDEX task_tombstones_deleted_at ON task_tombstones (deleted_at);

CREATE TABLE sync_state (
    only_row     BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    purged_major BIGINT NOT NULL,
    purged_minor BIGINT NOT NULL
);
INSERT INTO sync_state (purged_major, purged_minor) VALUES (0, 0);

CREATE TABLE idempotency_keys (
    user_id     TEXT     NOT NULL,
    key         TEXT     NOT NULL,
    fingerprint TEXT     NOT NULL,
    status      SMALLINT NOT NULL,
    headers     TEXT     NOT NULL,
    body        BYTEA    NOT NULL,
    expires_at  BIGINT   NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
