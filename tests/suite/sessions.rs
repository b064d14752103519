use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{PASSWORD, TestApp, assert_problem};

async fn sessions(app: &TestApp, access: &str) -> Vec<Value> {
    let res = app.get("/v1/auth/sessions", Some(access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    body["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn sessions_lists_the_callers_live_sessions_and_marks_the_current_one() {
    let app = TestApp::spawn().await;
    let laptop = app.user("alice").await;
    let res = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("user-agent", "PhoneApp/1.0")
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    app.user("bob").await;

    let items = sessions(&app, &laptop.access).await;

    assert_eq!(items.len(), 2, "{items:?}");
    let current: Vec<_> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let phone = items.iter().find(|s| s["current"] == false).expect("the other session");
    assert_eq!(phone["user_agent"], "PhoneApp/1.0");
    assert_eq!(phone["ip"], "127.0.0.1");
    for s in &items {
        assert!(uuid::Uuid::parse_str(s["id"].as_str().expect("id")).is_ok());
        for field in ["created_at", "last_used_at", "expires_at"] {
            assert!(chrono::DateTime::parse_from_rfc3339(s[field].as_str().expect(field)).is_ok(), "{field}");
        }
    }
}

#[tokio::test]
async fn deleting_a_session_revokes_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let laptop = app.user("alice").await;
    let phone = app.login("alice", PASSWORD).await;
    let items = sessions(&app, &laptop.access).await;
    let phone_id = items.iter().find(|s| s["current"] == false).expect("phone")["id"].as_str().expect("id").to_string();

    let res = app.delete(&format!("/v1/auth/sessions/{phone_id}"), Some(&laptop.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_me(&phone.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_refresh(&phone.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(sessions(&app, &laptop.access).await.len(), 1);
}

#[tokio::test]
async fn deleting_another_users_session_is_404_and_leaves_it_alive() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let bobs = sessions(&app, &bob.access).await[0]["id"].as_str().expect("id").to_string();

    let res = app.delete(&format!("/v1/auth/sessions/{bobs}"), Some(&alice.access)).await;

    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get_me(&bob.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn deleting_a_session_by_an_id_that_is_not_a_uuid_is_404() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.delete("/v1/auth/sessions/not-a-uuid", Some(&alice.access)).await;

    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn deleting_an_unknown_session_is_404() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.delete(&format!("/v1/auth/sessions/{}", uuid::Uuid::now_v7()), Some(&alice.access)).await;

    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn sessions_without_a_token_is_401() {
    let app = TestApp::spawn().await;

    let res = app.get("/v1/auth/sessions", None).await;

    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn x_forwarded_for_is_not_trusted_for_the_session_address_by_default() {
    let app = TestApp::spawn().await;
    app.post_register("alice", None, PASSWORD).await;
    let res = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .expect("sent");
    let pair: Value = res.json().await.expect("json");

    let items = sessions(&app, pair["access_token"].as_str().expect("access")).await;

    assert_eq!(items[0]["ip"], "127.0.0.1");
}
