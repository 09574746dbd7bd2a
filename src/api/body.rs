//! JSON request bodies that report every problem with its field: the REST extractor over the
//! shared field reader (`wire::fields`).
//!
//! poem-openapi's own `Json<T>` stops at the first problem and answers in plain text. `JsonBody<S>`
//! publishes the same schema `S` in the OpenAPI document, but parses with `wire::fields`:
//! malformed JSON is a 400 `BAD_REQUEST`; JSON that breaks the schema is a 422
//! `VALIDATION_ERROR` listing each field at fault (missing, null, wrong type, too long, blank,
//! unknown) in one response.

use std::marker::PhantomData;

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaRequest, Registry},
};
use serde_json::Value;

use crate::wire::{
    error::ApiError,
    fields::{RequestSchema, declared_length, parse_fields, read_limited},
    schemas::{BODY, ValidationIssue},
};

/// The largest JSON body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct MaxBodyBytes(pub usize);

impl MaxBodyBytes {
    pub const DEFAULT: usize = 64 * 1024;
}

/// A JSON request body documented as `S` and parsed into `S::Parsed`.
///
/// Extracting it reads nothing: the body is parsed only when the handler calls `parse`, after the
/// caller has been authenticated, so an unauthenticated request never costs a body read and is
/// answered 401 whatever its body holds.
pub struct JsonBody<S: RequestSchema> {
    content_type: Option<String>,
    content_length: Option<usize>,
    body: poem::Body,
    schema: PhantomData<fn() -> S>,
}

impl<S: RequestSchema> JsonBody<S> {
    /// Read at most `limit` bytes and parse them, reporting every field at fault.
    pub async fn parse(self, limit: usize) -> Result<S::Parsed, ApiError> {
        Ok(self.parse_with_bytes(limit).await?.0)
    }

    /// `parse`, also giving back the bytes read (what an idempotent retry must repeat).
    pub async fn parse_with_bytes(
        self,
        limit: usize,
    ) -> Result<(S::Parsed, bytes::Bytes), ApiError> {
        match self.content_type.as_deref() {
            None => {
                return Err(ApiError::bad_request(
                    "missing Content-Type: send application/json",
                ));
            }
            Some(content_type) if !is_json(content_type) => {
                return Err(ApiError::bad_request(
                    "unsupported Content-Type: send application/json",
                ));
            }
            Some(_) => {}
        }
        let bytes = read_limited(self.content_length, self.body, limit).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "request body is empty: send a JSON object",
            ));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(ApiError::validation(vec![ValidationIssue::new(
                &[BODY],
                "body must be a JSON object",
                "object_type",
            )]));
        };
        let parsed = parse_fields(map, BODY, S::parse).await?;
        Ok((parsed, bytes))
    }
}

/// `application/json` or any `application/*+json`.
fn is_json(content_type: &str) -> bool {
    matches!(content_type.parse::<mime::Mime>(),
        Ok(m) if m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")))
}

impl<'a, S: RequestSchema> ApiExtractor<'a> for JsonBody<S> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        S::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: S::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(Self {
            content_type: request.content_type().map(str::to_owned),
            content_length: declared_length(request),
            body: body.take().unwrap_or_default(),
            schema: PhantomData,
        })
    }
}
