//! The admin console's webhooks page in a browser: an endpoint added (its secret shown
//! once), a test event sent and sent again, disabled and enabled, a new secret, deleted
//! after a confirmation; every view without serious accessibility violations.

use std::time::Duration;

use fantoccini::Locator;

use crate::common::browser::{self, Browser};
use crate::common::webhooks::Receiver;
use crate::common::{PASSWORD, TestApp};

/// axe's serious and critical violations, and sideways scrolling, at a desktop and a phone width.
async fn accessibility(browser: &Browser, axe: &str, what: &str, found: &mut Vec<String>) {
    for (width, height) in [(1280, 900), (375, 812)] {
        browser.client.set_window_size(width, height).await.expect("resized");
        for violation in browser.accessibility_violations(axe).await {
            found.push(format!("{what} at {width} px: {violation}"));
        }
        if browser.overflows_sideways().await {
            found.push(format!("{what} at {width} px scrolls sideways"));
        }
    }
    browser.client.set_window_size(1280, 900).await.expect("resized");
}

async fn secret_shown(browser: &Browser) -> String {
    browser.client.find(Locator::Id("webhook-secret")).await.expect("the secret").text().await.expect("text")
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_adds_a_webhook_sees_its_deliveries_sends_one_again_disables_rotates_and_deletes_it() {
    let Some(browser) = browser::open().await else { return };
    let Some(axe) = browser::axe_script() else { return };
    let app = TestApp::spawn_for_webhooks().await;
    app.admin("root").await;
    let receiver = Receiver::start().await;
    let store = app.store().await;
    let mut found = Vec::new();
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.client.find(Locator::LinkText("Admin console")).await.expect("in the top navigation").click().await.expect("clicked");
    browser.client.find(Locator::LinkText("Webhooks")).await.expect("in the console's navigation").click().await.expect("clicked");
    browser.client.wait().for_element(Locator::Id("add-webhook-h")).await.expect("the webhooks page");
    assert!(browser.text().await.contains("No webhook endpoint is registered."));
    accessibility(&browser, &axe, "/admin/webhooks", &mut found).await;
    browser.fill("url", &receiver.url()).await;
    browser.fill("events", "user.created user.eaten").await;
    browser.press("Add endpoint").await;
    assert!(browser.text().await.contains("is not an event type"), "the unknown type is shown beside the box");
    accessibility(&browser, &axe, "/admin/webhooks with field errors", &mut found).await;

    browser.fill("events", "user.created, session.created").await;
    browser.fill("description", "billing").await;
    browser.press("Add endpoint").await;
    let secret = secret_shown(&browser).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    accessibility(&browser, &axe, "the new secret", &mut found).await;
    let hooks = store.webhooks().await.expect("webhooks");
    assert_eq!(hooks[0].events, vec!["user.created".to_string(), "session.created".to_string()]);
    browser.client.find(Locator::LinkText("Continue")).await.expect("continue").click().await.expect("clicked");
    browser.client.wait().for_element(Locator::Id("deliveries-h")).await.expect("the endpoint's page");
    assert!(!browser.text().await.contains(&secret), "the secret is not shown again");

    browser.press("Send a test event").await;
    assert!(browser.text().await.contains("webhook.test event is queued"));
    let tests = receiver.wait_for_type("webhook.test", Duration::from_secs(10)).await;
    assert!(tests[0].signed_by(&secret), "signed with the secret the page showed");
    let path = format!("/admin/webhooks/{}", hooks[0].id);
    let mut page = String::new();
    for _ in 0..50 {
        browser.goto(&app.page(&path)).await;
        page = browser.text().await;
        if page.contains("succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("webhook.test") && page.contains("succeeded") && page.contains("HTTP 200"), "{page}");
    accessibility(&browser, &axe, "an endpoint with deliveries", &mut found).await;
    browser.press("Send again").await;
    assert!(browser.text().await.contains("sent again now"));
    let both = receiver.wait_for(Duration::from_secs(10), |r| r.len() >= 2).await;
    assert_eq!(both[1].id, both[0].id, "the same webhook-id");

    browser.press("Disable").await;
    assert_eq!(browser.client.find(Locator::Id("webhook-state")).await.expect("state").text().await.expect("text"), "Disabled");
    assert!(!store.webhook(hooks[0].id).await.expect("read").expect("there").enabled);
    browser.press("Enable").await;
    assert!(store.webhook(hooks[0].id).await.expect("read").expect("there").enabled);
    browser.press("New secret").await;
    let fresh = secret_shown(&browser).await;
    assert!(fresh.starts_with("whsec_") && fresh != secret);
    assert!(browser.text().await.contains("For 24 hours"));

    browser.goto(&app.page(&path)).await;
    browser.client.find(Locator::LinkText("Delete endpoint")).await.expect("delete link").click().await.expect("clicked");
    browser.client.wait().for_element(Locator::XPath("//button[normalize-space()='Delete the endpoint']")).await.expect("confirmation");
    accessibility(&browser, &axe, "the delete confirmation", &mut found).await;
    assert!(store.webhook(hooks[0].id).await.expect("read").is_some(), "nothing deleted before the confirmation");
    browser.press("Delete the endpoint").await;
    assert!(browser.text().await.contains("The endpoint was deleted."));
    assert!(store.webhooks().await.expect("webhooks").is_empty());

    assert!(found.is_empty(), "accessibility problems:\n{}", found.join("\n"));
    browser.close().await;
}

#[tokio::test]
async fn the_webhooks_page_refuses_people_who_are_not_admins_and_a_form_without_its_csrf_token() {
    let app = TestApp::spawn_for_webhooks().await;
    app.admin("root").await;
    app.user("mallory").await;
    let (mallory, root) = (app.agent(), app.agent());
    mallory.sign_in("mallory").await;
    root.sign_in("root").await;

    assert_eq!(mallory.get("/admin/webhooks").await.status(), reqwest::StatusCode::FORBIDDEN);
    let forged = root.http.post(root.url("/admin/webhooks")).form(&[("url", "http://127.0.0.1:9/x"), ("events", "*")]).send().await;

    assert_eq!(forged.expect("answer").status(), reqwest::StatusCode::FORBIDDEN, "no CSRF token: the form expired");
    assert!(app.store().await.webhooks().await.expect("webhooks").is_empty(), "nothing registered");
    let page = root.get("/admin/webhooks").await.text().await.expect("page");
    let added = root.submit_on(&page, "/admin/webhooks", &[("url", "http://127.0.0.1:9/x"), ("events", "*")]).await;
    assert_eq!(added.status(), reqwest::StatusCode::OK, "with the page's token it is added");
    assert_eq!(app.store().await.webhooks().await.expect("webhooks").len(), 1);
}
