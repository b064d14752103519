//! Answers for requests the server refuses to take on: too many at once (503, at once
//! rather than queued) and headers over the size limit (431). Both are problem documents.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{Problem, problem_response};

fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    problem_response(
        status,
        &Problem {
            kind: format!("urn:gatehouse:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.to_string(),
            code: code.to_string(),
            errors: None,
        },
    )
}

/// The answer when [`crate::app::MAX_IN_FLIGHT_REQUESTS`] are already running: 503
/// `unavailable` with `Retry-After: 1`, so clients back off instead of piling up.
pub async fn overloaded(_: tower::BoxError) -> Response {
    let mut res = problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "The server is busy; try again in a moment.");
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

/// 431 `headers_too_large` when the request's header names and values together exceed
/// [`crate::app::HEADER_LIMIT_BYTES`]. (hyper itself refuses more than 100 headers.)
pub async fn limit_headers(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > crate::app::HEADER_LIMIT_BYTES {
        let detail = format!("The request headers are larger than {} KiB in total.", crate::app::HEADER_LIMIT_BYTES / 1024);
        return problem(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", &detail);
    }
    next.run(request).await
}
