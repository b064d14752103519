//! Email verification and password reset: the routes behind the links in the mails that
//! [`crate::mail::Mailer`] queues.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::ApiJson;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::{AccountUser, lockout};
use crate::error::{ApiError, Problem, Result};
use crate::mail::hash_token;
use crate::store::{AuditType, TokenPurpose};

/// No username or email is longer; a longer "login" matches nobody.
const MAX_LOGIN_CHARS: usize = 320;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// The `token` of the link in the verification mail.
    #[schema(example = "3q2-7wX0cZ2rYVbq8fOQ1mJk9pLs4tUv6wXyZaBcDeF")]
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct ResendAnswer {
    /// False when there was nothing to send: no address, or already verified.
    pub queued: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    /// The username or the email address of the account.
    #[schema(example = "alice")]
    pub username: String,
}

#[derive(Serialize, ToSchema)]
pub struct ForgotPasswordAnswer {
    #[schema(example = "If the account exists and has an email address, a reset link is on its way.")]
    pub detail: &'static str,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The `token` of the link in the reset mail.
    #[schema(example = "3q2-7wX0cZ2rYVbq8fOQ1mJk9pLs4tUv6wXyZaBcDeF")]
    pub token: String,
    /// 8 (GATEHOUSE_PASSWORD_MIN_LENGTH) to 128 characters, not easy to guess.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Confirms an email address with the token from the verification mail.
#[utoipa::path(post, path = "/v1/auth/email/verify", tag = "recovery", request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "The address is verified (`email_verified` is true)"),
        (status = 401, description = "`invalid_token`: unknown, expired (24 hours), already used, or sent to an address the account no longer has",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn verify_email(State(state): State<AppState>, audit: Audit, ApiJson(req): ApiJson<VerifyEmailRequest>) -> Result<StatusCode> {
    let user = state.store.verify_email(&hash_token(&req.token)).await?.ok_or(ApiError::InvalidToken { sent: true })?;
    tracing::info!(user_id = %user.id, "email verified");
    audit.record(AuditType::EmailVerified, Some(user.id), Some(user.id), json!({ "email": user.email })).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a new verification mail to the caller's address. Older links for the same address
/// keep working until they expire.
#[utoipa::path(post, path = "/v1/auth/email/resend", tag = "recovery", security(("bearer" = [])),
    responses(
        (status = 202, description = "`queued: true`: a mail is on its way; `queued: false`: nothing to send (no address, or already verified)", body = ResendAnswer),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn resend_verification(
    State(state): State<AppState>,
    AccountUser { account: me, .. }: AccountUser,
) -> Result<(StatusCode, Json<ResendAnswer>)> {
    let queued = !me.email_verified && state.mailer.send_verification(&me).await;
    Ok((StatusCode::ACCEPTED, Json(ResendAnswer { queued })))
}

/// Asks for a password reset link. The answer is the same, and as fast, whether or not the
/// account exists: the lookup and the mail happen after it is sent.
#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "recovery", request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted; a link (valid 30 minutes) goes to the account's address if there is one. The same answer for unknown accounts.",
            body = ForgotPasswordAnswer),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn forgot_password(
    State(state): State<AppState>,
    audit: Audit,
    ApiJson(req): ApiJson<ForgotPasswordRequest>,
) -> (StatusCode, Json<ForgotPasswordAnswer>) {
    let login = req.username;
    // Nothing that depends on the account runs before the answer.
    if login.chars().count() <= MAX_LOGIN_CHARS && !login.chars().any(char::is_control) {
        tokio::spawn(async move {
            let found = match state.store.credentials_by_login(&login.to_lowercase()).await {
                Ok(found) => found,
                Err(err) => {
                    tracing::warn!(error = %err, "password reset request: could not look the account up");
                    return;
                }
            };
            let Some(credentials) = found else { return };
            let user = credentials.user;
            let queued = !user.disabled && state.mailer.send_reset(&user).await;
            tracing::info!(user_id = %user.id, queued, "password reset requested");
            audit.record(AuditType::PasswordResetRequested, None, Some(user.id), json!({ "mail_queued": queued })).await;
        });
    }
    let detail = "If the account exists and has an email address, a reset link is on its way.";
    (StatusCode::ACCEPTED, Json(ForgotPasswordAnswer { detail }))
}

/// Sets a new password with the token from the reset mail; every session of the account is
/// revoked. A second factor, when set up, stays on.
#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "recovery", request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password changed; every session revoked"),
        (status = 401, description = "`invalid_token`: unknown, expired (30 minutes), already used, or replaced by a newer reset link",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `new_password` breaks the password rules; the token stays usable",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn reset_password(State(state): State<AppState>, audit: Audit, ApiJson(req): ApiJson<ResetPasswordRequest>) -> Result<StatusCode> {
    let token_hash = hash_token(&req.token);
    let account =
        state.store.email_token_user(TokenPurpose::ResetPassword, &token_hash).await?.ok_or(ApiError::InvalidToken { sent: true })?;
    let known: Vec<&str> = [Some(account.username.as_str()), account.email.as_deref()].into_iter().flatten().collect();
    let password = state.policy.parse(&req.new_password, &known).map_err(|m| ApiError::validation("new_password", m))?;
    let hash = state.hasher.hash(password.expose()).await?;
    // Used up, the password set and every session revoked in one transaction.
    let user = state.store.reset_password(&token_hash, &hash).await?.ok_or(ApiError::InvalidToken { sent: true })?;
    // The owner proved control of the address: earlier failed logins no longer count.
    lockout::clear(&state, &user, None).await?;
    tracing::info!(user_id = %user.id, "password reset; every session revoked");
    audit.record(AuditType::PasswordReset, Some(user.id), Some(user.id), json!({ "sessions_revoked": true })).await;
    Ok(StatusCode::NO_CONTENT)
}
