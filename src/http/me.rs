//! The caller's own account: whoami, email change (behind the password and a second factor), password change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::ApiJson;
use super::{AccountUser, AuthUser};
use crate::accounts::EmailWish;
use crate::app::AppState;
use crate::audit::Audit;
use crate::domain::Email;
use crate::error::{ApiError, Result};
use crate::store::User;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, patch_me)).routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// A new address (at most 254 characters), or `null` to remove it (at once); absent leaves it as it is. A new
    /// address takes effect only once the link mailed to it is followed; until then it is
    /// `pending_email` and `email` stays. The current address cancels a pending change; the
    /// current or the pending address again mails nothing.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254, example = "alice@example.com")]
    pub email: Option<Option<String>>,
    /// The account's password; a wrong one counts toward the login lockout.
    pub current_password: String,
    /// Needed while TOTP is on: a current 6-digit code, or an unused recovery code (then used up).
    #[serde(default)]
    #[schema(example = "123456")]
    pub code: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 (GATEHOUSE_PASSWORD_MIN_LENGTH) to 128 characters, not easy to guess.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Who am I: the account behind the access token.
#[utoipa::path(get, path = "/v1/auth/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "The caller's account", body = User)))]
async fn get_me(AccountUser { account, .. }: AccountUser) -> Result<Json<User>> {
    Ok(Json(account))
}

/// Changes the caller's email address. Takes the password (and a TOTP or recovery code
/// while TOTP is on), so that an access token alone cannot move the account. A new address
/// becomes `pending_email` and gets a verification link; it replaces `email` only once that
/// link is followed (POST /v1/auth/email/verify), and a verified old address is told of the
/// change. `null` removes the address at once (the verified old address is told).
#[utoipa::path(patch, path = "/v1/auth/me", tag = "me", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The account, with the pending change in `pending_email`", body = User),
        (status = 409, description = "`email_taken`: another account has this address", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `email` (not a valid address), `current_password` (wrong) or `code` \
(missing or wrong while TOTP is on); a wrong password or code counts toward the login lockout",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many wrong passwords or codes for this account; the account already caused \
GATEHOUSE_VERIFY_MAILS_PER_HOUR (5) verification mails this hour; or too many requests from this address (GATEHOUSE_RATE_LIMIT_PER_IP). \
`Retry-After` gives the seconds to wait", body = crate::error::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn patch_me(
    State(state): State<AppState>,
    user: AuthUser,
    audit: Audit,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<Json<User>> {
    let wish = match req.email {
        None => EmailWish::Keep,
        Some(None) => EmailWish::Remove,
        Some(Some(raw)) => EmailWish::Change(Email::parse(&raw).map_err(|m| ApiError::validation("email", m))?),
    };
    let account = state.accounts.change_email(&audit, user.user_id, &req.current_password, req.code.as_deref(), wish).await?;
    Ok(Json(account))
}

/// Changes the caller's password and revokes every other session.
#[utoipa::path(post, path = "/v1/auth/password", tag = "me", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; other sessions revoked"),
        (status = 429, description = "`rate_limited`: too many wrong passwords for this account (a wrong `current_password` counts toward the login lockout)",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    audit: Audit,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode> {
    state.accounts.change_password(&audit, user.user_id, user.session_id, &req.current_password, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
