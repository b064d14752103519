//! Sign-up, sign-in (with the second step), the account page and sign-out, as a person
//! does them.

use serde_json::json;

use crate::common::browser::{self, Browser};
use crate::common::mfa::{code_at, fresh_step};
use crate::common::{PASSWORD, TestApp};

/// Saves a screenshot under target/screenshots/ (and docs/screenshots/ with GATEHOUSE_SCREENSHOTS=1).
pub async fn picture(browser: &Browser, name: &str) {
    let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")];
    if std::env::var("GATEHOUSE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        dirs.push(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        browser.screenshot(&dir.join(format!("{name}.png"))).await;
    }
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_visitor_signs_up_signs_in_sees_the_account_page_and_signs_out() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;

    browser.goto(&app.url("/register")).await;
    browser.fill("username", "alice").await;
    browser.fill("email", "alice@example.com").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign up").await;
    assert_eq!(browser.path().await, "/login?notice=welcome&return_to=");
    assert!(browser.text().await.contains("Your account is ready"));
    picture(&browser, "sign-in").await;
    browser.prefer_color_scheme("dark").await;
    picture(&browser, "sign-in-dark").await;
    browser.prefer_color_scheme("light").await;

    browser.sign_in(&app, "alice@example.com", PASSWORD).await;
    assert_eq!(browser.path().await, "/account");
    let page = browser.text().await;
    assert!(page.contains("alice") && page.contains("alice@example.com (not verified)"), "{page}");
    assert!(page.contains("(this session)"), "{page}");
    picture(&browser, "account").await;
    browser.prefer_color_scheme("dark").await;
    picture(&browser, "account-dark").await;
    browser.prefer_color_scheme("light").await;

    browser.press("Sign out").await;
    assert_eq!(browser.path().await, "/login?notice=signed_out");
    browser.goto(&app.url("/account")).await;
    assert_eq!(browser.path().await, "/login?return_to=%2Faccount", "the account page asks to sign in again");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_wrong_password_is_refused_beside_the_form_with_the_same_words_for_an_unknown_name() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    app.user("alice").await;

    browser.sign_in(&app, "alice", "not the password at all").await;
    let wrong_password = browser.text().await;
    browser.sign_in(&app, "nobody", "not the password at all").await;
    let unknown_name = browser.text().await;

    assert!(wrong_password.contains("The username or password is incorrect."), "{wrong_password}");
    assert_eq!(wrong_password.replace("alice", "nobody"), unknown_name);
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_user_with_totp_on_signs_in_with_a_code_on_the_second_step() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let bob = app.mfa_user("bob").await;

    browser.sign_in(&app, "bob", PASSWORD).await;
    assert!(browser.text().await.contains("authenticator app"));
    browser.fill("code", "000000").await;
    browser.press("Verify").await;
    assert!(browser.text().await.contains("That code is not right"));
    let t = fresh_step().await;
    browser.fill("code", &code_at(&bob.secret, t)).await;
    browser.press("Verify").await;

    assert_eq!(browser.path().await, "/account");
    assert!(browser.text().await.contains("Two-step verification\non"));
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_session_signed_out_from_another_browser_ends_on_its_next_page() {
    let (Some(laptop), Some(phone)) = (browser::open().await, browser::open().await) else { return };
    let app = TestApp::spawn().await;
    // Registered without an API session: the account page lists the two browsers only.
    assert_eq!(app.post_register("alice", None, PASSWORD).await.status(), reqwest::StatusCode::CREATED);
    laptop.sign_in(&app, "alice", PASSWORD).await;
    phone.sign_in(&app, "alice", PASSWORD).await;
    assert_eq!(phone.path().await, "/account");

    laptop.goto(&app.url("/account")).await;
    laptop.press("Sign out this one").await;
    assert!(laptop.text().await.contains("That session was signed out."));

    phone.goto(&app.url("/account")).await;
    assert_eq!(phone.path().await, "/login?return_to=%2Faccount");
    laptop.goto(&app.url("/account")).await;
    assert_eq!(laptop.path().await, "/account", "the laptop's own session goes on");
    laptop.close().await;
    phone.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_disabling_the_user_ends_the_users_browser_session_on_its_next_page() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    browser.sign_in(&app, "alice", PASSWORD).await;
    assert_eq!(browser.path().await, "/account");

    let res = app.patch(&format!("/v1/users/{}", alice.id), &json!({ "disabled": true }), Some(&admin.access)).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);

    browser.goto(&app.url("/account")).await;
    assert_eq!(browser.path().await, "/login?return_to=%2Faccount");
    browser.sign_in(&app, "alice", PASSWORD).await;
    assert!(browser.text().await.contains("This account is disabled."));
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn after_sign_in_a_return_to_on_an_allowed_origin_is_followed_and_one_elsewhere_is_ignored() {
    let Some(browser) = browser::open().await else { return };
    // The same server under another name is another origin: allowed by the setting.
    let port_holder = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = port_holder.local_addr().expect("addr").port();
    drop(port_holder);
    let app = TestApp::spawn_with(|c| {
        c.bind = format!("127.0.0.1:{port}").parse().expect("bind");
        c.pages.allowed_return_origins = vec![format!("http://localhost:{port}")];
    })
    .await;
    app.user("alice").await;

    browser.goto(&app.url("/login?return_to=https%3A%2F%2Fevil.example%2Fsteal")).await;
    browser.fill("username", "alice").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    assert_eq!(browser.path().await, "/account");

    browser.press("Sign out").await;
    let allowed = format!("http://localhost:{port}/health");
    let query = serde_urlencoded_query(&allowed);
    browser.goto(&app.url(&format!("/login?{query}"))).await;
    browser.fill("username", "alice").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    let landed = browser.client.current_url().await.expect("url");
    assert_eq!(landed.as_str(), allowed);
    browser.close().await;
}

fn serde_urlencoded_query(return_to: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", [("return_to", return_to)]).expect("url").query().expect("query").to_string()
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_sign_in_form_works_from_the_keyboard_alone() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    app.user("alice").await;
    browser.goto(&app.url("/login")).await;

    // The username field has the focus; Tab moves to the password; Enter submits.
    let focused = browser.client.active_element().await.expect("a focused element");
    assert_eq!(focused.attr("id").await.expect("id").as_deref(), Some("username"));
    focused.send_keys("alice\u{E004}").await.expect("typed, then Tab");
    let focused = browser.client.active_element().await.expect("a focused element");
    assert_eq!(focused.attr("id").await.expect("id").as_deref(), Some("password"));
    focused.send_keys(&format!("{PASSWORD}\u{E007}")).await.expect("typed, then Enter");
    browser.client.wait().for_url(&reqwest::Url::parse(&app.url("/account")).expect("url")).await.expect("the account page");

    assert!(browser.text().await.contains("Your account"));
    browser.close().await;
}
