//! `gatehouse webhook add | list | remove | deliveries` against a scratch database, and the
//! server then delivering to what they registered.

use std::time::Duration;

use serde_json::Value;

use super::{Scratch, stderr, stdout};
use crate::common::TestApp;
use crate::common::webhooks::Receiver;

const ALLOW_PRIVATE: (&str, &str) = ("GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE", "true");

#[tokio::test]
async fn webhook_add_prints_the_secret_once_list_hides_it_and_deliveries_show_the_receivers_answer() {
    let scratch = Scratch::new();
    let receiver = Receiver::start().await;

    let added =
        scratch.run(&["webhook", "add", &receiver.url(), "--event", "user.created", "--description", "billing"], "", &[ALLOW_PRIVATE]);

    assert!(added.status.success(), "{}", stderr(&added));
    let hook: Value = serde_json::from_str(stdout(&added).trim()).expect("JSON");
    let secret = hook["secret"].as_str().expect("the secret, this once").to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(hook["events"], serde_json::json!(["user.created"]));
    assert!(stderr(&added).contains("shown this once"));
    let id = hook["id"].as_str().expect("id").to_string();
    let listed = scratch.run(&["webhook", "list"], "", &[]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains(&id) && !stdout(&listed).contains(&secret), "listed without its secret: {}", stdout(&listed));

    let url = scratch.database_url();
    let app = TestApp::spawn_with(|c| {
        c.database_url = url;
        c.webhooks.webhooks_allow_private = true;
    })
    .await;
    app.user("carol").await;
    let arrived = receiver.wait_for_type("user.created", Duration::from_secs(10)).await;
    assert!(arrived[0].signed_by(&secret), "signed with the secret the command printed");
    let mut table = String::new();
    for _ in 0..50 {
        table = stdout(&scratch.run(&["webhook", "deliveries", &id], "", &[]));
        if table.contains("succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(table.contains("user.created") && table.contains("succeeded") && table.contains(" 200 "), "{table}");
    let json = scratch.run(&["webhook", "deliveries", &id, "--json"], "", &[]);
    let first: Value = serde_json::from_str(stdout(&json).lines().next().expect("a line")).expect("JSON");
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["response_status"], 200);
    assert_eq!(first["event_id"], arrived[0].id.as_str());
}

#[test]
fn webhook_add_refuses_a_private_url_without_the_allow_setting_and_remove_deletes_it() {
    let scratch = Scratch::new();

    let refused = scratch.run(&["webhook", "add", "http://127.0.0.1:9/hook"], "", &[]);
    let unknown_event = scratch.run(&["webhook", "add", "https://127.0.0.1/hook", "--event", "user.eaten"], "", &[ALLOW_PRIVATE]);
    let added = scratch.run(&["webhook", "add", "https://127.0.0.1/hook"], "", &[ALLOW_PRIVATE]);

    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("url"), "{}", stderr(&refused));
    assert!(!unknown_event.status.success());
    assert!(stderr(&unknown_event).contains("events[0]"), "{}", stderr(&unknown_event));
    assert!(added.status.success(), "{}", stderr(&added));
    let hook: Value = serde_json::from_str(stdout(&added).trim()).expect("JSON");
    assert_eq!(hook["events"], serde_json::json!(["*"]), "every type by default");
    let id = hook["id"].as_str().expect("id");
    let removed = scratch.run(&["webhook", "remove", id], "", &[]);
    assert!(removed.status.success() && stdout(&removed).contains("removed webhook"), "{}", stderr(&removed));
    assert!(stdout(&scratch.run(&["webhook", "list"], "", &[])).trim().is_empty());
    let again = scratch.run(&["webhook", "remove", id], "", &[]);
    assert!(!again.status.success() && stderr(&again).contains("no such webhook"), "{}", stderr(&again));
    let deliveries = scratch.run(&["webhook", "deliveries", id], "", &[]);
    assert!(!deliveries.status.success() && stderr(&deliveries).contains("no webhook"), "{}", stderr(&deliveries));
}
