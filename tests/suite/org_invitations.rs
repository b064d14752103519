//! Invitations to an organization: mailed, bound to the invited address (verified on the
//! accepting account), single use, revocable, and listed with their status.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, assert_problem};

async fn accept(app: &TestApp, access: &str, token: &str) -> reqwest::Response {
    app.post("/v1/invitations/accept", &json!({ "token": token }), Some(access)).await
}

#[tokio::test]
async fn an_invitation_is_taken_only_by_an_account_holding_the_invited_address_verified() {
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let carol = app.mail_verified_user("carol", "carol@example.com").await;
    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "Bob@Example.com", &["billing"]).await;
    assert_eq!(app.post_register("bob", Some("bob@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    let unverified_bob = app.login("bob", PASSWORD).await;

    assert_problem(accept(&app, &carol.access, &token).await, StatusCode::FORBIDDEN, "invitation_not_for_you").await;
    assert_problem(accept(&app, &unverified_bob.access, &token).await, StatusCode::FORBIDDEN, "email_unverified").await;
    let verify = app.mailed_token("bob@example.com", "verify-email").await;
    assert_eq!(app.post("/v1/auth/email/verify", &json!({ "token": verify }), None).await.status(), StatusCode::NO_CONTENT);
    let res = accept(&app, &unverified_bob.access, &token).await;

    assert_eq!(res.status(), StatusCode::OK);
    let member: Value = res.json().await.expect("membership");
    assert_eq!((member["user"]["username"].clone(), member["roles"].clone()), (json!("bob"), json!(["billing", "member"])));
    assert_problem(accept(&app, &unverified_bob.access, &token).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_revoked_invitation_stops_working_and_the_list_shows_each_status() {
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let bob = app.mail_verified_user("bob", "bob@example.com").await;
    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "bob@example.com", &[]).await;
    app.invite(&alice, &org, "dave@example.com", &["admin"]).await;
    let list: Value = app.get(&format!("/v1/orgs/{org}/invitations"), Some(&alice.access)).await.json().await.expect("list");
    let bobs = list["items"].as_array().expect("items").iter().find(|i| i["email"] == "bob@example.com").expect("bob's").clone();

    let res = app.delete(&format!("/v1/orgs/{org}/invitations/{}", bobs["id"].as_str().expect("id")), Some(&alice.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(accept(&app, &bob.access, &token).await, StatusCode::NOT_FOUND, "not_found").await;
    let list: Value = app.get(&format!("/v1/orgs/{org}/invitations"), Some(&alice.access)).await.json().await.expect("list");
    let statuses: Vec<(&str, &str)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["email"].as_str().unwrap_or(""), i["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(statuses, vec![("dave@example.com", "pending"), ("bob@example.com", "revoked")]);
    assert_eq!(list["items"][0]["invited_by"], json!(alice.id));
    assert_eq!(list["items"][0]["roles"], json!(["admin", "member"]));
    assert!(!list.to_string().contains(&token), "an invitation's token is never shown");
}

#[tokio::test]
async fn inviting_a_member_again_is_a_conflict_and_plain_members_cannot_invite() {
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let mut bob = app.mail_verified_user("bob", "bob@example.com").await;
    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "bob@example.com", &[]).await;
    app.join(&mut bob, &token, &org).await;

    let again = app.post(&format!("/v1/orgs/{org}/invitations"), &json!({ "email": "bob@example.com" }), Some(&alice.access)).await;
    let by_member = app.post(&format!("/v1/orgs/{org}/invitations"), &json!({ "email": "eve@example.com" }), Some(&bob.access)).await;
    let bad = app.post(&format!("/v1/orgs/{org}/invitations"), &json!({ "email": "not an address" }), Some(&alice.access)).await;

    assert_problem(again, StatusCode::CONFLICT, "already_member").await;
    assert_problem(by_member, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_problem(accept(&app, &bob.access, "no-such-token").await, StatusCode::NOT_FOUND, "not_found").await;
}
