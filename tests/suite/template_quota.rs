//! The per-user template quota: GATEHOUSE_TEMPLATES_MAX_COUNT and GATEHOUSE_TEMPLATES_MAX_BYTES
//! (UTF-8 bytes of every name and content of one owner), on create and on a growing patch,
//! under parallel requests too.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, TestUser, assert_problem};

async fn create(app: &TestApp, user: &TestUser, name: &str, content: &str) -> reqwest::Response {
    app.post("/v1/templates", &json!({"name": name, "content": content}), Some(&user.access)).await
}

async fn total(app: &TestApp, user: &TestUser) -> u64 {
    let list: Value = app.get("/v1/templates", Some(&user.access)).await.json().await.expect("list");
    list["total"].as_u64().expect("total")
}

#[tokio::test]
async fn a_create_past_the_template_count_quota_answers_409_quota_exceeded_and_a_deletion_frees_a_place() {
    let app = TestApp::spawn_with(|c| c.templates_max_count = 3).await;
    let alice = app.user("alice").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let res = create(&app, &alice, &format!("t{i}"), "x").await;
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(res.json::<Value>().await.expect("template")["id"].as_str().expect("id").to_string());
    }

    let refused = assert_problem(create(&app, &alice, "t3", "x").await, StatusCode::CONFLICT, "quota_exceeded").await;

    assert!(refused["detail"].as_str().expect("detail").contains("templates"), "{refused}");
    assert_eq!(total(&app, &alice).await, 3);
    let bob = app.user("bob").await;
    assert_eq!(create(&app, &bob, "t0", "x").await.status(), StatusCode::CREATED, "the quota is per owner");
    assert_eq!(app.delete(&format!("/v1/templates/{}", ids[0]), Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(create(&app, &alice, "t3", "x").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_byte_quota_counts_the_utf8_bytes_of_names_and_contents_together() {
    let app = TestApp::spawn_with(|c| c.templates_max_bytes = 20).await;
    let alice = app.user("alice").await;
    // 2 + 8 bytes: "é" and "€" weigh 2 and 3 bytes though each is one character.
    assert_eq!(create(&app, &alice, "aa", "éé€x").await.status(), StatusCode::CREATED);
    // 10 more bytes reach the limit exactly.
    assert_eq!(create(&app, &alice, "bb", "12345678").await.status(), StatusCode::CREATED);

    let res = create(&app, &alice, "c", "").await;

    assert_problem(res, StatusCode::CONFLICT, "quota_exceeded").await;
    assert_eq!(total(&app, &alice).await, 2);
}

#[tokio::test]
async fn a_patch_that_grows_past_the_byte_quota_is_refused_while_one_that_shrinks_passes() {
    let app = TestApp::spawn_with(|c| c.templates_max_bytes = 20).await;
    let alice = app.user("alice").await;
    let template: Value = create(&app, &alice, "a", "012345678").await.json().await.expect("template");
    let path = format!("/v1/templates/{}", template["id"].as_str().expect("id"));
    assert_eq!(create(&app, &alice, "b", "012345678").await.status(), StatusCode::CREATED, "20 bytes in all");

    let grown = app.patch(&path, &json!({"content": "0123456789"}), Some(&alice.access)).await;
    let renamed = app.patch(&path, &json!({"name": "ab"}), Some(&alice.access)).await;
    let shrunk = app.patch(&path, &json!({"content": "012"}), Some(&alice.access)).await;
    let regrown = app.patch(&path, &json!({"name": "abc", "content": "0123456"}), Some(&alice.access)).await;

    assert_problem(grown, StatusCode::CONFLICT, "quota_exceeded").await;
    assert_problem(renamed, StatusCode::CONFLICT, "quota_exceeded").await;
    assert_eq!(shrunk.status(), StatusCode::OK);
    assert_eq!(regrown.status(), StatusCode::OK, "back to 20 bytes: at the limit, not past it");
    let now: Value = app.get(&path, Some(&alice.access)).await.json().await.expect("template");
    assert_eq!((now["name"].as_str(), now["content"].as_str()), (Some("abc"), Some("0123456")));
}

#[tokio::test]
async fn a_patch_that_keeps_the_size_passes_when_the_owner_is_already_over_a_lowered_quota() {
    let app = TestApp::spawn_with(|c| c.templates_max_bytes = 10).await;
    let alice = app.user("alice").await;
    let template: Value = create(&app, &alice, "a", "012345678").await.json().await.expect("template");
    let path = format!("/v1/templates/{}", template["id"].as_str().expect("id"));

    let same_size = app.patch(&path, &json!({"content": "abcdefghi"}), Some(&alice.access)).await;

    assert_eq!(same_size.status(), StatusCode::OK);
}

#[tokio::test]
async fn thirty_parallel_creates_under_a_count_limit_of_five_create_exactly_five() {
    let app = TestApp::spawn_with(|c| c.templates_max_count = 5).await;
    let alice = app.user("alice").await;

    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..30 {
        let request = app.client.post(app.url("/v1/templates")).bearer_auth(&alice.access).json(&json!({"name": format!("race{i}")}));
        attempts.spawn(async move { request.send().await.expect("request sent").status() });
    }
    let statuses: Vec<StatusCode> = attempts.join_all().await;

    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((created, refused), (5, 25), "{statuses:?}");
    assert_eq!(total(&app, &alice).await, 5);
}

#[tokio::test]
async fn parallel_growing_patches_never_pass_the_byte_quota() {
    let app = TestApp::spawn_with(|c| c.templates_max_bytes = 100).await;
    let alice = app.user("alice").await;
    let mut paths = Vec::new();
    for i in 0..10 {
        let template: Value = create(&app, &alice, &format!("{i}"), "").await.json().await.expect("template");
        paths.push(format!("/v1/templates/{}", template["id"].as_str().expect("id")));
    }

    // Each patch adds 30 bytes to 10: only 3 of them fit in 100.
    let mut attempts = tokio::task::JoinSet::new();
    for path in &paths {
        let request = app.client.patch(app.url(path)).bearer_auth(&alice.access).json(&json!({"content": "x".repeat(30)}));
        attempts.spawn(async move { request.send().await.expect("request sent").status() });
    }
    let statuses: Vec<StatusCode> = attempts.join_all().await;

    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn a_deleted_template_gives_back_its_place_and_its_bytes_after_patches_changed_them() {
    let app = TestApp::spawn_with(|c| {
        c.templates_max_bytes = 20;
        c.templates_max_count = 2;
    })
    .await;
    let alice = app.user("alice").await;
    let first: Value = create(&app, &alice, "a", "012345678").await.json().await.expect("template");
    let path = format!("/v1/templates/{}", first["id"].as_str().expect("id"));
    assert_eq!(app.patch(&path, &json!({"content": "0123456789012345678"}), Some(&alice.access)).await.status(), StatusCode::OK);
    assert_problem(create(&app, &alice, "b", "0").await, StatusCode::CONFLICT, "quota_exceeded").await;

    assert_eq!(app.delete(&path, Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);

    assert_eq!(create(&app, &alice, "b", "012345678").await.status(), StatusCode::CREATED, "all 20 bytes free again");
    assert_eq!(create(&app, &alice, "c", "012345678").await.status(), StatusCode::CREATED);
    assert_problem(create(&app, &alice, "d", "").await, StatusCode::CONFLICT, "quota_exceeded").await;
}
