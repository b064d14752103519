//! The framework's own rejections come out as the contract's problem documents too.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, assert_problem};

async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client.post(app.url(path)).header("content-type", content_type).body(body).send().await.expect("sent")
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400_malformed_request() {
    let app = TestApp::spawn().await;

    let res = post_raw(&app, "/v1/auth/login", "application/json", "{\"username\": ").await;

    assert_problem(res, StatusCode::BAD_REQUEST, "malformed_request").await;
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400_malformed_request() {
    let app = TestApp::spawn().await;

    for body in ["[1, 2]", "\"alice\"", "null", "42"] {
        let res = post_raw(&app, "/v1/auth/register", "application/json", body).await;

        assert_problem(res, StatusCode::BAD_REQUEST, "malformed_request").await;
    }
}

#[tokio::test]
async fn a_body_over_256_kib_is_413_payload_too_large() {
    let app = TestApp::spawn().await;
    let big = json!({ "username": "alice", "password": "x".repeat(300 * 1024) }).to_string();

    let res = post_raw(&app, "/v1/auth/register", "application/json", big).await;

    assert_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn a_body_just_under_256_kib_is_read() {
    let app = TestApp::spawn().await;
    let body = json!({ "username": "alice", "password": PASSWORD, "padding": "x".repeat(250 * 1024) }).to_string();

    let res = post_raw(&app, "/v1/auth/register", "application/json", body).await;

    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_422_naming_the_field() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/register", &json!({ "username": 42, "password": PASSWORD }), None).await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "username");
}

#[tokio::test]
async fn a_missing_field_is_422_naming_the_field() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/register", &json!({ "username": "alice" }), None).await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "password");
}

#[tokio::test]
async fn a_body_that_is_not_application_json_is_415() {
    let app = TestApp::spawn().await;
    let body = json!({ "username": "alice", "password": PASSWORD }).to_string();

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let res = post_raw(&app, "/v1/auth/login", content_type, body.clone()).await;

        assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    }
    let none = app.client.post(app.url("/v1/auth/login")).body(body).send().await.expect("sent");
    assert_problem(none, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
}

#[tokio::test]
async fn json_with_a_charset_parameter_is_accepted() {
    let app = TestApp::spawn().await;
    let body = json!({ "username": "alice", "password": PASSWORD }).to_string();

    let res = post_raw(&app, "/v1/auth/register", "application/json; charset=utf-8", body).await;

    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = TestApp::spawn().await;

    let get = app.get("/v1/nothing/here", None).await;
    let post = app.post("/nope", &json!({}), None).await;

    assert!(get.headers().contains_key("x-request-id"));
    assert_problem(get, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(post, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let app = TestApp::spawn().await;

    let res = app.get("/v1/auth/login", None).await;

    let allow = res.headers().get("allow").and_then(|v| v.to_str().ok()).expect("Allow").to_string();
    assert!(allow.contains("POST"), "{allow}");
    assert_problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let delete = app.delete("/v1/auth/me", None).await;
    let allow = delete.headers().get("allow").and_then(|v| v.to_str().ok()).expect("Allow").to_string();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    assert_problem(delete, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn problems_carry_a_type_title_and_no_secrets() {
    let app = TestApp::spawn().await;
    app.user("alice").await;

    let res = app.post_login("alice", "wrong password, sent in the clear").await;

    let text = res.text().await.expect("body");
    let problem: Value = serde_json::from_str(&text).expect("json");
    assert!(problem["type"].is_string());
    assert!(problem["title"].is_string());
    assert!(problem.get("errors").is_none(), "errors appear on 422 only");
    assert!(!text.contains("wrong password, sent"));
    assert!(!text.contains("argon2"));
}
