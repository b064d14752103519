//! No account enumeration through POST /v1/auth/email-code: the same status and body
//! shape, and the same time, for a verified address (which gets a code) and an address no
//! account holds. A test binary of its own, so that no other test shares the cores while
//! measuring.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use common::smtp::SmtpServer;
use common::{TestApp, email_code::code_for};

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
async fn asking_for_a_code_takes_the_same_time_and_answers_alike_for_a_verified_address_and_an_unknown_one() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |c| {
        c.rate_limit_per_ip = 0;
        c.signin.email_code_per_hour = 0;
    })
    .await;
    app.verified_user(&smtp, "victim").await;
    let timed = |email: &'static str| {
        let request = app.client.post(app.url("/v1/auth/email-code")).json(&json!({ "email": email }));
        async move {
            let start = Instant::now();
            let res = request.send().await.expect("request sent");
            let status = res.status();
            let body: serde_json::Value = res.json().await.expect("JSON");
            let keys: Vec<String> = body.as_object().expect("an object").keys().cloned().collect();
            (start.elapsed(), status, keys)
        }
    };
    for _ in 0..5 {
        timed("victim@example.com").await;
        timed("nobody@example.com").await;
    }

    let mut answers = std::collections::HashSet::new();
    let mut measured = Vec::new();
    for _ in 0..ATTEMPTS {
        let (mut unknown, mut known) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
        for round in 0..ROUNDS {
            let ((t_unknown, s_unknown, k_unknown), (t_known, s_known, k_known)) = if round % 2 == 0 {
                tokio::join!(timed("nobody@example.com"), timed("victim@example.com"))
            } else {
                let (known, unknown) = tokio::join!(timed("victim@example.com"), timed("nobody@example.com"));
                (unknown, known)
            };
            answers.insert((s_unknown, k_unknown));
            answers.insert((s_known, k_known));
            unknown.push(t_unknown);
            known.push(t_known);
        }
        let (unknown, known) = (median(unknown), median(known));
        println!("median email-code request time over {ROUNDS} attempts: unknown address {unknown:?}, verified address {known:?}");
        measured.push((unknown, known));
        if within(unknown, known) {
            break;
        }
    }

    assert_eq!(answers.len(), 1, "one status and body shape for both: {answers:?}");
    assert_eq!(answers.iter().next().expect("an answer").0, StatusCode::ACCEPTED);
    assert!(
        measured.iter().any(|(a, b)| within(*a, *b)),
        "medians differ by more than {}% in every measurement (unknown, verified): {measured:?}",
        MARGIN * 100.0
    );
    // The verified address did get its codes.
    code_for(&smtp, "victim@example.com", 1).await;
}
