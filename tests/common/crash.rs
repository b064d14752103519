//! Crash safety, shared by the SQLite (`tests/crash.rs`) and PostgreSQL
//! (`tests/postgres/crash.rs`) binaries: the real binary is killed with SIGKILL at a random
//! moment while clients register, refresh and write templates; restarted on the same
//! database, it still has everything it had answered 2xx for, and the last refresh token of
//! every session works. [`survives_sigkills`] takes any database URL.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::PASSWORD;

/// Concurrent clients driving the server in each cycle.
const WORKERS: usize = 6;
/// Refresh and template rounds per user before the client registers a new one.
const ROUNDS_PER_USER: usize = 4;

/// What the server has answered 2xx for, and what was in flight when it died.
#[derive(Default)]
struct Ledger {
    /// Registrations answered 201 since the last check.
    new_users: Vec<String>,
    /// Every registration answered 201.
    users: Vec<String>,
    /// The last token pair handed out for each session, by a label.
    sessions: HashMap<String, Tokens>,
    /// Each user's templates by id.
    templates: HashMap<String, HashMap<String, Template>>,
}

#[derive(Clone)]
struct Tokens {
    username: String,
    access: String,
    refresh: String,
}

struct Template {
    name: String,
    /// The content of the last change answered 200 (or of the creation).
    content: String,
    /// A change sent but never answered: it may or may not have been committed.
    in_flight: Option<String>,
}

/// One run of the server binary.
struct Server {
    child: Child,
    endpoint: Arc<Endpoint>,
}

/// Where a run of the server answers, shared with the clients.
struct Endpoint {
    base: String,
    client: reqwest::Client,
}

impl Endpoint {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl Server {
    async fn start(database_url: &str, scratch: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env("GATEHOUSE_DATABASE_URL", database_url)
            .env("GATEHOUSE_BIND", "127.0.0.1:0")
            .env("GATEHOUSE_BREACHED_PASSWORDS", "off")
            .env("GATEHOUSE_LOG", "info")
            .env("GATEHOUSE_LOG_FORMAT", "json")
            // Lost answers to refreshes are the grace window's business: keep it open for
            // the whole test, so that an acknowledged parent is always still good.
            .env("GATEHOUSE_REFRESH_REUSE_GRACE", "300")
            .env("GATEHOUSE_RATE_LIMIT_PER_IP", "0")
            .env("GATEHOUSE_MAIL_OUTBOX", scratch.join("outbox"))
            .current_dir(scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<String>();
        // Reads the log until the listening line, then keeps draining it.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut addr_tx = Some(addr_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on http://".len()..];
                    let addr: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
                    if let Some(tx) = addr_tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(60), addr_rx)
            .await
            .expect("the server says where it listens within 60 s")
            .expect("the server logs its address");
        gatehouse::outbound::install_tls_provider();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
        Self { child, endpoint: Arc::new(Endpoint { base: format!("http://{addr}"), client }) }
    }

    async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL sent");
        self.child.wait().await.expect("the server is reaped");
    }
}

/// Registers, logs in, refreshes and writes templates until the server goes away. A
/// transport error is accepted only once the kill has been decided.
async fn drive(server: Arc<Endpoint>, ledger: Arc<Mutex<Ledger>>, killing: Arc<AtomicBool>, label: String) {
    let gone = |err: reqwest::Error| {
        assert!(killing.load(Ordering::SeqCst), "{label}: request failed before the kill: {err}");
    };
    for n in 0.. {
        let username = format!("{label}n{n}");
        let res =
            server.client.post(server.url("/v1/auth/register")).json(&json!({"username": username, "password": PASSWORD})).send().await;
        let res = match res {
            Ok(res) => res,
            Err(err) => return gone(err),
        };
        assert_eq!(res.status(), StatusCode::CREATED, "register {username}");
        {
            let mut ledger = ledger.lock().expect("ledger");
            ledger.new_users.push(username.clone());
            ledger.users.push(username.clone());
        }
        let res = server.client.post(server.url("/v1/auth/login")).json(&json!({"username": username, "password": PASSWORD})).send().await;
        let pair: Value = match res {
            Ok(res) if res.status() == StatusCode::OK => res.json().await.expect("token pair"),
            Ok(res) => panic!("login {username}: {}", res.status()),
            Err(err) => return gone(err),
        };
        let session = username.clone();
        let mut tokens =
            Tokens { username: username.clone(), access: str_of(&pair, "access_token"), refresh: str_of(&pair, "refresh_token") };
        ledger.lock().expect("ledger").sessions.insert(session.clone(), tokens.clone());

        for round in 0..ROUNDS_PER_USER {
            let res = server.client.post(server.url("/v1/auth/refresh")).json(&json!({"refresh_token": tokens.refresh})).send().await;
            match res {
                Ok(res) if res.status() == StatusCode::OK => {
                    let pair: Value = match res.json().await {
                        Ok(pair) => pair,
                        Err(err) => return gone(err),
                    };
                    tokens.access = str_of(&pair, "access_token");
                    tokens.refresh = str_of(&pair, "refresh_token");
                    ledger.lock().expect("ledger").sessions.insert(session.clone(), tokens.clone());
                }
                Ok(res) => panic!("refresh for {username}: {}", res.status()),
                Err(err) => return gone(err),
            }

            let name = format!("t{round}");
            let res = server
                .client
                .post(server.url("/v1/templates"))
                .bearer_auth(&tokens.access)
                .json(&json!({"name": name, "content": "v0"}))
                .send()
                .await;
            let id = match res {
                Ok(res) if res.status() == StatusCode::CREATED => {
                    let template: Value = match res.json().await {
                        Ok(t) => t,
                        Err(err) => return gone(err),
                    };
                    let id = str_of(&template, "id");
                    let record = Template { name: name.clone(), content: "v0".into(), in_flight: None };
                    ledger.lock().expect("ledger").templates.entry(username.clone()).or_default().insert(id.clone(), record);
                    id
                }
                Ok(res) => panic!("create template for {username}: {}", res.status()),
                Err(err) => return gone(err),
            };

            let content = format!("v1 of {name}");
            if let Some(t) = ledger.lock().expect("ledger").templates.get_mut(&username).and_then(|t| t.get_mut(&id)) {
                t.in_flight = Some(content.clone());
            }
            let res = server
                .client
                .patch(server.url(&format!("/v1/templates/{id}")))
                .bearer_auth(&tokens.access)
                .json(&json!({"content": content}))
                .send()
                .await;
            match res {
                Ok(res) if res.status() == StatusCode::OK => {
                    if let Some(t) = ledger.lock().expect("ledger").templates.get_mut(&username).and_then(|t| t.get_mut(&id)) {
                        t.content = content;
                        t.in_flight = None;
                    }
                }
                Ok(res) => panic!("change template for {username}: {}", res.status()),
                Err(err) => return gone(err),
            }
        }
    }
}

fn str_of(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("{field} in {value}")).to_string()
}

/// After a restart: every user registered since the last check logs in, every session's
/// last refresh token works (and is replaced by its successor), every acknowledged
/// template is listed with acknowledged (or in-flight) content.
async fn check(server: &Endpoint, ledger: &Mutex<Ledger>, cycle: usize) {
    let (new_users, sessions) = {
        let mut ledger = ledger.lock().expect("ledger");
        (std::mem::take(&mut ledger.new_users), ledger.sessions.clone())
    };
    for username in &new_users {
        let res = server.client.post(server.url("/v1/auth/login")).json(&json!({"username": username, "password": PASSWORD})).send().await;
        assert_eq!(res.expect("login sent").status(), StatusCode::OK, "cycle {cycle}: acknowledged user {username} logs in");
    }
    for (label, tokens) in sessions {
        let res = server.client.post(server.url("/v1/auth/refresh")).json(&json!({"refresh_token": tokens.refresh})).send().await;
        let res = res.expect("refresh sent");
        assert_eq!(res.status(), StatusCode::OK, "cycle {cycle}: the last refresh token of {label} works");
        let pair: Value = res.json().await.expect("token pair");
        let fresh =
            Tokens { username: tokens.username.clone(), access: str_of(&pair, "access_token"), refresh: str_of(&pair, "refresh_token") };

        let res = server.client.get(server.url("/v1/templates?per_page=100")).bearer_auth(&fresh.access).send().await.expect("list sent");
        assert_eq!(res.status(), StatusCode::OK, "cycle {cycle}: list templates of {label}");
        let listed: Value = res.json().await.expect("template list");
        let listed: HashMap<String, (String, String)> = listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| (str_of(t, "id"), (str_of(t, "name"), str_of(t, "content"))))
            .collect();
        let mut ledger = ledger.lock().expect("ledger");
        for (id, template) in ledger.templates.get_mut(&tokens.username).into_iter().flatten() {
            let (name, content) = listed.get(id).unwrap_or_else(|| panic!("cycle {cycle}: template {} of {label} is lost", template.name));
            assert_eq!(name, &template.name);
            let in_flight = template.in_flight.take();
            assert!(
                content == &template.content || Some(content) == in_flight.as_ref(),
                "cycle {cycle}: template {} of {label} holds {content:?}, acknowledged {:?}",
                template.name,
                template.content
            );
            template.content = content.clone();
        }
        ledger.sessions.insert(label, fresh);
    }
}

/// Cycles of load, SIGKILL at a random moment, restart on the same database and check.
pub async fn survives_sigkills(database_url: &str, cycles: usize) {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let started = Instant::now();
    let mut server = Server::start(database_url, scratch.path()).await;
    for cycle in 0..cycles {
        let killing = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| tokio::spawn(drive(server.endpoint.clone(), ledger.clone(), killing.clone(), format!("c{cycle}w{w}"))))
            .collect();
        tokio::time::sleep(Duration::from_millis(rand::random_range(200..1500))).await;
        killing.store(true, Ordering::SeqCst);
        server.kill().await;
        for worker in workers {
            worker.await.expect("a worker saw only acknowledged answers or a dead server");
        }

        server = Server::start(database_url, scratch.path()).await;
        check(&server.endpoint, &ledger, cycle).await;
    }

    server.kill().await;

    // Finally, every acknowledged registration of every cycle is in the database.
    let users = ledger.lock().expect("ledger").users.clone();
    let store = gatehouse::store::connect(database_url).await.expect("the store opens");
    let mut present = std::collections::HashSet::new();
    for page in 1.. {
        let query = gatehouse::store::UserQuery { page, per_page: 100, q: None, role: None };
        let items = store.list_users(&query).await.expect("list users").items;
        if items.is_empty() {
            break;
        }
        present.extend(items.into_iter().map(|u| u.username));
    }
    for username in &users {
        assert!(present.contains(username), "{username} survived every crash");
    }
    eprintln!("{cycles} SIGKILL cycles, {} acknowledged registrations kept, in {:?}", users.len(), started.elapsed());
}
