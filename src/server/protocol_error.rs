//! The answers to requests refused at the connection level, before or while poem sees them:
//! a malformed request line or header (400), a request head too large (431) or too slow (408),
//! a URI too long (414), a request body too slow (408). Each has the contract's JSON error
//! shape, with a fresh request id (there is no request to take one from) that is logged too.

use std::time::Duration;

use poem::http::{HeaderValue, StatusCode, header};

use super::{ConnectionLimits, MAX_HEADER_FIELDS};
use crate::wire::{
    request_id,
    schemas::{ErrorBody, ErrorCode, Timestamp},
};

/// The bytes of a whole HTTP/1.1 response refusing the request with `status`; the connection
/// closes after it.
pub(super) fn response_bytes(status: StatusCode, limits: &ConnectionLimits) -> Vec<u8> {
    let id = request_id::accept_or_generate(None);
    let detail = head_detail(status, limits);
    tracing::info!(
        request_id = %id,
        status = status.as_u16(),
        detail,
        "request refused before routing"
    );
    let json = serde_json::to_vec(&error_body(detail, id.clone())).unwrap_or_default();
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{}: {}\r\ndate: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        json.len(),
        request_id::HEADER,
        id,
        chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT"),
    )
    .into_bytes();
    bytes.extend_from_slice(&json);
    bytes
}

fn head_detail(status: StatusCode, limits: &ConnectionLimits) -> String {
    match status {
        StatusCode::BAD_REQUEST => {
            "malformed request: the request line or a header (such as Content-Length) is invalid"
                .into()
        }
        StatusCode::REQUEST_TIMEOUT => format!(
            "the request head was not received within {} s",
            limits.header_read_timeout.as_secs()
        ),
        StatusCode::URI_TOO_LONG => "the request URI is too long".into(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => format!(
            "the request head is too large: more than {} bytes (request line and headers) or more than {MAX_HEADER_FIELDS} header fields",
            limits.max_header_bytes
        ),
        other => other.canonical_reason().unwrap_or("bad request").into(),
    }
}

/// The 408 that replaces the app's answer to a request whose body did not arrive in time. It
/// keeps the request's id; the connection closes after it.
pub(super) fn body_timeout_response(request_id: String, limit: Duration) -> poem::Response {
    let detail = format!(
        "the request body was not received within {} s",
        limit.as_secs()
    );
    tracing::info!(
        request_id = %request_id,
        status = 408,
        detail,
        "request body timed out"
    );
    let json = serde_json::to_vec(&error_body(detail, request_id.clone())).unwrap_or_default();
    let mut resp = poem::Response::builder()
        .status(StatusCode::REQUEST_TIMEOUT)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )
        .header(header::CONNECTION, HeaderValue::from_static("close"))
        .body(json);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(request_id::HEADER, value);
    }
    resp
}

/// The contract's error body. `BAD_REQUEST` is the code of every client error the framework
/// rather than an operation decides (see `wire::error::render`); the status tells them apart.
fn error_body(detail: String, request_id: String) -> ErrorBody {
    ErrorBody {
        detail,
        error_code: ErrorCode::BadRequest,
        timestamp: Timestamp::now(),
        request_id,
        errors: None,
        task: None,
    }
}
