//! Passkeys over the API, for SPAs and mobile apps: each ceremony a `begin` (the options for
//! `navigator.credentials.create` / `get`, and a `ceremony_id`) and a `finish` (the
//! browser's answer as JSON, with that id). The caller's passkeys, and an admin's view.
//! 404 on every route while passkeys are off (GATEHOUSE_PASSKEYS, GATEHOUSE_PUBLIC_URL).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::extract::{ApiJson, IdPath};
use super::{AccountUser, AdminUser, AuthUser};
use crate::accounts::{Ceremony, read_credential};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::ClientInfo;
use crate::error::{ApiError, Problem, Result};
use crate::store::PasskeyRecord;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_own))
        .routes(routes!(begin_registration))
        .routes(routes!(finish_registration))
        .routes(routes!(rename, delete_own))
        .routes(routes!(begin_sign_in))
        .routes(routes!(finish_sign_in))
        .routes(routes!(begin_second_step))
        .routes(routes!(finish_second_step))
        .routes(routes!(admin_list))
        .routes(routes!(admin_delete))
}

/// A passkey as its owner and admins see it (never its key).
#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    /// `synced` (kept in a password manager or platform account, on several devices),
    /// `device` (bound to one device) or `security_key` (a USB, NFC or Bluetooth key).
    #[schema(example = "synced")]
    pub authenticator: String,
    /// Whether the authenticator may copy it to other devices, and whether it has.
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// The authenticator's signature counter at its last use (0 for most synced passkeys).
    pub sign_count: i64,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<PasskeyRecord> for PasskeyView {
    fn from(r: PasskeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            authenticator: r.authenticator,
            backup_eligible: r.backup_eligible,
            backup_state: r.backup_state,
            sign_count: r.sign_count,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    pub items: Vec<PasskeyView>,
}

/// A begun ceremony.
#[derive(Serialize, ToSchema)]
pub struct CeremonyView {
    /// Send it back with the answer, within 300 seconds.
    pub ceremony_id: Uuid,
    /// `{"publicKey": {...}}`, binary members in base64url: decode them and pass `publicKey`
    /// to `navigator.credentials.create` (registration) or `get` (sign-in).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

fn ceremony<T: Serialize>(c: Ceremony<T>) -> Result<impl IntoResponse> {
    let options = serde_json::to_value(c.options).map_err(anyhow::Error::from)?;
    Ok(super::auth::no_store_json(CeremonyView { ceremony_id: c.ceremony_id, options }))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordCheck {
    /// The account's password: adding or deleting a passkey needs it fresh.
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct FinishRegistration {
    pub ceremony_id: Uuid,
    /// 1 to 64 characters, to tell one passkey from another.
    #[schema(example = "Laptop", min_length = 1, max_length = 64)]
    pub name: String,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as JSON (its `toJSON()`:
    /// `id`, `rawId`, `type`, `response.clientDataJSON`, `response.attestationObject`,
    /// `response.transports`; binary members in base64url).
    #[schema(value_type = super::webauthn::RegistrationCredential, inline)]
    pub credential: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
pub struct Rename {
    #[schema(example = "Phone", min_length = 1, max_length = 64)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct FinishSignIn {
    pub ceremony_id: Uuid,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as JSON (`id`, `rawId`,
    /// `type`, `response.clientDataJSON`, `response.authenticatorData`, `response.signature`,
    /// `response.userHandle`; binary members in base64url).
    #[schema(value_type = super::webauthn::AuthenticationCredential, inline)]
    pub credential: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
pub struct BeginSecondStep {
    /// The `mfa_token` of the `mfa_required` answer to POST /v1/auth/login.
    pub mfa_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct FinishSecondStep {
    pub mfa_token: String,
    pub ceremony_id: Uuid,
    /// As for a passkey sign-in.
    #[schema(value_type = super::webauthn::AuthenticationCredential, inline)]
    pub credential: serde_json::Value,
}

/// The caller's passkeys, oldest first.
#[utoipa::path(get, path = "/v1/auth/passkeys", operation_id = "list_passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, description = "The caller's passkeys", body = PasskeyList)))]
async fn list_own(State(state): State<AppState>, user: AuthUser) -> Result<Json<PasskeyList>> {
    let items = state.accounts.passkeys(user.user_id).await?.into_iter().map(PasskeyView::from).collect();
    Ok(Json(PasskeyList { items }))
}

/// Begins adding a passkey to the caller's account; needs the password.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/begin", operation_id = "begin_passkey_registration", tag = "passkeys", security(("bearer" = [])), request_body = PasswordCheck,
    responses(
        (status = 200, description = "The options for `navigator.credentials.create`", body = CeremonyView),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `password` (it counts toward the account's lockout)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many failures on this account or requests from this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn begin_registration(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<PasswordCheck>,
) -> Result<impl IntoResponse> {
    ceremony(state.accounts.begin_passkey_registration(user.user_id, &req.password).await?)
}

/// Finishes adding a passkey: the authenticator's answer. Audited (`passkey.added`); the
/// account's verified address gets a notice.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/finish", operation_id = "finish_passkey_registration", tag = "passkeys", security(("bearer" = [])), request_body = FinishRegistration,
    responses(
        (status = 201, description = "The new passkey", body = PasskeyView),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`passkey_taken`: this credential is registered already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `name`, `ceremony_id` (unknown, expired or finished) or `credential` \
(not an answer to this ceremony: another origin, challenge or key)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn finish_registration(
    State(state): State<AppState>,
    AccountUser { account, .. }: AccountUser,
    audit: Audit,
    ApiJson(req): ApiJson<FinishRegistration>,
) -> Result<impl IntoResponse> {
    let credential = read_credential(req.credential)?;
    let record = state.accounts.finish_passkey_registration(&audit, &account, req.ceremony_id, &req.name, &credential).await?;
    Ok((StatusCode::CREATED, Json(PasskeyView::from(record))))
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/v1/auth/passkeys/{id}", operation_id = "rename_passkey", tag = "passkeys", security(("bearer" = [])), request_body = Rename,
    params(("id" = Uuid, Path, description = "Passkey id")),
    responses(
        (status = 204, description = "Renamed"),
        (status = 404, description = "`not_found`: the caller has no such passkey", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `name`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn rename(State(state): State<AppState>, user: AuthUser, IdPath(id): IdPath, ApiJson(req): ApiJson<Rename>) -> Result<StatusCode> {
    state.accounts.rename_passkey(user.user_id, id, &req.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one of the caller's passkeys; needs the password. Audited (`passkey.removed`);
/// the account's verified address gets a notice.
#[utoipa::path(delete, path = "/v1/auth/passkeys/{id}", operation_id = "delete_passkey", tag = "passkeys", security(("bearer" = [])), request_body = PasswordCheck,
    params(("id" = Uuid, Path, description = "Passkey id")),
    responses(
        (status = 204, description = "Deleted: it signs nobody in any more"),
        (status = 404, description = "`not_found`: the caller has no such passkey", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `password` (it counts toward the account's lockout)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many failures on this account or requests from this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_own(
    State(state): State<AppState>,
    user: AuthUser,
    audit: Audit,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<PasswordCheck>,
) -> Result<StatusCode> {
    state.accounts.delete_own_passkey(&audit, user.user_id, id, &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Begins a sign-in with a passkey: no name needed, the authenticator says whose it is.
#[utoipa::path(post, path = "/v1/auth/passkeys/login/begin", operation_id = "begin_passkey_login", tag = "passkeys",
    responses(
        (status = 200, description = "The options for `navigator.credentials.get` (add `mediation: \"conditional\"` for autofill)", body = CeremonyView),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many requests from this address", body = Problem, content_type = "application/problem+json"),
    ))]
async fn begin_sign_in(State(state): State<AppState>) -> Result<impl IntoResponse> {
    ceremony(state.accounts.begin_passkey_sign_in().await?)
}

/// Finishes a passkey sign-in. It counts as two factors: no TOTP step follows.
#[utoipa::path(post, path = "/v1/auth/passkeys/login/finish", operation_id = "finish_passkey_login", tag = "passkeys", request_body = FinishSignIn,
    responses(
        (status = 200, description = "Logged in", body = crate::auth::sessions::TokenPair),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: an unknown, expired or finished ceremony, an unknown or deleted passkey, \
an answer for another origin or challenge", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`; `email_unverified`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `credential`: not a credential in JSON", body = Problem, content_type = "application/problem+json"),
    ))]
async fn finish_sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    audit: Audit,
    ApiJson(req): ApiJson<FinishSignIn>,
) -> Result<impl IntoResponse> {
    let credential = read_credential(req.credential)?;
    let pair = state.accounts.finish_passkey_sign_in(&state.sessions, &audit, req.ceremony_id, &credential, client).await?;
    Ok(super::auth::token_response(pair))
}

/// Begins the second step of a password login with a passkey instead of a code.
#[utoipa::path(post, path = "/v1/auth/login/mfa/passkey/begin", operation_id = "begin_passkey_mfa", tag = "passkeys", request_body = BeginSecondStep,
    responses(
        (status = 200, description = "The options for `navigator.credentials.get`, naming the account's passkeys", body = CeremonyView),
        (status = 401, description = "`invalid_credentials`: the mfa_token is unknown, expired or used", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `mfa_token`: the account has no passkey", body = Problem, content_type = "application/problem+json"),
    ))]
async fn begin_second_step(State(state): State<AppState>, ApiJson(req): ApiJson<BeginSecondStep>) -> Result<impl IntoResponse> {
    ceremony(state.accounts.begin_passkey_second_step(&req.mfa_token).await?)
}

/// Finishes the second step with a passkey.
#[utoipa::path(post, path = "/v1/auth/login/mfa/passkey/finish", operation_id = "finish_passkey_mfa", tag = "passkeys", request_body = FinishSecondStep,
    responses(
        (status = 200, description = "Logged in", body = crate::auth::sessions::TokenPair),
        (status = 401, description = "`invalid_credentials`: a refused answer (counted toward the account's lockout), or an mfa_token \
or ceremony that is unknown, expired or used", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` on `credential`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many failures on this account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn finish_second_step(
    State(state): State<AppState>,
    client: ClientInfo,
    audit: Audit,
    ApiJson(req): ApiJson<FinishSecondStep>,
) -> Result<impl IntoResponse> {
    let credential = read_credential(req.credential)?;
    let pair =
        state.accounts.finish_passkey_second_step(&state.sessions, &audit, &req.mfa_token, req.ceremony_id, &credential, client).await?;
    Ok(super::auth::token_response(pair))
}

/// A user's passkeys (admin only).
#[utoipa::path(get, path = "/v1/users/{id}/passkeys", operation_id = "list_user_passkeys", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user's passkeys", body = PasskeyList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn admin_list(State(state): State<AppState>, _admin: AdminUser, IdPath(id): IdPath) -> Result<Json<PasskeyList>> {
    state.store.user_by_id(id).await?.ok_or(ApiError::NotFound)?;
    let items = state.accounts.passkeys(id).await?.into_iter().map(PasskeyView::from).collect();
    Ok(Json(PasskeyList { items }))
}

/// Removes a user's passkey (admin only). Audited; the user's verified address gets a notice.
#[utoipa::path(delete, path = "/v1/users/{id}/passkeys/{passkey_id}", operation_id = "delete_user_passkey", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"), ("passkey_id" = Uuid, Path, description = "Passkey id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user or passkey", body = Problem, content_type = "application/problem+json"),
    ))]
async fn admin_delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    path: std::result::Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode> {
    let Path((user, passkey)) = path.map_err(|_| ApiError::NotFound)?;
    let parse = |raw: &str| super::schemas::parse_uuid(raw).ok_or(ApiError::NotFound);
    state.accounts.admin_delete_passkey(&audit, Some(admin.user_id), parse(&user)?, parse(&passkey)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
