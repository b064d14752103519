//! Admin changes to a user: roles, email, disabling and deleting.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::admin::token_roles;
use crate::common::{PASSWORD, TestApp, assert_problem};

#[tokio::test]
async fn a_role_change_shows_in_the_roles_claim_of_the_next_token_issued() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let bob = app.user("bob").await;
    assert_eq!(token_roles(&bob.access), ["user"]);

    let res = app.patch(&format!("/v1/users/{}", bob.id), &json!({"roles": ["editor", "reviewer"]}), Some(&admin.access)).await;

    assert_eq!(res.status(), StatusCode::OK);
    let user: Value = res.json().await.expect("user");
    assert_eq!(user["roles"], json!(["editor", "reviewer", "user"]), "`user` is always added");
    let refreshed: Value = app.post_refresh(&bob.refresh).await.json().await.expect("pair");
    assert_eq!(token_roles(refreshed["access_token"].as_str().expect("token")), ["editor", "reviewer", "user"]);
    assert_eq!(token_roles(&app.login("bob", PASSWORD).await.access), ["editor", "reviewer", "user"]);
}

#[tokio::test]
async fn promoting_a_user_to_admin_opens_the_admin_routes_to_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let bob = app.user("bob").await;
    assert_eq!(app.get("/v1/users", Some(&bob.access)).await.status(), StatusCode::FORBIDDEN);

    let res = app.patch(&format!("/v1/users/{}", bob.id), &json!({"roles": ["admin"]}), Some(&admin.access)).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get("/v1/users", Some(&bob.access)).await.status(), StatusCode::OK, "the role is read from the database");
}

#[tokio::test]
async fn invalid_roles_or_email_answer_422_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let bob = app.user("bob").await;
    let path = format!("/v1/users/{}", bob.id);

    for body in [
        json!({"roles": ["Bad Role"]}),
        json!({"roles": [""]}),
        json!({"roles": "admin"}),
        json!({"email": "nope"}),
        json!({"disabled": "yes"}),
    ] {
        let res = app.patch(&path, &body, Some(&admin.access)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let user: Value = app.get(&path, Some(&admin.access)).await.json().await.expect("user");
    assert_eq!((user["roles"].clone(), user["email"].clone(), user["disabled"].clone()), (json!(["user"]), Value::Null, json!(false)));
}

#[tokio::test]
async fn an_admin_sets_and_clears_an_email_and_a_taken_one_is_409() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    assert_eq!(app.post_register("carol", Some("carol@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    let bob = app.user("bob").await;
    let path = format!("/v1/users/{}", bob.id);

    let set: Value = app.patch(&path, &json!({"email": "bob@example.com"}), Some(&admin.access)).await.json().await.expect("user");
    assert_eq!(set["email"], "bob@example.com");
    let taken = app.patch(&path, &json!({"email": "CAROL@example.com"}), Some(&admin.access)).await;
    assert_problem(taken, StatusCode::CONFLICT, "email_taken").await;
    let cleared: Value = app.patch(&path, &json!({"email": null}), Some(&admin.access)).await.json().await.expect("user");
    assert_eq!(cleared["email"], Value::Null);
}

#[tokio::test]
async fn disabling_a_user_refuses_its_live_access_token_on_the_very_next_request_and_kills_its_refresh_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let bob = app.user("bob").await;
    let other_session = app.login("bob", PASSWORD).await;
    assert_eq!(app.get_me(&bob.access).await.status(), StatusCode::OK);

    let res = app.patch(&format!("/v1/users/{}", bob.id), &json!({"disabled": true}), Some(&admin.access)).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("user")["disabled"], true);
    assert_problem(app.get_me(&bob.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.get_me(&other_session.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_refresh(&bob.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_refresh(&other_session.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Re-enabling does not bring the revoked sessions back.
    let enabled = app.patch(&format!("/v1/users/{}", bob.id), &json!({"disabled": false}), Some(&admin.access)).await;
    assert_eq!(enabled.status(), StatusCode::OK);
    assert_problem(app.get_me(&bob.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_refresh(&bob.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_disabled_users_login_is_403_only_after_a_correct_password() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let bob = app.user("bob").await;
    let path = format!("/v1/users/{}", bob.id);
    app.patch(&path, &json!({"disabled": true}), Some(&admin.access)).await;

    assert_problem(app.post_login("bob", "a wrong password, clearly").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_problem(app.post_login("bob", PASSWORD).await, StatusCode::FORBIDDEN, "account_disabled").await;

    app.patch(&path, &json!({"disabled": false}), Some(&admin.access)).await;
    assert_eq!(app.post_login("bob", PASSWORD).await.status(), StatusCode::OK, "enabled again");
}

#[tokio::test]
async fn deleting_a_user_revokes_its_sessions_and_frees_its_username_and_email() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    assert_eq!(app.post_register("bob", Some("bob@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    let bob = app.login("bob", PASSWORD).await;
    let path = format!("/v1/users/{}", bob.id);

    let res = app.delete(&path, Some(&admin.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get_me(&bob.access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_refresh(&bob.refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.post_login("bob", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_problem(app.delete(&path, Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    let again = app.post_register("BOB", Some("Bob@Example.com"), PASSWORD).await;
    assert_eq!(again.status(), StatusCode::CREATED, "username and email are free again");
}
