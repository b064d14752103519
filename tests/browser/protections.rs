//! What protects the pages, over plain HTTP: forms refuse a post without this browser's
//! CSRF token (or one a browser marks as coming from another site), pages forbid framing
//! and scripts, the per-address limit answers a page, and browser sessions end at their
//! idle and absolute timeouts.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

use crate::common::{PASSWORD, TestApp};

/// The CSRF cookie and the token the sign-in form carries.
async fn form_token(app: &TestApp) -> (String, String) {
    let res = app.get("/login", None).await;
    let cookie = res.headers()[SET_COOKIE].to_str().expect("cookie").split(';').next().expect("pair").to_string();
    let page = res.text().await.expect("page");
    let token = page.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("the form's token").to_string();
    (cookie, token)
}

async fn post_sign_in(app: &TestApp, cookie: &str, token: &str, cross_site: bool) -> reqwest::Response {
    let body = format!("csrf={token}&username=alice&password={}", PASSWORD.replace(' ', "+"));
    let mut req =
        app.client.post(app.url("/login")).header(COOKIE, cookie).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
    if cross_site {
        req = req.header("sec-fetch-site", "cross-site");
    }
    req.send().await.expect("sent")
}

#[tokio::test]
async fn a_sign_in_form_without_its_csrf_token_is_refused_and_with_it_signs_in() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let (cookie, token) = form_token(&app).await;
    let (other_cookie, _) = form_token(&app).await;

    let without = post_sign_in(&app, &cookie, "", false).await;
    let anothers = post_sign_in(&app, &other_cookie, &token, false).await;
    let cross_site = post_sign_in(&app, &cookie, &token, true).await;
    let right = post_sign_in(&app, &cookie, &token, false).await;

    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    assert!(without.text().await.expect("page").contains("This form has expired"));
    assert_eq!(anothers.status(), StatusCode::FORBIDDEN, "a token is good only with its own cookie");
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()["location"], "/account");
}

#[tokio::test]
async fn pages_forbid_framing_and_every_script_but_their_own() {
    let app = TestApp::spawn().await;

    for path in ["/login", "/register", "/account"] {
        let res = app.get(path, None).await;
        let csp = res.headers()["content-security-policy"].to_str().expect("csp").to_string();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("default-src 'none'")
                && csp.contains("script-src 'self';")
                && !csp.contains("unsafe")
                && !csp.contains("http"),
            "{path}: {csp}"
        );
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn sign_in_forms_over_the_per_address_limit_get_a_page_saying_to_wait() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 2).await;
    let (cookie, token) = form_token(&app).await;

    let mut last = None;
    for _ in 0..3 {
        last = Some(post_sign_in(&app, &cookie, &token, false).await);
    }
    let refused = last.expect("three posts");

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.headers()[CONTENT_TYPE].to_str().expect("type").starts_with("text/html"));
    assert!(refused.text().await.expect("page").contains("Too many requests"));
}

#[tokio::test]
async fn the_page_saying_to_wait_carries_the_security_headers_of_every_page() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 1).await;
    let (cookie, token) = form_token(&app).await;
    let page = app.get("/login", None).await;

    post_sign_in(&app, &cookie, &token, false).await;
    let refused = post_sign_in(&app, &cookie, &token, false).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    for name in ["content-security-policy", "x-frame-options", "cache-control", "referrer-policy"] {
        assert_eq!(refused.headers().get(name), page.headers().get(name), "{name}");
    }
    assert_eq!(refused.headers()["x-frame-options"], "DENY");
    assert_eq!(refused.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn the_favicon_is_an_image_kept_a_day_and_the_logo_when_one_is_set() {
    let folder = tempfile::tempdir().expect("folder");
    let png = folder.path().join("logo.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nnot really pixels").expect("logo");
    let plain = TestApp::spawn().await;
    let branded = TestApp::spawn_with(|c| c.pages.logo = Some(png)).await;

    let icon = plain.get("/favicon.ico", None).await;
    let logo = branded.get("/favicon.ico", None).await;

    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()[CONTENT_TYPE], "image/svg+xml");
    assert_eq!(icon.headers()["cache-control"], "public, max-age=86400");
    assert!(icon.text().await.expect("svg").contains("#2457c5"), "in the accent colour");
    assert_eq!((logo.status(), logo.headers()[CONTENT_TYPE].clone()), (StatusCode::OK, "image/png".parse().expect("type")));
    assert!(logo.bytes().await.expect("bytes").starts_with(b"\x89PNG"));
    let page = plain.get("/login", None).await.text().await.expect("page");
    assert!(page.contains("<link rel=\"icon\" href=\"/favicon.ico\">"), "{page}");
}

/// Signs alice in through the form: the cookies of the browser session.
async fn signed_in_cookies(app: &TestApp) -> String {
    let (cookie, token) = form_token(app).await;
    let res = post_sign_in(app, &cookie, &token, false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Sign-in sets the CSRF cookie anew too: take the session's among them.
    let session = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .find(|pair| pair.starts_with("gatehouse_session="))
        .expect("a session cookie")
        .to_string();
    format!("{cookie}; {session}")
}

async fn account_status(app: &TestApp, cookies: &str) -> (StatusCode, String) {
    let res = app.client.get(app.url("/account")).header(COOKIE, cookies).send().await.expect("sent");
    let location = res.headers().get("location").map(|l| l.to_str().expect("location").to_string()).unwrap_or_default();
    (res.status(), location)
}

#[tokio::test]
async fn a_browser_session_ends_after_its_idle_timeout_without_a_page() {
    let app = TestApp::spawn_with(|c| c.pages.browser_idle_timeout = 2).await;
    app.user("alice").await;
    let cookies = signed_in_cookies(&app).await;
    assert_eq!(account_status(&app, &cookies).await.0, StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    assert_eq!(account_status(&app, &cookies).await, (StatusCode::SEE_OTHER, "/login?return_to=%2Faccount".to_string()));
}

#[tokio::test]
async fn a_browser_session_ends_at_its_absolute_timeout_however_active() {
    let app = TestApp::spawn_with(|c| c.pages.browser_session_ttl = 3).await;
    app.user("alice").await;
    let cookies = signed_in_cookies(&app).await;

    for _ in 0..4 {
        assert_eq!(account_status(&app, &cookies).await.0, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    assert_eq!(account_status(&app, &cookies).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn pages_take_sentences_templates_and_branding_from_the_settings() {
    let folder = tempfile::tempdir().expect("folder");
    std::fs::write(folder.path().join("text.json"), r#"{ "sign_in": "Log on", "sign_in_title": "Welcome to {product}" }"#).expect("text");
    std::fs::write(
        folder.path().join("message.html"),
        "{% extends \"base.html\" %}{% block content %}<h1>{{ title }}</h1><p class=\"custom\">{{ message }}</p>{% endblock %}",
    )
    .expect("template");
    let dir = folder.path().to_path_buf();
    let app = TestApp::spawn_with(|c| {
        c.pages.page_templates = Some(dir);
        c.pages.product_name = "Acme Login".into();
        c.pages.accent_color = "#aa0000".into();
    })
    .await;

    let page = app.get("/login", None).await.text().await.expect("page");
    let css = app.get("/pages/style.css", None).await.text().await.expect("css");
    let (cookie, _) = form_token(&app).await;
    let refused = post_sign_in(&app, &cookie, "forged", false).await.text().await.expect("page");

    assert!(page.contains("<h1>Welcome to Acme Login</h1>") && page.contains(">Log on</button>"), "{page}");
    assert!(page.contains("Username or email"), "sentences not replaced stay built in");
    assert!(css.contains("--accent: #aa0000"));
    assert!(refused.contains("<p class=\"custom\">"), "a replaced template is used");
}

#[tokio::test]
async fn a_logo_file_is_served_and_shown_and_a_file_that_is_no_image_stops_the_start() {
    let folder = tempfile::tempdir().expect("folder");
    let png = folder.path().join("logo.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nnot really pixels").expect("logo");
    let text = folder.path().join("logo.txt");
    std::fs::write(&text, "hello").expect("text");
    let app = TestApp::spawn_with(|c| c.pages.logo = Some(png)).await;

    let logo = app.get("/pages/logo", None).await;
    assert_eq!(logo.headers()[CONTENT_TYPE], "image/png");
    assert!(app.get("/login", None).await.text().await.expect("page").contains("<img src=\"/pages/logo\""));

    let mut config = gatehouse::config::Config::for_database(format!("sqlite://{}", folder.path().join("g.db").display()));
    config.bind = "127.0.0.1:0".parse().expect("bind");
    config.pages.logo = Some(text);
    let refused = gatehouse::app::Application::build(config).await.err().expect("no start with a logo that is no image");
    assert!(format!("{refused:#}").contains("not a PNG, JPEG, WebP or SVG"), "{refused:#}");
}

#[tokio::test]
async fn with_an_https_public_url_the_cookies_are_secure_and_host_only() {
    let app = TestApp::spawn_with(|c| c.public_url = Some("https://id.example.test".into())).await;

    let res = app.get("/login", None).await;
    let cookie = res.headers()[SET_COOKIE].to_str().expect("cookie").to_string();

    assert!(cookie.starts_with("__Host-gatehouse_csrf="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test]
async fn the_sign_in_page_locks_an_account_after_too_many_failures_with_the_apis_rule() {
    let app = TestApp::spawn_with(|c| c.login_max_failures = 2).await;
    app.user("alice").await;
    let (cookie, token) = form_token(&app).await;

    let mut answers = Vec::new();
    for password in ["wrong one", "wrong two", "correct horse battery staple"] {
        let body = format!("csrf={token}&username=alice&password={}", password.replace(' ', "+"));
        let res = app
            .client
            .post(app.url("/login"))
            .header(COOKIE, &cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("sent");
        answers.push((res.status(), res.text().await.expect("page")));
    }

    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(answers[2].0, StatusCode::TOO_MANY_REQUESTS, "even the right password, while locked");
    assert!(answers[2].1.contains("Too many failed attempts"));
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn behind_an_https_public_url_signing_out_leaves_no_host_cookie_in_the_browser() {
    let Some(browser) = crate::common::browser::open().await else { return };
    // Chromium keeps `Secure` cookies from http://localhost, so the `__Host-` cookies of an
    // https public URL can be watched without TLS.
    let app = TestApp::spawn_with(|c| {
        let url = crate::common::passkeys::on_localhost(c);
        c.public_url = Some(url.replace("http://", "https://"));
    })
    .await;
    app.user("alice").await;
    let local = app.state.config.public_url().replace("https://", "http://");
    browser.goto(&format!("{local}/login")).await;
    browser.fill("username", "alice").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    let names = |cookies: Vec<cookie::Cookie<'static>>| cookies.iter().map(|c| c.name().to_string()).collect::<Vec<_>>();
    let signed_in = names(browser.client.get_all_cookies().await.expect("cookies"));
    assert!(signed_in.iter().any(|n| n.starts_with("__Host-") && n.contains("session")), "signed in: {signed_in:?}");

    browser.press("Sign out").await;

    let after = names(browser.client.get_all_cookies().await.expect("cookies"));
    assert!(!after.iter().any(|n| n.contains("session")), "the browser dropped the session cookie: {after:?}");
    browser.close().await;
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_browser_finds_the_pages_icon_where_it_looks_for_one() {
    let Some(browser) = crate::common::browser::open().await else { return };
    let app = TestApp::spawn().await;
    browser.goto(&app.url("/login")).await;

    let found = browser
        .client
        .execute_async(
            "const done = arguments[0]; const link = document.querySelector('link[rel=icon]');
             fetch(link ? link.href : '/favicon.ico').then(r => done([link ? link.getAttribute('href') : null, r.status, r.headers.get('content-type')]));",
            vec![],
        )
        .await
        .expect("script ran");

    assert_eq!(found[0], "/favicon.ico", "the layout names the icon");
    assert_eq!(found[1], 200, "no 404 in the console on a first visit");
    assert!(found[2].as_str().is_some_and(|t| t.starts_with("image/")), "{found:?}");
    browser.close().await;
}
