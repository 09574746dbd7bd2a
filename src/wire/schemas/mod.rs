//! Every request and response body of the contract, as OpenAPI schemas, shared by every front
//! door.
//!
//! Request bodies are parsed by `wire::fields` (so every problem is reported with its field); the
//! `Object` derives here exist to publish exact schemas. Field docs become schema descriptions.
//! Each schema keeps its `#[oai(rename)]`, so the document names it the same wherever it lives.

mod changes;
mod error;
mod health;
mod scalars;
mod task;

pub use changes::*;
pub use error::*;
pub use health::*;
pub use scalars::*;
pub use task::*;
