//! Parallel wrong passwords against the login lockout (GATEHOUSE_LOGIN_MAX_FAILURES): at
//! most the limit is ever checked, every other attempt answers 429 with `Retry-After`, and
//! the lock holds against the right password too.
//!
//! Not yet listed in `tests/suite/mod.rs`: the lockout settings come with the security
//! branch. Once merged, add `mod lockout_race;` there (and rename the config fields below
//! if they differ).

use std::sync::Arc;

use reqwest::StatusCode;

use crate::common::{PASSWORD, TestApp, assert_problem};

const LIMIT: u32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_wrong_passwords_get_at_most_the_limit_checked() {
    let app = Arc::new(
        TestApp::spawn_with(|c| {
            c.login_max_failures = LIMIT;
            c.rate_limit_per_ip = 0;
        })
        .await,
    );
    app.user("target").await;

    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.post_login("target", &format!("wrong password {i}")).await })
        })
        .collect();
    let (mut checked, mut locked) = (0, 0);
    for task in tasks {
        let res = task.await.expect("task");
        match res.status() {
            StatusCode::UNAUTHORIZED => {
                assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
                checked += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.headers().contains_key("retry-after"), "429 carries Retry-After");
                assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
                locked += 1;
            }
            other => panic!("a wrong password answered {other}"),
        }
    }

    assert!(checked <= LIMIT, "{checked} wrong passwords were checked, the limit is {LIMIT}");
    assert_eq!(checked + locked, 40);
    let res = app.post_login("target", PASSWORD).await;
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
