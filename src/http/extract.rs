//! Extractors whose failures come out as the contract's problem documents.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use utoipa::PartialSchema;
use uuid::Uuid;

use super::limits::ClientAddr;
use crate::auth::sessions::ClientInfo;
use crate::error::{ApiError, FieldError};

/// A JSON object body: 415 when not JSON, 413 when over the limit, 400 when not a JSON
/// object, 422 listing every field that is missing or of the wrong type (see [`super::fields`]).
pub struct ApiJson<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// What [`ApiJson`] reads: a type serde builds, with the schema its 422s are checked against.
pub trait JsonBody: DeserializeOwned + PartialSchema {}

impl<T: DeserializeOwned + PartialSchema> JsonBody for T {}

impl<T: JsonBody, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Malformed("The request body could not be read.".into())
            }
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Malformed(format!("The body is not valid JSON (line {}, column {}).", e.line(), e.column())))?;
        let serde_json::Value::Object(body) = value else {
            return Err(ApiError::Malformed("The body must be a JSON object.".into()));
        };
        // Deserialised from a borrow: on the error path the body is still there to check.
        serde_path_to_error::deserialize(serde::de::IntoDeserializer::into_deserializer(&body)).map(ApiJson).map_err(|e| {
            let message = e.inner().to_string();
            let path = e.path().to_string();
            let field = match message.strip_prefix("missing field `") {
                Some(rest) => rest.trim_end_matches('`').to_string(),
                None => path,
            };
            ApiError::Validation(super::fields::invalid_fields::<T>(&body, FieldError::new(field, message)))
        })
    }
}

/// Query parameters: any that are malformed or of the wrong type answer 422.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::validation("query", e.body_text()))
    }
}

/// A UUID path id; anything else is simply not found.
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        super::schemas::parse_uuid(&raw).map(IdPath).ok_or(ApiError::NotFound)
    }
}

/// Longest user agent kept on a session.
const MAX_USER_AGENT_CHARS: usize = 256;

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Set by the `limits::guard` middleware with the trusted-proxy rule; the socket
        // address when the extractor runs without it.
        let ip = match parts.extensions.get::<ClientAddr>() {
            Some(ClientAddr(ip)) => Some(ip.to_string()),
            None => parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string()),
        };
        let user_agent =
            parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}
