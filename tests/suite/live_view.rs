//! The live view: an authenticated request of a session read before is answered from
//! memory, and every revoking or changing action takes effect at once all the same. Each
//! test first makes sure the view holds the session, then acts, then asks again.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::live::session_ids;
use crate::common::smtp::{SmtpServer, nth_token};
use crate::common::{PASSWORD, TestApp, TestUser, assert_problem};

async fn refused(app: &TestApp, user: &TestUser) {
    assert_problem(app.get_me(&user.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_session_held_in_memory_is_refused_right_after_its_logout() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.hold_in_memory(&alice).await;

    assert_eq!(app.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);

    refused(&app, &alice).await;
}

#[tokio::test]
async fn a_session_held_in_memory_is_refused_right_after_it_is_signed_out_from_another() {
    let app = TestApp::spawn().await;
    let laptop = app.user("alice").await;
    let phone = app.login("alice", PASSWORD).await;
    app.hold_in_memory(&phone).await;

    let (phone_sid, _) = session_ids(&phone);
    let res = app.delete(&format!("/v1/auth/sessions/{phone_sid}"), Some(&laptop.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    refused(&app, &phone).await;
    assert_eq!(app.get_me(&laptop.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_held_in_memory_at_once() {
    let app = TestApp::spawn().await;
    let laptop = app.user("alice").await;
    let phone = app.login("alice", PASSWORD).await;
    app.hold_in_memory(&phone).await;

    let body = json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase 77" });
    assert_eq!(app.post("/v1/auth/password", &body, Some(&laptop.access)).await.status(), StatusCode::NO_CONTENT);

    refused(&app, &phone).await;
    assert_eq!(app.get_me(&laptop.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn disabling_a_user_ends_its_sessions_held_in_memory_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    app.hold_in_memory(&alice).await;

    let res = app.patch(&format!("/v1/users/{}", alice.id), &json!({ "disabled": true }), Some(&admin.access)).await;

    assert_eq!(res.status(), StatusCode::OK);
    refused(&app, &alice).await;
}

#[tokio::test]
async fn deleting_a_user_ends_its_sessions_held_in_memory_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    app.hold_in_memory(&alice).await;

    assert_eq!(app.delete(&format!("/v1/users/{}", alice.id), Some(&admin.access)).await.status(), StatusCode::NO_CONTENT);

    refused(&app, &alice).await;
}

#[tokio::test]
async fn a_role_change_shows_in_me_at_once_though_memory_held_the_user() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    app.hold_in_memory(&alice).await;

    let res = app.patch(&format!("/v1/users/{}", alice.id), &json!({ "roles": ["user", "editor"] }), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let me: Value = app.get_me(&alice.access).await.json().await.expect("user");
    assert_eq!(me["roles"], json!(["editor", "user"]));
}

#[tokio::test]
async fn a_detected_refresh_token_reuse_ends_the_session_held_in_memory_at_once() {
    let app = TestApp::spawn_with(|c| c.refresh_reuse_grace = 0).await;
    let alice = app.user("alice").await;
    app.hold_in_memory(&alice).await;
    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::OK);

    assert_problem(app.post_refresh(&alice.refresh).await, StatusCode::UNAUTHORIZED, "token_reused").await;

    refused(&app, &alice).await;
}

#[tokio::test]
async fn a_password_reset_ends_every_session_held_in_memory_at_once() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let res = app.post_register("bob", Some("bob@example.com"), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let bob = app.login("bob", PASSWORD).await;
    app.hold_in_memory(&bob).await;

    app.post("/v1/auth/password/forgot", &json!({ "username": "bob" }), None).await;
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;
    let body = json!({ "token": token, "new_password": "a brand new passphrase 77" });
    assert_eq!(app.post("/v1/auth/password/reset", &body, None).await.status(), StatusCode::NO_CONTENT);

    refused(&app, &bob).await;
}

#[tokio::test]
async fn a_user_disabled_by_the_cli_in_another_process_is_refused_within_a_second() {
    let app = TestApp::spawn().await;
    let _admin = app.admin("root").await;
    let alice = app.user("alice").await;
    app.hold_in_memory(&alice).await;

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["user", "disable", "alice"])
        .env("GATEHOUSE_DATABASE_URL", &app.database_url)
        .output()
        .await
        .expect("run gatehouse user disable");
    assert!(out.status.success(), "user disable: {}", String::from_utf8_lossy(&out.stderr));
    let written = Instant::now();

    while app.get_me(&alice.access).await.status() == StatusCode::OK {
        assert!(written.elapsed() < Duration::from_secs(1), "the server still took the session 1 s after the CLI disabled its user");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    refused(&app, &alice).await;
}
