//! Upstream providers for the "Sign in with ..." tests: Node's oidc-provider (an OpenID
//! certified provider, tests/oidc/upstream_provider.mjs) on loopback, a stand-in for
//! GitHub's documented OAuth and API endpoints, and a browser that follows a sign-in
//! across both servers.
//!
//! oidc-provider comes from `target/oidc-upstream` (what .ci/run installs with npm), or
//! GATEHOUSE_OIDC_UPSTREAM_MODULES. Without it (or node) a test says so loudly and skips;
//! under CI=true that is a failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use super::oidc::Agent;
use super::{PASSWORD, TestApp, TestUser};

pub const CLIENT_ID: &str = "gatehouse-at-corp";
pub const CLIENT_SECRET: &str = "corp-secret-of-the-test-client";
/// The only client secret the GitHub stand-in takes.
pub const GITHUB_SECRET: &str = "gh-secret";

fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("GATEHOUSE_OIDC_UPSTREAM_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oidc-upstream/node_modules"));
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if node && dir.join("oidc-provider").is_dir() {
        return Some(dir);
    }
    assert!(std::env::var("CI").is_err(), "CI=true: node and oidc-provider in {} are required (.ci/run installs them)", dir.display());
    eprintln!("\n*** SKIPPED: no node or no oidc-provider in {}; `npm install oidc-provider@9` there ***\n", dir.display());
    None
}

/// oidc-provider running for one test; stopped when dropped.
pub struct Idp {
    pub issuer: String,
    child: Child,
    http: reqwest::Client,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// Starts the provider with one client whose redirect URI is `app`'s callback for `slug`.
    pub async fn start(app: &TestApp, slug: &str) -> Option<Self> {
        let modules = node_modules()?;
        let mut child = Command::new("node")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/upstream_provider.mjs"))
            .env("NODE_MODULES", &modules)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", app.state.upstream.callback_url(slug))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("stdout");
        // Read to the end, so that what the provider prints later never meets a closed pipe.
        let (issuer_tx, issuer_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut issuer_tx = Some(issuer_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = serde_json::from_str::<Value>(&line).ok().and_then(|v| v["issuer"].as_str().map(str::to_string))
                    && let Some(tx) = issuer_tx.take()
                {
                    let _ = tx.send(issuer);
                }
            }
        });
        let issuer = issuer_rx.await.expect("the provider printed its issuer");
        Some(Self { issuer, child, http: reqwest::Client::new() })
    }

    async fn control(&self, what: &str, body: Value) {
        let res = self.http.post(format!("{}/_test/{what}", self.issuer)).json(&body).send().await.expect("control");
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "control {what}");
    }

    /// The account the next sign-in at the provider is: `{sub, email, email_verified, ...}`.
    pub async fn next_login(&self, account: Value) {
        self.control("login", account).await;
    }

    /// `None`, `aud`, `nonce` or `signature`: how the ID tokens from now on lie.
    pub async fn tamper(&self, mode: Option<&str>) {
        self.control("tamper", json!({ "mode": mode })).await;
    }

    /// A new signing key signs from now on.
    pub async fn rotate_keys(&self) {
        self.control("rotate", json!({})).await;
    }
}

impl TestApp {
    /// Adds a provider through the admin API; `body` is the request.
    pub async fn add_provider(&self, admin: &TestUser, body: Value) -> Value {
        let res = self.post("/v1/providers", &body, Some(&admin.access)).await;
        let status = res.status();
        let answer: Value = res.json().await.expect("JSON");
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer
    }

    /// Adds `idp` as provider `corp`.
    pub async fn add_corp(&self, admin: &TestUser, idp: &Idp) -> Value {
        let body = json!({ "slug": "corp", "name": "Corp", "kind": "oidc", "issuer": idp.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET });
        self.add_provider(admin, body).await
    }

    /// A user by username, through the admin API.
    pub async fn user_named(&self, admin: &TestUser, username: &str) -> Option<Value> {
        let res = self.get_query("/v1/users", &[("q", username)], Some(&admin.access)).await;
        let list: Value = res.json().await.expect("list");
        list["items"].as_array().expect("items").iter().find(|u| u["username"] == username).cloned()
    }

    pub async fn identities_of(&self, admin: &TestUser, user_id: &str) -> Vec<Value> {
        let res = self.get(&format!("/v1/users/{user_id}/identities"), Some(&admin.access)).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.expect("list")["items"].as_array().expect("items").clone()
    }

    /// Registers `username` with `email` and verifies the address (as its mailed link would).
    pub async fn verified_user_at(&self, username: &str, email: &str) -> TestUser {
        let res = self.post_register(username, Some(email), PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let user = self.login(username, PASSWORD).await;
        let token = format!("verify{}", uuid::Uuid::now_v7().simple());
        let store = self.store().await;
        let id: uuid::Uuid = user.id.parse().expect("uuid");
        let hash = gatehouse::auth::refresh::hash(&token);
        let new = gatehouse::store::NewEmailToken {
            token_hash: hash,
            user_id: id,
            purpose: gatehouse::store::TokenPurpose::VerifyEmail,
            email_key: email.to_lowercase(),
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        };
        let mail = gatehouse::store::NewMail {
            id: uuid::Uuid::now_v7(),
            sender: "t@localhost".into(),
            recipient: email.into(),
            message: b"x".to_vec(),
        };
        store.create_email_token(new, mail).await.expect("token");
        let res = self.post("/v1/auth/email/verify", &json!({ "token": token }), None).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        user
    }
}

/// The last response of a browser that follows every redirect from `start`, on any
/// server, unless `stop` says to stop at a URL first (then that URL, not fetched).
pub async fn browse(agent: &Agent, start: &str, stop: impl Fn(&str) -> bool) -> (StatusCode, String, String) {
    let mut at = agent.url(start);
    for _ in 0..20 {
        if stop(&at) {
            return (StatusCode::FOUND, at, String::new());
        }
        let res = agent.http.get(&at).send().await.expect("page");
        let status = res.status();
        let Some(location) = res.headers().get("location").map(|l| l.to_str().expect("location").to_string()) else {
            return (status, at, res.text().await.unwrap_or_default());
        };
        at = Url::parse(&at).expect("url").join(&location).expect("location").to_string();
    }
    panic!("too many redirects from {start}");
}

/// "Continue with" provider `slug` on `app`'s pages, to the end.
pub async fn continue_with(agent: &Agent, slug: &str) -> (StatusCode, String, String) {
    browse(agent, &format!("/login/{slug}?return_to=%2Faccount"), |_| false).await
}

/// What the GitHub stand-in answers next.
#[derive(Clone, Default)]
pub struct GithubUser {
    pub id: u64,
    pub login: String,
    pub emails: Vec<(String, bool, bool)>,
}

#[derive(Clone, Default)]
struct Github {
    next: Arc<Mutex<GithubUser>>,
}

/// A stand-in for GitHub at `base`: /login/oauth/authorize approves at once and returns
/// to the redirect URI with a code and the state; /login/oauth/access_token, /user and
/// /user/emails answer GitHub's documented JSON.
pub struct GithubStandIn {
    pub base: String,
    next: Arc<Mutex<GithubUser>>,
}

impl GithubStandIn {
    pub async fn start() -> Self {
        let github = Github::default();
        let next = github.next.clone();
        let app = Router::new()
            .route("/login/oauth/authorize", get(gh_authorize))
            .route("/login/oauth/access_token", post(gh_token))
            .route("/user", get(gh_user))
            .route("/user/emails", get(gh_emails))
            .with_state(github);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { base, next }
    }

    /// Adds this stand-in to `app` as provider `github`.
    pub async fn add_to(&self, app: &TestApp, admin: &TestUser) {
        let body = json!({
            "slug": "github", "name": "GitHub", "kind": "github", "client_id": "Iv1.test", "client_secret": GITHUB_SECRET,
            "authorization_endpoint": format!("{}/login/oauth/authorize", self.base),
            "token_endpoint": format!("{}/login/oauth/access_token", self.base),
            "api_base": self.base,
        });
        app.add_provider(admin, body).await;
    }

    pub fn next_login(&self, user: GithubUser) {
        *self.next.lock().expect("lock") = user;
    }
}

async fn gh_authorize(Query(q): Query<std::collections::HashMap<String, String>>) -> impl IntoResponse {
    assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"), "PKCE is sent");
    let redirect = q.get("redirect_uri").expect("redirect_uri");
    let state = q.get("state").expect("state");
    Redirect::to(&format!("{redirect}?code=gh-code-1&state={state}"))
}

async fn gh_token(Form(form): Form<std::collections::HashMap<String, String>>) -> Json<Value> {
    let secret_ok = form.get("client_secret").map(String::as_str) == Some(GITHUB_SECRET);
    if form.get("code").map(String::as_str) != Some("gh-code-1") || !secret_ok || !form.contains_key("code_verifier") {
        return Json(json!({ "error": "bad_verification_code" }));
    }
    Json(json!({ "access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email" }))
}

async fn gh_user(State(gh): State<Github>) -> Json<Value> {
    let user = gh.next.lock().expect("lock").clone();
    Json(json!({ "login": user.login, "id": user.id, "name": null, "email": null, "type": "User" }))
}

async fn gh_emails(State(gh): State<Github>) -> Json<Value> {
    let user = gh.next.lock().expect("lock").clone();
    let list: Vec<Value> = user
        .emails
        .iter()
        .map(|(email, primary, verified)| json!({ "email": email, "primary": primary, "verified": verified, "visibility": null }))
        .collect();
    Json(json!(list))
}
