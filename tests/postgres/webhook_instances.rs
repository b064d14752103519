//! Two Gatehouse instances on one PostgreSQL database deliver one webhook queue: each event
//! arrives, and no event is ever sent by both at the same moment (`FOR UPDATE SKIP LOCKED`
//! and the lease).

use std::time::Duration;

use crate::common::TestApp;
use crate::common::webhooks::Receiver;

#[tokio::test]
async fn two_instances_deliver_each_event_and_never_send_one_twice_at_the_same_moment() {
    let a = TestApp::spawn_with(|c| c.webhooks.webhooks_allow_private = true).await;
    let b = TestApp::spawn_sharing(&a, |c| c.webhooks.webhooks_allow_private = true).await;
    let admin = a.admin("root").await;
    // Each answer takes a while, so the two workers poll while attempts are in flight.
    let receiver = Receiver::slow(Duration::from_millis(300)).await;
    a.add_webhook(&admin.access, &receiver.url(), &["user.created"]).await;

    let mut names = Vec::new();
    for n in 0..24 {
        let name = format!("user{n}");
        let app = if n % 2 == 0 { &a } else { &b };
        assert_eq!(app.post_register(&name, None, crate::common::PASSWORD).await.status(), reqwest::StatusCode::CREATED);
        names.push(name);
    }

    let received = receiver
        .wait_for(Duration::from_secs(30), |r| names.iter().all(|n| r.iter().any(|d| d.json()["data"]["username"] == n.as_str())))
        .await;
    for name in &names {
        assert!(received.iter().any(|d| d.json()["data"]["username"] == name.as_str()), "{name}'s user.created arrived");
    }
    assert_eq!(receiver.overlaps(), 0, "no event was being sent by two instances at once");
    let ids: std::collections::HashSet<&str> = received.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), received.len(), "each event sent once while every answer was a 200");
}
