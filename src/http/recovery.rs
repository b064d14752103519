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
use crate::mail::{hash_token, verification_address};
use crate::store::{AuditType, Credentials, MailQuota, TokenPurpose};

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
    /// False when there was nothing to send: no pending address, and no address or a verified one.
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

/// Confirms an email address with the token from the verification mail. A link sent to a
/// pending address completes the change: that address becomes `email`, verified, and
/// `pending_email` is null.
#[utoipa::path(post, path = "/v1/auth/email/verify", tag = "recovery", request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "The address is verified (`email_verified` is true); a pending address is now the account's address"),
        (status = 401, description = "`invalid_token`: unknown, expired (24 hours), already used, or sent to an address the account no longer has (nor has pending)",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`: another account took the pending address since the change was asked; the link stays usable",
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

/// Sends a new verification mail: to the pending address when an address change waits,
/// else to the caller's unverified address. Older links for the same address keep working
/// until they expire.
#[utoipa::path(post, path = "/v1/auth/email/resend", tag = "recovery", security(("bearer" = [])),
    responses(
        (status = 202, description = "`queued: true`: a mail is on its way; `queued: false`: nothing to send (no pending address, and no address or a verified one)", body = ResendAnswer),
        (status = 429, description = "`rate_limited`: the account already caused GATEHOUSE_VERIFY_MAILS_PER_HOUR (5) verification mails this hour \
(address changes and resends count), or too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn resend_verification(
    State(state): State<AppState>,
    AccountUser { account: me, .. }: AccountUser,
) -> Result<(StatusCode, Json<ResendAnswer>)> {
    if verification_address(&me).is_none() {
        return Ok((StatusCode::ACCEPTED, Json(ResendAnswer { queued: false })));
    }
    reserve_verification_mail(&state, me.id).await?;
    let queued = state.mailer.send_verification(&me).await;
    Ok((StatusCode::ACCEPTED, Json(ResendAnswer { queued })))
}

/// Asks for a password reset link. The answer is the same, and as fast, whether or not the
/// account exists: the lookup and the mail happen after it is sent.
#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "recovery", request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted; a link (valid 30 minutes) goes to the account's verified address, or to its unverified one while it never \
verified any; never to a pending address. The same answer for unknown accounts.",
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
            let found = match state.store.credentials_by_login(&super::auth::login_key(&login)).await {
                Ok(found) => found,
                Err(err) => {
                    tracing::warn!(error = %err, "password reset request: could not look the account up");
                    return;
                }
            };
            let Some(credentials) = found else { return };
            let to = reset_address(&credentials).map(str::to_string);
            let user = credentials.user;
            let queued = match to {
                Some(to) if !user.disabled => state.mailer.send_reset(&user, &to).await,
                _ => false,
            };
            tracing::info!(user_id = %user.id, queued, "password reset requested");
            audit.record(AuditType::PasswordResetRequested, None, Some(user.id), json!({ "mail_queued": queued })).await;
        });
    }
    let detail = "If the account exists and has an email address, a reset link is on its way.";
    (StatusCode::ACCEPTED, Json(ForgotPasswordAnswer { detail }))
}

/// Where a reset link may go: the verified address; an unverified one only while the
/// account never verified any (an address an admin set, or a new account's); never the
/// pending address of a change, which proves nothing until its own link is followed.
fn reset_address(credentials: &Credentials) -> Option<&str> {
    let user = &credentials.user;
    user.email.as_deref().filter(|_| user.email_verified || !credentials.email_ever_verified)
}

/// Answers 429 `rate_limited` once the account caused GATEHOUSE_VERIFY_MAILS_PER_HOUR
/// verification mails in its current hour.
pub(super) async fn reserve_verification_mail(state: &AppState, user_id: uuid::Uuid) -> Result<()> {
    match state.mailer.reserve_verification(user_id).await? {
        MailQuota::Allowed => Ok(()),
        MailQuota::Spent { retry_after } => {
            tracing::warn!(%user_id, "verification mails refused: the hourly share of this account is spent");
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            Err(ApiError::RateLimited { retry_after_secs: secs.max(1) })
        }
    }
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
