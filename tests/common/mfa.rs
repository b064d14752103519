//! Helpers for TOTP tests: codes computed from the secret that setup returned, and a user
//! with TOTP on.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::{PASSWORD, TestApp, TestUser};

/// The 6-digit code of `secret` (base32) at `unix` seconds.
pub fn code_at(secret: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
    let totp = totp_rs::Builder::new().with_secret(secret).build().expect("a valid TOTP");
    totp.generate(unix).to_string()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

/// Now, after waiting out the end of the current 30-second step when less than 8 seconds of
/// it are left: codes for steps `t - 30`, `t` and `t + 30` then stay acceptable (±1 step) for
/// the next seconds of the test.
pub async fn fresh_step() -> u64 {
    let now = unix_now();
    let left = 30 - now % 30;
    if left < 8 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
    unix_now()
}

/// A user with TOTP on, its secret and recovery codes, and the time `t` whose step `t - 30`
/// the confirmation used up: codes of `t` and `t + 30` are still unused.
pub struct MfaUser {
    pub user: TestUser,
    pub secret: String,
    pub recovery_codes: Vec<String>,
    pub t: u64,
}

impl TestApp {
    pub async fn delete_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.delete(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// POST /v1/auth/mfa/totp/setup; the answer's JSON.
    pub async fn setup_totp(&self, access: &str) -> Value {
        let res = self.post("/v1/auth/mfa/totp/setup", &json!({}), Some(access)).await;
        assert_eq!(res.status(), StatusCode::OK, "setup");
        res.json().await.expect("setup JSON")
    }

    pub async fn confirm_totp(&self, access: &str, code: &str) -> Response {
        self.post("/v1/auth/mfa/totp/confirm", &json!({ "code": code }), Some(access)).await
    }

    pub async fn post_login_mfa(&self, mfa_token: &str, code: &str) -> Response {
        self.post("/v1/auth/login/mfa", &json!({ "mfa_token": mfa_token, "code": code }), None).await
    }

    /// Logs in with the password of a user with TOTP on: the mfa_token of `mfa_required`.
    pub async fn mfa_token(&self, username: &str) -> String {
        let res = self.post_login(username, PASSWORD).await;
        let body = super::assert_problem(res, StatusCode::UNAUTHORIZED, "mfa_required").await;
        body["mfa_token"].as_str().expect("an mfa_token").to_string()
    }

    /// Registers `username`, sets TOTP up and confirms it with the code of step `t - 30`.
    pub async fn mfa_user(&self, username: &str) -> MfaUser {
        let user = self.user(username).await;
        let secret = self.setup_totp(&user.access).await["secret"].as_str().expect("secret").to_string();
        let t = fresh_step().await;
        let res = self.confirm_totp(&user.access, &code_at(&secret, t - 30)).await;
        assert_eq!(res.status(), StatusCode::OK, "confirm");
        let body: Value = res.json().await.expect("recovery codes");
        let recovery_codes =
            body["recovery_codes"].as_array().expect("codes").iter().map(|c| c.as_str().expect("code").to_string()).collect();
        MfaUser { user, secret, recovery_codes, t }
    }
}
