//! An OpenID Connect client signs a person in who signs in to Gatehouse with a code by
//! email: the ID token's `amr` says `mca`, never `pwd`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::oidc::verified_id_token;
use crate::common::TestApp;
use crate::common::oidc::{REDIRECT_URI, authorize_path, pkce, query_param};

/// The `nth` value after `marker` in the outbox's messages, oldest first; waits up to 20 s.
async fn from_outbox(dir: &std::path::Path, marker: &str, nth: usize) -> String {
    for _ in 0..400 {
        let mut files: Vec<_> = std::fs::read_dir(dir).map(|d| d.flatten().collect()).unwrap_or_default();
        files.sort_by_key(|f| f.metadata().and_then(|m| m.modified()).ok());
        let found: Vec<String> =
            files.iter().filter_map(|f| std::fs::read_to_string(f.path()).ok()).filter(|m| m.contains(marker)).collect();
        if let Some(message) = found.get(nth - 1) {
            let start = message.find(marker).expect("the marker") + marker.len();
            return message[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no message {nth} with {marker}");
}

#[tokio::test]
async fn a_client_signs_in_a_person_who_used_an_email_code_and_the_id_token_says_mca() {
    let mail = tempfile::tempdir().expect("outbox");
    let outbox = mail.path().to_path_buf();
    let app = TestApp::spawn_with(|c| {
        c.mail_outbox = outbox;
        c.mail_poll_interval = 1;
    })
    .await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    assert_eq!(app.post_register("alice", Some("alice@example.com"), crate::common::PASSWORD).await.status(), StatusCode::CREATED);
    let token = from_outbox(mail.path(), "/verify-email?token=", 1).await;
    assert_eq!(app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await.status(), StatusCode::NO_CONTENT);
    let agent = app.agent();
    let (verifier, challenge) = pkce();

    let (_, at_login, _) = agent.follow(&authorize_path(&rp, &challenge, "openid email", &[])).await;
    let return_to = query_param(&at_login, "return_to").expect("the sign-in page returns to the request");
    let asked = agent.submit("/login/email-code", "/login/email-code", &[("email", "alice@example.com"), ("return_to", &return_to)]).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let page = asked.text().await.expect("the code page");
    let code_challenge = from_outbox(mail.path(), "/login/email?challenge=", 1).await;
    let code = from_outbox(mail.path(), "&code=", 1).await;
    let fields = [("challenge", code_challenge.as_str()), ("code", code.as_str()), ("return_to", return_to.as_str())];
    let signed_in = agent.submit_on(&page, "/login/email", &fields).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let back = signed_in.headers()["location"].to_str().expect("location").to_string();
    let (_, landed, _) = agent.follow(&back).await;
    let granted = query_param(&landed, "code").expect("an authorization code");
    let form = [("grant_type", "authorization_code"), ("code", &granted), ("redirect_uri", REDIRECT_URI), ("code_verifier", &verifier)];
    let res = app.token_call("/oauth/token", &rp, &form).await;

    assert_eq!(res.status(), StatusCode::OK);
    let tokens: serde_json::Value = res.json().await.expect("tokens");
    let claims = verified_id_token(&app, tokens["id_token"].as_str().expect("id_token"), &rp.client_id).await;
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["amr"], json!(["mca"]));
}
