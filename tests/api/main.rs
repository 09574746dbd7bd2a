//! The integration suite: every test starts the real server on a free port with a fresh
//! database and talks HTTP to it.

mod support;

mod architecture;
mod auth;
mod backup;
mod better_auth;
mod cli;
mod concurrency;
mod conditional;
mod connections;
mod crash;
mod errors;
mod feed_order;
mod jwks;
mod lists;
mod mcp;
mod metrics;
mod openapi;
mod persistence;
mod postgres;
mod quota;
mod rate_limit;
mod readiness;
mod recurrence;
mod request_id;
mod shm;
mod tags;
mod task_model;
mod tasks;
mod upgrade;
mod validation;
