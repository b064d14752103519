//! The admin console in a browser: finding users, changing one, deleting one after a
//! confirmation, the audit log and the keys; and who may not use it.

use fantoccini::Locator;
use gatehouse::domain::{Role, Username};
use gatehouse::store::NewUser;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::browser;
use crate::common::{PASSWORD, TestApp};

/// `count` users named member00.., straight into the store (no password hashing: they never sign in).
async fn seed(app: &TestApp, count: usize) {
    let users = (0..count)
        .map(|i| NewUser {
            id: Uuid::now_v7(),
            username: Username::parse(&format!("member{i:02}")).expect("name"),
            email: None,
            password_hash: "not a hash: never signs in".into(),
            roles: if i % 10 == 0 {
                vec![Role::parse("editor").expect("role"), Role::parse("user").expect("role")]
            } else {
                vec![Role::parse("user").expect("role")]
            },
        })
        .collect();
    app.store().await.create_users(users).await.expect("seeded");
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_finds_users_by_search_and_role_and_pages_through_them() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    app.admin("root").await;
    seed(&app, 45).await;
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url("/admin")).await;
    assert!(browser.text().await.contains("46\nusers"), "the console's home counts them: {}", browser.text().await);
    browser.client.find(Locator::LinkText("Users")).await.expect("the navigation").click().await.expect("clicked");
    assert_eq!(browser.path().await, "/admin/users");
    assert!(browser.text().await.contains("Page 1 of 3 (46 users)"), "{}", browser.text().await);
    browser.client.find(Locator::LinkText("Next")).await.expect("next").click().await.expect("clicked");
    assert!(browser.text().await.contains("Page 2 of 3"));
    crate::sign_in::picture(&browser, "admin-users").await;

    browser.goto(&app.url("/admin/users")).await;
    browser.fill("q", "member1").await;
    browser.press("Filter").await;
    assert!(browser.text().await.contains("Page 1 of 1 (10 users)"), "member10 to member19");
    browser.goto(&app.url("/admin/users?role=editor")).await;
    assert!(browser.text().await.contains("(5 users)"), "member00, 10, 20, 30, 40");
    browser.goto(&app.url("/admin/users?role=Not%20A%20Role!")).await;
    assert!(browser.text().await.contains("Role"), "a bad filter is shown beside its field");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_changes_roles_disables_enables_and_deletes_a_user_after_confirming() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    app.admin("root").await;
    let alice = app.user("alice").await;
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url(&format!("/admin/users/{}", alice.id))).await;
    browser.fill("new_role", "editor").await;
    browser.press("Save roles").await;
    assert!(browser.text().await.contains("Saved."));
    let me: serde_json::Value = app.get_me(&alice.access).await.json().await.expect("me");
    assert_eq!(me["roles"], serde_json::json!(["editor", "user"]));

    browser.press("Disable and sign out everywhere").await;
    assert_eq!(app.get_me(&alice.access).await.status(), StatusCode::UNAUTHORIZED, "her sessions ended");
    browser.press("Enable").await;
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::OK);

    // A role in use is a choice now: unticking it takes it away.
    browser.client.find(Locator::Id("role-editor")).await.expect("editor is offered").click().await.expect("unticked");
    browser.press("Save roles").await;
    let again = app.login("alice", PASSWORD).await;
    let me: serde_json::Value = app.get_me(&again.access).await.json().await.expect("me");
    assert_eq!(me["roles"], serde_json::json!(["user"]));

    browser.press("Delete user…").await;
    assert!(browser.text().await.contains("cannot be undone"));
    browser.press("Delete for good").await;
    assert!(browser.text().await.contains("The user was deleted."));
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_last_admin_cannot_disable_themself_and_the_audit_log_and_keys_are_shown() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let root = app.admin("root").await;
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url(&format!("/admin/users/{}", root.id))).await;
    browser.press("Disable and sign out everywhere").await;
    assert!(browser.text().await.contains("That would leave no enabled admin."));

    browser.goto(&app.url("/admin/audit?type=user.registered")).await;
    let log = browser.text().await;
    assert!(log.contains("user.registered") && !log.contains("login.succeeded"), "{log}");
    browser.goto(&app.url("/admin/audit?since=yesterday")).await;
    assert!(browser.text().await.contains("RFC 3339"), "a bad filter is shown beside its field");
    browser.goto(&app.url("/admin/keys")).await;
    assert!(browser.text().await.contains("signs new tokens"));
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_user_who_is_not_an_admin_is_refused_and_a_demoted_admin_loses_the_console_at_once() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let root = app.admin("root").await;
    let second = app.admin("second").await;
    app.user("alice").await;

    browser.sign_in(&app, "alice", PASSWORD).await;
    browser.goto(&app.url("/admin/users")).await;
    assert!(browser.text().await.contains("This page is for admins."));

    browser.press("Sign out").await;
    browser.sign_in(&app, "second", PASSWORD).await;
    browser.goto(&app.url("/admin/users")).await;
    assert!(browser.text().await.contains("(3 users)"));
    let res = app.patch(&format!("/v1/users/{}", second.id), &serde_json::json!({ "roles": ["user"] }), Some(&root.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    browser.goto(&app.url("/admin/users")).await;
    assert!(browser.text().await.contains("This page is for admins."), "the role is read on every request");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_registers_an_application_with_its_api_sees_its_secret_once_gives_it_a_new_one_and_deletes_it() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    app.admin("root").await;
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url("/admin/clients")).await;
    browser.fill("name", "Photo app").await;
    browser.fill("redirect_uris", "https://photos.example.com/cb\nhttp://evil.example.com/cb").await;
    browser.press("Register").await;
    assert!(browser.text().await.contains("must use https"), "a bad redirect URI is shown beside the box");

    browser.fill("redirect_uris", "https://photos.example.com/cb").await;
    browser.fill("resources", "https://api.photos.example.com").await;
    browser.press("Register").await;
    let registered = app.store().await.clients().await.expect("clients");
    assert_eq!(registered[0].resources, vec!["https://api.photos.example.com".to_string()], "the API it may ask tokens for");
    let secret = browser.client.find(Locator::Id("client-secret")).await.expect("the secret").text().await.expect("text");
    let client_id = browser.client.find(Locator::Id("client-id")).await.expect("the id").text().await.expect("text");
    assert_eq!(secret.len(), 43);
    browser.client.find(Locator::LinkText("Continue")).await.expect("continue").click().await.expect("clicked");
    let list = browser.text().await;
    assert!(list.contains(&client_id) && !list.contains(&secret), "the secret is not shown again");

    browser.press("New secret").await;
    let fresh = browser.client.find(Locator::Id("client-secret")).await.expect("the secret").text().await.expect("text");
    assert_ne!(fresh, secret);
    browser.goto(&app.url("/admin/clients")).await;
    browser.press("Delete").await;
    assert!(browser.text().await.contains("The client was deleted."));
    assert!(app.store().await.clients().await.expect("clients").is_empty());
    browser.close().await;
}
