//! The caller's own account: whoami, email change, password change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::ApiJson;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::{AccountUser, AuthUser, Verdict, lockout};
use crate::domain::Email;
use crate::error::{ApiError, Result};
use crate::store::{AuditType, EmailChange, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, patch_me)).routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// A new address (at most 254 characters), or `null` to remove it; absent leaves it as it is.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254, example = "alice@example.com")]
    pub email: Option<Option<String>>,
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

/// Changes the caller's email address: a new address is unverified and gets a verification mail.
#[utoipa::path(patch, path = "/v1/auth/me", tag = "me", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated account", body = User),
        (status = 409, description = "`email_taken`", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn patch_me(
    State(state): State<AppState>,
    user: AuthUser,
    audit: Audit,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<Json<User>> {
    let changing = req.email.is_some();
    let updated = match req.email {
        None => state.store.user_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken { sent: true })?,
        Some(None) => state.store.set_email(user.user_id, EmailChange { email: None, email_key: None }).await?,
        Some(Some(raw)) => {
            let email = Email::parse(&raw).map_err(|m| ApiError::validation("email", m))?;
            let change = EmailChange { email: Some(email.as_str().to_string()), email_key: Some(email.key()) };
            state.store.set_email(user.user_id, change).await?
        }
    };
    if changing {
        audit.record(AuditType::EmailChanged, Some(user.user_id), Some(user.user_id), serde_json::json!({ "email": updated.email })).await;
        if !updated.email_verified {
            state.mailer.send_verification(&updated).await;
        }
    }
    Ok(Json(updated))
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
    // toward the lockout of the account's username, exactly as a login would.
    lockout::reserve(&state, &credentials.user.username).await?;
    let verdict = state.hasher.verify(&req.current_password, Some(&credentials.password_hash)).await?;
    if verdict == Verdict::Mismatch {
        return Err(ApiError::validation("current_password", "is not your current password"));
    }
    // The right password: the reservation above must not add up toward a lock.
    lockout::clear(&state, &credentials.user.username).await?;
    let account = &credentials.user;
    let known: Vec<&str> = [Some(account.username.as_str()), account.email.as_deref()].into_iter().flatten().collect();
    let password = state.policy.parse(&req.new_password, &known).map_err(|m| ApiError::validation("new_password", m))?;
    if req.new_password == req.current_password {
        return Err(ApiError::validation("new_password", "must differ from the current password"));
    }
    let hash = state.hasher.hash(password.expose()).await?;
    state.store.set_password_hash(user.user_id, &hash).await?;
    state.store.revoke_user_sessions(user.user_id, Some(user.session_id)).await?;
    tracing::info!(user_id = %user.user_id, "password changed; other sessions revoked");
    let detail = serde_json::json!({ "other_sessions_revoked": true });
    audit.record(AuditType::PasswordChanged, Some(user.user_id), Some(user.user_id), detail).await;
    Ok(StatusCode::NO_CONTENT)
}
