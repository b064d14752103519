//! Extractors that authenticate a request: `AuthUser` for any live session, `AdminUser`
//! for one whose token carries the `admin` role.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::tokens::AccessClaims;
use crate::domain::Role;
use crate::error::ApiError;
use crate::store::User;

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

/// A request with a valid access token of a live session, and the account behind it: the
/// session check and the user read are one query (one round trip).
#[derive(Debug, Clone)]
pub struct AccountUser {
    pub auth: AuthUser,
    pub account: User,
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

async fn verified_claims(parts: &Parts, state: &AppState) -> Result<std::sync::Arc<AccessClaims>, ApiError> {
    let token = bearer_token(parts)?;
    let claims = state.tokens.verify(token).await.map_err(|err| match err {
        crate::auth::tokens::TokenError::Store(store) => ApiError::from(store),
        refused => {
            tracing::debug!(reason = %refused, "access token refused");
            ApiError::InvalidToken { sent: true }
        }
    })?;
    // A token an OpenID Connect client holds is for userinfo and the client's own APIs: the
    // account API (password, email, sessions, admin) takes only the API's own logins.
    if claims.client_id.is_some() {
        tracing::debug!("an OpenID Connect client's access token was refused by the account API");
        return Err(ApiError::InvalidToken { sent: true });
    }
    Ok(claims)
}

fn remember(parts: &mut Parts, claims: &AccessClaims) -> AuthUser {
    let user = AuthUser { user_id: claims.sub, session_id: claims.sid, username: claims.username.clone(), roles: claims.roles.clone() };
    tracing::Span::current().record("user_id", tracing::field::display(user.user_id));
    parts.extensions.insert(user.clone());
    user
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let claims = verified_claims(parts, state).await?;
        // One indexed lookup per request: it is what lets logout, password changes, reuse
        // detection and disabling take effect at once on this server, not at token expiry.
        if !state.store.session_is_live(claims.sid, claims.sub, claims.org_id()).await? {
            return Err(ApiError::InvalidToken { sent: true });
        }
        Ok(remember(parts, &claims))
    }
}

impl FromRequestParts<AppState> for AccountUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let claims = verified_claims(parts, state).await?;
        // The session check of AuthUser, answering the user row in the same query.
        let account =
            state.store.live_session_user(claims.sid, claims.sub, claims.org_id()).await?.ok_or(ApiError::InvalidToken { sent: true })?;
        Ok(AccountUser { auth: remember(parts, &claims), account })
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AccountUser { auth, account } = AccountUser::from_request_parts(parts, state).await?;
        if account.roles.iter().any(|r| r == Role::ADMIN) { Ok(AdminUser(auth)) } else { Err(ApiError::Forbidden) }
    }
}
