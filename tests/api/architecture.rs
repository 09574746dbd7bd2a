//! The architecture invariants of `specs/architecture.md`, checked on the source: who may name
//! whom, and no import circle between files. It reads `src/` as text (comments and `#[cfg(test)]`
//! modules left out), the same way the greps in the document do.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// A module path, `["api", "tasks"]` for `src/api/tasks.rs`, `[]` for `src/lib.rs`.
type Module = Vec<String>;

struct SourceFile {
    path: String,
    module: Module,
    /// The code without comments and without the test module at its end.
    code: String,
}

fn source_files() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(read(&root, path));
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn read(root: &Path, path: PathBuf) -> SourceFile {
    let text = std::fs::read_to_string(&path).unwrap();
    let relative = path.strip_prefix(root).unwrap().with_extension("");
    let mut module: Module = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if matches!(
        module.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        module.pop();
    }
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text,
    };
    let code: String = code
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    SourceFile {
        path: format!("src/{}", path.strip_prefix(root).unwrap().display()),
        module,
        code,
    }
}

/// Whether `code` names `name::` as a path of its own (not `poem_openapi::` for `api::`).
fn names(code: &str, name: &str) -> bool {
    let needle = format!("{name}::");
    code.match_indices(&needle).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn in_folder(file: &SourceFile, folder: &str) -> bool {
    file.module.first().is_some_and(|m| m == folder)
}

#[test]
fn the_rest_and_mcp_doors_never_import_each_other() {
    for file in source_files() {
        if in_folder(&file, "mcp") {
            assert!(!names(&file.code, "api"), "{} names api::", file.path);
        }
        if in_folder(&file, "api") {
            assert!(!names(&file.code, "mcp"), "{} names mcp::", file.path);
        }
    }
}

#[test]
fn nothing_below_the_doors_names_a_door() {
    let below = [
        "server",
        "rate_limit",
        "metrics",
        "tasks",
        "store",
        "auth",
        "domain",
        "wire",
        "request_log",
        "jwa",
        "config",
        "telemetry",
    ];
    let mut checked = 0;
    for file in source_files() {
        if !below.iter().any(|folder| in_folder(&file, folder)) {
            continue;
        }
        checked += 1;
        for door in ["api", "mcp", "startup", "cli"] {
            assert!(
                !names(&file.code, door),
                "{} names {door}:: but sits below the doors",
                file.path
            );
        }
    }
    assert!(checked > 40, "only {checked} files were checked");
}

#[test]
fn the_domain_jwa_and_the_metrics_registry_import_nothing_from_the_crate() {
    let mut checked = 0;
    for file in source_files() {
        let leaf = in_folder(&file, "domain")
            || file.path == "src/jwa.rs"
            || file.path == "src/metrics/mod.rs";
        if !leaf {
            continue;
        }
        checked += 1;
        assert!(
            !names(&file.code, "crate"),
            "{} imports from the crate",
            file.path
        );
    }
    assert!(checked >= 10, "only {checked} files were checked");
}

/// Every path a file names that starts at `crate::`, `super::` or `self::`, or at a module it
/// declares, as an absolute module path with the item names still on it.
fn paths_named(file: &SourceFile) -> Vec<Module> {
    let code = &file.code;
    let mut starts: Vec<String> = vec!["crate".into(), "super".into(), "self".into()];
    for declared in code.split("mod ").skip(1) {
        let name: String = declared
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if declared[name.len()..].trim_start().starts_with(';') && !name.is_empty() {
            starts.push(name);
        }
    }
    let mut paths = Vec::new();
    for statement in code.split(';') {
        if let Some(at) = statement.find("use ") {
            let before = statement[..at].chars().next_back();
            if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
                let tree: String = statement[at + 4..]
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                expand(&[], &tree, &mut paths);
            }
        }
    }
    for start in &starts {
        let needle = format!("{start}::");
        for (at, _) in code.match_indices(&needle) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(path.split("::").map(str::to_owned).collect());
        }
    }
    paths
        .into_iter()
        .filter_map(|path| absolute(&file.module, &starts, path))
        .collect()
}

/// Expand a `use` tree (`a::{b::{c, d}, e}`) into its paths.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Module>) {
    let mut depth = 0;
    let mut items = Vec::new();
    let mut current = String::new();
    for c in tree.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            items.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    items.push(current);
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        match item.find('{') {
            Some(open) if item.ends_with('}') => {
                let mut head = prefix.to_vec();
                head.extend(
                    item[..open]
                        .split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
                expand(&head, &item[open + 1..item.len() - 1], out);
            }
            _ => {
                let item = item.split(" as ").next().unwrap_or(&item);
                let mut path = prefix.to_vec();
                path.extend(item.split("::").map(str::to_owned));
                out.push(path);
            }
        }
    }
}

fn absolute(module: &Module, declared: &[String], path: Module) -> Option<Module> {
    let first = path.first()?.as_str();
    match first {
        "crate" => Some(path[1..].to_vec()),
        "super" | "self" => {
            let mut base = module.clone();
            let mut rest = &path[..];
            if first == "self" {
                rest = &rest[1..];
            }
            while rest.first().is_some_and(|p| p == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        name if declared.iter().any(|d| d == name) => {
            let mut base = module.clone();
            base.extend(path);
            Some(base)
        }
        _ => None,
    }
}

/// The file-level import graph: an edge from a file to each other file whose items it names. A
/// module naming its own submodules is not an import (it owns them).
fn import_graph(files: &[SourceFile]) -> BTreeMap<Module, BTreeSet<Module>> {
    let known: BTreeSet<&Module> = files.iter().map(|f| &f.module).collect();
    let mut graph = BTreeMap::new();
    for file in files {
        let mut edges = BTreeSet::new();
        for path in paths_named(file) {
            let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|m| known.contains(m))
            else {
                continue;
            };
            let is_self = target == file.module;
            let is_own_child = target.starts_with(&file.module) && target.len() > file.module.len();
            let is_bare_ancestor = file.module.starts_with(&target) && path.len() == target.len();
            if !is_self && !is_own_child && !is_bare_ancestor {
                edges.insert(target);
            }
        }
        graph.insert(file.module.clone(), edges);
    }
    graph
}

/// A circle of imports, if the graph has one.
fn find_circle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == node) {
            return Some(stack[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, done, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, graph, &mut done, &mut Vec::new()) {
            return Some(circle);
        }
    }
    None
}

#[test]
fn no_file_imports_another_that_imports_it_back_however_far_round() {
    let files = source_files();
    let graph = import_graph(&files);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        edges > 150,
        "only {edges} imports were found: the reader is broken"
    );
    let wire_error = graph
        .get(&vec!["wire".to_owned(), "error".to_owned()])
        .expect("wire/error.rs is read");
    assert!(
        wire_error.contains(&vec!["wire".to_owned(), "schemas".to_owned()]),
        "wire::error's imports are seen: {wire_error:?}"
    );
    if let Some(circle) = find_circle(&graph) {
        let names: Vec<String> = circle.iter().map(|m| m.join("::")).collect();
        panic!("import circle: {}", names.join(" -> "));
    }
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let m = |s: &str| vec![s.to_owned()];
    let graph = BTreeMap::from([
        (m("a"), BTreeSet::from([m("b")])),
        (m("b"), BTreeSet::from([m("c")])),
        (m("c"), BTreeSet::from([m("a")])),
        (m("d"), BTreeSet::from([m("a")])),
    ]);
    assert_eq!(find_circle(&graph), Some(vec![m("a"), m("b"), m("c")]));
    let graph = BTreeMap::from([
        (m("a"), BTreeSet::from([m("b")])),
        (m("b"), BTreeSet::new()),
    ]);
    assert_eq!(find_circle(&graph), None);
}
