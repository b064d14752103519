//! The rough edges found by looking at the pages as a newcomer would, each fixed: where a
//! browser lands, the audit log's filters and names, the users list, a user's page, the
//! applications, the signing keys, sign-up's sentences, the consent page, the sign-in card.

use fantoccini::Locator;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};

use crate::common::browser;
use crate::common::{PASSWORD, TestApp};

#[tokio::test]
async fn the_root_sends_a_browser_to_sign_in_and_an_unknown_path_is_a_page_for_browsers_and_a_problem_for_programs() {
    let app = TestApp::spawn().await;
    let root = app.client.get(app.url("/")).send().await.expect("sent");
    assert_eq!(root.status(), StatusCode::SEE_OTHER);
    assert_eq!(root.headers()[LOCATION], "/login");

    let page =
        app.client.get(app.url("/no/such/page")).header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8").send().await.expect("sent");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.headers()[CONTENT_TYPE].to_str().expect("type").starts_with("text/html"));
    assert!(page.headers().contains_key("content-security-policy"), "the page carries the pages' headers");
    assert!(page.text().await.expect("body").contains("There is nothing at this address."));

    let problem = app.client.get(app.url("/no/such/page")).header(ACCEPT, "application/json").send().await.expect("sent");
    assert_eq!(problem.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem.headers()[CONTENT_TYPE], "application/problem+json");
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_signed_in_person_at_the_root_lands_on_the_account_page() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    app.user("alice").await;
    browser.sign_in(&app, "alice", PASSWORD).await;
    browser.goto(&app.url("/")).await;
    assert_eq!(browser.path().await, "/account");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_audit_log_opens_with_empty_filters_that_work_and_names_the_user_and_the_admin() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let root = app.admin("root").await;
    let alice = app.user("alice").await;
    let res = app.patch(&format!("/v1/users/{}", alice.id), &serde_json::json!({ "disabled": true }), Some(&root.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url("/admin/audit")).await;
    for field in ["user_id", "type", "since", "until"] {
        let value = browser.client.find(Locator::Id(field)).await.expect("the field").prop("value").await.expect("its value");
        assert_eq!(value.as_deref(), Some(""), "{field} starts empty");
    }
    browser.press("Filter").await;
    let log = browser.text().await;
    assert!(!log.contains("None") && !log.contains("must be"), "an untouched filter is no filter: {log}");
    let disabled_row = browser
        .client
        .find(Locator::XPath("//tr[td[normalize-space()='user.disabled']]"))
        .await
        .expect("the disabling is logged")
        .text()
        .await
        .expect("its text");
    assert!(disabled_row.contains("alice") && disabled_row.contains("root"), "usernames, not id prefixes: {disabled_row}");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_users_list_shows_each_status_offers_the_roles_in_use_and_reads_on_a_phone() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let root = app.admin("root").await;
    let alice = app.user("alice").await;
    app.set_roles(&alice.id, &["editor", "user"]).await;
    let res = app.patch(&format!("/v1/users/{}", alice.id), &serde_json::json!({ "disabled": true }), Some(&root.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url("/admin/users?q=root")).await;
    assert!(browser.text().await.contains("Page 1 of 1 (1 user)"), "{}", browser.text().await);
    browser.goto(&app.url("/admin/users")).await;
    let alice_row = browser.client.find(Locator::XPath("//tr[td/a[normalize-space()='alice']]")).await.expect("alice's row");
    assert!(alice_row.text().await.expect("text").contains("disabled"));
    let root_row = browser.client.find(Locator::XPath("//tr[td/a[normalize-space()='root']]")).await.expect("root's row");
    assert!(root_row.text().await.expect("text").contains("active"));

    let options: Vec<String> = {
        let mut texts = Vec::new();
        for option in browser.client.find_all(Locator::Css("select#role option")).await.expect("the choices") {
            texts.push(option.text().await.expect("text"));
        }
        texts
    };
    assert_eq!(options, ["any", "admin", "editor", "user"], "the role filter is a choice of the roles in use");
    browser.client.find(Locator::Css("select#role option[value=editor]")).await.expect("editor").click().await.expect("chosen");
    browser.press("Filter").await;
    assert!(browser.text().await.contains("(1 user)") && browser.text().await.contains("alice"));

    browser.client.set_window_size(375, 812).await.expect("resized");
    browser.goto(&app.url("/admin/users")).await;
    assert!(!browser.overflows_sideways().await);
    let labelled = browser
        .client
        .execute("return getComputedStyle(document.querySelector('table.list td'), '::before').content;", vec![])
        .await
        .expect("measured");
    assert_eq!(labelled, serde_json::json!("\"Username: \""), "each stacked value says what it is");
    let nav_height = browser
        .client
        .execute("return document.querySelector('.console-nav ul').getBoundingClientRect().height;", vec![])
        .await
        .expect("measured");
    assert!(nav_height.as_f64().expect("a height") < 60.0, "the console's navigation is one row on a phone: {nav_height}");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_users_page_says_when_lists_are_empty_names_its_creation_time_and_shows_no_passkeys_while_they_are_off() {
    let Some(browser) = browser::open().await else { return };
    // On 127.0.0.1, which no passkey can name: passkeys are off.
    let app = TestApp::spawn().await;
    app.admin("root").await;
    let alice = app.user("alice").await;
    app.store().await.revoke_user_sessions(alice.id.parse().expect("an id"), None).await.expect("signed out");
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url(&format!("/admin/users/{}", alice.id))).await;
    let text = browser.text().await;
    assert!(text.contains("No active sessions.") && !text.contains("Nothing matches."), "{text}");
    assert!(text.contains("Created") && text.contains(" UTC"), "{text}");
    assert!(!text.contains("Passkeys"), "no passkeys card while passkeys are off: {text}");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_admin_deletes_a_persons_passkey_only_after_confirming() {
    let Some(browser) = browser::open().await else { return };
    let app = crate::common::passkeys::passkey_app().await;
    let root = app.admin("root").await;
    browser.sign_in(&app, "root", PASSWORD).await;
    browser.add_authenticator().await;
    crate::passkeys::api_passkey(&browser, &app, &root.access, "Laptop").await;

    browser.goto(&app.page(&format!("/admin/users/{}", root.id))).await;
    browser.press("Delete").await;
    assert!(browser.text().await.contains("Delete the passkey Laptop of root?"), "{}", browser.text().await);
    assert_eq!(app.store().await.passkeys_of(root.id.parse().expect("id")).await.expect("passkeys").len(), 1, "asking deletes nothing");
    browser.press("Delete the passkey").await;
    assert!(browser.text().await.contains("This user has no passkeys."));
    assert!(app.store().await.passkeys_of(root.id.parse().expect("id")).await.expect("passkeys").is_empty());
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_application_gets_its_scopes_and_post_logout_uris_at_registration_and_changes_them_later() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    app.admin("root").await;
    browser.sign_in(&app, "root", PASSWORD).await;

    browser.goto(&app.url("/admin/clients")).await;
    assert_eq!(browser.client.find(Locator::Css("h1")).await.expect("h1").text().await.expect("text"), "Applications");
    browser.fill("name", "Flask example").await;
    browser.fill("redirect_uris", "https://app.example.com/callback").await;
    browser.fill("post_logout_redirect_uris", "https://app.example.com/").await;
    browser.client.find(Locator::Id("scope-offline_access")).await.expect("the box").click().await.expect("ticked");
    browser.press("Register").await;
    browser.client.find(Locator::LinkText("Continue")).await.expect("continue").click().await.expect("clicked");
    let clients = app.store().await.clients().await.expect("clients");
    assert_eq!(clients[0].scopes, ["openid", "profile", "email", "offline_access"]);
    assert_eq!(clients[0].post_logout_redirect_uris, ["https://app.example.com/"]);
    let list = browser.text().await;
    assert!(list.contains("Server app (has a secret)") && !list.contains("confidential"), "{list}");

    browser.client.find(Locator::LinkText("Flask example")).await.expect("its page").click().await.expect("clicked");
    browser.client.find(Locator::Id("scope-email")).await.expect("the box").click().await.expect("unticked");
    browser.fill("post_logout_redirect_uris", "https://app.example.com/bye\nhttps://app.example.com/").await;
    browser.press("Save").await;
    assert!(browser.text().await.contains("Saved."));
    let clients = app.store().await.clients().await.expect("clients");
    assert_eq!(clients[0].scopes, ["openid", "profile", "offline_access"]);
    assert_eq!(clients[0].post_logout_redirect_uris, ["https://app.example.com/bye", "https://app.example.com/"]);

    browser.goto(&app.url("/admin/keys")).await;
    let keys = browser.text().await;
    assert!(!keys.contains('`') && !keys.contains("GATEHOUSE_"), "no markup or settings in the text: {keys}");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn sign_up_mistakes_are_told_in_sentences() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    browser.goto(&app.url("/register")).await;
    browser.fill("username", "x").await;
    browser.fill("email", "not-an-address").await;
    browser.fill("password", "password").await;
    browser.press("Sign up").await;
    let text = browser.text().await;
    assert!(text.contains("Choose a username of 3 to 32 characters."), "{text}");
    assert!(text.contains("Enter an email address like name@example.com"), "{text}");
    assert!(text.contains("This password is too easy to guess."), "{text}");
    assert!(!text.contains("must be"), "{text}");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_consent_page_names_what_is_not_granted_spaces_its_buttons_and_says_where_the_person_returns() {
    let Some(browser) = browser::open().await else { return };
    let app = TestApp::spawn().await;
    let root = app.admin("root").await;
    app.user("alice").await;
    let rp = app.register_rp(&root, true, serde_json::json!({ "scopes": ["openid", "email"] })).await;
    browser.sign_in(&app, "alice", PASSWORD).await;
    let (_, challenge) = crate::common::oidc::pkce();
    browser.goto(&app.url(&crate::common::oidc::authorize_path(&rp, &challenge, "openid email profile calendar", &[]))).await;
    let text = browser.text().await;
    assert!(text.contains("see your email address"), "{text}");
    assert!(text.contains("it is not allowed") && text.contains("see your username"), "profile is named as not granted: {text}");
    assert!(text.contains("does not know"), "an unknown scope is mentioned: {text}");
    assert!(text.contains("go back to Relying party at rp.example.com"), "{text}");
    let gap = browser
        .client
        .execute(
            "const [a, d] = document.querySelectorAll('button[name=decision]'); return d.getBoundingClientRect().left - a.getBoundingClientRect().right;",
            vec![],
        )
        .await
        .expect("measured");
    assert!(gap.as_f64().expect("a distance") >= 10.0, "Allow and Deny are apart: {gap}");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn with_passkeys_on_the_sign_in_page_is_one_card_with_one_loud_button_and_an_or_divider() {
    let Some(browser) = browser::open().await else { return };
    let app = crate::common::passkeys::passkey_app().await;
    browser.goto(&app.page("/login")).await;
    let passkey = browser.client.wait().for_element(Locator::Css("#passkey-sign-in")).await.expect("the passkey button");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !passkey.is_displayed().await.unwrap_or(false) {
        assert!(std::time::Instant::now() < deadline, "the passkey button never showed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(browser.client.find_all(Locator::Css("main .card")).await.expect("cards").len(), 1);
    assert_eq!(passkey.attr("class").await.expect("class").as_deref(), Some("secondary wide"), "the passkey button is the quieter one");
    let divider = browser.client.find(Locator::Css(".divider")).await.expect("a divider");
    assert!(divider.is_displayed().await.expect("shown") && divider.text().await.expect("text") == "or");
    browser.close().await;
}
