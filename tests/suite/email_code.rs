//! Sign-in by email code: one answer for every address, codes only to verified addresses,
//! ten minutes (here one second), single use, five wrong tries, the hourly cap, the TOTP
//! step, and sign-up by code.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::email_code::{code_for, code_mails_to};
use crate::common::mfa::{code_at, fresh_step};
use crate::common::smtp::SmtpServer;
use crate::common::{PASSWORD, TestApp, assert_problem};

#[tokio::test]
async fn a_code_mailed_to_a_verified_address_signs_in_once_and_answers_like_a_login() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    app.verified_user(&smtp, "alice").await;

    let challenge = app.email_challenge("Alice@Example.com").await;
    let (mailed_challenge, code) = code_for(&smtp, "alice@example.com", 1).await;
    let res = app.verify_email_code(&challenge, &code.to_lowercase()).await;

    assert_eq!(mailed_challenge, challenge);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let pair: Value = res.json().await.expect("a token pair");
    assert_eq!(pair["user"]["username"], "alice");
    assert_eq!(pair["token_type"], "Bearer");
    assert!(pair.get("password_breached").is_none(), "no password was used: {pair}");
    let me = app.get_me(pair["access_token"].as_str().expect("access")).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_problem(app.verify_email_code(&challenge, &code).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn every_address_gets_the_same_answer_and_only_a_verified_one_gets_a_code() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    app.verified_user(&smtp, "alice").await;
    // Registered with an address nobody proved: whoever did may not own it.
    assert_eq!(app.post_register("bob", Some("bob@example.com"), PASSWORD).await.status(), StatusCode::CREATED);

    let mut shapes = Vec::new();
    for address in ["alice@example.com", "bob@example.com", "nobody@example.com"] {
        let (status, body) = app.request_email_code(address).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{address}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        let challenge = body["challenge_id"].as_str().expect("a challenge_id");
        assert_eq!(challenge.len(), 36, "a UUID");
        shapes.push(body.as_object().expect("an object").keys().cloned().collect::<Vec<_>>());
    }

    assert!(shapes.iter().all(|keys| keys == &["challenge_id"]), "{shapes:?}");
    assert_eq!(code_mails_to(&smtp, "alice@example.com").await, 1);
    assert_eq!(code_mails_to(&smtp, "bob@example.com").await, 0, "an unverified address gets no code");
    assert_eq!(code_mails_to(&smtp, "nobody@example.com").await, 0, "sign-up by code is off");
}

#[tokio::test]
async fn five_wrong_codes_end_the_challenge_and_unknown_challenges_get_the_same_answer() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    app.verified_user(&smtp, "carol").await;
    let challenge = app.email_challenge("carol@example.com").await;
    let (_, code) = code_for(&smtp, "carol@example.com", 1).await;

    for wrong in ["AAAAA-AAAAA", "not a code", "", "CCCCC-CCCCC", "DDDDD-DDDDD"] {
        assert_problem(app.verify_email_code(&challenge, wrong).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    assert_problem(app.verify_email_code(&challenge, &code).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_problem(app.verify_email_code("not-a-challenge", &code).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = "0193a0f0-0000-7000-8000-000000000000";
    assert_problem(app.verify_email_code(unknown, &code).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_code_expires() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.signin.email_code_ttl = 1).await;
    app.verified_user(&smtp, "dave").await;
    let challenge = app.email_challenge("dave@example.com").await;
    let (_, code) = code_for(&smtp, "dave@example.com", 1).await;

    tokio::time::sleep(Duration::from_millis(1300)).await;

    assert_problem(app.verify_email_code(&challenge, &code).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn past_the_hourly_cap_requests_are_still_accepted_and_nothing_is_mailed() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.signin.email_code_per_hour = 2).await;
    app.verified_user(&smtp, "erin").await;

    for _ in 0..4 {
        app.email_challenge("erin@example.com").await;
    }

    assert_eq!(code_mails_to(&smtp, "erin@example.com").await, 2);
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout_of_the_address_like_wrong_passwords() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.login_max_failures = 3).await;
    app.verified_user(&smtp, "fay").await;
    let challenge = app.email_challenge("fay@example.com").await;
    let (_, code) = code_for(&smtp, "fay@example.com", 1).await;

    for _ in 0..3 {
        app.verify_email_code(&challenge, "AAAAA-AAAAA").await;
    }

    assert_problem(app.verify_email_code(&challenge, &code).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("fay", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn an_account_with_totp_takes_its_second_step_after_the_code() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let user = app.verified_user(&smtp, "gus").await;
    let secret = app.setup_totp(&user.access).await["secret"].as_str().expect("secret").to_string();
    let t = fresh_step().await;
    assert_eq!(app.confirm_totp(&user.access, &code_at(&secret, t - 30)).await.status(), StatusCode::OK);
    let challenge = app.email_challenge("gus@example.com").await;
    let (_, code) = code_for(&smtp, "gus@example.com", 1).await;

    let body = assert_problem(app.verify_email_code(&challenge, &code).await, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let res = app.post_login_mfa(body["mfa_token"].as_str().expect("an mfa_token"), &code_at(&secret, t)).await;

    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("a token pair");
    assert_eq!(pair["user"]["username"], "gus");
}

#[tokio::test]
async fn with_sign_up_on_a_code_makes_a_passwordless_verified_account_whose_re_checks_take_a_fresh_code() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.signin.email_code_signup = true).await;

    let challenge = app.email_challenge("New.Person@example.com").await;
    let (_, code) = code_for(&smtp, "New.Person@example.com", 1).await;
    let res = app.verify_email_code(&challenge, &code).await;

    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("a token pair");
    assert_eq!(pair["user"]["email"], "New.Person@example.com");
    assert_eq!(pair["user"]["email_verified"], true);
    assert_eq!(pair["user"]["username"], "New.Person");
    let access = pair["access_token"].as_str().expect("access").to_string();
    // No password matches an account without one: not even the empty one.
    for guess in ["", PASSWORD] {
        assert_problem(app.post_login("New.Person", guess).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let new_password = json!({ "current_password": "", "new_password": "a brand new passphrase 77" });
    let res = app.post("/v1/auth/password", &new_password, Some(&access)).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(body.to_string().contains("current_password"), "{body}");

    let res = app.post("/v1/auth/email-code/reauth", &json!({}), Some(&access)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let (_, fresh) = code_for(&smtp, "New.Person@example.com", 2).await;
    let set = json!({ "current_password": fresh, "new_password": "a brand new passphrase 77" });
    assert_eq!(app.post("/v1/auth/password", &set, Some(&access)).await.status(), StatusCode::NO_CONTENT);

    assert_eq!(app.post_login("new.person@example.com", "a brand new passphrase 77").await.status(), StatusCode::OK);
    let again = json!({ "current_password": fresh, "new_password": "another new passphrase 88" });
    let res = app.post("/v1/auth/password", &again, Some(&access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn with_email_codes_off_the_routes_answer_not_found() {
    let app = TestApp::spawn_with(|c| c.signin.email_code = false).await;

    let (status, _) = app.request_email_code("alice@example.com").await;
    let res = app.verify_email_code("0193a0f0-0000-7000-8000-000000000000", "ACDEF-GHJKM").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn an_address_that_is_not_one_is_refused_on_its_field() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/email-code", &json!({ "email": "not an address" }), None).await;

    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(body.to_string().contains("email"), "{body}");
}
