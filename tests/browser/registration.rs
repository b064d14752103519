//! Registration modes in the browser: an admin invites from the console and the mailed link
//! signs the person up; with sign-up closed an admin makes the account; the console's home
//! counts, and a reset link sent from a user's page.

use fantoccini::Locator;
use gatehouse::config::RegistrationMode;
use reqwest::StatusCode;

use crate::common::browser;
use crate::common::smtp::{SmtpServer, smtp_settings};
use crate::common::{PASSWORD, TestApp};

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_invites_from_the_console_and_the_mailed_link_signs_the_person_up() {
    let Some(browser) = browser::open().await else { return };
    let smtp = SmtpServer::start().await;
    let (_open, app, _) = TestApp::restricted(RegistrationMode::Invite, |c| {
        smtp_settings(c, &smtp.url());
        // The browser reaches the server by its address, not the mail tests' public URL.
        c.public_url = None;
    })
    .await;

    browser.goto(&app.url("/register")).await;
    assert!(browser.text().await.contains("by invitation only"), "{}", browser.text().await);
    browser.goto(&app.url("/login")).await;
    assert!(!browser.text().await.contains("Sign up"), "no way to sign up is offered");

    browser.sign_in(&app, "root", PASSWORD).await;
    browser.goto(&app.url("/admin/users")).await;
    browser.client.find(Locator::LinkText("Add people")).await.expect("the link").click().await.expect("clicked");
    browser.fill("invite_email", "bob@example.com").await;
    browser.client.find(Locator::Id("invite-role-admin")).await.expect("admin is offered").click().await.expect("ticked");
    browser.press("Send the invitation").await;
    assert!(browser.text().await.contains("The invitation is on its way."));
    assert!(browser.text().await.contains("waiting"), "listed as pending");
    browser.press("Sign out").await;

    let mail = smtp.wait_for(1, std::time::Duration::from_secs(20)).await.swap_remove(0);
    let text = mail.decoded();
    let start = text.find("/register?invitation=").expect("the link");
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    browser.goto(&app.url(&link)).await;
    assert!(browser.text().await.contains("You were invited as bob@example.com"), "{}", browser.text().await);
    browser.fill("username", "bob").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign up").await;
    let bob = app.login("bob", PASSWORD).await;
    let me: serde_json::Value = app.get_me(&bob.access).await.json().await.expect("me");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["roles"], serde_json::json!(["admin", "user"]));

    browser.goto(&app.url(&link)).await;
    assert!(browser.text().await.contains("was used already"), "the link works once");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn with_sign_up_closed_an_admin_makes_the_account_sees_the_counts_and_sends_a_reset_link() {
    let Some(browser) = browser::open().await else { return };
    let smtp = SmtpServer::start().await;
    let (_open, app, _) = TestApp::restricted(RegistrationMode::Closed, |c| {
        smtp_settings(c, &smtp.url());
        // The browser reaches the server by its address, not the mail tests' public URL.
        c.public_url = None;
    })
    .await;
    assert_eq!(app.post_login("root", "wrong password").await.status(), StatusCode::UNAUTHORIZED);

    browser.goto(&app.url("/register")).await;
    assert!(browser.text().await.contains("made by an administrator"));
    browser.sign_in(&app, "root", PASSWORD).await;
    browser.goto(&app.url("/admin")).await;
    let home = browser.text().await;
    assert!(home.contains("1\nusers") || home.contains("1 users"), "{home}");
    assert!(home.contains("sign-ins in the last day") && home.contains("failed sign-ins in the last day"), "{home}");
    let failures = browser.client.find(Locator::Css("a[href='/admin/audit?type=login.failed'] .count")).await.expect("count");
    assert_eq!(failures.text().await.expect("text"), "1");
    crate::sign_in::picture(&browser, "console-home").await;
    browser.prefer_color_scheme("dark").await;
    let background = browser.client.execute("return getComputedStyle(document.body).backgroundColor;", vec![]).await.expect("read");
    assert_eq!(background, serde_json::json!("rgb(13, 17, 23)"), "the dark theme follows prefers-color-scheme");
    let accent = browser
        .client
        .execute("return getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();", vec![])
        .await
        .expect("read");
    assert_eq!(accent, serde_json::json!("#2457c5"), "the accent colour stays in the dark");
    crate::sign_in::picture(&browser, "console-home-dark").await;
    browser.prefer_color_scheme("light").await;

    browser.goto(&app.url("/admin/users/new")).await;
    browser.fill("username", "carol").await;
    browser.fill("email", "carol@example.com").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Make the account").await;
    assert!(browser.text().await.contains("The account was made."));
    crate::sign_in::picture(&browser, "admin-user").await;
    assert_eq!(app.post_login("carol", PASSWORD).await.status(), StatusCode::OK);

    browser.press("Send a password reset link").await;
    assert!(browser.text().await.contains("A reset link is on its way"));
    let mails = smtp.wait_for(2, std::time::Duration::from_secs(20)).await;
    assert!(mails.iter().any(|m| m.decoded().contains("/reset-password?token=")), "a reset mail went to carol");
    browser.close().await;
}
