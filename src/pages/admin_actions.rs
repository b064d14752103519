//! What an admin changes from a user's page: roles, disabled, two-step verification reset,
//! a session ended, the user deleted. The same flows as the admin API, so the same audit
//! events and the same refusal to leave no enabled admin.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::json;

use super::Page;
use super::admin::{admin, message, render_user, target};
use super::session::Visit;
use super::signin::{CsrfForm, form_expired};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::audit::Audit;
use crate::domain::{Role, normalize_roles};
use crate::store::{AuditType, Conflict, StoreError, User, UserPatch};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{id}/roles", post(set_roles))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
        .route("/admin/users/{id}/mfa-reset", post(reset_mfa))
        .route("/admin/users/{id}/send-reset", post(send_reset))
        .route("/admin/users/{id}/sessions/{session}/end", post(end_session))
        .route("/admin/users/{id}/passkeys/{passkey}/remove", get(confirm_remove_passkey).post(remove_passkey))
}

/// The admin and the user of an admin form, after the CSRF check; or the answer.
async fn checked(state: &AppState, visit: Visit, id: &str, csrf: &str) -> Result<(Visit, uuid::Uuid, User), Response> {
    let (visit, session) = admin(state, visit, &format!("/admin/users/{id}"))?;
    if !visit.csrf_ok(state, csrf) {
        return Err(form_expired(state, visit));
    }
    let (visit, user) = target(state, visit, id).await?;
    Ok((visit, session.user.id, user))
}

/// After a change: back to the user's page, or the page again with why it was refused.
async fn outcome(state: &AppState, visit: Visit, user: &User, done: Result<(), AccountError>) -> Response {
    let sentence = match done {
        Ok(()) => return visit.respond(Redirect::to(&format!("/admin/users/{}?done=changed", user.id))),
        Err(AccountError::Store(StoreError::Conflict(Conflict::LastAdmin))) => state.pages.text("last_admin"),
        Err(AccountError::NotFound) => return message(state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found"),
        Err(other) => {
            tracing::warn!(error = %other, "a change from the admin console failed");
            return super::error_page(state, visit);
        }
    };
    render_user(state, visit, user, StatusCode::CONFLICT, None, Some(sentence), BTreeMap::new()).await
}

async fn update(state: &AppState, visit: Visit, audit: &Audit, id: &str, csrf: &str, patch: UserPatch) -> Page {
    let (visit, actor, user) = checked(state, visit, id, csrf).await?;
    let done = state.accounts.update_user(audit, Some(actor), user.id, patch).await.map(|_| ());
    Ok(outcome(state, visit, &user, done).await)
}

/// The roles form: a checkbox per known role (`role`, repeated) and one new role typed in.
async fn set_roles(
    State(state): State<AppState>,
    visit: Visit,
    audit: Audit,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let value = |name: &'static str| fields.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.trim().to_string());
    let csrf = value("csrf").next().unwrap_or_default();
    let mut roles = Vec::new();
    for raw in value("role").filter(|r| !r.is_empty()) {
        // A checkbox's value came from our own list; one that no longer parses is dropped.
        roles.extend(Role::parse(&raw).ok());
    }
    if let Some(new) = value("new_role").find(|r| !r.is_empty()) {
        match Role::parse(&new) {
            Ok(role) => roles.push(role),
            Err(_) => {
                let (visit, _, user) = checked(&state, visit, &id, &csrf).await?;
                let errors = BTreeMap::from([("new_role".to_string(), state.pages.text("role_invalid"))]);
                let sentence = state.pages.text("fix_fields");
                return Ok(render_user(&state, visit, &user, StatusCode::UNPROCESSABLE_ENTITY, None, Some(sentence), errors).await);
            }
        }
    }
    let roles = normalize_roles(roles).into_iter().map(|r| r.as_str().to_string()).collect();
    update(&state, visit, &audit, &id, &csrf, UserPatch { roles: Some(roles), ..UserPatch::default() }).await
}

async fn disable(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    update(&state, visit, &audit, &id, &form.csrf, UserPatch { disabled: Some(true), ..UserPatch::default() }).await
}

async fn enable(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    update(&state, visit, &audit, &id, &form.csrf, UserPatch { disabled: Some(false), ..UserPatch::default() }).await
}

async fn reset_mfa(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, actor, user) = checked(&state, visit, &id, &form.csrf).await?;
    let done = state.accounts.reset_mfa(&audit, Some(actor), user.id).await.map(|_| ());
    Ok(outcome(&state, visit, &user, done).await)
}

/// Mails the user a password reset link (to a verified address first), as "Forgot your
/// password?" would; the admin never sees the link.
async fn send_reset(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, actor, user) = checked(&state, visit, &id, &form.csrf).await?;
    let Some(to) = user.email.clone() else {
        let sentence = state.pages.text("reset_no_address");
        return Ok(render_user(&state, visit, &user, StatusCode::CONFLICT, None, Some(sentence), BTreeMap::new()).await);
    };
    if !state.accounts.mailer.send_reset(&user, &to).await {
        return Ok(super::error_page(&state, visit));
    }
    audit.record(AuditType::PasswordResetRequested, Some(actor), Some(user.id), json!({ "via": "admin_page" })).await;
    let notice = state.pages.text("reset_sent");
    Ok(render_user(&state, visit, &user, StatusCode::OK, Some(notice), None, BTreeMap::new()).await)
}

pub async fn delete(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, actor, user) = checked(&state, visit, &id, &form.csrf).await?;
    Ok(match state.accounts.delete_user(&audit, Some(actor), user.id).await {
        Ok(_) => message(&state, visit, StatusCode::OK, "delete_user", "deleted"),
        Err(err) => outcome(&state, visit, &user, Err(err)).await,
    })
}

async fn end_session(
    State(state): State<AppState>,
    visit: Visit,
    audit: Audit,
    Path((id, session)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Page {
    let (visit, actor, user) = checked(&state, visit, &id, &form.csrf).await?;
    if let Ok(session_id) = uuid::Uuid::parse_str(&session) {
        match state.store.revoke_session(session_id, user.id).await {
            Ok(true) => {
                let detail = json!({ "session_id": session_id, "via": "admin_page" });
                audit.record(AuditType::SessionRevoked, Some(actor), Some(user.id), detail).await;
            }
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not end a session from the admin console");
                return Ok(super::error_page(&state, visit));
            }
        }
    }
    Ok(outcome(&state, visit, &user, Ok(())).await)
}

/// Asks before a passkey is deleted: the person loses a way to sign in.
async fn confirm_remove_passkey(State(state): State<AppState>, visit: Visit, Path((id, passkey)): Path<(String, String)>) -> Page {
    let (visit, _) = admin(&state, visit, &format!("/admin/users/{id}"))?;
    let (visit, user) = target(&state, visit, &id).await?;
    let found = match uuid::Uuid::parse_str(&passkey) {
        Ok(passkey_id) => state.accounts.passkeys(user.id).await.map(|all| all.into_iter().find(|p| p.id == passkey_id)),
        Err(_) => Ok(None),
    };
    let passkey = match found {
        Ok(Some(passkey)) => passkey,
        Ok(None) => return Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(err) => {
            tracing::warn!(error = %err, "could not read a passkey for the admin console");
            return Ok(super::error_page(&state, visit));
        }
    };
    let title = state.pages.text("passkey_delete_title").replace("{name}", &passkey.name).replace("{username}", &user.username);
    let action = format!("/admin/users/{}/passkeys/{}/remove", user.id, passkey.id);
    let back = format!("/admin/users/{}", user.id);
    Ok(super::admin::confirmation(&state, visit, &title, "passkey_delete_prompt", "passkey_delete_confirm", &action, &back))
}

async fn remove_passkey(
    State(state): State<AppState>,
    visit: Visit,
    audit: Audit,
    Path((id, passkey)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Page {
    let (visit, actor, user) = checked(&state, visit, &id, &form.csrf).await?;
    // One already gone (removed in another tab) is what was asked for.
    let done = match uuid::Uuid::parse_str(&passkey) {
        Ok(passkey_id) => match state.accounts.admin_delete_passkey(&audit, Some(actor), user.id, passkey_id).await {
            Err(AccountError::NotFound) => Ok(()),
            other => other,
        },
        Err(_) => Ok(()),
    };
    Ok(outcome(&state, visit, &user, done).await)
}
