//! SQLite in trouble: while another process holds the database's write lock, writes answer
//! 503 (after the busy timeout), never 500, and everything works again once it lets go.
//! (File permissions cannot simulate this: the tests may run as root, who ignores them.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::Connection as _;

use crate::common::{PASSWORD, TestApp, assert_problem};

#[tokio::test]
async fn writes_answer_503_while_the_database_is_locked_and_recover_after() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut blocker = sqlx::SqliteConnection::connect(&app.database_url).await.expect("open the database");
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut blocker).await.expect("take the write lock");

    let started = Instant::now();
    assert_problem(app.post_register("bob", None, PASSWORD).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_problem(app.post_login("alice", PASSWORD).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(20), "two writes took {:?}", started.elapsed());
    assert_eq!(app.get_me(&alice.access).await.status(), StatusCode::OK, "reads go on under WAL");

    sqlx::query("ROLLBACK").execute(&mut blocker).await.expect("release the write lock");
    blocker.close().await.expect("close");

    app.user("bob").await;
    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::OK);
}
