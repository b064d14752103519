//! The caller's live sessions: list them, revoke one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::extract::IdPath;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::AuthUser;
use crate::error::{ApiError, Result};
use crate::store::AuditType;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_sessions)).routes(routes!(delete_session))
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// True for the session of the token that asked.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

/// Lists the caller's live sessions, oldest first.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "The caller's live sessions", body = SessionList,
        links(("delete_session" = (operation_id = "delete_session", description = "Revoke the oldest session",
            parameters(("id" = "$response.body#/items/0/id"))))))))]
async fn list_sessions(State(state): State<AppState>, user: AuthUser) -> Result<Json<SessionList>> {
    let items = state
        .store
        .live_sessions(user.user_id)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.id == user.session_id,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(Json(SessionList { items }))
}

/// Revokes one of the caller's sessions (the current one too, like a logout).
#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 404, description = "No such live session of the caller", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn delete_session(State(state): State<AppState>, user: AuthUser, audit: Audit, IdPath(id): IdPath) -> Result<StatusCode> {
    if !state.store.revoke_session(id, user.user_id).await? {
        return Err(ApiError::NotFound);
    }
    let detail = serde_json::json!({ "session_id": id, "current": id == user.session_id });
    audit.record(AuditType::SessionRevoked, Some(user.user_id), Some(user.user_id), detail).await;
    Ok(StatusCode::NO_CONTENT)
}
