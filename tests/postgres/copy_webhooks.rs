//! `gatehouse copy` carries webhook endpoints with their signing secrets (and a rotated one
//! still signing): on the target, deliveries go to the same URL signed as before.

use std::time::Duration;

use crate::common::TestApp;
use crate::common::postgres;
use crate::common::webhooks::Receiver;

#[tokio::test]
async fn a_copy_carries_webhook_endpoints_whose_deliveries_on_the_target_are_signed_with_both_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("old.db").display());
    let source = TestApp::spawn_on(&sqlite_url, |c| c.webhooks.webhooks_allow_private = true).await;
    let admin = source.admin("root").await;
    let receiver = Receiver::start().await;
    let hook = source.add_webhook(&admin.access, &receiver.url(), &["user.created"]).await;
    let first = hook["secret"].as_str().expect("secret").to_string();
    let id = hook["id"].as_str().expect("id");
    let rotated: serde_json::Value =
        source.post(&format!("/v1/webhooks/{id}/secret"), &serde_json::json!({}), Some(&admin.access)).await.json().await.expect("JSON");
    let second = rotated["secret"].as_str().expect("new secret").to_string();
    let paused = serde_json::json!({ "enabled": false });
    source.patch(&format!("/v1/webhooks/{id}"), &paused, Some(&admin.access)).await;
    drop(source);

    let target_url = postgres::shared().create_database().await;
    let copied = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env("GATEHOUSE_DATABASE_URL", &sqlite_url)
        .args(["copy", "--to", &target_url])
        .output()
        .await
        .expect("copy runs");
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    assert!(String::from_utf8_lossy(&copied.stdout).contains("webhook_endpoints"), "reported");
    let target = TestApp::spawn_on(&target_url, |c| c.webhooks.webhooks_allow_private = true).await;
    let admin = target.login("root", crate::common::PASSWORD).await;
    let listed: serde_json::Value = target.get(&format!("/v1/webhooks/{id}"), Some(&admin.access)).await.json().await.expect("JSON");
    assert_eq!((listed["url"].as_str(), listed["enabled"].as_bool()), (Some(receiver.url().as_str()), Some(false)), "as it was");
    target.patch(&format!("/v1/webhooks/{id}"), &serde_json::json!({ "enabled": true }), Some(&admin.access)).await;

    target.user("after-copy").await;

    let arrived = receiver.wait_for(Duration::from_secs(10), |r| r.iter().any(|d| d.body.contains("after-copy"))).await;
    let delivery = arrived.iter().find(|d| d.body.contains("after-copy")).expect("delivered from the target");
    assert!(delivery.signed_by(&second) && delivery.signed_by(&first), "the new secret and, in its overlap, the old one");
}
