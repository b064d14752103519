//! Pruning: expired and revoked sessions with their refresh tokens, stale login-attempt
//! counts, used or expired email tokens and expired MFA challenges go; what is live stays,
//! and so do the rotated tokens of a live session, which reuse detection needs.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection as _;

use crate::common::{PASSWORD, StoreKind, TestApp, assert_problem};

/// Counts rows with a query straight on the test's database.
async fn count(app: &TestApp, sql: &'static str) -> i64 {
    match crate::STORE {
        StoreKind::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(&app.database_url).await.expect("open the SQLite database");
            sqlx::query_scalar(sql).fetch_one(&mut db).await.expect("count")
        }
        StoreKind::Postgres => {
            let mut db = sqlx::PgConnection::connect(&app.database_url).await.expect("connect to PostgreSQL");
            sqlx::query_scalar(sql).fetch_one(&mut db).await.expect("count")
        }
    }
}

const SESSIONS: &str = "SELECT count(*) FROM sessions";
const REFRESH_TOKENS: &str = "SELECT count(*) FROM refresh_tokens";
const ATTEMPTS: &str = "SELECT count(*) FROM login_attempts";
const CHALLENGES: &str = "SELECT count(*) FROM mfa_challenges";
const VERIFY_TOKENS: &str = "SELECT count(*) FROM email_tokens WHERE purpose = 'verify_email'";
const RESET_TOKENS: &str = "SELECT count(*) FROM email_tokens WHERE purpose = 'reset_password'";

#[tokio::test]
async fn pruning_removes_what_is_spent_and_keeps_what_is_live() {
    // Everything short-lived lives one second here; grace 0 makes any reuse a detected one.
    let app = TestApp::spawn_with(|c| {
        c.access_ttl = 1;
        c.login_lockout = 1;
        c.mfa_token_ttl = 1;
        c.email_verify_ttl = 1;
        c.refresh_reuse_grace = 0;
    })
    .await;
    // A second instance on the same database, whose sessions end after one second.
    let short = TestApp::spawn_sharing(&app, |c| c.refresh_ttl = 1).await;
    // bob: a live session and a pending second step.
    app.mfa_user("bob").await;
    // alice: one live session rotated once, one revoked, one expired.
    let alice = app.user("alice").await;
    let res = app.post_refresh(&alice.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    let revoked = app.login("alice", PASSWORD).await;
    assert_eq!(app.post("/v1/auth/logout", &json!({}), Some(&revoked.access)).await.status(), StatusCode::NO_CONTENT);
    short.login("alice", PASSWORD).await;
    assert_eq!(app.post_login("nobody", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    app.mfa_token("bob").await;
    // carol: a verification token (one second) and a reset token (30 minutes).
    assert_eq!(app.post_register("carol", Some("carol@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    app.post("/v1/auth/password/forgot", &json!({ "username": "carol" }), None).await;
    for _ in 0..100 {
        if count(&app, RESET_TOKENS).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&app, SESSIONS).await, 4, "bob, alice live, revoked and expiring");
    assert_eq!(count(&app, REFRESH_TOKENS).await, 5);
    assert!(count(&app, ATTEMPTS).await >= 1);
    assert_eq!(count(&app, CHALLENGES).await, 1);
    assert_eq!(count(&app, VERIFY_TOKENS).await, 1);
    assert_eq!(count(&app, RESET_TOKENS).await, 1);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    // A count that is still running must survive.
    assert_eq!(app.post_login("somebody", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    let pruned = gatehouse::retention::prune(&app.state.store, &app.state.config).await.expect("pruning");

    assert_eq!(count(&app, SESSIONS).await, 2, "bob's and alice's live sessions stay");
    assert_eq!(count(&app, REFRESH_TOKENS).await, 3, "the live sessions' tokens stay, rotated ones included");
    assert_eq!(count(&app, ATTEMPTS).await, 1, "only the running count stays");
    assert_eq!(count(&app, CHALLENGES).await, 0);
    assert_eq!(count(&app, VERIFY_TOKENS).await, 0);
    assert_eq!(count(&app, RESET_TOKENS).await, 1, "the unused reset link stays");
    assert!(pruned.sessions >= 2 && pruned.email_tokens >= 1 && pruned.mfa_challenges >= 1, "{pruned:?}");
    // The live session's rotated token still trips reuse detection.
    assert_problem(app.post_refresh(&alice.refresh).await, StatusCode::UNAUTHORIZED, "token_reused").await;
}
