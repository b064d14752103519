use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_problem};

async fn pair(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::OK, "refresh");
    res.json().await.expect("token pair")
}

#[tokio::test]
async fn refreshing_rotates_to_a_new_refresh_token_and_a_working_access_token() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.post_refresh(&alice.refresh).await;

    assert_eq!(res.headers()["cache-control"], "no-store");
    let fresh = pair(res).await;
    let new_refresh = fresh["refresh_token"].as_str().expect("refresh");
    assert_ne!(new_refresh, alice.refresh);
    assert_eq!(fresh["token_type"], "Bearer");
    assert_eq!(fresh["expires_in"], 900);
    assert!(fresh["refresh_expires_in"].as_i64().expect("seconds") <= 2_592_000, "rotation never extends the session");
    assert_eq!(fresh["user"]["username"], "alice");
    let me = app.get_me(fresh["access_token"].as_str().expect("access")).await;
    assert_eq!(me.status(), StatusCode::OK);
    let next = pair(app.post_refresh(new_refresh).await).await;
    assert_ne!(next["refresh_token"], fresh["refresh_token"]);
}

#[tokio::test]
async fn a_rotated_token_reused_inside_the_grace_window_gets_the_same_current_refresh_token() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let first = pair(app.post_refresh(&alice.refresh).await).await;

    let again = pair(app.post_refresh(&alice.refresh).await).await;

    assert_eq!(again["refresh_token"], first["refresh_token"]);
    assert_eq!(app.get_me(again["access_token"].as_str().expect("access")).await.status(), StatusCode::OK);
    let current = first["refresh_token"].as_str().expect("refresh");
    assert_eq!(app.post_refresh(current).await.status(), StatusCode::OK, "the current token still rotates");
}

#[tokio::test]
async fn a_grandparent_token_inside_the_window_gets_the_sessions_current_token() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let first = pair(app.post_refresh(&alice.refresh).await).await;
    let second = pair(app.post_refresh(first["refresh_token"].as_str().expect("refresh")).await).await;

    let again = pair(app.post_refresh(&alice.refresh).await).await;

    assert_eq!(again["refresh_token"], second["refresh_token"]);
}

#[tokio::test]
async fn reuse_with_the_grace_window_off_is_token_reused_and_revokes_the_whole_session() {
    let app = TestApp::spawn_with(|c| c.refresh_reuse_grace = 0).await;
    let alice = app.user("alice").await;
    let rotated = pair(app.post_refresh(&alice.refresh).await).await;

    let reuse = app.post_refresh(&alice.refresh).await;

    assert_eq!(reuse.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    assert_problem(reuse, StatusCode::UNAUTHORIZED, "token_reused").await;
    let current = rotated["refresh_token"].as_str().expect("refresh");
    assert_problem(app.post_refresh(current).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let access = rotated["access_token"].as_str().expect("access");
    assert_problem(app.get_me(access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.get_me(&alice.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn reuse_after_the_grace_window_is_token_reused_and_kills_the_current_refresh_token() {
    let app = TestApp::spawn_with(|c| c.refresh_reuse_grace = 1).await;
    let alice = app.user("alice").await;
    let rotated = pair(app.post_refresh(&alice.refresh).await).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;

    let reuse = app.post_refresh(&alice.refresh).await;

    assert_problem(reuse, StatusCode::UNAUTHORIZED, "token_reused").await;
    let current = rotated["refresh_token"].as_str().expect("refresh");
    assert_problem(app.post_refresh(current).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn reuse_revokes_only_the_reused_session() {
    let app = TestApp::spawn_with(|c| c.refresh_reuse_grace = 0).await;
    let laptop = app.user("alice").await;
    let phone = app.login("alice", &laptop.password).await;
    pair(app.post_refresh(&laptop.refresh).await).await;

    assert_problem(app.post_refresh(&laptop.refresh).await, StatusCode::UNAUTHORIZED, "token_reused").await;

    assert_eq!(app.get_me(&phone.access).await.status(), StatusCode::OK);
    assert_eq!(app.post_refresh(&phone.refresh).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_refreshes_of_one_token_all_get_the_same_new_refresh_token() {
    let app = Arc::new(TestApp::spawn().await);
    let alice = app.user("alice").await;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            let token = alice.refresh.clone();
            tokio::spawn(async move {
                let res = app.post_refresh(&token).await;
                (res.status(), res.json::<Value>().await.expect("json"))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }

    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK), "{answers:?}");
    let first = &answers[0].1["refresh_token"];
    assert_ne!(first.as_str().expect("refresh"), alice.refresh);
    assert!(answers.iter().all(|(_, b)| &b["refresh_token"] == first), "{answers:?}");
    assert_eq!(app.post_refresh(first.as_str().expect("refresh")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_garbage_refresh_token_is_invalid_token() {
    let app = TestApp::spawn().await;

    for garbage in ["garbage", "", &"A".repeat(43), &"x".repeat(10_000)] {
        let res = app.post_refresh(garbage).await;

        assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.post_refresh(&alice.access).await;

    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_refresh_without_the_field_is_a_422_on_refresh_token() {
    let app = TestApp::spawn().await;

    let res = app.post("/v1/auth/refresh", &json!({}), None).await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "refresh_token");
}
