//! GATEHOUSE_REGISTRATION: `open` lets anyone sign up; `invite` only through an admin's
//! mailed invitation; `closed` only admins make accounts. Admins create users and invite in
//! every mode.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::smtp::{SmtpServer, smtp_settings};
use crate::common::{PASSWORD, TestApp, assert_problem};
use gatehouse::config::RegistrationMode;

/// The invitation token of the `count`th mail.
async fn invitation_token(smtp: &SmtpServer, count: usize) -> String {
    let mail = smtp.wait_for(count, std::time::Duration::from_secs(20)).await.swap_remove(count - 1);
    let text = mail.decoded();
    let start = text.find("/register?invitation=").unwrap_or_else(|| panic!("an invitation link in {text}")) + 21;
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.post("/v1/auth/register", &body, None).await
}

#[tokio::test]
async fn with_registration_open_anyone_signs_up_as_before() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_register("alice", None, PASSWORD).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn with_registration_closed_sign_up_is_refused_and_only_an_admin_makes_accounts() {
    let (_open, app, root) = TestApp::restricted(RegistrationMode::Closed, |_| {}).await;
    assert_problem(app.post_register("alice", None, PASSWORD).await, StatusCode::FORBIDDEN, "registration_closed").await;

    let res = app.post("/v1/users", &json!({ "username": "alice", "password": PASSWORD, "roles": ["editor"] }), Some(&root.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().expect("location").to_string();
    let alice: Value = res.json().await.expect("user");
    assert_eq!(location, format!("/v1/users/{}", alice["id"].as_str().expect("id")));
    assert_eq!(alice["roles"], json!(["editor", "user"]));
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::OK);

    let alice_user = app.login("alice", PASSWORD).await;
    let res = app.post("/v1/users", &json!({ "username": "mallory", "password": PASSWORD }), Some(&alice_user.access)).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post("/v1/users", &json!({ "username": "alice", "password": PASSWORD }), Some(&root.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "username_taken").await;
    let res = app.post("/v1/users", &json!({ "username": "x", "password": "short" }), Some(&root.access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn with_registration_by_invitation_the_mailed_link_makes_one_account_with_the_address_verified_and_the_roles() {
    let smtp = SmtpServer::start().await;
    let (_open, app, root) = TestApp::restricted(RegistrationMode::Invite, |c| smtp_settings(c, &smtp.url())).await;
    assert_problem(app.post_register("mallory", None, PASSWORD).await, StatusCode::FORBIDDEN, "registration_closed").await;

    let res = app.post("/v1/users/invitations", &json!({ "email": "Bob@Example.com", "roles": ["editor"] }), Some(&root.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let invitation: Value = res.json().await.expect("invitation");
    assert_eq!(invitation["status"], "pending");
    assert_eq!(invitation["roles"], json!(["editor", "user"]));
    assert_eq!(invitation["invited_by"], json!(root.id));
    assert!(invitation.get("token").is_none(), "the token is only in the mail");
    let token = invitation_token(&smtp, 1).await;

    let wrong = register(&app, json!({ "username": "bob", "password": PASSWORD, "invitation": "not-a-token" })).await;
    let problem = assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem.to_string().contains("invitation"), "{problem}");
    let other_address =
        register(&app, json!({ "username": "bob", "email": "eve@example.com", "password": PASSWORD, "invitation": token })).await;
    assert_problem(other_address, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let res = register(&app, json!({ "username": "bob", "password": PASSWORD, "invitation": token })).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let bob: Value = res.json().await.expect("user");
    assert_eq!(bob["email"], "Bob@Example.com");
    assert_eq!(bob["email_verified"], true, "the link proved the address");
    assert_eq!(bob["roles"], json!(["editor", "user"]));

    let again = register(&app, json!({ "username": "bob2", "password": PASSWORD, "invitation": token })).await;
    assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let list: Value = app.get("/v1/users/invitations", Some(&root.access)).await.json().await.expect("list");
    assert_eq!(list["items"][0]["status"], "accepted");
    let audit: Value = app.get("/v1/audit?type=user.invited", Some(&root.access)).await.json().await.expect("audit");
    assert_eq!(audit["items"].as_array().expect("items").len(), 1);
}

#[tokio::test]
async fn a_revoked_invitation_no_longer_signs_anyone_up_and_an_address_in_use_cannot_be_invited() {
    let smtp = SmtpServer::start().await;
    let (_open, app, root) = TestApp::restricted(RegistrationMode::Invite, |c| smtp_settings(c, &smtp.url())).await;
    let res = app.post("/v1/users/invitations", &json!({ "email": "carol@example.com" }), Some(&root.access)).await;
    let invitation: Value = res.json().await.expect("invitation");
    let token = invitation_token(&smtp, 1).await;

    let path = format!("/v1/users/invitations/{}", invitation["id"].as_str().expect("id"));
    assert_eq!(app.delete(&path, Some(&root.access)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.delete(&path, Some(&root.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    let res = register(&app, json!({ "username": "carol", "password": PASSWORD, "invitation": token })).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let res =
        app.post("/v1/users", &json!({ "username": "dave", "email": "dave@example.com", "password": PASSWORD }), Some(&root.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.post("/v1/users/invitations", &json!({ "email": "DAVE@example.com" }), Some(&root.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "email_taken").await;
    let res = app.post("/v1/users/invitations", &json!({ "email": "not an address" }), Some(&root.access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn with_registration_closed_an_email_code_makes_no_account() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| {
        c.registration = RegistrationMode::Closed;
        c.signin.email_code_signup = true;
    })
    .await;
    let res = app.post("/v1/auth/email-code", &json!({ "email": "new@example.com" }), None).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "the same answer as ever");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(smtp.received().await.is_empty(), "no sign-up code is mailed");
}
