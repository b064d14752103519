//! Registration, login, refresh and logout.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::extract::ApiJson;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::{self, ClientInfo, TokenPair};
use crate::auth::{AuthUser, Verdict, lockout};
use crate::domain::{Email, Role, Username};
use crate::error::{ApiError, FieldError, Result};
use crate::store::{AuditType, NewUser, User};

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
        (status = 409, description = "`username_taken` or `email_taken`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = crate::error::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn register(State(state): State<AppState>, audit: Audit, ApiJson(req): ApiJson<RegisterRequest>) -> Result<impl IntoResponse> {
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
    crate::metrics::registered();
    audit.record(AuditType::UserRegistered, None, Some(user.id), json!({ "username": user.username })).await;
    state.mailer.send_verification(&user).await;
    let location = HeaderValue::from_str(&format!("/v1/users/{}", user.id)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(user)))
}

/// The key an account is looked up by: usernames and emails compare without regard to case.
pub(crate) fn login_key(login: &str) -> String {
    // An address is keyed as it was when stored (a Unicode domain in its ASCII form).
    if let Ok(email) = Email::parse(login) {
        return email.key();
    }
    // No username or email holds NUL, and PostgreSQL text cannot: such a login simply
    // matches nobody (and still costs a dummy hash).
    login.to_lowercase().replace('\0', "\u{fffd}")
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
    // No username or email holds a control character (and PostgreSQL text cannot hold NUL):
    // such a login is an unknown user, without asking the store.
    let lookup = !req.username.chars().any(char::is_control);
    let credentials = if lookup { state.store.credentials_by_login(&login_key(&req.username)).await? } else { None };
    let known_user = credentials.as_ref().map(|c| c.user.id);
    // Counted before the password is checked, so that parallel guesses cannot pass the
    // limit: under the name typed and, for a known name, under its account.
    if let Err(locked) = lockout::reserve_login(&state, &req.username, known_user).await {
        if let ApiError::RateLimited { retry_after_secs } = locked {
            crate::audit::login_locked(&audit, known_user, retry_after_secs).await;
        }
        return Err(locked);
    }
    // Unknown users are checked against a dummy hash: same answer, same time.
    let verdict = state.hasher.verify(&req.password, credentials.as_ref().map(|c| c.password_hash.as_str())).await?;
    let (Verdict::Match { needs_rehash }, Some(credentials)) = (verdict, credentials) else {
        crate::metrics::login("invalid_credentials");
        audit.record(AuditType::LoginFailed, None, known_user, json!({ "reason": "invalid_credentials" })).await;
        return Err(ApiError::InvalidCredentials);
    };
    let user = credentials.user;
    if user.disabled {
        crate::metrics::login("disabled");
        audit.record(AuditType::LoginFailed, None, Some(user.id), json!({ "reason": "account_disabled" })).await;
        return Err(ApiError::AccountDisabled);
    }
    if state.config.require_verified_email && !user.email_verified {
        crate::metrics::login("email_unverified");
        audit.record(AuditType::LoginFailed, None, Some(user.id), json!({ "reason": "email_unverified" })).await;
        return Err(ApiError::EmailUnverified);
    }
    if needs_rehash {
        let fresh = state.hasher.hash(&req.password).await?;
        state.store.set_password_hash(user.id, &fresh).await?;
        tracing::info!(user_id = %user.id, "password rehashed to the current argon2id parameters");
    }
    // TOTP on: the second step completes the login (and only it resets the failure count).
    if user.mfa_enabled {
        crate::metrics::login("mfa_required");
        return Err(crate::auth::mfa::challenge(&state, user.id, &req.username).await?);
    }
    lockout::clear(&state, &user, Some(lockout::attempt_key(&req.username))).await?;
    tracing::info!(user_id = %user.id, "login succeeded");
    let pair = sessions::start(&state, user, client).await?;
    crate::metrics::login("success");
    audit.record(AuditType::LoginSucceeded, Some(pair.user.id), Some(pair.user.id), json!({})).await;
    Ok(token_response(pair))
}

/// Token responses must never be cached (RFC 6749 §5.1).
pub(crate) fn token_response(pair: TokenPair) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(axum::http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    (headers, Json(pair))
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
    Ok(token_response(sessions::rotate(&state, &req.refresh_token, &audit).await?))
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
