//! The lockout holds per account: failures by the username and by the email add up, and a
//! lock earned under one identifier holds under the other. Unknown names keep their own count.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::mfa::code_at;
use crate::common::{PASSWORD, TestApp, assert_problem};

const WRONG: &str = "not the password at all";

async fn spawn_with_limit(max_failures: u32) -> TestApp {
    TestApp::spawn_with(|c| {
        c.login_max_failures = max_failures;
        c.login_lockout = 900;
    })
    .await
}

async fn register_with_email(app: &TestApp, username: &str, email: &str) {
    let res = app.post_register(username, Some(email), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED, "register {username}");
}

#[tokio::test]
async fn a_lock_earned_by_username_holds_for_a_login_by_email_in_any_case() {
    let app = spawn_with_limit(3).await;
    register_with_email(&app, "alice", "alice@example.com").await;
    for _ in 0..3 {
        assert_problem(app.post_login("alice", WRONG).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    let by_email = app.post_login("Alice@Example.COM", PASSWORD).await;

    assert!(by_email.headers().contains_key("retry-after"), "429 carries Retry-After");
    assert_problem(by_email, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("alice@example.com", WRONG).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn failures_by_username_and_by_email_add_up_to_one_lock() {
    let app = spawn_with_limit(3).await;
    register_with_email(&app, "bob", "bob@example.com").await;

    assert_eq!(app.post_login("bob", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.post_login("BOB@example.com", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.post_login("bob@example.com", WRONG).await.status(), StatusCode::UNAUTHORIZED);

    assert_problem(app.post_login("bob", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("bob@example.com", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn an_unknown_name_is_locked_on_its_own_without_touching_any_account() {
    let app = spawn_with_limit(2).await;
    register_with_email(&app, "carol", "carol@example.com").await;
    for _ in 0..2 {
        assert_problem(app.post_login("carl", WRONG).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_problem(app.post_login("carl@example.com", WRONG).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    // Both unknown names are locked exactly like a known one would be...
    assert_problem(app.post_login("carl", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("carl@example.com", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // ...and the real account has lost nothing to them.
    assert_eq!(app.post_login("carol@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_completed_login_by_email_clears_the_failures_made_by_username() {
    let app = spawn_with_limit(3).await;
    register_with_email(&app, "dora", "dora@example.com").await;
    for _ in 0..2 {
        assert_eq!(app.post_login("dora", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.post_login("dora@example.com", PASSWORD).await.status(), StatusCode::OK);

    for _ in 0..2 {
        assert_eq!(app.post_login("dora", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }

    assert_eq!(app.post_login("dora", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_current_passwords_on_password_change_lock_a_login_by_email() {
    let app = spawn_with_limit(2).await;
    register_with_email(&app, "erin", "erin@example.com").await;
    let erin = app.login("erin", PASSWORD).await;
    let change = json!({ "current_password": WRONG, "new_password": "an entirely new passphrase" });
    for _ in 0..2 {
        let res = app.post("/v1/auth/password", &change, Some(&erin.access)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    assert_problem(app.post_login("erin@example.com", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn wrong_second_factor_codes_lock_the_first_step_by_email() {
    let app = spawn_with_limit(3).await;
    register_with_email(&app, "fay", "fay@example.com").await;
    // mfa_user registers its own account: set TOTP up on this one by hand.
    let fay = app.login("fay", PASSWORD).await;
    let secret = app.setup_totp(&fay.access).await["secret"].as_str().expect("secret").to_string();
    let t = crate::common::mfa::fresh_step().await;
    assert_eq!(app.confirm_totp(&fay.access, &code_at(&secret, t - 30)).await.status(), StatusCode::OK);
    let token = app.mfa_token("fay").await;
    let wrong_code = "not-a-code";
    // The first step reserved one check, the two wrong codes two more: three on the account.
    for _ in 0..2 {
        assert_problem(app.post_login_mfa(&token, wrong_code).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    assert_problem(app.post_login("fay@example.com", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
