//! The caller's own templates: CRUD, ownership (IDOR), name uniqueness, content length.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, TestUser, assert_problem};

async fn create(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let res = app.post("/v1/templates", &body, Some(&user.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED, "create {body}");
    res.json().await.expect("template")
}

#[tokio::test]
async fn template_routes_need_a_token() {
    let app = TestApp::spawn().await;
    let path = format!("/v1/templates/{}", uuid::Uuid::now_v7());

    assert_problem(app.get("/v1/templates", None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post("/v1/templates", &json!({"name": "x"}), None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.get(&path, None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.patch(&path, &json!({"name": "x"}), None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.delete(&path, None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_user_creates_reads_lists_changes_and_deletes_its_template() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.post("/v1/templates", &json!({"name": "welcome"}), Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().expect("location").to_string();
    let created: Value = res.json().await.expect("template");
    assert_eq!(location, format!("/v1/templates/{}", created["id"].as_str().expect("id")));
    assert_eq!((created["name"].as_str(), created["content"].as_str()), (Some("welcome"), Some("")), "content defaults to \"\"");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let read: Value = app.get(&location, Some(&alice.access)).await.json().await.expect("template");
    assert_eq!(read, created);

    let res = app.patch(&location, &json!({"content": "Hello {{name}}"}), Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let changed: Value = res.json().await.expect("template");
    assert_eq!((changed["name"].as_str(), changed["content"].as_str()), (Some("welcome"), Some("Hello {{name}}")));
    let renamed: Value = app.patch(&location, &json!({"name": "hello"}), Some(&alice.access)).await.json().await.expect("template");
    assert_eq!((renamed["name"].as_str(), renamed["content"].as_str()), (Some("hello"), Some("Hello {{name}}")));

    let list: Value = app.get("/v1/templates", Some(&alice.access)).await.json().await.expect("list");
    assert_eq!((list["total"].clone(), list["page"].clone(), list["per_page"].clone()), (json!(1), json!(1), json!(20)));
    assert_eq!(list["items"][0]["name"], "hello");

    assert_eq!(app.delete(&location, Some(&alice.access)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&location, Some(&alice.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.delete(&location, Some(&alice.access)).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn another_users_template_is_404_on_get_patch_and_delete_and_stays_unchanged() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let intruder = app.user("intruder").await;
    let template = create(&app, &owner, json!({"name": "secret", "content": "mine"})).await;
    let path = format!("/v1/templates/{}", template["id"].as_str().expect("id"));

    assert_problem(app.get(&path, Some(&intruder.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.patch(&path, &json!({"name": "stolen", "content": "yours"}), Some(&intruder.access)).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.delete(&path, Some(&intruder.access)).await, StatusCode::NOT_FOUND, "not_found").await;

    let after: Value = app.get(&path, Some(&owner.access)).await.json().await.expect("template");
    assert_eq!(after, template, "unchanged, updated_at included");
    let theirs: Value = app.get("/v1/templates", Some(&intruder.access)).await.json().await.expect("list");
    assert_eq!((theirs["items"].clone(), theirs["total"].clone()), (json!([]), json!(0)), "lists show the caller's only");
}

#[tokio::test]
async fn a_name_is_unique_per_owner_but_free_for_another_owner() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    create(&app, &alice, json!({"name": "report"})).await;
    let other = create(&app, &alice, json!({"name": "other"})).await;

    let res = app.post("/v1/templates", &json!({"name": "report"}), Some(&alice.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "name_taken").await;
    let rename =
        app.patch(&format!("/v1/templates/{}", other["id"].as_str().expect("id")), &json!({"name": "report"}), Some(&alice.access)).await;
    assert_problem(rename, StatusCode::CONFLICT, "name_taken").await;
    create(&app, &bob, json!({"name": "report"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_make_exactly_one_template() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let request = app.client.post(app.url("/v1/templates")).bearer_auth(&alice.access).json(&json!({"name": "same"}));
        attempts.spawn(request.send());
    }
    let statuses: Vec<StatusCode> = attempts.join_all().await.into_iter().map(|r| r.expect("sent").status()).collect();

    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 9, "{statuses:?}");
    let list: Value = app.get("/v1/templates", Some(&alice.access)).await.json().await.expect("list");
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn content_may_hold_65536_characters_and_65537_is_422() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    // 'é' is two bytes: the limit counts characters.
    let longest = "é".repeat(65_536);

    let ok = create(&app, &alice, json!({"name": "long", "content": longest})).await;
    assert_eq!(ok["content"].as_str().map(|c| c.chars().count()), Some(65_536));

    let res = app.post("/v1/templates", &json!({"name": "longer", "content": "é".repeat(65_537)}), Some(&alice.access)).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "content");
    let path = format!("/v1/templates/{}", ok["id"].as_str().expect("id"));
    let res = app.patch(&path, &json!({"content": "x".repeat(65_537)}), Some(&alice.access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

/// PostgreSQL text cannot hold NUL: both stores refuse it up front, alike.
#[tokio::test]
async fn a_nul_character_in_the_name_or_content_is_422_on_that_field() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    for (body, field) in [
        (json!({"name": "a\u{0}b"}), "name"),
        (json!({"name": "nul", "content": "before\u{0}after"}), "content"),
        (json!({"name": "nul", "content": "\u{0}"}), "content"),
    ] {
        let res = app.post("/v1/templates", &body, Some(&alice.access)).await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let ok = create(&app, &alice, json!({"name": "fine", "content": "tabs\tand\nnewlines stay"})).await;
    let path = format!("/v1/templates/{}", ok["id"].as_str().expect("id"));
    for (body, field) in [(json!({"content": "x\u{0}"}), "content"), (json!({"name": "\u{0}"}), "name")] {
        let res = app.patch(&path, &body, Some(&alice.access)).await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let after: Value = app.get(&path, Some(&alice.access)).await.json().await.expect("template");
    assert_eq!(after, ok, "unchanged");
}

#[tokio::test]
async fn a_name_must_be_1_to_200_characters() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    create(&app, &alice, json!({"name": "ñ".repeat(200)})).await;
    for bad in [json!({"name": ""}), json!({"name": "n".repeat(201)}), json!({"name": "   "}), json!({}), json!({"name": 5})] {
        let res = app.post("/v1/templates", &bad, Some(&alice.access)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
}

#[tokio::test]
async fn templates_are_listed_oldest_first_in_pages() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    for i in 1..=25 {
        create(&app, &alice, json!({"name": format!("t{i:02}")})).await;
    }

    let page3: Value =
        app.get_query("/v1/templates", &[("page", "3"), ("per_page", "10")], Some(&alice.access)).await.json().await.expect("list");
    let names: Vec<&str> = page3["items"].as_array().expect("items").iter().map(|t| t["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["t21", "t22", "t23", "t24", "t25"]);
    assert_eq!(page3["total"], 25);
    for (key, value) in [("page", "0"), ("per_page", "101"), ("page", "x")] {
        let res = app.get_query("/v1/templates", &[(key, value)], Some(&alice.access)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
}

#[tokio::test]
async fn deleting_a_user_deletes_its_templates() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let bob = app.user("bob").await;
    let template = create(&app, &bob, json!({"name": "doomed"})).await;
    let owner = uuid::Uuid::parse_str(&bob.id).expect("id");
    let id = uuid::Uuid::parse_str(template["id"].as_str().expect("id")).expect("id");
    assert!(app.store().await.template(owner, id).await.expect("read").is_some());

    assert_eq!(app.delete(&format!("/v1/users/{}", bob.id), Some(&admin.access)).await.status(), StatusCode::NO_CONTENT);

    let store = app.store().await;
    assert!(store.template(owner, id).await.expect("read").is_none());
    assert_eq!(store.list_templates(owner, 1, 20).await.expect("list").total, 0);
}
