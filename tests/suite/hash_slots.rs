//! Hashing slots: a login whose client hangs up keeps its slot until its hash ends, so
//! hashes never pile up beyond the slot count, nor their working memory.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::{PASSWORD, TestApp};

/// Logins sent, one every few milliseconds, each client closing its socket soon after.
const LOGINS: usize = 120;
const SPACING: Duration = Duration::from_millis(5);
const HANG_UP_AFTER: Duration = Duration::from_millis(20);

#[tokio::test]
async fn logins_whose_clients_hang_up_never_run_more_hashes_at_once_than_there_are_slots() {
    // Every login reaches the hasher: no lockout, no per-address limit in the way.
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 1_000_000;
        c.rate_limit_per_ip = 0;
    })
    .await;
    app.user("alice").await;
    let body = json!({ "username": "alice", "password": PASSWORD }).to_string();
    let request = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        app.addr,
        body.len()
    );

    let mut clients = Vec::new();
    for _ in 0..LOGINS {
        let (addr, request) = (app.addr, request.clone());
        clients.push(tokio::spawn(async move {
            let mut socket = TcpStream::connect(addr).await.expect("connect");
            socket.write_all(request.as_bytes()).await.expect("request sent");
            tokio::time::sleep(HANG_UP_AFTER).await;
        }));
        tokio::time::sleep(SPACING).await;
    }
    for client in clients {
        client.await.expect("client");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while app.state.accounts.hasher.load().running > 0 {
        assert!(tokio::time::Instant::now() < deadline, "hashes still running: {:?}", app.state.accounts.hasher.load());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let load = app.state.accounts.hasher.load();
    assert!(load.peak_running <= load.slots, "{load:?}");
    assert!(load.buffers <= load.slots, "{load:?}");
    app.login("alice", PASSWORD).await;
}

#[tokio::test]
async fn the_running_hashes_gauge_is_exposed_in_metrics() {
    let app = TestApp::spawn().await;
    app.user("alice").await;

    let text = app.get("/metrics", None).await.text().await.expect("metrics text");

    assert!(text.lines().any(|l| l.starts_with("gatehouse_password_hash_running ")), "{text}");
}
