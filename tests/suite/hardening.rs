//! Response hardening: nosniff everywhere, no-store under /v1/auth, a strict CSP on /docs,
//! and CORS only for GATEHOUSE_CORS_ORIGINS.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::common::{PASSWORD, TestApp};

fn header(res: &Response, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[tokio::test]
async fn every_answer_carries_nosniff_success_or_error() {
    let app = TestApp::spawn().await;
    let user = app.user("nina").await;

    let answers = vec![
        app.get("/health", None).await,
        app.get("/openapi.json", None).await,
        app.get("/docs", None).await,
        app.get("/.well-known/jwks.json", None).await,
        app.get("/no/such/route", None).await,
        app.get_me(&user.access).await,
        app.get_me("garbage").await,
        app.post_login("nina", "wrong password here").await,
        app.client.put(app.url("/v1/auth/login")).send().await.expect("sent"),
    ];

    for res in answers {
        assert_eq!(header(&res, "x-content-type-options").as_deref(), Some("nosniff"), "{}", res.url());
    }
}

#[tokio::test]
async fn everything_under_v1_auth_is_no_store_whatever_the_outcome() {
    let app = TestApp::spawn().await;
    let user = app.user("oscar").await;

    let answers = vec![
        app.post_register("oscar2", None, PASSWORD).await,
        app.post_register("x", None, "short").await,
        app.post_login("oscar", PASSWORD).await,
        app.post_login("oscar", "wrong password here").await,
        app.post_refresh(&user.refresh).await,
        app.post_refresh("not-a-token").await,
        app.get_me(&user.access).await,
        app.get_me("garbage").await,
        app.get("/v1/auth/sessions", Some(&user.access)).await,
        app.post("/v1/auth/login", &json!([]), None).await,
    ];

    for res in answers {
        assert_eq!(header(&res, "cache-control").as_deref(), Some("no-store"), "{} {}", res.url(), res.status());
    }
}

#[tokio::test]
async fn the_docs_page_has_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;

    let res = app.get("/docs", None).await;

    assert_eq!(res.status(), StatusCode::OK);
    let csp = header(&res, "content-security-policy").expect("a CSP on /docs");
    for directive in ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    let scripts = csp.split(';').find(|d| d.trim().starts_with("script-src")).expect("script-src");
    assert!(!scripts.contains("unsafe-inline") && !scripts.contains("unsafe-eval"), "{scripts}");
    assert!(!csp.contains('*') && !csp.contains("http:") && !csp.contains("https:"), "nothing from elsewhere: {csp}");
    assert_eq!(header(&res, "x-frame-options").as_deref(), Some("DENY"));
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/v1/auth/login"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("sent")
}

async fn get_with_origin(app: &TestApp, origin: &str) -> Response {
    app.client.get(app.url("/health")).header("origin", origin).send().await.expect("sent")
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let app = TestApp::spawn_with(|c| c.cors_origins = vec!["https://app.example".into(), "https://admin.example".into()]).await;

    let allowed = preflight(&app, "https://app.example").await;
    assert_eq!(header(&allowed, "access-control-allow-origin").as_deref(), Some("https://app.example"));
    assert!(header(&allowed, "access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    let simple = get_with_origin(&app, "https://admin.example").await;
    assert_eq!(header(&simple, "access-control-allow-origin").as_deref(), Some("https://admin.example"));

    for refused in ["https://evil.example", "https://app.example.evil.example", "http://app.example", "null"] {
        let res = preflight(&app, refused).await;
        assert_eq!(header(&res, "access-control-allow-origin"), None, "preflight from {refused}");
        let res = get_with_origin(&app, refused).await;
        assert_eq!(header(&res, "access-control-allow-origin"), None, "GET from {refused}");
    }
}

#[tokio::test]
async fn without_configured_origins_no_cross_origin_access_is_granted() {
    let app = TestApp::spawn().await;

    let res = preflight(&app, "https://app.example").await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = get_with_origin(&app, "https://app.example").await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}
