//! Extractors that authenticate a request: `AuthUser` for any live session, `AdminUser`
//! for one whose token carries the `admin` role.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::Role;
use crate::error::ApiError;

/// The legacy header that older Flask APIs read the token from.
pub const X_ACCESS_TOKEN: &str = "x-access-token";

/// A request with a valid access token of a live session.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub username: String,
    pub roles: Vec<String>,
}

/// A request by an admin. The role is read from the database, not the token, so that a
/// demoted admin loses access at once.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidToken { sent: true })?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken { sent: true })?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::InvalidToken { sent: true });
        }
        return Ok(token.trim());
    }
    match parts.headers.get(X_ACCESS_TOKEN) {
        Some(value) => value.to_str().map(str::trim).map_err(|_| ApiError::InvalidToken { sent: true }),
        None => Err(ApiError::InvalidToken { sent: false }),
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let token = bearer_token(parts)?;
        let claims = state.tokens.verify(token).await.map_err(|err| match err {
            crate::auth::tokens::TokenError::Store(store) => ApiError::from(store),
            refused => {
                tracing::debug!(reason = %refused, "access token refused");
                ApiError::InvalidToken { sent: true }
            }
        })?;
        // One indexed lookup per request: it is what lets logout, password changes, reuse
        // detection and disabling take effect at once on this server, not at token expiry.
        if !state.store.session_is_live(claims.sid, claims.sub).await? {
            return Err(ApiError::InvalidToken { sent: true });
        }
        let user = AuthUser { user_id: claims.sub, session_id: claims.sid, username: claims.username, roles: claims.roles };
        tracing::Span::current().record("user_id", tracing::field::display(user.user_id));
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let current = state.store.user_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken { sent: true })?;
        if current.roles.iter().any(|r| r == Role::ADMIN) { Ok(AdminUser(user)) } else { Err(ApiError::Forbidden) }
    }
}
