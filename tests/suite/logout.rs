use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_problem};

#[tokio::test]
async fn logout_kills_the_access_token_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let me = app.get_me(&alice.access).await;
    assert_eq!(me.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    assert_problem(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn logout_kills_the_refresh_token() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    app.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await;

    assert_problem(app.post_refresh(&alice.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn logout_without_a_body_works_too() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.client.post(app.url("/v1/auth/logout")).bearer_auth(&alice.access).send().await.expect("sent");

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn logout_leaves_the_users_other_sessions_alive() {
    let app = TestApp::spawn().await;
    let laptop = app.user("alice").await;
    let phone = app.login("alice", &laptop.password).await;

    app.post("/v1/auth/logout", &json!({}), Some(&laptop.access)).await;

    assert_eq!(app.get_me(&phone.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_without_a_token_is_401_with_a_bare_bearer_challenge() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/logout", &json!({}), None).await;

    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
