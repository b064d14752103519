//! An invitation in a real browser: the mailed link, sign-up through it with the invited
//! address, verification, acceptance, the org on the account page; then the new member
//! makes the org active and their access token carries it.

use fantoccini::Locator;
use serde_json::json;

use crate::common::admin::claims;
use crate::common::browser;
use crate::common::{PASSWORD, TestApp};

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_invitee_signs_up_through_the_link_accepts_after_verifying_and_the_token_carries_the_org() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let org = app.org(&alice, "acme").await;
    let token = app.invite(&alice, &org, "dana@example.com", &["billing"]).await;
    let link = app.url(&format!("/invitations/accept?token={token}"));

    browser.goto(&link).await;
    assert!(browser.text().await.contains("You are invited to join The acme org"));
    browser
        .client
        .find(Locator::LinkText("Create an account with this address"))
        .await
        .expect("the sign-up link")
        .click()
        .await
        .expect("clicked");
    browser.client.wait().for_element(Locator::Id("username")).await.expect("the sign-up page");
    browser.fill("username", "dana").await;
    browser.fill("email", "dana@example.com").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign up").await;
    browser.fill("username", "dana").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    assert!(browser.path().await.starts_with("/invitations/accept"), "signing in comes back to the invitation");
    browser.press("Accept the invitation").await;
    assert!(browser.text().await.contains("Verify your email address first"), "an unverified address cannot accept");
    let verify = app.mailed_token("dana@example.com", "verify-email").await;
    browser.goto(&app.url(&format!("/verify-email?token={verify}"))).await;
    browser.press("Verify my address").await;
    browser.goto(&link).await;
    browser.press("Accept the invitation").await;
    assert!(browser.text().await.contains("You joined the organization."));
    browser.goto(&app.url("/account")).await;
    assert!(browser.text().await.contains("The acme org (acme): billing, member"), "the account page lists the org");

    let mut dana = app.login("dana", PASSWORD).await;
    app.switch_org(&mut dana, Some(&org)).await;
    assert_eq!(claims(&dana.access)["org"], json!({ "id": org, "slug": "acme", "roles": ["billing", "member"] }));
    browser.close().await;
}
