use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{PASSWORD, TestApp, assert_problem};

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field").to_string()).collect()
}

#[tokio::test]
async fn registering_answers_201_with_a_location_and_the_user_without_any_hash() {
    let app = TestApp::spawn().await;

    let res = app.post_register("Alice_1", Some("alice@example.com"), PASSWORD).await;

    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().expect("ascii").to_string();
    let text = res.text().await.expect("body");
    let user: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(location, format!("/v1/users/{}", user["id"].as_str().expect("id")));
    assert!(uuid::Uuid::parse_str(user["id"].as_str().expect("id")).is_ok());
    assert_eq!(user["username"], "Alice_1");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["roles"], serde_json::json!(["user"]));
    assert_eq!(user["disabled"], false);
    assert_eq!(user["mfa_enabled"], false);
    assert!(user["created_at"].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));
    assert!(user["updated_at"].is_string());
    assert!(!text.contains("argon2") && !text.contains("password"), "no hash in {text}");
}

#[tokio::test]
async fn registering_without_an_email_gives_a_null_email() {
    let app = TestApp::spawn().await;

    let res = app.post_register("bob", None, PASSWORD).await;

    assert_eq!(res.status(), StatusCode::CREATED);
    let user: Value = res.json().await.expect("json");
    assert!(user["email"].is_null());
}

#[tokio::test]
async fn a_taken_username_in_another_case_is_a_409_username_taken() {
    let app = TestApp::spawn().await;
    app.user("carol").await;

    let res = app.post_register("CaRoL", None, PASSWORD).await;

    assert_problem(res, StatusCode::CONFLICT, "username_taken").await;
}

#[tokio::test]
async fn a_taken_email_in_another_case_is_a_409_email_taken() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_register("dave", Some("dave@example.com"), PASSWORD).await.status(), StatusCode::CREATED);

    let res = app.post_register("david", Some("DAVE@Example.COM"), PASSWORD).await;

    assert_problem(res, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn every_broken_field_is_listed_in_one_422() {
    let app = TestApp::spawn().await;

    let res = app.post_register("a b", Some("not-an-email"), "short").await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "password", "username"]);
}

#[tokio::test]
async fn usernames_outside_the_rules_are_refused_on_the_username_field() {
    let app = TestApp::spawn().await;

    for bad in ["ab", &"a".repeat(33), "semi;colon", "ünïcode"] {
        let res = app.post_register(bad, None, PASSWORD).await;

        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), ["username"], "{bad:?}");
    }
}

#[tokio::test]
async fn an_invalid_email_is_refused_on_the_email_field() {
    let app = TestApp::spawn().await;

    let res = app.post_register("erin", Some("erin@"), PASSWORD).await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["email"]);
}

#[tokio::test]
async fn a_weak_password_is_refused_with_a_reason() {
    let app = TestApp::spawn().await;

    let res = app.post_register("frank", None, "password123").await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["password"]);
    assert!(problem["errors"][0]["message"].as_str().expect("message").contains("guess"));
}

#[tokio::test]
async fn a_password_equal_to_the_username_is_refused() {
    let app = TestApp::spawn().await;

    let res = app.post_register("Zanzibar-Quokka-77", None, "zanzibar-quokka-77").await;

    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["password"]);
}

#[tokio::test]
async fn passwords_shorter_than_8_or_longer_than_128_characters_are_refused() {
    let app = TestApp::spawn().await;

    for (bad, why) in [("Xq7#pL2", "at least 8"), (&"Xq7#pL2v".repeat(17)[..129], "at most 128")] {
        let res = app.post_register("grace", None, bad).await;

        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), ["password"]);
        assert!(problem["errors"][0]["message"].as_str().expect("message").contains(why), "{problem}");
    }
}

#[tokio::test]
async fn password_length_counts_characters_not_bytes() {
    let app = TestApp::spawn().await;
    // 128 characters, 227 bytes.
    let long = format!("{PASSWORD}{}", "é".repeat(128 - PASSWORD.len()));
    assert_eq!(long.chars().count(), 128);

    let res = app.post_register("heidi", None, &long).await;

    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_password_is_kept_exactly_as_sent_without_trimming() {
    let app = TestApp::spawn().await;
    let padded = format!("  {PASSWORD}  ");
    assert_eq!(app.post_register("ivan", None, &padded).await.status(), StatusCode::CREATED);

    let trimmed = app.post_login("ivan", PASSWORD).await;
    let exact = app.post_login("ivan", &padded).await;

    assert_problem(trimmed, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(exact.status(), StatusCode::OK);
}

#[tokio::test]
async fn twenty_concurrent_registrations_of_one_username_give_exactly_one_201() {
    let app = std::sync::Arc::new(TestApp::spawn().await);

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let name = if i % 2 == 0 { "racer" } else { "RACER" };
                let res = app.post_register(name, None, PASSWORD).await;
                let status = res.status();
                let body: Value = res.json().await.expect("json");
                (status, body)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }

    assert!(answers.iter().all(|(s, _)| !s.is_server_error()), "{answers:?}");
    assert_eq!(answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count(), 1, "{answers:?}");
    let conflicts: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).collect();
    assert_eq!(conflicts.len(), 19);
    assert!(conflicts.iter().all(|(_, b)| b["code"] == "username_taken"));
}
