//! The mailed links open pages: verifying an address, and a forgotten password reset,
//! with the links taken from the outbox as a person would copy them.

use std::time::{Duration, Instant};

use crate::common::browser;
use crate::common::{PASSWORD, TestApp};

const NEW_PASSWORD: &str = "a brand new passphrase 77";

/// The whole link to `path` in the newest outbox mail that has one (waiting for the worker).
pub async fn outbox_link(app: &TestApp, path: &str, count: usize) -> String {
    let outbox = app.state.config.mail_outbox.clone();
    let marker = format!("/{path}?token=");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut links: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let text = std::fs::read_to_string(entry.path()).ok()?;
                let line = text.lines().find(|l| l.contains(&marker))?.trim().to_string();
                Some((entry.metadata().ok()?.modified().ok()?, line))
            })
            .collect();
        if links.len() >= count {
            links.sort();
            return links.pop().expect("a link").1;
        }
        assert!(Instant::now() < deadline, "no mail with a {path} link in the outbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_mailed_verification_link_opens_a_page_whose_button_verifies_the_address() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    assert_eq!(app.post_register("alice", Some("alice@example.com"), PASSWORD).await.status(), reqwest::StatusCode::CREATED);

    let link = outbox_link(&app, "verify-email", 1).await;
    browser.goto(&link).await;
    browser.press("Verify my address").await;
    assert!(browser.text().await.contains("Your email address is verified."));

    browser.goto(&link).await;
    browser.press("Verify my address").await;
    assert!(browser.text().await.contains("This link no longer works"), "a link works once");
    browser.sign_in(&app, "alice", PASSWORD).await;
    assert!(browser.text().await.contains("alice@example.com (verified)"));
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link_and_every_session_ends() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    assert_eq!(app.post_register("alice", Some("alice@example.com"), PASSWORD).await.status(), reqwest::StatusCode::CREATED);
    let api_session = app.login("alice", PASSWORD).await;

    browser.goto(&app.url("/login")).await;
    browser.client.find(fantoccini::Locator::LinkText("Forgot your password?")).await.expect("the link").click().await.expect("clicked");
    browser.fill("username", "alice@example.com").await;
    browser.press("Send the link").await;
    assert!(browser.text().await.contains("a reset link is on its way"));

    let link = outbox_link(&app, "reset-password", 1).await;
    browser.goto(&link).await;
    browser.fill("new_password", "short").await;
    browser.press("Set the password").await;
    assert!(browser.text().await.contains("Please correct the fields"), "a weak password is refused beside its field");
    browser.fill("new_password", NEW_PASSWORD).await;
    browser.press("Set the password").await;
    assert_eq!(browser.path().await, "/login?notice=password_reset_done");

    assert_eq!(app.get_me(&api_session.access).await.status(), reqwest::StatusCode::UNAUTHORIZED);
    browser.sign_in(&app, "alice", NEW_PASSWORD).await;
    assert_eq!(browser.path().await, "/account");
    browser.close().await;
}
