//! Connection hygiene and protocol errors, over raw TCP: slow request heads and bodies are cut off
//! with a 408, idle connections are closed, the connection cap holds, shutdown does not wait for
//! clients that have not sent a request, and the errors the HTTP layer itself produces (431, 400,
//! 408) have the contract's JSON error shape. Timeouts are configured to 1 s so the suite stays fast.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{Value, json};
use todo_api::{config::Settings, startup::Application};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};

use crate::support::{
    Backend, TestApp, assert_error, assert_json, assert_timestamp, every_backend, spawn_or_skip,
    test_settings,
};

/// Longest a test waits for something that should happen within about a second.
const PATIENCE: Duration = Duration::from_secs(10);

/// 1-second timeouts everywhere.
fn short_timeouts(settings: &mut Settings) {
    settings.server.header_read_timeout_secs = 1;
    settings.server.body_read_timeout_secs = 1;
    settings.server.keep_alive_timeout_secs = 1;
    settings.server.send_timeout_secs = 1;
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Read one response (framed by `Content-Length`) from `stream`.
async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> RawResponse {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(
            n > 0,
            "connection closed before a whole response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .expect("content-length");
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("the body in time")
            .expect("read");
        assert!(n > 0, "connection closed in the middle of the body");
        body.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(body.len(), length, "no bytes after the body");
    RawResponse {
        status,
        headers,
        body,
    }
}

/// Assert the server closes `stream` (end of stream, or a reset) without sending anything more.
async fn assert_closed(stream: &mut (impl AsyncRead + Unpin)) {
    let mut chunk = [0u8; 1024];
    match tokio::time::timeout(PATIENCE, stream.read(&mut chunk)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!(
            "expected the connection closed, got {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(_) => panic!("the connection is still open after {PATIENCE:?}"),
    }
}

/// Assert the connection-level error shape: `status`, JSON, `BAD_REQUEST` (the code of every
/// client error the framework decides), the `X-Request-Id` in the body, `Connection: close`.
fn assert_protocol_error(resp: &RawResponse, status: u16, detail_part: &str) -> Value {
    assert_eq!(
        resp.status,
        status,
        "status; body: {}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("connection"), Some("close"));
    let body = resp.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        4,
        "detail, error_code, timestamp, request_id: {body}"
    );
    assert_eq!(body["error_code"], "BAD_REQUEST", "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains(detail_part),
        "{detail:?} mentions {detail_part:?}"
    );
    assert_timestamp(&body["timestamp"]);
    let id = resp.header("x-request-id").expect("an X-Request-Id header");
    assert_eq!(id.len(), 32, "a generated id");
    assert_eq!(body["request_id"], id);
    body
}

/// A request with a body, as raw bytes.
fn post_tasks(app: &TestApp, user: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /api/{user}/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.token(user),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

async fn assert_no_tasks(app: &TestApp, user: &str) {
    let tasks = assert_json(app.list_tasks(user).await, StatusCode::OK).await;
    assert_eq!(tasks["tasks"], json!([]), "nothing stored: {tasks}");
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off_with_a_408_while_other_requests_are_served() {
    let app = spawn_or_skip!(Backend::Sqlite, short_timeouts);
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let (mut reader, mut writer) = slow.into_split();
    // One byte of the header every 100 ms, until the server hangs up.
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b"a").await.is_err() {
                return;
            }
        }
    });

    for _ in 0..5 {
        let resp = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = read_response(&mut reader).await;
    assert_protocol_error(&resp, 408, "request head was not received within 1 s");
    assert_closed(&mut reader).await;
    trickle.abort();

    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let app = spawn_or_skip!(Backend::Sqlite, short_timeouts);
    let mut silent = connect(&app).await;

    assert_closed(&mut silent).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = spawn_or_skip!(Backend::Sqlite, short_timeouts);
    let mut conn = connect(&app).await;

    for _ in 0..2 {
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let resp = read_response(&mut conn).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), None, "kept alive");
    }

    assert_closed(&mut conn).await;
}

#[tokio::test]
async fn a_trickling_request_body_is_cut_off_with_a_408_and_nothing_is_stored() {
    let app = spawn_or_skip!(Backend::Sqlite, short_timeouts);
    let body = br#"{"title": "never finished"}                                   "#;
    let request = post_tasks(&app, "alice", body);
    let head_len = request.len() - body.len();
    let mut conn = connect(&app).await;
    conn.write_all(&request[..head_len]).await.unwrap();
    let (mut reader, mut writer) = conn.into_split();
    // One byte of the body every 100 ms: the whole body would take 6 s.
    let body_bytes = request[head_len..].to_vec();
    let trickle = tokio::spawn(async move {
        for byte in body_bytes {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    });

    let resp = read_response(&mut reader).await;
    assert_closed(&mut reader).await;
    let body = assert_protocol_error(&resp, 408, "request body was not received within 1 s");
    assert_ne!(body["request_id"], "-");
    trickle.abort();

    assert_no_tasks(&app, "alice").await;
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_off_with_a_408() {
    let app = spawn_or_skip!(Backend::Sqlite, short_timeouts);
    let request = post_tasks(&app, "alice", br#"{"title": "stalled"}"#);
    let mut conn = connect(&app).await;

    conn.write_all(&request[..request.len() - 5]).await.unwrap();

    let resp = read_response(&mut conn).await;
    assert_protocol_error(&resp, 408, "request body was not received within 1 s");
    assert_closed(&mut conn).await;
    assert_no_tasks(&app, "alice").await;
}

#[tokio::test]
async fn a_client_that_stops_reading_its_responses_is_dropped() {
    let app = spawn_or_skip!(Backend::Sqlite, short_timeouts);
    let mut conn = connect(&app).await;
    // 400 pipelined requests for the 64 KB contract: about 26 MB of responses, far more than the
    // socket buffers hold, so the server's writes stall while the client reads nothing.
    let request = b"GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(400);
    conn.write_all(&request).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, conn.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server closed the connection");
    let responses = received
        .windows(b"HTTP/1.1 200 OK".len())
        .filter(|w| *w == b"HTTP/1.1 200 OK")
        .count();
    assert!(
        responses < 400,
        "the server should drop the connection before sending every response; it sent {responses}"
    );

    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_over_the_cap_wait_in_the_backlog_until_one_closes() {
    let app = spawn_or_skip!(Backend::Sqlite, |s: &mut Settings| {
        s.server.max_connections = 3;
        s.server.header_read_timeout_secs = 60;
    });
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(connect(&app).await);
    }
    // Accepted or not, a connection can always be opened: the kernel queues it.
    let mut waiting = connect(&app).await;
    waiting
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();

    let mut first_byte = [0u8; 1];
    let early =
        tokio::time::timeout(Duration::from_millis(500), waiting.peek(&mut first_byte)).await;
    assert!(
        early.is_err(),
        "a fourth connection is not served while three are open"
    );

    drop(idle.pop());
    let resp = read_response(&mut waiting).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["status"], "ok");
}

#[tokio::test]
async fn the_connection_cap_is_reported_as_configured_when_it_fits_the_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path().join("todo.db").display().to_string());
    settings.server.max_connections = 7;

    let app = Application::build(&settings).await.unwrap();

    assert_eq!(app.connection_limits().max_connections, 7);
    assert_eq!(app.connection_limits().max_header_bytes, 16 * 1024);
}

#[tokio::test]
async fn shutdown_closes_idle_and_half_sent_connections_at_once_and_finishes_in_flight_requests() {
    // Arrange: a 10 s grace period, and four clients: one that sent nothing, one idle after a
    // request, one half-way through a request head, one half-way through a request body.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path().join("todo.db").display().to_string());
    settings.server.shutdown_timeout_secs = 10;
    settings.server.header_read_timeout_secs = 60;
    settings.server.body_read_timeout_secs = 60;
    settings.server.keep_alive_timeout_secs = 60;
    let app = Application::build(&settings).await.unwrap();
    let address = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = TestApp::attach(format!("http://{address}"), Backend::Sqlite);

    let mut silent = TcpStream::connect(address).await.unwrap();
    let mut kept_alive = TcpStream::connect(address).await.unwrap();
    kept_alive
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut kept_alive).await.status, 200);
    let mut half_head = TcpStream::connect(address).await.unwrap();
    half_head
        .write_all(b"GET /health HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let request = post_tasks(&client, "alice", br#"{"title": "in flight"}"#);
    let (first_part, rest) = request.split_at(request.len() - 5);
    let mut in_flight = TcpStream::connect(address).await.unwrap();
    in_flight.write_all(first_part).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act
    let started = Instant::now();
    stop.send(()).unwrap();

    // Assert: the clients without a request in flight are let go at once...
    assert_closed(&mut silent).await;
    assert_closed(&mut kept_alive).await;
    assert_closed(&mut half_head).await;
    // ...and the request in flight still finishes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    in_flight.write_all(rest).await.unwrap();
    let resp = read_response(&mut in_flight).await;
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["title"], "in flight");
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "shutdown took {took:?}, not bounded by the 10 s grace period"
    );
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_a_431_in_the_error_shape() {
    let app = spawn_or_skip!(Backend::Sqlite, |s: &mut Settings| {
        s.server.max_header_bytes = 4096
    });

    // Just under the limit: served.
    let mut conn = connect(&app).await;
    let fits = format!(
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(3500)
    );
    conn.write_all(fits.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut conn).await.status, 200);

    // Over it, on a fresh connection and on the one already used.
    let huge = format!(
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(300 * 1024)
    );
    let mut fresh = connect(&app).await;
    for stream in [&mut fresh, &mut conn] {
        // The server may refuse before the whole head is sent.
        let _ = stream.write_all(huge.as_bytes()).await;
        let resp = read_response(stream).await;
        assert_protocol_error(&resp, 431, "more than 4096 bytes");
        assert_closed(stream).await;
    }

    // Small, but too many header fields.
    let mut many = String::from("GET /health HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-{i}: a\r\n"));
    }
    many.push_str("\r\n");
    let mut conn = connect(&app).await;
    conn.write_all(many.as_bytes()).await.unwrap();
    let resp = read_response(&mut conn).await;
    assert_protocol_error(&resp, 431, "more than 100 header fields");
}

#[tokio::test]
async fn malformed_request_lines_and_content_lengths_are_a_400_in_the_error_shape() {
    let app = spawn_or_skip!(Backend::Sqlite);
    let token = app.token("alice");
    let cases = [
        (
            "a Content-Length that is not a number",
            format!(
                "POST /api/alice/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{{}}"
            ),
        ),
        (
            "two different Content-Lengths",
            format!(
                "POST /api/alice/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"
            ),
        ),
        (
            "a negative Content-Length",
            "POST /api/alice/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n"
                .into(),
        ),
        ("a request line that is not HTTP", "GARBAGE\r\n\r\n".into()),
        (
            "a request line with a bad method",
            "G(T /health HTTP/1.1\r\nHost: localhost\r\n\r\n".into(),
        ),
        (
            "an unknown HTTP version",
            "GET /health HTTP/9.9\r\nHost: localhost\r\n\r\n".into(),
        ),
        (
            "a header line without a colon",
            "GET /health HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n".into(),
        ),
    ];

    for (case, raw) in cases {
        let mut conn = connect(&app).await;
        conn.write_all(raw.as_bytes()).await.unwrap();
        let resp = read_response(&mut conn).await;
        assert_eq!(resp.status, 400, "{case}");
        assert_protocol_error(&resp, 400, "malformed request");
        assert_closed(&mut conn).await;
    }
    assert_no_tasks(&app, "alice").await;
}

#[apply(every_backend)]
#[tokio::test]
async fn bodies_that_are_not_valid_json_text_are_a_400_and_store_nothing(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let deeply_nested = format!(
        "{{\"title\": \"deep\", \"description\": {}{}}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let cases: [(&str, Vec<u8>); 5] = [
        (
            "invalid UTF-8 in a string",
            b"{\"title\": \"caf\xe9\"}".to_vec(),
        ),
        (
            "invalid UTF-8 outside strings",
            b"{\"title\xff\": 1}".to_vec(),
        ),
        (
            "a lone surrogate escape",
            br#"{"title": "\ud800"}"#.to_vec(),
        ),
        (
            "a lone trailing surrogate escape",
            br#"{"title": "x\udc00y"}"#.to_vec(),
        ),
        ("deeply nested arrays", deeply_nested.into_bytes()),
    ];

    for (case, body) in cases {
        let resp = app
            .client
            .post(app.url("/api/alice/tasks"))
            .bearer_auth(app.token("alice"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert!(status.is_client_error(), "{case}: {status}");
        let (_, body) = assert_error(resp, status, "BAD_REQUEST").await;
        assert!(
            body["detail"].as_str().unwrap().contains("malformed JSON"),
            "{case}: {body}"
        );
    }
    assert_no_tasks(&app, "alice").await;
}
