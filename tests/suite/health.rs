use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;

#[tokio::test]
async fn health_reports_ok_with_a_reachable_database() {
    let app = TestApp::spawn().await;

    let res = app.get("/health", None).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["timestamp"].is_string());
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_echoed() {
    let app = TestApp::spawn().await;

    let res = app.client.get(app.url("/health")).header("x-request-id", "trace-me-42").send().await.expect("sent");

    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
}
