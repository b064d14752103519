//! A relying party for the OpenID Connect tests: a browser stand-in (cookies kept, no
//! redirect followed) that signs in through the pages' forms, and the client's calls.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::{PASSWORD, TestApp, TestUser};

pub const REDIRECT_URI: &str = "https://rp.example.com/callback";
pub const LOGOUT_URI: &str = "https://rp.example.com/signed-out";

/// A registered client.
#[derive(Debug, Clone)]
pub struct Rp {
    pub client_id: String,
    pub secret: Option<String>,
}

/// A browser: its cookies, and every redirect left for the test to look at.
pub struct Agent {
    pub http: reqwest::Client,
    base: String,
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The value of `name` in a URL's query.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[start..].split('"').next().expect("the token").to_string()
}

impl TestApp {
    /// Registers a client through the admin API; `extra` is merged into the request.
    pub async fn register_rp(&self, admin: &TestUser, public: bool, extra: Value) -> Rp {
        let mut body = json!({
            "name": "Relying party",
            "redirect_uris": [REDIRECT_URI],
            "post_logout_redirect_uris": [LOGOUT_URI],
            "public": public,
            "scopes": ["openid", "profile", "email", "offline_access"],
        });
        for (key, value) in extra.as_object().expect("an object").iter() {
            body[key] = value.clone();
        }
        let res = self.post("/v1/clients", &body, Some(&admin.access)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let created: Value = res.json().await.expect("client");
        Rp {
            client_id: created["client_id"].as_str().expect("client_id").to_string(),
            secret: created["client_secret"].as_str().map(str::to_string),
        }
    }

    pub fn agent(&self) -> Agent {
        let http = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Agent { http, base: self.base.clone() }
    }

    /// POSTs a form to the token endpoint (or revoke, introspect) as `rp`, by
    /// `client_secret_basic` when it has a secret.
    pub async fn token_call(&self, path: &str, rp: &Rp, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.client.post(self.url(path));
        match &rp.secret {
            Some(secret) => req = req.basic_auth(&rp.client_id, Some(secret)),
            None => fields.push(("client_id", &rp.client_id)),
        }
        req.form(&fields).send().await.expect("token endpoint")
    }
}

impl Agent {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{}", self.base, path) }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("page")
    }

    /// Follows same-origin redirects and answers the first that leaves (or the last page).
    pub async fn follow(&self, path: &str) -> (StatusCode, String, String) {
        let mut at = self.url(path);
        for _ in 0..10 {
            let res = self.http.get(&at).send().await.expect("page");
            let status = res.status();
            let Some(location) = res.headers().get("location").map(|l| l.to_str().expect("location").to_string()) else {
                return (status, at, res.text().await.unwrap_or_default());
            };
            let next = Url::parse(&at).expect("url").join(&location).expect("location").to_string();
            if !next.starts_with(&self.base) {
                return (status, next, String::new());
            }
            at = next;
        }
        panic!("too many redirects from {path}");
    }

    /// Fills and sends a form of the page at `page`: `fields` plus its CSRF token. Answers
    /// the response (not followed).
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let html = self.get(page).await.text().await.expect("page");
        self.submit_on(&html, action, fields).await
    }

    pub async fn submit_on(&self, html: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = csrf_of(html);
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        self.http.post(self.url(action)).form(&form).send().await.expect("form sent")
    }

    /// Signs in through the sign-in page with the standard password.
    pub async fn sign_in(&self, username: &str) {
        let res = self.submit("/login", "/login", &[("username", username), ("password", PASSWORD), ("return_to", "")]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in as {username}");
    }
}

/// An authorization request's path for `rp` with PKCE, `state` and `nonce`; `extra` adds
/// or replaces parameters.
pub fn authorize_path(rp: &Rp, challenge: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &rp.client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        params.retain(|(n, _)| n != name);
        params.push((name, value));
    }
    format!("/oauth/authorize?{}", serde_urlencoded::to_string(&params).expect("query"))
}

impl TestApp {
    /// `agent` (signed in) runs an authorization request of `rp` (which must need no
    /// consent) and exchanges the code: the token response.
    pub async fn granted_tokens(&self, agent: &Agent, rp: &Rp, scope: &str) -> Value {
        let (verifier, challenge) = pkce();
        let (_, landed, _) = agent.follow(&authorize_path(rp, &challenge, scope, &[])).await;
        let code = query_param(&landed, "code").expect("a code");
        let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT_URI), ("code_verifier", &verifier)];
        let res = self.token_call("/oauth/token", rp, &form).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("tokens")
    }
}
