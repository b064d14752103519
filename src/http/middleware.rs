//! The service's own middleware, one layer: requests over the header limit or the
//! per-address limit are refused, framework rejections become problem documents, 500s are
//! logged with their cause, the security headers are set, and every answer is counted.
//! One `from_fn` instead of one per concern: each costs a boxed service clone and a boxed
//! future on every request.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::{ApiError, InternalCause, problem_response};

const PROBLEM_JSON: &str = "application/problem+json";
/// Swagger UI needs inline styles and data: images, nothing from elsewhere.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub async fn edge(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let timer = crate::metrics::RequestTimer::start(&request);
    let path = request.uri().path();
    let (account_data, docs) = (path.starts_with("/v1/"), path == "/docs" || path.starts_with("/docs/"));
    // The OpenID Connect endpoints that programs call answer in RFC 6749's shape.
    let oauth_json = OAUTH_JSON_ROUTES.contains(&path);
    let page = !account_data && !docs && !oauth_json;
    let refused = crate::http::limits::guard(&state, &mut request).or_else(|| crate::http::overload::headers_too_large(&request));
    // A person at a page gets a page saying to wait, with the same Retry-After.
    let refused = refused.map(|answer| match answer.status() {
        StatusCode::TOO_MANY_REQUESTS if page => crate::pages::too_many_requests(&state, answer),
        StatusCode::TOO_MANY_REQUESTS if oauth_json => oauth_too_many(answer),
        _ => answer,
    });
    let response = match refused {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    let mut response = as_problem(response);
    harden(&mut response, account_data, docs);
    timer.finish(&response);
    response
}

const OAUTH_JSON_ROUTES: [&str; 5] =
    ["/oauth/token", "/oauth/userinfo", "/oauth/revoke", "/oauth/introspect", "/.well-known/openid-configuration"];

/// A 429 in RFC 6749's shape (`temporarily_unavailable`), keeping `Retry-After`.
fn oauth_too_many(refusal: Response) -> Response {
    let error = crate::error::OAuthError::api_error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "too many requests from this address; try again later",
    );
    let mut answer = error.into_response();
    if let Some(wait) = refusal.headers().get(header::RETRY_AFTER) {
        answer.headers_mut().insert(header::RETRY_AFTER, wait.clone());
    }
    answer
}

fn harden(response: &mut Response, account_data: bool, docs: bool) {
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if account_data {
        // Every /v1 answer is about one account: no shared cache may keep it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if docs {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}

/// Turns error answers that did not come from [`ApiError`] (no route, wrong method, a
/// timeout) into problem documents, keeping their headers (`Allow` on a 405).
fn as_problem(response: Response) -> Response {
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(cause = %cause, "internal error");
    }
    let status = response.status();
    // A problem document, a handler's own JSON answer (the 503 of /health) or a page's
    // answer (the pages show their errors as HTML) stays as it is.
    let own_answer = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(PROBLEM_JSON.as_bytes()) || v.starts_with(b"application/json") || v.starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || own_answer {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
        s if s.is_client_error() => ApiError::Malformed("The request could not be understood.".into()),
        _ => ApiError::Internal(anyhow::anyhow!("unexpected {status} from the framework")),
    };
    let (mut parts, _) = response.into_parts();
    let fresh = problem_response(status, &error.to_problem());
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, fresh_parts.headers[header::CONTENT_TYPE].clone());
    Response::from_parts(parts, body)
}

/// The answer to a panic: a plain 500 problem; the panic itself is logged here.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let message =
        panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("unknown panic");
    tracing::error!(panic = message, "handler panicked");
    ApiError::Internal(anyhow::anyhow!("panic")).into_response()
}
