//! Answers for requests the server refuses to take on: too many at once (503, at once
//! rather than queued) and headers over the size limit (431). Both are problem documents.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The answer when [`crate::app::MAX_IN_FLIGHT_REQUESTS`] are already running: 503
/// `unavailable` with `Retry-After: 1`, so clients back off instead of piling up.
pub async fn overloaded(_: tower::BoxError) -> Response {
    ApiError::Overloaded.into_response()
}

/// 431 `headers_too_large` when the request's header names and values together exceed
/// [`crate::app::HEADER_LIMIT_BYTES`]. (hyper itself refuses more than 100 headers.)
pub fn headers_too_large(request: &Request) -> Option<Response> {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    (size > crate::app::HEADER_LIMIT_BYTES)
        .then(|| ApiError::HeadersTooLarge { limit_bytes: crate::app::HEADER_LIMIT_BYTES }.into_response())
}
