//! Email verification over a real SMTP conversation: registration and every email change
//! mail a link; the link verifies that very address, once, within its lifetime.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::smtp::{SmtpServer, nth_token};
use crate::common::{PASSWORD, TestApp, assert_problem};

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await
}

async fn me(app: &TestApp, access: &str) -> Value {
    app.get_me(access).await.json().await.expect("user")
}

#[tokio::test]
async fn registering_with_an_email_mails_a_link_over_smtp_that_verifies_the_address_once() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;

    let res = app.post_register("alice", Some("Alice@Example.com"), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (mail, token) = nth_token(&smtp, 1, "verify-email").await;
    let alice = app.login("alice", PASSWORD).await;
    assert_eq!(me(&app, &alice.access).await["email_verified"], false);

    assert_eq!(mail.to, vec!["Alice@Example.com".to_string()]);
    assert!(mail.decoded().contains(&format!("https://gatehouse.test/verify-email?token={token}")));
    assert!(mail.data.contains("multipart/alternative") && mail.data.contains("text/html"), "plain text and HTML bodies");
    assert_eq!(verify(&app, &token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &alice.access).await["email_verified"], true);
    assert_problem(verify(&app, &token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_verification_link_expires() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.email_verify_ttl = 1).await;
    app.post_register("bob", Some("bob@example.com"), PASSWORD).await;
    let (mail, token) = nth_token(&smtp, 1, "verify-email").await;
    assert!(mail.decoded().contains("expires in 1 second"));

    tokio::time::sleep(Duration::from_millis(1300)).await;

    assert_problem(verify(&app, &token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let bob = app.login("bob", PASSWORD).await;
    assert_eq!(me(&app, &bob.access).await["email_verified"], false);
}

#[tokio::test]
async fn unknown_and_malformed_verification_tokens_answer_invalid_token() {
    let app = TestApp::spawn().await;

    for token in ["", "nope", &"A".repeat(43), "\u{0}"] {
        assert_problem(verify(&app, token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    assert_problem(app.post("/v1/auth/email/verify", &json!({}), None).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn an_email_change_mails_a_new_link_that_completes_it_and_the_old_addresss_link_dies_with_it() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    app.post_register("carol", Some("carol@old.example"), PASSWORD).await;
    let (_, old_token) = nth_token(&smtp, 1, "verify-email").await;
    let carol = app.login("carol", PASSWORD).await;

    let res = app.patch("/v1/auth/me", &json!({ "email": "carol@new.example", "current_password": PASSWORD }), Some(&carol.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (mail, new_token) = nth_token(&smtp, 2, "verify-email").await;

    assert_eq!(mail.to, vec!["carol@new.example".to_string()]);
    assert_eq!(me(&app, &carol.access).await["email_verified"], false);
    assert_eq!(verify(&app, &new_token).await.status(), StatusCode::NO_CONTENT);
    let now = me(&app, &carol.access).await;
    assert_eq!((now["email"].clone(), now["email_verified"].clone()), (json!("carol@new.example"), json!(true)));
    assert_problem(verify(&app, &old_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(me(&app, &carol.access).await["email"], "carol@new.example", "the old link changed nothing");
}

#[tokio::test]
async fn an_admin_changing_a_users_email_mails_the_new_address() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let admin = app.admin("root").await;
    let dave = app.user("dave").await;

    let res = app.patch(&format!("/v1/users/{}", dave.id), &json!({ "email": "dave@example.com" }), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (mail, token) = nth_token(&smtp, 1, "verify-email").await;

    assert_eq!(mail.to, vec!["dave@example.com".to_string()]);
    assert!(mail.decoded().contains("Hello dave,"));
    assert_eq!(verify(&app, &token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &dave.access).await["email_verified"], true);
}

#[tokio::test]
async fn resend_mails_a_fresh_link_until_the_address_is_verified() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    app.post_register("erin", Some("erin@example.com"), PASSWORD).await;
    nth_token(&smtp, 1, "verify-email").await;
    let erin = app.login("erin", PASSWORD).await;
    let nobody = app.user("nomail").await;

    let res = app.post("/v1/auth/email/resend", &json!({}), Some(&erin.access)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.json::<Value>().await.expect("body"), json!({ "queued": true }));
    let (_, token) = nth_token(&smtp, 2, "verify-email").await;
    assert_eq!(verify(&app, &token).await.status(), StatusCode::NO_CONTENT);

    for who in [&erin, &nobody] {
        let res = app.post("/v1/auth/email/resend", &json!({}), Some(&who.access)).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(res.json::<Value>().await.expect("body"), json!({ "queued": false }));
    }
    assert_problem(app.post("/v1/auth/email/resend", &json!({}), None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().await.len(), 2, "nothing more was sent");
}

#[tokio::test]
async fn with_verification_required_login_answers_email_unverified_until_the_address_is_verified() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.require_verified_email = true).await;
    app.post_register("frank", Some("frank@example.com"), PASSWORD).await;
    app.post_register("nomail", None, PASSWORD).await;
    let (_, token) = nth_token(&smtp, 1, "verify-email").await;

    assert_problem(app.post_login("frank", PASSWORD).await, StatusCode::FORBIDDEN, "email_unverified").await;
    assert_problem(app.post_login("frank", "wrong password 123").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_problem(app.post_login("nomail", PASSWORD).await, StatusCode::FORBIDDEN, "email_unverified").await;
    assert_eq!(verify(&app, &token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.post_login("frank", PASSWORD).await.status(), StatusCode::OK);
}
