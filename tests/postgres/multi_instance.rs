//! Two Gatehouse instances on one PostgreSQL database, as behind a load balancer: they
//! must behave as one service (tokens, refresh reuse, logout, key rotation, the per-account
//! failed-login count).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, assert_problem};

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT header");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON header");
    header["kid"].as_str().expect("kid").to_string()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.expect("JWKS");
    jwks["keys"].as_array().expect("keys").iter().filter_map(|k| k["kid"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn an_access_token_issued_by_one_instance_is_accepted_by_another() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_sharing(&a, |_| {}).await;
    let alice = a.user("alice").await;

    let res = b.get_me(&alice.access).await;

    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("user");
    assert_eq!(me["id"], alice.id);
    assert_eq!(jwks_kids(&a).await, jwks_kids(&b).await, "both instances publish the same keys");
}

#[tokio::test]
async fn reuse_on_one_instance_of_a_token_rotated_on_another_is_detected() {
    let a = TestApp::spawn_with(|c| c.refresh_reuse_grace = 1).await;
    let b = TestApp::spawn_sharing(&a, |c| c.refresh_reuse_grace = 1).await;
    let alice = a.user("alice").await;

    let res = b.post_refresh(&alice.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.expect("pair");
    let successor = rotated["refresh_token"].as_str().expect("refresh token").to_string();

    // Inside the grace window, the other instance hands out the very same successor.
    let res = a.post_refresh(&alice.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.expect("pair");
    assert_eq!(again["refresh_token"], successor.as_str());

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let res = a.post_refresh(&alice.refresh).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "token_reused").await;

    // The whole session is gone, on both instances.
    assert_problem(b.post_refresh(&successor).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let access_b = rotated["access_token"].as_str().expect("access token");
    assert_problem(a.get_me(access_b).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn logout_on_one_instance_ends_the_session_on_the_other() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_sharing(&a, |_| {}).await;
    let alice = a.user("alice").await;
    assert_eq!(a.get_me(&alice.access).await.status(), StatusCode::OK);

    let res = b.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_problem(a.get_me(&alice.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(a.post_refresh(&alice.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_key_rotated_through_the_cli_reaches_every_instance_without_a_restart() {
    let a = TestApp::spawn_with(|c| c.key_reload_interval = 1).await;
    let b = TestApp::spawn_sharing(&a, |c| c.key_reload_interval = 1).await;
    let alice = a.user("alice").await;
    let old_kid = kid_of(&alice.access);

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["keys", "rotate"])
        .env("GATEHOUSE_DATABASE_URL", &a.database_url)
        .env_remove("GATEHOUSE_JWT_SECRET")
        .output()
        .await
        .expect("run gatehouse keys rotate");
    assert!(out.status.success(), "keys rotate: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let new_kid = stdout.split_whitespace().nth(3).expect("the new kid").trim_end_matches(';').to_string();
    assert_ne!(new_kid, old_kid);

    // Each instance picks the key up on its next reload (1 s here, 20 s by default).
    let deadline = Instant::now() + Duration::from_secs(15);
    for app in [&a, &b] {
        while !jwks_kids(app).await.contains(&new_kid) {
            assert!(Instant::now() < deadline, "an instance never published the new key");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let kids = jwks_kids(app).await;
        assert!(kids.contains(&old_kid), "old key still in the JWKS while its tokens live: {kids:?}");
    }

    let from_a = a.login("alice", &alice.password).await;
    let from_b = b.login("alice", &alice.password).await;
    assert_eq!(kid_of(&from_a.access), new_kid);
    assert_eq!(kid_of(&from_b.access), new_kid);
    assert_eq!(b.get_me(&from_a.access).await.status(), StatusCode::OK);
    assert_eq!(a.get_me(&from_b.access).await.status(), StatusCode::OK);
    assert_eq!(b.get_me(&alice.access).await.status(), StatusCode::OK, "tokens of the old key still verify");
}

#[tokio::test]
async fn the_failed_login_count_of_an_account_is_shared_by_every_instance() {
    const MAX_FAILURES: u32 = 4;
    const WRONG: &str = "not the password at all";
    // No per-address limit: only the per-account count may answer 429 here.
    let limits = |c: &mut gatehouse::config::Config| {
        c.login_max_failures = MAX_FAILURES;
        c.rate_limit_per_ip = 0;
    };
    let a = TestApp::spawn_with(limits).await;
    let b = TestApp::spawn_sharing(&a, limits).await;
    a.user("alice").await;

    // Wrong passwords alternated between the instances: neither sees the limit alone.
    for n in 0..MAX_FAILURES {
        let app = if n % 2 == 0 { &a } else { &b };
        assert_problem(app.post_login("alice", WRONG).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    for app in [&a, &b] {
        assert_problem(app.post_login("alice", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        assert_problem(app.post_login("alice", WRONG).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
}
