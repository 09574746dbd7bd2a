//! The contract is a tested artifact: the committed `openapi/` files are exactly what the code
//! generates, and the server serves the same document.

use serde_json::Value;

use crate::support::{Backend, TestApp};

const REGENERATE: &str = "regenerate with: cargo run -- openapi > openapi/openapi.json && cargo run -- openapi --yaml > openapi/openapi.yaml \
     (or UPDATE_OPENAPI=1 cargo test --test api openapi)";

fn check(file: &str, generated: String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join(file);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{generated}\n")).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; {REGENERATE}", path.display()));
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/{file} differs from the contract the code generates; {REGENERATE}"
    );
}

#[test]
fn the_committed_json_document_matches_the_code() {
    check("openapi.json", todo_api::api::document().spec());
}

#[test]
fn the_committed_yaml_document_matches_the_code() {
    check("openapi.yaml", todo_api::api::document().spec_yaml());
}

#[tokio::test]
async fn the_server_serves_the_committed_document() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();

    let served: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let generated: Value = serde_json::from_str(&todo_api::api::document().spec()).unwrap();
    assert!(
        served == generated,
        "/openapi.json differs from the generated document"
    );
}

#[test]
fn the_document_declares_the_contract_clients_are_generated_from() {
    let doc: Value = serde_json::from_str(&todo_api::api::document().spec()).unwrap();

    let mut operation_ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    operation_ids.sort_unstable();
    assert_eq!(
        operation_ids,
        [
            "createTask",
            "deleteCompletedTasks",
            "deleteTask",
            "getTask",
            "health",
            "listChanges",
            "listTags",
            "listTasks",
            "ready",
            "replaceTask",
            "toggleTaskComplete",
            "updateTask"
        ]
    );
    for name in [
        "Task",
        "TaskCreate",
        "TaskReplace",
        "TaskUpdate",
        "TaskList",
        "TagList",
        "Error",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name}"
        );
    }
    assert_eq!(
        doc["components"]["schemas"]["Task"]["properties"]["id"]["format"],
        "int64"
    );
    assert_eq!(
        doc["components"]["schemas"]["Task"]["properties"]["description"]["nullable"],
        true
    );
    let scheme = doc["components"]["securitySchemes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    // Every task operation documents the error shape for each failure a client can get.
    let get = &doc["paths"]["/api/{user_id}/tasks/{task_id}"]["get"];
    for status in ["401", "403", "404", "422", "500", "503"] {
        let schema = &get["responses"][status]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(schema, "#/components/schemas/Error", "getTask {status}");
    }
    // The list's parameters, with the types generated clients need, and the paging fields.
    let list = &doc["paths"]["/api/{user_id}/tasks"]["get"];
    let params: Vec<(&str, &Value)> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), &p["schema"]))
        .collect();
    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "user_id",
            "complete",
            "priority",
            "tag",
            "due_before",
            "due_after",
            "overdue",
            "tz",
            "q",
            "sort",
            "limit",
            "cursor",
            "If-None-Match"
        ]
    );
    let schema = |name: &str| params.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(schema("complete")["type"], "boolean");
    assert_eq!(schema("priority")["type"], "array");
    assert_eq!(schema("limit")["minimum"].as_f64(), Some(1.0));
    assert_eq!(schema("limit")["maximum"].as_f64(), Some(500.0));
    assert_eq!(schema("limit")["default"], 100);
    assert_eq!(schema("q")["maxLength"], 100);
    assert_eq!(schema("sort")["$ref"], "#/components/schemas/TaskSort");
    let headers = list["responses"]["200"]["headers"].as_object().unwrap();
    assert!(headers.keys().any(|h| h.eq_ignore_ascii_case("link")));
    let page = &doc["components"]["schemas"]["TaskList"];
    assert_eq!(
        page["required"],
        serde_json::json!(["tasks", "count", "total", "next_cursor", "sync_cursor"])
    );
    assert_eq!(page["properties"]["next_cursor"]["nullable"], true);
}

#[test]
fn the_document_declares_versions_conditional_writes_idempotency_and_the_change_feed() {
    let doc: Value = serde_json::from_str(&todo_api::api::document().spec()).unwrap();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let param_names = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} in {}",
                    p["name"].as_str().unwrap(),
                    p["in"].as_str().unwrap()
                )
            })
            .collect()
    };
    let error_schema = |op: &Value, status: &str| {
        op["responses"][status]["content"]["application/json"]["schema"]["$ref"].clone()
    };
    let task = "/api/{user_id}/tasks/{task_id}";
    let toggle = "/api/{user_id}/tasks/{task_id}/complete";
    let tasks = "/api/{user_id}/tasks";

    // Reads: If-None-Match, a 304, and the ETag and cache headers on the 200.
    for (path, method) in [(task, "get"), (tasks, "get")] {
        let read = op(path, method);
        assert!(
            param_names(&read).contains(&"If-None-Match in header".to_owned()),
            "{method} {path}"
        );
        assert!(read["responses"]["304"].is_object(), "{method} {path}");
        let headers = read["responses"]["200"]["headers"].as_object().unwrap();
        for header in ["ETag", "Cache-Control", "Vary"] {
            assert!(
                headers.contains_key(header),
                "{method} {path} 200 lacks {header}"
            );
        }
    }
    // Writes: If-Match (not on create), Idempotency-Key, the replay header, and 409/412/422
    // with the error schema.
    for (path, method, conditional) in [
        (tasks, "post", false),
        (task, "put", true),
        (task, "patch", true),
        (toggle, "patch", true),
        (task, "delete", true),
        (tasks, "delete", false),
    ] {
        let write = op(path, method);
        let names = param_names(&write);
        assert!(
            names.contains(&"Idempotency-Key in header".to_owned()),
            "{method} {path}"
        );
        assert_eq!(
            names.contains(&"If-Match in header".to_owned()),
            conditional,
            "{method} {path}"
        );
        for status in ["409", "412", "422"] {
            assert_eq!(
                error_schema(&write, status),
                "#/components/schemas/Error",
                "{method} {path} {status}"
            );
        }
        let ok = write["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(status, _)| status.starts_with('2'))
            .unwrap()
            .1;
        assert!(
            ok["headers"]["Idempotency-Replayed"].is_object(),
            "{method} {path}"
        );
    }
    let conflict = op(tasks, "post")["responses"]["409"]["headers"].clone();
    assert!(
        conflict
            .as_object()
            .unwrap()
            .keys()
            .any(|h| h.eq_ignore_ascii_case("retry-after")),
        "{conflict}"
    );
    // The 412 body carries the current task.
    assert_eq!(
        doc["components"]["schemas"]["Error"]["properties"]["task"]["allOf"][0]["$ref"],
        "#/components/schemas/Task"
    );
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    for code in [
        "PRECONDITION_FAILED",
        "IDEMPOTENCY_KEY_REUSED",
        "IDEMPOTENCY_IN_PROGRESS",
        "CURSOR_EXPIRED",
    ] {
        assert!(codes.contains(&Value::from(code)), "{code}");
    }
    // Every task has its version.
    let task_schema = &doc["components"]["schemas"]["Task"];
    assert_eq!(task_schema["properties"]["version"]["type"], "integer");
    assert_eq!(task_schema["properties"]["version"]["readOnly"], true);
    // The feed: its parameters, a 410, and its page.
    let feed = op("/api/{user_id}/changes", "get");
    assert_eq!(feed["operationId"], "listChanges");
    assert_eq!(
        param_names(&feed),
        ["user_id in path", "since in query", "limit in query"]
    );
    assert_eq!(error_schema(&feed, "410"), "#/components/schemas/Error");
    assert_eq!(
        doc["components"]["schemas"]["ChangeList"]["required"],
        serde_json::json!(["changes", "next_cursor", "has_more"])
    );
    let change = &doc["components"]["schemas"]["Change"];
    assert_eq!(
        change["required"],
        serde_json::json!(["resource", "id", "deleted"])
    );
    assert_eq!(
        change["properties"]["task"]["allOf"][0]["$ref"],
        "#/components/schemas/Task"
    );
}

#[test]
fn no_optional_parameter_carries_an_example_that_swagger_ui_would_send() {
    // Swagger UI's "Try it out" fills every parameter from its example (or its schema's), so a
    // first try with only the required fields would send a sample cursor or filters. Examples
    // belong in the description; a default is allowed only when the description states it (the
    // server applies it anyway, so sending it changes nothing).
    let doc: Value = serde_json::from_str(&todo_api::api::document().spec()).unwrap();
    let mut optional = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(params) = op["parameters"].as_array() else {
                continue;
            };
            for param in params.iter().filter(|p| p["required"] != true) {
                optional += 1;
                let name = format!("{method} {path} {}", param["name"]);
                let schema = &param["schema"];
                for (what, value) in [
                    ("example", &param["example"]),
                    ("examples", &param["examples"]),
                    ("content", &param["content"]),
                    ("schema example", &schema["example"]),
                    ("schema examples", &schema["examples"]),
                    ("items example", &schema["items"]["example"]),
                ] {
                    assert!(value.is_null(), "{name} has a pre-filled {what}: {value}");
                }
                if let Some(default) = schema.get("default") {
                    let description = param["description"].as_str().unwrap_or("");
                    assert!(
                        description.contains(&format!("(default {default})")),
                        "{name} has a default ({default}) its description does not state"
                    );
                }
            }
        }
    }
    assert!(optional >= 11, "only {optional} optional parameters found");
}

#[test]
fn the_list_parameters_show_their_examples_in_their_descriptions() {
    let doc: Value = serde_json::from_str(&todo_api::api::document().spec()).unwrap();
    let params = doc["paths"]["/api/{user_id}/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let description = |name: &str| {
        params.iter().find(|p| p["name"] == name).unwrap()["description"]
            .as_str()
            .unwrap()
            .replace('\n', " ")
    };
    for (name, example) in [
        ("complete", "false"),
        ("priority", "high,medium"),
        ("tag", "work"),
        ("due_before", "2026-12-01"),
        ("due_after", "2026-11-01T09:00:00Z"),
        ("overdue", "true"),
        ("tz", "Europe/Berlin"),
        ("q", "milk"),
        ("sort", "-due"),
    ] {
        assert!(
            description(name).contains(&format!("Example: `{example}`.")),
            "{name}: {}",
            description(name)
        );
    }
    assert!(description("cursor").contains("Example: `eyJ"));
}
