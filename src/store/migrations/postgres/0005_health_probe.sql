-- One row that the readiness check (`GET /health/ready`) updates in place and commits: proof
-- that the database accepts writes, without leaving anything behind.
CREATE TABLE health_probe (
    id         INTEGER     PRIMARY KEY CHECK (id = 1),
    checked_at TIMESTAMPTZ NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, clock_timestamp());
