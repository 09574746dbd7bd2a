//! The HTTP side of sync: entity tags and the conditional headers (`If-Match`,
//! `If-None-Match`, RFC 9110 §13), the `Idempotency-Key` header and the fingerprint of the request
//! it names, and `Synced`, the response wrapper that adds the cache headers, answers 304, or
//! replays a stored response.
//!
//! A task's ETag is its version, quoted (`"3"`): strong, because every change of any field
//! bumps the version. A list page's ETag is a hash of what the page shows (each task's id and
//! version, `total`, the next cursor), so it changes with any task on the page, with the page's
//! membership and with `total`.

use poem::{
    IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::{
    ApiResponse,
    registry::{MetaHeader, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use sha2::{Digest, Sha256};

use crate::{
    domain::{
        Task,
        sync::{Expected, IdempotencyKey, Outcome, Render, StoredResponse},
    },
    tasks::Idempotency,
    wire::{error::ApiError, task_json::WriteJson},
};

/// What task and list responses may be cached as: by the client only, revalidated each time.
pub const CACHE_CONTROL: &str = "private, no-cache";
/// Responses differ by caller.
pub const VARY: &str = "Authorization";
/// The header a replayed response carries.
pub const REPLAYED: &str = "Idempotency-Replayed";

/// The ETag of a task at its version.
pub fn task_etag(task: &Task) -> String {
    format!("\"{}\"", task.version)
}

/// The ETag of a list page: a hash of each task's id and version, the total and the cursor.
pub fn list_etag<'a>(
    tasks: impl Iterator<Item = &'a Task>,
    total: i64,
    next: Option<&str>,
) -> String {
    let mut hash = Sha256::new();
    for task in tasks {
        hash.update(task.id.to_le_bytes());
        hash.update(task.version.to_le_bytes());
    }
    hash.update(total.to_le_bytes());
    hash.update(next.unwrap_or("").as_bytes());
    let digest = hash.finalize();
    format!("\"l-{}\"", hex(&digest[..12]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad_header(name: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{name} must be * or a comma-separated list of quoted entity tags, such as \"3\""
    ))
}

/// The entity tags of an `If-Match` or `If-None-Match` value: `None` for `*`, otherwise each
/// tag with whether it is weak. A value that is neither is a 400.
fn entity_tags<'a>(name: &str, raw: &'a str) -> Result<Option<Vec<(bool, &'a str)>>, ApiError> {
    let raw = raw.trim();
    if raw == "*" {
        return Ok(None);
    }
    let mut tags = Vec::new();
    for item in raw.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (weak, quoted) = match item.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, item),
        };
        let opaque = quoted
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .filter(|opaque| !opaque.contains('"'))
            .ok_or_else(|| bad_header(name))?;
        tags.push((weak, opaque));
    }
    if tags.is_empty() {
        return Err(bad_header(name));
    }
    Ok(Some(tags))
}

/// The versions an `If-Match` header admits (strong comparison: a weak tag matches nothing).
pub fn if_match(raw: Option<&str>) -> Result<Option<Expected>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    Ok(Some(match entity_tags("If-Match", raw)? {
        None => Expected::Any,
        Some(tags) => Expected::OneOf(
            tags.into_iter()
                .filter(|(weak, _)| !weak)
                .filter_map(|(_, opaque)| opaque.parse().ok())
                .collect(),
        ),
    }))
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison; `*` matches anything that
/// exists).
pub fn if_none_match(raw: Option<&str>, etag: &str) -> Result<bool, ApiError> {
    let Some(raw) = raw else {
        return Ok(false);
    };
    let ours = etag.trim_matches('"');
    Ok(match entity_tags("If-None-Match", raw)? {
        None => true,
        Some(tags) => tags.iter().any(|(_, opaque)| *opaque == ours),
    })
}

/// The `Idempotency-Key` of a request, if it sent one; a malformed key is a 400.
pub fn idempotency_key(raw: Option<&str>) -> Result<Option<IdempotencyKey>, ApiError> {
    raw.map(|raw| {
        IdempotencyKey::parse(raw.trim()).map_err(|e| {
            ApiError::bad_request(format!("Idempotency-Key is not valid: {}", e.message))
        })
    })
    .transpose()
}

/// What a retry must repeat to be the same request: the method, the path with its query, and
/// the body (hashed).
pub fn fingerprint(req: &Request, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"rest\n");
    hash.update(req.method().as_str().as_bytes());
    hash.update(b"\n");
    hash.update(
        req.uri()
            .path_and_query()
            .map_or("", |p| p.as_str())
            .as_bytes(),
    );
    hash.update(b"\n");
    hash.update(body);
    hex(&hash.finalize())
}

/// The keyed write a request asks for, rendering its outcome with `render`.
pub fn idempotency(
    key: Option<IdempotencyKey>,
    req: &Request,
    body: &[u8],
    render: Render,
) -> Option<Idempotency> {
    key.map(|key| Idempotency {
        key,
        fingerprint: fingerprint(req, body),
        render,
    })
}

/// The response stored for a write that answers with a task: `status`, its ETag (and
/// `location`, for a create), and the task as the contract shows it.
pub fn render_task(status: StatusCode, location: Option<String>) -> Render {
    Box::new(move |outcome| {
        let mut headers = Vec::new();
        let mut body = Vec::new();
        if let Outcome::Task(task) = outcome {
            if let Some(location) = location {
                headers.push((
                    "Location".to_owned(),
                    location.replace("{id}", &task.id.to_string()),
                ));
            }
            headers.push(("ETag".to_owned(), task_etag(task)));
            crate::wire::schemas::TaskView::from(task.clone()).write_json(&mut body);
        }
        StoredResponse {
            status: status.as_u16(),
            headers,
            body,
        }
    })
}

/// The response stored for a delete: 204, nothing else.
pub fn render_deleted() -> Render {
    Box::new(|_| StoredResponse {
        status: StatusCode::NO_CONTENT.as_u16(),
        headers: Vec::new(),
        body: Vec::new(),
    })
}

/// The response stored for clearing completed tasks: 200 with the count.
pub fn render_cleared() -> Render {
    Box::new(|outcome| {
        let deleted = match outcome {
            Outcome::Cleared(n) => n,
            _ => 0,
        };
        StoredResponse {
            status: StatusCode::OK.as_u16(),
            headers: Vec::new(),
            body: format!("{{\"deleted\":{deleted}}}").into_bytes(),
        }
    })
}

/// A task or list response with sync's headers: `Cache-Control`, `Vary` and (when known) the
/// `ETag`; or a 304 for a matching `If-None-Match`; or the stored response of an earlier
/// request with the same `Idempotency-Key`, marked `Idempotency-Replayed: true`. With `GET`
/// the document lists the 304; otherwise it lists the replay header.
pub enum Synced<T, const GET: bool = false> {
    Fresh(T, Option<String>),
    NotModified(String),
    Replayed(StoredResponse),
}

/// A read that may answer 304.
pub type Cached<T> = Synced<T, true>;

impl<T, const GET: bool> Synced<T, GET> {
    pub fn fresh(response: T, etag: Option<String>) -> Self {
        Self::Fresh(response, etag)
    }
}

fn header_meta(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: false,
        deprecated: false,
        schema: String::schema_ref(),
    }
}

impl<T: ApiResponse, const GET: bool> ApiResponse for Synced<T, GET> {
    fn meta() -> MetaResponses {
        let mut meta = T::meta();
        for response in &mut meta.responses {
            response.headers.push(header_meta(
                "ETag",
                "The entity tag of what this response shows (strong). A task's is its version, quoted.",
            ));
            response
                .headers
                .push(header_meta("Cache-Control", "`private, no-cache`."));
            response
                .headers
                .push(header_meta("Vary", "`Authorization`."));
            if !GET {
                response.headers.push(header_meta(
                    REPLAYED,
                    "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`.",
                ));
            }
        }
        if GET {
            meta.responses.push(MetaResponse {
                description: "`If-None-Match` matches the current ETag: what the client has is current. No body.",
                status: Some(304),
                status_range: None,
                content: Vec::new(),
                headers: vec![
                    header_meta("ETag", "The current entity tag."),
                    header_meta("Cache-Control", "`private, no-cache`."),
                    header_meta("Vary", "`Authorization`."),
                ],
            });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

fn cache_headers(resp: &mut Response) {
    let headers = resp.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static(VARY));
}

impl<T: IntoResponse, const GET: bool> IntoResponse for Synced<T, GET> {
    fn into_response(self) -> Response {
        let mut resp = match self {
            Self::Fresh(inner, etag) => {
                let mut resp = inner.into_response();
                if let Some(value) = etag.and_then(|etag| HeaderValue::from_str(&etag).ok()) {
                    resp.headers_mut().insert(header::ETAG, value);
                }
                resp
            }
            Self::NotModified(etag) => {
                let mut resp = Response::builder()
                    .status(StatusCode::NOT_MODIFIED)
                    .finish();
                if let Ok(value) = HeaderValue::from_str(&etag) {
                    resp.headers_mut().insert(header::ETAG, value);
                }
                resp
            }
            Self::Replayed(stored) => replay(stored),
        };
        cache_headers(&mut resp);
        resp
    }
}

/// A stored response, as it was first sent, marked replayed.
fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let has_body = !stored.body.is_empty();
    let mut resp = Response::builder().status(status).body(stored.body);
    let headers = resp.headers_mut();
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_strongly_and_star_admits_any_version() {
        assert_eq!(if_match(Some("*")).unwrap(), Some(Expected::Any));
        assert_eq!(
            if_match(Some("\"3\", W/\"4\", \"x\"")).unwrap(),
            Some(Expected::OneOf(vec![3]))
        );
        assert_eq!(if_match(None).unwrap(), None);
        for bad in ["3", "\"3", "", " , ", "W/3"] {
            assert!(if_match(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(if_none_match(Some("W/\"3\""), "\"3\"").unwrap());
        assert!(if_none_match(Some("\"2\", \"3\""), "\"3\"").unwrap());
        assert!(if_none_match(Some("*"), "\"3\"").unwrap());
        assert!(!if_none_match(Some("\"2\""), "\"3\"").unwrap());
        assert!(!if_none_match(None, "\"3\"").unwrap());
    }
}
