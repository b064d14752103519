//! Helpers for admin tests: make an admin through the library, read token claims.

use base64::Engine;
use gatehouse::store::{self, DynStore, UserPatch};
use reqwest::Response;
use serde_json::Value;
use uuid::Uuid;

use super::{PASSWORD, TestApp, TestUser};

impl TestApp {
    /// A second handle on the server's database, through the library's store.
    pub async fn store(&self) -> DynStore {
        store::connect(&self.database_url).await.expect("the test store opens")
    }

    /// Replaces a user's roles straight in the database (`user` is the caller's to include).
    pub async fn set_roles(&self, user_id: &str, roles: &[&str]) {
        let id = Uuid::parse_str(user_id).expect("user id");
        let patch = UserPatch { roles: Some(roles.iter().map(|r| r.to_string()).collect()), ..UserPatch::default() };
        self.store().await.update_user(id, patch).await.expect("roles set");
    }

    /// Registers `username`, gives it the admin role, and logs in again so that its token
    /// carries the role.
    pub async fn admin(&self, username: &str) -> TestUser {
        let user = self.user(username).await;
        self.set_roles(&user.id, &["admin", "user"]).await;
        self.login(username, PASSWORD).await
    }

    /// GET with query parameters encoded by the client.
    pub async fn get_query(&self, path: &str, query: &[(&str, &str)], token: Option<&str>) -> Response {
        let url = reqwest::Url::parse_with_params(&self.url(path), query).expect("URL");
        let mut req = self.client.get(url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }
}

/// The claims of a JWT, read without verifying it.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The `roles` claim of an access token.
pub fn token_roles(token: &str) -> Vec<String> {
    let claims = claims(token);
    claims["roles"].as_array().expect("roles claim").iter().map(|r| r.as_str().expect("role").to_string()).collect()
}

impl TestApp {
    /// A server with GATEHOUSE_REGISTRATION `mode` and its admin `root`, made through a
    /// first, open instance on the same database (returned too: it holds the database).
    /// `adjust` applies to both, so that either's mail worker sends the same way.
    pub async fn restricted(
        mode: gatehouse::config::RegistrationMode,
        adjust: impl Fn(&mut gatehouse::config::Config),
    ) -> (TestApp, TestApp, TestUser) {
        let open = TestApp::spawn_with(&adjust).await;
        let root = open.admin("root").await;
        let app = TestApp::spawn_sharing(&open, |c| {
            c.registration = mode;
            adjust(c);
        })
        .await;
        (open, app, root)
    }
}
