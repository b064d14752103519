//! The caller's own account: whoami, email change (behind the password and a second factor), password change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::ApiJson;
use super::recovery::reserve_verification_mail;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::{AccountUser, AuthUser, Verdict, lockout, mfa};
use crate::domain::{Email, address_key};
use crate::error::{ApiError, Conflict, FieldError, Result};
use crate::store::{AuditType, Credentials, EmailChange, User};

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
    let wanted = match req.email {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => Some(Some(Email::parse(&raw).map_err(|m| ApiError::validation("email", m))?)),
    };
    let credentials = state.store.credentials_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken { sent: true })?;
    confirm_identity(&state, &credentials, &req.current_password, req.code.as_deref()).await?;
    let account = credentials.user;
    Ok(Json(match wanted {
        None => account,
        Some(None) => remove_email(&state, &audit, account).await?,
        Some(Some(email)) => request_change(&state, &audit, account, email).await?,
    }))
}

/// The password and, while TOTP is on, a code: what a stolen access token does not carry.
/// Each check counts toward the account's login lockout until both passed.
async fn confirm_identity(state: &AppState, credentials: &Credentials, password: &str, code: Option<&str>) -> Result<()> {
    lockout::reserve_account(state, credentials.user.id).await?;
    if state.hasher.verify(password, Some(&credentials.password_hash)).await? == Verdict::Mismatch {
        return Err(ApiError::validation("current_password", "is not your current password"));
    }
    if credentials.user.mfa_enabled {
        let Some(code) = code else {
            return Err(ApiError::validation("code", "is required while two-factor authentication is on"));
        };
        if mfa::verify_code(state, credentials.user.id, code).await?.is_none() {
            return Err(ApiError::validation("code", "is not a current code or an unused recovery code"));
        }
    }
    lockout::clear(state, &credentials.user, None).await
}

async fn remove_email(state: &AppState, audit: &Audit, account: User) -> Result<User> {
    if account.email.is_none() && account.pending_email.is_none() {
        return Ok(account);
    }
    let updated = state.store.set_email(account.id, EmailChange { email: None, email_key: None }).await?;
    audit.record(AuditType::EmailChanged, Some(account.id), Some(account.id), json!({ "email": null })).await;
    if let Some(old) = account.email.as_deref().filter(|_| account.email_verified) {
        let change = "The email address of your account was removed; this address no longer receives the account's mail.";
        state.mailer.send_change_notice(&account, old, change).await;
    }
    Ok(updated)
}

/// A new address waits as `pending_email` for its link. Asking again for the address the
/// account has, or the one already pending, mails nothing.
async fn request_change(state: &AppState, audit: &Audit, account: User, email: Email) -> Result<User> {
    let key = email.key();
    if account.email.as_deref().map(address_key).as_ref() == Some(&key) {
        // The address the account has: a pending change is called off.
        if account.pending_email.is_none() {
            return Ok(account);
        }
        return Ok(state.store.set_pending_email(account.id, None).await?);
    }
    if account.pending_email.as_deref().map(address_key).as_ref() == Some(&key) {
        return Ok(account);
    }
    // Checked again, by the unique key, when the link is followed: a pending address
    // reserves nothing, so nobody can hold an address they do not control.
    if state.store.credentials_by_login(&key).await?.is_some_and(|other| other.user.id != account.id) {
        return Err(ApiError::Conflict(Conflict::EmailTaken));
    }
    reserve_verification_mail(state, account.id).await?;
    let change = EmailChange { email: Some(email.as_str().to_string()), email_key: Some(key) };
    let updated = state.store.set_pending_email(account.id, Some(change)).await?;
    state.mailer.send_verification(&updated).await;
    if let Some(old) = account.email.as_deref().filter(|_| account.email_verified) {
        let change = format!(
            "Someone signed in to your account asked to change its email address to {}. The change takes effect only once the link \
             mailed to that address is followed; until then, this address stays the account's address.",
            email.as_str()
        );
        state.mailer.send_change_notice(&updated, old, &change).await;
    }
    audit.record(AuditType::EmailChanged, Some(account.id), Some(account.id), json!({ "pending_email": email.as_str() })).await;
    Ok(updated)
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
    let credentials = state.store.credentials_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken { sent: true })?;
    // A stolen access token must not become an unlimited password oracle: the check counts
    // toward the account's lockout, exactly as a login would.
    lockout::reserve_account(&state, user.user_id).await?;
    let verdict = state.hasher.verify(&req.current_password, Some(&credentials.password_hash)).await?;
    if verdict != Verdict::Mismatch {
        // The right password: the reservation above must not add up toward a lock.
        lockout::clear(&state, &credentials.user, None).await?;
    }
    let account = &credentials.user;
    let known: Vec<&str> = [Some(account.username.as_str()), account.email.as_deref()].into_iter().flatten().collect();
    // Both fields are judged before answering, so that one 422 names every mistake.
    let mut errors = Vec::new();
    if verdict == Verdict::Mismatch {
        errors.push(FieldError::new("current_password", "is not your current password"));
    }
    let password = state.policy.parse(&req.new_password, &known).map_err(|m| errors.push(FieldError::new("new_password", m))).ok();
    if password.is_some() && verdict != Verdict::Mismatch && req.new_password == req.current_password {
        errors.push(FieldError::new("new_password", "must differ from the current password"));
    }
    let Some(password) = password.filter(|_| errors.is_empty()) else { return Err(ApiError::Validation(errors)) };
    let hash = state.hasher.hash(password.expose()).await?;
    state.store.set_password_hash(user.user_id, &hash).await?;
    state.store.revoke_user_sessions(user.user_id, Some(user.session_id)).await?;
    tracing::info!(user_id = %user.user_id, "password changed; other sessions revoked");
    let detail = serde_json::json!({ "other_sessions_revoked": true });
    audit.record(AuditType::PasswordChanged, Some(user.user_id), Some(user.user_id), detail).await;
    Ok(StatusCode::NO_CONTENT)
}
