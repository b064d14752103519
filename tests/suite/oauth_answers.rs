//! What the OpenID Connect routes hand back to a client: `state` exactly as sent (RFC 6749
//! §4.1.2), and every `error_description` in the characters §4.1.2.1 and §5.2 allow.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::common::oidc::{REDIRECT_URI, Rp, authorize_path, pkce, query_param};

/// %x20-21 / %x23-5B / %x5D-7E: printable ASCII but `"` and `\`.
fn allowed(description: &str) -> bool {
    description.chars().all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E'))
}

/// A `state` of `chars` characters with what a client may put in one: spaces, quotes,
/// reserved and non-ASCII characters.
fn long_state(chars: usize) -> String {
    "a \"q\" &=?#/+%é☃".chars().cycle().take(chars).collect()
}

#[tokio::test]
async fn a_state_of_2048_characters_comes_back_whole_with_a_code_or_an_error_and_a_longer_one_gets_a_page() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({ "first_party": true })).await;
    app.user("alice").await;
    let (_, challenge) = pkce();
    let state = long_state(2048);
    let path = authorize_path(&rp, &challenge, "openid", &[("state", &state)]);

    let (_, refused, _) = app.agent().follow(&authorize_path(&rp, &challenge, "openid", &[("state", &state), ("prompt", "none")])).await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (_, granted, _) = agent.follow(&path).await;
    let too_long = agent.get(&authorize_path(&rp, &challenge, "openid", &[("state", &long_state(2049))])).await;

    assert_eq!(query_param(&refused, "error").as_deref(), Some("login_required"), "{refused}");
    assert_eq!(query_param(&refused, "state"), Some(state.clone()), "exactly as sent with an error");
    assert!(query_param(&granted, "code").is_some(), "{granted}");
    assert_eq!(query_param(&granted, "state"), Some(state), "exactly as sent with a code");
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    assert!(too_long.headers().get("location").is_none(), "a page, never a redirect carrying it cut");
    assert!(too_long.text().await.expect("page").contains("longer than 2048 characters"));
}

#[tokio::test]
async fn every_error_description_of_the_authorization_endpoint_keeps_to_the_characters_rfc_6749_allows() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({})).await;
    let (_, challenge) = pkce();
    let long = "n".repeat(513);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("prompt", "bogus")],
        vec![("prompt", "\"quoted\" \\back\\ é\u{7f}")],
        vec![("prompt", "none login")],
        vec![("response_type", "token")],
        vec![("response_type", "")],
        vec![("response_mode", "fragment")],
        vec![("request", "x")],
        vec![("request_uri", "https://x.example/r")],
        vec![("registration", "{\"a\":1}")],
        vec![("scope", "profile")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge", "short\"")],
        vec![("max_age", "\"soon\"")],
        vec![("nonce", &long)],
        vec![("login_hint", &long)],
        vec![("prompt", "none")],
    ];

    for extra in cases {
        let (_, landed, _) = app.agent().follow(&authorize_path(&rp, &challenge, "openid", &extra)).await;
        assert!(landed.starts_with(REDIRECT_URI), "{extra:?}: {landed}");
        let description = query_param(&landed, "error_description").unwrap_or_else(|| panic!("{extra:?}: {landed}"));
        assert!(allowed(&description), "{extra:?}: {description:?}");
    }
}

#[tokio::test]
async fn every_error_description_of_the_token_userinfo_revocation_and_introspection_endpoints_keeps_to_the_allowed_characters() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let public = app.register_rp(&admin, true, json!({})).await;
    let confidential = app.register_rp(&admin, false, json!({})).await;
    let stranger = Rp { client_id: "gh_\"nobody\"".into(), secret: Some("é\"".into()) };
    let code = [("grant_type", "authorization_code"), ("code", "\"x\""), ("redirect_uri", REDIRECT_URI), ("code_verifier", "v")];
    let mut answers = vec![
        app.token_call("/oauth/token", &confidential, &[("grant_type", "\"implicit\"")]).await,
        app.token_call("/oauth/token", &confidential, &[]).await,
        app.token_call("/oauth/token", &confidential, &code).await,
        app.token_call("/oauth/token", &public, &code).await,
        app.token_call("/oauth/token", &stranger, &code).await,
        app.token_call("/oauth/token", &confidential, &[("grant_type", "refresh_token"), ("refresh_token", "\"r\"")]).await,
        app.token_call("/oauth/token", &public, &[("grant_type", "client_credentials")]).await,
        app.token_call("/oauth/introspect", &public, &[("token", "t")]).await,
        app.token_call("/oauth/revoke", &stranger, &[("token", "t")]).await,
        app.client.post(app.url("/oauth/token")).body("grant_type=x").send().await.expect("sent"),
        app.client.post(app.url("/oauth/token")).form(&[("grant_type", "x"), ("grant_type", "y")]).send().await.expect("sent"),
        app.client.post(app.url("/oauth/token")).header("authorization", "Basic \"x\"").form(&[("a", "b")]).send().await.expect("sent"),
        app.get("/oauth/userinfo", Some("\"x\"")).await,
        app.get("/oauth/userinfo", None).await,
    ];

    for (i, res) in answers.drain(..).enumerate() {
        assert!(res.status().is_client_error(), "answer {i}: {}", res.status());
        let body: Value = res.json().await.unwrap_or_else(|e| panic!("answer {i}: {e}"));
        let description = body["error_description"].as_str().unwrap_or_else(|| panic!("answer {i}: {body}"));
        assert!(allowed(description), "answer {i}: {description:?}");
    }
}
