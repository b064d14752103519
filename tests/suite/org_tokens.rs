//! The session's active org in access tokens: chosen with PUT /v1/auth/session/org, carried
//! as `org: {id, slug, roles}`, refused at once when the membership or the org ends (also
//! while the session is answered from memory), and gone from the next refresh.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::admin::claims;
use crate::common::{TestApp, TestUser, assert_problem};

async fn refused(app: &TestApp, user: &TestUser) {
    assert_problem(app.get_me(&user.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// Alice owns acme; bob is a member with acme active on his session, held in memory.
async fn bob_in_acme(app: &TestApp) -> (TestUser, TestUser, String) {
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let mut bob = app.mail_verified_user("bob", "bob@example.com").await;
    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "bob@example.com", &["billing"]).await;
    app.join(&mut bob, &token, &org).await;
    app.hold_in_memory(&bob).await;
    (alice, bob, org)
}

#[tokio::test]
async fn the_active_org_rides_in_the_access_token_and_in_each_refresh_with_the_refresh_token_unchanged() {
    let app = TestApp::spawn().await;
    let (_, bob, org) = bob_in_acme(&app).await;

    assert_eq!(claims(&bob.access)["org"], json!({ "id": org, "slug": "acme", "roles": ["billing", "member"] }));
    assert_eq!(app.get_me(&bob.access).await.status(), StatusCode::OK);
    let pair: Value = app.post_refresh(&bob.refresh).await.json().await.expect("pair");
    assert_eq!(claims(pair["access_token"].as_str().expect("token"))["org"]["slug"], "acme");
}

#[tokio::test]
async fn switching_answers_like_a_refresh_without_a_new_refresh_token_and_null_clears_the_org() {
    let app = TestApp::spawn().await;
    let (_, mut bob, org) = bob_in_acme(&app).await;

    let answer = app.switch_org(&mut bob, None).await;

    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["expires_in"].as_u64().is_some_and(|s| s > 0) && answer["refresh_expires_in"].as_i64().is_some_and(|s| s > 0));
    assert_eq!(answer["user"]["username"], "bob");
    assert!(answer.get("refresh_token").is_none(), "the session's refresh token stays as it is");
    assert!(claims(&bob.access).get("org").is_none());
    let again = app.switch_org(&mut bob, Some(&org)).await;
    assert_eq!(again["org"]["id"], json!(org));
    let pair: Value = app.post_refresh(&bob.refresh).await.json().await.expect("the refresh token still works");
    assert_eq!(claims(pair["access_token"].as_str().expect("token"))["org"]["id"], json!(org));
}

#[tokio::test]
async fn a_non_member_cannot_make_an_org_active() {
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let mallory = app.user("mallory").await;
    let org = app.org(&alice, "acme").await;

    let res = app.put_json("/v1/auth/session/org", &json!({ "org_id": org }), Some(&mallory.access)).await;

    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    let bad = app.put_json("/v1/auth/session/org", &json!({ "org_id": "nope" }), Some(&mallory.access)).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn a_removed_members_org_token_is_refused_at_once_and_the_next_refresh_carries_no_org() {
    let app = TestApp::spawn().await;
    let (alice, bob, org) = bob_in_acme(&app).await;

    let res = app.delete(&format!("/v1/orgs/{org}/members/{}", bob.id), Some(&alice.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    refused(&app, &bob).await;
    let pair: Value = app.post_refresh(&bob.refresh).await.json().await.expect("pair");
    let access = pair["access_token"].as_str().expect("token");
    assert!(claims(access).get("org").is_none(), "no org after removal");
    assert_eq!(app.get_me(access).await.status(), StatusCode::OK, "the session itself lives on");
}

#[tokio::test]
async fn leaving_an_org_refuses_the_token_that_carries_it_at_once() {
    let app = TestApp::spawn().await;
    let (_, bob, org) = bob_in_acme(&app).await;
    let other_session = app.login("bob", crate::common::PASSWORD).await;

    let res = app.delete(&format!("/v1/orgs/{org}/members/{}", bob.id), Some(&bob.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    refused(&app, &bob).await;
    assert_eq!(app.get_me(&other_session.access).await.status(), StatusCode::OK, "a session without the org is untouched");
}

#[tokio::test]
async fn deleting_an_org_refuses_its_members_tokens_at_once() {
    let app = TestApp::spawn().await;
    let (alice, bob, org) = bob_in_acme(&app).await;

    assert_eq!(app.delete(&format!("/v1/orgs/{org}"), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);

    refused(&app, &bob).await;
    let pair: Value = app.post_refresh(&bob.refresh).await.json().await.expect("pair");
    assert!(claims(pair["access_token"].as_str().expect("token")).get("org").is_none());
}

#[tokio::test]
async fn switching_to_another_org_retires_tokens_that_name_the_previous_one() {
    let app = TestApp::spawn().await;
    let (_, mut bob, _) = bob_in_acme(&app).await;
    let own = app.org(&bob, "bobco").await;
    let old = bob.clone();

    app.switch_org(&mut bob, Some(&own)).await;

    refused(&app, &old).await;
    assert_eq!(app.get_me(&bob.access).await.status(), StatusCode::OK);
}
