//! The live view with several instances on one PostgreSQL database: a revocation on one
//! instance reaches the others' memory through LISTEN/NOTIFY within a second, and an
//! instance that cannot hear the notifications asks the database instead.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, TestUser};

/// How long after `since` the instance first refused the token (it must within `limit`).
async fn refused_within(app: &TestApp, user: &TestUser, since: Instant, limit: Duration) -> Duration {
    loop {
        let status = app.get_me(&user.access).await.status();
        if status == StatusCode::UNAUTHORIZED {
            return since.elapsed();
        }
        assert_eq!(status, StatusCode::OK);
        assert!(since.elapsed() < limit, "the other instance still took the revoked session after {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_logout_on_one_instance_is_refused_by_another_that_held_the_session_in_memory_within_a_second() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_sharing(&a, |_| {}).await;
    let alice = a.user("alice").await;
    b.hold_in_memory(&alice).await;

    assert_eq!(a.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);
    let took = refused_within(&b, &alice, Instant::now(), Duration::from_secs(1)).await;

    eprintln!("the other instance refused the revoked session after {took:?}");
}

#[tokio::test]
async fn a_user_disabled_on_one_instance_is_refused_by_another_within_a_second() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_sharing(&a, |_| {}).await;
    let admin = a.admin("root").await;
    let alice = a.user("alice").await;
    b.hold_in_memory(&alice).await;

    let res = a.patch(&format!("/v1/users/{}", alice.id), &json!({ "disabled": true }), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    refused_within(&b, &alice, Instant::now(), Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_instance_whose_listening_connection_is_cut_asks_the_database_until_it_listens_again() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_sharing(&a, |_| {}).await;
    let alice = a.user("alice").await;
    let bob = a.user("bob").await;
    b.hold_in_memory(&alice).await;
    b.hold_in_memory(&bob).await;

    // Cut every listening connection on the server (both instances'), as a network fault would.
    let db = sqlx::PgPool::connect(&a.database_url).await.expect("connect");
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()",
    )
    .fetch_all(&db)
    .await
    .expect("terminate the listeners");
    assert!(cut.len() >= 2, "each instance listens on a connection of its own: {cut:?}");
    assert_eq!(a.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);

    refused_within(&b, &alice, Instant::now(), Duration::from_secs(1)).await;

    // Once it listens again, it holds sessions in memory again and hears the next revocation.
    b.hold_in_memory(&bob).await;
    assert_eq!(a.post("/v1/auth/logout", &json!({}), Some(&bob.access)).await.status(), StatusCode::NO_CONTENT);
    refused_within(&b, &bob, Instant::now(), Duration::from_secs(1)).await;
}
