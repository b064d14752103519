//! No account enumeration through POST /v1/auth/password/forgot: the same status and body,
//! and the same time, for an account that exists (and gets a mail) and one that does not.
//! A test binary of its own, so that no other test shares the two cores while measuring.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use common::{PASSWORD, TestApp};

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;

const ROUNDS: usize = 100;
/// A measurement disturbed by a neighbour on the shared machine is taken again, up to this
/// many times; a real difference shows in every one.
const ATTEMPTS: usize = 3;
/// The medians may differ by this fraction at most.
const MARGIN: f64 = 0.10;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn within(a: Duration, b: Duration) -> bool {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    high.as_secs_f64() <= low.as_secs_f64() * (1.0 + MARGIN)
}

#[tokio::test]
async fn forgot_password_takes_the_same_time_and_answers_the_same_for_existing_and_unknown_accounts() {
    let outbox = tempfile::tempdir().expect("outbox");
    let path = outbox.path().to_path_buf();
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_ip = 0;
        c.mail_outbox = path;
    })
    .await;
    let res = app.post_register("victim", Some("victim@example.com"), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let timed = |username: &'static str| {
        let request = app.client.post(app.url("/v1/auth/password/forgot")).json(&serde_json::json!({ "username": username }));
        async move {
            let start = Instant::now();
            let res = request.send().await.expect("request sent");
            let status = res.status();
            let body = res.text().await.expect("body");
            (start.elapsed(), status, body)
        }
    };
    for _ in 0..5 {
        timed("victim").await;
        timed("no-such-user").await;
    }

    let mut answers = std::collections::HashSet::new();
    let mut measured = Vec::new();
    for _ in 0..ATTEMPTS {
        let (mut unknown, mut known) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
        for round in 0..ROUNDS {
            // Both at once, the first alternating, so that load falls on both series alike.
            let ((t_unknown, s_unknown, b_unknown), (t_known, s_known, b_known)) = if round % 2 == 0 {
                tokio::join!(timed("no-such-user"), timed("victim"))
            } else {
                let (known, unknown) = tokio::join!(timed("victim"), timed("no-such-user"));
                (unknown, known)
            };
            answers.insert((s_unknown, b_unknown));
            answers.insert((s_known, b_known));
            unknown.push(t_unknown);
            known.push(t_known);
        }
        let (unknown, known) = (median(unknown), median(known));
        println!("median forgot-password time over {ROUNDS} attempts: unknown account {unknown:?}, existing account {known:?}");
        measured.push((unknown, known));
        if within(unknown, known) {
            break;
        }
    }

    assert_eq!(answers.len(), 1, "one status and body for both: {answers:?}");
    assert_eq!(answers.iter().next().expect("an answer").0, StatusCode::ACCEPTED);
    assert!(
        measured.iter().any(|(a, b)| within(*a, *b)),
        "medians differ by more than {}% in every measurement (unknown, existing): {measured:?}",
        MARGIN * 100.0
    );
}
