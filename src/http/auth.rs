//! Registration, login, refresh and logout.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::extract::ApiJson;
use crate::app::AppState;
use crate::auth::sessions::{self, ClientInfo, TokenPair};
use crate::auth::{AuthUser, Verdict};
use crate::domain::{Email, Role, Username};
use crate::error::{ApiError, FieldError, Result};
use crate::store::{NewUser, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register)).routes(routes!(login)).routes(routes!(refresh)).routes(routes!(logout))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3 to 32 of `A-Z a-z 0-9 _ . -`, unique without regard to case.
    #[schema(example = "alice", min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    /// Optional; unique without regard to case.
    #[serde(default)]
    #[schema(example = "alice@example.com", format = Email)]
    pub email: Option<String>,
    /// 8 (GATEHOUSE_PASSWORD_MIN_LENGTH) to 128 characters, not easy to guess.
    #[schema(example = "correct horse battery staple", min_length = 8, max_length = 128)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The username or the email address.
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Creates an account.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = User,
            headers(("Location" = String, description = "/v1/users/{id}"))),
        (status = 409, description = "`username_taken` or `email_taken`", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn register(State(state): State<AppState>, ApiJson(req): ApiJson<RegisterRequest>) -> Result<impl IntoResponse> {
    let mut errors = Vec::new();
    let username = Username::parse(&req.username).map_err(|m| errors.push(FieldError::new("username", m))).ok();
    let email = match req.email.as_deref() {
        None => None,
        Some(raw) => Email::parse(raw).map_err(|m| errors.push(FieldError::new("email", m))).ok(),
    };
    let known: Vec<&str> = [Some(req.username.as_str()), req.email.as_deref()].into_iter().flatten().collect();
    let password = state.policy.parse(&req.password, &known).map_err(|m| errors.push(FieldError::new("password", m))).ok();
    let (Some(username), Some(password)) = (username, password) else { return Err(ApiError::Validation(errors)) };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let password_hash = state.hasher.hash(password.expose()).await?;
    let user = state
        .store
        .create_user(NewUser {
            id: Uuid::now_v7(),
            username: username.as_str().to_string(),
            username_key: username.key(),
            email: email.as_ref().map(|e| e.as_str().to_string()),
            email_key: email.as_ref().map(Email::key),
            password_hash,
            roles: vec![Role::USER.to_string()],
        })
        .await?;
    tracing::info!(user_id = %user.id, "user registered");
    let location = HeaderValue::from_str(&format!("/v1/users/{}", user.id)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(user)))
}

/// The key an account is looked up by: usernames and emails compare without regard to case.
fn login_key(login: &str) -> String {
    // No username or email holds NUL, and PostgreSQL text cannot: such a login simply
    // matches nobody (and still costs a dummy hash).
    login.to_lowercase().replace('\0', "\u{fffd}")
}

/// Exchanges a username (or email) and password for a token pair.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "`invalid_credentials`: unknown user or wrong password, one answer for both", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`, after a correct password", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn login(State(state): State<AppState>, client: ClientInfo, ApiJson(req): ApiJson<LoginRequest>) -> Result<impl IntoResponse> {
    let credentials = state.store.credentials_by_login(&login_key(&req.username)).await?;
    // Unknown users are checked against a dummy hash: same answer, same time.
    let verdict = state.hasher.verify(&req.password, credentials.as_ref().map(|c| c.password_hash.as_str())).await?;
    let (Verdict::Match { needs_rehash }, Some(credentials)) = (verdict, credentials) else {
        return Err(ApiError::InvalidCredentials);
    };
    let user = credentials.user;
    if user.disabled {
        return Err(ApiError::AccountDisabled);
    }
    if needs_rehash {
        let fresh = state.hasher.hash(&req.password).await?;
        state.store.set_password_hash(user.id, &fresh).await?;
    }
    tracing::info!(user_id = %user.id, "login succeeded");
    Ok(token_response(sessions::start(&state, user, client).await?))
}

/// Token responses must never be cached (RFC 6749 §5.1).
fn token_response(pair: TokenPair) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(axum::http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    (headers, Json(pair))
}

/// Rotates a refresh token: a new access token and a new refresh token.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; inside the grace window the session's current refresh token", body = TokenPair),
        (status = 401, description = "`invalid_token` (not live) or `token_reused` (session revoked)", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn refresh(State(state): State<AppState>, ApiJson(req): ApiJson<RefreshRequest>) -> Result<impl IntoResponse> {
    Ok(token_response(sessions::rotate(&state, &req.refresh_token).await?))
}

/// Ends the current session: its refresh token and access tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out")))]
async fn logout(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode> {
    state.store.revoke_session(user.session_id, user.user_id).await?;
    tracing::info!(user_id = %user.user_id, session_id = %user.session_id, "logged out");
    Ok(StatusCode::NO_CONTENT)
}
