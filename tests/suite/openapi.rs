//! The served OpenAPI document and the /docs page.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;

async fn openapi(app: &TestApp) -> Value {
    let res = app.get("/openapi.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("OpenAPI JSON")
}

#[tokio::test]
async fn the_openapi_document_is_version_3_1() {
    let app = TestApp::spawn().await;

    let doc = openapi(&app).await;

    assert!(doc["openapi"].as_str().expect("openapi").starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "Gatehouse");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_of_the_contract_docs_and_metrics_included() {
    let app = TestApp::spawn().await;

    let doc = openapi(&app).await;

    let routes = [
        ("/health", "get"),
        ("/v1/auth/register", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/me", "get"),
        ("/v1/auth/me", "patch"),
        ("/v1/auth/password", "post"),
        ("/v1/auth/sessions", "get"),
        ("/v1/auth/sessions/{id}", "delete"),
        ("/.well-known/jwks.json", "get"),
        ("/v1/auth/email/verify", "post"),
        ("/v1/auth/email/resend", "post"),
        ("/v1/auth/password/forgot", "post"),
        ("/v1/auth/password/reset", "post"),
        ("/v1/auth/mfa/totp/setup", "post"),
        ("/v1/auth/mfa/totp/confirm", "post"),
        ("/v1/auth/mfa/totp", "delete"),
        ("/v1/auth/login/mfa", "post"),
        ("/v1/users/{id}/mfa", "delete"),
        ("/v1/users", "get"),
        ("/v1/users/{id}", "get"),
        ("/v1/users/{id}", "patch"),
        ("/v1/users/{id}", "delete"),
        ("/v1/templates", "get"),
        ("/v1/templates", "post"),
        ("/v1/templates/{id}", "get"),
        ("/v1/templates/{id}", "patch"),
        ("/v1/templates/{id}", "delete"),
        ("/v1/audit", "get"),
        ("/v1/auth/me/audit", "get"),
        ("/openapi.json", "get"),
        ("/docs", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in routes {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is documented");
    }
}

#[tokio::test]
async fn the_openapi_document_has_the_bearer_scheme_on_secured_routes() {
    let app = TestApp::spawn().await;

    let doc = openapi(&app).await;

    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for (path, method) in [("/v1/auth/me", "get"), ("/v1/auth/logout", "post"), ("/v1/auth/sessions", "get")] {
        let security = &doc["paths"][path][method]["security"];
        assert!(security.to_string().contains("bearer"), "{method} {path}: {security}");
        assert!(doc["paths"][path][method]["responses"]["401"].is_object(), "{method} {path} declares 401");
    }
    assert!(doc["paths"]["/v1/auth/login"]["post"]["security"].is_null(), "login is public");
}

#[tokio::test]
async fn the_openapi_document_declares_the_problem_errors() {
    let app = TestApp::spawn().await;

    let doc = openapi(&app).await;

    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let register = &doc["paths"]["/v1/auth/register"]["post"]["responses"];
    for status in ["201", "400", "409", "413", "415", "422"] {
        assert!(register[status].is_object(), "register declares {status}");
    }
    assert!(doc["paths"]["/v1/auth/login"]["post"]["responses"]["401"].is_object());
}

#[tokio::test]
async fn docs_is_an_html_page_that_loads_nothing_from_elsewhere() {
    let app = TestApp::spawn().await;

    let res = app.get("/docs", None).await;

    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"].to_str().expect("ascii").to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = res.text().await.expect("html");
    for external in ["src=\"http", "href=\"http", "src='http", "href='http", "src=\"//", "href=\"//"] {
        assert!(!html.contains(external), "no external asset ({external}) in {html}");
    }
    for asset in ["/docs/ui/swagger-ui-bundle.js", "/docs/ui/swagger-ui.css", "/docs/ui/swagger-initializer.js"] {
        assert_eq!(app.get(asset, None).await.status(), StatusCode::OK, "{asset} is served from the binary");
    }
    let initializer = app.get("/docs/ui/swagger-initializer.js", None).await.text().await.expect("js");
    assert!(initializer.contains("/openapi.json"), "{initializer}");
}

#[tokio::test]
async fn metrics_served_on_their_own_address_are_not_in_the_public_document() {
    let app = TestApp::spawn_with(|c| c.metrics_bind = Some(gatehouse::config::MetricsBind::Off)).await;

    let doc = openapi(&app).await;

    assert!(doc["paths"]["/metrics"].is_null(), "{}", doc["paths"]["/metrics"]);
    assert!(doc["paths"]["/docs"]["get"].is_object());
}
