-- One row that the readiness check (`GET /health/ready`) updates in place and commits: proof
-- that the database file can still be written, without leaving anything behind. `room` holds a
-- large value for a moment when readiness checks that a disk that was full has room again.
CREATE TABLE health_probe (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL,
    room       BLOB
);
INSERT INTO health_probe (id, checked_at) VALUES (1, 0);
