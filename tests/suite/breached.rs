//! Breached passwords: refused when chosen (registration, change, reset), flagged at login;
//! looked up in a local corpus in the downloader's layout, or over the range API by
//! k-anonymity, which fails open after 2 s.

use std::time::{Duration, Instant};

use gatehouse::config::signin::BreachSource;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::pwned::{RangeApi, split_sha1, write_corpus};
use crate::common::smtp::{SmtpServer, nth_token};
use crate::common::{PASSWORD, TestApp, assert_problem};

/// Strong enough for the password rules, and in the test corpora.
const BREACHED: &str = "purple elephants juggle quietly 42";
const REFUSAL: &str = "this password has appeared in a data breach; choose another";

fn refused_on(body: &Value, field: &str) -> bool {
    body["errors"].as_array().is_some_and(|errors| errors.iter().any(|e| e["field"] == field && e["message"] == REFUSAL))
}

#[tokio::test]
async fn a_password_in_the_local_corpus_is_refused_at_registration_change_and_reset() {
    let corpus = tempfile::tempdir().expect("corpus");
    write_corpus(corpus.path(), &[BREACHED]);
    let smtp = SmtpServer::start().await;
    let path = corpus.path().to_path_buf();
    let app = TestApp::spawn_with_smtp(&smtp, |c| c.signin.breached_passwords = BreachSource::File(path)).await;

    let body =
        assert_problem(app.post_register("alice", None, BREACHED).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(refused_on(&body, "password"), "{body}");
    let res = app.post_register("alice", Some("alice@example.com"), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let alice = app.login("alice", PASSWORD).await;

    let change = json!({ "current_password": PASSWORD, "new_password": BREACHED });
    let res = app.post("/v1/auth/password", &change, Some(&alice.access)).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(refused_on(&body, "new_password"), "{body}");

    app.post("/v1/auth/password/forgot", &json!({ "username": "alice" }), None).await;
    let (_, token) = nth_token(&smtp, 2, "reset-password").await;
    let res = app.post("/v1/auth/password/reset", &json!({ "token": token, "new_password": BREACHED }), None).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(refused_on(&body, "new_password"), "{body}");
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::OK, "the password stays as it was");
}

#[tokio::test]
async fn a_login_with_a_password_now_known_breached_works_and_is_flagged_until_it_is_changed() {
    let corpus = tempfile::tempdir().expect("corpus");
    let path = corpus.path().to_path_buf();
    let app = TestApp::spawn_with(|c| c.signin.breached_passwords = BreachSource::File(path)).await;
    assert_eq!(app.post_register("bob", None, BREACHED).await.status(), StatusCode::CREATED);
    let clean: Value = app.post_login("bob", BREACHED).await.json().await.expect("a token pair");
    // The corpus learns of it after the account was made.
    write_corpus(corpus.path(), &[BREACHED]);

    let res = app.post_login("bob", BREACHED).await;

    assert!(clean.get("password_breached").is_none(), "{clean}");
    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("a token pair");
    assert_eq!(pair["password_breached"], true);
    let access = pair["access_token"].as_str().expect("access");
    assert_eq!(app.get_me(access).await.status(), StatusCode::OK, "the session works");
    let change = json!({ "current_password": BREACHED, "new_password": PASSWORD });
    assert_eq!(app.post("/v1/auth/password", &change, Some(access)).await.status(), StatusCode::NO_CONTENT);
    let after: Value = app.post_login("bob", PASSWORD).await.json().await.expect("a token pair");
    assert!(after.get("password_breached").is_none(), "{after}");
}

#[tokio::test]
async fn the_range_api_is_sent_only_a_prefix_with_padding_and_its_answer_refuses_a_breached_password() {
    let api = RangeApi::start(&[BREACHED], Duration::ZERO).await;
    let base = api.base.clone();
    let app = TestApp::spawn_with(|c| {
        c.signin.breached_passwords = BreachSource::Api;
        c.signin.breached_passwords_api_url = base;
    })
    .await;

    let body =
        assert_problem(app.post_register("carol", None, BREACHED).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.post_register("carol", None, PASSWORD).await;

    assert!(refused_on(&body, "password"), "{body}");
    assert_eq!(res.status(), StatusCode::CREATED);
    let (prefix, suffix) = split_sha1(BREACHED);
    let requests = api.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0], (format!("/range/{prefix}"), true));
    for (path, padded) in &requests {
        assert_eq!(path.len(), "/range/".len() + 5, "only five hex digits leave the server: {path}");
        assert!(!path.contains(&suffix));
        assert!(padded);
    }
}

#[tokio::test]
async fn a_range_api_slower_than_two_seconds_lets_the_password_through_and_is_counted() {
    let api = RangeApi::start(&[BREACHED], Duration::from_secs(5)).await;
    let base = api.base.clone();
    let app = TestApp::spawn_with(|c| {
        c.signin.breached_passwords = BreachSource::Api;
        c.signin.breached_passwords_api_url = base;
    })
    .await;

    let started = Instant::now();
    let res = app.post_register("dave", None, BREACHED).await;
    let took = started.elapsed();

    assert_eq!(res.status(), StatusCode::CREATED, "fails open");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "{took:?}");
    let metrics = app.get("/metrics", None).await.text().await.expect("metrics");
    assert!(metrics.contains("gatehouse_breached_password_checks_total{outcome=\"unavailable\"}"), "{metrics}");
}
