//! The integration suite: every test starts the real server on a free port with a fresh
//! database and talks HTTP to it.

mod helpers;

mod auth;
mod cli;
mod concurrency;
mod errors;
mod openapi;
mod persistence;
mod tasks;
mod validation;
