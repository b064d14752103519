//! Passkeys in a real browser with Chromium's virtual authenticator: added on the account
//! page, signing in without a username, as the second step, deleted; ceremonies across
//! instances on both stores; answers for another origin or sent twice refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::recovery::outbox_link;
use crate::common::browser::{self, Browser};
use crate::common::mfa::{code_at, fresh_step};
use crate::common::passkeys::{on_localhost, passkey_app};
use crate::common::{PASSWORD, StoreKind, TestApp, assert_problem, postgres};

/// Registers `username` with an address and verifies it (the notices go to verified ones).
async fn verified_user(app: &TestApp, username: &str) -> crate::common::TestUser {
    let res = app.post_register(username, Some(&format!("{username}@example.com")), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let link = outbox_link(app, "verify-email", 1).await;
    let token = link.split("token=").nth(1).expect("a token").trim();
    assert_eq!(app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await.status(), StatusCode::NO_CONTENT);
    app.login(username, PASSWORD).await
}

/// The mails in the outbox whose text holds `needle`.
fn mails_saying(app: &TestApp, needle: &str) -> usize {
    let outbox = app.state.config.mail_outbox.clone();
    std::fs::read_dir(outbox)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(needle)))
        .count()
}

async fn sign_in_with_password(browser: &Browser, app: &TestApp, login: &str) {
    browser.goto(&app.page("/login")).await;
    browser.fill("username", login).await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
}

async fn audit_types(app: &TestApp, admin: &str) -> Vec<String> {
    let res = app.get("/v1/audit?per_page=100", Some(admin)).await;
    let body: Value = res.json().await.expect("audit");
    body["items"].as_array().expect("items").iter().map(|e| format!("{} {}", e["type"], e["detail"])).collect()
}

/// A server with passkeys on, on a fresh database of `kind`.
async fn app_on(kind: StoreKind) -> TestApp {
    match kind {
        StoreKind::Sqlite => passkey_app().await,
        StoreKind::Postgres => {
            TestApp::spawn_on(&postgres::shared().create_database().await, |c| {
                on_localhost(c);
            })
            .await
        }
    }
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn on_sqlite_a_person_adds_a_passkey_signs_in_with_it_without_a_username_uses_it_as_second_step_and_once_deleted_it_is_refused() {
    a_passkeys_life(StoreKind::Sqlite).await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn on_postgres_a_person_adds_a_passkey_signs_in_with_it_without_a_username_uses_it_as_second_step_and_once_deleted_it_is_refused() {
    a_passkeys_life(StoreKind::Postgres).await;
}

async fn a_passkeys_life(kind: StoreKind) {
    let Some(browser) = browser::open().await else { return };
    let app = app_on(kind).await;
    let admin = app.admin("root").await;
    let alice = verified_user(&app, "alice").await;
    let authenticator = browser.add_authenticator().await;
    let autofill = browser.autofill_off().await;

    // Added on the account page, after the password.
    sign_in_with_password(&browser, &app, "alice").await;
    assert_eq!(browser.path().await, "/account");
    browser.fill("passkey_name", "Laptop").await;
    browser.fill("password", PASSWORD).await;
    browser.click_and_wait("passkey-add").await;
    assert_eq!(browser.path().await, "/account?done=passkey_added");
    let page = browser.text().await;
    assert!(page.contains("Laptop") && page.contains("passkey on one device"), "{page}");
    let stored = browser.stored_credentials(&authenticator).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["isResidentCredential"], true, "a discoverable credential");
    assert_eq!(mails_saying(&app, "named \"Laptop\" was added"), 1, "the verified address is told");
    let listed: Value = app.get("/v1/auth/passkeys", Some(&alice.access)).await.json().await.expect("list");
    assert_eq!(listed["items"][0]["name"], "Laptop");
    assert_eq!(listed["items"][0]["authenticator"], "device");

    // Signed out, then in again with the passkey alone: no name typed.
    browser.press("Sign out").await;
    assert_eq!(browser.path().await, "/login?notice=signed_out");
    let csrf_cookie = || async { browser.client.get_named_cookie("gatehouse_csrf").await.expect("a csrf cookie").value().to_string() };
    let before = csrf_cookie().await;
    browser.click_and_wait("passkey-sign-in").await;
    assert_eq!(browser.path().await, "/account", "{}", browser.text().await);
    assert_ne!(csrf_cookie().await, before, "a passkey sign-in gives the CSRF cookie a new value");
    assert!(browser.text().await.contains("alice@example.com"));
    let used: Value = app.get("/v1/auth/passkeys", Some(&alice.access)).await.json().await.expect("list");
    assert!(used["items"][0]["last_used_at"].is_string(), "its use is recorded: {used}");
    assert!(used["items"][0]["sign_count"].as_i64() >= listed["items"][0]["sign_count"].as_i64(), "{used}");

    // With TOTP on, a password sign-in may take the passkey as its second step.
    let secret = app.setup_totp(&alice.access).await["secret"].as_str().expect("secret").to_string();
    let t = fresh_step().await;
    assert_eq!(app.confirm_totp(&alice.access, &code_at(&secret, t)).await.status(), StatusCode::OK);
    browser.press("Sign out").await;
    sign_in_with_password(&browser, &app, "alice").await;
    assert!(browser.text().await.contains("Or use one of your passkeys"), "the second step offers the passkey");
    browser.click_and_wait("passkey-second-step").await;
    assert_eq!(browser.path().await, "/account", "{}", browser.text().await);

    // The browser's autofill on the sign-in page: the virtual authenticator picks the
    // passkey as a person would, and the sign-in counts as two factors (no TOTP step).
    browser.autofill_on(&autofill).await;
    browser.press("Sign out").await;
    browser.wait_for_path("/account").await;

    // Renamed on the account page.
    let id = listed["items"][0]["id"].as_str().expect("id").to_string();
    browser.fill(&format!("rename-{id}"), "Work laptop").await;
    browser.press("Rename").await;
    assert_eq!(browser.path().await, "/account?done=passkey_renamed");
    assert!(browser.text().await.contains("Work laptop"), "{}", browser.text().await);

    // Deleted with the password: it signs nobody in any more, by autofill or by button.
    browser.fill(&format!("delete-{id}"), PASSWORD).await;
    browser.press("Delete").await;
    assert_eq!(browser.path().await, "/account?done=passkey_removed");
    assert_eq!(mails_saying(&app, "named \"Work laptop\" was removed"), 1);
    browser.press("Sign out").await;
    browser.wait_for_path("/login/passkey").await;
    assert!(browser.text().await.contains("That passkey was not accepted"), "{}", browser.text().await);
    browser.click_and_wait("passkey-sign-in").await;
    assert!(browser.text().await.contains("That passkey was not accepted"), "{}", browser.text().await);
    assert_eq!(browser.path().await, "/login/passkey");

    let events = audit_types(&app, &admin.access).await;
    for expected in ["\"passkey.added\"", "\"passkey.removed\"", "\"passkey\",\"passkey_id\"", "\"mfa\":\"passkey\""] {
        assert!(events.iter().any(|e| e.contains(expected)), "{expected} in {events:?}");
    }
    browser.close().await;
}

/// A ceremony begun on one instance and finished on another; an answer sent twice and an
/// answer made for another origin are refused.
async fn ceremonies_cross_instances(kind: StoreKind) {
    let Some(browser) = browser::open().await else { return };
    let first = app_on(kind).await;
    // Behind the same name: the first one's public URL.
    let public_url = first.state.config.public_url();
    let second = TestApp::spawn_sharing(&first, |c| c.public_url = Some(public_url)).await;
    let elsewhere = TestApp::spawn_sharing(&first, |c| {
        on_localhost(c);
    })
    .await;
    browser.add_authenticator().await;
    browser.goto(&first.page("/login")).await;

    let alice = first.user("alice").await;
    let begun: Value = second
        .post("/v1/auth/passkeys/register/begin", &json!({ "password": PASSWORD }), Some(&alice.access))
        .await
        .json()
        .await
        .expect("options");
    let credential = browser.ceremony("create", &begun["options"]).await;
    let finish = json!({ "ceremony_id": begun["ceremony_id"], "name": "Phone", "credential": credential });
    let res = first.post("/v1/auth/passkeys/register/finish", &finish, Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap_or_default());
    assert_problem(
        first.post("/v1/auth/passkeys/register/finish", &finish, Some(&alice.access)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let begun: Value = first.post("/v1/auth/passkeys/login/begin", &json!({}), None).await.json().await.expect("options");
    let answer = browser.ceremony("get", &begun["options"]).await;
    let finish = json!({ "ceremony_id": begun["ceremony_id"], "credential": answer });
    let res = second.post("/v1/auth/passkeys/login/finish", &finish, None).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap_or_default());
    let pair: Value = res.json().await.expect("tokens");
    assert_eq!(first.get_me(pair["access_token"].as_str().expect("token")).await.status(), StatusCode::OK);
    assert_problem(first.post("/v1/auth/passkeys/login/finish", &finish, None).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;

    // The page's origin is the first one's; the instance that began expects its own.
    let begun: Value = elsewhere.post("/v1/auth/passkeys/login/begin", &json!({}), None).await.json().await.expect("options");
    let answer = browser.ceremony("get", &begun["options"]).await;
    let finish = json!({ "ceremony_id": begun["ceremony_id"], "credential": answer });
    assert_problem(elsewhere.post("/v1/auth/passkeys/login/finish", &finish, None).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn on_sqlite_a_ceremony_begun_on_one_instance_finishes_on_another_and_replayed_or_foreign_answers_are_refused() {
    ceremonies_cross_instances(StoreKind::Sqlite).await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn on_postgres_a_ceremony_begun_on_one_instance_finishes_on_another_and_replayed_or_foreign_answers_are_refused() {
    ceremonies_cross_instances(StoreKind::Postgres).await;
}

/// Registers a passkey named `name` for `user` through the API, the browser (on a page of
/// `app`) acting as the authenticator.
pub(crate) async fn api_passkey(browser: &Browser, app: &TestApp, access: &str, name: &str) -> String {
    let begun: Value =
        app.post("/v1/auth/passkeys/register/begin", &json!({ "password": PASSWORD }), Some(access)).await.json().await.expect("options");
    let credential = browser.ceremony("create", &begun["options"]).await;
    let finish = json!({ "ceremony_id": begun["ceremony_id"], "name": name, "credential": credential });
    let created: Value = app.post("/v1/auth/passkeys/register/finish", &finish, Some(access)).await.json().await.expect("passkey");
    created["id"].as_str().expect("id").to_string()
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_removes_a_users_passkey_in_the_console_and_deleting_a_user_deletes_theirs() {
    let Some(browser) = browser::open().await else { return };
    let app = passkey_app().await;
    let root = app.admin("root").await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    browser.add_authenticator().await;
    browser.autofill_off().await;
    browser.goto(&app.page("/login")).await;
    api_passkey(&browser, &app, &alice.access, "Phone").await;
    api_passkey(&browser, &app, &bob.access, "Tablet").await;
    let listed: Value = app.get(&format!("/v1/users/{}/passkeys", alice.id), Some(&root.access)).await.json().await.expect("list");
    assert_eq!(listed["items"][0]["name"], "Phone");

    sign_in_with_password(&browser, &app, "root").await;
    browser.goto(&app.page(&format!("/admin/users/{}", alice.id))).await;
    assert!(browser.text().await.contains("Phone"), "{}", browser.text().await);
    browser.press("Delete").await;
    assert!(browser.text().await.contains("Delete the passkey Phone of alice?"), "asked first");
    browser.press("Delete the passkey").await;
    assert_eq!(browser.path().await, format!("/admin/users/{}?done=changed", alice.id));
    assert!(!browser.text().await.contains("Phone"), "{}", browser.text().await);
    let listed: Value = app.get("/v1/auth/passkeys", Some(&alice.access)).await.json().await.expect("list");
    assert_eq!(listed["items"], json!([]));
    let events = audit_types(&app, &root.access).await;
    assert!(events.iter().any(|e| e.starts_with("\"passkey.removed\"") && e.contains("Phone")), "{events:?}");

    assert_eq!(app.delete(&format!("/v1/users/{}", bob.id), Some(&root.access)).await.status(), StatusCode::NO_CONTENT);
    let left = app.state.store.passkeys_of(bob.id.parse().expect("id")).await.expect("read");
    assert!(left.is_empty(), "bob's passkey went with bob");
    browser.close().await;
}
