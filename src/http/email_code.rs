//! Sign-in by email code: ask for a code, spend it; and the re-check code of a
//! passwordless account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AuthUser;
use super::auth::token_response;
use super::extract::ApiJson;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::{ClientInfo, TokenPair};
use crate::error::{Problem, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_code)).routes(routes!(verify_code)).routes(routes!(request_reauth_code))
}

#[derive(Deserialize, ToSchema)]
pub struct EmailCodeRequest {
    /// The address to sign in with.
    #[schema(example = "alice@example.com", format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailCodeChallenge {
    /// Names the code: send it back with the code to POST /v1/auth/email-code/verify.
    pub challenge_id: Uuid,
}

#[derive(Deserialize, ToSchema)]
pub struct EmailCodeVerifyRequest {
    pub challenge_id: String,
    /// The code from the mail (`ABCDE-FGHJK`), in any case, with or without the dash.
    #[schema(example = "ACDEF-GHJKM")]
    pub code: String,
}

/// Mails a one-time sign-in code. The answer is the same, and as fast, for every address:
/// the lookup and the mail happen after it is sent.
#[utoipa::path(post, path = "/v1/auth/email-code", tag = "auth", request_body = EmailCodeRequest,
    responses(
        (status = 202, description = "Accepted, for every address. A code (10 minutes, single use, 5 wrong tries) and a link to /login/email \
go to an account whose address this is, verified; with GATEHOUSE_EMAIL_CODE_SIGNUP, to an address no account holds (the code then makes a \
passwordless account). An address an account holds unverified, or past GATEHOUSE_EMAIL_CODE_PER_HOUR (5) codes this hour, gets none.",
            body = EmailCodeChallenge),
        (status = 404, description = "`not_found`: sign-in by email code is off (GATEHOUSE_EMAIL_CODE=off)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `email`: not an address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP); `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn request_code(
    State(state): State<AppState>,
    audit: Audit,
    ApiJson(req): ApiJson<EmailCodeRequest>,
) -> Result<(StatusCode, Json<EmailCodeChallenge>)> {
    let challenge_id = state.accounts.request_email_code(audit, &req.email)?;
    Ok((StatusCode::ACCEPTED, Json(EmailCodeChallenge { challenge_id })))
}

/// Spends a code: answers exactly as POST /v1/auth/login does. The session's `amr` is
/// `["mca"]` (RFC 8176 multiple-channel authentication), and `["mca", "otp", "mfa"]` after
/// the TOTP step.
#[utoipa::path(post, path = "/v1/auth/email-code/verify", tag = "auth", request_body = EmailCodeVerifyRequest,
    responses(
        (status = 200, description = "Signed in (for a sign-up code, into the new passwordless account)", body = TokenPair),
        (status = 401, description = "`invalid_credentials`: unknown challenge, wrong, expired (10 minutes), used or ended (5 wrong codes) code, one answer for all. \
`mfa_required`: TOTP is on; the problem carries `mfa_token` for POST /v1/auth/login/mfa", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`, after a right code", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: sign-in by email code is off", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: the address or account is locked after GATEHOUSE_LOGIN_MAX_FAILURES failures (codes and passwords count alike), \
or too many requests from this address; `Retry-After` gives the seconds to wait", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn verify_code(
    State(state): State<AppState>,
    client: ClientInfo,
    audit: Audit,
    ApiJson(req): ApiJson<EmailCodeVerifyRequest>,
) -> Result<impl IntoResponse> {
    let pair = state.accounts.sign_in_with_email_code(&state.sessions, &audit, &req.challenge_id, &req.code, client).await?;
    Ok(token_response(pair))
}

/// Mails a passwordless account a code that stands in for its password once, in the next
/// 10 minutes, wherever a password is asked for (`current_password` of a password or email
/// change, `password` of TOTP and passkey changes).
#[utoipa::path(post, path = "/v1/auth/email-code/reauth", tag = "me", security(("bearer" = [])),
    responses(
        (status = 202, description = "The code is on its way to the account's verified address", body = EmailCodeChallenge),
        (status = 403, description = "`email_unverified`: the account has no verified address", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `password`: the account has a password, which its re-checks take", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: GATEHOUSE_EMAIL_CODE_PER_HOUR codes went to this account this hour, or too many requests from this address",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn request_reauth_code(
    State(state): State<AppState>,
    user: AuthUser,
    audit: Audit,
) -> Result<(StatusCode, Json<EmailCodeChallenge>)> {
    let challenge_id = state.accounts.request_reauth_code(&audit, user.user_id).await?;
    Ok((StatusCode::ACCEPTED, Json(EmailCodeChallenge { challenge_id })))
}
