//! Organizations and their members: `/v1/orgs`. Any member reads; owners and org admins
//! (and Gatehouse admins) change; a non-member gets 404. The rules are in
//! [`crate::accounts`]' org flows, which the pages and the command line share.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AccountUser;
use super::extract::{ApiJson, ApiQuery, IdPath};
use super::paging::paging;
use super::schemas::RoleName;
use crate::accounts::OrgActor;
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::{ApiError, FieldError, Problem, Result};
use crate::store::{Membership, Org};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, patch_org, delete_org))
        .routes(routes!(list_members))
        .routes(routes!(patch_member, delete_member))
}

/// The signed-in caller as an org actor.
pub(super) fn actor(caller: &AccountUser) -> OrgActor {
    OrgActor::User(caller.account.clone())
}

/// Two UUIDs in the path (`/v1/orgs/{id}/.../{other}`); anything else is not found.
pub(super) struct TwoIds(pub Uuid, pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for TwoIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((a, b)) = Path::<(String, String)>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        match (super::schemas::parse_uuid(&a), super::schemas::parse_uuid(&b)) {
            (Some(a), Some(b)) => Ok(TwoIds(a, b)),
            _ => Err(ApiError::NotFound),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgListParams {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1, example = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub per_page: Option<String>,
    /// `true` (admins only): every organization, not only the caller's.
    #[param(value_type = Option<bool>)]
    pub all: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrgList {
    pub items: Vec<Org>,
    #[schema(example = 1)]
    pub page: u32,
    #[schema(example = 20)]
    pub per_page: u32,
    #[schema(example = 1)]
    pub total: u64,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<Membership>,
    #[schema(example = 1)]
    pub page: u32,
    #[schema(example = 20)]
    pub per_page: u32,
    #[schema(example = 3)]
    pub total: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateOrgRequest {
    /// The org's unique handle: 2 to 63 of `a-z 0-9 -`, starting and ending with a letter or digit.
    #[schema(example = "acme", pattern = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")]
    pub slug: String,
    /// 1 to 100 characters, not only spaces, no control characters.
    #[schema(
        example = "Acme Corporation",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateOrgRequest {
    /// A new slug; absent or `null` keeps it.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")]
    pub slug: Option<String>,
    /// A new name; absent or `null` keeps it.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMemberRequest {
    /// The member's whole new set of org roles (at most 32); `member` is always added. Each is
    /// `owner`, `admin`, `member` or 1 to 32 of `a-z 0-9 _ -`.
    #[schema(value_type = Vec<RoleName>, example = json!(["member", "admin"]), max_items = 32)]
    pub roles: Vec<String>,
}

fn paged(page: Option<&str>, per_page: Option<&str>) -> Result<super::paging::Paging> {
    let mut errors = Vec::new();
    let paging = paging(page, per_page, &mut errors);
    if errors.is_empty() { Ok(paging) } else { Err(ApiError::Validation(errors)) }
}

/// Lists the caller's organizations, oldest membership first; an admin's `?all=true` lists every one.
#[utoipa::path(get, path = "/v1/orgs", tag = "organizations", security(("bearer" = [])), params(OrgListParams),
    responses(
        (status = 200, description = "One page of organizations", body = OrgList),
        (status = 403, description = "`forbidden`: `all=true` from a caller who is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a query parameter is malformed or out of range", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_orgs(State(state): State<AppState>, caller: AccountUser, ApiQuery(params): ApiQuery<OrgListParams>) -> Result<Json<OrgList>> {
    let paging = paged(params.page.as_deref(), params.per_page.as_deref())?;
    let all = match params.all.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::Validation(vec![FieldError::new("all", "must be true or false")])),
    };
    let (items, total) = if all {
        if !caller.account.is_admin() {
            return Err(ApiError::Forbidden);
        }
        let page = state.store.list_orgs(paging.page, paging.per_page).await?;
        (page.items, page.total)
    } else {
        let page = state.store.user_orgs(caller.account.id, paging.page, paging.per_page).await?;
        (page.items.into_iter().map(|m| m.org).collect(), page.total)
    };
    Ok(Json(OrgList { items, page: paging.page, per_page: paging.per_page, total }))
}

/// Creates an organization whose owner is the caller. Users with a verified address may,
/// while GATEHOUSE_ORGS_SELF_SERVICE is on (the default); admins always may.
#[utoipa::path(post, path = "/v1/orgs", tag = "organizations", security(("bearer" = [])), request_body = CreateOrgRequest,
    responses(
        (status = 201, description = "Created; the caller is its `owner`", body = Org, headers(("Location" = String, description = "/v1/orgs/{id}"))),
        (status = 403, description = "`email_unverified`: the caller's address is not verified; `forbidden`: self-service is off", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_org(
    State(state): State<AppState>,
    caller: AccountUser,
    audit: Audit,
    ApiJson(req): ApiJson<CreateOrgRequest>,
) -> Result<impl IntoResponse> {
    let org = state.accounts.create_org(&audit, &actor(&caller), caller.account.id, &req.slug, &req.name).await?;
    let location = HeaderValue::from_str(&format!("/v1/orgs/{}", org.id)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(org)))
}

/// Reads an organization (its members and Gatehouse admins).
#[utoipa::path(get, path = "/v1/orgs/{id}", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization", body = Org),
        (status = 404, description = "`not_found`: no such organization, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_org(State(state): State<AppState>, caller: AccountUser, IdPath(id): IdPath) -> Result<Json<Org>> {
    Ok(Json(state.accounts.org_access(&actor(&caller), id).await?.org))
}

/// Renames an organization or changes its slug (owners, org admins, Gatehouse admins).
#[utoipa::path(patch, path = "/v1/orgs/{id}", tag = "organizations", security(("bearer" = [])), request_body = UpdateOrgRequest,
    params(("id" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization as it now is", body = Org),
        (status = 403, description = "`forbidden`: a member who is neither owner nor admin of it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_org(
    State(state): State<AppState>,
    caller: AccountUser,
    audit: Audit,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateOrgRequest>,
) -> Result<Json<Org>> {
    Ok(Json(state.accounts.update_org(&audit, &actor(&caller), id, req.slug.as_deref(), req.name.as_deref()).await?))
}

/// Deletes an organization with its memberships and invitations (owners, org admins,
/// Gatehouse admins). Access tokens that carry it are refused from then on.
#[utoipa::path(delete, path = "/v1/orgs/{id}", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_org(State(state): State<AppState>, caller: AccountUser, audit: Audit, IdPath(id): IdPath) -> Result<StatusCode> {
    state.accounts.delete_org(&audit, &actor(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists an organization's members and their org roles, oldest membership first (members).
#[utoipa::path(get, path = "/v1/orgs/{id}/members", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id"), super::paging::PageParams),
    responses(
        (status = 200, description = "One page of members", body = MemberList),
        (status = 404, description = "`not_found`: no such organization, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_members(
    State(state): State<AppState>,
    caller: AccountUser,
    IdPath(id): IdPath,
    ApiQuery(params): ApiQuery<super::paging::PageParams>,
) -> Result<Json<MemberList>> {
    let paging = paged(params.page.as_deref(), params.per_page.as_deref())?;
    let page = state.accounts.org_members(&actor(&caller), id, paging.page, paging.per_page).await?;
    Ok(Json(MemberList { items: page.items, page: paging.page, per_page: paging.per_page, total: page.total }))
}

/// Replaces a member's org roles (owners and org admins; only owners grant or take `owner`).
#[utoipa::path(patch, path = "/v1/orgs/{id}/members/{user_id}", tag = "organizations", security(("bearer" = [])), request_body = UpdateMemberRequest,
    params(("id" = Uuid, Path, description = "Organization id"), ("user_id" = Uuid, Path, description = "The member's user id")),
    responses(
        (status = 200, description = "The membership as it now is", body = Membership),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such organization or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_owner`: the org's last owner cannot be demoted", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_member(
    State(state): State<AppState>,
    caller: AccountUser,
    audit: Audit,
    TwoIds(org_id, user_id): TwoIds,
    ApiJson(req): ApiJson<UpdateMemberRequest>,
) -> Result<Json<Membership>> {
    if req.roles.len() > 32 {
        return Err(ApiError::validation("roles", "must hold at most 32 roles"));
    }
    Ok(Json(state.accounts.set_org_member_roles(&audit, &actor(&caller), org_id, user_id, &req.roles).await?))
}

/// Removes a member (owners and org admins; only owners remove an owner), or lets the
/// caller leave. Their access tokens that carry the org are refused at once.
#[utoipa::path(delete, path = "/v1/orgs/{id}/members/{user_id}", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Organization id"), ("user_id" = Uuid, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_owner`: the org's last owner cannot leave", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_member(
    State(state): State<AppState>,
    caller: AccountUser,
    audit: Audit,
    TwoIds(org_id, user_id): TwoIds,
) -> Result<StatusCode> {
    state.accounts.remove_org_member(&audit, &actor(&caller), org_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
