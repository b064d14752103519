//! Races that the other files do not already fire: many clients at once, one rule each.
//! (One username: register.rs; one template name: templates.rs; one refresh token:
//! refresh.rs; admins demoting each other: last_admin.rs.)

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, assert_problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_disabled_while_it_refreshes_keeps_no_live_session() {
    let app = Arc::new(TestApp::spawn().await);
    let admin = app.admin("admin").await;
    let victim = app.user("victim").await;
    let mut sessions = vec![victim.clone()];
    for _ in 0..3 {
        sessions.push(app.login("victim", PASSWORD).await);
    }

    // Each session refreshes in a loop, keeping every token it was handed, while the admin
    // disables the user part-way through.
    let refreshers: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let app = app.clone();
            tokio::spawn(async move {
                let (mut refresh, mut access) = (session.refresh, vec![session.access]);
                for _ in 0..30 {
                    let res = app.post_refresh(&refresh).await;
                    if res.status() != StatusCode::OK {
                        assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
                        break;
                    }
                    let pair: Value = res.json().await.expect("pair");
                    refresh = pair["refresh_token"].as_str().expect("refresh").to_string();
                    access.push(pair["access_token"].as_str().expect("access").to_string());
                }
                (refresh, access)
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let res = app.patch(&format!("/v1/users/{}", victim.id), &json!({"disabled": true}), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    for refresher in refreshers {
        let (refresh, access) = refresher.await.expect("refresher");
        assert_problem(app.post_refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        for token in access {
            assert_eq!(app.get_me(&token).await.status(), StatusCode::UNAUTHORIZED, "every access token of the user is dead");
        }
    }
    assert_problem(app.post_login("victim", PASSWORD).await, StatusCode::FORBIDDEN, "account_disabled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_registrations_of_one_email_give_exactly_one_201() {
    let app = Arc::new(TestApp::spawn().await);

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let email = if i % 2 == 0 { "race@example.com" } else { "RACE@Example.com" };
                app.post_register(&format!("racer{i}"), Some(email), PASSWORD).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let res = task.await.expect("task");
        if res.status() == StatusCode::CREATED {
            created += 1;
        } else {
            assert_problem(res, StatusCode::CONFLICT, "email_taken").await;
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn templates_renamed_to_one_name_at_once_leave_exactly_one_with_it() {
    let app = Arc::new(TestApp::spawn().await);
    let alice = app.user("alice").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let res = app.post("/v1/templates", &json!({"name": format!("draft {i}")}), Some(&alice.access)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(res.json::<Value>().await.expect("template")["id"].as_str().expect("id").to_string());
    }

    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (app, id, token) = (app.clone(), id.clone(), alice.access.clone());
            tokio::spawn(async move { app.patch(&format!("/v1/templates/{id}"), &json!({"name": "final"}), Some(&token)).await })
        })
        .collect();
    let mut renamed = 0;
    for task in tasks {
        let res = task.await.expect("task");
        if res.status() == StatusCode::OK {
            renamed += 1;
        } else {
            assert_problem(res, StatusCode::CONFLICT, "name_taken").await;
        }
    }

    assert_eq!(renamed, 1);
    let list: Value = app.get("/v1/templates?per_page=100", Some(&alice.access)).await.json().await.expect("list");
    let finals = list["items"].as_array().expect("items").iter().filter(|t| t["name"] == "final").count();
    assert_eq!((finals, list["total"].as_u64()), (1, Some(10)));
}
