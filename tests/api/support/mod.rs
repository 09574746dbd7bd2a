//! Test support, one module per concern; the names most tests use are re-exported here.
//!
//! - [`app`]: the server under test (`TestApp`) and its per-operation request helpers.
//! - [`matrix`]: the SQLite/PostgreSQL matrix (`#[apply(every_backend)]`, `spawn_or_skip!`).
//! - [`pg`]: `TEST_DATABASE_URL` and the PostgreSQL schema each test runs in.
//! - [`process`]: child processes of the `todo-api` binary and the environment they start from.
//! - [`assert`]: assertions on the contract's shared shapes (errors, validation errors, content
//!   types, timestamps, a task's fields).
//! - [`metrics_text`]: a strict reader of the Prometheus text exposition `/metrics` answers with.
//! - [`keys`], [`jwks`]: Better Auth-style signing keys and tokens, and a JWKS endpoint serving them.
//! - [`better_auth`]: the real Better Auth issuer (node) as a child process.
//! - [`proxy`]: a TCP proxy that takes the database away and gives it back.
//! - [`skip`]: the once-per-run announcement of a skipped part of the suite.

pub mod app;
pub mod assert;
pub mod better_auth;
pub mod jwks;
pub mod keys;
pub mod matrix;
pub mod metrics_text;
pub mod pg;
pub mod process;
pub mod proxy;
pub mod skip;

pub use app::{TEST_SECRET, TestApp, test_settings};
pub use assert::{
    assert_database_unavailable, assert_error, assert_json, assert_json_content_type,
    assert_task_model, assert_timestamp, assert_validation, error_locs, list_content,
};
pub use matrix::Backend;
pub(crate) use matrix::{every_backend, spawn_or_skip};
pub use pg::PgSchema;
