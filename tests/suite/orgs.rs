//! Organizations over HTTP: who may create one, the rights of owners, org admins and
//! members, the last owner, and a non-member's 404.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_problem};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON")
}

#[tokio::test]
async fn a_verified_user_creates_an_org_and_is_its_owner() {
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;

    let res = app.post("/v1/orgs", &json!({ "slug": "acme", "name": "Acme Corporation" }), Some(&alice.access)).await;

    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().expect("location").to_string();
    let org = body(res).await;
    assert_eq!(location, format!("/v1/orgs/{}", org["id"].as_str().expect("id")));
    assert_eq!((org["slug"].clone(), org["name"].clone()), (json!("acme"), json!("Acme Corporation")));
    assert!(org["created_at"].is_string());
    let mine = body(app.get("/v1/orgs", Some(&alice.access)).await).await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], org["id"]);
    let members = body(app.get(&format!("{location}/members"), Some(&alice.access)).await).await;
    assert_eq!(members["items"][0]["user"]["username"], "alice");
    assert_eq!(members["items"][0]["roles"], json!(["member", "owner"]));
}

#[tokio::test]
async fn creating_an_org_needs_a_verified_address() {
    let app = TestApp::spawn().await;
    let unverified = app.user("bob").await;

    let res = app.post("/v1/orgs", &json!({ "slug": "bobco", "name": "Bob Co" }), Some(&unverified.access)).await;

    assert_problem(res, StatusCode::FORBIDDEN, "email_unverified").await;
}

#[tokio::test]
async fn without_self_service_only_admins_create_orgs() {
    let app = TestApp::spawn_with(|c| c.orgs_self_service = false).await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let admin = app.admin("root").await;

    let refused = app.post("/v1/orgs", &json!({ "slug": "acme", "name": "Acme" }), Some(&alice.access)).await;
    let made = app.post("/v1/orgs", &json!({ "slug": "acme", "name": "Acme" }), Some(&admin.access)).await;

    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(made.status(), StatusCode::CREATED, "an admin needs neither self-service nor a verified address");
}

#[tokio::test]
async fn a_slug_is_unique_and_slugs_and_names_follow_their_rules() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    app.org(&admin, "acme").await;

    let taken = app.post("/v1/orgs", &json!({ "slug": "acme", "name": "Another" }), Some(&admin.access)).await;
    let bad = app.post("/v1/orgs", &json!({ "slug": "Not A Slug", "name": " " }), Some(&admin.access)).await;

    assert_problem(taken, StatusCode::CONFLICT, "slug_taken").await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field")).collect();
    assert_eq!(fields, vec!["slug", "name"]);
}

#[tokio::test]
async fn a_non_member_gets_404_for_an_org_and_its_members_while_an_admin_sees_every_org() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let owner = app.mail_verified_user("alice", "alice@example.com").await;
    let stranger = app.user("mallory").await;
    let org = app.org(&owner, "acme").await;

    for path in [format!("/v1/orgs/{org}"), format!("/v1/orgs/{org}/members"), format!("/v1/orgs/{org}/invitations")] {
        assert_problem(app.get(&path, Some(&stranger.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_problem(app.delete(&format!("/v1/orgs/{org}"), Some(&stranger.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/v1/orgs?all=true", Some(&stranger.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(body(app.get("/v1/orgs", Some(&stranger.access)).await).await["total"], 0);
    assert_eq!(body(app.get("/v1/orgs?all=true", Some(&admin.access)).await).await["items"][0]["id"], json!(org));
    assert_eq!(app.get(&format!("/v1/orgs/{org}/members"), Some(&admin.access)).await.status(), StatusCode::OK);
    assert_problem(app.get("/v1/orgs/not-a-uuid", Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted() {
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let mut bob = app.mail_verified_user("bob", "bob@example.com").await;
    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "bob@example.com", &[]).await;
    app.join(&mut bob, &token, &org).await;
    let alice_path = format!("/v1/orgs/{org}/members/{}", alice.id);

    let leave = app.delete(&alice_path, Some(&alice.access)).await;
    let demote = app.patch(&alice_path, &json!({ "roles": ["admin"] }), Some(&alice.access)).await;

    assert_problem(leave, StatusCode::CONFLICT, "last_owner").await;
    assert_problem(demote, StatusCode::CONFLICT, "last_owner").await;
    let promote = app.patch(&format!("/v1/orgs/{org}/members/{}", bob.id), &json!({ "roles": ["owner"] }), Some(&alice.access)).await;
    assert_eq!(body(promote).await["roles"], json!(["member", "owner"]));
    let demoted = app.patch(&alice_path, &json!({ "roles": ["admin"] }), Some(&alice.access)).await;
    assert_eq!(body(demoted).await["roles"], json!(["admin", "member"]), "with another owner the change goes through");
}

#[tokio::test]
async fn org_admins_manage_members_while_only_owners_touch_owners_and_plain_members_may_only_leave() {
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let mut bob = app.mail_verified_user("bob", "bob@example.com").await;
    let mut carol = app.mail_verified_user("carol", "carol@example.com").await;
    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "bob@example.com", &["admin"]).await;
    app.join(&mut bob, &token, &org).await;
    let token = app.invite(&bob, &org, "carol@example.com", &["billing"]).await;
    app.join(&mut carol, &token, &org).await;
    let carol_path = format!("/v1/orgs/{org}/members/{}", carol.id);

    let custom = app.patch(&carol_path, &json!({ "roles": ["billing", "support"] }), Some(&bob.access)).await;
    let owner_grant = app.patch(&carol_path, &json!({ "roles": ["owner"] }), Some(&bob.access)).await;
    let owner_removal = app.delete(&format!("/v1/orgs/{org}/members/{}", alice.id), Some(&bob.access)).await;
    let owner_invite =
        app.post(&format!("/v1/orgs/{org}/invitations"), &json!({ "email": "d@example.com", "roles": ["owner"] }), Some(&bob.access)).await;
    let by_member = app.patch(&format!("/v1/orgs/{org}/members/{}", bob.id), &json!({ "roles": [] }), Some(&carol.access)).await;
    let bad_role = app.patch(&carol_path, &json!({ "roles": ["Not Valid"] }), Some(&bob.access)).await;

    assert_eq!(body(custom).await["roles"], json!(["billing", "member", "support"]));
    assert_problem(owner_grant, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(owner_removal, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(owner_invite, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(by_member, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(bad_role, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(app.delete(&carol_path, Some(&carol.access)).await.status(), StatusCode::NO_CONTENT, "a member may leave");
    let carol_again = app.login("carol", crate::common::PASSWORD).await;
    assert_problem(app.get(&format!("/v1/orgs/{org}"), Some(&carol_again.access)).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn owners_rename_and_delete_their_org_and_the_events_are_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let org = app.org(&alice, "acme").await;

    let renamed = app.patch(&format!("/v1/orgs/{org}"), &json!({ "name": "Acme Ltd", "slug": "acme-ltd" }), Some(&alice.access)).await;
    assert_eq!(body(renamed).await["slug"], "acme-ltd");
    assert_eq!(app.delete(&format!("/v1/orgs/{org}"), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);

    assert_problem(app.get(&format!("/v1/orgs/{org}"), Some(&alice.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    let events = body(app.get("/v1/audit?per_page=100", Some(&admin.access)).await).await;
    let types: Vec<&str> = events["items"].as_array().expect("items").iter().map(|e| e["type"].as_str().expect("type")).collect();
    for kind in ["org.created", "org.updated", "org.deleted"] {
        assert!(types.contains(&kind), "{kind} in {types:?}");
    }
}
