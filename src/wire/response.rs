//! JSON response bodies, serialised straight from the schema types with serde.
//!
//! poem-openapi's `Json<T>` first turns `T` into a `serde_json::Value` tree and then serialises
//! the tree; for a list of 100 tasks that allocation was the largest cost of the request.
//! `JsonResponse<T>` publishes the same schema (`T`'s) and writes bytes directly. It also
//! advertises plain `application/json`, which generators match on. `DirectJsonResponse<T>` is
//! the same for the tasks and lists of tasks, which write their own JSON (`task_json`).

use std::cell::RefCell;

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    payload::Payload,
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::Serialize;

use super::task_json::WriteJson;

/// A JSON response body documented with `T`'s schema.
#[derive(Debug, Clone)]
pub struct JsonResponse<T>(pub T);

impl<T: Type + Send> Payload for JsonResponse<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// The largest serialisation buffer a thread keeps between responses (a page of 500 long
/// tasks is about this size); a larger one is given back after use.
const KEPT_BUFFER_BYTES: usize = 1024 * 1024;

thread_local! {
    /// Each thread serialises into one buffer that keeps its size between responses, then
    /// copies the body out once. Serialising into a fresh vector grew it a doubling at a time
    /// (a list of 100 tasks, ~40 KB: nine allocations and ~64 KB of copying).
    static BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<T: Serialize + Send> IntoResponse for JsonResponse<T> {
    fn into_response(self) -> Response {
        json_response(|buffer| serde_json::to_writer(buffer, &self.0))
    }
}

/// A JSON response body documented with `T`'s schema and written by `T` itself
/// (`task_json`): the tasks and lists of tasks, the busiest bodies.
#[derive(Debug, Clone)]
pub struct DirectJsonResponse<T>(pub T);

impl<T: Type + Send> Payload for DirectJsonResponse<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: WriteJson + Send> IntoResponse for DirectJsonResponse<T> {
    fn into_response(self) -> Response {
        json_response(|buffer| {
            self.0.write_json(buffer);
            Ok(())
        })
    }
}

/// A `200 application/json` response whose body `write` puts into this thread's buffer.
fn json_response(write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>) -> Response {
    let body = BODY.with_borrow_mut(|buffer| {
        buffer.clear();
        let written = write(&mut *buffer).map(|()| buffer.to_vec());
        if buffer.capacity() > KEPT_BUFFER_BYTES {
            *buffer = Vec::new();
        }
        written
    });
    match body {
        Ok(bytes) => Response::builder()
            .content_type("application/json")
            .body(bytes),
        Err(e) => {
            // Only a bug (a non-string map key) can get here.
            tracing::error!(error = %e, "cannot serialise a response body");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
