//! Sign-in by email code as a person does it: the link on /login, the address, the code
//! typed or the mailed link's button; a passwordless account setting its password; the
//! breached-password notice. Every new page passes axe-core.

use std::path::Path;
use std::time::Duration;

use gatehouse::config::signin::BreachSource;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::browser::{self, Browser};
use crate::common::pwned::write_corpus;
use crate::common::{PASSWORD, TestApp};

/// Every message in the outbox, oldest first.
async fn outbox(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir).map(|d| d.flatten().collect()).unwrap_or_default();
    files.sort_by_key(|f| f.metadata().and_then(|m| m.modified()).ok());
    files.iter().filter_map(|f| std::fs::read_to_string(f.path()).ok()).collect()
}

/// The value after `marker` in the `nth` message holding it, up to the first character
/// that cannot be in a token, a challenge or a code; waits up to 20 s.
async fn from_outbox(dir: &Path, marker: &str, nth: usize) -> String {
    for _ in 0..400 {
        let found: Vec<String> = outbox(dir).await.into_iter().filter(|m| m.contains(marker)).collect();
        if let Some(message) = found.get(nth - 1) {
            let start = message.find(marker).expect("the marker") + marker.len();
            return message[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no message {nth} with {marker} in the outbox");
}

/// A server whose outbox the test reads.
async fn app_with_outbox(dir: &Path, adjust: impl FnOnce(&mut gatehouse::config::Config)) -> TestApp {
    let outbox = dir.to_path_buf();
    TestApp::spawn_with(|c| {
        c.mail_outbox = outbox;
        c.mail_poll_interval = 1;
        adjust(c);
    })
    .await
}

async fn check_axe(browser: &Browser, axe: &str, what: &str, found: &mut Vec<String>) {
    for violation in browser.accessibility_violations(axe).await {
        found.push(format!("{what}: {violation}"));
    }
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_person_signs_in_with_a_code_typed_and_with_the_mailed_links_button_and_the_pages_pass_axe() {
    let Some(browser) = browser::open().await else { return };
    let Some(axe) = browser::axe_script() else { return };
    let mail = tempfile::tempdir().expect("outbox");
    let app = app_with_outbox(mail.path(), |_| {}).await;
    assert_eq!(app.post_register("alice", Some("alice@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    let token = from_outbox(mail.path(), "/verify-email?token=", 1).await;
    assert_eq!(app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await.status(), StatusCode::NO_CONTENT);
    let mut found = Vec::new();

    browser.goto(&app.page("/login")).await;
    browser.client.find(fantoccini::Locator::LinkText("Email me a sign-in code")).await.expect("the link").click().await.expect("clicked");
    browser.client.wait().for_element(fantoccini::Locator::Id("email")).await.expect("the address page");
    check_axe(&browser, &axe, "/login/email-code", &mut found).await;
    browser.fill("email", "alice@example.com").await;
    browser.press("Email me a code").await;
    check_axe(&browser, &axe, "the code page", &mut found).await;
    let code = from_outbox(mail.path(), "&code=", 1).await;
    browser.fill("code", &format!("{}-{}", &code[..5], &code[5..]).to_lowercase()).await;
    browser.press("Sign in").await;
    assert_eq!(browser.path().await, "/account");
    assert!(browser.text().await.contains("alice@example.com (verified)"));

    // The mailed link: opening it spends nothing; its button signs in.
    app.email_challenge("alice@example.com").await;
    let challenge = from_outbox(mail.path(), "/login/email?challenge=", 2).await;
    let code = from_outbox(mail.path(), "&code=", 2).await;
    browser.goto(&app.page(&format!("/login/email?challenge={challenge}&code={code}"))).await;
    check_axe(&browser, &axe, "the mailed link's page", &mut found).await;
    browser.goto(&app.page(&format!("/login/email?challenge={challenge}&code={code}"))).await;
    browser.press("Sign in").await;
    assert_eq!(browser.path().await, "/account");

    assert!(found.is_empty(), "accessibility problems:\n{}", found.join("\n"));
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_passwordless_account_sets_a_password_on_the_account_page_with_a_fresh_code() {
    let Some(browser) = browser::open().await else { return };
    let Some(axe) = browser::axe_script() else { return };
    let mail = tempfile::tempdir().expect("outbox");
    let app = app_with_outbox(mail.path(), |c| c.signin.email_code_signup = true).await;
    let mut found = Vec::new();

    browser.goto(&app.page("/login/email-code")).await;
    browser.fill("email", "newcomer@example.com").await;
    browser.press("Email me a code").await;
    let code = from_outbox(mail.path(), "&code=", 1).await;
    browser.fill("code", &code).await;
    browser.press("Sign in").await;
    assert_eq!(browser.path().await, "/account");
    assert!(browser.text().await.contains("Set a password"));
    check_axe(&browser, &axe, "/account without a password", &mut found).await;
    browser.press("Email me a code").await;
    assert_eq!(browser.path().await, "/account?done=reauth_code_sent");
    let fresh = from_outbox(mail.path(), "&code=", 2).await;
    browser.fill("current_password", &fresh).await;
    browser.fill("new_password", "a brand new passphrase 77").await;
    browser.press("Set a password").await;

    assert_eq!(browser.path().await, "/account?done=password_changed");
    assert!(browser.text().await.contains("Change password"));
    assert_eq!(app.post_login("newcomer", "a brand new passphrase 77").await.status(), StatusCode::OK);
    assert!(found.is_empty(), "accessibility problems:\n{}", found.join("\n"));
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn signing_in_with_a_password_now_known_breached_shows_a_notice_on_the_account_page() {
    let Some(browser) = browser::open().await else { return };
    let Some(axe) = browser::axe_script() else { return };
    let corpus = tempfile::tempdir().expect("corpus");
    let path = corpus.path().to_path_buf();
    let app = TestApp::spawn_with(|c| c.signin.breached_passwords = BreachSource::File(path)).await;
    assert_eq!(app.post_register("bob", None, PASSWORD).await.status(), StatusCode::CREATED);
    write_corpus(corpus.path(), &[PASSWORD]);

    browser.sign_in(&app, "bob", PASSWORD).await;

    assert_eq!(browser.path().await, "/account");
    assert!(browser.text().await.contains("Your password has appeared in a data breach"));
    let violations = browser.accessibility_violations(&axe).await;
    assert!(violations.is_empty(), "{violations:?}");
    browser.close().await;
}
