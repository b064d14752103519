//! The test harness: a real server on port 0 with a fresh database, spoken to over HTTP.
//!
//! Each test binary names its store with `pub const STORE: StoreKind` at its root; the
//! shared suite under `tests/suite/` runs once per store binary (`tests/sqlite.rs`, ...).
#![allow(dead_code)]

pub mod admin;
pub mod browser;
pub mod crash;
pub mod email_code;
pub mod live;
pub mod mfa;
pub mod oidc;
pub mod orgs;
pub mod passkeys;
pub mod postgres;
pub mod pwned;
pub mod smtp;
pub mod upstream;
pub mod webhook_crash;
pub mod webhooks;

use std::net::SocketAddr;

use gatehouse::app::{AppState, Application};
use gatehouse::config::Config;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";

/// The database a test binary runs its servers on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    /// A fresh database on the binary's shared PostgreSQL server (see `common::postgres`).
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub database_url: String,
    /// The `iss` of this server's tokens.
    pub issuer: String,
    /// The running server's state, to reach into it (reload the signing keys, say).
    pub state: AppState,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A registered user with a live session.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server on a fresh database of this binary's store, after `adjust` has
    /// changed the settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match crate::STORE {
            StoreKind::Sqlite => format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
            StoreKind::Postgres => postgres::shared().create_database().await,
        };
        Self::spawn_in(dir, &database_url, adjust).await
    }

    /// Starts a server on an existing database (another instance's, a copied one, ...).
    pub async fn spawn_on(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_in(tempfile::tempdir().expect("temp dir"), database_url, adjust).await
    }

    /// `dir` lives as long as the server: it may hold the database.
    async fn spawn_in(dir: tempfile::TempDir, database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_database(database_url);
        config.bind = "127.0.0.1:0".parse().expect("address");
        // Mail of tests without an SMTP server lands beside the database, not in the repo.
        config.mail_outbox = dir.path().join("outbox");
        // No test reaches the internet: the breached-password tests turn a local source on.
        config.signin.breached_passwords = gatehouse::config::signin::BreachSource::Off;
        // The key sealing upstream providers' secrets, beside the database too.
        config.secrets_key_file = dir.path().join("secrets.key");
        adjust(&mut config);
        Self::start(config, dir).await
    }

    /// A second instance behind the same load balancer: `other`'s database and issuer.
    pub async fn spawn_sharing(other: &TestApp, adjust: impl FnOnce(&mut Config)) -> Self {
        let issuer = other.issuer.clone();
        Self::spawn_on(&other.database_url, |config| {
            config.issuer = Some(issuer);
            adjust(config);
        })
        .await
    }

    async fn start(mut config: Config, dir: tempfile::TempDir) -> Self {
        let database_url = config.database_url.clone();
        // The tests reach the server by its address: name it in the public URL (a server
        // of its own would say `localhost`), unless the test chose a URL.
        let listener = tokio::net::TcpListener::bind(config.bind).await.expect("a port");
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{}", listener.local_addr().expect("address")));
        }
        let app = Application::build_on(config, listener).await.expect("the server starts");
        let issuer = app.state().config.issuer();
        let addr = app.local_addr();
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });
        Self {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            database_url,
            issuer,
            state,
            _dir: dir,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn patch(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.patch(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.delete(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post_register(&self, username: &str, email: Option<&str>, password: &str) -> Response {
        let mut body = json!({ "username": username, "password": password });
        if let Some(email) = email {
            body["email"] = json!(email);
        }
        self.post("/v1/auth/register", &body, None).await
    }

    pub async fn post_login(&self, username: &str, password: &str) -> Response {
        self.post("/v1/auth/login", &json!({ "username": username, "password": password }), None).await
    }

    pub async fn post_refresh(&self, refresh_token: &str) -> Response {
        self.post("/v1/auth/refresh", &json!({ "refresh_token": refresh_token }), None).await
    }

    pub async fn get_me(&self, token: &str) -> Response {
        self.get("/v1/auth/me", Some(token)).await
    }

    /// Registers `username` with the standard password and logs in.
    pub async fn user(&self, username: &str) -> TestUser {
        let res = self.post_register(username, None, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {username}: {}", res.text().await.unwrap_or_default());
        self.login(username, PASSWORD).await
    }

    pub async fn login(&self, username: &str, password: &str) -> TestUser {
        let res = self.post_login(username, password).await;
        assert_eq!(res.status(), StatusCode::OK, "login {username}");
        let pair: Value = res.json().await.expect("token pair");
        TestUser {
            id: pair["user"]["id"].as_str().expect("id").to_string(),
            username: username.to_string(),
            password: password.to_string(),
            access: pair["access_token"].as_str().expect("access token").to_string(),
            refresh: pair["refresh_token"].as_str().expect("refresh token").to_string(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Reads a problem document and checks its status, content type and code.
pub async fn assert_problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(content_type, "application/problem+json", "content type");
    let body: Value = res.json().await.expect("problem JSON");
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status.as_u16(), "status in {body}");
    assert!(body["detail"].is_string(), "detail in {body}");
    body
}
