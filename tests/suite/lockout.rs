//! Per-account failed-login limit and lockout (GATEHOUSE_LOGIN_MAX_FAILURES / _LOCKOUT).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestApp, assert_problem};

const WRONG: &str = "not the password at all";

async fn spawn_with_limit(max_failures: u32, lockout_secs: u64) -> TestApp {
    TestApp::spawn_with(|c| {
        c.login_max_failures = max_failures;
        c.login_lockout = lockout_secs;
    })
    .await
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("a Retry-After header in seconds")
}

#[tokio::test]
async fn failures_up_to_the_limit_answer_401_then_even_the_right_password_answers_429() {
    let app = spawn_with_limit(3, 900).await;
    app.user("alice").await;

    // Case does not matter: the count is per normalised login name.
    for name in ["alice", "ALICE", "Alice"] {
        assert_problem(app.post_login(name, WRONG).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let locked = app.post_login("alice", PASSWORD).await;

    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&locked);
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    assert_problem(locked, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("alice", WRONG).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_completed_login_resets_the_failure_count() {
    let app = spawn_with_limit(3, 900).await;
    app.user("bob").await;

    for _ in 0..2 {
        assert_eq!(app.post_login("bob", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.post_login("bob", PASSWORD).await.status(), StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(app.post_login("bob", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }

    assert_eq!(app.post_login("bob", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_usernames_are_locked_exactly_like_real_ones() {
    let app = spawn_with_limit(2, 900).await;
    app.user("carol").await;

    let mut real = Vec::new();
    let mut ghost = Vec::new();
    for _ in 0..4 {
        let res = app.post_login("carol", WRONG).await;
        real.push((res.status(), res.headers().get("retry-after").is_some(), res.text().await.expect("body")));
        let res = app.post_login("nobody-here", WRONG).await;
        ghost.push((res.status(), res.headers().get("retry-after").is_some(), res.text().await.expect("body")));
    }

    let statuses: Vec<StatusCode> = real.iter().map(|r| r.0).collect();
    assert_eq!(
        statuses,
        [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS]
    );
    for (r, g) in real.iter().zip(&ghost) {
        assert_eq!((r.0, r.1), (g.0, g.1));
        if r.0 == StatusCode::UNAUTHORIZED {
            assert_eq!(r.2, g.2, "same body for a known and an unknown name");
        }
    }
}

#[tokio::test]
async fn fifty_parallel_wrong_passwords_let_at_most_the_limit_reach_a_password_check() {
    let app = spawn_with_limit(5, 900).await;
    app.user("dave").await;

    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = app.client.post(app.url("/v1/auth/login")).json(&json!({ "username": "dave", "password": WRONG }));
        attempts.spawn(async move { request.send().await.expect("request sent").status() });
    }
    let statuses: Vec<StatusCode> = attempts.join_all().await;

    let unauthorized = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(unauthorized + limited, 50, "only 401 and 429: {statuses:?}");
    assert!(unauthorized <= 5, "{unauthorized} attempts reached a password check");
    assert_eq!(unauthorized, 5, "every reservation under the limit was used");
    assert_eq!(app.post_login("dave", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_lock_ends_after_the_lockout_period() {
    let app = spawn_with_limit(2, 1).await;
    app.user("erin").await;
    for _ in 0..2 {
        assert_eq!(app.post_login("erin", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.post_login("erin", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);

    tokio::time::sleep(Duration::from_millis(1200)).await;

    assert_eq!(app.post_login("erin", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_count_is_shared_by_every_instance_on_the_database() {
    let first = spawn_with_limit(2, 900).await;
    first.user("frank").await;
    let database_url = first.database_url.clone();
    let second = TestApp::spawn_with(|c| {
        c.database_url = database_url;
        c.login_max_failures = 2;
    })
    .await;

    assert_eq!(first.post_login("frank", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(second.post_login("frank", WRONG).await.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(first.post_login("frank", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.post_login("frank", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_wrong_current_password_on_password_change_counts_toward_the_login_lockout() {
    let app = spawn_with_limit(2, 900).await;
    let user = app.user("grace").await;
    let change = |current: &str| json!({ "current_password": current, "new_password": "an entirely new passphrase" });

    for _ in 0..2 {
        let res = app.post("/v1/auth/password", &change(WRONG), Some(&user.access)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    let res = app.post("/v1/auth/password", &change(PASSWORD), Some(&user.access)).await;
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("grace", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_right_current_password_does_not_add_up_toward_the_lockout() {
    let app = spawn_with_limit(2, 900).await;
    let user = app.user("heidi").await;
    let passwords = ["first new passphrase 1", "second new passphrase 2", "third new passphrase 3"];
    let mut current = PASSWORD.to_string();
    for next in passwords {
        let body = json!({ "current_password": current, "new_password": next });
        assert_eq!(app.post("/v1/auth/password", &body, Some(&user.access)).await.status(), StatusCode::NO_CONTENT);
        current = next.to_string();
    }

    assert_eq!(app.post_login("heidi", &current).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_address_is_locked_under_one_key_whichever_spelling_of_its_domain_is_typed() {
    let app = spawn_with_limit(2, 900).await;

    for spelling in ["anna@Bücher.example", "ANNA@bücher.EXAMPLE"] {
        assert_problem(app.post_login(spelling, WRONG).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    // The lookup keys an address by its ASCII domain; the count does the same.
    assert_problem(app.post_login("anna@xn--bcher-kva.example", WRONG).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
