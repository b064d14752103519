//! People's identities at upstream providers: their own (/v1/auth/identities) and any
//! user's (admin, /v1/users/{id}/identities). Removing the last way to sign in is 409
//! `last_sign_in_method`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::IdPath;
use super::{AdminUser, AuthUser};
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::{ApiError, Problem, Result};
use crate::store::Identity;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_own)).routes(routes!(delete_own)).routes(routes!(admin_list)).routes(routes!(admin_delete))
}

#[derive(Serialize, ToSchema)]
pub struct IdentityList {
    pub items: Vec<Identity>,
}

/// The caller's linked identities, oldest first.
#[utoipa::path(get, path = "/v1/auth/identities", operation_id = "list_identities", tag = "providers", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's identities", body = IdentityList),
        (status = 401, description = "`invalid_token`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_own(State(state): State<AppState>, caller: AuthUser) -> Result<Json<IdentityList>> {
    Ok(Json(IdentityList { items: state.store.identities_of(caller.user_id).await? }))
}

/// Unlinks one of the caller's identities.
#[utoipa::path(delete, path = "/v1/auth/identities/{id}", operation_id = "delete_identity", tag = "providers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Identity id")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, description = "`invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such identity of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_sign_in_method`: nothing else would sign the account in (no password, passkey or other identity)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_own(State(state): State<AppState>, caller: AuthUser, audit: Audit, IdPath(id): IdPath) -> Result<StatusCode> {
    state.upstream.unlink(&audit, Some(caller.user_id), caller.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's identities (admin only).
#[utoipa::path(get, path = "/v1/users/{id}/identities", operation_id = "list_user_identities", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user's identities", body = IdentityList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn admin_list(State(state): State<AppState>, _admin: AdminUser, IdPath(id): IdPath) -> Result<Json<IdentityList>> {
    state.store.user_by_id(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(IdentityList { items: state.store.identities_of(id).await? }))
}

/// Unlinks a user's identity (admin only).
#[utoipa::path(delete, path = "/v1/users/{id}/identities/{identity_id}", operation_id = "delete_user_identity", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"), ("identity_id" = Uuid, Path, description = "Identity id")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user or identity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_sign_in_method`: it is the account's last way to sign in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn admin_delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    path: std::result::Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode> {
    let Path((user, identity)) = path.map_err(|_| ApiError::NotFound)?;
    let parse = |raw: &str| super::schemas::parse_uuid(raw).ok_or(ApiError::NotFound);
    state.upstream.unlink(&audit, Some(admin.user_id), parse(&user)?, parse(&identity)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
