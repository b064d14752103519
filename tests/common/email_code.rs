//! Sign-in by email code from the outside: ask, read the mail, spend the code.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::smtp::{SmtpServer, token_in};
use super::{PASSWORD, TestApp, TestUser};

impl TestApp {
    /// POST /v1/auth/email-code: the status and the body as text.
    pub async fn request_email_code(&self, email: &str) -> (StatusCode, String) {
        let res = self.post("/v1/auth/email-code", &json!({ "email": email }), None).await;
        (res.status(), res.text().await.expect("body"))
    }

    /// The challenge_id of an accepted request.
    pub async fn email_challenge(&self, email: &str) -> String {
        let (status, body) = self.request_email_code(email).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        body["challenge_id"].as_str().expect("a challenge_id").to_string()
    }

    pub async fn verify_email_code(&self, challenge: &str, code: &str) -> Response {
        self.post("/v1/auth/email-code/verify", &json!({ "challenge_id": challenge, "code": code }), None).await
    }

    /// Registers `username` with `username@example.com`, follows the verification link
    /// mailed to it and logs in.
    pub async fn verified_user(&self, smtp: &SmtpServer, username: &str) -> TestUser {
        let address = format!("{username}@example.com");
        let res = self.post_register(username, Some(&address), PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let mail = mail_to(smtp, &address, "verify-email?token=", 1).await;
        let token = token_in(&mail, "verify-email").expect("a verification link");
        let res = self.post("/v1/auth/email/verify", &json!({ "token": token }), None).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        self.login(username, PASSWORD).await
    }
}

/// The text of the `nth` mail to `to` holding `marker`, as it arrived (the plain part is
/// 8bit, so its links read whole; quoted-printable decoding would mangle their `=`);
/// panics after 20 s.
pub async fn mail_to(smtp: &SmtpServer, to: &str, marker: &str, nth: usize) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<String> = smtp
            .received()
            .await
            .iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .map(|m| m.data.clone())
            .filter(|text| text.contains(marker))
            .collect();
        if let Some(text) = found.get(nth - 1) {
            return text.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no mail {nth} to {to} with {marker}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The mails to `to` that hold a sign-in code, after a pause for stragglers.
pub async fn code_mails_to(smtp: &SmtpServer, to: &str) -> usize {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    smtp.received().await.iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.data.contains("/login/email?")).count()
}

/// The `nth` code mailed to `to`: its challenge and its code, read from the link.
pub async fn code_for(smtp: &SmtpServer, to: &str, nth: usize) -> (String, String) {
    let text = mail_to(smtp, to, "/login/email?", nth).await;
    let start = text.find("/login/email?").expect("a link") + "/login/email?".len();
    let query: String = text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | '&' | '-')).collect();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{name} in {query}"))
    };
    let code = param("code");
    assert!(text.contains(&format!("{}-{}", &code[..5], &code[5..])), "the mail shows the code in two groups");
    (param("challenge"), code)
}
