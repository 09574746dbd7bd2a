//! JSON response bodies, serialised straight from the schema types with serde.
//!
//! poem-openapi's `Json<T>` first turns `T` into a `serde_json::Value` tree and then serialises
//! the tree; for a list of 100 tasks that allocation was the largest cost of the request.
//! `JsonResponse<T>` publishes the same schema (`T`'s) and writes bytes directly. It also
//! advertises plain `application/json`, which generators match on.

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    payload::Payload,
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::Serialize;

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

impl<T: Serialize + Send> IntoResponse for JsonResponse<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
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
}
