//! Several instances on one PostgreSQL database: a member removed on one instance, or an
//! org deleted there, is refused by another that held the session in memory within a
//! second (the trigger of migration 0018 notifies on a session's org change).

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::{TestApp, TestUser};

async fn refused_within_a_second(app: &TestApp, user: &TestUser) {
    let since = Instant::now();
    loop {
        let status = app.get_me(&user.access).await.status();
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(since.elapsed() < Duration::from_secs(1), "the other instance still took the org token after a second");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn bob_in_acme_held_by(a: &TestApp, b: &TestApp) -> (TestUser, TestUser, String) {
    let alice = a.mail_verified_user("alice", "alice@example.com").await;
    let mut bob = a.mail_verified_user("bob", "bob@example.com").await;
    let org = a.org(&alice, "acme").await;
    let token = a.invite(&alice, &org, "bob@example.com", &[]).await;
    a.join(&mut bob, &token, &org).await;
    b.hold_in_memory(&bob).await;
    (alice, bob, org)
}

#[tokio::test]
async fn a_member_removed_on_one_instance_is_refused_by_another_within_a_second() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_sharing(&a, |_| {}).await;
    let (alice, bob, org) = bob_in_acme_held_by(&a, &b).await;

    let res = a.delete(&format!("/v1/orgs/{org}/members/{}", bob.id), Some(&alice.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    refused_within_a_second(&b, &bob).await;
}

#[tokio::test]
async fn an_org_deleted_on_one_instance_is_refused_by_another_within_a_second() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_sharing(&a, |_| {}).await;
    let (alice, bob, org) = bob_in_acme_held_by(&a, &b).await;

    assert_eq!(a.delete(&format!("/v1/orgs/{org}"), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);

    refused_within_a_second(&b, &bob).await;
}
