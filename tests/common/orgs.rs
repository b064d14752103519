//! Helpers for organization tests: verified users (their link taken from the outbox), an
//! org made over HTTP, invitation tokens from the outbox, and the active org switch.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::smtp::token_in;
use super::{PASSWORD, TestApp, TestUser};

impl TestApp {
    /// The token of the newest `path` link mailed to `to`, waiting for the mail worker.
    pub async fn mailed_token(&self, to: &str, path: &str) -> String {
        let outbox = self.state.config.mail_outbox.clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&outbox)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let text = std::fs::read_to_string(entry.path()).ok()?;
                    let addressed =
                        text.lines().any(|l| l.to_ascii_lowercase().starts_with("to:") && l.to_lowercase().contains(&to.to_lowercase()));
                    let token = addressed.then(|| token_in(&text, path)).flatten()?;
                    Some((entry.metadata().ok()?.modified().ok()?, token))
                })
                .collect();
            if !found.is_empty() {
                found.sort();
                return found.pop().expect("a token").1;
            }
            assert!(Instant::now() < deadline, "no mail to {to} with a {path} link in the outbox");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Registers `username` with `email`, follows the mailed verification link, and logs in.
    pub async fn mail_verified_user(&self, username: &str, email: &str) -> TestUser {
        let res = self.post_register(username, Some(email), PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {username}");
        let token = self.mailed_token(email, "verify-email").await;
        assert_eq!(self.post("/v1/auth/email/verify", &json!({ "token": token }), None).await.status(), StatusCode::NO_CONTENT);
        self.login(username, PASSWORD).await
    }

    /// Creates an org as `owner`; answers its id.
    pub async fn org(&self, owner: &TestUser, slug: &str) -> String {
        let res = self.post("/v1/orgs", &json!({ "slug": slug, "name": format!("The {slug} org") }), Some(&owner.access)).await;
        assert_eq!(res.status(), StatusCode::CREATED, "create org {slug}");
        let org: Value = res.json().await.expect("org");
        org["id"].as_str().expect("id").to_string()
    }

    /// Invites `email` to the org as `by`, and answers the mailed token.
    pub async fn invite(&self, by: &TestUser, org_id: &str, email: &str, roles: &[&str]) -> String {
        let res = self.post(&format!("/v1/orgs/{org_id}/invitations"), &json!({ "email": email, "roles": roles }), Some(&by.access)).await;
        assert_eq!(res.status(), StatusCode::CREATED, "invite {email}");
        self.mailed_token(email, "invitations/accept").await
    }

    /// `member` accepts the invitation, and the org becomes the active org of their session:
    /// their access token now carries it.
    pub async fn join(&self, member: &mut TestUser, token: &str, org_id: &str) {
        let res = self.post("/v1/invitations/accept", &json!({ "token": token }), Some(&member.access)).await;
        assert_eq!(res.status(), StatusCode::OK, "accept");
        self.switch_org(member, Some(org_id)).await;
    }

    /// Makes `org_id` (or none) the active org of the user's session; keeps the new token.
    pub async fn switch_org(&self, user: &mut TestUser, org_id: Option<&str>) -> Value {
        let res = self.put_json("/v1/auth/session/org", &json!({ "org_id": org_id }), Some(&user.access)).await;
        assert_eq!(res.status(), StatusCode::OK, "switch org");
        let answer: Value = res.json().await.expect("answer");
        user.access = answer["access_token"].as_str().expect("access token").to_string();
        answer
    }

    pub async fn put_json(&self, path: &str, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.put(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }
}
