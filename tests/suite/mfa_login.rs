//! Login with TOTP on: `mfa_required` with an mfa_token, then POST /v1/auth/login/mfa with
//! a code or a recovery code; replay, lockout, expiry and token confusion.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::mfa::code_at;
use crate::common::{PASSWORD, TestApp, assert_problem};

const WRONG: &str = "not the password at all";

#[tokio::test]
async fn with_totp_on_a_correct_password_answers_401_mfa_required_with_an_mfa_token() {
    let app = TestApp::spawn().await;
    app.mfa_user("alice").await;

    let res = app.post_login("alice", PASSWORD).await;

    let body = assert_problem(res, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let token = body["mfa_token"].as_str().expect("mfa_token");
    assert!(token.len() >= 43, "{token}");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "{body}");
    // A wrong password is the usual answer, with no token.
    let body = assert_problem(app.post_login("alice", WRONG).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert!(body.get("mfa_token").is_none(), "{body}");
}

#[tokio::test]
async fn the_second_step_with_a_current_code_gives_a_working_token_pair() {
    let app = TestApp::spawn().await;
    let bob = app.mfa_user("bob").await;
    let token = app.mfa_token("BOB").await;

    let res = app.post_login_mfa(&token, &code_at(&bob.secret, bob.t)).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let pair: Value = res.json().await.expect("token pair");
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["user"]["mfa_enabled"], true);
    let access = pair["access_token"].as_str().expect("access token");
    let me: Value = app.get_me(access).await.json().await.expect("user");
    assert_eq!(me["id"], bob.user.id.as_str());
    let refresh = pair["refresh_token"].as_str().expect("refresh token");
    assert_eq!(app.post_refresh(refresh).await.status(), StatusCode::OK);
    let res = app.get_query("/v1/auth/me/audit", &[("per_page", "100")], Some(access)).await;
    let list: Value = res.json().await.expect("audit");
    let logins: Vec<&Value> = list["items"].as_array().expect("items").iter().filter(|e| e["type"] == "login.succeeded").collect();
    assert_eq!(logins[0]["detail"]["mfa"], "totp", "{list}");
}

#[tokio::test]
async fn a_code_is_refused_when_replayed_in_its_time_step_and_so_is_an_older_step() {
    let app = TestApp::spawn().await;
    let carol = app.mfa_user("carol").await;
    let code = code_at(&carol.secret, carol.t);
    let first = app.mfa_token("carol").await;
    assert_eq!(app.post_login_mfa(&first, &code).await.status(), StatusCode::OK);

    let second = app.mfa_token("carol").await;
    let res = app.post_login_mfa(&second, &code).await;

    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The confirmation's step is older than the last one used: refused too.
    let res = app.post_login_mfa(&second, &code_at(&carol.secret, carol.t - 30)).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The next step's code works, with the same mfa_token: wrong codes do not use it up.
    assert_eq!(app.post_login_mfa(&second, &code_at(&carol.secret, carol.t + 30)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn recovery_codes_work_once_each() {
    let app = TestApp::spawn().await;
    let dave = app.mfa_user("dave").await;
    let recovery = dave.recovery_codes[0].clone();

    let token = app.mfa_token("dave").await;
    let res = app.post_login_mfa(&token, &recovery).await;
    assert_eq!(res.status(), StatusCode::OK);

    let token = app.mfa_token("dave").await;
    assert_problem(app.post_login_mfa(&token, &recovery).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Another one, typed in capitals without its dashes.
    let typed = dave.recovery_codes[1].replace('-', "").to_uppercase();
    assert_eq!(app.post_login_mfa(&token, &typed).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_codes_count_toward_the_account_lockout_and_then_even_a_right_code_answers_429() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 3;
        c.login_lockout = 900;
    })
    .await;
    let erin = app.mfa_user("erin").await;
    // The password step counts until the login completes: 1.
    let token = app.mfa_token("erin").await;

    for wrong in ["000000", "not-a-code"] {
        assert_problem(app.post_login_mfa(&token, wrong).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let res = app.post_login_mfa(&token, &code_at(&erin.secret, erin.t)).await;

    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("erin", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_login_that_stops_at_mfa_required_does_not_reset_the_failure_count_but_a_completed_one_does() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 4;
        c.login_lockout = 900;
    })
    .await;
    app.mfa_user("frank").await;
    for _ in 0..2 {
        assert_eq!(app.post_login("frank", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }
    // 3: the right password, stopped at the second factor.
    app.mfa_token("frank").await;
    assert_eq!(app.post_login("frank", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    // 5: over the limit.
    assert_eq!(app.post_login("frank", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);

    let app = TestApp::spawn_with(|c| c.login_max_failures = 4).await;
    let grace = app.mfa_user("grace").await;
    for _ in 0..2 {
        assert_eq!(app.post_login("grace", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }
    let token = app.mfa_token("grace").await;
    assert_eq!(app.post_login_mfa(&token, &code_at(&grace.secret, grace.t)).await.status(), StatusCode::OK);
    // Completed: the count started over, so three more failures still answer 401.
    for _ in 0..3 {
        assert_eq!(app.post_login("grace", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn an_mfa_token_works_once_and_expires() {
    let app = TestApp::spawn_with(|c| c.mfa_token_ttl = 1).await;
    let heidi = app.mfa_user("heidi").await;
    let token = app.mfa_token("heidi").await;
    assert_eq!(app.post_login_mfa(&token, &heidi.recovery_codes[0]).await.status(), StatusCode::OK);

    let res = app.post_login_mfa(&token, &heidi.recovery_codes[1]).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    let late = app.mfa_token("heidi").await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let res = app.post_login_mfa(&late, &heidi.recovery_codes[1]).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The refused attempts used up no recovery code. Checked through a second instance on
    // the same database whose tokens live long enough for a loaded machine.
    let patient = TestApp::spawn_on(&app.database_url, |c| c.mfa_token_ttl = 300).await;
    let fresh = patient.mfa_token("heidi").await;
    assert_eq!(patient.post_login_mfa(&fresh, &heidi.recovery_codes[1]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_mfa_token_is_no_bearer_token_and_no_access_or_refresh_token_is_an_mfa_token() {
    let app = TestApp::spawn().await;
    let ivan = app.mfa_user("ivan").await;
    let token = app.mfa_token("ivan").await;

    let res = app.get_me(&token).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let code = code_at(&ivan.secret, ivan.t);
    for not_mfa in [ivan.user.access.as_str(), ivan.user.refresh.as_str(), "", "x"] {
        let res = app.post_login_mfa(not_mfa, &code).await;
        assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // The code was not used up by those refusals.
    assert_eq!(app.post_login_mfa(&token, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn parallel_second_steps_with_one_code_let_exactly_one_through() {
    // A limit that the 12 counted steps below stay under: this is about replay alone.
    let app = TestApp::spawn_with(|c| c.login_max_failures = 100).await;
    let judy = app.mfa_user("judy").await;
    let code = code_at(&judy.secret, judy.t);
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(app.mfa_token("judy").await);
    }

    let mut attempts = tokio::task::JoinSet::new();
    for token in tokens {
        let request = app.client.post(app.url("/v1/auth/login/mfa")).json(&serde_json::json!({ "mfa_token": token, "code": code }));
        attempts.spawn(async move { request.send().await.expect("request sent").status() });
    }
    let statuses: Vec<StatusCode> = attempts.join_all().await;

    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
}

#[tokio::test]
async fn a_disabled_account_gets_403_at_the_second_step() {
    let app = TestApp::spawn().await;
    let root = app.admin("root").await;
    let mallory = app.mfa_user("mallory").await;
    let token = app.mfa_token("mallory").await;
    let path = format!("/v1/users/{}", mallory.user.id);
    assert_eq!(app.patch(&path, &serde_json::json!({ "disabled": true }), Some(&root.access)).await.status(), StatusCode::OK);

    let res = app.post_login_mfa(&token, &code_at(&mallory.secret, mallory.t)).await;

    assert_problem(res, StatusCode::FORBIDDEN, "account_disabled").await;
}

#[tokio::test]
async fn the_second_step_counts_toward_the_per_address_limit() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 2).await;

    for _ in 0..2 {
        assert_problem(app.post_login_mfa("not-a-token", "123456").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let res = app.post_login_mfa("not-a-token", "123456").await;

    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
