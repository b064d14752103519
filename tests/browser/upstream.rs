//! "Continue with ..." in Chromium: Node's oidc-provider as the company IdP, the confirm
//! page that links it to the account holding the verified address, and axe-core on the
//! new pages (the sign-in page's buttons, the confirm page, the account's linked sign-ins,
//! the admin console's providers), and the confirm page proving the account with a passkey.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::json;

use crate::common::browser::{self, Browser};
use crate::common::upstream::Idp;
use crate::common::{PASSWORD, TestApp};

async fn no_violations(browser: &Browser, axe: &str, what: &str) {
    let found = browser.accessibility_violations(axe).await;
    assert!(found.is_empty(), "{what}: {found:?}");
}

async fn wait_for_path(browser: &Browser, prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !browser.path().await.starts_with(prefix) {
        assert!(Instant::now() < deadline, "never reached {prefix}: at {}", browser.path().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.client.wait().for_element(Locator::Css("body")).await.expect("loaded");
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn continue_with_a_provider_links_the_account_after_its_password_in_a_real_browser() {
    let Some(browser) = browser::open().await else { return };
    let Some(axe) = browser::axe_script() else { return };
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    app.verified_user_at("bob", "bob@corp.example").await;
    idp.next_login(json!({ "sub": "emp-9", "email": "bob@corp.example", "email_verified": true })).await;

    browser.goto(&app.url("/login")).await;
    no_violations(&browser, &axe, "/login with a provider").await;
    browser.client.find(Locator::LinkText("Continue with Corp")).await.expect("the button").click().await.expect("clicked");
    wait_for_path(&browser, "/login/corp/confirm").await;
    no_violations(&browser, &axe, "the confirm page").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Link and sign in").await;
    wait_for_path(&browser, "/account").await;

    assert!(browser.text().await.contains("Linked sign-ins"));
    no_violations(&browser, &axe, "/account with a linked sign-in").await;
    browser.press("Sign out").await;
    browser.sign_in(&app, "root", PASSWORD).await;
    browser.goto(&app.url("/admin/providers")).await;
    assert!(browser.text().await.contains("/login/corp/callback"), "the redirect URI to register");
    no_violations(&browser, &axe, "/admin/providers").await;
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_confirm_page_links_the_account_after_one_of_its_passkeys_in_a_real_browser() {
    let Some(browser) = browser::open().await else { return };
    let Some(axe) = browser::axe_script() else { return };
    let app = crate::common::passkeys::passkey_app().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    let bob = app.verified_user_at("bob", "bob@corp.example").await;
    browser.add_authenticator().await;
    browser.goto(&app.page("/login")).await;
    super::passkeys::api_passkey(&browser, &app, &bob.access, "Laptop").await;
    idp.next_login(json!({ "sub": "emp-10", "email": "bob@corp.example", "email_verified": true })).await;

    browser.goto(&app.page("/login/corp")).await;
    wait_for_path(&browser, "/login/corp/confirm").await;
    no_violations(&browser, &axe, "the confirm page with a passkey").await;
    assert!(app.identities_of(&admin, &bob.id).await.is_empty(), "nothing linked before the proof");
    browser.client.find(Locator::Id("passkey-link-confirm")).await.expect("the passkey button").click().await.expect("clicked");
    wait_for_path(&browser, "/account").await;

    let identities = app.identities_of(&admin, &bob.id).await;
    assert_eq!((identities.len(), identities[0]["subject"].as_str()), (1, Some("emp-10")), "linked once the passkey proved bob");
    let res = app.get_query("/v1/audit", &[("type", "identity.linked")], Some(&admin.access)).await;
    let linked: serde_json::Value = res.json().await.expect("audit");
    assert_eq!(linked["items"][0]["detail"]["via"], "email_confirmed");
    browser.close().await;
}
