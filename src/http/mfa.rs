//! The TOTP second factor: setup, confirmation, turning it off, the second step of a login,
//! and the admin reset.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{ApiJson, IdPath};
use super::{AccountUser, AdminUser, AuthUser};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::ClientInfo;
use crate::error::{Problem, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(confirm))
        .routes(routes!(disable))
        .routes(routes!(login_mfa))
        .routes(routes!(admin_reset))
}

/// Setup's answer: shown once, never again.
#[derive(Serialize, ToSchema)]
pub struct TotpSetup {
    /// The shared secret in base32 (RFC 4648, no padding), for typing into an app.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// `otpauth://totp/{issuer}:{username}?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`
    pub otpauth_uri: String,
    /// The URI as a QR code: an SVG document.
    pub qr_svg: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmTotpRequest {
    /// The current 6-digit code of the authenticator app.
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// 10 single-use codes, each standing in for a TOTP code once. Shown only now.
    #[schema(example = json!(["abcd-efgh-ijkl-mnop"]))]
    pub recovery_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct DisableTotpRequest {
    pub password: String,
    /// A current 6-digit code, or an unused recovery code (then used up).
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct MfaLoginRequest {
    /// The `mfa_token` of the `mfa_required` answer to POST /v1/auth/login.
    pub mfa_token: String,
    /// A current 6-digit code, or an unused recovery code (then used up).
    #[schema(example = "123456")]
    pub code: String,
}

/// Secrets must not be cached on the way (RFC 9111 `no-store`).
fn no_store<T: Serialize>(body: T) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, HeaderValue::from_static("no-store")), (header::PRAGMA, HeaderValue::from_static("no-cache"))], Json(body))
}

/// Starts TOTP setup: a new secret, pending until confirmed by a first code. Calling it
/// again replaces the pending secret.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/setup", tag = "mfa", security(("bearer" = [])),
    responses(
        (status = 200, description = "The pending secret, its otpauth URI and a QR code", body = TotpSetup),
        (status = 409, description = "`mfa_already_enabled`: TOTP is on; turn it off first", body = Problem, content_type = "application/problem+json"),
    ))]
async fn setup(State(state): State<AppState>, AccountUser { account, .. }: AccountUser) -> Result<impl IntoResponse> {
    let enrollment = state.accounts.start_totp(&account, &state.config.totp_issuer).await?;
    Ok(no_store(TotpSetup { secret: enrollment.secret, otpauth_uri: enrollment.otpauth_uri, qr_svg: enrollment.qr_svg }))
}

/// Turns TOTP on with a first code of the pending secret, and hands out 10 recovery codes.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])), request_body = ConfirmTotpRequest,
    responses(
        (status = 200, description = "TOTP is on; the recovery codes, shown only now", body = RecoveryCodes),
        (status = 409, description = "`mfa_setup_required`: no setup to confirm; `mfa_already_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `code`: not the current code (it counts toward the account's lockout)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many failures on this account; `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn confirm(
    State(state): State<AppState>,
    AccountUser { account, .. }: AccountUser,
    audit: Audit,
    ApiJson(req): ApiJson<ConfirmTotpRequest>,
) -> Result<impl IntoResponse> {
    let codes = state.accounts.confirm_totp(&audit, &account, &req.code).await?;
    Ok(no_store(RecoveryCodes { recovery_codes: codes }))
}

/// Turns TOTP off; needs the password and a current code (or a recovery code).
#[utoipa::path(delete, path = "/v1/auth/mfa/totp", tag = "mfa", security(("bearer" = [])), request_body = DisableTotpRequest,
    responses(
        (status = 204, description = "TOTP is off; its secret and recovery codes are gone"),
        (status = 409, description = "`mfa_not_enabled`: TOTP is not on", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `password` or `code`: wrong (it counts toward the account's lockout)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many failures on this account; `Retry-After` gives the seconds to wait",
            body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn disable(
    State(state): State<AppState>,
    user: AuthUser,
    audit: Audit,
    ApiJson(req): ApiJson<DisableTotpRequest>,
) -> Result<StatusCode> {
    state.accounts.disable_totp(&audit, user.user_id, &req.password, &req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The second step of a login with TOTP on: the `mfa_token` of `mfa_required` and a code.
#[utoipa::path(post, path = "/v1/auth/login/mfa", tag = "auth", request_body = MfaLoginRequest,
    responses(
        (status = 200, description = "Logged in", body = crate::auth::sessions::TokenPair),
        (status = 401, description = "`invalid_credentials`: a wrong or already used code (counted toward the account's lockout), \
or an mfa_token that is unknown, expired or used", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many failures on this account, or too many requests from this address; \
`Retry-After` gives the seconds to wait", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn login_mfa(
    State(state): State<AppState>,
    client: ClientInfo,
    audit: Audit,
    ApiJson(req): ApiJson<MfaLoginRequest>,
) -> Result<impl IntoResponse> {
    Ok(super::auth::token_response(state.accounts.login_mfa(&state.sessions, &audit, &req.mfa_token, &req.code, client).await?))
}

/// Turns a user's TOTP off, for a user who lost their authenticator and recovery codes
/// (admin only). Answers 204 whether or not it was on; audited when it was.
#[utoipa::path(delete, path = "/v1/users/{id}/mfa", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn admin_reset(State(state): State<AppState>, AdminUser(admin): AdminUser, audit: Audit, IdPath(id): IdPath) -> Result<StatusCode> {
    state.accounts.reset_mfa(&audit, Some(admin.user_id), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
