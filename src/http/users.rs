//! Admin user management: list, read, change (roles, disabled, email) and delete users.
//! Every route takes an [`AdminUser`], whose role is read from the database per request.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AdminUser;
use super::extract::{ApiJson, ApiQuery, IdPath};
use super::me::present;
use super::paging::paging;
use super::schemas::RoleName;
use crate::accounts::{Registration, Via};
use crate::app::AppState;
use crate::audit::Audit;
use crate::domain::{Email, Role, normalize_roles};
use crate::error::{ApiError, FieldError, Problem, Result};
use crate::store::{EmailChange, User, UserPatch, UserQuery};

/// Longest `q` accepted: no username or email is longer.
const MAX_Q_CHARS: usize = 254;
/// Most roles one user may hold.
const MAX_ROLES: usize = 32;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users, create_user)).routes(routes!(get_user, patch_user, delete_user))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Page number, from 1 (default 1) to 2147483647; a page past the end answers 200 with no items.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2147483647, example = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub per_page: Option<String>,
    /// Substring of the username or email, case ignored; `%` and `_` match literally. At most
    /// 254 characters, no control characters; empty means no filter.
    #[param(value_type = Option<String>, max_length = 254, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", example = "ali")]
    pub q: Option<String>,
    /// Only users holding this role.
    #[param(value_type = Option<RoleName>, inline)]
    pub role: Option<String>,
}

impl UserListParams {
    pub(crate) fn parse(self) -> Result<UserQuery> {
        let mut errors = Vec::new();
        let paging = paging(self.page.as_deref(), self.per_page.as_deref(), &mut errors);
        let q = self.q.filter(|q| !q.is_empty());
        if q.as_ref().is_some_and(|q| q.chars().count() > MAX_Q_CHARS) {
            errors.push(FieldError::new("q", format!("must be at most {MAX_Q_CHARS} characters long")));
        } else if q.as_ref().is_some_and(|q| q.chars().any(char::is_control)) {
            // No username or email holds one; PostgreSQL text cannot even hold NUL.
            errors.push(FieldError::new("q", "must not contain control characters"));
        }
        let role = self.role.map(|r| Role::parse(&r).map(|r| r.as_str().to_string()));
        let role = match role {
            Some(Err(message)) => {
                errors.push(FieldError::new("role", message));
                None
            }
            Some(Ok(role)) => Some(role),
            None => None,
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(UserQuery { page: paging.page, per_page: paging.per_page, q: q.map(|q| q.to_lowercase()), role })
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<User>,
    #[schema(example = 1)]
    pub page: u32,
    #[schema(example = 20)]
    pub per_page: u32,
    /// Users matching the filters, over all pages. Exact below 10,000; a larger total is
    /// counted at most every 5 seconds per server, so it may lag recent sign-ups and deletions.
    #[schema(example = 42)]
    pub total: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    /// The whole new set of roles, at most 32; `user` is always added. Each is `admin`, `user`
    /// or 1 to 32 of `a-z 0-9 _ -`. 409 `last_admin` when it would leave no enabled admin.
    #[serde(default)]
    #[schema(value_type = Option<Vec<RoleName>>, inline, max_items = 32, example = json!(["user", "admin"]))]
    pub roles: Option<Vec<String>>,
    /// `true` disables the account and revokes all its sessions at once; 409 `last_admin`
    /// when it would leave no enabled admin.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new address (at most 254 characters), or `null` to remove it; absent leaves it as it is.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254, example = "alice@example.com")]
    pub email: Option<Option<String>>,
}

impl UpdateUserRequest {
    fn parse(self) -> Result<UserPatch> {
        let mut errors = Vec::new();
        let roles = self.roles.map(|raw| {
            if raw.len() > MAX_ROLES {
                errors.push(FieldError::new("roles", format!("must hold at most {MAX_ROLES} roles")));
            }
            let parsed: Vec<Role> = raw
                .iter()
                .enumerate()
                .filter_map(|(i, r)| Role::parse(r).map_err(|m| errors.push(FieldError::new(format!("roles[{i}]"), m))).ok())
                .collect();
            normalize_roles(parsed).into_iter().map(|r| r.as_str().to_string()).collect()
        });
        let email = match self.email {
            None => None,
            Some(None) => Some(EmailChange { email: None }),
            Some(Some(raw)) => match Email::parse(&raw) {
                Ok(email) => Some(EmailChange { email: Some(email) }),
                Err(message) => {
                    errors.push(FieldError::new("email", message));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(UserPatch { roles, disabled: self.disabled, email })
    }
}

/// Lists users, oldest first, with optional `q` and `role` filters (admin only).
///
/// Pages past the 10,000th user start from a position the server remembers for 5 seconds
/// (the user at each multiple of 10,000), so a deep page costs what a shallow one does; users
/// deleted in those seconds before that position shift such a page by as many rows.
#[utoipa::path(get, path = "/v1/users", tag = "admin", security(("bearer" = [])), params(UserListParams),
    responses(
        (status = 200, description = "One page of users, oldest first", body = UserList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a query parameter is malformed or out of range", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(params): ApiQuery<UserListParams>,
) -> Result<Json<UserList>> {
    let query = params.parse()?;
    let page = state.store.list_users(&query).await?;
    Ok(Json(UserList { items: page.items, page: query.page, per_page: query.per_page, total: page.total }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUserRequest {
    /// 3 to 32 of `A-Z a-z 0-9 _ . -`, unique without regard to case.
    #[schema(example = "bob", min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    /// Optional; unique without regard to case. Unverified: a verification link is mailed.
    #[serde(default)]
    #[schema(example = "bob@example.com", format = Email, max_length = 254)]
    pub email: Option<String>,
    /// The first password, by the same rules as sign-up.
    #[schema(example = "correct horse battery staple", min_length = 8, max_length = 128)]
    pub password: String,
    /// Roles besides `user`, which every account holds.
    #[serde(default)]
    #[schema(value_type = Vec<RoleName>, max_items = 32)]
    pub roles: Vec<String>,
}

/// Creates a user (admin only), whatever GATEHOUSE_REGISTRATION says.
#[utoipa::path(post, path = "/v1/users", tag = "admin", security(("bearer" = [])), request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The user", body = User, headers(("Location" = String, description = "/v1/users/{id}"))),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`username_taken` or `email_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, [(axum::http::header::HeaderName, String); 1], Json<User>)> {
    let roles = parse_roles(&req.roles)?;
    let new = Registration {
        username: &req.username,
        email: req.email.as_deref(),
        password: &req.password,
        admin: false,
        roles,
        via: Via::Admin,
    };
    let user = state.accounts.register(&audit, new).await?.user;
    tracing::debug!(admin = %admin.user_id, user_id = %user.id, "user created by an admin");
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, format!("/v1/users/{}", user.id))], Json(user)))
}

/// Roles as an admin sent them: each checked, at most [`MAX_ROLES`].
pub(crate) fn parse_roles(raw: &[String]) -> Result<Vec<Role>> {
    let mut errors = Vec::new();
    if raw.len() > MAX_ROLES {
        errors.push(FieldError::new("roles", format!("must hold at most {MAX_ROLES} roles")));
    }
    let roles = raw
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Role::parse(r).map_err(|m| errors.push(FieldError::new(format!("roles[{i}]"), m))).ok())
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(roles)
}

/// Reads one user (admin only).
#[utoipa::path(get, path = "/v1/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_user(State(state): State<AppState>, _admin: AdminUser, IdPath(id): IdPath) -> Result<Json<User>> {
    Ok(Json(state.store.user_by_id(id).await?.ok_or(ApiError::NotFound)?))
}

/// Changes a user's roles, disabled state or email (admin only). Disabling revokes all the
/// user's sessions at once; a role change shows in the next token issued to the user. An
/// address set here takes effect at once (unverified, with a verification link, and any
/// pending change of the user's dropped); a verified old address is told of the change.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "admin", security(("bearer" = [])), request_body = UpdateUserRequest,
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user as it now is", body = User),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`: the change would leave no enabled admin; `email_taken`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<Json<User>> {
    let patch = req.parse()?;
    Ok(Json(state.accounts.update_user(&audit, Some(admin.user_id), id, patch).await?))
}

/// Deletes a user with its sessions and templates, freeing its username and email (admin only).
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`: the user is the last enabled admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_user(State(state): State<AppState>, AdminUser(admin): AdminUser, audit: Audit, IdPath(id): IdPath) -> Result<StatusCode> {
    state.accounts.delete_user(&audit, Some(admin.user_id), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
