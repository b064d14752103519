//! A PostgreSQL outage: 503 within a bounded time while the server is down, and recovery
//! by itself once it is back. The test stops a server of its own, not the shared one.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::postgres::PgServer;
use crate::common::{PASSWORD, TestApp, assert_problem};

/// The longest any request may take to answer 503 while the database is down.
const BOUND: Duration = Duration::from_secs(6);

#[tokio::test]
async fn a_database_outage_answers_503_quickly_and_the_service_recovers_without_a_restart() {
    let server = PgServer::start();
    let app = TestApp::spawn_on(&server.create_database().await, |_| {}).await;
    let alice = app.user("alice").await;

    server.stop();

    // /health shares a successful check for one second: the outage shows after at most that.
    let stopped = Instant::now();
    let body = loop {
        let started = Instant::now();
        let res = app.get("/health", None).await;
        let status = res.status();
        let body: Value = res.json().await.expect("health JSON");
        assert!(started.elapsed() < BOUND, "/health took {:?}", started.elapsed());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break body;
        }
        assert!(stopped.elapsed() < Duration::from_secs(1) + BOUND, "/health hid the outage: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "unavailable");

    let started = Instant::now();
    assert_problem(app.get_me(&alice.access).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_problem(app.post_login("alice", PASSWORD).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_problem(app.post_register("bob", None, PASSWORD).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_problem(app.post_refresh(&alice.refresh).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(started.elapsed() < BOUND * 4, "four requests took {:?}", started.elapsed());

    server.start_again();

    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/health", None).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the service did not recover after the database came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get_me(&alice.access).await.status(), StatusCode::OK);
    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::OK);
    app.user("bob").await;
}
