//! Notices to the account's verified address when how it signs in changes: the password
//! (changed through the API or the account page, or reset with a mailed link), TOTP turned
//! off by its owner, or reset by an admin. Each notice names no secret.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::mfa::{code_at, fresh_step};
use crate::common::smtp::{Received, SmtpServer, nth_token};
use crate::common::{PASSWORD, TestApp, TestUser};

const NEW_PASSWORD: &str = "a brand new passphrase 77";

/// Registers `username` with `username@example.com`, follows its verification link (mail 1)
/// and logs in.
async fn verified_user(app: &TestApp, smtp: &SmtpServer, username: &str) -> TestUser {
    let res = app.post_register(username, Some(&format!("{username}@example.com")), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, token) = nth_token(smtp, 1, "verify-email").await;
    let res = app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.login(username, PASSWORD).await
}

/// The `count`-th mail, which must be a notice to `username@example.com` with `subject`.
async fn nth_notice(smtp: &SmtpServer, count: usize, username: &str, subject: &str) -> Received {
    let mail = smtp.wait_for(count, Duration::from_secs(20)).await.swap_remove(count - 1);
    assert_eq!(mail.to, vec![format!("{username}@example.com")]);
    assert!(mail.data.contains(&format!("Subject: {subject}")), "subject {subject:?} in {}", mail.decoded());
    mail
}

/// No password, no link with a token, no TOTP secret in a notice.
fn holds_no_secret(mail: &Received, secrets: &[&str]) {
    let text = mail.decoded();
    for secret in secrets {
        assert!(!text.contains(secret), "a secret in the notice: {text}");
    }
    assert!(!text.contains("token="), "a link with a token in the notice: {text}");
}

#[tokio::test]
async fn changing_the_password_through_the_api_or_the_account_page_mails_a_notice_with_where_to_reset_it() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let alice = verified_user(&app, &smtp, "alice").await;

    let body = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD });
    let res = app.post("/v1/auth/password", &body, Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let by_api = nth_notice(&smtp, 2, "alice", "Your password was changed").await;
    let browser = app.agent();
    let signed_in = browser.submit("/login", "/login", &[("username", "alice"), ("password", NEW_PASSWORD), ("return_to", "")]).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let res = browser.submit("/account", "/account/password", &[("current_password", NEW_PASSWORD), ("new_password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "changed on the account page");
    let by_page = nth_notice(&smtp, 3, "alice", "Your password was changed").await;

    for mail in [&by_api, &by_page] {
        assert!(mail.decoded().contains("The password of your account was changed"), "{}", mail.decoded());
        assert!(mail.decoded().contains("https://gatehouse.test/forgot-password"), "{}", mail.decoded());
        holds_no_secret(mail, &[PASSWORD, NEW_PASSWORD]);
    }
}

#[tokio::test]
async fn a_password_reset_with_a_mailed_link_mails_a_notice_that_holds_neither_the_link_nor_the_password() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    verified_user(&app, &smtp, "bob").await;

    let res = app.post("/v1/auth/password/forgot", &json!({ "username": "bob" }), None).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;
    let res = app.post("/v1/auth/password/reset", &json!({ "token": token, "new_password": NEW_PASSWORD }), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let notice = nth_notice(&smtp, 3, "bob", "Your password was changed").await;
    assert!(notice.decoded().contains("was reset with a link mailed to you"), "{}", notice.decoded());
    holds_no_secret(&notice, &[&token, NEW_PASSWORD, PASSWORD]);
}

#[tokio::test]
async fn turning_totp_off_mails_its_owner_a_notice_without_the_secret_or_codes() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let carol = verified_user(&app, &smtp, "carol").await;
    let secret = app.setup_totp(&carol.access).await["secret"].as_str().expect("secret").to_string();
    let t = fresh_step().await;
    assert_eq!(app.confirm_totp(&carol.access, &code_at(&secret, t - 30)).await.status(), StatusCode::OK);

    let code = code_at(&secret, t);
    let res = app.delete_json("/v1/auth/mfa/totp", &json!({ "password": PASSWORD, "code": code }), Some(&carol.access)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let notice = nth_notice(&smtp, 2, "carol", "A change to how your account signs in").await;
    assert!(notice.decoded().contains("Two-factor authentication with an authenticator app was turned off"), "{}", notice.decoded());
    holds_no_secret(&notice, &[&secret, &code, PASSWORD]);
}

#[tokio::test]
async fn an_admins_reset_of_a_users_totp_mails_the_user_a_notice() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let dave = verified_user(&app, &smtp, "dave").await;
    let secret = app.setup_totp(&dave.access).await["secret"].as_str().expect("secret").to_string();
    let t = fresh_step().await;
    assert_eq!(app.confirm_totp(&dave.access, &code_at(&secret, t - 30)).await.status(), StatusCode::OK);
    let admin = app.admin("root").await;

    let res = app.delete(&format!("/v1/users/{}/mfa", dave.id), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let notice = nth_notice(&smtp, 2, "dave", "A change to how your account signs in").await;
    assert!(notice.decoded().contains("An administrator turned off two-factor authentication"), "{}", notice.decoded());
    holds_no_secret(&notice, &[&secret]);
    // A second reset finds TOTP off: nothing changed, nothing is mailed.
    let res = app.delete(&format!("/v1/users/{}/mfa", dave.id), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(smtp.received().await.len(), 2, "one notice only");
}
