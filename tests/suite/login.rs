use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{PASSWORD, TestApp, assert_problem};

#[tokio::test]
async fn login_answers_a_token_pair_that_is_never_cached() {
    let app = TestApp::spawn().await;
    app.post_register("alice", Some("alice@example.com"), PASSWORD).await;

    let res = app.post_login("alice", PASSWORD).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let pair: Value = res.json().await.expect("json");
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 2_592_000);
    assert_eq!(pair["access_token"].as_str().expect("access").split('.').count(), 3);
    assert!(pair["refresh_token"].as_str().expect("refresh").len() >= 43, "256 bits at least");
    assert_eq!(pair["user"]["username"], "alice");
    assert_eq!(pair["user"]["email"], "alice@example.com");
    assert!(pair["user"].get("password_hash").is_none());
}

#[tokio::test]
async fn login_matches_the_username_in_any_case() {
    let app = TestApp::spawn().await;
    app.post_register("MixedCase", None, PASSWORD).await;

    let res = app.post_login("mIXEDcASE", PASSWORD).await;

    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("json");
    assert_eq!(pair["user"]["username"], "MixedCase");
}

#[tokio::test]
async fn login_accepts_the_email_in_any_case() {
    let app = TestApp::spawn().await;
    app.post_register("bob", Some("Bob@Example.com"), PASSWORD).await;

    let res = app.post_login("bob@EXAMPLE.com", PASSWORD).await;

    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("json");
    assert_eq!(pair["user"]["username"], "bob");
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.user("carol").await;

    let unknown = app.post_login("nobody", PASSWORD).await;
    let wrong = app.post_login("carol", "not the right password at all").await;

    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(unknown, wrong);
}

/// No account holds a control character; PostgreSQL text cannot even hold NUL. Such a login
/// is an unknown user on both stores, never a 500.
#[tokio::test]
async fn a_login_with_a_nul_or_control_character_is_an_unknown_user() {
    let app = TestApp::spawn().await;
    app.user("carol").await;

    for login in ["carol\u{0}", "\u{0}", "car\nol"] {
        assert_problem(app.post_login(login, PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn login_without_a_password_field_is_a_422_on_that_field() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/login", &serde_json::json!({ "username": "dave" }), None).await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "password");
}
