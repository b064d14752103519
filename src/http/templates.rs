//! The caller's own templates. Each is owned by the user in the token's `sub`; another
//! user's template answers 404, decided by the query itself (owner in the WHERE clause).

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::extract::{ApiJson, ApiQuery, IdPath};
use super::paging::PageParams;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, FieldError, Problem, Result};
use crate::store::{NewTemplate, Template, TemplatePatch};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_CONTENT_CHARS: usize = 65_536;

/// The body limit of the template routes: 65,536 characters of content fit in any JSON
/// spelling (12 bytes for an escaped surrogate pair), where the 256 KiB of other routes do not.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, patch_template, delete_template))
        .route_layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

#[derive(Serialize, ToSchema)]
pub struct TemplateList {
    pub items: Vec<Template>,
    #[schema(example = 1)]
    pub page: u32,
    #[schema(example = 20)]
    pub per_page: u32,
    /// The caller's templates over all pages.
    #[schema(example = 3)]
    pub total: u64,
}

// The rules of `check_name` and `check_content` as patterns: no control character (Unicode
// category Cc, as `char::is_control`), and a name holds one character besides white space
// (as `str::trim` sees it).
#[derive(Deserialize, ToSchema)]
pub struct CreateTemplateRequest {
    /// 1 to 200 characters, not only white space, no control characters, unique among the
    /// caller's templates.
    #[schema(
        example = "welcome mail",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// Up to 65,536 characters, no NUL (`\u0000`); `""` when absent or `null`.
    #[serde(default)]
    #[schema(example = "Hello {{name}}!", max_length = 65536, pattern = r"^[^\u0000]*$")]
    pub content: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateTemplateRequest {
    /// A new name: 1 to 200 characters, not only white space, no control characters, unique
    /// among the caller's templates. Absent or `null` keeps the name.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    /// New content, up to 65,536 characters, no NUL (`\u0000`). Absent or `null` keeps it.
    #[serde(default)]
    #[schema(max_length = 65536, pattern = r"^[^\u0000]*$")]
    pub content: Option<String>,
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let len = name.chars().count();
    if !(1..=MAX_NAME_CHARS).contains(&len) {
        errors.push(FieldError::new("name", format!("must be 1 to {MAX_NAME_CHARS} characters long")));
    } else if name.trim().is_empty() {
        errors.push(FieldError::new("name", "must not be only spaces"));
    } else if name.chars().any(char::is_control) {
        errors.push(FieldError::new("name", "must not contain control characters"));
    }
}

fn check_content(content: &str, errors: &mut Vec<FieldError>) {
    if content.chars().count() > MAX_CONTENT_CHARS {
        errors.push(FieldError::new("content", format!("must be at most {MAX_CONTENT_CHARS} characters long")));
    } else if content.contains('\0') {
        // PostgreSQL text cannot hold NUL; refusing it here keeps both stores alike.
        errors.push(FieldError::new("content", "must not contain NUL characters"));
    }
}

fn valid(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}

/// Lists the caller's templates, oldest first.
#[utoipa::path(get, path = "/v1/templates", tag = "templates", security(("bearer" = [])), params(PageParams),
    responses(
        (status = 200, description = "One page of the caller's templates", body = TemplateList),
        (status = 422, description = "`validation_failed`: a query parameter is malformed or out of range", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_templates(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<TemplateList>> {
    let mut errors = Vec::new();
    let paging = params.parse(&mut errors);
    valid(errors)?;
    let page = state.store.list_templates(user.user_id, paging.page, paging.per_page).await?;
    Ok(Json(TemplateList { items: page.items, page: paging.page, per_page: paging.per_page, total: page.total }))
}

/// Creates a template owned by the caller.
#[utoipa::path(post, path = "/v1/templates", tag = "templates", security(("bearer" = [])), request_body = CreateTemplateRequest,
    responses(
        (status = 201, description = "Created", body = Template,
            headers(("Location" = String, description = "/v1/templates/{id}"))),
        (status = 409, description = "`name_taken`: the caller already has a template of this name; `quota_exceeded`: the caller \
holds GATEHOUSE_TEMPLATES_MAX_COUNT templates (default 1,000), or this one would take the UTF-8 bytes of all the caller's names and \
contents past GATEHOUSE_TEMPLATES_MAX_BYTES (default 16 MiB)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_template(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateTemplateRequest>,
) -> Result<impl IntoResponse> {
    let mut errors = Vec::new();
    check_name(&req.name, &mut errors);
    let content = req.content.unwrap_or_default();
    check_content(&content, &mut errors);
    valid(errors)?;
    let new = NewTemplate { id: Uuid::now_v7(), owner_id: user.user_id, name: req.name, content };
    let template = state.store.create_template(new, state.config.template_quota()).await?;
    let location = HeaderValue::from_str(&format!("/v1/templates/{}", template.id)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(template)))
}

/// Reads one of the caller's templates.
#[utoipa::path(get, path = "/v1/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Template id")),
    responses(
        (status = 200, description = "The template", body = Template),
        (status = 404, description = "`not_found`: no such template of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_template(State(state): State<AppState>, user: AuthUser, IdPath(id): IdPath) -> Result<Json<Template>> {
    Ok(Json(state.store.template(user.user_id, id).await?.ok_or(ApiError::NotFound)?))
}

/// Renames one of the caller's templates or replaces its content.
#[utoipa::path(patch, path = "/v1/templates/{id}", tag = "templates", security(("bearer" = [])), request_body = UpdateTemplateRequest,
    params(("id" = Uuid, Path, description = "Template id")),
    responses(
        (status = 200, description = "The template as it now is", body = Template),
        (status = 404, description = "`not_found`: no such template of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`name_taken`: the caller already has a template of this name; `quota_exceeded`: the larger \
template would take the UTF-8 bytes of all the caller's names and contents past GATEHOUSE_TEMPLATES_MAX_BYTES (default 16 MiB); \
a change that keeps or cuts the size always passes", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_template(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateTemplateRequest>,
) -> Result<Json<Template>> {
    let mut errors = Vec::new();
    if let Some(name) = &req.name {
        check_name(name, &mut errors);
    }
    if let Some(content) = &req.content {
        check_content(content, &mut errors);
    }
    valid(errors)?;
    let patch = TemplatePatch { name: req.name, content: req.content };
    Ok(Json(state.store.update_template(user.user_id, id, patch, state.config.template_quota()).await?))
}

/// Deletes one of the caller's templates.
#[utoipa::path(delete, path = "/v1/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Template id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such template of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_template(State(state): State<AppState>, user: AuthUser, IdPath(id): IdPath) -> Result<StatusCode> {
    if state.store.delete_template(user.user_id, id).await? { Ok(StatusCode::NO_CONTENT) } else { Err(ApiError::NotFound) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::schemas::{sample_chars, stated_pattern};

    fn name_ok(name: &str) -> bool {
        let mut errors = Vec::new();
        check_name(name, &mut errors);
        errors.is_empty()
    }

    fn content_ok(content: &str) -> bool {
        let mut errors = Vec::new();
        check_content(content, &mut errors);
        errors.is_empty()
    }

    #[test]
    fn the_schema_patterns_take_exactly_the_names_and_contents_the_server_takes() {
        let names = [stated_pattern::<CreateTemplateRequest>("name"), stated_pattern::<UpdateTemplateRequest>("name")];
        let contents = [stated_pattern::<CreateTemplateRequest>("content"), stated_pattern::<UpdateTemplateRequest>("content")];
        for c in sample_chars() {
            for candidate in [c.to_string(), format!("{c}{c}"), format!("a{c}"), format!("{c} b")] {
                for pattern in &names {
                    assert_eq!(pattern.is_match(&candidate), name_ok(&candidate), "name {candidate:?}");
                }
                for pattern in &contents {
                    assert_eq!(pattern.is_match(&candidate), content_ok(&candidate), "content {candidate:?}");
                }
            }
        }
    }
}
