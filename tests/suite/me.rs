use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, assert_problem};

const NEW_PASSWORD: &str = "purple elephant juggling teacups";

#[tokio::test]
async fn me_answers_the_account_behind_the_token() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.get_me(&alice.access).await;

    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["id"], alice.id.as_str());
    assert_eq!(me["username"], "alice");
    assert_eq!(me["roles"], json!(["user"]));
    assert!(me.get("password_hash").is_none());
}

/// PATCH /v1/auth/me with the right password and these fields besides.
async fn patch_me(app: &TestApp, access: &str, fields: Value) -> reqwest::Response {
    let mut body = json!({ "current_password": PASSWORD });
    for (k, v) in fields.as_object().expect("an object") {
        body[k] = v.clone();
    }
    app.patch("/v1/auth/me", &body, Some(access)).await
}

#[tokio::test]
async fn patching_the_email_leaves_it_and_shows_the_new_address_as_pending() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = patch_me(&app, &alice.access, json!({ "email": "alice@example.com" })).await;

    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["email"], Value::Null);
    assert_eq!(me["pending_email"], "alice@example.com");
    assert_eq!(me["email_verified"], false);
    let again: Value = app.get_me(&alice.access).await.json().await.expect("json");
    assert_eq!(again["pending_email"], "alice@example.com");
    assert_eq!(again["email"], Value::Null);
}

#[tokio::test]
async fn patching_the_email_with_null_clears_it_and_absent_leaves_it() {
    let app = TestApp::spawn().await;
    app.post_register("alice", Some("alice@example.com"), PASSWORD).await;
    let alice = app.login("alice", PASSWORD).await;

    let untouched: Value = patch_me(&app, &alice.access, json!({})).await.json().await.expect("json");
    let cleared: Value = patch_me(&app, &alice.access, json!({ "email": null })).await.json().await.expect("json");

    assert_eq!(untouched["email"], "alice@example.com");
    assert!(cleared["email"].is_null());
    assert!(cleared["pending_email"].is_null());
    assert_eq!(
        app.post_register("alice2", Some("ALICE@example.com"), PASSWORD).await.status(),
        StatusCode::CREATED,
        "the address is free again"
    );
}

#[tokio::test]
async fn patching_to_an_email_someone_else_has_in_another_case_is_409() {
    let app = TestApp::spawn().await;
    app.post_register("bob", Some("bob@example.com"), PASSWORD).await;
    let alice = app.user("alice").await;

    let res = patch_me(&app, &alice.access, json!({ "email": "BOB@Example.com" })).await;

    assert_problem(res, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn patching_to_a_bad_email_is_422_on_email() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    for bad in [json!("not-an-email"), json!(42), json!("\"alice\"@example.com"), json!("alice@[192.0.2.1]")] {
        let res = patch_me(&app, &alice.access, json!({ "email": bad })).await;

        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "email");
    }
}

#[tokio::test]
async fn me_without_a_token_is_401() {
    let app = TestApp::spawn().await;

    let get = app.get("/v1/auth/me", None).await;
    let patch = app.patch("/v1/auth/me", &json!({ "current_password": PASSWORD }), None).await;

    assert_problem(get, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(patch, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> reqwest::Response {
    app.post("/v1/auth/password", &json!({ "current_password": current, "new_password": new }), Some(access)).await
}

#[tokio::test]
async fn a_password_change_kills_the_other_sessions_at_once_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let here = app.user("alice").await;
    let elsewhere = app.login("alice", PASSWORD).await;

    let res = change_password(&app, &here.access, PASSWORD, NEW_PASSWORD).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_me(&elsewhere.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_refresh(&elsewhere.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(app.get_me(&here.access).await.status(), StatusCode::OK);
    assert_eq!(app.post_refresh(&here.refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn after_a_password_change_the_new_password_logs_in_and_the_old_does_not() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    change_password(&app, &alice.access, PASSWORD, NEW_PASSWORD).await;

    assert_eq!(app.post_login("alice", NEW_PASSWORD).await.status(), StatusCode::OK);
    assert_problem(app.post_login("alice", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_wrong_current_password_is_422_on_current_password_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = change_password(&app, &alice.access, "definitely not it", NEW_PASSWORD).await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "current_password");
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_weak_new_password_is_422_on_new_password() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = change_password(&app, &alice.access, PASSWORD, "password1").await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "new_password");
}
