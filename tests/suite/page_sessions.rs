//! The pages' cookies at sign-in and sign-out, over HTTP: the CSRF cookie gets a new value
//! at each, so a token read before is refused after; the session cookie's removal carries
//! the attributes a `__Host-` cookie needs for a browser to drop it.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

use crate::common::mfa::code_at;
use crate::common::{PASSWORD, TestApp};

/// A browser's cookies, kept by hand (the test client keeps none) to see every Set-Cookie.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    /// Takes the answer's cookies (a Max-Age=0 one removes); returns its Set-Cookie lines.
    fn take(&mut self, res: &reqwest::Response) -> Vec<String> {
        let lines: Vec<String> = res.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().expect("ascii").to_string()).collect();
        for line in &lines {
            let (name, value) = line.split(';').next().and_then(|pair| pair.split_once('=')).expect("name=value");
            if line.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
        lines
    }

    fn header(&self) -> String {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    /// The value of the cookie whose name ends with `suffix` (`gatehouse_csrf`).
    fn value(&self, suffix: &str) -> Option<String> {
        self.0.iter().find(|(name, _)| name.ends_with(suffix)).map(|(_, value)| value.clone())
    }
}

/// A hidden field's value in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    page.split(&marker).nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_else(|| panic!("no {name} in {page}")).to_string()
}

async fn get(app: &TestApp, jar: &mut Jar, path: &str) -> (StatusCode, String) {
    let res = app.client.get(app.url(path)).header(COOKIE, jar.header()).send().await.expect("sent");
    jar.take(&res);
    (res.status(), res.text().await.expect("page"))
}

async fn post(app: &TestApp, jar: &mut Jar, path: &str, form: &[(&str, &str)]) -> (reqwest::Response, Vec<String>) {
    let body = serde_urlencoded::to_string(form).expect("form");
    let res = app
        .client
        .post(app.url(path))
        .header(COOKIE, jar.header())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("sent");
    let lines = jar.take(&res);
    (res, lines)
}

#[tokio::test]
async fn a_csrf_token_read_before_sign_in_is_refused_after_it_and_one_read_before_sign_out_after_that() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let mut jar = Jar::default();
    let (_, page) = get(&app, &mut jar, "/login").await;
    let (before, cookie_before) = (hidden(&page, "csrf"), jar.value("gatehouse_csrf").expect("a csrf cookie"));

    let (signed_in, _) = post(&app, &mut jar, "/login", &[("csrf", &before), ("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie_after = jar.value("gatehouse_csrf").expect("a csrf cookie");
    assert_ne!(cookie_after, cookie_before, "sign-in gives the CSRF cookie a new value");
    let (stale, _) = post(&app, &mut jar, "/logout", &[("csrf", &before)]).await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN, "the token from before sign-in is refused");
    assert!(stale.text().await.expect("page").contains("This form has expired"));

    let (status, account) = get(&app, &mut jar, "/account").await;
    assert_eq!(status, StatusCode::OK, "the refused form left the session as it was");
    let signed_in_token = hidden(&account, "csrf");
    let (signed_out, _) = post(&app, &mut jar, "/logout", &[("csrf", &signed_in_token)]).await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert_ne!(jar.value("gatehouse_csrf").expect("a csrf cookie"), cookie_after, "sign-out gives it a new value too");
    let (again, _) = post(&app, &mut jar, "/login", &[("csrf", &signed_in_token), ("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN, "the token from before sign-out is refused");
}

#[tokio::test]
async fn the_second_step_gives_the_csrf_cookie_a_new_value_and_refuses_the_token_from_before() {
    let app = TestApp::spawn().await;
    let alice = app.mfa_user("alice").await;
    let mut jar = Jar::default();
    let (_, page) = get(&app, &mut jar, "/login").await;
    let token = hidden(&page, "csrf");
    let (first, _) = post(&app, &mut jar, "/login", &[("csrf", &token), ("username", "alice"), ("password", PASSWORD)]).await;
    let step = first.text().await.expect("the second step");
    let cookie_before = jar.value("gatehouse_csrf").expect("a csrf cookie");

    let code = code_at(&alice.secret, alice.t);
    let form = [("csrf", hidden(&step, "csrf")), ("mfa_token", hidden(&step, "mfa_token")), ("code", code)];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (signed_in, _) = post(&app, &mut jar, "/login/mfa", &form).await;

    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_ne!(jar.value("gatehouse_csrf").expect("a csrf cookie"), cookie_before);
    let (stale, _) = post(&app, &mut jar, "/logout", &[("csrf", &token)]).await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(get(&app, &mut jar, "/account").await.0, StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn with_an_https_public_url_sign_out_removes_its_cookies_with_secure_and_path() {
    let app = TestApp::spawn_with(|c| c.public_url = Some("https://id.example.test".into())).await;
    app.user("alice").await;
    let mut jar = Jar::default();
    let (_, page) = get(&app, &mut jar, "/login").await;
    let (signed_in, _) =
        post(&app, &mut jar, "/login", &[("csrf", &hidden(&page, "csrf")), ("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let (_, account) = get(&app, &mut jar, "/account").await;

    let (signed_out, lines) = post(&app, &mut jar, "/logout", &[("csrf", &hidden(&account, "csrf"))]).await;

    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    let removals: Vec<&String> = lines.iter().filter(|l| l.contains("Max-Age=0")).collect();
    assert!(removals.iter().any(|l| l.starts_with("__Host-gatehouse_session=")), "the session cookie is removed: {lines:?}");
    for removal in removals {
        let attributes: Vec<&str> = removal.split(';').map(str::trim).collect();
        assert!(attributes.contains(&"Secure") && attributes.contains(&"Path=/"), "{removal}");
    }
    assert!(jar.value("gatehouse_session").is_none());
    assert_eq!(get(&app, &mut jar, "/account").await.0, StatusCode::SEE_OTHER, "signed out");
}
