//! `/mcp`: the MCP Streamable HTTP endpoint, spoken as plain JSON-RPC over HTTP. The handshake,
//! the tool list and schemas, every tool's success and error paths, isolation between users, the
//! 401 challenge and its metadata document, and the Origin/Host checks, on both backends.

use reqwest::{Method, StatusCode, header};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, assert_error, every_backend, list_content, spawn_or_skip};

const PROTOCOL: &str = "2025-06-18";

const TOOLS: [&str; 9] = [
    "add_task",
    "clear_completed_tasks",
    "complete_task",
    "delete_task",
    "get_task",
    "list_tags",
    "list_tasks",
    "uncomplete_task",
    "update_task",
];

/// A client speaking MCP for one user.
struct Mcp<'a> {
    app: &'a TestApp,
    token: Option<String>,
}

impl<'a> Mcp<'a> {
    fn new(app: &'a TestApp, user: &str) -> Self {
        Self {
            app,
            token: Some(app.token(user)),
        }
    }

    fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut req = self
            .app
            .client
            .post(self.app.url("/mcp"))
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL)
            .json(body);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// Send one JSON-RPC message; the JSON-RPC answer (from a JSON or an SSE-framed body).
    async fn send(&self, body: Value) -> Value {
        let resp = self.request(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "status for {body}");
        read_message(resp).await
    }

    async fn rpc(&self, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .await
    }

    /// `tools/call`: the tool's result (successful or `isError`).
    async fn call(&self, tool: &str, arguments: Value) -> Value {
        let answer = self
            .rpc("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        assert!(answer.get("error").is_none(), "protocol error: {answer}");
        let result = answer["result"].clone();
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        assert!(!text.is_empty(), "a text rendering in {result}");
        result
    }

    /// A successful call's `structuredContent`.
    async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result["isError"], false,
            "{tool}({arguments}) failed: {result}"
        );
        result["structuredContent"].clone()
    }

    /// A failed call's error body (the JSON text of its content), after checking it is the REST
    /// error shape with `code`.
    async fn err(&self, tool: &str, arguments: Value, code: &str) -> Value {
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result["isError"], true,
            "{tool}({arguments}) should fail: {result}"
        );
        assert!(result.get("structuredContent").is_none(), "{result}");
        let text = result["content"][0]["text"].as_str().unwrap();
        let body: Value = serde_json::from_str(text).expect("the error body as JSON text");
        assert_eq!(body["error_code"], code, "{tool}({arguments}): {body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(body["timestamp"].is_string());
        assert_eq!(
            body.get("errors").is_some(),
            code == "VALIDATION_ERROR",
            "{body}"
        );
        body
    }
}

async fn read_message(resp: reqwest::Response) -> Value {
    let sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    if !sse {
        return serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC answer in {text}"))
}

fn locs(body: &Value) -> Vec<String> {
    crate::support::error_locs(body)
}

#[apply(every_backend)]
#[tokio::test]
async fn initialize_handshake_and_tools_list(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let mcp = Mcp::new(&app, "alice");
    let init = mcp
        .rpc(
            "initialize",
            json!({
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"}
            }),
        )
        .await;
    let result = &init["result"];
    assert_eq!(result["protocolVersion"], PROTOCOL, "{init}");
    assert_eq!(result["serverInfo"]["name"], "todo-api", "{init}");
    assert!(result["capabilities"]["tools"].is_object(), "{init}");
    assert!(
        result["instructions"]
            .as_str()
            .is_some_and(|i| !i.is_empty())
    );

    let resp = mcp
        .request(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    let list = mcp.rpc("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().expect("tools");
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, TOOLS);
    for tool in tools {
        let name = &tool["name"];
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 80),
            "{name}"
        );
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert_eq!(tool["inputSchema"]["additionalProperties"], false, "{name}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{name}");
        assert!(tool["outputSchema"]["required"].is_array(), "{name}");
    }
    let add = tools.iter().find(|t| t["name"] == "add_task").unwrap();
    assert_eq!(add["inputSchema"]["required"], json!(["title"]));
    assert_eq!(add["inputSchema"]["properties"]["title"]["maxLength"], 200);
    assert_eq!(add["inputSchema"]["properties"]["tags"]["maxItems"], 20);
    let list = tools.iter().find(|t| t["name"] == "list_tasks").unwrap();
    assert_eq!(
        list["inputSchema"]["properties"]["status"]["enum"],
        json!(["all", "pending", "completed"])
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn every_tool_succeeds(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let mcp = Mcp::new(&app, "alice");

    let created = mcp
        .ok(
            "add_task",
            json!({
                "title": "Call mum",
                "priority": "high",
                "tags": ["family", "Phone"],
                "due_at": "2026-03-29T18:00:00+02:00",
                "time_zone": "Europe/Berlin",
                "recurrence": "FREQ=WEEKLY;BYDAY=SU"
            }),
        )
        .await;
    let task = &created["task"];
    let id = task["id"].as_i64().expect("an id");
    assert_eq!(task["user_id"], "alice");
    assert_eq!(task["title"], "Call mum");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["complete"], false);
    assert_eq!(task["time_zone"], "Europe/Berlin");
    // The same task, in the same shape, as REST shows it.
    let rest: Value = app.get_task("alice", id).await.json().await.unwrap();
    assert_eq!(*task, rest);

    let plain = mcp
        .ok("add_task", json!({"title": "Buy milk", "user_id": "alice"}))
        .await["task"]["id"]
        .as_i64()
        .unwrap();

    let got = mcp.ok("get_task", json!({"task_id": id})).await;
    assert_eq!(got["task"], *task);

    let updated = mcp
        .ok(
            "update_task",
            json!({"task_id": plain, "description": "semi-skimmed", "tags": ["errands"]}),
        )
        .await;
    assert_eq!(updated["task"]["description"], "semi-skimmed");
    assert_eq!(updated["task"]["title"], "Buy milk");
    assert_eq!(updated["task"]["tags"], json!(["errands"]));

    let done = mcp.ok("complete_task", json!({"task_id": id})).await;
    assert_eq!(done["task"]["complete"], true);
    let next = done["next_occurrence_id"]
        .as_i64()
        .expect("the next occurrence");
    assert_eq!(done["task"]["next_occurrence_id"], next);
    // Idempotent: completing it again changes nothing and starts no other occurrence.
    let again = mcp.ok("complete_task", json!({"task_id": id})).await;
    assert_eq!(again["task"]["complete"], true);
    assert_eq!(again["next_occurrence_id"], next);
    let plain_done = mcp.ok("complete_task", json!({"task_id": plain})).await;
    assert_eq!(plain_done["next_occurrence_id"], Value::Null);

    let all = mcp.ok("list_tasks", json!({})).await;
    assert_eq!(all["count"], 3, "{all}");
    let ids: Vec<i64> = all["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [id, plain, next]);
    let pending = mcp.ok("list_tasks", json!({"status": "pending"})).await;
    assert_eq!(pending["count"], 1);
    assert_eq!(pending["tasks"][0]["id"], next);
    let completed = mcp.ok("list_tasks", json!({"status": "completed"})).await;
    assert_eq!(completed["count"], 2);

    let reopened = mcp.ok("uncomplete_task", json!({"task_id": plain})).await;
    assert_eq!(reopened["task"]["complete"], false);
    assert_eq!(reopened["task"]["completed_at"], Value::Null);

    let tags = mcp.ok("list_tags", json!({})).await;
    let names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{tags}");
    assert!(
        names.iter().any(|n| n.eq_ignore_ascii_case("family")),
        "{tags}"
    );

    let deleted = mcp.ok("delete_task", json!({"task_id": plain})).await;
    assert_eq!(deleted, json!({"deleted": true, "task_id": plain}));
    assert_eq!(
        app.get_task("alice", plain).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn tool_errors_carry_the_rest_error_body(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let mcp = Mcp::new(&app, "alice");

    // The same arguments as a REST body: the same fields at fault, the same types.
    let bad = json!({"title": " ", "tags": "x", "priority": "urgent", "colour": "red"});
    let body = mcp.err("add_task", bad.clone(), "VALIDATION_ERROR").await;
    let rest = app.create_task("alice", &bad).await;
    let (_, rest) = assert_error(rest, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
    let as_rest: Vec<String> = locs(&body)
        .iter()
        .map(|l| l.replacen("arguments.", "body.", 1))
        .collect();
    assert_eq!(as_rest, locs(&rest));
    let kinds = |b: &Value| -> Vec<Value> {
        b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].clone())
            .collect()
    };
    assert_eq!(kinds(&body), kinds(&rest));
    assert!(locs(&body).contains(&"arguments.colour".to_owned()));

    let body = mcp.err("add_task", json!({}), "VALIDATION_ERROR").await;
    assert_eq!(locs(&body), ["arguments.title"]);

    // The error body quotes the HTTP request's id, as REST error bodies do.
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "get_task", "arguments": {"task_id": 999_999}}});
    let resp = mcp
        .request(&call)
        .header("x-request-id", "mcp-trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "mcp-trace-1");
    let answer = read_message(resp).await;
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    let error: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        (&error["error_code"], &error["request_id"]),
        (&json!("NOT_FOUND"), &json!("mcp-trace-1"))
    );
    let body = mcp
        .err(
            "add_task",
            json!({"title": "x", "recurrence": "FREQ=DAILY"}),
            "VALIDATION_ERROR",
        )
        .await;
    assert_eq!(locs(&body), ["arguments.recurrence"], "{body}");

    let body = mcp
        .err("get_task", json!({"task_id": "seven"}), "VALIDATION_ERROR")
        .await;
    assert_eq!(locs(&body), ["arguments.task_id"]);
    assert_eq!(body["errors"][0]["type"], "int_parsing");
    let body = mcp.err("get_task", json!({}), "VALIDATION_ERROR").await;
    assert_eq!(body["errors"][0]["type"], "missing");
    let body = mcp
        .err("list_tasks", json!({"status": "done"}), "VALIDATION_ERROR")
        .await;
    assert_eq!(locs(&body), ["arguments.status"]);
    let body = mcp
        .err("list_tags", json!({"tag": "x"}), "VALIDATION_ERROR")
        .await;
    assert_eq!(locs(&body), ["arguments.tag"]);

    let id = mcp.ok("add_task", json!({"title": "x"})).await["task"]["id"].clone();
    let body = mcp
        .err(
            "update_task",
            json!({"task_id": id, "title": ""}),
            "VALIDATION_ERROR",
        )
        .await;
    assert_eq!(locs(&body), ["arguments.title"]);
    mcp.err("update_task", json!({"task_id": id}), "BAD_REQUEST")
        .await;
    let body = mcp
        .err(
            "update_task",
            json!({"task_id": id, "recurrence": "FREQ=DAILY"}),
            "VALIDATION_ERROR",
        )
        .await;
    assert_eq!(locs(&body), ["arguments.recurrence"], "{body}");

    for tool in [
        "get_task",
        "complete_task",
        "uncomplete_task",
        "delete_task",
    ] {
        mcp.err(tool, json!({"task_id": 999_999}), "NOT_FOUND")
            .await;
    }
    mcp.err(
        "update_task",
        json!({"task_id": 999_999, "title": "y"}),
        "NOT_FOUND",
    )
    .await;
}

#[apply(every_backend)]
#[tokio::test]
async fn expected_version_refuses_a_stale_write_with_the_current_task_as_rest_does(
    backend: Backend,
) {
    // Arrange: the task is at version 2; the agent read version 1.
    let app = spawn_or_skip!(backend);
    let mcp = Mcp::new(&app, "alice");
    let task = mcp.ok("add_task", json!({"title": "a"})).await["task"].clone();
    assert_eq!(task["version"], 1);
    let id = task["id"].as_i64().unwrap();
    let current = mcp
        .ok("update_task", json!({"task_id": id, "title": "theirs"}))
        .await["task"]
        .clone();
    assert_eq!(current["version"], 2);

    for (tool, arguments) in [
        (
            "update_task",
            json!({"task_id": id, "title": "mine", "expected_version": 1}),
        ),
        (
            "complete_task",
            json!({"task_id": id, "expected_version": 1}),
        ),
        (
            "uncomplete_task",
            json!({"task_id": id, "expected_version": 1}),
        ),
        ("delete_task", json!({"task_id": id, "expected_version": 1})),
    ] {
        // Act
        let body = mcp.err(tool, arguments, "PRECONDITION_FAILED").await;

        // Assert: nothing written, and the current task comes back for a merge.
        assert_eq!(body["task"], current, "{tool}");
    }
    let rest: Value = app.get_task("alice", id).await.json().await.unwrap();
    assert_eq!(rest, current);
    // The current version is accepted, and the write moves it on as REST's would.
    let done = mcp
        .ok(
            "complete_task",
            json!({"task_id": id, "expected_version": 2}),
        )
        .await;
    assert_eq!(done["task"]["version"], 3);
    assert_eq!(done["task"]["complete"], true);
    mcp.ok("delete_task", json!({"task_id": id, "expected_version": 3}))
        .await;
    assert_error(
        app.get_task("alice", id).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[apply(every_backend)]
#[tokio::test]
async fn users_cannot_reach_each_others_tasks(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let alice = Mcp::new(&app, "alice");
    let bob = Mcp::new(&app, "bob");
    let task = alice
        .ok("add_task", json!({"title": "Alice's", "tags": ["secret"]}))
        .await["task"]
        .clone();
    let id = task["id"].as_i64().unwrap();

    bob.err("get_task", json!({"task_id": id}), "NOT_FOUND")
        .await;
    bob.err(
        "update_task",
        json!({"task_id": id, "title": "Bob's"}),
        "NOT_FOUND",
    )
    .await;
    bob.err("complete_task", json!({"task_id": id}), "NOT_FOUND")
        .await;
    bob.err("uncomplete_task", json!({"task_id": id}), "NOT_FOUND")
        .await;
    bob.err("delete_task", json!({"task_id": id}), "NOT_FOUND")
        .await;
    assert_eq!(bob.ok("list_tasks", json!({})).await["count"], 0);
    assert_eq!(bob.ok("list_tags", json!({})).await["tags"], json!([]));

    // A user_id argument must be the token's subject.
    for (tool, args) in [
        ("list_tasks", json!({"user_id": "alice"})),
        ("get_task", json!({"user_id": "alice", "task_id": id})),
        ("add_task", json!({"user_id": "alice", "title": "planted"})),
        (
            "update_task",
            json!({"user_id": "alice", "task_id": id, "title": "x"}),
        ),
        ("complete_task", json!({"user_id": "alice", "task_id": id})),
        (
            "uncomplete_task",
            json!({"user_id": "alice", "task_id": id}),
        ),
        ("delete_task", json!({"user_id": "alice", "task_id": id})),
        ("list_tags", json!({"user_id": "alice"})),
    ] {
        bob.err(tool, args, "AUTH_FORBIDDEN").await;
    }
    assert_eq!(
        alice
            .ok("get_task", json!({"task_id": id, "user_id": "alice"}))
            .await["task"],
        task
    );
    assert_eq!(alice.ok("list_tasks", json!({})).await["count"], 1);
}

#[apply(every_backend)]
#[tokio::test]
async fn without_a_valid_token_the_answer_is_401_with_the_metadata_url(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let base = app.address.clone();
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource");
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});

    let anonymous = Mcp {
        app: &app,
        token: None,
    };
    let (headers, _) = assert_error(
        anonymous.request(&call).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "AUTH_MISSING",
    )
    .await;
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        format!(r#"Bearer resource_metadata="{metadata_url}""#)
    );
    let forged = Mcp {
        app: &app,
        token: Some("not.a.jwt".into()),
    };
    let (headers, _) = assert_error(
        forged.request(&call).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "AUTH_INVALID",
    )
    .await;
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        format!(r#"Bearer error="invalid_token", resource_metadata="{metadata_url}""#)
    );

    for url in [metadata_url.clone(), format!("{metadata_url}/mcp")] {
        let resp = app.client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let doc: Value = resp.json().await.unwrap();
        assert_eq!(doc["resource"], format!("{base}/mcp"));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert!(doc.get("authorization_servers").is_none(), "{doc}");
    }
}

#[apply(every_backend)]
#[tokio::test]
async fn metadata_names_the_configured_public_url_and_better_auth(backend: Backend) {
    let app = spawn_or_skip!(backend, |s| {
        s.mcp.public_url = Some("https://todo.example.com/".into());
        s.auth.better_auth_url = Some("https://auth.example.com".into());
    });
    let doc: Value = app
        .client
        .get(app.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc,
        json!({
            "resource": "https://todo.example.com/mcp",
            "authorization_servers": ["https://auth.example.com"],
            "bearer_methods_supported": ["header"],
            "resource_name": "todo-api MCP server"
        })
    );
    let anonymous = Mcp {
        app: &app,
        token: None,
    };
    let resp = anonymous
        .request(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .header(header::HOST, "todo.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer resource_metadata="https://todo.example.com/.well-known/oauth-protected-resource""#
    );
}

#[apply(every_backend)]
#[tokio::test]
async fn foreign_origins_and_hosts_are_refused(backend: Backend) {
    let app = spawn_or_skip!(backend, |s| {
        s.server.cors_origins = vec!["http://localhost:3000".into()];
        s.mcp.allowed_hosts = vec!["todo.internal".into()];
    });
    let mcp = Mcp::new(&app, "alice");
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let send = |name: header::HeaderName, value: &'static str| {
        let req = mcp.request(&list).header(name, value);
        async move { req.send().await.unwrap() }
    };

    let (_, body) = assert_error(
        send(header::ORIGIN, "https://evil.example").await,
        StatusCode::FORBIDDEN,
        "AUTH_FORBIDDEN",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("origin"),
        "{body}"
    );
    assert_eq!(
        send(header::ORIGIN, "http://localhost:3000").await.status(),
        StatusCode::OK
    );

    let (_, body) = assert_error(
        send(header::HOST, "evil.example").await,
        StatusCode::FORBIDDEN,
        "AUTH_FORBIDDEN",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("host"), "{body}");
    assert_eq!(
        send(header::HOST, "todo.internal:8000").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(header::HOST, "localhost").await.status(),
        StatusCode::OK
    );
    // Refused before the token is looked at: a rebinding page learns nothing.
    let anonymous = Mcp {
        app: &app,
        token: None,
    };
    let resp = anonymous
        .request(&list)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[apply(every_backend)]
#[tokio::test]
async fn protocol_errors_are_json_rpc_errors_never_500s(backend: Backend) {
    let app = spawn_or_skip!(backend, |s| s.server.max_body_bytes = 4096);
    let mcp = Mcp::new(&app, "alice");

    let unknown = mcp.rpc("tasks/explode", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let no_tool = mcp
        .send(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "rm_rf"}}),
        )
        .await;
    assert!(
        no_tool["error"]["code"].is_i64() || no_tool["result"]["isError"] == true,
        "{no_tool}"
    );

    let resp = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(app.token("alice"))
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(status.is_client_error(), "{status}");
    let text = resp.text().await.unwrap();
    assert!(text.contains("-32700"), "a parse error: {text}");

    let big = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "add_task", "arguments": {"title": "x".repeat(5000)}}});
    assert_error(
        mcp.request(&big).send().await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;

    let get = app
        .authorized(Method::GET, "/mcp", "alice")
        .header(header::ACCEPT, "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_error(get, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    let delete = app
        .authorized(Method::DELETE, "/mcp", "alice")
        .send()
        .await
        .unwrap();
    assert_error(delete, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;

    // Transport refusals are in the API's error shape too, never plain text.
    let ping = json!({"jsonrpc": "2.0", "id": 4, "method": "ping"});
    let no_accept = app
        .authorized(Method::POST, "/mcp", "alice")
        .header(header::CONTENT_TYPE, "application/json")
        .body(ping.to_string())
        .send()
        .await
        .unwrap();
    assert_error(no_accept, StatusCode::NOT_ACCEPTABLE, "BAD_REQUEST").await;
    let wrong_type = app
        .authorized(Method::POST, "/mcp", "alice")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(ping.to_string())
        .send()
        .await
        .unwrap();
    assert_error(
        wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "BAD_REQUEST",
    )
    .await;
}

/// Why the official TypeScript SDK client cannot run here, if it cannot.
fn typescript_sdk_missing() -> Option<String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        return Some("`node` is not installed".into());
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    if !dir.join("node_modules/@modelcontextprotocol/sdk").is_dir() {
        return Some(
            "interop/node_modules has no @modelcontextprotocol/sdk (run `npm ci --prefix interop`)"
                .into(),
        );
    }
    None
}

/// The official MCP TypeScript SDK (`interop/mcp-client.mjs`, pinned in interop's lock file)
/// connects over Streamable HTTP with a bearer token, lists the tools, adds, lists, completes and
/// deletes a task; it checks every `structuredContent` against the tool's `outputSchema`.
#[apply(every_backend)]
#[tokio::test]
async fn the_official_typescript_sdk_drives_the_tools(backend: Backend) {
    static SKIPPED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if let Some(reason) = typescript_sdk_missing() {
        crate::support::skip::announce_once(
            &SKIPPED,
            &format!("SKIPPED: the MCP TypeScript SDK interop test (tests/api/mcp.rs): {reason}."),
        );
        return;
    }
    let app = spawn_or_skip!(backend);
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg("mcp-client.mjs")
            .arg(&app.address)
            .arg(app.token("alice"))
            .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the client finishes within a minute")
    .expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK client failed: {stderr}");
    let seen: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(seen["server"]["name"], "todo-api");
    assert_eq!(seen["tools"], json!(TOOLS));
    assert_eq!(seen["output_schemas"], true);
    let id = seen["added_id"].as_i64().unwrap();
    assert_eq!(seen["listed_ids"], json!([id]));
    assert_eq!(seen["completed"], true);
    assert!(seen["next_occurrence_id"].is_i64(), "{seen}");
    assert_eq!(seen["deleted"], json!({"deleted": true, "task_id": id}));
    assert_eq!(seen["invalid"]["isError"], true);
    assert_eq!(seen["invalid"]["body"]["error_code"], "VALIDATION_ERROR");
    assert_eq!(
        seen["invalid"]["body"]["errors"][0]["loc"],
        json!(["arguments", "title"])
    );
    // Everything the SDK did went through the same use cases: REST sees the same state.
    let rest: Value = app.list_tasks("alice").await.json().await.unwrap();
    assert_eq!(rest["count"], 1, "only the next occurrence is left: {rest}");
}

#[apply(every_backend)]
#[tokio::test]
async fn list_tasks_pages_filters_and_sorts_as_rest_does(backend: Backend) {
    let app = spawn_or_skip!(backend);
    let mcp = Mcp::new(&app, "alice");
    for n in 0..7 {
        let mut task = json!({
            "title": format!("Äpfel {n}"),
            "priority": (["low", "high"][n % 2]),
            "tags": (if n % 3 == 0 { json!(["Work"]) } else { json!([]) }),
        });
        if n < 4 {
            task["due_date"] = json!(format!("2026-12-0{}", 4 - n));
        }
        mcp.ok("add_task", task).await;
    }
    mcp.ok("add_task", json!({"title": "other"})).await;

    // The same arguments as the REST parameters give the same pages, cursor included.
    let arguments =
        json!({"q": "äPF", "sort": "-priority", "limit": 3, "priority": ["low", "high"]});
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut args = arguments.clone();
        let mut query = "q=%C3%A4PF&sort=-priority&limit=3&priority=low,high".to_owned();
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
            query.push_str(&format!("&cursor={c}"));
        }
        let page = mcp.ok("list_tasks", args).await;
        let rest: Value = app
            .authorized(
                reqwest::Method::GET,
                &format!("/api/alice/tasks?{query}"),
                "alice",
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            list_content(page.clone()),
            list_content(rest),
            "MCP and REST agree on every page"
        );
        assert_eq!(page["total"], 7);
        pages.push(page["count"].as_u64().unwrap());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, [3, 3, 1]);

    let work = mcp
        .ok(
            "list_tasks",
            json!({"tag": "work", "sort": "due", "complete": false}),
        )
        .await;
    let titles: Vec<&str> = work["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Äpfel 3", "Äpfel 0", "Äpfel 6"],
        "due first, no due last"
    );

    // Bad arguments are named under `arguments`, as REST names them under `query`.
    let body = mcp
        .err(
            "list_tasks",
            json!({"limit": 0, "sort": "size", "complete": "yes", "tag": [1]}),
            "VALIDATION_ERROR",
        )
        .await;
    let mut found = locs(&body);
    found.sort();
    assert_eq!(
        found,
        ["arguments.complete", "arguments.tag"],
        "type errors first: {body}"
    );
    let body = mcp
        .err(
            "list_tasks",
            json!({"limit": 0, "sort": "size"}),
            "VALIDATION_ERROR",
        )
        .await;
    let mut found = locs(&body);
    found.sort();
    assert_eq!(found, ["arguments.limit", "arguments.sort"], "{body}");
    mcp.err(
        "list_tasks",
        json!({"status": "pending", "complete": true}),
        "VALIDATION_ERROR",
    )
    .await;
    let first = mcp.ok("list_tasks", json!({"limit": 2})).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let body = mcp
        .err(
            "list_tasks",
            json!({"limit": 2, "sort": "title", "cursor": cursor}),
            "BAD_REQUEST",
        )
        .await;
    assert!(
        body["detail"].as_str().unwrap().contains("(sort)"),
        "{body}"
    );

    // Clearing completed tasks: only alice's complete ones.
    let done = mcp.ok("list_tasks", json!({"limit": 2})).await["tasks"][0]["id"].clone();
    mcp.ok("complete_task", json!({"task_id": done})).await;
    let cleared = mcp.ok("clear_completed_tasks", json!({})).await;
    assert_eq!(cleared, json!({"deleted": 1}));
    assert_eq!(mcp.ok("list_tasks", json!({})).await["total"], 7);
    mcp.err(
        "clear_completed_tasks",
        json!({"complete": true}),
        "VALIDATION_ERROR",
    )
    .await;
}
