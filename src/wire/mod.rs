//! The JSON every front door reads and answers with, one floor below the doors: the schemas,
//! the error body and `ApiError` (with the renderer that gives every failure that shape), the
//! response writers, the field reader that parses request bodies and tool arguments, request
//! ids and the timestamp format. REST (`api/`) and MCP (`mcp/`) both build on it and on nothing
//! of each other's, so a rule about a field or an error holds at every door.

pub mod error;
pub mod fields;
pub mod request_id;
pub mod response;
pub mod rfc3339;
pub mod schemas;
pub mod task_json;
