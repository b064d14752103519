//! /metrics: the counters move for each outcome, requests are labelled by route template,
//! and GATEHOUSE_METRICS_BIND moves or turns off the route. Every server of this test
//! process records into one recorder, so tests compare values before and after.

use gatehouse::config::MetricsBind;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::common::{PASSWORD, TestApp};

async fn scrape_url(client: &reqwest::Client, url: &str) -> String {
    let res = client.get(url).send().await.expect("metrics request");
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"].to_str().expect("content type").to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    res.text().await.expect("metrics text")
}

async fn scrape(app: &TestApp) -> String {
    scrape_url(&app.client, &app.url("/metrics")).await
}

/// The sum of the series of `name` whose labels include every one of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))).then(|| number.parse::<f64>().ok())?
        })
        .sum()
}

#[tokio::test]
async fn logins_are_counted_by_outcome_success_invalid_credentials_and_disabled() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let before = scrape(&app).await;

    app.login("alice", PASSWORD).await;
    assert_eq!(app.post_login("alice", "wrong password here").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.post_login("nobody", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let patch = gatehouse::store::UserPatch { disabled: Some(true), ..Default::default() };
    app.store().await.update_user(alice.id.parse().expect("id"), patch).await.expect("disabled");
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::FORBIDDEN);

    let after = scrape(&app).await;
    let delta = |outcome| {
        value(&after, "gatehouse_logins_total", &[("outcome", outcome)]) - value(&before, "gatehouse_logins_total", &[("outcome", outcome)])
    };
    assert!(delta("success") >= 1.0, "success");
    assert!(delta("invalid_credentials") >= 2.0, "invalid_credentials");
    assert!(delta("disabled") >= 1.0, "disabled");
}

#[tokio::test]
async fn refreshes_are_counted_as_rotated_and_as_grace_reuse() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let before = scrape(&app).await;

    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::OK);
    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::OK);

    let after = scrape(&app).await;
    let delta = |outcome| {
        value(&after, "gatehouse_refreshes_total", &[("outcome", outcome)])
            - value(&before, "gatehouse_refreshes_total", &[("outcome", outcome)])
    };
    assert!(delta("rotated") >= 1.0, "rotated");
    assert!(delta("grace_reuse") >= 1.0, "grace_reuse");
}

#[tokio::test]
async fn a_detected_refresh_token_reuse_is_counted() {
    let app = TestApp::spawn_with(|c| c.refresh_reuse_grace = 0).await;
    let alice = app.user("alice").await;
    let before = scrape(&app).await;

    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::OK);
    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::UNAUTHORIZED);

    let after = scrape(&app).await;
    let name = "gatehouse_refreshes_total";
    assert!(value(&after, name, &[("outcome", "reuse_detected")]) - value(&before, name, &[("outcome", "reuse_detected")]) >= 1.0);
}

#[tokio::test]
async fn registrations_are_counted() {
    let app = TestApp::spawn().await;
    let before = value(&scrape(&app).await, "gatehouse_registrations_total", &[]);

    app.post_register("alice", None, PASSWORD).await;
    app.post_register("bob", None, PASSWORD).await;

    let after = value(&scrape(&app).await, "gatehouse_registrations_total", &[]);
    assert!(after - before >= 2.0, "{before} -> {after}");
}

#[tokio::test]
async fn requests_are_counted_by_route_template_never_by_raw_path() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let id = Uuid::now_v7().to_string();
    let labels = [("route", "/v1/users/{id}"), ("method", "GET"), ("status", "404")];
    let before = scrape(&app).await;

    assert_eq!(app.get(&format!("/v1/users/{id}"), Some(&admin.access)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/no/such/route/at/all", None).await.status(), StatusCode::NOT_FOUND);

    let after = scrape(&app).await;
    assert!(value(&after, "gatehouse_http_requests_total", &labels) - value(&before, "gatehouse_http_requests_total", &labels) >= 1.0);
    assert!(value(&after, "gatehouse_http_request_duration_seconds_count", &labels) >= 1.0, "latency histogram");
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(
        value(&after, "gatehouse_http_requests_total", &unmatched) - value(&before, "gatehouse_http_requests_total", &unmatched) >= 1.0
    );
    assert!(!after.contains(&id), "the raw path never becomes a label");
    assert!(!after.contains("/no/such/route"), "the raw path never becomes a label");
}

#[tokio::test]
async fn password_hashing_time_waiting_hashes_and_pool_connections_are_exposed() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;

    app.user("alice").await;

    let after = scrape(&app).await;
    let name = "gatehouse_password_hash_duration_seconds_count";
    assert!(value(&after, name, &[("op", "hash")]) - value(&before, name, &[("op", "hash")]) >= 1.0, "hash");
    assert!(value(&after, name, &[("op", "verify")]) - value(&before, name, &[("op", "verify")]) >= 1.0, "verify");
    assert!(after.lines().any(|l| l.starts_with("gatehouse_password_hash_waiting ")), "waiting gauge");
    assert!(after.contains("gatehouse_db_connections{state=\"in_use\"}"), "pool gauge");
    assert!(after.contains("gatehouse_db_connections{state=\"idle\"}"), "pool gauge");
}

#[tokio::test]
async fn rate_limit_hits_are_counted_by_kind() {
    let app = TestApp::spawn().await;
    let before = value(&scrape(&app).await, "gatehouse_rate_limited_total", &[("kind", "test_kind")]);

    gatehouse::metrics::rate_limited("test_kind");

    let after = value(&scrape(&app).await, "gatehouse_rate_limited_total", &[("kind", "test_kind")]);
    assert!(after - before >= 1.0);
}

/// A port free a moment ago, for a listener the harness does not report.
fn free_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

#[tokio::test]
async fn metrics_bind_serves_metrics_on_their_own_address_and_not_on_the_public_one() {
    let metrics_at = free_port();
    let app = TestApp::spawn_with(|c| c.metrics_bind = Some(MetricsBind::Separate(metrics_at))).await;

    let text = scrape_url(&app.client, &format!("http://{metrics_at}/metrics")).await;
    let public = app.get("/metrics", None).await;

    assert!(text.contains("gatehouse_db_connections"), "{text}");
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_bind_off_serves_no_metrics() {
    let app = TestApp::spawn_with(|c| c.metrics_bind = Some(MetricsBind::Off)).await;

    let res = app.get("/metrics", None).await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_are_served_on_the_public_address_by_default() {
    let app = TestApp::spawn().await;
    app.post("/v1/auth/login", &json!({"username": "x", "password": "y"}), None).await;

    let text = scrape(&app).await;

    assert!(text.contains("# TYPE gatehouse_http_requests_total counter"), "{text}");
    assert!(text.contains("# TYPE gatehouse_http_request_duration_seconds histogram"), "{text}");
}

#[tokio::test]
async fn mail_deliveries_are_counted_as_retried_then_sent() {
    let smtp = crate::common::smtp::SmtpServer::start().await;
    smtp.refuse(true);
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let before = scrape(&app).await;

    assert_eq!(app.post_register("alice", Some("alice@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    smtp.refuse(false);
    smtp.wait_for(1, std::time::Duration::from_secs(20)).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let after = scrape(&app).await;
    for outcome in ["retry", "sent"] {
        let moved = value(&after, "gatehouse_mails_total", &[("outcome", outcome)])
            - value(&before, "gatehouse_mails_total", &[("outcome", outcome)]);
        assert!(moved >= 1.0, "{outcome}: {moved}");
    }
}

/// The method labels /metrics may hold: the standard methods, then `other`.
const KNOWN_METHODS: [&str; 10] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other"];

#[tokio::test]
async fn invented_http_methods_add_no_series_to_metrics() {
    let app = TestApp::spawn().await;
    // Only the series of the routes used here: other tests of this process add their own.
    let ours = |text: &str| text.lines().filter(|l| l.contains("route=\"/health\"") || l.contains("route=\"unmatched\"")).count();
    let before = ours(&scrape(&app).await);

    for i in 0..40 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).expect("method");
        for path in ["/health", "/no/such/route"] {
            let res = app.client.request(method.clone(), app.url(path)).send().await.expect("request sent");
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }
    }

    let after = scrape(&app).await;
    assert!(!after.contains("INVENTED"), "an invented method became a label");
    for line in after.lines().filter(|l| !l.starts_with('#')) {
        if let Some((_, rest)) = line.split_once("method=\"") {
            let method = rest.split('"').next().unwrap_or_default();
            assert!(KNOWN_METHODS.contains(&method), "{line}");
        }
    }
    // One series (a counter and its latency histogram, 17 lines) per route and status at
    // most; 80 invented methods used to add 80 of them.
    let grown = ours(&after).saturating_sub(before);
    assert!(grown <= 10 * 17, "{grown} lines added");
}
