//! JSON request bodies that report every problem with its field.
//!
//! poem-openapi's own `Json<T>` stops at the first problem and answers in plain text. `JsonBody<S>`
//! publishes the same schema `S` in the OpenAPI document, but parses by hand: malformed JSON is a
//! 400 `BAD_REQUEST`; JSON that breaks the schema is a 422 `VALIDATION_ERROR` listing each field at
//! fault (missing, null, wrong type, too long, blank, unknown) in one response.

use std::marker::PhantomData;

use poem::{Request, RequestBody, error::ReadBodyError};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaRequest, Registry},
    types::Type,
};
use serde_json::{Map, Value};

use super::{
    error::ApiError,
    schemas::{TaskCreate, TaskReplace, TaskUpdate, ValidationIssue},
};
use crate::domain::{
    DomainError, NewTask, TaskChanges, TaskDescription, TaskReplacement, TaskTitle,
};

/// The largest JSON body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct MaxBodyBytes(pub usize);

impl MaxBodyBytes {
    pub const DEFAULT: usize = 64 * 1024;
}

/// A request schema and the domain value it parses into.
pub trait RequestSchema: Type {
    type Parsed: Send;
    fn parse(body: &mut ObjectReader) -> Option<Self::Parsed>;
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
        if self.content_length.is_some_and(|len| len > limit) {
            return Err(ApiError::payload_too_large(limit));
        }
        let bytes = self
            .body
            .into_bytes_limit(limit)
            .await
            .map_err(|e| match e {
                ReadBodyError::PayloadTooLarge => ApiError::payload_too_large(limit),
                _ => ApiError::bad_request("request body could not be read"),
            })?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "request body is empty: send a JSON object",
            ));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(ApiError::validation(vec![ValidationIssue::new(
                &["body"],
                "body must be a JSON object",
                "object_type",
            )]));
        };
        let mut reader = ObjectReader::new(map);
        let parsed = S::parse(&mut reader);
        match (parsed, reader.finish()) {
            (Some(parsed), Ok(())) => Ok(parsed),
            (_, Err(issues)) => Err(ApiError::validation(issues)),
            (None, Ok(())) => Err(ApiError::validation(vec![ValidationIssue::new(
                &["body"],
                "invalid body",
                "value_error",
            )])),
        }
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
            content_length: request
                .header(poem::http::header::CONTENT_LENGTH)
                .and_then(|v| v.parse::<usize>().ok()),
            body: body.take().unwrap_or_default(),
            schema: PhantomData,
        })
    }
}

/// Reads fields out of a JSON object, collecting every problem instead of stopping at the first.
pub struct ObjectReader {
    map: Map<String, Value>,
    issues: Vec<ValidationIssue>,
}

impl ObjectReader {
    fn new(map: Map<String, Value>) -> Self {
        Self {
            map,
            issues: Vec::new(),
        }
    }

    fn issue(&mut self, field: &str, msg: impl Into<String>, kind: &str) {
        self.issues
            .push(ValidationIssue::new(&["body", field], msg, kind));
    }

    /// Any key left unread is unknown: report it, so a typo such as `completed` is not ignored.
    fn finish(mut self) -> Result<(), Vec<ValidationIssue>> {
        let mut unknown: Vec<String> = self.map.keys().cloned().collect();
        unknown.sort();
        for key in unknown {
            self.issue(&key, format!("unknown field `{key}`"), "extra_forbidden");
        }
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(self.issues)
        }
    }

    /// `None` when absent; `Some(Value::Null)` when explicitly null.
    fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field)
    }

    fn missing(&mut self, field: &str) {
        self.issue(field, format!("`{field}` is required"), "missing");
    }

    fn string(&mut self, field: &str, value: Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s),
            _ => {
                self.issue(field, format!("`{field}` must be a string"), "string_type");
                None
            }
        }
    }

    fn domain<T>(&mut self, field: &str, parsed: Result<T, DomainError>) -> Option<T> {
        parsed
            .map_err(|e| self.issue(field, e.message, e.kind))
            .ok()
    }

    /// A required, non-null title.
    pub fn title(&mut self) -> Option<TaskTitle> {
        match self.take("title") {
            None | Some(Value::Null) => {
                self.missing("title");
                None
            }
            Some(v) => {
                let s = self.string("title", v)?;
                self.domain("title", TaskTitle::parse(s))
            }
        }
    }

    /// An optional title: absent is `None`; null is an error (a title cannot be cleared).
    pub fn optional_title(&mut self) -> Option<Option<TaskTitle>> {
        match self.take("title") {
            None => Some(None),
            Some(Value::Null) => {
                self.issue("title", "`title` cannot be null", "string_type");
                None
            }
            Some(v) => {
                let s = self.string("title", v)?;
                self.domain("title", TaskTitle::parse(s)).map(Some)
            }
        }
    }

    /// A description: `None` when absent, `Some(None)` when null.
    pub fn description(&mut self) -> Option<Option<Option<TaskDescription>>> {
        match self.take("description") {
            None => Some(None),
            Some(Value::Null) => Some(Some(None)),
            Some(v) => {
                let s = self.string("description", v)?;
                self.domain("description", TaskDescription::parse(s))
                    .map(|d| Some(Some(d)))
            }
        }
    }

    /// A boolean `complete`: `None` when absent; null is an error.
    pub fn complete(&mut self) -> Option<Option<bool>> {
        match self.take("complete") {
            None => Some(None),
            Some(Value::Bool(b)) => Some(Some(b)),
            Some(Value::Null) => {
                self.issue("complete", "`complete` cannot be null", "bool_type");
                None
            }
            Some(_) => {
                self.issue("complete", "`complete` must be true or false", "bool_type");
                None
            }
        }
    }
}

impl RequestSchema for TaskCreate {
    type Parsed = NewTask;

    fn parse(body: &mut ObjectReader) -> Option<NewTask> {
        let title = body.title();
        let description = body.description();
        Some(NewTask {
            title: title?,
            description: description?.flatten(),
        })
    }
}

impl RequestSchema for TaskReplace {
    type Parsed = TaskReplacement;

    fn parse(body: &mut ObjectReader) -> Option<TaskReplacement> {
        let title = body.title();
        let description = match body.description() {
            Some(None) => {
                body.missing("description");
                None
            }
            other => other.flatten(),
        };
        let complete = match body.complete() {
            Some(None) => {
                body.missing("complete");
                None
            }
            other => other.flatten(),
        };
        Some(TaskReplacement {
            title: title?,
            description: description?,
            complete: complete?,
        })
    }
}

impl RequestSchema for TaskUpdate {
    type Parsed = TaskChanges;

    fn parse(body: &mut ObjectReader) -> Option<TaskChanges> {
        let title = body.optional_title();
        let description = body.description();
        let complete = body.complete();
        Some(TaskChanges {
            title: title?,
            description: description?,
            complete: complete?,
        })
    }
}
