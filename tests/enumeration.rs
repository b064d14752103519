//! No account enumeration by message, status or time. A test binary of its own, so that no
//! other test of the suite shares the two cores while the medians are measured.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use common::TestApp;

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;

const ROUNDS: usize = 200;
/// The machines are shared and noisy: a measurement disturbed by a neighbour is taken again,
/// up to this many times; a real difference shows in every one.
const ATTEMPTS: usize = 3;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_take_the_same_time_and_get_the_same_body() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 1_000_000;
        c.rate_limit_per_ip = 0;
    })
    .await;
    app.user("victim").await;
    let wrong = "definitely not the password";
    // Warm up both paths (connection, dummy hash, caches) before measuring.
    for _ in 0..5 {
        app.post_login("victim", wrong).await;
        app.post_login("no-such-user", wrong).await;
    }

    let mut bodies = std::collections::HashSet::new();
    let mut measured = Vec::new();
    for _ in 0..ATTEMPTS {
        let mut unknown = Vec::with_capacity(ROUNDS);
        let mut known = Vec::with_capacity(ROUNDS);
        // Each round sends both at the same moment, so that the load of the (shared) machine
        // falls on both series alike.
        let timed = |username: &'static str| {
            let request = app.client.post(app.url("/v1/auth/login")).json(&serde_json::json!({ "username": username, "password": wrong }));
            async move {
                let start = Instant::now();
                let res = request.send().await.expect("request sent");
                let status = res.status();
                let body = res.text().await.expect("body");
                (start.elapsed(), status, body)
            }
        };
        for round in 0..ROUNDS {
            // Which one goes out first alternates, so that neither always wins the database lock.
            let ((t_unknown, s_unknown, b_unknown), (t_known, s_known, b_known)) = if round % 2 == 0 {
                tokio::join!(timed("no-such-user"), timed("victim"))
            } else {
                let (known, unknown) = tokio::join!(timed("victim"), timed("no-such-user"));
                (unknown, known)
            };
            assert_eq!((s_unknown, s_known), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
            bodies.insert(b_unknown);
            bodies.insert(b_known);
            unknown.push(t_unknown);
            known.push(t_known);
        }

        let (unknown, known) = (median(unknown), median(known));
        println!("median login time over {ROUNDS} attempts: unknown user {unknown:?}, wrong password {known:?}");
        measured.push((unknown, known));
        let (low, high) = if unknown < known { (unknown, known) } else { (known, unknown) };
        if high.as_secs_f64() <= low.as_secs_f64() * 1.10 {
            break;
        }
    }

    assert_eq!(bodies.len(), 1, "one body for both: {bodies:?}");
    let within = measured.iter().any(|(a, b)| {
        let (low, high) = if a < b { (a, b) } else { (b, a) };
        high.as_secs_f64() <= low.as_secs_f64() * 1.10
    });
    assert!(within, "medians differ by more than 10% in every measurement (unknown user, wrong password): {measured:?}");
}
