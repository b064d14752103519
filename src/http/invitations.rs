//! Invitations to sign up (admin only): made with a mailed link, listed, revoked. The
//! link's token is never answered; `POST /v1/auth/register` with `invitation` takes it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AdminUser;
use super::extract::{ApiJson, IdPath};
use super::schemas::RoleName;
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::{Problem, Result};
use crate::store::SignUpInvitation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(invite, list_invitations)).routes(routes!(revoke_sign_up_invitation))
}

#[derive(Deserialize, ToSchema)]
pub struct SignUpInviteRequest {
    /// The address to invite; no account may hold it.
    #[schema(example = "bob@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// Roles the account gets besides `user`.
    #[serde(default)]
    #[schema(value_type = Vec<RoleName>, max_items = 32)]
    pub roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignUpInvitationList {
    /// The 100 newest, newest first.
    pub items: Vec<SignUpInvitation>,
}

/// Invites an address to sign up (admin only): mails a link to /register?invitation=T that
/// works once for 7 days and makes the account with this address, verified, and these
/// roles. Works in every GATEHOUSE_REGISTRATION mode; with `invite` it is the only way in.
#[utoipa::path(post, path = "/v1/users/invitations", tag = "admin", security(("bearer" = [])), request_body = SignUpInviteRequest,
    responses(
        (status = 201, description = "The invitation (never its token)", body = SignUpInvitation),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`: an account already holds the address", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the address or a role breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
async fn invite(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    ApiJson(req): ApiJson<SignUpInviteRequest>,
) -> Result<(StatusCode, Json<SignUpInvitation>)> {
    let roles: Vec<String> = super::users::parse_roles(&req.roles)?.into_iter().map(|r| r.as_str().to_string()).collect();
    let invitation = state.accounts.invite_to_sign_up(&audit, Some(admin.user_id), &req.email, &roles).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// Lists invitations, newest first, with their status (admin only).
#[utoipa::path(get, path = "/v1/users/invitations", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "The 100 newest invitations", body = SignUpInvitationList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_invitations(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<SignUpInvitationList>> {
    Ok(Json(SignUpInvitationList { items: state.store.sign_up_invitations().await? }))
}

/// Revokes a pending invitation: its link stops working (admin only).
#[utoipa::path(delete, path = "/v1/users/invitations/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "SignUpInvitation id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no pending invitation has this id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_sign_up_invitation(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    IdPath(id): IdPath,
) -> Result<StatusCode> {
    state.accounts.revoke_sign_up_invitation(&audit, Some(admin.user_id), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
