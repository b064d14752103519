//! Invitations to an organization, their acceptance, and the session's active org
//! (`PUT /v1/auth/session/org`), which the session's access tokens then carry.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header::CACHE_CONTROL};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AccountUser;
use super::extract::{ApiJson, ApiQuery, IdPath};
use super::orgs::{TwoIds, actor};
use super::paging::PageParams;
use super::schemas::RoleName;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::reissue;
use crate::domain::org::OrgClaim;
use crate::error::{ApiError, Problem, Result};
use crate::store::{Invitation, Membership, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(set_session_org))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateInvitationRequest {
    /// The address invited; only an account holding it, verified, can accept.
    #[schema(format = Email, example = "bob@example.com", max_length = 254)]
    pub email: String,
    /// The org roles the invitee gets (`member` is always added; only owners invite owners).
    #[serde(default)]
    #[schema(value_type = Vec<RoleName>, example = json!(["member"]), max_items = 32)]
    pub roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    pub items: Vec<Invitation>,
    #[schema(example = 1)]
    pub page: u32,
    #[schema(example = 20)]
    pub per_page: u32,
    #[schema(example = 1)]
    pub total: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    /// The token of the mailed link (`/invitations/accept?token=...`).
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SessionOrgRequest {
    /// The org to make active (the caller must be a member), or `null` for none.
    #[schema(value_type = Option<String>, format = Uuid,
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub org_id: Option<Uuid>,
}

/// The answer to a change of the active org: a new access token, as a refresh answers,
/// but the session's refresh token is unchanged (and so not repeated).
#[derive(Serialize, ToSchema)]
pub struct SessionOrgAnswer {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Seconds left in the session's absolute lifetime.
    pub refresh_expires_in: i64,
    pub user: User,
    /// The active org the token carries; `null` without one.
    pub org: Option<OrgClaim>,
}

/// Invites an address to the organization and mails it a link to /invitations/accept
/// (owners and org admins; only owners invite owners). The link works once, for 7 days; a
/// pending invitation of the same address is replaced.
#[utoipa::path(post, path = "/v1/orgs/{id}/invitations", tag = "organizations", security(("bearer" = [])), request_body = CreateInvitationRequest,
    params(("id" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 201, description = "Invited; the mail is queued", body = Invitation),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_member`: an account with this address is a member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_invitation(
    State(state): State<AppState>,
    caller: AccountUser,
    audit: Audit,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<CreateInvitationRequest>,
) -> Result<(StatusCode, Json<Invitation>)> {
    if req.roles.len() > 32 {
        return Err(ApiError::validation("roles", "must hold at most 32 roles"));
    }
    let invitation = state.accounts.invite(&audit, &actor(&caller), id, &req.email, &req.roles).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// Lists the organization's invitations, newest first, with their status (owners and org admins).
#[utoipa::path(get, path = "/v1/orgs/{id}/invitations", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id"), PageParams),
    responses(
        (status = 200, description = "One page of invitations", body = InvitationList),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_invitations(
    State(state): State<AppState>,
    caller: AccountUser,
    IdPath(id): IdPath,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<InvitationList>> {
    let mut errors = Vec::new();
    let paging = params.parse(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let page = state.accounts.org_invitations(&actor(&caller), id, paging.page, paging.per_page).await?;
    Ok(Json(InvitationList { items: page.items, page: paging.page, per_page: paging.per_page, total: page.total }))
}

/// Revokes a pending invitation: its link stops working (owners and org admins).
#[utoipa::path(delete, path = "/v1/orgs/{id}/invitations/{invitation_id}", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id"), ("invitation_id" = Uuid, Path, description = "Invitation id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such pending invitation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_invitation(
    State(state): State<AppState>,
    caller: AccountUser,
    audit: Audit,
    TwoIds(org_id, id): TwoIds,
) -> Result<StatusCode> {
    state.accounts.revoke_invitation(&audit, &actor(&caller), org_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation: the caller must hold the invited address, verified.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "organizations", security(("bearer" = [])), request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "The caller's new membership", body = Membership),
        (status = 403, description = "`email_unverified`: the caller's invited address is not verified yet; `invitation_not_for_you`: it was sent to another address", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the invitation is unknown, used, revoked or expired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_member`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn accept_invitation(
    State(state): State<AppState>,
    caller: AccountUser,
    audit: Audit,
    ApiJson(req): ApiJson<AcceptInvitationRequest>,
) -> Result<Json<Membership>> {
    Ok(Json(state.accounts.accept_invitation(&audit, &caller.account, &req.token).await?))
}

/// Makes an organization the session's active org (or none, with `null`): the answer is
/// like a refresh's, a new access token that carries `org: {id, slug, roles}`, while the
/// session's refresh token stays as it is. Tokens that name the org are refused once the
/// caller leaves it or it is deleted; the next refresh then carries no org.
#[utoipa::path(put, path = "/v1/auth/session/org", tag = "organizations", security(("bearer" = [])), request_body = SessionOrgRequest,
    responses(
        (status = 200, description = "A new access token for the session", body = SessionOrgAnswer),
        (status = 404, description = "`not_found`: no such organization, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_session_org(
    State(state): State<AppState>,
    caller: AccountUser,
    ApiJson(req): ApiJson<SessionOrgRequest>,
) -> Result<impl IntoResponse> {
    let (session_end, org) =
        state.store.set_session_org(caller.auth.session_id, caller.account.id, req.org_id).await?.ok_or(ApiError::NotFound)?;
    let pair = reissue(&state.sessions, caller.account, caller.auth.session_id, session_end, org.as_ref())?;
    let answer = SessionOrgAnswer {
        access_token: pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_expires_in: pair.refresh_expires_in,
        user: pair.user,
        org,
    };
    Ok(([(CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(answer)))
}
