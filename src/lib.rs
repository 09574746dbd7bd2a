//! todo-api: the back end of a multi-user todo app. An OpenAPI-first HTTP API (poem-openapi) and
//! an MCP server for AI agents, over an embedded SQLite file or PostgreSQL, guarded by Better
//! Auth JWTs. One core, several front doors: `api/` and `mcp/` translate, `tasks/` decides,
//! `store/` keeps, and `wire/` is the JSON they all share. `specs/architecture.md` says who may
//! import whom.

/// The REST front door: OpenAPI operations, the body extractor, security scheme, docs.
pub mod api;
/// Bearer-token verification, the auth policy resolved from the settings, development tokens.
pub mod auth;
/// The command line (`serve`, `openapi`, `token`, `migrate`, `migrate-data`, `backup`, `check`,
/// `explain-list`).
pub mod cli;
/// Layered, typed settings.
pub mod config;
/// Validated task values and rules, free of HTTP and SQL.
pub mod domain;
/// `todo-api explain-list`: the database's plan for each statement of one list request.
pub mod explain;
/// JWS algorithm names: plain data shared by the settings and the verifier.
pub mod jwa;
/// The MCP front door: the task use cases as tools for AI agents, over Streamable HTTP.
pub mod mcp;
/// Prometheus metrics: what is counted, per application, and the `/metrics` exposition.
pub mod metrics;
/// Request budgets per token subject and per client address, and where they are checked.
pub mod rate_limit;
/// The request log middleware: one line and one metrics sample per request, under its route.
pub mod request_log;
/// The HTTP/1.1 server: accept loop, connection cap, timeouts, header limit, graceful shutdown,
/// JSON answers to protocol errors.
pub mod server;
/// Building and running the server: settings -> store (SQLite or PostgreSQL) -> use cases ->
/// REST and MCP -> middleware -> listener.
pub mod startup;
/// Task storage behind an owner-scoped interface: the port and its SQLite and PostgreSQL backends.
pub mod store;
/// The task use cases, shared by every front door; the only caller of the store.
pub mod tasks;
/// Logging setup.
pub mod telemetry;
/// The JSON every front door reads and writes: schemas, errors, response writers, the field
/// reader, request ids.
pub mod wire;
