//! Per-address limit on the unauthenticated /v1/auth routes (GATEHOUSE_RATE_LIMIT_PER_IP)
//! and the client address behind a trusted proxy (GATEHOUSE_TRUSTED_PROXY_HEADER).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_problem};

async fn refresh_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/v1/auth/refresh")).json(&json!({ "refresh_token": "not-a-token" }));
    if let Some(value) = forwarded_for {
        req = req.header("x-forwarded-for", value);
    }
    req.send().await.expect("request sent")
}

#[tokio::test]
async fn the_open_auth_routes_answer_429_with_retry_after_past_the_per_address_limit() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 3).await;

    assert_eq!(app.post_login("someone", "whatever password").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.post_register("x", None, "short").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refresh_from(&app, None).await.status(), StatusCode::UNAUTHORIZED);

    let res = app.post_login("someone", "whatever password").await;

    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(refresh_from(&app, None).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn other_routes_are_not_counted_against_the_per_address_limit() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 2).await;
    let user = app.user("ivan").await; // register + login: the whole allowance

    for _ in 0..5 {
        assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
        assert_eq!(app.get_me(&user.access).await.status(), StatusCode::OK);
    }
    assert_eq!(refresh_from(&app, None).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn zero_turns_the_per_address_limit_off() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 0).await;

    for _ in 0..40 {
        assert_eq!(refresh_from(&app, None).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_without_a_trusted_proxy_setting() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 2).await;

    assert_eq!(refresh_from(&app, Some("198.51.100.1")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refresh_from(&app, Some("198.51.100.2")).await.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(refresh_from(&app, Some("198.51.100.3")).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_forwarded_address_is_limited() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_ip = 2;
        c.trusted_proxy_header = Some("x-forwarded-for".parse().expect("header name"));
    })
    .await;

    // The client can prepend anything; only the entry the proxy appended counts.
    assert_eq!(refresh_from(&app, Some("1.1.1.1, 203.0.113.5")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refresh_from(&app, Some("2.2.2.2, 203.0.113.5")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refresh_from(&app, Some("3.3.3.3, 203.0.113.5")).await.status(), StatusCode::TOO_MANY_REQUESTS);

    assert_eq!(refresh_from(&app, Some("203.0.113.6")).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_session_ip_is_the_client_address_from_the_trusted_proxy_header() {
    let app = TestApp::spawn_with(|c| c.trusted_proxy_header = Some("x-forwarded-for".parse().expect("header name"))).await;
    assert_eq!(app.post_register("judy", None, crate::common::PASSWORD).await.status(), StatusCode::CREATED);

    let res = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", "10.9.9.9, 203.0.113.77")
        .json(&json!({ "username": "judy", "password": crate::common::PASSWORD }))
        .send()
        .await
        .expect("sent");
    let pair: Value = res.json().await.expect("token pair");
    let sessions: Value = app.get("/v1/auth/sessions", pair["access_token"].as_str()).await.json().await.expect("json");

    assert_eq!(sessions["items"][0]["ip"], "203.0.113.77");
}

#[tokio::test]
async fn without_a_trusted_proxy_the_session_ip_is_the_socket_address() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_register("kim", None, crate::common::PASSWORD).await.status(), StatusCode::CREATED);

    let res = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.77")
        .json(&json!({ "username": "kim", "password": crate::common::PASSWORD }))
        .send()
        .await
        .expect("sent");
    let pair: Value = res.json().await.expect("token pair");
    let sessions: Value = app.get("/v1/auth/sessions", pair["access_token"].as_str()).await.json().await.expect("json");

    assert_eq!(sessions["items"][0]["ip"], "127.0.0.1");
}
