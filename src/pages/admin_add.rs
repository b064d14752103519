//! The console's "Add people": invite an address by email, make an account, and the
//! invitations with their state (a pending one revoked). The same flows as the admin API
//! and `gatehouse user invite` / `user create`, in every GATEHOUSE_REGISTRATION mode.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Serialize;
use serde_json::json;

use super::Page;
use super::admin::{admin, message};
use super::session::Visit;
use super::signin::{CsrfForm, base, form_expired};
use crate::accounts::{AccountError, Registration, Via};
use crate::app::AppState;
use crate::audit::Audit;
use crate::config::RegistrationMode;
use crate::domain::Role;
use crate::store::{Conflict, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users/new", get(add_page))
        .route("/admin/users/invite", post(invite))
        .route("/admin/users/create", post(create))
        .route("/admin/users/invitations/{id}/revoke", post(revoke))
}

/// What the two forms held, shown again beside their mistakes.
#[derive(Default, Serialize)]
struct Typed {
    invite_email: String,
    username: String,
    email: String,
}

async fn render(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    typed: &Typed,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
) -> Response {
    let (invitations, roles) = match (state.store.sign_up_invitations().await, state.store.roles_in_use().await) {
        (Ok(invitations), Ok(roles)) => (invitations, roles),
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!(error = %err, "could not read the invitations for the admin console");
            return super::error_page(state, visit);
        }
    };
    let invitations: Vec<serde_json::Value> = invitations
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "email": i.email, "roles": i.roles, "status": i.status,
                "expires": i.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
        })
        .collect();
    let mut choices: Vec<String> = roles.into_iter().chain(["admin".to_string()]).filter(|r| r != "user").collect();
    choices.sort();
    choices.dedup();
    let note = match state.accounts.registration {
        RegistrationMode::Open => "registration_open_note",
        RegistrationMode::Invite => "registration_invite_note",
        RegistrationMode::Closed => "registration_closed_note",
    };
    let mut context = base(state, &visit, "add_users_title");
    context.insert("mode_note", Value::from(state.pages.text(note)));
    context.insert("invitations", Value::from_serialize(&invitations));
    context.insert("role_choices", Value::from(choices));
    context.insert("form", Value::from_serialize(typed));
    if !errors.is_empty() {
        context.insert("error", Value::from(state.pages.text("fix_fields")));
    }
    context.insert("errors", Value::from_serialize(&errors));
    context.insert("notice", Value::from(notice));
    let page = state.pages.render(status, "admin_add.html", context);
    visit.respond(page)
}

async fn add_page(State(state): State<AppState>, visit: Visit, RawQuery(raw): RawQuery) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/users/new")?;
    let notice = match raw.as_deref() {
        Some("done=invited") => Some(state.pages.text("invited")),
        Some("done=revoked") => Some(state.pages.text("invitation_revoked_notice")),
        _ => None,
    };
    Ok(render(&state, visit, StatusCode::OK, &Typed::default(), BTreeMap::new(), notice).await)
}

async fn invite(State(state): State<AppState>, visit: Visit, audit: Audit, Form(fields): Form<Vec<(String, String)>>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/users/new")?;
    let one = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    if !visit.csrf_ok(&state, &one("csrf")) {
        return Ok(form_expired(&state, visit));
    }
    // Checkbox values come from our own list; one that no longer parses is dropped.
    let roles: Vec<String> =
        fields.iter().filter(|(k, _)| k == "role").filter_map(|(_, v)| Role::parse(v).ok()).map(|r| r.as_str().to_string()).collect();
    let typed = Typed { invite_email: one("invite_email"), ..Typed::default() };
    let sentence = match state.accounts.invite_to_sign_up(&audit, Some(session.user.id), &typed.invite_email, &roles).await {
        Ok(_) => return Ok(visit.respond(Redirect::to("/admin/users/new?done=invited"))),
        Err(AccountError::Invalid(_)) => state.pages.text("email_invalid"),
        Err(AccountError::Store(StoreError::Conflict(Conflict::EmailTaken))) => state.pages.text("address_has_account"),
        Err(other) => {
            tracing::warn!(error = %other, "an invitation from the admin console failed");
            return Ok(super::error_page(&state, visit));
        }
    };
    let errors = BTreeMap::from([("invite_email".to_string(), sentence)]);
    Ok(render(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &typed, errors, None).await)
}

#[derive(serde::Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn create(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<CreateForm>) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/users/new")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let email = Some(form.email.trim()).filter(|e| !e.is_empty());
    let new =
        Registration { username: form.username.trim(), email, password: &form.password, admin: false, roles: Vec::new(), via: Via::Admin };
    let mut errors = BTreeMap::new();
    match state.accounts.register(&audit, new).await {
        Ok(registered) => return Ok(visit.respond(Redirect::to(&format!("/admin/users/{}?done=created", registered.user.id)))),
        Err(AccountError::Invalid(fields)) => {
            for field in fields {
                let sentence = super::sentences::for_person(&state.pages, &field.field, &field.message);
                errors.entry(field.field).or_insert(sentence);
            }
        }
        Err(AccountError::Store(StoreError::Conflict(Conflict::UsernameTaken))) => {
            errors.insert("username".into(), state.pages.text("username_taken"));
        }
        Err(AccountError::Store(StoreError::Conflict(Conflict::EmailTaken))) => {
            errors.insert("email".into(), state.pages.text("email_taken"));
        }
        Err(other) => {
            tracing::warn!(error = %other, "an account made from the admin console failed");
            return Ok(super::error_page(&state, visit));
        }
    }
    let typed = Typed { username: form.username, email: form.email, ..Typed::default() };
    Ok(render(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &typed, errors, None).await)
}

async fn revoke(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/users/new")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found"));
    };
    match state.accounts.revoke_sign_up_invitation(&audit, Some(session.user.id), id).await {
        // Revoked already, or taken meanwhile: the list shows which.
        Ok(()) | Err(AccountError::NotFound) => Ok(visit.respond(Redirect::to("/admin/users/new?done=revoked"))),
        Err(other) => {
            tracing::warn!(error = %other, "revoking an invitation from the admin console failed");
            Ok(super::error_page(&state, visit))
        }
    }
}
