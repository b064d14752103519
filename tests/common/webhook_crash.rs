//! Webhooks across a SIGKILL, shared by the SQLite (`tests/crash.rs`) and PostgreSQL
//! (`tests/postgres/crash.rs`) binaries: the real binary is killed while clients register
//! (each registration queues `user.created`) and while the endpoint hangs with attempts in
//! flight; restarted on the same database, every registration it answered 201 for is
//! delivered, none is invented, and a change that rolled back never is.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::PASSWORD;
use super::webhooks::Receiver;

struct Process {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Process {
    async fn start(database_url: &str, scratch: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env("GATEHOUSE_DATABASE_URL", database_url)
            .env("GATEHOUSE_BIND", "127.0.0.1:0")
            .env("GATEHOUSE_LOG_FORMAT", "json")
            .env("GATEHOUSE_RATE_LIMIT_PER_IP", "0")
            .env("GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE", "true")
            .env("GATEHOUSE_MAIL_OUTBOX", scratch.join("outbox"))
            .current_dir(scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on http://".len()..];
                    let addr: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(60), rx).await.expect("listening within 60 s").expect("an address");
        gatehouse::outbound::install_tls_provider();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
        Self { child, base: format!("http://{addr}"), client }
    }

    async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> reqwest::Result<reqwest::Response> {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await
    }

    async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL sent");
        self.child.wait().await.expect("reaped");
    }
}

pub async fn events_survive_a_sigkill(database_url: &str) {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let receiver = Receiver::start().await;
    let mut server = Process::start(database_url, scratch.path()).await;
    let res = server.post("/v1/auth/register", &json!({ "username": "root", "password": PASSWORD }), None).await.expect("register");
    let root: Value = res.json().await.expect("user");
    let store = gatehouse::store::connect(database_url).await.expect("store");
    let root_id = uuid::Uuid::parse_str(root["id"].as_str().expect("id")).expect("uuid");
    let patch = gatehouse::store::UserPatch { roles: Some(vec!["admin".into(), "user".into()]), ..Default::default() };
    store.update_user(root_id, patch).await.expect("admin");
    let pair: Value = server
        .post("/v1/auth/login", &json!({ "username": "root", "password": PASSWORD }), None)
        .await
        .expect("login")
        .json()
        .await
        .expect("pair");
    let token = pair["access_token"].as_str().expect("token").to_string();
    let hook = json!({ "url": receiver.url(), "events": ["user.created", "user.roles_changed"] });
    assert_eq!(server.post("/v1/webhooks", &hook, Some(&token)).await.expect("webhook").status(), StatusCode::CREATED);

    // The endpoint hangs: attempts are in flight when the process dies.
    receiver.hang();
    // A change that rolls back: the only admin cannot step down.
    let res = server
        .client
        .patch(format!("{}/v1/users/{root_id}", server.base))
        .bearer_auth(&token)
        .json(&json!({ "roles": ["user"] }))
        .send()
        .await;
    assert_eq!(res.expect("patch").status(), StatusCode::CONFLICT);

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut drivers = Vec::new();
    for worker in 0..4 {
        let (acknowledged, client, base) = (acknowledged.clone(), server.client.clone(), server.base.clone());
        drivers.push(tokio::spawn(async move {
            for n in 0.. {
                let username = format!("w{worker}n{n}");
                let sent = client
                    .post(format!("{base}/v1/auth/register"))
                    .json(&json!({ "username": username, "password": PASSWORD }))
                    .send()
                    .await;
                match sent {
                    Ok(res) if res.status() == StatusCode::CREATED => acknowledged.lock().expect("lock").push(username),
                    Ok(res) => panic!("register {username}: {}", res.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.kill().await;
    for driver in drivers {
        driver.await.expect("a driver ends when the server is gone");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 4, "some registrations were answered before the kill: {acknowledged:?}");

    let restarted_at = Instant::now();
    receiver.answer();
    let mut server = Process::start(database_url, scratch.path()).await;
    // Attempts cut off by the kill come back once their lease (30 s) runs out.
    let delivered = |received: &[super::webhooks::Received]| -> Vec<String> {
        received
            .iter()
            .filter(|d| d.arrived >= restarted_at && d.status == 200 && d.kind() == "user.created")
            .map(|d| d.json()["data"]["username"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let received = receiver
        .wait_for(Duration::from_secs(75), |r| {
            let names = delivered(r);
            acknowledged.iter().all(|a| names.contains(a))
        })
        .await;
    let names = delivered(&received);
    let missing: Vec<&String> = acknowledged.iter().filter(|a| !names.contains(a)).collect();
    assert!(missing.is_empty(), "every acknowledged registration is delivered after the restart; missing {missing:?}");
    for delivery in received.iter().filter(|d| d.kind() == "user.created") {
        let id = uuid::Uuid::parse_str(delivery.json()["data"]["id"].as_str().expect("id")).expect("uuid");
        assert!(store.user_by_id(id).await.expect("read").is_some(), "nothing invented: {} exists", delivery.body);
    }
    assert!(received.iter().all(|d| d.kind() != "user.roles_changed"), "no event for the change that rolled back");
    server.kill().await;
}
