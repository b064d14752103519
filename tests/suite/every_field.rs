//! A 422 names every invalid field at once, on every JSON route: all the missing ones, all
//! those of a wrong type, and all those that break a rule checked after parsing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, assert_problem};

async fn fields_of(res: reqwest::Response) -> Vec<String> {
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let mut fields: Vec<String> =
        problem["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field").to_string()).collect();
    fields.sort();
    fields
}

async fn send(app: &TestApp, method: Method, path: &str, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request sent")
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn an_empty_login_body_names_both_username_and_password() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/login", &json!({}), None).await;

    assert_eq!(fields_of(res).await, ["password", "username"]);
}

#[tokio::test]
async fn a_login_body_with_an_array_and_an_object_names_both_fields_without_echoing_them() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/login", &json!({"username": [], "password": {"secret": "hunter2-value"}}), None).await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{problem}");
    assert_eq!((errors[0]["field"].as_str(), errors[1]["field"].as_str()), (Some("password"), Some("username")), "alphabetical");
    assert!(!problem.to_string().contains("hunter2-value"), "{problem}");
}

#[tokio::test]
async fn every_json_route_names_all_its_missing_and_all_its_mistyped_fields() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let template: Value = app.post("/v1/templates", &json!({"name": "t"}), Some(&alice.access)).await.json().await.expect("template");
    let template_path = format!("/v1/templates/{}", template["id"].as_str().expect("id"));
    let token = Some(alice.access.as_str());
    let routes: Vec<(Method, &str, Option<&str>, &[&str])> = vec![
        (Method::POST, "/v1/auth/register", None, &["username", "password"]),
        (Method::POST, "/v1/auth/login", None, &["username", "password"]),
        (Method::POST, "/v1/auth/refresh", None, &["refresh_token"]),
        (Method::POST, "/v1/auth/password", token, &["current_password", "new_password"]),
        (Method::POST, "/v1/templates", token, &["name"]),
        (Method::POST, "/v1/auth/email/verify", None, &["token"]),
        (Method::POST, "/v1/auth/password/forgot", None, &["username"]),
        (Method::POST, "/v1/auth/password/reset", None, &["token", "new_password"]),
        (Method::POST, "/v1/auth/mfa/totp/confirm", token, &["code"]),
        (Method::DELETE, "/v1/auth/mfa/totp", token, &["password", "code"]),
        (Method::POST, "/v1/auth/login/mfa", None, &["mfa_token", "code"]),
    ];
    for (method, path, token, required) in routes {
        let missing = send(&app, method.clone(), path, &json!({}), token).await;
        assert_eq!(fields_of(missing).await, sorted(required), "{method} {path} with {{}}");

        let wrong: serde_json::Map<String, Value> = required.iter().map(|f| (f.to_string(), json!([1]))).collect();
        let mistyped = send(&app, method.clone(), path, &Value::Object(wrong), token).await;
        assert_eq!(fields_of(mistyped).await, sorted(required), "{method} {path} with arrays");
    }

    let optional = send(&app, Method::PATCH, &template_path, &json!({"name": 5, "content": false}), token).await;
    assert_eq!(fields_of(optional).await, ["content", "name"], "PATCH /v1/templates/{{id}}");
    let create = send(&app, Method::POST, "/v1/templates", &json!({"name": null, "content": {}}), token).await;
    assert_eq!(fields_of(create).await, ["content", "name"], "POST /v1/templates");
}

#[tokio::test]
async fn an_admin_change_names_every_mistyped_field_and_each_bad_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let bob = app.user("bob").await;

    let res = send(
        &app,
        Method::PATCH,
        &format!("/v1/users/{}", bob.id),
        &json!({"roles": ["ok", 7], "disabled": "yes", "email": 3}),
        Some(&admin.access),
    )
    .await;

    assert_eq!(fields_of(res).await, ["disabled", "email", "roles[1]"]);
}

#[tokio::test]
async fn registering_names_the_username_the_email_and_the_password_that_break_their_rules_at_once() {
    let app = TestApp::spawn().await;

    let res = app.post_register("a!", Some("not-an-address"), "short").await;

    assert_eq!(fields_of(res).await, ["email", "password", "username"]);
}

#[tokio::test]
async fn a_password_change_names_a_wrong_current_password_and_a_weak_new_one_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res =
        app.post("/v1/auth/password", &json!({"current_password": "not-it-at-all", "new_password": "short"}), Some(&alice.access)).await;

    assert_eq!(fields_of(res).await, ["current_password", "new_password"]);
    let still = app.post_login("alice", PASSWORD).await;
    assert_eq!(still.status(), StatusCode::OK, "nothing changed");
}

#[tokio::test]
async fn a_template_with_a_bad_name_and_too_long_content_names_both() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.post("/v1/templates", &json!({"name": "  ", "content": "x".repeat(65_537)}), Some(&alice.access)).await;

    assert_eq!(fields_of(res).await, ["content", "name"]);
}
