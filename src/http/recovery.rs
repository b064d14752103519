//! Email verification and password reset: the routes behind the links in the mails that
//! [`crate::mail::Mailer`] queues.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AccountUser;
use super::extract::ApiJson;
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::{Problem, Result};
use crate::mail::verification_address;

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
    state.accounts.verify_email(&audit, &req.token).await?;
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
    state.accounts.reserve_verification_mail(me.id).await?;
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
    state.accounts.request_password_reset(audit, req.username);
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
    state.accounts.reset_password(&audit, &req.token, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
