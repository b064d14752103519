//! Registration, login, refresh and logout.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AuthUser;
use super::extract::ApiJson;
use crate::accounts::{Registered, Registration, Via};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::{self, ClientInfo, TokenPair};
use crate::error::Result;
use crate::store::{AuditType, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register)).routes(routes!(login)).routes(routes!(refresh)).routes(routes!(logout))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3 to 32 of `A-Z a-z 0-9 _ . -`, unique without regard to case.
    #[schema(example = "alice", min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    /// Optional; at most 254 characters, with a dotted domain; unique without regard to case.
    #[serde(default)]
    #[schema(example = "alice@example.com", format = Email, max_length = 254)]
    pub email: Option<String>,
    /// 8 (GATEHOUSE_PASSWORD_MIN_LENGTH) to 128 characters, not easy to guess.
    #[schema(example = "correct horse battery staple", min_length = 8, max_length = 128)]
    pub password: String,
    /// The token of an admin's invitation (the `invitation` of the mailed link): the account
    /// gets the invited address, verified, and the invitation's roles. Needed while
    /// GATEHOUSE_REGISTRATION is `invite`.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub invitation: Option<String>,
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
            headers(("Location" = String, description = "/v1/users/{id}")),
            links(("login" = (operation_id = "login", description = "Log in as the new account",
                request_body = json!({ "username": "$request.body#/username", "password": "$request.body#/password" }))))),
        (status = 403, description = "`registration_closed`: GATEHOUSE_REGISTRATION is `invite` and no invitation came, or `closed`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`username_taken` or `email_taken`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = crate::error::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn register(State(state): State<AppState>, audit: Audit, ApiJson(req): ApiJson<RegisterRequest>) -> Result<impl IntoResponse> {
    let via = match req.invitation.as_deref() {
        Some(token) => Via::SignUpInvitation(token),
        None => Via::SignUp,
    };
    let new = Registration {
        username: &req.username,
        email: req.email.as_deref(),
        password: &req.password,
        admin: false,
        roles: Vec::new(),
        via,
    };
    let Registered { user, .. } = state.accounts.register(&audit, new).await?;
    let location = HeaderValue::from_str(&format!("/v1/users/{}", user.id)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(user)))
}

/// Exchanges a username (or email) and password for a token pair.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair,
            links(("refresh" = (operation_id = "refresh", description = "Rotate the new refresh token",
                request_body = json!({ "refresh_token": "$response.body#/refresh_token" }))))),
        (status = 401, description = "`invalid_credentials`: unknown user or wrong password, one answer for both. \
`mfa_required`: the password is right and TOTP is on; the problem carries `mfa_token`, to send with a code to \
POST /v1/auth/login/mfa within GATEHOUSE_MFA_TOKEN_TTL (300 s)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`, after a correct password; `email_unverified`, after a correct password, while GATEHOUSE_REQUIRE_VERIFIED_EMAIL is on and the account has no verified address", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: after GATEHOUSE_LOGIN_MAX_FAILURES failures on this name (known or not), or on its account by any of its identifiers, \
every attempt, the right password too, is refused until GATEHOUSE_LOGIN_LOCKOUT has passed; or too many requests from this address. \
`Retry-After` gives the seconds to wait.", body = crate::error::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    audit: Audit,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse> {
    Ok(token_response(state.accounts.login(&state.sessions, &audit, &req.username, &req.password, client).await?))
}

/// Token responses must never be cached (RFC 6749 §5.1).
pub(crate) fn token_response(pair: TokenPair) -> impl IntoResponse {
    no_store_json(pair)
}

/// JSON holding a secret: no cache may keep it.
pub(crate) fn no_store_json<T: serde::Serialize>(value: T) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(axum::http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    (headers, Json(value))
}

/// Rotates a refresh token: a new access token and a new refresh token.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; inside the grace window the session's current refresh token", body = TokenPair,
            links(
                ("refresh" = (operation_id = "refresh", description = "Rotate the new refresh token",
                    request_body = json!({ "refresh_token": "$response.body#/refresh_token" }))),
                ("refresh_parent" = (operation_id = "refresh", description = "Present the rotated token again: inside the grace window \
the session's current refresh token, after it `token_reused`",
                    request_body = json!({ "refresh_token": "$request.body#/refresh_token" }))),
            )),
        (status = 401, description = "`invalid_token` (not live) or `token_reused` (session revoked)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = crate::error::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn refresh(State(state): State<AppState>, audit: Audit, ApiJson(req): ApiJson<RefreshRequest>) -> Result<impl IntoResponse> {
    Ok(token_response(sessions::rotate(&state.sessions, &req.refresh_token, &audit, None).await?))
}

/// Ends the current session: its refresh token and access tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out")))]
async fn logout(State(state): State<AppState>, user: AuthUser, audit: Audit) -> Result<StatusCode> {
    state.store.revoke_session(user.session_id, user.user_id).await?;
    audit.record(AuditType::Logout, Some(user.user_id), Some(user.user_id), json!({ "session_id": user.session_id })).await;
    tracing::info!(user_id = %user.user_id, session_id = %user.session_id, "logged out");
    Ok(StatusCode::NO_CONTENT)
}
