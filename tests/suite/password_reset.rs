//! Forgotten passwords over a real SMTP conversation: one answer for every account, a
//! single-use link, every session revoked.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::mfa::code_at;
use crate::common::smtp::{SmtpServer, nth_token};
use crate::common::{PASSWORD, TestApp, assert_problem};

const NEW_PASSWORD: &str = "a brand new passphrase 77";

async fn forgot(app: &TestApp, login: &str) -> (StatusCode, String) {
    let res = app.post("/v1/auth/password/forgot", &json!({ "username": login }), None).await;
    (res.status(), res.text().await.expect("body"))
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post("/v1/auth/password/reset", &json!({ "token": token, "new_password": password }), None).await
}

/// Registers `username` with an address and waits for its verification mail (mail 1).
async fn with_email(app: &TestApp, smtp: &SmtpServer, username: &str) {
    let res = app.post_register(username, Some(&format!("{username}@example.com")), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    smtp.wait_for(1, Duration::from_secs(20)).await;
}

#[tokio::test]
async fn forgot_password_answers_byte_for_byte_the_same_for_existing_and_unknown_accounts_and_only_mails_the_existing_one() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    with_email(&app, &smtp, "alice").await;
    app.post_register("nomail", None, PASSWORD).await;

    let answers = [
        forgot(&app, "alice").await,
        forgot(&app, "no-such-user").await,
        forgot(&app, "nobody@example.com").await,
        forgot(&app, "nomail").await,
        forgot(&app, "ALICE@example.com").await,
    ];

    for answer in &answers {
        assert_eq!(answer, &answers[0]);
    }
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    let mails = smtp.wait_for(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = if smtp.received().await.len() > mails.len() { smtp.received().await } else { mails };
    assert_eq!(mails.len(), 3, "the verification mail and two reset mails, none for the others");
    for mail in &mails[1..] {
        assert_eq!(mail.to, vec!["alice@example.com".to_string()]);
        assert!(mail.decoded().contains("https://gatehouse.test/reset-password?token="));
        assert!(mail.decoded().contains("expires in 30 minutes"));
    }
}

#[tokio::test]
async fn a_reset_link_works_once_and_revokes_every_session() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    with_email(&app, &smtp, "bob").await;
    let laptop = app.login("bob", PASSWORD).await;
    let phone = app.login("bob", PASSWORD).await;

    forgot(&app, "bob").await;
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);

    for session in [&laptop, &phone] {
        assert_problem(app.post_refresh(&session.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(app.get_me(&session.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    assert_problem(app.post_login("bob", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.post_login("bob", NEW_PASSWORD).await.status(), StatusCode::OK);
    assert_problem(reset(&app, &token, "yet another passphrase 88").await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(app.post_login("bob", NEW_PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_weak_new_password_is_refused_and_the_link_still_works() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    with_email(&app, &smtp, "carol").await;
    forgot(&app, "carol").await;
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;

    for weak in ["short", "password123", "carol@example.com"] {
        let body = assert_problem(reset(&app, &token, weak).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "new_password");
    }

    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.post_login("carol", NEW_PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_newer_reset_link_replaces_the_older_one_and_links_expire() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.password_reset_ttl = 1).await;
    with_email(&app, &smtp, "dave").await;
    forgot(&app, "dave").await;
    let (_, first) = nth_token(&smtp, 2, "reset-password").await;
    forgot(&app, "dave").await;
    let (_, second) = nth_token(&smtp, 3, "reset-password").await;

    assert_problem(reset(&app, &first, NEW_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_problem(reset(&app, &second, NEW_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(app.post_login("dave", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_clears_the_failed_login_count_and_is_in_the_audit_trail() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.login_max_failures = 3).await;
    let admin = app.admin("root").await;
    with_email(&app, &smtp, "erin").await;
    for _ in 0..3 {
        app.post_login("erin", "wrong password 123").await;
    }
    assert_problem(app.post_login("erin", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    forgot(&app, "erin@example.com").await;
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);

    let erin = app.login("erin", NEW_PASSWORD).await;
    for kind in ["password.reset_requested", "password.reset"] {
        let res = app.get_query("/v1/audit", &[("type", kind), ("user_id", &erin.id)], Some(&admin.access)).await;
        let page: Value = res.json().await.expect("audit page");
        assert_eq!(page["total"], 1, "{kind}: {page}");
    }
}

#[tokio::test]
async fn reset_and_forgot_refuse_bodies_without_their_fields() {
    let app = TestApp::spawn().await;

    assert_problem(app.post("/v1/auth/password/forgot", &json!({}), None).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    assert_problem(
        app.post("/v1/auth/password/reset", &json!({ "token": "x" }), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_problem(reset(&app, "not-a-token", NEW_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let (status, _) = forgot(&app, &"x".repeat(10_000)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_reset_link_mailed_to_an_old_address_dies_when_the_change_of_address_is_confirmed() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    with_email(&app, &smtp, "frank").await;
    let frank = app.login("frank", PASSWORD).await;
    forgot(&app, "frank").await;
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;

    let res = app.patch("/v1/auth/me", &json!({ "email": "frank@new.example", "current_password": PASSWORD }), Some(&frank.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, confirm) = nth_token(&smtp, 3, "verify-email").await;
    let res = app.post("/v1/auth/email/verify", &json!({ "token": confirm }), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_problem(reset(&app, &token, NEW_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(app.post_login("frank", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_password_reset_leaves_totp_on_so_the_new_password_still_needs_a_code() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let gina = app.mfa_user("gina").await;
    let body = json!({ "email": "gina@example.com", "current_password": PASSWORD, "code": code_at(&gina.secret, gina.t) });
    let res = app.patch("/v1/auth/me", &body, Some(&gina.user.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, confirm) = nth_token(&smtp, 1, "verify-email").await;
    let res = app.post("/v1/auth/email/verify", &json!({ "token": confirm }), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    forgot(&app, "gina").await;
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);

    let res = app.post_login("gina", NEW_PASSWORD).await;
    let problem = assert_problem(res, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let mfa_token = problem["mfa_token"].as_str().expect("an mfa_token");
    let res = app.post_login_mfa(mfa_token, &code_at(&gina.secret, gina.t + 30)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("token pair");
    assert_eq!(pair["user"]["mfa_enabled"], true);
}
