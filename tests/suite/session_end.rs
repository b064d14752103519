//! An access token never outlives its session: `exp` is at most the session's absolute end
//! (GATEHOUSE_REFRESH_TTL after the login), at login, refresh, grace reuse and the MFA step,
//! and `expires_in` says the same.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::mfa::code_at;
use crate::common::{PASSWORD, TestApp};

const SESSION_SECS: u64 = 60;

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).expect("a JWS in compact form");
    serde_json::from_slice(&B64.decode(payload).expect("base64url")).expect("claims JSON")
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Checks one token pair against the session's end, `session_end` (unix seconds).
async fn assert_bounded(res: reqwest::Response, session_end: i64) -> Value {
    assert_eq!(res.status(), StatusCode::OK, "a token pair");
    let pair: Value = res.json().await.expect("token pair");
    let claims = claims(pair["access_token"].as_str().expect("access token"));
    let (iat, exp) = (claims["iat"].as_i64().expect("iat"), claims["exp"].as_i64().expect("exp"));
    assert!(exp <= session_end, "exp {exp} is past the session's end {session_end}");
    assert!(exp > iat, "exp {exp} after iat {iat}");
    assert_eq!(pair["expires_in"].as_i64().expect("expires_in"), exp - iat, "expires_in matches exp");
    pair
}

#[tokio::test]
async fn an_access_token_never_outlives_its_session_at_login_refresh_and_grace_reuse() {
    let app = TestApp::spawn_with(|c| c.refresh_ttl = SESSION_SECS).await;
    assert_eq!(app.post_register("alice", None, PASSWORD).await.status(), StatusCode::CREATED);
    let before_login = unix_now();

    let login = assert_bounded(app.post_login("alice", PASSWORD).await, before_login + 1 + SESSION_SECS as i64).await;
    let session_end = before_login + 1 + SESSION_SECS as i64;
    let first = login["refresh_token"].as_str().expect("refresh token");
    let rotated = assert_bounded(app.post_refresh(first).await, session_end).await;
    // Inside the grace window the parent answers with the session's current token.
    let again = assert_bounded(app.post_refresh(first).await, session_end).await;

    assert_eq!(again["refresh_token"], rotated["refresh_token"]);
    assert!(login["expires_in"].as_u64().expect("expires_in") <= SESSION_SECS);
}

#[tokio::test]
async fn an_access_token_from_the_second_factor_step_never_outlives_its_session() {
    let app = TestApp::spawn_with(|c| c.refresh_ttl = SESSION_SECS).await;
    let bob = app.mfa_user("bob").await;
    let token = app.mfa_token("bob").await;
    let before_login = unix_now();

    let res = app.post_login_mfa(&token, &code_at(&bob.secret, bob.t)).await;

    let pair = assert_bounded(res, before_login + 1 + SESSION_SECS as i64).await;
    assert!(pair["expires_in"].as_u64().expect("expires_in") <= SESSION_SECS);
}
