//! 409 `last_admin`: no change may leave the service without an enabled admin, races included.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, TestUser, assert_problem};

async fn enabled_admins(app: &TestApp) -> Vec<String> {
    let query = gatehouse::store::UserQuery { page: 1, per_page: 100, q: None, role: Some("admin".into()) };
    let page = app.store().await.list_users(&query).await.expect("list");
    page.items.into_iter().filter(|u| !u.disabled).map(|u| u.username).collect()
}

#[tokio::test]
async fn the_only_admin_cannot_be_demoted_disabled_or_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let path = format!("/v1/users/{}", admin.id);

    for body in [json!({"roles": ["user"]}), json!({"roles": ["editor"]}), json!({"disabled": true})] {
        let res = app.patch(&path, &body, Some(&admin.access)).await;
        assert_problem(res, StatusCode::CONFLICT, "last_admin").await;
    }
    assert_problem(app.delete(&path, Some(&admin.access)).await, StatusCode::CONFLICT, "last_admin").await;

    let me: Value = app.get_me(&admin.access).await.json().await.expect("me");
    assert_eq!((me["roles"].clone(), me["disabled"].clone()), (json!(["admin", "user"]), json!(false)), "nothing changed");
    assert_eq!(enabled_admins(&app).await, ["admin"]);
}

#[tokio::test]
async fn a_disabled_admin_does_not_count_as_the_admin_that_remains() {
    let app = TestApp::spawn().await;
    let admin = app.admin("admin").await;
    let dormant = app.admin("dormant").await;
    let res = app.patch(&format!("/v1/users/{}", dormant.id), &json!({"disabled": true}), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    let res = app.patch(&format!("/v1/users/{}", admin.id), &json!({"roles": ["user"]}), Some(&admin.access)).await;

    assert_problem(res, StatusCode::CONFLICT, "last_admin").await;
    let other = app.admin("other").await;
    let res = app.patch(&format!("/v1/users/{}", admin.id), &json!({"roles": ["user"]}), Some(&other.access)).await;
    assert_eq!(res.status(), StatusCode::OK, "with another enabled admin the demotion goes through");
    assert_eq!(enabled_admins(&app).await, ["other"]);
}

/// Two admins act at once, each request on its own task. `mutual`: each demotes the
/// other. Otherwise alpha demotes itself while bravo deletes itself.
async fn race(app: &TestApp, a: &TestUser, b: &TestUser, mutual: bool) -> (StatusCode, StatusCode) {
    let demote = json!({"roles": ["user"]});
    let first =
        app.client.patch(app.url(&format!("/v1/users/{}", if mutual { &b.id } else { &a.id }))).bearer_auth(&a.access).json(&demote);
    let second = if mutual {
        app.client.patch(app.url(&format!("/v1/users/{}", a.id))).json(&demote)
    } else {
        app.client.delete(app.url(&format!("/v1/users/{}", b.id)))
    }
    .bearer_auth(&b.access);
    let first = tokio::spawn(first.send());
    let second = tokio::spawn(second.send());
    let status = |r: Result<reqwest::Result<reqwest::Response>, _>| r.expect("task").expect("sent").status();
    let (first, second) = tokio::join!(first, second);
    (status(first), status(second))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_demoting_each_other_at_the_same_moment_leave_exactly_one_admin() {
    for round in 0..12 {
        let app = TestApp::spawn().await;
        let a = app.admin("alpha").await;
        let b = app.admin("bravo").await;

        let (first, second) = race(&app, &a, &b, true).await;

        // The loser is refused either by the last-admin check (409) or, when the winner
        // committed before the loser's request was authorised, as no longer an admin (403).
        let mut statuses = [first, second];
        statuses.sort();
        assert_eq!(statuses[0], StatusCode::OK, "round {round}: {first} / {second}");
        assert!(matches!(statuses[1], StatusCode::FORBIDDEN | StatusCode::CONFLICT), "round {round}: {first} / {second}");
        assert_eq!(enabled_admins(&app).await.len(), 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_stepping_down_at_the_same_moment_get_one_success_and_one_last_admin_409() {
    for round in 0..12 {
        let app = TestApp::spawn().await;
        let a = app.admin("alpha").await;
        let b = app.admin("bravo").await;

        // Both are admins when authorised, so only the atomic check can stop the second change.
        let (demote, delete) = race(&app, &a, &b, false).await;

        let won = [demote == StatusCode::OK, delete == StatusCode::NO_CONTENT];
        let refused = [demote == StatusCode::CONFLICT, delete == StatusCode::CONFLICT];
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "round {round}: {demote} / {delete}");
        assert_eq!(refused.iter().filter(|r| **r).count(), 1, "round {round}: {demote} / {delete}");
        assert_eq!(enabled_admins(&app).await.len(), 1, "round {round}");
    }
}
