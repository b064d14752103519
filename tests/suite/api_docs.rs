//! docs/api.md, the project's own API reference, against the document the server serves:
//! every operation of /openapi.json is in its tables, and it lists nothing the server lacks.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::TestApp;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn read(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `METHOD /path` of every table row whose first cell starts with a method, query and body
/// left out: `| GET /v1/users?page&per_page | ...` gives `GET /v1/users`.
fn documented_operations(markdown: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in markdown.lines() {
        let Some(cell) = line.strip_prefix('|').and_then(|rest| rest.split('|').next()) else { continue };
        let mut words = cell.split_whitespace();
        let (Some(method), Some(path)) = (words.next(), words.next()) else { continue };
        if METHODS.contains(&method) && path.starts_with('/') {
            let path = path.split('?').next().unwrap_or(path).trim_matches('`');
            found.insert(format!("{method} {path}"));
        }
    }
    found
}

fn served_operations(doc: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item[method.to_lowercase()].is_object() {
                found.insert(format!("{method} {path}"));
            }
        }
    }
    found
}

#[tokio::test]
async fn docs_api_md_lists_exactly_the_operations_of_the_served_openapi_document() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.expect("OpenAPI JSON");

    let served = served_operations(&doc);
    let documented = documented_operations(&read("docs/api.md"));

    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but missing from docs/api.md: {undocumented:?}");
    assert!(not_served.is_empty(), "in docs/api.md but not served: {not_served:?}");
}

#[test]
fn the_readme_and_the_docs_never_point_outside_the_repository() {
    let mut files = vec!["README.md".to_string()];
    for entry in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")).expect("docs/") {
        let name = entry.expect("entry").file_name().to_string_lossy().to_string();
        // The documents; docs/screenshots/ holds pictures.
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }

    for file in &files {
        assert!(!read(file).contains("../shared"), "{file} points to ../shared");
    }
    assert!(files.iter().any(|f| f == "docs/api.md"));
    assert!(read("README.md").contains("docs/api.md"), "the README points to the API reference");
}
