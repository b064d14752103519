//! Changing the email address: the password (and a second factor) it takes, the pending
//! address until its link is followed, where reset links go meanwhile, and the notice to
//! the old address; an admin's change audited and told too.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::mfa::code_at;
use crate::common::smtp::{Received, SmtpServer, nth_token};
use crate::common::{PASSWORD, TestApp, TestUser, assert_problem};

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await
}

async fn me(app: &TestApp, access: &str) -> Value {
    app.get_me(access).await.json().await.expect("user")
}

async fn forgot(app: &TestApp, login: &str) {
    let res = app.post("/v1/auth/password/forgot", &json!({ "username": login }), None).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

/// Registers `username` with `username@old.example`, follows its verification link (mail 1),
/// and logs in.
async fn verified_user(app: &TestApp, smtp: &SmtpServer, username: &str) -> TestUser {
    let res = app.post_register(username, Some(&format!("{username}@old.example")), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, token) = nth_token(smtp, 1, "verify-email").await;
    assert_eq!(verify(app, &token).await.status(), StatusCode::NO_CONTENT);
    app.login(username, PASSWORD).await
}

/// Every mail received once the queue had a moment to settle.
async fn settled(smtp: &SmtpServer) -> Vec<Received> {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    smtp.received().await
}

/// The change notice among `mails`, sent to `address`.
fn notice_to<'a>(mails: &'a [Received], address: &str) -> &'a Received {
    let notice = mails.iter().find(|m| m.to == vec![address.to_string()] && m.data.contains("Subject: A change to your account"));
    notice.unwrap_or_else(|| panic!("a notice to {address} in {mails:?}"))
}

#[tokio::test]
async fn a_stolen_access_token_alone_can_neither_move_the_address_nor_redirect_reset_mail() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let victim = verified_user(&app, &smtp, "victim").await;

    let without = app.patch("/v1/auth/me", &json!({ "email": "attacker@evil.example" }), Some(&victim.access)).await;
    let wrong = app
        .patch("/v1/auth/me", &json!({ "email": "attacker@evil.example", "current_password": "a guess at it" }), Some(&victim.access))
        .await;
    forgot(&app, "victim").await;

    let problem = assert_problem(without, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "current_password");
    let problem = assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "current_password");
    let now = me(&app, &victim.access).await;
    assert_eq!((now["email"].clone(), now["pending_email"].clone()), (json!("victim@old.example"), Value::Null));
    let (reset, _) = nth_token(&smtp, 2, "reset-password").await;
    assert_eq!(reset.to, vec!["victim@old.example".to_string()]);
    assert!(settled(&smtp).await.iter().all(|m| m.to != vec!["attacker@evil.example".to_string()]), "nothing went to the attacker");
}

#[tokio::test]
async fn a_wrong_password_on_an_email_change_counts_toward_the_login_lockout() {
    let app = TestApp::spawn_with(|c| c.login_max_failures = 3).await;
    let alice = app.user("alice").await;

    for _ in 0..3 {
        let body = json!({ "email": "alice@example.com", "current_password": "not the password" });
        let res = app.patch("/v1/auth/me", &body, Some(&alice.access)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let right = app.patch("/v1/auth/me", &json!({ "email": "alice@example.com", "current_password": PASSWORD }), Some(&alice.access)).await;

    let locked = assert_problem(right, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(locked["detail"].is_string());
    assert_problem(app.post_login("alice", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(me(&app, &alice.access).await["pending_email"], Value::Null);
}

#[tokio::test]
async fn with_totp_on_an_email_change_needs_a_code_and_a_missing_or_wrong_one_is_422_on_code_and_counts() {
    let app = TestApp::spawn_with(|c| c.login_max_failures = 3).await;
    let gina = app.mfa_user("gina").await;
    let change = |code: Option<&str>| {
        let mut body = json!({ "email": "gina@example.com", "current_password": PASSWORD });
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        body
    };

    let missing = app.patch("/v1/auth/me", &change(None), Some(&gina.user.access)).await;
    let wrong = app.patch("/v1/auth/me", &change(Some("000000")), Some(&gina.user.access)).await;
    let recovery = app.patch("/v1/auth/me", &change(Some(&gina.recovery_codes[0])), Some(&gina.user.access)).await;

    for res in [missing, wrong] {
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "code");
    }
    assert_eq!(recovery.status(), StatusCode::OK, "a recovery code does");
    let body: Value = recovery.json().await.expect("user");
    assert_eq!(body["pending_email"], "gina@example.com");
    // Two failures counted, the success cleared them: three more wrong codes lock.
    for _ in 0..3 {
        app.patch("/v1/auth/me", &change(Some("111111")), Some(&gina.user.access)).await;
    }
    let code = code_at(&gina.secret, gina.t);
    assert_problem(
        app.patch("/v1/auth/me", &change(Some(&code)), Some(&gina.user.access)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn while_a_change_is_pending_the_email_stays_and_reset_links_go_to_the_old_address_only() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let hana = verified_user(&app, &smtp, "hana").await;

    let res = app.patch("/v1/auth/me", &json!({ "email": "hana@new.example", "current_password": PASSWORD }), Some(&hana.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    smtp.wait_for(3, Duration::from_secs(20)).await;
    forgot(&app, "hana").await;
    forgot(&app, "hana@new.example").await;

    let now = me(&app, &hana.access).await;
    assert_eq!(now["email"], "hana@old.example");
    assert_eq!(now["email_verified"], true);
    assert_eq!(now["pending_email"], "hana@new.example");
    let mails = settled(&smtp).await;
    let resets: Vec<&Received> = mails.iter().filter(|m| m.decoded().contains("/reset-password?token=")).collect();
    assert_eq!(resets.len(), 1, "one reset mail, for the name; the pending address finds nobody");
    assert_eq!(resets[0].to, vec!["hana@old.example".to_string()]);
}

#[tokio::test]
async fn following_the_link_makes_the_new_address_the_verified_email_and_the_old_one_was_told() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let ivan = verified_user(&app, &smtp, "ivan").await;

    let res = app.patch("/v1/auth/me", &json!({ "email": "ivan@new.example", "current_password": PASSWORD }), Some(&ivan.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mails = smtp.wait_for(3, Duration::from_secs(20)).await;
    let link = mails.iter().find(|m| m.to == vec!["ivan@new.example".to_string()]).expect("a link to the new address");
    let token = crate::common::smtp::token_in(&link.decoded(), "verify-email").expect("a verification link");
    let notice = notice_to(&mails, "ivan@old.example");

    assert!(notice.decoded().contains("to change its email address to ivan@new.example"), "{}", notice.decoded());
    assert!(notice.decoded().contains("If this was not you"));
    assert!(!notice.decoded().contains("token="), "the notice carries no link");
    assert_eq!(verify(&app, &token).await.status(), StatusCode::NO_CONTENT);
    let now = me(&app, &ivan.access).await;
    assert_eq!(
        (now["email"].clone(), now["email_verified"].clone(), now["pending_email"].clone()),
        (json!("ivan@new.example"), json!(true), Value::Null)
    );
    assert_eq!(app.post_login("ivan@new.example", PASSWORD).await.status(), StatusCode::OK);
    assert_problem(app.post_login("ivan@old.example", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn confirming_an_address_another_account_took_meanwhile_is_409_and_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let joe = app.user("joe").await;
    let res = app.patch("/v1/auth/me", &json!({ "email": "shared@example.com", "current_password": PASSWORD }), Some(&joe.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, token) = nth_token(&smtp, 1, "verify-email").await;

    assert_eq!(app.post_register("kim", Some("SHARED@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    let res = verify(&app, &token).await;

    assert_problem(res, StatusCode::CONFLICT, "email_taken").await;
    let now = me(&app, &joe.access).await;
    assert_eq!((now["email"].clone(), now["pending_email"].clone()), (Value::Null, json!("shared@example.com")));
}

#[tokio::test]
async fn an_admins_change_of_an_address_is_audited_with_the_admin_as_actor_and_told_to_the_old_address() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let lena = verified_user(&app, &smtp, "lena").await;
    let admin = app.admin("root").await;

    let res = app.patch(&format!("/v1/users/{}", lena.id), &json!({ "email": "lena@desk.example" }), Some(&admin.access)).await;

    assert_eq!(res.status(), StatusCode::OK);
    let user: Value = res.json().await.expect("user");
    assert_eq!((user["email"].clone(), user["email_verified"].clone()), (json!("lena@desk.example"), json!(false)));
    let events: Value = app
        .get_query("/v1/audit", &[("user_id", &lena.id), ("type", "email.changed")], Some(&admin.access))
        .await
        .json()
        .await
        .expect("audit");
    assert_eq!(events["items"][0]["actor_id"], admin.id);
    assert_eq!(events["items"][0]["detail"]["email"], "lena@desk.example");
    let mails = smtp.wait_for(3, Duration::from_secs(20)).await;
    let notice = notice_to(&mails, "lena@old.example");
    assert!(notice.decoded().contains("An administrator changed the email address of your account to lena@desk.example"));
}

#[tokio::test]
async fn once_an_address_was_verified_reset_links_skip_an_unverified_one_until_it_is_verified() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let mia = verified_user(&app, &smtp, "mia").await;
    let admin = app.admin("root").await;
    app.patch(&format!("/v1/users/{}", mia.id), &json!({ "email": "mia@desk.example" }), Some(&admin.access)).await;
    let mails = smtp.wait_for(3, Duration::from_secs(20)).await;
    let link = mails.iter().find(|m| m.to == vec!["mia@desk.example".to_string()]).expect("a link to the new address");
    let token = crate::common::smtp::token_in(&link.decoded(), "verify-email").expect("a verification link");

    forgot(&app, "mia").await;
    let before = settled(&smtp).await.len();
    assert_eq!(verify(&app, &token).await.status(), StatusCode::NO_CONTENT);
    forgot(&app, "mia").await;

    assert_eq!(before, 3, "no reset mail to the unverified address");
    let (reset, _) = nth_token(&smtp, 4, "reset-password").await;
    assert_eq!(reset.to, vec!["mia@desk.example".to_string()]);
}
