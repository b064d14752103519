//! Webhooks over real HTTP to a loopback receiver: signed Standard Webhooks deliveries of
//! the changes that committed (and none of those that rolled back), retries with the same
//! `webhook-id`, secret rotation, the admin API, and the address rule against forgery.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::webhooks::{Received, Receiver};
use crate::common::{TestApp, assert_problem};

const SOON: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_registration_and_a_sign_in_reach_the_endpoint_signed_with_its_secret() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let receiver = Receiver::start().await;
    let hook = app.add_webhook(&admin.access, &receiver.url(), &["*"]).await;
    let secret = hook["secret"].as_str().expect("secret shown once");
    assert!(secret.starts_with("whsec_"));

    let alice = app.user("alice").await;

    let created = receiver.wait_for_type("user.created", SOON).await;
    let body = created[0].json();
    assert_eq!(body["data"]["id"], alice.id.as_str());
    assert_eq!(body["data"]["username"], "alice");
    assert!(body["timestamp"].is_string());
    assert!(body["data"].get("password_hash").is_none(), "no secret in data: {body}");
    assert!(created[0].signed_by(secret), "signed with the endpoint's secret");
    assert!(created[0].id.starts_with("msg_"));
    let sessions = receiver.wait_for_type("session.created", SOON).await;
    assert_eq!(sessions[0].json()["data"]["user_id"], alice.id.as_str());
    assert!(!sessions[0].body.contains(&alice.refresh), "no token in data");
    assert!(sessions.iter().all(|d| d.signed_by(secret)));
}

#[tokio::test]
async fn an_endpoint_that_answers_500_then_200_gets_the_retry_with_the_same_webhook_id() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let receiver = Receiver::answering(&[500]).await;
    let hook = app.add_webhook(&admin.access, &receiver.url(), &["user.created"]).await;

    app.user("bob").await;

    let both = receiver.wait_for(Duration::from_secs(20), |r| r.len() >= 2).await;
    assert_eq!(both.len(), 2, "the first attempt and its retry");
    assert_eq!(both[0].id, both[1].id, "the same webhook-id on the retry");
    assert_eq!(both[0].body, both[1].body, "the same body");
    let waited = both[1].timestamp.parse::<i64>().expect("ts") - both[0].timestamp.parse::<i64>().expect("ts");
    assert!((3..=12).contains(&waited), "about 5 s between the attempts, was {waited}");
    let list: Value = app
        .get(&format!("/v1/webhooks/{}/deliveries", hook["id"].as_str().expect("id")), Some(&admin.access))
        .await
        .json()
        .await
        .expect("list");
    let items = list["items"].as_array().expect("items");
    let attempts: Vec<(i64, &str, i64)> = items
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap_or_default(),
                d["status"].as_str().unwrap_or_default(),
                d["response_status"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert!(attempts.contains(&(1, "failed", 500)), "{list}");
    let list = wait_for_status(&app, &admin.access, hook["id"].as_str().expect("id"), 2, "succeeded").await;
    assert_eq!(list["items"][0]["event_id"], both[0].id.as_str(), "event_id is the webhook-id");
}

async fn wait_for_status(app: &TestApp, token: &str, hook: &str, attempt: i64, status: &str) -> Value {
    for _ in 0..100 {
        let list: Value = app.get(&format!("/v1/webhooks/{hook}/deliveries"), Some(token)).await.json().await.expect("list");
        if list["items"].as_array().expect("items").iter().any(|d| d["attempt"] == attempt && d["status"] == status) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("attempt {attempt} never became {status}");
}

#[tokio::test]
async fn a_change_that_rolls_back_queues_no_event() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let receiver = Receiver::start().await;
    app.add_webhook(&admin.access, &receiver.url(), &["user.roles_changed", "user.deleted", "user.disabled"]).await;

    // The last admin cannot demote, disable or delete itself: each change rolls back.
    let res = app.patch(&format!("/v1/users/{}", admin.id), &json!({ "roles": ["user"] }), Some(&admin.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "last_admin").await;
    let res = app.delete(&format!("/v1/users/{}", admin.id), Some(&admin.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "last_admin").await;
    // A change that commits, after them, is delivered; those before it never are.
    let carol = app.user("carol").await;
    let res = app.patch(&format!("/v1/users/{}", carol.id), &json!({ "roles": ["user", "editor"] }), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let changed = receiver.wait_for_type("user.roles_changed", SOON).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = receiver.received();
    assert_eq!(all.len(), 1, "only the committed change: {:?}", all.iter().map(Received::kind).collect::<Vec<_>>());
    assert_eq!(changed[0].json()["data"]["id"], carol.id.as_str());
    assert_eq!(changed[0].json()["data"]["roles"], json!(["editor", "user"]));
}

#[tokio::test]
async fn disabling_a_user_delivers_user_disabled_and_the_revocation_of_each_session() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let dave = app.user("dave").await;
    let receiver = Receiver::start().await;
    app.add_webhook(&admin.access, &receiver.url(), &["user.disabled", "session.revoked", "user.enabled"]).await;

    let res = app.patch(&format!("/v1/users/{}", dave.id), &json!({ "disabled": true }), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let disabled = receiver.wait_for_type("user.disabled", SOON).await;
    assert_eq!(disabled[0].json()["data"]["disabled"], true);
    let revoked = receiver.wait_for_type("session.revoked", SOON).await;
    assert_eq!(revoked[0].json()["data"]["user_id"], dave.id.as_str());
    assert!(receiver.received().iter().all(|d| d.kind() != "user.enabled"));
}

#[tokio::test]
async fn urls_that_are_http_loopback_metadata_private_or_resolve_to_loopback_are_refused_without_the_allow_setting() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/x",
        "https://192.168.1.20/x",
        "https://172.16.5.4/x",
        "https://[::1]/x",
        "https://[fd00:ec2::254]/x",
        "https://localhost/x",
        "https://localhost./x",
        "not a url",
    ] {
        let res = app.post("/v1/webhooks", &json!({ "url": url, "events": ["*"] }), Some(&admin.access)).await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
}

#[tokio::test]
async fn unknown_event_types_and_callers_who_are_not_admins_are_refused() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let user = app.user("eve").await;
    let receiver = Receiver::start().await;
    let body = json!({ "url": receiver.url(), "events": ["*"] });
    assert_problem(app.post("/v1/webhooks", &body, Some(&user.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.get("/v1/webhooks", Some(&user.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    for events in [json!(["user.exploded"]), json!([]), json!(["webhook.test"])] {
        let res = app.post("/v1/webhooks", &json!({ "url": receiver.url(), "events": events }), Some(&admin.access)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let res = app.get("/v1/webhooks/not-a-uuid", Some(&admin.access)).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_admin_api_reads_changes_tests_rotates_retries_and_deletes_an_endpoint() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let receiver = Receiver::start().await;
    let hook = app.add_webhook(&admin.access, &receiver.url(), &["user.deleted"]).await;
    let id = hook["id"].as_str().expect("id").to_string();
    let old_secret = hook["secret"].as_str().expect("secret").to_string();

    let read: Value = app.get(&format!("/v1/webhooks/{id}"), Some(&admin.access)).await.json().await.expect("webhook");
    assert_eq!(read["events"], json!(["user.deleted"]));
    assert!(read.get("secret").is_none(), "the secret is shown once only: {read}");
    let list: Value = app.get("/v1/webhooks", Some(&admin.access)).await.json().await.expect("list");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(!list.to_string().contains(&old_secret));

    let res = app.patch(&format!("/v1/webhooks/{id}"), &json!({ "description": "billing", "events": ["*"] }), Some(&admin.access)).await;
    let changed: Value = res.json().await.expect("changed");
    assert_eq!((changed["description"].as_str(), changed["events"].clone()), (Some("billing"), json!(["*"])));

    let res = app.post(&format!("/v1/webhooks/{id}/test"), &json!({}), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let test = receiver.wait_for_type("webhook.test", SOON).await;
    assert!(test[0].signed_by(&old_secret));

    let rotated: Value =
        app.post(&format!("/v1/webhooks/{id}/secret"), &json!({}), Some(&admin.access)).await.json().await.expect("rotated");
    let new_secret = rotated["secret"].as_str().expect("new secret").to_string();
    assert_ne!(new_secret, old_secret);
    app.post(&format!("/v1/webhooks/{id}/test"), &json!({}), Some(&admin.access)).await;
    let tests = receiver.wait_for(SOON, |r| r.iter().filter(|d| d.kind() == "webhook.test").count() >= 2).await;
    let second = tests.iter().rfind(|d| d.kind() == "webhook.test").expect("second test");
    assert!(second.signed_by(&new_secret) && second.signed_by(&old_secret), "both secrets sign during the overlap: {}", second.signature);

    let deliveries: Value = app.get(&format!("/v1/webhooks/{id}/deliveries"), Some(&admin.access)).await.json().await.expect("deliveries");
    let first = deliveries["items"].as_array().expect("items").last().expect("the oldest").clone();
    let res = app
        .post(&format!("/v1/webhooks/{id}/deliveries/{}/retry", first["id"].as_str().expect("id")), &json!({}), Some(&admin.access))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let again = receiver.wait_for(SOON, |r| r.len() >= 3).await;
    assert_eq!(again[2].id, first["event_id"].as_str().expect("event id"), "sent again with the same webhook-id");

    let res = app.patch(&format!("/v1/webhooks/{id}"), &json!({ "enabled": false }), Some(&admin.access)).await;
    assert_eq!(res.json::<Value>().await.expect("json")["enabled"], false);
    let victim = app.user("frank").await;
    app.delete(&format!("/v1/users/{}", victim.id), Some(&admin.access)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 3, "a disabled endpoint is sent nothing");

    assert_eq!(app.delete(&format!("/v1/webhooks/{id}"), Some(&admin.access)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/v1/webhooks/{id}"), Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
}
