//! The audit trail: every event for admins, with filters; a user's own security history.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::ApiQuery;
use super::paging::{PageParams, paging};
use super::schemas::{AuditTypeName, parse_uuid};
use super::{AdminUser, AuthUser};
use crate::app::AppState;
use crate::error::{ApiError, FieldError, Problem, Result};
use crate::store::{AuditEvent, AuditQuery, AuditType};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit)).routes(routes!(my_audit))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Page number, from 1 (default 1) to 2147483647; a page past the end answers 200 with no items.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2147483647, example = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub per_page: Option<String>,
    /// Only events about this user (a UUID in its hyphenated form).
    #[param(value_type = Option<Uuid>)]
    pub user_id: Option<String>,
    /// Only events of this type, such as `login.failed`.
    #[param(value_type = Option<AuditTypeName>, inline)]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-01-01T00:00:00Z")]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-02-01T00:00:00Z")]
    pub until: Option<String>,
}

fn time(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<DateTime<Utc>> {
    let raw = raw?;
    // `format: date-time` is RFC 3339's `date-time`, with a `T`; chrono also takes a space.
    let separated_by_t = matches!(raw.as_bytes().get(10), Some(b'T' | b't'));
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) if separated_by_t => Some(t.with_timezone(&Utc)),
        _ => {
            errors.push(FieldError::new(field, "must be an RFC 3339 time such as 2026-01-01T00:00:00Z"));
            None
        }
    }
}

impl AuditParams {
    pub(crate) fn parse(self) -> Result<AuditQuery> {
        let mut errors = Vec::new();
        let paging = paging(self.page.as_deref(), self.per_page.as_deref(), &mut errors);
        let user_id = self
            .user_id
            .as_deref()
            .and_then(|raw| parse_uuid(raw).ok_or_else(|| errors.push(FieldError::new("user_id", "must be a user id (a UUID)"))).ok());
        let kind = self.kind.as_deref().and_then(|raw| {
            AuditType::parse(raw).or_else(|| {
                errors.push(FieldError::new("type", "must be one of the audit event types, such as login.failed"));
                None
            })
        });
        let since = time("since", self.since.as_deref(), &mut errors);
        let until = time("until", self.until.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(AuditQuery { page: paging.page, per_page: paging.per_page, user_id, kind, since, until })
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub items: Vec<AuditEvent>,
    #[schema(example = 1)]
    pub page: u32,
    #[schema(example = 20)]
    pub per_page: u32,
    /// Events matching the filters, over all pages.
    #[schema(example = 42)]
    pub total: u64,
}

async fn page_of(state: &AppState, query: AuditQuery) -> Result<Json<AuditList>> {
    let page = state.store.list_audit(&query).await?;
    Ok(Json(AuditList { items: page.items, page: query.page, per_page: query.per_page, total: page.total }))
}

/// Lists audit events, newest first, with optional filters (admin only).
#[utoipa::path(get, path = "/v1/audit", tag = "admin", security(("bearer" = [])), params(AuditParams),
    responses(
        (status = 200, description = "One page of audit events, newest first", body = AuditList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a query parameter is malformed or out of range", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_audit(State(state): State<AppState>, _admin: AdminUser, ApiQuery(params): ApiQuery<AuditParams>) -> Result<Json<AuditList>> {
    page_of(&state, params.parse()?).await
}

/// The caller's own security history: events about the caller, newest first. `ip` and
/// `user_agent` are shown only on the caller's own actions: null on events that someone
/// else (an admin, or an anonymous request) caused.
#[utoipa::path(get, path = "/v1/auth/me/audit", tag = "me", security(("bearer" = [])), params(PageParams),
    responses(
        (status = 200, description = "One page of the caller's audit events, newest first; `ip` and `user_agent` null where the actor is not the caller", body = AuditList),
        (status = 422, description = "`validation_failed`: a query parameter is malformed or out of range", body = Problem, content_type = "application/problem+json"),
    ))]
async fn my_audit(State(state): State<AppState>, user: AuthUser, ApiQuery(params): ApiQuery<PageParams>) -> Result<Json<AuditList>> {
    let mut errors = Vec::new();
    let paging = params.parse(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let query = AuditQuery { page: paging.page, per_page: paging.per_page, user_id: Some(user.user_id), ..AuditQuery::default() };
    let Json(mut list) = page_of(&state, query).await?;
    // The network details of someone else's action (an admin's, an anonymous request's)
    // are theirs, not the user's: the user sees their own only.
    for event in list.items.iter_mut().filter(|e| e.actor_id != Some(user.user_id)) {
        event.ip = None;
        event.user_agent = None;
    }
    Ok(Json(list))
}
