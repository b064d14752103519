//! Every page passes axe-core with no serious or critical violation, light and dark, and
//! reads at 375 px wide without sideways scrolling, as at 1440 px.

use crate::common::PASSWORD;
use crate::common::browser::{self, Browser};

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn every_page_has_no_serious_accessibility_violation_and_fits_a_phone_screen() {
    let Some(browser) = browser::open().await else { return };
    let Some(axe) = browser::axe_script() else { return };
    // On localhost, so that the passkey parts of the pages are there too.
    let app = crate::common::passkeys::passkey_app().await;
    let root = app.admin("root").await;
    let mut found = Vec::new();

    let mut check = async |browser: &Browser, what: &str| {
        for scheme in ["light", "dark"] {
            browser.prefer_color_scheme(scheme).await;
            for (width, height) in [(1440, 900), (375, 812)] {
                browser.client.set_window_size(width, height).await.expect("resized");
                for violation in browser.accessibility_violations(&axe).await {
                    found.push(format!("{what} at {width} px, {scheme}: {violation}"));
                }
                if browser.overflows_sideways().await {
                    found.push(format!("{what} at {width} px, {scheme} scrolls sideways"));
                }
            }
        }
    };
    for path in
        ["/login", "/register", "/forgot-password", "/reset-password?token=x", "/verify-email?token=x", "/invitations/accept?token=x"]
    {
        browser.goto(&app.page(path)).await;
        check(&browser, path).await;
    }
    // A form with errors beside its fields.
    browser.goto(&app.page("/register")).await;
    browser.fill("username", "x").await;
    browser.fill("password", "short").await;
    browser.press("Sign up").await;
    check(&browser, "sign-up with field errors").await;

    browser.sign_in(&app, "root", PASSWORD).await;
    check(&browser, "/account").await;
    // With a passkey listed (on the account page and the admin's user page).
    browser.add_authenticator().await;
    super::passkeys::api_passkey(&browser, &app, &root.access, "Laptop").await;
    browser.goto(&app.page("/account")).await;
    check(&browser, "/account with a passkey").await;
    browser.fill("totp_password", PASSWORD).await;
    browser.press("Turn on two-step verification").await;
    check(&browser, "two-step setup").await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/users/new",
        &format!("/admin/users/{}", root.id),
        &format!("/admin/users/{}/delete", root.id),
        "/admin/audit",
        "/admin/keys",
        "/admin/clients",
        "/admin/providers",
    ] {
        browser.goto(&app.page(path)).await;
        check(&browser, path).await;
    }
    // The OpenID Connect pages: consent, a refused request, the logout question.
    let rp = app.register_rp(&root, true, serde_json::json!({})).await;
    let (_, challenge) = crate::common::oidc::pkce();
    for path in [
        crate::common::oidc::authorize_path(&rp, &challenge, "openid profile email offline_access", &[]),
        "/oauth/authorize?client_id=nobody".to_string(),
        "/oauth/logout".to_string(),
    ] {
        browser.goto(&app.page(&path)).await;
        check(&browser, &path).await;
    }
    // The organization pages: an invitation to accept, and the chooser of an authorization.
    let acme = app.org(&root, "acme").await;
    app.org(&root, "bobco").await;
    let token = app.invite(&root, &acme, "dana@example.com", &[]).await;
    let orgs_rp = app.register_rp(&root, true, serde_json::json!({ "first_party": true, "scopes": ["openid", "organization"] })).await;
    for path in [
        format!("/invitations/accept?token={token}"),
        crate::common::oidc::authorize_path(&orgs_rp, &challenge, "openid organization", &[]),
        "/admin/orgs".to_string(),
        format!("/admin/orgs/{acme}"),
    ] {
        browser.goto(&app.page(&path)).await;
        check(&browser, &path).await;
    }
    browser.goto(&app.page("/nothing-here")).await;
    check(&browser, "the 404 page").await;

    assert!(found.is_empty(), "accessibility problems:\n{}", found.join("\n"));
    browser.close().await;
}
