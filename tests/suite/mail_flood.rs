//! Mail an account can cause: nothing for a change that changes nothing, a cap on
//! verification mails per account and hour, the per-address limit on the routes that mail;
//! and address spellings that would make two accounts of one mailbox.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::smtp::SmtpServer;
use crate::common::{PASSWORD, TestApp, assert_problem};

async fn change(app: &TestApp, access: &str, email: &str) -> reqwest::Response {
    app.patch("/v1/auth/me", &json!({ "email": email, "current_password": PASSWORD }), Some(access)).await
}

#[tokio::test]
async fn twenty_identical_changes_mail_the_new_address_once_and_the_current_address_again_mails_nothing() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let nora = app.user("nora").await;

    for _ in 0..20 {
        assert_eq!(change(&app, &nora.access, "nora@example.com").await.status(), StatusCode::OK);
    }
    assert_eq!(change(&app, &nora.access, "NORA@example.com").await.status(), StatusCode::OK, "another spelling of the pending one");
    smtp.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let mails = smtp.received().await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, vec!["nora@example.com".to_string()]);
}

#[tokio::test]
async fn verification_mails_past_the_hourly_cap_are_refused_with_429_and_retry_after() {
    let app = TestApp::spawn_with(|c| c.verify_mails_per_hour = 2).await;
    let olga = app.user("olga").await;
    let other = app.user("other").await;

    let first = change(&app, &olga.access, "olga1@example.com").await;
    let second = app.post("/v1/auth/email/resend", &json!({}), Some(&olga.access)).await;
    let third = change(&app, &olga.access, "olga2@example.com").await;
    let resend = app.post("/v1/auth/email/resend", &json!({}), Some(&olga.access)).await;

    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let retry_after: u64 =
        third.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("a Retry-After");
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");
    assert_problem(third, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(resend, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let now: Value = app.get_me(&olga.access).await.json().await.expect("user");
    assert_eq!(now["pending_email"], "olga1@example.com", "the refused change changed nothing");
    assert_eq!(change(&app, &other.access, "other@example.com").await.status(), StatusCode::OK, "the cap is per account");
}

#[tokio::test]
async fn email_changes_are_under_the_per_address_limit_and_whoami_is_not() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 3).await;
    // Registering and logging in take two of the three.
    let pia = app.user("pia").await;

    let first = change(&app, &pia.access, "pia@example.com").await;
    let second = change(&app, &pia.access, "pia@example.com").await;

    assert_eq!(first.status(), StatusCode::OK);
    assert_problem(second, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    for _ in 0..5 {
        assert_eq!(app.get_me(&pia.access).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn quoted_local_parts_ip_literals_and_trailing_dots_are_refused_at_registration() {
    let app = TestApp::spawn().await;
    app.post_register("quinn", Some("quinn@example.com"), PASSWORD).await;

    for (i, bad) in ["\"quinn\"@example.com", "quinn@[192.0.2.1]", "quinn@example.com.", "quinn(work)@example.com"].iter().enumerate() {
        let res = app.post_register(&format!("quinn{i}"), Some(bad), PASSWORD).await;

        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "email", "{bad}");
    }
    let res = app.post_register("quinn9", Some("Quinn@EXAMPLE.com"), PASSWORD).await;
    assert_problem(res, StatusCode::CONFLICT, "email_taken").await;
}
