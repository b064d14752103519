//! Forms refuse a post without this browser's CSRF token, and one a browser marks as
//! coming from another site, whatever the cookies say.

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
async fn pages_forbid_framing_and_scripts() {
    let app = TestApp::spawn().await;

    for path in ["/login", "/register", "/account"] {
        let res = app.get(path, None).await;
        let csp = res.headers()["content-security-policy"].to_str().expect("csp").to_string();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'") && !csp.contains("script-src"),
            "{path}: {csp}"
        );
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{path}");
    }
}
