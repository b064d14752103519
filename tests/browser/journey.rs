//! A person's whole way through the pages: sign up, verify the address from the mailed
//! link, sign in, turn two-step verification on with a code from the shown key, sign out,
//! sign in with a code, change the address, turn two-step verification off with a
//! recovery code.

use fantoccini::Locator;

use super::recovery::outbox_link;
use crate::common::browser;
use crate::common::mfa::{code_at, fresh_step};
use crate::common::{PASSWORD, TestApp};

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_person_signs_up_verifies_turns_totp_on_signs_in_with_a_code_and_turns_it_off_with_a_recovery_code() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;

    browser.goto(&app.url("/register")).await;
    browser.fill("username", "carol").await;
    browser.fill("email", "carol@example.com").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign up").await;
    browser.goto(&outbox_link(&app, "verify-email", 1).await).await;
    browser.press("Verify my address").await;
    browser.sign_in(&app, "carol", PASSWORD).await;
    assert!(browser.text().await.contains("carol@example.com (verified)"));

    // Two-step verification on: the key shown on the page, a code computed from it.
    browser.fill("totp_password", PASSWORD).await;
    browser.press("Turn on two-step verification").await;
    let key = browser.client.find(Locator::Id("totp-secret")).await.expect("the key").text().await.expect("its text");
    assert!(browser.client.find(Locator::Css(".qr-image svg")).await.is_ok(), "a QR code is shown");
    browser.fill("code", "123456").await;
    browser.press("Turn on").await;
    assert!(browser.text().await.contains("That code is not right"), "a wrong code keeps the same key on the page");
    let same_key = browser.client.find(Locator::Id("totp-secret")).await.expect("the key").text().await.expect("its text");
    assert_eq!(same_key, key);
    let t = fresh_step().await;
    browser.fill("code", &code_at(&key, t)).await;
    browser.press("Turn on").await;
    let codes: Vec<String> = {
        let items = browser.client.find_all(Locator::Css("#recovery-codes code")).await.expect("codes");
        let mut codes = Vec::new();
        for item in items {
            codes.push(item.text().await.expect("a code"));
        }
        codes
    };
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    browser.client.find(Locator::LinkText("Continue")).await.expect("continue").click().await.expect("clicked");
    assert!(browser.text().await.contains("Two-step verification\non"));

    // Signing in now takes a code: the next step's, as the last one is spent.
    browser.press("Sign out").await;
    browser.sign_in(&app, "carol@example.com", PASSWORD).await;
    browser.fill("code", &code_at(&key, t + 30)).await;
    browser.press("Verify").await;
    assert_eq!(browser.path().await, "/account");

    // The address changes only once its link is followed; the change takes the password and a code.
    browser.fill("email", "carol@new.example").await;
    browser.fill("email_password", PASSWORD).await;
    browser.fill("email_code", &codes[0]).await;
    browser.press("Change address").await;
    let page = browser.text().await;
    assert!(page.contains("carol@new.example (waiting for its link)") && page.contains("carol@example.com (verified)"), "{page}");

    // Off again, with the password and another recovery code; the history shows each step.
    browser.fill("totp_password", PASSWORD).await;
    browser.fill("totp_code", &codes[1]).await;
    browser.press("Turn off two-step verification").await;
    let page = browser.text().await;
    assert!(page.contains("Two-step verification is off.") && page.contains("Two-step verification\noff"), "{page}");
    for event in ["mfa.enabled", "mfa.disabled", "email.changed"] {
        assert!(page.contains(event), "{event} in the security history: {page}");
    }
    browser.close().await;
}
