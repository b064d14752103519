//! The pages people use, served by the same binary: sign-in (with the second step),
//! sign-up and the account page. Server-rendered HTML from minijinja templates compiled in
//! from `templates/pages/` (each replaceable by a file of the same name in
//! GATEHOUSE_PAGE_TEMPLATES), one stylesheet, and one script for passkeys only (WebAuthn needs one): every other
//! flow works with JavaScript off. Browser sessions and CSRF tokens are in [`session`].
//!
//! Pages run the same flows as the API (`crate::accounts`), so lockout, per-address limits
//! and the no-enumeration answers are the same.

mod account;
mod account_orgs;
mod admin;
mod admin_actions;
mod admin_add;
mod admin_audit;
mod admin_clients;
mod admin_home;
mod admin_orgs;
mod admin_providers;
mod admin_webhooks;
mod authorize;
mod authorize_org;
mod email_code;
mod invitations;
mod logout;
mod passkeys;
mod recovery;
mod render;
mod return_to;
mod security;
mod sentences;
mod session;
mod signin;
mod upstream;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::app::AppState;

pub use render::Pages;

/// A page handler's answer; `Err` is a page sent before the handler's own (sign in first,
/// admins only, not found, the form expired), so that `?` can stop a handler there.
type Page = Result<Response, Response>;

/// Every page route, with the pages' own security headers.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(signin::router())
        .merge(email_code::router())
        .merge(account::router())
        .merge(recovery::router())
        .merge(security::router())
        .merge(admin::router())
        .merge(authorize::router())
        .merge(passkeys::router())
        .merge(upstream::router())
        .merge(admin_providers::router())
        .route("/", axum::routing::get(home))
        .merge(invitations::router())
        .merge(admin_webhooks::router())
        .route("/pages/style.css", axum::routing::get(render::stylesheet))
        .route("/pages/password.js", axum::routing::get(render::password_script))
        .route("/pages/logo", axum::routing::get(render::logo))
        .route("/favicon.ico", axum::routing::get(render::favicon))
        .layer(axum::middleware::map_response_with_state(state.clone(), page_headers))
}

/// GET /: a person's account, or the sign-in page first.
async fn home(visit: session::Visit) -> Response {
    let target = if visit.session.is_some() { "/account" } else { "/login" };
    visit.respond(axum::response::Redirect::to(target))
}

/// Any other path: the 404 page for a browser (it asks for HTML), the problem document
/// for everything else.
pub async fn not_found(State(state): State<AppState>, visit: session::Visit, headers: axum::http::HeaderMap) -> Response {
    let wants_page = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    if !wants_page {
        return axum::response::IntoResponse::into_response(crate::error::ApiError::NotFound);
    }
    let mut page = admin::message(&state, visit, axum::http::StatusCode::NOT_FOUND, "not_found_title", "not_found");
    secure_page(&state, &mut page);
    page
}

async fn page_headers(State(state): State<AppState>, mut response: Response) -> Response {
    secure_page(&state, &mut response);
    response
}

/// The headers every page carries, also given to pages answered before the router.
fn secure_page(state: &AppState, response: &mut Response) {
    let headers = response.headers_mut();
    // A page whose forms lead to an OpenID Connect client set its own (wider form-action).
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(state.pages.csp.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

/// The page for a request over the per-address limit, keeping the refusal's status and
/// `Retry-After`; the limit answers before the router, so the page headers are set here.
pub fn too_many_requests(state: &AppState, refusal: Response) -> Response {
    let mut context = std::collections::BTreeMap::new();
    context.insert("title", minijinja::Value::from(state.pages.text("rate_limited_title")));
    context.insert("message", minijinja::Value::from(state.pages.text("rate_limited")));
    let mut page = state.pages.render(refusal.status(), "message.html", context);
    if let Some(wait) = refusal.headers().get(header::RETRY_AFTER) {
        page.headers_mut().insert(header::RETRY_AFTER, wait.clone());
    }
    secure_page(state, &mut page);
    page
}

/// The page for a failure of ours (the database unreachable, say): 503, try again.
fn error_page(state: &AppState, visit: session::Visit) -> Response {
    let mut context = signin::base(state, &visit, "error_title");
    context.insert("message", minijinja::Value::from(state.pages.text("error")));
    let page = state.pages.render(axum::http::StatusCode::SERVICE_UNAVAILABLE, "message.html", context);
    visit.respond(page)
}
