//! The `org.*` webhook events over real HTTP to a loopback receiver: each change of an org
//! and its members is delivered with the object it names, and a refused change sends none.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::common::webhooks::Receiver;

const SOON: Duration = Duration::from_secs(10);
const ORG_EVENTS: [&str; 5] = ["org.created", "org.deleted", "org.member_added", "org.member_updated", "org.member_removed"];

#[tokio::test]
async fn creating_joining_changing_leaving_and_deleting_an_org_each_reach_the_endpoint_as_an_org_event() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let receiver = Receiver::start().await;
    app.add_webhook(&admin.access, &receiver.url(), &ORG_EVENTS).await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let bob = app.mail_verified_user("bob", "bob@example.com").await;

    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "bob@example.com", &["billing"]).await;
    let accepted = app.post("/v1/invitations/accept", &json!({ "token": token }), Some(&bob.access)).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let bob_path = format!("/v1/orgs/{org}/members/{}", bob.id);
    assert_eq!(app.patch(&bob_path, &json!({ "roles": ["admin"] }), Some(&alice.access)).await.status(), StatusCode::OK);
    assert_eq!(app.delete(&bob_path, Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/v1/orgs/{org}"), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);

    let created = receiver.wait_for_type("org.created", SOON).await[0].json();
    assert_eq!((created["data"]["id"].as_str(), created["data"]["slug"].as_str()), (Some(org.as_str()), Some("acme")));
    let added = receiver.wait_for(SOON, |r| r.iter().filter(|d| d.kind() == "org.member_added").count() == 2).await;
    let added: Vec<Value> = added.iter().filter(|d| d.kind() == "org.member_added").map(|d| d.json()["data"].clone()).collect();
    let owner = added.iter().find(|d| d["user"]["username"] == "alice").expect("the owner's membership");
    assert_eq!((owner["org_id"].as_str(), owner["roles"].clone()), (Some(org.as_str()), json!(["member", "owner"])));
    let joined = added.iter().find(|d| d["user"]["username"] == "bob").expect("the invitee's membership");
    assert_eq!(joined["roles"], json!(["billing", "member"]));
    assert!(joined["user"].get("password_hash").is_none(), "no secret in data: {joined}");
    let updated = receiver.wait_for_type("org.member_updated", SOON).await[0].json();
    assert_eq!(
        (updated["data"]["user"]["id"].as_str(), updated["data"]["roles"].clone()),
        (Some(bob.id.as_str()), json!(["admin", "member"]))
    );
    let removed = receiver.wait_for_type("org.member_removed", SOON).await[0].json();
    assert_eq!((removed["data"]["org_id"].as_str(), removed["data"]["user"]["id"].as_str()), (Some(org.as_str()), Some(bob.id.as_str())));
    let deleted = receiver.wait_for_type("org.deleted", SOON).await[0].json();
    assert_eq!((deleted["data"]["id"].as_str(), deleted["data"]["name"].as_str()), (Some(org.as_str()), Some("The acme org")));
}

#[tokio::test]
async fn a_refused_change_of_an_org_sends_no_event() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let org = app.org(&alice, "acme").await;
    let receiver = Receiver::start().await;
    app.add_webhook(&admin.access, &receiver.url(), &ORG_EVENTS).await;

    let alice_path = format!("/v1/orgs/{org}/members/{}", alice.id);
    assert_eq!(app.delete(&alice_path, Some(&alice.access)).await.status(), StatusCode::CONFLICT, "the last owner stays");
    assert_eq!(app.patch(&alice_path, &json!({ "roles": ["member"] }), Some(&alice.access)).await.status(), StatusCode::CONFLICT);
    app.org(&alice, "marker").await;

    let events = receiver.wait_for(SOON, |r| r.iter().any(|d| d.kind() == "org.created")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kinds: Vec<String> = receiver.received().iter().map(|d| d.kind()).collect();
    assert!(!events.is_empty() && kinds.iter().all(|k| k == "org.created" || k == "org.member_added"), "{kinds:?}");
    assert!(
        receiver.received().iter().all(|d| d.json()["data"]["slug"] != "acme" && d.json()["data"]["org_id"] != org.as_str()),
        "{kinds:?}"
    );
}
